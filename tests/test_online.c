/* test_online.c — the figures the scheduler learns while the program runs: robust windows,
 * the fork-join figure following samples and probes, learned costs that ignore outliers,
 * and first calls that time a slice before deciding. Decisions and counts only: the
 * clock the probes read is a fake where a test needs one. */
#include <criterion/criterion.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "prange_sched.h"

/* ---- the window ----------------------------------------------------------------------- */

Test(window, first_samples_use_the_lower_median)
{
    static prange__window w;
    cr_assert_eq(prange__window_get(&w), 0, "empty: 0");
    cr_assert_eq(prange__window_add(&w, 900), 900, "one sample is used as is");
    cr_assert_eq(prange__window_add(&w, 300), 300, "of two, the smaller (a cold first call)");
    cr_assert_eq(prange__window_add(&w, 500), 500, "of three, the middle");
    cr_assert_eq(prange__window_count(&w), 3);
}

Test(window, one_outlier_moves_nothing_a_lasting_change_shows_within_5)
{
    static prange__window w;
    prange__window_seed(&w, 500);
    cr_assert_eq(prange__window_add(&w, 4e6), 500, "a 4 ms hiccup");
    prange__window_seed(&w, 500);
    for (int i = 0; i < 4; i++) cr_assert_eq(prange__window_add(&w, 8e6), 500, "busy sample %d of 4: not yet", i + 1);
    cr_assert_eq(prange__window_add(&w, 8e6), 8e6, "the 5th busy sample of 8 shows it");
    for (int i = 0; i < 4; i++) prange__window_add(&w, 450);
    cr_assert_eq(prange__window_add(&w, 450), 450, "quiet again after 5 quiet samples");
}

/* ---- learned cost per iteration -------------------------------------------------------- */

static void some_body(void *c, int64_t b, int64_t e) { (void)c; (void)b; (void)e; }

Test(learning, one_hiccup_does_not_capture_the_cost)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2); /* a budget of 1 (one CPU allowed) plans inline, costless */
    const void *key = (const void *)some_body;
    uint64_t n = 16384;
    for (int i = 0; i < 8; i++) prange__cost_record(key, n, n, 20.0 * (double)n); /* 20 ns each */
    prange__cost_record(key, n, n, 4e6); /* one call hit a 4 ms hiccup */
    cr_assert_eq(prange__cost_lookup(key, n), 20.0);
    prange_plan p;
    prange_opts none = PRANGE_OPTS_INIT;
    prange__plan(n, &none, key, &p);
    cr_assert_eq(p.cost_ns, 20.0, "the plan uses the learned cost, not the outlier");
}

Test(learning, every_size_class_of_a_body_is_kept)
{
    const void *key = (const void *)some_body;
    /* Size classes are powers of 4: 4^0 .. 4^15. Each keeps its own cost. */
    for (int c = 0; c < 16; c++) prange__cost_record(key, UINT64_C(1) << (2 * c), 1, 1.0 + c);
    for (int c = 0; c < 16; c++)
        cr_assert_eq(prange__cost_lookup(key, UINT64_C(1) << (2 * c)), 1.0 + c, "size class %d was not kept", c);
}

static void tile_a(void *c, int64_t ib, int64_t ie, int64_t jb, int64_t je) { (void)c; (void)ib; (void)ie; (void)jb; (void)je; }
static void tile_b(void *c, int64_t ib, int64_t ie, int64_t jb, int64_t je) { (void)c; (void)ib; (void)ie; (void)jb; (void)je; }
static void tile_c(void *c, int64_t ib, int64_t ie, int64_t jb, int64_t je) { (void)c; (void)ib; (void)ie; (void)jb; (void)je; }

Test(learning, each_2d_body_learns_its_own_cost)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    cr_assert_eq(prange_for_2d(0, 640, 0, 640, 64, 64, tile_a, NULL, NULL), 0);
    cr_assert_eq(prange_for_2d(0, 640, 0, 640, 64, 64, tile_b, NULL, NULL), 0);
    /* 100 tiles: the cost is learned per tile, under the user's body. */
    cr_assert_gt(prange__cost_lookup((const void *)tile_a, 100), 0, "tile_a learned nothing");
    cr_assert_gt(prange__cost_lookup((const void *)tile_b, 100), 0, "tile_b learned nothing");
    /* An explicit opts->key wins over the tile body. */
    static const char key_c = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.key = &key_c;
    cr_assert_eq(prange_for_2d(0, 640, 0, 640, 64, 64, tile_c, NULL, &o), 0);
    cr_assert_gt(prange__cost_lookup(&key_c, 100), 0, "the user's key learned nothing");
    cr_assert_eq(prange__cost_lookup((const void *)tile_c, 100), 0, "learned under the body despite a key");
}

/* ---- the fork-join figure --------------------------------------------------------------- */

static atomic_int probes;
static double fake_quiet(int t) { (void)t; atomic_fetch_add(&probes, 1); return 600; }
static double fake_busy(int t) { (void)t; atomic_fetch_add(&probes, 1); return 8e6; }

typedef struct {
    atomic_int team;
} team_ctx;

/* Spin for `ns` of wall time (a body or a probe that takes that long). */
static void spin_wall_ns(double ns)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((double)(t.tv_sec - t0.tv_sec) * 1e9 + (double)(t.tv_nsec - t0.tv_nsec) < ns);
}

static void team_body(void *c, int64_t b, int64_t e)
{
    (void)b; (void)e;
    team_ctx *t = c;
    int k = prange_num_threads(), cur = atomic_load(&t->team);
    while (k > cur && !atomic_compare_exchange_weak(&t->team, &cur, k)) {}
}

static int team_of_call(int64_t n, double cost_ns)
{
    team_ctx c = {0};
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = cost_ns};
    cr_assert_eq(prange_for_opts(0, n, team_body, &c, &o), 0);
    return atomic_load(&c.team);
}

Test(fork_figure, busy_samples_raise_it_a_hiccup_does_not)
{
    prange_set_num_threads(2);
    prange__fork_ensure();
    double start = prange__fork_ns(2, NULL);
    prange__fork_observe(2, 4e6);
    cr_assert_eq(prange__fork_ns(2, NULL), start, "one 4 ms hiccup changes no figure");
    for (int i = 0; i < 5; i++) prange__fork_observe(2, 8e6);
    cr_assert_eq(prange__fork_ns(2, NULL), 8e6, "5 busy samples of 8 ms: the machine is busy");
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1};
    cr_assert_eq(prange_plan_for(100000, &o, &p), 0);
    cr_assert_eq(p.serial, 1, "100 us of work does not pay 8 ms of fork-join");
}

Test(fork_figure, a_probe_finds_the_machine_quiet_again)
{
    prange_set_num_threads(2);
    prange__fork_ensure(); /* the first figure */
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 8e6);
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1};
    cr_assert_eq(prange_plan_for(100000, &o, &p), 0);
    cr_assert_eq(p.serial, 1);
    cr_assert_eq(atomic_load(&probes), 0, "a plan query probes nothing");
    prange__fork_set_measure_hook(fake_quiet);
    /* The loop itself probes: empty regions now cost 600 ns, so it runs in parallel. (What
     * the figure is after it depends on this call's own fork-join, which confirms or
     * undoes the probe: a_lucky_quiet_probe_is_undone_by_the_next_stall.) */
    cr_assert_eq(team_of_call(100000, 1), 2);
    cr_assert_eq(atomic_load(&probes), 1);
}

/* A quiet probe under load may have caught the machine between two time slices: the first
 * sampled call that waits for a core brings the busy figure back at once (not after 5
 * stalled calls of every size); one that does not confirms the probe, and a later hiccup
 * moves nothing. */
Test(fork_figure, a_lucky_quiet_probe_is_undone_by_the_next_stall)
{
    prange_set_num_threads(2);
    prange__fork_ensure();
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 8e6);
    prange__fork_set_measure_hook(fake_quiet);
    cr_assert_eq(prange__fork_probe(2, NULL), 1, "the quiet probe lowers the figure");
    cr_assert_eq(prange__fork_ns(2, NULL), 600);
    prange__fork_observe(2, 5e6);
    cr_assert_eq(prange__fork_ns(2, NULL), 8e6, "the first sampled call waited 5 ms: busy again");
    /* Past the probe gap: 4 ms after one probe, or 32 x what the probe took (under
     * valgrind on a busy machine, more than 50 ms). */
    int probed = 0;
    for (int i = 0; i < 500 && !probed; i++) {
        usleep(10000);
        probed = prange__fork_probe(2, NULL);
    }
    cr_assert_eq(probed, 1, "no second probe within 5 s");
    cr_assert_eq(atomic_load(&probes), 2);
    prange__fork_observe(2, 900);
    prange__fork_observe(2, 5e6);
    cr_assert_eq(prange__fork_ns(2, NULL), 600, "confirmed by a 900 ns call, then one hiccup");
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1};
    cr_assert_eq(prange_plan_for(100000, &o, &p), 0);
    cr_assert_eq(p.serial, 0);
}

Test(fork_figure, probes_back_off_while_the_machine_stays_busy)
{
    prange_set_num_threads(2);
    prange__fork_ensure();
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 8e6);
    prange__fork_set_measure_hook(fake_busy);
    /* 50 calls in a row: the gap doubles from 2 ms after each busy probe, so only a few
     * of them probe (probing every call would take 2 ms + 4 ms + ... = seconds). */
    for (int i = 0; i < 50; i++) cr_assert_eq(team_of_call(100000, 1), 1, "call %d ran in parallel", i);
    int k = atomic_load(&probes);
    cr_assert_geq(k, 1, "the first call probes");
    cr_assert_lt(k, 10, "%d probes in 50 calls: no back-off", k);
    cr_assert_eq(prange__fork_ns(2, NULL), 8e6);
}

Test(fork_figure, fixed_figure_is_never_changed)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange__fork_observe(2, 8e6);
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 8e6);
    cr_assert_eq(prange__fork_ns(2, NULL), 1000);
    prange__fork_set_measure_hook(fake_busy);
    cr_assert_eq(prange__fork_probe(2, NULL), 0);
    cr_assert_eq(atomic_load(&probes), 0);
}

/* ---- first calls ------------------------------------------------------------------------- */

/* About 200 us of spinning per iteration, on the thread's CPU clock. */
static void slow_body(void *c, int64_t b, int64_t e)
{
    team_body(c, b, e);
    for (int64_t i = b; i < e; i++) {
        struct timespec t0, t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 200000);
    }
}

Test(first_call, expensive_iterations_without_a_hint_run_in_parallel)
{
    setenv("PRANGE_FORK_NS", "20000", 1);
    prange_set_num_threads(2);
    prange_plan p;
    cr_assert_eq(prange_plan_for_body(64, slow_body, NULL, &p), 0);
    cr_assert_eq(p.serial, 1, "nothing known yet: the default cost says serial");
    team_ctx c = {0};
    cr_assert_eq(prange_for(0, 64, slow_body, &c), 0);
    cr_assert_eq(atomic_load(&c.team), 2, "64 x 200 us ran on one thread in its first call");
    cr_assert_eq(prange_plan_for_body(64, slow_body, NULL, &p), 0);
    cr_assert_eq(p.serial, 0, "the next call knows the cost");
}

/* Records the first range a body call received on a team of 1 (the inline slice). */
typedef struct {
    team_ctx team;
    atomic_llong slice_end;
} slice_ctx;

static void slice_body(void *p, int64_t b, int64_t e)
{
    slice_ctx *c = p;
    if (prange_num_threads() == 1) {
        long long cur = atomic_load(&c->slice_end);
        while (e > cur && !atomic_compare_exchange_weak(&c->slice_end, &cur, e)) {}
    }
    slow_body(&c->team, b, e);
}

Test(first_call, the_slice_shrinks_with_the_team)
{
    /* 8 threads (2 cores: oversubscribed, the decisions are what is checked): slices of
     * n / (32 x 7) = 2 of 448 iterations, two of them, inline; the rest on the team.
     * Slices of n / 32 would keep the caller alone for 1/16 of the loop while 7 wait. */
    setenv("PRANGE_FORK_NS", "20000", 1);
    prange_set_num_threads(8);
    slice_ctx c = {0};
    cr_assert_eq(prange_for(0, 448, slice_body, &c), 0);
    cr_assert_eq(atomic_load(&c.slice_end), 4, "the inline slices ended at %lld", (long long)atomic_load(&c.slice_end));
    cr_assert_geq(atomic_load(&c.team.team), 2, "the rest ran on a team");
}

typedef struct {
    unsigned char seen[5000];
    team_ctx team;
} count_ctx;

static void count_body(void *p, int64_t b, int64_t e)
{
    count_ctx *c = p;
    team_body(&c->team, b, e);
    for (int64_t i = b; i < e; i++) c->seen[i]++;
}

Test(first_call, cheap_iterations_stay_inline_and_run_once)
{
    if (UNDER_VALGRIND) cr_skip_test("under valgrind a cheap iteration costs what an expensive one does");
    /* 100 us: the slice decides only from 25 us of CPU time, far above what 156 cheap
     * iterations take even under ASan (~2-5 us; with 20 us, 1 run in 3 went parallel). */
    setenv("PRANGE_FORK_NS", "100000", 1);
    prange_set_num_threads(2);
    static count_ctx c;
    memset(&c, 0, sizeof c); /* no page faults in the timed slice */
    cr_assert_eq(prange_for(0, 5000, count_body, &c), 0);
    for (int i = 0; i < 5000; i++) cr_assert_eq(c.seen[i], 1, "index %d ran %d times", i, c.seen[i]);
    cr_assert_eq(atomic_load(&c.team.team), 1, "5000 cheap iterations do not pay 100 us of fork-join");
}

