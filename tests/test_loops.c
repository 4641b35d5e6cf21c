/* test_loops.c — prange_for / prange_for_opts / prange_for_until: coverage, thread ids,
 * nesting, early stop, limits of int64_t, bad arguments, concurrency, fork. */
#include <criterion/criterion.h>
#include <omp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "prange_sched.h" /* prange__after_fork */

typedef struct {
    int64_t base;
    _Atomic(unsigned char) *seen;
    atomic_int max_tid, bad_team, calls;
    int team_expected;
} cover_ctx;

static void cover_body(void *p, int64_t b, int64_t e)
{
    cover_ctx *c = p;
    atomic_fetch_add(&c->calls, 1);
    int tid = prange_thread_id(), team = prange_num_threads();
    if (tid < 0 || tid >= team || team > c->team_expected) atomic_store(&c->bad_team, 1);
    int m = atomic_load(&c->max_tid);
    while (tid > m && !atomic_compare_exchange_weak(&c->max_tid, &m, tid)) {}
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&c->seen[i - c->base], 1);
}

static void check_cover(int64_t n, int threads, prange_schedule s, int64_t grain)
{
    cover_ctx c = {.base = 5, .team_expected = threads};
    c.seen = calloc((size_t)n + 1, 1);
    prange_opts o = t_parallel_opts(threads, s, grain);
    cr_assert_eq(prange_for_opts(5, 5 + n, cover_body, &c, &o), 0);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(c.seen[i], 1, "n=%lld threads=%d sched=%d grain=%lld: index %lld ran %d times",
                     (long long)n, threads, s, (long long)grain, (long long)i, c.seen[i]);
    cr_assert_eq(c.bad_team, 0, "thread id outside the team");
    cr_assert_lt(c.max_tid, threads > 0 ? threads : 1);
    free(c.seen);
}

Test(loops, every_iteration_exactly_once)
{
    prange_set_num_threads(16); /* oversubscribe so 16-thread teams are real */
    static const int64_t sizes[] = {0, 1, 2, 3, 7, 64, 97, 1000, 4099, 100003};
    static const int64_t grains[] = {0, 1, 7, 1000};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (int t = 0; t < T_NTHREADS; t++)
            for (int s = PRANGE_SCHEDULE_AUTO; s <= PRANGE_SCHEDULE_GUIDED; s++)
                for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
                    check_cover(sizes[a], t_thread_counts[t], (prange_schedule)s, grains[g]);
}

Test(loops, plain_prange_for_covers_large_range)
{
    int64_t n = 3000017;
    cover_ctx c = {.base = 0, .team_expected = PRANGE_MAX_THREADS};
    c.seen = calloc((size_t)n, 1);
    cr_assert_eq(prange_for(0, n, cover_body, &c), 0);
    for (int64_t i = 0; i < n; i++) cr_assert_eq(c.seen[i], 1);
    free(c.seen);
}

/* Ranges near the int64 limits: chunks must tile [begin, end) exactly. */
typedef struct {
    _Atomic(uint64_t) total;
    atomic_int bad;
    int64_t begin, end;
} span_ctx;

static void span_body(void *p, int64_t b, int64_t e)
{
    span_ctx *c = p;
    if (!(b < e) || b < c->begin || e > c->end) atomic_store(&c->bad, 1);
    atomic_fetch_add(&c->total, (uint64_t)e - (uint64_t)b);
}

Test(loops, int64_limits_do_not_overflow)
{
    prange_set_num_threads(8);
    const int64_t cases[][2] = {
        {INT64_MAX - 1000, INT64_MAX}, {INT64_MIN, INT64_MIN + 1000}, {INT64_MIN, INT64_MAX},
        {-5, INT64_MAX}, {INT64_MIN, 0}, {INT64_MAX, INT64_MAX}, {INT64_MIN, INT64_MIN}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        for (int s = PRANGE_SCHEDULE_STATIC; s <= PRANGE_SCHEDULE_GUIDED; s++) {
            span_ctx c = {.begin = cases[k][0], .end = cases[k][1]};
            prange_opts o = t_parallel_opts(8, (prange_schedule)s, 1);
            if (s != PRANGE_SCHEDULE_STATIC) o.grain = INT64_C(1) << 40; /* few chunks */
            cr_assert_eq(prange_for_opts(c.begin, c.end, span_body, &c, &o), 0);
            cr_assert_eq(c.bad, 0, "case %zu: chunk outside the range", k);
            cr_assert_eq(c.total, (uint64_t)c.end - (uint64_t)c.begin, "case %zu sched %d", k, s);
        }
}

/* Thread ids: as many distinct workers as the plan says, ids within the team. */
typedef struct {
    atomic_int used[PRANGE_MAX_THREADS];
    atomic_int team;
} ids_ctx;

static void ids_body(void *p, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    ids_ctx *c = p;
    atomic_store(&c->used[prange_thread_id()], 1);
    atomic_store(&c->team, prange_num_threads());
}

Test(loops, plan_matches_what_runs)
{
    prange_set_num_threads(4);
    /* 100 us per iteration as far as the model knows: parallel on 4 whatever fork-join
     * figure a busy machine measures (the bodies themselves are trivial). */
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e5};
    prange_plan plan;
    /* A query starts nothing, so before the first loop it plans with an assumed fork-join
     * figure; the first loop measures it. Plans made after that are what runs. */
    ids_ctx warm = {0};
    cr_assert_eq(prange_for_opts(0, 1000000, ids_body, &warm, &o), 0);
    cr_assert_eq(prange_plan_for(1000000, &o, &plan), 0);
    cr_assert_eq(plan.serial, 0);
    cr_assert_eq(plan.threads, 4);
    ids_ctx c = {0};
    cr_assert_eq(prange_for_opts(0, 1000000, ids_body, &c, &o), 0);
    int distinct = 0;
    for (int i = 0; i < PRANGE_MAX_THREADS; i++) distinct += c.used[i];
    cr_assert_eq(distinct, plan.threads, "static plan of %d threads ran on %d", plan.threads, distinct);
    cr_assert_eq(c.team, plan.threads);

    /* 100 iterations with no hint: the default cost plans them inline. */
    cr_assert_eq(prange_plan_for(100, NULL, &plan), 0);
    cr_assert_eq(plan.serial, 1);
    /* A first call of a body without a cost may time a slice and decide on it (under
     * ThreadSanitizer these iterations are really dear): once the body has run at this
     * size, the plan of the body is what runs. */
    ids_ctx w = {0};
    cr_assert_eq(prange_for(0, 100, ids_body, &w), 0);
    cr_assert_eq(prange_plan_for_body(100, ids_body, NULL, &plan), 0);
    ids_ctx d = {0};
    cr_assert_eq(prange_for(0, 100, ids_body, &d), 0);
    cr_assert_eq(d.used[0], 1);
    /* Except where the loop itself may probe: a plan made serial by the fork-join figure
     * probes now and then on the execution path (docs/scheduling.md), and a probe that
     * finds the machine quieter runs the call on a team. */
    int may_probe = plan.serial && strcmp(plan.reason, "work below fork-join cost") == 0;
    cr_assert(d.team == plan.threads || may_probe, "plan %d threads (%s), bodies saw %d", plan.threads, plan.reason,
              d.team);
}

