#!/bin/sh
# packaging.sh CC SOURCE_ROOT — libprange as its users get it (issue 19), from the source tree
# into scratch directories, with the compiler CC:
#  1. `meson setup && meson install` with the test framework hidden (PKG_CONFIG_LIBDIR holding
#     only hwloc's .pc), Meson's defaults (a shared library, warnings not errors), then a
#     pkg-config client and a CMake client (find_package(prange 0.2 REQUIRED), prange::prange);
#  2. a static-only install (-Ddefault_library=static), then a `pkg-config --static` client
#     (one OpenMP flag in Libs.private) and the CMake client again, both linked statically;
#  3. a Meson parent project with libprange as a subproject: dependency('prange') found through
#     the override, none of libprange's tests, examples or benchmarks, the parent's werror
#     (off) and default_library (static) in force, and a static link.
# Each client is tests/packaging/client.c, which checks its own results.
set -eu
mpi_note=""
cc=$1; src=$2
command -v cmake >/dev/null || { echo "packaging: cmake is not installed (tests/run installs it): skipped"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "packaging: $*"; exit 1; }
# run LOG COMMAND...: quiet unless it fails.
run() { log=$1; shift; "$@" >"$log" 2>&1 || { tail -n 40 "$log"; fail "failed: $*"; }; }
# needs_prange BINARY: whether it loads libprange.so at run time.
needs_prange() { readelf -d "$1" | grep NEEDED | grep -q libprange; }
cp -r "$src/tests/packaging" "$tmp/client"
mkdir "$tmp/pc"
ln -s "$(pkg-config --variable=pcfiledir hwloc)/hwloc.pc" "$tmp/pc/hwloc.pc"
export CC="$cc"

# install KIND [meson options...]: configure, build and install into $tmp/KIND with Criterion hidden.
install() {
  kind=$1; shift
  run "$tmp/setup-$kind.log" env PKG_CONFIG_LIBDIR="$tmp/pc" PKG_CONFIG_PATH= meson setup "$tmp/build-$kind" "$src" --prefix="$tmp/$kind" "$@"
  grep -q -e 'criterion found: NO' -e 'criterion skipped' "$tmp/setup-$kind.log" ||
    fail "Criterion was not hidden from the $kind build"
  run "$tmp/install-$kind.log" meson install -C "$tmp/build-$kind"
  export PKG_CONFIG_PATH
  PKG_CONFIG_PATH=$(dirname "$(find "$tmp/$kind" -name prange.pc)")
}

# cmake_client KIND: configure and build the CMake client against $tmp/KIND, run it.
cmake_client() {
  run "$tmp/cmake-$1.log" cmake -S "$tmp/client/cmake" -B "$tmp/cmake-$1" -DCMAKE_PREFIX_PATH="$tmp/$1" -DCMAKE_BUILD_TYPE=Release
  run "$tmp/cmake-build-$1.log" cmake --build "$tmp/cmake-$1"
  run "$tmp/cmake-run-$1.log" "$tmp/cmake-$1/app"   # the shared one by its build RPATH
}

# 1. Meson's defaults, as the README's two commands.
install shared
flags=$(pkg-config --cflags --libs prange)
run "$tmp/pc-shared.log" "$cc" -std=c11 -Wall -Wextra -Werror "$tmp/client/client.c" $flags -o "$tmp/pc-shared"
run "$tmp/pc-shared-run.log" env LD_LIBRARY_PATH="$(pkg-config --variable=libdir prange)" "$tmp/pc-shared"
needs_prange "$tmp/pc-shared" || fail "the pkg-config client did not link libprange.so"
cmake_client shared
# prange_USE_STATIC_LIBS where only the shared library is installed: not found, and says why.
! cmake -S "$tmp/client/cmake" -B "$tmp/cmake-nostatic" -DCMAKE_PREFIX_PATH="$tmp/shared" -Dprange_USE_STATIC_LIBS=ON \
  >"$tmp/cmake-nostatic.log" 2>&1 || fail "prange_USE_STATIC_LIBS found a static library in a shared-only prefix"