/* The first body call of a loop burns 2 ms of CPU (an interrupt, a descheduled virtual
 * CPU or a cold page charged to the slice), every later one is cheap: the second slice
 * reads cheap, and the loop stays inline. With one slice deciding, it went parallel.
 * Fork-join at 4 ms: a slice decides from 1 ms, below the 2 ms hiccup and far above 156
 * cheap iterations even under valgrind on a loaded machine (at 1 ms, so 250 us, they read
 * dear once in 4 valgrind runs next to a full CI run). */
typedef struct {
    count_ctx count;
    atomic_int calls;
} hiccup_ctx;

static void hiccup_once_body(void *p, int64_t b, int64_t e)
{
    hiccup_ctx *h = p;
    if (atomic_fetch_add(&h->calls, 1) == 0) {
        struct timespec t0, t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1e9 + (t.tv_nsec - t0.tv_nsec) < 2e6);
    }
    count_body(&h->count, b, e);
}

Test(first_call, one_dear_slice_is_confirmed_before_forking)
{
    setenv("PRANGE_FORK_NS", "4000000", 1);
    prange_set_num_threads(2);
    static hiccup_ctx h;
    memset(&h, 0, sizeof h);
    cr_assert_eq(prange_for(0, 5000, hiccup_once_body, &h), 0);
    for (int i = 0; i < 5000; i++) cr_assert_eq(h.count.seen[i], 1, "index %d ran %d times", i, h.count.seen[i]);
    cr_assert_eq(atomic_load(&h.count.team.team), 1, "one dear slice sent 5000 cheap iterations to the team");
    cr_assert_geq(atomic_load(&h.calls), 3, "the slice, its confirmation and the rest: %d calls",
                  atomic_load(&h.calls));
}

/* An early-stop loop whose first call times a slice: the slice is whole chunks (here 2 of
 * 64 one-iteration chunks), so a stop inside it is the lowest stop, and a stop in the rest
 * is reported at its own index, as a serial loop reports it. Each case is a first call:
 * its own opts->key, nothing learned under it yet. */
typedef struct {
    team_ctx team;
    atomic_int calls;
    int64_t at[2];
    int value[2];
} until_ctx;

static int slow_until(void *p, int64_t b, int64_t e)
{
    until_ctx *c = p;
    atomic_fetch_add(&c->calls, 1);
    slow_body(&c->team, b, e);
    for (int k = 0; k < 2; k++)
        if (c->at[k] >= b && c->at[k] < e) return c->value[k];
    return 0;
}

Test(first_call, early_stop_slice_reports_the_lowest_stop)
{
    setenv("PRANGE_FORK_NS", "20000", 1);
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(2);
    static const char key_in_slice = 0, key_after = 0, key_serial = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.label = "online.until";
    prange_plan p;
    o.key = &key_in_slice;
    cr_assert_eq(prange_plan_for_body(64, NULL, &o, &p), 0);
    cr_assert_eq(p.serial, 1, "nothing known yet: the default cost says serial");

    /* A stop inside the slice (chunk 1) beats a later one (40): the rest never runs. */
    until_ctx c = {.at = {1, 40}, .value = {-5, 7}};
    prange_stop st;
    t_capture cap;
    char buf[16384];
    cr_assert_eq(t_capture_start(&cap), 0);
    int rc = prange_for_until(0, 64, slow_until, &c, &o, &st);
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_eq(rc, 0);
    cr_assert(st.value == -5 && st.index == 1, "stop {%d, %lld}, want {-5, 1}", st.value, (long long)st.index);
    cr_assert_eq(atomic_load(&c.calls), 2, "chunks 0 and 1 (the slice) only; %d ran", atomic_load(&c.calls));
    cr_assert_null(strstr(buf, "after a timed first slice"), "the rest ran: %s", buf);

    /* Stops after the slice, at 10 and 50: the lowest, 10, at its own index (the slice and
     * its confirmation ran chunks 0-3, so the rest's chunk 6 is the loop's chunk 10). The
     * rest runs on the team with the measured cost. */
    o.key = &key_after;
    until_ctx d = {.at = {50, 10}, .value = {4, 3}};
    cr_assert_eq(t_capture_start(&cap), 0);
    rc = prange_for_until(0, 64, slow_until, &d, &o, &st);
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_eq(rc, 0);
    cr_assert(st.value == 3 && st.index == 10, "stop {%d, %lld}, want {3, 10}", st.value, (long long)st.index);
    cr_assert_eq(atomic_load(&d.team.team), 2, "64 x 200 us ran on one thread in its first call");
    cr_assert_not_null(strstr(buf, "prange: loop (after a timed first slice) online.until: "),
                       "no labelled first-slice line in: %s", buf);

    /* The same outcome as a serial loop, which times no slice. */
    o.key = &key_serial;
    o.flags = PRANGE_SERIAL;
    until_ctx e = {.at = {50, 10}, .value = {4, 3}};
    prange_stop serial;
    cr_assert_eq(prange_for_until(0, 64, slow_until, &e, &o, &serial), 0);
    cr_assert(serial.value == st.value && serial.index == st.index, "serial {%d, %lld}", serial.value,
              (long long)serial.index);
}

/* PRANGE_VERBOSE=2 names the online lines by the call's label: the fork-join probe a loop
 * makes, and its plan. */
Test(fork_figure, the_probe_line_names_the_call)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(2);
    prange__fork_ensure();
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 8e6);
    prange__fork_set_measure_hook(fake_quiet);
    team_ctx c = {0};
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1;
    o.label = "online.probe";
    t_capture cap;
    char buf[16384];
    cr_assert_eq(t_capture_start(&cap), 0);
    int rc = prange_for_opts(0, 100000, team_body, &c, &o);
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_eq(rc, 0);
    cr_assert_eq(atomic_load(&probes), 1);
    cr_assert_not_null(strstr(buf, "prange: fork-join probe online.probe: 2 threads 600 ns"), "%s", buf);
    cr_assert_not_null(strstr(buf, "prange: loop online.probe: "), "%s", buf);
}

/* ---- plans: truthful and without side effects -------------------------------------------- */

static int thread_count(void)
{
    int n = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

Test(plans, a_query_starts_nothing)
{
    setenv("PRANGE_VERBOSE", "1", 1); /* prints the configuration, plans included */
    int before = thread_count();
    prange_set_num_threads(2);
    cr_assert_eq(prange_num_threads(), 2);
    prange_plan p;
    /* 100 us per iteration (as far as the model knows): parallel whatever the figure. */
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e5};
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_eq(p.serial, 0, "a large loop plans parallel before any loop ran");
    cr_assert_eq(p.threads, 2);
    cr_assert_eq(thread_count(), before, "a plan query or a getter started threads");
    team_ctx c = {0};
    cr_assert_eq(prange_for_opts(0, 1000000, team_body, &c, &o), 0);
    cr_assert_eq(atomic_load(&c.team), 2, "the loop runs what the plan said");
    cr_assert_gt(thread_count(), before, "the loop itself starts the workers");
}

Test(plans, max_active_levels_zero_is_serial)
{
    prange_set_num_threads(2);
    omp_set_max_active_levels(0);
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 10};
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_eq(p.serial, 1);
    cr_assert_str_eq(p.reason, "OMP_MAX_ACTIVE_LEVELS=0");
    team_ctx c = {0};
    cr_assert_eq(prange_for_opts(0, 1000000, team_body, &c, &o), 0);
    cr_assert_eq(atomic_load(&c.team), 1);
}

/* The OMP_* limits are read by the OpenMP runtime when it loads: the check runs in a child
 * process of this test program started with them. */
Test(plans, child_under_omp_thread_limit)
{
    const char *want = getenv("PRANGE_TEST_THREAD_LIMIT");
    if (!want) cr_skip_test("run by plans/omp_thread_limit_is_honoured");
    prange_set_num_threads(4);
    prange_plan p;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e5};
    cr_assert_eq(prange_plan_for(100000000, &o, &p), 0);
    cr_assert_eq(p.threads, atoi(want) > 1 ? atoi(want) : 1);
    team_ctx c = {0};
    cr_assert_eq(prange_for_opts(0, 1000000, team_body, &c, &o), 0);
    cr_assert_eq(atomic_load(&c.team), p.threads, "plan %d threads, bodies saw %d", p.threads, atomic_load(&c.team));
}

/* Run one test of this program in a child process with a clean environment (Criterion's
 * own variables would make the child a worker of this runner) plus `env`. */
static int run_child(const char *test, char *const env[])
{
    /* The child's environment is `env`, plus what the sanitizer runs need: without
     * TSAN_OPTIONS' ignore_noninstrumented_modules and the Archer tool, TSan reported a
     * race inside libomp's own start-up (1 child in many, tests/run --tsan). */
    static const char *const keep[] = {"TSAN_OPTIONS", "OMP_TOOL_LIBRARIES", "ASAN_OPTIONS", "UBSAN_OPTIONS"};
    char *all[16], buf[4][512];
    int k = 0;
    for (; env[k] && k < 8; k++) all[k] = env[k];
    for (int i = 0; i < 4; i++) {
        const char *v = getenv(keep[i]);
        if (v && snprintf(buf[i], sizeof buf[i], "%s=%s", keep[i], v) < (int)sizeof buf[i]) all[k++] = buf[i];
    }
    all[k] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execle("/proc/self/exe", "test_online", "--filter", test, "--jobs", "1", (char *)NULL, all);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (rc) fprintf(stderr, "child %s (%s %s): status %d\n", test, env[0], env[1] ? env[1] : "", rc);
    return rc;
}

Test(plans, omp_thread_limit_is_honoured)
{
    if (UNDER_VALGRIND) cr_skip_test("re-executing itself under valgrind fails (mmap in UME)");
    char *three[] = {"OMP_THREAD_LIMIT=3", "PRANGE_TEST_THREAD_LIMIT=3", NULL};
    char *one[] = {"OMP_THREAD_LIMIT=1", "PRANGE_TEST_THREAD_LIMIT=1", NULL};
    cr_assert_eq(run_child("plans/child_under_omp_thread_limit", three), 0, "OMP_THREAD_LIMIT=3: plan and team disagree");
    cr_assert_eq(run_child("plans/child_under_omp_thread_limit", one), 0, "OMP_THREAD_LIMIT=1: plan and team disagree");
}

/* What ran: the team bodies saw and the workers that ran chunks. */
typedef struct {
    atomic_int team, bad;
    atomic_uint used; /* bit per worker index < 32 */
} ran_ctx;

static void ran_body(void *p, int64_t b, int64_t e)
{
    (void)b; (void)e;
    ran_ctx *c = p;
    int k = prange_num_threads(), tid = prange_thread_id(), cur = atomic_load(&c->team);
    while (k > cur && !atomic_compare_exchange_weak(&c->team, &cur, k)) {}
    if (tid < 0 || tid >= k) atomic_store(&c->bad, 1);
    if (tid < 32) atomic_fetch_or(&c->used, 1u << tid);
}

static int bits(unsigned x) { return __builtin_popcount(x); }

/* 2500 random calls: the plan queried just before each call is what runs. Unhinted cases
 * run once first, so that their (body, size class) has a learned cost (a first call may
 * time a slice and plan again: a run-time decision, reported under PRANGE_VERBOSE=2). */
Test(plans, child_random_plans_match)
{
    if (!getenv("PRANGE_TEST_RANDOM")) cr_skip_test("run by plans/random_plans_match_what_runs");
    uint64_t seed = (uint64_t)atoll(getenv("PRANGE_TEST_RANDOM"));
    for (int k = 0; k < 2500; k++) {
        int64_t n = (int64_t)(t_rand(&seed) % 7 == 0 ? t_rand(&seed) % 3 : pow(10, 6.0 * (double)(t_rand(&seed) % 1000) / 1000));
        prange_opts o = PRANGE_OPTS_INIT;
        o.threads = (int)(t_rand(&seed) % 3 == 0 ? t_rand(&seed) % 9 : 0);
        o.schedule = (prange_schedule)(t_rand(&seed) % 4);
        o.grain = t_rand(&seed) % 3 == 0 ? (int64_t)(t_rand(&seed) % 5000) : 0;
        o.cost_ns = t_rand(&seed) % 2 ? pow(10, -1 + 5.0 * (double)(t_rand(&seed) % 1000) / 1000) : 0;
        o.flags = t_rand(&seed) % 10 == 0 ? PRANGE_SERIAL : 0;
        ran_ctx c = {0};
        if (o.cost_ns == 0) prange_for_opts(0, n, ran_body, &c, &o);
        prange_plan p;
        cr_assert_eq(prange_plan_for_body(n, ran_body, &o, &p), 0);
        memset(&c, 0, sizeof c);
        cr_assert_eq(prange_for_opts(0, n, ran_body, &c, &o), 0);
        if (n == 0) continue;
        cr_assert_eq(c.bad, 0);
        cr_assert_eq(atomic_load(&c.team), p.threads,
                     "case %d n=%lld threads=%d sched=%d grain=%lld cost=%g: plan %d threads (%s), bodies saw %d", k,
                     (long long)n, o.threads, o.schedule, (long long)o.grain, o.cost_ns, p.threads, p.reason,
                     atomic_load(&c.team));
        if (p.serial) cr_assert_eq(atomic_load(&c.used), 1u, "case %d: a serial plan ran off the caller", k);
        if (p.schedule == PRANGE_SCHEDULE_STATIC && !p.serial)
            cr_assert_eq(bits(atomic_load(&c.used)), p.threads, "case %d: static plan of %d ran on %d workers", k,
                         p.threads, bits(atomic_load(&c.used)));
    }
}

