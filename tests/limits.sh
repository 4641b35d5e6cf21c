#!/bin/sh
# limits.sh LIMITS — the program tests/limits.c under what production machines impose:
# thread creation refused (no address space for OMP_STACKSIZE stacks; RLIMIT_NPROC as an
# unprivileged user), and small stacks (RLIMIT_STACK, OMP_STACKSIZE). The OpenMP runtime
# exits the process when it cannot start a thread; libprange must find out first and run
# with fewer threads or serially, with right results and one warning.
set -u
prog=$1
fail=0

# run NAME EXPECT_RC PATTERN... -- COMMAND...: run it, check the exit status, then that
# every PATTERN (grep -E) is in its combined output.
run() {
  name=$1; want=$2; shift 2
  pats=""
  while [ "$1" != "--" ]; do pats="$pats
$1"; shift; done
  shift
  out=$("$@" 2>&1); rc=$?
  bad=""
  [ "$rc" -eq "$want" ] || bad="exit status $rc, expected $want"
  if [ -z "$bad" ]; then
    while IFS= read -r p; do
      [ -z "$p" ] && continue
      printf '%s\n' "$out" | grep -Eq -- "$p" || { bad="no line matches '$p'"; break; }
    done <<EOF
$pats
EOF
  fi
  if [ -n "$bad" ]; then
    echo "FAIL $name: $bad"; printf '%s\n' "$out" | tail -n 20; fail=1
  else
    echo "ok   $name: $(printf '%s\n' "$out" | grep '^limits: ' | tail -n 1)"
  fi
}

# 1. Plain run: the baseline, teams of the whole budget.
run "no limits" 0 'largest team 4' 'reason=parallel' -- "$prog" 4 3
# 2. Stacks that cannot be mapped: every thread refused, so everything runs serially.
run "OMP_STACKSIZE=100G" 0 'largest team 1' 'reason=thread creation refused' \
  'prange: warning: the system refused to start threads' -- env OMP_STACKSIZE=100G "$prog" 4 3
# 3. Small stacks: 64 KiB for every thread the runtime starts; the process stack limited
#    to 128 KiB (hwloc's topology discovery alone needs about 28 KiB of it).
run "OMP_STACKSIZE=64K" 0 'largest team 4' -- env OMP_STACKSIZE=64K "$prog" 4 2
run "RLIMIT_STACK 128 KiB" 0 'largest team 4' -- prlimit --stack=131072 "$prog" 4 2
# 4. RLIMIT_NPROC: root is exempt, so run as nobody (uid 65534, which owns no process
#    here). The limit counts every thread of the user: main + 2 workers = 3.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && command -v prlimit >/dev/null &&
   [ "$(ps -u 65534 -L --no-headers 2>/dev/null | wc -l)" -eq 0 ] &&
   setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
  dir=$(mktemp -d); chmod 755 "$dir"; cp "$prog" "$dir/limits"; chmod 755 "$dir/limits"
  as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
  run "RLIMIT_NPROC=3" 0 'largest team 3' 'threads=3 .*reason=threads limited by thread creation' \
    'prange: warning: the system refused to start threads' -- $as_nobody prlimit --nproc=3 "$dir/limits" 4 2
  run "RLIMIT_NPROC=1" 0 'largest team 1' 'reason=thread creation refused' -- \
    $as_nobody prlimit --nproc=1 "$dir/limits" 4 2
  # Several masters compete for 8 slots: each gets what is left, none exits.
  run "RLIMIT_NPROC=8, 4 user threads" 0 'largest team' -- $as_nobody prlimit --nproc=8 "$dir/limits" 4 4
  rm -rf "$dir"
else
  echo "skip RLIMIT_NPROC: needs root (to run as uid 65534, which must own no process), setpriv and prlimit"
fi
[ $fail -eq 0 ] && echo "limits: refused threads and small stacks degrade, results right, nothing exits"
exit $fail
