/* test_reduce.c — prange_reduce and the built-in reducers: bitwise identical results for
 * every thread count and schedule, exact integers, min/max with index, user reducers,
 * array reducers, and bad input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>

#include "common.h"
#include "prange_lib.h"

static const prange_schedule k_scheds[] = {PRANGE_SCHEDULE_AUTO, PRANGE_SCHEDULE_STATIC, PRANGE_SCHEDULE_DYNAMIC,
                                           PRANGE_SCHEDULE_GUIDED};

typedef struct {
    const double *x;
} vec;

static void sum_body(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = ((vec *)c)->x;
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += x[i];
    *(double *)acc = s;
}

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Reduce x with every thread count and schedule; all results must be the same bits. */
static double same_everywhere(const double *x, int64_t n, int64_t grain)
{
    vec v = {x};
    double first = 0;
    for (int t = 0; t < T_NTHREADS; t++)
        for (size_t s = 0; s < 4; s++) {
            prange_opts o = t_parallel_opts(t_thread_counts[t], k_scheds[s], grain);
            double r = -1;
            cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_f64(), sum_body, &v, &r, &o), 0);
            if (t == 0 && s == 0) first = r;
            cr_assert_eq(bits(r), bits(first), "n=%lld threads=%d sched=%d: %.17g != %.17g", (long long)n,
                         t_thread_counts[t], k_scheds[s], r, first);
            /* The typed kernel too, under the same thread count. */
            prange_set_num_threads(t_thread_counts[t]);
            double k = prange_sum_f64(x, n, NULL);
            static double kfirst;
            if (t == 0 && s == 0) kfirst = k;
            cr_assert_eq(bits(k), bits(kfirst), "prange_sum_f64 n=%lld threads=%d", (long long)n, t_thread_counts[t]);
        }
    return first;
}

Test(reduce, bitwise_identical_random_and_adversarial)
{
    prange_set_num_threads(16);
    static const int64_t sizes[] = {0, 1, 2, 7, 2047, 2048, 2049, 4095, 4096, 4097, 6 * 2048 + 3, 100003, 1000000};
    int64_t nmax = 1000000;
    double *x = malloc((size_t)nmax * sizeof *x), *y = malloc((size_t)nmax * sizeof *y);
    uint64_t seed = 42;
    for (int64_t i = 0; i < nmax; i++) {
        x[i] = t_unit(&seed) * 1e3;
        /* huge, tiny and cancelling values */
        y[i] = (i % 3 == 0) ? 1e16 : (i % 3 == 1) ? -1e16 : 1e-3 * t_unit(&seed);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        same_everywhere(x, sizes[k], 0);
        same_everywhere(y, sizes[k], 0);
        same_everywhere(x, sizes[k], 5000);
    }
    double z = -1;
    vec v = {x};
    cr_assert_eq(prange_reduce(0, 0, prange_reducer_sum_f64(), sum_body, &v, &z, NULL), 0);
    cr_assert_eq(bits(z), bits(0.0), "empty range gives the identity");
    free(x);
    free(y);
}

/* prange_reducer_sum_f64's identity and combine run inline (prange_lib.h); a user's
 * reducer that does the same through its own pointers takes the calls. Both must give the
 * same bits: values that cancel, -0.0 everywhere (the identity is +0.0: +0 + -0 = +0),
 * with every thread count and a few grains. Mutant checks: an inline identity of -0.0,
 * or an inline combine of a - b, fails it. */
static void user_zero(void *rctx, void *acc, size_t size)
{
    (void)rctx, (void)size;
    *(double *)acc = 0.0;
}
static void user_add(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx, (void)size;
    *(double *)acc = *(double *)acc + *(const double *)rhs;
}
Test(reduce, builtin_sum_inline_gives_a_user_sums_bits)
{
    prange_set_num_threads(16);
    prange_reducer user = PRANGE_REDUCER_INIT;
    user.acc_size = sizeof(double);
    user.identity = user_zero;
    user.combine = user_add;
    int64_t n = 3 * 2048 + 77;
    double *x = malloc((size_t)n * sizeof *x), *z = malloc((size_t)n * sizeof *z);
    uint64_t seed = 7;
    for (int64_t i = 0; i < n; i++) {
        x[i] = (i % 2 ? -1e16 : 1e16) + t_unit(&seed);
        z[i] = -0.0;
    }
    static const int64_t grains[] = {0, 1, 100, 2048};
    for (int which = 0; which < 2; which++) {
        vec v = {which ? z : x};
        for (int t = 0; t < T_NTHREADS; t++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_STATIC, grains[g]);
                double a = 1, b = 2;
                cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_f64(), sum_body, &v, &a, &o), 0);
                cr_assert_eq(prange_reduce(0, n, &user, sum_body, &v, &b, &o), 0);
                cr_assert_eq(bits(a), bits(b), "%s, threads=%d grain=%lld: built-in %a, user %a", which ? "-0.0" : "x",
                             t_thread_counts[t], (long long)grains[g], a, b);
            }
    }
    double e = -1;
    vec v = {x};
    cr_assert_eq(prange_reduce(0, 0, prange_reducer_sum_f64(), sum_body, &v, &e, NULL), 0);
    cr_assert_eq(bits(e), bits(0.0), "the identity is +0.0");
    free(x);
    free(z);
}

/* Large n without memory: the terms are computed from the index. Exercises block sizes
 * above 2048 (n > 2^27) and many blocks. */
static void index_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += 1.0 / (double)(i + 1);
    *(double *)acc = s;
}

