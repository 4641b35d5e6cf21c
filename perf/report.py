#!/usr/bin/env python3
"""report.py — read prange-bench JSON artifacts.

  report.py summary RUN.json            targets met/missed, bandwidth fractions, overheads
  report.py compare BASE.json NEW.json [--tol T]
  report.py merge MAIN.json PEER.json SUFFIX [MAIN.tsv PEER.tsv]
                                        add a peer run's rows (variants renamed NAME-SUFFIX)
                                        exit 1 where a libprange ratio regressed beyond the band

Targets (../shared/design.md): at every sweep size, prange <= 1.10 x min(serial, OpenMP)
+ 50 ns; bandwidth-bound kernels >= 95% of the run's measured limit at production size;
the deterministic sum >= 0.95 x the best OpenMP sum; per-call overhead <= 1.15 x libgomp's.
"""
import json
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


def limits(run):
    """The best GB/s of any variant at production size, per traffic class."""
    best = {"rw": 0.0, "ro": 0.0}
    for r in run["rows"]:
        if r["phase"] != "production" or r["gbs"] <= 0:
            continue
        cls = "rw" if r["kernel"] in READ_WRITE else "ro" if r["kernel"] in READ_ONLY else None
        if cls:
            best[cls] = max(best[cls], r["gbs"])
    return best


def limit_for(kernel, lim):
    return lim["rw"] if kernel in READ_WRITE else lim["ro"] if kernel in READ_ONLY else 0


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


def best_ref(vs):
    refs = [r["median_s"] for v, r in vs.items() if is_reference(v)]
    return min(refs) if refs else None


def overhead_ratio(vs):
    so, po, oo = vs["serial"]["median_s"], vs["prange"]["median_s"], vs["omp"]["median_s"]
    return (po - so) / (oo - so) if oo > so else float("inf")


def fmt_t(s):
    if s < 1e-6:
        return "%.0fns" % (s * 1e9)
    if s < 1e-3:
        return "%.2fus" % (s * 1e6)
    return "%.2fms" % (s * 1e3)


