/* test_share.c — libprange shares the machine with the program: the calling thread's CPU
 * mask is the program's, whatever PRANGE_BIND pins. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "common.h"
#include "prange_sched.h"

typedef struct {
    atomic_int worker_cpus[64]; /* CPUs in each worker's mask, as the worker reads it */
} mask_ctx;

static void mask_body(void *p, int64_t b, int64_t e)
{
    (void)b; (void)e;
    mask_ctx *c = p;
    cpu_set_t set;
    int tid = prange_thread_id();
    if (tid < 64 && sched_getaffinity(0, sizeof set, &set) == 0) atomic_store(&c->worker_cpus[tid], CPU_COUNT(&set));
}

static int my_cpus(void)
{
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

static void *user_thread(void *arg)
{
    (void)arg;
    int before = my_cpus();
    mask_ctx c = {0};
    prange_opts o = {.cost_ns = 1e4, .threads = 2};
    for (int i = 0; i < 5; i++) cr_assert_eq(prange_for_opts(0, 1000, mask_body, &c, &o), 0);
    return (void *)(intptr_t)(my_cpus() == before);
}

Test(binding, bind_core_pins_workers_never_the_caller)
{
    setenv("PRANGE_BIND", "core", 1);
    setenv("PRANGE_FORK_NS", "1000", 1); /* parallel plans whatever the machine's load */
    prange_set_num_threads(2);
    int before = my_cpus();
    if (before < 2) cr_skip_test("needs 2 CPUs in the affinity mask");
    mask_ctx c = {0};
    prange_opts o = {.cost_ns = 1e4, .threads = 2};
    for (int i = 0; i < 5; i++) cr_assert_eq(prange_for_opts(0, 1000, mask_body, &c, &o), 0);
    cr_assert_eq(my_cpus(), before, "the caller's mask went from %d CPUs to %d", before, my_cpus());
    cr_assert_eq(atomic_load(&c.worker_cpus[0]), before, "worker 0 is the caller: not pinned");
    int w1 = atomic_load(&c.worker_cpus[1]);
    cr_assert(w1 >= 1 && w1 < before, "worker 1 is pinned to one core: %d CPUs of %d", w1, before);
    /* A thread created now inherits main's mask; its own loops leave it alone too. */
    pthread_t th;
    void *ok = NULL;
    cr_assert_eq(pthread_create(&th, NULL, user_thread, NULL), 0);
    pthread_join(th, &ok);
    cr_assert(ok != NULL, "a user thread's mask changed across its loops");
}

/* ---- one budget across calling threads ------------------------------------------------------ */

static atomic_int g_inside, g_max_inside;

typedef struct {
    atomic_llong covered;
} cover_ctx;

/* A chunk of ~1 ms of spinning, counted while it runs. */
static void busy_body(void *p, int64_t b, int64_t e)
{
    cover_ctx *c = p;
    int now = atomic_fetch_add(&g_inside, 1) + 1, m = atomic_load(&g_max_inside);
    while (now > m && !atomic_compare_exchange_weak(&g_max_inside, &m, now)) {}
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000);
    atomic_fetch_add(&c->covered, e - b);
    atomic_fetch_sub(&g_inside, 1);
}

static atomic_int g_bad;

static pthread_barrier_t g_start;

static void *caller(void *arg)
{
    (void)arg;
    /* Planned for the whole budget: 10 ms of (declared) work per call. A first call
     * starts this thread's workers; then all callers start together. */
    prange_opts o = {.cost_ns = 1e4};
    cover_ctx warm = {0};
    prange_for_opts(0, 1000, busy_body, &warm, &o);
    pthread_barrier_wait(&g_start);
    atomic_store(&g_max_inside, 0);
    for (int i = 0; i < 20; i++) {
        cover_ctx c = {0};
        if (prange_for_opts(0, 1000, busy_body, &c, &o) != 0 || atomic_load(&c.covered) != 1000) atomic_store(&g_bad, 1);
    }
    return NULL;
}

static void run_callers(int k)
{
    pthread_t th[8];
    pthread_barrier_init(&g_start, NULL, (unsigned)k);
    for (int i = 0; i < k; i++) cr_assert_eq(pthread_create(&th[i], NULL, caller, NULL), 0);
    for (int i = 0; i < k; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_start);
    cr_assert_eq(atomic_load(&g_bad), 0, "a loop did not cover its range exactly");
    cr_assert_eq(prange__share_in_use(), 0, "threads not given back to the budget");
}

Test(budget, concurrent_callers_share_one_budget, .timeout = 120)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    int budget = 2;
    for (int k = 2; k <= 8; k *= 2) {
        run_callers(k);
        int m = atomic_load(&g_max_inside), bound = (k > budget ? k : budget) + budget - 1;
        cr_assert_leq(m, bound, "%d callers, budget %d: %d bodies ran at once (each caller its own team: up to %d)",
                      k, budget, m, k * budget);
    }
}
