/*
 * heat.c — 2-D heat equation by Jacobi iteration to convergence: a 5-point stencil over
 * tiles of the grid (prange_for_2d), then the largest change with a max reduction. Each
 * cell is computed the same way as serially and max is exact, so the iteration count and
 * the final grid are bitwise those of a serial run (checked).
 *
 * The iterations run inside one prange_region: one team for the whole solve, each sweep
 * and each reduction shared out among its members with a barrier between them, instead of
 * two fork-joins per iteration (OpenMP's `omp parallel` around a loop of `omp for`).
 * Every member runs the same iteration loop and gets the same reduction result, so every
 * member stops at the same iteration.
 *
 * Numba:   @njit(parallel=True)
 *          def sweep(u, v):
 *              for i in prange(1, n - 1):
 *                  for j in range(1, n - 1): v[i, j] = 0.25 * (u[i-1, j] + u[i+1, j] + u[i, j-1] + u[i, j+1])
 *
 * Build standalone:  cc heat.c $(pkg-config --cflags --libs prange) -lm -o heat
 * Usage: heat [m]   (grid m x m, default 512)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prange.h>

typedef struct {
    const double *u;
    double *v;
    int64_t m;
} grid;

static void stencil(void *p, int64_t ib, int64_t ie, int64_t jb, int64_t je)
{
    grid *g = p;
    int64_t m = g->m;
    for (int64_t i = ib; i < ie; i++)
        for (int64_t j = jb; j < je; j++)
            g->v[i * m + j] = 0.25 * (g->u[(i - 1) * m + j] + g->u[(i + 1) * m + j] + g->u[i * m + j - 1] + g->u[i * m + j + 1]);
}

static void change(void *p, int64_t b, int64_t e, void *acc)
{
    grid *g = p;
    double d = *(double *)acc;
    for (int64_t k = b; k < e; k++) {
        double c = fabs(g->v[k] - g->u[k]);
        d = c > d ? c : d;
    }
    *(double *)acc = d;
}

/* Iterate until the largest change is below tol; returns the iteration count. */
static int solve_serial(double *u, double *v, int64_t m, double tol)
{
    for (int it = 1; it <= 100000; it++) {
        grid g = {u, v, m};
        double d = 0;
        stencil(&g, 1, m - 1, 1, m - 1);
        change(&g, 0, m * m, &d);
        double *t = u;
        u = v, v = t;
        if (d < tol) return it;
    }
    return -1;
}

typedef struct {
    double *u, *v;
    int64_t m;
    double tol;
    int iterations; /* written by member 0 */
} solve_ctx;

/* The same iterations on every member of the region: each keeps its own pointers (the
 * same arrays) and its own copy of the largest change. */
static void solve_member(void *p)
{
    solve_ctx *s = p;
    double *u = s->u, *v = s->v;
    int it = 1;
    for (; it <= 100000; it++) {
        grid g = {u, v, s->m};
        double d = 0;
        prange_for_2d(1, s->m - 1, 1, s->m - 1, 32, 256, stencil, &g, NULL);
        prange_reduce(0, s->m * s->m, prange_reducer_max_f64(), change, &g, &d, NULL);
        double *t = u;
        u = v, v = t;
        if (d < s->tol) break;
    }
    if (prange_thread_id() == 0) s->iterations = it <= 100000 ? it : -1;
}

static int solve(double *u, double *v, int64_t m, double tol)
{
    solve_ctx s = {u, v, m, tol, -1};
    prange_region(solve_member, &s, NULL);
    return s.iterations;
}

static void init(double *u, double *v, int64_t m)
{
    memset(u, 0, (size_t)(m * m) * sizeof *u);
    for (int64_t j = 0; j < m; j++) u[j] = 100.0; /* hot top edge */
    memcpy(v, u, (size_t)(m * m) * sizeof *u);
}

int main(int argc, char **argv)
{
    int64_t m = argc > 1 ? atoll(argv[1]) : 512;
    if (m < 3 || m > 20000) {
        fprintf(stderr, "usage: %s [3 <= m <= 20000]\n", argv[0]);
        return 2;
    }
    double *u = prange_alloc(m * m, sizeof *u), *v = prange_alloc(m * m, sizeof *v);
    double *su = malloc((size_t)(m * m) * sizeof *su), *sv = malloc((size_t)(m * m) * sizeof *sv);
    if (!u || !v || !su || !sv) return 1;
    init(u, v, m);
    init(su, sv, m);
    double tol = 1e-3;
    int it = solve(u, v, m, tol), sit = solve_serial(su, sv, m, tol);
    const double *res = (it % 2) ? v : u, *sres = (sit % 2) ? sv : su;
    int ok = it == sit && memcmp(res, sres, (size_t)(m * m) * sizeof *res) == 0;
    printf("heat %lldx%lld: converged in %d iterations (serial %d), centre %.6f %s\n", (long long)m, (long long)m, it, sit,
           res[(m / 2) * m + m / 2], ok ? "OK (bitwise)" : "MISMATCH");
    prange_free(u);
    prange_free(v);
    free(su);
    free(sv);
    return ok ? 0 : 1;
}
