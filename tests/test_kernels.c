/* test_kernels.c — sum, dot, nrm2, min/max with index against serial references. */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

/* The documented bound: |s - exact| <= (16 + ceil(log2(max(1, n/2048)))) u sum|x|. */
static double bound(const double *x, int64_t n)
{
    long double abs = 0;
    for (int64_t i = 0; i < n; i++) abs += fabsl((long double)x[i]);
    double blocks = n > 2048 ? ceil(log2((double)n / 2048)) : 0;
    return (16 + blocks) * 0x1p-53 * (double)abs;
}

/* Compensated (Neumaier) reference in long double: far below the bound above. */
static long double ref_sum(const double *x, const double *y, int64_t n)
{
    long double s = 0, c = 0;
    for (int64_t i = 0; i < n; i++) {
        long double v = y ? (long double)x[i] * (long double)y[i] : (long double)x[i];
        long double t = s + v;
        c += fabsl(s) >= fabsl(v) ? (s - t) + v : (v - t) + s;
        s = t;
    }
    return s + c;
}

Test(kernels, sum_within_documented_bound)
{
    static const int64_t sizes[] = {0, 1, 3, 8, 9, 127, 128, 129, 1000, 2048, 2049, 65537, 1000003};
    int64_t nmax = 1000003;
    double *x = malloc((size_t)nmax * sizeof *x);
    uint64_t seed = 1;
    for (int64_t i = 0; i < nmax; i++) x[i] = t_unit(&seed) * pow(10, (double)(i % 9) - 4);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        int64_t n = sizes[k];
        double s = prange_sum_f64(x, n, NULL);
        double err = fabs((double)((long double)s - ref_sum(x, NULL, n)));
        cr_assert_leq(err, bound(x, n), "n=%lld err=%g bound=%g", (long long)n, err, bound(x, n));
    }
    /* Cancellation: 1e16, 1, -1e16 repeated sums to exactly the ones within the bound. */
    for (int64_t i = 0; i < nmax; i++) x[i] = (i % 3 == 0) ? 1e16 : (i % 3 == 1) ? 1.0 : -1e16;
    double s = prange_sum_f64(x, 300000, NULL);
    cr_assert_leq(fabs(s - 100000.0), bound(x, 300000));
    free(x);
}

Test(kernels, sum_f32_and_dot)
{
    int64_t n = 100003;
    float *f = malloc((size_t)n * sizeof *f);
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    uint64_t seed = 2;
    for (int64_t i = 0; i < n; i++) {
        f[i] = (float)t_unit(&seed);
        x[i] = t_unit(&seed);
        y[i] = t_unit(&seed);
    }
    long double fr = 0;
    for (int64_t i = 0; i < n; i++) fr += f[i];
    cr_assert_float_eq(prange_sum_f32(f, n, NULL), (double)fr, 1e-9);
    double d = prange_dot_f64(x, y, n, NULL);
    cr_assert_float_eq(d, (double)ref_sum(x, y, n), 1e-10);
    cr_assert_eq(prange_dot_f64(x, y, 0, NULL), 0.0);
    free(f);
    free(x);
    free(y);
}

Test(kernels, nrm2_no_spurious_overflow_or_underflow)
{
    double big[2] = {1e200, 1e200}, tiny[2] = {1e-200, 1e-200}, mixed[3] = {3e-300, 4e-300, 0};
    cr_assert_float_eq(prange_nrm2_f64(big, 2, NULL), sqrt(2.0) * 1e200, 1e186);
    cr_assert_float_eq(prange_nrm2_f64(tiny, 2, NULL), sqrt(2.0) * 1e-200, 1e-214);
    cr_assert_float_eq(prange_nrm2_f64(mixed, 3, NULL), 5e-300, 1e-313);
    double zeros[5] = {0};
    cr_assert_eq(prange_nrm2_f64(zeros, 5, NULL), 0.0);
    cr_assert_eq(prange_nrm2_f64(zeros, 0, NULL), 0.0);
    double inf[3] = {1, INFINITY, 2}, nan[3] = {INFINITY, NAN, 1};
    cr_assert(isinf(prange_nrm2_f64(inf, 3, NULL)));
    cr_assert(isnan(prange_nrm2_f64(nan, 3, NULL)));
    int64_t n = 100000;
    double *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (i % 2 ? 1e300 : -1e300);
    cr_assert_float_eq(prange_nrm2_f64(x, n, NULL), 1e300 * sqrt((double)n), 1e287);
    for (int64_t i = 0; i < n; i++) x[i] = 3.0;
    cr_assert_float_eq(prange_nrm2_f64(x, n, NULL), 3.0 * sqrt((double)n), 1e-10);
    free(x);
}

