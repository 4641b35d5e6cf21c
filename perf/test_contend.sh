#!/bin/sh
# test_contend.sh PRANGE_CONTEND — its busy neighbours die with it: killed from outside
# (a time limit, a crash), the process must leave no busy loop behind on the machine.
contend=$1
"$contend" --load one --quick >/dev/null 2>&1 &
pid=$!
sleep 1
# Its children, from /proc (no procps needed): field 4 of /proc/PID/stat is the parent.
kids=$(cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$pid" '$4 == p {printf "%s ", $1}')
[ -n "$kids" ] || { kill -9 "$pid"; echo "FAIL: no neighbour running after 1 s"; exit 1; }
kill -9 "$pid"
wait "$pid" 2>/dev/null
for i in 1 2 3 4 5 6 7 8 9 10; do
  left=""
  for k in $kids; do
    state=$(awk '{print $3}' "/proc/$k/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ] && left="$left $k"
  done
  [ -z "$left" ] && { echo "prange-contend: its neighbours ($kids) ended with it"; exit 0; }
  sleep 0.2
done
kill -9 $left 2>/dev/null
echo "FAIL: processes$left outlived prange-contend"
exit 1
