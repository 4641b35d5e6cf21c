/* test_maps.c — element-wise maps, row kernels, 2-D ranges and scans against serial
 * references: sizes 0, 1, primes and block boundaries, in place, bitwise identical scans
 * for every thread count. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "common.h"

PRANGE_MAP1(square, double, double, int, a * a)
PRANGE_MAP2(axpy, double, double, double, double, s * a + b)
PRANGE_MAP3(fma3, double, double, double, double, double, a * b + c + s)
PRANGE_MAP1(to_f32, float, double, int, (float)a)
PRANGE_MAP1(to_f64, double, float, int, (double)a)
PRANGE_MAP1(i64_to_f64, double, int64_t, int, (double)a)
PRANGE_MAP2(add_f32, double, double, float, int, a + b)

static const int64_t k_sizes[] = {0, 1, 2, 7, 97, 4095, 4096, 4097, 65537, 1000003};
#define NSIZES (int)(sizeof k_sizes / sizeof *k_sizes)

Test(maps, against_serial_and_in_place)
{
    prange_set_num_threads(4);
    int64_t nmax = 1000003;
    double *x = malloc((size_t)nmax * 8), *y = malloc((size_t)nmax * 8), *z = malloc((size_t)nmax * 8),
           *out = malloc((size_t)nmax * 8), *ref = malloc((size_t)nmax * 8);
    uint64_t seed = 9;
    for (int64_t i = 0; i < nmax; i++) {
        x[i] = t_unit(&seed);
        y[i] = t_unit(&seed);
        z[i] = t_unit(&seed);
    }
    for (int k = 0; k < NSIZES; k++) {
        int64_t n = k_sizes[k];
        prange_opts o = t_parallel_opts(4, PRANGE_SCHEDULE_AUTO, 0);
        cr_assert_eq(square(x, 0, out, n, &o), 0);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(out[i], x[i] * x[i]);
        cr_assert_eq(axpy(x, y, 2.5, out, n, NULL), 0);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(out[i], 2.5 * x[i] + y[i]);
        cr_assert_eq(fma3(x, y, z, 1.0, out, n, &o), 0);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(out[i], x[i] * y[i] + z[i] + 1.0);
        /* in place: y = 2 x + y */
        memcpy(ref, y, (size_t)n * 8);
        cr_assert_eq(axpy(x, ref, 2.0, ref, n, &o), 0);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(ref[i], 2.0 * x[i] + y[i]);
    }
    float *f = malloc((size_t)nmax * sizeof *f);
    cr_assert_eq(to_f32(x, 0, f, nmax, NULL), 0);
    for (int64_t i = 0; i < nmax; i++) cr_assert_eq(f[i], (float)x[i]);
    free(f);
    free(x);
    free(y);
    free(z);
    free(out);
    free(ref);
}

Test(maps, bad_arguments)
{
    double buf[100] = {0};
    cr_assert_eq(axpy(buf, buf + 50, 1.0, buf + 1, 10, NULL), PRANGE_EINVAL, "partial overlap is rejected");
    cr_assert_eq(axpy(buf + 5, buf + 50, 1.0, buf, 10, NULL), PRANGE_EINVAL);
    cr_assert_eq(axpy(buf + 10, buf + 50, 1.0, buf, 10, NULL), 0, "adjacent arrays do not overlap");
    cr_assert_eq(square(buf, 0, NULL, 10, NULL), PRANGE_EINVAL);
    cr_assert_eq(square(buf, 0, buf, -1, NULL), PRANGE_EINVAL);
    cr_assert_eq(square(NULL, 0, NULL, 0, NULL), 0, "empty map with NULL arrays is a no-op");
    prange_opts bad = {.struct_size = sizeof(prange_opts), .grain = -1};
    cr_assert_eq(square(buf, 0, buf, 10, &bad), PRANGE_EINVAL);
}

/* In place is exact aliasing with the same element size. float in, double out in one
 * buffer passed the address-only check and wrote over floats not yet read; any overlap
 * of the byte ranges other than that is rejected, nothing written. */