Test(loops, outside_a_body)
{
    cr_assert_eq(prange_thread_id(), 0);
    cr_assert_eq(prange_set_num_threads(3), 0);
    cr_assert_eq(prange_num_threads(), 3);
    cr_assert_eq(prange_set_num_threads(0), 0);
    cr_assert_geq(prange_num_threads(), 1);
    cr_assert_eq(prange_set_num_threads(-1), PRANGE_EINVAL);
    cr_assert_eq(prange_set_num_threads(PRANGE_MAX_THREADS + 1), PRANGE_EINVAL);
}

/* Nested calls run serially on the calling worker and keep its id. */
typedef struct {
    atomic_int bad, inner_calls;
    _Atomic(int64_t) inner_iters;
} nest_ctx;

typedef struct {
    nest_ctx *outer;
    int tid;
} inner_arg;

static void inner_body(void *p, int64_t b, int64_t e)
{
    inner_arg *a = p;
    if (prange_thread_id() != a->tid) atomic_store(&a->outer->bad, 1);
    atomic_fetch_add(&a->outer->inner_calls, 1);
    atomic_fetch_add(&a->outer->inner_iters, e - b);
}

static void outer_body(void *p, int64_t b, int64_t e)
{
    nest_ctx *c = p;
    for (int64_t i = b; i < e; i++) {
        inner_arg a = {c, prange_thread_id()};
        prange_opts o = t_parallel_opts(0, PRANGE_SCHEDULE_DYNAMIC, 1);
        prange_plan plan;
        prange_plan_for(1000, &o, &plan);
        if (!plan.serial || strcmp(plan.reason, "nested call") != 0) atomic_store(&c->bad, 2);
        int before = atomic_load(&c->inner_calls);
        prange_for_opts(0, 1000, inner_body, &a, &o);
        if (atomic_load(&c->inner_calls) - before < 1) atomic_store(&c->bad, 3);
    }
}

Test(loops, nested_calls_run_serially)
{
    prange_set_num_threads(4);
    nest_ctx c = {0};
    prange_opts o = t_parallel_opts(4, PRANGE_SCHEDULE_STATIC, 1);
    cr_assert_eq(prange_for_opts(0, 16, outer_body, &c, &o), 0);
    cr_assert_eq(c.bad, 0, "nested call misbehaved (%d)", c.bad);
    cr_assert_eq(c.inner_iters, 16 * 1000);
    /* Serial inner loops with one body call each: 16 outer iterations -> 16 calls. */
    cr_assert_eq(c.inner_calls, 16);
}

/* Full and near-full ranges (lengths up to 2^64 - 1): every chunk the body sees must be
 * a sane, non-empty piece, the pieces must tile the range exactly, and there must be few of
 * them. Early-stop pieces of (len + 15) / 16 wrapped to 0 at len = 2^64 - 1: one iteration
 * per call, 2^64 calls (0.2's chunks, ceil(len / 1024), must not wrap either). The body
 * gives up (returns 9, a stop) after MAX_PIECES calls. */
#define MAX_PIECES 8192
typedef struct {
    atomic_int calls;
    int stop; /* return this at once (0: go on) */
    int64_t b[MAX_PIECES], e[MAX_PIECES];
} pieces_ctx;

static int piece_until(void *p, int64_t b, int64_t e)
{
    pieces_ctx *c = p;
    int k = atomic_fetch_add(&c->calls, 1);
    if (k >= MAX_PIECES) return 9;
    c->b[k] = b;
    c->e[k] = e;
    return c->stop;
}
static void piece_body(void *p, int64_t b, int64_t e) { (void)piece_until(p, b, e); }

