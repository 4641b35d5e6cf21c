/*
 * kernels.c — typed reductions over contiguous arrays: sum, dot, nrm2, min/max with index,
 * for doubles and floats (float terms are widened to double: one code path for both).
 *
 * Each runs through prange_reduce, so it is deterministic for any thread count. Inside a
 * block, the inner loops come from one table per instruction set (lib/kernels_simd.c,
 * compiled for the baseline, AVX2 and AVX-512): pairwise sums in 16 fixed lanes, so every
 * path gives the same bits. The table is chosen once, on first use, from the CPU and
 * PRANGE_ISA (below).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#if defined(PRANGE_HAVE_ISA_X86)
#include <cpuid.h>
#endif
#include <stdio.h>
#include <string.h>

#include "kernels_isa.h"
#include "prange_lib.h"

/* ---- the ISA paths ------------------------------------------------------------------ */

static const prange__kern *const tables[PRANGE__ISA_COUNT] = {
    &prange__kern_baseline,
#if defined(PRANGE_HAVE_ISA_X86)
    &prange__kern_avx2,
    &prange__kern_avx512,
#endif
};

/* The path in use: NULL until the first kernel call chooses it (choose_once). */
static _Atomic(const prange__kern *) g_kern;
static pthread_once_t g_kern_once = PTHREAD_ONCE_INIT;
static int g_asked = -1; /* PRANGE_ISA's path, -1 = auto; set before g_kern is published */
static atomic_int g_pinned; /* prange__isa_set chose the path (tests): no choice per call */

int prange__isa_supported(int isa)
{
    if (isa == PRANGE__ISA_BASELINE) return 1;
#if defined(PRANGE_HAVE_ISA_X86)
    __builtin_cpu_init(); /* idempotent; needed if this runs before the constructors */
    /* __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0). */
    if (isa == PRANGE__ISA_AVX2) return __builtin_cpu_supports("avx2") != 0;
    if (isa == PRANGE__ISA_AVX512) return __builtin_cpu_supports("avx512f") != 0;
#endif
    return 0;
}

/* Whether this CPU runs 512-bit operations as two 256-bit halves: AMD family 19h (Zen 4;
 * Zen 3, the same family, has no AVX-512). There the avx2 path measured as fast in cache
 * and 4-10% faster from L3 and memory than the avx512 one (docs/kernels.md). */
static int avx512_halved(void)
{
#if defined(PRANGE_HAVE_ISA_X86)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541 || d != 0x69746e65 || c != 0x444d4163) return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0; /* "AuthenticAMD" above */
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    return family == 0x19;
#else
    return 0;
#endif
}

/* PRANGE_ISA=auto takes the widest path the CPU runs at full width; an explicit path the
 * CPU cannot run falls back to the widest one below it, with a warning (never SIGILL). */
static void choose_once(void)
{
    int64_t opt = prange__state_get()->opt[PRANGE__OPT_ISA].value; /* 0 auto, 1 + path */
    int want = opt == 0 ? PRANGE__ISA_COUNT - 1 : (int)opt - 1, isa = want;
    if (opt == 0 && avx512_halved()) isa = want = PRANGE__ISA_AVX2;
    while (isa > 0 && !prange__isa_supported(isa)) isa--;
    g_asked = opt == 0 ? -1 : want;
    if (opt != 0 && isa != want)
        prange__log("warning: PRANGE_ISA=%s cannot run on this CPU or build; using %s",
                    want == PRANGE__ISA_AVX512 ? "avx512" : "avx2", tables[isa]->name);
    atomic_store_explicit(&g_kern, tables[isa], memory_order_release);
}

const prange__kern *prange__kern_get(void)
{
    const prange__kern *k = atomic_load_explicit(&g_kern, memory_order_acquire);
    if (__builtin_expect(k != NULL, 1)) return k;
    /* The state first: its first read may print the configuration, which names the path
     * (prange__isa_describe), so it must not start inside choose_once. */
    (void)prange__state_get();
    pthread_once(&g_kern_once, choose_once);
    return atomic_load_explicit(&g_kern, memory_order_acquire);
}

/* A stream larger than the last-level cache is memory-bound, and there the wide paths
 * measured slower than the baseline one on this AMD EPYC (sum of 2^24 doubles: baseline
 * 4.4-4.6 ms, avx2 5.1-5.3 ms, avx512 5.7 ms; OpenMP's 8 accumulators 4.3-4.7 ms), while in
 * cache avx2 is ahead (2 MiB: 14.6-17.9 us against 17.3-19.3 us). The bits are the same on
 * every path, so choosing per call changes no result. An explicit PRANGE_ISA is kept. */
