/*
 * harness.c — the perf suite's measuring program, prange-bench: serial vs hand-written
 * OpenMP vs libprange (and oneTBB when built with it), side by side in one run, at
 * production sizes and over a size sweep. The kernels live in perf/kernels/ (one file per
 * family, each registering its table); the table and the JSON artifact in perf/output.c.
 *
 * Methodology (docs/benchmarking.md): each (kernel, size) runs every variant interleaved
 * rep by rep, so drift hits all alike; the first call of each variant is reported apart;
 * a sample is a batch of calls long enough to time (>= --min-batch-us), divided by its
 * call count; calls of 1 us or more are also timed one by one, so p10/p50/p90/p99 are
 * per-call percentiles. Every variant's result is checked against the serial reference.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#ifdef HAVE_TBB
#include "tbb_variants.h"
#endif

/* ---- data (bench.h) ------------------------------------------------------------------- */

double *A, *B, *C;
double *PA, *PB, *PC;
uint32_t *H;
int64_t NMAX;
int g_threads;
volatile double g_sink;
/* Test hook for the perf gate (tests, docs/benchmarking.md): PERF_BENCH_SLOWDOWN=KERNEL:F
 * makes every libprange variant of KERNEL F times slower by spinning after each timed
 * call or batch, so a gate can be shown to flag a known regression. */
static const char *g_slow_kernel;
static double g_slow_factor = 1;

/* ---- the kernel registry ---------------------------------------------------------------- */

enum { MAXKERNELS = 128 };
static const kernel *KERNELS[MAXKERNELS];
static int NKERNELS;

void bench_register(const kernel *table, int count)
{
    for (int i = 0; i < count; i++) {
        if (NKERNELS == MAXKERNELS) {
            fprintf(stderr, "prange-bench: more than %d kernels registered\n", MAXKERNELS);
            exit(2);
        }
        KERNELS[NKERNELS++] = &table[i];
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Deterministic inputs: values in [0.5, 1.5), so sums have no cancellation surprises. */
static void fill_inputs(int64_t n)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        uint64_t z = (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
        z ^= z >> 29;
        A[i] = 0.5 + (double)(z >> 11) * 0x1p-53;
        B[i] = 1.0 + (double)(i % 1000) * 1e-3;
        C[i] = 0;
        H[i] = (uint32_t)(z >> 32);
    }
}

/* Checksum of an output array: the deterministic sum, so equal arrays give equal bits. */
static double checksum(const double *x, int64_t n) { return prange_sum_f64(x, n, NULL); }


/* The first call's body: nothing (it times the library's start-up). */
static void first_body(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)b;
    (void)e;
    __asm__ volatile("" ::: "memory");
}

/* ---- statistics ----------------------------------------------------------------------- */

enum { MAXCALLS = 1 << 15 };
/* Calls at least this long are timestamped one by one (a clock read costs ~25 ns, a few
 * percent at 1 us); shorter ones are only timed as batch means. */
static const double PERCALL_MIN_S = 1e-6;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile of a sorted array, linear between closest ranks; NaN (written as null) when
 * there are too few values for it to mean anything (p90 needs 10, p95 20, p99 100). */
static double pct(const double *s, int64_t n, double p)
{
    if (n <= 0 || (p >= 99 && n < 100) || (p >= 95 && n < 20) || ((p >= 90 || p <= 10) && n < 10)) return NAN;
    double x = p / 100.0 * (double)(n - 1);
    int64_t k = (int64_t)x;
    if (k >= n - 1) return s[n - 1];
    return s[k] + (x - (double)k) * (s[k + 1] - s[k]);
}

/* ---- options ---------------------------------------------------------------------------- */

