/*
 * clock.c — the scheduler's clocks: CLOCK_MONOTONIC, the thread's CPU time, and a cheap
 * tick for timing every parallel call (the back-off, cost.c): the TSC where it is
 * invariant (~10 ns a read in a KVM guest, against ~25 ns for clock_gettime), else
 * CLOCK_MONOTONIC. Ticks become ns with a figure calibrated once, at initialisation, over
 * 50 us against CLOCK_MONOTONIC (good to ~0.1%: the back-off compares times that differ
 * by 15% and more). The profile keeps its own, whole-run calibration for its reports.
 */
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "prange_sched.h"

int prange__clock_tsc;
double prange__clock_tick_ns = 1.0;

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

#if defined(__x86_64__) || defined(__i386__)
/* A (ticks, ns) pair read close together: the TSC read twice around the clock, the
 * closest of 3 tries (an interrupt between the reads would skew the figure). */
static void pair(uint64_t *tick, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        uint64_t a = __builtin_ia32_rdtsc(), n = prange__now_ns(), b = __builtin_ia32_rdtsc();
        if (b - a < best) {
            best = b - a;
            *tick = a + (b - a) / 2;
            *ns = n;
        }
    }
}
#endif

void prange__clock_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8))) return; /* no invariant TSC */
    uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0;
    pair(&t0, &n0);
    do pair(&t1, &n1);
    while (n1 - n0 < 50000);
    if (t1 <= t0) return;
    prange__clock_tick_ns = (double)(n1 - n0) / (double)(t1 - t0);
    prange__clock_tsc = 1;
#endif
}
