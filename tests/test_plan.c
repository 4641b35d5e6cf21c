/* test_plan.c — scheduler decisions, checked without timing anything: a fixed fork-join
 * cost (PRANGE_FORK_NS) and synthetic hwloc topologies stand in for the machine. */
#include <criterion/criterion.h>
#include <hwloc.h>
#include <float.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "prange_sched.h"

/* Each Criterion test runs in its own process, so the environment set here is what the
 * library's one-time initialisation reads. */
static void fixed_machine(const char *synthetic)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    if (synthetic) setenv("HWLOC_SYNTHETIC", synthetic, 1);
}

Test(plan, small_serial_large_whole_budget)
{
    fixed_machine("pack:2 core:32 pu:2");
    prange_plan p;
    cr_assert_eq(prange_plan_for(100, NULL, &p), 0);
    cr_assert_eq(p.serial, 1);
    cr_assert_eq(p.threads, 1);
    cr_assert_str_eq(p.reason, "work below fork-join cost");
    cr_assert_eq(prange_plan_for(100000000, NULL, &p), 0);
    cr_assert_eq(p.serial, 0);
    cr_assert_eq(p.budget, 64, "2 sockets x 32 cores: budget %d", p.budget);
    cr_assert_eq(p.threads, 64);
    cr_assert_eq(p.schedule, PRANGE_SCHEDULE_STATIC);
    cr_assert_eq(p.chunk, (100000000 + 63) / 64);
    cr_assert_str_eq(p.reason, "parallel");
    cr_assert_eq(prange_num_threads(), 64);
}

Test(plan, fewer_threads_when_work_is_small)
{
    fixed_machine("pack:2 core:32 pu:2");
    prange_plan p;
    /* 10^4 x 0.5 ns = 5 us of work, 1 us per fork: at most 5 threads pay. */
    cr_assert_eq(prange_plan_for(10000, NULL, &p), 0);
    cr_assert_eq(p.serial, 0);
    cr_assert_eq(p.threads, 5);
    cr_assert_str_eq(p.reason, "threads limited by work");
    /* A cost hint changes the decision: 1000 x 20 ns = 20 us -> 20 threads. */
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 20};
    cr_assert_eq(prange_plan_for(1000, &o, &p), 0);
    cr_assert_eq(p.threads, 20);
    cr_assert_eq(p.work_ns, 20000);
    cr_assert_eq(p.fork_ns, 1000);
    /* Grain caps the team: 1000 iterations, grain 300 -> 3 threads. */
    o.grain = 300;
    cr_assert_eq(prange_plan_for(1000, &o, &p), 0);
    cr_assert_eq(p.threads, 3);
    cr_assert_str_eq(p.reason, "threads limited by grain");
    o.grain = 600;
    cr_assert_eq(prange_plan_for(1000, &o, &p), 0);
    cr_assert_eq(p.serial, 1);
    cr_assert_str_eq(p.reason, "fewer than 2 x grain iterations");
}

Test(plan, per_call_threads_and_flags)
{
    fixed_machine("pack:1 core:8 pu:1");
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .threads = 3};
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_eq(p.threads, 3);
    o.threads = 100; /* an upper bound: the budget still applies */
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_eq(p.threads, 8);
    o.threads = 1;
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_str_eq(p.reason, "budget is 1 thread");
    o = (prange_opts){.struct_size = sizeof(prange_opts), .flags = PRANGE_SERIAL};
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_str_eq(p.reason, "flag PRANGE_SERIAL");
    cr_assert_eq(prange_plan_for(0, NULL, &p), 0);
    cr_assert_str_eq(p.reason, "empty range");
    /* prange_set_num_threads sits between per-call options and the environment. */
    cr_assert_eq(prange_set_num_threads(5), 0);
    cr_assert_eq(prange_plan_for(100000000, NULL, &p), 0);
    cr_assert_eq(p.threads, 5);
    cr_assert_eq(prange_set_num_threads(0), 0);
    cr_assert_eq(prange_plan_for(100000000, NULL, &p), 0);
    cr_assert_eq(p.threads, 8);
}