Test(reduce, many_blocks_identical, .timeout = 120)
{
    prange_set_num_threads(16);
    int64_t n = (INT64_C(1) << 27) + 12345;
    double first = 0;
    for (int t = 0; t < T_NTHREADS; t += 2) {
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_AUTO, 0);
        double r;
        cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_f64(), index_body, NULL, &r, &o), 0);
        if (t == 0) first = r;
        cr_assert_eq(bits(r), bits(first), "threads=%d", t_thread_counts[t]);
    }
    cr_assert_float_eq(first, log((double)n) + 0.5772156649015329, 1e-6);
}

static void isum_body(void *c, int64_t b, int64_t e, void *acc)
{
    const int64_t *x = c;
    int64_t s = *(int64_t *)acc;
    for (int64_t i = b; i < e; i++) s += x[i];
    *(int64_t *)acc = s;
}

static void bits_body(void *c, int64_t b, int64_t e, void *acc)
{
    const int64_t *x = c;
    uint64_t s = *(uint64_t *)acc;
    for (int64_t i = b; i < e; i++) s ^= (uint64_t)x[i];
    *(uint64_t *)acc = s;
}

Test(reduce, integers_exact)
{
    prange_set_num_threads(8);
    int64_t n = 300007;
    int64_t *x = malloc((size_t)n * sizeof *x);
    uint64_t seed = 7;
    int64_t ref = 0;
    uint64_t xref = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = (int64_t)(t_rand(&seed) >> 20) - (INT64_C(1) << 43);
        ref += x[i];
        xref ^= (uint64_t)x[i];
    }
    for (int t = 0; t < T_NTHREADS; t++) {
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_DYNAMIC, 0);
        int64_t s = 0;
        uint64_t xs = 0;
        cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_i64(), isum_body, x, &s, &o), 0);
        cr_assert_eq(s, ref);
        cr_assert_eq(prange_reduce(0, n, prange_reducer_xor_u64(), bits_body, x, &xs, &o), 0);
        cr_assert_eq(xs, xref);
    }
    free(x);
}

/* A reducer's identity / combine, called as the library does. */
#define T_ID(r, acc) (r)->identity((r)->rctx, (acc), (r)->acc_size)
#define T_CB(r, acc, rhs) (r)->combine((r)->rctx, (acc), (rhs), (r)->acc_size)

/* Built-in combines, checked directly on their algebra. */
Test(reduce, builtin_identities_and_combines)
{
    double d;
    T_ID(prange_reducer_prod_f64(), &d);
    cr_assert_eq(d, 1.0);
    double two = 2.0;
    d = 3.0;
    T_CB(prange_reducer_prod_f64(), &d, &two);
    cr_assert_eq(d, 6.0);
    T_ID(prange_reducer_min_f64(), &d);
    cr_assert(isinf(d) && d > 0);
    double nan = NAN, one = 1.0;
    d = 5.0;
    T_CB(prange_reducer_min_f64(), &d, &nan);
    cr_assert(isnan(d), "min propagates NaN");
    d = 5.0;
    T_CB(prange_reducer_max_f64(), &d, &one);
    cr_assert_eq(d, 5.0);
    int64_t i = 5, j = -2;
    T_CB(prange_reducer_min_i64(), &i, &j);
    cr_assert_eq(i, -2);
    T_ID(prange_reducer_max_i64(), &i);
    cr_assert_eq(i, INT64_MIN);
    int64_t big = INT64_MAX, o1 = 1;
    T_CB(prange_reducer_sum_i64(), &big, &o1);
    cr_assert_eq(big, INT64_MIN, "integer sums wrap");
    int64_t p = 3, q = 4;
    T_CB(prange_reducer_prod_i64(), &p, &q);
    cr_assert_eq(p, 12);
    uint64_t u, m = 0xF0;
    T_ID(prange_reducer_and_u64(), &u);
    cr_assert_eq(u, ~UINT64_C(0));
    T_CB(prange_reducer_and_u64(), &u, &m);
    cr_assert_eq(u, 0xF0);
    T_ID(prange_reducer_or_u64(), &u);
    T_CB(prange_reducer_or_u64(), &u, &m);
    cr_assert_eq(u, 0xF0);
    int l, t = 1, f = 0;
    T_ID(prange_reducer_land(), &l);
    cr_assert_eq(l, 1);
    T_CB(prange_reducer_land(), &l, &f);
    cr_assert_eq(l, 0);
    T_ID(prange_reducer_lor(), &l);
    cr_assert_eq(l, 0);
    T_CB(prange_reducer_lor(), &l, &t);
    cr_assert_eq(l, 1);
    float fs = 1.5f, ft = 2.0f;
    T_CB(prange_reducer_sum_f32(), &fs, &ft);
    cr_assert_eq(fs, 3.5f);
    T_CB(prange_reducer_prod_f32(), &fs, &ft);
    cr_assert_eq(fs, 7.0f);
    T_ID(prange_reducer_sum_f32(), &fs);
    cr_assert_eq(fs, 0.0f);
}

static void minloc_body(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = c;
    for (int64_t i = b; i < e; i++) {
        prange_loc_f64 one = {x[i], i};
        T_CB(prange_reducer_minloc_f64(), acc, &one);
    }
}

