#!/usr/bin/env bash
# Authenticode-sign Windows files (.exe, .dll, .msi) in place with osslsigncode.
#
#   sign.sh --check     exit 0: signing is configured; 10: nothing is set (build unsigned);
#                       1: the configuration is incomplete or names a missing file (one line)
#   sign.sh FILE...     sign each FILE in place (SHA-256), exit 1 with one line on failure
#
# Environment (one of the two key sources):
#   CHECKUP_SIGN_CERT           the code-signing certificate, PEM or DER, with its chain
#                               (PEM: several certificates in one file, leaf first)
#   CHECKUP_SIGN_KEY            its private key file (PEM or DER)
#   CHECKUP_SIGN_KEY_PASS_FILE  optional: a file holding the key's password (or the token PIN)
# or
#   CHECKUP_SIGN_PKCS11_URI     the key on a token/HSM, e.g.
#                               "pkcs11:token=Checkup;object=codesign;type=private"
#   CHECKUP_SIGN_PKCS11_MODULE  the token's PKCS#11 module (.so), e.g. libsofthsm2.so
#   CHECKUP_SIGN_CERT           the certificate file (as above; export it from the token once)
#   CHECKUP_SIGN_KEY_PASS_FILE  optional: a file holding the token's PIN
#   CHECKUP_SIGN_PKCS11_ENGINE  optional: the OpenSSL engine library (default: the "pkcs11"
#                               engine, Debian package libengine-pkcs11-openssl)
# and
#   CHECKUP_SIGN_TIMESTAMP_URL  optional: an RFC 3161 timestamp server (none by default);
#                               without one the signature stops verifying when the
#                               certificate expires
#   CHECKUP_HOMEPAGE            optional: the URL shown in the signature's details
set -euo pipefail

die() { echo "packaging/windows/sign.sh: $*" >&2; exit 1; }

file_source=""
[ -n "${CHECKUP_SIGN_KEY:-}" ] && file_source=yes
token_source=""
[ -n "${CHECKUP_SIGN_PKCS11_URI:-}${CHECKUP_SIGN_PKCS11_MODULE:-}" ] && token_source=yes

check() {
    if [ -z "$file_source" ] && [ -z "$token_source" ]; then
        [ -z "${CHECKUP_SIGN_CERT:-}" ] || die "CHECKUP_SIGN_CERT is set but no key: set CHECKUP_SIGN_KEY (a key file) or CHECKUP_SIGN_PKCS11_URI and CHECKUP_SIGN_PKCS11_MODULE"
        return 10
    fi
    [ -z "$file_source" ] || [ -z "$token_source" ] \
        || die "set either CHECKUP_SIGN_KEY (a key file) or CHECKUP_SIGN_PKCS11_URI (a token), not both"
    command -v osslsigncode >/dev/null 2>&1 || die "needs 'osslsigncode' (Debian package osslsigncode)"
    if [ -n "$file_source" ]; then
        [ -n "${CHECKUP_SIGN_CERT:-}" ] || die "CHECKUP_SIGN_KEY is set but CHECKUP_SIGN_CERT (the certificate file) is not"
        [ -r "$CHECKUP_SIGN_KEY" ] || die "CHECKUP_SIGN_KEY=$CHECKUP_SIGN_KEY is not a readable file"
    else
        [ -n "${CHECKUP_SIGN_PKCS11_URI:-}" ] || die "CHECKUP_SIGN_PKCS11_MODULE is set but CHECKUP_SIGN_PKCS11_URI (the key on the token) is not"
        [ -n "${CHECKUP_SIGN_PKCS11_MODULE:-}" ] || die "CHECKUP_SIGN_PKCS11_URI is set but CHECKUP_SIGN_PKCS11_MODULE (the token's .so) is not"
        [ -r "$CHECKUP_SIGN_PKCS11_MODULE" ] || die "CHECKUP_SIGN_PKCS11_MODULE=$CHECKUP_SIGN_PKCS11_MODULE is not a readable file"
        [ -n "${CHECKUP_SIGN_CERT:-}" ] \
            || die "a token key needs its certificate: set CHECKUP_SIGN_CERT (the certificate file)"
    fi
    [ -r "$CHECKUP_SIGN_CERT" ] || die "CHECKUP_SIGN_CERT=$CHECKUP_SIGN_CERT is not a readable file"
    if [ -n "${CHECKUP_SIGN_KEY_PASS_FILE:-}" ]; then
        [ -r "$CHECKUP_SIGN_KEY_PASS_FILE" ] || die "CHECKUP_SIGN_KEY_PASS_FILE=$CHECKUP_SIGN_KEY_PASS_FILE is not a readable file"
    fi
    return 0
}

if [ "${1:-}" = --check ]; then
    code=0
    check || code=$?
    exit "$code"
fi
[ $# -gt 0 ] || die "usage: sign.sh --check | sign.sh FILE..."
code=0
check || code=$?
[ "$code" -ne 10 ] || die "signing is not configured (set CHECKUP_SIGN_CERT and CHECKUP_SIGN_KEY, or CHECKUP_SIGN_PKCS11_URI and CHECKUP_SIGN_PKCS11_MODULE)"
[ "$code" -eq 0 ] || exit "$code"

args=(-h sha256 -n Checkup)
[ -z "${CHECKUP_HOMEPAGE:-}" ] || args+=(-i "$CHECKUP_HOMEPAGE")
[ -z "${CHECKUP_SIGN_TIMESTAMP_URL:-}" ] || args+=(-ts "$CHECKUP_SIGN_TIMESTAMP_URL")
[ -z "${CHECKUP_SIGN_KEY_PASS_FILE:-}" ] || args+=(-readpass "$CHECKUP_SIGN_KEY_PASS_FILE")
if [ -n "$file_source" ]; then
    args+=(-certs "$CHECKUP_SIGN_CERT" -key "$CHECKUP_SIGN_KEY")
    what="key file $CHECKUP_SIGN_KEY"
else
    [ -z "${CHECKUP_SIGN_PKCS11_ENGINE:-}" ] || args+=(-pkcs11engine "$CHECKUP_SIGN_PKCS11_ENGINE")
    args+=(-pkcs11module "$CHECKUP_SIGN_PKCS11_MODULE")
    args+=(-certs "$CHECKUP_SIGN_CERT" -key "$CHECKUP_SIGN_PKCS11_URI")
    what="token key $CHECKUP_SIGN_PKCS11_URI"
fi

for file in "$@"; do
    [ -f "$file" ] || die "$file: no such file"
    out="$file.signed.tmp"
    rm -f "$out"
    if ! log="$(osslsigncode sign "${args[@]}" -in "$file" -out "$out" 2>&1)"; then
        rm -f "$out"
        case "$log" in
            *"key values mismatch"*) why="the key does not belong to the certificate $CHECKUP_SIGN_CERT" ;;
            *"bad password read"*|*"bad decrypt"*) why="the key's password is wrong (CHECKUP_SIGN_KEY_PASS_FILE)" ;;
            *PIN_INCORRECT*|*"failed loading private key"*)
                why="the token did not give the key: a wrong PIN (CHECKUP_SIGN_KEY_PASS_FILE) or no such key (CHECKUP_SIGN_PKCS11_URI)" ;;
            *) why="osslsigncode says: $(printf '%s' "$log" | grep -v '^[[:space:]]*$' | tail -n 3 | tr '\n' ' ')" ;;
        esac
        die "signing $file with the $what failed: $why"
    fi
    mv -f "$out" "$file"
    echo "signed $file"
done