Test(plan, schedules_and_chunks)
{
    fixed_machine("pack:1 core:4 pu:1");
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .schedule = PRANGE_SCHEDULE_DYNAMIC};
    cr_assert_eq(prange_plan_for(6400000, &o, &p), 0);
    cr_assert_eq(p.schedule, PRANGE_SCHEDULE_DYNAMIC);
    cr_assert_eq(p.chunk, 6400000 / (4 * 16));
    o.grain = 1000000;
    cr_assert_eq(prange_plan_for(6400000, &o, &p), 0);
    cr_assert_eq(p.chunk, 1000000);
    o = (prange_opts){.struct_size = sizeof(prange_opts), .schedule = PRANGE_SCHEDULE_GUIDED, .grain = 64};
    cr_assert_eq(prange_plan_for(6400000, &o, &p), 0);
    cr_assert_eq(p.schedule, PRANGE_SCHEDULE_GUIDED);
    cr_assert_eq(p.chunk, 64);
}

/* Lengths up to 2^64 - 1 (a loop over INT64_MIN .. INT64_MAX): the chunk of a 2-thread
 * static plan is 2^63, which an int64_t cannot hold; it saturates instead of wrapping to
 * INT64_MIN (PRANGE_VERBOSE=2 printed chunk=-9223372036854775808). */
Test(plan, full_range_chunk_saturates)
{
    fixed_machine("pack:1 core:2 pu:1");
    for (int s = PRANGE_SCHEDULE_STATIC; s <= PRANGE_SCHEDULE_GUIDED; s++)
        for (int t = 1; t <= 2; t++) {
            prange_opts o = {.struct_size = sizeof(prange_opts), .threads = t, .schedule = (prange_schedule)s, .cost_ns = 1};
            prange_plan p;
            prange__plan(UINT64_MAX, &o, NULL, &p);
            cr_assert_eq(p.n, INT64_MAX);
            cr_assert_eq(p.threads, t);
            cr_assert_gt(p.chunk, 0, "schedule %d, %d threads: chunk %lld", s, t, (long long)p.chunk);
            if (s == PRANGE_SCHEDULE_STATIC) cr_assert_eq(p.chunk, INT64_MAX, "saturated like n");
            char line[256];
            prange_plan_format(&p, line, sizeof line);
            cr_assert_null(strstr(line, "chunk=-"), "%s", line);
        }
}

/* A valid cost near DBL_MAX makes n * cost overflow: the work saturates at DBL_MAX (very
 * much work: parallel), where inf made every comparison false and the plan serial. */
Test(plan, huge_cost_saturates)
{
    fixed_machine("pack:1 core:4 pu:1");
    const double costs[] = {1e305, DBL_MAX};
    for (int k = 0; k < 2; k++) {
        prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = costs[k]};
        prange_plan p;
        cr_assert_eq(prange_plan_for(1000, &o, &p), 0);
        cr_assert_eq(p.serial, 0, "cost %g: %s", costs[k], p.reason);
        cr_assert_eq(p.threads, 4);
        cr_assert(isfinite(p.work_ns), "cost %g: work %g", costs[k], p.work_ns);
        cr_assert_eq(prange_threads_for(1000, costs[k]), 4);
    }
}

Test(plan, env_schedule_applies_to_auto_only)
{
    fixed_machine("pack:1 core:4 pu:1");
    setenv("PRANGE_SCHEDULE", "dynamic,500", 1);
    prange_plan p;
    cr_assert_eq(prange_plan_for(6400000, NULL, &p), 0);
    cr_assert_eq(p.schedule, PRANGE_SCHEDULE_DYNAMIC);
    cr_assert_eq(p.chunk, 500);
    prange_opts o = {.struct_size = sizeof(prange_opts), .schedule = PRANGE_SCHEDULE_STATIC};
    cr_assert_eq(prange_plan_for(6400000, &o, &p), 0);
    cr_assert_eq(p.schedule, PRANGE_SCHEDULE_STATIC);
}

