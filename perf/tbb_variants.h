/* tbb_variants.h — oneTBB peers for the perf suite (built when libtbb-dev is present). */
#ifndef PRANGE_PERF_TBB_H
#define PRANGE_PERF_TBB_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
double bench_tbb_sum(const double *a, int64_t n, int deterministic);
void bench_tbb_triad(double *c, const double *a, const double *b, double s, int64_t n);
void bench_tbb_map(double *c, const double *a, int64_t n);
void bench_tbb_set_threads(int threads);
const char *bench_tbb_version(void);
#ifdef __cplusplus
}
#endif
#endif