const prange__kern *prange__kern_for(double bytes)
{
    const prange__kern *k = prange__kern_get();
    if (g_asked >= 0 || atomic_load_explicit(&g_pinned, memory_order_relaxed)) return k;
    int64_t llc = prange__state_get()->topo.l3;
    if (llc <= 0) llc = (int64_t)32 << 20;
    return bytes > (double)llc ? tables[PRANGE__ISA_BASELINE] : k;
}

int prange__isa_set(int isa)
{
    if (isa < 0 || isa >= PRANGE__ISA_COUNT || !prange__isa_supported(isa)) return PRANGE_ENOSYS;
    (void)prange__kern_get(); /* the first choice must not overwrite this one later */
    atomic_store_explicit(&g_pinned, 1, memory_order_relaxed);
    atomic_store_explicit(&g_kern, tables[isa], memory_order_release);
    return 0;
}

void prange__isa_describe(char *buf, size_t size)
{
    const prange__kern *k = prange__kern_get();
    char have[64] = "";
    for (int i = 0; i < PRANGE__ISA_COUNT; i++)
        if (prange__isa_supported(i))
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? " " : "", tables[i]->name);
    snprintf(buf, size, "%s (%s; this CPU and build run: %s)", k->name,
             g_asked >= 0        ? "PRANGE_ISA"
             : avx512_halved() ? "PRANGE_ISA=auto: avx512 runs as 256-bit halves on this CPU"
                               : "PRANGE_ISA=auto: the widest",
             have);
}

/* ---- the kernels --------------------------------------------------------------------- */

/* A kernel's operands: doubles in x/y, or floats in xf/yf (then x is NULL); the ISA path
 * (read once per call); the options for prange_reduce (loaded, grain KERNEL_BLOCK: the
 * blocks, hence the bits, stay fixed). */
typedef struct {
    const double *x, *y;
    const float *xf, *yf;
    double scale;
    const prange__kern *k;
    const prange_opts *opts;
} arrays;

double prange__sum_serial_f64(const double *x, int64_t n) { return prange__kern_get()->sum(x, n); }
double prange__sum_serial_f32(const float *x, int64_t n) { return prange__kern_get()->sumf(x, n); }
int64_t prange__sum_serial_i64(const int64_t *x, int64_t n) { return prange__kern_get()->sum_i64(x, n); }

/* Block bodies: acc holds the identity (0) on entry, so += leaves the block's own sum. */
static void b_sum(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->k->sum(a->x + b, e - b);
}
/* The same sums over every block at once, when the reduction runs inline (prange__reduce_sum). */
static double w_sum(void *c, int64_t b, uint64_t n, uint64_t B)
{
    arrays *a = c;
    return a->k->sum_tree(a->x + b, (int64_t)n, (int64_t)B);
}
static double w_dot(void *c, int64_t b, uint64_t n, uint64_t B)
{
    arrays *a = c;
    return a->k->dot_tree(a->x + b, a->y + b, (int64_t)n, (int64_t)B);
}
static void b_sumf(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->k->sumf(a->xf + b, e - b);
}
static void b_dot(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->k->dot(a->x + b, a->y + b, e - b);
}
static void b_dotf(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->k->dotf(a->xf + b, a->yf + b, e - b);
}
/* nrm2's bodies serve both precisions, so nrm2() below is written once. */
static void b_sq(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->x ? a->k->sq(a->x + b, e - b) : a->k->sqf(a->xf + b, e - b);
}
static void b_ssq(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    *(double *)acc += a->x ? a->k->ssq(a->x + b, a->scale, e - b) : a->k->ssqf(a->xf + b, a->scale, e - b);
}
static void b_maxabs(void *c, int64_t b, int64_t e, void *acc)
{
    arrays *a = c;
    double m = *(double *)acc;
    *(double *)acc = a->x ? a->k->maxabs(a->x + b, e - b, m) : a->k->maxabsf(a->xf + b, e - b, m);
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
    a->k = prange__kern_get();
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

/* run_sum, with `whole` folding every block at once where the reduction runs inline. */
static double run_sum_whole(prange_reduce_fn body, prange__whole_fn whole, arrays *a, int64_t n)
{
    if (n <= KERNEL_BLOCK && prange__verbose() < 2) return run_sum(body, a, n); /* one block: fold() calls body */
    double acc;
    if (prange__reduce_sum(0, n, body, whole, a, &acc, a->opts) != 0) {
        errno = ENOMEM;
        return NAN;
    }
    return acc;
}

/* A public kernel prange_NAME: NAME_impl as one profiled call (prange_lib.h). */
#define KERNEL_PUBLIC(T, name, params, args) PRANGE__KERNEL_ENTRY(T, prange_##name, params, name##_impl args)

/* The public kernels: check the input, load the options, run. */
#define KERNEL_IN(bad, bytes, ...)                                                            \
    prange_opts o;                                                                            \
    arrays a = {__VA_ARGS__};                                                                 \
    if ((bad) || kernel_opts(opts, &o, &a) != 0) return errno = EINVAL, NAN;                  \
    a.k = prange__kern_for(bytes)

static double sum_f64_impl(const double *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), 8.0 * (double)n, .x = x);
    return run_sum_whole(b_sum, w_sum, &a, n);
}
KERNEL_PUBLIC(double, sum_f64, (const double *x, int64_t n, const prange_opts *opts), (x, n, opts))