static int in_list(const char *list, const char *name)
{
    if (!list || !*list || strcmp(list, "all") == 0) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

/* Parse "1,4,16" or "1e6" style positive integers; returns count. */
static int parse_sizes(const char *s, int64_t *out, int max)
{
    int k = 0;
    while (s && *s && k < max) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || v < 1 || v > 1e12) return -1;
        out[k++] = (int64_t)v;
        if (*end == ',') end++;
        else if (*end) return -1;
        s = end;
    }
    return k;
}

/* ---- measuring ----------------------------------------------------------------------------- */

/* Calls per sample so a sample lasts >= min_batch (1 for large n); *per_call gets the
 * mean duration of one call in the last trial. */
static int64_t pick_batch(run_fn f, int64_t n, double min_batch, double *per_call)
{
    int64_t k = 1;
    for (;;) {
        double t0 = now_s();
        for (int64_t i = 0; i < k; i++) g_sink = f(n);
        double t = now_s() - t0;
        *per_call = t / (double)k;
        if (t >= min_batch || k >= (INT64_C(1) << 24)) return k;
        k = t > 0 ? (int64_t)ceil((double)k * min_batch / t * 1.2) : k * 10;
        if (k < 2) k = 2;
    }
}

static double result_of(const kernel *K, const variant *v, int64_t n)
{
    if (K->check == CHECK_RETURN) return v->fn(n);
    double *out = v->out ? *v->out : C;
    memset(out, 0, (size_t)n * sizeof *out);
    v->fn(n);
    return checksum(out, n);
}

static int is_tbb(const variant *v) { return strncmp(v->name, "tbb", 3) == 0; }
static int is_prange(const variant *v) { return strncmp(v->name, "prange", 6) == 0; }


static void spin_for(double s)
{
    double until = now_s() + s;
    while (now_s() < until) {
    }
}

static double g_calls[MAXV][MAXCALLS]; /* per-call durations of each variant being measured */

/* One repetition of variant v: a batch of calls; returns the batch mean. Per-call mode
 * also appends each call's duration to d (up to MAXCALLS). */
static double one_rep(const variant *v, int64_t n, int64_t batch, double slow, double *d,
                      int64_t *nd)
{
    double t0 = now_s();
    if (d) {
        double prev = t0;
        for (int64_t i = 0; i < batch; i++) {
            g_sink = v->fn(n);
            double t = now_s();
            if (slow > 1) spin_for((slow - 1) * (t - prev)), t = now_s();
            if (*nd < MAXCALLS) d[(*nd)++] = t - prev;
            prev = t;
        }
    } else {
        for (int64_t i = 0; i < batch; i++) g_sink = v->fn(n);
        if (slow > 1) spin_for((slow - 1) * (now_s() - t0));
    }
    return (now_s() - t0) / (double)batch;
}

static void summarise(stats *s, int reps, const double *d, int64_t nd)
{
    double sorted[MAXREPS], sum = 0;
    memcpy(sorted, s->rep, (size_t)reps * sizeof(double));
    qsort(sorted, (size_t)reps, sizeof(double), cmp_d);
    for (int r = 0; r < reps; r++) sum += sorted[r];
    s->samples = reps;
    s->min = sorted[0];
    s->median = reps % 2 ? sorted[reps / 2] : 0.5 * (sorted[reps / 2 - 1] + sorted[reps / 2]);
    s->mean = sum / reps;
    if (s->percall) { /* d is sorted by the caller */
        s->calls = nd;
        s->p10 = pct(d, nd, 10);
        s->p50 = pct(d, nd, 50);
        s->p90 = pct(d, nd, 90);
        s->p95 = pct(d, nd, 95);
        s->p99 = pct(d, nd, 99);
    } else {
        s->calls = s->batch * reps;
        s->p10 = pct(sorted, reps, 10);
        s->p50 = pct(sorted, reps, 50);
        s->p90 = pct(sorted, reps, 90);
        s->p95 = pct(sorted, reps, 95);
        s->p99 = pct(sorted, reps, 99);
    }
}

