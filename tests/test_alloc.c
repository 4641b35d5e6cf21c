/* test_alloc.c — prange_alloc / prange_alloc_opts / prange_free / prange_mem_location:
 * alignment, zeroing, sizes, overflow, placement, policies, RSS, and that the first-touch
 * partition is the default loop's partition. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <errno.h>
#include <hwloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "prange_lib.h"

extern void (*prange__touch_hook)(int tid, int64_t begin, int64_t end);

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

Test(alloc, alignment_zeroing_sizes)
{
    static const int64_t counts[] = {0, 1, 2, 3, 7, 1000, 131071, 131072, 1000003, 4194305};
    static const size_t elems[] = {1, 3, 8, 24, 1000};
    for (size_t a = 0; a < sizeof counts / sizeof *counts; a++)
        for (size_t b = 0; b < sizeof elems / sizeof *elems; b++) {
            int64_t n = counts[a];
            size_t e = elems[b];
            if ((size_t)n * e > ((size_t)256 << 20)) continue;
            unsigned char *p = prange_alloc(n, e);
            cr_assert_not_null(p, "count=%lld elem=%zu", (long long)n, e);
            cr_assert_eq((uintptr_t)p % 64, 0, "not 64-byte aligned");
            cr_assert(all_zero(p, (size_t)n * e), "count=%lld elem=%zu not zeroed", (long long)n, e);
            memset(p, 0xAB, (size_t)n * e); /* writable to the last byte */
            prange_free(p);
        }
    void *z = prange_alloc(0, 8);
    cr_assert_not_null(z, "an empty block is valid");
    prange_free(z);
    z = prange_alloc(10, 0);
    cr_assert_not_null(z);
    prange_free(z);
    prange_free(NULL);
}

Test(alloc, one_gib, .timeout = 60)
{
    int64_t n = INT64_C(1) << 27; /* 2^27 doubles */
    double *x = prange_alloc(n, sizeof(double));
    cr_assert_not_null(x);
    cr_assert_eq(x[0], 0.0);
    cr_assert_eq(x[n - 1], 0.0);
    cr_assert_eq(x[n / 2], 0.0);
    x[n - 1] = 1.0;
    prange_free(x);
}

Test(alloc, overflow_and_bad_arguments)
{
    errno = 0;
    cr_assert_null(prange_alloc(-1, 8));
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_null(prange_alloc(INT64_MAX, 8));
    cr_assert_eq(errno, EOVERFLOW);
    errno = 0;
    cr_assert_null(prange_alloc(INT64_C(1) << 62, 4));
    cr_assert_eq(errno, EOVERFLOW);
    errno = 0;
    cr_assert_null(prange_alloc(2, SIZE_MAX));
    cr_assert_eq(errno, EOVERFLOW);
    errno = 0;
    cr_assert_null(prange_alloc(INT64_C(1) << 61, 1)); /* fits size_t, not memory */
    cr_assert_eq(errno, ENOMEM);
    prange_mem_opts bad_policy = {.struct_size = sizeof(prange_mem_opts), .policy = (prange_mem_policy)9};
    prange_mem_opts bad_flags = {.struct_size = sizeof(prange_mem_opts), .flags = 1u << 20};
    prange_mem_opts bad_node = {.struct_size = sizeof(prange_mem_opts), .policy = PRANGE_MEM_BIND, .node = 999};
    prange_mem_opts neg_node = {.struct_size = sizeof(prange_mem_opts), .policy = PRANGE_MEM_BIND, .node = -1};
    prange_mem_opts unsized = {.policy = PRANGE_MEM_LOCAL}; /* struct_size 0 */
    const prange_mem_opts *bad[] = {&bad_policy, &bad_flags, &bad_node, &neg_node, &unsized};
    for (size_t i = 0; i < 4; i++) {
        errno = 0;
        cr_assert_null(prange_alloc_opts(100, 8, bad[i]), "case %zu", i);
        cr_assert_eq(errno, EINVAL, "case %zu", i);
    }
}

Test(alloc, freeing_a_foreign_pointer_aborts, .signal = SIGABRT)
{
    static unsigned char buf[256];
    prange_free(buf + 128);
}

Test(alloc, double_free_is_caught, .signal = SIGABRT, .disabled = UNDER_ASAN)
{
    void *p = prange_alloc(10, 8);
    prange_free(p);
    prange_free(p); /* the C-allocator block still holds the cleared header */
}

