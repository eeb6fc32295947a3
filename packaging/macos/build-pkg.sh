#!/bin/bash
# Build the Checkup installer package on macOS.  Called by packaging/build pkg:
#   build-pkg.sh APP OUT_DIR VERSION
#
# Installs:
#   /Applications/Checkup.app                          the agent (PyInstaller app bundle)
#   /Library/LaunchAgents/com.checkup.agent.plist      `checkup tray` at every login
#   /usr/local/bin/checkup -> the app's executable     (postinstall)
#
# Optional signing and notarization (Apple Developer ID), from the environment:
#   CHECKUP_SIGN_APP="Developer ID Application: Example Corp (TEAMID)"   codesign the app
#   CHECKUP_SIGN_PKG="Developer ID Installer: Example Corp (TEAMID)"     productsign the pkg
#   CHECKUP_NOTARY_PROFILE=checkup-notary   a notarytool keychain profile, made once with
#       xcrun notarytool store-credentials checkup-notary --apple-id ... --team-id ...
#   then the pkg is submitted, waited for, and stapled.
set -euo pipefail

APP="$1"
OUT_DIR="$2"
VERSION="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/checkup-pkg.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

ROOT="$WORK/root"
mkdir -p "$ROOT/Applications" "$ROOT/Library/LaunchAgents"
ditto "$APP" "$ROOT/Applications/Checkup.app"
install -m 644 "$HERE/com.checkup.agent.plist" "$ROOT/Library/LaunchAgents/com.checkup.agent.plist"
plutil -lint "$ROOT/Library/LaunchAgents/com.checkup.agent.plist" >/dev/null

if [ -n "${CHECKUP_SIGN_APP:-}" ]; then
    # Sign inside out, with the hardened runtime: every Mach-O file (by its magic bytes: the
    # Python.framework/.../Python that PyInstaller keeps has no extension, PyInstaller #8029)
    # and nested bundle, deepest first (sign-order.sh), then the app itself, without --deep.
    bash "$HERE/sign-order.sh" "$ROOT/Applications/Checkup.app" >"$WORK/sign-order.txt"
    while IFS= read -r item; do
        codesign --force --timestamp --options runtime --sign "$CHECKUP_SIGN_APP" "$item"
    done <"$WORK/sign-order.txt"
    echo "signed $(wc -l <"$WORK/sign-order.txt" | tr -d ' ') Mach-O files and bundles inside Checkup.app"
    codesign --force --timestamp --options runtime --entitlements "$HERE/entitlements.plist" \
        --sign "$CHECKUP_SIGN_APP" "$ROOT/Applications/Checkup.app"
    codesign --verify --strict --deep "$ROOT/Applications/Checkup.app"
fi

# The app must land in /Applications even if a copy exists elsewhere: not relocatable.
pkgbuild --analyze --root "$ROOT" "$WORK/component.plist" >/dev/null
plutil -replace 0.BundleIsRelocatable -bool NO "$WORK/component.plist"

pkgbuild --root "$ROOT" --component-plist "$WORK/component.plist" \
    --identifier com.checkup.agent.pkg --version "$VERSION" \
    --scripts "$HERE/scripts" --install-location / \
    "$WORK/checkup-component.pkg"

ARCHS="$(lipo -archs "$ROOT/Applications/Checkup.app/Contents/MacOS/checkup" | tr ' ' ',')"
sed -e "s/@VERSION@/$VERSION/g" -e "s/@ARCHS@/$ARCHS/g" "$HERE/distribution.xml" >"$WORK/distribution.xml"

mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/Checkup-$VERSION.pkg"
if [ -n "${CHECKUP_SIGN_PKG:-}" ]; then
    productbuild --distribution "$WORK/distribution.xml" --package-path "$WORK" \
        --sign "$CHECKUP_SIGN_PKG" "$OUT"
else
    productbuild --distribution "$WORK/distribution.xml" --package-path "$WORK" "$OUT"
    echo "note: $OUT is not signed (set CHECKUP_SIGN_PKG); fine for a Jamf policy, but Finder warns and MDM InstallEnterpriseApplication needs a signed pkg" >&2
fi

if [ -n "${CHECKUP_NOTARY_PROFILE:-}" ]; then
    xcrun notarytool submit "$OUT" --keychain-profile "$CHECKUP_NOTARY_PROFILE" --wait
    xcrun stapler staple "$OUT"
fi
echo "built $OUT"