/*
 * Measure every variant of K at n; returns the number of variants. Variants run
 * interleaved rep by rep (the order rotates), so drift hits all alike and rep r of every
 * variant of a group was measured at about the same moment (the gate pairs them). The
 * oneTBB peers run as a second group after a pause: libgomp's idle workers spin for
 * milliseconds after a region, and on a small machine they would steal the cores from
 * TBB's (and TBB's from libgomp's) if the two runtimes alternated call by call.
 */
static int measure(const kernel *K, int64_t n, const config *cfg, stats *out)
{
    int nv = 0;
    while (nv < MAXV && K->v[nv].fn) nv++;
    for (int v = 0; v < nv; v++) out[v].measured = 0;
    int64_t batch[MAXV];
    double ref = 0;
    double slow = g_slow_kernel && strcmp(g_slow_kernel, K->name) == 0 ? g_slow_factor : 1;
    int reps = cfg->reps > MAXREPS ? MAXREPS : cfg->reps;
    for (int group = 0; group < 2; group++) {
        int members[MAXV], nm = 0;
        for (int v = 0; v < nv; v++)
            if (is_tbb(&K->v[v]) == group && (v == 0 || in_list(cfg->variants, K->v[v].name))) members[nm++] = v;
        if (nm == 0) continue;
        if (group == 1) nanosleep(&(struct timespec){0, 50000000}, NULL);
        double fastest = INFINITY; /* the group's shortest call: one timing mode for all */
        for (int m = 0; m < nm; m++) {
            int v = members[m];
            stats *s = &out[v];
            memset(s, 0, sizeof *s);
            s->measured = 1;
            double t0 = now_s();
            g_sink = K->v[v].fn(n); /* first call: cold caches, page faults, team start */
            s->first = now_s() - t0;
            s->result = result_of(K, &K->v[v], n);
            if (v == 0) ref = s->result;
            double denom = fabs(ref) > 0 ? fabs(ref) : 1;
            s->error = fabs(s->result - ref) / denom;
            /* Reductions may differ in the last bits (another summation order); maps must
             * match exactly (each element is computed the same way). */
            s->ok = K->check == CHECK_OUTPUT_EXACT ? (s->result == ref)
                    : K->check == CHECK_OUTPUT_CLOSE ? (s->error <= 1e-12) : (s->error <= 1e-9);
            double per_call;
            batch[v] = pick_batch(K->v[v].fn, n, cfg->min_batch_s, &per_call);
            s->batch = batch[v];
            if (per_call < fastest) fastest = per_call;
        }
        /* Every variant of the group is timed the same way, call by call only when even the
         * fastest one's calls are long enough: a variant timed call by call pays a clock
         * read per call that its references timed in batches do not (a forced 2-thread
         * reduction whose probe came out at 1 us: 0.92 us call by call, 0.75 in batches). */
        for (int m = 0; m < nm; m++) out[members[m]].percall = fastest >= PERCALL_MIN_S;
        /* Long calls get fewer reps: 9 paired reps of 0.3 s calls already give a tight CI. */
        int greps = group == 0 && out[0].first > 0.3 && reps > 9 ? 9 : reps;
        int64_t nd[MAXV] = {0};
        for (int r = 0; r < greps; r++)
            for (int k = 0; k < nm; k++) {
                int v = members[(k + r) % nm]; /* rotate the order too */
                double vs = is_prange(&K->v[v]) ? slow : 1;
                out[v].rep[r] = one_rep(&K->v[v], n, batch[v], vs, out[v].percall ? g_calls[v] : NULL, &nd[v]);
            }
        for (int m = 0; m < nm; m++) {
            int v = members[m];
            if (out[v].percall) qsort(g_calls[v], (size_t)nd[v], sizeof(double), cmp_d);
            summarise(&out[v], greps, g_calls[v], nd[v]);
        }
    }
    return nv;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prange-bench [--quick] [--sizes N,N,..] [--kernels a,b|all] [--variants a,b] [--threads T,T,..]\n"
            "                    [--reps R] [--nmax N] [--no-sweep] [--json FILE] [--tsv FILE] [--git REV]\n"
            "                    [--dry-run]\n"
            "kernels:");
    for (int k = 0; k < NKERNELS; k++)
        if (!KERNELS[k]->overhead) fprintf(f, " %s", KERNELS[k]->name);
    fprintf(f, " overhead\nvariants:");
    for (int k = 0; k < NKERNELS; k++)
        for (int v = 0; v < MAXV && KERNELS[k]->v[v].fn; v++) {
            int seen = 0;
            for (int j = 0; j <= k && !seen; j++)
                for (int w = 0; w < (j < k ? MAXV : v) && KERNELS[j]->v[w].fn; w++)
                    seen |= strcmp(KERNELS[j]->v[w].name, KERNELS[k]->v[v].name) == 0;
            if (!seen) fprintf(f, " %s", KERNELS[k]->v[v].name);
        }
    fprintf(f, "\n");
}