static int cmp_begin(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

/* Sort the recorded pieces and check that they tile [begin, end). */
static void check_tiling(pieces_ctx *c, int64_t begin, int64_t end, const char *what)
{
    int n = atomic_load(&c->calls);
    cr_assert_leq(n, MAX_PIECES, "%s: more than %d pieces", what, MAX_PIECES);
    int64_t(*pairs)[2] = malloc((size_t)n * sizeof *pairs);
    for (int k = 0; k < n; k++) {
        cr_assert_lt(c->b[k], c->e[k], "%s: empty or reversed piece", what);
        pairs[k][0] = c->b[k];
        pairs[k][1] = c->e[k];
    }
    qsort(pairs, (size_t)n, sizeof *pairs, cmp_begin);
    int64_t at = begin;
    for (int k = 0; k < n; k++) {
        cr_assert_eq(pairs[k][0], at, "%s: piece %d starts at %lld, expected %lld", what, k,
                     (long long)pairs[k][0], (long long)at);
        at = pairs[k][1];
    }
    cr_assert_eq(at, end, "%s: pieces end at %lld", what, (long long)at);
    free(pairs);
}

Test(loops, full_range_chunks_are_sane, .timeout = 60)
{
    prange_set_num_threads(2);
    const int64_t ranges[][2] = {{INT64_MIN, INT64_MAX}, {INT64_MIN + 1, INT64_MAX}, {INT64_MIN, INT64_MAX - 1},
                                 {INT64_MIN, INT64_MAX - 15}, {-1, INT64_MAX}, {INT64_MIN, 1}};
    const int64_t grains[] = {0, 1, 1000, INT64_C(1) << 62, INT64_MAX};
    pieces_ctx *c = malloc(sizeof *c);
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++)
        for (int s = PRANGE_SCHEDULE_STATIC - 1; s <= PRANGE_SCHEDULE_GUIDED; s++) /* -1: serial */
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                int64_t begin = ranges[r][0], end = ranges[r][1];
                prange_opts o = t_parallel_opts(2, (prange_schedule)s, 0);
                if (s < PRANGE_SCHEDULE_STATIC) o = (prange_opts){.struct_size = sizeof(prange_opts), .flags = PRANGE_SERIAL};
                o.grain = grains[g];
                char what[96];
                snprintf(what, sizeof what, "range %zu schedule %d grain %lld", r, s, (long long)o.grain);
                prange_plan plan;
                cr_assert_eq(prange_plan_for(INT64_MAX, &o, &plan), 0);
                cr_assert_gt(plan.chunk, 0, "%s: plan chunk %lld", what, (long long)plan.chunk);
                for (int until = 0; until <= 1; until++) {
                    memset(c, 0, sizeof *c);
                    prange_stop st = {0, end};
                    int rc = until ? prange_for_until(begin, end, piece_until, c, &o, &st)
                                   : prange_for_opts(begin, end, piece_body, c, &o);
                    cr_assert_eq(rc, 0, "%s until=%d: rc %d after %d calls", what, until, rc, c->calls);
                    cr_assert_eq(st.value, 0, "%s until=%d: stopped with %d after %d calls", what, until, st.value,
                                 c->calls);
                    cr_assert_eq(st.index, end, "%s until=%d", what, until);
                    check_tiling(c, begin, end, what);
                }
                /* A body that stops at once ends the loop after at most one piece per thread;
                 * the outcome is the lowest chunk's: the first, at begin. */
                memset(c, 0, sizeof *c);
                c->stop = 5;
                prange_stop st;
                cr_assert_eq(prange_for_until(begin, end, piece_until, c, &o, &st), 0, "%s", what);
                cr_assert_eq(st.value, 5, "%s", what);
                cr_assert_eq(st.index, begin, "%s: stop at %lld", what, (long long)st.index);
                cr_assert_leq(c->calls, 2, "%s: %d pieces ran after a stop", what, c->calls);
            }
    free(c);
}

/* PRANGE_GRAIN (opts.grain = 0) is the minimum early-stop chunk, as opts.grain is: with
 * 100000, a loop of 1.5M runs 15 chunks of 100000 (not 1024 of 1465). Since 0.2 the chunks
 * are fixed by the range and the grain, so a 2-thread static loop runs the same 15 (0.1
 * cut each thread's share of 750000 into 8 pieces, 16 in all). */
static int grain_until(void *p, int64_t b, int64_t e)
{
    pieces_ctx *c = p;
    int k = atomic_fetch_add(&c->calls, 1);
    if (k < MAX_PIECES) {
        c->b[k] = b;
        c->e[k] = e;
    }
    return 0;
}

Test(loops, env_grain_sets_early_stop_pieces)
{
    setenv("PRANGE_GRAIN", "100000", 1); /* before the first call: read once */
    prange_set_num_threads(2);
    pieces_ctx *c = calloc(1, sizeof *c);
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    cr_assert_eq(prange_for_until(0, 1500000, grain_until, c, &o, NULL), 0);
    cr_assert_eq(c->calls, 15, "serial: %d pieces", c->calls);
    for (int k = 0; k < 15; k++) cr_assert_eq(c->e[k] - c->b[k], 100000);
    check_tiling(c, 0, 1500000, "serial");
    memset(c, 0, sizeof *c);
    o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    prange_plan plan;
    cr_assert_eq(prange_plan_for(1500000, &o, &plan), 0);
    cr_assert_eq(prange_for_until(0, 1500000, grain_until, c, &o, NULL), 0);
    cr_assert_eq(c->calls, 15, "%d threads: %d pieces", plan.threads, c->calls);
    for (int k = 0; k < 15; k++) cr_assert_eq(c->e[k] - c->b[k], 100000);
    check_tiling(c, 0, 1500000, "static");
    free(c);
}

/* Early stop. */
typedef struct {
    int64_t stop_at;
    _Atomic(int64_t) ran;
} stop_ctx;

static int stop_body(void *p, int64_t b, int64_t e)
{
    stop_ctx *c = p;
    atomic_fetch_add(&c->ran, e - b);
    return (c->stop_at >= b && c->stop_at < e) ? 42 : 0;
}

