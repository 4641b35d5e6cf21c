/*
 * overhead.c — per-call overhead of two entry points, for A/B runs of two builds
 * (perf/ab/run): a forced 2-thread empty loop (cost_ns 1e9 on 4 elements: always a team)
 * and an inline 64-element loop (prange_for: the serial plan). Builds against any
 * libprange (0.1's prange_opts had no struct_size).
 *   overhead [reps]          medians and minimums of `reps` timed rounds
 *   overhead --count MODE    one untimed round of MODE (forced | inline) inside measure(),
 *                            for callgrind --toggle-collect=measure (instruction counts)
 */
#include <prange.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORCED_CALLS 20000
#define INLINE_CALLS 200000
static volatile double sink;
static double x[64];
static void empty(void *c, int64_t b, int64_t e) { (void)c; (void)b; (void)e; }
static void body64(void *c, int64_t b, int64_t e)
{
    const double *v = c;
    double s = 0;
    for (int64_t i = b; i < e; i++) s += v[i];
    sink = s;
}
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}
static int cmp(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}
static prange_opts forced(void)
{
#ifdef PRANGE_OPTS_INIT
    prange_opts o = PRANGE_OPTS_INIT;
#else
    prange_opts o = {0};
#endif
    o.cost_ns = 1e9;
    return o;
}
static void calls_of(int inline_loop, const prange_opts *o, int calls)
{
    for (int i = 0; i < calls; i++)
        if (inline_loop) prange_for(0, 64, body64, x);
        else prange_for_opts(0, 4, empty, NULL, o);
}
/* The calls counted under callgrind (noinline: the toggle's anchor; warming up is not). */
__attribute__((noinline)) void measure(int inline_loop, const prange_opts *o, int calls)
{
    calls_of(inline_loop, o, calls);
}
int main(int argc, char **argv)
{
    for (int i = 0; i < 64; i++) x[i] = i;
    prange_opts o = forced();
    calls_of(0, &o, 2000); /* warm: figures measured, costs learned */
    calls_of(1, &o, 2000);
    if (argc > 2 && strcmp(argv[1], "--count") == 0) {
        int inl = strcmp(argv[2], "inline") == 0;
        measure(inl, &o, inl ? INLINE_CALLS : FORCED_CALLS);
        return 0;
    }
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    if (reps < 1 || reps > 1000) reps = 21;
    double f[1000], in[1000];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        measure(0, &o, FORCED_CALLS);
        double t1 = now();
        measure(1, &o, INLINE_CALLS);
        double t2 = now();
        f[r] = (t1 - t0) / FORCED_CALLS;
        in[r] = (t2 - t1) / INLINE_CALLS;
    }
    qsort(f, (size_t)reps, sizeof f[0], cmp);
    qsort(in, (size_t)reps, sizeof in[0], cmp);
    printf("forced2 median %.1f min %.1f ns   inline64 median %.2f min %.2f ns\n", f[reps / 2], f[0], in[reps / 2],
           in[0]);
    return 0;
}
