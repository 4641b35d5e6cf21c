#!/bin/sh
# profile.sh PROFILE_SITES PRANGE_INFO — PRANGE_PROFILE as a user sees it: the JSON written
# at exit parses (python3 -m json.tool) and names exactly the four sites of profile_sites.c
# with exact counts and p50s in the order of their costs (no absolute times: the machine
# may be loaded); PRANGE_PROFILE=1 prints the same sites as a table on stderr; and
# prange-info --json parses and holds every field of the text form.
set -u
prog=$1; info=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
PRANGE_PROFILE="json:$tmp/p.json" "$prog" >/dev/null || { echo "FAIL profile_sites exited $?"; fail=1; }
python3 -m json.tool "$tmp/p.json" >/dev/null || { echo "FAIL the profile is not JSON:"; cat "$tmp/p.json"; fail=1; }
python3 - "$tmp/p.json" <<'PY' || fail=1
import json, sys
sites = {s["site"]: s for s in json.load(open(sys.argv[1]))["sites"]}
want = {"cheap": 300, "medium": 200, "dear": 30}
other = [n for n in sites if n not in want]
ok = len(sites) == 4 and len(other) == 1 and all(n in sites and sites[n]["calls"] == c for n, c in want.items())
# The unlabelled body: its symbol, or module+offset (a static function of an executable).
ok = ok and sites[other[0]]["calls"] == 100 and other[0].startswith(("unlabelled", "profile_sites+0x"))
ok = ok and all(s["kind"] == "loop" and s["inline"] + s["parallel"] == s["calls"] for s in sites.values())
ok = ok and sites["cheap"]["p50_ns"] < sites["medium"]["p50_ns"] < sites["dear"]["p50_ns"]
ok = ok and all(s["p50_ns"] <= s["p90_ns"] <= s["p99_ns"] <= s["max_ns"] for s in sites.values())
if not ok:
    print("FAIL the profile's sites, counts or p50 order:")
    for n, s in sites.items():
        print(" ", n, s)
    sys.exit(1)
PY
err=$(PRANGE_PROFILE=1 "$prog" 2>&1 >/dev/null)
for site in cheap medium dear; do
  printf '%s\n' "$err" | grep -q "^$site  *loop  *[0-9]" || { echo "FAIL PRANGE_PROFILE=1 has no table line for $site:"; printf '%s\n' "$err"; fail=1; }
done
printf '%s\n' "$err" | grep -q '^prange profile: 4 sites, 630 calls' || { echo "FAIL the table's header:"; printf '%s\n' "$err"; fail=1; }
# prange-info --json: parses, and every "key:" of the text form is a key with as many items.
"$info" >"$tmp/info.txt" && "$info" --json >"$tmp/info.json" || { echo "FAIL prange-info"; fail=1; }
python3 - "$tmp/info.txt" "$tmp/info.json" <<'PY' || fail=1
import json, re, sys
text = open(sys.argv[1]).read().splitlines()
doc = json.load(open(sys.argv[2]))
missing, key = [], None
for i, line in enumerate(text):
    if i == 0:
        key = "libprange"
        if doc.get(key) != line.split(" ", 1)[1]: missing.append(line)
        continue
    if line.startswith(" "):
        if key is None or line.strip() == "": missing.append(line); continue
        items = doc.get(key)
        name = line.split()[0]
        if not ((isinstance(items, dict) and name in items) or (isinstance(items, list) and line.strip() in items)):
            missing.append(line)
        continue
    m = re.match(r"([^:]+):\s*(.*)$", line)
    if not m or m.group(1) not in doc: missing.append(line); key = None; continue
    key = m.group(1)
    if m.group(2) and doc[key] != m.group(2): missing.append(line)
for need in ("cpu", "kernel", "thp", "omp-proc-bind", "omp-places", "omp-wait-policy", "gomp-spincount", "binding", "environment"):
    if need not in doc: missing.append(need)
if missing:
    print("FAIL prange-info --json lacks fields of the text form:", *missing, sep="\n  ")
    sys.exit(1)
PY
[ $fail -eq 0 ] && echo "profile: four sites with exact counts and ordered p50s; JSON and table; prange-info --json complete"
exit $fail
