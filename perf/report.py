#!/usr/bin/env python3
"""report.py — read prange-bench JSON artifacts (docs/benchmarking.md).

  report.py summary RUN.json [--no-gate] one line per target, then the within-run gate
  report.py check RUN.json [--gross G]   the within-run gate: exit 1 where libprange is
                                         statistically clearly > G x slower than every
                                         reference of the same run (default 2.0)
  report.py compare BASE.json NEW.json [--effect E] [--tol E] [--gross G]
                                         the baseline gate (and the within-run gate on NEW):
                                         exit 1 on a regression, 0 on pass or "not comparable"
  report.py baseline OUT.json RUN.json...  a baseline from several runs (the gate compares
                                         with the run where libprange did worst)
  report.py plot RUN.json OUT FMT        a gnuplot script of the sweep (FMT png or svg)
  report.py plot-scaling RUN.json OUT FMT  a gnuplot script of the thread scaling at
                                         production sizes (a run with --threads T,T,...)
  report.py merge MAIN.json PEER.json SUFFIX [MAIN.tsv PEER.tsv]
                                         add a peer run's rows (variants renamed NAME-SUFFIX)
  report.py tables RUN.json              the run as Markdown tables (docs/performance.md):
                                         production rows, the size sweep, the overhead rows
  report.py scaling RUN.json...          the thread-scaling table in Markdown: speed-up over
                                         serial per kernel and team size, libprange and the
                                         best OpenMP variant (one run with --threads T,T,...
                                         or one run per team size)
  report.py profile PROFILE.json [OUT FMT]
                                         a PRANGE_PROFILE=json:PATH profile (docs/profiling.md):
                                         one line per site by total time; with OUT and FMT
                                         (png or svg), a gnuplot script of the sites' latencies

ratio: a libprange variant's time over a reference's time measured in the same run, as the
median over repetitions of the paired per-repetition ratio (rep r of every variant was
measured at about the same moment). The gate's statistic is a ratio of these ratios
(new run over baseline) with a bootstrap confidence interval over the repetitions.
"""
import json
import math
import random
import sys
from collections import defaultdict

BANDWIDTH_BOUND = ("copy", "scale", "add", "triad", "sum", "dot", "nrm2")
# Two traffic classes with their own limits: kernels that write an array pay for the
# write-allocate (the STREAM byte counts leave it out), read-only ones do not.
READ_WRITE = ("copy", "scale", "add", "triad")
READ_ONLY = ("sum", "dot", "nrm2")
# Not gated: glibc serves a freed large block again to the next calloc without page faults,
# while prange_alloc maps fresh memory every call, so the ratio swings 3x between runs.
UNGATED = ("alloc",)
# Targets of the coarse kernels (perf/kernels/coarse.c, issue #14): libprange over the
# row's OpenMP loop, and what the line calls it.
COARSE = {"first-call": (1.15, "first call"), "coarse-reduce": (1.10, "coarse reduce")}
# What makes two runs comparable (perf/output.c writes it; no host name).
FINGERPRINT = ("cpu", "cpus", "memory_gib", "kernel_release")

SEED = 20261127      # fixed: a verdict is a function of the data alone
BOOT = 2000          # bootstrap resamples
ALPHA = 0.01         # one-sided: a check fails only when its 99% lower bound clears the bar
EFFECT_QUICK = 0.35  # minimum effect (ratio of ratios > 1.35) for the quick run
EFFECT_FULL = 0.20   # and for the full run (more reps, longer batches)
GROSS = 2.0          # within-run gate: libprange >= 2x slower than every reference
SLACK_S = 1e-6       # absolute slack: an excess below 1 us per call is never a regression
YARDSTICK = 0.5      # a parallel reference whose time relative to serial moved more than 1.5x
                     # between the runs (a load stall) is no yardstick for that comparison


def load(path):
    with open(path) as f:
        return json.load(f)


def groups(run):
    g = defaultdict(dict)
    for r in run["rows"]:
        g[(r["phase"], r["kernel"], r["threads"], r["n"])][r["variant"]] = r
    return g


def is_reference(v):
    """serial and the hand-written OpenMP variants of the same run (not the libomp peer,
    measured in another process, nor OpenMP driven by prange_threads_for)."""
    return v == "serial" or (v.startswith("omp") and "threads_for" not in v and not v.endswith("-libomp"))


def is_libprange(v):
    return v.startswith("prange") and not v.endswith("-libomp")


def best_ref(vs):
    refs = [r["median_s"] for v, r in vs.items() if is_reference(v) and r.get("median_s")]
    return min(refs) if refs else None


def fmt_t(s):
    if s is None:
        return "-"
    if s < 1e-6:
        return "%.0fns" % (s * 1e9)
    if s < 1e-3:
        return "%.2fus" % (s * 1e6)
    return "%.2fms" % (s * 1e3)


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def paired(p, x):
    """Per-repetition ratios p_r / x_r of two variants measured in the same repetitions."""
    a, b = p.get("reps_s") or [], x.get("reps_s") or []
    if len(a) != len(b) or len(a) < 3:
        return None
    out = [u / w for u, w in zip(a, b) if u and w and u > 0 and w > 0]
    return out if len(out) == len(a) else None


def boot(ratios, tag):
    """Bootstrap distribution of the median of the ratios, from a generator seeded by the
    check's name, so a verdict never depends on the order of the checks."""
    rng = random.Random("%d|%s" % (SEED, tag))
    n = len(ratios)
    return [median(rng.choices(ratios, k=n)) for _ in range(BOOT)]


