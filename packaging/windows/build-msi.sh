#!/usr/bin/env bash
# Build the Checkup .msi with wixl (msitools).  Called by packaging/build msi:
#   build-msi.sh WINDOWS_BUILD_DIR OUT_DIR VERSION
# WINDOWS_BUILD_DIR is the PyInstaller folder built on Windows (checkup.exe, checkupw.exe,
# _internal\...). Its files are listed with wixl-heat into a component group, then
# checkup.wxs is compiled for x64.
set -euo pipefail

SRC="$(cd "$1" && pwd)"
OUT_DIR="$2"
VERSION="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/checkup-msi.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# MSI versions are numeric a.b.c: drop any PEP 440 suffix (0.2.0rc1 -> 0.2.0).
MSI_VERSION="$(printf '%s' "$VERSION" | grep -oE '^[0-9]+(\.[0-9]+){0,2}')"
[ -n "$MSI_VERSION" ] || { echo "build-msi: version '$VERSION' is not numeric" >&2; exit 1; }

# Authenticode signing (sign.sh): configured by CHECKUP_SIGN_* variables, or none.
SIGN="$HERE/sign.sh"
signing=0
bash "$SIGN" --check || signing=$?
[ "$signing" -eq 0 ] || [ "$signing" -eq 10 ] || exit 1

# wixl finds files relative to the sources: work in $WORK with the build linked as "payload"
# (copied instead when signing, so the executables are signed without touching the build).
if [ "$signing" -eq 0 ]; then
    cp -R "$SRC" "$WORK/payload"
    bash "$SIGN" "$WORK/payload/checkup.exe" "$WORK/payload/checkupw.exe"
else
    ln -s "$SRC" "$WORK/payload"
fi
cp "$HERE/checkup.wxs" "$WORK/checkup.wxs"
(cd "$WORK" && find payload/ -type f | LC_ALL=C sort \
    | wixl-heat --prefix payload/ --var var.SourceDir --component-group CG.payload \
                --directory-ref INSTALLDIR --win64 >payload.wxs)

mkdir -p "$OUT_DIR"
OUT="$(cd "$OUT_DIR" && pwd)/checkup-$VERSION-x64.msi"
(cd "$WORK" && wixl --arch x64 -D Version="$MSI_VERSION" -D SourceDir=payload -D Win64=yes \
     -o "$OUT" checkup.wxs payload.wxs)
# wixl has no <Condition> in <Component>: write IT's values only when their property is set.
for pair in PolicyServerUrl:SERVER_URL PolicyEnrollToken:ENROLL_TOKEN PolicyPolicyFile:POLICY_FILE; do
    msibuild "$OUT" -q "UPDATE \`Component\` SET \`Condition\` = '${pair#*:}' WHERE \`Component\` = '${pair%%:*}'"
done
# ...and no Secure="yes": make IT's properties reach the elevated (per-machine) install.
secure="$(msiinfo export "$OUT" Property | tr -d '\r' | awk -F'\t' '$1 == "SecureCustomProperties" {print $2}')"
secure="${secure:+$secure;}SERVER_URL;ENROLL_TOKEN;POLICY_FILE;OLD_SERVER_URL;OLD_ENROLL_TOKEN;OLD_POLICY_FILE"
msibuild "$OUT" -q "UPDATE \`Property\` SET \`Value\` = '$secure' WHERE \`Property\` = 'SecureCustomProperties'"
# Sign last: any change to the .msi after this would break the signature.
if [ "$signing" -eq 0 ]; then
    bash "$SIGN" "$OUT"
    echo "built $OUT ($(du -h "$OUT" | cut -f1)), signed, with checkup.exe and checkupw.exe signed"
else
    echo "built $OUT ($(du -h "$OUT" | cut -f1))"
    echo "note: $OUT and its checkup.exe/checkupw.exe are NOT signed (set CHECKUP_SIGN_CERT and CHECKUP_SIGN_KEY, or CHECKUP_SIGN_PKCS11_URI and CHECKUP_SIGN_PKCS11_MODULE; see packaging/windows/sign.sh)" >&2
fi