Test(plans, random_plans_match_what_runs, .timeout = 300)
{
    if (UNDER_VALGRIND) cr_skip_test("re-executing itself under valgrind fails (mmap in UME)");
    /* Fixed fork-join figures: the decisions then depend on nothing a busy machine moves. */
    char *quiet[] = {"PRANGE_TEST_RANDOM=1", "PRANGE_FORK_NS=700", "PRANGE_NUM_THREADS=4", NULL};
    char *limit[] = {"PRANGE_TEST_RANDOM=2", "PRANGE_FORK_NS=5000", "PRANGE_NUM_THREADS=4", "OMP_THREAD_LIMIT=3", NULL};
    char *levels[] = {"PRANGE_TEST_RANDOM=3", "PRANGE_FORK_NS=700", "OMP_MAX_ACTIVE_LEVELS=0", NULL};
    char *omp[] = {"PRANGE_TEST_RANDOM=4", "PRANGE_FORK_NS=50000", "OMP_NUM_THREADS=3,2", "PRANGE_GRAIN=64", NULL};
    char *const *envs[] = {quiet, limit, levels, omp};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(run_child("plans/child_random_plans_match", envs[i]), 0, "environment %d: see the child's output", i);
}

static void add_index(void *ctx, int64_t b, int64_t e, void *acc)
{
    (void)ctx;
    for (int64_t i = b; i < e; i++) *(double *)acc += (double)i;
}

Test(plans, a_reduction_reports_its_real_schedule_and_cost)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    setenv("PRANGE_FORK_NS", "1000", 1);
    char path[] = "/tmp/prange-verbose-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    cr_assert_geq(fd, 0);
    dup2(fd, 2);
    prange_opts o = {.struct_size = sizeof(prange_opts), .schedule = PRANGE_SCHEDULE_DYNAMIC, .cost_ns = 1e6};
    double s = 0;
    int rc = prange_reduce(0, 100, prange_reducer_sum_f64(), add_index, NULL, &s, &o);
    fflush(stderr);
    dup2(saved, 2);
    cr_assert_eq(rc, 0);
    cr_assert_eq(s, 4950);
    char buf[8192] = {0}, *line = NULL;
    cr_assert_gt(pread(fd, buf, sizeof buf - 1, 0), 0);
    close(fd);
    unlink(path);
    /* Named by its site (the body, unlabelled), printed when it finished, with its duration. */
    line = strstr(buf, "prange: reduce ");
    cr_assert_not_null(line, "no reduce line in: %s", buf);
    cr_assert_not_null(strstr(line, " took="), "%s", line);
    *strchrnul(line, '\n') = '\0';
    cr_assert_not_null(strstr(line, "schedule=static"), "%s", line);
    cr_assert_not_null(strstr(line, "cost=1ms"), "%s", line);
}

/* ---- coarse reductions ------------------------------------------------------------------- */

typedef struct {
    atomic_uint used; /* bit per worker that folded a block */
    double per_iter_ns;
} coarse_ctx;

/* Iteration i adds a value that rounds differently in every order; each iteration spins
 * ~50 us so that threads overlap. */
static void coarse_body(void *p, int64_t b, int64_t e, void *acc)
{
    coarse_ctx *c = p;
    int tid = prange_thread_id();
    if (tid < 32) atomic_fetch_or(&c->used, 1u << tid);
    for (int64_t i = b; i < e; i++) {
        spin_wall_ns(5e4);
        *(double *)acc += 1.0 / (double)(i + 3) * (i % 2 ? 1e8 : 1e-8);
    }
}

Test(coarse, a_cost_hint_splits_few_expensive_iterations, .timeout = 60)
{
    setenv("PRANGE_FORK_NS", "2000", 1);
    double first = 0;
    for (int t = 1; t <= 16; t++) {
        prange_set_num_threads(t);
        coarse_ctx c = {0};
        prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e6}; /* 256 iterations of 1 ms, as far as the caller says */
        double r = 0;
        cr_assert_eq(prange_reduce(0, 256, prange_reducer_sum_f64(), coarse_body, &c, &r, &o), 0);
        if (t == 1) first = r;
        cr_assert_eq(memcmp(&r, &first, sizeof r), 0, "%d threads: %.17g vs %.17g", t, r, first);
        cr_assert_eq(__builtin_popcount(atomic_load(&c.used)), t, "%d threads: the blocks ran on %d", t,
                     __builtin_popcount(atomic_load(&c.used)));
    }
    /* grain = 1 says the same: one block per iteration. */
    prange_set_num_threads(2);
    coarse_ctx c = {0};
    prange_opts g = {.struct_size = sizeof(prange_opts), .grain = 1, .cost_ns = 1e6};
    double r = 0;
    cr_assert_eq(prange_reduce(0, 256, prange_reducer_sum_f64(), coarse_body, &c, &r, &g), 0);
    cr_assert_eq(memcmp(&r, &first, sizeof r), 0, "grain 1 and cost 1 ms give the same blocks");
    cr_assert_eq(__builtin_popcount(atomic_load(&c.used)), 2);
}

/* ---- scans learn their block cost like loops ---------------------------------------------- */

/* Prefix counts over [0, n): a cheap body and one that also burns 1 ms of CPU time per
 * call (a block's pass). CPU time, not wall time or a count of operations: a stalled or
 * slow (valgrind) machine lengthens the cheap body's wall time, never the dear one's
 * below 1 ms a block. With ~12 multiply-adds per element instead, a noisy CI machine
 * once learned the two within 4x of each other. */
typedef struct {
    int64_t *out;
} scan_ctx;

static void scan_cheap(void *p, int64_t b, int64_t e, void *acc, int emit)
{
    scan_ctx *s = p;
    int64_t *a = acc;
    for (int64_t i = b; i < e; i++) {
        *a += 1;
        if (emit) s->out[i] = *a;
    }
}

static void scan_dear(void *p, int64_t b, int64_t e, void *acc, int emit)
{
    uint64_t until = prange__cpu_ns() + 1000000;
    while (prange__cpu_ns() < until) {}
    scan_cheap(p, b, e, acc, emit);
}

Test(learning, user_scans_learn_under_their_body)
{
    enum { N = 64 * 4096 }; /* 64 blocks of 4096 */
    static int64_t out[N];
    scan_ctx s = {out};
    for (int rep = 0; rep < 3; rep++) {
        cr_assert_eq(prange_scan(0, N, prange_reducer_sum_i64(), scan_cheap, &s, NULL), 0);
        cr_assert_eq(out[N - 1], N);
        cr_assert_eq(prange_scan(0, N, prange_reducer_sum_i64(), scan_dear, &s, NULL), 0);
        cr_assert_eq(out[N - 1], N);
    }
    double cheap = prange__cost_lookup((const void *)scan_cheap, 64);
    double dear = prange__cost_lookup((const void *)scan_dear, 64);
    cr_assert_gt(cheap, 0, "the cheap scan body learned no block cost");
    cr_assert_gt(dear, 0, "the dear scan body learned no block cost");
    cr_assert_geq(dear, 1e6, "1 ms of CPU time per block learned as %g ns", dear);
    cr_assert_gt(dear, 4 * cheap, "1 ms per block costs no more than a count: %g vs %g ns per block", dear, cheap);
}

Test(learning, typed_scans_learn_under_opts_key)
{
    enum { N = 64 * 4096 };
    static double in[N], out[N];
    for (int i = 0; i < N; i++) in[i] = 1.0;
    static const char key = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.key = &key;
    cr_assert_eq(prange__cost_lookup(&key, 64), 0);
    cr_assert_eq(prange_scan_f64(in, out, N, 0, &o), 0);
    cr_assert_eq(out[N - 1], (double)N);
    cr_assert_gt(prange__cost_lookup(&key, 64), 0, "a scan with no cost hint learned nothing");
}

/* ---- idle workers on a busy machine ------------------------------------------------------- */

static int count_of(const char *hay, const char *needle)
{
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) k++;
    return k;
}

/* The figure rises to 8 ms (the machine is busy) while libgomp's workers spin ~3 ms after
 * each region: PRANGE_VERBOSE=1 says once what stops the spin. */
static void busy_figure(char *buf, size_t size)
{
    setenv("PRANGE_VERBOSE", "1", 1);
    prange_set_num_threads(2);
    t_capture cap;
    cr_assert_eq(t_capture_start(&cap), 0);
    prange__fork_ensure();
    for (int i = 0; i < 12; i++) prange__fork_observe(2, 8e6);
    cr_assert_eq(t_capture_end(&cap, buf, size), 0);
}

Test(fork_figure, a_busy_machine_with_spinning_workers_is_told_once)
{
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
    static char buf[65536];
    busy_figure(buf, sizeof buf);
    cr_assert_eq(prange__fork_ns(2, NULL), 8e6);
    cr_assert_eq(count_of(buf, "OMP_WAIT_POLICY=passive"), 1, "want the advice once in: %s", buf);
}

Test(fork_figure, passive_workers_need_no_advice)
{
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    static char buf[65536];
    busy_figure(buf, sizeof buf);
    cr_assert_eq(prange__fork_ns(2, NULL), 8e6);
    cr_assert_eq(count_of(buf, "OMP_WAIT_POLICY=passive"), 0, "no advice wanted: %s", buf);
}

/* ---- back-off: parallel calls slower than their serial estimate --------------------------
 * The state machine is driven with chosen wall times (prange__backoff_observe, fed call by
 * call as the execution path feeds it), the plans read as the execution path reads them
 * (prange__plan_exec_with counts the calls down); the end-to-end cases make a worker wait
 * (a sleep standing for a core held by another process), which no load can make shorter,
 * so their decisions do not depend on timing. */

static void bo_body(void *c, int64_t b, int64_t e) { (void)c; (void)b; (void)e; }

/* One call as the execution path plans it: what the table says, then the plan. */
static prange__learned bo_call(const void *key, uint64_t n, prange_plan *p)
{
    prange_opts o = PRANGE_OPTS_INIT;
    prange__learned l = prange__cost_get(key, n);
    prange__plan_exec_with(n, &o, key, &l, p);
    return l;
}

/* `calls` parallel calls of `threads` threads taking `wall` ns each, planned and observed
 * as the execution path does; returns how many windows closed lost. */
static int feed(const void *key, uint64_t n, int threads, double wall, int calls)
{
    int lost = 0;
    for (int k = 0; k < calls; k++) {
        prange_plan p;
        prange__learned l = bo_call(key, n, &p);
        lost += prange__backoff_observe(key, &l, n, threads, wall, p.reason == prange__why_trial, "loop", NULL);
    }
    return lost;
}

/* Capped calls planned until the probe window is due. */
static int capped_calls(const void *key, uint64_t n)
{
    prange_plan p;
    for (int k = 0; k < 100000; k++) {
        if (prange__cost_get(key, n).probe) return k;
        prange__learned l = bo_call(key, n, &p);
        cr_assert(l.cap > 0 && p.threads <= l.cap, "call %d: %d threads under a cap of %d", k, p.threads, l.cap);
    }
    cr_assert(0, "no probe in 100000 calls");
    return -1;
}

/* 1 ns per iteration learned for n = 10^6 from calls that ran alone: a serial estimate of
 * 1 ms a call, windows of 20 calls (20 ms of serial work). */
static void learn_1ns(const void *key, uint64_t n)
{
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key, n, n, (double)n, 1);
}

/* The state machine's cases: a fixed 1 us fork-join figure, `threads` threads, bo_body
 * learned at 1 ns per iteration for n = BO_N. */
#define BO_N UINT64_C(1000000)
static void bo_start(int threads)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(threads);
    learn_1ns((const void *)bo_body, BO_N);
}

/* A memory-bound loop's shares run slower per iteration than the loop alone (the team
 * shares the bandwidth): learned from shares, 3 ns an iteration; alone, 1 ns. Parallel
 * calls of 1.5 ns an iteration lose to the loop alone, though they beat n x 3 ns: the
 * back-off compares with what ran alone. */
Test(backoff, a_team_slower_than_the_loop_alone_backs_off)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key, n, n, (double)n, 1);
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key, n, n / 2, 1.5 * (double)n, 0); /* shares: 3 ns */
    prange__learned l = prange__cost_get(key, n);
    cr_assert_float_eq(l.ns, 3.0, 1e-9, "the learned cost is the shares' (%g)", l.ns);
    cr_assert_float_eq(l.alone_ns, 1.0, 1e-9, "the cost alone is the inline calls' (%g)", l.alone_ns);
    prange_plan p;
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 2);
    /* A window of 1.5 ms calls (20 ms of serial work at 1 ns: 14 calls). */
    int lost = feed(key, n, 2, 1.5e6, 20);
    cr_assert_eq(lost, 1, "parallel calls 1.5x slower than the loop alone did not back off");
    bo_call(key, n, &p);
    cr_assert_eq(p.serial, 1, "a team of 2 that lost is halved to 1: inline");
    cr_assert_str_eq(p.reason, prange__why_backoff);
}

Test(backoff, a_lost_window_halves_the_team_then_probes_at_growing_intervals)
{
    bo_start(4);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    prange_plan p;
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 4, "1 ms of work pays a 1 us fork on 4 threads");

    /* 19 calls of 1.2 ms against 1 ms: the window is not closed yet, nothing changes. */
    cr_assert_eq(feed(key, n, 4, 1.2e6, 19), 0);
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 4);
    cr_assert_eq(feed(key, n, 4, 1.2e6, 1), 1, "the 20th call closes the window: lost");
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 2, "the team that lost is halved");
    cr_assert_str_eq(p.reason, "threads limited by back-off");
    prange_plan q;
    cr_assert_eq(prange_plan_for_body((int64_t)n, bo_body, NULL, &q), 0);
    cr_assert_eq(q.threads, 2, "a plan query says what runs");
    /* The first loss: 16 capped calls (one planned above), then the probe window on the
     * full team. */
    cr_assert_eq(capped_calls(key, n), 15);
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 4);
    /* The probe window closes early: 3 calls over twice their estimate (3.5 ms), 7.5 ms
     * lost: 32 x 7.5 ms / 1 ms = 240 calls. */
    cr_assert_eq(feed(key, n, 4, 3.5e6, 2), 0);
    cr_assert_eq(feed(key, n, 4, 3.5e6, 1), 1);
    /* On the capped team (2) a whole window (20 calls) loses too: serial. */
    cr_assert_eq(feed(key, n, 2, 1.2e6, 20), 1);
    bo_call(key, n, &p);
    cr_assert_eq(p.serial, 1);
    cr_assert_eq(p.reason, prange__why_backoff, "%s", p.reason);
    cr_assert_eq(prange_plan_for_body((int64_t)n, bo_body, NULL, &q), 0);
    cr_assert_eq(q.reason, prange__why_backoff, "a plan query says what runs: %s", q.reason);
    cr_assert_eq(capped_calls(key, n), 240 - 20 - 1);
    /* The next probe window loses 4 ms over 20 calls: twice the last interval, 480. */
    cr_assert_eq(feed(key, n, 4, 1.2e6, 20), 1);
    cr_assert_eq(capped_calls(key, n), 480);
    /* And again: 960, but never more than 0.5 s of serial work: 500 calls of 1 ms. */
    cr_assert_eq(feed(key, n, 4, 1.2e6, 20), 1);
    cr_assert_eq(capped_calls(key, n), 500);
    /* It wins: the full team again. */
    cr_assert_eq(feed(key, n, 4, 0.4e6, 20), 0);
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(p.threads, 4);
    cr_assert_eq(l.probe, 0);
    cr_assert_eq(l.cap, 0);
}

