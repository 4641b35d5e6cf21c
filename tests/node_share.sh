#!/bin/sh
# node_share.sh PROGRAM — PRANGE_SHARE=node: two processes running loops divide the cores;
# when one exits, the other has them all back within a second.
set -u
prog=$1
cores=$(nproc)
[ "$cores" -ge 2 ] || { echo "skip: needs 2 cores"; exit 77; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
export PRANGE_SHARE=node PRANGE_FORK_NS=1000
"$prog" 4 > "$dir/a" & a=$!
sleep 0.5
"$prog" 1.5 > "$dir/b"
b_end=$(tail -n 1 "$dir/b" | awk '{print $3}')
wait $a
fail=0
# While both ran (from 300 ms after B's first line to B's last): the budgets add up to at
# most the cores.
b_start=$(head -n 1 "$dir/b" | awk '{print $3}')
over=$(awk -v s="$b_start" -v e="$b_end" -v c="$cores" '
  FNR == NR { if ($3 >= s + 300 && $3 <= e) bb[int($3 / 50)] = $5; next }
  ($3 >= s + 300 && $3 <= e) { k = int($3 / 50); if ((k in bb) && $5 + bb[k] > c) n++ }
  END { print n + 0 }' "$dir/b" "$dir/a")
share_b=$(awk -v s="$b_start" '$3 >= s + 300 {print $5}' "$dir/b" | sort -n | uniq | tr '\n' ' ')
share_a=$(awk -v s="$b_start" -v e="$b_end" '$3 >= s + 300 && $3 <= e {print $5}' "$dir/a" | sort -n | uniq | tr '\n' ' ')
if [ "$over" -ne 0 ] || [ -z "$share_b" ]; then
  echo "FAIL while both ran, budgets exceeded $cores cores $over times (A: $share_a B: $share_b)"; fail=1
else
  echo "ok   while both ran: A's budget $share_a B's $share_b ($cores cores)"
fi
# After B exits: A has every core back within a second.
back=$(awk -v e="$b_end" -v c="$cores" '$3 > e && $5 == c {print $3 - e; exit}' "$dir/a")
if [ -z "$back" ] || [ "$(echo "$back" | awk '{print ($1 <= 1000)}')" -ne 1 ]; then
  echo "FAIL after B exited, A did not get the $cores cores back within 1 s (after: ${back:-never} ms)"
  awk -v e="$b_end" '$3 > e' "$dir/a" | head -n 30; fail=1
else
  echo "ok   A had all $cores cores back $back ms after B exited"
fi
exit $fail