def quantile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(q * len(s))))]


def tag_of(key, v, x):
    return "%s|%s|%d|%d|%s|%s" % (key[0], key[1], key[2], key[3], v, x)


def within_flags(run, gross):
    """Within-run gate: for every libprange row and every same-run reference X, the ratio
    R_X = median_r(p_r / X_r) with its bootstrap lower bound. A row is flagged when, against
    EVERY reference, the lower bound exceeds `gross` and libprange is more than SLACK_S
    slower per call. (A loaded machine slows the parallel references and libprange alike:
    requiring all references keeps a load burst that only the serial loop escapes from
    being called a regression.) Returns (checks, {row id: description})."""
    checks, flags = 0, {}
    for key, vs in sorted(groups(run).items()):
        if key[1] in UNGATED:
            continue
        refs = {x: r for x, r in vs.items() if is_reference(x)}
        for v, p in sorted(vs.items()):
            if not is_libprange(v):
                continue
            los = []
            for x, xr in sorted(refs.items()):
                rs = paired(p, xr)
                if rs is None:
                    continue
                lo = quantile(boot(rs, "run|" + tag_of(key, v, x)), ALPHA)
                los.append((lo, median(rs), p["median_s"] - xr["median_s"], x))
            if not los:
                continue
            checks += 1
            lo, point, _, x = min(los)
            if lo > gross and min(e for _, _, e, _ in los) > SLACK_S:
                flags[("gross",) + key + (v,)] = "%-10s %-9s n=%-8d %-13s ratio %.2f to %-12s (99%% lower bound %.2f > %.1f)" % (
                    key[0], key[1], key[3], v, point, x, lo, gross)
    return checks, flags


# ---- summary ------------------------------------------------------------------------------


def limits(run):
    """The best GB/s of any variant at production size, per traffic class."""
    best = {"rw": 0.0, "ro": 0.0}
    for r in run["rows"]:
        if r["phase"] != "production" or not r.get("gbs"):
            continue
        cls = "rw" if r["kernel"] in READ_WRITE else "ro" if r["kernel"] in READ_ONLY else None
        if cls:
            best[cls] = max(best[cls], r["gbs"])
    return best


def machine_line(run):
    fp, m = run.get("fingerprint", {}), run["meta"]
    load = "load %s -> %s" % (m.get("load_start"), run.get("load_end"))
    return "machine: %s, %s CPUs, %s GiB, Linux %s; %s; libprange %s (%s), %s, hwloc %s, tbb %s" % (
        fp.get("cpu", m.get("cpu")), fp.get("cpus", m.get("cores")), fp.get("memory_gib", "?"),
        fp.get("kernel_release", m.get("kernel")), load, m["libprange"], m["git"],
        m.get("compiler", "?").split(" (")[0], m["hwloc"], m["tbb"])


