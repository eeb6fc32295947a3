#!/usr/bin/env bash
# Stage and build the Checkup .deb.  Called by packaging/build deb:
#   build-deb.sh BINARY_DIR OUT_DIR VERSION
# BINARY_DIR is the PyInstaller onedir build (checkup + _internal/).
#
# What lands where:
#   /usr/lib/checkup/                 the agent (PyInstaller folder)
#   /usr/bin/checkup                  -> ../lib/checkup/checkup
#   /etc/xdg/autostart/checkup.desktop   `checkup tray` at every desktop login
#   /etc/checkup/config.toml          IT's managed settings (commented example; conffile)
#   /etc/checkup/config.d/            IT's drop-ins
#   /usr/share/man/man1/checkup.1.gz, /usr/share/doc/checkup/
set -euo pipefail

BIN_DIR="$1"
OUT_DIR="$2"
VERSION="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ARCH="$(dpkg --print-architecture)"
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/checkup-deb.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"

install -d -m 0755 "$STAGE/DEBIAN" "$STAGE/usr/lib" "$STAGE/usr/bin" \
    "$STAGE/etc/xdg/autostart" "$STAGE/etc/checkup/config.d" \
    "$STAGE/usr/share/man/man1" "$STAGE/usr/share/doc/checkup"
cp -a "$BIN_DIR" "$STAGE/usr/lib/checkup"
chmod -R u=rwX,go=rX "$STAGE/usr/lib/checkup"
ln -s ../lib/checkup/checkup "$STAGE/usr/bin/checkup"
install -m 0644 "$HERE/checkup.desktop" "$STAGE/etc/xdg/autostart/checkup.desktop"
install -m 0644 "$HERE/config.toml" "$STAGE/etc/checkup/config.toml"
gzip -9n -c "$HERE/checkup.1" >"$STAGE/usr/share/man/man1/checkup.1.gz"
chmod 0644 "$STAGE/usr/share/man/man1/checkup.1.gz"
cat >"$STAGE/usr/share/doc/checkup/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: checkup
License: Apache-2.0

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
 /usr/lib/checkup/_internal bundles CPython (PSF-2.0) and the Python packages
 listed in the agent's pyproject.toml, each under its own licence.
COPYRIGHT
chmod 0644 "$STAGE/usr/share/doc/checkup/copyright"

for script in postinst prerm postrm; do
    install -m 0755 "$HERE/$script" "$STAGE/DEBIAN/$script"
done
printf '%s\n' /etc/checkup/config.toml /etc/xdg/autostart/checkup.desktop >"$STAGE/DEBIAN/conffiles"

# The bundled libraries come from the build machine; glibc is the one the host must have.
GLIBC="$(ldd --version 2>/dev/null | head -n1 | grep -oE '[0-9]+\.[0-9]+$' || true)"
DEPENDS="libc6 (>= ${GLIBC:-2.31})"
INSTALLED_KB="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: checkup
Version: $VERSION
Architecture: $ARCH
Maintainer: Checkup maintainers <checkup@example.com>
Installed-Size: $INSTALLED_KB
Depends: $DEPENDS
Section: admin
Priority: optional
Homepage: https://github.com/checkup/checkup
Description: device security health check with a tray icon
 Checkup looks at this computer's security settings (disk encryption,
 firewall, screen lock, OS updates, remote login, required security
 software), shows the result as a tray icon and explains how to fix what
 needs fixing. It never changes a setting by itself and never needs
 administrator rights. IT sets it up in /etc/checkup/.
CONTROL

mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/checkup_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"${CHECKUP_DEB_COMPRESSION:-xz}" --build "$STAGE" "$OUT" >/dev/null
echo "built $OUT ($(du -h "$OUT" | cut -f1))"
