/* test_profile.c — per-call-site profiles (PRANGE_PROFILE): the histogram's buckets and
 * error bound, exact figures under a fake clock, exact counts from 8 user threads at once
 * (the ThreadSanitizer target of tests/run --tsan), and misspelled PRANGE_* variables. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile.h"

/* ---- the histogram ------------------------------------------------------------------------ */

Test(profile, histogram_buckets_are_exact)
{
    /* Exact below 64; then 32 buckets per power of two. */
    cr_assert_eq(prange__hist_bucket(0), 0u);
    cr_assert_eq(prange__hist_bucket(63), 63u);
    cr_assert_eq(prange__hist_bucket(64), 64u);  /* [64, 65] */
    cr_assert_eq(prange__hist_bucket(65), 64u);
    cr_assert_eq(prange__hist_bucket(66), 65u);
    cr_assert_eq(prange__hist_bucket(127), 95u); /* [126, 127] */
    cr_assert_eq(prange__hist_bucket(128), 96u); /* [128, 131] */
    cr_assert_eq(prange__hist_bucket(131), 96u);
    cr_assert_eq(prange__hist_bucket(132), 97u);
    cr_assert_eq(prange__hist_bucket(1000), 64u + 3 * 32 + 30); /* [992, 1007]: 512 + 30 * 16 */
    cr_assert_eq(prange__hist_low(64u + 3 * 32 + 30), 992u);
    cr_assert_eq(prange__hist_high(64u + 3 * 32 + 30), 1007u);
    cr_assert_eq(prange__hist_mid(64u + 3 * 32 + 30), 999u);
    cr_assert_eq(prange__hist_bucket(UINT64_MAX), (unsigned)PRANGE__HIST_BUCKETS - 1);
    cr_assert_eq(prange__hist_bucket(UINT64_C(1) << PRANGE__HIST_TOP_BIT), (unsigned)PRANGE__HIST_BUCKETS - 1);
    cr_assert_eq(prange__hist_bucket((UINT64_C(1) << PRANGE__HIST_TOP_BIT) - 1), (unsigned)PRANGE__HIST_BUCKETS - 2);
}

/* Every value below the top lies in its bucket, and the bucket's midpoint is within 1/64 of
 * it (the documented <= 3% holds with room): at every bucket edge and in between. */
Test(profile, histogram_error_bound)
{
    for (unsigned b = 0; b + 1 < PRANGE__HIST_BUCKETS; b++) {
        uint64_t lo = prange__hist_low(b), hi = prange__hist_high(b), mid = prange__hist_mid(b);
        cr_assert_eq(prange__hist_low(b + 1), hi + 1, "buckets %u and %u are not adjacent", b, b + 1);
        uint64_t probes[] = {lo, hi, lo + (hi - lo) / 3, mid};
        for (int k = 0; k < 4; k++) {
            uint64_t v = probes[k];
            cr_assert_eq(prange__hist_bucket(v), b, "value %llu not in bucket %u", (unsigned long long)v, b);
            double err = fabs((double)mid - (double)v);
            cr_assert(err <= (double)v / 64.0, "bucket %u reports %llu for %llu", b, (unsigned long long)mid,
                      (unsigned long long)v);
        }
    }
}

Test(profile, histogram_quantiles)
{
    static uint64_t counts[PRANGE__HIST_BUCKETS];
    memset(counts, 0, sizeof counts);
    cr_assert_eq(prange__hist_quantile(counts, 0.5, 0), 0u);
    counts[prange__hist_bucket(10)] = 50;
    counts[prange__hist_bucket(1000)] = 40;
    counts[prange__hist_bucket(100000)] = 10;
    cr_assert_eq(prange__hist_quantile(counts, 0.50, 100000), 10u);   /* the 50th value */
    cr_assert_eq(prange__hist_quantile(counts, 0.51, 100000), 999u); /* the 51st */
    cr_assert_eq(prange__hist_quantile(counts, 0.90, 100000), 999u);
    cr_assert_eq(prange__hist_quantile(counts, 0.99, 100000), prange__hist_mid(prange__hist_bucket(100000)));
    cr_assert_eq(prange__hist_quantile(counts, 1.00, 99000), 99000u); /* capped at the maximum */
}

/* ---- exact figures under a fake clock ----------------------------------------------------- */

static _Atomic(uint64_t) g_now;
static uint64_t fake_clock(void) { return atomic_load(&g_now); }
/* A body that "takes" *ctx ticks of the fake clock. */
static void advance(void *ctx, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    atomic_fetch_add(&g_now, *(uint64_t *)ctx);
}

