#!/bin/sh
# static_tls.sh LIB — the shared library's thread-local block stays small. It uses the
# initial-exec TLS model (fast access on every call), so a libprange that a plugin host
# dlopens takes its whole TLS block from the static TLS surplus glibc reserves for all
# such libraries (glibc 2.36: a 1.7 KiB block loads alone but not after libgomp): a block
# much bigger than the few hundred bytes it needs would make dlopen fail with "cannot
# allocate memory in static TLS block". Per-thread tables belong on the heap (sched/plan.c's
# kept plans).
set -eu
lib=$1
limit=512
command -v readelf >/dev/null || { echo "readelf not found: skipped"; exit 77; }
mem=$(readelf -lW "$lib" | awk '$1 == "TLS" {print $6}')
[ -n "$mem" ] || { echo "no TLS segment in $lib"; exit 0; }
bytes=$(printf '%d' "$mem")
echo "TLS block of $lib: $bytes bytes (limit $limit)"
[ "$bytes" -le "$limit" ] || { echo "the TLS block grew past $limit bytes"; exit 1; }