Test(reduce, minloc_ties_nan_all_equal)
{
    prange_set_num_threads(7);
    int64_t n = 50001;
    double *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = 3.0;
    for (int t = 0; t < T_NTHREADS; t++) {
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_GUIDED, 0);
        prange_loc_f64 r;
        cr_assert_eq(prange_reduce(0, n, prange_reducer_minloc_f64(), minloc_body, x, &r, &o), 0);
        cr_assert_eq(r.index, 0, "all equal: lowest index");
    }
    x[40000] = -1;
    x[30000] = -1;
    prange_opts o = t_parallel_opts(7, PRANGE_SCHEDULE_STATIC, 0);
    prange_loc_f64 r;
    cr_assert_eq(prange_reduce(0, n, prange_reducer_minloc_f64(), minloc_body, x, &r, &o), 0);
    cr_assert_eq(r.index, 30000);
    cr_assert_eq(r.value, -1);
    x[45000] = NAN;
    x[20000] = NAN;
    cr_assert_eq(prange_reduce(0, n, prange_reducer_minloc_f64(), minloc_body, x, &r, &o), 0);
    cr_assert_eq(r.index, 20000, "first NaN wins");
    cr_assert(isnan(r.value));
    cr_assert_eq(prange_reduce(0, 1, prange_reducer_minloc_f64(), minloc_body, x, &r, &o), 0);
    cr_assert_eq(r.index, 0);
    free(x);
}

Test(reduce, loc_combines_i64_and_max)
{
    prange_loc_i64 a, b = {5, 9}, c = {5, 2}, d = {7, 20};
    T_ID(prange_reducer_minloc_i64(), &a);
    T_CB(prange_reducer_minloc_i64(), &a, &b);
    T_CB(prange_reducer_minloc_i64(), &a, &c);
    cr_assert_eq(a.index, 2, "tie goes to the lowest index");
    T_ID(prange_reducer_maxloc_i64(), &a);
    T_CB(prange_reducer_maxloc_i64(), &a, &b);
    T_CB(prange_reducer_maxloc_i64(), &a, &d);
    cr_assert_eq(a.value, 7);
    prange_loc_f64 f, g = {INFINITY, 4};
    T_ID(prange_reducer_minloc_f64(), &f);
    T_CB(prange_reducer_minloc_f64(), &f, &g);
    cr_assert_eq(f.index, 4, "+inf element beats the identity");
    prange_loc_f64 h = {-1.0, 8}, nan = {NAN, 12};
    T_ID(prange_reducer_maxloc_f64(), &f);
    T_CB(prange_reducer_maxloc_f64(), &f, &h);
    T_CB(prange_reducer_maxloc_f64(), &f, &nan);
    cr_assert_eq(f.index, 12);
}

/* A user reducer on a struct whose combine is not commutative: count, mean and M2
 * (Chan et al.), where the left operand covers lower indices. */
typedef struct {
    double count, mean, m2;
    int64_t first; /* lowest index seen: checks left-to-right order */
} stats;

static void stats_id(void *rctx, void *a, size_t size)
{
    (void)rctx, (void)size;
    *(stats *)a = (stats){0, 0, 0, INT64_MAX};
}
static void stats_combine(void *rctx, void *a, const void *b, size_t size)
{
    (void)rctx, (void)size;
    stats *l = a;
    const stats *r = b;
    if (r->count == 0) return;
    if (l->count == 0) {
        *l = *r;
        return;
    }
    double n = l->count + r->count, d = r->mean - l->mean;
    l->m2 += r->m2 + d * d * l->count * r->count / n;
    l->mean += d * r->count / n;
    l->count = n;
    if (r->first < l->first) l->first = -1; /* order violated */
}

static void stats_body(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = c;
    for (int64_t i = b; i < e; i++) {
        stats one = {1, x[i], 0, i};
        stats_combine(NULL, acc, &one, sizeof one);
    }
}

Test(reduce, user_struct_reducer)
{
    prange_set_num_threads(8);
    prange_reducer r = PRANGE_REDUCER_INIT;
    r.acc_size = sizeof(stats);
    r.identity = stats_id;
    r.combine = stats_combine;
    int64_t n = 123457;
    double *x = malloc((size_t)n * sizeof *x);
    uint64_t seed = 3;
    long double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = 10 + t_unit(&seed);
        sum += x[i];
    }
    long double mean = sum / n;
    for (int64_t i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
    stats first;
    for (int t = 0; t < T_NTHREADS; t++) {
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_AUTO, 0);
        stats s;
        cr_assert_eq(prange_reduce(0, n, &r, stats_body, x, &s, &o), 0);
        cr_assert_neq(s.first, -1, "combine saw a right operand before its left");
        cr_assert_eq(s.count, (double)n);
        cr_assert_float_eq(s.mean, (double)mean, 1e-12);
        cr_assert_float_eq(s.m2, (double)sq, 1e-6 * (double)sq);
        if (t == 0) first = s;
        cr_assert_eq(memcmp(&s, &first, sizeof s), 0, "threads=%d", t_thread_counts[t]);
    }
    free(x);
}

/* Reducer user data: identity and combine see the reducer's rctx and acc_size (a sum
 * modulo a number that lives in rctx; the _sized variants of 0.1 are gone). */
typedef struct {
    uint64_t mod;
    _Atomic(size_t) seen_size; /* acc_size as identity saw it (every worker writes it) */
} modctx;
static void mod_id(void *rctx, void *acc, size_t size)
{
    atomic_store_explicit(&((modctx *)rctx)->seen_size, size, memory_order_relaxed);
    *(uint64_t *)acc = 0;
}
static void mod_add(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)size;
    uint64_t m = ((modctx *)rctx)->mod;
    *(uint64_t *)acc = (*(uint64_t *)acc + *(const uint64_t *)rhs) % m;
}
static void mod_body(void *c, int64_t b, int64_t e, void *acc)
{
    uint64_t m = *(const uint64_t *)c, s = *(uint64_t *)acc;
    for (int64_t i = b; i < e; i++) s = (s + (uint64_t)i * (uint64_t)i) % m;
    *(uint64_t *)acc = s;
}