Test(profile, fake_clock_gives_exact_figures)
{
    prange__profile_set_recording(1);
    prange__profile_set_clock(fake_clock, 1.0);
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL; /* one call of the body per call */
    o.label = "fake";
    uint64_t d[3] = {1000, 5000, 100000};
    int reps[3] = {50, 40, 10};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < reps[k]; i++) cr_assert_eq(prange_for_opts(0, 1, advance, &d[k], &o), 0);
    prange__site_stats st;
    cr_assert_eq(prange__profile_site("fake", &st), 0);
    cr_assert_eq(st.calls, 100u);
    cr_assert_eq(st.inline_calls, 100u);
    cr_assert_eq(st.parallel_calls, 0u);
    cr_assert_eq(st.kind, PRANGE__SITE_LOOP);
    cr_assert_eq(st.total_ns, 50.0 * 1000 + 40.0 * 5000 + 10.0 * 100000);
    cr_assert_eq(st.max_ns, 100000.0);
    cr_assert_eq(st.p50_ns, (double)prange__hist_mid(prange__hist_bucket(1000)));
    cr_assert_eq(st.p90_ns, (double)prange__hist_mid(prange__hist_bucket(5000)));
    cr_assert_eq(st.p99_ns, (double)prange__hist_mid(prange__hist_bucket(100000)));
    cr_assert(fabs(st.p50_ns - 1000) <= 30 && fabs(st.p90_ns - 5000) <= 150 && fabs(st.p99_ns - 1e5) <= 3000);
    /* The reset keeps the site and zeroes its figures. */
    prange_profile_reset();
    cr_assert_eq(prange__profile_site("fake", &st), 0);
    cr_assert_eq(st.calls, 0u);
    cr_assert_eq(st.max_ns, 0.0);
    prange__profile_set_clock(NULL, 0);
}

