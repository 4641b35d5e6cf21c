/*
 * kmeans.c — one k-means iteration on 2-D points: assign each point to its nearest
 * centroid and accumulate the new centroids with an array reducer (per centroid: sum x,
 * sum y, count). Deterministic for any thread count; checked against a serial iteration
 * (counts exactly, centroids to 1e-12 relative: the sums are added in another order).
 *
 * Numba:   @njit(parallel=True)
 *          def step(pts, cent, sums, counts):
 *              for i in prange(len(pts)): k = nearest(pts[i], cent); sums[k] += pts[i]; counts[k] += 1
 *
 * Build standalone:  cc kmeans.c $(pkg-config --cflags --libs prange) -lm -o kmeans
 * Usage: kmeans [n]   (default 10^7)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <prange.h>

#define K 8

typedef struct {
    const double *x, *y;
    const double *cx, *cy;
} ctx;

static int nearest(const ctx *c, int64_t i)
{
    int best = 0;
    double bd = INFINITY;
    for (int k = 0; k < K; k++) {
        double dx = c->x[i] - c->cx[k], dy = c->y[i] - c->cy[k], d = dx * dx + dy * dy;
        if (d < bd) bd = d, best = k;
    }
    return best;
}

/* Accumulator: K x {sum x, sum y, count}, as 3K doubles. */
static void assign(void *p, int64_t begin, int64_t end, void *acc)
{
    const ctx *c = p;
    double *a = acc;
    for (int64_t i = begin; i < end; i++) {
        int k = nearest(c, i);
        a[3 * k] += c->x[i];
        a[3 * k + 1] += c->y[i];
        a[3 * k + 2] += 1.0;
    }
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    if (n < K) {
        fprintf(stderr, "usage: %s [n >= %d]\n", argv[0], K);
        return 2;
    }
    double *x = prange_alloc(n, sizeof *x), *y = prange_alloc(n, sizeof *y);
    if (!x || !y) return 1;
    uint64_t z = 7;
    for (int64_t i = 0; i < n; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17;
        int blob = (int)(z % K);
        x[i] = blob * 10.0 + (double)(z >> 40) * 0x1p-24;
        y[i] = (blob % 3) * 10.0 + (double)((z >> 16) & 0xffffff) * 0x1p-24;
    }
    double cx[K], cy[K];
    for (int k = 0; k < K; k++) cx[k] = x[k], cy[k] = y[k];
    ctx c = {x, y, cx, cy};

    double acc[3 * K], ref[3 * K] = {0};
    prange_reducer r = prange_reducer_array_sum_f64(3 * K);
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 3.0 * K;
    if (prange_reduce(0, n, &r, assign, &c, acc, &o) != 0) return 1;
    assign(&c, 0, n, ref);

    int ok = 1;
    for (int k = 0; k < K; k++) {
        ok &= acc[3 * k + 2] == ref[3 * k + 2];
        for (int d = 0; d < 2; d++) ok &= fabs(acc[3 * k + d] - ref[3 * k + d]) <= 1e-12 * fabs(ref[3 * k + d]);
    }
    printf("kmeans n=%lld k=%d: centroid 0 -> (%.4f, %.4f) with %.0f points %s\n", (long long)n, K,
           acc[0] / acc[2], acc[1] / acc[2], acc[2], ok ? "OK" : "MISMATCH");
    prange_free(x);
    prange_free(y);
    return ok ? 0 : 1;
}
