/*
 * scan.c — parallel prefix sums, deterministic for any thread count.
 *
 * Fixed blocks of 4096 elements (never dependent on the team): pass 1 sums each block (the
 * pairwise kernel for doubles); pass 2, on the caller, turns the block sums into block offsets; pass 3 scans each
 * block from its offset. Passes 1 and 3 run as loops over blocks through the scheduler.
 * Every output is offset(block) + running sum inside the block: the same operations in the
 * same order whatever runs where. In place (out == in) works: pass 1 only reads, pass 3
 * reads each element before writing it.
 *
 *   in   = 1 1 1 1 | 1 1 1 1 | 1 1        (blocks of 4 here)
 *   sums = 4, 4, 2   offsets = 0, 4, 8
 *   out  = 1 2 3 4 | 5 6 7 8 | 9 10       (inclusive)
 */
#include "prange_lib.h"

#define BLOCK 4096

#define SCAN_IMPL(NAME, T, ADD, BLOCK_SUM)                                                     \
    typedef struct {                                                                           \
        const T *in;                                                                           \
        T *out;                                                                                \
        T *offs;                                                                               \
        int64_t n;                                                                             \
        int exclusive;                                                                         \
    } NAME##_ctx;                                                                              \
    static void NAME##_sums(void *c, int64_t b, int64_t e)                                     \
    {                                                                                          \
        NAME##_ctx *k = c;                                                                     \
        for (int64_t blk = b; blk < e; blk++) {                                                \
            int64_t lo = blk * BLOCK, hi = lo + BLOCK < k->n ? lo + BLOCK : k->n;              \
            k->offs[blk] = BLOCK_SUM(k->in + lo, hi - lo);                                     \
        }                                                                                      \
    }                                                                                          \
    static void NAME##_apply(void *c, int64_t b, int64_t e)                                    \
    {                                                                                          \
        NAME##_ctx *k = c;                                                                     \
        for (int64_t blk = b; blk < e; blk++) {                                                \
            int64_t lo = blk * BLOCK, hi = lo + BLOCK < k->n ? lo + BLOCK : k->n;              \
            T run = k->offs[blk];                                                              \
            if (k->exclusive)                                                                  \
                for (int64_t i = lo; i < hi; i++) {                                            \
                    T v = k->in[i];                                                            \
                    k->out[i] = run;                                                           \
                    run = ADD(run, v);                                                         \
                }                                                                              \
            else                                                                               \
                for (int64_t i = lo; i < hi; i++) {                                            \
                    run = ADD(run, k->in[i]);                                                  \
                    k->out[i] = run;                                                           \
                }                                                                              \
        }                                                                                      \
    }                                                                                          \
    int NAME(const T *in, T *out, int64_t n, int exclusive, const prange_opts *opts)           \
    {                                                                                          \
        if (n < 0 || (n > 0 && (!in || !out)) || prange__opts_check(opts) != 0) return PRANGE_EINVAL; \
        if (out != in && n > 0 && (const char *)out < (const char *)(in + n) &&                \
            (const char *)in < (const char *)(out + n))                                        \
            return PRANGE_EINVAL;                                                              \
        if (n == 0) return 0;                                                                  \
        int64_t nb = (n - 1) / BLOCK + 1;                                                      \
        T *offs = prange__scratch(prange__tls.depth, (size_t)nb * sizeof(T));                  \
        if (!offs) return PRANGE_ENOMEM;                                                       \
        NAME##_ctx k = {in, out, offs, n, exclusive != 0};                                     \
        prange_opts o = opts ? *opts : (prange_opts){0};                                       \
        /* The loops run over blocks: per-element cost and grain become per-block ones. */    \
        o.cost_ns = (o.cost_ns > 0 ? o.cost_ns : 0.4) * BLOCK;                                \
        o.grain = o.grain > 0 ? (o.grain + BLOCK - 1) / BLOCK : 1;                             \
        prange_for_opts(0, nb, NAME##_sums, &k, &o);                                           \
        T run = 0;                                                                             \
        for (int64_t blk = 0; blk < nb; blk++) {                                               \
            T s = offs[blk];                                                                   \
            offs[blk] = run;                                                                   \
            run = ADD(run, s);                                                                 \
        }                                                                                      \
        prange_for_opts(0, nb, NAME##_apply, &k, &o);                                          \
        return 0;                                                                              \
    }

#define ADD_F(a, b) ((a) + (b))
#define ADD_I(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))

static int64_t sum_i64(const int64_t *x, int64_t n)
{
    uint64_t s = 0;
    for (int64_t i = 0; i < n; i++) s += (uint64_t)x[i];
    return (int64_t)s;
}

/* Pass 1 sums a block with the 8-lane pairwise kernel: no add-latency chain there, only
 * in pass 3's running sum. Offsets stay a fixed function of the input. */
SCAN_IMPL(prange_scan_f64, double, ADD_F, prange__sum_serial_f64)
SCAN_IMPL(prange_scan_i64, int64_t, ADD_I, sum_i64)