/* Labels are copied: a site outlives the string that named it. */
Test(profile, labels_are_copied)
{
    prange__profile_set_recording(1);
    char label[32];
    uint64_t d = 1;
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    o.label = label;
    snprintf(label, sizeof label, "plugin.loop");
    cr_assert_eq(prange_for_opts(0, 1, advance, &d, &o), 0);
    memset(label, 'x', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    prange__site_stats st;
    cr_assert_eq(prange__profile_site("plugin.loop", &st), 0);
    cr_assert_eq(st.calls, 1u);
}

/* A forked child starts from an empty profile: its report (PATH.<pid> under json:PATH)
 * holds its own calls, never its parent's again. */
Test(profile, forked_child_counts_its_own_calls, .timeout = 120)
{
    prange__profile_set_recording(1);
    uint64_t d = 1;
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    o.label = "before.fork";
    for (int i = 0; i < 3; i++) cr_assert_eq(prange_for_opts(0, 1, advance, &d, &o), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        prange__site_stats st;
        int ok = prange__profile_site("before.fork", &st) == 0 && st.calls == 0;
        ok = ok && prange_for_opts(0, 1, advance, &d, &o) == 0 && prange__profile_site("before.fork", &st) == 0 &&
             st.calls == 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child saw its parent's calls");
    prange__site_stats st;
    cr_assert_eq(prange__profile_site("before.fork", &st), 0);
    cr_assert_eq(st.calls, 3u);
}

/* A kernel is one site named by the kernel and its caller, the reduction it runs inside
 * being a part of it (no site of its own); a label, when given, names it instead. */
/* One call instruction: a site is the kernel and its caller's return address (a loop of
 * three calls written in the test may be unrolled into three call sites; a tail call would
 * return to the test itself: the volatile result keeps the call a call). */
static __attribute__((noinline)) double sum_once(const double *x, int64_t n)
{
    volatile double r = prange_sum_f64(x, n, NULL);
    return r;
}

Test(profile, kernels_are_sites_named_by_their_caller)
{
    prange__profile_set_recording(1);
    static double x[3000], y[3000];
    for (int i = 0; i < 3000; i++) x[i] = 1.0;
    for (int i = 0; i < 3; i++) cr_assert_eq(sum_once(x, 3000), 3000.0); /* > 1 block: prange_reduce */
    cr_assert_eq(prange_scan_f64(x, y, 3000, 0, NULL), 0);
    prange_opts o = PRANGE_OPTS_INIT;
    o.label = "named.kernel";
    cr_assert_eq(prange_dot_f64(x, x, 3000, &o), 3000.0);
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(prange_profile_write(f), 0);
    rewind(f);
    char buf[8192];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    const char *sum = strstr(buf, "\nprange_sum_f64 @ "), *scan = strstr(buf, "\nprange_scan_f64 @ ");
    cr_assert(sum && scan, "%s", buf);
    unsigned long long calls = 0;
    cr_assert_eq(sscanf(strstr(sum, " kernel "), " kernel %llu", &calls), 1, "%s", buf);
    cr_assert_eq(calls, 3u, "%s", buf);
    cr_assert_eq(sscanf(strstr(scan, " kernel "), " kernel %llu", &calls), 1, "%s", buf);
    cr_assert_eq(calls, 1u, "%s", buf);
    cr_assert_null(strstr(buf, " reduce "), "a kernel's reduction is a site of its own: %s", buf);
    cr_assert_null(strstr(buf, " loop "), "a scan's passes are sites of their own: %s", buf);
    prange__site_stats st;
    cr_assert_eq(prange__profile_site("named.kernel", &st), 0);
    cr_assert_eq(st.calls, 1u);
    cr_assert_eq(st.kind, PRANGE__SITE_KERNEL);
}

/* A body that leaves a scan by longjmp abandons the call. The next scan, started from the
 * same frame, puts its record where the abandoned one was: it must not take it for an
 * enclosing call (nor for itself), and its passes must stay parts of it. */
static jmp_buf g_jump;
static void scan_body(void *ctx, int64_t b, int64_t e, void *acc, int emit)
{
    (void)b, (void)e, (void)emit;
    if (*(int *)ctx) longjmp(g_jump, 1);
    *(double *)acc += 1.0;
}

static __attribute__((noinline)) int scan_via(int jump)
{
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    o.label = jump ? "abandoned.scan" : "ok.scan";
    if (setjmp(g_jump) == 0) return prange_scan(0, 100, prange_reducer_sum_f64(), scan_body, &jump, &o);
    return -1;
}

Test(profile, longjmp_out_of_a_body_abandons_the_call)
{
    prange__profile_set_recording(1);
    cr_assert_eq(scan_via(1), -1);
    cr_assert_eq(scan_via(0), 0);
    cr_assert_null(prange__prof_cur, "a finished call is still on the thread's stack of calls");
    uint64_t d = 1;
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    o.label = "after.jump";
    for (int i = 0; i < 4; i++) cr_assert_eq(prange_for_opts(0, 1, advance, &d, &o), 0);
    prange__site_stats st;
    cr_assert_eq(prange__profile_site("ok.scan", &st), 0);
    cr_assert_eq(st.calls, 1u);
    cr_assert_eq(prange__profile_site("after.jump", &st), 0);
    cr_assert_eq(st.calls, 4u);
    cr_assert(prange__profile_site("abandoned.scan", &st) != 0 || st.calls == 0, "the abandoned scan was counted");
    /* No other site: the scans' passes were parts of them. */
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(prange_profile_write(f), 0);
    rewind(f);
    char buf[4096];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    cr_assert(strstr(buf, "prange profile: 2 sites, 5 calls") != NULL, "%s", buf);
    cr_assert_null(prange__prof_cur);
}

/* ---- 8 user threads at once ---------------------------------------------------------------- */

#define THREADS 8
#define CALLS 200

static void touch(void *ctx, int64_t b, int64_t e)
{
    double *out = ctx;
    for (int64_t i = b; i < e; i++) out[i] = (double)i * 0.5;
}

static void *user_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    char own[16];
    snprintf(own, sizeof own, "thread.%d", id);
    double out[64];
    prange_opts shared = PRANGE_OPTS_INIT, mine = PRANGE_OPTS_INIT;
    shared.label = "shared";
    mine.label = own;
    for (int i = 0; i < CALLS; i++) {
        /* Small loops (inline) and large ones (a team when the budget is free). */
        int64_t n = (i % 4 == 0) ? 64 : 8;
        if (prange_for_opts(0, n, touch, out, &shared) != 0) return (void *)1;
        if (i % 2 == 0 && prange_for_opts(0, 8, touch, out, &mine) != 0) return (void *)1;
    }
    return NULL;
}

Test(profile, eight_user_threads_count_exactly, .timeout = 300)
{
    prange__profile_set_recording(1);
    prange_profile_reset();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) cr_assert_eq(pthread_create(&t[i], NULL, user_thread, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc);
    }
    prange__site_stats st;
    cr_assert_eq(prange__profile_site("shared", &st), 0);
    cr_assert_eq(st.calls, (uint64_t)THREADS * CALLS);
    cr_assert_eq(st.inline_calls + st.parallel_calls, st.calls);
    for (int i = 0; i < THREADS; i++) {
        char name[16];
        snprintf(name, sizeof name, "thread.%d", i);
        cr_assert_eq(prange__profile_site(name, &st), 0, "no site %s", name);
        cr_assert_eq(st.calls, (uint64_t)CALLS / 2, "%s: %llu calls", name, (unsigned long long)st.calls);
    }
    /* The report, written while nothing runs, names every site. */
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(prange_profile_write(f), 0);
    rewind(f);
    char buf[8192];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    cr_assert(strstr(buf, "\nshared ") != NULL, "%s", buf);
    cr_assert(strstr(buf, "\nthread.7 ") != NULL, "%s", buf);
}

