/*
 * estimate.c — robust running estimates: the lower median of the last 8 samples.
 *
 * Both figures the cost model learns at run time (the fork-join cost of a team, the cost
 * per iteration of a body) come from timings that a busy machine, a page fault or a
 * preempted worker can inflate a thousandfold for one call. A mean follows such an outlier
 * for many calls; a median of a short window ignores up to 4 of 8 and still follows a
 * lasting change within 5 samples:
 *
 *   window (sorted)                          estimate (4th smallest)
 *   500 500 500 500 500 500 500 4e6          500   one hiccup: nothing moves
 *   500 500 500 8e6 8e6 8e6 8e6 8e6          8e6   5 busy samples: the machine is busy
 *
 * With k < 8 samples the estimate is the ((k - 1) / 2)-th smallest: one sample is used as
 * is, of two the smaller (the first call of a body pays for cold caches and page faults).
 * Updates are lock-free; concurrent adders may publish an estimate that misses one of
 * their samples, which the next sample mends.
 */
#include <string.h>

#include "prange_sched.h"

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

void prange__window_seed(prange__window *w, double x)
{
    for (int i = 0; i < PRANGE__WINDOW; i++) atomic_store_explicit(&w->v[i], to_bits(x), memory_order_relaxed);
    atomic_store_explicit(&w->count, PRANGE__WINDOW, memory_order_relaxed);
    atomic_store_explicit(&w->est, to_bits(x), memory_order_release);
}

void prange__window_copy(prange__window *dst, const prange__window *src)
{
    prange__window *from = (prange__window *)src;
    for (int i = 0; i < PRANGE__WINDOW; i++)
        atomic_store_explicit(&dst->v[i], atomic_load_explicit(&from->v[i], memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&dst->count, atomic_load_explicit(&from->count, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&dst->est, atomic_load_explicit(&from->est, memory_order_relaxed), memory_order_release);
}

double prange__window_add(prange__window *w, double x)
{
    unsigned k = atomic_fetch_add_explicit(&w->count, 1, memory_order_relaxed);
    atomic_store_explicit(&w->v[k % PRANGE__WINDOW], to_bits(x), memory_order_relaxed);
    unsigned have = k + 1 < PRANGE__WINDOW ? k + 1 : PRANGE__WINDOW;
    /* Insertion sort of at most 8 values: cheaper than a call to qsort. */
    double s[PRANGE__WINDOW];
    for (unsigned i = 0; i < have; i++) {
        double v = from_bits(atomic_load_explicit(&w->v[i], memory_order_relaxed));
        unsigned j = i;
        for (; j > 0 && s[j - 1] > v; j--) s[j] = s[j - 1];
        s[j] = v;
    }
    double est = s[(have - 1) / 2];
    atomic_store_explicit(&w->est, to_bits(est), memory_order_release);
    return est;
}

double prange__window_get(const prange__window *w)
{
    return from_bits(atomic_load_explicit(&((prange__window *)w)->est, memory_order_acquire));
}

unsigned prange__window_count(const prange__window *w)
{
    return atomic_load_explicit(&((prange__window *)w)->count, memory_order_relaxed);
}
