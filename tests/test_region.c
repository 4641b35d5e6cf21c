/* test_region.c — prange_region: loops shared out among a persistent team, nowait,
 * reductions bit for bit, nesting, every loop kind, errors, inline when small. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

static prange_opts region_opts(int threads)
{
    prange_opts o = PRANGE_OPTS_INIT;
    o.threads = threads;
    return o;
}

static int count_of(const char *buf, const char *what)
{
    int n = 0;
    for (const char *p = strstr(buf, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

/* prange_region(fn, ctx, ro) with its stderr (PRANGE_VERBOSE=2 lines) in buf; returns
 * what the region returned. */
static int region_logged(prange_region_fn fn, void *ctx, const prange_opts *ro, char *buf, size_t size)
{
    t_capture cap;
    cr_assert_eq(t_capture_start(&cap), 0);
    int rc = prange_region(fn, ctx, ro);
    cr_assert_eq(t_capture_end(&cap, buf, size), 0);
    return rc;
}

/* ---- a sequence of loops: a 1-D heat stencil, sweeps alternating two buffers ---------- */

typedef struct {
    double *a, *b;
    int64_t n;
    int sweeps;
    prange_opts loop; /* each sweep's options */
    int rc;
} heat;

static void heat_step(void *c, int64_t lo, int64_t hi)
{
    heat *h = c;
    for (int64_t i = lo; i < hi; i++) {
        double l = i > 0 ? h->a[i - 1] : 0, r = i < h->n - 1 ? h->a[i + 1] : 0;
        h->b[i] = h->a[i] + 0.25 * (l - 2 * h->a[i] + r);
    }
}

static void heat_serial(heat *h)
{
    for (int s = 0; s < h->sweeps; s++) {
        heat_step(h, 0, h->n);
        double *t = h->a;
        h->a = h->b;
        h->b = t;
    }
}

/* Every member swaps its own copy of the pointers: the loop reads them from ctx, so
 * each member passes its own heat (the same arrays). */
static void heat_region(void *c)
{
    heat h = *(heat *)c;
    for (int s = 0; s < h.sweeps; s++) {
        if (prange_for_opts(0, h.n, heat_step, &h, &h.loop) != 0) ((heat *)c)->rc = 1;
        double *t = h.a;
        h.a = h.b;
        h.b = t;
    }
}

static void heat_init(double *a, int64_t n)
{
    uint64_t seed = 7;
    for (int64_t i = 0; i < n; i++) a[i] = t_unit(&seed);
}

Test(region, sequence_of_loops_matches_serial_bit_for_bit)
{
    prange_set_num_threads(4);
    int64_t n = 5000;
    for (int t = 1; t <= 4; t *= 2) {
        for (int sched = PRANGE_SCHEDULE_STATIC; sched <= PRANGE_SCHEDULE_GUIDED; sched++) {
            double *a = malloc((size_t)n * sizeof *a), *b = calloc((size_t)n, sizeof *b);
            double *ra = malloc((size_t)n * sizeof *ra), *rb = calloc((size_t)n, sizeof *rb);
            heat_init(a, n);
            memcpy(ra, a, (size_t)n * sizeof *a);
            heat h = {a, b, n, 31, t_parallel_opts(t, (prange_schedule)sched, 0), 0};
            heat r = {ra, rb, n, 31, PRANGE_OPTS_INIT, 0};
            prange_opts ro = region_opts(t);
            cr_assert_eq(prange_region(heat_region, &h, &ro), 0);
            cr_assert_eq(h.rc, 0);
            heat_serial(&r); /* 31 sweeps: the result is in r.a, and in b for the region */
            cr_assert_eq(memcmp(b, r.a, (size_t)n * sizeof *b), 0, "threads %d schedule %d differ", t, sched);
            free(a);
            free(b);
            free(ra);
            free(rb);
        }
    }
}

/* ---- reductions: the same bits inside a region of 1, 2, 4 as outside ------------------ */

typedef struct {
    const double *x;
    int64_t n;
    int threads;
    double got[8];
    int rc[8];
} redctx;

static void sum_body(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = c;
    for (int64_t i = b; i < e; i++) *(double *)acc += x[i];
}

static void reduce_region(void *c)
{
    redctx *r = c;
    prange_opts o = t_parallel_opts(r->threads, PRANGE_SCHEDULE_AUTO, 0);
    double mine = -1; /* each member's own result */
    int tid = prange_thread_id();
    r->rc[tid] = prange_reduce(0, r->n, prange_reducer_sum_f64(), sum_body, (void *)r->x, &mine, &o);
    r->got[tid] = mine;
}

Test(region, reductions_keep_their_bits_for_every_team)
{
    prange_set_num_threads(4);
    int64_t n = 300001;
    double *x = malloc((size_t)n * sizeof *x);
    uint64_t seed = 11;
    for (int64_t i = 0; i < n; i++) x[i] = t_unit(&seed) * 1e10;
    double ref; /* the same options (the same blocks), serial */
    prange_opts one = t_parallel_opts(1, PRANGE_SCHEDULE_AUTO, 0);
    one.flags = PRANGE_SERIAL;
    cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_f64(), sum_body, x, &ref, &one), 0);
    for (int t = 1; t <= 4; t *= 2) {
        redctx r = {x, n, t, {0}, {0}};
        prange_opts ro = region_opts(t);
        cr_assert_eq(prange_region(reduce_region, &r, &ro), 0);
        for (int m = 0; m < t; m++) {
            cr_assert_eq(r.rc[m], 0);
            cr_assert_eq(memcmp(&r.got[m], &ref, sizeof ref), 0, "team %d member %d: %a vs %a", t, m, r.got[m], ref);
        }
    }
    free(x);
}

/* Reductions planned from kept inputs (lib/reduce.c): the members post their pieces in the
 * region's area and the last to reach the barrier merges them. 40 rounds of four lengths
 * (four size classes, the 1-element one serial on member 0): per class a slot, 16
 * reductions from kept inputs, a slot, ...;
 * every member gets the bits of the same call outside the region, every time, with
 * member 1 sometimes yielding inside its share so the others run ahead into the next
 * reduction (the area's two halves alternate). */
typedef struct {
    const double *x;
    const double *ref; /* per length */
    int threads;
    atomic_int wrong, failed;
} kept_red;

static const int64_t kept_lens[4] = {300001, 5000, 70000, 1}; /* 1: serial, on member 0 */

static void sum_body_yield(void *c, int64_t b, int64_t e, void *acc)
{
    if (prange_thread_id() == 1 && (b & 0x3fff) == 0) sched_yield();
    sum_body(c, b, e, acc);
}

static void kept_red_region(void *c)
{
    kept_red *r = c;
    prange_opts o = t_parallel_opts(r->threads, PRANGE_SCHEDULE_AUTO, 0);
    for (int round = 0; round < 40; round++)
        for (int l = 0; l < 4; l++) {
            double mine = -1;
            if (prange_reduce(0, kept_lens[l], prange_reducer_sum_f64(), sum_body_yield, (void *)r->x, &mine, &o))
                atomic_fetch_add(&r->failed, 1);
            if (memcmp(&mine, &r->ref[l], sizeof mine) != 0) atomic_fetch_add(&r->wrong, 1);
        }
}

