/*
 * threads.c — the OpenMP team of each calling thread: how large it is, and how large the
 * system lets it grow.
 *
 * Each OpenMP master thread owns a pool of workers. libgomp keeps a pool exactly as large
 * as the last team: a smaller team makes the extra workers exit, and the next larger team
 * creates them again (about 20 us each). libprange therefore never shrinks a team on its
 * own: a plan of t threads runs in a region of max(t, pool) threads, and the workers beyond
 * t return at once. prange__pool is that size for the calling thread. Only the program
 * shrinks it, with prange_set_num_threads below the pool (prange__pool_size): then it
 * asked for fewer threads, and the extra workers' share of every fork-join is not worth
 * keeping them.
 *
 * The system may refuse new threads: RLIMIT_NPROC, a cgroup's pids.max, kernel.threads-max,
 * or no address space for the stacks (a huge OMP_STACKSIZE, RLIMIT_AS). libgomp and LLVM's
 * libomp end the whole process when pthread_create fails ("Thread creation failed"), so
 * libprange finds out first. Before a thread's team grows, we start the missing threads
 * ourselves (with the stack size the runtime will use), count how many started, join
 * them, and let the runtime start that many while we hold a process-wide lock, so that two
 * masters growing at once cannot take each other's slots. Steady state: one thread-local
 * compare, no lock.
 *
 * A refusal caps this thread's team; it is probed again at most once a second, so a
 * program recovers when the limit is lifted. Threads the program starts itself (or other
 * processes of the user) can still take the slots between our probe and the runtime's
 * pthread_create; that race is outside any library's reach.
 */
#include <link.h>
#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "prange_sched.h"

PRANGE__TLS int prange__pool = 1;   /* this thread's team as libprange last ran it */
static PRANGE__TLS int g_tried = 1;  /* largest team probed for on this thread */
static PRANGE__TLS uint64_t g_retry_ns; /* after a refusal: no new probe before this */

static pthread_mutex_t g_grow = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_refused_first; /* warned once per process */
static atomic_int g_refused; /* largest team any thread was refused (0 = never) */
static atomic_int g_refused_errno;

/* OMP_STACKSIZE syntax (libgomp env.c, libomp kmp_settings.cpp): a size with an optional
 * B, K, M or G suffix, kibibytes without one, blanks around. 0 when absent or invalid:
 * the runtime then ignores it too. */
static size_t parse_stacksize(const char *s)
{
    if (!s) return 0;
    while (*s == ' ' || *s == '\t') s++;
    if (*s < '0' || *s > '9') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno) return 0;
    while (*end == ' ' || *end == '\t') end++;
    unsigned shift = 10;
    switch (*end) {
    case 'b': case 'B': shift = 0; end++; break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    while (*end == ' ' || *end == '\t') end++;
    if (*end != '\0' || v >= (1ULL << (63 - shift))) return 0;
    return (size_t)(v << shift);
}

static int is_libomp(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    return info->dlpi_name && (strstr(info->dlpi_name, "libomp") || strstr(info->dlpi_name, "libiomp"));
}

/* The worker stack size the OpenMP runtime will ask for; 0 = the pthread default. */
static size_t omp_stacksize(void)
{
    /* LLVM libomp reads KMP_STACKSIZE first and defaults to 4 MiB; libgomp reads
     * OMP_STACKSIZE then GOMP_STACKSIZE, else the pthread default (from RLIMIT_STACK).
     * Which runtime is loaded: from the loaded objects (dlsym of a missing symbol would
     * leave a per-thread error buffer behind, which a fork() child then leaks). */
    int libomp = dl_iterate_phdr(is_libomp, NULL) != 0;
    size_t s = libomp ? parse_stacksize(getenv("KMP_STACKSIZE")) : 0;
    if (!s) s = parse_stacksize(getenv("OMP_STACKSIZE"));
    if (!s) s = parse_stacksize(getenv("GOMP_STACKSIZE"));
    if (!s && libomp) s = (size_t)4 << 20;
    return s;
}

static pid_t g_tids[PRANGE_MAX_THREADS]; /* kernel ids of the probe's threads, under g_grow */

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int go;
    atomic_int n; /* threads that recorded their id */
} gate;

static void *parked(void *arg)
{
    gate *g = arg;
    g_tids[atomic_fetch_add(&g->n, 1)] = gettid();
    pthread_mutex_lock(&g->m);
    while (!g->go) pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
    return NULL;
}