def summary(path, gross=GROSS, with_gate=True):
    run = load(path)
    g = groups(run)
    m = run["meta"]
    lines = []
    met = missed = 0

    def target(name, ok, detail):
        nonlocal met, missed
        met += ok
        missed += not ok
        lines.append("  %-50s %-5s %s" % (name, "ok" if ok else "MISS", detail))

    print("\n== summary of %s (%s run)" % (path, "quick" if m.get("quick") else "full"))
    print(machine_line(run))
    if m.get("injected_slowdown"):
        print("NOTE: PERF_BENCH_SLOWDOWN=%s was set (a test hook): libprange was slowed on purpose"
              % m["injected_slowdown"])
    if m.get("governor") not in ("performance", "unreadable", None):
        print("warning: CPU frequency governor is '%s', not 'performance': timings may drift" % m["governor"])
    print("ratio = libprange time / best median of serial and OpenMP in the same run; full tables in the files")

    # 1. never slower than the best reference, over the size sweep: one line per variant
    sweep = defaultdict(list)
    for key, vs in g.items():
        if key[0] != "sweep":
            continue
        ref = best_ref(vs)
        for v in ("prange", "prange-hint"):
            if v in vs and ref:
                t = vs[v]["median_s"]
                sweep[(key[1], key[2], v)].append((t / ref, key[3], t <= 1.10 * ref + 50e-9))
    for (k, thr, v), cells in sorted(sweep.items()):
        ok = sum(c[2] for c in cells)
        worst = max(cells)
        target("never slower (1.10x + 50ns): %s %s thr=%d" % (k, v, thr), ok == len(cells),
               "%d/%d sizes; worst ratio %.2f at n=%d" % (ok, len(cells), worst[0], worst[1]))

    # 2. bandwidth at production size, against the best of this run's traffic class
    lim = limits(run)
    for key, vs in sorted(g.items()):
        if key[0] != "production" or key[1] not in BANDWIDTH_BOUND or "prange" not in vs:
            continue
        cls = lim["rw"] if key[1] in READ_WRITE else lim["ro"]
        gbs = vs["prange"].get("gbs") or 0
        if cls > 0:
            target("bandwidth >= 95%% of the class limit: %s" % key[1], gbs >= 0.95 * cls,
                   "%.0f%% (%.1f of %.1f GB/s)" % (100 * gbs / cls, gbs, cls))

    # 3. deterministic sum vs the best OpenMP sum, at the largest size
    sums = [k for k in g if k[0] in ("production", "sizes") and k[1] == "sum" and "prange" in g[k]]
    if sums:
        vs = g[max(sums, key=lambda k: k[3])]
        omp = min((r["median_s"] for v, r in vs.items() if v.startswith("omp") and is_reference(v)), default=None)
        if omp:
            speed = omp / vs["prange"]["median_s"]
            target("deterministic sum >= 0.95x best OpenMP sum", speed >= 0.95, "%.2fx its speed" % speed)

    # 4. per-call overhead (EPCC style): time minus the serial time of the same work
    for key, vs in sorted(g.items()):
        if key[0] != "overhead" or not {"serial", "omp", "prange"} <= set(vs):
            continue
        so, po, oo = vs["serial"]["median_s"], vs["prange"]["median_s"], vs["omp"]["median_s"]
        x = (po - so) / (oo - so) if oo > so else float("inf")
        target("overhead <= 1.15x libgomp's: %s thr=%d" % (key[1], key[2]), x <= 1.15,
               "libprange %s, libgomp %s" % (fmt_t(po - so), fmt_t(oo - so)))

    # 5. few expensive iterations (issue #14): each libprange variant against the OpenMP
    # loop of its row, as the median of the paired per-rep ratios. OpenMP's speed-up over
    # serial is shown: near 1x (no free core) the row says nothing about the decision.
    for key, vs in sorted(g.items()):
        bar = COARSE.get(key[1])
        if key[0] not in ("production", "sizes") or not bar or not {"serial", "omp"} <= set(vs):
            continue
        omp = vs["omp"]["median_s"]
        for v in sorted(x for x in vs if is_libprange(x)):
            rs = paired(vs[v], vs["omp"])
            x = median(rs) if rs else vs[v]["median_s"] / omp
            # Every call of a "-first" variant is a first call: first-call's target.
            b = COARSE["first-call"] if v.endswith("-first") else bar
            target("%s <= %.2fx OpenMP: %s thr=%d" % (b[1], b[0], v, key[2]), x <= b[0],
                   "%.2fx (%s vs %s, n=%d; OpenMP %.2fx serial)"
                   % (x, fmt_t(vs[v]["median_s"]), fmt_t(omp), key[3], vs["serial"]["median_s"] / omp))

    if not lines:
        print("no target applies to this selection (targets need prange rows of the sweep, "
              "production sizes, overheads or the coarse kernels)")
    for line in lines[:20]:
        print(line)
    if len(lines) > 20:
        print("  ... %d more in the JSON" % (len(lines) - 20))
    print("targets: %d met, %d missed (goals on a quiet machine; the gate below decides pass/fail)" % (met, missed))
    return gate(None, path, [], None, gross, None) if with_gate else 0


# ---- compare ------------------------------------------------------------------------------


def not_comparable(base, new):
    """The reason two artifacts cannot be compared, or None."""
    if base.get("schema", 1) < 2 or "fingerprint" not in base:
        return "the baseline is schema 1 (no fingerprint, no per-repetition samples): regenerate it"
    if "fingerprint" not in new:
        return "the new run has no fingerprint"
    diff = ["%s: base %s, new %s" % (k, base["fingerprint"].get(k), new["fingerprint"].get(k))
            for k in FINGERPRINT if base["fingerprint"].get(k) != new["fingerprint"].get(k)]
    if diff:
        return "different machines (" + "; ".join(diff) + ")"
    if bool(base["meta"].get("quick")) != bool(new["meta"].get("quick")):
        return "a quick run and a full run"
    return None


def base_runs(row):
    """A baseline row's per-run rep samples (several with report.py baseline, else one)."""
    return [r for r in row.get("baseline_runs", []) if r] or [row.get("reps_s") or []]