Test(region, kept_reductions_keep_their_bits)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(4);
    double *x = malloc((size_t)kept_lens[0] * sizeof *x), ref[4];
    uint64_t seed = 5;
    for (int64_t i = 0; i < kept_lens[0]; i++) x[i] = t_unit(&seed) * 1e12;
    for (int t = 2; t <= 4; t += 2) {
        prange_opts one = t_parallel_opts(t, PRANGE_SCHEDULE_AUTO, 0);
        one.flags = PRANGE_SERIAL; /* the same blocks, on the caller */
        for (int l = 0; l < 4; l++)
            cr_assert_eq(prange_reduce(0, kept_lens[l], prange_reducer_sum_f64(), sum_body, x, &ref[l], &one), 0);
        kept_red r = {x, ref, t, 0, 0};
        prange_opts ro = region_opts(t);
        ro.key = &kept_lens[t]; /* a fresh key: a team */
        static char buf[1 << 21];
        int rc = region_logged(kept_red_region, &r, &ro, buf, sizeof buf);
        cr_assert_eq(rc, 0);
        cr_assert_eq(atomic_load(&r.failed), 0);
        cr_assert_eq(atomic_load(&r.wrong), 0, "team %d: %d results differ from outside", t, atomic_load(&r.wrong));
        cr_assert_eq(count_of(buf, "reduce (region) "), 12, "team %d", t);
        cr_assert_eq(count_of(buf, "reduce (region, kept inputs) "), 148, "team %d", t);
    }
    free(x);
}

/* Kept reductions say their result in the line the members wait on, and a pair also
 * posts there a one-piece share of up to 8 bytes, the rest in mailboxes (lib/reduce.c,
 * said_pair): every block count from 2 to 40 (shares of one piece on both sides, on one
 * side only, on neither), a sum (8 bytes) and a minloc (16 bytes) in turn, 20 times, on
 * teams of 2, 3 and 4, against the same calls run serially, bit for bit, with member 1
 * sometimes yielding inside its share so that members run out of step. */
#define PAIR_NB 40
typedef struct {
    const double *x;
    int threads;
    double sum[PAIR_NB + 1];
    prange_loc_f64 loc[PAIR_NB + 1];
    atomic_int wrong, failed;
} pair_red;

static void minloc_body(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = c;
    prange_loc_f64 *m = acc;
    if (prange_thread_id() == 1 && (b & 0x1fff) == 0) sched_yield();
    for (int64_t i = b; i < e; i++)
        if (x[i] < m->value || (x[i] == m->value && i < m->index)) *m = (prange_loc_f64){x[i], i};
}

static void pair_red_region(void *c)
{
    pair_red *r = c;
    prange_opts o = t_parallel_opts(r->threads, PRANGE_SCHEDULE_AUTO, 0);
    o.grain = 2048;
    for (int round = 0; round < 20; round++)
        for (int nb = 2; nb <= PAIR_NB; nb++) {
            int64_t n = (int64_t)nb * 2048 - 7;
            double s = -1;
            prange_loc_f64 m = {-1, -1};
            if (prange_reduce(0, n, prange_reducer_sum_f64(), sum_body_yield, (void *)r->x, &s, &o) ||
                prange_reduce(0, n, prange_reducer_minloc_f64(), minloc_body, (void *)r->x, &m, &o))
                atomic_fetch_add(&r->failed, 1);
            if (memcmp(&s, &r->sum[nb], sizeof s) != 0 || memcmp(&m, &r->loc[nb], sizeof m) != 0)
                atomic_fetch_add(&r->wrong, 1);
        }
}

Test(region, kept_results_said_in_the_barrier_line_keep_their_bits, .timeout = 120)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    int64_t most = (int64_t)PAIR_NB * 2048;
    double *x = malloc((size_t)most * sizeof *x);
    uint64_t seed = 11;
    for (int64_t i = 0; i < most; i++) x[i] = t_unit(&seed) * 1e12 - 5e11;
    for (int t = 2; t <= 4; t++) {
        prange_set_num_threads(t);
        pair_red r = {.x = x, .threads = t};
        prange_opts one = t_parallel_opts(t, PRANGE_SCHEDULE_AUTO, 0);
        one.grain = 2048;
        one.flags = PRANGE_SERIAL; /* the same blocks, on the caller */
        for (int nb = 2; nb <= PAIR_NB; nb++) {
            int64_t n = (int64_t)nb * 2048 - 7;
            cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_f64(), sum_body, x, &r.sum[nb], &one), 0);
            cr_assert_eq(prange_reduce(0, n, prange_reducer_minloc_f64(), minloc_body, x, &r.loc[nb], &one), 0);
        }
        prange_opts ro = region_opts(t);
        ro.key = &r.sum[t]; /* a fresh key: a team */
        static char buf[1 << 22];
        cr_assert_eq(region_logged(pair_red_region, &r, &ro, buf, sizeof buf), 0);
        cr_assert_eq(atomic_load(&r.failed), 0, "team %d", t);
        cr_assert_eq(atomic_load(&r.wrong), 0, "team %d: %d results differ from the serial calls", t,
                     atomic_load(&r.wrong));
        cr_assert_gt(count_of(buf, "reduce (region, kept inputs) "), 20 * 2 * (PAIR_NB - 1) / 2,
                     "team %d: most reductions are planned from kept inputs", t);
    }
    free(x);
    prange_set_num_threads(0);
}

/* ---- nowait: a member goes on to the next loop without waiting ------------------------ */

static atomic_int g_flag, g_timed_out;

/* Member 0's share of loop A waits for loop B's body, which only runs if member 1 may
 * leave A without waiting for member 0. */
static void wait_for_b(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)e;
    if (b != 0) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&g_flag)) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 5) {
            atomic_store(&g_timed_out, 1);
            return;
        }
    }
}
static void set_flag(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)b;
    (void)e;
    atomic_store(&g_flag, 1);
}

typedef struct {
    unsigned flags;
} nowait_ctx;

static void nowait_region(void *c)
{
    nowait_ctx *w = c;
    prange_opts o = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    o.flags = w->flags;
    prange_for_opts(0, 2, wait_for_b, NULL, &o);
    /* B runs on the member that plans it alone (member 1: member 0 is still in A) */
    prange_opts b = PRANGE_OPTS_INIT;
    b.flags = PRANGE_NOWAIT;
    prange_for_opts(0, 1, set_flag, NULL, &b);
}

Test(region, nowait_lets_a_member_run_ahead)
{
    prange_set_num_threads(2);
    atomic_store(&g_flag, 0);
    atomic_store(&g_timed_out, 0);
    nowait_ctx w = {PRANGE_NOWAIT};
    prange_opts ro = region_opts(2);
    /* make sure the region gets a team: a loop of it was shared the last time */
    cr_assert_eq(prange_region(nowait_region, &w, &ro), 0);
    cr_assert_eq(atomic_load(&g_flag), 1);
    cr_assert_eq(atomic_load(&g_timed_out), 0, "member 1 waited after a nowait loop");
}

/* The same, 40 times in one call: from the second round on, A and B are planned from kept
 * inputs, and B, serial, must still run on the first member to reach it (member 1), not
 * on member 0, which is inside A waiting for it. Each round's B sets that round's flag;
 * a round whose B member 1 did not run times out (5 s) and the next ones too. */
typedef struct {
    atomic_int flag[40];
    atomic_int round_now; /* member 0's round, for its share of A */
    atomic_int timed_out;
} step_ctx;