grep -q "no static libprange is installed" "$tmp/cmake-nostatic.log" || { cat "$tmp/cmake-nostatic.log"; fail "no reason given"; }
needs_prange "$tmp/cmake-shared/app" || fail "the CMake client did not link libprange.so"
[ -z "$(find "$tmp/shared" -name 'libprange.a')" ] || fail "default_library=shared installed libprange.a"
# libprange-mpi's CMake package, where MPI was found: find_package(prange-mpi 0.2) brings
# prange::prange and MPI::MPI_C; the client runs on 2 ranks.
if [ -n "$(find "$tmp/shared" -name 'prange-mpiConfig.cmake')" ] && command -v mpirun >/dev/null; then
  run "$tmp/cmake-mpi.log" cmake -S "$tmp/client/cmake-mpi" -B "$tmp/cmake-mpi" -DCMAKE_PREFIX_PATH="$tmp/shared" -DCMAKE_BUILD_TYPE=Release
  run "$tmp/cmake-mpi-build.log" cmake --build "$tmp/cmake-mpi"
  # libprange-mpi finds libprange by the library path (an installed library carries no RPATH).
  libdir=$(dirname "$(find "$tmp/shared" -name 'libprange-mpi.so*' | head -n 1)")
  run "$tmp/cmake-mpi-run.log" env OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
    OMPI_MCA_oob_tcp_if_include=lo OMP_WAIT_POLICY=passive LD_LIBRARY_PATH="$libdir" \
    timeout 120 mpirun --allow-run-as-root --oversubscribe --bind-to none -x LD_LIBRARY_PATH -np 2 "$tmp/cmake-mpi/app_mpi"
  mpi_note=", the libprange-mpi CMake client on 2 ranks"
fi

# 2. The static library alone.
install static -Ddefault_library=static -Dexamples=disabled -Dperf=disabled
[ -z "$(find "$tmp/static" -name 'libprange.so*')" ] || fail "default_library=static installed libprange.so"
flags=$(pkg-config --static --cflags --libs prange)
[ "$(printf '%s\n' $flags | grep -c -e '-fopenmp')" = 1 ] || fail "not one OpenMP flag in: $flags"
run "$tmp/pc-static.log" "$cc" -std=c11 -Wall -Wextra -Werror "$tmp/client/client.c" $flags -o "$tmp/pc-static"
run "$tmp/pc-static-run.log" "$tmp/pc-static"
cmake_client static
! needs_prange "$tmp/cmake-static/app" || fail "the static CMake client loads libprange.so"
# Its compile lines carry no -fopenmp (the OpenMP runtime is a link requirement only).
! grep -r -l -e '-fopenmp' "$tmp/cmake-static/CMakeFiles/app.dir/flags.make" >/dev/null ||
  fail "the CMake client is compiled with -fopenmp"

# 3. A Meson parent project, default_library=static.
mkdir "$tmp/client/meson/subprojects"
ln -s "$src" "$tmp/client/meson/subprojects/libprange"
run "$tmp/parent-setup.log" meson setup "$tmp/parent" "$tmp/client/meson" -Ddefault_library=static --wrap-mode=forcefallback
grep -q "Dependency prange found: YES .*(overridden)" "$tmp/parent-setup.log" ||
  fail "dependency('prange') was not resolved by the override"
tests=$(meson test -C "$tmp/parent" --list --no-rebuild 2>/dev/null)
[ "$tests" = app ] || fail "the parent's test list is not just its own test: $tests"
# The library's own parts only: the internal archive and the per-ISA kernel copies in it.
targets=$(meson introspect --targets "$tmp/parent" | python3 -c 'import json, sys; print(" ".join(sorted(t["name"] for t in json.load(sys.stdin) if not t["name"].startswith("prange_kern_"))))')
[ "$targets" = "app prange prange-info prange_internal" ] || fail "the parent builds more than libprange: $targets"
# The parent's werror and default_library reach libprange (its project() forces neither).
opts=$(meson introspect --buildoptions "$tmp/parent" | python3 -c 'import json, sys
print(" ".join(sorted("%s=%s" % (o["name"], o["value"]) for o in json.load(sys.stdin)
                      if o["name"] in ("libprange:werror", "libprange:default_library"))))')
[ "$opts" = "libprange:default_library=static libprange:werror=False" ] ||
  fail "libprange's options in the parent: $opts"
run "$tmp/parent-test.log" meson test -C "$tmp/parent"
! needs_prange "$tmp/parent/app" || fail "default_library=static linked libprange.so"
echo "packaging: pkg-config, CMake and Meson subproject clients built and ran (shared and static, $cc)${mpi_note:-}"