Test(plan, env_serial_runs_everything_inline)
{
    fixed_machine(NULL);
    setenv("PRANGE_SERIAL", "1", 1);
    prange_plan p;
    cr_assert_eq(prange_plan_for(100000000, NULL, &p), 0);
    cr_assert_eq(p.serial, 1);
    cr_assert_str_eq(p.reason, "PRANGE_SERIAL=1");
}

Test(plan, env_num_threads_and_omp_num_threads)
{
    fixed_machine("pack:1 core:8 pu:2");
    setenv("OMP_NUM_THREADS", "6,2", 1);
    cr_assert_eq(prange_num_threads(), 6);
}

Test(plan, prange_num_threads_wins_over_omp)
{
    fixed_machine("pack:1 core:8 pu:2");
    setenv("OMP_NUM_THREADS", "6", 1);
    setenv("PRANGE_NUM_THREADS", "12", 1); /* > cores: hyper-threads on request */
    cr_assert_eq(prange_num_threads(), 12);
}

Test(plan, env_request_capped_by_hardware_threads)
{
    fixed_machine("pack:1 core:8 pu:2");
    setenv("PRANGE_NUM_THREADS", "1000", 1);
    cr_assert_eq(prange_num_threads(), 16);
}

Test(plan, threads_for_existing_openmp_code)
{
    fixed_machine("pack:1 core:8 pu:1");
    cr_assert_eq(prange_threads_for(100, 0.5), 1);
    cr_assert_eq(prange_threads_for(100000000, 1.0), 8);
    cr_assert_eq(prange_threads_for(1000, 2.0), 1); /* 1 + 2/2 us is not < 0.85 x 2 us */
    cr_assert_eq(prange_threads_for(1500, 2.0), 3);
    cr_assert_eq(prange_threads_for(-1, 1.0), 1);
    cr_assert_eq(prange_threads_for(1000, NAN), 1);
}

