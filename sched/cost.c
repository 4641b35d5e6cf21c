/*
 * cost.c — cost per iteration learned from the calls themselves.
 *
 * A loop without a cost hint is timed (the whole call when serial, the caller's own share
 * when parallel) and the ns per iteration is kept per (body, size class) as a robust
 * running estimate (estimate.c: one 4 ms hiccup in a 1 us loop moves nothing). Size
 * classes are powers of 4 of n, because the same body costs less per iteration when its
 * data sit in cache. The table is fixed-size and lock-free: a slot is claimed with one
 * CAS, and a full table simply stops learning new keys (the default cost applies).
 *
 * Each slot also keeps the back-off of its (body, size class): a sampled parallel call
 * that took longer than its serial estimate (n x the learned cost) halves the team that
 * key's calls may use, for 16 calls, then for a number of calls that at least doubles each
 * time a probe at the full team loses again (or a call soon after it won), and ends when a
 * probe wins. The usual cause is a
 * busy machine: a worker that waits for a core makes the whole call wait at the join,
 * which neither the per-iteration cost (the caller's share) nor the fork-join figure (the
 * time beyond the slowest share) sees. docs/scheduling.md has a worked example.
 */
#include "prange_sched.h"

#define SLOTS 512  /* power of two */
#define PROBES 8
#define WARM_SAMPLES 8  /* calls timed before sampling drops to 1 in 64 */
#define BACKOFF_FIRST 16     /* capped calls after a first loss: a one-off hiccup costs little */
#define BACKOFF_COST 32.0    /* then at least 32 x what a lost probe cost: probes cost <= ~3% */
#define BACKOFF_MAX_NS 5e8   /* and at most 0.5 s of serial work: a quiet machine is seen */
#define BACKOFF_WATCH 8      /* calls timed after a probe wins: one lucky probe is found out */
#define BACKOFF_FORGET 1024  /* won calls at most per halving of the remembered interval */

typedef struct {
    _Atomic(uintptr_t) key;    /* body pointer ^ size class, 0 = free */
    prange__window cost;       /* ns per iteration */
    /* Back-off (written by timed parallel calls, capped and watched ones; races lose a
     * count at worst). One word that every call reads, 0 in the common case:
     * cap (bits 0-15: at most this many threads while skip > 0; 0 = none), watch (16-31:
     * calls still to time after a probe won), skip (32-63: capped calls left before the
     * next probe). */
    _Atomic(uint64_t) bo;
    atomic_uint interval;      /* the current back-off in calls; 0 = none recently */
    atomic_uint forget;        /* won calls until the interval halves */
} slot;

/* While cap > 0 and skip == 0 (a probe is due), watch = 1 marks the second probe. */
#define BO_CAP(w) ((int)((w) & 0xffff))
#define BO_WATCH(w) ((unsigned)((w) >> 16 & 0xffff))
#define BO_SKIP(w) ((unsigned)((w) >> 32))
static inline uint64_t bo_word(int cap, unsigned watch, unsigned skip)
{
    return (uint64_t)(unsigned)cap | (uint64_t)watch << 16 | (uint64_t)skip << 32;
}

static slot g_slots[SLOTS];

static unsigned size_class(uint64_t n)
{
    /* floor(log4 n) = floor(log2 n) / 2, without a loop (every call looks its class up) */
    return n >= 4 ? (unsigned)(63 - __builtin_clzll(n)) / 2 : 0; /* 0 .. 31 */
}

static uintptr_t make_key(const void *key, uint64_t n)
{
    /* Function pointers are at least 2-aligned on every ABI we build for; the class sits
     * in the top bits, which user-space code addresses do not use. */
    return (uintptr_t)key ^ ((uintptr_t)(size_class(n) + 1) << 56);
}

static slot *find(uintptr_t k, int claim)
{
    /* Mix the high bits (the size class) down: a plain multiply leaves them out of the
     * index, and every size class of one body then competed for the same 8 slots. */
    uint64_t h = (uint64_t)k;
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    for (unsigned p = 0; p < PROBES; p++) {
        slot *s = &g_slots[(h + p) & (SLOTS - 1)];
        uintptr_t cur = atomic_load_explicit(&s->key, memory_order_acquire);
        if (cur == k) return s;
        if (cur == 0) {
            if (!claim) return NULL;
            uintptr_t expect = 0;
            if (atomic_compare_exchange_strong(&s->key, &expect, k) || expect == k) return s;
        }
    }
    return NULL;
}

prange__learned prange__cost_get(const void *key, uint64_t n)
{
    slot *s = key ? find(make_key(key, n), 0) : NULL;
    if (!s) return (prange__learned){0, 0, 0, 0};
    prange__learned l = {prange__window_get(&s->cost), prange__window_count(&s->cost), 0, 0};
    uint64_t w = atomic_load_explicit(&s->bo, memory_order_relaxed);
    if (__builtin_expect(w != 0, 0)) {
        if (BO_CAP(w) > 0 && BO_SKIP(w) > 0) l.cap = (uint16_t)BO_CAP(w);
        else l.probe = 1; /* the probe after a back-off, or a watched call */
    }
    return l;
}

double prange__cost_lookup(const void *key, uint64_t n) { return prange__cost_get(key, n).ns; }

int prange__cost_sample_learned(const prange__learned *l)
{
    /* A capped call is timed too: run inline it times the whole loop, the serial figure a
     * probe is then judged against. The caller's share alone under-rates a loop whose
     * dear iterations sit in the other shares (a triangular loop), which would then keep
     * losing to an estimate of half its serial time. */
    return l->samples < WARM_SAMPLES || l->probe || l->cap ? 1 : prange__sample_tick();
}

