/*
 * calibrate.c — the fork-join cost of a team, per team size, kept up to date while the
 * program runs.
 *
 * Start: measured lazily at the first plan that needs it (a few hundred microseconds), or
 * read from the tuning cache that `prange-info --calibrate` writes; PRANGE_FORK_NS fixes
 * the figure for good. Then the figure follows the machine (estimate.c windows):
 * - every sampled parallel call adds what its region cost beyond the slowest worker's
 *   share (fork, wake-ups, join), so a machine that becomes busy is noticed within 5
 *   samples and a one-off hiccup moves nothing;
 * - a process whose figure makes a loop serial that a quiet machine would run in
 *   parallel probes now and then (a few empty regions, at most one probe per back-off
 *   gap: 2 ms doubling to 0.5 s while the machine stays busy, and at least 32 times what
 *   the last probe took), so a figure taken under load does not rule the process for
 *   its life, and probing costs a busy machine's serial loops at most ~3%; a quiet
 *   probe that replaced a busy figure is undone by the first sampled call that waits
 *   for a core (the probe fell between two time slices).
 *
 * Sizes measured: 2, 4, 8, ... below the budget, and the budget itself. A team of t uses
 * the figure of the smallest measured size >= t (never optimistic).
 */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "profile.h"
#include "prange_sched.h"

#define MAX_SIZES 12
typedef struct {
    int n;
    int threads[MAX_SIZES];
    double ns[MAX_SIZES];
    const char *source; /* "measured", "tuning cache", "PRANGE_FORK_NS" */
} fork_table;

static fork_table g_table;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_int g_ready;
/* The figure in use per measured size: starts at g_table.ns, then follows the samples. */
static prange__window g_win[MAX_SIZES];
/* A quiet probe taken while the figure said busy may have caught the machine between two
 * time slices: the busy history it replaced is kept until the next sampled parallel call
 * of that size confirms the probe, or restores it by waiting for a core itself. */
static prange__window g_before[MAX_SIZES];
static atomic_int g_confirm[MAX_SIZES];
/* The cheapest figure seen for the smallest size, and the probe's back-off. */
static _Atomic(uint64_t) g_quiet_ns;
static _Atomic(uint64_t) g_probe_next, g_probe_gap;
_Atomic(uint64_t) prange__probe_tick; /* g_probe_next in ticks, for kept inline plans */
static atomic_int g_probing;
/* Parallel calls still to be sampled for the figure after it was (re)made: > 0 = watching. */
atomic_int prange__fork_watch;
#define WATCH_CALLS 8
static prange__fork_measure_fn g_measure_hook; /* tests: replaces empty-region timing */

#define PROBE_GAP_MIN_NS 2000000ull   /* 2 ms */
#define PROBE_GAP_MAX_NS 500000000ull /* 0.5 s: a quiet machine is found within it */
#define PROBE_COST_GAP 32.0 /* a gap of 32 probes' time: probes cost at most ~3% */
/* A region or a call whose fork-join part takes this long waited for a core: busy. */
#define PROBE_BUSY_NS 1000000.0
/* Loops are worth a probe when they would pay at this figure even if the process never
 * saw one so cheap (its first measurement may have been taken under load). */
#define QUIET_CAP_NS 2000.0
/* The figure plans assume before any loop has measured one. */
#define PRIOR_NS 1000.0

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of `reps` empty regions of t threads after 5 warm-ups. A median far above the
 * fastest sample means the machine was busy (a worker waited for a CPU): the figure would
 * make every plan of this process serial, so measure again, up to 3 times, 2 ms apart,
 * and keep the lowest median. */
