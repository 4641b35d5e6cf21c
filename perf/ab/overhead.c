/*
 * overhead.c — per-call overhead of three entry points, for A/B runs of two builds
 * (perf/ab/run): a forced 2-thread empty loop (cost_ns 1e9 on 4 elements: always a team),
 * an inline 64-element loop (prange_for: the serial plan), two such loops of different
 * bodies called in turn (a sequence of small loops: inline2), and a forced 2-thread sum
 * reduction of 8 default blocks (perf/kernels/overhead.c's ovh-reduce), and an inline sum
 * reduction of 64 elements, default options (ireduce: a small dot product per solver
 * step). Builds against any libprange with prange_reduce (0.1's prange_opts had no
 * struct_size).
 *   overhead [reps]          medians and minimums of `reps` timed rounds
 *   overhead --count MODE    one untimed round of MODE (forced | inline | inline2 | reduce | ireduce) inside
 *                            measure(), for callgrind --toggle-collect=measure (instruction
 *                            counts)
 */
#include <prange.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FORCED_CALLS 20000
#define INLINE_CALLS 200000
#define REDUCE_CALLS 20000
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
static void body64b(void *c, int64_t b, int64_t e)
{
    const double *v = c;
    double s = 1;
    for (int64_t i = b; i < e; i++) s += v[i];
    sink = s;
}
static void sum64(void *c, int64_t b, int64_t e, void *acc)
{
    const double *v = c;
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += v[i];
    *(double *)acc = s;
}
static void one_sum(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    *(double *)acc += (double)(e - b);
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
enum { FORCED, INLINE, REDUCE, INLINE2, IREDUCE };
static void calls_of(int mode, const prange_opts *o, int calls)
{
    prange_opts r = *o;
    r.grain = 2048; /* the default block: 8 blocks, 4 a member */
    for (int i = 0; i < calls; i++) {
        if (mode == INLINE) prange_for(0, 64, body64, x);
        else if (mode == INLINE2) prange_for(0, 64, i & 1 ? body64b : body64, x);
        else if (mode == FORCED) prange_for_opts(0, 4, empty, NULL, o);
        else if (mode == IREDUCE) {
            double s = 0;
            prange_reduce(0, 64, prange_reducer_sum_f64(), sum64, x, &s, NULL);
            sink = s;
        } else {
            double s = 0;
            prange_reduce(0, 4 * 4096, prange_reducer_sum_f64(), one_sum, NULL, &s, &r);
            sink = s;
        }
    }
}
/* The calls counted under callgrind (noinline: the toggle's anchor; warming up is not). */
__attribute__((noinline)) void measure(int mode, const prange_opts *o, int calls)
{
    calls_of(mode, o, calls);
}
int main(int argc, char **argv)
{
    for (int i = 0; i < 64; i++) x[i] = i;
    prange_opts o = forced();
    calls_of(FORCED, &o, 2000); /* warm: figures measured, costs learned */
    calls_of(INLINE, &o, 2000);
    calls_of(INLINE2, &o, 2000);
    calls_of(REDUCE, &o, 2000);
    calls_of(IREDUCE, &o, 2000);
    if (argc > 2 && strcmp(argv[1], "--count") == 0) {
        int mode = strcmp(argv[2], "inline") == 0    ? INLINE
                   : strcmp(argv[2], "inline2") == 0 ? INLINE2
                   : strcmp(argv[2], "reduce") == 0  ? REDUCE
                   : strcmp(argv[2], "ireduce") == 0 ? IREDUCE
                                                     : FORCED;
        measure(mode, &o, mode == INLINE || mode == INLINE2 || mode == IREDUCE ? INLINE_CALLS
                          : mode == REDUCE                                 ? REDUCE_CALLS
                                                                           : FORCED_CALLS);
        return 0;
    }
    int reps = argc > 1 ? atoi(argv[1]) : 21;
    if (reps < 1 || reps > 1000) reps = 21;
    double f[1000], in[1000], rd[1000], in2[1000], ird[1000];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        measure(FORCED, &o, FORCED_CALLS);
        double t1 = now();
        measure(INLINE, &o, INLINE_CALLS);
        double t2 = now();
        measure(REDUCE, &o, REDUCE_CALLS);
        double t3 = now();
        measure(INLINE2, &o, INLINE_CALLS);
        double t4 = now();
        measure(IREDUCE, &o, INLINE_CALLS);
        ird[r] = (now() - t4) / INLINE_CALLS;
        in2[r] = (t4 - t3) / INLINE_CALLS;
        f[r] = (t1 - t0) / FORCED_CALLS;
        in[r] = (t2 - t1) / INLINE_CALLS;
        rd[r] = (t3 - t2) / REDUCE_CALLS;
    }
    qsort(f, (size_t)reps, sizeof f[0], cmp);
    qsort(in, (size_t)reps, sizeof in[0], cmp);
    qsort(rd, (size_t)reps, sizeof rd[0], cmp);
    qsort(in2, (size_t)reps, sizeof in2[0], cmp);
    qsort(ird, (size_t)reps, sizeof ird[0], cmp);
    printf("forced2 median %.1f min %.1f ns   inline64 median %.2f min %.2f ns   reduce2 median %.1f min %.1f ns   "
           "inline2 median %.2f min %.2f ns   ireduce64 median %.2f min %.2f ns\n",
           f[reps / 2], f[0], in[reps / 2], in[0], rd[reps / 2], rd[0], in2[reps / 2], in2[0], ird[reps / 2], ird[0]);
    return 0;
}
