/*
 * stream_triad.c — STREAM triad a = b + s*c on prange_alloc arrays (pages first-touched by
 * the threads that use them), as an element-wise map defined in one line. Checked bitwise
 * against a serial loop.
 *
 * Numba:   @vectorize(['float64(float64, float64, float64)'], target='parallel')
 *          def triad(b, c, s): return b + s * c
 *
 * Build standalone:  cc stream_triad.c $(pkg-config --cflags --libs prange) -o stream_triad
 * Usage: stream_triad [n]   (default 2^25)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <prange.h>

PRANGE_MAP2(triad, double, double, double, double, a + s * b)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : INT64_C(1) << 25;
    if (n < 1) {
        fprintf(stderr, "usage: %s [n >= 1]\n", argv[0]);
        return 2;
    }
    double *a = prange_alloc(n, sizeof *a), *b = prange_alloc(n, sizeof *b), *c = prange_alloc(n, sizeof *c);
    double *ref = malloc((size_t)n * sizeof *ref);
    if (!a || !b || !c || !ref) return 1;
    for (int64_t i = 0; i < n; i++) {
        b[i] = (double)(i % 100);
        c[i] = (double)(i % 7) * 0.5;
    }
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        if (triad(b, c, 3.0, a, n, NULL) != 0) return 1;
        double t = now() - t0;
        best = t < best ? t : best;
    }
    for (int64_t i = 0; i < n; i++) ref[i] = b[i] + 3.0 * c[i];
    int ok = memcmp(a, ref, (size_t)n * sizeof *a) == 0;
    printf("stream_triad n=%lld: best %.3f ms, %.1f GB/s, %s\n", (long long)n, best * 1e3, 24.0 * (double)n / best / 1e9,
           ok ? "OK (bitwise)" : "MISMATCH");
    prange_free(a);
    prange_free(b);
    prange_free(c);
    free(ref);
    return ok ? 0 : 1;
}
