/*
 * plan.c — the scheduler's decision for one loop: serial or parallel, how many threads,
 * which schedule and chunk, and why. Arithmetic over the options, the state, the learned
 * cost and the fork-join cost; nothing is timed here, but a parallel candidate's plan may
 * trigger the one-off fork-join measurement (sched/calibrate.c) and start or probe the
 * threads of the team it proposes (prange__team_ready, sched/threads.c), so that a plan
 * of t threads is one that can run. Plans can be queried (prange_plan_for) and tested.
 *
 * Cost model: a loop of n iterations of c ns each is W = n*c ns of work. A team of t
 * costs F (the measured fork-join time) plus W/t. Each thread should get at least F of
 * work (else adding it costs more than it saves), so t <= W/F; and at least `grain`
 * iterations, so t <= n/grain. The loop runs in parallel only when F + W/t < 0.85 W.
 *
 *   W = n*c         F = 1 us, budget 16:   t = min(16, W/F)   parallel?
 *   100 x 0.5 ns    W = 50 ns              t = 0              no  (serial)
 *   1e4 x 0.5 ns    W = 5 us               t = 5              yes (1 + 1 < 0.85 x 5 us)
 *   1e8 x 0.5 ns    W = 50 ms              t = 16             yes
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>

#include "prange_sched.h"

PRANGE__TLS prange__tls_t prange__tls;

/* Assumed cost of an iteration nobody has measured: a cheap streaming body. */
#define DEFAULT_COST_NS 0.5
/* A parallel plan must promise at least 15% less time than the serial loop. Near the
 * crossover the serial loop is the safer bet: the model's fork-join figure is an empty
 * region's, and a real one adds wake-up jitter and a cache-line transfer per worker. */
#define PARALLEL_GAIN 0.85

int prange__opts_check(const prange_opts *o)
{
    if (!o) return 0;
    if (o->grain < 0 || o->threads < 0 || o->threads > PRANGE_MAX_THREADS) return PRANGE_EINVAL;
    if ((int)o->schedule < PRANGE_SCHEDULE_AUTO || (int)o->schedule > PRANGE_SCHEDULE_GUIDED) return PRANGE_EINVAL;
    if (!(o->cost_ns >= 0) || isinf(o->cost_ns)) return PRANGE_EINVAL;
    if (o->flags & ~(unsigned)PRANGE_FLAGS_ALL) return PRANGE_EINVAL;
    return 0;
}

static void set_serial(prange_plan *p, const char *why)
{
    p->threads = 1;
    p->serial = 1;
    p->chunk = p->n;
    p->reason = why;
}

