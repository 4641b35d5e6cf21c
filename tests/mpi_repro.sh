#!/bin/sh
# mpi_repro.sh MPI_REPRO MPI_CG — libprange-mpi's results do not depend on the
# decomposition: tests/mpi_repro.c under mpirun -np 1..4 with 1 and 2 threads (each run
# checks itself: same bits on every rank and split, equal to the single-process and the
# exactly rounded result), its printed bits equal across all runs; and the distributed
# CG's residual history bitwise the same for (ranks, threads) in (1,1) (1,2) (2,1) (2,2)
# (3,1) (4,1); prange_mpi_init's teams and prange_mpi_print_config's output. Skips (77)
# without mpirun.
set -u
repro=$1 cg=$2
command -v mpirun >/dev/null || { echo "skip: no mpirun"; exit 77; }
# Loopback only, no network probing; root in containers; more ranks than cores.
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_mpi_yield_when_idle=1
# More threads than cores: idle OpenMP workers sleep instead of spinning, and a fork-join
# cost of 1 ns makes the small loops of the CG really run on the teams.
export OMP_WAIT_POLICY=passive PRANGE_FORK_NS=1
mpi="timeout 240 mpirun --allow-run-as-root --oversubscribe --bind-to none"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for k in 1 2 3 4; do
  for t in 1 2; do
    out=$tmp/repro.$k.$t
    if ! $mpi -np $k "$repro" $t >"$out" 2>&1; then
      echo "FAIL mpi_repro -np $k threads $t:"; cat "$out"; fail=1; continue
    fi
    grep -v '^mpi_repro ' "$out" >"$out.bits"
    if [ ! -s "$out.bits" ] || ! cmp -s "$tmp/repro.1.1.bits" "$out.bits"; then
      echo "FAIL mpi_repro -np $k threads $t: bits differ from -np 1 threads 1"
      diff "$tmp/repro.1.1.bits" "$out.bits" | head -n 20; fail=1
    else
      echo "ok   mpi_repro -np $k threads $t: $(tail -n 1 "$out")"
    fi
  done
done
for pair in 1,1 1,2 2,1 2,2 3,1 4,1; do
  k=${pair%,*} t=${pair#*,} out=$tmp/cg.$k.$t
  if ! $mpi -np $k "$cg" 64 $t >"$out" 2>&1; then
    echo "FAIL mpi_cg -np $k threads $t:"; cat "$out"; fail=1; continue
  fi
  grep -e '^cg it=' -e '^mpi_cg N=' "$out" >"$out.hist"
  if [ "$(grep -c '^cg it=' "$out.hist")" -lt 10 ] || ! cmp -s "$tmp/cg.1.1.hist" "$out.hist"; then
    echo "FAIL mpi_cg -np $k threads $t: residual history differs from (1, 1)"
    diff "$tmp/cg.1.1.hist" "$out.hist" | head -n 20; fail=1
  else
    echo "ok   mpi_cg -np $k threads $t: $(grep -c '^cg it=' "$out.hist") residuals bitwise equal; $(tail -n 1 "$out.hist")"
  fi
done
# The hybrid helpers: prange_mpi_init gives the ranks sharing the node's cores teams that
# add up to the cores (one each at least); prange_mpi_print_config prints every rank's
# configuration, in rank order.
cores=$(nproc)
for k in 1 2 3; do
  out=$tmp/config.$k
  $mpi -np $k "$repro" config >"$out" 2>&1 || { echo "FAIL mpi_repro config -np $k:"; cat "$out"; fail=1; continue; }
  order=$(sed -n 's/^== rank \([0-9]*\) of .*/\1/p' "$out" | tr '\n' ' ')
  sum=$(sed -n 's/^budget: *\([0-9]*\) threads.*/\1/p' "$out" | awk '{s += $1} END {print s + 0}')
  want=$cores; [ "$k" -gt "$cores" ] && want=$k
  if [ "$order" != "$(seq -s ' ' 0 $((k - 1))) " ] || [ "$sum" -ne "$want" ]; then
    echo "FAIL prange_mpi_init / print_config -np $k: ranks printed '$order', teams add up to $sum (want $want)"
    grep -E '^(==|budget|ranks)' "$out"; fail=1
  else
    echo "ok   prange_mpi_init / print_config -np $k: ranks in order, teams add up to $sum"
  fi
done
exit $fail