/* nrm2 of one vector and of the same vector as a row: the same pairwise sum up to one
 * block (2048), so the same bits; beyond, the row's single pairwise tree differs from the
 * blocked one, so only closeness. */
static double nrm2_both(const double *x, int64_t n)
{
    double r = prange_nrm2_f64(x, n, NULL), row = -1;
    cr_assert_eq(prange_row_norms_f64(x, &row, 1, n, NULL), 0);
    if (n <= 2048) cr_assert(memcmp(&r, &row, sizeof r) == 0, "nrm2 %a != row norm %a", r, row);
    else cr_assert(fabs(r - row) <= 1e-15 * r + 2 * DBL_TRUE_MIN || (isinf(r) && isinf(row)), "nrm2 %a, row %a", r, row);
    return r;
}

/* The scale 2^-ilogb(max) overflowed when max|x| was subnormal: inf or NaN came back. */
Test(kernels, nrm2_subnormal_and_extreme_exact)
{
    static const struct {
        double x[3];
        int n;
        double want;
    } cases[] = {
        {{1e-310}, 1, 1e-310},
        {{0, 1e-310}, 2, 1e-310},
        {{-1e-310, 0}, 2, 1e-310},
        {{0x1p-1074, 0, 0}, 3, 0x1p-1074},
        {{3 * 0x1p-1074, -4 * 0x1p-1074}, 2, 5 * 0x1p-1074},
        {{3 * 0x1p-1060, 0, 4 * 0x1p-1060}, 3, 5 * 0x1p-1060},
        {{DBL_MIN, 0, 0}, 3, DBL_MIN},
        {{0x1p-1074, DBL_MAX}, 2, DBL_MAX},
        {{DBL_MAX}, 1, DBL_MAX},
        {{-DBL_MAX, 0x1p-1074}, 2, DBL_MAX},
        {{3e300, 4e300}, 2, 5e300},
        {{DBL_MAX, DBL_MAX}, 2, INFINITY}, /* the true norm exceeds DBL_MAX */
        {{0x1p-1074, -INFINITY}, 2, INFINITY},
        {{0, -0.0, 0}, 3, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        double got = nrm2_both(cases[k].x, cases[k].n);
        cr_assert(got == cases[k].want, "case %zu: %a, want %a", k, got, cases[k].want);
    }
    double nan[3] = {0x1p-1074, NAN, INFINITY};
    cr_assert(isnan(nrm2_both(nan, 3)));
}

/* Magnitudes over the whole double range, subnormals included, against a long double
 * reference (its exponent range holds every square exactly enough); the same bits for
 * every thread count. */
Test(kernels, nrm2_whole_range_matches_reference)
{
    if (LDBL_MAX_EXP < 16384) cr_skip_test("long double has no wider exponent range here");
    /* Valgrind emulates x87 long double with double precision and range. */
    if (UNDER_VALGRIND) cr_skip_test("long double is a double under valgrind");
    enum { N = 5000 };
    double *x = malloc(N * sizeof *x);
    uint64_t seed = 12;
    for (int trial = 0; trial < 300; trial++) {
        /* a window of 2^60 in magnitude, centred anywhere from below 2^-1074 to 2^1024 */
        int centre = (int)(t_rand(&seed) % 2130) - 1100, n = trial % 3 == 0 ? N : 1 + (int)(t_rand(&seed) % 40);
        for (int i = 0; i < n; i++) {
            int e = centre + (int)(t_rand(&seed) % 61) - 30;
            x[i] = t_rand(&seed) % 7 == 0 ? 0 : ldexp(t_unit(&seed), e);
        }
        long double ss = 0;
        for (int i = 0; i < n; i++) ss += (long double)x[i] * (long double)x[i];
        double want = (double)sqrtl(ss);
        prange_set_num_threads(1);
        double got = nrm2_both(x, n);
        if (isinf(want)) {
            cr_assert(isinf(got), "trial %d: %a, want inf", trial, got);
        } else {
            double tol = 2e-15 * want + 2 * DBL_TRUE_MIN; /* a few ulps; 2 subnormal ulps */
            cr_assert(fabs(got - want) <= tol, "trial %d (n=%d, centre 2^%d): %a, want %a", trial, n, centre,
                      got, want);
        }
        for (int t = 2; t <= 4 && n == N; t++) {
            prange_set_num_threads(t);
            double again = prange_nrm2_f64(x, n, NULL);
            cr_assert(memcmp(&again, &got, sizeof got) == 0, "trial %d: %d threads give %a, 1 gives %a", trial, t,
                      again, got);
        }
    }
    prange_set_num_threads(0);
    free(x);
}

Test(kernels, minloc_maxloc)
{
    int64_t n = 200003;
    double *x = malloc((size_t)n * sizeof *x);
    uint64_t seed = 5;
    for (int64_t i = 0; i < n; i++) x[i] = t_unit(&seed);
    x[150000] = -5;
    x[170000] = -5;
    x[5] = 7;
    x[199999] = 7;
    prange_loc_f64 mn = prange_minloc_f64(x, n, NULL), mx = prange_maxloc_f64(x, n, NULL);
    cr_assert_eq(mn.index, 150000);
    cr_assert_eq(mn.value, -5);
    cr_assert_eq(mx.index, 5);
    cr_assert_eq(mx.value, 7);
    x[100] = NAN;
    x[90000] = NAN;
    mn = prange_minloc_f64(x, n, NULL);
    cr_assert_eq(mn.index, 100, "first NaN wins");
    cr_assert(isnan(mn.value));
    cr_assert_eq(prange_maxloc_f64(x, n, NULL).index, 100);
    double one = INFINITY;
    cr_assert_eq(prange_minloc_f64(&one, 1, NULL).index, 0);
    prange_loc_f64 e = prange_minloc_f64(x, 0, NULL);
    cr_assert_eq(e.index, -1);
    cr_assert(isnan(e.value));
    free(x);
}

Test(kernels, bad_input_is_nan_and_einval)
{
    double x[2] = {1, 2};
    errno = 0;
    cr_assert(isnan(prange_sum_f64(NULL, 3, NULL)));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert(isnan(prange_sum_f64(x, -1, NULL)));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert(isnan(prange_dot_f64(x, NULL, 2, NULL)));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert(isnan(prange_nrm2_f64(NULL, 1, NULL)));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert(isnan(prange_sum_f32(NULL, 1, NULL)));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    prange_loc_f64 l = prange_minloc_f64(NULL, 2, NULL);
    cr_assert_eq(l.index, -1);
    cr_assert_eq(errno, EINVAL);
    cr_assert_eq(prange_sum_f64(NULL, 0, NULL), 0.0, "n == 0 with NULL is an empty sum");
}

Test(errors, names_and_messages)
{
    cr_assert_str_eq(prange_strerror(0), "success");
    cr_assert_str_eq(prange_strerror(PRANGE_EINVAL), "invalid argument");
    cr_assert_str_eq(prange_strerror(PRANGE_ENOMEM), "out of memory");
    cr_assert_str_eq(prange_strerror(12345), "unknown error");
    cr_assert_str_eq(prange_err_name(PRANGE_EOVERFLOW), "PRANGE_EOVERFLOW");
    cr_assert_str_eq(prange_strerror(PRANGE_ERANGE), "value out of range");
    cr_assert_str_eq(prange_err_name(-125), "PRANGE_EUNKNOWN"); /* ECANCELED: never returned, dropped */
    cr_assert_str_eq(prange_err_name(-99999), "PRANGE_EUNKNOWN");
    cr_assert_eq(PRANGE_EINVAL, -EINVAL);
    cr_assert_eq(PRANGE_ENOMEM, -ENOMEM);
}

/* One version source: the header's macros, prange_version() and the string agree. */
Test(errors, version_agrees)
{
    cr_assert_eq(prange_version(), PRANGE_VERSION);
    cr_assert_eq(PRANGE_VERSION, PRANGE_VERSION_MAJOR * 10000 + PRANGE_VERSION_MINOR * 100 + PRANGE_VERSION_PATCH);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", PRANGE_VERSION_MAJOR, PRANGE_VERSION_MINOR, PRANGE_VERSION_PATCH);
    cr_assert_str_eq(prange_version_string(), want);
    cr_assert_geq(PRANGE_VERSION, 200, "0.2 or later");
}

/* The kernels take options: the thread cap, PRANGE_SERIAL and a grain change who runs
 * what, never the bits. f64 and f32 versions, against serial references. */
static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

#define NOPTS 5
static void kernel_opts_set(prange_opts o[NOPTS], int threads)
{
    for (int k = 0; k < NOPTS; k++) o[k] = t_parallel_opts(threads, PRANGE_SCHEDULE_AUTO, 0);
    o[1].flags = PRANGE_SERIAL;
    o[2].grain = 100000; /* ignored: blocks are fixed */
    o[3].schedule = PRANGE_SCHEDULE_DYNAMIC;
    o[4].cost_ns = 0;
}

Test(kernels, options_never_change_the_bits)
{
    prange_set_num_threads(16);
    int64_t n = 300007;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    float *f = malloc((size_t)n * sizeof *f), *g = malloc((size_t)n * sizeof *g);
    uint64_t seed = 9;
    for (int64_t i = 0; i < n; i++) {
        x[i] = t_unit(&seed) * 1e3;
        y[i] = t_unit(&seed);
        f[i] = (float)t_unit(&seed);
        g[i] = (float)(t_unit(&seed) * 100);
    }
    double want[8];
    want[0] = prange_sum_f64(x, n, NULL);
    want[1] = prange_dot_f64(x, y, n, NULL);
    want[2] = prange_nrm2_f64(x, n, NULL);
    want[3] = prange_sum_f32(f, n, NULL);
    want[4] = prange_dot_f32(f, g, n, NULL);
    want[5] = prange_nrm2_f32(f, n, NULL);
    want[6] = (double)prange_minloc_f32(g, n, NULL).index;
    want[7] = prange_maxloc_f64(x, n, NULL).value;
    for (int t = 0; t < T_NTHREADS; t++) {
        prange_opts o[NOPTS];
        kernel_opts_set(o, t_thread_counts[t]);
        for (int k = 0; k < NOPTS; k++) {
            double got[8] = {prange_sum_f64(x, n, &o[k]),  prange_dot_f64(x, y, n, &o[k]),
                             prange_nrm2_f64(x, n, &o[k]), prange_sum_f32(f, n, &o[k]),
                             prange_dot_f32(f, g, n, &o[k]), prange_nrm2_f32(f, n, &o[k]),
                             (double)prange_minloc_f32(g, n, &o[k]).index, prange_maxloc_f64(x, n, &o[k]).value};
            for (int j = 0; j < 8; j++)
                cr_assert_eq(dbits(got[j]), dbits(want[j]), "kernel %d threads=%d opts %d", j, t_thread_counts[t], k);
        }
    }
    /* Serial references (long double; the f32 kernels compute in double). */
    long double s = 0, d = 0, q = 0;
    for (int64_t i = 0; i < n; i++) {
        s += f[i];
        d += (long double)f[i] * g[i];
        q += (long double)f[i] * f[i];
    }
    cr_assert_float_eq(want[3], (double)s, 1e-9);
    cr_assert_float_eq(want[4], (double)d, 1e-7);
    cr_assert_float_eq(want[5], sqrt((double)q), 1e-9);
    free(x);
    free(y);
    free(f);
    free(g);
}

Test(kernels, f32_nrm2_minloc_maxloc)
{
    float big[2] = {3e38f, 3e38f}, tiny[2] = {1e-45f, 1e-45f}, zeros[3] = {0, 0, 0};
    cr_assert_float_eq(prange_nrm2_f32(big, 2, NULL), sqrt(2.0) * (double)3e38f, 1e25);
    cr_assert_float_eq(prange_nrm2_f32(tiny, 2, NULL), sqrt(2.0) * (double)1e-45f, 1e-58);
    cr_assert_eq(prange_nrm2_f32(zeros, 3, NULL), 0.0);
    float inf[3] = {1, INFINITY, 2}, nan[3] = {1, NAN, INFINITY};
    cr_assert(isinf(prange_nrm2_f32(inf, 3, NULL)));
    cr_assert(isnan(prange_nrm2_f32(nan, 3, NULL)));

    int64_t n = 200003;
    float *x = malloc((size_t)n * sizeof *x);
    uint64_t seed = 6;
    for (int64_t i = 0; i < n; i++) x[i] = (float)t_unit(&seed);
    x[150000] = x[170000] = -5;
    x[5] = x[199999] = 7;
    prange_loc_f32 mn = prange_minloc_f32(x, n, NULL), mx = prange_maxloc_f32(x, n, NULL);
    cr_assert(mn.index == 150000 && mn.value == -5, "ties go to the lowest index");
    cr_assert(mx.index == 5 && mx.value == 7);
    x[100] = x[90000] = NAN;
    mn = prange_minloc_f32(x, n, NULL);
    cr_assert(mn.index == 100 && isnan(mn.value), "first NaN wins");
    cr_assert_eq(prange_maxloc_f32(x, n, NULL).index, 100);
    prange_loc_f32 e = prange_minloc_f32(x, 0, NULL);
    cr_assert(e.index == -1 && isnan(e.value));
    errno = 0;
    e = prange_maxloc_f32(NULL, 3, NULL);
    cr_assert(e.index == -1 && errno == EINVAL);
    free(x);
}

Test(kernels, bad_options_are_bad_input)
{
    double x[4] = {1, 2, 3, 4};
    float f[4] = {1, 2, 3, 4};
    prange_opts unsized = {.threads = 2}; /* struct_size 0: a {0}-style initialiser */
    prange_opts neg = PRANGE_OPTS_INIT;
    neg.threads = -1;
    const prange_opts *bad[] = {&unsized, &neg};
    for (int k = 0; k < 2; k++) {
        errno = 0;
        cr_assert(isnan(prange_sum_f64(x, 4, bad[k])) && errno == EINVAL);
        errno = 0;
        cr_assert(isnan(prange_dot_f32(f, f, 4, bad[k])) && errno == EINVAL);
        errno = 0;
        cr_assert(isnan(prange_nrm2_f32(f, 4, bad[k])) && errno == EINVAL);
        errno = 0;
        cr_assert(prange_minloc_f64(x, 4, bad[k]).index == -1 && errno == EINVAL);
    }
}

/* ---- ISA paths (lib/kernels_isa.h): every path the CPU runs gives the baseline's bits -- */

#include "kernels_isa.h"

/* Bits, except that any NaN equals any NaN (a NaN's payload is not promised: which operand
 * an add keeps is the compiler's choice). */
static uint64_t nbits(double v) { return v != v ? UINT64_C(0x7ff8000000000000) : dbits(v); }

enum { ISA_OUT = 64, ISA_N = 40000, ISA_ROWS = 37, ISA_COLS = 301 };

/* Every kernel on x/f (and y/g) from `off`, length n; results appended to out. */
static int isa_run(const double *x, const double *y, const float *f, const float *g, int64_t n, uint64_t *out,
                   double *rows_out, double *scan_out, float *scanf_out, int64_t *scani_out, const int64_t *ix)
{
    int k = 0;
    out[k++] = nbits(prange_sum_f64(x, n, NULL));
    out[k++] = nbits(prange_sum_f32(f, n, NULL));
    out[k++] = nbits(prange_dot_f64(x, y, n, NULL));
    out[k++] = nbits(prange_dot_f32(f, g, n, NULL));
    out[k++] = nbits(prange_nrm2_f64(x, n, NULL));
    out[k++] = nbits(prange_nrm2_f32(f, n, NULL));
    prange_loc_f64 l1 = prange_minloc_f64(x, n, NULL), l2 = prange_maxloc_f64(x, n, NULL);
    prange_loc_f32 l3 = prange_minloc_f32(f, n, NULL), l4 = prange_maxloc_f32(f, n, NULL);
    out[k++] = nbits(l1.value), out[k++] = (uint64_t)l1.index;
    out[k++] = nbits(l2.value), out[k++] = (uint64_t)l2.index;
    out[k++] = nbits(l3.value), out[k++] = (uint64_t)l3.index;
    out[k++] = nbits(l4.value), out[k++] = (uint64_t)l4.index;
    int64_t rows = n / ISA_COLS < ISA_ROWS ? n / ISA_COLS : ISA_ROWS;
    cr_assert_eq(prange_row_sums_f64(x, rows_out, rows, ISA_COLS, NULL), 0);
    cr_assert_eq(prange_row_norms_f64(x, rows_out + rows, rows, ISA_COLS, NULL), 0);
    cr_assert_eq(prange_row_softmax_f64(x, rows_out + 2 * rows, rows, ISA_COLS, NULL), 0);
    cr_assert_eq(prange_scan_f64(x, scan_out, n, 0, NULL), 0);
    cr_assert_eq(prange_scan_f32(f, scanf_out, n, 1, NULL), 0);
    cr_assert_eq(prange_scan_i64(ix, scani_out, n, 0, NULL), 0);
    for (int64_t i = 0; i < rows * (2 + ISA_COLS); i++) out[k] = out[k] * 31 + nbits(rows_out[i]);
    k++;
    for (int64_t i = 0; i < n; i++) {
        out[k] = out[k] * 31 + nbits(scan_out[i]);
        out[k + 1] = out[k + 1] * 31 + nbits(scanf_out[i]);
        out[k + 2] = out[k + 2] * 31 + (uint64_t)scani_out[i];
    }
    return k + 3;
}

Test(kernels, isa_paths_give_the_baseline_bits)
{
    prange_set_num_threads(2);
    int64_t nmax = ISA_N + 16;
    double *x = malloc((size_t)nmax * sizeof *x), *y = malloc((size_t)nmax * sizeof *y);
    float *f = malloc((size_t)nmax * sizeof *f), *g = malloc((size_t)nmax * sizeof *g);
    int64_t *ix = malloc((size_t)nmax * sizeof *ix), *si = malloc((size_t)nmax * sizeof *si);
    double *rows = malloc((size_t)ISA_ROWS * (2 + ISA_COLS) * sizeof *rows);
    double *sd = malloc((size_t)nmax * sizeof *sd);
    float *sf = malloc((size_t)nmax * sizeof *sf);
    /* Vectors: random (wide exponents), ties with signed zeros, subnormals, extremes for
     * nrm2's scaled pass, NaNs; lengths odd and short; starts misaligned by 1..3 elements. */
    static const int64_t lens[] = {1, 2, 7, 15, 16, 17, 63, 64, 65, 127, 129, 2047, 2048, 2049, 4097, ISA_N - 3};
    int tested = 0;
    for (int kind = 0; kind < 6; kind++) {
        uint64_t seed = 100 + (uint64_t)kind;
        for (int64_t i = 0; i < nmax; i++) {
            double r = t_unit(&seed), s = t_unit(&seed);
            switch (kind) {
            case 0: x[i] = r * pow(2, (double)(i % 41) - 20), y[i] = s; break;
            case 1: x[i] = (i % 5 == 0) ? -0.0 : (i % 7 == 0 ? 0.0 : (double)(t_rand(&seed) % 4) - 2), y[i] = -0.0; break;
            case 2: x[i] = r * 0x1p-1060, y[i] = s * 0x1p-1040; break; /* subnormal */
            case 3: x[i] = r * 0x1p1000, y[i] = s * 0x1p20; break;     /* squares overflow */
            case 4: x[i] = i % 997 == 500 ? NAN : r, y[i] = i % 1999 == 3 ? -NAN : s; break;
            default: x[i] = (double)(int)(r * 3), y[i] = (double)(int)(s * 3); break; /* many ties */
            }
            f[i] = (float)(kind == 2 ? r * 0x1p-140 : x[i]);
            g[i] = (float)y[i];
            ix[i] = (int64_t)t_rand(&seed);
        }
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++)
            for (int off = 0; off < 4; off += 3) {
                int64_t n = lens[li];
                uint64_t want[ISA_OUT] = {0};
                cr_assert_eq(prange__isa_set(PRANGE__ISA_BASELINE), 0);
                int nk = isa_run(x + off, y + off, f + off, g + off, n, want, rows, sd, sf, si, ix + off);
                for (int isa = 1; isa < PRANGE__ISA_COUNT; isa++) {
                    if (!prange__isa_supported(isa)) continue;
                    cr_assert_eq(prange__isa_set(isa), 0);
                    cr_assert_str_eq(prange__kern_get()->name, isa == PRANGE__ISA_AVX2 ? "avx2" : "avx512");
                    uint64_t got[ISA_OUT] = {0};
                    isa_run(x + off, y + off, f + off, g + off, n, got, rows, sd, sf, si, ix + off);
                    for (int j = 0; j < nk; j++)
                        cr_assert_eq(got[j], want[j], "%s: kind %d n=%lld off=%d result %d: %016llx vs baseline %016llx",
                                     prange__kern_get()->name, kind, (long long)n, off, j,
                                     (unsigned long long)got[j], (unsigned long long)want[j]);
                    tested++;
                }
            }
    }
    /* The machine this runs on decides which paths exist; say so when none but baseline. */
    if (tested == 0) fprintf(stderr, "kernels::isa_paths: only the baseline path runs here: nothing to compare\n");
    cr_assert_eq(prange__isa_set(PRANGE__ISA_COUNT), PRANGE_ENOSYS);
    free(x), free(y), free(f), free(g), free(ix), free(si), free(rows), free(sd), free(sf);
}