/* pthread_join returns before the kernel releases the exited thread, and only the release
 * gives its slot back to RLIMIT_NPROC and pids.max (and then removes /proc/self/task/TID):
 * a thread started right after the join can still be refused. Wait until each probe
 * thread's entry is gone (at most 50 ms in all; 1 ms when /proc is not mounted). */
static void wait_released(int count)
{
    if (access("/proc/self/task", F_OK) != 0) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        return;
    }
    struct timespec pause = {0, 20000};
    int polls = 2500;
    for (int i = 0; i < count; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%d", (int)g_tids[i]);
        while (access(path, F_OK) == 0 && polls-- > 0) nanosleep(&pause, NULL);
    }
}

/* Start up to `extra` threads that all live at once, then release and join them. Returns
 * how many started; *err is pthread_create's error for the first refusal. */
static int probe(int extra, int *err)
{
    static pthread_t ids[PRANGE_MAX_THREADS]; /* under g_grow */
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pthread_attr_t attr;
    *err = 0;
    if (pthread_attr_init(&attr) != 0) {
        *err = ENOMEM;
        return 0;
    }
    size_t stack = omp_stacksize();
    if (stack) (void)pthread_attr_setstacksize(&attr, stack); /* EINVAL: the runtime keeps the default too */
    int started = 0;
    int retries = 20;
    while (started < extra && started < PRANGE_MAX_THREADS) {
        int e = pthread_create(&ids[started], &attr, parked, &g);
        if (e == EAGAIN && retries-- > 0) {
            /* Maybe a slot still held by a thread that has exited (a worker libgomp let go,
             * or one of ours) but that the kernel has not released yet: wait 50 us. */
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
            continue;
        }
        if (e != 0) {
            *err = e;
            break;
        }
        started++;
    }
    pthread_mutex_lock(&g.m);
    g.go = 1;
    pthread_cond_broadcast(&g.c);
    pthread_mutex_unlock(&g.m);
    for (int i = 0; i < started; i++) pthread_join(ids[i], NULL);
    pthread_attr_destroy(&attr);
    wait_released(started);
    return started;
}

void prange__team_lock(void) { pthread_mutex_lock(&g_grow); }
void prange__team_unlock(void) { pthread_mutex_unlock(&g_grow); }

/* Whether a team of `want` was refused on this thread less than a second ago. */
static int refused_recently(int want, uint64_t now) { return want <= g_tried && now < g_retry_ns; }

int prange__team_probe_locked(int want)
{
    int have = prange__pool;
    if (want <= have) return want;
    uint64_t now = prange__now_ns();
    if (refused_recently(want, now)) return have;
    int err = 0;
    int ok = have + probe(want - have, &err);
    if (want > g_tried) g_tried = want;
    if (ok < want) {
        g_retry_ns = now + 1000000000u;
        int prev = atomic_load(&g_refused);
        while (want > prev && !atomic_compare_exchange_weak(&g_refused, &prev, want)) {
        }
        atomic_store(&g_refused_errno, err);
        if (!atomic_exchange(&g_refused_first, 1))
            prange__log("warning: the system refused to start threads (%s): a team of %d could start only %d; "
                        "loops on this thread use at most %d until it allows more (checked again at most once a "
                        "second)",
                        strerror(err), want, ok, ok);
    }
    return ok;
}

int prange__team_grow(int want)
{
    if (refused_recently(want, prange__now_ns())) return prange__pool; /* no lock while degraded */
    prange__team_lock();
    int ok = prange__team_probe_locked(want);
    if (ok > prange__pool) {
        /* The runtime starts its workers now, under the lock, in the slots just measured. */
#pragma omp parallel num_threads(ok)
        {
            __asm__ volatile("" ::: "memory");
        }
        atomic_store(&prange__pool_started, 1);
        prange__pool = ok;
    }
    prange__team_unlock();
    return ok < want ? ok : want;
}

int prange__team_known(int want)
{
    if (want <= prange__pool) return want;
    /* Any refusal on this thread in the last second: a larger team would be refused too. */
    return prange__now_ns() < g_retry_ns ? prange__pool : want;
}

void prange__threads_describe(char *buf, size_t size)
{
    int refused = atomic_load(&g_refused);
    if (!refused) snprintf(buf, size, "no refusal so far");
    else
        snprintf(buf, size, "refused: a team of %d could not start (%s); teams capped per thread", refused,
                 strerror(atomic_load(&g_refused_errno)));
}