/* A reduction of one block (n <= the block size: a small dot product per solver step)
 * runs from its own accumulator (lib/reduce.c, fold_inline's single block; up to 64
 * bytes in the frame, bigger ones through the stack): identity, one body call over the
 * whole range, no combine, the result copied out once. Sizes on both sides of 64 bytes. */
typedef struct {
    int64_t calls, lo, hi, combines;
} one_head;
static void one_id(void *rctx, void *acc, size_t size)
{
    (void)rctx;
    unsigned char *b = acc;
    for (size_t i = 0; i < size; i++) b[i] = (unsigned char)(7 * i + 1);
    memset(acc, 0, sizeof(one_head));
}
static void one_combine(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx;
    (void)rhs;
    (void)size;
    ((one_head *)acc)->combines++;
}
static void one_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    one_head *h = acc;
    h->calls++;
    h->lo = b;
    h->hi = e;
}

Test(reduce, one_block_runs_from_its_own_accumulator)
{
    static const size_t sizes[] = {sizeof(one_head), 40, 64, 72, 200};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t size = sizes[k];
        prange_reducer r = PRANGE_REDUCER_INIT;
        r.acc_size = size;
        r.identity = one_id;
        r.combine = one_combine;
        unsigned char out[256], want[256];
        one_id(NULL, want, size);
        ((one_head *)(void *)want)->calls = 1;
        ((one_head *)(void *)want)->lo = -500;
        ((one_head *)(void *)want)->hi = 500;
        memset(out, 0xAB, sizeof out);
        cr_assert_eq(prange_reduce(-500, 500, &r, one_body, NULL, out, NULL), 0);
        cr_assert_eq(memcmp(out, want, size), 0, "acc_size %zu: not identity + one body call over the range", size);
        for (size_t i = size; i < sizeof out; i++) cr_assert_eq(out[i], 0xAB, "acc_size %zu: wrote past the result", size);
        /* Two blocks (grain 500): one combine, the first block's bounds. */
        prange_opts o = PRANGE_OPTS_INIT;
        o.grain = 500;
        o.threads = 1;
        cr_assert_eq(prange_reduce(-500, 500, &r, one_body, NULL, out, &o), 0);
        one_head h;
        memcpy(&h, out, sizeof h);
        cr_assert(h.calls == 1 && h.lo == -500 && h.hi == 0 && h.combines == 1, "acc_size %zu, 2 blocks: %lld calls "
                  "[%lld, %lld) %lld combines", size, (long long)h.calls, (long long)h.lo, (long long)h.hi,
                  (long long)h.combines);
    }
}

Test(reduce, reducer_rctx_reaches_identity_and_combine)
{
    prange_set_num_threads(8);
    modctx mc = {1000003, 0};
    prange_reducer r = PRANGE_REDUCER_INIT;
    r.acc_size = sizeof(uint64_t);
    r.identity = mod_id;
    r.combine = mod_add;
    r.rctx = &mc;
    int64_t n = 200001;
    uint64_t ref = 0;
    for (int64_t i = 0; i < n; i++) ref = (ref + (uint64_t)i * (uint64_t)i) % mc.mod;
    for (int t = 0; t < T_NTHREADS; t++) {
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_AUTO, 0);
        uint64_t got = 0;
        mc.seen_size = 0;
        cr_assert_eq(prange_reduce(0, n, &r, mod_body, &mc.mod, &got, &o), 0);
        cr_assert_eq(got, ref, "threads=%d", t_thread_counts[t]);
        cr_assert_eq(mc.seen_size, sizeof(uint64_t));
    }
}

/* Histogram through the array reducer equals a serial histogram exactly. */
#define BINS 97
typedef struct {
    const uint32_t *v;
} hist_ctx;

static void hist_body(void *c, int64_t b, int64_t e, void *acc)
{
    const uint32_t *v = ((hist_ctx *)c)->v;
    int64_t *h = acc;
    for (int64_t i = b; i < e; i++) h[v[i] % BINS]++;
}

Test(reduce, array_histogram_exact)
{
    prange_set_num_threads(16);
    int64_t n = 1000003;
    uint32_t *v = malloc((size_t)n * sizeof *v);
    uint64_t seed = 11;
    int64_t ref[BINS] = {0};
    for (int64_t i = 0; i < n; i++) {
        v[i] = (uint32_t)t_rand(&seed);
        ref[v[i] % BINS]++;
    }
    prange_reducer r = prange_reducer_array_sum_i64(BINS);
    cr_assert_eq(r.acc_size, BINS * sizeof(int64_t));
    hist_ctx c = {v};
    for (int t = 0; t < T_NTHREADS; t++) {
        int64_t h[BINS];
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_DYNAMIC, 0);
        cr_assert_eq(prange_reduce(0, n, &r, hist_body, &c, h, &o), 0);
        cr_assert_eq(memcmp(h, ref, sizeof ref), 0, "threads=%d", t_thread_counts[t]);
    }
    cr_assert_eq(prange_reducer_array_sum_f64(0).acc_size, 0);
    cr_assert_eq(prange_reducer_array_sum_f64(SIZE_MAX / 4).acc_size, 0);
    free(v);
}

