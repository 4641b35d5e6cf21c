/*
 * row_sums.c — sums of the rows of a row-major matrix: the rows run in parallel, each
 * row's inner loop is contiguous. Checked against a plain serial loop (bitwise: each
 * row is summed in the same order by both).
 *
 * Numba:   @njit(parallel=True)
 *          def row_sums(a, out):
 *              for i in prange(a.shape[0]): out[i] = a[i, :].sum()
 *
 * Build standalone:  cc row_sums.c $(pkg-config --cflags --libs prange) -o row_sums
 * Usage: row_sums [rows] [cols]   (default 4000 x 2500)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prange.h>

typedef struct {
    const double *a;
    double *out;
    int64_t cols;
} ctx;

static void rows(void *p, int64_t begin, int64_t end)
{
    ctx *c = p;
    for (int64_t i = begin; i < end; i++) {
        const double *row = c->a + i * c->cols;
        double s = 0;
        for (int64_t j = 0; j < c->cols; j++) s += row[j];
        c->out[i] = s;
    }
}

int main(int argc, char **argv)
{
    int64_t r = argc > 1 ? atoll(argv[1]) : 4000, k = argc > 2 ? atoll(argv[2]) : 2500;
    if (r < 1 || k < 1) {
        fprintf(stderr, "usage: %s [rows >= 1] [cols >= 1]\n", argv[0]);
        return 2;
    }
    double *a = malloc((size_t)(r * k) * sizeof *a);
    double *out = malloc((size_t)r * sizeof *out), *ref = malloc((size_t)r * sizeof *ref);
    if (!a || !out || !ref) return 1;
    for (int64_t i = 0; i < r * k; i++) a[i] = (double)(i % 1000) * 0.001;

    ctx c = {a, out, k};
    /* A row costs about `cols` ns: the hint lets small matrices run serially at once. */
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = (double)k * 0.5;
    int rc = prange_for_opts(0, r, rows, &c, &o);
    if (rc != 0) {
        fprintf(stderr, "prange_for_opts: %s\n", prange_strerror(rc));
        return 1;
    }
    ctx s = {a, ref, k};
    rows(&s, 0, r);
    int ok = memcmp(out, ref, (size_t)r * sizeof *out) == 0;
    prange_plan plan;
    prange_plan_for(r, &o, &plan);
    printf("row_sums %lldx%lld: threads=%d out[0]=%.6f out[last]=%.6f %s\n", (long long)r, (long long)k,
           plan.threads, out[0], out[r - 1], ok ? "OK (bitwise)" : "MISMATCH");
    free(a);
    free(out);
    free(ref);
    return ok ? 0 : 1;
}
