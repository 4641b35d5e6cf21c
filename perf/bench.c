/*
 * bench.c — the perf suite's measuring program: serial vs hand-written OpenMP vs libprange
 * (and oneTBB when built with it), side by side in one run, at production sizes.
 *
 * Methodology (docs/benchmarking.md): each (kernel, size) runs every variant interleaved
 * rep by rep, so drift hits all alike; the first call of each variant is reported apart;
 * a sample is a batch of calls long enough to time (>= --min-batch-us), divided by its
 * call count; we report min, p10, median, p90, p99. Every variant's result is checked
 * against the serial reference before its time counts.
 *
 * Output: a table on stdout, a JSON artifact (--json) and the sweep as TSV (--tsv).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <hwloc.h>

#include "prange.h"

#ifdef HAVE_TBB
#include "tbb_variants.h"
#endif

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "?"
#endif

/* ---- data ----------------------------------------------------------------------- */

static double *A, *B, *C;      /* STREAM arrays and reduction inputs, NMAX each */
static double *PA, *PB, *PC;   /* the same from prange_alloc (first-touched in parallel) */
static uint32_t *H;            /* histogram input */
static int64_t NMAX;
static int g_threads;          /* team size for this configuration */
static const double SCALAR = 3.0;
static volatile double g_sink; /* keeps results alive */
/* Test hook for the perf gate (tests, docs/benchmarking.md): PERF_BENCH_SLOWDOWN=KERNEL:F
 * makes every libprange variant of KERNEL F times slower by spinning after each timed
 * call or batch, so a gate can be shown to flag a known regression. */
static const char *g_slow_kernel;
static double g_slow_factor = 1;

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

/* ---- STREAM: copy c=a, scale b=s*c, add c=a+b, triad a=b+s*c (McCalpin) ------------ */
/* We keep inputs intact: copy C=A, scale C=s*A, add C=A+B, triad C=A+s*B. Same traffic. */

typedef struct {
    int op;
} stream_ctx;

static void stream_body(void *p, int64_t b, int64_t e)
{
    int op = ((stream_ctx *)p)->op;
    double *restrict c = C;
    const double *restrict a = A, *restrict bb = B;
    switch (op) {
    case 0: for (int64_t i = b; i < e; i++) c[i] = a[i]; break;
    case 1: for (int64_t i = b; i < e; i++) c[i] = SCALAR * a[i]; break;
    case 2: for (int64_t i = b; i < e; i++) c[i] = a[i] + bb[i]; break;
    default: for (int64_t i = b; i < e; i++) c[i] = a[i] + SCALAR * bb[i]; break;
    }
}

#define STREAM_FNS(name, op)                                                                   \
    static double name##_serial(int64_t n)                                                     \
    {                                                                                          \
        stream_ctx c = {op};                                                                   \
        stream_body(&c, 0, n);                                                                 \
        return 0;                                                                              \
    }                                                                                          \
    static double name##_omp(int64_t n)                                                        \
    {                                                                                          \
        double *restrict c = C;                                                                \
        const double *restrict a = A, *restrict bb = B;                                        \
        (void)bb;                                                                              \
        _Pragma("omp parallel for schedule(static) num_threads(g_threads)")                    \
        for (int64_t i = 0; i < n; i++) c[i] = STREAM_EXPR_##op;                             \
        return 0;                                                                              \
    }                                                                                          \
    static double name##_prange(int64_t n)                                                     \
    {                                                                                          \
        stream_ctx c = {op};                                                                   \
        prange_for(0, n, stream_body, &c);                                                     \
        return 0;                                                                              \
    }
#define STREAM_EXPR_0 a[i]
#define STREAM_EXPR_1 SCALAR * a[i]
#define STREAM_EXPR_2 a[i] + bb[i]
#define STREAM_EXPR_3 a[i] + SCALAR * bb[i]
STREAM_FNS(copy, 0)
STREAM_FNS(scale, 1)
STREAM_FNS(add, 2)
STREAM_FNS(triad, 3)

