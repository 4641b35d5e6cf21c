/*
 * stream.c — STREAM kernels (copy, scale, add, triad; McCalpin): memory bandwidth,
 * and the triad's variants: a cost hint, the callback alone, prange_threads_for in an
 * OpenMP loop, prange_alloc'd arrays, oneTBB.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_TBB
#include "../tbb_variants.h"
#endif

#include "../bench.h"

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
#ifdef HAVE_TBB
static double tbb_triad_c(int64_t n)
{
    bench_tbb_triad(C, A, B, SCALAR, n);
    return 0;
}
#define TBB_TRIAD V("tbb", tbb_triad_c),
#else
#define TBB_TRIAD
#endif

static const kernel stream_kernels[] = {
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
};
BENCH_REGISTER(stream_kernels)
