/*
 * profile.c — the cost of PRANGE_PROFILE (docs/profiling.md): an inline call (a
 * 1-iteration loop) and a ~1.6 us loop, each against calling the body directly. The
 * profile is read once per process: compare a run under PRANGE_PROFILE=1 with one without
 * (prange-bench --kernels overhead), side by side on one machine. Overhead rows without an
 * OpenMP variant: the libgomp comparison and its gate skip them.
 *
 * Written for the perf suite's kernel families (perf/bench.h, perf/kernels/meson.build);
 * on branch prof, which predates that layout, the same rows were in perf/bench.c.
 */
#include "../bench.h"

static void empty_body(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)b;
    (void)e;
    __asm__ volatile("" ::: "memory");
}

/* ~1.6 ns per iteration: a dependent chain the compiler cannot shorten. */
static void chain_body(void *c, int64_t b, int64_t e)
{
    double x = c ? *(double *)c : 1.0;
    for (int64_t i = b; i < e; i++) x = x * 0.9999999 + 1e-9;
    g_sink = x;
}

#define US_ITERS 1000 /* whatever n the harness passes: the row is "one ~1 us loop" */

static double prof_serial_inline(int64_t n)
{
    (void)n;
    empty_body(NULL, 0, 1);
    return 0;
}
static double prof_prange_inline(int64_t n)
{
    (void)n;
    prange_for(0, 1, empty_body, NULL);
    return 0;
}
static double prof_serial_1us(int64_t n)
{
    (void)n;
    chain_body(NULL, 0, US_ITERS);
    return 0;
}
static double prof_prange_1us(int64_t n)
{
    (void)n;
    prange_for(0, US_ITERS, chain_body, NULL);
    return 0;
}

static const kernel profile_kernels[] = {
    {.name = "prof-inline", .check = CHECK_RETURN, .overhead = true,
     .v = {V("serial", prof_serial_inline), V("prange", prof_prange_inline)}},
    {.name = "prof-1us", .check = CHECK_RETURN, .overhead = true,
     .v = {V("serial", prof_serial_1us), V("prange", prof_prange_1us)}},
};
BENCH_REGISTER(profile_kernels)