Test(backoff, one_stall_in_a_window_changes_nothing)
{
    /* A parallel call 2x faster than serial, and once a 4 ms stall (a descheduled virtual
     * CPU, a hiccup): the window still won, no plan changes. */
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    cr_assert_eq(feed(key, n, 2, 0.5e6, 10), 0);
    cr_assert_eq(feed(key, n, 2, 4.5e6, 1), 0);
    cr_assert_eq(feed(key, n, 2, 0.5e6, 9), 0, "the window closed, won");
    prange_plan p;
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(p.threads, 2);
    cr_assert_eq(l.cap, 0);
}

/* A short loop whose worker waits for a core: a call of a 10 us loop (1 ns an iteration,
 * n = 10^4) that took 2 ms lost 199 times its estimate, more than the 16 capped calls of a
 * first back-off could cost. Once is a hiccup: the window stays open. The second such
 * call closes it at once, lost, and the team is halved. A loss of 18 x the estimate
 * below 0.2 ms does not count (a third stall would: 3 slow calls, 2 ms lost); after 10
 * winning calls two stalls still lose the window (10 x 6 us won, 4 ms lost). */
Test(backoff, two_calls_that_lost_many_times_their_work_close_the_window)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = 10000;
    learn_1ns(key, n);
    prange_plan p;
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 2, "10 us of work pays a 1 us fork on 2 threads");
    cr_assert_eq(feed(key, n, 2, 2e6, 1), 0, "one call 2 ms late: a hiccup");
    bo_call(key, n, &p);
    cr_assert_eq(p.threads, 2);
    cr_assert_eq(feed(key, n, 2, 2e6, 1), 1, "a second one: lost at once");
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(l.cap, 1);
    cr_assert_eq(p.serial, 1);
    const void *key2 = (const void *)&learn_1ns;
    learn_1ns(key2, n);
    cr_assert_eq(feed(key2, n, 2, 4e3, 10), 0);
    cr_assert_eq(feed(key2, n, 2, 1.9e5, 1), 0, "0.18 ms lost: not a stall of this kind");
    cr_assert_eq(feed(key2, n, 2, 2e6, 1), 0);
    cr_assert_eq(feed(key2, n, 2, 2e6, 1), 1, "two 2 ms stalls after 10 wins: the window closes, lost");
}

/* A window of short calls is judged by its calls' majority at 32 calls: a 10 us loop
 * (20 ms of serial work would be 2000 calls) whose team loses 2 us on 3 calls in 4 backs
 * off at the 32nd; one that wins on most calls, with a few calls late (hiccups), keeps
 * its window open. Mutant check: without the vote the first window stays open. */
Test(backoff, most_of_32_short_calls_lost_close_the_window)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = 10000;
    learn_1ns(key, n);
    int lost = 0;
    for (int k = 0; k < 32; k++) lost += feed(key, n, 2, k % 4 == 3 ? 6e3 : 12e3, 1);
    cr_assert_eq(lost, 1, "24 of 32 calls lost 2 us each: the window closes, lost");
    prange_plan p;
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(l.cap, 1);
    cr_assert_eq(p.serial, 1);
    const void *key2 = (const void *)&learn_1ns;
    learn_1ns(key2, n);
    for (int k = 0; k < 200; k++)
        cr_assert_eq(feed(key2, n, 2, k % 8 == 7 ? 40e3 : 6e3, 1), 0, "call %d: 1 in 8 late, the others win", k);
    /* 20 of 32 lost (the vote is a majority, not 3 in 4), 352 us against 320. */
    const void *key3 = (const void *)&bo_call;
    learn_1ns(key3, n);
    lost = 0;
    for (int k = 0; k < 32; k++) lost += feed(key3, n, 2, k % 8 < 5 ? 14e3 : 6e3, 1);
    cr_assert_eq(lost, 1, "20 of 32 calls lost 4 us each: the window stays open");
}

/* A team that wins most short calls but waits on a few loses by its sum: 29 calls of 8 us
 * and 3 of 60 us against 10 us alone, 1.29 x the serial time. It closes at the 32nd call
 * (the window of 20 ms would be 2000). One such call in 32 does not. Mutant check: without
 * the tail rule the window stays open. */
Test(backoff, a_tail_of_slow_calls_closes_a_short_window)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = 10000;
    learn_1ns(key, n);
    int lost = 0;
    for (int k = 0; k < 32; k++) lost += feed(key, n, 2, k % 10 == 9 ? 60e3 : 8e3, 1);
    cr_assert_eq(lost, 1, "3 waits in 32 calls, 1.29 x serial: the window stays open");
    const void *key2 = (const void *)&learn_1ns;
    learn_1ns(key2, n);
    for (int k = 0; k < 64; k++)
        cr_assert_eq(feed(key2, n, 2, k == 20 ? 60e3 : 8e3, 1), 0, "call %d: one wait is a hiccup", k);
}

/* Calls of 10 ms or more: a window of 2 calls is 20 ms of serial work (a 10^7 triad met in
 * a sweep used to spend 4 calls of every window on a losing team). */
Test(backoff, a_window_of_long_calls_closes_at_two)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = 16000000; /* 16 ms a call at 1 ns */
    learn_1ns(key, n);
    cr_assert_eq(feed(key, n, 2, 20e6, 1), 0, "one call is not a window");
    cr_assert_eq(feed(key, n, 2, 20e6, 1), 1, "the second closes it: lost");
    prange_plan p;
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(l.cap, 1);
    /* A team twice as fast, one call of a window 4 ms late: still a won window. */
    const void *key2 = (const void *)&learn_1ns;
    learn_1ns(key2, n);
    cr_assert_eq(feed(key2, n, 2, 12e6, 1), 0);
    cr_assert_eq(feed(key2, n, 2, 8e6, 1), 0, "won: 20 ms against 32 ms");
    l = bo_call(key2, n, &p);
    cr_assert_eq(l.cap, 0);
    cr_assert_eq(p.threads, 2);
}

Test(backoff, a_loss_long_after_starts_small_again)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    cr_assert_eq(feed(key, n, 2, 1.1e6, 20), 1);
    cr_assert_eq(capped_calls(key, n), 16, "a first loss costs 16 calls");
    cr_assert_eq(feed(key, n, 2, 0.6e6, 20), 0, "the probe window wins");
    cr_assert_eq(feed(key, n, 2, 1.1e6, 20), 1, "a loss right after: backs off longer");
    cr_assert_eq(capped_calls(key, n), 64, "max(2 x 16, 32 x 2 ms / 1 ms)");
    cr_assert_eq(feed(key, n, 2, 0.6e6, 20), 0);
    /* Won windows forget the interval by halves: 64, 32, 16, then none. */
    cr_assert_eq(feed(key, n, 2, 0.6e6, 3 * 20), 0);
    cr_assert_eq(feed(key, n, 2, 1.1e6, 20), 1);
    cr_assert_eq(capped_calls(key, n), 16, "a loss long after starts at 16 again");
}

Test(backoff, cost_hints_and_other_sizes_are_not_capped)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    for (int i = 0; i < 8; i++) prange__cost_record(key, 4 * n, 4 * n, 4.0 * (double)n);
    cr_assert_eq(feed(key, n, 2, 5e6, 3), 1, "12 ms lost in 3 calls: the window closes early");
    prange_plan p;
    bo_call(key, n, &p);
    cr_assert_eq(p.serial, 1, "this size backs off");
    bo_call(key, 4 * n, &p);
    cr_assert_eq(p.threads, 2, "another size class of the body does not");
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1;
    cr_assert_eq(prange_plan_for_body((int64_t)n, bo_body, &o, &p), 0);
    cr_assert_eq(p.threads, 2, "a call with a cost hint neither learns nor backs off");
}

/* A body whose worker 1 waits 2 ms per call (a core held by another process), and which
 * notes the largest team of each call. */
typedef struct {
    team_ctx team;
    atomic_int parallel_calls;
} wait_ctx;

static void waiting_worker(void *p, int64_t b, int64_t e)
{
    wait_ctx *w = p;
    team_body(&w->team, b, e);
    if (prange_thread_id() != 0) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    double s = 0;
    for (int64_t i = b; i < e; i++) s += (double)i;
    __asm__ volatile("" ::"x"(s)); /* keep the loop: the caller's share is what it learns */
}

static void waiting_reduce(void *p, int64_t b, int64_t e, void *acc)
{
    waiting_worker(p, b, e);
    *(double *)acc += (double)(e - b);
}

Test(backoff, a_worker_that_waits_sends_the_loop_back_to_one_thread)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(2);
    wait_ctx w = {0};
    int parallel = 0;
    t_capture cap;
    static char buf[1 << 20];
    cr_assert_eq(t_capture_start(&cap), 0);
    for (int i = 0; i < 200; i++) {
        atomic_store(&w.team.team, 0);
        cr_assert_eq(prange_for(0, 1 << 18, waiting_worker, &w), 0);
        parallel += atomic_load(&w.team.team) > 1;
    }
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    /* Without the back-off every call after the first runs on 2 threads (~100 us of work
     * per call against a 1 us fork-join figure) and waits 2 ms. With it: the calls that
     * learn the cost, a window that loses 10 ms (~6 calls), 16 serial calls, a probe window
     * that loses 10 ms, then >= 32 x 10 ms / 0.1 ms calls serial: a dozen, never most. */
    cr_assert_leq(parallel, 20, "%d of 200 calls ran on the waiting team", parallel);
    cr_assert_geq(parallel, 1);
    cr_assert_not_null(strstr(buf, "the serial estimate is"), "the back-off is said under PRANGE_VERBOSE=2");
    cr_assert_not_null(strstr(buf, "reason=parallel ran slower than serial (back-off)"), "plans name it");
}

Test(backoff, a_reduction_backs_off_too)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    wait_ctx w = {0};
    prange_opts o = PRANGE_OPTS_INIT;
    o.grain = 1 << 17; /* two blocks: worker 1 waits once per call */
    int parallel = 0;
    for (int i = 0; i < 200; i++) {
        atomic_store(&w.team.team, 0);
        double s = 0;
        cr_assert_eq(prange_reduce(0, 1 << 18, prange_reducer_sum_f64(), waiting_reduce, &w, &s, &o), 0);
        cr_assert_eq(s, (double)(1 << 18));
        parallel += atomic_load(&w.team.team) > 1;
    }
    cr_assert_leq(parallel, 20, "%d of 200 reductions ran on the waiting team", parallel);
}

/* Iterations of the upper half cost 3 us of CPU time, the lower half 1 us: on 2 threads the
 * caller's share (the lower half) says 1 us each, the whole loop averages 2 us. */
static void uneven_body(void *c, int64_t b, int64_t e)
{
    int64_t n = *(const int64_t *)c;
    for (int64_t i = b; i < e; i++) {
        uint64_t until = prange__cpu_ns() + (i >= n / 2 ? 3000 : 1000);
        while (prange__cpu_ns() < until) {}
    }
}

Test(backoff, capped_calls_time_the_whole_loop)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    const void *key = (const void *)uneven_body;
    int64_t n = 64;
    /* What 8 sampled parallel calls taught: the caller's share, 1 us per iteration. */
    for (int i = 0; i < 8; i++) prange__cost_record(key, (uint64_t)n, (uint64_t)n / 2, 1000.0 * (double)n / 2);
    prange_plan p;
    bo_call(key, (uint64_t)n, &p);
    cr_assert_eq(p.threads, 2);
    /* Parallel calls take 96 us, the shares' estimate says 64 us: every one of them is
     * slower than its estimate. Nothing ran alone yet, so the window is not judged: at its
     * 4th call, the next two calls run alone, timed whole. */
    cr_assert_eq(feed(key, (uint64_t)n, 2, 96e3, 3), 0);
    cr_assert_eq(prange__cost_get(key, (uint64_t)n).time_alone, 0, "asked before the 4th call");
    cr_assert_eq(feed(key, (uint64_t)n, 2, 96e3, 1), 0, "judged against the shares alone");
    prange__learned l = prange__cost_get(key, (uint64_t)n);
    cr_assert_eq(l.time_alone, 1, "no serial call asked for");
    prange_plan q;
    bo_call(key, (uint64_t)n, &q);
    cr_assert_eq(q.reason, prange__why_alone, "%s", q.reason);
    /* Two calls alone, timed whole. */
    for (int i = 0; i < 2; i++) cr_assert_eq(prange_for(0, n, uneven_body, &n), 0);
    l = prange__cost_get(key, (uint64_t)n);
    cr_assert_eq(l.alone_samples, 2);
    cr_assert_eq(l.time_alone, 0);
    bo_call(key, (uint64_t)n, &q);
    cr_assert_eq(q.threads, 2, "the team again: %s", q.reason);
    /* Calls 1.5 x slower than that serial estimate lose. The 4 calls left unjudged are
     * judged with the first team call, won or lost by their mean against the calls alone
     * (timed for real: under valgrind they are far slower than 96 us), so it may take a
     * window or two. */
    double slow = 1.5 * (double)n * l.alone_ns;
    for (int k = 0; k < 300 && feed(key, (uint64_t)n, 2, slow, 1) == 0; k++) cr_assert_lt(k, 299, "the team never lost");
    for (int i = 0; i < 8; i++) cr_assert_eq(prange_for(0, n, uneven_body, &n), 0);
    double c = prange__cost_lookup(key, (uint64_t)n);
    /* Timed whole, the capped serial calls teach the real average (2 us; more under load):
     * the probe window is judged against 128 us a call, which 96 us beats. */
    cr_assert_geq(c, 1500, "learned %.0f ns per iteration: the capped calls were not timed", c);
}

