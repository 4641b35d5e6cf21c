/*
 * profile.h — per-call-site profiles (PRANGE_PROFILE) and the timed PRANGE_VERBOSE=2 lines.
 *
 * lib/ marks where a public call enters and where it finishes:
 *
 *     prange__prof_call pc;
 *     int prof = prange__profile_begin(&pc, label, body, NULL, PRANGE__SITE_LOOP, 0);
 *     ... plan and run ...
 *     if (prof) prange__profile_end(&pc, busy_max_ns, busy_sum_ns);
 *
 * With profiling and PRANGE_VERBOSE=2 both off, begin is one predictable branch on a flag
 * set once at initialisation, and returns 0. Else it pushes `pc` on this thread's stack of
 * running calls: what sched/ decides meanwhile (the team a part of the call ran on, back-offs,
 * re-measurements, the plan to print) is noted on the innermost one. A kernel or a scan
 * "absorbs" the loops and reductions it runs on the calling thread: they are parts of one
 * call at one site. Sites are for reporting only: learned costs keep their own keys.
 */
#ifndef PRANGE_PROFILE_H
#define PRANGE_PROFILE_H

#include "prange_sched.h"

/* Kinds of call, in the order of prange__site_kind_names. */
typedef enum {
    PRANGE__SITE_LOOP,
    PRANGE__SITE_UNTIL,
    PRANGE__SITE_2D,
    PRANGE__SITE_REDUCE,
    PRANGE__SITE_SCAN,
    PRANGE__SITE_KERNEL,
    PRANGE__SITE_KINDS
} prange__site_kind;

/* Decisions the scheduler changed during a call. */
typedef enum {
    PRANGE__EV_BACKOFF,  /* ran on fewer threads than planned: budget held or threads refused */
    PRANGE__EV_PROBE,    /* re-measured the fork-join figure (a probe of a stale figure) */
    PRANGE__EV_MEASURE,  /* measured the first fork-join figure, then planned again */
    PRANGE__EV_SLICE,    /* timed a first slice of an unknown body, then planned the rest */
    PRANGE__EV_SLOWER,   /* ran parallel slower than its serial estimate: the key backs off */
    PRANGE__EV_COUNT
} prange__event;

/* A call in progress, on the caller's stack. */
typedef struct prange__prof_call {
    struct prange__prof_call *prev; /* the enclosing call on this thread, or NULL */
    const char *label;
    const void *fn, *ra;            /* the body; a kernel's caller (return address) */
    prange__site_kind kind;
    int depth;                      /* prange__tls.depth at entry */
    int absorb;                     /* loops and reductions it runs at this depth are its parts */
    int team;                       /* the largest team a part ran on; 1 = inline */
    uint64_t t0;                    /* ticks at entry */
    unsigned events[PRANGE__EV_COUNT];
    int planned;                    /* plan holds a PRANGE_VERBOSE=2 line to print at the end */
    const char *plan_what;
    prange_plan plan;
} prange__prof_call;

/* -1 before initialisation, else PRANGE__PROF_RECORD | PRANGE__PROF_VERBOSE bits (0: off). */
#define PRANGE__PROF_RECORD 1
#define PRANGE__PROF_VERBOSE 2
extern atomic_int prange__prof_flag;
extern PRANGE__TLS prange__prof_call *prange__prof_cur;

int prange__profile_begin_slow(prange__prof_call *pc, const char *label, const void *fn, const void *ra,
                               prange__site_kind kind, int absorb);
/* Begin a call: 1 when it is profiled or timed (call prange__profile_end), else 0. */
static inline int prange__profile_begin(prange__prof_call *pc, const char *label, const void *fn, const void *ra,
                                        prange__site_kind kind, int absorb)
{
    if (__builtin_expect(atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) == 0, 1)) return 0;
    return prange__profile_begin_slow(pc, label, fn, ra, kind, absorb);
}
/* The same from a caller's unloaded opts (its label, when struct_size covers it). */
int prange__profile_begin_opts(prange__prof_call *pc, const prange_opts *opts, const void *fn, const void *ra,
                               prange__site_kind kind);
/* Finish a call begun with 1: record it at its site. busy_max_ns / busy_sum_ns: on a
 * sampled parallel loop, the slowest worker's share and the sum of all shares (else 0). */
void prange__profile_end(prange__prof_call *pc, uint64_t busy_max_ns, uint64_t busy_sum_ns);
/* prange__profile_end for a call that returned `rc`: one its arguments made fail
 * (PRANGE_EINVAL, PRANGE_ERANGE) ran nothing and is not counted. */
void prange__profile_finish(prange__prof_call *pc, int rc, uint64_t busy_max_ns, uint64_t busy_sum_ns);

void prange__profile_team_slow(int team);
void prange__profile_event_slow(prange__event ev);
/* A part of the current call runs on `team` threads (1: inline). */
static inline void prange__profile_team(int team)
{
    if (__builtin_expect(atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) != 0, 0))
        prange__profile_team_slow(team);
}
/* The scheduler changed a decision of the current call. */
static inline void prange__profile_event(prange__event ev)
{
    if (__builtin_expect(atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) != 0, 0))
        prange__profile_event_slow(ev);
}
/* PRANGE_VERBOSE=2: keep the plan line of the current call, to print it with the site and
 * the measured duration when the call finishes. 0 when there is no such call (print now). */
int prange__profile_defer_plan(const char *what, const prange_plan *plan);

/* Initialisation (sched/init.c, once): PRANGE_PROFILE and PRANGE_VERBOSE from the parsed
 * options; registers the report at exit. */
void prange__profile_init(const prange__state *st);

/* ---- the histogram: log buckets, exact below 64, 32 per octave above -------------------- */

/* Values (clock ticks) at or above 2^PRANGE__HIST_TOP_BIT (about 25 minutes of a 3 GHz TSC)
 * land in the last bucket, which holds nothing else. */
#define PRANGE__HIST_TOP_BIT 42
#define PRANGE__HIST_BUCKETS (64 + (PRANGE__HIST_TOP_BIT - 6) * 32 + 1)
/* The bucket of v; the smallest and the largest value it holds; the value reported for it
 * (the midpoint: within 1/64 of every value in the bucket). */
unsigned prange__hist_bucket(uint64_t v);
uint64_t prange__hist_low(unsigned b);
uint64_t prange__hist_high(unsigned b);
uint64_t prange__hist_mid(unsigned b);
/* The q-quantile (0 < q <= 1) of counts[PRANGE__HIST_BUCKETS]: the midpoint of the bucket
 * holding the ceil(q * total)-th smallest value, capped at `max`. 0 for no values. */
uint64_t prange__hist_quantile(const uint64_t *counts, double q, uint64_t max);

/* ---- tests -------------------------------------------------------------------------------- */

/* Replace the clock with fn (ticks of ns_per_tick ns; NULL: the real clock again). */
void prange__profile_set_clock(uint64_t (*fn)(void), double ns_per_tick);
/* Turn recording on or off whatever PRANGE_PROFILE said (tests). */
void prange__profile_set_recording(int on);
/* A site's figures, by name (as the report prints it). 0, or -1 when there is no such site. */
typedef struct prange__site_stats {
    int kind;
    uint64_t calls, inline_calls, parallel_calls, team_mask, sampled;
    double total_ns, p50_ns, p90_ns, p99_ns, max_ns;
    uint64_t events[PRANGE__EV_COUNT];
} prange__site_stats;
int prange__profile_site(const char *name, prange__site_stats *out);

#endif