Test(loops, early_stop_cancels_and_reports_its_value)
{
    prange_set_num_threads(4);
    for (int s = PRANGE_SCHEDULE_STATIC; s <= PRANGE_SCHEDULE_GUIDED; s++) {
        stop_ctx c = {.stop_at = 10};
        prange_opts o = t_parallel_opts(4, (prange_schedule)s, 100);
        int64_t n = 10000000;
        prange_stop st;
        cr_assert_eq(prange_for_until(0, n, stop_body, &c, &o, &st), 0, "schedule %d", s);
        cr_assert_eq(st.value, 42, "schedule %d", s);
        cr_assert_eq(st.index, 0, "schedule %d: the stopping chunk begins at 0", s);
        cr_assert_lt(c.ran, n, "schedule %d: nothing was cancelled", s);
    }
    /* Serially, chunks run in order and the first non-zero stops it. Chunks of
     * max(grain, ceil(1600 / 1024)) = 100 iterations. */
    stop_ctx c = {.stop_at = 0};
    prange_opts o = {.struct_size = sizeof(prange_opts), .flags = PRANGE_SERIAL, .grain = 100};
    prange_stop st;
    cr_assert_eq(prange_for_until(0, 1600, stop_body, &c, &o, &st), 0);
    cr_assert_eq(st.value, 42);
    cr_assert_eq(st.index, 0);
    cr_assert_eq(c.ran, 100); /* the first of 16 chunks */
    stop_ctx none = {.stop_at = -1};
    cr_assert_eq(prange_for_until(0, 5000, stop_body, &none, NULL, &st), 0);
    cr_assert_eq(st.value, 0);
    cr_assert_eq(st.index, 5000, "none stopped: index = end");
    cr_assert_eq(none.ran, 5000);
    cr_assert_eq(prange_for_until(7, 7, stop_body, &none, NULL, &st), 0);
    cr_assert(st.value == 0 && st.index == 7, "empty range");
    cr_assert_eq(prange_for_until(0, 10, stop_body, &none, NULL, NULL), 0, "stop may be NULL");
}

/* A body returning -22 (PRANGE_EINVAL's value) is reported as a stop, not as an error. */
static int stop_einval(void *p, int64_t b, int64_t e)
{
    (void)p, (void)e;
    return b == 0 ? -22 : 0;
}

Test(loops, early_stop_value_is_not_a_status)
{
    prange_stop st = {1, 1};
    cr_assert_eq(prange_for_until(0, 100, stop_einval, NULL, NULL, &st), 0);
    cr_assert_eq(st.value, -22);
    cr_assert_eq(st.index, 0);
}

/* Several chunks stop, with different values: the lowest-index one wins, with the same
 * value and index for 1..16 threads and every schedule, bitwise. */
typedef struct {
    int64_t begin;
    const int64_t *stops; /* sorted indices where the body stops */
    int nstops;
} multi_ctx;

static int multi_body(void *p, int64_t b, int64_t e)
{
    const multi_ctx *m = p;
    for (int k = 0; k < m->nstops; k++)
        if (m->stops[k] >= b && m->stops[k] < e) return 1000 + k; /* distinct per stop */
    return 0;
}

Test(loops, early_stop_lowest_chunk_wins_for_every_team_and_schedule)
{
    prange_set_num_threads(16);
    static const int64_t stops[] = {-7000000 + 3456789, -7000000 + 3500001, -7000000 + 6000000,
                                    -7000000 + 9999999};
    multi_ctx m = {-7000000, stops, 4};
    int64_t begin = -7000000, end = begin + 10000000;
    /* chunk = max(grain, ceil(10^7 / 1024)) = 9766; the first stop is in chunk 353. */
    prange_stop want = {1000, begin + 353 * 9766};
    for (int t = 0; t < T_NTHREADS; t++)
        for (int s = PRANGE_SCHEDULE_AUTO; s <= PRANGE_SCHEDULE_GUIDED; s++) {
            prange_opts o = t_parallel_opts(t_thread_counts[t], (prange_schedule)s, 0);
            prange_stop st;
            memset(&st, 0xab, sizeof st);
            cr_assert_eq(prange_for_until(begin, end, multi_body, &m, &o, &st), 0);
            cr_assert_eq(st.value, want.value, "threads=%d schedule=%d", t_thread_counts[t], s);
            cr_assert_eq(st.index, want.index, "threads=%d schedule=%d", t_thread_counts[t], s);
        }
    /* A grain larger than len / 1024 sets the chunk: 1000000 -> the stop's chunk is 3. */
    prange_opts o = t_parallel_opts(4, PRANGE_SCHEDULE_DYNAMIC, 1000000);
    prange_stop st;
    cr_assert_eq(prange_for_until(begin, end, multi_body, &m, &o, &st), 0);
    cr_assert_eq(st.value, 1000);
    cr_assert_eq(st.index, begin + 3000000);
}

/* The full int64 range: chunk arithmetic does not overflow, the last chunk ends at end. */
static int stop_last(void *p, int64_t b, int64_t e)
{
    (void)p;
    return (e == INT64_MAX && b < e) ? 5 : 0;
}

Test(loops, early_stop_full_int64_range, .timeout = 60)
{
    prange_opts o = t_parallel_opts(4, PRANGE_SCHEDULE_STATIC, 0);
    prange_stop st;
    cr_assert_eq(prange_for_until(INT64_MIN, INT64_MAX, stop_last, NULL, &o, &st), 0);
    /* len = 2^64 - 1, chunk = ceil(len / 1024) = 2^54: the last chunk is 1023. */
    cr_assert_eq(st.value, 5);
    cr_assert_eq(st.index, (int64_t)((uint64_t)INT64_MIN + UINT64_C(1023) * (UINT64_C(1) << 54)));
}

static atomic_int g_called;
static void count_body(void *p, int64_t b, int64_t e)
{
    (void)p;
    (void)b;
    (void)e;
    atomic_fetch_add(&g_called, 1);
}
static int count_until(void *p, int64_t b, int64_t e)
{
    count_body(p, b, e);
    return 0;
}