static void wait_for_round(void *c, int64_t b, int64_t e)
{
    (void)e;
    step_ctx *w = c;
    if (b != 0) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&w->flag[atomic_load(&w->round_now)])) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 5) {
            atomic_store(&w->timed_out, 1);
            return;
        }
    }
}
static void set_round_flag(void *c, int64_t b, int64_t e)
{
    (void)e;
    step_ctx *w = c;
    atomic_store(&w->flag[b], 1);
}
static void step_region(void *c)
{
    step_ctx *w = c;
    prange_opts a = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    a.flags = PRANGE_NOWAIT;
    prange_opts b = PRANGE_OPTS_INIT;
    b.cost_ns = 1; /* one iteration of 1 ns: serial; hinted, so kept from the first round */
    for (int r = 0; r < 40; r++) {
        if (prange_thread_id() == 0) atomic_store(&w->round_now, r);
        prange_for_opts(0, 2, wait_for_round, w, &a);
        prange_for_opts(r, r + 1, set_round_flag, w, &b); /* with a barrier */
    }
}

Test(region, a_serial_loop_after_a_nowait_one_runs_on_the_first_member, .timeout = 120)
{
    prange_set_num_threads(2);
    step_ctx w = {0};
    prange_opts ro = region_opts(2);
    ro.key = &w;
    cr_assert_eq(prange_region(step_region, &w, &ro), 0);
    for (int r = 0; r < 40; r++) cr_assert_eq(atomic_load(&w.flag[r]), 1, "round %d", r);
    cr_assert_eq(atomic_load(&w.timed_out), 0, "member 0 waited for a loop planned to run on it");
}

Test(region, a_loop_without_nowait_is_a_barrier, .timeout = 60)
{
    prange_set_num_threads(2);
    atomic_store(&g_flag, 0);
    atomic_store(&g_timed_out, 0);
    nowait_ctx w = {0};
    prange_opts ro = region_opts(2);
    cr_assert_eq(prange_region(nowait_region, &w, &ro), 0);
    /* member 0 waited in A for B, which could not start before A's barrier */
    cr_assert_eq(atomic_load(&g_timed_out), 1, "a loop without nowait let a member run ahead");
}

typedef struct {
    int64_t n;
    int *a, *b, *sum;
} indep;

static void fill_a(void *c, int64_t b, int64_t e)
{
    indep *d = c;
    for (int64_t i = b; i < e; i++) d->a[i] = (int)i;
}
static void fill_b(void *c, int64_t b, int64_t e)
{
    indep *d = c;
    for (int64_t i = b; i < e; i++) d->b[i] = 2 * (int)i;
}
static void add_ab(void *c, int64_t b, int64_t e)
{
    indep *d = c;
    for (int64_t i = b; i < e; i++) d->sum[i] = d->a[i] + d->b[i];
}

static void indep_region(void *c)
{
    prange_opts nw = t_parallel_opts(0, PRANGE_SCHEDULE_DYNAMIC, 16);
    nw.flags = PRANGE_NOWAIT;
    indep *d = c;
    prange_for_opts(0, d->n, fill_a, d, &nw);
    prange_for_opts(0, d->n, fill_b, d, &nw);
    prange_region_barrier();
    prange_opts par = t_parallel_opts(0, PRANGE_SCHEDULE_STATIC, 0);
    prange_for_opts(0, d->n, add_ab, d, &par);
}

Test(region, nowait_loops_then_a_barrier)
{
    prange_set_num_threads(4);
    int64_t n = 10007;
    indep d = {n, calloc((size_t)n, sizeof(int)), calloc((size_t)n, sizeof(int)), calloc((size_t)n, sizeof(int))};
    for (int rep = 0; rep < 20; rep++) {
        memset(d.sum, 0, (size_t)n * sizeof(int));
        cr_assert_eq(prange_region(indep_region, &d, NULL), 0);
        for (int64_t i = 0; i < n; i++) cr_assert_eq(d.sum[i], 3 * (int)i, "rep %d index %ld", rep, (long)i);
    }
    free(d.a);
    free(d.b);
    free(d.sum);
}

/* ---- every loop kind inside a region ---------------------------------------------------- */

typedef struct {
    int64_t n;
    atomic_int *hits;   /* prange_for / 2-D: each index once */
    int stop_at;
    prange_stop stop[4];
    int rc[4][5];
    atomic_int members;
} kinds;

static void count_body(void *c, int64_t b, int64_t e)
{
    kinds *k = c;
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&k->hits[i], 1);
}
static void count_2d(void *c, int64_t i0, int64_t i1, int64_t j0, int64_t j1)
{
    kinds *k = c;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) atomic_fetch_add(&k->hits[i * 100 + j], 1);
}
static int find_body(void *c, int64_t b, int64_t e)
{
    kinds *k = c;
    return k->stop_at >= b && k->stop_at < e ? 42 : 0;
}

static void kinds_region(void *c)
{
    kinds *k = c;
    int tid = prange_thread_id();
    atomic_fetch_add(&k->members, 1);
    prange_opts par = t_parallel_opts(0, PRANGE_SCHEDULE_GUIDED, 3);
    k->rc[tid][0] = prange_for(0, k->n, count_body, k);
    k->rc[tid][1] = prange_for_opts(0, k->n, count_body, k, &par);
    k->rc[tid][2] = prange_for_2d(0, k->n / 100, 0, 100, 7, 9, count_2d, k, &par);
    k->rc[tid][3] = prange_for_until(0, k->n, find_body, k, &par, &k->stop[tid]);
    k->rc[tid][4] = prange_for_opts(5, 5, count_body, k, &par); /* empty */
}

Test(region, every_loop_kind)
{
    prange_set_num_threads(4);
    kinds k = {.n = 20000, .stop_at = 12345};
    k.hits = calloc((size_t)k.n, sizeof *k.hits);
    prange_opts ro = region_opts(4);
    cr_assert_eq(prange_region(kinds_region, &k, &ro), 0);
    int members = atomic_load(&k.members);
    cr_assert(members >= 1 && members <= 4);
    for (int64_t i = 0; i < k.n; i++) cr_assert_eq(atomic_load(&k.hits[i]), 3, "index %ld", (long)i);
    prange_stop ref;
    prange_opts par = t_parallel_opts(0, PRANGE_SCHEDULE_GUIDED, 3);
    cr_assert_eq(prange_for_until(0, k.n, find_body, &k, &par, &ref), 0);
    for (int m = 0; m < members; m++) {
        for (int j = 0; j < 5; j++) cr_assert_eq(k.rc[m][j], 0);
        cr_assert_eq(k.stop[m].value, 42);
        cr_assert_eq(k.stop[m].index, ref.index, "member %d: stop at %ld, outside %ld", m, (long)k.stop[m].index,
                     (long)ref.index);
    }
    free(k.hits);
}

/* ---- members, ids, tiny loops on one member ------------------------------------------- */

typedef struct {
    atomic_int seen[8], calls, callers[8], teams[8];
} ids;

static void tiny(void *c, int64_t b, int64_t e)
{
    ids *d = c;
    (void)b;
    (void)e;
    atomic_fetch_add(&d->calls, 1);
    atomic_fetch_add(&d->callers[prange_thread_id()], 1);
}

static void ids_region(void *c)
{
    ids *d = c;
    atomic_store(&d->teams[prange_thread_id()], prange_num_threads());
    atomic_fetch_add(&d->seen[prange_thread_id()], 1);
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 0.1; /* 4 iterations of 0.1 ns: never worth sharing */
    prange_for_opts(0, 4, tiny, d, &o);
}

