#!/usr/bin/env bash
# Make a PyInstaller Linux build fit to ship (Debian policy, lintian, rpm's check-rpaths):
#   fix-elf.sh DIR
# * RUNPATH/RPATH entries that name a folder of the build machine (PyInstaller copies
#   libpython and the extension modules with e.g. /root/.pyenv/versions/3.11.7/lib baked in)
#   are removed; $ORIGIN-relative entries (Pillow's bundled libraries) are kept;
# * shared libraries (*.so, *.so.N) are not executable (0644); the executable stays 0755.
# Idempotent. Needs patchelf (Debian package patchelf).
set -euo pipefail

DIR="$1"
command -v patchelf >/dev/null 2>&1 \
    || { echo "fix-elf.sh: needs 'patchelf' (Debian package patchelf)" >&2; exit 1; }
[ -d "$DIR" ] || { echo "fix-elf.sh: $DIR is not a folder" >&2; exit 1; }

fixed=0
while IFS= read -r -d '' file; do
    [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    case "$(basename "$file")" in
        *.so|*.so.*) chmod 0644 "$file" ;;
    esac
    rpath="$(patchelf --print-rpath "$file" 2>/dev/null || true)"
    [ -n "$rpath" ] || continue
    keep=""
    IFS=: read -r -a entries <<<"$rpath"
    for entry in "${entries[@]}"; do
        # shellcheck disable=SC2016  # a literal $ORIGIN, expanded by the dynamic loader
        case "$entry" in
            '$ORIGIN'|'$ORIGIN/'*) keep="${keep:+$keep:}$entry" ;;
        esac
    done
    [ "$keep" = "$rpath" ] && continue
    if [ -n "$keep" ]; then
        patchelf --set-rpath "$keep" "$file"
    else
        patchelf --remove-rpath "$file"
    fi
    fixed=$((fixed + 1))
done < <(find "$DIR" -type f -print0)
echo "fix-elf.sh: removed build-machine RUNPATHs from $fixed files in $DIR"