/* A large block's header page is unmapped with it: still the message and abort. */
Test(alloc, double_free_large_is_caught, .signal = SIGABRT)
{
    void *p = prange_alloc(1 << 17, 8); /* 1 MiB: its own mapping */
    cr_assert_not_null(p);
    prange_free(p);
    prange_free(p);
}

Test(alloc, placement_all_on_this_machines_nodes)
{
    int64_t n = 1 << 23; /* 64 MiB */
    double *x = prange_alloc(n, sizeof *x);
    cr_assert_not_null(x);
    int64_t nodes[64];
    int64_t pages = prange_mem_location(x, (size_t)n * sizeof *x, nodes, 64);
    if (pages == PRANGE_ENOSYS) cr_skip_test("move_pages is not available here");
    long page = sysconf(_SC_PAGESIZE);
    int64_t want = (int64_t)(((size_t)n * sizeof *x + (size_t)page - 1) / (size_t)page);
    cr_assert_geq(pages, want, "every page was first-touched: %lld of %lld resident", (long long)pages, (long long)want);
    int64_t sum = 0;
    for (int i = 0; i < 64; i++) sum += nodes[i];
    cr_assert_eq(sum, pages, "every resident page is on a known node");
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    hwloc_topology_load(t);
    if (hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE) == 1) {
        unsigned os = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, 0)->os_index;
        cr_assert_eq(nodes[os], pages, "single-node machine: all pages on node %u", os);
    }
    hwloc_topology_destroy(t);
    prange_free(x);
    /* Untouched memory is not resident. */
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *raw = mmap(NULL, (size_t)pg * 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_eq(prange_mem_location(raw, (size_t)pg * 16, NULL, 0), 0);
    raw[0] = 1;
    cr_assert_eq(prange_mem_location(raw, (size_t)pg * 16, NULL, 0), 1);
    munmap(raw, (size_t)pg * 16);
    cr_assert_eq(prange_mem_location(NULL, 10, NULL, 0), PRANGE_EINVAL);
    cr_assert_eq(prange_mem_location(x, 0, NULL, 0), 0);
}

Test(alloc, policies_best_effort_and_strict)
{
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    hwloc_topology_load(t);
    int node0 = (int)hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, 0)->os_index;
    hwloc_topology_destroy(t);
    const prange_mem_policy pol[] = {PRANGE_MEM_FIRST_TOUCH, PRANGE_MEM_INTERLEAVE, PRANGE_MEM_LOCAL, PRANGE_MEM_BIND};
    for (int k = 0; k < 4; k++)
        for (unsigned flags = 0; flags <= PRANGE_MEM_FLAGS_ALL; flags++) {
            if ((flags & PRANGE_MEM_HUGEPAGES) && (flags & PRANGE_MEM_NO_HUGEPAGES)) continue;
            prange_mem_opts o = {.struct_size = sizeof(prange_mem_opts), .policy = pol[k], .node = node0, .flags = flags};
            int64_t n = (k + flags) % 2 ? 3000000 : 1000;
            double *x = prange_alloc_opts(n, sizeof *x, &o);
            if (!x && (flags & PRANGE_MEM_STRICT)) {
                /* A system may refuse a binding (containers): strict says so, cleanly. */
                cr_assert(errno == ENOSYS || errno == EPERM || errno == EXDEV || errno == EINVAL, "errno %d", errno);
                continue;
            }
            cr_assert_not_null(x, "policy %d flags %u", pol[k], flags);
            cr_assert(all_zero((unsigned char *)x, (size_t)n * sizeof *x));
            if (flags & PRANGE_MEM_ALIGN_HUGE)
                cr_assert_eq((uintptr_t)x % (2u << 20), 0, "ALIGN_HUGE gives a 2 MiB-aligned pointer");
            x[n - 1] = 1;
            prange_free(x);
        }
}

Test(alloc, large_blocks_start_on_a_page)
{
    long page = sysconf(_SC_PAGESIZE);
    prange_mem_opts small_pages = {.struct_size = sizeof(prange_mem_opts), .flags = PRANGE_MEM_NO_HUGEPAGES};
    for (int i = 0; i < 4; i++) {
        void *p = prange_alloc_opts(1 << 20, 8, &small_pages);
        cr_assert_eq((uintptr_t)p % (uintptr_t)page, 0, "large blocks share page offset 0");
        prange_free(p);
        void *h = prange_alloc(1 << 20, 8);
        cr_assert_eq((uintptr_t)h % (uintptr_t)page, 0);
        prange_free(h);
    }
}

