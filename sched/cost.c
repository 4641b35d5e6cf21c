/*
 * cost.c — cost per iteration learned from the calls themselves.
 *
 * A loop without a cost hint is timed (the whole call when serial, the caller's own share
 * when parallel) and the ns per iteration is kept per (body, size class) as a robust
 * running estimate (estimate.c: one 4 ms hiccup in a 1 us loop moves nothing). Size
 * classes are powers of 4 of n, because the same body costs less per iteration when its
 * data sit in cache. The table is fixed-size and lock-free: a slot is claimed with one
 * CAS, and a full table simply stops learning new keys (the default cost applies).
 */
#include <time.h>

#include "prange_sched.h"

#define SLOTS 512  /* power of two */
#define PROBES 8
#define WARM_SAMPLES 8  /* calls timed before sampling drops to 1 in 64 */

typedef struct {
    _Atomic(uintptr_t) key;    /* body pointer ^ size class, 0 = free */
    prange__window cost;       /* ns per iteration */
} slot;

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
    if (!s) return (prange__learned){0, 0};
    return (prange__learned){prange__window_get(&s->cost), prange__window_count(&s->cost)};
}

double prange__cost_lookup(const void *key, uint64_t n) { return prange__cost_get(key, n).ns; }

int prange__cost_sample_learned(const prange__learned *l)
{
    return l->samples < WARM_SAMPLES ? 1 : prange__sample_tick();
}

int prange__sample_tick(void)
{
    static PRANGE__TLS unsigned tick;
    return (++tick & 63) == 0;
}

void prange__cost_record(const void *key, uint64_t n, uint64_t iters, double ns)
{
    if (!key || iters == 0 || !(ns >= 0)) return;
    slot *s = find(make_key(key, n), 1);
    /* 0 means "unknown" to lookups: a sample is never below 1e-6 ns per iteration. */
    double c = ns / (double)iters;
    if (s) prange__window_add(&s->cost, c > 1e-6 ? c : 1e-6);
}

uint64_t prange__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t prange__cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
