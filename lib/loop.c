/*
 * loop.c — executes loop plans: inline on the caller, or on an OpenMP team.
 *
 * The hot path takes no lock and allocates nothing: the loop descriptor lives on the
 * caller's stack, dynamic and guided chunks are claimed with one compare-and-swap on a
 * shared counter, and early stop is one atomic read between chunks.
 *
 * Offsets are unsigned: a range may span INT64_MIN .. INT64_MAX, whose length (2^64 - 1)
 * only fits in a uint64_t; begin + offset is computed modulo 2^64 and is always in range.
 */
#include <omp.h>

#include "prange_lib.h"

/* A sampled call's worker shares in ns: the slowest, for the fork-join figure, and their
 * sum, for the profile's load imbalance and serial estimate. */
typedef struct {
    _Atomic(uint64_t) max, sum;
} busy_t;

/* The descriptor every worker reads. The fields workers need sit in the first cache line
 * (one transfer from the caller's core per worker); the shared counters, written only by
 * DYNAMIC / GUIDED / early-stop loops, sit in the next, and the caller's timing after.
 *
 * Early stop (until) works on a loop of `units` chunk indices: chunk k is iterations
 * [k * unit, min((k + 1) * unit, n)), fixed by the range and the grain alone. */
typedef struct loop {
    _Alignas(64) prange_body_fn body; /* exactly one of body / until is set */
    prange_until_fn until;
    void *ctx;
    int64_t begin;
    uint64_t n;
    uint64_t units;            /* what schedules hand out: n, or the number of chunks (until) */
    uint64_t unit;             /* until: iterations per chunk */
    int64_t chunk;             /* the plan's chunk, in units */
    prange_schedule schedule;  /* the plan's schedule */
    int sample;                /* time this call: the shares, and the region on the caller */
    int timed;                 /* time the region on the caller (for the back-off) */
    _Alignas(64) _Atomic(uint64_t) next; /* DYNAMIC / GUIDED: first unit not handed out */
    _Atomic(uint64_t) best;    /* until: (chunk << 32) | (uint32_t)value of the lowest stop */
    _Alignas(64) uint64_t timed_iters; /* the caller's share, for the cost per iteration */
    uint64_t timed_ns;
    busy_t busy;                /* sampled shares: the slowest (fork-join figure), their sum (profile) */
    int ran;                    /* the team the runtime gave (written by worker 0) */
} loop;

/* The fields every plan reads, set one by one: an initialiser would also zero the
 * descriptor's padding (three cache lines) on every call, a tenth of an inline call's cost. */
static inline void loop_init(loop *L, prange_body_fn body, prange_until_fn until, void *ctx, int64_t begin,
                             int64_t end)
{
    L->body = body;
    L->until = until;
    L->ctx = ctx;
    L->begin = begin;
    L->n = L->units = prange__len(begin, end);
    L->unit = 1;
    atomic_init(&L->next, 0);
    atomic_init(&L->best, UINT64_MAX);
    L->timed_iters = L->timed_ns = 0;
    L->timed = 0;
    L->ran = 0; /* a team sets it; 0 or 1: the loop ran alone */
    atomic_init(&L->busy.max, 0);
    atomic_init(&L->busy.sum, 0);
}