/* ---- misspelled variables ----------------------------------------------------------------- */

Test(profile, misspelled_variables_are_named)
{
    const char *env[] = {"PRANGE_NUM_THREAD=4", "PRANGE_GRAIN=8", "PRANGE_PROFLIE=1", "PRANGE_VERBSOE=2",
                         "PRANGE_ZZZZZZZZZZZZ=1", "OTHER_VAR=1", "PRANGE_NUM_THREADS=2", NULL};
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_eq(prange__env_misspelled(env, f), 4);
    rewind(f);
    char buf[2048];
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    cr_assert(strstr(buf, "PRANGE_NUM_THREAD is not a libprange variable; did you mean PRANGE_NUM_THREADS?\n"), "%s", buf);
    cr_assert(strstr(buf, "PRANGE_PROFLIE is not a libprange variable; did you mean PRANGE_PROFILE?\n"), "%s", buf);
    cr_assert(strstr(buf, "PRANGE_VERBSOE is not a libprange variable; did you mean PRANGE_VERBOSE?\n"), "%s", buf);
    cr_assert(strstr(buf, "PRANGE_ZZZZZZZZZZZZ is not a libprange variable (prange-info lists them)\n"), "%s", buf);
    cr_assert(!strstr(buf, "PRANGE_GRAIN ") && !strstr(buf, "OTHER_VAR"), "%s", buf);
    const char *clean[] = {"PRANGE_GRAIN=8", "PATH=/bin", NULL};
    cr_assert_eq(prange__env_misspelled(clean, NULL), 0);
}

/* Loops inside a region's team: one the members share is a parallel call of the team, one
 * a single member runs is an inline call (the region forks nothing, so no fork-join said
 * so: a 2000² wavefront on its team read as inline calls only). Every member's prange_for
 * is a call: 2 members, 10 loops of each kind, 20 calls a site. */
typedef struct {
    int loops;
    double sum;
} region_ctx;
static void region_touch(void *ctx, int64_t b, int64_t e)
{
    (void)ctx, (void)b, (void)e;
}
static void region_count(void *ctx, int64_t b, int64_t e, void *acc)
{
    (void)ctx;
    *(double *)acc += (double)(e - b);
}
static void region_member(void *p)
{
    region_ctx *c = p;
    prange_opts shared = PRANGE_OPTS_INIT, one = PRANGE_OPTS_INIT, red = PRANGE_OPTS_INIT;
    shared.cost_ns = 1e9; /* worth the team whatever the figure */
    shared.label = "region.shared";
    one.flags = PRANGE_SERIAL; /* one member runs it */
    one.label = "region.one";
    red.cost_ns = 1e9;
    red.grain = 1;
    red.label = "region.reduce";
    for (int i = 0; i < c->loops; i++) {
        cr_assert_eq(prange_for_opts(0, 64, region_touch, NULL, &shared), 0);
        cr_assert_eq(prange_for_opts(0, 64, region_touch, NULL, &one), 0);
        double s = 0;
        cr_assert_eq(prange_reduce(0, 64, prange_reducer_sum_f64(), region_count, NULL, &s, &red), 0);
        if (prange_thread_id() == 0) c->sum += s;
    }
}
Test(profile, region_loops_count_the_team_that_ran_them)
{
    prange__profile_set_recording(1);
    cr_assert_eq(prange_set_num_threads(2), 0);
    region_ctx c = {10, 0};
    prange_opts ro = PRANGE_OPTS_INIT;
    ro.threads = 2;
    cr_assert_eq(prange_region(region_member, &c, &ro), 0);
    cr_assert_eq(c.sum, 640.0);
    prange__site_stats sh, one, red;
    cr_assert_eq(prange__profile_site("region.shared", &sh), 0);
    cr_assert_eq(prange__profile_site("region.one", &one), 0);
    cr_assert_eq(prange__profile_site("region.reduce", &red), 0);
    cr_assert_eq(sh.calls, 20u, "%llu calls", (unsigned long long)sh.calls);
    cr_assert_eq(sh.parallel_calls, 20u);
    cr_assert_eq(sh.team_mask, UINT64_C(1) << 2);
    cr_assert_eq(one.calls, 20u);
    cr_assert_eq(one.inline_calls, 20u);
    cr_assert_eq(one.parallel_calls, 0u);
    cr_assert_eq(red.calls, 20u);
    cr_assert_eq(red.parallel_calls, 20u);
    cr_assert_eq(red.team_mask, UINT64_C(1) << 2);
}