Test(plan, format_and_bad_arguments)
{
    fixed_machine(NULL);
    prange_plan p;
    cr_assert_eq(prange_plan_for(-1, NULL, &p), PRANGE_EINVAL);
    cr_assert_eq(prange_plan_for(1, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_plan_for(100, NULL, &p), 0);
    char line[256];
    int len = prange_plan_format(&p, line, sizeof line);
    cr_assert_gt(len, 0);
    cr_assert(strstr(line, "reason=work below fork-join cost") != NULL, "%s", line);
    cr_assert(strstr(line, "n=100 ") != NULL, "%s", line);
    cr_assert_eq(prange_plan_format(NULL, line, sizeof line), PRANGE_EINVAL);
    char tiny[4];
    cr_assert_eq(prange_plan_format(&p, tiny, sizeof tiny), len);
    cr_assert_eq(strlen(tiny), 3);
}

/* ---- budgets, topologies and quotas, through the pure functions ------------------ */

static prange__topo summarize(const char *synthetic, const char *bind_list)
{
    hwloc_topology_t t;
    cr_assert_eq(hwloc_topology_init(&t), 0);
    cr_assert_eq(hwloc_topology_set_synthetic(t, synthetic), 0);
    cr_assert_eq(hwloc_topology_load(t), 0);
    hwloc_bitmap_t set = NULL;
    if (bind_list) {
        set = hwloc_bitmap_alloc();
        hwloc_bitmap_list_sscanf(set, bind_list);
    }
    prange__topo out;
    cr_assert_eq(prange__topo_summarize(t, set, &out), 0);
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(t);
    return out;
}

Test(topology, two_sockets_hyperthreads)
{
    prange__topo t = summarize("pack:2 core:32 pu:2", NULL);
    cr_assert_eq(t.cores, 64);
    cr_assert_eq(t.pus, 128);
    cr_assert_eq(t.packages, 2);
    cr_assert_eq(prange__budget_from(t.cores, t.pus, 0, 0), 64, "hyper-threads only when asked");
    cr_assert_eq(prange__budget_from(t.cores, t.pus, 100, 0), 100);
    cr_assert_eq(prange__budget_from(t.cores, t.pus, 200, 0), 128);
}

Test(topology, four_numa_nodes)
{
    prange__topo t = summarize("pack:2 numa:2 core:8 pu:1", NULL);
    cr_assert_eq(t.numa_nodes, 4);
    cr_assert_eq(t.cores, 32);
    /* Bound to the first 12 PUs: nodes 0 and 1 only. */
    prange__topo b = summarize("pack:2 numa:2 core:8 pu:1", "0-11");
    cr_assert_eq(b.cores, 12);
    cr_assert_eq(b.numa_nodes, 2);
    cr_assert_str_eq(b.cpuset, "0-11");
}

Test(topology, taskset_restricted_cpuset)
{
    /* taskset -c 0-5 on 4 cores x 2 hyper-threads: PUs 0-5 are cores 0, 1, 2. */
    prange__topo t = summarize("pack:1 core:4 pu:2", "0-5");
    cr_assert_eq(t.pus, 6);
    cr_assert_eq(t.cores, 3);
    cr_assert_eq(prange__budget_from(t.cores, t.pus, 0, 0), 3);
}

Test(topology, quota_caps_the_budget)
{
    cr_assert_eq(prange__budget_from(64, 128, 0, 1.5), 2);
    cr_assert_eq(prange__budget_from(64, 128, 0, 6), 6);
    cr_assert_eq(prange__budget_from(64, 128, 0, 0.5), 1, "0.5 CPU gives 1 thread, not 0");
    cr_assert_eq(prange__budget_from(64, 128, 32, 6), 6);
    cr_assert_eq(prange__budget_from(4, 4, 0, 100), 4);
    cr_assert_eq(prange__budget_from(0, 0, 0, 0), 1);
}

Test(topology, affinity_fallback)
{
    prange__topo t;
    prange__topo_from_affinity(&t, "test");
    cr_assert_geq(t.cores, 1);
    cr_assert_eq(t.from_hwloc, 0);
    cr_assert_str_eq(t.why, "test");
    cr_assert_neq(t.cpuset[0], '\0');
}

Test(topology, garbage_hwloc_xml_falls_back)
{
    char path[] = "/tmp/prange-junk-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "not xml at all", 14), 14);
    close(fd);
    setenv("HWLOC_XMLFILE", path, 1);
    setenv("HWLOC_THISSYSTEM", "1", 1);
    /* hwloc's own XML parser: with the libxml2 plugin (libhwloc-plugins installed), hwloc
     * itself falls back to discovering this machine, and libprange's fallback never runs. */
    setenv("HWLOC_LIBXML_IMPORT", "0", 1);
    prange_plan p;
    cr_assert_eq(prange_plan_for(1000, NULL, &p), 0);
    unlink(path);
    /* hwloc refuses the file: the affinity mask stands in, and says why. */
    const prange__state *st = prange__state_get();
    cr_assert_eq(st->topo.from_hwloc, 0, "the junk XML was accepted as a topology");
    cr_assert(strstr(st->topo.why, "hwloc_topology_load failed") != NULL, "%s", st->topo.why);
    cr_assert_geq(st->topo.pus, 1);
    cr_assert_geq(prange_num_threads(), 1);
}

/* A topology that cannot load: the affinity mask stands in, loops still run. */
static void fill_body(void *c, int64_t b, int64_t e)
{
    for (int64_t i = b; i < e; i++) ((int64_t *)c)[i] = i;
}

Test(topology, failed_hwloc_load_uses_affinity_mask)
{
    setenv("HWLOC_COMPONENTS", "stop", 1); /* no discovery component: load fails */
    const prange__state *st = prange__state_get();
    cr_assert_eq(st->topo.from_hwloc, 0);
    cr_assert(strstr(st->topo.why, "hwloc_topology_load failed") != NULL, "%s", st->topo.why);
    cr_assert_geq(prange_num_threads(), 1);
    int64_t out[100000];
    prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    cr_assert_eq(prange_for_opts(0, 100000, fill_body, out, &o), 0);
    for (int64_t i = 0; i < 100000; i++) cr_assert_eq(out[i], i);
}

/* ---- binding maps on synthetic machines ------------------------------------------------ */

static hwloc_topology_t synthetic(const char *desc)
{
    hwloc_topology_t t;
    cr_assert_eq(hwloc_topology_init(&t), 0);
    cr_assert_eq(hwloc_topology_set_synthetic(t, desc), 0);
    cr_assert_eq(hwloc_topology_load(t), 0);
    return t;
}

static void expect_bind(hwloc_topology_t t, int mode, int tid, const char *want)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    cr_assert_eq(prange__bind_target(t, NULL, mode, tid, set), 0);
    char got[128];
    hwloc_bitmap_list_snprintf(got, sizeof got, set);
    cr_assert_str_eq(got, want, "mode %d worker %d: got %s, want %s", mode, tid, got, want);
    hwloc_bitmap_free(set);
}