/* The same loop on arrays from prange_alloc: only the memory differs. */
static void triad_palloc_body(void *p, int64_t b, int64_t e)
{
    (void)p;
    double *restrict c = PC;
    const double *restrict a = PA, *restrict bb = PB;
    for (int64_t i = b; i < e; i++) c[i] = a[i] + SCALAR * bb[i];
}
static double triad_prange_alloc(int64_t n)
{
    prange_for(0, n, triad_palloc_body, NULL);
    return 0;
}

/* ---- allocate, first-touch and free n doubles ------------------------------------------ */

static double alloc_calloc_serial(int64_t n)
{
    volatile double *p = calloc((size_t)n, sizeof(double));
    for (int64_t i = 0; i < n; i += 512) p[i] = 0; /* touch every 4 KiB page */
    double r = p[n - 1];
    free((void *)p);
    return r;
}
static double alloc_omp_memset(int64_t n)
{
    double *p = aligned_alloc(64, ((size_t)n * sizeof(double) + 63) & ~(size_t)63);
    int T = g_threads;
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), k = omp_get_num_threads();
        int64_t lo = n * t / k, hi = n * (t + 1) / k;
        memset(p + lo, 0, (size_t)(hi - lo) * sizeof(double));
    }
    double r = p[n - 1];
    free(p);
    return r;
}
static double alloc_prange(int64_t n)
{
    double *p = prange_alloc(n, sizeof(double));
    double r = p[n - 1];
    prange_free(p);
    return r;
}

/* Existing OpenMP code with prange_threads_for() in num_threads()/if(): issue #6's path. */
static double triad_omp_threads_for(int64_t n)
{
    double *restrict c = C;
    const double *restrict a = A, *restrict bb = B;
    int t = prange_threads_for(n, 0.5);
    if (t > g_threads) t = g_threads;
#pragma omp parallel for schedule(static) num_threads(t) if (t > 1)
    for (int64_t i = 0; i < n; i++) c[i] = a[i] + SCALAR * bb[i];
    return 0;
}

/* The serial loop called through a function pointer, as prange calls a body: separates
 * the cost of the callback from the cost of the runtime. */
static double triad_serial_fnptr(int64_t n)
{
    static void (*volatile body)(void *, int64_t, int64_t) = stream_body;
    stream_ctx c = {3};
    body(&c, 0, n);
    return 0;
}

static double triad_prange_hint(int64_t n)
{
    stream_ctx c = {3};
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 0.5};
    prange_for_opts(0, n, stream_body, &c, &o);
    return 0;
}

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

/* ---- 2-D 5-point Jacobi sweep on an m x m grid, m = sqrt(n) ------------------------ */

static int64_t side(int64_t n)
{
    int64_t m = (int64_t)sqrt((double)n);
    return m < 3 ? 3 : m;
}
static int64_t g_m;
static void jacobi_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    int64_t m = g_m;
    for (int64_t i = b; i < e; i++)
        for (int64_t j = 1; j < m - 1; j++)
            C[i * m + j] = 0.25 * (A[(i - 1) * m + j] + A[(i + 1) * m + j] + A[i * m + j - 1] + A[i * m + j + 1]);
}
static double jacobi_serial(int64_t n)
{
    g_m = side(n);
    jacobi_body(NULL, 1, g_m - 1);
    return 0;
}
static double jacobi_omp(int64_t n)
{
    g_m = side(n);
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 1; i < g_m - 1; i++) jacobi_body(NULL, i, i + 1);
    return 0;
}
static double jacobi_prange(int64_t n)
{
    g_m = side(n);
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 0.5 * (double)g_m};
    prange_for_opts(1, g_m - 1, jacobi_body, NULL, &o);
    return 0;
}

/* ---- tiled transpose C = A^T on an m x m matrix ---------------------------------------- */