Test(reduce, bad_input_writes_nothing)
{
    double x[4] = {1, 2, 3, 4};
    vec v = {x};
    double r = 123.0;
    prange_reducer zero = *prange_reducer_sum_f64();
    zero.acc_size = 0;
    prange_reducer noid = *prange_reducer_sum_f64();
    noid.identity = NULL;
    prange_reducer nocomb = *prange_reducer_sum_f64();
    nocomb.combine = NULL;
    prange_reducer huge = *prange_reducer_sum_f64();
    huge.acc_size = ((size_t)1 << 30) + 1;
    prange_reducer unsized = *prange_reducer_sum_f64();
    unsized.struct_size = 0; /* a {0}-style initialiser */
    prange_opts bad = {.struct_size = sizeof(prange_opts), .grain = -5};
    cr_assert_eq(prange_reduce(0, 4, NULL, sum_body, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, &zero, sum_body, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, &noid, sum_body, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, &nocomb, sum_body, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, &huge, sum_body, &v, &r, NULL), PRANGE_ERANGE);
    cr_assert_eq(prange_reduce(0, 4, &unsized, sum_body, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, prange_reducer_sum_f64(), NULL, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, prange_reducer_sum_f64(), sum_body, &v, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(4, 0, prange_reducer_sum_f64(), sum_body, &v, &r, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_reduce(0, 4, prange_reducer_sum_f64(), sum_body, &v, &r, &bad), PRANGE_EINVAL);
    cr_assert_eq(r, 123.0, "nothing written on error");
    cr_assert_eq(prange_reduce(0, 4, prange_reducer_sum_f64(), sum_body, &v, &r, NULL), 0);
    cr_assert_eq(r, 10.0);
}

/* A reduction inside a reduction's body: runs serially, uses its own scratch. */
static void inner_sum(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    for (int64_t i = b; i < e; i++) *(double *)acc += (double)i;
}

static void outer_sum(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    for (int64_t i = b; i < e; i++) {
        double s = 0;
        prange_reduce(0, 5000, prange_reducer_sum_f64(), inner_sum, NULL, &s, NULL);
        *(double *)acc += s;
    }
}

Test(reduce, nested_reduction)
{
    prange_set_num_threads(4);
    prange_opts o = t_parallel_opts(4, PRANGE_SCHEDULE_AUTO, 1);
    double r = 0;
    cr_assert_eq(prange_reduce(0, 6000, prange_reducer_sum_f64(), outer_sum, NULL, &r, &o), 0);
    cr_assert_eq(r, 6000.0 * (4999.0 * 5000.0 / 2));
}

/* PRANGE_GRAIN (opts.grain = 0) is the minimum block size of prange_reduce, as opts.grain
 * is: blocks of 10000, whatever the thread count; the result is the one an explicit grain
 * of 10000 gives. The typed kernels keep their fixed 2048-element blocks and bits. Each
 * Criterion test is its own process: the variable is set before the first call. */
typedef struct {
    const double *x;
    atomic_int calls, bad;
    int64_t want_len, n;
} block_ctx;

static void block_body(void *c, int64_t b, int64_t e, void *acc)
{
    block_ctx *k = c;
    atomic_fetch_add(&k->calls, 1);
    if (e - b != k->want_len && e != k->n) atomic_store(&k->bad, 1);
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += k->x[i];
    *(double *)acc = s;
}

/* prange_sum_f64's own block body (the pairwise kernel) for the reference. */
static void kernel_body(void *c, int64_t b, int64_t e, void *acc)
{
    *(double *)acc += prange__sum_serial_f64(((block_ctx *)c)->x + b, e - b);
}

Test(reduce, env_grain_is_the_block_size)
{
    setenv("PRANGE_GRAIN", "10000", 1);
    enum { N = 100003 };
    double *x = malloc(N * sizeof *x);
    uint64_t seed = 9;
    for (int i = 0; i < N; i++) x[i] = t_unit(&seed) * pow(10, i % 7);
    double want = 0;
    for (int t = 1; t <= 4; t++) {
        prange_set_num_threads(t);
        block_ctx k = {.x = x, .want_len = 10000, .n = N};
        prange_opts o = t_parallel_opts(t, PRANGE_SCHEDULE_AUTO, 0);
        double r = 0;
        cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), block_body, &k, &r, &o), 0);
        cr_assert_eq(k.calls, 11, "%d threads: %d blocks for PRANGE_GRAIN=10000", t, k.calls);
        cr_assert_eq(k.bad, 0, "a block other than the last is not 10000 long");
        if (t == 1) want = r;
        cr_assert_eq(bits(r), bits(want), "%d threads", t);
        /* The same bits as an explicit grain of 10000 */
        block_ctx e = {.x = x, .want_len = 10000, .n = N};
        o.grain = 10000;
        double r2 = 0;
        cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), block_body, &e, &r2, &o), 0);
        cr_assert_eq(bits(r2), bits(want));
    }
    /* prange_sum_f64: its own 2048-element blocks, not PRANGE_GRAIN's. */
    block_ctx k = {.x = x, .want_len = 2048, .n = N};
    prange_opts o = {.struct_size = sizeof(prange_opts), .grain = 2048};
    double fixed = 0, env = 0;
    cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), kernel_body, &k, &fixed, &o), 0);
    cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), kernel_body, &k, &env, NULL), 0);
    cr_assert_neq(bits(fixed), bits(env), "the data must tell the two blockings apart");
    for (int t = 1; t <= 4; t++) {
        prange_set_num_threads(t);
        cr_assert_eq(bits(prange_sum_f64(x, N, NULL)), bits(fixed), "%d threads", t);
    }
    prange_set_num_threads(0);
    free(x);
}

