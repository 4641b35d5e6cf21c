/*
 * maps.c — element-wise and row-wise work: row sums of a 1000-column matrix, a
 * compute-bound map (~20 ns/element), a cheap map (~1 ns/element), the prefix sum.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_TBB
#include "../tbb_variants.h"
#endif

#include "../bench.h"

/* ---- row sums of a row-major matrix (n elements, 1000 columns) -------------------- */

#define ROW_COLS 1000
static void rows_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    for (int64_t r = b; r < e; r++) {
        const double *row = A + r * ROW_COLS;
        double s = 0;
        for (int k = 0; k < ROW_COLS; k++) s += row[k];
        C[r] = s;
    }
}
static double rows_serial(int64_t n)
{
    rows_body(NULL, 0, n / ROW_COLS);
    return 0;
}
static double rows_omp(int64_t n)
{
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t r = 0; r < n / ROW_COLS; r++) rows_body(NULL, r, r + 1);
    return 0;
}
static double rows_prange(int64_t n)
{
    prange_for(0, n / ROW_COLS, rows_body, NULL);
    return 0;
}

/* ---- compute-bound map: about 20 ns per element --------------------------------------- */

static inline double heavy(double v) { return exp(sin(v)) * sqrt(v + 1.0) + cos(v); }
static void map_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    for (int64_t i = b; i < e; i++) C[i] = heavy(A[i]);
}
static double map_serial(int64_t n)
{
    map_body(NULL, 0, n);
    return 0;
}
static double map_omp(int64_t n)
{
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) C[i] = heavy(A[i]);
    return 0;
}
static double map_prange(int64_t n)
{
    prange_for(0, n, map_body, NULL);
    return 0;
}
static double map_prange_hint(int64_t n)
{
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 20};
    prange_for_opts(0, n, map_body, NULL, &o);
    return 0;
}

/* The same compute-bound map through PRANGE_MAP1: the element expression is inlined. */
PRANGE_MAP1(heavy_map, double, double, int, exp(sin(a)) * sqrt(a + 1.0) + cos(a))
static double map_prange_map(int64_t n)
{
    heavy_map(A, 0, C, n, NULL);
    return 0;
}

/* ---- a cheap map, about 1 ns per element: y = a / (1 + a^2) ----------------------------- */

PRANGE_MAP1(ratio_map, double, double, int, a / (1.0 + a * a))
static void cheap_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    for (int64_t i = b; i < e; i++) C[i] = A[i] / (1.0 + A[i] * A[i]);
}
static double cheap_serial(int64_t n)
{
    cheap_body(NULL, 0, n);
    return 0;
}
static double cheap_omp(int64_t n)
{
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) C[i] = A[i] / (1.0 + A[i] * A[i]);
    return 0;
}
static double cheap_prange(int64_t n)
{
    prange_for(0, n, cheap_body, NULL);
    return 0;
}
static double cheap_prange_map(int64_t n)
{
    ratio_map(A, 0, C, n, NULL);
    return 0;
}

/* ---- inclusive prefix sum (read n, write n) ------------------------------------------------ */

static double scan_serial(int64_t n)
{
    double run = 0;
    for (int64_t i = 0; i < n; i++) C[i] = run += A[i];
    return 0;
}
/* The usual hand-written OpenMP scan: per-thread sums, offsets, then each thread's scan. */
static double scan_omp(int64_t n)
{
    double sums[PRANGE_MAX_THREADS + 1];
    int T = g_threads;
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t lo = n * t / k, hi = n * (t + 1) / k;
        double s = 0;
        for (int64_t i = lo; i < hi; i++) s += A[i];
        sums[t + 1] = s;
#pragma omp barrier
#pragma omp single
        {
            sums[0] = 0;
            for (int j = 1; j <= k; j++) sums[j] += sums[j - 1];
        }
        double run = sums[t];
        for (int64_t i = lo; i < hi; i++) C[i] = run += A[i];
    }
    return 0;
}
static double scan_prange(int64_t n)
{
    prange_scan_f64(A, C, n, 0, NULL);
    return 0;
}

static double rows_prange_kernel(int64_t n)
{
    prange_row_sums_f64(A, C, n / ROW_COLS, ROW_COLS, NULL);
    return 0;
}

#ifdef HAVE_TBB
static double tbb_map_c(int64_t n)
{
    bench_tbb_map(C, A, n);
    return 0;
}
#define TBB_MAP V("tbb", tbb_map_c),
#else
#define TBB_MAP
#endif

static int64_t size_map(int64_t nmax) { return nmax / 16 > 1 ? nmax / 16 : nmax; } /* ~20 ns each */
static int64_t elements_rows(int64_t n) { return n / ROW_COLS * ROW_COLS; }

static const kernel map_kernels[] = {
    {.name = "rowsums", .bytes = 8, .check = CHECK_OUTPUT_CLOSE, .elements = elements_rows,
     .v = {V("serial", rows_serial), V("omp", rows_omp), V("prange", rows_prange),
           V("prange-rows", rows_prange_kernel)}},
    {.name = "map1ns", .bytes = 16, .check = CHECK_OUTPUT_EXACT,
     .v = {V("serial", cheap_serial), V("omp", cheap_omp), V("prange", cheap_prange),
           V("prange-map", cheap_prange_map)}},
    {.name = "scan", .bytes = 16, .check = CHECK_RETURN,
     .v = {V("serial", scan_serial), V("omp", scan_omp), V("prange", scan_prange)}},
    {.name = "map", .bytes = 0, .check = CHECK_OUTPUT_EXACT, .sweep = true, .size = size_map,
     .v = {V("serial", map_serial), V("omp", map_omp), V("prange", map_prange), V("prange-hint", map_prange_hint),
           V("prange-map", map_prange_map), TBB_MAP}},
};
BENCH_REGISTER(map_kernels)
