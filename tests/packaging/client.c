/*
 * client.c — what tests/packaging.sh builds against an installed (or subproject) libprange:
 * a parallel loop, a deterministic sum and an array, through the public header only. Exits
 * non-zero when a result, or the library's version against the header's, is wrong.
 */
#include <stdio.h>

#include <prange.h>

static void fill(void *ctx, int64_t begin, int64_t end)
{
    double *x = ctx;
    for (int64_t i = begin; i < end; i++) x[i] = (double)i;
}

int main(void)
{
    const int64_t n = 1 << 20;
    double *x = prange_alloc(n, sizeof *x);
    if (!x) return 1;
    int rc = prange_for(0, n, fill, x);
    double s = prange_sum_f64(x, n, NULL);
    prange_free(x);
    double want = (double)n * (double)(n - 1) / 2; /* exact in double at this size */
    if (rc != 0 || s != want || prange_version() != PRANGE_VERSION) {
        fprintf(stderr, "client: rc %d, sum %.17g (want %.17g), library %d, header %d\n", rc, s, want,
                prange_version(), PRANGE_VERSION);
        return 1;
    }
    printf("client: ok (libprange %s)\n", prange_version_string());
    return 0;
}