Test(region, members_have_ids_and_tiny_loops_run_whole_on_one)
{
    prange_set_num_threads(2);
    ids d = {0};
    /* A fresh key: the first call of a region always gets a team. */
    prange_opts ro = region_opts(2);
    ro.key = &d;
    cr_assert_eq(prange_region(ids_region, &d, &ro), 0);
    cr_assert_eq(atomic_load(&d.seen[0]), 1);
    cr_assert_eq(atomic_load(&d.seen[1]), 1);
    cr_assert_eq(atomic_load(&d.teams[0]), 2);
    cr_assert_eq(atomic_load(&d.teams[1]), 2);
    cr_assert_eq(atomic_load(&d.calls), 1, "a tiny loop was split");
    /* inside the body, a serial loop is worker 0 of 1 */
    cr_assert_eq(atomic_load(&d.callers[0]), 1);
}

/* ---- inline when every loop is small, a team again when one is not -------------------- */

typedef struct {
    atomic_int fn_calls;
    int64_t n;
    double cost;
} adapt;

static void nothing(void *c, int64_t b, int64_t e)
{
    (void)c;
    (void)b;
    (void)e;
}

static void adapt_region(void *c)
{
    adapt *a = c;
    atomic_fetch_add(&a->fn_calls, 1);
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = a->cost;
    prange_for_opts(0, a->n, nothing, a, &o);
}

Test(region, runs_inline_when_no_loop_was_shared)
{
    prange_set_num_threads(2);
    adapt a = {0, 4, 0.1};
    prange_opts ro = region_opts(2);
    ro.key = &a;
    prange_region(adapt_region, &a, &ro);
    cr_assert_eq(atomic_load(&a.fn_calls), 2, "the first call has a team");
    atomic_store(&a.fn_calls, 0);
    prange_region(adapt_region, &a, &ro);
    cr_assert_eq(atomic_load(&a.fn_calls), 1, "no loop was shared: inline");
    a.n = 1000;
    a.cost = 1e6; /* a loop an ordinary call runs on a team */
    atomic_store(&a.fn_calls, 0);
    prange_region(adapt_region, &a, &ro);
    cr_assert_eq(atomic_load(&a.fn_calls), 1);
    atomic_store(&a.fn_calls, 0);
    prange_region(adapt_region, &a, &ro);
    cr_assert_eq(atomic_load(&a.fn_calls), 2, "a loop went parallel inline: a team again");
}

/* Team or inline by the model's account (PRANGE_FORK_NS = 1 us: a fork-join costs 1 us,
 * sharing a loop in the team 0.5 us, the barrier after a loop one member runs 0.25 us).
 * Each call runs one loop of n = 4 at `cost` ns an iteration, which the team shares, then
 * `serial` loops that one member runs while the others wait (unless `nowait`). */
typedef struct {
    atomic_int fn_calls;
    double cost;
    int serial;
    unsigned flags;
} account_case;

static void account_region(void *c)
{
    account_case *a = c;
    atomic_fetch_add(&a->fn_calls, 1);
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = a->cost;
    prange_for_opts(0, 4, nothing, NULL, &o);
    prange_opts one = PRANGE_OPTS_INIT;
    one.flags = PRANGE_SERIAL | a->flags;
    for (int i = 0; i < a->serial; i++) prange_for_opts(0, 4, nothing, NULL, &one);
}

/* How many of `calls` calls had a team. */
static int team_calls(account_case *a, int calls)
{
    prange_opts ro = region_opts(2);
    ro.key = a;
    int teams = 0;
    for (int i = 0; i < calls; i++) {
        atomic_store(&a->fn_calls, 0);
        cr_assert_eq(prange_region(account_region, a, &ro), 0);
        teams += atomic_load(&a->fn_calls) == 2;
    }
    return teams;
}

/* The shared loop saves 2000 - 1000 - 500 = 500 ns; ten loops run by one member cost a
 * barrier each (2.5 us): the next call runs inline. Without the barriers (nowait) the team
 * pays. */
Test(region, a_team_that_its_barriers_cost_more_than_it_shares_goes_inline)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    account_case a = {0, 500, 10, 0};
    cr_assert_eq(team_calls(&a, 1), 1, "the first call has a team");
    cr_assert_eq(team_calls(&a, 1), 0, "the barriers cost more than sharing saved: inline");
    account_case b = {0, 500, 10, PRANGE_NOWAIT};
    cr_assert_eq(team_calls(&b, 3), 3, "no barriers: the team pays");
}

/* A first call, with a team, of a region whose team loses: a loop worth a fork-join
 * (20 us: the team saves 9.5 us) and 40 loops one member runs (10 us of barriers). */
static void first_call_of_a_losing_team(account_case *a)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    atomic_init(&a->fn_calls, 0);
    a->cost = 5000;
    a->serial = 40;
    a->flags = 0;
    cr_assert_eq(team_calls(a, 1), 1, "the first call has a team");
}

/* An inline call of that region, whose fork-join for the big loop pays, keeps the same
 * account, so it does not bring the team back. Without the 40 loops the inline call's
 * account says the team pays, and it comes back. */
Test(region, inline_calls_keep_the_teams_account)
{
    account_case a;
    first_call_of_a_losing_team(&a);
    cr_assert_eq(team_calls(&a, 10), 0, "the barriers cost more than sharing saves: inline");
    a.serial = 0;
    cr_assert_eq(team_calls(&a, 1), 0, "an inline call finds that the team would pay...");
    cr_assert_eq(team_calls(&a, 1), 1, "...and the next call has it");
}

/* A team that lost although it shared a loop is held off for 4 inline calls (8, 16, ...
 * when it loses again) even when their accounts say it would pay: two accounts that
 * disagree (costs learned in between, figures that moved) must not swap modes every
 * call. */
Test(region, a_team_that_lost_is_held_off_for_a_few_calls)
{
    account_case a;
    first_call_of_a_losing_team(&a);
    a.serial = 0;
    cr_assert_eq(team_calls(&a, 4), 0, "held off for 4 inline calls");
    cr_assert_eq(team_calls(&a, 1), 0);
    cr_assert_eq(team_calls(&a, 1), 1, "then the account brings the team back");
}

/* PRANGE_VERBOSE=2 prints each region call's verdict, named by its label: the losing
 * team's figures and the hold, then the inline call's account. */
Test(region, verbose_prints_each_verdict)
{
    setenv("PRANGE_VERBOSE", "2", 1); /* read once, at the first call */
    account_case a;
    t_capture cap;
    char buf[65536];
    cr_assert_eq(t_capture_start(&cap), 0);
    first_call_of_a_losing_team(&a); /* PRANGE_FORK_NS = 1 us: the figures are fixed */
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_not_null(strstr(buf, "prange: region: team of 2 took "), "%s", buf);
    cr_assert_not_null(strstr(buf, "; sharing saved 9500 ns against 10000 ns of barriers, its loops alone take "),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, ": next call inline (held off while it keeps losing)"), "%s", buf);
    a.serial = 0;
    prange_opts ro = region_opts(2);
    ro.key = &a;
    ro.label = "region.verdict";
    cr_assert_eq(t_capture_start(&cap), 0);
    int rc = prange_region(account_region, &a, &ro);
    cr_assert_eq(t_capture_end(&cap, buf, sizeof buf), 0);
    cr_assert_eq(rc, 0);
    cr_assert_not_null(strstr(buf, "prange: region region.verdict: inline; a team of 2 would save 9500 ns against 0 ns "
                                   "of barriers: next call inline (a team lost: held off)"),
                       "%s", buf);
}

/* A region has no size: the hold is for work like the one that lost. The same function
 * with loops 10 times as costly (the team would share 99.5 us against 10 us of barriers,
 * more than twice the 9.5 us the losing team shared) ends the hold at once. Without the
 * rule it would stay inline for the 4 held calls. */
