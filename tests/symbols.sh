#!/bin/sh
# symbols.sh LIB [coverage] — the shared library exports prange_* symbols and nothing else.
# In a coverage build (-Db_coverage=true) the profiling runtime linked into the library
# exports its own symbols (gcc's libgcov: __gcov_*, mangle_path; clang's profile runtime:
# __gcov_*, lprof*, __llvm_*, reset_fn_list, writeout_fn_list): those are left out.
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
if [ "${2:-}" = coverage ]; then
  syms=$(printf '%s\n' "$syms" | grep -v -e '^__gcov_' -e '^__llvm_' -e '^lprof' \
    -e '^mangle_path$' -e '^reset_fn_list$' -e '^writeout_fn_list$' || true)
fi
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