Test(loops, bad_arguments_run_nothing)
{
#define BAD(...) {.struct_size = sizeof(prange_opts), __VA_ARGS__}
    const prange_opts bad[] = {
        BAD(.grain = -1), BAD(.threads = -1), BAD(.threads = PRANGE_MAX_THREADS + 1),
        BAD(.schedule = (prange_schedule)7), BAD(.schedule = (prange_schedule)-1), BAD(.cost_ns = -1),
        BAD(.cost_ns = NAN), BAD(.cost_ns = INFINITY), BAD(.flags = 1u << 7), BAD(.flags = 1u << 2),
        {.threads = 2} /* struct_size 0: a {0}-style initialiser */};
#undef BAD
    cr_assert_eq(prange_for(10, 9, count_body, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for(INT64_MAX, INT64_MIN, count_body, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for(0, 10, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for_until(0, 10, NULL, NULL, NULL, NULL), PRANGE_EINVAL);
    cr_assert_eq(prange_for_until(5, 4, count_until, NULL, NULL, NULL), PRANGE_EINVAL);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_eq(prange_for_opts(0, 10, count_body, NULL, &bad[i]), PRANGE_EINVAL, "case %zu", i);
        cr_assert_eq(prange_for_until(0, 10, count_until, NULL, &bad[i], NULL), PRANGE_EINVAL, "case %zu", i);
        prange_plan p;
        cr_assert_eq(prange_plan_for(10, &bad[i], &p), PRANGE_EINVAL, "case %zu", i);
    }
    cr_assert_eq(g_called, 0);
    cr_assert_eq(prange_for(3, 3, count_body, NULL), 0); /* empty: success, no call */
    cr_assert_eq(g_called, 0);
}

/* Several user threads issuing loops at once. */
typedef struct {
    int id;
    int errors;
} user_arg;

typedef struct {
    int64_t *out;
    int64_t mul;
} fill_ctx;

static void fill_body(void *p, int64_t b, int64_t e)
{
    fill_ctx *c = p;
    for (int64_t i = b; i < e; i++) c->out[i] = i * c->mul;
}

static void *user_thread(void *p)
{
    user_arg *a = p;
    int64_t n = 20000 + a->id * 17;
    int64_t *out = malloc((size_t)n * sizeof *out);
    for (int rep = 0; rep < 200; rep++) {
        fill_ctx c = {out, a->id + rep};
        prange_opts o = t_parallel_opts(2, (prange_schedule)(rep % 4), 0);
        if (prange_for_opts(0, n, fill_body, &c, &o) != 0) a->errors++;
        for (int64_t i = 0; i < n; i++)
            if (out[i] != i * c.mul) {
                a->errors++;
                break;
            }
    }
    free(out);
    return NULL;
}

Test(loops, concurrent_user_threads)
{
    prange_set_num_threads(2);
    pthread_t th[4];
    user_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (user_arg){i, 0};
        pthread_create(&th[i], NULL, user_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].errors, 0, "user thread %d saw wrong results", i);
    }
}

/* After fork() the child completes its loops (serially) instead of hanging. */
Test(loops, child_after_fork_completes, .timeout = 30)
{
    prange_set_num_threads(2);
    int64_t n = 1000000;
    int64_t *out = malloc((size_t)n * sizeof *out);
    fill_ctx c = {out, 3};
    prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    cr_assert_eq(prange_for_opts(0, n, fill_body, &c, &o), 0);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10); /* a hang kills the child with SIGALRM */
        fill_ctx d = {out, 5};
        prange_plan p;
        prange_plan_for(n, &o, &p);
        if (prange_for_opts(0, n, fill_body, &d, &o) != 0) _exit(2);
        for (int64_t i = 0; i < n; i++)
            if (out[i] != i * 5) _exit(3);
        _exit(p.serial && strcmp(p.reason, "child after fork") == 0 ? 0 : 4);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child did not finish (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed with %d", WEXITSTATUS(status));
    /* The parent still runs in parallel. */
    cr_assert_eq(prange_for_opts(0, n, fill_body, &c, &o), 0);
    free(out);
}

/* The parent ran its own OpenMP region (no libprange call before fork): libgomp's pool of
 * the forking thread is gone in the child, whose first team would wait for it forever.
 * The child must run its loops inline, with right results. */
Test(loops, child_after_user_openmp_region_completes, .timeout = 30)
{
    atomic_int in_region = 0;
#pragma omp parallel num_threads(2)
    atomic_fetch_add(&in_region, 1);
    cr_assert_eq(atomic_load(&in_region), 2, "the OpenMP region did not start 2 threads");
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10); /* a hang kills the child with SIGALRM */
        prange_set_num_threads(2);
        int64_t n = 100000;
        int64_t *out = malloc((size_t)n * sizeof *out);
        fill_ctx d = {out, 5};
        prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
        prange_plan p;
        if (prange_plan_for(n, &o, &p) != 0) _exit(2);
        if (prange_for_opts(0, n, fill_body, &d, &o) != 0) _exit(3);
        for (int64_t i = 0; i < n; i++)
            if (out[i] != i * 5) _exit(4);
        d.mul = 6;
        if (prange_for(0, n, fill_body, &d) != 0) _exit(5);
        for (int64_t i = 0; i < n; i++)
            if (out[i] != i * 6) _exit(6);
        free(out);
        _exit(p.serial && strcmp(p.reason, "child after fork") == 0 ? 0 : 7);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child did not finish (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed with %d", WEXITSTATUS(status));
}

