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
    int sample;                /* time the caller's share to learn the cost */
    _Alignas(64) _Atomic(uint64_t) next; /* DYNAMIC / GUIDED: first unit not handed out */
    _Atomic(uint64_t) best;    /* until: (chunk << 32) | (uint32_t)value of the lowest stop */
    _Alignas(64) uint64_t timed_iters;
    uint64_t timed_ns;
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
static uint64_t run_block(loop *L, uint64_t lo, uint64_t hi)
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
    uint64_t t0 = (L->sample && tid == 0) ? prange__now_ns() : 0, iters = 0;
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
        L->timed_ns = prange__now_ns() - t0;
        L->timed_iters = iters;
    }
    prange__leave(saved);
}

/* A worker's share of a static loop without early stop, from values alone. */
static void work_static(prange_body_fn body, void *ctx, int64_t begin, uint64_t n, int tid, int team)
{
    prange__tls_t saved = prange__enter_team(tid, team);
    prange__bind_worker_if_asked(tid);
    uint64_t lo, hi;
    prange__split(n, team, tid, &lo, &hi);
    if (lo < hi) body(ctx, prange__at(begin, lo), prange__at(begin, hi));
    prange__leave(saved);
}

/* Run inline: the serial plan. Keeps an enclosing loop's worker index. */
static void run_serial(loop *L)
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

/* Run a validated loop with loaded options `o`. */
static void run_loop(loop *L, const prange_opts *o, const void *key)
{
    prange_plan plan;
    prange__plan(L->n, o, key, &plan);
    L->chunk = plan.chunk;
    L->schedule = plan.schedule;
    if (prange__verbose() >= 2) prange__log_plan("loop", o->label, &plan);
    if (L->n == 0) return;
    if (L->until) {
        /* Chunks fixed by the range and the grain; the plan's chunk counted in them. */
        int64_t grain = o->grain > 0 ? o->grain : prange__state_get()->opt[PRANGE__OPT_GRAIN].value;
        L->unit = until_unit(L->n, grain);
        L->units = (L->n - 1) / L->unit + 1;
        uint64_t c = (uint64_t)plan.chunk / L->unit;
        L->chunk = c > 0 ? (int64_t)c : 1;
    }
    /* Learn only where the caller gave no cost; sampling keeps the timer off most calls. */
    L->sample = !(o->cost_ns > 0) && prange__cost_should_sample(key, L->n);
    if (plan.serial) {
        run_serial(L);
    } else {
        prange__mark_pool_started();
        /* firstprivate: the workers read these values from the block the runtime hands
         * them, not from this frame: a static loop's workers touch no other line of the
         * caller's (the descriptor stays with the caller, who also times its share). */
        int planned = plan.threads;
        if (L->schedule == PRANGE_SCHEDULE_STATIC && !L->until) {
            prange_body_fn body = L->body;
            void *ctx = L->ctx;
            int64_t begin = L->begin;
            uint64_t n = L->n;
#pragma omp parallel num_threads(prange__region_size(planned)) firstprivate(L, planned, body, ctx, begin, n)
            {
                int team = prange__team_of(planned), tid = omp_get_thread_num();
                if (tid == 0) work(L, 0, team);
                else if (tid < team) work_static(body, ctx, begin, n, tid, team);
            }
        } else {
#pragma omp parallel num_threads(prange__region_size(planned)) firstprivate(L, planned)
            {
                int team = prange__team_of(planned), tid = omp_get_thread_num();
                if (tid < team) work(L, tid, team);
            }
        }
    }
    if (L->sample) prange__cost_record(key, L->n, L->timed_iters, (double)L->timed_ns);
}

int prange_for_opts(int64_t begin, int64_t end, prange_body_fn body, void *ctx, const prange_opts *opts)
{
    prange_opts o;
    if (begin > end || !body || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    loop L;
    loop_init(&L, body, NULL, ctx, begin, end);
    run_loop(&L, &o, prange__key(&o, (const void *)body));
    return 0;
}

int prange_for(int64_t begin, int64_t end, prange_body_fn body, void *ctx)
{
    return prange_for_opts(begin, end, body, ctx, NULL);
}

int prange_for_until(int64_t begin, int64_t end, prange_until_fn body, void *ctx, const prange_opts *opts,
                     prange_stop *stop)
{
    prange_opts o;
    if (begin > end || !body || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    loop L;
    loop_init(&L, NULL, body, ctx, begin, end);
    run_loop(&L, &o, prange__key(&o, (const void *)body));
    uint64_t best = atomic_load(&L.best);
    if (stop) {
        if (best == UINT64_MAX) *stop = (prange_stop){0, end};
        else *stop = (prange_stop){(int)(uint32_t)best, prange__at(begin, (best >> 32) * L.unit)};
    }
    return 0;
}

int prange_thread_id(void) { return prange__tls.depth > 0 ? prange__tls.tid : 0; }

int prange_num_threads(void) { return prange__tls.depth > 0 ? prange__tls.team : prange__budget(); }

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
    prange_opts o;
    if (i0 > i1 || j0 > j1 || !body || tile_i < 0 || tile_j < 0 || prange__opts_load(opts, &o) != 0)
        return PRANGE_EINVAL;
    range2d r = {body, ctx, i0, j0, prange__len(i0, i1), prange__len(j0, j1), tile_i ? (uint64_t)tile_i : 64,
                 tile_j ? (uint64_t)tile_j : 64, 0};
    if (r.ni == 0 || r.nj == 0) return 0;
    uint64_t tiles_i = (r.ni - 1) / r.ti + 1;
    r.tiles_j = (r.nj - 1) / r.tj + 1;
    if (tiles_i > (uint64_t)INT64_MAX / r.tiles_j) return PRANGE_EINVAL; /* too many tiles to number */
    if (!o.key) o.key = (const void *)body; /* learn per 2-D body, not per tiles_body */
    if (o.cost_ns > 0) o.cost_ns *= (double)(r.ti * r.tj) < 1e12 ? (double)(r.ti * r.tj) : 1e12; /* per tile */
    return prange_for_opts(0, (int64_t)(tiles_i * r.tiles_j), tiles_body, &r, &o);
}
