/*
 * overhead.c — per-call overhead, EPCC syncbench style: an empty loop and a reduction
 * of n = 2 x threads iterations, minus the same work done serially.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../bench.h"

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
static const kernel overhead_kernels[] = {
    {.name = "ovh-for", .check = CHECK_RETURN, .overhead = true,
     .v = {V("serial", ovh_serial_for), V("omp", ovh_omp_for), V("prange", ovh_prange_for)}},
    {.name = "ovh-reduce", .check = CHECK_RETURN, .overhead = true,
     .v = {V("serial", ovh_serial_red), V("omp", ovh_omp_red), V("prange", ovh_prange_red)}},
};
BENCH_REGISTER(overhead_kernels)
