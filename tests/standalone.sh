#!/bin/sh
# standalone.sh BUILD_ROOT SOURCE_ROOT DEFAULT_LIBRARY — install into a scratch prefix, then
# build an example as a client would: only `pkg-config --cflags --libs prange`, no -fopenmp
# (with --static where only the static library is built).
set -eu
build=$1; src=$2; kind=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name prange.pc | head -n 1)
[ -n "$pc" ] || { echo "prange.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
prefix=$(pkg-config --variable=prefix prange)
flags=$(pkg-config --define-variable=prefix="$tmp/root$prefix" --cflags --libs prange)
case "$flags" in *openmp*) echo "pkg-config flags need OpenMP: $flags"; exit 1;; esac
for f in prange.h prange_version.h; do find "$tmp/root" -name "$f" | grep -q . || { echo "$f not installed"; exit 1; }; done
find "$tmp/root" -name prange-info | grep -q . || { echo "prange-info not installed"; exit 1; }
if [ "$kind" != shared ]; then
  find "$tmp/root" -name 'libprange.a' | grep -q . || { echo "static library not installed"; exit 1; }
fi
if [ "$kind" = static ]; then
  flags=$(pkg-config --define-variable=prefix="$tmp/root$prefix" --static --cflags --libs prange)
  cc -std=c11 -Wall -Wextra -Werror "$src/examples/l2_norm.c" $flags -lm -o "$tmp/l2_norm"
  "$tmp/l2_norm" 2000000
  echo "standalone client built with: cc l2_norm.c $flags"
  exit 0
fi
# The soversion follows the version in meson.build: 0.<minor> while 0.x, else the major.
so=$(find "$tmp/root" -name 'libprange.so' | head -n 1)
[ -n "$so" ] || { echo "libprange.so not installed"; exit 1; }
name=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
major=$(sed -n 's/^#define PRANGE_VERSION_MAJOR //p' "$(find "$tmp/root" -name prange_version.h | head -n 1)")
minor=$(sed -n 's/^#define PRANGE_VERSION_MINOR //p' "$(find "$tmp/root" -name prange_version.h | head -n 1)")
want=libprange.so.$major; [ "$major" = 0 ] && want=libprange.so.0.$minor
[ "$name" = "$want" ] || { echo "soname is '$name', expected $want"; exit 1; }
soname=$(find "$tmp/root" -name "$want" | head -n 1)
[ -n "$soname" ] || { echo "versioned $want not installed"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror "$src/examples/l2_norm.c" $flags -lm -o "$tmp/l2_norm"
LD_LIBRARY_PATH=$(dirname "$soname") "$tmp/l2_norm" 2000000
echo "standalone client built with: cc l2_norm.c $flags"