#define TILE 32
static void transpose_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    int64_t m = g_m;
    for (int64_t ti = b * TILE; ti < e * TILE && ti < m; ti += TILE)
        for (int64_t tj = 0; tj < m; tj += TILE)
            for (int64_t i = ti; i < ti + TILE && i < m; i++)
                for (int64_t j = tj; j < tj + TILE && j < m; j++) C[j * m + i] = A[i * m + j];
}
static int64_t tiles(int64_t n)
{
    g_m = side(n);
    return (g_m + TILE - 1) / TILE;
}
static double transpose_serial(int64_t n)
{
    transpose_body(NULL, 0, tiles(n));
    return 0;
}
static double transpose_omp(int64_t n)
{
    int64_t t = tiles(n);
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t k = 0; k < t; k++) transpose_body(NULL, k, k + 1);
    return 0;
}
static double transpose_prange(int64_t n)
{
    int64_t t = tiles(n);
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1.0 * TILE * (double)g_m};
    prange_for_opts(0, t, transpose_body, NULL, &o);
    return 0;
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

/* ---- the kernel table ------------------------------------------------------------------- */

typedef double (*run_fn)(int64_t n);
typedef struct {
    const char *name;
    run_fn fn;
    double **out; /* where an output kernel writes; NULL = C */
} variant;
#define V(NAME, FN) {.name = (NAME), .fn = (FN)}

/* How a variant's result is checked against serial's. */
typedef enum {
    CHECK_RETURN,       /* the return value, within 1e-9 relative (reductions sum in other orders) */
    CHECK_OUTPUT_EXACT, /* the array written (C, or *out), bitwise: each element computed alike */
    CHECK_OUTPUT_CLOSE, /* the array written, within 1e-12 (per-element sums in other orders) */
} check_kind;

enum { MAXV = 8 };
typedef struct kernel {
    const char *name;
    double bytes;                   /* bytes moved per element touched (GB/s); 0 = compute-bound */
    check_kind check;
    bool stream;                    /* its GB/s count toward the run's measured bandwidth limit */
    bool sweep;                     /* part of the size sweep */
    int64_t (*size)(int64_t nmax);  /* production size; NULL = nmax */
    int64_t (*elements)(int64_t n); /* elements a call at n touches; NULL = n */
    variant v[MAXV];
} kernel;

static int64_t size_map(int64_t nmax) { return nmax / 16 > 1 ? nmax / 16 : nmax; } /* ~20 ns each */
static int64_t elements_square(int64_t n) { return side(n) * side(n); }
static int64_t elements_rows(int64_t n) { return n / ROW_COLS * ROW_COLS; }

#ifdef HAVE_TBB
#define TBB_SUM V("tbb", tbb_sum), V("tbb-det", tbb_sum_det),
#define TBB_TRIAD V("tbb", tbb_triad_c),
#define TBB_MAP V("tbb", tbb_map_c),
static double tbb_sum(int64_t n) { return bench_tbb_sum(A, n, 0); }
static double tbb_sum_det(int64_t n) { return bench_tbb_sum(A, n, 1); }
static double tbb_triad_c(int64_t n) { bench_tbb_triad(C, A, B, SCALAR, n); return 0; }
static double tbb_map_c(int64_t n) { bench_tbb_map(C, A, n); return 0; }
#else
#define TBB_SUM
#define TBB_TRIAD
#define TBB_MAP
#endif