def baseline_flags(base, new, effect):
    """Rows of NEW that regressed against BASE. For every libprange row and every reference
    X present in both runs, Q_X = R_X(new) / R_X(base), with a bootstrap distribution from
    both runs' repetitions. A row is flagged when libprange lost ground against EVERY valid
    reference, clearly (the 99% lower bound of each Q_X above 1 + effect) and by more than
    SLACK_S per call. Returns (checks, {row id: description}, missing rows).

    Serial is always a valid reference. A parallel reference X is valid against a baseline
    run only if its own time relative to serial moved less than YARDSTICK between that run
    and the new one: a reference that stalled for scheduler time slices in one run and not
    in the other measures the load, not libprange. Among the valid baseline runs, the one
    where libprange did worst against X is used: the range unchanged code showed there.

    An overhead row (a team forced on a few iterations) measures the fork-join machinery,
    which serial does not have: when none of its parallel references is valid (the
    machine's cross-core cost itself moved, as this 2-vCPU guest's does for minutes at a
    time: libgomp's own fork-join 0.6 -> 1.4 us), serial alone cannot judge it and the row
    is left to the within-run gate."""
    gb, gn = groups(base), groups(new)
    checks, flags, missing = 0, {}, 0
    for key, vs in sorted(gb.items()):
        if key not in gn:
            missing += 1
            continue
        if key[1] in UNGATED or "serial" not in vs or "serial" not in gn[key]:
            continue
        nvs = gn[key]
        serial_runs = base_runs(vs["serial"])
        for v in sorted(vs):
            if not is_libprange(v) or v not in nvs:
                continue
            qs = []
            for x in sorted(vs):
                if not is_reference(x) or x not in nvs:
                    continue
                rn = paired(nvs[v], nvs[x])
                if rn is None:
                    continue
                drift_new = median(paired(nvs[x], nvs["serial"]) or [1])
                cands = []
                for pr, xr, sr in zip(base_runs(vs[v]), base_runs(vs[x]), serial_runs):
                    rb = paired({"reps_s": pr}, {"reps_s": xr})
                    ys = paired({"reps_s": xr}, {"reps_s": sr})
                    if rb is None or ys is None:
                        continue
                    drift = drift_new / median(ys)
                    if x == "serial" or 1 / (1 + YARDSTICK) <= drift <= 1 + YARDSTICK:
                        cands.append(rb)
                if not cands:
                    continue
                rb = max(cands, key=median)
                t = tag_of(key, v, x)
                db, dn = boot(rb, "base|" + t), boot(rn, "new|" + t)
                q = sorted(a / b for a, b in zip(dn, db))
                excess = nvs[v]["median_s"] - nvs[x]["median_s"] * median(rb)
                qs.append((q[int(ALPHA * len(q))], median(rn) / median(rb), excess, x))
            if not qs or (key[0] == "overhead" and all(x == "serial" for _, _, _, x in qs)):
                continue
            checks += 1
            lo, point, _, x = min(qs)
            if lo > 1 + effect and min(e for _, _, e, _ in qs) > SLACK_S:
                flags[("baseline",) + key + (v,)] = "%-10s %-9s n=%-8d %-13s change %.2fx vs %-12s (99%% lower bound %.2f)" % (
                    key[0], key[1], key[3], v, point, x, lo)
    return checks, flags, missing


def make_baseline(out_path, run_paths):
    """A baseline from several runs of the same code on the same machine: the first run's
    artifact, each row carrying every run's per-rep samples ("baseline_runs"), so the gate
    knows the range of unchanged code (load regimes, per-process calibration)."""
    runs = [load(p) for p in run_paths]
    first = runs[0]
    for p, r in zip(run_paths[1:], runs[1:]):
        why = not_comparable(first, r)
        if why:
            print("report.py baseline: %s and %s: %s" % (run_paths[0], p, why), file=sys.stderr)
            return 2
    index = [{(r["phase"], r["kernel"], r["threads"], r["n"], r["variant"]): r for r in run["rows"]} for run in runs]
    for r in first["rows"]:
        k = (r["phase"], r["kernel"], r["threads"], r["n"], r["variant"])
        r["baseline_runs"] = [ix[k]["reps_s"] for ix in index if k in ix and ix[k].get("reps_s")]
    first["meta"]["baseline_of"] = [{"git": r["meta"].get("git"), "date": r["meta"].get("date"),
                                     "load_start": r["meta"].get("load_start"), "load_end": r.get("load_end")}
                                    for r in runs]
    with open(out_path, "w") as f:
        json.dump(first, f, indent=0, allow_nan=False)
    print("baseline %s: %d runs, %d rows" % (out_path, len(runs), len(first["rows"])))
    return 0


def gate(base_path, new_path, confirm_paths, effect, gross, flagged_out):
    """The perf gate: the within-run gate on NEW and, with a comparable baseline, the
    baseline gate. With confirmation runs (fresh processes measuring the flagged kernels
    again), a row fails only when every run flags it: a load burst or a one-process fluke
    does not repeat, a real regression does. flagged_out gets the kernels to re-measure."""
    new = load(new_path)
    quick = new["meta"].get("quick")
    if effect is None:
        effect = EFFECT_QUICK if quick else EFFECT_FULL
    base, why = None, None
    if base_path:
        base = load(base_path)
        print("\n== perf gate: %s against %s" % (new_path, base_path))
        print("base " + machine_line(base))
        why = not_comparable(base, new)
    else:
        print("\n== perf gate (within the run): %s" % new_path)

    def flags_of(run):
        checks, flags = within_flags(run, gross)
        missing = 0
        if base is not None and not why:
            c, f, missing = baseline_flags(base, run, effect)
            checks += c
            flags.update(f)
        return checks, flags, missing

    checks, flags, missing = flags_of(new)
    confirmed = dict(flags)
    runs = [new_path] + list(confirm_paths)
    wrong = sum(load(p).get("wrong_results", 0) for p in runs)
    every = [flags] + [flags_of(load(path))[1] for path in confirm_paths]
    if confirm_paths:
        # Confirmed: a kernel flagged in every run, at whatever sizes. libprange chooses serial
        # or parallel per process (calibration, learned costs), so on a small loaded machine a
        # real slowdown shows at different sizes in different processes, while a fluke rarely
        # repeats three times in a row.
        kernels = set.intersection(*({k[2] for k in fl} for fl in every))
        confirmed = {k: v for k, v in flags.items() if k[2] in kernels}
    print("a row fails when libprange's ratio to every reference of its run is > %.1f, or its change (ratio now / "
          "ratio in the baseline) is > %.2f against every reference; 99%% bootstrap lower bounds, > %s per call"
          % (gross, 1 + effect, fmt_t(SLACK_S)))
    for k, line in sorted(flags.items())[:6]:
        state = ("REGRESSED" if k in confirmed else "noise    ") if confirm_paths else "flagged  "
        print("  %s %-8s %s" % (state, k[0], line))
    if len(flags) > 6:
        print("  ... %d more flagged rows (all of them: perf/report.py compare|check ... on the artifacts)" % (len(flags) - 6))
    if flagged_out:
        kernels = sorted({"overhead" if k[2].startswith("ovh-") else k[2] for k in flags})
        with open(flagged_out, "w") as f:
            f.write(",".join(kernels) + ("\n" if kernels else ""))
    judged = "within-run and against the baseline" if base is not None and not why else "within the run only"
    if why:
        print("baseline NOT COMPARABLE: %s" % why)
    elif base is not None and checks == 0:
        print("perf gate: FAIL: nothing to compare (%d baseline rows absent from the new run)" % missing)
        return 1
    if wrong:
        verdict = "FAIL (%d wrong results)" % wrong
    elif not flags:
        verdict = "PASS"
    elif not confirm_paths:
        verdict = "FAIL (%d rows flagged, not re-measured)" % len(flags)
    else:
        verdict = ("FAIL (%s flagged in all %d runs)" % (",".join(sorted({k[2] for k in confirmed})), len(runs))
                   if confirmed else "PASS (%d flagged rows, their kernels not flagged again in %d fresh runs: noise)"
                   % (len(flags), len(confirm_paths)))
    if why:
        verdict = "NOT COMPARABLE, within-run " + verdict
    print("perf gate: %s; %d checks %s, %d baseline rows absent (effect %.2f, gross %.1f, %d resamples, seed %d)"
          % (verdict, checks, judged, missing, effect, gross, BOOT, SEED))
    return 0 if verdict.startswith("PASS") or verdict == "NOT COMPARABLE, within-run PASS" else 1


