/*
 * region.c — sequences of loops in one team (issue #16): a wavefront (PRK p2p) and a
 * Jacobi solve with a max reduction per iteration, each against OpenMP's persistent-
 * region version (`omp for` inside one `omp parallel`) and serial; and 64 empty loops per
 * call, prange_for in a prange_region against `omp for` in an `omp parallel` (an overhead
 * row). The wavefront rows of issue #16 are --kernels wavefront --sizes
 * 1000000,4000000,16000000 (1000², 2000², 4000²).
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../bench.h"

static int64_t side(int64_t n)
{
    int64_t m = (int64_t)sqrt((double)n);
    return m < 3 ? 3 : m;
}
static int64_t elements_square(int64_t n) { return side(n) * side(n); }
/* Production grids of 2000 x 2000 at most (4000 x 4000 is asked for with --sizes). */
static int64_t size_grid(int64_t nmax) { return nmax < 4000000 ? nmax : 4000000; }

/* PRK p2p (hyperplane): C is an m x m grid, m = sqrt(n), swept by anti-diagonals; the
 * boundary is set per call (O(m)), every interior cell is rewritten. */
typedef struct {
    int64_t m, d;
} wave_ctx;
static void wave_body(void *p, int64_t ib, int64_t ie)
{
    const wave_ctx *w = p;
    int64_t m = w->m;
    for (int64_t i = ib; i < ie; i++) {
        int64_t j = w->d - i;
        C[i * m + j] = C[(i - 1) * m + j] + C[i * m + j - 1] - C[(i - 1) * m + j - 1];
    }
}
static int64_t wave_lo(int64_t m, int64_t d) { return d - (m - 1) > 1 ? d - (m - 1) : 1; }
static int64_t wave_hi(int64_t m, int64_t d) { return d - 1 < m - 1 ? d : m; }
static int64_t wave_setup(int64_t n)
{
    int64_t m = side(n);
    for (int64_t j = 0; j < m; j++) C[j] = (double)j;
    for (int64_t i = 0; i < m; i++) C[i * m] = (double)i;
    return m;
}
static double wave_serial(int64_t n)
{
    wave_ctx w = {wave_setup(n), 0};
    for (w.d = 2; w.d <= 2 * w.m - 2; w.d++) wave_body(&w, wave_lo(w.m, w.d), wave_hi(w.m, w.d));
    return 0;
}
static double wave_omp(int64_t n)
{
    int64_t m = wave_setup(n);
#pragma omp parallel num_threads(g_threads)
    for (int64_t d = 2; d <= 2 * m - 2; d++) {
        wave_ctx w = {m, d};
#pragma omp for schedule(static)
        for (int64_t i = wave_lo(m, d); i < wave_hi(m, d); i++) wave_body(&w, i, i + 1);
    }
    return 0;
}
static void wave_member(void *p)
{
    wave_ctx w = *(const wave_ctx *)p;
    for (w.d = 2; w.d <= 2 * w.m - 2; w.d++) prange_for(wave_lo(w.m, w.d), wave_hi(w.m, w.d), wave_body, &w);
}
static double wave_prange(int64_t n)
{
    wave_ctx w = {wave_setup(n), 0};
    prange_region(wave_member, &w, NULL);
    return 0;
}

/* heat: HEAT_ITERS Jacobi sweeps of an m x m grid, each followed by the largest change (a
 * max reduction), from A into two buffers of the bench's own; returns the sum of the
 * changes (exact: max is exact, the sum runs in one order everywhere). */
#define HEAT_ITERS 10
static double *HT[2];
static int64_t g_heat_m;
static void heat_setup(int64_t n)
{
    int64_t m = side(n);
    if (m == g_heat_m) return;
    for (int k = 0; k < 2; k++) {
        free(HT[k]);
        HT[k] = malloc((size_t)(m * m) * sizeof(double));
        if (!HT[k]) abort();
        memcpy(HT[k], A, (size_t)(m * m) * sizeof(double)); /* the boundary: never rewritten */
    }
    g_heat_m = m;
}
typedef struct {
    const double *u;
    double *v;
    int64_t m;
} heat_ctx;
static void heat_rows(void *p, int64_t b, int64_t e)
{
    const heat_ctx *h = p;
    int64_t m = h->m;
    for (int64_t i = b; i < e; i++)
        for (int64_t j = 1; j < m - 1; j++)
            h->v[i * m + j] = 0.25 * (h->u[(i - 1) * m + j] + h->u[(i + 1) * m + j] + h->u[i * m + j - 1] + h->u[i * m + j + 1]);
}
static double heat_row_change(const heat_ctx *h, int64_t i)
{
    double d = 0;
    for (int64_t j = 1; j < h->m - 1; j++) {
        double c = fabs(h->v[i * h->m + j] - h->u[i * h->m + j]);
        d = c > d ? c : d;
    }
    return d;
}
static void heat_change(void *p, int64_t b, int64_t e, void *acc)
{
    double d = *(double *)acc;
    for (int64_t i = b; i < e; i++) {
        double c = heat_row_change(p, i);
        d = c > d ? c : d;
    }
    *(double *)acc = d;
}
static heat_ctx heat_at(int k) { return (heat_ctx){k == 0 ? A : HT[(k + 1) % 2], HT[k % 2], g_heat_m}; }
static double heat_serial(int64_t n)
{
    heat_setup(n);
    double total = 0;
    for (int k = 0; k < HEAT_ITERS; k++) {
        heat_ctx h = heat_at(k);
        double d = 0;
        heat_rows(&h, 1, h.m - 1);
        heat_change(&h, 1, h.m - 1, &d);
        total += d;
    }
    return total;
}
static double heat_omp(int64_t n)
{
    heat_setup(n);
    double d[HEAT_ITERS] = {0};
#pragma omp parallel num_threads(g_threads)
    for (int k = 0; k < HEAT_ITERS; k++) {
        heat_ctx h = heat_at(k);
#pragma omp for schedule(static)
        for (int64_t i = 1; i < h.m - 1; i++) heat_rows(&h, i, i + 1);
#pragma omp for schedule(static) reduction(max : d[k : 1])
        for (int64_t i = 1; i < h.m - 1; i++) {
            double c = heat_row_change(&h, i);
            d[k] = c > d[k] ? c : d[k];
        }
    }
    double total = 0;
    for (int k = 0; k < HEAT_ITERS; k++) total += d[k];
    return total;
}
typedef struct {
    double d[HEAT_ITERS];
} heat_out;
static void heat_member(void *p)
{
    heat_out *out = p;
    /* A row is an expensive iteration (~m ns): a reduction's blocks are 2048 iterations
     * unless the caller says what an iteration costs (docs/reductions.md), and 2048 rows
     * would be one block, one member's work. The hint splits them like `omp for`. */
    prange_opts ro = PRANGE_OPTS_INIT;
    ro.cost_ns = (double)g_heat_m;
    for (int k = 0; k < HEAT_ITERS; k++) {
        heat_ctx h = heat_at(k);
        double d = 0;
        prange_for(1, h.m - 1, heat_rows, &h);
        prange_reduce(1, h.m - 1, prange_reducer_max_f64(), heat_change, &h, &d, &ro);
        if (prange_thread_id() == 0) out->d[k] = d;
    }
}
static double heat_prange(int64_t n)
{
    heat_setup(n);
    heat_out out = {{0}};
    prange_region(heat_member, &out, NULL);
    double total = 0;
    for (int k = 0; k < HEAT_ITERS; k++) total += out.d[k];
    return total;
}