/* Block boundaries of a big accumulator (a 256-bin histogram, 2 KiB): up to 32
 * iterations per accumulator byte by default, so zeroing and combining 2 KiB per block
 * stays ~1% of a cheap body (at 4 per byte, 8192, it was 5-10%: the histogram kernel
 * trailed OpenMP by 1.2-1.3x); down to 4 per byte while that leaves fewer than 64 blocks;
 * with a cost hint, at least 16 ns of declared work per byte. The body records its
 * ranges; the boundaries are the same for every thread count. */
typedef struct {
    atomic_int calls, bad;
    int64_t want_len, n;
} range_ctx;

static void range_body(void *c, int64_t b, int64_t e, void *acc)
{
    range_ctx *k = c;
    atomic_fetch_add(&k->calls, 1);
    if (b % k->want_len != 0 || (e - b != k->want_len && e != k->n)) atomic_store(&k->bad, 1);
    ((int64_t *)acc)[b / k->want_len % 256] += e - b;
}

Test(reduce, big_accumulator_block_sizes)
{
    static const struct {
        int64_t n;
        double cost_ns;
        int64_t want;
    } cases[] = {
        {INT64_C(1) << 27, 0, 65536}, /* 32 per byte: 2048 blocks */
        {INT64_C(1) << 20, 0, 16384}, /* 64 blocks */
        {10000, 0, 8192},             /* 4 per byte: the floor */
        {INT64_C(1) << 20, 1, 32768}, /* 16 ns per byte declared at 1 ns an iteration */
        {100000, 100, 328},          /* 2 KiB x 16 ns / 100 ns, above 20 us / 100 ns = 200 */
    };
    prange_reducer r = prange_reducer_array_sum_i64(256);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int t = 1; t <= 4; t *= 2) {
            prange_set_num_threads(t);
            range_ctx k = {.want_len = cases[c].want, .n = cases[c].n};
            prange_opts o = PRANGE_OPTS_INIT;
            o.threads = t;
            o.cost_ns = cases[c].cost_ns;
            int64_t h[256];
            cr_assert_eq(prange_reduce(0, k.n, &r, range_body, &k, h, &o), 0);
            int64_t blocks = (k.n - 1) / k.want_len + 1, sum = 0;
            cr_assert_eq(k.calls, blocks, "n %lld cost %g, %d threads: %d blocks, want %lld of %lld",
                         (long long)k.n, cases[c].cost_ns, t, (int)k.calls, (long long)blocks, (long long)k.want_len);
            cr_assert_eq(k.bad, 0, "n %lld cost %g: a block is not [i * %lld, (i + 1) * %lld)", (long long)k.n,
                         cases[c].cost_ns, (long long)k.want_len, (long long)k.want_len);
            for (int b = 0; b < 256; b++) sum += h[b];
            cr_assert_eq(sum, k.n);
        }
    }
    prange_set_num_threads(0);
}

/* ---- scratch: re-entry, depth, size ------------------------------------------------- */

/* Recursion through nested reductions, scans and kernels, each level checking its own
 * results: deeper than the kept scratch levels. */
enum { DEEP = 64 };
static atomic_int g_deep_bad;

static double deep(int d);
static void deep_body(void *c, int64_t b, int64_t e, void *acc)
{
    int d = *(int *)c;
    for (int64_t i = b; i < e; i++) *(double *)acc += i == 0 ? deep(d + 1) : 1.0;
}

static double deep(int d)
{
    if (d == DEEP) return 1.0;
    double x[3] = {1, 2, 4}, y[3];
    if (prange_scan_f64(x, y, 3, 0, NULL) != 0 || y[2] != 7.0) atomic_fetch_add(&g_deep_bad, 1);
    if (prange_sum_f64(x, 3, NULL) != 7.0) atomic_fetch_add(&g_deep_bad, 1);
    double s = 0;
    if (prange_reduce(0, 3, prange_reducer_sum_f64(), deep_body, &d, &s, NULL) != 0) atomic_fetch_add(&g_deep_bad, 1);
    return s; /* deep(d + 1) + 2 */
}

static void deep_outer(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    for (int64_t i = b; i < e; i++) *(double *)acc += i % 4096 == 0 ? deep(0) : 0.0;
}

Test(reduce, nesting_64_deep)
{
    prange_set_num_threads(2);
    prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    for (int round = 0; round < 3; round++) { /* the second and third reuse what the first built */
        double r = 0;
        cr_assert_eq(prange_reduce(0, 8192, prange_reducer_sum_f64(), deep_outer, NULL, &r, &o), 0);
        cr_assert_eq(atomic_load(&g_deep_bad), 0, "%d failures below depth %d", atomic_load(&g_deep_bad), DEEP);
        cr_assert_eq(r, 2 * (1.0 + 2.0 * DEEP), "r = %g", r); /* two blocks, each deep(0) */
    }
}

/* A reduction whose combine runs long, so that signals often land while a thread merges
 * (the serial path folds its last pieces outside any body): a handler's reduction must not
 * take the scratch of the reduction it interrupted. */