def merge(main_path, peer_path, suffix, main_tsv=None, peer_tsv=None):
    """Append a peer run's non-serial rows to the main artifact, variants renamed
    NAME-SUFFIX (the LLVM libomp build of the same OpenMP source)."""
    run, peer = load(main_path), load(peer_path)
    added = 0
    for r in peer["rows"]:
        if r["variant"] == "serial":
            continue
        r = dict(r)
        r["variant"] = "%s-%s" % (r["variant"], suffix)
        r["peer_process"] = True
        run["rows"].append(r)
        added += 1
    run["meta"]["peer_" + suffix] = {"compiler": peer["meta"].get("compiler"), "cflags": peer["meta"].get("cflags")}
    with open(main_path, "w") as f:
        json.dump(run, f, indent=0, allow_nan=False)
    if main_tsv and peer_tsv:
        with open(peer_tsv) as f, open(main_tsv, "a") as g:
            for line in f.read().splitlines()[1:]:
                cols = line.split("\t")
                if cols[1] != "serial":
                    cols[1] += "-" + suffix
                    g.write("\t".join(cols) + "\n")
    print("merged %d %s rows from %s" % (added, suffix, peer_path))
    return 0


# Colours: libprange strong and thick, the references in greys and muted tones.
STYLE = {"prange": "lw 3 lc rgb '#c0002a'", "prange-hint": "lw 2 dt 2 lc rgb '#c0002a'",
         "prange-map": "lw 2 dt 3 lc rgb '#7a0019'", "prange-reduce": "lw 2 dt 4 lc rgb '#e0608a'",
         "prange+alloc": "lw 2 dt 5 lc rgb '#ff6f00'", "serial": "lw 2 lc rgb '#222222'",
         "omp": "lw 2 lc rgb '#1f5fbf'", "omp-multiacc": "lw 2 dt 2 lc rgb '#1f5fbf'",
         "omp-libomp": "lw 1 lc rgb '#7fa8e0'", "omp-multiacc-libomp": "lw 1 dt 2 lc rgb '#7fa8e0'",
         "tbb": "lw 1 lc rgb '#2a9d3a'", "tbb-det": "lw 1 dt 2 lc rgb '#2a9d3a'",
         "callback": "lw 1 dt 3 lc rgb '#888888'", "omp+threads_for": "lw 1 dt 3 lc rgb '#1f5fbf'"}


