/*
 * kernels.c — typed reductions over contiguous arrays: sum, dot, nrm2, min/max with index,
 * for doubles and floats (float terms are widened to double: one code path for both).
 *
 * Each runs through prange_reduce, so it is deterministic for any thread count. Inside a
 * block, sums are pairwise with a base case of 8 independent accumulators over at most
 * 128 elements (the NumPy scheme): the accumulators hide the FP-add latency so one core
 * streams at memory bandwidth, and the error grows with log2(n), not n.
 */
#include <errno.h>
#include <float.h>
#include <math.h>

#include "prange_lib.h"

/* Pairwise sum of TERM(i) over [0, n), base case <= 128 terms in 8 lanes. Every term lands
 * in a lane, the tail too, so a term sees at most 16 + 3 additions in the base case.
 * A full block (2048 terms) takes a flat path: 16 leaves of 128 in a loop whose trip
 * counts are constants, then the same balanced tree over the leaf sums. The recursion
 * would split 2048 into exactly those leaves and that tree, so the bits are identical;
 * the flat loop just avoids a call and a mispredicted loop exit per leaf (~20% in cache). */
#define LEAF8(a, TERM, off, len)                                                            \
    do {                                                                                    \
        for (int64_t i_ = 0; i_ + 8 <= (len); i_ += 8)                                      \
            for (int k_ = 0; k_ < 8; k_++) a[k_] += TERM((off) + i_ + k_);                  \
    } while (0)
#define LANES8(a) (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])))

#define PAIRWISE(name, ARGS, CALL, OFFSET, TERM)                                            \
    static double name##_flat2048(ARGS)                                                     \
    {                                                                                       \
        double leaf[16];                                                                    \
        for (int l = 0; l < 16; l++) {                                                      \
            double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                         \
            LEAF8(a, TERM, (int64_t)l * 128, 128);                                          \
            leaf[l] = LANES8(a);                                                            \
        }                                                                                   \
        for (int w = 8; w > 0; w /= 2)                                                      \
            for (int k = 0; k < w; k++) leaf[k] = leaf[2 * k] + leaf[2 * k + 1];            \
        return leaf[0];                                                                     \
    }                                                                                       \
    static double name(ARGS, int64_t n)                                                     \
    {                                                                                       \
        if (n == 2048) return name##_flat2048(CALL);                                        \
        if (n > 128) {                                                                      \
            int64_t m = (n / 2 + 7) & ~(int64_t)7;                                          \
            return name(CALL, m) + name(OFFSET(m), n - m);                                  \
        }                                                                                   \
        double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                             \
        int64_t i = 0;                                                                      \
        for (; i + 8 <= n; i += 8)                                                          \
            for (int k = 0; k < 8; k++) a[k] += TERM(i + k);                                \
        for (int k = 0; i + k < n; k++) a[k] += TERM(i + k);                                \
        return LANES8(a);                                                                   \
    }

#define X1(m) x + (m)
#define X2(m) x + (m), y + (m)
#define XS(m) x + (m), s
#define T_SUM(i) x[i]
#define T_SUMF(i) (double)x[i]
#define T_DOT(i) (x[i] * y[i])
#define T_DOTF(i) ((double)x[i] * (double)y[i])
#define T_SQ(i) (x[i] * x[i])
#define T_SQF(i) ((double)x[i] * (double)x[i])
#define T_SSQ(i) ((x[i] * s) * (x[i] * s))
#define T_SSQF(i) (((double)x[i] * s) * ((double)x[i] * s))
#define A1 const double *x
#define A1F const float *x
#define A2 const double *x, const double *y
#define A2F const float *x, const float *y
#define AS const double *x, double s
#define ASF const float *x, double s
#define C1 x
#define C2 x, y
#define CS x, s

PAIRWISE(pw_sum, A1, C1, X1, T_SUM)
PAIRWISE(pw_sumf, A1F, C1, X1, T_SUMF)
PAIRWISE(pw_dot, A2, C2, X2, T_DOT)
PAIRWISE(pw_dotf, A2F, C2, X2, T_DOTF)
PAIRWISE(pw_sq, A1, C1, X1, T_SQ)
PAIRWISE(pw_sqf, A1F, C1, X1, T_SQF)
PAIRWISE(pw_ssq, AS, CS, XS, T_SSQ)
PAIRWISE(pw_ssqf, ASF, CS, XS, T_SSQF)

/* A kernel's operands: doubles in x/y, or floats in xf/yf (then x is NULL); the options
 * for prange_reduce (loaded, grain KERNEL_BLOCK: the blocks, hence the bits, stay fixed). */
