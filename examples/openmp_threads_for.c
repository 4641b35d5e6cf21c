/*
 * openmp_threads_for.c — existing OpenMP code gets libprange's scheduling decisions with a
 * one-line change: ask prange_threads_for() for the team size, pass it to num_threads()
 * and if(). Small loops then run serially (no fork), large ones on the whole budget, and a
 * container's CPU quota is respected.
 *
 *   before:  #pragma omp parallel for reduction(+ : s)
 *   after:   int t = prange_threads_for(n, 1.0);
 *            #pragma omp parallel for reduction(+ : s) num_threads(t) if (t > 1)
 *
 * Build standalone:  cc -fopenmp openmp_threads_for.c $(pkg-config --cflags --libs prange)
 * Usage: openmp_threads_for [n]   (default 10^7; also runs n = 100)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <prange.h>

/* a = b + s*c, and the sum of a, in one OpenMP loop. */
static double triad_sum(double *a, const double *b, const double *c, double s, int64_t n)
{
    double sum = 0;
    int t = prange_threads_for(n, 1.0); /* ~1 ns per iteration: 3 loads/stores and an add */
#pragma omp parallel for schedule(static) reduction(+ : sum) num_threads(t) if (t > 1)
    for (int64_t i = 0; i < n; i++) {
        a[i] = b[i] + s * c[i];
        sum += a[i];
    }
    return sum;
}

static int check(int64_t n)
{
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b), *c = malloc((size_t)n * sizeof *c);
    if (!a || !b || !c) return 1;
    for (int64_t i = 0; i < n; i++) {
        b[i] = (double)(i % 17);
        c[i] = (double)(i % 5) * 0.25;
    }
    double sum = triad_sum(a, b, c, 3.0, n);
    double ref = 0;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = b[i] + 3.0 * c[i];
        bad += a[i] != v;
        ref += v;
    }
    /* Values are multiples of 0.25 below 2^7 and n <= 10^8: every partial sum is exact. */
    int ok = !bad && sum == ref;
    printf("openmp_threads_for n=%lld: team %d, sum=%.1f %s\n", (long long)n, prange_threads_for(n, 1.0), sum,
           ok ? "OK" : "MISMATCH");
    free(a);
    free(b);
    free(c);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    if (n < 1 || n > 100000000) {
        fprintf(stderr, "usage: %s [1 <= n <= 10^8]\n", argv[0]);
        return 2;
    }
    return check(100) | check(n);
}