def plot(path, out, fmt):
    """The size sweep: ns per element vs n, one panel per kernel, only the variants with
    data in that panel, a p10-p90 band under each line; machine, threads and commit in
    the title. Returns the gnuplot script (perf/run pipes it to gnuplot)."""
    run = load(path)
    sweep = defaultdict(lambda: defaultdict(list))
    for r in run["rows"]:
        if r["phase"] == "sweep" and r.get("median_s"):
            sweep[(r["kernel"], r["threads"])][r["variant"]].append(r)
    if not sweep:
        return None
    fp, m = run.get("fingerprint", {}), run["meta"]
    title = "libprange size sweep (lower is better): %s, %s CPUs, Linux %s; commit %s; %s" % (
        fp.get("cpu", m.get("cpu")), fp.get("cpus", "?"), fp.get("kernel_release", "?"), m.get("git"),
        "quick run" if m.get("quick") else "full run")
    panels = sorted(sweep)
    term = ("svg size %d,520 dynamic font 'sans,11'" if fmt == "svg" else "pngcairo size %d,520 font 'sans,10'") % (
        520 * len(panels))
    lines = ["set terminal " + term, "set output '%s'" % out.replace("'", ""), "set logscale xy",
             "set format x '10^{%L}'", "set xlabel 'n (elements)'", "set ylabel 'ns per element (median; band p10-p90)'",
             "set key top right font ',9'", "set grid", "set style fill transparent solid 0.15 noborder"]
    blocks = []
    for i, (k, thr) in enumerate(panels):
        for v, rows in sorted(sweep[(k, thr)].items()):
            name = "$d%d_%s" % (i, "".join(c if c.isalnum() else "_" for c in v))
            pts = []
            for r in sorted(rows, key=lambda r: r["n"]):
                n = r["n"]
                lo = r.get("p10_s") or r["median_s"]
                hi = r.get("p90_s") or r["median_s"]
                pts.append("%d %.6g %.6g %.6g" % (n, r["median_s"] / n * 1e9, lo / n * 1e9, hi / n * 1e9))
            blocks.append((name, pts))
    for name, pts in blocks:
        lines.append("%s << EOD" % name)
        lines += pts
        lines.append("EOD")
    lines.append("set multiplot layout 1,%d title \"%s\"" % (len(panels), title.replace('"', "'")))
    for i, (k, thr) in enumerate(panels):
        vs = sorted(sweep[(k, thr)], key=lambda v: (not v.startswith("prange"), v))
        plots = []
        for v in vs:
            name = "$d%d_%s" % (i, "".join(c if c.isalnum() else "_" for c in v))
            style = STYLE.get(v, "lw 1")
            colour = style[style.index("lc"):] if "lc" in style else ""
            plots.append("%s using 1:3:4 with filledcurves %s notitle" % (name, colour))
            plots.append("%s using 1:2 with linespoints %s pt 7 ps 0.5 title '%s' noenhanced" % (name, style, v))
        lines.append("set title '%s, %d threads' noenhanced" % (k, thr))
        lines.append("plot " + ", \\\n     ".join(plots))
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n"


def production_medians(rows):
    """Production medians by (kernel, n) -> variant -> threads, and the team sizes seen."""
    prod = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        if r["phase"] == "production" and r.get("median_s"):
            prod[(r["kernel"], r["n"])][r["variant"]][r["threads"]] = r["median_s"]
    return prod, sorted({t for vs in prod.values() for ts in vs.values() for t in ts})


def plot_scaling(path, out, fmt):
    """Thread scaling at production sizes, when the run measured several team sizes: speed-up
    over the serial reference of the same team-size pass (median / median) vs threads, one
    panel per kernel, libprange and the OpenMP references. None with fewer than 2 sizes."""
    run = load(path)
    prod, threads = production_medians(run["rows"])
    if len(threads) < 2 or not prod:
        return None
    fp, m = run.get("fingerprint", {}), run["meta"]
    title = "libprange thread scaling (higher is better): %s, %s CPUs, Linux %s; commit %s" % (
        fp.get("cpu", m.get("cpu")), fp.get("cpus", "?"), fp.get("kernel_release", "?"), m.get("git"))
    panels = [k for k in sorted(prod) if "serial" in prod[k]]
    cols = min(4, len(panels))
    rows_n = (len(panels) + cols - 1) // cols
    term = ("svg size %d,%d dynamic font 'sans,11'" if fmt == "svg" else "pngcairo size %d,%d font 'sans,10'") % (
        420 * cols, 360 * rows_n)
    lines = ["set terminal " + term, "set output '%s'" % out.replace("'", ""), "set xlabel 'threads'",
             "set ylabel 'speed-up over serial (median)'", "set key top left font ',9'", "set grid",
             "set logscale x 2", "set xtics (%s)" % ", ".join("'%d' %d" % (t, t) for t in threads),
             "set multiplot layout %d,%d title \"%s\"" % (rows_n, cols, title.replace('"', "'"))]
    for k, n in panels:
        vs = prod[(k, n)]
        plots, data = [], []
        for v in sorted(vs, key=lambda v: (not v.startswith("prange"), v)):
            if v == "serial" or not (is_libprange(v) or is_reference(v)):
                continue
            pts = ["%d %.6g" % (t, vs["serial"][t] / vs[v][t]) for t in threads if t in vs[v] and t in vs["serial"]]
            if len(pts) < 2:
                continue
            style = STYLE.get(v, "lw 1")
            data.append(pts)
            plots.append("'-' using 1:2 with linespoints %s pt 7 ps 0.6 title '%s' noenhanced" % (style, v))
        lines.append("set title '%s, n = %d' noenhanced" % (k, n))
        if not plots:
            lines.append("plot 1 notitle lc rgb '#999999'")
            continue
        lines.append("plot " + ", \\\n     ".join(plots))
        for pts in data:
            lines += pts
            lines.append("e")
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n"


