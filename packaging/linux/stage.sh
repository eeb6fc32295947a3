#!/usr/bin/env bash
# Lay out the files every Linux package ships (the .deb and the .rpm ship the same tree):
#   stage.sh BINARY_DIR STAGE VERSION
#   /usr/lib/checkup/                      the agent (PyInstaller folder, fixed by fix-elf.sh)
#   /usr/bin/checkup                       -> ../lib/checkup/checkup
#   /etc/xdg/autostart/checkup.desktop     `checkup tray` at every desktop login (hidden)
#   /usr/share/applications/checkup.desktop  "Checkup" in the applications menu:
#                                          starts the tray, or shows the running one's report
#   /etc/checkup/config.toml               IT's managed settings (commented example)
#   /etc/checkup/config.d/                 IT's drop-ins
#   /usr/share/man/man1/checkup.1.gz, /usr/share/doc/checkup/{copyright,changelog.gz}
# Environment: CHECKUP_MAINTAINER (changelog signature), SOURCE_DATE_EPOCH (its date).
set -euo pipefail

BIN_DIR="$1"
STAGE="$2"
VERSION="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAINTAINER="${CHECKUP_MAINTAINER:-Checkup maintainers <checkup@example.com>}"

install -d -m 0755 "$STAGE/usr/lib" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/etc/xdg/autostart" "$STAGE/etc/checkup/config.d" \
    "$STAGE/usr/share/man/man1" "$STAGE/usr/share/doc/checkup"
cp -a "$BIN_DIR" "$STAGE/usr/lib/checkup"
chmod -R u=rwX,go=rX "$STAGE/usr/lib/checkup"
bash "$HERE/fix-elf.sh" "$STAGE/usr/lib/checkup" >/dev/null
ln -s ../lib/checkup/checkup "$STAGE/usr/bin/checkup"
install -m 0644 "$HERE/checkup.desktop" "$STAGE/etc/xdg/autostart/checkup.desktop"
install -m 0644 "$HERE/checkup-launcher.desktop" "$STAGE/usr/share/applications/checkup.desktop"
install -m 0644 "$HERE/config.toml" "$STAGE/etc/checkup/config.toml"
gzip -9n -c "$HERE/checkup.1" >"$STAGE/usr/share/man/man1/checkup.1.gz"
chmod 0644 "$STAGE/usr/share/man/man1/checkup.1.gz"
YEAR="$(date -u +%Y -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
cat >"$STAGE/usr/share/doc/checkup/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: checkup

Files: *
Copyright: $YEAR Checkup contributors
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
 /usr/lib/checkup/_internal bundles CPython (PSF-2.0) and the Python packages
 listed in the agent's pyproject.toml, each under its own licence.
COPYRIGHT
chmod 0644 "$STAGE/usr/share/doc/checkup/copyright"

# A Debian-format changelog (lintian wants one; rpm's %changelog is made from the same date).
WHEN="$(date -u -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
printf 'checkup (%s) unstable; urgency=medium\n\n  * Checkup %s.\n\n -- %s  %s\n' \
    "$VERSION" "$VERSION" "$MAINTAINER" "$WHEN" \
    | gzip -9n >"$STAGE/usr/share/doc/checkup/changelog.gz"
chmod 0644 "$STAGE/usr/share/doc/checkup/changelog.gz"
