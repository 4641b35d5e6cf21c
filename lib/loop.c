/*
 * loop.c — executes loop plans: inline on the caller, or on an OpenMP team.
 *
 * The hot path takes no lock and allocates nothing: the loop descriptor lives on the
 * caller's stack, dynamic and guided chunks are claimed with one compare-and-swap on a
 * shared counter, and early stop is one atomic flag read between chunks.
 *
 * Offsets are unsigned: a range may span INT64_MIN .. INT64_MAX, whose length (2^64 - 1)
 * only fits in a uint64_t; begin + offset is computed modulo 2^64 and is always in range.
 */
#include <omp.h>

#include "prange_lib.h"

/* The descriptor every worker reads. The fields workers need sit in the first cache line
 * (one transfer from the caller's core per worker); the shared counters, written only by
 * DYNAMIC / GUIDED / early-stop loops, sit in the next, and the caller's timing after. */
typedef struct loop {
    _Alignas(64) prange_body_fn body; /* exactly one of body / until is set */
    prange_until_fn until;
    void *ctx;
    int64_t begin;
    uint64_t n;
    int64_t chunk;             /* the plan's chunk */
    int64_t grain;             /* the effective grain: minimum piece size for early stop */
    prange_schedule schedule;  /* the plan's schedule */
    int sample;                /* time this call: the shares, and the region on the caller */
    _Alignas(64) _Atomic(uint64_t) next; /* DYNAMIC / GUIDED: first offset not handed out */
    atomic_int stop;           /* until: the first non-zero value a body returned */
    _Alignas(64) uint64_t timed_iters; /* the caller's share, for the cost per iteration */
    uint64_t timed_ns;
    _Atomic(uint64_t) busy_max; /* the slowest worker's share, for the fork-join figure */
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
    L->n = prange__len(begin, end);
    atomic_init(&L->next, 0);
    atomic_init(&L->stop, 0);
    L->timed_iters = L->timed_ns = 0;
    atomic_init(&L->busy_max, 0);
}