typedef struct {
    double v[8];
} vec8;
static atomic_int g_raise_every, g_combines;
static void vec8_id(void *rctx, void *a, size_t size)
{
    (void)rctx, (void)size;
    *(vec8 *)a = (vec8){{0}};
}
static void vec8_combine(void *rctx, void *a, const void *b, size_t size)
{
    (void)rctx, (void)size;
    int every = atomic_load(&g_raise_every);
    if (every && atomic_fetch_add(&g_combines, 1) % every == 0) raise(SIGUSR1); /* the handler runs now */
    vec8 *x = a;
    const vec8 *y = b;
    for (int r = 0; r < (UNDER_ASAN ? 200 : 2000); r++) /* slow on purpose (ASan slows it 10x); exact: small integers */
        for (int k = 0; k < 8; k++) x->v[k] = (x->v[k] + y->v[k]) - y->v[k];
    for (int k = 0; k < 8; k++) x->v[k] += y->v[k];
}
static const prange_reducer vec8_reducer = {sizeof(prange_reducer), sizeof(vec8), vec8_id, vec8_combine, NULL};
static void vec8_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    vec8 *x = acc;
    for (int64_t i = b; i < e; i++) x->v[i & 7] += (double)(i & 15);
}

static atomic_int g_handled, g_handler_bad; /* lock-free: fine in a handler, on any thread */
static double g_handler_expect;

/* What a signal handler runs: a serial reduction and a small kernel (nothing that starts
 * threads, samples cost or allocates in steady state). */
static double handler_work(void)
{
    static const double x[5] = {1, 2, 3, 4, 5};
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    o.cost_ns = 1;
    double s = -1;
    if (prange_reduce(0, 5000, prange_reducer_sum_f64(), inner_sum, NULL, &s, &o) != 0) return -1;
    return s + prange_sum_f64(x, 5, NULL);
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    if (handler_work() != g_handler_expect) atomic_fetch_add(&g_handler_bad, 1);
    atomic_fetch_add(&g_handled, 1);
    errno = saved;
}

static void check_interrupted(int from_timer)
{
    prange_set_num_threads(2);
    /* 7 blocks: 3 pieces left for the final fold; in parallel, one thread posts 2. */
    prange_opts o[2] = {t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0), PRANGE_OPTS_INIT};
    o[1].flags = PRANGE_SERIAL;
    int64_t n = 7 * 2048;
    vec8 expect, got;
    cr_assert_eq(prange_reduce(0, n, &vec8_reducer, vec8_body, NULL, &expect, &o[0]), 0);
    g_handler_expect = handler_work(); /* also warms up every level the handler takes */
    cr_assert_eq(g_handler_expect, 4999.0 * 5000.0 / 2 + 15.0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    cr_assert_eq(sigaction(from_timer ? SIGALRM : SIGUSR1, &sa, NULL), 0);
    if (from_timer) {
        struct itimerval it = {{0, 150}, {0, 150}};
        cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
    }
    int wrong = 0, rounds = from_timer ? 1500 : 200;
    for (int r = 0; r < rounds; r++) {
        if (!from_timer) atomic_store(&g_raise_every, 2);
        memset(&got, 0xff, sizeof got);
        cr_assert_eq(prange_reduce(0, n, &vec8_reducer, vec8_body, NULL, &got, &o[r & 1]), 0);
        atomic_store(&g_raise_every, 0);
        wrong += memcmp(&got, &expect, sizeof got) != 0;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    int handled = atomic_load(&g_handled), bad = atomic_load(&g_handler_bad);
    cr_assert_gt(handled, 10, "only %d signals handled", handled);
    cr_assert_eq(bad, 0, "%d of %d handler results wrong", bad, handled);
    cr_assert_eq(wrong, 0, "%d of %d interrupted reductions wrong (%d signals)", wrong, rounds, handled);
}

/* Criterion runs each test in its own process, with a timeout for a hang. */
Test(reduce, signal_handler_reductions_are_exact, .timeout = 120)
{
    if (UNDER_VALGRIND) cr_skip_test("valgrind serialises threads and runs this 50x slower than its timeout");
    check_interrupted(1);
}

/* The same, deterministically: the handler runs from inside every other combine, the
 * merge's included. */
Test(reduce, reentry_from_combine_is_exact, .timeout = 60)
{
    if (UNDER_VALGRIND) cr_skip_test("valgrind serialises threads and runs this 50x slower than its timeout");
    check_interrupted(0);
}

/* The documented largest accumulator, 2^30 bytes: a count in its first 8 bytes, the rest
 * never written by identity or combine (so only the result copy makes pages resident). */
static void big_id(void *rctx, void *a, size_t size)
{
    (void)rctx, (void)size;
    *(uint64_t *)a = 0;
}
static void big_combine(void *rctx, void *a, const void *b, size_t size)
{
    (void)rctx, (void)size;
    *(uint64_t *)a += *(const uint64_t *)b;
}
static void count_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    *(uint64_t *)acc += (uint64_t)(e - b);
}

Test(reduce, largest_accumulator_works)
{
    prange_reducer big = {sizeof(prange_reducer), (size_t)1 << 30, big_id, big_combine, NULL};
    uint64_t *result = malloc(big.acc_size);
    cr_assert_not_null(result);
    prange_opts serial = PRANGE_OPTS_INIT;
    serial.flags = PRANGE_SERIAL;
    int64_t n = INT64_C(3) << 32; /* 3 blocks of 2^32 iterations */
    cr_assert_eq(prange_reduce(0, n, &big, count_body, NULL, result, &serial), 0);
    cr_assert_eq(*result, (uint64_t)n);
    free(result);
}