static void empty_body(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)b;
    (void)e;
    __asm__ volatile("" ::: "memory");
}

/* 64 loops per call in one team: `omp for` in one `omp parallel` against prange_for in
 * one prange_region (forced onto the team, as ovh-for). */
#define REGION_LOOPS 64
static double ovh_omp_region(int64_t n)
{
#pragma omp parallel num_threads(g_threads)
    for (int k = 0; k < REGION_LOOPS; k++) {
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) __asm__ volatile("" ::: "memory");
    }
    return 0;
}
static void ovh_region_member(void *p)
{
    const int64_t *n = p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e9};
    for (int k = 0; k < REGION_LOOPS; k++) prange_for_opts(0, *n, empty_body, NULL, &o);
}
static double ovh_prange_region(int64_t n)
{
    prange_region(ovh_region_member, &n, NULL);
    return 0;
}
static double ovh_serial_region(int64_t n)
{
    for (int k = 0; k < REGION_LOOPS; k++)
        for (int64_t i = 0; i < n; i++) __asm__ volatile("" ::: "memory");
    return 0;
}

/* 16 reductions per call in one team: `omp for reduction(+)` in one `omp parallel` (into
 * one element of a shared array each, zeroed before the region: no extra barrier)
 * against prange_reduce in one prange_region (forced onto the team, the blocks of
 * ovh-reduce). */
#define REGION_REDS 16
static double ovh_omp_regred(int64_t n)
{
    double s[REGION_REDS] = {0}, total = 0;
#pragma omp parallel num_threads(g_threads) shared(s)
    for (int k = 0; k < REGION_REDS; k++) {
#pragma omp for schedule(static) reduction(+ : s[k : 1])
        for (int64_t i = 0; i < n; i++) s[k] += 1.0;
    }
    for (int k = 0; k < REGION_REDS; k++) total += s[k];
    return total;
}
static void one_block(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    *(double *)acc += (double)(e - b);
}
typedef struct {
    int64_t n;
    double total; /* member 0's */
} regred;
static void ovh_regred_member(void *p)
{
    regred *r = p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e9, .grain = 2048};
    double total = 0;
    for (int k = 0; k < REGION_REDS; k++) {
        double s = 0;
        prange_reduce(0, r->n * 4096, prange_reducer_sum_f64(), one_block, NULL, &s, &o);
        total += s / 4096;
    }
    if (prange_thread_id() == 0) r->total = total;
}
static double ovh_prange_regred(int64_t n)
{
    regred r = {n, 0};
    prange_region(ovh_regred_member, &r, NULL);
    return r.total;
}
static double ovh_serial_regred(int64_t n)
{
    double total = 0;
    for (int k = 0; k < REGION_REDS; k++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += 1.0;
        total += s;
    }
    return total;
}

static const kernel region_kernels[] = {
    {.name = "wavefront", .bytes = 8, .check = CHECK_OUTPUT_EXACT, .elements = elements_square, .size = size_grid,
     .v = {V("serial", wave_serial), V("omp-region", wave_omp), V("prange-region", wave_prange)}},
    {.name = "heat", .bytes = 16 * HEAT_ITERS, .check = CHECK_RETURN, .elements = elements_square, .size = size_grid,
     .v = {V("serial", heat_serial), V("omp-region", heat_omp), V("prange-region", heat_prange)}},
    {.name = "ovh-region64", .check = CHECK_RETURN, .overhead = true,
     .v = {V("serial", ovh_serial_region), V("omp", ovh_omp_region), V("prange", ovh_prange_region)}},
    {.name = "ovh-regred16", .check = CHECK_RETURN, .overhead = true,
     .v = {V("serial", ovh_serial_regred), V("omp", ovh_omp_regred), V("prange", ovh_prange_regred)}},
};
BENCH_REGISTER(region_kernels)
