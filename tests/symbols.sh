#!/bin/sh
# symbols.sh LIB [coverage] — the shared library exports prange_* functions and nothing
# else: no internal prange__ symbol, and no data object (an exported object is
# copy-relocated into executables, which freezes its size into them: the built-in reducers
# are functions).
# In a coverage build (-Db_coverage=true) the profiling runtime linked into the library
# exports its own symbols (gcc's libgcov: __gcov_*, mangle_path; clang's profile runtime:
# __gcov_*, lprof*, __llvm_*, reset_fn_list, writeout_fn_list): those are left out.
set -eu
lib=$1
cov=${2:-}
# Names from nm -D lines (their last field), less the profiling runtime's in a coverage build.
names() {
  if [ "$cov" = coverage ]; then
    awk '{print $NF}' | sort -u | grep -v -e '^__gcov_' -e '^__llvm_' -e '^lprof' \
      -e '^mangle_path$' -e '^reset_fn_list$' -e '^writeout_fn_list$' || true
  else
    awk '{print $NF}' | sort -u
  fi
}
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | names)
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^prange_' || true)
if [ -n "$bad" ]; then
  echo "symbols exported without the prange_ prefix:"; printf '  %s\n' $bad; exit 1
fi
internal=$(printf '%s\n' "$syms" | grep '^prange__' || true)
if [ -n "$internal" ]; then
  echo "internal prange__ symbols exported:"; printf '  %s\n' $internal; exit 1
fi
data=$(nm -D --defined-only "$lib" | awk '$2 !~ /^[TtWiI]$/ {print $3}' | names)
if [ -n "$data" ]; then
  echo "data objects exported (export functions instead):"; printf '  %s\n' $data; exit 1
fi
echo "exported: $(printf '%s\n' "$syms" | wc -l) symbols, all prange_* functions"
