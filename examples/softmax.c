/*
 * softmax.c — a row-wise softmax over a rows x cols matrix (the @guvectorize pattern:
 * a kernel over rows, rows in parallel, the inner loop contiguous), in place. Checked
 * against a serial softmax to 1e-12 relative.
 *
 * Numba:   @guvectorize(['void(float64[:], float64[:])'], '(n)->(n)', target='parallel')
 *          def softmax(x, out): e = np.exp(x - x.max()); out[:] = e / e.sum()
 *
 * Build standalone:  cc softmax.c $(pkg-config --cflags --libs prange) -lm -o softmax
 * Usage: softmax [rows] [cols]   (default 20000 x 1000)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <prange.h>

int main(int argc, char **argv)
{
    int64_t r = argc > 1 ? atoll(argv[1]) : 20000, c = argc > 2 ? atoll(argv[2]) : 1000;
    if (r < 1 || c < 1) {
        fprintf(stderr, "usage: %s [rows >= 1] [cols >= 1]\n", argv[0]);
        return 2;
    }
    double *a = prange_alloc(r * c, sizeof *a), *ref = malloc((size_t)(r * c) * sizeof *ref);
    if (!a || !ref) return 1;
    for (int64_t i = 0; i < r * c; i++) a[i] = sin((double)i * 0.01) * 5;
    for (int64_t i = 0; i < r; i++) { /* serial reference */
        const double *x = a + i * c;
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < c; j++) m = fmax(m, x[j]);
        for (int64_t j = 0; j < c; j++) s += exp(x[j] - m);
        for (int64_t j = 0; j < c; j++) ref[i * c + j] = exp(x[j] - m) / s;
    }
    int rc = prange_row_softmax_f64(a, a, r, c, NULL); /* in place */
    if (rc != 0) {
        fprintf(stderr, "prange_row_softmax_f64: %s\n", prange_strerror(rc));
        return 1;
    }
    double worst = 0;
    for (int64_t i = 0; i < r * c; i++) {
        double e = fabs(a[i] - ref[i]) / ref[i];
        worst = e > worst ? e : worst;
    }
    int ok = worst <= 1e-12;
    printf("softmax %lldx%lld: worst relative difference %.2e %s\n", (long long)r, (long long)c, worst, ok ? "OK" : "MISMATCH");
    prange_free(a);
    free(ref);
    return ok ? 0 : 1;
}