static const kernel KERNELS[] = {
    {.name = "copy", .bytes = 16, .check = CHECK_OUTPUT_EXACT, .stream = true,
     .v = {V("serial", copy_serial), V("omp", copy_omp), V("prange", copy_prange)}},
    {.name = "scale", .bytes = 16, .check = CHECK_OUTPUT_EXACT, .stream = true,
     .v = {V("serial", scale_serial), V("omp", scale_omp), V("prange", scale_prange)}},
    {.name = "add", .bytes = 24, .check = CHECK_OUTPUT_EXACT, .stream = true,
     .v = {V("serial", add_serial), V("omp", add_omp), V("prange", add_prange)}},
    {.name = "triad", .bytes = 24, .check = CHECK_OUTPUT_EXACT, .stream = true, .sweep = true,
     .v = {V("serial", triad_serial), V("omp", triad_omp), V("prange", triad_prange),
           V("prange-hint", triad_prange_hint), V("callback", triad_serial_fnptr),
           V("omp+threads_for", triad_omp_threads_for),
           {.name = "prange+alloc", .fn = triad_prange_alloc, .out = &PC}, TBB_TRIAD}},
    {.name = "sum", .bytes = 8, .check = CHECK_RETURN, .sweep = true,
     .v = {V("serial", sum_serial), V("omp", sum_omp), V("omp-multiacc", sum_omp_multi), V("prange", sum_prange),
           V("prange-reduce", sum_prange_reduce), TBB_SUM}},
    {.name = "dot", .bytes = 16, .check = CHECK_RETURN,
     .v = {V("serial", dot_serial), V("omp", dot_omp), V("prange", dot_prange)}},
    {.name = "nrm2", .bytes = 8, .check = CHECK_RETURN,
     .v = {V("serial", nrm2_serial), V("omp", nrm2_omp), V("prange", nrm2_prange)}},
    {.name = "minloc", .bytes = 8, .check = CHECK_RETURN,
     .v = {V("serial", minloc_serial), V("omp", minloc_omp), V("prange", minloc_prange)}},
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
    {.name = "jacobi", .bytes = 16, .check = CHECK_OUTPUT_EXACT, .elements = elements_square,
     .v = {V("serial", jacobi_serial), V("omp", jacobi_omp), V("prange", jacobi_prange)}},
    {.name = "histogram", .bytes = 4, .check = CHECK_RETURN,
     .v = {V("serial", hist_serial), V("omp", hist_omp), V("prange", hist_prange)}},
    {.name = "transpose", .bytes = 16, .check = CHECK_OUTPUT_EXACT, .elements = elements_square,
     .v = {V("serial", transpose_serial), V("omp", transpose_omp), V("prange", transpose_prange)}},
    {.name = "alloc", .bytes = 8, .check = CHECK_RETURN,
     .v = {V("serial", alloc_calloc_serial), V("omp", alloc_omp_memset), V("prange", alloc_prange)}},
};
#define NKERNELS (int)(sizeof KERNELS / sizeof KERNELS[0])

/* ---- statistics ----------------------------------------------------------------------- */

enum { MAXREPS = 256, MAXCALLS = 1 << 15 };
/* Calls at least this long are timestamped one by one (a clock read costs ~25 ns, a few
 * percent at 1 us); shorter ones are only timed as batch means. */
static const double PERCALL_MIN_S = 1e-6;

typedef struct {
    double first, min, p10, p50, median, p90, p99, mean;
    double result, error; /* result and its relative error against serial */
    int ok, samples, measured, percall;
    int64_t batch, calls;
    double rep[MAXREPS]; /* batch mean of each repetition, in the order measured */
} stats;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile of a sorted array, linear between closest ranks; NaN (written as null) when
 * there are too few values for it to mean anything (p90 needs 10, p99 needs 100). */
static double pct(const double *s, int64_t n, double p)
{
    if (n <= 0 || (p >= 99 && n < 100) || ((p >= 90 || p <= 10) && n < 10)) return NAN;
    double x = p / 100.0 * (double)(n - 1);
    int64_t k = (int64_t)x;
    if (k >= n - 1) return s[n - 1];
    return s[k] + (x - (double)k) * (s[k + 1] - s[k]);
}

/* ---- options ---------------------------------------------------------------------------- */

typedef struct {
    int quick, reps;
    double min_batch_s;
    const char *kernels, *json, *tsv, *git, *sizes;
    const char *variants; /* NULL = all; else these (and "serial", the reference) */
    int threads[16], nthreads;
    int64_t nmax;
    int sweep;
} config;

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

/* ---- JSON ------------------------------------------------------------------------------- */

static FILE *J;
static int j_first_row = 1;

static void json_str(const char *k, const char *v, int comma)
{
    fprintf(J, "\"%s\": \"", k);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', J);
        if ((unsigned char)*p >= 0x20) fputc(*p, J);
        else fprintf(J, "\\u%04x", (unsigned char)*p); /* newlines of the config text */
    }
    fprintf(J, "\"%s", comma ? ", " : "");
}

/* A number for JSON: NaN and infinities (no JSON literal) are written as null. */
static void json_num(const char *key, double v, const char *fmt)
{
    fprintf(J, "\"%s\": ", key);
    if (isfinite(v)) fprintf(J, fmt, v);
    else fputs("null", J);
}

