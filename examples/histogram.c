/*
 * histogram.c — a 256-bin histogram of n values, two ways:
 *   - the array reducer: each block counts into a private copy, copies are combined along
 *     the canonical tree;
 *   - per-worker scratch: prange_for with one histogram per worker, indexed by
 *     prange_thread_id() and sized by prange_num_threads(), merged after the call.
 * Both equal a serial histogram exactly, for any thread count.
 *
 * Numba:   @njit(parallel=True)          # a race in Numba unless written per thread
 *          def hist(v, h):
 *              for i in prange(len(v)): h[v[i] & 255] += 1
 *
 * Build standalone:  cc histogram.c $(pkg-config --cflags --libs prange) -o histogram
 * Usage: histogram [n]   (default 10^8)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prange.h>

#define BINS 256

static void count(void *ctx, int64_t begin, int64_t end, void *acc)
{
    const uint8_t *v = ctx;
    int64_t *h = acc;
    for (int64_t i = begin; i < end; i++) h[v[i]]++;
}

/* Per-worker scratch: one histogram per worker, no two bodies share one at a time. */
typedef struct {
    const uint8_t *v;
    int64_t (*hist)[BINS];
} per_worker;

static void count_mine(void *ctx, int64_t begin, int64_t end)
{
    per_worker *c = ctx;
    int64_t *h = c->hist[prange_thread_id()];
    for (int64_t i = begin; i < end; i++) h[c->v[i]]++;
}

int main(int argc, char **argv)
{
    int64_t n = argc > 1 ? atoll(argv[1]) : 100000000;
    if (n < 1) {
        fprintf(stderr, "usage: %s [n >= 1]\n", argv[0]);
        return 2;
    }
    uint8_t *v = prange_alloc(n, 1);
    if (!v) return 1;
    uint64_t z = 12345;
    for (int64_t i = 0; i < n; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17; /* xorshift64 */
        v[i] = (uint8_t)(z >> 56);
    }
    int64_t h[BINS], ref[BINS] = {0};
    prange_reducer r = prange_reducer_array_sum_i64(BINS);
    int rc = prange_reduce(0, n, &r, count, v, h, NULL);
    if (rc != 0) {
        fprintf(stderr, "prange_reduce: %s\n", prange_strerror(rc));
        return 1;
    }
    /* The same with per-worker scratch: blocks for every worker the budget allows. */
    int workers = prange_num_threads();
    int64_t(*hist)[BINS] = calloc((size_t)workers, sizeof *hist);
    if (!hist) return 1;
    per_worker pw = {v, hist};
    rc = prange_for(0, n, count_mine, &pw);
    for (int w = 1; w < workers; w++)
        for (int k = 0; k < BINS; k++) hist[0][k] += hist[w][k];

    for (int64_t i = 0; i < n; i++) ref[v[i]]++;
    int ok = rc == 0 && memcmp(h, ref, sizeof h) == 0 && memcmp(hist[0], ref, sizeof ref) == 0;
    free(hist);
    printf("histogram n=%lld: bin[0]=%lld bin[255]=%lld %s\n", (long long)n, (long long)h[0], (long long)h[255],
           ok ? "OK (exact)" : "MISMATCH");
    prange_free(v);
    return ok ? 0 : 1;
}