/* Learned from team shares only, 3 ns an iteration (a memory-bound loop's shares run
 * slower per iteration than the loop alone, or the caller's share met a busy core): the
 * shares' estimate is no serial time. A window that closes on it is not judged; the next
 * two calls run alone, timed (the plan says so: a query is what runs), and the windows
 * after are judged against them. Mutant checks: judged against the shares, the window of
 * 1.5 ms calls wins and the team never backs off; without the plan's rule the query
 * says "parallel". */
Test(backoff, a_window_without_a_serial_time_runs_the_loop_alone_first)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key, n, n / 2, 1.5 * (double)n, 0); /* shares: 3 ns */
    prange_plan p;
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(l.alone_samples, 0);
    cr_assert_eq(p.threads, 2);
    /* 1.5 ms calls: wins against 3 ms each. The window is left unjudged at its 4th call,
     * before it closes (20 ms of serial work at 3 ns: 7 calls). */
    cr_assert_eq(feed(key, n, 2, 1.5e6, 3), 0);
    cr_assert_eq(prange__cost_get(key, n).time_alone, 0, "asked before the 4th call");
    cr_assert_eq(feed(key, n, 2, 1.5e6, 1), 0);
    l = prange__cost_get(key, n);
    cr_assert_eq(l.time_alone, 1, "the window asked for no serial time");
    cr_assert_eq(l.cap, 0, "judged against the shares");
    cr_assert_eq(prange_plan_for_body((int64_t)n, bo_body, NULL, &p), 0);
    cr_assert_eq(p.serial, 1);
    cr_assert_eq(p.reason, prange__why_alone, "%s", p.reason);
    /* The two calls alone, as the execution path records them: 1 ms each. */
    prange__cost_record_alone(key, n, n, 1.0 * (double)n, 1);
    cr_assert_eq(prange__cost_get(key, n).time_alone, 1, "one serial call asked for two");
    prange__cost_record_alone(key, n, n, 1.0 * (double)n, 1);
    l = bo_call(key, n, &p);
    cr_assert_eq(l.time_alone, 0);
    cr_assert_eq(p.threads, 2, "the team again: %s", p.reason);
    /* Against 1 ms alone the 1.5 ms calls lose. The 4 calls left unjudged are judged with
     * the first team call after the calls alone, not with the next window's 20 ms of
     * serial work (mutant checks: judged with the next window, 16 calls later; without
     * them, 20). */
    cr_assert_eq(feed(key, n, 2, 1.5e6, 1), 1, "the team that lost to the loop alone did not back off");
    bo_call(key, n, &p);
    cr_assert_eq(p.serial, 1);
    cr_assert_eq(p.reason, prange__why_backoff, "%s", p.reason);

    /* A short loop (10 us of shares' work) asks at its 4th call, before its window (2000
     * calls) closes: a sweep of 21 calls a size must not spend most of them on a team
     * that loses (mutant check: asking at the 32nd, no serial time asked for). */
    const void *key2 = (const void *)&learn_1ns;
    uint64_t n2 = 10000;
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key2, n2, n2 / 2, 0.5 * (double)n2, 0); /* 1 ns */
    cr_assert_eq(feed(key2, n2, 2, 8e3, 3), 0);
    cr_assert_eq(prange__cost_get(key2, n2).time_alone, 0);
    cr_assert_eq(feed(key2, n2, 2, 8e3, 1), 0);
    cr_assert_eq(prange__cost_get(key2, n2).time_alone, 1, "4 short calls asked for no serial time");
    /* Calls alone of 5 us: the 4 team calls of 8 us lost, judged at the next team call. */
    for (int i = 0; i < 2; i++) prange__cost_record_alone(key2, n2, n2, 5e3, 1);
    cr_assert_eq(feed(key2, n2, 2, 8e3, 1), 1, "5 calls 1.6 x the loop alone did not back off");

    /* Stalls are judged at once, whatever the estimate: two calls that each waited 2 ms. */
    const void *key3 = (const void *)&bo_call;
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key3, n2, n2 / 2, 0.5 * (double)n2, 0);
    cr_assert_eq(feed(key3, n2, 2, 2e6, 1), 0);
    cr_assert_eq(feed(key3, n2, 2, 2e6, 1), 1, "two stalls without a serial time did not back off");
}

/* A reduction plans and runs the two calls alone too, timed whole. */
static void add_ones(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    *(double *)acc += (double)(e - b);
}

Test(backoff, a_reduction_runs_alone_when_its_window_asks)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    const void *key = (const void *)add_ones;
    uint64_t n = 1 << 20;
    for (int i = 0; i < 8; i++) prange__cost_record_alone(key, n, n / 2, 1.5 * (double)n, 0); /* shares: 3 ns */
    cr_assert_eq(feed(key, n, 2, 1.5 * (double)n, 7), 0);
    cr_assert_eq(prange__cost_get(key, n).time_alone, 1);
    for (int i = 0; i < 2; i++) {
        double sum = 0;
        cr_assert_eq(prange_reduce(0, (int64_t)n, prange_reducer_sum_f64(), add_ones, NULL, &sum, NULL), 0);
        cr_assert_eq(sum, (double)n);
    }
    prange__learned l = prange__cost_get(key, n);
    cr_assert_eq(l.alone_samples, 2, "%u serial samples", l.alone_samples);
    cr_assert_eq(l.time_alone, 0);
}

/* A window of long calls closed by its length is judged as its median call would be: next
 * to a busy loop on every core a team's calls spread from 4.5 to 24 ms around a steady
 * serial time. One late call of two that lost the sum decides nothing; two that lost do.
 * Mutant check: judged on the sum alone, the first window backs off. */
Test(backoff, one_late_call_of_a_long_window_decides_nothing)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = 16000000; /* 16 ms a call alone */
    learn_1ns(key, n);
    cr_assert_eq(feed(key, n, 2, 24e6, 1), 0);
    cr_assert_eq(feed(key, n, 2, 11e6, 1), 0, "35 ms against 32: one late call of two backed off");
    prange_plan p;
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(l.cap, 0);
    cr_assert_eq(p.threads, 2);
    cr_assert_eq(feed(key, n, 2, 17e6, 1), 0);
    cr_assert_eq(feed(key, n, 2, 18e6, 1), 1, "two late calls of two: lost");
}

/* A first slice decides on the thread's CPU time (a preemption must not make cheap
 * iterations look dear) but records its wall time, as every other serial sample: the
 * back-off compares teams' wall times with it. Iterations that spin 20 us of CPU and
 * sleep 200 us (a thread that waits for its core, made certain): the serial time learned
 * is the wall time. Mutant check: recording the CPU time learns ~20 us an iteration. */
static void sleepy_body(void *c, int64_t b, int64_t e)
{
    (void)c;
    for (int64_t i = b; i < e; i++) {
        uint64_t until = prange__cpu_ns() + 20000;
        while (prange__cpu_ns() < until) {}
        usleep(200);
    }
}

Test(first_call, a_slice_records_its_wall_time)
{
    setenv("PRANGE_FORK_NS", "20000", 1);
    prange_set_num_threads(2);
    const void *key = (const void *)sleepy_body;
    uint64_t n = 128;
    cr_assert_eq(prange_for(0, (int64_t)n, sleepy_body, NULL), 0);
    prange__learned l = prange__cost_get(key, n);
    cr_assert_geq(l.alone_samples, 1, "the slice recorded no serial time");
    cr_assert_geq(l.alone_ns, 150000, "the slice recorded %.0f ns an iteration: its CPU time", l.alone_ns);
}

static void tiny_body(void *c, int64_t b, int64_t e)
{
    double *x = c;
    for (int64_t i = b; i < e; i++) x[i] += 1.0;
}

Test(first_call, a_slice_too_short_to_decide_teaches_no_cost)
{
    /* 4 cheap iterations: the first call's slice is 1 iteration, a few ns against the CPU
     * clock's reads (hundreds of ns). That slice must not become the learned cost (it made
     * the next calls parallel and kept them timed); the rest, timed on the wall clock, is. */
    prange_set_num_threads(2);
    double x[4] = {0};
    cr_assert_eq(prange_for(0, 4, tiny_body, x), 0);
    double c = prange__cost_lookup((const void *)tiny_body, 4);
    cr_assert_gt(c, 0, "the first call learned nothing");
    for (int i = 0; i < 4; i++) cr_assert_eq(x[i], 1.0);
    /* Native: ~10 ns (the slice's CPU-clock reads alone were 1.7 us per iteration, on
     * every first call). The rest is 3 iterations on the wall clock, which one interrupt
     * on a busy host makes hundreds of ns: the least of 8 first calls (fresh keys) is the
     * figure. Under valgrind or a sanitizer the first call's code runs 100x slower: not a
     * measure. */
    static char keys[8];
    double least = c;
    for (int k = 0; k < 8; k++) {
        prange_opts o = PRANGE_OPTS_INIT;
        o.key = &keys[k];
        cr_assert_eq(prange_for_opts(0, 4, tiny_body, x, &o), 0);
        double ck = prange__cost_lookup(&keys[k], 4);
        cr_assert_gt(ck, 0, "first call %d learned nothing", k);
        if (ck < least) least = ck;
    }
    if (!under_instrumentation()) cr_assert_lt(least, 100, "learned %.0f ns per iteration for an add", least);
}

Test(backoff, a_probe_planned_serial_ends_the_back_off)
{
    bo_start(2);
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N;
    cr_assert_eq(feed(key, n, 2, 5e6, 3), 1);
    /* Meanwhile the body turned cheap: 1 ps per iteration, 1 us of work, serial anyway. */
    for (int i = 0; i < 8; i++) prange__cost_record(key, n, n, 1e-3 * (double)n);
    cr_assert_eq(capped_calls(key, n), 16);
    prange_plan p;
    bo_call(key, n, &p); /* the probe: planned serial by its cost */
    cr_assert_eq(p.serial, 1);
    cr_assert_str_eq(p.reason, prange__why_fork);
    prange__learned l = prange__cost_get(key, n);
    cr_assert_eq(l.probe, 0, "a probe that plans serial leaves no back-off (its calls would stay timed)");
    cr_assert_eq(l.cap, 0);
}

/* Trying the team under a busy figure (plan.c). Empty regions said 8 ms (a worker waiting
 * for a core between back-to-back regions); a loop's own call may not wait at all. A
 * learned loop of at least 1/16 of the figure runs on the team planned at the quiet
 * figure, and its windows of 2 ms of serial work decide; shorter loops, hinted ones and a
 * fixed PRANGE_FORK_NS keep the figure's verdict. Mutant checks: without the trial the
 * first plan is serial; with 20 ms windows the lost trial below stays open. */
static void busy_figure_2(void)
{
    prange_set_num_threads(2);
    prange__fork_ensure();
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 8e6);
    prange__fork_set_measure_hook(fake_busy); /* the loops kept serial probe: still busy */
    cr_assert_eq(prange__fork_ns(2, NULL), 8e6);
}

Test(backoff, a_busy_figure_tries_the_team_on_long_loops)
{
    busy_figure_2();
    const void *key = (const void *)bo_body;
    uint64_t n = BO_N; /* 1 ms a call at 1 ns: at least 8 ms / 16 */
    learn_1ns(key, n);
    prange_plan p, q;
    bo_call(key, n, &p);
    cr_assert_eq(p.serial, 0, "a 1 ms loop kept serial by an empty region's 8 ms");
    cr_assert_eq(p.threads, 2);
    cr_assert_str_eq(p.reason, prange__why_trial);
    cr_assert_leq(p.fork_ns, 2000, "planned at the quiet figure, not %.0f ns", p.fork_ns);
    cr_assert_eq(prange_plan_for_body((int64_t)n, bo_body, NULL, &q), 0);
    cr_assert_eq(q.threads, 2, "a plan query says what runs");
    cr_assert_eq(q.reason, prange__why_trial);

    /* Shorter than 1/16 of the figure: 100 us. A hint: the caller's claim is not tried. */
    learn_1ns(key, n / 10);
    bo_call(key, n / 10, &p);
    cr_assert_eq(p.serial, 1, "%s fork %.0f work %.0f", p.reason, p.fork_ns, p.work_ns);
    cr_assert_eq(p.reason, prange__why_fork);
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1;
    cr_assert_eq(prange_plan_for_body((int64_t)n, bo_body, &o, &q), 0);
    cr_assert_eq(q.serial, 1, "a hinted call is not tried");

    /* The team wins its window (2 calls, 1.2 ms against 2 ms): it goes on. */
    cr_assert_eq(feed(key, n, 2, 0.6e6, 2), 0);
    prange__learned l = bo_call(key, n, &p);
    cr_assert_eq(p.threads, 2);
    cr_assert_eq(l.cap, 0);
    /* It loses one (3 ms against 2 ms): back to serial as a lost probe window backs off,
     * max(16, 32 x 1 ms lost / 1 ms a call) = 32 calls, then tried again. */
    cr_assert_eq(feed(key, n, 2, 1.5e6, 2), 1, "2 ms of serial work judge a tried team");
    l = bo_call(key, n, &p);
    cr_assert_eq(l.cap, 1);
    cr_assert_eq(p.serial, 1);
    cr_assert_eq(capped_calls(key, n), 31);
    l = bo_call(key, n, &p);
    cr_assert_eq(l.probe, 1);
    cr_assert_eq(p.threads, 2, "the probe window tries the team again");
    cr_assert_eq(p.reason, prange__why_trial);
}