Test(region, a_hold_is_for_the_work_that_lost)
{
    account_case a;
    first_call_of_a_losing_team(&a);
    a.cost = 50000;
    cr_assert_eq(team_calls(&a, 1), 0, "an inline call finds that a team would pay far more...");
    cr_assert_eq(team_calls(&a, 1), 1, "...and the next call has it");
    cr_assert_eq(team_calls(&a, 3), 3, "and keeps it");
}

/* Iterations that sleep 0.5 ms: they need no core, so a team's members sleep side by side
 * whatever else the machine runs. */
static void sleep_body(void *c, int64_t b, int64_t e)
{
    (void)c;
    for (int64_t i = b; i < e; i++) nanosleep(&(struct timespec){0, 500000}, NULL);
}

#define SLEEPS 160 /* ~96 ms alone */
static void sleeping_region(void *c)
{
    atomic_fetch_add((atomic_int *)c, 1);
    prange_for(0, SLEEPS, sleep_body, NULL);
    prange_opts one = PRANGE_OPTS_INIT;
    one.flags = PRANGE_SERIAL;
    for (int i = 0; i < 5; i++) prange_for_opts(0, 4, nothing, NULL, &one);
}

/* The model can condemn a team that clearly wins; the measurement keeps it. With
 * PRANGE_FORK_NS = 32 ms (sharing a loop 16 ms, a barrier 8 ms), 160 iterations of a
 * learned ~0.6 ms (W ~ 96 ms) are shared (16 + W / 2 < 0.85 W) and save W - W / 2 - 16
 * ~ 29 ms by the model, while the 5 loops one member runs cost 40 ms of barriers: the
 * account says inline (for any W below 112 ms). The call takes ~45-65 ms, under 0.95 W:
 * the team stays. Without the measurement, 1 team call of 3. */
Test(region, a_team_faster_than_its_loops_alone_is_kept, .timeout = 60)
{
    /* Valgrind runs one thread at a time: the member waiting at the 5 barriers holds its
     * lock while it spins, and on a 2-vCPU Xeon guest every team call took 169 ms against
     * 91 ms alone, so the measurement rightly sent the region inline. */
    if (UNDER_VALGRIND) cr_skip_test("valgrind serialises threads: a team is never faster than its loops alone");
    setenv("PRANGE_FORK_NS", "32000000", 1);
    prange_set_num_threads(2);
    prange_opts alone = region_opts(1);
    for (int i = 0; i < 12; i++) cr_assert_eq(prange_for_opts(0, SLEEPS, sleep_body, NULL, &alone), 0); /* learn it */
    prange_plan p;
    cr_assert_eq(prange_plan_for_body(SLEEPS, sleep_body, NULL, &p), 0);
    cr_assert(p.work_ns > 8e7 && p.work_ns < 1.1e8, "learned: 90-100 ms, where the model says inline (%g ns)", p.work_ns);
    prange_opts ro = region_opts(2);
    atomic_int fn_calls;
    int teams = 0;
    for (int i = 0; i < 3; i++) {
        atomic_store(&fn_calls, 0);
        cr_assert_eq(prange_region(sleeping_region, &fn_calls, &ro), 0);
        teams += atomic_load(&fn_calls) == 2;
    }
    /* Under a loaded machine (CI's sanitizer stage on both cores) one call in ~30 runs
     * waited past 0.95 W for a core, and the next ran inline: at least 2 of 3, where
     * without the measurement only the first call has the team. */
    cr_assert_geq(teams, 2, "the team ran in %d of 3 calls", teams);
}

/* ---- the check: a suspect team call against one inline call ---------------------------
 * A team call that took more than 0.8 x its loops' work (by the model) is checked by the
 * next call, run inline; the faster of the two modes, per ns of work, goes on. Member 1 of
 * the team sleeps 100 ms in its share (a core held by another process, which the model's
 * account cannot see); one loop of 64 iterations hinted at 1 ms each (64 ms of work, shared
 * whatever fork-join figure a loaded machine measures). The sleep is a floor no load can
 * shorten, so the decisions do not depend on timing. */
typedef struct {
    atomic_int fn_calls;
    atomic_int team;   /* the team the function runs on, this call */
    double inline_ms;  /* CPU time it spends when it runs inline */
} check_case;

static void check_body(void *c, int64_t b, int64_t e)
{
    (void)b; (void)e;
    const check_case *k = c;
    if (atomic_load(&k->team) > 1 && prange_thread_id() != 0) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
}

static void check_region(void *c)
{
    check_case *k = c;
    atomic_fetch_add(&k->fn_calls, 1);
    if (prange_thread_id() == 0) atomic_store(&k->team, prange_num_threads());
    if (atomic_load(&k->team) == 1 && k->inline_ms > 0) { /* serial work the team call does not do */
        struct timespec t0, t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        while ((double)(t.tv_sec - t0.tv_sec) * 1e3 + (double)(t.tv_nsec - t0.tv_nsec) * 1e-6 < k->inline_ms);
    }
    prange_region_barrier(); /* member 1 reads the team */
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1e6;
    /* Inline, the loop runs on this thread (a fork-join of its own could wait for a core
     * on a loaded machine as long as the team's sleep). */
    if (atomic_load(&k->team) == 1) o.flags = PRANGE_SERIAL;
    prange_for_opts(0, 64, check_body, k, &o);
}

/* Which of `calls` calls of check_region had a team, as a string of T and i. */
static void check_calls(check_case *k, int calls, char *out)
{
    prange_opts ro = region_opts(2);
    ro.key = k;
    for (int i = 0; i < calls; i++) {
        atomic_store(&k->fn_calls, 0);
        cr_assert_eq(prange_region(check_region, k, &ro), 0);
        out[i] = atomic_load(&k->fn_calls) == 2 ? 'T' : 'i';
    }
    out[calls] = '\0';
}

Test(region, a_team_slower_than_inline_is_found_by_a_check, .timeout = 60)
{
    prange_set_num_threads(2);
    check_case k = {0};
    char got[16];
    check_calls(&k, 8, got);
    /* The first call's team took 100 ms for 64 ms of work: the second runs inline and
     * takes microseconds; the team is held off (32 x its loss: the most, 1024 calls). */
    cr_assert_str_eq(got, "Tiiiiiii", "calls: %s", got);
}

Test(region, a_team_faster_than_inline_is_not_checked_again_soon, .timeout = 60)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(2);
    check_case k = {.inline_ms = 400}; /* inline, the function spends 400 ms of CPU time */
    char got[16];
    static char buf[1 << 16];
    prange_opts ro = region_opts(2);
    ro.key = &k;
    atomic_store(&k.fn_calls, 0);
    cr_assert_eq(region_logged(check_region, &k, &ro, buf, sizeof buf), 0);
    cr_assert_eq(atomic_load(&k.fn_calls), 2, "the first call has a team");
    cr_assert_not_null(strstr(buf, "inline, to check the team"), "%s", buf);
    cr_assert_eq(region_logged(check_region, &k, &ro, buf, sizeof buf), 0);
    cr_assert_not_null(strstr(buf, "next call a team (faster than inline)"), "%s", buf);
    /* The next 64 suspect team calls are not checked. */
    check_calls(&k, 6, got);
    cr_assert_str_eq(got, "TTTTTT", "calls: %s", got);
}

