/*
 * p2p.c — the Parallel Research Kernels' p2p (synch_p2p) pattern, hyperplane variant: a
 * wavefront over an m x n grid, grid[i][j] = grid[i-1][j] + grid[i][j-1] - grid[i-1][j-1],
 * swept one anti-diagonal at a time (the cells of a diagonal are independent; each
 * diagonal needs the previous two). Each iteration ends by feeding the far corner back:
 * grid[0][0] = -grid[m-1][n-1].
 *
 * That is m + n - 3 short loops per iteration (8000 at 4000 x 4000), most of them far too
 * small for a fork-join each: the iterations run inside one prange_region, where each
 * diagonal is planned on the region's team and shared out (or run by one member, when
 * short) with a barrier between diagonals instead of a fork-join. The corner is written
 * by the body of the last diagonal, whose single cell is the corner's source.
 *
 * Values are integers held exactly in doubles: the grid after k iterations is the serial
 * one bit for bit, and the corner is k * (m + n - 2) (PRK's check); both are checked.
 *
 * Build standalone:  cc p2p.c $(pkg-config --cflags --libs prange) -o p2p
 * Usage: p2p [m [n [iterations]]]   (default 1000 x 1000, 10 iterations)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <prange.h>

typedef struct {
    double *g;
    int64_t m, n; /* rows, columns */
    int64_t d;    /* the diagonal i + j = d being swept */
} wave;

/* Cells i in [ib, ie) of diagonal d (column j = d - i). */
static void diagonal(void *p, int64_t ib, int64_t ie)
{
    const wave *w = p;
    double *g = w->g;
    int64_t n = w->n;
    for (int64_t i = ib; i < ie; i++) {
        int64_t j = w->d - i;
        g[i * n + j] = g[(i - 1) * n + j] + g[i * n + j - 1] - g[(i - 1) * n + j - 1];
    }
    if (w->d == w->m + w->n - 2 && ie == w->m) g[0] = -g[(w->m - 1) * n + n - 1]; /* the corner */
}

/* The rows of diagonal d: max(1, d - (n - 1)) .. min(m - 1, d - 1). */
static int64_t first_row(const wave *w) { return w->d - (w->n - 1) > 1 ? w->d - (w->n - 1) : 1; }
static int64_t last_row(const wave *w) { return w->d - 1 < w->m - 1 ? w->d - 1 : w->m - 1; }

static void sweep_serial(wave w, int iterations)
{
    for (int k = 0; k < iterations; k++)
        for (w.d = 2; w.d <= w.m + w.n - 2; w.d++) diagonal(&w, first_row(&w), last_row(&w) + 1);
}

typedef struct {
    wave w;
    int iterations;
} run;

/* Every member sweeps every diagonal: the loop calls share each one out. */
static void sweep_member(void *p)
{
    const run *r = p;
    wave w = r->w; /* this member's own diagonal index */
    for (int k = 0; k < r->iterations; k++)
        for (w.d = 2; w.d <= w.m + w.n - 2; w.d++) prange_for(first_row(&w), last_row(&w) + 1, diagonal, &w);
}

static void init(double *g, int64_t m, int64_t n)
{
    memset(g, 0, (size_t)(m * n) * sizeof *g);
    for (int64_t j = 0; j < n; j++) g[j] = (double)j;
    for (int64_t i = 0; i < m; i++) g[i * n] = (double)i;
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    int64_t m = argc > 1 ? atoll(argv[1]) : 1000, n = argc > 2 ? atoll(argv[2]) : m;
    int iterations = argc > 3 ? atoi(argv[3]) : 10;
    if (m < 2 || n < 2 || m > 40000 || n > 40000 || iterations < 1 || iterations > 100000) {
        fprintf(stderr, "usage: %s [m [n [iterations]]]  (2 <= m, n <= 40000, 1 <= iterations <= 100000)\n", argv[0]);
        return 2;
    }
    double *g = prange_alloc(m * n, sizeof *g), *s = malloc((size_t)(m * n) * sizeof *s);
    if (!g || !s) return 1;
    init(g, m, n);
    init(s, m, n);
    run r = {{g, m, n, 0}, iterations};
    double t0 = seconds();
    int rc = prange_region(sweep_member, &r, NULL);
    double t1 = seconds();
    sweep_serial((wave){s, m, n, 0}, iterations);
    double t2 = seconds();
    double corner = g[(m - 1) * n + n - 1], want = (double)iterations * (double)(m + n - 2);
    int ok = rc == 0 && corner == want && memcmp(g, s, (size_t)(m * n) * sizeof *g) == 0;
    printf("p2p %lldx%lld, %d iterations: corner %.0f (expected %.0f), %.3f ms per iteration (serial %.3f) %s\n",
           (long long)m, (long long)n, iterations, corner, want, 1e3 * (t1 - t0) / iterations,
           1e3 * (t2 - t1) / iterations, ok ? "OK (bitwise)" : "MISMATCH");
    prange_free(g);
    free(s);
    return ok ? 0 : 1;
}