Test(alloc, many_cycles_keep_rss_flat, .disabled = UNDER_ASAN || UNDER_TSAN)
{
    if (UNDER_VALGRIND) cr_skip_test("valgrind's allocator changes RSS");
    long before = 0;
    for (int i = 0; i < 300; i++) {
        void *a = prange_alloc(1 << 20, 8), *b = prange_alloc(5000, 24);
        prange_free(a);
        prange_free(b);
        if (i == 20) before = t_rss_kb();
    }
    long after = t_rss_kb();
    cr_assert_leq(after - before, 1024, "RSS grew by %ld KiB over 280 cycles", after - before);
}

Test(alloc, rss_overhead_below_one_percent_plus_2mib, .disabled = UNDER_ASAN || UNDER_TSAN)
{
    if (UNDER_VALGRIND) cr_skip_test("valgrind's allocator changes RSS");
    long before = t_rss_kb();
    size_t bytes = (size_t)256 << 20;
    void *x = prange_alloc((int64_t)(bytes / 8), 8);
    long after = t_rss_kb();
    double over = (double)(after - before) * 1024.0 - (double)bytes;
    cr_assert_leq(over, 0.01 * (double)bytes + (double)(2 << 20), "RSS overhead %.0f bytes", over);
    prange_free(x);
}

/* ---- the touch partition is the loop partition --------------------------------------- */

static int64_t g_lo[PRANGE_MAX_THREADS], g_hi[PRANGE_MAX_THREADS];
static atomic_int g_team; /* the largest team seen: workers update it at once */
static void record(int tid, int64_t b, int64_t e)
{
    g_lo[tid] = b;
    g_hi[tid] = e;
    int team = prange_num_threads(), seen = atomic_load(&g_team);
    while (team > seen && !atomic_compare_exchange_weak(&g_team, &seen, team)) {
    }
}

Test(alloc, touch_partition_is_the_default_loop_partition)
{
    /* A fixed fork-join figure: a measured one follows the touch's own region, which on a
     * loaded valgrind run made the next query plan serial (a figure of milliseconds). */
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(4);
    prange__touch_hook = record;
    static const int64_t counts[] = {1 << 17, 1000003, 1 << 22};
    for (size_t k = 0; k < 3; k++) {
        int64_t n = counts[k];
        memset(g_lo, -1, sizeof g_lo);
        atomic_store(&g_team, 0);
        void *x = prange_alloc(n, 8);
        prange_plan plan;
        cr_assert_eq(prange_plan_for(n, NULL, &plan), 0);
        cr_assert_eq(plan.schedule, PRANGE_SCHEDULE_STATIC);
        cr_assert_eq(atomic_load(&g_team), plan.threads, "n=%lld: touched by %d threads, a loop plans %d", (long long)n, atomic_load(&g_team),
                     plan.threads);
        for (int t = 0; t < plan.threads; t++) {
            uint64_t lo, hi;
            prange__split((uint64_t)n, plan.threads, t, &lo, &hi);
            cr_assert_eq(g_lo[t], (int64_t)lo, "n=%lld thread %d", (long long)n, t);
            cr_assert_eq(g_hi[t], (int64_t)hi, "n=%lld thread %d", (long long)n, t);
        }
        prange_free(x);
    }
    prange__touch_hook = NULL;
}

/* The touch must not learn: many allocations of varied sizes (whose touch loops a learned
 * cost would shrink, the touch writes one byte per page) leave the partition as it was. */
