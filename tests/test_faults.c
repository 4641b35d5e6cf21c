/* test_faults.c — fault injection: an interposed allocator fails the k-th allocation that
 * libprange makes (itself, or through the C library: fopen, strdup, ...), for every k
 * reachable from the first call (initialisation: options, topology summary, cgroup files,
 * tuning cache, thread probe), loops, reductions with large accumulators, scans, kernels
 * and prange_alloc. Each call must return a clean error (or succeed), nothing may crash,
 * and once allocations work again every call succeeds. Each k runs in a forked child, so
 * initialisation is exercised afresh.
 *
 * Allocations made by hwloc, libgomp and the dynamic loader are never failed (their
 * callers are found with backtrace()): glibc's loader exits the process when malloc fails
 * inside dlopen (hwloc loads plugins), hwloc 2.9's discovery dereferences a failed
 * allocation, and libgomp exits on its own (gomp_fatal). No library above them can
 * change that; docs/reliability.md lists it. */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <malloc.h>
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

static void *g_exe_base, *g_libc_base; /* load addresses of this program and of libc */
static _Thread_local int t_inside;     /* backtrace() and dladdr() may allocate: no recursion */

static atomic_int g_tracking; /* set in each child: classify, count and track */

/* Whether the allocation being made comes from libprange (linked into this program) or
 * from the C library on its behalf: the first caller outside libc must be this program. */
__attribute__((noinline)) static int from_libprange(void)
{
    void *frames[48];
    int n = backtrace(frames, 48);
    for (int i = 3; i < n; i++) { /* 0: here, 1: classify, 2: the interposed function */
        Dl_info info;
        if (!dladdr(frames[i], &info)) return 0;
        if (info.dli_fbase == g_libc_base) continue;
        return info.dli_fbase == g_exe_base;
    }
    return 0;
}

__attribute__((noinline)) static int classify(void)
{
    if (!atomic_load(&g_tracking) || t_inside) return 0;
    t_inside = 1;
    int mine = from_libprange();
    t_inside = 0;
    return mine;
}

static int should_fail(int mine)
{
    long k = atomic_load(&g_fail_at);
    if (k == 0 || !mine) return 0;
    if (atomic_fetch_add(&g_count, 1) + 1 == k) {
        if (getenv("FAULT_TRACE")) { /* FAULT_K=k FAULT_TRACE=1: where the k-th failure lands */
            void *frames[16];
            t_inside = 1;
            backtrace_symbols_fd(frames, backtrace(frames, 16), 2);
            t_inside = 0;
        }
        atomic_store(&g_failed, 1);
        return 1;
    }
    return 0;
}

/* Live bytes of libprange's own blocks, to compare with a run that failed nothing: a
 * failure path that leaks shows as more. (Only libprange's: the OpenMP runtimes allocate
 * by timing, which would make the comparison flaky.) A small open-addressing table of the
 * blocks counted, under a spin lock. */
#define TRACK 8192
static struct {
    void *p;
    size_t n;
} g_track[TRACK];
static atomic_flag g_track_lock = ATOMIC_FLAG_INIT;
static atomic_long g_live;

static void track_lock(void)
{
    while (atomic_flag_test_and_set_explicit(&g_track_lock, memory_order_acquire)) {
    }
}
static void track_unlock(void) { atomic_flag_clear_explicit(&g_track_lock, memory_order_release); }

static void *track(void *p, int mine)
{
    if (!p || !mine) return p;
    size_t n = malloc_usable_size(p), h = ((uintptr_t)p >> 4) % TRACK;
    track_lock();
    for (size_t i = 0; i < TRACK; i++, h = (h + 1) % TRACK)
        if (!g_track[h].p) {
            g_track[h].p = p;
            g_track[h].n = n;
            atomic_fetch_add(&g_live, (long)n);
            break;
        }
    track_unlock();
    return p;
}

static void untrack(void *p)
{
    if (!p || !atomic_load(&g_tracking)) return;
    size_t h = ((uintptr_t)p >> 4) % TRACK;
    track_lock();
    for (size_t i = 0; i < TRACK && g_track[h].p; i++, h = (h + 1) % TRACK)
        if (g_track[h].p == p) {
            atomic_fetch_sub(&g_live, (long)g_track[h].n);
            /* Re-insert the rest of the run so later lookups still find them. */
            g_track[h].p = NULL;
            for (size_t j = (h + 1) % TRACK; g_track[j].p; j = (j + 1) % TRACK) {
                void *q = g_track[j].p;
                size_t qn = g_track[j].n, k = ((uintptr_t)q >> 4) % TRACK;
                g_track[j].p = NULL;
                while (g_track[k].p) k = (k + 1) % TRACK;
                g_track[k].p = q;
                g_track[k].n = qn;
            }
            break;
        }
    track_unlock();
}

