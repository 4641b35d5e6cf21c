/* test_noalloc.c — the hot paths allocate nothing in steady state: the allocator is
 * interposed in this process and calls are counted while loops, reductions and kernels
 * run (after warm-up). libgomp keeps its team between regions of the same size. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "common.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int g_armed;
static atomic_long g_allocs;

static void note(void)
{
    if (atomic_load_explicit(&g_armed, memory_order_relaxed)) atomic_fetch_add(&g_allocs, 1);
}

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n)
{
    note();
    *p = __libc_memalign(a, n);
    return *p ? 0 : 12;
}
void free(void *p) { __libc_free(p); }

typedef struct {
    double *y;
    const double *x;
} axpy;

static void axpy_body(void *c, int64_t b, int64_t e)
{
    axpy *a = c;
    for (int64_t i = b; i < e; i++) a->y[i] += 2.0 * a->x[i];
}

static void sum_body(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = c;
    for (int64_t i = b; i < e; i++) *(double *)acc += x[i];
}

static long run_all(double *x, double *y, int64_t n, int reps)
{
    axpy a = {y, x};
    prange_opts par = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    prange_opts dyn = t_parallel_opts(2, PRANGE_SCHEDULE_DYNAMIC, 0);
    double s = 0;
    for (int r = 0; r < reps; r++) {
        prange_for_opts(0, n, axpy_body, &a, &par);
        prange_for_opts(0, n, axpy_body, &a, &dyn);
        prange_for(0, 10, axpy_body, &a); /* serial path */
        prange_reduce(0, n, prange_reducer_sum_f64(), sum_body, x, &s, &par);
        s += prange_sum_f64(x, n, NULL) + prange_dot_f64(x, y, n, NULL) + prange_nrm2_f64(x, n, NULL);
        s += prange_sum_f64(x, 5, NULL); /* serial kernel */
        s += prange_minloc_f64(x, n, NULL).value;
    }
    return (long)s;
}

Test(noalloc, steady_state_hot_paths_do_not_allocate)
{
    prange_set_num_threads(2);
    int64_t n = 1 << 20;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) x[i] = y[i] = 1.0 / (double)(i + 1);
    run_all(x, y, n, 3); /* warm-up: topology, calibration, thread pool, scratch */
    atomic_store(&g_armed, 1);
    void *volatile probe = malloc(16); /* the interposer is live: this one must be seen */
    free(probe);
    cr_assert_eq(atomic_exchange(&g_allocs, 0), 1, "allocation counting does not work");
    run_all(x, y, n, 50);
    atomic_store(&g_armed, 0);
    long allocs = atomic_load(&g_allocs);
    cr_assert_eq(allocs, 0, "%ld allocations in 50 steady-state rounds", allocs);
    free(x);
    free(y);
}

/* A kernel that ran on the team during warm-up and then runs inline (under load the
 * fork-join figure rises and the plan flips to serial) needs a deeper fold stack on the
 * caller than its parallel merge did: the kept scratch is at least a page, so the flip
 * allocates nothing (it did once per thread and size, the flake seen under load). */
Test(noalloc, a_kernel_that_turns_serial_allocates_nothing)
{
    prange_set_num_threads(2);
    int64_t n = 1 << 20;
    double *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = 1.0 / (double)(i + 1);
    prange_opts par = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0), ser = PRANGE_OPTS_INIT;
    ser.flags = PRANGE_SERIAL;
    double s = 0;
    for (int r = 0; r < 3; r++) s += prange_sum_f64(x, n, &par) + prange_dot_f64(x, x, n, &par);
    atomic_store(&g_armed, 1);
    for (int r = 0; r < 5; r++) s += prange_sum_f64(x, n, &ser) + prange_dot_f64(x, x, n, &ser);
    atomic_store(&g_armed, 0);
    cr_assert_gt(s, 0);
    long allocs = atomic_load(&g_allocs);
    cr_assert_eq(allocs, 0, "%ld allocations when the kernels turned serial", allocs);
    free(x);
}

/* A region of loops, a nowait pair, a barrier and a reduction: its slots and barrier live
 * on the caller's stack, so steady-state regions allocate nothing either. */
typedef struct {
    axpy a;
    const double *x;
    int64_t n;
    int late; /* this member arrives late at each reduction (-1: none) */
} region_ctx;

static void region_fn(void *c)
{
    region_ctx *r = c;
    prange_opts par = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    prange_opts nw = t_parallel_opts(2, PRANGE_SCHEDULE_DYNAMIC, 0);
    nw.flags = PRANGE_NOWAIT;
    double s;
    for (int k = 0; k < 8; k++) {
        prange_for_opts(0, r->n, axpy_body, &r->a, &par);
        prange_for_opts(0, r->n, axpy_body, &r->a, &nw);
        prange_region_barrier();
        prange_for(0, 10, axpy_body, &r->a); /* one member */
        if (prange_thread_id() == r->late) nanosleep(&(struct timespec){0, 2000000}, NULL);
        prange_reduce(0, r->n, prange_reducer_sum_f64(), sum_body, (void *)r->x, &s, &par);
    }
}

Test(noalloc, steady_state_regions_do_not_allocate)
{
    prange_set_num_threads(2);
    int64_t n = 1 << 16;
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) x[i] = y[i] = 1.0 / (double)(i + 1);
    region_ctx r = {{y, x}, x, n, -1};
    /* Warm-up: the member that plans a reduction takes the shared buffers from its
     * scratch, one level below its own share's: each member plans once (the other one
     * arrives late), so both have both buffers, whoever plans later. */
    for (r.late = 1; r.late >= 0; r.late--) prange_region(region_fn, &r, NULL);
    r.late = -1;
    for (int k = 0; k < 3; k++) prange_region(region_fn, &r, NULL);
    atomic_store(&g_armed, 1);
    void *volatile probe = malloc(16);
    free(probe);
    cr_assert_eq(atomic_exchange(&g_allocs, 0), 1, "allocation counting does not work");
    for (int k = 0; k < 50; k++) prange_region(region_fn, &r, NULL);
    atomic_store(&g_armed, 0);
    long allocs = atomic_load(&g_allocs);
    cr_assert_eq(allocs, 0, "%ld allocations in 50 steady-state regions", allocs);
    free(x);
    free(y);
}