static double measure_one(int t, int reps)
{
    double s[256], best = 0;
    if (reps > 256) reps = 256;
    for (int attempt = 0; attempt < 3; attempt++) {
        for (int i = 0; i < reps + 5; i++) {
            uint64_t t0 = prange__now_ns();
#pragma omp parallel num_threads(t)
            {
                __asm__ volatile("" ::: "memory");
            }
            if (i >= 5) s[i - 5] = (double)(prange__now_ns() - t0);
        }
        qsort(s, (size_t)reps, sizeof s[0], cmp_double);
        double med = s[reps / 2];
        if (attempt == 0 || med < best) best = med;
        if (med <= 4 * s[0] + 1000) break;
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    return best > 100 ? best : 100;
}

/* Team sizes to measure for a budget: powers of two below it, then the budget. */
static int sizes_for(int budget, int *out)
{
    int n = 0;
    if (budget < 2) budget = 2;
    for (int t = 2; t < budget && n < MAX_SIZES - 1; t *= 2) out[n++] = t;
    out[n++] = budget;
    return n;
}

/* The index of the smallest measured size >= threads (the largest when none is). */
static int size_index(int threads)
{
    for (int i = 0; i < g_table.n; i++)
        if (g_table.threads[i] >= threads) return i;
    return g_table.n - 1;
}

static void measure_table(fork_table *tab, int budget, int reps)
{
    atomic_store(&prange__pool_started, 1);
    /* Never ask for more threads than the system starts (the runtime would exit). With
     * none at all, no plan is parallel; keep a figure that says so. */
    prange__team_lock();
    budget = prange__team_probe_locked(budget);
    if (budget < 2) {
        prange__team_unlock();
        tab->n = 1;
        tab->threads[0] = 2;
        tab->ns[0] = 1e9;
        tab->source = "not measurable: thread creation refused";
        return;
    }
    tab->n = sizes_for(budget, tab->threads);
    /* Largest first: the team only shrinks (libgomp ends the extra workers), so no thread
     * is created after the probe but the first team's. */
    for (int i = tab->n - 1; i >= 0; i--) tab->ns[i] = measure_one(tab->threads[i], reps);
    prange__pool = tab->threads[0];
    prange__team_unlock();
    tab->source = "measured";
}

/* ---- tuning cache ------------------------------------------------------------------- */

/* What the cache is valid for: the same CPUs, cores and budget. */
static void fingerprint(char *buf, size_t size)
{
    const prange__state *st = prange__state_get();
    snprintf(buf, size, "cores=%d pus=%d numa=%d cpuset=%s budget=%d", st->topo.cores, st->topo.pus,
             st->topo.numa_nodes, st->topo.cpuset, st->default_budget);
}

int prange__tuning_path(char *buf, size_t size)
{
    const char *dir = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (dir && *dir) n = snprintf(buf, size, "%s/libprange/tuning", dir);
    else if (home && *home) n = snprintf(buf, size, "%s/.cache/libprange/tuning", home);
    else return -1;
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Read "fingerprint ..." then "fork THREADS NS" lines; 0 when it matches this machine. */
static int read_cache(fork_table *tab)
{
    static char path[4096], want[256], line[512]; /* once (pthread_once), maybe on a small stack */
    if (prange__tuning_path(path, sizeof path) != 0) return -1;
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    fingerprint(want, sizeof want);
    int ok = 0;
    fork_table t = {0};
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        int th;
        double ns;
        if (strncmp(line, "fingerprint ", 12) == 0) ok = strcmp(line + 12, want) == 0;
        else if (sscanf(line, "fork %d %lf", &th, &ns) == 2 && th >= 2 && ns > 0 && ns < 1e9 && t.n < MAX_SIZES) {
            t.threads[t.n] = th;
            t.ns[t.n++] = ns;
        }
    }
    fclose(f);
    if (!ok || t.n == 0) return -1;
    t.source = "tuning cache";
    *tab = t;
    return 0;
}

int prange__calibrate(const char *path_override, FILE *report)
{
    char path[4096], fp[256];
    if (path_override) {
        size_t n = strlen(path_override);
        if (n == 0 || n >= sizeof path) return PRANGE_EINVAL;
        memcpy(path, path_override, n + 1);
    } else if (prange__tuning_path(path, sizeof path) != 0) {
        return PRANGE_EINVAL;
    }
    fork_table t;
    measure_table(&t, prange__state_get()->default_budget, 201);
    /* mkdir -p the directory */
    for (char *p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    if (!f) return PRANGE_EIO;
    fingerprint(fp, sizeof fp);
    fprintf(f, "# libprange tuning cache, written by prange-info --calibrate\nfingerprint %s\n", fp);
    for (int i = 0; i < t.n; i++) fprintf(f, "fork %d %.0f\n", t.threads[i], t.ns[i]);
    int bad = ferror(f);
    bad |= fclose(f);
    if (report) {
        fprintf(report, "calibrated (%s):", path);
        for (int i = 0; i < t.n; i++) fprintf(report, " %d threads %.0f ns;", t.threads[i], t.ns[i]);
        fprintf(report, "\n");
    }
    return bad ? PRANGE_EIO : 0;
}

static void init_table(void)
{
    const prange__state *st = prange__state_get();
    if (read_cache(&g_table) != 0) measure_table(&g_table, st->default_budget, 15);
    for (int i = 0; i < g_table.n; i++) prange__window_seed(&g_win[i], g_table.ns[i]);
    atomic_store(&prange__fork_watch, WATCH_CALLS); /* check the first figure on real calls */
    atomic_store(&g_quiet_ns, (uint64_t)g_table.ns[0]);
    atomic_store(&g_probe_gap, PROBE_GAP_MIN_NS);
    prange__plan_changed();
    if (st->opt[PRANGE__OPT_VERBOSE].value >= 1) {
        char line[256];
        size_t pos = 0;
        for (int i = 0; i < g_table.n && pos < sizeof line; i++)
            pos += (size_t)snprintf(line + pos, sizeof line - pos, " %d:%.0fns", g_table.threads[i], g_table.ns[i]);
        prange__log("fork-join cost (%s):%s", g_table.source, line);
    }
    atomic_store(&g_ready, 1);
}

/* PRANGE_FORK_NS fixes every figure: nothing is measured, probed or observed. */
static int fixed_figure(void) { return prange__state_get()->opt[PRANGE__OPT_FORK_NS].value > 0; }

int prange__fork_ensure(void)
{
    if (atomic_load_explicit(&g_ready, memory_order_acquire) || fixed_figure()) return 0;
    pthread_once(&g_once, init_table);
    return 1;
}

double prange__fork_ns(int threads, int *prior)
{
    const prange__state *st = prange__state_get();
    int64_t fixed = st->opt[PRANGE__OPT_FORK_NS].value;
    if (fixed > 0) return (double)fixed;
    if (!atomic_load_explicit(&g_ready, memory_order_acquire)) {
        /* Plans start nothing: until a loop has measured, assume a typical figure. */
        if (prior) *prior = 1;
        return PRIOR_NS * (threads > 2 ? (double)threads / 2 : 1.0);
    }
    int i = size_index(threads);
    double ns = prange__window_get(&g_win[i]);
    /* Larger than anything measured (prange_set_num_threads above the budget): scale the
     * largest figure linearly, as wake-ups are issued one by one. */
    return threads > g_table.threads[i] ? ns * (double)threads / (double)g_table.threads[i] : ns;
}

/* Once per process, under PRANGE_VERBOSE >= 1: the fork-join figure says the machine is
 * busy and libgomp's workers spin after each loop. That spin is what makes two programs on
 * one machine slow each other down several times over (perf/run --pair), and libgomp reads
 * its policy at start-up only, so libprange cannot change it: say what can. */
static void advise_when_busy(double figure)
{
    static atomic_int said;
    const prange__state *st = prange__state_get();
    if (!st->long_spin || st->opt[PRANGE__OPT_VERBOSE].value < 1 || figure < 10 * prange__fork_quiet_ns() ||
        atomic_exchange(&said, 1))
        return;
    prange__log("the machine looks busy (fork-join %.0f us, %.1f us when quiet) and idle OpenMP workers spin "
                "~3 ms after each loop, taking CPU from the other work: run with OMP_WAIT_POLICY=passive, "
                "or PRANGE_SHARE=node between libprange programs (docs/scheduling.md, \"Idle workers\")",
                figure / 1e3, prange__fork_quiet_ns() / 1e3);
}

/* A sample that makes the last quiet probe of size i look lucky: it waited for a core
 * (1 ms), or at least half as long as the busy figure the probe replaced. */
static double lucky_ns(int i)
{
    double half = prange__window_get(&g_before[i]) / 2;
    return half < PROBE_BUSY_NS ? half : PROBE_BUSY_NS;
}

void prange__fork_observe(int threads, double ns)
{
    if (threads < 2 || !(ns >= 0) || fixed_figure() || !atomic_load_explicit(&g_ready, memory_order_acquire)) return;
    int i = size_index(threads);
    /* The first sample after a quiet probe that replaced a busy figure: one that waited
     * for a core says the probe was lucky (under a busy loop per core such probes made
     * every size of every loop fork again until 5 stalled samples had moved the figure
     * back up); the busy history comes back and this sample joins it. */
    if (atomic_load_explicit(&g_confirm[i], memory_order_relaxed) && atomic_exchange(&g_confirm[i], 0) &&
        ns >= lucky_ns(i)) {
        prange__window_copy(&g_win[i], &g_before[i]);
        if (prange__verbose() >= 2)
            prange__log("fork-join: the first call sampled after a quiet probe waited %.0f us: the probe was lucky, "
                        "the figure stays %.0f ns", ns / 1e3, prange__window_get(&g_win[i]));
    }
    double figure = prange__window_add(&g_win[i], ns);
    if (i == 0 && ns < (double)atomic_load_explicit(&g_quiet_ns, memory_order_relaxed))
        atomic_store_explicit(&g_quiet_ns, (uint64_t)ns, memory_order_relaxed);
    prange__plan_changed();
    advise_when_busy(figure);
}

/* A loop shared inside a region forks nothing: its members are awake. Until a shared loop
 * of that team size was timed, the plan charges the join half of a fork-join. The
 * measured figure follows the machine like the fork-join one (estimate.c windows); it
 * stays below the fork-join figure, which a region could always pay instead by running
 * inline. */
#define REGION_LOOP_SHARE 0.5
static prange__window g_rloop[MAX_SIZES];

/* Team sizes 2-3, 4-7, 8-15, ...: a region's team needs no fork-join figure to exist. */
static int rloop_index(int team)
{
    int i = 30 - __builtin_clz((unsigned)team);
    return i < MAX_SIZES ? i : MAX_SIZES - 1;
}

double prange__region_loop_ns(int team)
{
    double fork = prange__fork_ns(team, NULL);
    if (team < 2 || fixed_figure()) return fork * REGION_LOOP_SHARE;
    double m = prange__window_get(&g_rloop[rloop_index(team)]);
    return !(m > 0) ? fork * REGION_LOOP_SHARE : m < fork ? m : fork;
}

/* One sample into a region figure's window (w: its array by team size); 0 when none was
 * taken (a team of 1, a fixed figure). */
static int region_observe(prange__window *w, int team, double ns)
{
    if (team < 2 || !(ns >= 0) || fixed_figure()) return 0;
    prange__window_add(&w[rloop_index(team)], ns > 1 ? ns : 1);
    return 1;
}

void prange__region_loop_observe(int team, double ns)
{
    if (region_observe(g_rloop, team, ns)) prange__plan_changed(); /* plans charge it */
}

/* A loop one member runs while the others wait costs the team its barrier: the arrival,
 * the release, the others' wake-up. Measured on sampled such loops (from the hand-out to
 * past the barrier, less the loop itself), never below half the cost of sharing a loop
 * (that half until measured, and under PRANGE_FORK_NS). What a region's account charges
 * for each (lib/region.c). */
static prange__window g_rwait[MAX_SIZES];

double prange__region_wait_ns(int team)
{
    double share = prange__region_loop_ns(team);
    if (team < 2 || fixed_figure()) return share / 2;
    /* Never below half the cost of sharing: a barrier's measured cost leaves out what the
     * waiting member loses afterwards (a 1000² wavefront's team calls read 60-80 ns a
     * barrier and kept the team at 1.7x its inline time). */
    double m = prange__window_get(&g_rwait[rloop_index(team)]);
    return m > share / 2 ? m : share / 2;
}

void prange__region_wait_observe(int team, double ns)
{
    (void)region_observe(g_rwait, team, ns); /* read by region accounts, not by plans */
}

double prange__fork_quiet_ns(void)
{
    double q = (double)atomic_load_explicit(&g_quiet_ns, memory_order_relaxed);
    return q > 0 && q < QUIET_CAP_NS ? q : QUIET_CAP_NS;
}

/* A busy figure is what empty regions cost when a worker waits for a core: the probe's
 * regions run back to back, so under load the worker, still spinning from the last one,
 * has used its share and waits a time slice for the next (7 ms on 2 cores with a busy loop
 * on each). A loop's own call often finds its workers asleep and woken at once (the
 * system favours a thread that slept): a 10^7 triad's team took 8 ms there, against 16
 * serially. So the figure alone must not keep such loops serial (plan.c). */
#define TRIAL_BUSY 10.0

int prange__fork_fixed(void) { return fixed_figure(); }

double prange__fork_trial_ns(int region, double fork)
{
    if (fixed_figure() || !atomic_load_explicit(&g_ready, memory_order_acquire)) return 0;
    /* Wake-ups are issued one by one: a quiet region of r threads costs ~r/2 of 2's. */
    double quiet = prange__fork_quiet_ns() * (region > 2 ? (double)region / 2 : 1.0);
    return fork >= TRIAL_BUSY * quiet ? quiet : 0;
}

void prange__fork_set_measure_hook(prange__fork_measure_fn fn) { g_measure_hook = fn; }

/* Median of 3 empty regions of t threads, stopping early when the first one shows the
 * machine is still busy (under load a region can cost milliseconds). */

static double empty_region(int t)
{
    uint64_t t0 = prange__now_ns();
#pragma omp parallel num_threads(t)
    {
        __asm__ volatile("" ::: "memory");
    }
    return (double)(prange__now_ns() - t0);
}

static double probe_regions(int t)
{
    if (g_measure_hook) return g_measure_hook(t);
    /* The first region wakes the workers, asleep after ~3 ms without a region (a futex
     * wake-up each, tens of us in a VM): not a sample of the fork-join cost, which a
     * machine that went quiet would then never show; but one that waited a time slice
     * says the machine is busy, and the probe stops there. */
    double first = empty_region(t);
    if (first > PROBE_BUSY_NS) return first;
    double s[3];
    for (int k = 0; k < 3; k++) s[k] = empty_region(t);
    qsort(s, 3, sizeof s[0], cmp_double);
    return s[1];
}

int prange__fork_probe(int team, const char *label)
{
    if (team < 2 || fixed_figure() || !atomic_load_explicit(&g_ready, memory_order_acquire)) return 0;
    uint64_t now = prange__now_ns();
    if (now < atomic_load_explicit(&g_probe_next, memory_order_relaxed)) return 0;
    if (atomic_exchange(&g_probing, 1)) return 0; /* another thread is probing */
    int changed = 0, t = prange__team_ready(team);
    if (t >= 2) {
        int region = prange__region_size(t), i = size_index(region);
        double before = prange__window_get(&g_win[i]), ns = probe_regions(region);
        prange__profile_event(PRANGE__EV_PROBE);
        uint64_t gap = atomic_load(&g_probe_gap);
        if (ns <= 2 * prange__fork_quiet_ns()) {
            /* Quiet again: a fresh measurement replaces the history taken under load, and
             * the next parallel calls are all sampled, so that three lucky empty regions
             * on a machine still busy are found out at the first call that waits for a
             * core (the history comes back, see prange__fork_observe). */
            if (before >= 10 * prange__fork_quiet_ns()) {
                prange__window_copy(&g_before[i], &g_win[i]);
                atomic_store(&g_confirm[i], 1);
            }
            prange__window_seed(&g_win[i], ns);
            atomic_store_explicit(&prange__fork_watch, WATCH_CALLS, memory_order_relaxed);
        } else {
            advise_when_busy(prange__window_add(&g_win[i], ns));
        }
        /* Every probe doubles the gap (a quiet one too: it may have been lucky); once the
         * machine is quiet for good, loops are parallel and no longer probe. The gap is
         * also at least PROBE_COST_GAP times what this probe took: on a busy machine one
         * empty region waits a time slice for a core (4-12 ms), and probes every 2 ms
         * made serial loops 3x slower than serial. */
        double took = (double)(prange__now_ns() - now);
        gap = gap * 2 < PROBE_GAP_MAX_NS ? gap * 2 : PROBE_GAP_MAX_NS;
        if ((double)gap < PROBE_COST_GAP * took)
            gap = PROBE_COST_GAP * took < (double)PROBE_GAP_MAX_NS ? (uint64_t)(PROBE_COST_GAP * took) : PROBE_GAP_MAX_NS;
        atomic_store(&g_probe_gap, gap);
        atomic_store(&g_probe_next, prange__now_ns() + gap);
        atomic_store(&prange__probe_tick, prange__ticks() + (uint64_t)((double)gap / prange__clock_tick_ns));
        changed = prange__window_get(&g_win[i]) < before;
        prange__plan_changed();
        if (prange__verbose() >= 2)
            prange__log("fork-join probe%s%s: %d threads %.0f ns (figure %.0f -> %.0f ns); next probe in %.0f ms",
                        label ? " " : "", label ? label : "", region, ns, before, prange__window_get(&g_win[i]),
                        (double)gap / 1e6);
    }
    atomic_store(&g_probing, 0);
    return changed;
}

void prange__fork_describe(char *buf, size_t size)
{
    const char *src = prange__fork_source();
    int n = snprintf(buf, size, "%s", src);
    if (!atomic_load(&g_ready) || strcmp(src, "PRANGE_FORK_NS") == 0) return;
    for (int i = 0; i < g_table.n && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%d threads %.0f ns (now %.0f ns)", i ? ", " : ": ",
                      g_table.threads[i], g_table.ns[i], prange__window_get(&g_win[i]));
}

const char *prange__fork_source(void)
{
    if (fixed_figure()) return "PRANGE_FORK_NS";
    /* Reporting never triggers the measurement (it may run inside a parallel region). */
    return atomic_load(&g_ready) ? g_table.source : "not measured yet (no parallel plan so far)";
}