/* This process's thread count, from /proc/self/status (0 when unreadable). */
static int t_threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* A child forked from a single-threaded process has nothing to hang on: it keeps its
 * parallel plans (the fork guard is not "serial after every fork"); one forked from a
 * process with other threads runs inline. Criterion's process has a thread of its own, so
 * the forking process is a forked child, whose own "after fork" flag is cleared as a fresh
 * process would have it; it is single-threaded but where a runtime adds a thread of its
 * own (ThreadSanitizer's background thread), and its child's plan must follow suit. */
Test(loops, child_of_single_threaded_process_stays_parallel, .timeout = 30)
{
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        atomic_store(&prange__after_fork, 0);
        prange_set_num_threads(2);
        int threads = t_threads_now();
        pid_t gc = fork();
        if (gc == 0) {
            prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
            prange_plan p;
            if (prange_plan_for(100000, &o, &p) != 0) _exit(2);
            if (!p.serial) _exit(0);
            _exit(strcmp(p.reason, "child after fork") == 0 ? 3 : 4);
        }
        int st = 0;
        if (waitpid(gc, &st, 0) != gc || !WIFEXITED(st)) _exit(5);
        int want = threads == 1 ? 0 : 3;
        _exit(WEXITSTATUS(st) == want ? 0 : 10 + WEXITSTATUS(st));
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child did not finish (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed with %d (10: parallel plan, 13: serial after fork, 14: other serial)",
                 WEXITSTATUS(status));
}

/* A body on the calling thread of an inline run that leaves by longjmp: the thread must
 * not stay "inside a body" (later loops "nested call" and serial, prange_num_threads() 1). */
static jmp_buf g_jump;
static void jump_body(void *p, int64_t b, int64_t e)
{
    (void)p;
    (void)b;
    (void)e;
    longjmp(g_jump, 1);
}
static void jump_reduce_body(void *p, int64_t b, int64_t e, void *acc)
{
    (void)acc;
    jump_body(p, b, e);
}
static int jump_until_body(void *p, int64_t b, int64_t e)
{
    jump_body(p, b, e);
    return 0;
}
static void nest_probe_body(void *p, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    int *seen = p; /* inside a body, after the jumps: still a body context */
    prange_plan q;
    prange_plan_for(1000000, NULL, &q);
    *seen = prange_num_threads() == 1 && q.serial && strcmp(q.reason, "nested call") == 0;
}

/* Jump out of a serial loop (kind 0), early-stop loop (1) or reduction (2) started here;
 * returns what this frame sees afterwards: prange_num_threads(), or -1 if no jump. */
static int jump_out(int kind)
{
    prange_opts o = {.struct_size = sizeof(prange_opts), .flags = PRANGE_SERIAL};
    if (setjmp(g_jump) == 0) {
        if (kind == 0) prange_for_opts(0, 100, jump_body, NULL, &o);
        if (kind == 1) prange_for_until(0, 100, jump_until_body, NULL, &o, NULL);
        double acc = 0;
        if (kind == 2) prange_reduce(0, 100000, prange_reducer_sum_f64(), jump_reduce_body, NULL, &acc, &o);
        return -1;
    }
    return prange_num_threads();
}

Test(loops, longjmp_out_of_a_serial_body_restores_the_thread)
{
    prange_set_num_threads(2);
    for (int kind = 0; kind < 3; kind++) {
        cr_assert_eq(jump_out(kind), 2, "kind %d: the frame that caught the jump still sees a body", kind);
        cr_assert_eq(prange_num_threads(), 2, "kind %d", kind);
        cr_assert_eq(prange_thread_id(), 0, "kind %d", kind);
        prange_plan p;
        prange_opts q = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
        cr_assert_eq(prange_plan_for(1000000, &q, &p), 0);
        cr_assert(!p.serial, "kind %d: later plan serial (%s)", kind, p.reason);
        int64_t out[1000];
        fill_ctx c = {out, 3};
        cr_assert_eq(prange_for_opts(0, 1000, fill_body, &c, &q), 0);
        for (int i = 0; i < 1000; i++) cr_assert_eq(out[i], i * 3);
        /* A real nested call is still one. */
        int seen = 0;
        prange_opts s = {.struct_size = sizeof(prange_opts), .flags = PRANGE_SERIAL};
        cr_assert_eq(prange_for_opts(0, 1, nest_probe_body, &seen, &s), 0);
        cr_assert(seen, "kind %d: a call inside a body is no longer seen as nested", kind);
    }
}

/* A warm inline call (prange_for of a small loop, called until its serial plan is kept:
 * lib/loop.c's for_memo runs it without planning) is still a body context: thread 0 of a
 * team of 1, a nested loop runs serially, a nested region inline, the caller's region
 * hidden; outside, the thread is restored, after a longjmp out of it too. */
typedef struct {
    atomic_int bad, calls;
    int jump_at;
} warm_ctx;
static void warm_inner(void *p, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    *(int *)p = prange_num_threads();
}
static void warm_region_fn(void *p) { *(int *)p = prange_num_threads(); }
/* Cheap, so that 8 iterations stay inline (under sanitizers too); every 500th call, from
 * the 499th (a first call's dear slice would send the rest to a team), looks around. */
static void warm_body(void *p, int64_t b, int64_t e)
{
    warm_ctx *c = p;
    int k = atomic_fetch_add(&c->calls, 1) + 1;
    if (b != 0 || e != 8) atomic_fetch_or(&c->bad, 1);
    if (prange_thread_id() != 0 || prange_num_threads() != 1) atomic_fetch_or(&c->bad, 2);
    if (k % 500 == 499) {
        int inner = 0, region = 0;
        prange_for(0, 100000, warm_inner, &inner);
        if (inner != 1) atomic_fetch_or(&c->bad, 4);
        prange_region(warm_region_fn, &region, NULL);
        if (region != 1) atomic_fetch_or(&c->bad, 8);
        prange_plan q;
        prange_plan_for(1000000, NULL, &q);
        if (!q.serial || strcmp(q.reason, "nested call") != 0) atomic_fetch_or(&c->bad, 16);
    }
    if (c->jump_at && k == c->jump_at) longjmp(g_jump, 1);
}
static void warm_calls(void *p)
{
    for (int k = 0; k < 3000; k++) prange_for(0, 8, warm_body, p);
}

Test(loops, a_warm_inline_call_is_a_body_context)
{
    prange_set_num_threads(2);
    warm_ctx c = {0};
    warm_calls(&c); /* the first call times a slice: two body calls */
    atomic_store(&c.bad, 0);
    atomic_store(&c.calls, 0);
    warm_calls(&c);
    cr_assert_eq(atomic_load(&c.calls), 3000, "8 iterations run inline: one body call each (%d)",
                 atomic_load(&c.calls));
    cr_assert_eq(atomic_load(&c.bad), 0, "inside the body: %d", atomic_load(&c.bad));
    cr_assert_eq(prange_thread_id(), 0);
    cr_assert_eq(prange_num_threads(), 2, "outside, the budget again");
    /* In a region's function: inline calls (or loops of its team) see the same. */
    for (int r = 0; r < 8; r++) {
        warm_ctx d = {0};
        cr_assert_eq(prange_region(warm_calls, &d, NULL), 0);
        cr_assert_eq(atomic_load(&d.calls), 3000, "region call %d", r);
        cr_assert_eq(atomic_load(&d.bad), 0, "region call %d: %d", r, atomic_load(&d.bad));
    }
    cr_assert_eq(prange_num_threads(), 2);
    /* A jump out of a warm call: the next public call forgets the abandoned body. */
    warm_ctx j = {.jump_at = 500};
    if (setjmp(g_jump) == 0) {
        warm_calls(&j);
        cr_assert(0, "no jump");
    }
    cr_assert_eq(prange_num_threads(), 2, "after the jump");
    cr_assert_eq(prange_thread_id(), 0);
    warm_ctx after = {0};
    warm_calls(&after);
    cr_assert_eq(atomic_load(&after.bad), 0, "after the jump: %d", atomic_load(&after.bad));
}

/* From inside a user's own OpenMP region: serial, no hang, correct. */
Test(loops, inside_user_openmp_region)
{
    prange_set_num_threads(2);
    int errors = 0;
#pragma omp parallel num_threads(2) reduction(+ : errors)
    {
        int64_t out[1000];
        fill_ctx c = {out, 7};
        prange_plan p;
        prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
        prange_plan_for(1000, &o, &p);
        if (!p.serial) errors++;
        if (prange_for_opts(0, 1000, fill_body, &c, &o) != 0) errors++;
        for (int i = 0; i < 1000; i++) errors += out[i] != i * 7;
    }
    cr_assert_eq(errors, 0);
}

/* Soak: 8 user threads each issuing 1000 rounds of loops, reductions, scans and
 * allocations at once, every result checked; then RSS must not have grown. */
typedef struct {
    int id, errors;
} soak_arg;

static void soak_fill(void *c, int64_t b, int64_t e)
{
    for (int64_t i = b; i < e; i++) ((double *)c)[i] = (double)(i % 3);
}

static void *soak_thread(void *p)
{
    soak_arg *a = p;
    int64_t n = 3000 + 97 * a->id;
    double ref = 0;
    for (int64_t i = 0; i < n; i++) ref += (double)(i % 3);
    for (int rep = 0; rep < 1000; rep++) {
        double *x = prange_alloc(n, sizeof *x);
        if (!x) {
            a->errors++;
            continue;
        }
        prange_opts o = {.struct_size = sizeof(prange_opts), .schedule = (prange_schedule)(rep % 4), .cost_ns = (rep % 2) ? 50 : 0};
        if (prange_for_opts(0, n, soak_fill, x, &o) != 0) a->errors++;
        if (prange_sum_f64(x, n, NULL) != ref) a->errors++;
        if (prange_scan_f64(x, x, n, 0, &o) != 0 || x[n - 1] != ref) a->errors++;
        prange_free(x);
    }
    return NULL;
}

Test(loops, soak_eight_user_threads, .timeout = 120)
{
    prange_set_num_threads(2);
    pthread_t th[8];
    soak_arg args[8];
    long before = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 8; i++) {
            args[i] = (soak_arg){i, 0};
            pthread_create(&th[i], NULL, soak_thread, &args[i]);
        }
        for (int i = 0; i < 8; i++) {
            pthread_join(th[i], NULL);
            cr_assert_eq(args[i].errors, 0, "user thread %d saw %d wrong results", i, args[i].errors);
        }
        if (round == 0) before = t_rss_kb(); /* after warm-up: pools and scratch exist */
    }
    if (!UNDER_ASAN && !UNDER_VALGRIND) /* their allocators hold freed blocks */
        cr_assert_leq(t_rss_kb() - before, 8192, "RSS grew by %ld KiB over 8000 more rounds", t_rss_kb() - before);
}

