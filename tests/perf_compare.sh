#!/bin/sh
# perf_compare.sh SOURCE_ROOT — the perf gate works: a run compared with itself passes,
# a run whose libprange times tripled fails, a run with a wrong result fails.
set -eu
src=$1
base=$src/perf/baseline/quick-2core.json
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 - "$base" "$tmp" <<'PY'
import json, sys
base, tmp = sys.argv[1], sys.argv[2]
d = json.load(open(base))
slow = json.loads(json.dumps(d))
for r in slow["rows"]:
    if r["variant"].startswith("prange") and r["n"] >= 4096:
        r["median_s"] *= 3
json.dump(slow, open(tmp + "/slow.json", "w"))
wrong = json.loads(json.dumps(d))
wrong["wrong_results"] = 1
json.dump(wrong, open(tmp + "/wrong.json", "w"))
PY
"$src/perf/compare" "$base" "$base" --tol 1.0 >/dev/null || { echo "FAIL: a run compared with itself regressed"; exit 1; }
if "$src/perf/compare" "$base" "$tmp/slow.json" --tol 1.0 >/dev/null; then echo "FAIL: 3x slower libprange passed the gate"; exit 1; fi
if "$src/perf/compare" "$base" "$tmp/wrong.json" --tol 1.0 >/dev/null; then echo "FAIL: a wrong result passed the gate"; exit 1; fi
python3 "$src/perf/report.py" summary "$base" >/dev/null || { echo "FAIL: summary of the baseline"; exit 1; }
echo "perf gate: identical passes, 3x slower fails, wrong result fails"