def profile(path, out=None, fmt=None):
    """A PRANGE_PROFILE JSON file: a table by total time (share of the profiled time, calls,
    p50/p99, where parallel execution paid), or with `out` a gnuplot script: per site, the
    p50 / p90 / p99 / max per-call times on a log scale. Returns (text, exit status)."""
    with open(path) as f:
        sites = json.load(f)["sites"]
    if not sites:
        return "report.py: no sites in %s (was PRANGE_PROFILE set?)\n" % path, 1
    sites.sort(key=lambda s: -s["total_ns"])
    if out is None:
        total = sum(s["total_ns"] for s in sites) or 1
        lines = ["%-40s %-7s %6s %9s %9s %10s %10s  %s" % ("site", "kind", "time%", "calls", "parallel", "p50",
                                                           "p99", "speedup (sampled)")]
        for s in sites:
            speed = "%.2fx" % (s["serial_estimate_ns"] / s["sampled_wall_ns"]) if s.get("sampled_wall_ns") else "-"
            lines.append("%-40s %-7s %5.1f%% %9d %9d %10s %10s  %s" % (
                s["site"][:40], s["kind"], 100.0 * s["total_ns"] / total, s["calls"], s["parallel"],
                fmt_t(s["p50_ns"] * 1e-9), fmt_t(s["p99_ns"] * 1e-9), speed))
        return "\n".join(lines) + "\n", 0
    term = "svg size 900,480 dynamic font 'sans,11'" if fmt == "svg" else "pngcairo size 900,480 font 'sans,10'"
    lines = ["set terminal " + term, "set output '%s'" % out.replace("'", ""), "set logscale y",
             "set ylabel 'ns per call'", "set style data histogram", "set style histogram clustered gap 1",
             "set style fill solid 0.8 border -1", "set xtics rotate by -30 noenhanced", "set key top left",
             "set grid y", "set title 'libprange profile: per-call wall time by site'", "$d << EOD"]
    for s in sites:
        lines.append('"%s" %.6g %.6g %.6g %.6g' % (s["site"].replace('"', "'"), max(s["p50_ns"], 1),
                                                     max(s["p90_ns"], 1), max(s["p99_ns"], 1), max(s["max_ns"], 1)))
    lines += ["EOD", "plot $d using 2:xtic(1) title 'p50', '' using 3 title 'p90', '' using 4 title 'p99', "
              "'' using 5 title 'max'"]
    return "\n".join(lines) + "\n", 0


def option(argv, names, default):
    """The float after any of `names` in argv (removed from argv), or default; exit 2 on junk."""
    for name in names:
        if name in argv:
            i = argv.index(name)
            try:
                value = float(argv[i + 1])
                if not math.isfinite(value) or value < 0:
                    raise ValueError
            except (IndexError, ValueError):
                print("report.py: %s wants a non-negative number" % name, file=sys.stderr)
                sys.exit(2)
            del argv[i:i + 2]
            return value
    return default


def fmt_md(s):
    """A duration for a Markdown table: ns, µs or ms with 3 significant figures."""
    if s is None:
        return "-"
    for unit, f in (("ns", 1e9), ("µs", 1e6), ("ms", 1e3)):
        if s * f < 1000 or unit == "ms":
            v = s * f
            return ("%.0f %s" if v >= 100 else "%.3g %s") % (v, unit)


def tables(path):
    """Markdown tables of a run: what docs/performance.md shows, made from the artifact
    (so the tables say which run they come from)."""
    run = load(path)
    meta = run.get("meta", {})
    g = groups(run)
    out = ["<!-- perf/report.py tables %s: %s, %s, commit %s -->" % (
        path, meta.get("date", "?"), meta.get("cpu", "?"), meta.get("git", "?"))]
    prod = sorted(k for k in g if k[0] == "production")
    if prod:
        out += ["", "| kernel | n | serial | best OpenMP | libprange (p10-p90) | libprange / best | GB/s | other variants |",
                "|---|---|---|---|---|---|---|---|"]
        for key in sorted(prod, key=lambda k: (k[1], k[2], k[3])):
            vs = g[key]
            refs = {v: r for v, r in vs.items() if v.startswith("omp") and is_reference(v) and r.get("median_s")}
            best = min(refs.items(), key=lambda kv: kv[1]["median_s"]) if refs else None
            main_v = "prange" if "prange" in vs else next((v for v in vs if is_libprange(v)), None)
            p = vs.get(main_v) if main_v else None
            bref = best_ref(vs)
            ratio = p["median_s"] / bref if p and p.get("median_s") and bref else None
            others = ", ".join("%s %s" % (v, fmt_md(r.get("median_s"))) for v, r in sorted(vs.items())
                               if v not in ("serial", main_v) and (not best or v != best[0]))
            out.append("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                key[1], key[3], fmt_md(vs.get("serial", {}).get("median_s")),
                "%s (%s)" % (fmt_md(best[1]["median_s"]), best[0]) if best else "-",
                "%s (%s-%s)" % (fmt_md(p["median_s"]), fmt_md(p.get("p10_s")), fmt_md(p.get("p90_s"))) if p else "-",
                "%.2f" % ratio if ratio else "-",
                "%.1f" % p["gbs"] if p and p.get("gbs") else "—", others))
    sweep = defaultdict(dict)
    for k in g:
        if k[0] == "sweep":
            sweep[k[1]][k[3]] = g[k]
    for kernel in sorted(sweep):
        rows = sweep[kernel]
        variants = sorted({v for r in rows.values() for v in r}, key=lambda v: (not v == "serial", not v.startswith("omp"), v))
        out += ["", "%s (median per call; %s)" % (kernel, ", ".join(variants)), "",
                "| n | " + " | ".join(variants) + " | libprange / min(serial, OpenMP) |",
                "|---|" + "---|" * (len(variants) + 1)]
        for n in sorted(rows):
            vs = rows[n]
            bref = best_ref(vs)
            p = vs.get("prange")
            ratio = p["median_s"] / bref if p and p.get("median_s") and bref else None
            out.append("| %d | %s | %s |" % (n, " | ".join(fmt_md(vs.get(v, {}).get("median_s")) for v in variants),
                                              "%.2f" % ratio if ratio else "-"))
    ovh = sorted(k for k in g if k[0] == "overhead")
    if ovh:
        out += ["", "| overhead row | n | reference | libprange | ratio |", "|---|---|---|---|---|"]
        for key in ovh:
            vs = g[key]
            refs = [(v, r) for v, r in vs.items() if is_reference(v) and v != "serial" and r.get("median_s")]
            for v, r in sorted(vs.items()):
                if not is_libprange(v) or not r.get("median_s") or not refs:
                    continue
                rv, rr = min(refs, key=lambda kv: kv[1]["median_s"])
                out.append("| %s %s | %d | %s %s | %s | %.2f |" % (key[1], v, key[3], rv, fmt_md(rr["median_s"]),
                                                                fmt_md(r["median_s"]), r["median_s"] / rr["median_s"]))
    return "\n".join(out) + "\n"