/* The 1-minute load average: recorded at start and end, since a loaded machine widens
 * every confidence interval (NaN when unreadable). */
static double g_load_start = NAN;
static double load_average(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = NAN;
        fclose(f);
    }
    return l;
}

static void read_line_of(const char *path, const char *key, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (key && strncmp(line, key, strlen(key)) != 0) continue;
        char *v = key ? strchr(line, ':') : line;
        if (!v) continue;
        if (key) v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        size_t len = strlen(v);
        if (len >= size) len = size - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        break;
    }
    fclose(f);
}

static void json_metadata(const config *cfg)
{
    /* The topology from hwloc itself (the bench uses only libprange's public API). */
    hwloc_topology_t topo;
    int cores = 0, pus = 0, numa = 0, packages = 0;
    long long cache[4] = {0};
    char *cpuset = NULL;
    if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0) {
        cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
        pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
        numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
        packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
        static const hwloc_obj_type_t level[4] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE,
                                                   HWLOC_OBJ_L3CACHE};
        for (int l = 1; l < 4; l++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(topo, level[l], 0);
            if (o && o->attr) cache[l] = (long long)o->attr->cache.size;
        }
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        if (set && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0) hwloc_bitmap_list_asprintf(&cpuset, set);
        hwloc_bitmap_free(set);
        hwloc_topology_destroy(topo);
    }
    /* What libprange itself reports: options with their sources, plans (prange-info's text). */
    char *config = NULL;
    size_t config_len = 0;
    FILE *cf = open_memstream(&config, &config_len);
    if (cf) {
        prange_print_config(cf);
        fclose(cf);
    }
    struct utsname u;
    uname(&u);
    char cpu[256], gov[64], kern[300];
    read_line_of("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    read_line_of("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", NULL, gov, sizeof gov);
    snprintf(kern, sizeof kern, "%s %s %s", u.sysname, u.release, u.machine);
    unsigned hv = hwloc_get_api_version();
    char hwloc_v[32];
    snprintf(hwloc_v, sizeof hwloc_v, "%u.%u.%u", hv >> 16, (hv >> 8) & 0xff, hv & 0xff);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    /* The machine's fingerprint: what decides whether two runs can be compared. No host
     * name, so a fresh machine of the same kind matches a committed baseline. Memory is
     * MemTotal rounded up to 4 GiB (the kernel's reservations vary a little). */
    char mem[64];
    long long mem_kb = 0;
    read_line_of("/proc/meminfo", "MemTotal", mem, sizeof mem);
    sscanf(mem, "%lld", &mem_kb);
    long long mem_gib = (mem_kb + (4LL << 20) - 1) / (4LL << 20) * 4;
    fprintf(J, "{\n\"schema\": 2,\n\"fingerprint\": {");
    json_str("cpu", cpu, 1);
    fprintf(J, "\"cpus\": %ld, \"memory_gib\": %lld, ", sysconf(_SC_NPROCESSORS_ONLN), mem_gib);
    json_str("kernel_release", u.release, 0);
    fprintf(J, "},\n\"meta\": {");
    json_num("load_start", g_load_start, "%.2f");
    fputs(", ", J);
    if (g_slow_kernel) {
        char inj[128];
        snprintf(inj, sizeof inj, "%s:%g", g_slow_kernel, g_slow_factor);
        json_str("injected_slowdown", inj, 1);
    }
    json_str("date", date, 1);
    json_str("git", cfg->git ? cfg->git : "unknown", 1);
    json_str("cpu", cpu, 1);
    json_str("kernel", kern, 1);
    json_str("governor", gov[0] ? gov : "unreadable", 1);
    fprintf(J, "\"cores\": %d, \"pus\": %d, \"numa_nodes\": %d, \"packages\": %d, ", cores, pus, numa, packages);
    fprintf(J, "\"l1d\": %lld, \"l2\": %lld, \"l3\": %lld, ", cache[1], cache[2], cache[3]);
    json_str("cpuset", cpuset ? cpuset : "", 1);
    free(cpuset);
#ifdef __clang__
    json_str("compiler", "clang " __clang_version__, 1);
#else
    json_str("compiler", "gcc " __VERSION__, 1);
#endif
    json_str("cflags", BENCH_CFLAGS, 1);
    fprintf(J, "\"openmp\": %d, ", _OPENMP);
    json_str("hwloc", hwloc_v, 1);
#ifdef HAVE_TBB
    json_str("tbb", bench_tbb_version(), 1);
#else
    json_str("tbb", "absent", 1);
#endif
    json_str("libprange", prange_version_string(), 1);
    fprintf(J, "\"quick\": %d, \"reps\": %d, \"min_batch_us\": %g, \"nmax\": %lld, ", cfg->quick,
            cfg->reps, cfg->min_batch_s * 1e6, (long long)cfg->nmax);
    json_str("config", config ? config : "", 0);
    free(config);
    fprintf(J, "},\n\"rows\": [\n");
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
        s->p99 = pct(d, nd, 99);
    } else {
        s->calls = s->batch * reps;
        s->p10 = pct(sorted, reps, 10);
        s->p50 = pct(sorted, reps, 50);
        s->p90 = pct(sorted, reps, 90);
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
            s->percall = per_call >= PERCALL_MIN_S;
        }
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

