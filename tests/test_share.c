/* test_share.c — libprange shares the machine with the program: the calling thread's CPU
 * mask is the program's, whatever PRANGE_BIND pins. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common.h"

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
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e4, .threads = 2};
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
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e4, .threads = 2};
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
