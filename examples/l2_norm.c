/*
 * l2_norm.c — the Euclidean norm of a vector, three ways: prange_nrm2_f64, a prange_reduce
 * with a user body, and a plain serial loop that checks both.
 *
 * Numba:   @njit(parallel=True)
 *          def l2(x):
 *              s = 0.0
 *              for i in prange(len(x)): s += x[i] * x[i]
 *              return np.sqrt(s)
 *
 * Build standalone:  cc l2_norm.c $(pkg-config --cflags --libs prange) -lm -o l2_norm
 * Usage: l2_norm [n]   (default 10^7)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <prange.h>

typedef struct {
    const double *x;
} ctx;

/* Fold x[begin..end) into the partial sum of squares at acc. */
static void squares(void *p, int64_t begin, int64_t end, void *acc)
{
    const double *x = ((ctx *)p)->x;
    double s = *(double *)acc;
    for (int64_t i = begin; i < end; i++) s += x[i] * x[i];
    *(double *)acc = s;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    if (n < 1) {
        fprintf(stderr, "usage: %s [n >= 1]\n", argv[0]);
        return 2;
    }
    double *x = malloc((size_t)n * sizeof *x);
    if (!x) return 1;
    for (int64_t i = 0; i < n; i++) x[i] = sin((double)i) * 3.0;

    double kernel = prange_nrm2_f64(x, n, NULL);
    ctx c = {x};
    double ss = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.label = "l2_norm.squares"; /* names this loop in PRANGE_VERBOSE=2 output */
    int rc = prange_reduce(0, n, prange_reducer_sum_f64(), squares, &c, &ss, &o);
    if (rc != 0) {
        fprintf(stderr, "prange_reduce: %s\n", prange_strerror(rc));
        return 1;
    }
    double reduced = sqrt(ss);

    double serial = 0;
    for (int64_t i = 0; i < n; i++) serial += x[i] * x[i];
    serial = sqrt(serial);

    /* Different summation orders: agree to a relative 1e-12 (n * 2^-53 at worst). */
    double tol = 1e-12 * serial;
    int ok = fabs(kernel - serial) <= tol && fabs(reduced - serial) <= tol;
    printf("l2_norm n=%lld threads=%d: prange_nrm2_f64=%.15g prange_reduce=%.15g serial=%.15g %s\n",
           (long long)n, prange_num_threads(), kernel, reduced, serial, ok ? "OK" : "MISMATCH");
    free(x);
    return ok ? 0 : 1;
}
