/* native.c — see native.h. Built with -O3 -march=native (perf/meson.build), so the
 * 8 accumulators become 1-2 vector registers of this CPU's widest kind. */
#include "native.h"

#define ACC8(TERM)                                                                          \
    double s = 0;                                                                           \
    _Pragma("omp parallel num_threads(threads) reduction(+ : s)")                           \
    {                                                                                       \
        int t = omp_get_thread_num(), T = omp_get_num_threads();                            \
        int64_t lo = n * t / T, hi = n * (t + 1) / T, i = lo;                               \
        double acc[8] = {0};                                                                \
        for (; i + 8 <= hi; i += 8)                                                         \
            for (int k = 0; k < 8; k++) acc[k] += TERM(i + k);                              \
        for (; i < hi; i++) acc[0] += TERM(i);                                              \
        s += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])); \
    }                                                                                       \
    return s

#include <omp.h>

#define T_SUM(i) a[i]
#define T_DOT(i) (a[i] * b[i])
double bench_native_sum(const double *a, int64_t n, int threads) { ACC8(T_SUM); }
double bench_native_dot(const double *a, const double *b, int64_t n, int threads) { ACC8(T_DOT); }