Test(alloc, touch_partition_holds_after_many_allocations)
{
    /* A fork-join figure that gives a default loop of 2^19 a team of 3 of 4, so a learned
     * touch cost (page faults: ns per element, not 0.5) would pick another team. */
    setenv("PRANGE_FORK_NS", "80000", 1);
    prange_set_num_threads(4);
    for (int i = 0; i < 40; i++) {
        void *y = prange_alloc((int64_t)(1 << 19) + 7919 * i, 8);
        cr_assert_not_null(y);
        prange_free(y);
    }
    prange__touch_hook = record;
    int64_t n = 1 << 19;
    memset(g_lo, -1, sizeof g_lo);
    atomic_store(&g_team, 0);
    void *x = prange_alloc(n, 8);
    prange_plan plan;
    cr_assert_eq(prange_plan_for(n, NULL, &plan), 0);
    cr_assert_eq(plan.threads, 3);
    cr_assert_eq(atomic_load(&g_team), plan.threads, "touched by %d threads, a default loop plans %d",
                 atomic_load(&g_team), plan.threads);
    for (int t = 0; t < plan.threads; t++) {
        uint64_t lo, hi;
        prange__split((uint64_t)n, plan.threads, t, &lo, &hi);
        cr_assert_eq(g_lo[t], (int64_t)lo, "block %d", t);
        cr_assert_eq(g_hi[t], (int64_t)hi, "block %d", t);
    }
    prange_free(x);
    prange__touch_hook = NULL;
}

/* On a synthetic 4-node machine with PRANGE_BIND=core, which node each thread's block
 * lands on: contiguous quarters of the array, one per node. */
Test(alloc, synthetic_four_nodes_touch_map)
{
    hwloc_topology_t t;
    hwloc_topology_init(&t);
    hwloc_topology_set_synthetic(t, "pack:2 numa:2 core:8 pu:1");
    hwloc_topology_load(t);
    int64_t n = 1 << 24;
    int T = 32;
    hwloc_bitmap_t set = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
    for (int tid = 0; tid < T; tid++) {
        cr_assert_eq(prange__bind_target(t, NULL, 1, tid, set), 0);
        hwloc_cpuset_to_nodeset(t, set, nodes);
        int node = hwloc_bitmap_first(nodes);
        uint64_t lo, hi;
        prange__split((uint64_t)n, T, tid, &lo, &hi);
        int64_t quarter = n / 4;
        cr_assert_eq(node, (int)(lo / (uint64_t)quarter), "thread %d block [%llu,%llu) on node %d", tid,
                     (unsigned long long)lo, (unsigned long long)hi, node);
        cr_assert_eq(node, (int)((hi - 1) / (uint64_t)quarter));
    }
    hwloc_bitmap_free(set);
    hwloc_bitmap_free(nodes);
    hwloc_topology_destroy(t);
}

/* The VMA of /proc/self/smaps that holds p: its AnonHugePages (KiB) and VmFlags line. */
static int vma_of(const void *p, long *huge_kb, char *flags, size_t size)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int in = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            if (in) break;
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (in && sscanf(line, "AnonHugePages: %ld kB", huge_kb) == 1) {
            found |= 1;
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(flags, size, "%s", line + 8);
            found |= 2;
        }
    }
    fclose(f);
    return found == 3 ? 0 : -1;
}

/* Issue #16: huge pages at fault stalled 1 allocation in 10 by 10x. A block's pages are
 * faulted as 4 KiB pages (even under THP "always") and the range is advised afterwards
 * (VmFlags "hg"), for khugepaged to collapse in the background. */
Test(alloc, huge_pages_are_advised_after_the_touch)
{
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(mode, sizeof mode, f)) mode[0] = '\0';
        fclose(f);
    }
    if (!f || strstr(mode, "[never]")) cr_skip_test("no transparent huge pages here");
    int64_t n = (64 << 20) / 8; /* 64 MiB */
    double *x = prange_alloc(n, sizeof *x);
    cr_assert_not_null(x);
    long huge_kb = -1;
    char flags[512];
    cr_assert_eq(vma_of(x, &huge_kb, flags, sizeof flags), 0, "the block's mapping is in smaps");
    /* khugepaged may have collapsed a little (at most pages_to_scan per wake-up, 16 MiB by
     * default) between the touch and this read; faulted huge, all 64 MiB would be. */
    cr_assert_lt(huge_kb, 32 * 1024, "%ld KiB faulted as huge pages", huge_kb);
    cr_assert(strstr(flags, " hg") != NULL, "advised for khugepaged after the touch: VmFlags%s", flags);
    prange_free(x);
    prange_mem_opts o = {.struct_size = sizeof o, .flags = PRANGE_MEM_NO_HUGEPAGES};
    x = prange_alloc_opts(n, sizeof *x, &o);
    cr_assert_eq(vma_of(x, &huge_kb, flags, sizeof flags), 0);
    cr_assert(strstr(flags, " hg") == NULL && strstr(flags, " nh") == NULL, "no advice: VmFlags%s", flags);
    prange_free(x);
}