/* Address space of this process in KiB (0 when /proc is unreadable). */
static long vm_kb(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld", &pages) != 1) pages = 0;
        fclose(f);
    }
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static void hist_touch_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    double *h = acc;
    h[0] += (double)(e - b);
}

/* A 256 MiB array reducer on 2 threads: its scratch is given back when the call returns
 * (address space and resident memory back near where they were, generous bounds). */
Test(reduce, big_reducer_gives_memory_back, .disabled = UNDER_ASAN || UNDER_TSAN)
{
    if (UNDER_VALGRIND) cr_skip_test("valgrind's shadow memory changes RSS");
    prange_set_num_threads(2);
    size_t count = (size_t)32 << 20;
    prange_reducer r = prange_reducer_array_sum_f64(count);
    double *h = malloc(r.acc_size);
    cr_assert_not_null(h);
    memset(h, 0, r.acc_size); /* the result's pages are resident before the baseline */
    prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    /* Warm-up: the team exists (its threads' stacks and arenas are not the reducer's). */
    cr_assert_eq(prange_reduce(0, 4 * 2048, prange_reducer_sum_f64(), sum_body, &(vec){h}, &(double){0}, &o), 0);
    long vm0 = vm_kb(), rss0 = t_rss_kb();
    int64_t n = INT64_C(4) << 30; /* 4 blocks of 2^30 iterations */
    cr_assert_eq(prange_reduce(0, n, &r, hist_touch_body, NULL, h, &o), 0);
    cr_assert_eq(h[0], (double)n);
    long vm1 = vm_kb(), rss1 = t_rss_kb();
    cr_assert_lt(vm1 - vm0, 64 << 10, "address space grew by %ld MiB", (vm1 - vm0) >> 10);
    cr_assert_lt(rss1 - rss0, 64 << 10, "resident memory grew by %ld MiB", (rss1 - rss0) >> 10);
    free(h);
}

/* ---- a runtime that gives fewer threads than planned ------------------------------------ */

/* An interval of blocks, combined only when adjacent (left below right): associative, not
 * commutative; `bad` counts combines out of order. */
typedef struct {
    int64_t lo, hi, bad;
} span;
static void span_id(void *rctx, void *acc, size_t size)
{
    (void)rctx;
    (void)size;
    *(span *)acc = (span){-1, -1, 0};
}
static void span_combine(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx;
    (void)size;
    span *l = acc;
    const span *r = rhs;
    if (r->lo < 0) return;
    if (l->lo < 0) {
        *l = *r;
        return;
    }
    l->bad += r->bad + (l->hi != r->lo);
    l->hi = r->hi;
}
typedef struct {
    const double *x;
    atomic_int team;
} fewer_ctx;
static void span_body(void *c, int64_t b, int64_t e, void *acc)
{
    fewer_ctx *f = c;
    int k = prange_num_threads(), cur = atomic_load(&f->team);
    while (k > cur && !atomic_compare_exchange_weak(&f->team, &cur, k)) {}
    span s = {b, e, 0};
    span_combine(NULL, acc, &s, sizeof s);
}
static void fewer_sum_body(void *c, int64_t b, int64_t e, void *acc)
{
    fewer_ctx *f = c;
    int k = prange_num_threads(), cur = atomic_load(&f->team);
    while (k > cur && !atomic_compare_exchange_weak(&f->team, &cur, k)) {}
    double s = *(double *)acc;
    for (int64_t i = b; i < e; i++) s += f->x[i];
    *(double *)acc = s;
}

/* OMP_DYNAMIC lets libgomp give a region fewer threads than asked (here: a budget of 4x
 * the CPUs): each thread then folds several members' shares, and the pieces, so the bits
 * and the combine order, are those of the planned split. */
Test(reduce, a_runtime_giving_fewer_threads_keeps_the_bits)
{
    int procs = omp_get_num_procs(), planned = 4 * procs > 256 ? 256 : 4 * procs;
    enum { N = 997 };
    double *x = malloc(N * sizeof *x);
    uint64_t seed = 11;
    for (int i = 0; i < N; i++) x[i] = t_unit(&seed) * 1e3 - 500;
    prange_opts o = PRANGE_OPTS_INIT;
    o.grain = 1;
    o.cost_ns = 1e6; /* 997 blocks of 1 ms: a team of the whole budget */
    prange_opts serial = o;
    serial.flags = PRANGE_SERIAL;
    fewer_ctx c = {x, 0};
    double want = 0, got = 0;
    cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), fewer_sum_body, &c, &want, &serial), 0);
    prange_set_num_threads(planned);
    omp_set_dynamic(1);
    atomic_store(&c.team, 0);
    cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), fewer_sum_body, &c, &got, &o), 0);
    cr_assert_eq(bits(got), bits(want), "%.17g != %.17g on a team of %d (planned %d)", got, want,
                 atomic_load(&c.team), planned);
    cr_assert_lt(atomic_load(&c.team), planned, "the runtime gave the whole team: the case is not exercised");
    /* A 24-byte accumulator whose combine checks the order. */
    prange_reducer r = PRANGE_REDUCER_INIT;
    r.acc_size = sizeof(span);
    r.identity = span_id;
    r.combine = span_combine;
    span s;
    cr_assert_eq(prange_reduce(0, N, &r, span_body, &c, &s, &o), 0);
    cr_assert_eq(s.lo, 0);
    cr_assert_eq(s.hi, N);
    cr_assert_eq(s.bad, 0, "%lld combines out of order", (long long)s.bad);
    omp_set_dynamic(0);
    free(x);
}