def summary(path):
    run = load(path)
    g = groups(run)
    met = missed = 0
    misses = []
    m = run["meta"]
    print("\n== summary of %s" % path)
    print("machine: %s, %d cores, %d NUMA node(s), governor %s; libprange %s (%s), gcc, hwloc %s, tbb %s"
          % (m["cpu"], m["cores"], m["numa_nodes"], m["governor"], m["libprange"], m["git"], m["hwloc"], m["tbb"]))
    if m["governor"] not in ("performance", "unreadable"):
        print("warning: CPU frequency governor is '%s', not 'performance': timings may drift" % m["governor"])
    lim = limits(run)
    limit = lim["rw"]
    print("first call (topology, options, calibration): %s; bandwidth limits measured this run: %.1f GB/s "
          "read-write (best STREAM kernel), %.1f GB/s read-only (best sum/dot/nrm2); peak RSS %.0f MiB for %.0f MiB "
          "of data" % (fmt_t(run["first_call_s"]), lim["rw"], lim["ro"], run["peak_rss_bytes"] / 2**20,
                       run["data_bytes"] / 2**20))

    # 1. the size sweep against the never-slower target
    sweep = sorted(k for k in g if k[0] == "sweep")
    if sweep:
        print("\nsize sweep: median per call; target prange <= 1.10 x min(serial, omp) + 50 ns")
        print("%-7s %4s %11s %10s %10s %10s %10s %7s  %s" % ("kernel", "thr", "n", "serial", "omp", "prange",
                                                                "hint", "ratio", "target"))
        for key in sweep:
            vs = g[key]
            ref = best_ref(vs)
            line = []
            for v in ("prange", "prange-hint"):
                if v not in vs:
                    continue
                ok = vs[v]["median_s"] <= 1.10 * ref + 50e-9
                met += ok
                missed += not ok
                if not ok:
                    misses.append("sweep %s n=%d %s: %s vs %s" % (key[1], key[3], v, fmt_t(vs[v]["median_s"]), fmt_t(ref)))
                line.append("ok" if ok else "MISS(%s)" % v)
            p = vs.get("prange", {}).get("median_s")
            h = vs.get("prange-hint", {}).get("median_s")
            print("%-7s %4d %11d %10s %10s %10s %10s %7.3f  %s" % (
                key[1], key[2], key[3], fmt_t(vs["serial"]["median_s"]), fmt_t(vs["omp"]["median_s"]),
                fmt_t(p) if p else "-", fmt_t(h) if h else "-", (p / ref) if p else 0, " ".join(line)))

    # 2. bandwidth at production size
    prod = sorted(k for k in g if k[0] in ("production", "sizes"))
    if prod and limit > 0:
        print("\nproduction sizes: ratio to the best of serial/OpenMP, and the fraction of the measured limit of "
              "the kernel's traffic class; target >= 0.95 for bandwidth-bound kernels")
        for key in prod:
            vs = g[key]
            ref = best_ref(vs)
            cells = " ".join("%s=%s" % (v, fmt_t(r["median_s"])) for v, r in vs.items())
            p = vs.get("prange")
            cls_limit = limit_for(key[1], lim)
            frac = p["gbs"] / cls_limit if p and p["gbs"] > 0 and cls_limit > 0 else None
            verdict = ""
            if key[1] in BANDWIDTH_BOUND and frac is not None and key[0] == "production":
                ok = frac >= 0.95
                met += ok
                missed += not ok
                verdict = "ok" if ok else "MISS"
                if not ok:
                    misses.append("bandwidth %s: %.0f%% of limit" % (key[1], 100 * frac))
            print("  %-10s n=%-11d ratio=%.3f %s %s  %s" % (key[1], key[3], p["median_s"] / ref if p else 0,
                                                            ("bw=%.0f%%" % (100 * frac)) if frac else "",
                                                            verdict, cells))

    # 3. deterministic sum vs the best OpenMP sum, at the largest size
    sums = [k for k in prod if k[1] == "sum"]
    if sums:
        key = max(sums, key=lambda k: k[3])
        vs = g[key]
        omp = min(r["median_s"] for v, r in vs.items() if v.startswith("omp"))
        speed = omp / vs["prange"]["median_s"]
        ok = speed >= 0.95
        met += ok
        missed += not ok
        if not ok:
            misses.append("deterministic sum at %.2f x the best OpenMP sum" % speed)
        extra = ""
        if "tbb-det" in vs and "tbb" in vs:
            extra = "; oneTBB deterministic/plain = %.2f" % (vs["tbb-det"]["median_s"] / vs["tbb"]["median_s"])
        print("\ndeterministic prange_sum_f64 at n=%d: %.2f x the speed of the best OpenMP sum (target >= 0.95) %s%s"
              % (key[3], speed, "ok" if ok else "MISS", extra))

    # 4. per-call overhead (EPCC style): time minus the serial time of the same work
    for key in sorted(k for k in g if k[0] == "overhead"):
        vs = g[key]
        so, po, oo = vs["serial"]["median_s"], vs["prange"]["median_s"], vs["omp"]["median_s"]
        ratio = overhead_ratio(vs)
        ok = ratio <= 1.15
        met += ok
        missed += not ok
        if not ok:
            misses.append("overhead %s: %.2f x libgomp" % (key[1], ratio))
        print("overhead %-10s threads=%d: libgomp %s, libprange %s, ratio %.2f (target <= 1.15) %s"
              % (key[1], key[2], fmt_t(oo - so), fmt_t(po - so), ratio, "ok" if ok else "MISS"))

    wrong = run.get("wrong_results", 0)
    print("\ntargets: %d met, %d missed; wrong results: %d" % (met, missed, wrong))
    for line in misses[:40]:
        print("  missed: " + line)
    return 0 if wrong == 0 else 1