def scaling(paths):
    """The thread-scaling table: per production row and team size, the speed-up over the
    serial reference of the same team-size pass (median / median) of libprange's main
    variant and of the best hand-written OpenMP variant, then their ratio at the largest
    team. Several runs (one per team size) are read as one."""
    rows, metas = [], []
    for path in paths:
        run = load(path)
        rows += run["rows"]
        metas.append(run.get("meta", {}))
    prod, threads = production_medians(rows)
    if not prod or len(threads) < 2:
        return None
    m = metas[0]
    out = ["<!-- perf/report.py scaling %s: %s, %s, commit %s -->" % (
        " ".join(paths), m.get("date", "?"), m.get("cpu", "?"), m.get("git", "?")), "",
        "speed-up over serial (median), libprange / best OpenMP; last column: libprange's time over the best "
        "OpenMP's at %d threads" % threads[-1], "",
        "| kernel | n | " + " | ".join("%d" % t for t in threads) + " | ratio at %d |" % threads[-1],
        "|---|---|" + "---|" * (len(threads) + 1)]
    for (k, n) in sorted(prod, key=lambda kn: (kn[0], kn[1])):
        vs = prod[(k, n)]
        if "serial" not in vs:
            continue
        main_v = "prange" if "prange" in vs else next((v for v in sorted(vs) if is_libprange(v)), None)
        omps = [v for v in vs if v.startswith("omp") and is_reference(v)]
        cells = []
        for t in threads:
            ser = vs["serial"].get(t)
            p = vs.get(main_v, {}).get(t) if main_v else None
            o = min((vs[v][t] for v in omps if t in vs[v]), default=None)
            cells.append("%s / %s" % ("%.2f" % (ser / p) if ser and p else "-", "%.2f" % (ser / o) if ser and o else "-"))
        top = threads[-1]
        p, o = vs.get(main_v, {}).get(top), min((vs[v][top] for v in omps if top in vs[v]), default=None)
        out.append("| %s%s | %d | %s | %s |" % (k, " (%s)" % main_v if main_v and main_v != "prange" else "", n,
                                               " | ".join(cells), "%.2f" % (p / o) if p and o else "-"))
    return "\n".join(out) + "\n"


def main(argv):
    argv = list(argv)
    effect = option(argv, ("--effect", "--tol"), None)
    gross = option(argv, ("--gross",), GROSS)
    gate_on = "--no-gate" not in argv
    argv = [a for a in argv if a != "--no-gate"]
    flagged_out, confirm = None, []
    if "--flagged" in argv:
        i = argv.index("--flagged")
        flagged_out = argv[i + 1] if i + 1 < len(argv) else None
        del argv[i:i + 2]
    if "--confirm" in argv:
        i = argv.index("--confirm")
        confirm = argv[i + 1:]
        del argv[i:]
    if len(argv) >= 3 and argv[0] == "baseline":
        return make_baseline(argv[1], argv[2:])
    if len(argv) in (4, 6) and argv[0] == "merge":
        return merge(*argv[1:])
    if len(argv) == 2 and argv[0] == "summary":
        return summary(argv[1], gross, gate_on)
    if len(argv) == 4 and argv[0] == "plot":
        script = plot(argv[1], argv[2], argv[3])
        if script is None:
            print("report.py: no sweep rows to plot in %s" % argv[1], file=sys.stderr)
            return 1
        sys.stdout.write(script)
        return 0
    if len(argv) == 4 and argv[0] == "plot-scaling":
        script = plot_scaling(argv[1], argv[2], argv[3])
        if script is None:
            print("report.py: %s measured fewer than 2 team sizes" % argv[1], file=sys.stderr)
            return 1
        sys.stdout.write(script)
        return 0


    if len(argv) >= 2 and argv[0] == "scaling":
        text = scaling(argv[1:])
        if text is None:
            print("report.py: %s measured fewer than 2 team sizes" % " ".join(argv[1:]), file=sys.stderr)
            return 1
        sys.stdout.write(text)
        return 0
    if len(argv) == 2 and argv[0] == "tables":
        sys.stdout.write(tables(argv[1]))
        return 0
    if len(argv) in (2, 4) and argv[0] == "profile":
        text, rc = profile(*argv[1:])
        (sys.stdout if rc == 0 else sys.stderr).write(text)
        return rc
    if len(argv) == 2 and argv[0] == "check":
        return gate(None, argv[1], confirm, effect, gross, flagged_out)
    if len(argv) == 3 and argv[0] == "compare":
        return gate(argv[1], argv[2], confirm, effect, gross, flagged_out)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
