#!/bin/bash
# List, deepest first, what must be code-signed inside an app bundle before the app itself:
#   sign-order.sh APP
# prints one path per line:
#   * every Mach-O file (found by its magic bytes, not its name: PyInstaller's
#     Python.framework/Versions/3.x/Python has no extension, PyInstaller #8029), and
#   * every nested bundle (.framework, .app, .bundle, .plugin, .appex, .xpc) that has an
#     Info.plist, after the files inside it.
# Symbolic links are skipped (their target is listed where it lives); APP itself is not
# listed (build-pkg.sh signs it last, with its entitlements). Runs on macOS and Linux
# (bash 3.2, find, od, awk, sort); exit 1 with one line if a file cannot be read.
set -euo pipefail

die() { echo "sign-order.sh: $*" >&2; exit 1; }

APP="${1:-}"
[ -n "$APP" ] || die "usage: sign-order.sh APP"
[ -d "$APP/Contents" ] || die "$APP is not an app bundle (no Contents folder)"

is_macho() {
    local magic
    magic="$(od -An -tx1 -N8 "$1" | tr -d ' \n')" || die "cannot read $1"
    case "${magic:0:8}" in
        feedface|cefaedfe|feedfacf|cffaedfe)   # thin 32/64-bit, either byte order
            return 0 ;;
        cafebabe|cafebabf)
            # A universal (fat) binary, or a Java class file (same magic): the next 4 bytes
            # (big-endian) are the architecture count (small) or the class version (>= 45).
            [ "${#magic}" -eq 16 ] || return 1
            local count=$((16#${magic:8:8}))
            [ "$count" -ge 1 ] && [ "$count" -lt 45 ] ;;
        *)
            return 1 ;;
    esac
}

has_info_plist() {
    [ -f "$1/Contents/Info.plist" ] || [ -f "$1/Resources/Info.plist" ] \
        || [ -f "$1/Versions/Current/Resources/Info.plist" ] || [ -f "$1/Info.plist" ]
}

find "$APP/Contents" -mindepth 1 \( -type f -o -type d \) -print0 \
    | while IFS= read -r -d '' path; do
        if [ -f "$path" ]; then
            if is_macho "$path"; then printf '%s\n' "$path"; fi
        else
            case "$path" in
                *.framework|*.app|*.bundle|*.plugin|*.appex|*.xpc)
                    if has_info_plist "$path"; then printf '%s\n' "$path"; fi ;;
            esac
        fi
    done \
    | awk -F/ '{ print NF "\t" $0 }' | LC_ALL=C sort -t "$(printf '\t')" -k1,1nr -k2 | cut -f2-
