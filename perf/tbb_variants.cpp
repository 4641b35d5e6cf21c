// tbb_variants.cpp — the same kernels written the way a oneTBB user would.
#include "tbb_variants.h"

#include <cmath>
#include <functional>
#include <memory>
#include <oneapi/tbb.h>
#include <oneapi/tbb/version.h>

static std::unique_ptr<tbb::global_control> g_limit;

void bench_tbb_set_threads(int threads)
{
    g_limit.reset();
    g_limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, (size_t)threads);
}

const char *bench_tbb_version(void) { return TBB_VERSION_STRING; }

double bench_tbb_sum(const double *a, int64_t n, int deterministic)
{
    auto body = [a](const tbb::blocked_range<int64_t> &r, double s) {
        for (int64_t i = r.begin(); i < r.end(); i++) s += a[i];
        return s;
    };
    if (deterministic) // grain 1024: with the default grain of 1 it is orders of magnitude slower
        return tbb::parallel_deterministic_reduce(tbb::blocked_range<int64_t>(0, n, 1024), 0.0, body, std::plus<double>());
    return tbb::parallel_reduce(tbb::blocked_range<int64_t>(0, n), 0.0, body, std::plus<double>());
}

void bench_tbb_triad(double *c, const double *a, const double *b, double s, int64_t n)
{
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [=](const tbb::blocked_range<int64_t> &r) {
        for (int64_t i = r.begin(); i < r.end(); i++) c[i] = a[i] + s * b[i];
    });
}

void bench_tbb_map(double *c, const double *a, int64_t n)
{
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n), [=](const tbb::blocked_range<int64_t> &r) {
        for (int64_t i = r.begin(); i < r.end(); i++) {
            double v = a[i];
            c[i] = std::exp(std::sin(v)) * std::sqrt(v + 1.0) + std::cos(v);
        }
    });
}