Test(region, a_fixed_figure_checks_nothing, .timeout = 60)
{
    setenv("PRANGE_FORK_NS", "1000", 1);
    prange_set_num_threads(2);
    check_case k = {0};
    char got[16];
    check_calls(&k, 3, got);
    cr_assert_str_eq(got, "TTT", "PRANGE_FORK_NS: the model's account decides (calls: %s)", got);
}

/* ---- nesting ------------------------------------------------------------------------- */

typedef struct {
    atomic_int inner_calls;
    atomic_int iters;
    int64_t n;
    atomic_int max_team;
} nest;

static void count_iters(void *c, int64_t b, int64_t e)
{
    nest *d = c;
    atomic_fetch_add(&d->iters, (int)(e - b));
    int t = prange_num_threads(), cur = atomic_load(&d->max_team);
    while (t > cur && !atomic_compare_exchange_weak(&d->max_team, &cur, t)) {
    }
}

static void inner_region(void *c)
{
    nest *d = c;
    atomic_fetch_add(&d->inner_calls, 1);
    prange_opts par = t_parallel_opts(0, PRANGE_SCHEDULE_STATIC, 0);
    prange_for_opts(0, d->n, count_iters, d, &par); /* nested: whole, on this member */
}

static void outer_region(void *c) { prange_region(inner_region, c, NULL); }

static void body_with_region(void *c, int64_t b, int64_t e)
{
    for (int64_t i = b; i < e; i++) prange_region(inner_region, c, NULL);
}

Test(region, nested_regions_and_loops_run_serially)
{
    prange_set_num_threads(2);
    nest d = {.n = 1000};
    prange_opts ro = region_opts(2);
    ro.key = &d;
    cr_assert_eq(prange_region(outer_region, &d, &ro), 0);
    int members = atomic_load(&d.inner_calls);
    cr_assert(members == 2, "outer members: %d", members);
    cr_assert_eq(atomic_load(&d.iters), members * 1000, "each member runs the inner loop whole");
    atomic_store(&d.inner_calls, 0);
    atomic_store(&d.iters, 0);
    prange_opts par = t_parallel_opts(2, PRANGE_SCHEDULE_STATIC, 0);
    cr_assert_eq(prange_for_opts(0, 3, body_with_region, &d, &par), 0);
    cr_assert_eq(atomic_load(&d.inner_calls), 3);
    cr_assert_eq(atomic_load(&d.iters), 3000);
}

/* ---- errors ------------------------------------------------------------------------------ */

typedef struct {
    int rc[4][3];
} errs;

static void errs_region(void *c)
{
    errs *e = c;
    int tid = prange_thread_id();
    prange_opts bad = PRANGE_OPTS_INIT;
    bad.flags = 1u << 30;
    e->rc[tid][0] = prange_for_opts(5, 1, nothing, NULL, NULL);
    e->rc[tid][1] = prange_for_opts(0, 10, nothing, NULL, &bad);
    e->rc[tid][2] = prange_for_opts(0, 10, nothing, NULL, NULL); /* the region goes on */
}

Test(region, errors_follow_the_convention)
{
    prange_set_num_threads(2);
    cr_assert_eq(prange_region(NULL, NULL, NULL), PRANGE_EINVAL);
    prange_opts bad = PRANGE_OPTS_INIT;
    bad.threads = -1;
    cr_assert_eq(prange_region(errs_region, NULL, &bad), PRANGE_EINVAL);
    prange_opts zero = {0};
    cr_assert_eq(prange_region(errs_region, NULL, &zero), PRANGE_EINVAL);
    errs e;
    memset(&e, -1, sizeof e);
    prange_opts ro = region_opts(2);
    ro.key = &e;
    cr_assert_eq(prange_region(errs_region, &e, &ro), 0);
    for (int m = 0; m < 2; m++) {
        cr_assert_eq(e.rc[m][0], PRANGE_EINVAL);
        cr_assert_eq(e.rc[m][1], PRANGE_EINVAL);
        cr_assert_eq(e.rc[m][2], 0);
    }
    cr_assert_eq(prange_region_barrier(), 0, "outside a region: nothing to wait for");
}

Test(region, one_thread_runs_inline_with_serial_loops)
{
    prange_set_num_threads(2);
    nest d = {.n = 1000};
    prange_opts ro = region_opts(1);
    cr_assert_eq(prange_region(inner_region, &d, &ro), 0); /* its loop is forced onto 2 threads */
    cr_assert_eq(atomic_load(&d.inner_calls), 1);
    cr_assert_eq(atomic_load(&d.iters), 1000);
    cr_assert_eq(atomic_load(&d.max_team), 1, "a loop of a 1-thread region ran on %d", atomic_load(&d.max_team));
}

Test(region, serial_flag_runs_inline)
{
    prange_set_num_threads(2);
    nest d = {.n = 100};
    prange_opts ro = region_opts(2);
    ro.flags = PRANGE_SERIAL;
    cr_assert_eq(prange_region(inner_region, &d, &ro), 0);
    cr_assert_eq(atomic_load(&d.inner_calls), 1);
    cr_assert_eq(atomic_load(&d.iters), 100);
}

/* ---- the ring: many nowait loops in a row --------------------------------------------- */

typedef struct {
    int64_t n;
    int loops;
    atomic_long total;
} ring;

static void add_len(void *c, int64_t b, int64_t e)
{
    ring *r = c;
    atomic_fetch_add(&r->total, (long)(e - b));
}

static void ring_region(void *c)
{
    ring *r = c;
    prange_opts nw = t_parallel_opts(0, PRANGE_SCHEDULE_DYNAMIC, 1);
    nw.flags = PRANGE_NOWAIT;
    for (int k = 0; k < r->loops; k++) prange_for_opts(0, r->n + k % 5, add_len, r, &nw);
}

/* Runs fn's `loops` loops of about 64 iterations in a region of 4; returns their total. */
static long ring_total(void (*fn)(void *), int loops)
{
    prange_set_num_threads(4);
    ring r = {.n = 64, .loops = loops};
    prange_opts ro = region_opts(4);
    ro.key = &r;
    cr_assert_eq(prange_region(fn, &r, &ro), 0);
    return atomic_load(&r.total);
}

Test(region, many_nowait_loops_reuse_the_slots)
{
    long want = 0;
    for (int k = 0; k < 5000; k++) want += 64 + k % 5;
    cr_assert_eq(ring_total(ring_region, 5000), want);
}

/* Loops with a barrier, nowait loops and early-stop loops in turn share the ring's slots
 * (lib/region.c), with one member slowed now and then so the others run ahead. */
static void add_len_slow(void *c, int64_t b, int64_t e)
{
    ring *r = c;
    if (prange_thread_id() == 1 && (b & 7) == 0) sched_yield();
    atomic_fetch_add(&r->total, (long)(e - b));
}
static int find_last(void *c, int64_t b, int64_t e)
{
    ring *r = c;
    atomic_fetch_add(&r->total, (long)(e - b));
    return b <= r->n - 1 && r->n - 1 < e ? 7 : 0; /* the stop: in the last chunk */
}
static void mixed_region(void *c)
{
    ring *r = c;
    prange_opts wait = t_parallel_opts(0, PRANGE_SCHEDULE_STATIC, 1);
    prange_opts nw = t_parallel_opts(0, PRANGE_SCHEDULE_DYNAMIC, 1);
    nw.flags = PRANGE_NOWAIT;
    prange_opts until = t_parallel_opts(0, PRANGE_SCHEDULE_STATIC, 1);
    for (int k = 0; k < r->loops; k++) {
        if (k % 7 == 6) {
            prange_stop st;
            if (prange_for_until(0, r->n, find_last, r, &until, &st) != 0 || st.value != 7)
                atomic_fetch_add(&r->total, 1000000);
        } else {
            prange_for_opts(0, r->n + k % 5, add_len_slow, r, k % 3 ? &nw : &wait);
        }
    }
}

