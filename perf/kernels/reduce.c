/*
 * reduce.c — reductions: sum (and a user prange_reduce), dot, nrm2, min with index,
 * a 256-bin histogram (an array reducer).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_TBB
#include "../tbb_variants.h"
#endif

#include "../bench.h"
#include "../native.h"

/* ---- reductions -------------------------------------------------------------------- */

static double sum_serial(int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += A[i];
    return s;
}

static double sum_omp(int64_t n)
{
    double s = 0;
    const double *a = A;
#pragma omp parallel for schedule(static) reduction(+ : s) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) s += a[i];
    return s;
}

/* The best hand-written OpenMP sum: 8 accumulators per thread break the add chain. */
static double sum_omp_multi(int64_t n)
{
    double s = 0;
    const double *a = A;
#pragma omp parallel num_threads(g_threads) reduction(+ : s)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int64_t lo = n * t / T, hi = n * (t + 1) / T, i = lo;
        double acc[8] = {0};
        for (; i + 8 <= hi; i += 8)
            for (int k = 0; k < 8; k++) acc[k] += a[i + k];
        for (; i < hi; i++) acc[0] += a[i];
        s += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
    return s;
}

/* The same 8 accumulators, -O3 -march=native (perf/native.c). */
static double sum_omp_native(int64_t n) { return bench_native_sum(A, n, g_threads); }

static double sum_prange(int64_t n) { return prange_sum_f64(A, n, NULL); }

static void sum_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    (void)ctx;
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += A[i];
    *(double *)acc = s;
}

/* A user-written prange_reduce with a naive body: what a user gets without our kernel. */
static double sum_prange_reduce(int64_t n)
{
    double s = 0;
    prange_reduce(0, n, prange_reducer_sum_f64(), sum_body, NULL, &s, NULL);
    return s;
}

static double dot_serial(int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += A[i] * B[i];
    return s;
}
static double dot_omp(int64_t n)
{
    double s = 0;
    const double *a = A, *b = B;
#pragma omp parallel for schedule(static) reduction(+ : s) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static double dot_omp_native(int64_t n) { return bench_native_dot(A, B, n, g_threads); }
static double dot_prange(int64_t n) { return prange_dot_f64(A, B, n, NULL); }

static double nrm2_serial(int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += A[i] * A[i];
    return sqrt(s);
}
static double nrm2_omp(int64_t n)
{
    double s = 0;
    const double *a = A;
#pragma omp parallel for schedule(static) reduction(+ : s) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}
static double nrm2_prange(int64_t n) { return prange_nrm2_f64(A, n, NULL); }

/* min with index: value*1e12 + index folds both into one checked number. */
static double minloc_serial(int64_t n)
{
    double best = INFINITY;
    int64_t at = -1;
    for (int64_t i = 0; i < n; i++)
        if (A[i] < best) {
            best = A[i];
            at = i;
        }
    return best * 1e12 + (double)at;
}
static double minloc_omp(int64_t n)
{
    double best = INFINITY;
    int64_t at = -1;
    const double *a = A;
#pragma omp parallel num_threads(g_threads)
    {
        double b = INFINITY;
        int64_t k = -1;
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < n; i++)
            if (a[i] < b) {
                b = a[i];
                k = i;
            }
#pragma omp critical
        if (b < best || (b == best && k < at)) {
            best = b;
            at = k;
        }
    }
    return best * 1e12 + (double)at;
}
static double minloc_prange(int64_t n)
{
    prange_loc_f64 r = prange_minloc_f64(A, n, NULL);
    return r.value * 1e12 + (double)r.index;
}

/* ---- histogram of n uint32 into 256 bins -------------------------------------------- */

#define BINS 256
static double hist_digest(const int64_t *h)
{
    double d = 0;
    for (int k = 0; k < BINS; k++) d += (double)h[k] * (double)(k + 1);
    return d;
}
static double hist_serial(int64_t n)
{
    int64_t h[BINS] = {0};
    for (int64_t i = 0; i < n; i++) h[H[i] & (BINS - 1)]++;
    return hist_digest(h);
}
static double hist_omp(int64_t n)
{
    int64_t h[BINS] = {0};
    const uint32_t *v = H;
#pragma omp parallel num_threads(g_threads)
    {
        int64_t mine[BINS] = {0};
#pragma omp for schedule(static) nowait
        for (int64_t i = 0; i < n; i++) mine[v[i] & (BINS - 1)]++;
#pragma omp critical
        for (int k = 0; k < BINS; k++) h[k] += mine[k];
    }
    return hist_digest(h);
}
static void hist_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    (void)ctx;
    int64_t *h = acc;
    for (int64_t i = b; i < e; i++) h[H[i] & (BINS - 1)]++;
}
static double hist_prange(int64_t n)
{
    int64_t h[BINS];
    prange_reducer r = prange_reducer_array_sum_i64(BINS);
    prange_reduce(0, n, &r, hist_body, NULL, h, NULL);
    return hist_digest(h);
}

#ifdef HAVE_TBB
static double tbb_sum(int64_t n) { return bench_tbb_sum(A, n, 0); }
static double tbb_sum_det(int64_t n) { return bench_tbb_sum(A, n, 1); }
#define TBB_SUM V("tbb", tbb_sum), V("tbb-det", tbb_sum_det),
#else
#define TBB_SUM
#endif

static const kernel reduce_kernels[] = {
    {.name = "sum", .bytes = 8, .check = CHECK_RETURN, .sweep = true,
     .v = {V("serial", sum_serial), V("omp", sum_omp), V("omp-multiacc", sum_omp_multi),
           V("omp-native", sum_omp_native), V("prange", sum_prange),
           V("prange-reduce", sum_prange_reduce), TBB_SUM}},
    {.name = "dot", .bytes = 16, .check = CHECK_RETURN,
     .v = {V("serial", dot_serial), V("omp", dot_omp), V("omp-native", dot_omp_native), V("prange", dot_prange)}},
    {.name = "nrm2", .bytes = 8, .check = CHECK_RETURN,
     .v = {V("serial", nrm2_serial), V("omp", nrm2_omp), V("prange", nrm2_prange)}},
    {.name = "minloc", .bytes = 8, .check = CHECK_RETURN,
     .v = {V("serial", minloc_serial), V("omp", minloc_omp), V("prange", minloc_prange)}},
    {.name = "histogram", .bytes = 4, .check = CHECK_RETURN,
     .v = {V("serial", hist_serial), V("omp", hist_omp), V("prange", hist_prange)}},
};
BENCH_REGISTER(reduce_kernels)