Test(maps, overlap_compares_byte_ranges)
{
    enum { N = 1000 };
    double *buf = malloc(2 * N * sizeof *buf), *keep = malloc(2 * N * sizeof *keep);
    float *f = (float *)buf;
    for (int i = 0; i < 2 * N; i++) f[i] = (float)i;
    memcpy(keep, buf, 2 * N * sizeof *buf);
    cr_assert_eq(to_f64(f, 0, buf, N, NULL), PRANGE_EINVAL, "float in, double out, same address");
    cr_assert_eq(to_f32(buf, 0, f, N, NULL), PRANGE_EINVAL, "double in, float out, same address");
    cr_assert_eq(to_f64(f + N / 2, 0, buf, N, NULL), PRANGE_EINVAL, "floats inside the doubles' bytes");
    cr_assert_eq(to_f64(f, 0, buf + 1, N, NULL), PRANGE_EINVAL, "doubles starting inside the floats");
    double x[N];
    for (int i = 0; i < N; i++) x[i] = i;
    cr_assert_eq(add_f32(x, f, 0, buf, N, NULL), PRANGE_EINVAL, "second input aliased with another size");
    cr_assert_eq(memcmp(buf, keep, 2 * N * sizeof *buf), 0, "nothing written on rejection");
    /* Disjoint byte ranges of other types: accepted and right. */
    cr_assert_eq(to_f64(f, 0, buf + N / 2, N / 2, NULL), 0, "floats [0, 2N) bytes, doubles after them");
    for (int i = 0; i < N / 2; i++) cr_assert_eq(buf[N / 2 + i], (double)i);
    memcpy(buf, keep, 2 * N * sizeof *buf);
    cr_assert_eq(to_f64(f + N, 0, buf, N / 2, NULL), 0, "floats right after the doubles' bytes");
    for (int i = 0; i < N / 2; i++) cr_assert_eq(buf[i], (double)(N + i));
    /* Same element size, same address: in place, element by element. */
    int64_t *iv = (int64_t *)buf;
    for (int i = 0; i < N; i++) iv[i] = 3 * i - 7;
    cr_assert_eq(i64_to_f64(iv, 0, buf, N, NULL), 0, "in place with the same element size");
    for (int i = 0; i < N; i++) cr_assert_eq(buf[i], (double)(3 * i - 7));
    free(buf);
    free(keep);
}

