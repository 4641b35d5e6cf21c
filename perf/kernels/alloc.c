/*
 * alloc.c — allocate, first-touch and free n doubles: calloc + a serial touch,
 * malloc + an OpenMP memset by partition, prange_alloc.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../bench.h"

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
static const kernel alloc_kernels[] = {
    {.name = "alloc", .bytes = 8, .check = CHECK_RETURN,
     .v = {V("serial", alloc_calloc_serial), V("omp", alloc_omp_memset), V("prange", alloc_prange)}},
};
BENCH_REGISTER(alloc_kernels)
