#!/bin/sh
# standalone.sh BUILD_ROOT SOURCE_ROOT — install into a scratch prefix, then build an
# example as a client would: only `pkg-config --cflags --libs prange`, no -fopenmp.
set -eu
build=$1; src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name prange.pc | head -n 1)
[ -n "$pc" ] || { echo "prange.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
prefix=$(pkg-config --variable=prefix prange)
flags=$(pkg-config --define-variable=prefix="$tmp/root$prefix" --cflags --libs prange)
case "$flags" in *openmp*) echo "pkg-config flags need OpenMP: $flags"; exit 1;; esac
for f in prange.h; do find "$tmp/root" -name "$f" | grep -q . || { echo "$f not installed"; exit 1; }; done
find "$tmp/root" -name prange-info | grep -q . || { echo "prange-info not installed"; exit 1; }
find "$tmp/root" -name 'libprange.a' | grep -q . || { echo "static library not installed"; exit 1; }
soname=$(find "$tmp/root" -name 'libprange.so.0' | head -n 1)
[ -n "$soname" ] || { echo "versioned libprange.so.0 not installed"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror "$src/examples/l2_norm.c" $flags -lm -o "$tmp/l2_norm"
LD_LIBRARY_PATH=$(dirname "$soname") "$tmp/l2_norm" 2000000
echo "standalone client built with: cc l2_norm.c $flags"