/* A sampled call: record one worker's share time into the slowest so far. */
static void note_busy(_Atomic(uint64_t) *max, uint64_t ns)
{
    uint64_t cur = atomic_load_explicit(max, memory_order_relaxed);
    while (ns > cur && !atomic_compare_exchange_weak_explicit(max, &cur, ns, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}

/* Run [lo, hi) (offsets). Returns the body's stop value (0 = go on). */
static inline int run_range(loop *L, uint64_t lo, uint64_t hi)
{
    int64_t b = prange__at(L->begin, lo), e = prange__at(L->begin, hi);
    if (!L->until) {
        L->body(L->ctx, b, e);
        return 0;
    }
    int r = L->until(L->ctx, b, e);
    if (r != 0) {
        int zero = 0;
        atomic_compare_exchange_strong(&L->stop, &zero, r);
    }
    return r;
}

static inline int stopped(loop *L)
{
    return L->until && atomic_load_explicit(&L->stop, memory_order_relaxed) != 0;
}

/* Early stop needs chunk boundaries to check at: cut a block into about 16 pieces.
 * ceil(len / 16) without len + 15, which wraps for len near 2^64. */
static uint64_t piece_size(uint64_t len, int64_t grain)
{
    uint64_t p = len / 16 + (len % 16 != 0);
    if (p < (uint64_t)grain) p = (uint64_t)grain;
    return p ? p : 1;
}

/* Run [lo, hi), in pieces when the body can stop the loop. Returns iterations run. */
static uint64_t run_block(loop *L, uint64_t lo, uint64_t hi, int64_t grain)
{
    if (!L->until) {
        if (lo < hi) run_range(L, lo, hi);
        return hi - lo;
    }
    uint64_t piece = piece_size(hi - lo, grain), done = 0;
    while (lo < hi && !stopped(L)) {
        uint64_t e = hi - lo > piece ? lo + piece : hi;
        done += e - lo;
        if (run_range(L, lo, e) != 0) break;
        lo = e;
    }
    return done;
}

/* Claim the next DYNAMIC / GUIDED chunk; 0 when none is left. */
static int claim(loop *L, int team, uint64_t *lo, uint64_t *hi)
{
    uint64_t chunk = (uint64_t)L->chunk, cur = atomic_load_explicit(&L->next, memory_order_relaxed);
    uint64_t end;
    do {
        if (cur >= L->n) return 0;
        uint64_t left = L->n - cur, size = chunk;
        if (L->schedule == PRANGE_SCHEDULE_GUIDED) {
            uint64_t g = left / (2 * (uint64_t)team);
            if (g > size) size = g;
        }
        end = left > size ? cur + size : L->n;
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
        prange__split(L->n, team, tid, &lo, &hi);
        iters = run_block(L, lo, hi, L->grain);
    } else {
        uint64_t lo, hi;
        while (!stopped(L) && claim(L, team, &lo, &hi)) iters += run_block(L, lo, hi, L->chunk);
    }
    if (t0) {
        uint64_t ns = prange__now_ns() - t0;
        note_busy(&L->busy_max, ns);
        if (tid == 0) {
            L->timed_ns = ns;
            L->timed_iters = iters;
        }
    }
    prange__leave(saved);
}

/* A worker's share of a static loop without early stop, from values alone (busy_max:
 * where to note its time on a sampled call, else NULL). */
static void work_static(prange_body_fn body, void *ctx, int64_t begin, uint64_t n, int tid, int team,
                        _Atomic(uint64_t) *busy_max)
{
    prange__tls_t saved = prange__enter_team(tid, team);
    prange__bind_worker_if_asked(tid);
    uint64_t lo, hi, t0 = busy_max ? prange__now_ns() : 0;
    prange__split(n, team, tid, &lo, &hi);
    if (lo < hi) body(ctx, prange__at(begin, lo), prange__at(begin, hi));
    if (busy_max) note_busy(busy_max, prange__now_ns() - t0);
    prange__leave(saved);
}

/* Run inline: the serial plan. Keeps an enclosing loop's worker index. */
static void run_serial(loop *L)
{
    prange__tls_t saved = prange__enter_inline();
    uint64_t t0 = L->sample ? prange__now_ns() : 0;
    uint64_t iters = run_block(L, 0, L->n, L->grain);
    if (t0) {
        L->timed_ns = prange__now_ns() - t0;
        L->timed_iters = iters;
    }
    prange__leave(saved);
}

/* Run the loop on a team of the plan's size; on a sampled call, report what the region
 * cost beyond its slowest share to the fork-join figure. */
static void run_parallel(loop *L, const prange_plan *plan)
{
    prange__mark_pool_started();
    /* firstprivate: the workers read these values from the block the runtime hands
     * them, not from this frame: a static loop's workers touch no other line of the
     * caller's (the descriptor stays with the caller, who also times its share). */
    int planned = prange__team_run(plan, "loop");
    if (planned == 1) {
        run_serial(L);
        prange__share_give(1);
        return;
    }
    int region = prange__region_size(planned);
    uint64_t t0 = L->sample ? prange__now_ns() : 0;
    if (L->schedule == PRANGE_SCHEDULE_STATIC && !L->until) {
        prange_body_fn body = L->body;
        void *ctx = L->ctx;
        int64_t begin = L->begin;
        uint64_t n = L->n;
        _Atomic(uint64_t) *busy = L->sample ? &L->busy_max : NULL;
#pragma omp parallel num_threads(region) firstprivate(L, planned, body, ctx, begin, n, busy)
        {
            int team = prange__team_of(planned), tid = omp_get_thread_num();
            if (tid == 0) work(L, 0, team);
            else if (tid < team) work_static(body, ctx, begin, n, tid, team, busy);
        }
    } else {
#pragma omp parallel num_threads(region) firstprivate(L, planned)
        {
            int team = prange__team_of(planned), tid = omp_get_thread_num();
            if (tid < team) work(L, tid, team);
        }
    }
    prange__share_give(planned);
    if (t0) {
        uint64_t wall = prange__now_ns() - t0, busy = atomic_load_explicit(&L->busy_max, memory_order_relaxed);
        prange__fork_observe(region, wall > busy ? (double)(wall - busy) : 0);
    }
    /* OMP_DYNAMIC lets the runtime give fewer threads than asked: never silently. */
    if (L->ran < planned && prange__verbose() >= 2)
        prange__log("loop: planned %d threads, the OpenMP runtime gave %d (OMP_DYNAMIC?)", planned, L->ran);
}

/* A first call without a cost (no hint, nothing learned for this body and size) that the
 * default cost made serial: run a first slice inline and time it, then plan the rest with
 * what it cost. 256 iterations of 1 ms must not run on one thread because the model
 * assumed 0.5 ns each. Returns 1 when it ran the loop (the stop value in *stop). */
static int run_first_slice(loop *L, const prange_opts *opts, const void *key, prange_plan *plan, int *stop)
{
    uint64_t slice = L->n / 32;
    if (slice < (uint64_t)L->grain) slice = (uint64_t)L->grain;
    if (plan->serial == 0 || plan->reason != prange__why_fork || L->n - slice < 2 * (uint64_t)L->grain ||
        slice >= L->n || (opts && opts->cost_ns > 0) || prange__cost_lookup(key, L->n) > 0)
        return 0;
    prange__tls_t saved = prange__enter_inline();
    /* The thread's CPU time, not the wall clock: this one sample decides the rest of the
     * call, and a preemption during a slice of cheap iterations would make them look
     * expensive (and the rest parallel). */
    uint64_t t0 = prange__cpu_ns();
    run_block(L, 0, slice, L->grain);
    uint64_t ns = prange__cpu_ns() - t0;
    prange__leave(saved);
    prange__cost_record(key, L->n, slice, (double)ns);
    if (stopped(L)) {
        *stop = atomic_load(&L->stop);
        return 1;
    }
    /* The rest: a loop of its own over [begin + slice, end), planned with the cost just
     * measured (the size class is the whole loop's, as lookups are). */
    loop R;
    loop_init(&R, L->body, L->until, L->ctx, prange__at(L->begin, slice), prange__at(L->begin, L->n));
    R.grain = L->grain;
    R.sample = 0;
    prange_opts o = opts ? *opts : (prange_opts){0};
    o.cost_ns = (double)ns / (double)slice;
    if (!(o.cost_ns > 0)) o.cost_ns = 1e-3;
    /* A slice of less than 5 us, or a quarter of the fork-join figure, is too short a
     * sample to decide on alone (the CPU clock's own read costs a few hundred ns; a page
     * fault or a cold cache weighs as much): the whole loop is then below ~32 times that,
     * where the serial loop is the safer bet. Such loops keep the serial plan. */
    if ((double)ns >= 5000 && (double)ns >= plan->fork_ns / 4) prange__plan(R.n, &o, key, plan);
    R.chunk = plan->chunk;
    R.schedule = plan->schedule;
    if (prange__verbose() >= 2) prange__log_plan("loop (after a timed first slice)", plan);
    if (plan->serial) run_serial(&R);
    else run_parallel(&R, plan);
    *stop = R.until ? atomic_load(&R.stop) : 0;
    return 1;
}

static int run_loop(loop *L, const prange_opts *opts, const void *key)
{
    prange_plan plan;
    prange__plan_exec(L->n, opts, key, &plan);
    L->chunk = plan.chunk;
    L->schedule = plan.schedule;
    if (prange__verbose() >= 2) prange__log_plan("loop", &plan);
    if (L->n == 0) return 0;
    /* Learn only where the caller gave no cost; sampling keeps the timer off most calls
     * (hinted calls are still timed 1 in 64, for the fork-join figure). */
    int learn = !(opts && opts->cost_ns > 0);
    L->sample = prange__cost_should_sample(learn ? key : NULL, L->n);
    L->grain = prange__grain(opts);
    int stop;
    if (learn && run_first_slice(L, opts, key, &plan, &stop)) return stop;
    if (plan.serial) run_serial(L);
    else run_parallel(L, &plan);
    if (L->sample && learn) prange__cost_record(key, L->n, L->timed_iters, (double)L->timed_ns);
    return L->until ? atomic_load(&L->stop) : 0;
}

/* A loop whose learned cost is keyed by `key` (prange_for_2d: the user's tile body, not
 * the shared tile walker). Arguments already checked. */
static int for_keyed(int64_t begin, int64_t end, prange_body_fn body, void *ctx, const prange_opts *opts,
                     const void *key)
{
    loop L;
    loop_init(&L, body, NULL, ctx, begin, end);
    return run_loop(&L, opts, key);
}

int prange_for_opts(int64_t begin, int64_t end, prange_body_fn body, void *ctx, const prange_opts *opts)
{
    PRANGE__TLS_SYNC();
    if (begin > end || !body || prange__opts_check(opts) != 0) return PRANGE_EINVAL;
    return for_keyed(begin, end, body, ctx, opts, (const void *)body);
}

int prange_for(int64_t begin, int64_t end, prange_body_fn body, void *ctx)
{
    PRANGE__TLS_SYNC();
    return prange_for_opts(begin, end, body, ctx, NULL);
}

int prange_for_until(int64_t begin, int64_t end, prange_until_fn body, void *ctx, const prange_opts *opts)
{
    PRANGE__TLS_SYNC();
    if (begin > end || !body || prange__opts_check(opts) != 0) return PRANGE_EINVAL;
    loop L;
    loop_init(&L, NULL, body, ctx, begin, end);
    return run_loop(&L, opts, (const void *)body);
}

int prange_thread_id(void)
{
    PRANGE__TLS_SYNC();
    return prange__tls.depth > 0 ? prange__tls.tid : 0;
}

int prange_num_threads(void)
{
    PRANGE__TLS_SYNC();
    return prange__tls.depth > 0 ? prange__tls.team : prange__budget();
}

/* ---- fixed partitions -------------------------------------------------------------------- */

int prange__for_partition(uint64_t n, int blocks, prange_body_fn body, void *ctx)
{
    if (n == 0) return 0;
    if (blocks < 1) blocks = 1;
    int team = 1, taken = 0;
    if (blocks > 1 && prange__tls.depth == 0 && !omp_in_parallel()) {
        prange_plan want = {.threads = blocks};
        team = taken = prange__team_run(&want, "partition");
    }
    if (team == 1) {
        for (int k = 0; k < blocks; k++) {
            uint64_t lo, hi;
            prange__split(n, blocks, k, &lo, &hi);
            prange__tls_t saved = prange__enter_team(k, blocks);
            if (lo < hi) body(ctx, (int64_t)lo, (int64_t)hi);
            prange__leave(saved);
        }
        prange__share_give(taken);
        return 0;
    }
    prange__mark_pool_started();
#pragma omp parallel num_threads(prange__region_size(team)) firstprivate(n, blocks, team, body, ctx)
    {
        int got = prange__team_of(team), tid = omp_get_thread_num();
        if (tid < got) prange__bind_worker_if_asked(tid);
        /* Block k is always [split(n, blocks, k)): whoever runs it, the partition holds. */
        for (int k = tid; tid < got && k < blocks; k += got) {
            uint64_t lo, hi;
            prange__split(n, blocks, k, &lo, &hi);
            prange__tls_t saved = prange__enter_team(k, blocks);
            if (lo < hi) body(ctx, (int64_t)lo, (int64_t)hi);
            prange__leave(saved);
        }
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
    if (i0 > i1 || j0 > j1 || !body || tile_i < 0 || tile_j < 0 || prange__opts_check(opts) != 0) return PRANGE_EINVAL;
    range2d r = {body, ctx, i0, j0, prange__len(i0, i1), prange__len(j0, j1), tile_i ? (uint64_t)tile_i : 64,
                 tile_j ? (uint64_t)tile_j : 64, 0};
    if (r.ni == 0 || r.nj == 0) return 0;
    uint64_t tiles_i = (r.ni - 1) / r.ti + 1;
    r.tiles_j = (r.nj - 1) / r.tj + 1;
    if (tiles_i > (uint64_t)INT64_MAX / r.tiles_j) return PRANGE_EINVAL; /* too many tiles to number */
    prange_opts o = opts ? *opts : (prange_opts){0};
    if (o.cost_ns > 0) o.cost_ns = prange__cost_times(o.cost_ns, (double)r.ti * (double)r.tj); /* per tile */
    return for_keyed(0, (int64_t)(tiles_i * r.tiles_j), tiles_body, &r, &o, (const void *)body);
}
