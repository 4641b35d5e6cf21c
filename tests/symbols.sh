#!/bin/sh
# symbols.sh LIB — the shared library exports prange_* symbols and nothing else.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^prange_' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the prange_ prefix:"; printf '  %s\n' $bad; exit 1
fi
internal=$(printf '%s\n' "$syms" | grep '^prange__' || true)
if [ -n "$internal" ]; then
  echo "internal prange__ symbols exported:"; printf '  %s\n' $internal; exit 1
fi
echo "exported: $(printf '%s\n' "$syms" | wc -l) symbols, all prange_*"