/* The documented sum, written plainly (docs/reductions.md): pairwise, halves rounded up to
 * 16 terms, leaves of at most 128 terms in 16 lanes combined by adjacent pairs; blocks of
 * 2048 folded from the identity, combined along the canonical tree (for 7 blocks: pieces
 * of 4, 2 and 1 blocks folded right to left). The kernels' flat paths (a 2048-term block as 16 leaves and a tree, a leaf's
 * lanes in vector instructions, the blocks' tree in typed code when inline) must give its
 * bits on every path. Mutant checks: the leaves' tree summed left to right, a leaf's
 * lanes paired otherwise, or the blocks' pieces folded left to right, fail it. */
static double pairwise_ref(const double *x, int64_t n)
{
    if (n > 128) {
        int64_t m = (n / 2 + 15) & ~(int64_t)15;
        return pairwise_ref(x, m) + pairwise_ref(x + m, n - m);
    }
    double a[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) a[k] += x[i + k];
    for (int k = 0; i + k < n; k++) a[k] += x[i + k];
    return (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))) +
           (((a[8] + a[9]) + (a[10] + a[11])) + ((a[12] + a[13]) + (a[14] + a[15])));
}
Test(kernels, sums_are_the_documented_pairwise_tree_on_every_path)
{
    enum { B = 2048, N = 6 * B + 77 }; /* 7 blocks: pieces of 4, 2 and 1 block */
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *p = malloc(N * sizeof *p);
    double *z = calloc(N, sizeof *z);
    z[0] = 0x1p53, z[4 * B + 3] = 1.0, z[6 * B + 3] = 1.0;
    uint64_t seed = 11;
    /* Magnitudes over 2^-20 .. 2^40, and a large term of alternating sign in each block:
     * a sum in any other order, of terms or of blocks, rounds differently. */
    for (int i = 0; i < N; i++) {
        x[i] = ldexp(t_unit(&seed), (int)(t_rand(&seed) % 61) - 20);
        if (i % B == 5) x[i] += ldexp((i / B) % 2 ? -1.0 : 1.0, 52 - i / B);
        y[i] = ldexp(t_unit(&seed), (int)(t_rand(&seed) % 21) - 10);
        p[i] = x[i] * y[i]; /* stored: what the dot adds, rounded once */
    }
    static const int64_t lens[] = {1, 17, 128, 129, 1000, 2047, 2048};
    for (int isa = 0; isa < PRANGE__ISA_COUNT; isa++) {
        if (!prange__isa_supported(isa)) continue;
        cr_assert_eq(prange__isa_set(isa), 0);
        const char *name = prange__kern_get()->name;
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            double want = 0.0 + pairwise_ref(x, lens[k]), got = prange_sum_f64(x, lens[k], NULL);
            cr_assert_eq(dbits(got), dbits(want), "%s sum n=%lld: %a, the documented sum %a", name, (long long)lens[k],
                         got, want);
            want = 0.0 + pairwise_ref(p, lens[k]), got = prange_dot_f64(x, y, lens[k], NULL);
            cr_assert_eq(dbits(got), dbits(want), "%s dot n=%lld: %a, the documented sum %a", name, (long long)lens[k],
                         got, want);
        }
        /* 7 blocks: (((b0 + b1) + (b2 + b3)) + ((b4 + b5) + b6)), the pieces folded right
         * to left; inline (1 thread) and on a team. z's blocks sum to 2^53, 0, 0, 0, 1, 0, 1:
         * 2^53 + 2 folded right to left, 2^53 left to right (ties to even, twice). */
        for (int v = 0; v < 3; v++) {
            const double *t = v == 1 ? p : v == 2 ? z : x;
            double b[7];
            for (int k = 0; k < 7; k++) b[k] = 0.0 + pairwise_ref(t + k * B, k < 6 ? B : N - 6 * B);
            double want = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + b[6]);
            for (int threads = 1; threads <= 2; threads++) {
                prange_opts o = PRANGE_OPTS_INIT;
                o.threads = threads;
                o.cost_ns = threads > 1 ? 1e3 : 0; /* a team: the blocks by body calls */
                double got = v == 1 ? prange_dot_f64(x, y, N, &o) : prange_sum_f64(t, N, &o);
                cr_assert_eq(dbits(got), dbits(want), "%s %s n=%d threads=%d: %a, the documented sum %a", name,
                             v == 1 ? "dot" : "sum", N, threads, got, want);
            }
        }
    }
    cr_assert_eq(prange__isa_set(PRANGE__ISA_BASELINE), 0);
    free(x), free(y), free(p), free(z);
}

/* Under PRANGE_ISA=auto a kernel over more than the last-level cache runs the baseline path
 * (memory-bound, where the wide paths measured slower; the same bits either way), a kernel
 * in cache the chosen one; an explicit PRANGE_ISA is kept at every size. */
Test(kernels, auto_isa_takes_the_baseline_path_beyond_the_cache)
{
    unsetenv("PRANGE_ISA");
    const prange__kern *chosen = prange__kern_get();
    cr_assert_eq(prange__kern_for(1e3), chosen, "a 1 KB call left the chosen path");
    cr_assert_str_eq(prange__kern_for(1e12)->name, "baseline", "a 1 TB call did not take the baseline path");
}

Test(kernels, an_explicit_isa_is_kept_at_every_size)
{
    setenv("PRANGE_ISA", "baseline", 1);
    cr_assert_str_eq(prange__kern_for(1e12)->name, "baseline");
    cr_assert_str_eq(prange__kern_for(1e3)->name, "baseline");
    if (!prange__isa_supported(PRANGE__ISA_AVX2)) return;
    cr_assert_eq(prange__isa_set(PRANGE__ISA_AVX2), 0);
    cr_assert_str_eq(prange__kern_for(1e12)->name, "avx2", "a path set for a test changed with the size");
}