/* fork() while another user thread is inside parallel loops: the child must complete its
 * own loops, reductions and allocations (serially) and exit; repeated 20 times. */
static atomic_int g_stop_spinner;

static void *spinner(void *p)
{
    (void)p;
    int64_t n = 200000;
    int64_t *out = malloc((size_t)n * sizeof *out);
    fill_ctx c = {out, 1};
    prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_DYNAMIC, 0);
    while (!atomic_load(&g_stop_spinner)) prange_for_opts(0, n, fill_body, &c, &o);
    free(out);
    return NULL;
}

Test(loops, fork_while_another_thread_is_in_a_loop, .timeout = 60)
{
    prange_set_num_threads(2);
    pthread_t th;
    pthread_create(&th, NULL, spinner, NULL);
    usleep(20000);
    for (int k = 0; k < 20; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(10);
            int64_t n = 100000;
            double *x = prange_alloc(n, sizeof *x);
            if (!x) _exit(2);
            fill_ctx d = {(int64_t *)x, 2};
            prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
            if (prange_for_opts(0, n, fill_body, &d, &o) != 0) _exit(3);
            for (int64_t i = 0; i < n; i++)
                if (((int64_t *)x)[i] != 2 * i) _exit(4);
            prange_free(x);
            double v[1000];
            for (int i = 0; i < 1000; i++) v[i] = 1.0;
            _exit(prange_sum_f64(v, 1000, NULL) == 1000.0 ? 0 : 5);
        }
        int st = 0;
        cr_assert_eq(waitpid(pid, &st, 0), pid);
        cr_assert(WIFEXITED(st), "child %d did not finish (signal %d)", k, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        cr_assert_eq(WEXITSTATUS(st), 0, "child %d failed with %d", k, WEXITSTATUS(st));
    }
    atomic_store(&g_stop_spinner, 1);
    pthread_join(th, NULL);
}

/* 10^6 small calls (the inline path): RSS flat, and the per-call time of the last tenth
 * no worse than 3x the first tenth at the 99th percentile of 1000-call batches (a leak or
 * a growing table would show as a drift). A robustness check, not a performance claim. */