def compare(base_path, new_path, tol):
    base, new = load(base_path), load(new_path)
    gb, gn = groups(base), groups(new)
    regressions, checked, missing = [], 0, 0
    print("\n== compare %s -> %s (tolerance %.0f%% on within-run ratios)" % (base_path, new_path, 100 * tol))
    print("%-10s %-9s %4s %11s %-12s %8s %8s  %s" % ("phase", "kernel", "thr", "n", "variant", "base", "new", ""))
    for key, vs in sorted(gb.items()):
        if key not in gn:
            missing += 1
            continue
        if key[1] in UNGATED:
            continue
        ref_b, ref_n = best_ref(vs), best_ref(gn[key])
        for v, rb in vs.items():
            if not v.startswith("prange") or v not in gn[key]:
                continue
            rn = gn[key][v]
            checked += 1
            if key[0] == "overhead":
                # Overheads compare with libgomp's overhead (time minus the serial time of
                # the same work): a ratio to the ~3 ns serial loop would be pure noise.
                a, b = overhead_ratio(vs), overhead_ratio(gn[key])
                ref_n = rn["median_s"] - 1.0  # the absolute-slack test below always passes
            else:
                a, b = rb["median_s"] / ref_b, rn["median_s"] / ref_n
            # A band on the ratio plus an absolute slack: at tiny n a few ns of jitter move
            # the ratio a lot without meaning anything. A baseline that happened to beat
            # the reference (ratio < 1) is banded from parity: matching the best
            # hand-written loop is never a regression.
            bad = b > max(a, 1.0) * (1 + tol) + 0.05 and rn["median_s"] - ref_n > 200e-9
            if not rn.get("ok", True):
                bad = True
            if bad:
                regressions.append((key, v, a, b))
            if bad or abs(b - a) > 0.5 * tol * a:
                print("%-10s %-9s %4d %11d %-12s %8.3f %8.3f  %s" % (key[0], key[1], key[2], key[3], v, a, b,
                                                                     "REGRESSED" if bad else "moved"))
    lb, ln = limits(base), limits(new)
    if lb["rw"] > 0 and ln["rw"] > 0:
        for key, vs in sorted(gb.items()):
            if key[0] != "production" or key[1] not in BANDWIDTH_BOUND or key not in gn:
                continue
            if "prange" not in vs or "prange" not in gn[key]:
                continue
            if limit_for(key[1], lb) <= 0 or limit_for(key[1], ln) <= 0:
                continue
            fb = vs["prange"]["gbs"] / limit_for(key[1], lb)
            fn = gn[key]["prange"]["gbs"] / limit_for(key[1], ln)
            checked += 1
            if fn < fb * (1 - tol):
                regressions.append((key, "bandwidth", fb, fn))
                print("%-10s %-9s %4d %11d %-12s %7.0f%% %7.0f%%  REGRESSED" % (key[0], key[1], key[2], key[3],
                                                                               "bw-fraction", 100 * fb, 100 * fn))
    if new.get("wrong_results", 0):
        regressions.append((("run",), "wrong results", 0, new["wrong_results"]))
    print("compare: %d checks, %d regressions, %d baseline rows absent from the new run"
          % (checked, len(regressions), missing))
    if checked == 0:
        print("compare: nothing comparable (different sizes or kernels?)")
        return 1
    return 1 if regressions else 0


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
        json.dump(run, f, indent=0)
    if main_tsv and peer_tsv:
        with open(peer_tsv) as f, open(main_tsv, "a") as g:
            for line in f.read().splitlines()[1:]:
                cols = line.split("\t")
                if cols[1] != "serial":
                    cols[1] += "-" + suffix
                    g.write("\t".join(cols) + "\n")
    print("merged %d %s rows from %s" % (added, suffix, peer_path))
    return 0


def main(argv):
    if len(argv) >= 4 and argv[0] == "merge":
        return merge(argv[1], argv[2], argv[3], *(argv[4:6] if len(argv) >= 6 else []))
    if len(argv) >= 2 and argv[0] == "summary":
        return summary(argv[1])
    if len(argv) >= 3 and argv[0] == "compare":
        tol = 0.35
        if "--tol" in argv:
            tol = float(argv[argv.index("--tol") + 1])
        return compare(argv[1], argv[2], tol)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