Test(region, barrier_and_nowait_loops_in_turn_reuse_the_slots)
{
    /* the early-stop loops stop in their last chunk: each runs all of its 64 iterations;
     * one that stops wrong adds 1000000 */
    long want = 0;
    for (int k = 0; k < 3000; k++) want += k % 7 == 6 ? 64 : 64 + k % 5;
    cr_assert_eq(ring_total(mixed_region, 3000), want, "a loop ran twice, not at all, or stopped wrong");
}

/* ---- kept inputs: loops planned by every member alone (lib/region.c) ------------------ */

typedef struct {
    atomic_long total;
    int loops;
} kept_case;

static void kept_count(void *c, int64_t b, int64_t e) { atomic_fetch_add(&((kept_case *)c)->total, (long)(e - b)); }

static void kept_region(void *c)
{
    kept_case *k = c;
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 1e4; /* hinted: kept from the first slot on, and shared */
    for (int i = 0; i < k->loops; i++) prange_for_opts(0, 1000, kept_count, k, &o);
}

/* A slot plans the first loop of a key and size class; every member keeps what that plan
 * rested on and plans the next 16 loops of that key and class alone (PRANGE_VERBOSE=2:
 * `loop (region)` from the slot's planner, `loop (region, kept inputs)` from member 0),
 * then a slot plans again. 40 loops: slots at loops 0, 17 and 34. */
Test(region, kept_inputs_plan_most_loops_on_every_member)
{
    setenv("PRANGE_VERBOSE", "2", 1); /* read once, at the first call */
    prange_set_num_threads(2);
    kept_case k = {.loops = 40};
    prange_opts ro = region_opts(2);
    ro.key = &k; /* a fresh key: the first call of a region gets a team */
    static char buf[1 << 20];
    int rc = region_logged(kept_region, &k, &ro, buf, sizeof buf);
    cr_assert_eq(rc, 0);
    cr_assert_eq(atomic_load(&k.total), 40 * 1000, "a loop ran twice or not at all");
    cr_assert_eq(count_of(buf, "loop (region) "), 3, "%s", buf);
    cr_assert_eq(count_of(buf, "loop (region, kept inputs) "), 37, "%s", buf);
    cr_assert_eq(count_of(buf, "n=1000 threads=2 schedule=static"), 40, "%s", buf);
}

/* Two keys, three size classes each, in turn: each pair's first loop goes through a slot,
 * its next 16 are planned from the members' kept copies. The six entries fit the table
 * wherever the keys' addresses hash (a key's classes take consecutive entries, an entry
 * is looked for at 4 places). */
static const int kept_key_a, kept_key_b;
static void kept_pairs_region(void *c)
{
    kept_case *k = c;
    static const int64_t lens[3] = {100, 1000, 3000}; /* size classes 3, 4 and 5 */
    for (int r = 0; r < 17; r++)
        for (int i = 0; i < 6; i++) {
            prange_opts o = PRANGE_OPTS_INIT;
            o.cost_ns = 1e4;
            o.key = i < 3 ? (const void *)&kept_key_a : (const void *)&kept_key_b;
            prange_for_opts(0, lens[i % 3], kept_count, k, &o);
        }
}

Test(region, kept_inputs_of_several_keys_and_classes)
{
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(2);
    kept_case k = {0};
    prange_opts ro = region_opts(2);
    ro.key = &k;
    static char buf[1 << 20];
    int rc = region_logged(kept_pairs_region, &k, &ro, buf, sizeof buf);
    cr_assert_eq(rc, 0);
    cr_assert_eq(atomic_load(&k.total), 17 * 2 * (100 + 1000 + 3000), "a loop ran twice or not at all");
    cr_assert_eq(count_of(buf, "loop (region) "), 6, "%s", buf);
    cr_assert_eq(count_of(buf, "loop (region, kept inputs) "), 6 * 16, "%s", buf);
}

/* Every member plans a kept loop from the same inputs, whatever the cost table says
 * meanwhile: here another thread keeps teaching the loops' key iterations of 0 and of
 * ~20 us while a wavefront of anti-diagonals (1 .. 2048 .. 1 iterations, so lengths on
 * both sides of where a team starts to pay) learns its own. A member that planned from
 * the table instead of the kept copy would, sooner or later, split a loop the others run
 * whole (an iteration run twice) or the other way round (one never run). */
typedef struct {
    atomic_uchar *hits; /* one per iteration of the whole wavefront */
    int64_t at;          /* the first hit of the current diagonal */
    int dear;            /* the outside thread: spin in its iterations */
} wave_case;

static const int kept_key; /* the loops' key, in the region and outside */

static void wave_body(void *c, int64_t b, int64_t e)
{
    wave_case *w = c;
    for (int64_t i = b; i < e; i++) {
        if (w->hits) atomic_fetch_add(&w->hits[w->at + i], 1);
        else if (w->dear) {
            struct timespec t0, t;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            do clock_gettime(CLOCK_MONOTONIC, &t);
            while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 20000);
        }
    }
}

#define WAVE 2048
static int64_t wave_len(int d) { return d < WAVE ? d + 1 : 2 * WAVE - 1 - d; }

static void wave_region(void *c)
{
    wave_case w = *(wave_case *)c; /* each member's own copy: the same contents */
    prange_opts o = PRANGE_OPTS_INIT;
    o.key = &kept_key;
    for (int d = 0; d < 2 * WAVE - 1; d++) {
        prange_for_opts(0, wave_len(d), wave_body, &w, &o);
        w.at += wave_len(d);
    }
}

static atomic_int outside_stop;
static void *outside_teacher(void *arg)
{
    (void)arg;
    prange_opts o = PRANGE_OPTS_INIT;
    o.key = &kept_key;
    for (int k = 0; !atomic_load(&outside_stop); k++) {
        wave_case w = {.dear = k % 2};
        prange_for_opts(0, 4 << (k % 8), wave_body, &w, &o); /* 4 .. 512: the region's classes */
    }
    return NULL;
}

Test(region, members_plan_kept_loops_alike_while_the_table_moves, .timeout = 120)
{
    prange_set_num_threads(2);
    int64_t all = (int64_t)WAVE * WAVE;
    atomic_uchar *hits = calloc((size_t)all, 1);
    cr_assert_not_null(hits);
    pthread_t th;
    atomic_store(&outside_stop, 0);
    cr_assert_eq(pthread_create(&th, NULL, outside_teacher, NULL), 0);
    int calls = under_instrumentation() ? 3 : 24;
    prange_opts ro = region_opts(2);
    ro.key = &outside_stop;
    for (int r = 0; r < calls; r++) {
        memset((void *)hits, 0, (size_t)all);
        wave_case w = {hits, 0, 0};
        cr_assert_eq(prange_region(wave_region, &w, &ro), 0);
        int64_t wrong = 0;
        for (int64_t i = 0; i < all; i++) wrong += atomic_load_explicit(&hits[i], memory_order_relaxed) != 1;
        cr_assert_eq(wrong, 0, "call %d: %lld iterations ran other than once", r, (long long)wrong);
    }
    atomic_store(&outside_stop, 1);
    pthread_join(th, NULL);
    free((void *)hits);
}

