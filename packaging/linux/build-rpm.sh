#!/usr/bin/env bash
# Build the Checkup .rpm (Fedora, RHEL and clones, openSUSE) with rpmbuild.  Called by
# packaging/build rpm:
#   build-rpm.sh BINARY_DIR OUT_DIR VERSION
# The files are the .deb's (stage.sh), and so are the maintainer scripts (postinst,
# prerm, postrm, given dpkg's arguments for rpm's install / upgrade / erase):
#   Requires    the ELF files' needs (rpm's elfdeps) minus what the build bundles:
#               e.g. libc.so.6(GLIBC_2.34)(64bit), so rpm itself checks the glibc floor
#   %config(noreplace)  /etc/checkup/config.toml, /etc/xdg/autostart/checkup.desktop
#   Packager    CHECKUP_MAINTAINER (default as for the .deb); URL: CHECKUP_HOMEPAGE
# shellcheck disable=SC2016  # the scriptlet prologues below are shell text, expanded by rpm
set -euo pipefail

BIN_DIR="$1"
OUT_DIR="$2"
VERSION="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ELFDEPS="${CHECKUP_ELFDEPS:-/usr/lib/rpm/elfdeps}"
for tool in rpmbuild patchelf; do
    command -v "$tool" >/dev/null 2>&1 \
        || { echo "build-rpm.sh: needs '$tool' (Debian package ${tool/rpmbuild/rpm})" >&2; exit 1; }
done
[ -x "$ELFDEPS" ] || { echo "build-rpm.sh: needs rpm's $ELFDEPS (Debian package rpm)" >&2; exit 1; }
if [ -z "${CHECKUP_MAINTAINER:-}" ] && [ -n "${DEBEMAIL:-}" ]; then
    CHECKUP_MAINTAINER="${DEBFULLNAME:-Checkup packagers} <$DEBEMAIL>"
fi
export CHECKUP_MAINTAINER="${CHECKUP_MAINTAINER:-Checkup packagers <checkup@example.com>}"
ARCH="$(uname -m)"
RPM_VERSION="${VERSION//-/_}"     # rpm versions have no "-"
RELEASE="${CHECKUP_RPM_RELEASE:-1}"   # a rebuild of the same version: 2, 3, ...

WORK="$(mktemp -d "${TMPDIR:-/tmp}/checkup-rpm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/stage"
install -d -m 0755 "$STAGE"
bash "$HERE/stage.sh" "$BIN_DIR" "$STAGE" "$VERSION"

# Requires: everything the ELF files need that none of them provides.
elves=()
while IFS= read -r -d '' file; do
    [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    elves+=("$file")
done < <(find "$STAGE/usr/lib/checkup" -type f -print0)
[ "${#elves[@]}" -gt 0 ] || { echo "build-rpm.sh: no ELF files in $BIN_DIR" >&2; exit 1; }
printf '%s\n' "${elves[@]}" | "$ELFDEPS" --provides | sort -u >"$WORK/provides"
# A bundled library is known by its soname even where its file has another name.
for file in "${elves[@]}"; do
    soname="$(patchelf --print-soname "$file" 2>/dev/null || true)"
    [ -z "$soname" ] || printf '%s\n' "$soname"
    basename "$file"
done | sort -u >"$WORK/bundled"
printf '%s\n' "${elves[@]}" | "$ELFDEPS" --requires | sort -u \
    | grep -vxFf "$WORK/provides" \
    | awk 'NR == FNR { bundled[$0] = 1; next } { name = $0; sub(/\(.*/, "", name); if (!(name in bundled)) print }' \
        "$WORK/bundled" - >"$WORK/requires"
grep -q '^libc\.so\.6' "$WORK/requires" \
    || { echo "build-rpm.sh: elfdeps found no libc.so.6 requirement" >&2; exit 1; }

script() {  # script NAME PROLOGUE: a .deb maintainer script as an rpm scriptlet
    printf '%s\n' "$2"
    grep -v '^#!' "$HERE/$1"
}

WHEN="$(LC_ALL=C date -u +'%a %b %d %Y' -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
SPEC="$WORK/checkup.spec"
{
    echo "Name: checkup"
    echo "Version: $RPM_VERSION"
    echo "Release: $RELEASE"
    echo "Summary: Device security health check with a tray icon"
    echo "License: Apache-2.0"
    [ -z "${CHECKUP_HOMEPAGE:-}" ] || echo "URL: $CHECKUP_HOMEPAGE"
    echo "Packager: $CHECKUP_MAINTAINER"
    echo "BuildArch: $ARCH"
    echo "AutoReqProv: no"
    sed 's/^/Requires: /' "$WORK/requires"
    echo
    echo "%global debug_package %{nil}"
    echo "%global __os_install_post %{nil}"
    echo "%global __arch_install_post %{nil}"
    echo "%global _build_id_links none"
    echo
    echo "%description"
    sed -n 's/^ //p' "$HERE/description.txt" | sed 's/^\.$//'
    echo
    echo "%install"
    echo "cp -a '$STAGE'/. %{buildroot}/"
    echo
    echo "%files"
    echo "%defattr(-,root,root,-)"
    echo "/usr/lib/checkup"
    echo "/usr/bin/checkup"
    echo "/usr/share/applications/checkup.desktop"
    echo "/usr/share/man/man1/checkup.1.gz"
    echo "/usr/share/doc/checkup"
    echo "%dir /etc/checkup"
    echo "%dir /etc/checkup/config.d"
    echo "%config(noreplace) /etc/checkup/config.toml"
    echo "%config(noreplace) /etc/xdg/autostart/checkup.desktop"
    echo
    # rpm: $1 is the number of versions installed after the step (1 install, 2 upgrade, 0 erase).
    echo "%post"
    script postinst 'if [ "$1" -ge 2 ]; then set -- configure upgrade; else set -- configure ""; fi'
    echo
    echo "%preun"
    script prerm 'if [ "$1" -ge 1 ]; then set -- upgrade; else set -- remove; fi'
    echo
    echo "%postun"
    # rpm has no purge: an erase removes the unchanged config files (changed ones are kept
    # as .rpmsave), so the .deb's purge step (drop /etc/checkup when empty) runs on erase.
    script postrm 'if [ "$1" -ge 1 ]; then set -- upgrade; else set -- purge; fi'
    echo
    echo "%changelog"
    echo "* $WHEN $CHECKUP_MAINTAINER - $RPM_VERSION-$RELEASE"
    echo "- Checkup $VERSION."
} >"$SPEC"

mkdir -p "$OUT_DIR"
if ! rpmbuild -bb --quiet --define "_topdir $WORK/rpmbuild" --define "_rpmdir $OUT_DIR" \
        --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
        --define "_binary_payload ${CHECKUP_RPM_PAYLOAD:-w6.xzdio}" "$SPEC" >"$WORK/rpmbuild.log" 2>&1; then
    cat "$WORK/rpmbuild.log" >&2
    echo "build-rpm.sh: rpmbuild failed (spec: $SPEC)" >&2
    exit 1
fi
OUT="$OUT_DIR/checkup-$RPM_VERSION-$RELEASE.$ARCH.rpm"
[ -f "$OUT" ] || { cat "$WORK/rpmbuild.log" >&2; echo "build-rpm.sh: rpmbuild made no $OUT" >&2; exit 1; }
echo "built $OUT ($(du -h "$OUT" | cut -f1)); Requires: $(grep -c . "$WORK/requires") capabilities, $(grep -o 'GLIBC_[0-9.]*' "$WORK/requires" | sort -t. -k2,2n -k3,3n | tail -n1)"