typedef struct {
    const double *x, *y;
    const float *xf, *yf;
    double scale;
    const prange_opts *opts;
} arrays;

double prange__sum_serial_f64(const double *x, int64_t n) { return n > 0 ? pw_sum(x, n) : 0.0; }
double prange__sum_serial_f32(const float *x, int64_t n) { return n > 0 ? pw_sumf(x, n) : 0.0; }

/* Block bodies: acc holds the identity (0) on entry, so += leaves the block's own sum. */
static void b_sum(void *c, int64_t b, int64_t e, void *acc) { *(double *)acc += pw_sum(((arrays *)c)->x + b, e - b); }
static void b_sumf(void *c, int64_t b, int64_t e, void *acc) { *(double *)acc += pw_sumf(((arrays *)c)->xf + b, e - b); }
static void b_dot(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += pw_dot(a->x + b, a->y + b, e - b);
}
static void b_dotf(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += pw_dotf(a->xf + b, a->yf + b, e - b);
}
/* nrm2's bodies serve both precisions, so nrm2() below is written once. */
static void b_sq(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->x ? pw_sq(a->x + b, e - b) : pw_sqf(a->xf + b, e - b);
}
static void b_ssq(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->x ? pw_ssq(a->x + b, a->scale, e - b) : pw_ssqf(a->xf + b, a->scale, e - b);
}
#define MAXABS(x, b, e, m)                                                                  \
    for (int64_t i = (b); i < (e); i++) {                                                   \
        double v = fabs((double)(x)[i]);                                                    \
        m = v > m ? v : m;                                                                  \
    }
static void b_maxabs(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    double m = *(double *)acc;
    if (a->x) MAXABS(a->x, b, e, m)
    else MAXABS(a->xf, b, e, m)
    *(double *)acc = m;
}

static int bad_input(const void *x, int64_t n) { return n < 0 || (n > 0 && !x); }

/* The kernels' blocks: a fixed 2048 elements (prange_reduce's minimum block), whatever
 * opts->grain or PRANGE_GRAIN say, so a kernel's bits depend on its input alone. */
#define KERNEL_BLOCK 2048

/* Load a kernel's options into *o (and a->opts): 0 or PRANGE_EINVAL. */
static int kernel_opts(const prange_opts *opts, prange_opts *o, arrays *a)
{
    if (prange__opts_load(opts, o) != 0) return PRANGE_EINVAL;
    o->grain = KERNEL_BLOCK;
    a->opts = o;
    return 0;
}

/* Fold body over [0, n) from `r`'s identity: inline when asked (row kernels), or when n
 * fits one block (prange_reduce would fold that block alone and return it unchanged: same
 * bits, ~20 ns less; PRANGE_VERBOSE=2 keeps the full path so every call's plan is
 * printed), else through prange_reduce. NaN with errno = ENOMEM if scratch failed. */
static double fold(prange_reduce_fn body, const prange_reducer *r, arrays *a, int64_t n, int parallel)
{
    double acc;
    prange__r_identity(r, &acc);
    if (!parallel || (n <= KERNEL_BLOCK && prange__verbose() < 2)) {
        body(a, 0, n, &acc);
        return acc;
    }
    if (prange_reduce(0, n, r, body, a, &acc, a->opts) != 0) {
        errno = ENOMEM;
        return NAN;
    }
    return acc;
}

static double run_sum(prange_reduce_fn body, arrays *a, int64_t n) { return fold(body, prange_reducer_sum_f64(), a, n, 1); }

/* A public kernel prange_NAME: NAME_impl as one profiled call (prange_lib.h). */
#define KERNEL_PUBLIC(T, name, params, args) PRANGE__KERNEL_ENTRY(T, prange_##name, params, name##_impl args)

/* The public kernels: check the input, load the options, run. */
#define KERNEL_IN(bad, ...)                                                                   \
    prange_opts o;                                                                            \
    arrays a = {__VA_ARGS__};                                                                 \
    if ((bad) || kernel_opts(opts, &o, &a) != 0) return errno = EINVAL, NAN

static double sum_f64_impl(const double *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), .x = x);
    return run_sum(b_sum, &a, n);
}
KERNEL_PUBLIC(double, sum_f64, (const double *x, int64_t n, const prange_opts *opts), (x, n, opts))

static double sum_f32_impl(const float *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), .xf = x);
    return run_sum(b_sumf, &a, n);
}
KERNEL_PUBLIC(double, sum_f32, (const float *x, int64_t n, const prange_opts *opts), (x, n, opts))

