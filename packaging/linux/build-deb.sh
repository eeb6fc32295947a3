#!/usr/bin/env bash
# Stage and build the Checkup .deb.  Called by packaging/build deb:
#   build-deb.sh BINARY_DIR OUT_DIR VERSION
# BINARY_DIR is the PyInstaller onedir build (checkup + _internal/). The files are the
# ones stage.sh lays out (the same as the .rpm's), plus the dpkg metadata:
#   Depends     computed by dpkg-shlibdeps from the ELF files (only the libraries the
#               build does not bundle: glibc and a few others), not from this machine
#   Maintainer  CHECKUP_MAINTAINER, else "$DEBFULLNAME <$DEBEMAIL>", else a default
#   Homepage    CHECKUP_HOMEPAGE (left out when unset)
#   conffiles   /etc/checkup/config.toml, /etc/xdg/autostart/checkup.desktop
set -euo pipefail

BIN_DIR="$1"
OUT_DIR="$2"
VERSION="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ARCH="$(dpkg --print-architecture)"
for tool in dpkg-shlibdeps patchelf; do
    command -v "$tool" >/dev/null 2>&1 \
        || { echo "build-deb.sh: needs '$tool' (Debian package ${tool/dpkg-shlibdeps/dpkg-dev})" >&2; exit 1; }
done
if [ -z "${CHECKUP_MAINTAINER:-}" ] && [ -n "${DEBEMAIL:-}" ]; then
    CHECKUP_MAINTAINER="${DEBFULLNAME:-Checkup packagers} <$DEBEMAIL>"
fi
export CHECKUP_MAINTAINER="${CHECKUP_MAINTAINER:-Checkup packagers <checkup@example.com>}"

# dpkg-shlibdeps wants a source tree: debian/control and the package's tree in debian/checkup.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/checkup-deb.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/debian/checkup"
install -d -m 0755 "$STAGE" "$STAGE/DEBIAN"
printf 'Source: checkup\n\nPackage: checkup\nArchitecture: any\n' >"$WORK/debian/control"
bash "$HERE/stage.sh" "$BIN_DIR" "$STAGE" "$VERSION"
install -d -m 0755 "$STAGE/usr/share/lintian/overrides"
install -m 0644 "$HERE/lintian-overrides" "$STAGE/usr/share/lintian/overrides/checkup"

for script in postinst prerm postrm; do
    install -m 0755 "$HERE/$script" "$STAGE/DEBIAN/$script"
done
printf '%s\n' /etc/checkup/config.toml /etc/xdg/autostart/checkup.desktop >"$STAGE/DEBIAN/conffiles"

# Depends: what the ELF files need from the system. Libraries the build bundles
# (in /usr/lib/checkup/...) are private (-l), so only the unbundled ones count.
elves=()
libdirs=()
while IFS= read -r -d '' file; do
    [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    elves+=("$file")
done < <(find "$STAGE/usr/lib/checkup" -type f -print0)
while IFS= read -r dir; do
    libdirs+=("-l${dir#"$STAGE"}")
done < <(find "$STAGE/usr/lib/checkup" -type f -name '*.so*' -printf '%h\n' | sort -u)
[ "${#elves[@]}" -gt 0 ] || { echo "build-deb.sh: no ELF files in $BIN_DIR" >&2; exit 1; }
if ! DEPENDS="$(cd "$WORK" && dpkg-shlibdeps -O --ignore-missing-info "${libdirs[@]}" \
        "${elves[@]#"$WORK"/}" 2>"$WORK/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')"; then
    cat "$WORK/shlibdeps.log" >&2
    echo "build-deb.sh: dpkg-shlibdeps failed" >&2
    exit 1
fi
case "$DEPENDS" in
    *libc6*) ;;
    *) cat "$WORK/shlibdeps.log" >&2; echo "build-deb.sh: dpkg-shlibdeps found no libc6 dependency" >&2; exit 1 ;;
esac

INSTALLED_KB="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
{
    echo "Package: checkup"
    echo "Version: $VERSION"
    echo "Architecture: $ARCH"
    echo "Maintainer: $CHECKUP_MAINTAINER"
    echo "Installed-Size: $INSTALLED_KB"
    echo "Depends: $DEPENDS"
    echo "Section: admin"
    echo "Priority: optional"
    [ -z "${CHECKUP_HOMEPAGE:-}" ] || echo "Homepage: $CHECKUP_HOMEPAGE"
    cat "$HERE/description.txt"
} >"$STAGE/DEBIAN/control"

mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/checkup_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"${CHECKUP_DEB_COMPRESSION:-xz}" --build "$STAGE" "$OUT" >/dev/null
echo "built $OUT ($(du -h "$OUT" | cut -f1)); Depends: $DEPENDS"
