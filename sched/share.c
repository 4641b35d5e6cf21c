/*
 * share.c — one thread budget for the whole process, across the user's own threads.
 *
 * libgomp gives every calling thread its own pool of workers, so 8 user threads each
 * running a loop planned for the whole budget of 2 ran 17 threads on 2 cores. Each call
 * about to run on a team therefore takes its threads from one process-wide count of the
 * threads running loop shares: it gets min(its plan, budget - in use), never blocks, and
 * runs inline when fewer than 2 are free (still counted: it is running a share too).
 *
 *   budget 2, callers A and B, each planned for 2 threads:
 *   A arrives: in use 0 -> A takes 2 (A + 1 worker)            in use 2
 *   B arrives: 0 free   -> B runs inline, counted              in use 3
 *   A's loop ends: gives 2 back                                in use 1
 *   A's next loop: 1 free -> inline, counted                   in use 2
 *
 * So in steady state the threads running shares are at most max(budget, callers); at the
 * moment a caller arrives while another one's team runs, one team's extra workers more
 * (a static share cannot be taken back). Loops that plan serial for their own reasons
 * (small work, nesting) take nothing. Two atomic operations per parallel call, on one
 * cache line that stays with the caller while nobody else runs loops.
 */
#include <stdio.h>

#include "prange_sched.h"

static _Alignas(64) atomic_int g_in_use;
static atomic_int g_limited; /* calls that ran on fewer threads than planned */

int prange__share_take(int want)
{
    int budget = prange__budget_now();
    int cur = atomic_load_explicit(&g_in_use, memory_order_relaxed), got;
    do {
        int free = budget - cur;
        got = want < free ? want : free;
        if (got < 2) got = 1; /* inline, counted */
    } while (!atomic_compare_exchange_weak_explicit(&g_in_use, &cur, cur + got, memory_order_acquire,
                                                    memory_order_relaxed));
    if (got < want) atomic_fetch_add_explicit(&g_limited, 1, memory_order_relaxed);
    return got;
}

void prange__share_give(int n)
{
    if (n > 0) atomic_fetch_sub_explicit(&g_in_use, n, memory_order_release);
}

int prange__share_in_use(void) { return atomic_load_explicit(&g_in_use, memory_order_relaxed); }

void prange__share_describe(char *buf, size_t size)
{
    snprintf(buf, size, "one budget for all calling threads; %d calls ran on fewer threads than planned "
             "because other threads' loops held the budget", atomic_load(&g_limited));
}