void *malloc(size_t n)
{
    int mine = classify();
    return should_fail(mine) ? (errno = ENOMEM, NULL) : track(__libc_malloc(n), mine);
}
void *calloc(size_t a, size_t b)
{
    int mine = classify();
    return should_fail(mine) ? (errno = ENOMEM, NULL) : track(__libc_calloc(a, b), mine);
}
void *realloc(void *p, size_t n)
{
    int mine = classify();
    if (should_fail(mine)) return errno = ENOMEM, NULL;
    untrack(p); /* if libc's realloc then fails, p stays live uncounted: not a leak of ours */
    return track(__libc_realloc(p, n), mine);
}
void *aligned_alloc(size_t a, size_t n)
{
    int mine = classify();
    return should_fail(mine) ? (errno = ENOMEM, NULL) : track(__libc_memalign(a, n), mine);
}
void *memalign(size_t a, size_t n)
{
    int mine = classify();
    return should_fail(mine) ? (errno = ENOMEM, NULL) : track(__libc_memalign(a, n), mine);
}
int posix_memalign(void **p, size_t a, size_t n)
{
    int mine = classify();
    if (should_fail(mine)) return ENOMEM;
    *p = track(__libc_memalign(a, n), mine);
    return *p ? 0 : ENOMEM;
}
void free(void *p)
{
    untrack(p);
    __libc_free(p);
}

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
    double s = prange_sum_f64(x, N, NULL);
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

static long g_live_ref; /* live bytes after the same calls with no failure (k = 0) */

/* Child: arm the k-th failure before the first call, run a round, disarm, run a strict
 * round. */
static int child(long k)
{
    atomic_store(&g_tracking, 1);
    setenv("PRANGE_FORK_NS", "1000", 1);
    setenv("PRANGE_NUM_THREADS", "2", 1);
    static double x[N], y[N];
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, k);
    int bad = round_of_calls(x, y, 0);
    atomic_store(&g_fail_at, 0);
    if (bad) return 10 + bad;
    if (round_of_calls(x, y, 1)) return 30;
    if (k == 0) return 0;
    if (atomic_load(&g_live) > g_live_ref) {
        printf("fault injection: k=%ld: %ld bytes live after the calls, %ld without a failure\n", k,
               atomic_load(&g_live), g_live_ref);
        fflush(stdout); /* the child leaves with _exit */
        return 40;
    }
    return atomic_load(&g_failed) ? 0 : 99; /* 99: k is past the last allocation */
}

/* Not a Criterion test: Criterion's own allocations would be failed too. FAULT_K=k runs
 * one child in the foreground (debugging). */
int main(void)
{
    Dl_info info;
    if (!dladdr((void *)main, &info)) return 1;
    g_exe_base = info.dli_fbase;
    if (!dladdr((void *)__libc_malloc, &info)) return 1;
    g_libc_base = info.dli_fbase;
    void *warm[4];
    backtrace(warm, 4); /* loads libgcc_s now, not inside an armed allocation */
    if (getenv("FAULT_K")) return child(atol(getenv("FAULT_K")));
    /* The reference: the same calls, nothing failed, live bytes reported through a pipe. */
    int fds[2];
    if (pipe(fds) != 0) return 1;
    fflush(NULL);
    pid_t ref = fork();
    if (ref == 0) {
        int rc = child(0);
        long v = atomic_load(&g_live);
        _exit(rc == 0 && write(fds[1], &v, sizeof v) == (ssize_t)sizeof v ? 0 : 1);
    }
    int rst = 0;
    if (waitpid(ref, &rst, 0) != ref || !WIFEXITED(rst) || WEXITSTATUS(rst) != 0 ||
        read(fds[0], &g_live_ref, sizeof g_live_ref) != (ssize_t)sizeof g_live_ref) {
        printf("fault injection: the reference run failed\n");
        return 1;
    }
    close(fds[0]);
    close(fds[1]);
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
    printf("fault injection: %ld allocation failures injected (every allocation libprange makes, directly or "
           "through libc, from the first call on: init, loops, reductions, scans, kernels, prange_alloc), "
           "each handled cleanly, none leaving more memory live than a run without failures (%ld bytes)\n",
           injected, g_live_ref);
    return 0;
}