static double sum_f32_impl(const float *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), 4.0 * (double)n, .xf = x);
    return run_sum(b_sumf, &a, n);
}
KERNEL_PUBLIC(double, sum_f32, (const float *x, int64_t n, const prange_opts *opts), (x, n, opts))

static double dot_f64_impl(const double *x, const double *y, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n) || bad_input(y, n), 16.0 * (double)n, .x = x, .y = y);
    return run_sum_whole(b_dot, w_dot, &a, n);
}
KERNEL_PUBLIC(double, dot_f64, (const double *x, const double *y, int64_t n, const prange_opts *opts), (x, y, n, opts))

static double dot_f32_impl(const float *x, const float *y, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n) || bad_input(y, n), 8.0 * (double)n, .xf = x, .yf = y);
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
    KERNEL_IN(bad_input(x, n), 8.0 * (double)n, .x = x);
    return nrm2(&a, n, 1);
}
KERNEL_PUBLIC(double, nrm2_f64, (const double *x, int64_t n, const prange_opts *opts), (x, n, opts))

static double nrm2_f32_impl(const float *x, int64_t n, const prange_opts *opts)
{
    KERNEL_IN(bad_input(x, n), 4.0 * (double)n, .xf = x);
    return nrm2(&a, n, 1);
}
KERNEL_PUBLIC(double, nrm2_f32, (const float *x, int64_t n, const prange_opts *opts), (x, n, opts))

/*
 * Min/max with index: the path finds the block's first NaN, or its first extreme element
 * (vectorised: kernels_simd.c); the value is read there. Ties go to the lowest index and
 * the first NaN wins, as the reducer's combine does across blocks.
 */
#define LOC_KERNEL(name, T, LOC, X)                                                           \
    static void b_##name(void *c, int64_t b, int64_t e, void *acc)                            \
    {                                                                                         \
        arrays *a = c;                                                                        \
        const T *x = a->X + b;                                                                \
        int64_t at = a->k->name(x, e - b);                                                    \
        LOC mine = {x[at], b + at};                                                           \
        prange_reducer_##name()->combine(NULL, acc, &mine, sizeof mine);                      \
    }                                                                                         \
    static LOC name##_impl(const T *x, int64_t n, const prange_opts *opts)                    \
    {                                                                                         \
        LOC out = {NAN, -1};                                                                  \
        prange_opts o;                                                                        \
        arrays a = {.X = x};                                                                  \
        if (bad_input(x, n) || kernel_opts(opts, &o, &a) != 0) {                              \
            errno = EINVAL;                                                                   \
            return out;                                                                       \
        }                                                                                     \
        if (n == 0) return out;                                                               \
        a.k = prange__kern_for((double)n * sizeof(T));                                        \
        if (prange_reduce(0, n, prange_reducer_##name(), b_##name, &a, &out, &o) != 0) {      \
            errno = ENOMEM;                                                                   \
            return (LOC){NAN, -1};                                                            \
        }                                                                                     \
        return out;                                                                           \
    }                                                                                         \
    KERNEL_PUBLIC(LOC, name, (const T *x, int64_t n, const prange_opts *opts), (x, n, opts))
LOC_KERNEL(minloc_f64, double, prange_loc_f64, x)
LOC_KERNEL(maxloc_f64, double, prange_loc_f64, x)
LOC_KERNEL(minloc_f32, float, prange_loc_f32, xf)
LOC_KERNEL(maxloc_f32, float, prange_loc_f32, xf)

/* ---- row kernels (the @guvectorize analog) ------------------------------------------ */

typedef struct {
    const double *a;
    double *out;
    int64_t cols;
    const prange__kern *k;
} rows_ctx;

static void rows_sum(void *c, int64_t b, int64_t e)
{
    rows_ctx *k = c;
    for (int64_t r = b; r < e; r++) k->out[r] = 0.0 + k->k->sum(k->a + r * k->cols, k->cols);
}

static void rows_norm(void *c, int64_t b, int64_t e)
{
    rows_ctx *k = c;
    for (int64_t r = b; r < e; r++) {
        arrays a = {.x = k->a + r * k->cols, .k = k->k};
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
        double inv = 1.0 / k->k->sum(y, n);
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
    rows_ctx k = {a, out, cols, prange__kern_get()};
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
