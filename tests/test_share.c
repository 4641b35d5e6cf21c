/* test_share.c — libprange shares the machine with the program: the calling thread's CPU
 * mask is the program's, whatever PRANGE_BIND pins. */
#include <criterion/criterion.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e4};
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

/* ---- ranks sharing a node ----------------------------------------------------------------- */

static const char *g_env[16][2];
static const char *fake_env(const char *name)
{
    for (int i = 0; i < 16 && g_env[i][0]; i++)
        if (strcmp(g_env[i][0], name) == 0) return g_env[i][1];
    return NULL;
}
static void set_env(int i, const char *name, const char *value)
{
    g_env[i][0] = name;
    g_env[i][1] = value;
}

Test(ranks, launcher_variables)
{
    prange__rank r;
    memset(g_env, 0, sizeof g_env);
    cr_assert_eq(prange__rank_from_env(fake_env, &r), 0, "no launcher");
    set_env(0, "OMPI_COMM_WORLD_LOCAL_RANK", "1");
    set_env(1, "OMPI_COMM_WORLD_LOCAL_SIZE", "3");
    cr_assert_eq(prange__rank_from_env(fake_env, &r), 1);
    cr_assert_eq(r.local_rank, 1);
    cr_assert_eq(r.local_size, 3);
    cr_assert_str_eq(r.from, "OMPI_COMM_WORLD_LOCAL_RANK");
    memset(g_env, 0, sizeof g_env);
    set_env(0, "MPI_LOCALRANKID", "0");
    set_env(1, "MPI_LOCALNRANKS", "2");
    cr_assert_eq(prange__rank_from_env(fake_env, &r), 1);
    cr_assert_eq(r.local_size, 2);
    memset(g_env, 0, sizeof g_env);
    set_env(0, "SLURM_LOCALID", "2");
    set_env(1, "SLURM_TASKS_PER_NODE", "4(x3),2");
    cr_assert_eq(prange__rank_from_env(fake_env, &r), 1);
    cr_assert_eq(r.local_rank, 2);
    cr_assert_eq(r.local_size, 4);
    /* Nonsense is ignored, not trusted: rank >= size, negative, garbage. */
    static const char *bad[][2] = {{"3", "3"}, {"-1", "2"}, {"1", "2x"}, {"", "2"}, {"1", "0"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(g_env, 0, sizeof g_env);
        set_env(0, "PMI_LOCAL_RANK", bad[i][0]);
        set_env(1, "PMI_LOCAL_SIZE", bad[i][1]);
        cr_assert_eq(prange__rank_from_env(fake_env, &r), 0, "rank '%s' of '%s' accepted", bad[i][0], bad[i][1]);
    }
}

/* Each rank's slice on a synthetic 2 sockets x 4 cores (x 2 PUs) machine, with its CPU set
 * as the launcher would bind it; the slices of all ranks must be disjoint and cover it. */
static void check_slices(int nranks, int bind_socket, const char *const want[])
{
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    hwloc_topology_set_synthetic(t, "pack:2 core:4 pu:2");
    hwloc_topology_load(t);
    hwloc_bitmap_t all = hwloc_bitmap_alloc(), slice = hwloc_bitmap_alloc(), cpus = hwloc_bitmap_alloc();
    for (int r = 0; r < nranks; r++) {
        if (bind_socket) /* round-robin by socket, as Open MPI maps from 3 ranks on */
            hwloc_bitmap_copy(cpus, hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, (unsigned)(r % 2))->cpuset);
        else
            hwloc_bitmap_copy(cpus, hwloc_topology_get_allowed_cpuset(t));
        prange__rank rk = {.local_rank = r, .local_size = nranks, .from = "test"};
        prange__rank_slice(t, cpus, &rk, slice);
        char buf[64];
        hwloc_bitmap_list_snprintf(buf, sizeof buf, slice);
        cr_assert_str_eq(buf, want[r], "%d ranks%s, rank %d: PUs %s, expected %s", nranks,
                         bind_socket ? " bound to sockets" : "", r, buf, want[r]);
        cr_assert(!hwloc_bitmap_intersects(all, slice), "rank %d overlaps another rank", r);
        hwloc_bitmap_or(all, all, slice);
    }
    cr_assert(hwloc_bitmap_isequal(all, hwloc_topology_get_allowed_cpuset(t)), "the ranks leave cores unused");
    hwloc_bitmap_free(all);
    hwloc_bitmap_free(slice);
    hwloc_bitmap_free(cpus);
    hwloc_topology_destroy(t);
}

Test(ranks, slices_on_two_sockets)
{
    /* PUs: socket 0 = 0-7 (cores of 2 PUs), socket 1 = 8-15. */
    static const char *const none4[] = {"0-3", "4-7", "8-11", "12-15"};
    static const char *const none3[] = {"0-5", "6-11", "12-15"};
    static const char *const sock4[] = {"0-3", "8-11", "4-7", "12-15"};
    static const char *const sock3[] = {"0-3", "8-15", "4-7"};
    static const char *const none2[] = {"0-7", "8-15"};
    check_slices(4, 0, none4);
    check_slices(3, 0, none3);
    check_slices(4, 1, sock4);
    check_slices(3, 1, sock3);
    check_slices(2, 0, none2);
}

Test(ranks, a_rank_bound_to_one_core_is_not_sliced)
{
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    hwloc_topology_set_synthetic(t, "pack:2 core:4 pu:1");
    hwloc_topology_load(t);
    hwloc_bitmap_t slice = hwloc_bitmap_alloc();
    prange__rank rk = {.local_rank = 1, .local_size = 2, .from = "test"};
    cr_assert_eq(prange__rank_slice(t, hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, 1)->cpuset, &rk, slice), 1);
    cr_assert_eq(hwloc_bitmap_weight(slice), 1, "its one core stays its own");
    cr_assert_eq(rk.sets, 8, "8 single-core sets: 6 cores left free by 2 ranks");
    hwloc_bitmap_free(slice);
    hwloc_topology_destroy(t);
}

/* The whole path: launcher variables set by hand before the first call, on a synthetic
 * machine (which has no process binding: like --bind-to none). */
Test(ranks, budget_is_the_slice)
{
    setenv("HWLOC_SYNTHETIC", "pack:2 core:4 pu:1", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "2", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
    cr_assert_eq(prange_num_threads(), 2, "8 cores, 4 ranks: 2 each");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    prange_print_config(f);
    fclose(f);
    cr_assert_not_null(strstr(buf, "ranks:     local rank 2 of 4 (OMPI_COMM_WORLD_LOCAL_RANK); 4 ranks share"), "%s", buf);
    cr_assert_not_null(strstr(buf, "cpuset 4-5"), "%s", buf);
    free(buf);
}

Test(ranks, explicit_thread_count_wins)
{
    setenv("HWLOC_SYNTHETIC", "pack:2 core:4 pu:1", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "0", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
    setenv("PRANGE_NUM_THREADS", "3", 1);
    cr_assert_eq(prange_num_threads(), 3);
}