static int64_t default_nmax(int quick)
{
    if (quick) return INT64_C(1) << 20;
    /* About 1 GiB per array, or less so that all 7.5 arrays (3 from malloc, 3 from
     * prange_alloc, the histogram input, alloc's temporary) fit in half of the available
     * memory. */
    int64_t n = INT64_C(1) << 27;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) {
                int64_t cap = (int64_t)(kb * 1024LL / 2 / 8 / 8);
                if (cap < n) n = cap;
            }
        fclose(f);
    }
    return n;
}

/* Every name of a comma list must be known: a typo must not silently measure nothing. */
static int check_list(const char *what, const char *list, int variants)
{
    if (!list) return 0;
    if (!*list) {
        fprintf(stderr, "prange-bench: empty --%s list\n", what);
        return -1;
    }
    if (strcmp(list, "all") == 0) return 0;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        int known = !variants && len == 8 && strncmp(p, "overhead", 8) == 0;
        for (int k = 0; k < NKERNELS && !known; k++) {
            if (!variants) known = !KERNELS[k]->overhead && strlen(KERNELS[k]->name) == len && strncmp(p, KERNELS[k]->name, len) == 0;
            for (int v = 0; variants && v < MAXV && KERNELS[k]->v[v].fn && !known; v++)
                known = strlen(KERNELS[k]->v[v].name) == len && strncmp(p, KERNELS[k]->v[v].name, len) == 0;
        }
        if (!known) {
            fprintf(stderr, "prange-bench: unknown %s '%.*s' (see --help for the list)\n",
                    variants ? "variant" : "kernel", (int)len, p);
            return -1;
        }
        if (!p[len]) return 0;
        p += len + 1;
    }
}

/* A whole positive number, or exit 2. */
static int64_t parse_count(const char *opt, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi) || v != floor(v)) {
        fprintf(stderr, "prange-bench: %s wants a whole number in [%g, %g], not '%s'\n", opt, lo, hi, s);
        exit(2);
    }
    return (int64_t)v;
}

/* One (kernel, size, threads) measurement of the run's plan. */
typedef struct {
    const kernel *K;
    int64_t n;
    int threads;
    const char *phase;
} item;

enum { MAXITEMS = 4096 };
static item PLAN[MAXITEMS];

static int add_item(int count, const kernel *K, int64_t n, int threads, const char *phase)
{
    if (count < MAXITEMS) PLAN[count] = (item){K, n, threads, phase};
    return count + 1;
}

/* Does the --variants selection leave anything but serial to measure for K? */
static int has_variants(const kernel *K, const config *cfg)
{
    for (int v = 1; v < MAXV && K->v[v].fn; v++)
        if (in_list(cfg->variants, K->v[v].name)) return 1;
    return 0;
}

