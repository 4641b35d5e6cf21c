/*
 * montecarlo_pi.c — pi from random points in the unit square, with a counter-based random
 * stream: point i is hashed from (seed, i), so every block draws the same numbers whoever
 * runs it, and the estimate is identical for any thread count (checked against serial).
 *
 * Numba:   @njit(parallel=True)
 *          def pi(n):
 *              c = 0
 *              for i in prange(n): x, y = rnd(i); c += x*x + y*y < 1
 *              return 4 * c / n
 *
 * Build standalone:  cc montecarlo_pi.c $(pkg-config --cflags --libs prange) -o montecarlo_pi
 * Usage: montecarlo_pi [n]   (default 10^8)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <prange.h>

/* splitmix64 of the point index: a stateless, counter-based stream. */
static inline uint64_t mix(uint64_t z)
{
    z += UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline int inside(uint64_t seed, int64_t i)
{
    double x = (double)(mix(seed ^ (2 * (uint64_t)i)) >> 11) * 0x1p-53;
    double y = (double)(mix(seed ^ (2 * (uint64_t)i + 1)) >> 11) * 0x1p-53;
    return x * x + y * y < 1.0;
}

static void hits(void *ctx, int64_t begin, int64_t end, void *acc)
{
    uint64_t seed = *(const uint64_t *)ctx;
    int64_t c = 0;
    for (int64_t i = begin; i < end; i++) c += inside(seed, i);
    *(int64_t *)acc += c;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000000;
    if (n < 1) {
        fprintf(stderr, "usage: %s [n >= 1]\n", argv[0]);
        return 2;
    }
    uint64_t seed = 2026;
    int64_t c = 0, ref = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 5;
    if (prange_reduce(0, n, prange_reducer_sum_i64(), hits, &seed, &c, &o) != 0) return 1;
    for (int64_t i = 0; i < n; i++) ref += inside(seed, i);
    double pi = 4.0 * (double)c / (double)n;
    printf("montecarlo_pi n=%lld: pi ~ %.6f (error %.2e) hits=%lld %s\n", (long long)n, pi, fabs(pi - 3.14159265358979323846),
           (long long)c, c == ref ? "OK (identical to serial)" : "MISMATCH");
    return c == ref ? 0 : 1;
}
