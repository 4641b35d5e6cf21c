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
refuse "measures nothing" --kernels dot --variants tbb-det
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
for r in d["rows"]:
    assert len(r["reps_s"]) == 5 and all(x > 0 for x in r["reps_s"]), r
    assert r["dist"] in ("per-call", "batch-mean"), r
    if r["calls"] < 100:
        assert r["p99_s"] is None, r        # no p99 from fewer than 100 calls
    if r["calls"] < 10:
        assert r["p90_s"] is None, r
dists = {r["dist"] for r in d["rows"]}
assert dists == {"per-call", "batch-mean"}, dists  # 16 elements: tens of ns per call (even under ASan); 200000: tens of us
PY
echo "prange-bench: bad arguments exit 2 with a message; JSON parses, has reps, fingerprint, nulls"
