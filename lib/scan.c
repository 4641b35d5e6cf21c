/*
 * scan.c — parallel prefix sums, deterministic for any thread count.
 *
 * Fixed blocks of 4096 elements (never dependent on the team): pass 1 sums each block (the
 * pairwise kernel for doubles and floats, in double; every block sum through the ISA path); pass 2, on the caller, turns the block sums into block offsets; pass 3 scans each
 * block from its offset. Passes 1 and 3 run as loops over blocks through the scheduler.
 * Every output is offset(block) + running sum inside the block: the same operations in the
 * same order whatever runs where. In place (out == in) works: pass 1 only reads, pass 3
 * reads each element before writing it.
 *
 *   in   = 1 1 1 1 | 1 1 1 1 | 1 1        (blocks of 4 here)
 *   sums = 4, 4, 2   offsets = 0, 4, 8
 *   out  = 1 2 3 4 | 5 6 7 8 | 9 10       (inclusive)
 */
#include <string.h>

#include "prange_lib.h"

#define BLOCK 4096

/* The effective grain (opts->grain, or PRANGE_GRAIN when 0), counted in blocks of B:
 * ceil(grain / B) without grain + B - 1, which overflows for a grain near INT64_MAX. */
static int64_t grain_in_blocks(const prange_opts *opts, uint64_t B)
{
    uint64_t g = (uint64_t)prange__grain(opts);
    return (int64_t)(g / B + (g % B != 0));
}

