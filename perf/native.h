/* native.h — the hand-written OpenMP peers of the in-cache kernels, compiled -O3
 * -march=native (perf/native.c): what a user tuning for this one machine writes. */
#ifndef PRANGE_PERF_NATIVE_H
#define PRANGE_PERF_NATIVE_H
#include <stdint.h>
/* 8 accumulators per thread, the threads' sums added by OpenMP's reduction. */
double bench_native_sum(const double *a, int64_t n, int threads);
double bench_native_dot(const double *a, const double *b, int64_t n, int threads);
#endif