static void tiny_body(void *c, int64_t b, int64_t e)
{
    double *x = c;
    for (int64_t i = b; i < e; i++) x[i] += 1.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Test(loops, million_small_calls_stay_flat, .timeout = 120)
{
    enum { BATCHES = 1000, PER = 1000 };
    static uint64_t t[BATCHES];
    double x[8] = {0};
    long rss0 = 0;
    for (int b = 0; b < BATCHES; b++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int k = 0; k < PER; k++) {
            prange_for(0, 8, tiny_body, x);
            x[0] += prange_sum_f64(x, 8, NULL) * 0.0;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        t[b] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
        if (b == 10) rss0 = t_rss_kb();
    }
    cr_assert_eq(x[7], (double)BATCHES * PER, "every call ran");
    if (!UNDER_ASAN && !UNDER_VALGRIND) cr_assert_leq(t_rss_kb() - rss0, 1024, "RSS grew over 10^6 calls");
    uint64_t first[BATCHES / 10], last[BATCHES / 10];
    memcpy(first, t, sizeof first);
    memcpy(last, t + BATCHES - BATCHES / 10, sizeof last);
    qsort(first, BATCHES / 10, sizeof *first, cmp_u64);
    qsort(last, BATCHES / 10, sizeof *last, cmp_u64);
    uint64_t p99a = first[BATCHES / 10 * 99 / 100], p99b = last[BATCHES / 10 * 99 / 100];
    cr_assert_leq(p99b, 3 * p99a + 200000, "p99 per 1000 calls drifted from %llu ns to %llu ns",
                  (unsigned long long)p99a, (unsigned long long)p99b);
}

/* Teams never shrink (sched/threads.c): libgomp ends the workers a smaller team does not
 * use and creates them again for the next larger one. Alternating teams of 4 and 2 must
 * run on the same 3 worker threads throughout, and a team of 2 sees 2 threads. */
typedef struct {
    _Atomic(pid_t) tids[64];
    atomic_int n, bad;
    int team;
} tid_ctx;

static void tid_body(void *p, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    tid_ctx *c = p;
    if (prange_num_threads() != c->team) atomic_store(&c->bad, prange_num_threads());
    pid_t me = gettid();
    int n = atomic_load(&c->n);
    for (int i = 0; i < n && i < 64; i++)
        if (atomic_load(&c->tids[i]) == me) return;
    int k = atomic_fetch_add(&c->n, 1);
    if (k < 64) atomic_store(&c->tids[k], me);
}

Test(loops, alternating_team_sizes_keep_their_threads)
{
    setenv("PRANGE_FORK_NS", "1000", 1); /* plans independent of a busy machine's timing */
    cr_assert_eq(prange_set_num_threads(4), 0);
    tid_ctx c = {0};
    for (int r = 0; r < 20; r++) {
        c.team = r % 2 ? 2 : 4;
        prange_opts o = t_parallel_opts(c.team, PRANGE_SCHEDULE_STATIC, 0);
        prange_plan p;
        cr_assert_eq(prange_plan_for(4 * c.team, &o, &p), 0);
        cr_assert_eq(p.threads, c.team, "round %d: plan %d threads (%s)", r, p.threads, p.reason);
        cr_assert_eq(prange_for_opts(0, 4 * c.team, tid_body, &c, &o), 0);
    }
    cr_assert_eq(atomic_load(&c.bad), 0, "a body saw a team of %d", atomic_load(&c.bad));
    /* The caller plus 3 workers; distinct records can race, so count unique ones. */
    int unique = 0, n = atomic_load(&c.n) < 64 ? atomic_load(&c.n) : 64;
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= c.tids[j] == c.tids[i];
        unique += !dup;
    }
    cr_assert_leq(unique, 4, "%d distinct threads ran the bodies: workers were ended and started again", unique);
    cr_assert_geq(unique, 2);
    prange_set_num_threads(0);
}

/* The OpenMP team each body runs in: the region's size, not the plan's team. */
typedef struct {
    atomic_int region_max, region_min, bad;
    int team;
} region_ctx;

static void region_body(void *p, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    region_ctx *c = p;
    int r = omp_get_num_threads();
    if (prange_num_threads() != c->team) atomic_store(&c->bad, 1);
    int m = atomic_load(&c->region_max);
    while (r > m && !atomic_compare_exchange_weak(&c->region_max, &m, r)) {
    }
    m = atomic_load(&c->region_min);
    while (r < m && !atomic_compare_exchange_weak(&c->region_min, &m, r)) {
    }
}

static void region_round(int budget, int team, int *lo, int *hi)
{
    cr_assert_eq(prange_set_num_threads(budget), 0);
    region_ctx c = {.region_min = 1 << 20, .team = team};
    prange_opts o = t_parallel_opts(team, PRANGE_SCHEDULE_STATIC, 0);
    for (int r = 0; r < 5; r++) cr_assert_eq(prange_for_opts(0, 8 * team, region_body, &c, &o), 0);
    cr_assert_eq(atomic_load(&c.bad), 0, "a body saw another team than %d", team);
    *lo = atomic_load(&c.region_min);
    *hi = atomic_load(&c.region_max);
}

/* A pool started by a larger budget (an earlier loop, a first touch) is kept for smaller
 * teams of the same budget, but prange_set_num_threads below it shrinks the regions to
 * the new budget: a program that asks for 2 threads forks 2, not 4. */
Test(loops, a_lower_budget_shrinks_the_region)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    int lo, hi;
    region_round(4, 4, &lo, &hi);
    cr_assert(lo == 4 && hi == 4, "budget 4, team 4: regions of %d..%d threads", lo, hi);
    region_round(4, 2, &lo, &hi);
    cr_assert(lo == 4 && hi == 4, "budget 4, team 2: the pool of 4 is kept, regions of %d..%d", lo, hi);
    region_round(2, 2, &lo, &hi);
    cr_assert(lo == 2 && hi == 2, "budget 2, team 2: regions of %d..%d threads, not the pool of 4", lo, hi);
    region_round(4, 4, &lo, &hi);
    cr_assert(lo == 4 && hi == 4, "budget 4 again: regions of %d..%d threads", lo, hi);
    prange_set_num_threads(0);
}