/* ---- kernels and scans inside a region --------------------------------------------------- */

typedef struct {
    const double *x, *ref;
    double *out;
    int64_t n;
    double sum[4];
    int rc[4];
    atomic_int wrong;
} kscan;

static void kernels_region(void *c)
{
    kscan *k = c;
    int tid = prange_thread_id();
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 100; /* shared: the kernel's reduction and the scan's passes pay */
    k->sum[tid] = prange_sum_f64(k->x, k->n, &o); /* a reduction: shared, every member gets it */
    /* One member runs each scan, its passes on one set of block sums (whichever member
     * plans a pass): 20 of them, as which member arrives first varies. */
    for (int r = 0; r < 20; r++) {
        k->rc[tid] |= prange_scan_f64(k->x, k->out, k->n, 0, &o);
        if (memcmp(k->out, k->ref, (size_t)k->n * sizeof *k->out) != 0) atomic_fetch_add(&k->wrong, 1);
        prange_region_barrier(); /* every member compared before the next scan writes */
    }
}

Test(region, kernels_and_scans_match_outside)
{
    prange_set_num_threads(2);
    int64_t n = 200003;
    double *x = malloc((size_t)n * sizeof *x), *ref = malloc((size_t)n * sizeof *ref), *out = calloc((size_t)n, sizeof *out);
    uint64_t seed = 5;
    for (int64_t i = 0; i < n; i++) x[i] = t_unit(&seed);
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = 100;
    double sum = prange_sum_f64(x, n, &o);
    cr_assert_eq(prange_scan_f64(x, ref, n, 0, &o), 0);
    kscan k = {x, ref, out, n, {0}, {0}, 0};
    prange_opts ro = region_opts(2);
    ro.key = &k;
    cr_assert_eq(prange_region(kernels_region, &k, &ro), 0);
    for (int m = 0; m < 2; m++) {
        cr_assert_eq(k.rc[m], 0);
        cr_assert_eq(memcmp(&k.sum[m], &sum, sizeof sum), 0, "member %d: %a vs %a", m, k.sum[m], sum);
    }
    cr_assert_eq(atomic_load(&k.wrong), 0, "%d scans differ inside a region", atomic_load(&k.wrong));
    free(x);
    free(ref);
    free(out);
}

/* Teams of more than 4 arrive at barriers in groups of 4 (lib/region.c): uneven last
 * groups (5, 6, 9 members) and full ones (8, 16), oversubscribed on a small machine. The
 * heat sweeps match serial bit for bit, and every member of each team gets the bits of
 * the same reduction outside the region, 40 times over (the reductions merge in the last
 * member to arrive, above the groups). */
typedef struct {
    const double *x;
    double ref;
    int threads;
    atomic_int wrong, failed, members;
} group_red;

static void group_red_region(void *c)
{
    group_red *r = c;
    atomic_fetch_add(&r->members, 1);
    prange_opts o = t_parallel_opts(r->threads, PRANGE_SCHEDULE_AUTO, 0);
    for (int round = 0; round < 40; round++) {
        double mine = -1;
        if (prange_reduce(0, 20000, prange_reducer_sum_f64(), sum_body, (void *)r->x, &mine, &o))
            atomic_fetch_add(&r->failed, 1);
        if (memcmp(&mine, &r->ref, sizeof mine) != 0) atomic_fetch_add(&r->wrong, 1);
    }
}

/* A member that waits longer than the spin (100 us) sleeps on the barrier's word and the
 * last member's release wakes it (lib/region.c): rounds of a 1 ms serial loop on one
 * member, the others waiting, for pairs (the near barrier) and teams of 3 and 5 (the far
 * one, in groups). A lost wake-up hangs the test (its timeout fails it); a member woken
 * early would see the round's counter short. */
typedef struct {
    atomic_int done, short_seen;
    int rounds;
} sleep_rounds;

static void one_ms(void *c, int64_t b, int64_t e)
{
    sleep_rounds *r = c;
    for (int64_t i = b; i < e; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        atomic_fetch_add(&r->done, 1);
    }
}

static void sleep_rounds_region(void *c)
{
    sleep_rounds *r = c;
    prange_opts one = PRANGE_OPTS_INIT;
    one.flags = PRANGE_SERIAL; /* run by one member; the others wait at its barrier */
    for (int k = 0; k < r->rounds; k++) {
        prange_for_opts(0, 1, one_ms, r, &one);
        if (atomic_load(&r->done) < k + 1) atomic_fetch_add(&r->short_seen, 1);
        prange_region_barrier();
    }
}

Test(region, members_that_wait_long_sleep_and_are_woken, .timeout = 60)
{
    prange_set_num_threads(5);
    static const int teams[] = {2, 3, 5};
    for (size_t k = 0; k < sizeof teams / sizeof teams[0]; k++) {
        sleep_rounds r = {.rounds = 40};
        prange_opts ro = region_opts(teams[k]);
        ro.key = &teams[k];
        cr_assert_eq(prange_region(sleep_rounds_region, &r, &ro), 0);
        cr_assert_eq(atomic_load(&r.done), 40, "team %d", teams[k]);
        cr_assert_eq(atomic_load(&r.short_seen), 0, "team %d: a member left a barrier early", teams[k]);
    }
    prange_set_num_threads(0);
}

Test(region, large_teams_arrive_in_groups, .timeout = 120)
{
    prange_set_num_threads(16);
    int64_t n = 2000;
    double *x = malloc(20000 * sizeof *x);
    uint64_t seed = 3;
    for (int i = 0; i < 20000; i++) x[i] = t_unit(&seed) * 1e10;
    static const int teams[] = {5, 6, 8, 9, 16};
    for (size_t k = 0; k < sizeof teams / sizeof teams[0]; k++) {
        int t = teams[k];
        double *a = malloc((size_t)n * sizeof *a), *b = calloc((size_t)n, sizeof *b);
        double *ra = malloc((size_t)n * sizeof *ra), *rb = calloc((size_t)n, sizeof *rb);
        heat_init(a, n);
        memcpy(ra, a, (size_t)n * sizeof *a);
        heat h = {a, b, n, 31, t_parallel_opts(t, PRANGE_SCHEDULE_STATIC, 0), 0};
        heat r = {ra, rb, n, 31, PRANGE_OPTS_INIT, 0};
        prange_opts ro = region_opts(t);
        cr_assert_eq(prange_region(heat_region, &h, &ro), 0);
        cr_assert_eq(h.rc, 0);
        heat_serial(&r);
        cr_assert_eq(memcmp(b, r.a, (size_t)n * sizeof *b), 0, "team %d: the sweeps differ from serial", t);
        free(a);
        free(b);
        free(ra);
        free(rb);

        group_red g = {.x = x, .threads = t};
        prange_opts one = t_parallel_opts(t, PRANGE_SCHEDULE_AUTO, 0);
        one.flags = PRANGE_SERIAL;
        cr_assert_eq(prange_reduce(0, 20000, prange_reducer_sum_f64(), sum_body, x, &g.ref, &one), 0);
        cr_assert_eq(prange_region(group_red_region, &g, &ro), 0);
        cr_assert_eq(atomic_load(&g.members), t, "team %d: %d members ran the region", t, atomic_load(&g.members));
        cr_assert_eq(atomic_load(&g.failed), 0, "team %d", t);
        cr_assert_eq(atomic_load(&g.wrong), 0, "team %d: %d members' results differ", t, atomic_load(&g.wrong));
    }
    free(x);
    prange_set_num_threads(0);
}