int prange__sample_tick(void)
{
    static PRANGE__TLS unsigned tick;
    return (++tick & 63) == 0;
}

void prange__backoff_tick(const void *key, uint64_t n, int serial)
{
    /* A plain read and write, not a compare-and-swap: a loop's calls are usually one
     * thread's, and a count lost to a race moves the next probe by a call. */
    slot *s = find(make_key(key, n), 0);
    if (!s) return;
    uint64_t w = atomic_load_explicit(&s->bo, memory_order_relaxed);
    int cap = BO_CAP(w);
    unsigned watch = BO_WATCH(w), skip = BO_SKIP(w);
    if (cap > 0 && skip > 0) skip--;
    else if (cap == 0 && watch > 0) watch--;
    else if (cap > 0 && serial) cap = 0, watch = 0; /* a probe that plans serial for another
                                                     * reason: nothing to probe, and every
                                                     * call would stay timed */
    else return;
    atomic_store_explicit(&s->bo, bo_word(cap, watch, skip), memory_order_relaxed);
}

/* Won calls that halve the remembered interval once. */
static unsigned forget_calls(unsigned interval) { return interval < BACKOFF_FORGET ? interval : BACKOFF_FORGET; }

int prange__backoff_observe(const void *key, const prange__learned *l, uint64_t n, int threads, double wall_ns,
                            const char *what, const char *label)
{
    if (!key || !(l->ns > 0) || threads < 2) return 0;
    slot *s = find(make_key(key, n), 0);
    if (!s) return 0;
    double serial = (double)n * l->ns;
    uint64_t w = atomic_load_explicit(&s->bo, memory_order_relaxed);
    int cap = BO_CAP(w);
    unsigned interval = atomic_load_explicit(&s->interval, memory_order_relaxed);
    if (wall_ns <= serial) {
        if (cap > 0 && !l->cap) {
            /* A probe won: the full team again, its next calls timed. */
            atomic_store_explicit(&s->bo, bo_word(0, BACKOFF_WATCH, 0), memory_order_relaxed);
        } else if (cap == 0 && interval > 0 && BO_WATCH(w) == 0) {
            /* Wins forget the back-off by halves, one halving per min(interval, 1024) won
             * calls: a loss before that (a machine where a worker waits a time slice every
             * few hundred calls) backs off longer, not from 16 again. */
            unsigned f = atomic_load_explicit(&s->forget, memory_order_relaxed);
            if (f > 1) {
                atomic_store_explicit(&s->forget, f - 1, memory_order_relaxed);
            } else {
                interval = interval / 2 >= BACKOFF_FIRST ? interval / 2 : 0;
                atomic_store_explicit(&s->interval, interval, memory_order_relaxed);
                atomic_store_explicit(&s->forget, forget_calls(interval), memory_order_relaxed);
            }
        }
        return 0;
    }
    /* Lost: half the team that lost. A capped call that loses lowers the cap and keeps its
     * count. A loss at the full team (a first loss, a probe, a watched call) backs off for
     * BACKOFF_FIRST calls the first time, then for twice as long as the last time and at
     * least BACKOFF_COST times what this call lost, never beyond BACKOFF_MAX_NS of serial
     * work (the next probe). */
    int next = threads / 2 > 1 ? threads / 2 : 1;
    unsigned skip = BO_SKIP(w);
    if (!l->cap && cap > 0 && BO_WATCH(w) == 0) {
        /* A probe lost: the next call probes again before the back-off grows. Its workers
         * had slept through the capped calls, and waking them (a futex wake-up each, up to
         * hundreds of us for an idle virtual CPU) is no sign of a busy machine. */
        atomic_store_explicit(&s->bo, bo_word(cap, 1, 0), memory_order_relaxed);
        return 1;
    }
    if (!l->cap) {
        double calls = BACKOFF_FIRST;
        if (interval > 0) {
            double by_cost = BACKOFF_COST * (wall_ns - serial) / serial, most = BACKOFF_MAX_NS / serial;
            calls = 2.0 * interval > by_cost ? 2.0 * interval : by_cost;
            if (calls > most) calls = most;
            if (calls < BACKOFF_FIRST) calls = BACKOFF_FIRST;
            if (calls > 1e9) calls = 1e9;
        }
        skip = interval = (unsigned)calls;
        atomic_store_explicit(&s->interval, interval, memory_order_relaxed);
        atomic_store_explicit(&s->forget, forget_calls(interval), memory_order_relaxed);
    }
    atomic_store_explicit(&s->bo, bo_word(next, 0, skip), memory_order_relaxed);
    if (prange__verbose() >= 2)
        prange__log("%s%s%s: %d threads took %.0f ns, the serial estimate is %.0f ns: at most %d thread%s for the "
                    "next %u calls of this body and size",
                    what, label ? " " : "", label ? label : "", threads, wall_ns, serial, next,
                    next == 1 ? "" : "s", skip);
    return 1;
}

void prange__cost_record(const void *key, uint64_t n, uint64_t iters, double ns)
{
    if (!key || iters == 0 || !(ns >= 0)) return;
    slot *s = find(make_key(key, n), 1);
    /* 0 means "unknown" to lookups: a sample is never below 1e-6 ns per iteration. */
    double c = ns / (double)iters;
    if (s) prange__window_add(&s->cost, c > 1e-6 ? c : 1e-6);
}