/* The same through prange_for: the plan that runs is the trial's, on 2 threads, and
 * PRANGE_VERBOSE=2 names it. (What the figure is after this call depends on its own
 * samples; the decision was taken before it ran.) */
Test(backoff, a_tried_loop_runs_on_the_team_and_says_so)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    busy_figure_2();
    team_ctx c = {0};
    int64_t n = 1 << 20;
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)team_body, (uint64_t)n, (uint64_t)n, (double)n);
    t_capture cap;
    static char buf[1 << 16];
    cr_assert_eq(t_capture_start(&cap), 0);
    cr_assert_eq(prange_for(0, n, team_body, &c), 0);
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_eq(atomic_load(&c.team), 2, "1 ms of learned work, an 8 ms figure: the team is tried");
    cr_assert_not_null(strstr(buf, "reason=fork-join figure busy: trying the team"), "%s", buf);
}

Test(backoff, a_fixed_figure_is_never_tried_against)
{
    setenv("PRANGE_FORK_NS", "8000000", 1);
    prange_set_num_threads(2);
    const void *key = (const void *)bo_body;
    learn_1ns(key, BO_N);
    prange_plan p;
    bo_call(key, BO_N, &p);
    cr_assert_eq(p.serial, 1, "PRANGE_FORK_NS is the user's figure");
    cr_assert_eq(p.reason, prange__why_fork);
}

/* ---- first calls of reductions ------------------------------------------------------------ */

/* ~200 us of CPU time per iteration, adding values that round differently in every order;
 * notes which members folded blocks. */
static void dear_reduce(void *p, int64_t b, int64_t e, void *acc)
{
    coarse_ctx *c = p;
    int tid = prange_thread_id();
    if (tid < 32) atomic_fetch_or(&c->used, 1u << tid);
    for (int64_t i = b; i < e; i++) {
        uint64_t until = prange__cpu_ns() + 200000;
        while (prange__cpu_ns() < until) {}
        *(double *)acc += 1.0 / (double)(i + 3) * (i % 2 ? 1e8 : 1e-8);
    }
}

Test(first_call, a_reduction_times_a_first_slice_then_forks, .timeout = 120)
{
    /* 64 blocks of 200 us (grain 1), no hint: the default cost says serial. The first
     * call folds a slice inline, times it, and hands the rest to the team; member 0 goes
     * on with the slice's stack, so the bits are those of a serial fold. Teams above 2
     * oversubscribe this 2-core machine: the decisions and the bits are what is checked. */
    setenv("PRANGE_FORK_NS", "20000", 1);
    prange_opts o = PRANGE_OPTS_INIT;
    o.grain = 1;
    o.flags = PRANGE_SERIAL;
    coarse_ctx c = {0};
    double want = 0;
    cr_assert_eq(prange_reduce(0, 64, prange_reducer_sum_f64(), dear_reduce, &c, &want, &o), 0);
    o.flags = 0;
    static const char keys[4];
    const int teams[4] = {2, 3, 4, 8};
    for (int k = 0; k < 4; k++) {
        prange_set_num_threads(teams[k]);
        o.key = &keys[k]; /* a first call each time: nothing learned under this key */
        prange_plan p;
        cr_assert_eq(prange_plan_for_body(64, NULL, &o, &p), 0);
        cr_assert_eq(p.serial, 1, "team %d: nothing known yet, the default cost says serial", teams[k]);
        atomic_store(&c.used, 0);
        double r = 0;
        cr_assert_eq(prange_reduce(0, 64, prange_reducer_sum_f64(), dear_reduce, &c, &r, &o), 0);
        cr_assert_eq(memcmp(&r, &want, sizeof r), 0, "team %d: %.17g, serial %.17g", teams[k], r, want);
        cr_assert_eq(__builtin_popcount(atomic_load(&c.used)), teams[k], "team %d: the blocks ran on %d members",
                     teams[k], __builtin_popcount(atomic_load(&c.used)));
        cr_assert_eq(prange_plan_for_body(64, NULL, &o, &p), 0);
        cr_assert_eq(p.serial, 0, "team %d: the next call knows the cost", teams[k]);
        cr_assert_geq(p.cost_ns, 150000, "team %d: learned %.0f ns per iteration", teams[k], p.cost_ns);
    }
}

static void one_block_sum(void *c, int64_t b, int64_t e, void *acc)
{
    team_body(c, b, e);
    *(double *)acc += (double)(e - b);
}

Test(first_call, a_cheap_reduction_stays_inline_and_learns)
{
    if (under_instrumentation()) cr_skip_test("instrumented, 156 one-iteration blocks take more than 25 us");
    /* 5000 one-iteration blocks of an add: the slice (156 blocks) decides only from 25 us
     * of CPU time, far above what it takes. The rest runs inline, timed: the cost is
     * learned from it. */
    setenv("PRANGE_FORK_NS", "100000", 1);
    prange_set_num_threads(2);
    static const char key = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.grain = 1;
    o.key = &key;
    double r = 0;
    team_ctx c = {0};
    cr_assert_eq(prange_reduce(0, 5000, prange_reducer_sum_f64(), one_block_sum, &c, &r, &o), 0);
    cr_assert_eq(r, 5000.0);
    cr_assert_eq(atomic_load(&c.team), 1, "5000 cheap iterations do not pay 100 us of fork-join");
    cr_assert_gt(prange__cost_lookup(&key, 5000), 0, "the first call learned nothing");
    prange_plan p;
    cr_assert_eq(prange_plan_for_body(5000, NULL, &o, &p), 0);
    cr_assert_eq(p.serial, 1, "5000 adds do not pay 100 us of fork-join");
}

/* A reduction of fewer than 2 blocks' worth cannot split: it runs inline without planning,
 * so it neither reads nor learns a cost (lib/reduce.c). With a grain that lets it split,
 * the same call plans, and learns. Its bits are the serial fold's either way. */
typedef struct {
    team_ctx team;
    const double *x;
} short_ctx;
static void short_sum(void *c, int64_t b, int64_t e, void *acc)
{
    short_ctx *s = c;
    team_body(&s->team, b, e);
    double v = *(double *)acc;
    for (int64_t i = b; i < e; i++) v += s->x[i];
    *(double *)acc = v;
}

Test(plans, a_reduction_too_short_to_split_plans_and_learns_nothing)
{
    setenv("PRANGE_FORK_NS", "100", 1); /* a team would pay for anything that can split */
    prange_set_num_threads(2);
    static int key;
    double x[64], ref = 0;
    for (int i = 0; i < 64; i++) x[i] = 1.0 / (i + 3) + i * 0.125;
    for (int i = 0; i < 64; i++) ref += x[i]; /* one block: the body's own left-to-right fold */
    prange_opts o = PRANGE_OPTS_INIT;
    o.key = &key;
    for (int k = 0; k < 200; k++) {
        short_ctx c = {.x = x};
        double r = -1;
        cr_assert_eq(prange_reduce(0, 64, prange_reducer_sum_f64(), short_sum, &c, &r, &o), 0);
        cr_assert(memcmp(&r, &ref, sizeof r) == 0, "call %d: %.17g, serial fold %.17g", k, r, ref);
        cr_assert_eq(atomic_load(&c.team.team), 1, "64 iterations in one block ran on a team");
    }
    cr_assert_eq(prange__cost_lookup(&key, 64), 0, "a reduction that cannot split learned a cost");
    o.grain = 16; /* 4 blocks: it may split, so it plans and learns */
    for (int k = 0; k < 20; k++) {
        short_ctx c = {.x = x};
        double r = 0;
        cr_assert_eq(prange_reduce(0, 64, prange_reducer_sum_f64(), short_sum, &c, &r, &o), 0);
    }
    cr_assert_gt(prange__cost_lookup(&key, 64), 0, "20 calls of a reduction that can split learned nothing");
}

/* PRANGE_VERBOSE=2 plans a short reduction anyway, to print it: never silent. */
Test(plans, a_short_reduction_is_printed_under_verbose_2)
{
    setenv("PRANGE_VERBOSE", "2", 1); /* read once, at the first call */
    double x[64], r = 0;
    for (int i = 0; i < 64; i++) x[i] = i;
    prange_opts o = PRANGE_OPTS_INIT;
    o.label = "short-dot";
    t_capture cap;
    static char buf[1 << 16];
    cr_assert_eq(t_capture_start(&cap), 0);
    short_ctx c = {.x = x};
    cr_assert_eq(prange_reduce(0, 64, prange_reducer_sum_f64(), short_sum, &c, &r, &o), 0);
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_eq(r, 2016.0);
    const char *line = strstr(buf, "reduce short-dot");
    cr_assert_not_null(line, "no plan printed for a short reduction under PRANGE_VERBOSE=2:\n%s", buf);
    cr_assert_not_null(strstr(line, "reason=fewer than 2 x grain iterations"), "its reason: %s", line);
}

/* ---- a kept inline plan follows what it read ----------------------------------------------- */

/* A loop planned serial again and again runs without planning (lib/loop.c, inline_memo);
 * each input of its plan changing must make the next call plan again. */
static void memo_body(void *c, int64_t b, int64_t e) { team_body(c, b, e); }

static int memo_team(int64_t n)
{
    team_ctx c = {0};
    cr_assert_eq(prange_for(0, n, memo_body, &c), 0);
    return atomic_load(&c.team);
}

/* 1 ns per iteration for this size class (8 samples: what the calls sample themselves, 1
 * in 64, cannot move it; under valgrind a call can take 100x that), then 20 calls: the key
 * is warm and its serial plan kept (n cheap iterations never pay 100 us of fork-join). */
static void memo_warm(int64_t n)
{
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, (uint64_t)n, (uint64_t)n, (double)n);
    for (int i = 0; i < 20; i++) cr_assert_eq(memo_team(n), 1, "call %d of a cheap loop ran on a team", i);
}

/* A fixed 100 us fork-join figure, a team of 2, and the 1000-iteration key warm. */
static void memo_start(void)
{
    setenv("PRANGE_FORK_NS", "100000", 1);
    prange_set_num_threads(2);
    memo_warm(1000);
}

Test(plans, a_kept_inline_plan_sees_a_new_cost)
{
    memo_start();
    /* Another call (or thread) learned 1 ms per iteration: 1 s of work. */
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 1000, 1000, 1e9);
    cr_assert_eq(memo_team(1000), 2, "the kept serial plan outlived the cost it was made from");
}

Test(plans, a_kept_inline_plan_sees_a_new_size_or_opts)
{
    memo_start();
    /* The size class of 4000 learned 1 ms per iteration. */
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 4000, 4000, 4e9);
    cr_assert_eq(memo_team(4000), 2, "another size reused the plan of 1000");
    memo_warm(1000);
    team_ctx c = {0};
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1e6; /* a hint: never the kept plan */
    cr_assert_eq(prange_for_opts(0, 1000, memo_body, &c, &o), 0);
    cr_assert_eq(atomic_load(&c.team), 2, "a call with a cost hint reused the kept plan");
}

Test(plans, a_kept_inline_plan_sees_a_new_fork_figure)
{
    prange_set_num_threads(2);
    prange__fork_ensure();
    /* 100 iterations of 2 ns: 200 ns of work, serial at any real figure, and no probe
     * could change that (a quiet figure is >= 100 ns): the plan is kept. Then the figure
     * falls to 30 ns (samples, not a probe): 30 + 100 < 0.85 x 200, a team pays. */
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 600);
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 100, 100, 200);
    for (int i = 0; i < 20; i++) cr_assert_eq(memo_team(100), 1, "call %d ran on a team at 600 ns a fork", i);
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 30);
    cr_assert_eq(memo_team(100), 2, "the kept serial plan outlived the fork-join figure it was made from");
}

/* A serial plan long enough that a team would pay at the quiet machine's figure probes the
 * figure whenever a probe is due (plan.c, plan_probe_team). Such a length keeps its inline
 * plan between probes and gives the call back to plan() once the next probe is due
 * (prange__memo_covers); shorter lengths of its class, which never probe, keep it then too.
 * The probe hook takes 20 ms, so the next probe comes 0.5 s later (calibrate.c: at least 32x
 * what a probe took). */
static atomic_int memo_probes;
static double slow_probe(int t)
{
    (void)t;
    atomic_fetch_add(&memo_probes, 1);
    spin_wall_ns(2e7);
    return prange__fork_ns(2, NULL); /* the busy figure again: nothing moves */
}

Test(plans, a_kept_inline_plan_waits_for_the_next_probe)
{
    prange_set_num_threads(2);
    prange__fork_ensure();
    int region = prange__pool_size() > 2 ? prange__pool_size() : 2;
    double q0 = prange__fork_quiet_ns();
    /* A figure of 4x the quiet one: busy enough that a team pays later than the quiet
     * figure says, not enough for the trial (10x). */
    for (int i = 0; i < 8; i++) prange__fork_observe(region, 4 * q0);
    for (int i = 0; i < 8; i++) prange__fork_observe(2, 4 * q0);
    double q = prange__fork_quiet_ns(), fork = prange__fork_ns(region, NULL);
    cr_assert(fork >= 3.5 * q && fork < 10 * q, "figure %.0f ns, quiet %.0f ns", fork, q);
    /* 1000 iterations whose work a team of 2 would speed up at the quiet figure, but not
     * at the current one (plan(): serial below 2F). */
    double serial_to = 2 * fork < fork / 0.35 ? 2 * fork : fork / 0.35, work = (q / 0.35 + serial_to) / 2;
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 1000, 1000, work);
    prange__fork_set_measure_hook(slow_probe);
    for (int i = 0; i < 20; i++) cr_assert_eq(memo_team(1000), 1, "call %d ran on a team", i);
    cr_assert_eq(atomic_load(&memo_probes), 1, "%d probes, where the first call probes", atomic_load(&memo_probes));
    cr_assert(prange__memo_kept((const void *)memo_body, 1000), "no inline plan kept between probes");
    /* 300 iterations (the same size class) would not pay even at the quiet figure. */
    cr_assert(prange__memo_kept((const void *)memo_body, 300));
    usleep(600000); /* the next probe is due */
    cr_assert_not(prange__memo_kept((const void *)memo_body, 1000), "the kept plan outlived its probe's gap");
    cr_assert(prange__memo_kept((const void *)memo_body, 300), "a length that never probes lost its kept plan");
    cr_assert_eq(memo_team(1000), 1);
    cr_assert_eq(atomic_load(&memo_probes), 2, "the call after the gap did not probe");
}