static void fmt_duration(double s, char *out, size_t size)
{
    int t = (int)(s + 0.5);
    snprintf(out, size, "%d:%02d", t / 60, t % 60);
}

int main(int argc, char **argv)
{
    config cfg = {.reps = 0, .min_batch_s = 0};
    int64_t user_sizes[64];
    int nuser = 0, dry = 0;
    cfg.sweep = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quick") == 0) cfg.quick = 1;
        else if (strcmp(a, "--no-sweep") == 0) cfg.sweep = 0;
        else if (strcmp(a, "--dry-run") == 0) dry = 1;
        else if (!has_val || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "prange-bench: %s '%s' (see --help)\n", has_val ? "unknown argument" : "missing value or unknown argument", a);
            return 2;
        } else if (strcmp(a, "--kernels") == 0) cfg.kernels = argv[++i];
        else if (strcmp(a, "--variants") == 0) cfg.variants = argv[++i];
        else if (strcmp(a, "--json") == 0) cfg.json = argv[++i];
        else if (strcmp(a, "--tsv") == 0) cfg.tsv = argv[++i];
        else if (strcmp(a, "--git") == 0) cfg.git = argv[++i];
        else if (strcmp(a, "--reps") == 0) cfg.reps = (int)parse_count(a, argv[++i], 3, MAXREPS);
        else if (strcmp(a, "--nmax") == 0) cfg.nmax = parse_count(a, argv[++i], 1, 1e12);
        else if (strcmp(a, "--sizes") == 0) {
            if ((nuser = parse_sizes(argv[++i], user_sizes, 64)) <= 0) {
                fprintf(stderr, "prange-bench: bad --sizes '%s' (positive numbers, comma-separated)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--threads") == 0) {
            int64_t t[16];
            int k = parse_sizes(argv[++i], t, 16);
            if (k <= 0) {
                fprintf(stderr, "prange-bench: bad --threads '%s' (positive numbers, comma-separated)\n", argv[i]);
                return 2;
            }
            for (int j = 0; j < k; j++) cfg.threads[j] = (int)(t[j] > PRANGE_MAX_THREADS ? PRANGE_MAX_THREADS : t[j]);
            cfg.nthreads = k;
        } else {
            fprintf(stderr, "prange-bench: unknown argument '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (check_list("kernels", cfg.kernels, 0) || check_list("variants", cfg.variants, 1)) return 2;
    const char *slow = getenv("PERF_BENCH_SLOWDOWN");
    if (slow && *slow) {
        static char name[64];
        const char *colon = strchr(slow, ':');
        size_t len = colon ? (size_t)(colon - slow) : 0;
        char *end;
        double f = colon ? strtod(colon + 1, &end) : 0;
        if (!colon || len >= sizeof name || *end || !(f >= 1 && f <= 100)) {
            fprintf(stderr, "prange-bench: PERF_BENCH_SLOWDOWN wants KERNEL:FACTOR (factor 1..100), not '%s'\n", slow);
            return 2;
        }
        memcpy(name, slow, len);
        name[len] = '\0';
        if (check_list("PERF_BENCH_SLOWDOWN kernel", name, 0)) return 2;
        g_slow_kernel = name;
        g_slow_factor = f;
    }
    /* Quick: 15 paired reps of >= 200 us batches (CI's gate needs the repetitions);
     * full: 11 reps of >= 2 ms batches. */
    if (cfg.reps <= 0) cfg.reps = cfg.quick ? 15 : 11;
    cfg.min_batch_s = cfg.quick ? 200e-6 : 2e-3;
    if (cfg.nthreads == 0) cfg.threads[cfg.nthreads++] = prange_num_threads();

    /* --sizes alone allocates what its largest size needs, not the production arrays. */
    if (cfg.nmax <= 0) cfg.nmax = nuser ? 1 : default_nmax(cfg.quick);
    for (int i = 0; i < nuser; i++)
        if (user_sizes[i] > cfg.nmax) cfg.nmax = user_sizes[i];
    /* The sweep goes to 10^8 where memory allows (full mode). */
    int64_t sweep[32];
    int nsweep = 0;
    for (int64_t n = 1; n <= cfg.nmax && nsweep < 31; n *= 4) sweep[nsweep++] = n;
    if (!cfg.quick && cfg.nmax >= 100000000) sweep[nsweep++] = 100000000;

    /* The plan: production (or --sizes) rows, overheads, then the sweep, per thread count. */
    int nitems = 0;
    for (int ti = 0; ti < cfg.nthreads; ti++) {
        int threads = cfg.threads[ti];
        for (int k = 0; k < NKERNELS; k++) {
            const kernel *K = KERNELS[k];
            if (K->overhead || !in_list(cfg.kernels, K->name) || !has_variants(K, &cfg)) continue;
            if (nuser)
                for (int i = 0; i < nuser; i++) nitems = add_item(nitems, K, user_sizes[i], threads, "sizes");
            else
                nitems = add_item(nitems, K, K->size ? K->size(cfg.nmax) : cfg.nmax, threads, "production");
        }
        for (int k = 0; k < NKERNELS; k++) /* "overhead" selects them all */
            if (KERNELS[k]->overhead && in_list(cfg.kernels, "overhead") && has_variants(KERNELS[k], &cfg))
                nitems = add_item(nitems, KERNELS[k], 2 * (int64_t)threads, threads, "overhead");
        if (!cfg.sweep || nuser) continue;
        for (int k = 0; k < NKERNELS; k++) {
            const kernel *K = KERNELS[k];
            if (!K->sweep || !in_list(cfg.kernels, K->name) || !has_variants(K, &cfg)) continue;
            for (int i = 0; i < nsweep; i++) nitems = add_item(nitems, K, sweep[i], threads, "sweep");
        }
    }
    if (nitems == 0) {
        fprintf(stderr, "prange-bench: the selection (--kernels %s --variants %s) measures nothing\n",
                cfg.kernels ? cfg.kernels : "all", cfg.variants ? cfg.variants : "all");
        return 2;
    }
    if (nitems > MAXITEMS) {
        fprintf(stderr, "prange-bench: %d measurements planned, at most %d\n", nitems, MAXITEMS);
        return 2;
    }
    if (dry) {
        printf("prange-bench: %d measurements planned, %d reps each\n", nitems, cfg.reps);
        return 0;
    }
    /* The first call of the process: topology load, options, fork-join calibration. */
    double t0 = now_s();
    prange_opts force = {.struct_size = sizeof(prange_opts), .cost_ns = 1e9};
    prange_for_opts(0, 64, first_body, NULL, &force);
    double first_call = now_s() - t0;

    NMAX = cfg.nmax;
    /* Arrays start 0, 1 and 2 KiB past a page boundary (STREAM's OFFSET): with equal page
     * offsets every store to C[i] would 4K-alias the load of A[i] and make run-to-run
     * timings depend on the allocator's luck rather than on the loop. */
    static double *base[3];
    /* aligned_alloc wants a size that is a multiple of the alignment (C11). */
    size_t bytes = ((size_t)NMAX * 8 + 4096 + 4095) & ~(size_t)4095, hbytes = ((size_t)NMAX * 4 + 63) & ~(size_t)63;
    for (int k = 0; k < 3; k++) base[k] = aligned_alloc(4096, bytes);
    H = aligned_alloc(64, hbytes);
    if (!base[0] || !base[1] || !base[2] || !H) {
        fprintf(stderr, "prange-bench: cannot allocate %lld elements per array\n", (long long)NMAX);
        return 1;
    }
    A = base[0];
    B = base[1] + 128;
    C = base[2] + 256;
    fill_inputs(NMAX);
    PA = prange_alloc(NMAX, sizeof(double));
    PB = prange_alloc(NMAX, sizeof(double));
    PC = prange_alloc(NMAX, sizeof(double));
    if (!PA || !PB || !PC) {
        fprintf(stderr, "prange-bench: prange_alloc of %lld doubles failed\n", (long long)NMAX);
        return 1;
    }
    memcpy(PA, A, (size_t)NMAX * sizeof(double));
    memcpy(PB, B, (size_t)NMAX * sizeof(double));

    if (output_begin(&cfg, g_slow_kernel, g_slow_factor) != 0) return 1;
    FILE *T = cfg.tsv ? fopen(cfg.tsv, "w") : NULL;
    if (cfg.tsv && !T) {
        fprintf(stderr, "prange-bench: cannot write %s: %s\n", cfg.tsv, strerror(errno));
        return 1;
    }
    if (T) fprintf(T, "kernel\tvariant\tthreads\tn\tmedian_s\tp10_s\tp90_s\tns_per_elem\n");
    output_heading(&cfg, first_call);
    int wrong = 0, threads = 0;
    double start = now_s();
    for (int it = 0; it < nitems; it++) {
        const item *I = &PLAN[it];
        if (I->threads != threads) {
            threads = g_threads = I->threads;
            prange_set_num_threads(threads);
#ifdef HAVE_TBB
            bench_tbb_set_threads(threads);
#endif
        }
        char eta[16] = "?";
        if (it > 0) fmt_duration((now_s() - start) / it * (nitems - it), eta, sizeof eta);
        fprintf(stderr, "[%d/%d] %s %s n=%lld threads=%d ... ETA %s\n", it + 1, nitems, I->phase, I->K->name,
                (long long)I->n, threads, eta);
        stats s[MAXV];
        int nv = measure(I->K, I->n, &cfg, s);
        output_row(I->K, I->n, threads, I->phase, s, nv);
        for (int v = 0; v < nv; v++) {
            if (!s[v].measured) continue;
            wrong += !s[v].ok;
            if (T && strcmp(I->phase, "sweep") == 0)
                fprintf(T, "%s\t%s\t%d\t%lld\t%.9g\t%.9g\t%.9g\t%.6g\n", I->K->name, I->K->v[v].name, threads,
                        (long long)I->n, s[v].median, s[v].p10, s[v].p90, s[v].median / (double)I->n * 1e9);
        }
        /* Allocation stalls show in the tail (issue #16): p50/p95/p99 of single calls. */
        for (int v = 0; strcmp(I->K->name, "alloc") == 0 && v < nv; v++)
            if (s[v].measured && s[v].percall)
                printf("%-10s %-11s %3d   %-15s calls %lld: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, p95/p50 %.2f\n",
                       "tail", I->K->name, threads, I->K->v[v].name, (long long)s[v].calls, s[v].p50 * 1e3,
                       s[v].p95 * 1e3, s[v].p99 * 1e3, s[v].p95 / s[v].p50);
        if (I->K->overhead && nv >= 3)
            printf("%-10s %-11s %3d   overhead vs serial: omp %.3f us, prange %.3f us (%.2f x libgomp's)\n",
                   "overhead", I->K->name, threads, (s[1].median - s[0].median) * 1e6,
                   (s[2].median - s[0].median) * 1e6, (s[2].median - s[0].median) / (s[1].median - s[0].median));
    }
    char took[16];
    fmt_duration(now_s() - start, took, sizeof took);
    fprintf(stderr, "[%d/%d] done in %s\n", nitems, nitems, took);
    output_end(first_call, (double)NMAX * 52, wrong);
    if (T) fclose(T);
    for (int k = 0; k < 3; k++) free(base[k]);
    prange_free(PA);
    prange_free(PB);
    prange_free(PC);
    free(H);
    if (wrong) fprintf(stderr, "prange-bench: %d variant(s) gave a wrong result\n", wrong);
    return wrong ? 1 : 0;
}