/* Bytes moved by one call at n. */
static double bytes_of(const kernel *K, int64_t n)
{
    return K->bytes * (double)(K->elements ? K->elements(n) : n);
}

static double g_bw_limit; /* best GB/s of the STREAM kernels at the largest size */

static void report(const kernel *K, int64_t n, int threads, const char *phase, const stats *s, int nv)
{
    double best_ref = INFINITY;
    for (int v = 0; v < nv; v++)
        if (s[v].measured && (strcmp(K->v[v].name, "serial") == 0 ||
                              (strncmp(K->v[v].name, "omp", 3) == 0 && !strstr(K->v[v].name, "threads_for"))))
            if (s[v].median < best_ref) best_ref = s[v].median;
    double bytes = bytes_of(K, n);
    for (int v = 0; v < nv; v++) {
        if (!s[v].measured) continue;
        double gbs = K->bytes > 0 ? bytes / s[v].median / 1e9 : 0;
        if (K->stream && strcmp(phase, "production") == 0 && gbs > g_bw_limit) g_bw_limit = gbs;
        double ratio = s[v].median / best_ref;
        printf("%-10s %-11s %3d %12lld %-15s %11.3f %11.3f %11.3f %11.3f %-9s %8.2f %6.3f %s\n", phase, K->name,
               threads, (long long)n, K->v[v].name, s[v].median * 1e6, s[v].p10 * 1e6, s[v].p90 * 1e6,
               s[v].p99 * 1e6, s[v].percall ? "per-call" : "batch", gbs, ratio, s[v].ok ? "" : "WRONG RESULT");
        if (!J) continue;
        fprintf(J, "%s{\"phase\": \"%s\", \"kernel\": \"%s\", \"variant\": \"%s\", \"threads\": %d, \"n\": %lld, ",
                j_first_row ? "" : ",\n", phase, K->name, K->v[v].name, threads, (long long)n);
        json_num("first_s", s[v].first, "%.9g");
        fputs(", ", J);
        json_num("min_s", s[v].min, "%.9g");
        fputs(", ", J);
        json_num("median_s", s[v].median, "%.9g");
        fputs(", ", J);
        json_num("mean_s", s[v].mean, "%.9g");
        fprintf(J, ", \"dist\": \"%s\", \"calls\": %lld, ", s[v].percall ? "per-call" : "batch-mean",
                (long long)s[v].calls);
        json_num("p10_s", s[v].p10, "%.9g");
        fputs(", ", J);
        json_num("p50_s", s[v].p50, "%.9g");
        fputs(", ", J);
        json_num("p90_s", s[v].p90, "%.9g");
        fputs(", ", J);
        json_num("p99_s", s[v].p99, "%.9g");
        fprintf(J, ", \"samples\": %d, \"batch\": %lld, \"reps_s\": [", s[v].samples, (long long)s[v].batch);
        for (int r = 0; r < s[v].samples; r++) {
            if (isfinite(s[v].rep[r])) fprintf(J, "%s%.6g", r ? ", " : "", s[v].rep[r]);
            else fprintf(J, "%snull", r ? ", " : "");
        }
        fprintf(J, "], \"bytes\": %.17g, ", bytes);
        json_num("gbs", gbs, "%.6g");
        fputs(", ", J);
        json_num("ratio", ratio, "%.6g");
        fputs(", ", J);
        json_num("result", s[v].result, "%.17g");
        fputs(", ", J);
        json_num("rel_error", s[v].error, "%.3g");
        fprintf(J, ", \"ok\": %s}", s[v].ok ? "true" : "false");
        j_first_row = 0;
    }
}