Test(rows, sums_norms_softmax)
{
    prange_set_num_threads(3);
    static const int64_t shapes[][2] = {{0, 5}, {1, 1}, {3, 0}, {7, 13}, {1000, 3}, {37, 2049}, {4, 100003}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        int64_t r = shapes[k][0], c = shapes[k][1];
        size_t cells = (size_t)(r * c) > 0 ? (size_t)(r * c) : 1;
        size_t outs = cells > (size_t)r ? cells : (size_t)r; /* per-row results need rows slots */
        double *a = malloc(cells * 8), *out = malloc(outs * 8), *sm = malloc(cells * 8);
        uint64_t seed = 5;
        for (size_t i = 0; i < (size_t)(r * c); i++) a[i] = 3 * t_unit(&seed);
        prange_opts o = t_parallel_opts(3, PRANGE_SCHEDULE_DYNAMIC, 0);
        cr_assert_eq(prange_row_sums_f64(a, out, r, c, &o), 0);
        for (int64_t i = 0; i < r; i++) {
            long double s = 0;
            for (int64_t j = 0; j < c; j++) s += a[i * c + j];
            cr_assert_float_eq(out[i], (double)s, 1e-12 * (double)(c + 1), "row %lld", (long long)i);
        }
        cr_assert_eq(prange_row_norms_f64(a, out, r, c, &o), 0);
        for (int64_t i = 0; i < r; i++) {
            long double s = 0;
            for (int64_t j = 0; j < c; j++) s += (long double)a[i * c + j] * a[i * c + j];
            cr_assert_float_eq(out[i], sqrt((double)s), 1e-12 * (double)(c + 1));
        }
        cr_assert_eq(prange_row_softmax_f64(a, sm, r, c, &o), 0);
        memcpy(out, a, cells * 8);
        cr_assert_eq(prange_row_softmax_f64(out, out, r, c, NULL), 0, "in place");
        if (c == 0) cr_assert_eq(prange_row_sums_f64(a, out, r, c, NULL), 0, "empty rows sum to 0");
        for (int64_t i = 0; i < (c == 0 ? r : 0); i++) cr_assert_eq(out[i], 0.0);
        for (int64_t i = 0; i < r; i++) {
            double m = -INFINITY, s = 0;
            for (int64_t j = 0; j < c; j++) m = fmax(m, a[i * c + j]);
            for (int64_t j = 0; j < c; j++) s += exp(a[i * c + j] - m);
            double total = 0;
            for (int64_t j = 0; j < c; j++) {
                double want = exp(a[i * c + j] - m) / s;
                cr_assert_float_eq(sm[i * c + j], want, 1e-12 + 1e-10 * want);
                cr_assert_eq(out[i * c + j], sm[i * c + j], "in place gives the same bits");
                total += sm[i * c + j];
            }
            if (c > 0) cr_assert_float_eq(total, 1.0, 1e-9);
        }
        free(a);
        free(out);
        free(sm);
    }
    double big[2] = {1e200, 1e200}, n2;
    cr_assert_eq(prange_row_norms_f64(big, &n2, 1, 2, NULL), 0);
    cr_assert_float_eq(n2, sqrt(2.0) * 1e200, 1e186);
    double m[6] = {0}, o[6];
    cr_assert_eq(prange_row_sums_f64(NULL, o, 2, 3, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_row_sums_f64(m, o, -1, 3, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_row_sums_f64(m, m + 1, 2, 3, NULL), PRANGE_EINVAL, "output overlapping the input");
    cr_assert_eq(prange_row_softmax_f64(m, m + 3, 2, 3, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_row_sums_f64(m, o, INT64_MAX / 2, 3, NULL), PRANGE_EINVAL, "rows * cols overflows");
}

/* ---- 2-D ranges ------------------------------------------------------------------------- */

typedef struct {
    int64_t i0, j0, nj;
    _Atomic(unsigned char) *seen;
    atomic_int bad;
} grid_ctx;

static void grid_body(void *c, int64_t ib, int64_t ie, int64_t jb, int64_t je)
{
    grid_ctx *g = c;
    if (!(ib < ie && jb < je)) atomic_store(&g->bad, 1);
    for (int64_t i = ib; i < ie; i++)
        for (int64_t j = jb; j < je; j++) atomic_fetch_add(&g->seen[(i - g->i0) * g->nj + (j - g->j0)], 1);
}

Test(range2d, every_cell_once)
{
    prange_set_num_threads(4);
    static const int64_t dims[][6] = {{0, 0, 0, 10, 4, 4},     {-3, 17, 5, 6, 4, 4},  {0, 100, 0, 100, 0, 0},
                                      {0, 129, 0, 257, 7, 64}, {10, 11, 20, 21, 1, 1}, {0, 64, 0, 3, 100, 100}};
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        const int64_t *d = dims[k];
        int64_t ni = d[1] - d[0], nj = d[3] - d[2];
        grid_ctx g = {d[0], d[2], nj, calloc((size_t)(ni * nj) + 1, 1), 0};
        prange_opts o = t_parallel_opts(4, PRANGE_SCHEDULE_DYNAMIC, 0);
        cr_assert_eq(prange_for_2d(d[0], d[1], d[2], d[3], d[4], d[5], grid_body, &g, &o), 0);
        for (int64_t c = 0; c < ni * nj; c++) cr_assert_eq(g.seen[c], 1, "case %zu cell %lld", k, (long long)c);
        cr_assert_eq(g.bad, 0);
        free(g.seen);
    }
    cr_assert_eq(prange_for_2d(5, 4, 0, 1, 0, 0, grid_body, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for_2d(0, 1, 0, 1, -1, 0, grid_body, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for_2d(0, 1, 0, 1, 0, 0, NULL, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for_2d(INT64_MIN, INT64_MAX, 0, 2, 1, 1, grid_body, NULL, NULL), PRANGE_EINVAL,
                 "more tiles than an int64 can number");
}

/* ---- scans -------------------------------------------------------------------------------- */

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

Test(scan, f64_identical_for_every_thread_count)
{
    prange_set_num_threads(16);
    int64_t nmax = 300007;
    double *x = malloc((size_t)nmax * 8), *out = malloc((size_t)nmax * 8), *first = malloc((size_t)nmax * 8);
    uint64_t seed = 17;
    for (int64_t i = 0; i < nmax; i++) x[i] = t_unit(&seed) * ((i % 7) ? 1 : 1e6);
    for (int k = 0; k < NSIZES; k++) {
        int64_t n = k_sizes[k] < nmax ? k_sizes[k] : nmax;
        for (int ex = 0; ex < 2; ex++)
            for (int t = 0; t < T_NTHREADS; t++) {
                prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_AUTO, 0);
                cr_assert_eq(prange_scan_f64(x, out, n, ex, &o), 0);
                if (t == 0) memcpy(first, out, (size_t)n * 8);
                for (int64_t i = 0; i < n; i++)
                    cr_assert_eq(bits(out[i]), bits(first[i]), "n=%lld excl=%d threads=%d i=%lld", (long long)n, ex,
                                 t_thread_counts[t], (long long)i);
            }
    }
    /* Against a long-double running sum. */
    int64_t n = nmax;
    cr_assert_eq(prange_scan_f64(x, out, n, 0, NULL), 0);
    long double run = 0, abs = 0;
    for (int64_t i = 0; i < n; i++) {
        run += x[i];
        abs += fabsl((long double)x[i]);
        cr_assert_float_eq(out[i], (double)run, (4096 + (double)n / 4096) * 0x1p-52 * (double)abs + 1e-300);
    }
    /* In place, exclusive. */
    memcpy(out, x, (size_t)n * 8);
    cr_assert_eq(prange_scan_f64(out, out, n, 1, NULL), 0);
    cr_assert_eq(out[0], 0.0);
    cr_assert_eq(prange_scan_f64(x, first, n, 1, NULL), 0);
    cr_assert_eq(memcmp(out, first, (size_t)n * 8), 0, "in place gives the same bits");
    free(x);
    free(out);
    free(first);
}

/* The f32 scan accumulates in double, rounds each output once, and is bitwise the same
 * for every thread count. */
Test(scan, f32_in_double_identical_for_every_thread_count)
{
    prange_set_num_threads(16);
    int64_t n = 100003;
    float *x = malloc((size_t)n * 4), *out = malloc((size_t)n * 4), *first = malloc((size_t)n * 4);
    uint64_t seed = 19;
    for (int64_t i = 0; i < n; i++) x[i] = (float)t_unit(&seed) * ((i % 5) ? 1.0f : 1e4f);
    for (int ex = 0; ex < 2; ex++)
        for (int t = 0; t < T_NTHREADS; t++) {
            prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_DYNAMIC, 0);
            cr_assert_eq(prange_scan_f32(x, out, n, ex, &o), 0);
            if (t == 0) memcpy(first, out, (size_t)n * 4);
            cr_assert_eq(memcmp(out, first, (size_t)n * 4), 0, "excl=%d threads=%d", ex, t_thread_counts[t]);
        }
    /* Against a long-double running sum: one float rounding plus the double error. */
    cr_assert_eq(prange_scan_f32(x, out, n, 0, NULL), 0);
    long double run = 0, abs = 0;
    for (int64_t i = 0; i < n; i++) {
        run += x[i];
        abs += fabsl((long double)x[i]);
        cr_assert_float_eq(out[i], (double)run, 0x1p-23 * fabs((double)run) + 1e-9 * (double)abs + 1e-30);
    }
    cr_assert_eq(prange_scan_f32(x, out, n, 1, NULL), 0);
    cr_assert_eq(out[0], 0.0f);
    cr_assert_eq(prange_scan_f32(x, out, -1, 0, NULL), PRANGE_EINVAL);
    free(x);
    free(out);
    free(first);
}

Test(scan, i64_exact_and_errors)
{
    prange_set_num_threads(7);
    int64_t n = 100003;
    int64_t *x = malloc((size_t)n * 8), *out = malloc((size_t)n * 8);
    for (int64_t i = 0; i < n; i++) x[i] = (i % 13) - 6;
    for (int t = 0; t < T_NTHREADS; t++) {
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_GUIDED, 0);
        cr_assert_eq(prange_scan_i64(x, out, n, 0, &o), 0);
        int64_t run = 0;
        for (int64_t i = 0; i < n; i++) {
            run += x[i];
            cr_assert_eq(out[i], run);
        }
        cr_assert_eq(prange_scan_i64(x, out, n, 1, &o), 0);
        run = 0;
        for (int64_t i = 0; i < n; i++) {
            cr_assert_eq(out[i], run);
            run += x[i];
        }
    }
    cr_assert_eq(prange_scan_i64(x, x + 1, 10, 0, NULL), PRANGE_EINVAL, "partial overlap");
    cr_assert_eq(prange_scan_i64(NULL, out, 10, 0, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_scan_i64(x, out, -1, 0, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_scan_i64(NULL, NULL, 0, 0, NULL), 0);
    free(x);
    free(out);
}

/* A non-commutative scan: prefix products of 2x2 integer matrices (mod 2^64). */
typedef struct {
    uint64_t a, b, c, d;
} mat;

/* The scan's reducer passes its rctx to identity and combine: both check it. */
static int mat_tag;
static atomic_int mat_bad_rctx;
static void mat_id(void *rctx, void *p, size_t size)
{
    if (rctx != &mat_tag || size != sizeof(mat)) atomic_store(&mat_bad_rctx, 1);
    *(mat *)p = (mat){1, 0, 0, 1};
}
static void mat_mul(void *rctx, void *p, const void *q, size_t size)
{
    if (rctx != &mat_tag || size != sizeof(mat)) atomic_store(&mat_bad_rctx, 1);
    mat x = *(mat *)p, y = *(const mat *)q;
    *(mat *)p = (mat){x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.d, x.c * y.a + x.d * y.c, x.c * y.b + x.d * y.d};
}

typedef struct {
    const mat *in;
    mat *out;
    int64_t base;
} mscan;

static void mat_body(void *c, int64_t b, int64_t e, void *acc, int emit)
{
    mscan *m = c;
    for (int64_t i = b; i < e; i++) {
        mat_mul(&mat_tag, acc, &m->in[i - m->base], sizeof(mat));
        if (emit) m->out[i - m->base] = *(mat *)acc;
    }
}

Test(scan, user_reducer_non_commutative)
{
    prange_set_num_threads(16);
    int64_t n = 70001;
    mat *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out),
        *ref = malloc((size_t)n * sizeof *ref);
    uint64_t seed = 23;
    for (int64_t i = 0; i < n; i++) in[i] = (mat){t_rand(&seed), t_rand(&seed), t_rand(&seed), t_rand(&seed)};
    mat run;
    mat_id(&mat_tag, &run, sizeof run);
    for (int64_t i = 0; i < n; i++) {
        mat_mul(&mat_tag, &run, &in[i], sizeof run);
        ref[i] = run;
    }
    prange_reducer r = PRANGE_REDUCER_INIT;
    r.acc_size = sizeof(mat);
    r.identity = mat_id;
    r.combine = mat_mul;
    r.rctx = &mat_tag;
    for (int t = 0; t < T_NTHREADS; t++) {
        memset(out, 0, (size_t)n * sizeof *out);
        mscan m = {in, out, -5};
        prange_opts o = t_parallel_opts(t_thread_counts[t], PRANGE_SCHEDULE_DYNAMIC, 0);
        cr_assert_eq(prange_scan(-5, n - 5, &r, mat_body, &m, &o), 0);
        cr_assert_eq(memcmp(out, ref, (size_t)n * sizeof *out), 0, "threads=%d", t_thread_counts[t]);
    }
    cr_assert_eq(prange_scan(0, 0, &r, mat_body, NULL, NULL), 0);
    cr_assert_eq(prange_scan(1, 0, &r, mat_body, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_scan(0, 1, NULL, mat_body, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_scan(0, 1, &r, NULL, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(atomic_load(&mat_bad_rctx), 0, "identity/combine got another rctx or acc_size");
    prange_reducer z = r;
    z.acc_size = 0;
    cr_assert_eq(prange_scan(0, 1, &z, mat_body, NULL, NULL), PRANGE_EINVAL);
    z = r;
    z.struct_size = 0;
    cr_assert_eq(prange_scan(0, 1, &z, mat_body, NULL, NULL), PRANGE_EINVAL);
    z = r;
    z.acc_size = ((size_t)1 << 20) + 1;
    cr_assert_eq(prange_scan(0, 1, &z, mat_body, NULL, NULL), PRANGE_ERANGE);
    free(in);
    free(out);
    free(ref);
}

/* ---- every function under extreme valid options --------------------------------------- */

/* opts.grain = INT64_MAX and a finite cost_ns up to DBL_MAX are valid options: every
 * function must compute its full result with them. The scans overflowed grain + 4095
 * (signed) and cost * 4096 (to inf, which the inner loop rejected while the scan still
 * returned 0 with nothing written); prange_for_2d's per-tile cost overflowed the same way. */
typedef struct {
    double *x;
    atomic_int bad;
} fill_ctx;

static void fill_idx(void *c, int64_t b, int64_t e)
{
    fill_ctx *k = c;
    for (int64_t i = b; i < e; i++) k->x[i] = (double)i;
}
static int fill_idx_until(void *c, int64_t b, int64_t e)
{
    fill_idx(c, b, e);
    return 0;
}
static void sum_idx(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    for (int64_t i = b; i < e; i++) *(double *)acc += (double)i;
}
static void sum_scan(void *c, int64_t b, int64_t e, void *acc, int emit)
{
    double *out = c;
    for (int64_t i = b; i < e; i++) {
        *(double *)acc += (double)i;
        if (emit) out[i] = *(double *)acc;
    }
}

Test(options, extreme_valid_values_in_every_function, .timeout = 120)
{
    prange_set_num_threads(2);
    enum { N = 20011, R = 101, C = 199 };
    double *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
    int64_t *xi = malloc(N * sizeof *xi), *outi = malloc(N * sizeof *outi);
    double *m = malloc(R * C * sizeof *m), *sm = malloc(R * C * sizeof *sm), *rows = malloc(R * sizeof *rows),
           *rows_ref = malloc(R * sizeof *rows_ref), *sm_ref = malloc(R * C * sizeof *sm_ref);
    for (int i = 0; i < N; i++) {
        x[i] = (double)(i % 17) - 8;
        xi[i] = (i % 13) - 6;
    }
    for (int i = 0; i < R * C; i++) m[i] = (double)(i % 11) - 5;
    cr_assert_eq(prange_row_sums_f64(m, rows_ref, R, C, NULL), 0);
    cr_assert_eq(prange_row_softmax_f64(m, sm_ref, R, C, NULL), 0);
    const struct {
        int64_t grain;
        double cost;
    } cases[] = {{INT64_MAX, 0}, {0, 1e305}, {0, DBL_MAX}, {INT64_MAX, DBL_MAX}, {INT64_MAX - 4095, 1e300}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        for (int s = PRANGE_SCHEDULE_AUTO; s <= PRANGE_SCHEDULE_GUIDED; s++) {
            prange_opts o = {.struct_size = sizeof(prange_opts), .grain = cases[k].grain, .cost_ns = cases[k].cost,
                             .schedule = (prange_schedule)s};
            char what[80];
            snprintf(what, sizeof what, "grain %lld cost %g schedule %d", (long long)o.grain, o.cost_ns, s);
            fill_ctx f = {out, 0};
            memset(out, 0, N * sizeof *out);
            cr_assert_eq(prange_for_opts(0, N, fill_idx, &f, &o), 0, "%s", what);
            for (int i = 0; i < N; i++) cr_assert_eq(out[i], (double)i, "for: %s", what);
            memset(out, 0, N * sizeof *out);
            prange_stop st;
            cr_assert_eq(prange_for_until(0, N, fill_idx_until, &f, &o, &st), 0, "%s", what);
            cr_assert(st.value == 0 && st.index == N, "for_until: %s: stop {%d, %lld}", what, st.value,
                      (long long)st.index);
            for (int i = 0; i < N; i++) cr_assert_eq(out[i], (double)i, "for_until: %s", what);

            grid_ctx g = {-3, 5, 77, calloc(131 * 77, 1), 0};
            cr_assert_eq(prange_for_2d(-3, 128, 5, 82, 8, 8, grid_body, &g, &o), 0, "for_2d: %s", what);
            for (int c = 0; c < 131 * 77; c++) cr_assert_eq(g.seen[c], 1, "for_2d: %s: cell %d", what, c);
            free(g.seen);

            double r = -1;
            cr_assert_eq(prange_reduce(0, N, prange_reducer_sum_f64(), sum_idx, NULL, &r, &o), 0, "%s", what);
            cr_assert_eq(r, (double)N * (N - 1) / 2, "reduce: %s", what);

            /* Scans of small integers in doubles are exact: compare with a running sum. */
            memset(out, 0, N * sizeof *out);
            cr_assert_eq(prange_scan_f64(x, out, N, 0, &o), 0, "%s", what);
            double run = 0;
            for (int i = 0; i < N; i++) {
                run += x[i];
                cr_assert_eq(out[i], run, "scan_f64: %s: i=%d", what, i);
            }
            memset(outi, 0, N * sizeof *outi);
            cr_assert_eq(prange_scan_i64(xi, outi, N, 1, &o), 0, "%s", what);
            int64_t runi = 0;
            for (int i = 0; i < N; i++) {
                cr_assert_eq(outi[i], runi, "scan_i64: %s: i=%d", what, i);
                runi += xi[i];
            }
            memset(out, 0, N * sizeof *out);
            cr_assert_eq(prange_scan(0, N, prange_reducer_sum_f64(), sum_scan, out, &o), 0, "%s", what);
            for (int i = 0; i < N; i++) cr_assert_eq(out[i], (double)i * (i + 1) / 2, "scan: %s: i=%d", what, i);

            memset(out, 0, N * sizeof *out);
            cr_assert_eq(axpy(x, x, 3.0, out, N, &o), 0, "%s", what);
            for (int i = 0; i < N; i++) cr_assert_eq(out[i], 4 * x[i], "map: %s", what);

            memset(rows, 0, R * sizeof *rows);
            cr_assert_eq(prange_row_sums_f64(m, rows, R, C, &o), 0, "%s", what);
            cr_assert_eq(memcmp(rows, rows_ref, R * sizeof *rows), 0, "row sums: %s", what);
            memset(rows, 0, R * sizeof *rows);
            cr_assert_eq(prange_row_norms_f64(m, rows, R, C, &o), 0, "%s", what);
            for (int i = 0; i < R; i++) cr_assert_gt(rows[i], 0, "row norms: %s", what);
            memset(sm, 0, R * C * sizeof *sm);
            cr_assert_eq(prange_row_softmax_f64(m, sm, R, C, &o), 0, "%s", what);
            cr_assert_eq(memcmp(sm, sm_ref, R * C * sizeof *sm), 0, "softmax: %s", what);
        }
    free(x);
    free(out);
    free(xi);
    free(outi);
    free(m);
    free(sm);
    free(rows);
    free(rows_ref);
    free(sm_ref);
}
