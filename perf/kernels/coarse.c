/*
 * coarse.c — few expensive iterations (issue #14): 256 iterations of about 1 ms each.
 *
 * first-call: a loop of 256 x ~1 ms with no cost hint, every timed call a FIRST call of
 * libprange's scheduler for that loop (a fresh opts.key per call: nothing learned), against
 * `omp parallel for schedule(static)` over the same iterations. Target: <= 1.15x OpenMP.
 * coarse-reduce: a prange_reduce over 256 x ~1 ms where the caller says the iterations are
 * coarse (grain = 1, or cost_ns = 1 ms), against an OpenMP `reduction(+:s)` loop. Target:
 * <= 1.10x OpenMP (bitwise identity for 1..16 threads is tests/test_online.c, "coarse");
 * prange-grain1 learns the cost from its earlier calls (the warm-up's); prange-first is
 * grain 1 with every call a first call (a fresh opts.key), which times a first slice of
 * blocks inline before handing the rest to the team: its target is first-call's, 1.15x.
 *
 * An iteration is a dependent floating-point recurrence whose length is calibrated once per
 * process to take about 1 ms here: deterministic work whose value every variant reproduces
 * bit for bit (one noinline function, the same steps). A call costs 128-256 ms on 2 cores,
 * so these are production rows only (not in the sweep), and the quick run (arrays of 2^20
 * elements or fewer) does 16 iterations instead of 256.
 */
#include <omp.h>
#include <time.h>

#include "../bench.h"

#define COARSE_NS 1e6  /* what one iteration costs, as the caller declares it */

static int64_t g_steps; /* recurrence steps of one ~1 ms iteration (calibrated once) */

/* Iteration i: x <- x (1 - 2^-20) + 2^-20 from 1 + i/1024, g_steps times (stays in
 * [1, 1.25] for i < 256: no denormals, no overflow); noinline: no caller vectorises across i. */
__attribute__((noinline)) static double work(int64_t i)
{
    double x = 1.0 + (double)i * 0x1p-10;
    for (int64_t k = 0; k < g_steps; k++) x = x * (1.0 - 0x1p-20) + 0x1p-20;
    return x;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return 1e9 * (double)t.tv_sec + (double)t.tv_nsec;
}

/* Steps per ~1 ms: the fastest of 5 timed runs of 2^16 steps (a preemption only slows one). */
static void calibrate(void)
{
    if (g_steps) return;
    g_steps = 1 << 16;
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now_ns();
        g_sink = work(r);
        double t = now_ns() - t0;
        if (r == 0 || t < best) best = t;
    }
    g_steps = best > 0 ? (int64_t)((double)(1 << 16) * COARSE_NS / best) : 1 << 20;
    if (g_steps < 1) g_steps = 1;
}

/* 256 iterations at production size; 16 in the quick run (2^20-element arrays or fewer). */
static int64_t size_coarse(int64_t nmax)
{
    int64_t n = nmax > (INT64_C(1) << 20) ? 256 : 16;
    return n < nmax ? n : nmax;
}

/* ---- first-call: C[i] = work(i) -------------------------------------------------------- */

/* One distinct key per call (first-call's prange), so every
 * call is a first call for the learned-cost table (512 slots): 14 calls per variant in a
 * full-run row, 18 in a quick one; past KEYS calls in one process (--reps near 256, or
 * several --threads) the keys repeat and those calls are learned ones. */
enum { KEYS = 320 };
typedef struct {
    char key[KEYS];
    unsigned next;
} keys;
static keys g_loop_keys, g_reduce_keys; /* a loop's key must not be a reduction's */

static void first_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    for (int64_t i = b; i < e; i++) C[i] = work(i);
}
static double first_serial(int64_t n)
{
    calibrate();
    first_body(NULL, 0, n);
    return 0;
}
static double first_omp(int64_t n)
{
    calibrate();
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) C[i] = work(i);
    return 0;
}
static const void *fresh_key(keys *k) { return &k->key[k->next++ % KEYS]; }

static double first_prange(int64_t n)
{
    calibrate();
    prange_opts o = PRANGE_OPTS_INIT; /* no cost hint, no grain */
    o.key = fresh_key(&g_loop_keys);
    prange_for_opts(0, n, first_body, NULL, &o);
    return 0;
}

/* ---- coarse-reduce: sum of work(i) ------------------------------------------------------- */

static void reduce_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    (void)ctx;
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += work(i);
    *(double *)acc = s;
}
static double reduce_serial(int64_t n)
{
    calibrate();
    double s = 0;
    reduce_body(NULL, 0, n, &s);
    return s;
}
static double reduce_omp(int64_t n)
{
    calibrate();
    double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) s += work(i);
    return s;
}
/* grain 1 alone (no hint): blocks of one iteration, the team from the cost learned in the
 * earlier calls of this body (key NULL), or from a first slice (a fresh key). */
static double reduce_with(int64_t n, int64_t grain, double cost_ns, const void *key)
{
    calibrate();
    prange_opts o = PRANGE_OPTS_INIT;
    o.grain = grain;
    o.cost_ns = cost_ns;
    o.key = key;
    double s = 0;
    if (prange_reduce(0, n, prange_reducer_sum_f64(), reduce_body, NULL, &s, &o) != 0) return -1;
    return s;
}
static double reduce_grain1(int64_t n) { return reduce_with(n, 1, 0, NULL); }
static double reduce_first(int64_t n) { return reduce_with(n, 1, 0, fresh_key(&g_reduce_keys)); }
static double reduce_hint(int64_t n) { return reduce_with(n, 0, COARSE_NS, NULL); }

static const kernel coarse_kernels[] = {
    {.name = "first-call", .bytes = 0, .check = CHECK_OUTPUT_EXACT, .size = size_coarse,
     .v = {V("serial", first_serial), V("omp", first_omp), V("prange", first_prange)}},
    {.name = "coarse-reduce", .bytes = 0, .check = CHECK_RETURN, .size = size_coarse,
     .v = {V("serial", reduce_serial), V("omp", reduce_omp), V("prange-grain1", reduce_grain1),
           V("prange-first", reduce_first), V("prange-hint", reduce_hint)}},
};
BENCH_REGISTER(coarse_kernels)