/* ---- per-call overhead (EPCC syncbench style) ---------------------------------------------- */

static void empty_body(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)b;
    (void)e;
    __asm__ volatile("" ::: "memory");
}
static void one_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    *(double *)acc += (double)(e - b);
}

static double ovh_omp_for(int64_t n)
{
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) __asm__ volatile("" ::: "memory");
    return 0;
}
static double ovh_prange_for(int64_t n)
{
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e9}; /* force the team: this measures the team's cost */
    prange_for_opts(0, n, empty_body, NULL, &o);
    return 0;
}
static double ovh_serial_for(int64_t n)
{
    for (int64_t i = 0; i < n; i++) __asm__ volatile("" ::: "memory");
    return 0;
}
static double ovh_omp_red(int64_t n)
{
    double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) s += 1.0;
    return s;
}
static double ovh_prange_red(int64_t n)
{
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e9, .grain = 2048}; /* the default block */
    double s = 0;
    prange_reduce(0, n * 4096, prange_reducer_sum_f64(), one_body, NULL, &s, &o); /* >= 2 blocks per thread */
    return s / 4096;
}
static double ovh_serial_red(int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += 1.0;
    return s;
}

/* Overhead "kernels": n = 2 x threads iterations of an empty loop, and a reduction. */
static const kernel OVERHEAD[] = {
    {.name = "ovh-for", .check = CHECK_RETURN,
     .v = {V("serial", ovh_serial_for), V("omp", ovh_omp_for), V("prange", ovh_prange_for)}},
    {.name = "ovh-reduce", .check = CHECK_RETURN,
     .v = {V("serial", ovh_serial_red), V("omp", ovh_omp_red), V("prange", ovh_prange_red)}},
};

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: prange-bench [--quick] [--sizes N,N,..] [--kernels a,b|all] [--variants a,b] [--threads T,T,..]\n"
            "                    [--reps R] [--nmax N] [--no-sweep] [--json FILE] [--tsv FILE] [--git REV]\n"
            "                    [--dry-run]\n"
            "kernels:");
    for (int k = 0; k < NKERNELS; k++) fprintf(f, " %s", KERNELS[k].name);
    fprintf(f, " overhead\nvariants:");
    for (int k = 0; k < NKERNELS; k++)
        for (int v = 0; v < MAXV && KERNELS[k].v[v].fn; v++) {
            int seen = 0;
            for (int j = 0; j <= k && !seen; j++)
                for (int w = 0; w < (j < k ? MAXV : v) && KERNELS[j].v[w].fn; w++)
                    seen |= strcmp(KERNELS[j].v[w].name, KERNELS[k].v[v].name) == 0;
            if (!seen) fprintf(f, " %s", KERNELS[k].v[v].name);
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
            if (!variants) known = strlen(KERNELS[k].name) == len && strncmp(p, KERNELS[k].name, len) == 0;
            for (int v = 0; variants && v < MAXV && KERNELS[k].v[v].fn && !known; v++)
                known = strlen(KERNELS[k].v[v].name) == len && strncmp(p, KERNELS[k].v[v].name, len) == 0;
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
            const kernel *K = &KERNELS[k];
            if (!in_list(cfg.kernels, K->name) || !has_variants(K, &cfg)) continue;
            if (nuser)
                for (int i = 0; i < nuser; i++) nitems = add_item(nitems, K, user_sizes[i], threads, "sizes");
            else
                nitems = add_item(nitems, K, K->size ? K->size(cfg.nmax) : cfg.nmax, threads, "production");
        }
        for (int k = 0; k < 2; k++)
            if (in_list(cfg.kernels, "overhead") && has_variants(&OVERHEAD[k], &cfg))
                nitems = add_item(nitems, &OVERHEAD[k], 2 * (int64_t)threads, threads, "overhead");
        if (!cfg.sweep || nuser) continue;
        for (int k = 0; k < NKERNELS; k++) {
            const kernel *K = &KERNELS[k];
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
    g_load_start = load_average();

    /* The first call of the process: topology load, options, fork-join calibration. */
    double t0 = now_s();
    prange_opts force = {.struct_size = sizeof(prange_opts), .cost_ns = 1e9};
    prange_for_opts(0, 64, empty_body, NULL, &force);
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

    if (cfg.json && !(J = fopen(cfg.json, "w"))) {
        fprintf(stderr, "prange-bench: cannot write %s: %s\n", cfg.json, strerror(errno));
        return 1;
    }
    FILE *T = cfg.tsv ? fopen(cfg.tsv, "w") : NULL;
    if (T) fprintf(T, "kernel\tvariant\tthreads\tn\tmedian_s\tp10_s\tp90_s\tns_per_elem\n");
    if (J) json_metadata(&cfg);

    printf("libprange perf: nmax=%lld per array, reps=%d, min batch %.0f us, first call %.1f us\n",
           (long long)NMAX, cfg.reps, cfg.min_batch_s * 1e6, first_call * 1e6);
    printf("ratio = median of the variant's batch means / the best median of serial and OpenMP in this row\n");
    printf("%-10s %-11s %3s %12s %-15s %11s %11s %11s %11s %-9s %8s %6s\n", "phase", "kernel", "thr", "n", "variant",
           "median_us", "p10_us", "p90_us", "p99_us", "dist", "GB/s", "ratio");
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
        report(I->K, I->n, threads, I->phase, s, nv);
        for (int v = 0; v < nv; v++) {
            if (!s[v].measured) continue;
            wrong += !s[v].ok;
            if (T && strcmp(I->phase, "sweep") == 0)
                fprintf(T, "%s\t%s\t%d\t%lld\t%.9g\t%.9g\t%.9g\t%.6g\n", I->K->name, I->K->v[v].name, threads,
                        (long long)I->n, s[v].median, s[v].p10, s[v].p90, s[v].median / (double)I->n * 1e9);
        }
        if (I->K >= OVERHEAD && I->K < OVERHEAD + 2)
            printf("%-10s %-11s %3d   overhead vs serial: omp %.3f us, prange %.3f us (%.2f x libgomp's)\n",
                   "overhead", I->K->name, threads, (s[1].median - s[0].median) * 1e6,
                   (s[2].median - s[0].median) * 1e6, (s[2].median - s[0].median) / (s[1].median - s[0].median));
    }
    char took[16];
    fmt_duration(now_s() - start, took, sizeof took);
    fprintf(stderr, "[%d/%d] done in %s\n", nitems, nitems, took);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double data_bytes = (double)NMAX * 52;
    printf("bandwidth limit (best STREAM kernel): %.2f GB/s; peak RSS %.1f MiB (data %.1f MiB)\n", g_bw_limit,
           (double)ru.ru_maxrss / 1024, data_bytes / 1048576);
    if (J) {
        fprintf(J, "\n],\n");
        json_num("load_end", load_average(), "%.2f");
        fprintf(J, ", \"first_call_s\": %.9g, \"bandwidth_limit_gbs\": %.6g, \"peak_rss_bytes\": %lld, "
                   "\"data_bytes\": %.0f, \"wrong_results\": %d\n}\n",
                first_call, g_bw_limit, (long long)ru.ru_maxrss * 1024, data_bytes, wrong);
        fclose(J);
    }
    if (T) fclose(T);
    for (int k = 0; k < 3; k++) free(base[k]);
    prange_free(PA);
    prange_free(PB);
    prange_free(PC);
    free(H);
    if (wrong) fprintf(stderr, "prange-bench: %d variant(s) gave a wrong result\n", wrong);
    return wrong ? 1 : 0;
}
