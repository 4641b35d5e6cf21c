#!/bin/sh
# mpi.sh PRANGE_INFO MPI_HYBRID — Open MPI ranks on this node share its cores: with the
# default binding and with --bind-to none, 2 ranks' budgets add up to the cores, their CPU
# sets do not overlap, and the hybrid example's ranks get the right total.
set -u
info=$1 hybrid=$2
command -v mpirun >/dev/null || { echo "skip: no mpirun"; exit 77; }
cores=$(nproc)
fail=0
mpi="mpirun --allow-run-as-root --oversubscribe -np 2"
for bind in "" "--bind-to none"; do
  out=$(timeout 120 $mpi $bind "$info" 2>&1)
  sum=$(printf '%s\n' "$out" | sed -n 's/^budget: *\([0-9]*\) threads.*/\1/p' | awk '{s += $1} END {print s + 0}')
  sets=$(printf '%s\n' "$out" | sed -n 's/^topology:.*(cpuset \([^)]*\)).*/\1/p' | sort)
  want=$cores; [ "$cores" -lt 2 ] && want=2   # one core: each rank still runs (budget 1)
  if [ "$sum" -ne "$want" ] || [ "$(printf '%s\n' "$sets" | wc -l)" -ne 2 ] ||
     [ "$(printf '%s\n' "$sets" | uniq | wc -l)" -ne 2 ]; then
    echo "FAIL mpirun -np 2 ${bind:-(default binding)}: budgets add up to $sum (cores $cores), cpusets:" $sets
    printf '%s\n' "$out" | grep -E '^(topology|budget|ranks):'; fail=1
  else
    echo "ok   mpirun -np 2 ${bind:-(default binding)}: budgets add up to $sum, cpusets" $sets
  fi
  [ -n "$hybrid" ] || continue
  out=$(timeout 120 $mpi $bind "$hybrid" 200000 2>&1); rc=$?
  threads=$(printf '%s\n' "$out" | sed -n 's/^mpi_hybrid rank=.* threads=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
  if [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -q 'mpi_hybrid total=.* ok' || [ "$threads" -ne "$want" ]; then
    echo "FAIL mpi_hybrid ${bind:-(default binding)}: rc=$rc, teams add up to $threads"; printf '%s\n' "$out"; fail=1
  else
    echo "ok   mpi_hybrid ${bind:-(default binding)}: right total, teams add up to $threads"
  fi
done
exit $fail
