/*
 * calibrate.c — the fork-join cost of a team, per team size: measured once, lazily, at the
 * first plan that needs it (a few hundred microseconds), or read from the tuning cache that
 * `prange-info --calibrate` writes, or fixed by PRANGE_FORK_NS.
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
    if (st->opt[PRANGE__OPT_VERBOSE].value >= 1) {
        char line[256];
        size_t pos = 0;
        for (int i = 0; i < g_table.n && pos < sizeof line; i++)
            pos += (size_t)snprintf(line + pos, sizeof line - pos, " %d:%.0fns", g_table.threads[i], g_table.ns[i]);
        prange__log("fork-join cost (%s):%s", g_table.source, line);
    }
    atomic_store(&g_ready, 1);
}

double prange__fork_ns(int threads)
{
    const prange__state *st = prange__state_get();
    int64_t fixed = st->opt[PRANGE__OPT_FORK_NS].value;
    if (fixed > 0) return (double)fixed;
    /* Only reached for parallel candidates: never from a forked child, a nested call or
     * inside an OpenMP region (the plan is serial before it asks). */
    if (!atomic_load_explicit(&g_ready, memory_order_acquire)) pthread_once(&g_once, init_table);
    for (int i = 0; i < g_table.n; i++)
        if (g_table.threads[i] >= threads) return g_table.ns[i];
    /* Larger than anything measured (prange_set_num_threads above the budget): scale the
     * largest figure linearly, as wake-ups are issued one by one. */
    int last = g_table.n - 1;
    return g_table.ns[last] * (double)threads / (double)g_table.threads[last];
}

void prange__fork_describe(char *buf, size_t size)
{
    const char *src = prange__fork_source();
    int n = snprintf(buf, size, "%s", src);
    if (!atomic_load(&g_ready) || strcmp(src, "PRANGE_FORK_NS") == 0) return;
    for (int i = 0; i < g_table.n && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%s%d threads %.0f ns", i ? ", " : ": ", g_table.threads[i], g_table.ns[i]);
}

const char *prange__fork_source(void)
{
    const prange__state *st = prange__state_get();
    if (st->opt[PRANGE__OPT_FORK_NS].value > 0) return "PRANGE_FORK_NS";
    /* Reporting never triggers the measurement (it may run inside a parallel region). */
    return atomic_load(&g_ready) ? g_table.source : "not measured yet (no parallel plan so far)";
}
