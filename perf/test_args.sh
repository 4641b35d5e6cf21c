#!/bin/sh
# test_args.sh PRANGE_BENCH — the bench refuses what it cannot do (exit 2 and a message
# naming the problem) and writes JSON that parses, with per-rep samples, the machine
# fingerprint, and null where a percentile has too few calls behind it.
set -eu
bench=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
refuse() { # refuse PATTERN ARGS...: exit 2 and PATTERN on stderr
  pat=$1; shift
  rc=0; "$bench" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ $rc -eq 2 ] || fail "prange-bench $* exited $rc, expected 2"
  grep -q -- "$pat" "$tmp/err" || { cat "$tmp/err"; fail "prange-bench $*: no message matching '$pat'"; }
}
refuse "unknown kernel 'tirad'" --kernels tirad
refuse "unknown kernel 'x'" --kernels sum,x
refuse "unknown variant 'foo'" --variants foo
refuse "empty --kernels" --kernels ""
# TBB's variants exist only where the build found oneTBB (perf/meson.build): either way
# the bench refuses, with the reason that applies.
if "$bench" --help | grep -q "tbb-det"; then
  refuse "measures nothing" --kernels dot --variants tbb-det
else
  refuse "unknown variant 'tbb-det'" --kernels dot --variants tbb-det
fi
refuse "--reps wants a whole number" --reps abc
refuse "--reps wants a whole number" --reps 2.5
refuse "--nmax wants a whole number" --nmax 1e6x
refuse "bad --sizes" --sizes 10,abc
refuse "unknown argument" --bogus
refuse "missing value" --reps
PERF_BENCH_SLOWDOWN=nope refuse "PERF_BENCH_SLOWDOWN wants" --dry-run
PERF_BENCH_SLOWDOWN=tirad:2 refuse "unknown" --dry-run
"$bench" --help | grep -q "^usage: prange-bench" || fail "--help prints no usage"
"$bench" --help | grep -q "kernels:.* triad" || fail "--help lists no kernels"
"$bench" --kernels sum,triad --sizes 16,200000 --reps 5 --json "$tmp/r.json" >"$tmp/out" 2>"$tmp/err" || fail "small run"
grep -q '^\[1/4\] sizes triad n=16 threads=[0-9]* \.\.\. ETA' "$tmp/err" || { cat "$tmp/err"; fail "no progress line"; }
python3 -m json.tool "$tmp/r.json" >/dev/null || fail "the JSON does not parse"
python3 - "$tmp/r.json" <<'PY' || fail "JSON content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 2 and set(d["fingerprint"]) == {"cpu", "cpus", "memory_gib", "kernel_release"}, d["fingerprint"]
assert "hostname" not in json.dumps(d["fingerprint"])
# libprange's configuration at the start and after the run, with the fork-join figure
for k in (d["meta"]["config"], d["config_end"]):
    assert k.startswith("libprange ") and "fork-join:" in k, k[:200]
for r in d["rows"]:
    assert len(r["reps_s"]) == 5 and all(x > 0 for x in r["reps_s"]), r
    assert r["dist"] in ("per-call", "batch-mean"), r
    if r["calls"] < 100:
        assert r["p99_s"] is None, r        # no p99 from fewer than 100 calls
    if r["calls"] < 10:
        assert r["p90_s"] is None, r
# one timing mode for every variant of a row (TBB's run as a group of their own)
modes = {}
for r in d["rows"]:
    if not r["variant"].startswith("tbb"):
        modes.setdefault((r["phase"], r["kernel"], r["threads"], r["n"]), set()).add(r["dist"])
assert all(len(m) == 1 for m in modes.values()), modes
dists = {r["dist"] for r in d["rows"]}
assert dists == {"per-call", "batch-mean"}, dists  # 16 elements: tens of ns per call (even under ASan); 200000: tens of us
PY
# The overhead rows put a serial variant of nanoseconds beside fork-joins of about 1 us (more
# under sanitizers and on a loaded machine): a row whose variants straddle the per-call
# threshold must still time them all one way.
"$bench" --kernels overhead --reps 3 --json "$tmp/o.json" >"$tmp/out" 2>"$tmp/err" || fail "overhead run"
python3 - "$tmp/o.json" <<'PY' || fail "overhead rows timed two ways"
import json, sys
modes = {}
for r in json.load(open(sys.argv[1]))["rows"]:
    modes.setdefault((r["kernel"], r["n"]), {})[r["variant"]] = r["dist"]
assert modes and all(len(set(m.values())) == 1 for m in modes.values()), modes
PY
echo "prange-bench: bad arguments exit 2 with a message; JSON parses, has reps, fingerprint, nulls"
