#!/bin/sh
# env_cli.sh PRANGE_INFO EXAMPLE RUNTIME — as a user would: each variable set to a bad
# value gives exactly one warning naming it and a working program.
# RUNTIME is libgomp or libomp: LLVM's libomp aborts the program itself on a bad
# OMP_NUM_THREADS before main() runs, so that variable is only checked with libgomp.
set -u
info=$1; example=$2; runtime=${3:-libgomp}
fail=0
vars="PRANGE_NUM_THREADS PRANGE_GRAIN PRANGE_SCHEDULE PRANGE_SERIAL PRANGE_BIND PRANGE_FORK_NS PRANGE_MEM PRANGE_HUGEPAGES PRANGE_ISA PRANGE_VERBOSE PRANGE_PROFILE"
[ "$runtime" = libgomp ] && vars="$vars OMP_NUM_THREADS"
for var in $vars; do
  for val in abc -3 1e99 '' 7x; do
    err=$(env "$var=$val" "$example" 100000 2>&1 >/dev/null)
    rc=$?
    n=$(printf '%s\n' "$err" | grep -c "prange: warning: $var=\"$val\"")
    total=$(printf '%s\n' "$err" | grep -c 'prange: warning')
    if [ $rc -ne 0 ] || [ "$n" -ne 1 ] || [ "$total" -ne 1 ]; then
      echo "FAIL $var='$val': rc=$rc warnings naming it=$n total=$total"; printf '%s\n' "$err"; fail=1
    fi
  done
done
# OMP_NUM_THREADS as libgomp reads it (blanks around the value): libprange and the
# runtime agree on one thread, without a warning.
if [ "$runtime" = libgomp ]; then
  out=$(OMP_NUM_THREADS=" 1" "$info" 2>&1)
  if ! printf '%s\n' "$out" | grep -q '^budget: *1 threads' || printf '%s\n' "$out" | grep -q 'prange: warning'; then
    echo "FAIL OMP_NUM_THREADS=' 1' is not a budget of 1 without warning:"; printf '%s\n' "$out" | head -n 8; fail=1
  fi
fi
# Verbose levels: 1 prints the configuration once, 2 also every loop's plan.
out=$(PRANGE_VERBOSE=1 "$example" 100000 2>&1 >/dev/null)
[ "$(printf '%s\n' "$out" | grep -c '^libprange ')" -eq 1 ] || { echo "FAIL PRANGE_VERBOSE=1 did not print the configuration once"; fail=1; }
# A fixed fork-join figure: a busy machine must not make this check of the output serial.
out=$(PRANGE_VERBOSE=2 PRANGE_NUM_THREADS=2 PRANGE_FORK_NS=1000 "$example" 100000000 2>&1 >/dev/null)
# The kernel's reduction: named by its site (the kernel and its caller), with its duration.
printf '%s\n' "$out" | grep -q 'prange: reduce prange_nrm2_f64 @ [^:]*: n=100000000 threads=2 .*reason=[a-z -]* took=[0-9.]*[mun]*s$' || { echo "FAIL PRANGE_VERBOSE=2 did not print the plan of a 10^8 reduction on every core, with its site and duration:"; printf '%s\n' "$out"; fail=1; }
printf '%s\n' "$out" | grep -q 'prange: reduce l2_norm.squares: n=100000000 ' || { echo "FAIL PRANGE_VERBOSE=2 did not name the loop by its opts.label:"; printf '%s\n' "$out"; fail=1; }
# A misspelled variable: said once under PRANGE_VERBOSE=1, with the closest name.
out=$(PRANGE_VERBOSE=1 PRANGE_NUM_THREAD=2 "$example" 100000 2>&1 >/dev/null)
[ "$(printf '%s\n' "$out" | grep -c '^prange: warning: PRANGE_NUM_THREAD is not a libprange variable; did you mean PRANGE_NUM_THREADS?$')" -eq 1 ] || { echo "FAIL PRANGE_VERBOSE=1 did not name the misspelled PRANGE_NUM_THREAD once:"; printf '%s\n' "$out" | grep -v '^  '; fail=1; }
out=$(PRANGE_SERIAL=1 PRANGE_VERBOSE=2 "$example" 100000000 2>&1 >/dev/null)
printf '%s\n' "$out" | grep -q 'threads=1 .*reason=PRANGE_SERIAL=1' || { echo "FAIL PRANGE_SERIAL=1 did not run inline"; fail=1; }
"$info" >/dev/null || { echo "FAIL prange-info"; fail=1; }
# PRANGE_ISA picks the kernels' path; prange-info names the one in use.
PRANGE_ISA=baseline "$info" | grep -q '^kernels: *baseline ' || { echo "FAIL PRANGE_ISA=baseline is not the path prange-info prints"; fail=1; }
# Write errors are failures; bad arguments are usage errors (2); --help goes to stdout.
for args in "" --version --markdown --help; do
  # shellcheck disable=SC2086
  "$info" $args >/dev/full 2>/dev/null && { echo "FAIL prange-info $args > /dev/full exited 0"; fail=1; }
done
help=$("$info" --help 2>/dev/null); rc=$?
[ $rc -eq 0 ] && printf '%s\n' "$help" | grep -q '^usage: ' || { echo "FAIL prange-info --help: rc=$rc, usage not on stdout"; fail=1; }
for bad in "--calibrate ''" --bogus "--version extra"; do
  err=$(eval "\"\$info\" $bad" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 2 ] || ! printf '%s\n' "$err" | grep -q '^usage: ' || printf '%s\n' "$err" | grep -q 'system'; then
    echo "FAIL prange-info $bad: rc=$rc (want 2 and the usage)"; printf '%s\n' "$err"; fail=1
  fi
done
# OMP_PROC_BIND pins the initial thread to one CPU before main(): the budget must still
# count every CPU OpenMP may use.
plain=$("$info" | grep '^budget:')
bound=$(OMP_PROC_BIND=true "$info" | grep '^budget:')
[ "$plain" = "$bound" ] || { echo "FAIL OMP_PROC_BIND=true changed the budget: '$plain' vs '$bound'"; fail=1; }
[ $fail -eq 0 ] && echo "env_cli: every bad value warned once; verbose and serial modes work"
exit $fail