/* Once the pool has the team, a team of 2 pays from F / 0.35 of work, not from 2F (plan():
 * F + W/2 < 0.85 W): a length between the two keeps its inline plan. A fixed 100 us figure
 * (nothing probes): 1000 iterations of 250 ns, 250 us of work. */
Test(plans, a_kept_inline_plan_reaches_where_a_team_of_2_pays)
{
    memo_start();
    cr_assert_eq(team_of_call(4, 1e9), 2, "the pool did not get its team of 2");
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 1000, 1000, 2.5e5);
    for (int i = 0; i < 4; i++) cr_assert_eq(memo_team(1000), 1, "call %d: 250 us of work ran on a team", i);
    cr_assert(prange__memo_kept((const void *)memo_body, 1000), "no inline plan kept between 2F and F / 0.35");
    /* 300 us is past F / 0.35 (286 us): a team of 2 pays. */
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 1000, 1000, 3e5);
    cr_assert_eq(memo_team(1000), 2);
}

/* The loops of a sequence of small loops (a solver step, a sweep and its reduction) each
 * keep their inline decision: a thread keeps PRANGE__MEMOS, one per key slot. Eight
 * bodies, and the first of them that fall in different slots. */
static atomic_int seq_mark; /* distinct bodies: no two may be folded into one */
static void seq_at(int mark, void *c, int64_t b, int64_t e)
{
    atomic_store_explicit(&seq_mark, mark, memory_order_relaxed);
    team_body(c, b, e);
}
static void seq_body0(void *c, int64_t b, int64_t e) { seq_at(0, c, b, e); }
static void seq_body1(void *c, int64_t b, int64_t e) { seq_at(1, c, b, e); }
static void seq_body2(void *c, int64_t b, int64_t e) { seq_at(2, c, b, e); }
static void seq_body3(void *c, int64_t b, int64_t e) { seq_at(3, c, b, e); }
static void seq_body4(void *c, int64_t b, int64_t e) { seq_at(4, c, b, e); }
static void seq_body5(void *c, int64_t b, int64_t e) { seq_at(5, c, b, e); }
static void seq_body6(void *c, int64_t b, int64_t e) { seq_at(6, c, b, e); }
static void seq_body7(void *c, int64_t b, int64_t e) { seq_at(7, c, b, e); }
static prange_body_fn const seq_bodies[8] = {seq_body0, seq_body1, seq_body2, seq_body3,
                                             seq_body4, seq_body5, seq_body6, seq_body7};

/* Up to `most` bodies of seq_bodies in distinct memo slots into out; returns how many. */
static int seq_distinct(prange_body_fn *out, int most)
{
    prange__inline_memo base[PRANGE__MEMOS];
    int k = 0;
    for (int i = 0; i < 8 && k < most; i++) {
        int taken = 0;
        for (int j = 0; j < k; j++)
            taken |= prange__memo_slot(base, (const void *)out[j]) == prange__memo_slot(base, (const void *)seq_bodies[i]);
        if (!taken) out[k++] = seq_bodies[i];
    }
    return k;
}

/* 1 ns an iteration for n (as memo_warm) and one call: kept when serial at that cost. */
static int seq_call(prange_body_fn body, int64_t n)
{
    team_ctx c = {0};
    cr_assert_eq(prange_for(0, n, body, &c), 0);
    return atomic_load(&c.team);
}
static void seq_learn(prange_body_fn body, int64_t n)
{
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)body, (uint64_t)n, (uint64_t)n, (double)n);
}

/* A new budget moves the epoch (the memo no longer compares it on every call): the kept
 * plan is dropped, and the next call plans and keeps one again. */
Test(plans, a_kept_inline_plan_sees_a_new_budget)
{
    memo_start();
    cr_assert(prange__memo_kept((const void *)memo_body, 1000), "the cheap loop kept no inline plan");
    cr_assert_eq(prange_set_num_threads(3), 0);
    cr_assert_not(prange__memo_kept((const void *)memo_body, 1000), "the kept plan outlived the budget of 2");
    cr_assert_eq(memo_team(1000), 1);
    cr_assert(prange__memo_kept((const void *)memo_body, 1000), "no inline plan kept at the new budget");
    cr_assert_eq(prange_set_num_threads(3), 0); /* the same budget: nothing moves */
    cr_assert(prange__memo_kept((const void *)memo_body, 1000), "setting the same budget dropped the plan");
}

/* A kept plan's own sampled calls (1 in 64) record a cost and move the epoch; when that
 * sample was the only change, the thread's kept plans carry over (lib/loop.c,
 * memo_sampled): the key's own at its new cost, the others as they were. Four samples
 * cannot move the lower median of the 8 recorded (1 ns an iteration). */
Test(plans, a_kept_inline_plan_survives_its_own_samples)
{
    memo_start();
    prange_body_fn other = seq_body3; /* a second loop of the sequence, in another slot */
    prange__inline_memo base[PRANGE__MEMOS];
    if (prange__memo_slot(base, (const void *)other) == prange__memo_slot(base, (const void *)memo_body))
        other = seq_body5;
    cr_assert_neq(prange__memo_slot(base, (const void *)other), prange__memo_slot(base, (const void *)memo_body));
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)other, 1000, 1000, 1000);
    team_ctx c = {0};
    cr_assert_eq(prange_for(0, 1000, other, &c), 0);
    cr_assert_eq(memo_team(1000), 1);
    int sampled = 0;
    for (int i = 0; i < 4 * 64; i++) {
        uint64_t before = atomic_load(&prange__plan_epoch);
        int due = prange__sample_due();
        cr_assert_eq(memo_team(1000), 1, "call %d of a cheap loop ran on a team", i);
        if (due) {
            sampled++;
            cr_assert_neq(atomic_load(&prange__plan_epoch), before, "a sampled call recorded nothing");
        }
        cr_assert(prange__memo_kept((const void *)memo_body, 1000), "call %d (sampled: %d) dropped its kept plan", i,
                  due);
        cr_assert(prange__memo_kept((const void *)other, 1000), "call %d (sampled: %d) dropped another loop's plan", i,
                  due);
    }
    cr_assert_geq(sampled, 3, "only %d of 256 calls were sampled", sampled);
}

/* ... but a sample that makes the loop dear ends its own kept plan: 4 samples of 1 ms an
 * iteration recorded (the median still 1 ns), then one sampled call that spins 2 ms
 * (2 us an iteration: 2 ms of work against a 100 us fork-join figure). */
static atomic_int spin_next;
static void spin_body(void *c, int64_t b, int64_t e)
{
    team_body(c, b, e);
    if (atomic_exchange(&spin_next, 0)) spin_wall_ns(2e6);
}

Test(plans, a_kept_inline_plan_sees_its_own_dear_sample)
{
    setenv("PRANGE_FORK_NS", "100000", 1);
    prange_set_num_threads(2);
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)spin_body, 1000, 1000, 1000);
    for (int i = 0; i < 4; i++) prange__cost_record((const void *)spin_body, 1000, 1000, 1e9);
    team_ctx c = {0};
    while (!prange__sample_due()) cr_assert_eq(prange_for(0, 1000, spin_body, &c), 0);
    cr_assert_eq(atomic_load(&c.team), 1, "a loop of 1 ns an iteration (the median) ran on a team");
    cr_assert(prange__memo_kept((const void *)spin_body, 1000), "the cheap loop kept no inline plan");
    atomic_store(&spin_next, 1);
    cr_assert_eq(prange_for(0, 1000, spin_body, &c), 0); /* sampled: 2 ms recorded */
    cr_assert_not(prange__memo_kept((const void *)spin_body, 1000), "the kept plan outlived its own dear sample");
    team_ctx d = {0};
    cr_assert_eq(prange_for(0, 1000, spin_body, &d), 0);
    cr_assert_eq(atomic_load(&d.team), 2, "2 ms of work after the dear sample ran inline");
}

Test(plans, the_loops_of_a_sequence_each_keep_their_inline_plan)
{
    setenv("PRANGE_FORK_NS", "100000", 1);
    prange_set_num_threads(2);
    prange_body_fn b[PRANGE__MEMOS];
    int k = seq_distinct(b, PRANGE__MEMOS);
    cr_assert_geq(k, 3, "8 neighbouring functions fell in %d of %d memo slots", k, PRANGE__MEMOS);
    for (int j = 0; j < k; j++) seq_learn(b[j], 1000);
    /* Called in turn, as a solver step calls its loops: each keeps its own. */
    for (int round = 0; round < 20; round++)
        for (int j = 0; j < k; j++) cr_assert_eq(seq_call(b[j], 1000), 1, "a cheap loop ran on a team");
    for (int j = 0; j < k; j++)
        cr_assert(prange__memo_kept((const void *)b[j], 1000), "loop %d of %d in turn lost its inline plan", j, k);
    /* Each still follows what it read: a dear cost for one makes it plan again (a team),
     * and the others then keep theirs again. */
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)b[0], 1000, 1000, 1e9);
    cr_assert_eq(seq_call(b[0], 1000), 2, "a kept inline plan outlived the cost it was made from");
    for (int j = 1; j < k; j++) {
        cr_assert_eq(seq_call(b[j], 1000), 1);
        cr_assert(prange__memo_kept((const void *)b[j], 1000), "loop %d did not keep its plan again", j);
    }
}

/* A hinted call that the fork-join figure makes serial keeps an inline plan too (its plan
 * reads only the hint and the shared state), but only for that hint: a dearer hint, no
 * hint, or a learned memo never stands in for another (lib/loop.c, memo_fits). */
static int hinted_call(prange_body_fn body, int64_t n, double cost_ns)
{
    team_ctx c = {0};
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = cost_ns;
    cr_assert_eq(prange_for_opts(0, n, body, &c, &o), 0);
    return atomic_load(&c.team);
}

Test(plans, a_hinted_loop_keeps_an_inline_plan_for_its_hint_only)
{
    setenv("PRANGE_FORK_NS", "100000", 1); /* 1000 x 1 ns: serial; 1000 x 1 us: a team */
    prange_set_num_threads(2);
    prange_plan p;
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1;
    cr_assert_eq(prange_plan_for_body(1000, seq_body1, &o, &p), 0);
    cr_assert(p.serial, "1000 x 1 ns planned on %d threads", p.threads);
    cr_assert_not(prange__memo_kept((const void *)seq_body1, 1000), "nothing ran yet");
    for (int i = 0; i < 5; i++) cr_assert_eq(hinted_call(seq_body1, 1000, 1), 1, "a cheap hinted loop ran on a team");
    cr_assert(prange__memo_kept((const void *)seq_body1, 1000), "the cheap hinted loop kept no inline plan");
    /* The same body and length with a dear hint plans, and runs on a team, past the memo. */
    cr_assert_eq(hinted_call(seq_body1, 1000, 1000), 2, "a memo made at 1 ns served a 1 us hint");
    /* Without a hint the call plans at its learned cost (dear here, recorded before the
     * memo was made), not at the memo's hint. */
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)seq_body1, 1000, 1000, 1e9);
    for (int i = 0; i < 5; i++) cr_assert_eq(hinted_call(seq_body1, 1000, 1), 1);
    cr_assert(prange__memo_kept((const void *)seq_body1, 1000));
    cr_assert_eq(seq_call(seq_body1, 1000), 2, "a hinted memo served a call without a hint");
    /* And a learned memo never serves a hinted call: learned cheap, hinted dear. */
    seq_learn(seq_body2, 1000);
    for (int i = 0; i < 5; i++) cr_assert_eq(seq_call(seq_body2, 1000), 1);
    cr_assert(prange__memo_kept((const void *)seq_body2, 1000));
    cr_assert_eq(hinted_call(seq_body2, 1000, 1000), 2, "a learned memo served a hinted call");
    prange_set_num_threads(0);
}

/* Memos come from a static pool of 64 per-thread groups: a thread's group goes back to the
 * pool when it exits, so any number of threads, one after another, each keep theirs. */
static void *seq_thread(void *arg)
{
    int *kept = arg;
    for (int i = 0; i < 20; i++) seq_call(seq_body0, 1000);
    *kept = prange__memo_kept((const void *)seq_body0, 1000);
    return NULL;
}

