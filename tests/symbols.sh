#!/bin/sh
# symbols.sh LIB — the shared library exports prange_* functions and nothing else: no
# internal prange__ symbol, and no data object (an exported object is copy-relocated into
# executables, which freezes its size into them: the built-in reducers are functions).
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
data=$(nm -D --defined-only "$lib" | awk '$2 !~ /^[TtWiI]$/ {print $3}' | sort -u)
if [ -n "$data" ]; then
  echo "data objects exported (export functions instead):"; printf '  %s\n' $data; exit 1
fi
echo "exported: $(printf '%s\n' "$syms" | wc -l) symbols, all prange_* functions"