static double dot_f64_impl(const double *x, const double *y, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n) || bad_input(y, n), .x = x, .y = y);
    return run_sum(b_dot, &a, n);
}
KERNEL_PUBLIC(double, dot_f64, (const double *x, const double *y, int64_t n, const prange_opts *opts), (x, y, n, opts))

static double dot_f32_impl(const float *x, const float *y, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n) || bad_input(y, n), .xf = x, .yf = y);
    return run_sum(b_dotf, &a, n);
}
KERNEL_PUBLIC(double, dot_f32, (const float *x, const float *y, int64_t n, const prange_opts *opts), (x, y, n, opts))

/*
 * nrm2: one fast pass of plain squares. Its result is exact enough whenever it is finite
 * and not below 2^-900 (squares that underflowed then weigh < n * 2^-174 relative). Else
 * (overflow, or everything tiny) a second, scaled pass: s = 2^-e with e the exponent of
 * max|x|, so x*s is exact and the largest square is in [1, 4). For a subnormal max, e is
 * raised to -1022 (2^1074 does not exist): x*s is still exact, the largest square lands in
 * [2^-104, 4) and no square underflows, as every element is then subnormal too.
 * `parallel` = 0 runs the passes inline (one row of prange_row_norms_f64).
 */
static double nrm2(arrays *a, int64_t n, int parallel)
{
    if (n == 0) return 0.0;
    double ss = fold(b_sq, prange_reducer_sum_f64(), a, n, parallel);
    if (isnan(ss)) return ss; /* a NaN element, or no scratch */
    if (ss < INFINITY && ss >= 0x1p-900) return sqrt(ss);
    double maxabs = fold(b_maxabs, prange_reducer_max_f64(), a, n, parallel);
    if (isnan(maxabs) || maxabs == 0 || isinf(maxabs)) return maxabs;
    int e = ilogb(maxabs);
    if (e < DBL_MIN_EXP - 1) e = DBL_MIN_EXP - 1;
    a->scale = ldexp(1.0, -e);
    return ldexp(sqrt(fold(b_ssq, prange_reducer_sum_f64(), a, n, parallel)), e);
}

static double nrm2_f64_impl(const double *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), .x = x);
    return nrm2(&a, n, 1);
}
KERNEL_PUBLIC(double, nrm2_f64, (const double *x, int64_t n, const prange_opts *opts), (x, n, opts))

static double nrm2_f32_impl(const float *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), .xf = x);
    return nrm2(&a, n, 1);
}
KERNEL_PUBLIC(double, nrm2_f32, (const float *x, int64_t n, const prange_opts *opts), (x, n, opts))

/*
 * Min/max with index over a block, in two scalar passes over data that sit in L1 (a
 * block is at most a few thousand elements): first the extreme value and whether a NaN
 * occurs, then the first index holding it. Neither gcc 12 nor clang 14 vectorises them
 * at -O3 (the select is no reduction they recognise; the search has no known trip count);
 * the first pass still avoids carrying the index through the compare chain. Ties go to
 * the lowest index and the first NaN wins, as the reducer's combine does across blocks.
 */
#define LOC_BODY(name, T, LOC, CMP, REDUCER)                                                \
    static void name(void *c, int64_t b, int64_t e, void *acc)                                \
    {                                                                                         \
        const T *x = ((const T *const *)c)[0];                                                \
        T best = x[b];                                                                        \
        int nan = 0;                                                                          \
        for (int64_t i = b; i < e; i++) {                                                     \
            T v = x[i];                                                                       \
            nan |= v != v;                                                                    \
            best = v CMP best ? v : best;                                                     \
        }                                                                                     \
        int64_t at = b;                                                                       \
        if (nan) {                                                                            \
            while (x[at] == x[at]) at++;                                                      \
            best = x[at];                                                                     \
        } else {                                                                              \
            while (x[at] != best) at++;                                                       \
        }                                                                                     \
        LOC mine = {best, at};                                                                \
        REDUCER()->combine(NULL, acc, &mine, sizeof mine);                                    \
    }

/* The public min/max-loc kernels of one type: input and options checked, then one
 * prange_reduce with the block body above. */