Test(binding, compact_cores_then_wrap)
{
    /* 2 NUMA nodes x 4 cores x 2 PUs: core k owns PUs 2k, 2k+1. */
    hwloc_topology_t t = synthetic("pack:2 numa:1 core:4 pu:2");
    expect_bind(t, 1, 0, "0-1");
    expect_bind(t, 1, 3, "6-7");
    expect_bind(t, 1, 4, "8-9"); /* the second NUMA node starts at worker 4 */
    expect_bind(t, 1, 7, "14-15");
    expect_bind(t, 1, 8, "0-1"); /* more workers than cores: wrap around */
    expect_bind(t, 2, 0, "0-7");
    expect_bind(t, 2, 5, "8-15");
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    cr_assert_eq(prange__bind_target(t, NULL, 0, 0, set), -1, "mode none binds nothing");
    hwloc_bitmap_free(set);
    hwloc_topology_destroy(t);
}

Test(binding, four_numa_nodes_two_sockets)
{
    hwloc_topology_t t = synthetic("pack:2 numa:2 core:16 pu:2");
    /* 64 cores: workers 0-15 on node 0, 16-31 node 1, 32-47 node 2, 48-63 node 3. */
    expect_bind(t, 2, 15, "0-31");
    expect_bind(t, 2, 16, "32-63");
    expect_bind(t, 2, 40, "64-95");
    expect_bind(t, 2, 63, "96-127");
    expect_bind(t, 1, 63, "126-127");
    hwloc_topology_destroy(t);
}

/* ---- learned cost ----------------------------------------------------------------------- */

/* Spins `per` ns of the thread's CPU time per iteration: what the first call's timed
 * slice reads exactly (it reads the CPU clock), and a preempted spin still does its work
 * (spinning on the wall clock, a preemption made a slice look cheaper than the body). */
static void spin_body(void *c, int64_t b, int64_t e)
{
    double per = *(const double *)c;
    uint64_t until = prange__cpu_ns() + (uint64_t)(per * (double)(e - b));
    while (prange__cpu_ns() < until) {}
}

Test(learning, converges_on_a_known_cost)
{
    setenv("PRANGE_FORK_NS", "2000", 1);
    double per = 200.0; /* ns per iteration */
    prange_plan p;
    cr_assert_eq(prange_plan_for_body(3000, spin_body, NULL, &p), 0);
    cr_assert_eq(p.cost_ns, 0.5, "before any call: the default cost");
    for (int i = 0; i < 4; i++) cr_assert_eq(prange_for(0, 3000, spin_body, &per), 0);
    cr_assert_eq(prange_plan_for_body(3000, spin_body, NULL, &p), 0);
    /* Timed shares of parallel calls read the wall clock: other test processes sharing the
     * 2 cores can stretch them, so the bound is an order of magnitude, not a tight one. */
    cr_assert(p.cost_ns > per * 0.7 && p.cost_ns < per * 5.0, "learned %.1f ns for a %.0f ns body", p.cost_ns, per);
    /* 600 us of work runs in parallel, unless a parallel call lost to it: on a loaded
     * machine (or under valgrind) a worker that waited for a core makes the body back
     * off, or a window that closed before any call ran alone asks for two calls alone
     * (test_online.c). */
    cr_assert(p.serial == 0 || p.reason == prange__why_backoff || p.reason == prange__why_alone,
              "600 us of work runs in parallel: %s", p.reason);
    /* Another size class has not been learned; the plan query without a body neither. */
    cr_assert_eq(prange_plan_for(3000, NULL, &p), 0);
    cr_assert_eq(p.cost_ns, 0.5);
    /* A hint always wins over what was learned. */
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1.0};
    cr_assert_eq(prange_plan_for_body(3000, spin_body, &o, &p), 0);
    cr_assert_eq(p.cost_ns, 1.0);
}