void prange__plan(uint64_t n, const prange_opts *o, const void *key, prange_plan *p)
{
    static const prange_opts none;
    const prange__state *st = prange__state_get();
    if (!o) o = &none;
    int budget = prange__budget();
    int cap = (o->threads > 0 && o->threads < budget) ? o->threads : budget;
    int64_t grain = o->grain > 0 ? o->grain : st->opt[PRANGE__OPT_GRAIN].value;
    prange_schedule sched = o->schedule;
    int64_t env_chunk = 0;
    if (sched == PRANGE_SCHEDULE_AUTO) {
        sched = (prange_schedule)st->opt[PRANGE__OPT_SCHEDULE].value;
        env_chunk = st->opt[PRANGE__OPT_SCHEDULE].chunk;
    }

    p->n = n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
    p->budget = budget;
    p->schedule = sched;
    p->cost_ns = 0;
    p->work_ns = 0;
    p->fork_ns = 0;

    /* Reasons to run inline, cheapest checks first; none of them measures anything. */
    const char *inline_why = NULL;
    if (n == 0) inline_why = "empty range";
    else if (o->flags & PRANGE_SERIAL) inline_why = "flag PRANGE_SERIAL";
    else if (st->opt[PRANGE__OPT_SERIAL].value) inline_why = "PRANGE_SERIAL=1";
    else if (atomic_load_explicit(&prange__after_fork, memory_order_relaxed)) inline_why = "child after fork";
    else if (prange__tls.depth > 0) inline_why = "nested call";
    else if (omp_in_parallel()) inline_why = "inside an OpenMP parallel region";
    else if (cap <= 1) inline_why = "budget is 1 thread";
    else if (n / 2 < (uint64_t)grain) inline_why = "fewer than 2 x grain iterations";
    if (inline_why) {
        set_serial(p, inline_why);
        return;
    }
    double c = o->cost_ns > 0 ? o->cost_ns : prange__cost_lookup(key, n);
    if (c <= 0) c = DEFAULT_COST_NS;
    double work = (double)n * c;
    /* A team of t runs in a region of max(t, pool) threads (teams never shrink): that is
     * the fork-join cost it pays. */
    int pool = prange__pool;
    double fork = prange__fork_ns(cap > pool ? cap : pool);
    p->cost_ns = c;
    p->work_ns = work;
    p->fork_ns = fork;

    int t = cap;
    const char *why = "parallel";
    double by_work = floor(work / fork);
    if ((double)t > by_work && by_work >= 2) {
        /* A smaller team forks faster: refine once with its own figure. */
        fork = prange__fork_ns((int)by_work > pool ? (int)by_work : pool);
        p->fork_ns = fork;
        by_work = floor(work / fork);
    }
    if ((double)t > by_work) { t = (int)by_work; why = "threads limited by work"; }
    if ((uint64_t)t > n / (uint64_t)grain) { t = (int)(n / (uint64_t)grain); why = "threads limited by grain"; }
    if (t < 2 || !(fork + work / t < PARALLEL_GAIN * work)) {
        set_serial(p, "work below fork-join cost");
        return;
    }
    /* The system may refuse threads (RLIMIT_NPROC, pids.max): run with what starts. */
    int startable = prange__team_ready(t);
    if (startable < t) {
        if (startable <= 1) {
            set_serial(p, "thread creation refused");
            return;
        }
        t = startable;
        why = "threads limited by thread creation";
        if (!(fork + work / t < PARALLEL_GAIN * work)) {
            set_serial(p, "work below fork-join cost");
            return;
        }
    }

    p->threads = t;
    p->serial = 0;
    p->reason = why;
    uint64_t per = (n - 1) / (uint64_t)t + 1; /* ceil(n / t) without overflow */
    switch (sched) {
    case PRANGE_SCHEDULE_DYNAMIC: {
        /* About 16 chunks per thread balances uneven bodies at little dispatch cost. */
        uint64_t c16 = (n - 1) / ((uint64_t)t * 16) + 1;
        int64_t chunk = env_chunk > 0 ? env_chunk : (int64_t)c16;
        p->chunk = chunk > grain ? chunk : grain;
        break;
    }
    case PRANGE_SCHEDULE_GUIDED:
        p->chunk = env_chunk > grain ? env_chunk : grain;
        break;
    default:
        p->chunk = (int64_t)per;
        break;
    }
}

int prange_plan_for_body(int64_t n, prange_body_fn body, const prange_opts *opts, prange_plan *out)
{
    if (n < 0 || !out || prange__opts_check(opts) != 0) return PRANGE_EINVAL;
    prange__plan((uint64_t)n, opts, (const void *)body, out);
    return 0;
}

int prange_plan_for(int64_t n, const prange_opts *opts, prange_plan *out)
{
    return prange_plan_for_body(n, NULL, opts, out);
}

int prange_threads_for(int64_t n, double cost_ns)
{
    if (n <= 0 || !(cost_ns >= 0) || isinf(cost_ns)) return 1;
    prange_opts o = {.cost_ns = cost_ns};
    prange_plan p;
    prange__plan((uint64_t)n, &o, NULL, &p);
    return p.threads;
}

const char *prange_schedule_name(prange_schedule s)
{
    switch (s) {
    case PRANGE_SCHEDULE_AUTO: return "auto";
    case PRANGE_SCHEDULE_STATIC: return "static";
    case PRANGE_SCHEDULE_DYNAMIC: return "dynamic";
    case PRANGE_SCHEDULE_GUIDED: return "guided";
    }
    return "?";
}

/* Durations with a unit a person reads at a glance. */
static void fmt_ns(char *buf, size_t size, double ns)
{
    if (ns < 10) snprintf(buf, size, "%.2fns", ns);
    else if (ns < 1e3) snprintf(buf, size, "%.0fns", ns);
    else if (ns < 1e6) snprintf(buf, size, "%.3gus", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, size, "%.3gms", ns / 1e6);
    else snprintf(buf, size, "%.3gs", ns / 1e9);
}

int prange_plan_format(const prange_plan *p, char *buf, size_t size)
{
    if (!p || (!buf && size > 0)) return PRANGE_EINVAL;
    char cost[24], work[24], fork[24];
    fmt_ns(cost, sizeof cost, p->cost_ns);
    fmt_ns(work, sizeof work, p->work_ns);
    fmt_ns(fork, sizeof fork, p->fork_ns);
    return snprintf(buf, size, "n=%lld threads=%d schedule=%s chunk=%lld %s cost=%s work=%s fork=%s reason=%s",
                    (long long)p->n, p->threads, prange_schedule_name(p->schedule), (long long)p->chunk,
                    p->serial ? "serial" : "parallel", cost, work, fork, p->reason ? p->reason : "?");
}