/* T: the element type; A: the accumulator type (double for float: sums in double). */
#define SCAN_IMPL(NAME, T, A, ADD, BLOCK_SUM)                                                  \
    typedef struct {                                                                           \
        const T *in;                                                                           \
        T *out;                                                                                \
        A *offs;                                                                               \
        int64_t n;                                                                             \
        int exclusive;                                                                         \
    } NAME##_ctx;                                                                              \
    static void NAME##_sums(void *c, int64_t b, int64_t e)                                     \
    {                                                                                          \
        NAME##_ctx *k = c;                                                                     \
        for (int64_t blk = b; blk < e; blk++) {                                                \
            int64_t lo = blk * BLOCK, hi = k->n - lo > BLOCK ? lo + BLOCK : k->n;              \
            k->offs[blk] = BLOCK_SUM(k->in + lo, hi - lo);                                     \
        }                                                                                      \
    }                                                                                          \
    static void NAME##_apply(void *c, int64_t b, int64_t e)                                    \
    {                                                                                          \
        NAME##_ctx *k = c;                                                                     \
        for (int64_t blk = b; blk < e; blk++) {                                                \
            int64_t lo = blk * BLOCK, hi = k->n - lo > BLOCK ? lo + BLOCK : k->n;              \
            A run = k->offs[blk];                                                              \
            if (k->exclusive)                                                                  \
                for (int64_t i = lo; i < hi; i++) {                                            \
                    A v = k->in[i];                                                            \
                    k->out[i] = (T)run;                                                        \
                    run = ADD(run, v);                                                         \
                }                                                                              \
            else                                                                               \
                for (int64_t i = lo; i < hi; i++) {                                            \
                    run = ADD(run, (A)k->in[i]);                                               \
                    k->out[i] = (T)run;                                                        \
                }                                                                              \
        }                                                                                      \
    }                                                                                          \
    typedef struct {                                                                           \
        const T *in;                                                                           \
        T *out;                                                                                \
        int64_t n;                                                                             \
        int exclusive;                                                                         \
        const prange_opts *opts;                                                               \
    } NAME##_args;                                                                             \
    static int NAME##_impl(const T *in, T *out, int64_t n, int exclusive, const prange_opts *opts); \
    static int NAME##_again(void *p)                                                           \
    {                                                                                          \
        NAME##_args *a = p;                                                                    \
        return NAME##_impl(a->in, a->out, a->n, a->exclusive, a->opts);                        \
    }                                                                                          \
    static int NAME##_impl(const T *in, T *out, int64_t n, int exclusive, const prange_opts *opts) \
    {                                                                                          \
        prange_opts o;                                                                         \
        if (n < 0 || (n > 0 && (!in || !out)) || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL; \
        if (out != in && n > 0 && (const char *)out < (const char *)(in + n) &&                \
            (const char *)in < (const char *)(out + n))                                        \
            return PRANGE_EINVAL;                                                              \
        if (n == 0) return 0;                                                                  \
        if (prange__region_team()) {                                                           \
            NAME##_args a = {in, out, n, exclusive, opts};                                     \
            return prange__region_once(NAME##_again, &a);                                      \
        }                                                                                      \
        int64_t nb = (n - 1) / BLOCK + 1;                                                      \
        prange__scratch buf;                                                                   \
        A *offs = prange__scratch_take(&buf, (size_t)nb * sizeof(A));                          \
        if (!offs) return PRANGE_ENOMEM;                                                       \
        NAME##_ctx k = {in, out, offs, n, exclusive != 0};                                     \
        /* The loops run over blocks: a per-element cost hint and the grain become          \
         * per-block ones. Without a hint each pass learns its block cost like any loop,      \
         * under its own body (or opts->key), so a slow machine or core is seen.              \
         */                                                                                    \
        if (o.cost_ns > 0) o.cost_ns = prange__cost_times(o.cost_ns, BLOCK);                   \
        o.grain = grain_in_blocks(&o, BLOCK);                                                  \
        int rc = prange_for_opts(0, nb, NAME##_sums, &k, &o);                                  \
        A run = 0;                                                                             \
        for (int64_t blk = 0; rc == 0 && blk < nb; blk++) {                                    \
            A s = offs[blk];                                                                   \
            offs[blk] = run;                                                                   \
            run = ADD(run, s);                                                                 \
        }                                                                                      \
        if (rc == 0) rc = prange_for_opts(0, nb, NAME##_apply, &k, &o);                        \
        prange__scratch_give(&buf);                                                            \
        return rc;                                                                             \
    }                                                                                          \
    PRANGE__KERNEL_ENTRY(int, NAME, (const T *in, T *out, int64_t n, int exclusive, const prange_opts *opts), \
                         NAME##_impl(in, out, n, exclusive, opts))

#define ADD_F(a, b) ((a) + (b))
#define ADD_I(a, b) ((int64_t)((uint64_t)(a) + (uint64_t)(b)))

/* Pass 1 sums a block with the kernels' ISA path (the 16-lane pairwise sum; the same bits
 * on every path): no add-latency chain there, only in pass 3's running sum. Offsets stay a
 * fixed function of the input. */
SCAN_IMPL(prange_scan_f64, double, double, ADD_F, prange__sum_serial_f64)
SCAN_IMPL(prange_scan_f32, float, double, ADD_F, prange__sum_serial_f32)
SCAN_IMPL(prange_scan_i64, int64_t, int64_t, ADD_I, prange__sum_serial_i64)

/* ---- scans with a user reducer ------------------------------------------------------- */

typedef struct {
    const prange_reducer *r;
    prange_scan_fn body;
    void *ctx;
    int64_t begin;
    uint64_t n, B;
    size_t stride;
    unsigned char *acc; /* nb accumulators: block results, then block prefixes */
} uscan;

static void u_pass(void *c, int64_t b, int64_t e, int emit)
{
    uscan *u = c;
    for (int64_t blk = b; blk < e; blk++) {
        uint64_t lo = (uint64_t)blk * u->B, hi = u->n - lo > u->B ? lo + u->B : u->n;
        void *a = u->acc + (size_t)blk * u->stride;
        if (!emit) prange__r_identity(u->r, a);
        u->body(u->ctx, prange__at(u->begin, lo), prange__at(u->begin, hi), a, emit);
    }
}
static void u_fold(void *c, int64_t b, int64_t e) { u_pass(c, b, e, 0); }
static void u_emit(void *c, int64_t b, int64_t e) { u_pass(c, b, e, 1); }

/* Inside a region a scan runs on one member (its two passes and the serial step between
 * them share one set of block sums): prange__region_once calls it again there. */
typedef struct {
    int64_t begin, end;
    const prange_reducer *reducer;
    prange_scan_fn body;
    void *ctx;
    const prange_opts *opts;
} scan_args;
static int scan_call(int64_t begin, int64_t end, const prange_reducer *reducer, prange_scan_fn body, void *ctx,
                     const prange_opts *opts);
static int scan_again(void *p)
{
    scan_args *a = p;
    return scan_call(a->begin, a->end, a->reducer, a->body, a->ctx, a->opts);
}

static int scan_call(int64_t begin, int64_t end, const prange_reducer *reducer, prange_scan_fn body, void *ctx,
                     const prange_opts *opts)
{
    prange_reducer rd;
    prange_opts o;
    if (begin > end || !body || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    int lrc = prange__reducer_load(reducer, (size_t)1 << 20, &rd);
    if (lrc != 0) return lrc; /* PRANGE_EINVAL, or PRANGE_ERANGE above 1 MiB */
    const prange_reducer *r = &rd;
    uint64_t n = prange__len(begin, end);
    if (n == 0) return 0;
    if (prange__region_team()) {
        scan_args a = {begin, end, reducer, body, ctx, opts};
        return prange__region_once(scan_again, &a);
    }
    uint64_t B = (n - 1) / 65536 + 1;
    if (B < BLOCK) B = BLOCK;
    uint64_t nb = (n - 1) / B + 1;
    size_t stride = (r->acc_size + 63) & ~(size_t)63;
    /* nb accumulators, then two temporaries for pass 2. */
    prange__scratch buf;
    unsigned char *acc = prange__scratch_take(&buf, (size_t)(nb + 2) * stride);
    if (!acc) return PRANGE_ENOMEM;
    uscan u = {r, body, ctx, begin, n, B, stride, acc};
    /* Per block: a cost hint is per element. Without one both passes learn the block cost
     * like a loop, under the user's body (or opts->key): u_fold and u_emit are shared by
     * every scan, so keying by them would mix every user's costs. */
    if (o.cost_ns > 0) o.cost_ns = prange__cost_times(o.cost_ns, (double)B);
    o.key = prange__key(&o, (const void *)body);
    o.grain = grain_in_blocks(&o, B);
    int rc = prange_for_opts(0, (int64_t)nb, u_fold, &u, &o);
    /* Block results -> block prefixes, in order, on the caller. */
    unsigned char *run = acc + (size_t)nb * stride, *tmp = run + stride;
    prange__r_identity(r, run);
    for (uint64_t blk = 0; rc == 0 && blk < nb; blk++) {
        unsigned char *a = acc + (size_t)blk * stride;
        memcpy(tmp, a, r->acc_size);
        memcpy(a, run, r->acc_size);
        prange__r_combine(r, run, tmp);
    }
    if (rc == 0) rc = prange_for_opts(0, (int64_t)nb, u_emit, &u, &o);
    prange__scratch_give(&buf);
    return rc;
}

/* scan_call as one profiled call: its two passes are parts of it (calls the arguments
 * reject are not counted). */
int prange_scan(int64_t begin, int64_t end, const prange_reducer *reducer, prange_scan_fn body, void *ctx,
                const prange_opts *opts)
{
    prange__prof_call pc;
    int prof = prange__profile_begin_opts(&pc, opts, (const void *)body, NULL, PRANGE__SITE_SCAN);
    int rc = scan_call(begin, end, reducer, body, ctx, opts);
    if (prof) prange__profile_finish(&pc, rc, 0, 0);
    return rc;
}