/* A sampled call: record one worker's share time into the slowest so far and the sum. */
static void note_busy(busy_t *b, uint64_t ns)
{
    atomic_fetch_add_explicit(&b->sum, ns, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&b->max, memory_order_relaxed);
    while (ns > cur && !atomic_compare_exchange_weak_explicit(&b->max, &cur, ns, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}

/* Early stop: chunks at or below 1024, at least grain iterations each, so the chunking
 * depends on nothing but the range and the grain. (len - 1) / 1024 + 1 is ceil(len / 1024)
 * without overflow for every length up to 2^64 - 1. */
#define UNTIL_CHUNKS 1024
static uint64_t until_unit(uint64_t len, int64_t grain)
{
    uint64_t u = len ? (len - 1) / UNTIL_CHUNKS + 1 : 1;
    return u > (uint64_t)grain ? u : (uint64_t)grain;
}

/* The lowest stopping chunk so far (UINT64_MAX >> 32 when none). */
static inline uint64_t best_chunk(loop *L) { return atomic_load_explicit(&L->best, memory_order_relaxed) >> 32; }

/* Run chunks [lo, hi) of an early-stop loop in order, up to the lowest known stop: every
 * chunk above it is skipped, every chunk below it runs. Returns iterations run. */
static uint64_t run_chunks(loop *L, uint64_t lo, uint64_t hi)
{
    uint64_t done = 0;
    for (uint64_t k = lo; k < hi && k < best_chunk(L); k++) {
        uint64_t b = k * L->unit, e = L->n - b > L->unit ? b + L->unit : L->n;
        int r = L->until(L->ctx, prange__at(L->begin, b), prange__at(L->begin, e));
        done += e - b;
        if (r != 0) {
            /* Keep the lowest chunk: k sits in the high half, so the smaller word wins. */
            uint64_t mine = (k << 32) | (uint32_t)r, cur = atomic_load(&L->best);
            while (mine < cur && !atomic_compare_exchange_weak(&L->best, &cur, mine)) {
            }
            break; /* this worker's later chunks are all above k */
        }
    }
    return done;
}

/* Run units [lo, hi). Returns iterations run. */
static inline __attribute__((always_inline)) uint64_t run_block(loop *L, uint64_t lo, uint64_t hi)
{
    if (L->until) return run_chunks(L, lo, hi);
    if (lo < hi) L->body(L->ctx, prange__at(L->begin, lo), prange__at(L->begin, hi));
    return hi - lo;
}

/* Claim the next DYNAMIC / GUIDED chunk; 0 when none is left. */
static int claim(loop *L, int team, uint64_t *lo, uint64_t *hi)
{
    uint64_t chunk = (uint64_t)L->chunk, cur = atomic_load_explicit(&L->next, memory_order_relaxed);
    uint64_t end;
    do {
        if (cur >= L->units) return 0;
        uint64_t left = L->units - cur, size = chunk;
        if (L->schedule == PRANGE_SCHEDULE_GUIDED) {
            uint64_t g = left / (2 * (uint64_t)team);
            if (g > size) size = g;
        }
        end = left > size ? cur + size : L->units;
    } while (!atomic_compare_exchange_weak_explicit(&L->next, &cur, end, memory_order_relaxed,
                                                    memory_order_relaxed));
    *lo = cur;
    *hi = end;
    return 1;
}

/* One worker's share of a parallel loop. */
static void work(loop *L, int tid, int team)
{
    prange__tls_t saved = prange__enter_team(tid, team);
    prange__bind_worker_if_asked(tid);
    if (tid == 0) L->ran = team;
    uint64_t t0 = L->sample ? prange__now_ns() : 0, iters = 0;
    if (L->schedule == PRANGE_SCHEDULE_STATIC) {
        uint64_t lo, hi;
        prange__split(L->units, team, tid, &lo, &hi);
        iters = run_block(L, lo, hi);
    } else {
        uint64_t lo, hi;
        /* An early-stop loop hands out chunks in increasing order: once one is above the
         * lowest stop, so is every later one. */
        while (claim(L, team, &lo, &hi) && !(L->until && lo >= best_chunk(L))) iters += run_block(L, lo, hi);
    }
    if (t0) {
        uint64_t ns = prange__now_ns() - t0;
        note_busy(&L->busy, ns);
        if (tid == 0) {
            L->timed_ns = ns;
            L->timed_iters = iters;
        }
    }
    prange__leave(saved);
}

/* A worker's share of a static loop without early stop, from values alone (busy: where
 * to note its time on a sampled call, else NULL). */
static void work_static(prange_body_fn body, void *ctx, int64_t begin, uint64_t n, int tid, int team,
                        busy_t *busy)
{
    prange__tls_t saved = prange__enter_team(tid, team);
    prange__bind_worker_if_asked(tid);
    uint64_t lo, hi, t0 = busy ? prange__now_ns() : 0;
    prange__split(n, team, tid, &lo, &hi);
    if (lo < hi) body(ctx, prange__at(begin, lo), prange__at(begin, hi));
    if (busy) note_busy(busy, prange__now_ns() - t0);
    prange__leave(saved);
}

/* Run inline: the serial plan. Keeps an enclosing loop's worker index. */
static inline __attribute__((always_inline)) void run_serial(loop *L)
{
    prange__tls_t saved = prange__enter_inline();
    uint64_t t0 = L->sample ? prange__now_ns() : 0;
    uint64_t iters = run_block(L, 0, L->units);
    if (t0) {
        L->timed_ns = prange__now_ns() - t0;
        L->timed_iters = iters;
    }
    prange__leave(saved);
}

/* An early-stop loop's schedules hand out chunks of `unit` iterations; the plan's chunk is
 * counted in them. n > 0. */
static void until_chunks(loop *L, uint64_t unit, int64_t plan_chunk)
{
    L->unit = unit;
    L->units = (L->n - 1) / unit + 1;
    uint64_t c = (uint64_t)plan_chunk / unit;
    L->chunk = c > 0 ? (int64_t)c : 1;
}

/* A static loop's description for its team (prange__launch): the workers read the body and
 * the range, not the caller's descriptor, which stays with the caller (who also times its
 * share). No padding: the hand-out compares it byte for byte. */
typedef struct static_call {
    prange_body_fn body;
    void *ctx;
    int64_t begin;
    uint64_t n;
    busy_t *busy; /* sampled: the shares' times */
    loop *L;      /* member 0's */
    int code, pad;
} static_call;
_Static_assert(sizeof(static_call) <= PRANGE__HANDOUT, "a static loop's call fits the hand-out");

static void static_member(void *p)
{
    const static_call *c = p;
    int team = prange__team_in(c->code), tid = omp_get_thread_num();
    if (tid == 0) work(c->L, 0, team);
    else if (tid < team) work_static(c->body, c->ctx, c->begin, c->n, tid, team, c->busy);
}

/* Any other loop: the workers share the caller's descriptor (its chunk counter). */
typedef struct loop_call {
    loop *L;
    int code, pad;
} loop_call;

static void loop_member(void *p)
{
    const loop_call *c = p;
    int team = prange__team_in(c->code), tid = omp_get_thread_num();
    if (tid < team) work(c->L, tid, team);
}

/* Run the loop on a team of the plan's size; on a sampled call, report what the region
 * cost beyond its slowest share to the fork-join figure, and return the call's wall time
 * (0: not timed, or run inline; L->ran: the team). `label`: the caller's, for logs. */
static uint64_t run_parallel(loop *L, const prange_plan *plan, const char *label)
{
    prange__region_note_parallel(); /* inside an inline region: it is worth a team */
    prange__mark_pool_started();
    int planned = prange__team_run(plan, "loop", label);
    if (planned == 1) {
        run_serial(L);
        prange__share_give(1);
        return 0;
    }
    /* Watching a fresh fork-join figure: time this call whatever the sampling said. */
    if (!L->sample && atomic_load_explicit(&prange__fork_watch, memory_order_relaxed) > 0 &&
        atomic_fetch_sub_explicit(&prange__fork_watch, 1, memory_order_relaxed) > 0)
        L->sample = 1;
    int region = prange__region_size(planned);
    uint64_t t0 = L->sample || L->timed ? prange__ticks() : 0;
    if (L->schedule == PRANGE_SCHEDULE_STATIC && !L->until) {
        static_call c = {L->body, L->ctx, L->begin, L->n, L->sample ? &L->busy : NULL, L, prange__team_code(planned), 0};
        prange__launch(static_member, &c, sizeof c, region);
    } else {
        loop_call c = {L, prange__team_code(planned), 0};
        prange__launch(loop_member, &c, sizeof c, region);
    }
    prange__share_give(planned);
    uint64_t wall = t0 ? prange__ticks_since_ns(t0) : 0;
    if (L->sample) {
        uint64_t busy = atomic_load_explicit(&L->busy.max, memory_order_relaxed);
        prange__fork_observe(region, wall > busy ? (double)(wall - busy) : 0);
    }
    /* OMP_DYNAMIC lets the runtime give fewer threads than asked: never silently. */
    if (L->ran < planned && prange__verbose() >= 2)
        prange__log("loop%s%s: planned %d threads, the OpenMP runtime gave %d (OMP_DYNAMIC?)", label ? " " : "",
                    label ? label : "", planned, L->ran);
    return wall;
}

/* A first call without a cost (no hint, nothing learned for this body and size) that the
 * default cost made serial: run a first slice (1/32 of the loop over P - 1 for a team of P)
 * inline and time it, then plan the rest with what it cost. 256 iterations of 1 ms must not run on one thread because the model
 * assumed 0.5 ns each. An early-stop loop's slice is whole chunks (chunks are fixed by the
 * range and the grain), so a stop in the slice is the lowest stop, and the rest's chunks
 * are the loop's chunks from there on. Returns 1 when it ran the loop. */
static int run_first_slice(loop *L, const prange_opts *o, const void *key, const prange__learned *learned,
                           int64_t grain, prange_plan *plan)
{
    if (plan->serial == 0 || plan->reason != prange__why_fork || o->cost_ns > 0 || learned->ns > 0) return 0;
    /* The slices run on the caller while P - 1 threads wait: 2 slices of n / (32 (P - 1))
     * cost at most 1/16 of the parallel time on any team (n / 32 on 16 threads would make
     * a first call of 256 x 1 ms 1.9x the parallel time). */
    int P = o->threads > 0 && o->threads < plan->budget ? o->threads : plan->budget;
    uint64_t g = (uint64_t)grain, slice = L->n / (32 * (uint64_t)(P > 2 ? P - 1 : 1));
    if (slice < g) slice = g;
    uint64_t first = slice; /* the slice in units: iterations, or chunks (until) */
    if (L->until) {
        first = (slice - 1) / L->unit + 1;
        if (first >= L->units) return 0;
        slice = first * L->unit;
    }
    if (slice >= L->n || L->n - slice < 2 * g) return 0;
    prange__tls_t saved = prange__enter_inline();
    /* The thread's CPU time, not the wall clock: this sample decides the rest of the call,
     * and a preemption during a slice of cheap iterations would make them look expensive
     * (and the rest parallel). A slice of less than 5 us, or a quarter of the fork-join
     * figure, is too short a sample to decide on (the CPU clock's own read costs a few
     * hundred ns; a page fault or a cold cache weighs as much): the whole loop is then
     * below ~32 times that, where the serial loop is the safer bet. */
    uint64_t w0 = prange__now_ns(), t0 = prange__cpu_ns();
    uint64_t done = run_block(L, 0, first);
    uint64_t ns = prange__cpu_ns() - t0, wall = prange__now_ns() - w0;
    int stopped = L->until && best_chunk(L) < first;
    int dear = prange__slice_decides(ns, plan);
    /* A slice that says "dear" is confirmed by a second one, and the cheaper counts: an
     * interrupt or a descheduled virtual CPU is charged to the thread's CPU clock too, and
     * one such sample must not send cheap iterations to the team. Dear iterations pay
     * one more slice (1/32 of the loop) on the caller. */
    if (dear && !stopped && L->n - slice >= slice + 2 * g) {
        w0 = prange__now_ns();
        t0 = prange__cpu_ns();
        uint64_t done2 = run_block(L, first, 2 * first);
        uint64_t ns2 = prange__cpu_ns() - t0, wall2 = prange__now_ns() - w0;
        if ((double)ns2 * (double)done < (double)ns * (double)done2) done = done2, ns = ns2, wall = wall2;
        dear = prange__slice_decides(ns, plan);
        stopped = L->until && best_chunk(L) < 2 * first;
        first *= 2;
        slice *= 2;
    }
    prange__leave(saved);
    /* A slice too short to decide on is mostly the CPU clock's own reads (a few hundred
     * ns): recorded, it would teach a 4-iteration loop 300 ns per iteration. The rest is
     * then timed instead (it runs inline, as planned). What is recorded is the slice's
     * wall time, as every other sample: the back-off compares teams' wall times with it,
     * and a CPU time is what the loop takes on a quiet machine only (a 10^7 triad next to
     * a busy loop on every core: 11.7 ms of CPU, 16.5 ms alone; teams of ~11 ms lost). */
    if (dear || stopped) prange__cost_record_alone(key, L->n, done, (double)wall, 1);
    if (stopped) return 1; /* stopped in a slice: the lowest stop */
    /* The rest: a loop of its own over [begin + slice, end), planned with the cost just
     * measured (the size class is the whole loop's, as lookups are). */
    loop R;
    loop_init(&R, L->body, L->until, L->ctx, prange__at(L->begin, slice), prange__at(L->begin, L->n));
    R.sample = !dear;
    prange_opts ro = *o; /* loaded: struct_size is the library's */
    ro.cost_ns = (double)ns / (double)done;
    if (!(ro.cost_ns > 0)) ro.cost_ns = 1e-3;
    if (dear) prange__plan(R.n, &ro, key, plan);
    R.chunk = plan->chunk;
    R.schedule = plan->schedule;
    if (R.until) until_chunks(&R, L->unit, plan->chunk);
    prange__profile_event(PRANGE__EV_SLICE);
    if (prange__verbose() >= 2) prange__log_plan("loop (after a timed first slice)", o->label, plan);
    if (plan->serial) run_serial(&R);
    else run_parallel(&R, plan, o->label);
    if (!dear && R.timed_iters) prange__cost_record_alone(key, L->n, R.timed_iters, (double)R.timed_ns, R.ran <= 1);
    /* R's chunk k is the loop's chunk first + k. */
    uint64_t best = atomic_load(&R.best);
    if (R.until && best != UINT64_MAX) atomic_store(&L->best, (((best >> 32) + first) << 32) | (uint32_t)best);
    return 1;
}

_Static_assert(sizeof(loop) <= PRANGE__RDESC, "a loop descriptor fits a region slot");

/* A loop inside a region planned by every member alone, from its kept inputs `k`
 * (prange__region_kept): the same plan on every member, so no slot. Static shares, or the
 * whole loop on member 0 when serial; then the barrier, unless PRANGE_NOWAIT. Member 0
 * alone keeps the region's account and samples its share for the cost table. Returns 0,
 * having done nothing, for a plan that needs the slot's shared counter (DYNAMIC, GUIDED):
 * every member finds the same and goes there. */
static int run_region_kept(loop *L, const prange_opts *o, const void *key, const prange__learned *k)
{
    prange_plan plan;
    prange__plan_region(L->n, o, key, k, prange__region_fork_ns(), &plan);
    int threads = L->n == 0 ? 0 : plan.serial ? 1 : plan.threads;
    int tid = prange__tls.tid, wait = !(o->flags & PRANGE_NOWAIT), learn = !(o->cost_ns > 0);
    if (threads > 1 && plan.schedule != PRANGE_SCHEDULE_STATIC) return 0;
    /* A serial plan runs on member 0: only with a barrier, all members in step (else the
     * first member to arrive runs it, through the slot: prange__region_in_step). */
    if (threads == 1 && (!wait || !prange__region_in_step())) return 0;
    uint64_t t0 = 0;
    L->chunk = plan.chunk;
    L->schedule = plan.schedule;
    L->sample = 0;
    if (tid == 0) {
        if (prange__verbose() >= 2) prange__log_plan("loop (region, kept inputs)", o->label, &plan);
        L->sample = learn && threads > 0 && prange__sample_tick();
        prange__region_account(&plan, wait, learn, k);
        if (threads > 1) prange__region_note_parallel();
        if (L->sample && wait) t0 = prange__ticks();
    }
    if (threads > 1) {
        prange__profile_team(threads);
        if (tid < threads) work(L, tid, threads);
    } else if (threads == 1 && tid == 0) {
        run_serial(L);
    }
    if (wait) prange__region_wait();
    else prange__region_went_on();
    if (tid == 0 && L->sample && L->timed_iters) {
        /* Timed from member 0's share to past the barrier: what sharing the loop cost
         * beyond that share (its figure is a low quantile: the calls where member 0's
         * share was the slowest set it), or what the barrier cost beyond the loop run
         * alone (sched/calibrate.c). */
        uint64_t wall = t0 ? prange__ticks_since_ns(t0) : 0, own = L->timed_ns;
        if (t0 && threads > 1) prange__region_loop_observe(threads, wall > own ? (double)(wall - own) : 0);
        else if (t0) prange__region_wait_observe(prange__tls.region_team, wall > own ? (double)(wall - own) : 0);
        prange__cost_record_alone(key, L->n, L->timed_iters, (double)L->timed_ns, threads == 1);
    }
    return 1;
}

/* A loop inside a region: planned once, by the first member to reach it, on the
 * region's team; run by the members the plan names (the planner alone when serial);
 * then the barrier, unless PRANGE_NOWAIT (an early-stop loop always waits: its outcome
 * needs every member's chunks). A static loop whose key and size class a slot planned
 * earlier in the call is planned by every member alone instead (run_region_kept). */
static void run_region_loop(loop *L, const prange_opts *o, const void *key)
{
    int hinted = o->cost_ns > 0, keep = key && !L->until;
    if (keep) {
        const prange__learned *k = prange__region_kept(key, L->n, hinted);
        if (k && run_region_kept(L, o, key, k)) return;
    }
    int planner, tid = prange__tls.tid, timed = 0;
    uint64_t t0 = 0;
    prange__rslot *s = prange__region_enter(&planner);
    loop *S = (loop *)(void *)s->desc;
    if (planner) {
        prange_plan plan;
        int learn = !hinted;
        s->learned = learn ? prange__cost_get(key, L->n) : (prange__learned){0};
        prange__plan_region(L->n, o, key, &s->learned, prange__region_fork_ns(), &plan);
        if (prange__verbose() >= 2) prange__log_plan("loop (region)", o->label, &plan);
        loop_init(S, L->body, L->until, L->ctx, L->begin, prange__at(L->begin, L->n));
        S->chunk = plan.chunk;
        S->schedule = plan.schedule;
        if (S->until && S->n) until_chunks(S, until_unit(S->n, prange__grain(o)), plan.chunk);
        S->sample = learn && S->n && prange__cost_sample_learned(&s->learned);
        s->key = learn ? key : NULL;
        s->threads = S->n == 0 ? 0 : plan.serial ? 1 : plan.threads;
        /* A sampled loop with a barrier is timed on its planner, from the hand-out to past
         * the barrier: shared, what sharing it cost beyond the slowest share; run by one
         * member, what its barrier cost beyond the loop (sched/calibrate.c). */
        if (S->sample && s->threads >= 1 && !(o->flags & PRANGE_NOWAIT) && !S->until) {
            timed = 1;
            t0 = prange__ticks();
        }
        prange__region_account(&plan, !(o->flags & PRANGE_NOWAIT) || S->until, learn, &s->learned);
        prange__region_publish(s);
    }
    /* Kept only for static plans: a DYNAMIC or GUIDED one needs the slot every time
     * (the schedule is the options', whatever the length). */
    if (keep && S->schedule == PRANGE_SCHEDULE_STATIC) prange__region_keep(key, L->n, hinted, &s->learned);
    /* The profile counts a loop the members share as a parallel call of their team (a
     * region forks nothing: prange__team_run does not see its loops). */
    if (s->threads > 1) prange__profile_team(s->threads);
    if (s->threads == 1 && s->runner == tid) run_serial(S);
    else if (tid < s->threads && s->threads > 1) work(S, tid, s->threads);
    if (!(o->flags & PRANGE_NOWAIT) || S->until) prange__region_wait();
    else prange__region_went_on();
    if (timed) {
        uint64_t wall = prange__ticks_since_ns(t0), busy = atomic_load_explicit(&S->busy.max, memory_order_relaxed);
        if (s->threads > 1) prange__region_loop_observe(s->threads, wall > busy ? (double)(wall - busy) : 0);
        else if (S->timed_iters) /* run by this member: its own time is the loop's */
            prange__region_wait_observe(prange__tls.region_team, wall > S->timed_ns ? (double)(wall - S->timed_ns) : 0);
    }
    L->unit = S->unit; /* what prange_for_until reads back */
    atomic_store_explicit(&L->best, atomic_load(&S->best), memory_order_relaxed);
    if (prange__region_leave(s)) {
        if (S->sample && s->key)
            prange__cost_record_alone(s->key, S->n, S->timed_iters, (double)S->timed_ns, s->threads == 1);
        prange__region_free(s);
    }
}

typedef struct {
    int (*call)(void *);
    void *arg;
    int rc;
} once;
static void once_body(void *c, int64_t b, int64_t e)
{
    (void)b;
    (void)e;
    once *o = c;
    o->rc = o->call(o->arg); /* inside a body: a nested, serial call */
}

int prange__region_once(int (*call)(void *), void *arg)
{
    once mine = {call, arg, 0};
    prange_opts o = PRANGE_OPTS_INIT;
    o.flags = PRANGE_SERIAL;
    loop L;
    loop_init(&L, once_body, NULL, &mine, 0, 1);
    run_region_loop(&L, &o, NULL);
    return mine.rc;
}

/* The inline decisions of this thread's learned loops (prange__inline_memo, one per key
 * slot), for a warm key (no back-off, no probe) and size class, made at shared-state
 * epoch `epoch` (sched/prange_sched.h): every length up to n_max of that class is
 * serial, since its work n x c stays below where a team of 2 would pay at the team's
 * fork-join figure (memo_keep says where); past n_quiet, where a quiet machine's figure
 * would pay, only until the next fork-join probe is due. While the epoch (which a new
 * budget moves), the call's inputs and the pool are the same, such a call runs inline
 * without planning (an inline call's libprange instructions 667 -> 278, perf/ab/run:
 * the table read, plan(), the probe checks). A wavefront's diagonals of one class share the entry; the loops of a solver
 * step each have theirs. Whatever else would make a call serial (a nested call,
 * PRANGE_SERIAL, an OpenMP region) runs it the same way. */
typedef prange__inline_memo inline_memo;
static const prange_opts g_automatic = PRANGE_OPTS_INIT; /* prange_for's, read in place */

/* Whether the memo holds for a call of n iterations of `key` with options `o` (no early
 * stop: such calls never keep one) at epoch `epoch`. A hinted call's memo serves the same
 * hint only, a learned one's calls without a hint only. */
static inline const inline_memo *memo_fits(uint64_t n, const prange_opts *o, const void *key, uint64_t epoch)
{
    const inline_memo *m = prange__memo_slot(prange__memos, key);
    /* No budget nor PRANGE_VERBOSE here: a new budget moves the epoch, and no memo is kept
     * under PRANGE_VERBOSE=2 (fixed at start-up). */
    return prange__memo_covers(m, key, n, epoch) && m->hint == o->cost_ns && m->grain == o->grain &&
                   m->threads == o->threads && m->flags == o->flags && m->pool == prange__pool
               ? m
               : NULL;
}
static inline const inline_memo *memo_holds(const loop *L, const prange_opts *o, const void *key, uint64_t epoch)
{
    return !L->until ? memo_fits(L->n, o, key, epoch) : NULL;
}

/* The last length of size class c a memo covers at n_max (n x ns <= work_max). */
static uint64_t memo_n_max(unsigned c, double n_max)
{
    uint64_t top = c < 31 ? (UINT64_C(4) << (2 * c)) - 1 : UINT64_MAX; /* the class's last length */
    return n_max < (double)top ? (uint64_t)n_max : top;
}

/* Keep this call's class as serial up to the length where a team of 2 could pay: at its
 * learned cost (warm: not backing off or probing), or at its hint (hinted calls neither
 * learn nor back off, so their plan reads only the hint and the shared state). */
static void memo_keep(const loop *L, const prange_opts *o, const void *key, uint64_t epoch, int learn,
                      const prange__learned *learned, const prange_plan *plan)
{
    double ns = learn ? learned->ns : o->cost_ns;
    if (!key || L->until || !plan->serial || plan->reason != prange__why_fork ||
        (learn && !prange__cost_warm(learned)) || !(ns > 0) || prange__verbose() >= 2)
        return;
    int budget = prange__budget(), cap = o->threads > 0 && o->threads < budget ? o->threads : budget;
    /* plan(): t <= work / F(max(cap, pool)), serial below 2. From 2F on it plans a team
     * of 2 at the figure of max(2, pool) threads, which pays when F + work / 2 < 0.85
     * work: once the pool has the whole budget that figure is F, and the plan is serial
     * up to F / 0.35 (2.86F); before, up to 2F only. Unless F is a busy figure (>= 10x
     * the quiet one), where a long enough loop tries the team at the quiet figure (the
     * trial): the memo then stops where a team would pay at that figure. Past that
     * length (quiet / 0.35) the plan is serial but probes the figure when a probe is due
     * (plan_probe_team()): the memo holds there only while none is (prange__memo_covers).
     * Those lengths were planned on every call: 43% of a 1000² wavefront's diagonals on
     * a guest whose figure sat at 2-3x its quietest. A margin of 1% keeps
     * rounding on the safe side. */
    const double pays2 = PRANGE__PARALLEL_GAIN - 0.5; /* a team of 2 pays from F / pays2 */
    int pool = prange__pool_size(), region = cap > pool ? cap : pool;
    double fork = prange__fork_ns(region, NULL);
    double quiet = prange__fork_quiet_ns() / pays2, most = pool >= cap ? fork / pays2 : 2 * fork;
    if (quiet < most && prange__fork_trial_ns(region, fork) > 0) most = quiet;
    double work_max = 0.99 * most, n_max = work_max / ns;
    double work_quiet = prange__fork_fixed() ? work_max : 0.99 * quiet; /* nothing probes */
    if (!(n_max >= (double)L->n)) return; /* serial for another reason: plan each call */
    inline_memo *m = prange__memo_slot(prange__memos_claim(), key);
    if (!m) return; /* the pool is taken: plan each call */
    unsigned c = prange__size_class(L->n);
    *m = (inline_memo){.key = key, .n_min = c ? UINT64_C(1) << (2 * c) : 0, .n_max = memo_n_max(c, n_max),
                       .epoch = epoch, .grain = o->grain, .flags = o->flags, .pool = prange__pool,
                       .threads = o->threads, .ns = ns, .hint = learn ? 0 : o->cost_ns, .work_max = work_max,
                       .n_quiet = memo_n_max(c, work_quiet / ns), .work_quiet = work_quiet};
}

/* A sampled call of a kept inline plan, made at `epoch`: record its cost, and carry this
 * thread's memos over the epoch that record moved when nothing else moved it in between.
 * The sample changed only its own (key, size class)'s cost: the other memos hold as they
 * were, and its own up to the length its new cost allows (n x ns <= work_max), while the
 * key stays warm (a serial sample starts no back-off). Without this every sampled call
 * (1 in 64) sent the next call of each of the thread's loops through plan() again
 * (~1,100 instructions: a third of an inline loop's libprange instructions). The budget is
 * read here, 1 call in 64, as the memo path read it on every call before: under
 * PRANGE_SHARE=node it keeps this process counted as running loops (sched/node.c). */
static void memo_sampled(const loop *L, const void *key, uint64_t epoch)
{
    (void)prange__budget_now();
    uint64_t was = prange__cost_record_alone(key, L->n, L->timed_iters, (double)L->timed_ns, 1);
    if (was != epoch || !prange__memos) return;
    unsigned c = prange__size_class(L->n);
    for (int i = 0; i < PRANGE__MEMOS; i++) {
        inline_memo *m = &prange__memos[i];
        if (!m->key || m->epoch != epoch) continue;
        if (m->key == key && prange__size_class(m->n_min) == c) {
            prange__learned l = prange__cost_get(key, L->n);
            if (!prange__cost_warm(&l) || !(l.ns > 0)) continue; /* plan the next call */
            m->n_max = memo_n_max(c, m->work_max / l.ns);
            m->n_quiet = memo_n_max(c, m->work_quiet / l.ns);
            m->ns = l.ns;
        }
        m->epoch = was + 1;
    }
}

/* Run a validated loop with loaded options `o`. */
static void run_loop(loop *L, const prange_opts *o, const void *key)
{
    if (prange__region_team()) {
        run_region_loop(L, o, key);
        return;
    }
    uint64_t epoch = atomic_load_explicit(&prange__plan_epoch, memory_order_acquire);
    const inline_memo *m = memo_holds(L, o, key, epoch);
    if (m) {
        /* A warm key: timed 1 in 64, as cost_sample_learned; a hinted call learns nothing
         * (its tick still counts, as the planned path's does). */
        L->sample = prange__sample_tick() && !(m->hint > 0);
        if (prange__tls.region)
            prange__region_account_inline((double)L->n * m->ns, 0, !(o->flags & PRANGE_NOWAIT));
        run_serial(L);
        if (L->sample) memo_sampled(L, key, epoch);
        return;
    }
    /* Learn only where the caller gave no cost: one read of the table serves the plan,
     * the sampling and the first slice. */
    prange__learned learned;
    prange_plan plan;
    int learn = prange__plan_call(L->n, o, key, &learned, &plan);
    memo_keep(L, o, key, epoch, learn, &learned, &plan);
    if (prange__tls.region) /* an inline region's loop: what its team would do with it */
        prange__region_account_inline(plan.work_ns, prange__plan_guessed(&plan, learn, &learned),
                                      !(o->flags & PRANGE_NOWAIT) || L->until);
    L->chunk = plan.chunk;
    L->schedule = plan.schedule;
    if (prange__verbose() >= 2) prange__log_plan("loop", o->label, &plan);
    if (L->n == 0) return;
    int64_t grain = prange__grain(o);
    /* Early stop: chunks fixed by the range and the grain (PRANGE_GRAIN when 0). */
    if (L->until) until_chunks(L, until_unit(L->n, grain), plan.chunk);
    /* Sampling keeps the timer off most calls (hinted calls are still timed 1 in 64, for
     * the fork-join figure). */
    L->sample = learn ? prange__cost_sample_learned(&learned) : prange__sample_tick();
    /* Every parallel call of a body with a learned cost is timed (two clock reads) and
     * compared with its serial estimate: a worker that waits for a core stalls one call in
     * hundreds by milliseconds, which 1-in-64 samples would miss (sched/cost.c). */
    L->timed = learn && learned.ns > 0;
    if (learn && run_first_slice(L, o, key, &learned, grain, &plan)) return;
    uint64_t wall = 0;
    if (plan.serial) run_serial(L);
    else wall = run_parallel(L, &plan, o->label);
    if (L->sample && learn) prange__cost_record_alone(key, L->n, L->timed_iters, (double)L->timed_ns, L->ran <= 1);
    /* Slower than its serial estimate: back off (sched/cost.c). */
    if (L->timed && wall)
        prange__backoff_observe(key, &learned, L->n, L->ran, (double)wall, plan.reason == prange__why_trial, "loop",
                                o->label);
}

/* run_loop as one profiled call: its site is its label, else `site` (the user's body). */
static void run_loop_at(loop *L, const prange_opts *o, const void *key, const void *site, prange__site_kind kind)
{
    prange__prof_call pc;
    int prof = prange__profile_begin(&pc, o->label, site, NULL, kind, 0);
    run_loop(L, o, key);
    if (prof) prange__profile_end(&pc, atomic_load(&L->busy.max), atomic_load(&L->busy.sum));
}

/* A loop with loaded options: its learned cost is keyed by o->key, else by the body. */
static int for_loaded(int64_t begin, int64_t end, prange_body_fn body, void *ctx, const prange_opts *o,
                      const void *site, prange__site_kind kind)
{
    loop L;
    loop_init(&L, body, NULL, ctx, begin, end);
    run_loop_at(&L, o, prange__key(o, (const void *)body), site, kind);
    return 0;
}

int prange_for_opts(int64_t begin, int64_t end, prange_body_fn body, void *ctx, const prange_opts *opts)
{
    PRANGE__TLS_SYNC();
    prange_opts o;
    if (begin > end || !body || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    return for_loaded(begin, end, body, ctx, &o, (const void *)body, PRANGE__SITE_LOOP);
}

/* prange_for while this thread's inline memo holds for it (the default options): the
 * memo path of run_loop without the loop descriptor, the options and the profile's frame,
 * on calls the profile does not record and the sampling does not time (those take
 * run_loop). A loop of a PRK p2p wavefront at 1000² cost ~27 ns over its body on
 * run_loop's path. Returns 1 when it ran the call. */
static inline __attribute__((always_inline)) int for_memo(int64_t begin, int64_t end, prange_body_fn body, void *ctx)
{
    uint64_t n = prange__len(begin, end);
    if (prange__tls.region_team != 0 || prange__tls.depth != 0 || prange__sample_due() ||
        atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) != 0)
        return 0;
    const inline_memo *m =
        memo_fits(n, &g_automatic, (const void *)body, atomic_load_explicit(&prange__plan_epoch, memory_order_acquire));
    if (!m) return 0;
    prange__tick++; /* not a sampled call: counted as run_loop counts it */
    if (prange__tls.region) prange__region_account_inline((double)n * m->ns, 0, 1);
    prange__top_saved saved = prange__enter_inline_top();
    if (n) body(ctx, begin, end);
    prange__leave_top(saved);
    return 1;
}

/* Out of line: the descriptor's aligned frame stays off for_memo's path. */
static __attribute__((noinline)) int for_automatic(int64_t begin, int64_t end, prange_body_fn body, void *ctx)
{
    return for_loaded(begin, end, body, ctx, &g_automatic, (const void *)body, PRANGE__SITE_LOOP);
}

int prange_for(int64_t begin, int64_t end, prange_body_fn body, void *ctx)
{
    PRANGE__TLS_SYNC();
    if (begin > end || !body) return PRANGE_EINVAL;
    if (for_memo(begin, end, body, ctx)) return 0;
    return for_automatic(begin, end, body, ctx);
}

int prange_for_until(int64_t begin, int64_t end, prange_until_fn body, void *ctx, const prange_opts *opts,
                     prange_stop *stop)
{
    PRANGE__TLS_SYNC();
    prange_opts o;
    if (begin > end || !body || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    loop L;
    loop_init(&L, NULL, body, ctx, begin, end);
    run_loop_at(&L, &o, prange__key(&o, (const void *)body), (const void *)body, PRANGE__SITE_UNTIL);
    uint64_t best = atomic_load(&L.best);
    if (stop) {
        if (best == UINT64_MAX) *stop = (prange_stop){0, end};
        else *stop = (prange_stop){(int)(uint32_t)best, prange__at(begin, (best >> 32) * L.unit)};
    }
    return 0;
}

int prange_thread_id(void)
{
    PRANGE__TLS_SYNC();
    return prange__tls.depth > 0 || prange__tls.region ? prange__tls.tid : 0;
}

int prange_num_threads(void)
{
    PRANGE__TLS_SYNC();
    return prange__tls.depth > 0 || prange__tls.region ? prange__tls.team : prange__budget();
}

/* ---- fixed partitions -------------------------------------------------------------------- */

/* Blocks first, first + step, ... of the static partition of n into `blocks`, each as
 * worker k of `blocks`: block k is always [split(n, blocks, k)), whoever runs it. */
static void run_partition_blocks(uint64_t n, int blocks, int first, int step, prange_body_fn body, void *ctx)
{
    for (int k = first; k < blocks; k += step) {
        uint64_t lo, hi;
        prange__split(n, blocks, k, &lo, &hi);
        prange__tls_t saved = prange__enter_team(k, blocks);
        if (lo < hi) body(ctx, (int64_t)lo, (int64_t)hi);
        prange__leave(saved);
    }
}

int prange__for_partition(uint64_t n, int blocks, prange_body_fn body, void *ctx)
{
    if (n == 0) return 0;
    if (blocks < 1) blocks = 1;
    int team = 1, taken = 0;
    if (blocks > 1 && prange__tls.depth == 0 && !omp_in_parallel()) {
        prange_plan want = {.threads = blocks};
        team = taken = prange__team_run(&want, "partition", NULL);
    }
    if (team == 1) {
        run_partition_blocks(n, blocks, 0, 1, body, ctx);
        prange__share_give(taken);
        return 0;
    }
    prange__mark_pool_started();
    int code = prange__team_code(team);
#pragma omp parallel num_threads(prange__region_size(team)) firstprivate(n, blocks, code, body, ctx)
    {
        int got = prange__team_in(code), tid = omp_get_thread_num();
        if (tid < got) prange__bind_worker_if_asked(tid);
        if (tid < got) run_partition_blocks(n, blocks, tid, got, body, ctx);
    }
    prange__share_give(taken);
    return 0;
}

/* ---- 2-D ranges ------------------------------------------------------------------------ */

typedef struct {
    prange_body2d_fn body;
    void *ctx;
    int64_t i0, j0;
    uint64_t ni, nj, ti, tj, tiles_j; /* extents, tile sizes, tiles per row of tiles */
} range2d;

/* Tiles are numbered row of tiles by row of tiles: tile k is (k / tiles_j, k % tiles_j). */
static void tiles_body(void *c, int64_t b, int64_t e)
{
    range2d *r = c;
    for (int64_t k = b; k < e; k++) {
        uint64_t ti = (uint64_t)k / r->tiles_j, tj = (uint64_t)k % r->tiles_j;
        uint64_t ib = ti * r->ti, jb = tj * r->tj;
        uint64_t ie = r->ni - ib > r->ti ? ib + r->ti : r->ni, je = r->nj - jb > r->tj ? jb + r->tj : r->nj;
        r->body(r->ctx, prange__at(r->i0, ib), prange__at(r->i0, ie), prange__at(r->j0, jb), prange__at(r->j0, je));
    }
}

int prange_for_2d(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t tile_i, int64_t tile_j,
                  prange_body2d_fn body, void *ctx, const prange_opts *opts)
{
    PRANGE__TLS_SYNC();
    prange_opts o;
    if (i0 > i1 || j0 > j1 || !body || tile_i < 0 || tile_j < 0 || prange__opts_load(opts, &o) != 0)
        return PRANGE_EINVAL;
    range2d r = {body, ctx, i0, j0, prange__len(i0, i1), prange__len(j0, j1), tile_i ? (uint64_t)tile_i : 64,
                 tile_j ? (uint64_t)tile_j : 64, 0};
    if (r.ni == 0 || r.nj == 0) return 0;
    uint64_t tiles_i = (r.ni - 1) / r.ti + 1;
    r.tiles_j = (r.nj - 1) / r.tj + 1;
    if (tiles_i > (uint64_t)INT64_MAX / r.tiles_j) return PRANGE_EINVAL; /* too many tiles to number */
    if (!o.key) o.key = (const void *)body; /* learn per 2-D body, not per tiles_body; a user key wins */
    if (o.cost_ns > 0) o.cost_ns = prange__cost_times(o.cost_ns, (double)r.ti * (double)r.tj); /* per tile */
    return for_loaded(0, (int64_t)(tiles_i * r.tiles_j), tiles_body, &r, &o, (const void *)body, PRANGE__SITE_2D);
}
