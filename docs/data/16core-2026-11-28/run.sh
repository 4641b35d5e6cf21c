#!/bin/bash
# One device run: thread scaling (1,2,4,8,16) + regions + sweep at 16 + contention.
# The bundle (.devb) holds prange-bench/prange-contend built at c6d8bdf and every shared
# library they load, run through the bundled loader (the device has no apt, no hwloc):
# what perf/bundle makes now, plus a second prange-bench whose in-cache peers were built
# for x86-64-v3 (unused: that CPU ran the -march=native build). Kept as the record of
# what ran; its figures are in docs/performance.md, "A 16-core machine (2026-11-28)".
B=$PWD/.devb; O=${OUT:-/tmp/out}; R=/tmp/devr; rm -rf $R; mkdir -p $R $O
L=("$B/ld-linux-x86-64.so.2" --library-path "$B")
exec > >(tee -a "$O/log.txt") 2>&1; exec 3>&1
T0=$(date +%s); DEADLINE=${DEADLINE:-470}
el() { echo $(( $(date +%s) - T0 )); }
pack() { tar czf "$O/results.tgz" -C /tmp devr 2>/dev/null; }
step() { # step NAME TIMEOUT cmd...: run unless past the deadline
  local name=$1 to=$2; shift 2
  if [ "$(el)" -ge "$DEADLINE" ]; then echo "SKIP $name (t=$(el)s)" >&3; return; fi
  echo "=== $name (t=$(el)s, timeout ${to}s)" >&3
  timeout -k 5 "$to" "$@"; echo "=== $name rc=$? (t=$(el)s)" >&3; pack
}
{ uname -a; nproc; cat /proc/cpuinfo | grep -m1 'model name'; grep -m1 flags /proc/cpuinfo;
  cat /sys/fs/cgroup/cpu.max 2>/dev/null; cat /sys/fs/cgroup/cpuset.cpus.effective 2>/dev/null;
  ls /sys/devices/system/node 2>/dev/null | tr '\n' ' '; echo;
  cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; grep -E 'MemTotal|MemAvailable' /proc/meminfo;
  cat /proc/loadavg; lscpu 2>/dev/null | head -30; } > $R/machine.txt 2>&1
cat $R/machine.txt | head -12
BENCH=$B/prange-bench-native
if ! grep -qw avx512f /proc/cpuinfo || ! timeout 20 "${L[@]}" $BENCH --kernels sum,dot --variants omp-native --sizes 100000 --reps 3 --threads 2 >/dev/null 2>$R/probe.err; then
  BENCH=$B/prange-bench-v3; echo "bench: v3 build (native.c at -march=x86-64-v3)"; else echo "bench: native build"; fi
echo "$BENCH" > $R/bench.txt
PRANGE_VERBOSE=1 timeout 20 "${L[@]}" $BENCH --kernels triad --sizes 1000 --reps 3 >/dev/null 2>$R/config.txt; head -40 $R/config.txt
K=${K:-triad,sum,dot,nrm2,minloc,histogram,rowsums,map1ns,scan,map,jacobi,transpose,alloc,wavefront,heat,first-call,coarse-reduce,overhead}
for T in 16 8 4 2 1; do
  step scale-$T 100 "${L[@]}" $BENCH --no-sweep --threads $T --reps ${REPS:-11} --nmax ${NMAX:-33554432} --kernels $K --json $R/scale-$T.json --tsv $R/scale-$T.tsv --git c6d8bdf >$R/scale-$T.txt 2>$R/scale-$T.err
done
for l in one all prange; do
  step contend-$l 60 "${L[@]}" $B/prange-contend --load $l --json $R/contend-$l.json >$R/contend-$l.txt 2>&1
  tail -12 $R/contend-$l.txt
done
step regions-16 60 "${L[@]}" $BENCH --threads 16 --reps 11 --kernels wavefront,heat --sizes 1000000,4000000,16000000 --json $R/regions-16.json --git c6d8bdf >$R/regions-16.txt 2>$R/regions-16.err
step sweep-16 60 "${L[@]}" $BENCH --threads 16 --reps 11 --kernels triad,sum,map --sizes 100,1000,10000,100000,1000000,10000000 --json $R/sweep-16.json --git c6d8bdf >$R/sweep-16.txt 2>$R/sweep-16.err
( while :; do :; done ) & BUSY=$!
step regions-busy1 60 "${L[@]}" $BENCH --threads 16 --reps 11 --kernels wavefront,heat --sizes 1000000,4000000 --json $R/regions-busy1.json --git c6d8bdf >$R/regions-busy1.txt 2>$R/regions-busy1.err
kill $BUSY
for f in $R/*.txt; do echo "--- $f"; grep -E 'ratio|production|sizes|overhead' $f | grep -E ' prange(-region)? |ovh' | head -40; done 2>/dev/null | head -150
pack; echo "done t=$(el)s"