Test(plans, threads_one_after_another_each_keep_an_inline_plan)
{
    setenv("PRANGE_FORK_NS", "100000", 1);
    prange_set_num_threads(2);
    seq_learn(seq_body0, 1000);
    cr_assert_not(prange__memo_kept((const void *)seq_body0, 1000), "nothing ran yet");
    for (int t = 0; t < 150; t++) {
        pthread_t th;
        int kept = 0;
        cr_assert_eq(pthread_create(&th, NULL, seq_thread, &kept), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        cr_assert(kept, "thread %d of 150 kept no inline plan: the pool's groups were not given back", t);
    }
    cr_assert_not(prange__memo_kept((const void *)seq_body0, 1000), "another thread's memo showed on this one");
}

/* ---- a kept parallel plan follows what it read ---------------------------------------------- */

/* A loop called again with the same inputs reuses its parallel plan while the shared state
 * is unchanged (sched/plan.c, kept plans). Each input and each calling context it does not
 * name must still decide: the budget, the runtime's nesting limit, nesting, a user's
 * OpenMP region, the length (the chunks), a learned cost. */
typedef struct {
    _Atomic int64_t iters;
    atomic_int team, level;
} cover_ctx;

static void raise_to(atomic_int *v, int k)
{
    int cur = atomic_load(v);
    while (k > cur && !atomic_compare_exchange_weak(v, &cur, k)) {}
}

static void cover_body(void *c, int64_t b, int64_t e)
{
    cover_ctx *t = c;
    atomic_fetch_add(&t->iters, e - b);
    raise_to(&t->team, prange_num_threads());
    raise_to(&t->level, omp_get_level()); /* the OpenMP regions around the body */
}

/* A hinted call (1 ms an iteration: a team always pays from 8 iterations, grain 4),
 * checking that the chunks covered [0, n) exactly once; *level: the deepest OpenMP nesting
 * its body ran at (NULL: not asked). Returns the team its body saw. */
static int kept_call(int64_t n, int *level)
{
    cover_ctx c = {0};
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1e6;
    o.grain = 4;
    cr_assert_eq(prange_for_opts(0, n, cover_body, &c, &o), 0);
    cr_assert_eq(atomic_load(&c.iters), n, "the chunks of %lld iterations covered %lld", (long long)n,
                 (long long)atomic_load(&c.iters));
    if (level) *level = atomic_load(&c.level);
    return atomic_load(&c.team);
}
static int kept_team(int64_t n) { return kept_call(n, NULL); }

static void kept_start(void)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    for (int i = 0; i < 20; i++) cr_assert_eq(kept_team(64), 2, "call %d of a dear loop ran inline", i);
}

Test(plans, a_kept_parallel_plan_sees_the_budget_and_the_runtime)
{
    kept_start();
    prange_set_num_threads(1);
    cr_assert_eq(kept_team(64), 1, "the kept plan outlived a budget of 1");
    prange_set_num_threads(2);
    cr_assert_eq(kept_team(64), 2);
    omp_set_max_active_levels(0);
    cr_assert_eq(kept_team(64), 1, "the kept plan ignored omp_set_max_active_levels(0)");
    omp_set_max_active_levels(1);
    cr_assert_eq(kept_team(64), 2);
}

/* A nested call runs inline in its worker: its body is at the enclosing loop's OpenMP
 * level (1), where a team's would be one deeper. */
static void nested_kept(void *c, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    int level = 0;
    kept_call(64, &level);
    raise_to(c, level);
}

Test(plans, a_kept_parallel_plan_is_not_used_nested_or_in_an_openmp_region)
{
    kept_start();
    atomic_int inner = 0;
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1e6;
    cr_assert_eq(prange_for_opts(0, 2, nested_kept, &inner, &o), 0);
    cr_assert_eq(atomic_load(&inner), 1, "a nested call forked a region of its own (level %d)", atomic_load(&inner));
    /* Nested in an inline loop, which holds none of the budget: only the nesting keeps it
     * inline. */
    atomic_store(&inner, 0);
    o.flags = PRANGE_SERIAL;
    cr_assert_eq(prange_for_opts(0, 2, nested_kept, &inner, &o), 0);
    cr_assert_eq(atomic_load(&inner), 0, "a call nested in an inline loop forked (level %d)", atomic_load(&inner));
    int level = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        kept_call(64, &level);
    }
    cr_assert_eq(level, 1, "a call inside a user's OpenMP region forked a region of its own (level %d)", level);
    cr_assert_eq(kept_team(64), 2);
}

Test(plans, a_kept_parallel_plan_is_per_length_and_learned_cost)
{
    kept_start();
    /* Lengths that share a slot or not, alternated: each call's chunks cover its own range. */
    static const int64_t lens[] = {64, 68, 4096, 65, 64, 1 << 20, 3, 64};
    for (int r = 0; r < 50; r++)
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) kept_team(lens[i]);
    /* 4 iterations are fewer than 2 x grain: inline, whatever 64 (the same slot) kept. */
    for (int r = 0; r < 10; r++) {
        cr_assert_eq(kept_team(64), 2);
        cr_assert_eq(kept_team(4), 1, "4 iterations ran the plan kept for 64");
    }
    /* A learned loop: dear (1 s), so parallel and kept; then another call learns it cheap
     * (1 us: below 0.85 x (1 us of fork-join + half of it)). */
    team_ctx c = {0};
    for (int i = 0; i < 8; i++) prange__cost_record((const void *)memo_body, 1000, 1000, 1e9);
    for (int i = 0; i < 10; i++) {
        c.team = 0;
        cr_assert_eq(prange_for(0, 1000, memo_body, &c), 0);
        cr_assert_eq(atomic_load(&c.team), 2, "call %d of a 1 s loop ran inline", i);
    }
    for (int i = 0; i < 64; i++) prange__cost_record((const void *)memo_body, 1000, 1000, 1000);
    c.team = 0;
    cr_assert_eq(prange_for(0, 1000, memo_body, &c), 0);
    cr_assert_eq(atomic_load(&c.team), 1, "the kept parallel plan outlived the cost it was made from");
}

/* ---- a region's cost per shared loop ------------------------------------------------------ */

/* Member 0 plans a loop of 600 x 1 ns inside the region (the plan its loops would get). */
static void region_plan_member(void *p)
{
    if (prange_thread_id() != 0) return;
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1};
    cr_assert_eq(prange_plan_for(600, &o, p), 0);
}
static prange_plan region_plan(int *key)
{
    prange_plan p;
    memset(&p, 0, sizeof p);
    prange_opts ro = {.struct_size = sizeof(prange_opts), .threads = 2, .key = key};
    cr_assert_eq(prange_region(region_plan_member, &p, &ro), 0);
    return p;
}

/* Sharing a loop among awake members is charged what sampled shared loops measured (the
 * hand-out and the barrier), not half a fork-join: a 2000² wavefront whose diagonals paid
 * the barrier but not half the slow regime's fork-join figure ran 1.33x its OpenMP twin.
 * The figure never exceeds the fork-join one. */
Test(fork_figure, a_region_charges_its_measured_cost_per_loop)
{
    prange_set_num_threads(2);
    static int keys[3]; /* a region key each: a region that shared nothing runs inline next */
    prange_plan p = region_plan(&keys[0]);
    double half = prange__fork_ns(2, NULL) / 2;
    cr_assert_eq(p.fork_ns, half, "nothing measured yet: half the fork-join figure");
    cr_assert_eq(p.serial, 600 > half / 0.35 ? 0 : 1);
    for (int i = 0; i < 8; i++) prange__region_loop_observe(2, 100);
    p = region_plan(&keys[1]);
    cr_assert_eq(p.fork_ns, 100);
    cr_assert_eq(p.serial, 0, "600 ns of work pays a 100 ns hand-out and barrier");
    cr_assert_eq(p.threads, 2);
    for (int i = 0; i < 8; i++) prange__region_loop_observe(2, 1e7);
    p = region_plan(&keys[2]);
    cr_assert_eq(p.fork_ns, prange__fork_ns(2, NULL), "at most the fork-join figure");
    cr_assert_eq(p.serial, 1);
}

Test(fork_figure, a_fixed_figure_fixes_the_regions_too)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    for (int i = 0; i < 8; i++) prange__region_loop_observe(2, 100);
    static int key;
    prange_plan p = region_plan(&key);
    cr_assert_eq(p.fork_ns, 500);
}

/* ---- a team reads the call's description from the caller's hand-out ------------------------ */

/* Teams read a call's description (body, context, range, the reduction's functions) from
 * the calling thread's hand-out, rewritten only when the description changed (lib's
 * prange__launch). Each call must run what it was given: forced 2-thread loops and
 * reductions that differ from the previous call in one field only, in turn. */
typedef struct {
    int64_t *seen; /* seen[i]: the tag of the last body that wrote index i */
    int64_t tag;
    atomic_int team;
} launch_ctx;

static void launch_body_a(void *c, int64_t b, int64_t e)
{
    launch_ctx *l = c;
    raise_to(&l->team, prange_num_threads());
    for (int64_t i = b; i < e; i++) l->seen[i] = l->tag;
}
static void launch_body_b(void *c, int64_t b, int64_t e)
{
    launch_ctx *l = c;
    raise_to(&l->team, prange_num_threads());
    for (int64_t i = b; i < e; i++) l->seen[i] = -l->tag;
}
static void launch_sum(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    for (int64_t i = b; i < e; i++) *(double *)acc += (double)i;
}
static void launch_id(void *rctx, void *acc, size_t size)
{
    (void)rctx, (void)size;
    *(double *)acc = 0;
}
static void launch_add(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx, (void)size;
    *(double *)acc += *(const double *)rhs;
}
static void launch_sum_sq(void *c, int64_t b, int64_t e, void *acc)
{
    (void)c;
    for (int64_t i = b; i < e; i++) *(double *)acc += (double)i * (double)i;
}

/* 200 loops in a row, each differing from the one before in the body, the context, the
 * range's start or its length; then 200 reductions, in the body, the reducer, the start
 * or the length. Returns the largest team a body saw. */
static int launch_rounds(void)
{
    enum { N = 4096 };
    static int64_t seen[2][N + 64];
    launch_ctx ctx[2] = {{seen[0], 1, 0}, {seen[1], 2, 0}};
    prange_opts o = {.struct_size = sizeof o, .cost_ns = 1e6, .grain = 1};
    prange_opts ro = {.struct_size = sizeof ro, .cost_ns = 1e6, .grain = 64};
    static const prange_reducer own = {sizeof own, sizeof(double), launch_id, launch_add, NULL};
    int team = 1, body = 0, k = 0;
    int64_t begin = 0, n = N;
    for (int r = 0; r < 400; r++) {
        switch (r % 4) { /* one field at a time */
        case 0: body ^= 1; break;
        case 1: k ^= 1; break;
        case 2: begin = begin ? 0 : 16; break;
        default: n = n == N ? N - 8 : N; break;
        }
        if (r < 200) {
            launch_ctx *c = &ctx[k];
            c->tag = r + 1;
            cr_assert_eq(prange_for_opts(begin, begin + n, body ? launch_body_b : launch_body_a, c, &o), 0);
            int64_t want = body ? -(r + 1) : r + 1;
            for (int64_t i = begin; i < begin + n; i++)
                cr_assert_eq(c->seen[i], want, "loop %d: index %ld has %ld, not %ld", r, (long)i, (long)c->seen[i],
                             (long)want);
            int t = atomic_exchange(&c->team, 0);
            team = t > team ? t : team;
        } else {
            /* k picks the reducer: the built-in sum or the same sum through a user's
             * functions (other identity and combine pointers) */
            const prange_reducer *red = k ? &own : prange_reducer_sum_f64();
            prange_reduce_fn rf = body ? launch_sum_sq : launch_sum;
            double s = -1, ref = 0; /* integers below 2^53 in every partial: any order, same bits */
            rf(NULL, begin, begin + n, &ref);
            cr_assert_eq(prange_reduce(begin, begin + n, red, rf, NULL, &s, &ro), 0);
            cr_assert_eq(s, ref, "reduction %d: %.17g, not %.17g", r, s, ref);
        }
    }
    return team;
}

Test(launch, each_call_runs_what_it_was_given)
{
    prange_set_num_threads(2);
    int team = launch_rounds();
    cr_assert_eq(team, 2, "no call ran on a team (largest %d): the hand-out was not exercised", team);
    cr_assert(prange__handout != NULL && prange__handout != PRANGE__HANDOUT_BUSY,
              "after its calls the thread holds its hand-out");
}

/* A thread that finds its hand-out in use (a signal handler's call while its fork holds
 * it), or no hand-out at all (every group of the pool taken), passes the call in place. */
Test(launch, a_thread_without_its_hand_out_passes_the_call_in_place)
{
    prange_set_num_threads(2);
    unsigned char *own = prange__handout_claim();
    cr_assert_not_null(own, "a fresh process has groups to give");
    prange__handout = PRANGE__HANDOUT_BUSY;
    int team = launch_rounds();
    cr_assert_eq(prange__handout, PRANGE__HANDOUT_BUSY, "a call took a hand-out in use");
    prange__handout = own;
    cr_assert_eq(team, 2, "no call ran on a team (largest %d)", team);
}

static pthread_barrier_t g_hold;
static void *launch_holder(void *arg)
{
    *(int *)arg = prange__handout_claim() != NULL;
    pthread_barrier_wait(&g_hold); /* claimed (or not): counted */
    pthread_barrier_wait(&g_hold); /* released */
    return NULL;
}
static void *launch_late(void *arg)
{
    int *out = arg;
    out[0] = prange__handout_claim() != NULL;
    out[1] = launch_rounds();
    out[2] = prange__handout == NULL;
    return NULL;
}

Test(launch, threads_beyond_the_pool_pass_the_call_in_place)
{
    prange_set_num_threads(2);
    enum { HOLDERS = 80 }; /* more than the pool's 64 groups */
    pthread_t th[HOLDERS];
    int got[HOLDERS], claimed = 0;
    cr_assert_eq(pthread_barrier_init(&g_hold, NULL, HOLDERS + 1), 0);
    for (int t = 0; t < HOLDERS; t++) cr_assert_eq(pthread_create(&th[t], NULL, launch_holder, &got[t]), 0);
    pthread_barrier_wait(&g_hold);
    for (int t = 0; t < HOLDERS; t++) claimed += got[t];
    cr_assert(claimed < HOLDERS, "all %d threads got a group: the pool is no longer bounded", HOLDERS);
    int out[3] = {0};
    pthread_t late;
    cr_assert_eq(pthread_create(&late, NULL, launch_late, out), 0);
    cr_assert_eq(pthread_join(late, NULL), 0);
    pthread_barrier_wait(&g_hold);
    for (int t = 0; t < HOLDERS; t++) cr_assert_eq(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&g_hold);
    cr_assert_not(out[0], "the late thread found a group");
    cr_assert(out[2], "the late thread holds no hand-out");
    cr_assert_eq(out[1], 2, "no call of the late thread ran on a team (largest %d)", out[1]);
}