/* opts.key: one trampoline body running two loops of different costs learns each under
 * its own key, not one mixed cost under the shared body pointer. */
static int key_cheap, key_dear;

Test(learning, key_overrides_the_body_pointer)
{
    setenv("PRANGE_FORK_NS", "2000", 1);
    double cheap = 1.0, dear = 200.0;
    prange_opts oc = PRANGE_OPTS_INIT, od = PRANGE_OPTS_INIT;
    oc.key = &key_cheap;
    od.key = &key_dear;
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(prange_for_opts(0, 3000, spin_body, &dear, &od), 0);
        cr_assert_eq(prange_for_opts(0, 3000, spin_body, &cheap, &oc), 0);
    }
    prange_plan pd, pc, pb;
    cr_assert_eq(prange_plan_for_body(3000, spin_body, &od, &pd), 0);
    cr_assert_eq(prange_plan_for_body(3000, spin_body, &oc, &pc), 0);
    cr_assert_eq(prange_plan_for_body(3000, spin_body, NULL, &pb), 0);
    cr_assert(pd.cost_ns > 200.0 * 0.7 && pd.cost_ns < 200.0 * 5.0, "dear key learned %.1f ns", pd.cost_ns);
    cr_assert(pc.cost_ns < 50.0, "cheap key learned %.1f ns", pc.cost_ns);
    cr_assert_eq(pb.cost_ns, 0.5, "nothing was learned under the body pointer itself");
}

/* ---- tuning cache ---------------------------------------------------------------------- */

/* Point the cache at a fresh directory; fill `path` with the cache file's name there. */
static void temp_cache(char *dir, char *path, size_t size)
{
    cr_assert_not_null(mkdtemp(dir));
    setenv("XDG_CACHE_HOME", dir, 1);
    cr_assert_eq(prange__tuning_path(path, size), 0);
    cr_assert(strstr(path, dir) == path);
}

static void remove_dir(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(calibration, cache_is_written_and_read_back)
{
    char dir[] = "/tmp/prange-cache-XXXXXX", path[512];
    temp_cache(dir, path, sizeof path);
    cr_assert_eq(prange__calibrate(NULL, NULL), 0);
    /* Keep the fingerprint, replace the figures: the process must use the file's. */
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char fp[512] = {0}, line[512];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "fingerprint ", 12) == 0) snprintf(fp, sizeof fp, "%s", line);
    fclose(f);
    cr_assert_neq(fp[0], '\0');
    f = fopen(path, "w");
    fprintf(f, "%sfork 2 123456\nfork 64 234567\n", fp);
    fclose(f);
    cr_assert_eq(prange__fork_ensure(), 1, "the first figure is made on demand");
    cr_assert_eq(prange__fork_ns(2, NULL), 123456);
    cr_assert_eq(prange__fork_ns(3, NULL), 234567, "a team of 3 uses the next measured size up");
    cr_assert_str_eq(prange__fork_source(), "tuning cache");
    remove_dir(dir);
}

Test(calibration, foreign_cache_is_ignored)
{
    char dir[] = "/tmp/prange-cache-XXXXXX", path[512];
    temp_cache(dir, path, sizeof path);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/libprange", dir);
    mkdir(sub, 0755);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "fingerprint cores=999 pus=999 numa=9 cpuset=0-998 budget=999\nfork 2 123456\n");
    fclose(f);
    prange__fork_ensure();
    double ns = prange__fork_ns(2, NULL);
    cr_assert_neq(ns, 123456, "a cache from another machine must not be used");
    cr_assert_str_eq(prange__fork_source(), "measured");
    remove_dir(dir);
}