#define LOC_KERNEL(name, T, LOC)                                                              \
    LOC_BODY(b_##name, T, LOC, name##_CMP, prange_reducer_##name)                             \
    static LOC name##_impl(const T *x, int64_t n, const prange_opts *opts)                    \
    {                                                                                         \
        LOC out = {NAN, -1};                                                                  \
        prange_opts o;                                                                        \
        if (bad_input(x, n) || prange__opts_load(opts, &o) != 0) {                            \
            errno = EINVAL;                                                                   \
            return out;                                                                       \
        }                                                                                     \
        if (n == 0) return out;                                                               \
        o.grain = KERNEL_BLOCK; /* fixed blocks: the bits do not depend on the options */     \
        const T *arg[1] = {x};                                                                \
        if (prange_reduce(0, n, prange_reducer_##name(), b_##name, (void *)arg, &out, &o) != 0) { \
            errno = ENOMEM;                                                                   \
            return (LOC){NAN, -1};                                                            \
        }                                                                                     \
        return out;                                                                           \
    }                                                                                         \
    KERNEL_PUBLIC(LOC, name, (const T *x, int64_t n, const prange_opts *opts), (x, n, opts))
#define minloc_f64_CMP <
#define maxloc_f64_CMP >
#define minloc_f32_CMP <
#define maxloc_f32_CMP >
LOC_KERNEL(minloc_f64, double, prange_loc_f64)
LOC_KERNEL(maxloc_f64, double, prange_loc_f64)
LOC_KERNEL(minloc_f32, float, prange_loc_f32)
LOC_KERNEL(maxloc_f32, float, prange_loc_f32)

/* ---- row kernels (the @guvectorize analog) ------------------------------------------ */

typedef struct {
    const double *a;
    double *out;
    int64_t cols;
} rows_ctx;

static void rows_sum(void *c, int64_t b, int64_t e)
{
    rows_ctx *k = c;
    for (int64_t r = b; r < e; r++) k->out[r] = 0.0 + (k->cols ? pw_sum(k->a + r * k->cols, k->cols) : 0.0);
}

static void rows_norm(void *c, int64_t b, int64_t e)
{
    rows_ctx *k = c;
    for (int64_t r = b; r < e; r++) {
        arrays a = {.x = k->a + r * k->cols};
        k->out[r] = nrm2(&a, k->cols, 0);
    }
}

/* Softmax of one row; out may be the row itself (each element is read before written). */
static void rows_softmax(void *c, int64_t b, int64_t e)
{
    rows_ctx *k = c;
    int64_t n = k->cols;
    for (int64_t r = b; r < e; r++) {
        const double *x = k->a + r * n;
        double *y = k->out + r * n, m = -INFINITY;
        for (int64_t j = 0; j < n; j++) m = (x[j] > m || isnan(x[j])) && !isnan(m) ? x[j] : m;
        for (int64_t j = 0; j < n; j++) y[j] = exp(x[j] - m);
        double inv = 1.0 / pw_sum(y, n);
        for (int64_t j = 0; j < n; j++) y[j] *= inv;
    }
}

static int run_rows(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts,
                    prange_body_fn body, double ns_per_elem, int64_t out_cols)
{
    prange_opts o;
    if (rows < 0 || cols < 0 || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    if (rows > 0 && cols > 0 && rows > INT64_MAX / 8 / cols) return PRANGE_EINVAL;
    if (rows > 0 && ((cols > 0 && !a) || !out)) return PRANGE_EINVAL;
    /* out: rows * out_cols doubles; only exactly in place (softmax) may overlap a. */
    if (rows > 0 && cols > 0 && (const void *)out != (const void *)a &&
        (const char *)out < (const char *)(a + rows * cols) && (const char *)a < (const char *)(out + rows * out_cols))
        return PRANGE_EINVAL;
    if (rows > 0 && cols > 0 && (const void *)out == (const void *)a && out_cols != cols) return PRANGE_EINVAL;
    rows_ctx k = {a, out, cols};
    if (o.cost_ns == 0) o.cost_ns = ns_per_elem * (double)(cols > 0 ? cols : 1); /* per row */
    return prange_for_opts(0, rows, body, &k, &o);
}

static int row_sums_f64_impl(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts)
{
    return run_rows(a, out, rows, cols, opts, rows_sum, 0.3, 1);
}
KERNEL_PUBLIC(int, row_sums_f64, (const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts), (a, out, rows, cols, opts))

static int row_norms_f64_impl(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts)
{
    return run_rows(a, out, rows, cols, opts, rows_norm, 0.4, 1);
}
KERNEL_PUBLIC(int, row_norms_f64, (const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts), (a, out, rows, cols, opts))

static int row_softmax_f64_impl(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts)
{
    return run_rows(a, out, rows, cols, opts, rows_softmax, 8.0, cols);
}
KERNEL_PUBLIC(int, row_softmax_f64, (const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts), (a, out, rows, cols, opts))
