#!/bin/sh
# abi.sh BASELINE LIB — the built shared library keeps the ABI recorded in
# BASELINE (abi/libprange.so.abi, abidw of the 0.2 library): libabigail's abidiff must
# find no change to what the baseline exports (no removed function, no changed signature
# or type layout). Added functions are compatible and ignored (--no-added-syms). Refresh the baseline only when a release breaks the
# ABI on purpose (see CHANGELOG.md and docs/design.md, "ABI baseline").
set -u
baseline=$1; lib=$2
if ! command -v abidiff >/dev/null 2>&1; then
  echo "abidiff not found (Debian package abigail-tools): ABI check skipped"
  exit 77 # meson: skipped
fi
abidiff --no-show-locs --no-added-syms "$baseline" "$lib"
rc=$?
# abidiff's status is a bit field: 1 error, 2 usage error, 4 ABI change, 8 incompatible
# change. A struct's layout change is only "4", and breaks every client all the same.
if [ $rc -ne 0 ]; then
  echo "abi: the library's ABI differs from $baseline (abidiff status $rc); see above"
  exit 1
fi
echo "abi: compatible with $(basename "$baseline") (additions aside)"
