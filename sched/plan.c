/*
 * plan.c — the scheduler's decision for one loop: serial or parallel, how many threads,
 * which schedule and chunk, and why. A function of the arguments and a snapshot of the
 * scheduler's state: it times nothing and starts nothing (the fork-join figure is made and
 * teams grow on the execution path, lib/), so a plan query has no side effect.
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
#include <float.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "prange_sched.h"

PRANGE__TLS prange__tls_t prange__tls;

/* Assumed cost of an iteration nobody has measured: a cheap streaming body. */
#define DEFAULT_COST_NS 0.5

int prange__opts_load(const prange_opts *opts, prange_opts *out)
{
    if (!opts) {
        *out = (prange_opts)PRANGE_OPTS_INIT;
        return 0;
    }
    if (PRANGE__STRUCT_IN(out, opts, prange_opts, flags) != 0) return PRANGE_EINVAL;
    const prange_opts *o = out;
    if (o->grain < 0 || o->threads < 0 || o->threads > PRANGE_MAX_THREADS) return PRANGE_EINVAL;
    if ((int)o->schedule < PRANGE_SCHEDULE_AUTO || (int)o->schedule > PRANGE_SCHEDULE_GUIDED) return PRANGE_EINVAL;
    if (!(o->cost_ns >= 0) || isinf(o->cost_ns)) return PRANGE_EINVAL;
    if (o->flags & ~(unsigned)PRANGE_FLAGS_ALL) return PRANGE_EINVAL;
    return 0;
}

int64_t prange__grain(const prange_opts *o)
{
    return o && o->grain > 0 ? o->grain : prange__state_get()->opt[PRANGE__OPT_GRAIN].value;
}

int64_t prange__grain_explicit(const prange_opts *o)
{
    if (o && o->grain > 0) return o->grain;
    const prange__opt_val *g = &prange__state_get()->opt[PRANGE__OPT_GRAIN];
    return g->src == PRANGE__SRC_ENV ? g->value : 0;
}

/* The reason of a plan made serial by the fork-join figure (compared by address). */
const char prange__why_fork[] = "work below fork-join cost";
const char prange__why_backoff[] = "parallel ran slower than serial (back-off)";
const char prange__why_trial[] = "fork-join figure busy: trying the team";
const char prange__why_alone[] = "timing the loop alone for the back-off";
/* Trying the team under a busy figure: only loops of at least 1/16 of that figure. */
#define TRIAL_SHARE 16.0

static void set_serial(prange_plan *p, const char *why)
{
    p->threads = 1;
    p->serial = 1;
    p->chunk = p->n;
    p->reason = why;
}

/* A parallel candidate of t threads against what the OpenMP runtime will give and what
 * the system lets this thread start: lowers *t (saying why), or makes the plan serial
 * and returns 0. */
static int runtime_allows(prange_plan *p, int *t, const char **why, double fork, double work)
{
    /* Read only for parallel candidates: the ICVs may change at run time,
     * omp_set_max_active_levels and the like. */
    if (omp_get_max_active_levels() < 1) {
        set_serial(p, "OMP_MAX_ACTIVE_LEVELS=0");
        return 0;
    }
    int limit = omp_get_thread_limit();
    if (*t > limit) {
        if (limit < 2) {
            set_serial(p, "OMP_THREAD_LIMIT=1");
            return 0;
        }
        *t = limit;
        *why = "threads limited by OMP_THREAD_LIMIT";
    }
    /* The system may refuse threads (RLIMIT_NPROC, pids.max): plan with what this thread
     * is known to start (a new refusal is found, and reported, when the loop runs). */
    int startable = prange__team_known(*t);
    if (startable < *t) {
        if (startable <= 1) {
            set_serial(p, "thread creation refused");
            return 0;
        }
        *t = startable;
        *why = "threads limited by thread creation";
        if (!(fork + work / *t < PRANGE__PARALLEL_GAIN * work)) {
            set_serial(p, prange__why_fork);
            return 0;
        }
    }
    return 1;
}

/* The plan; the learned cost comes from `learned` when given, else from the table (read
 * only past the inline checks: a nested call reads nothing). `rfork` > 0: inside a
 * region, the members' figure for sharing a loop, instead of the current one. */
static void plan(uint64_t n, const prange_opts *o, const void *key, const prange__learned *learned, prange_plan *p,
                 double rfork)
{
    static const prange_opts none;
    const prange__state *st = prange__state_get();
    if (!o) o = &none;
    /* Inside a region the team is the region's: its members are awake already. */
    int rteam = prange__region_team();
    int budget = rteam ? rteam : prange__budget();
    int cap = (o->threads > 0 && o->threads < budget) ? o->threads : budget;
    int64_t grain = prange__grain(o);
    prange_schedule sched = o->schedule;
    int64_t env_chunk = 0;
    if (sched == PRANGE_SCHEDULE_AUTO) {
        sched = (prange_schedule)st->opt[PRANGE__OPT_SCHEDULE].value;
        env_chunk = st->opt[PRANGE__OPT_SCHEDULE].chunk;
    }

    p->n = n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
    p->budget = budget;
    p->schedule = sched;
    /* A given cost is reported even where the plan does not need it (inline plans). */
    p->cost_ns = o->cost_ns;
    p->work_ns = (double)n * o->cost_ns < DBL_MAX ? (double)n * o->cost_ns : DBL_MAX;
    p->fork_ns = 0;

    /* Reasons to run inline, cheapest checks first; none of them measures anything. */
    const char *inline_why = NULL;
    if (n == 0) inline_why = "empty range";
    else if (o->flags & PRANGE_SERIAL) inline_why = "flag PRANGE_SERIAL";
    else if (st->opt[PRANGE__OPT_SERIAL].value) inline_why = "PRANGE_SERIAL=1";
    else if (atomic_load_explicit(&prange__after_fork, memory_order_relaxed)) inline_why = "child after fork";
    else if (prange__tls.depth > 0) inline_why = "nested call";
    else if (!rteam && omp_in_parallel()) inline_why = "inside an OpenMP parallel region";
    else if (cap <= 1) inline_why = "budget is 1 thread";
    else if (n / 2 < (uint64_t)grain) inline_why = "fewer than 2 x grain iterations";
    if (inline_why) {
        set_serial(p, inline_why);
        return;
    }
    /* What the table knows of the key, unless the caller gave a cost (hinted calls neither
     * learn nor back off). */
    prange__learned table;
    const prange__learned *lk = NULL;
    if (!(o->cost_ns > 0)) {
        if (!learned) table = prange__cost_get(key, n);
        lk = learned ? learned : &table;
    }
    double c = lk ? lk->ns : o->cost_ns;
    if (c <= 0) c = DEFAULT_COST_NS;
    double work = (double)n * c;
    if (work > DBL_MAX) work = DBL_MAX; /* a valid cost near DBL_MAX: huge, not inf */
    /* A team of t runs in a region of max(t, pool) threads (teams never shrink): that is
     * the fork-join cost it pays. */
    int pool = prange__pool_size();
    /* Inside a region: what sharing a loop among the awake members costs (calibrate.c). */
    double fork = rteam ? (rfork > 0 ? rfork : prange__region_loop_ns(rteam))
                        : prange__fork_ns(cap > pool ? cap : pool, NULL);
    p->cost_ns = c;
    p->work_ns = work;
    p->fork_ns = fork;

    int t = cap;
    const char *why = "parallel";
    /* t > work / fork compares as t > floor(work / fork) for an integer t, and (int)
     * truncates as floor for the positive quotients it meets (libm's floor was a tenth of
     * a serial plan's cost). */
    double by_work = work / fork;
    if ((double)t > by_work && by_work >= 2) {
        /* A smaller team forks faster: refine once with its own figure. */
        if (!rteam) fork = prange__fork_ns((int)by_work > pool ? (int)by_work : pool, NULL);
        p->fork_ns = fork;
        by_work = work / fork;
    }
    if ((double)t > by_work) { t = (int)by_work; why = "threads limited by work"; }
    if ((uint64_t)t > n / (uint64_t)grain) { t = (int)(n / (uint64_t)grain); why = "threads limited by grain"; }
    if (t < 2 || !(fork + work / t < PRANGE__PARALLEL_GAIN * work)) {
        /* Trying the team: a busy figure is an empty region's wait for a core, which a
         * long loop's own call often does not pay (calibrate.c). A learned loop (not
         * backing off) whose serial time is at least 1/16 of that figure, and which a team
         * would speed up at the quiet figure, runs on the team planned at the quiet
         * figure; its timed calls' windows decide (cost.c): a lost window backs it off
         * and a probe window tries again. Shorter loops would lose more than 16 times
         * their work on every call that waits. */
        double quiet = !rteam && lk && lk->ns > 0 && !lk->cap && work >= fork / TRIAL_SHARE
                           ? prange__fork_trial_ns(cap > pool ? cap : pool, fork)
                           : 0;
        if (quiet > 0) {
            t = cap;
            if ((double)t > work / quiet) t = (int)(work / quiet);
            if ((uint64_t)t > n / (uint64_t)grain) t = (int)(n / (uint64_t)grain);
        }
        if (!(quiet > 0) || t < 2 || !(quiet + work / t < PRANGE__PARALLEL_GAIN * work)) {
            set_serial(p, prange__why_fork);
            return;
        }
        p->fork_ns = fork = quiet;
        why = prange__why_trial;
    }
    /* A recent parallel call of this body and size took longer than its serial estimate
     * (a busy machine): at most the back-off's team until its next probe (cost.c). */
    if (!rteam && lk && lk->cap > 0 && t > lk->cap) {
        if (lk->cap < 2) {
            set_serial(p, prange__why_backoff);
            return;
        }
        t = lk->cap;
        why = "threads limited by back-off";
    }
    /* Its back-off has no serial time to judge the team against (cost.c): this call runs
     * alone, timed, when it is short enough to spend once. */
    if (!rteam && lk && lk->time_alone && work <= PRANGE__ALONE_CALL_NS) {
        set_serial(p, prange__why_alone);
        return;
    }
    /* What the OpenMP runtime will give, and the system lets this thread start (a
     * region's team runs already). */
    if (!rteam && !runtime_allows(p, &t, &why, fork, work)) return;

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
        /* 2^63 for 2 threads over 2^64 - 1 iterations: saturated, like p->n. */
        p->chunk = per > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)per;
        break;
    }
}

void prange__plan(uint64_t n, const prange_opts *o, const void *key, prange_plan *p) { plan(n, o, key, NULL, p, 0); }

void prange__plan_region(uint64_t n, const prange_opts *o, const void *key, const prange__learned *l, double fork_ns,
                         prange_plan *p)
{
    static const prange__learned none;
    plan(n, o, key, l ? l : &none, p, fork_ns);
}

void prange__plan_exec_with(uint64_t n, const prange_opts *o, const void *key, const prange__learned *l,
                            prange_plan *p)
{
    plan(n, o, key, l, p, 0);
    if (prange__region_team()) return; /* a region's loops fork nothing: no figure to make or probe */
    /* A plan that the fork-join figure decided: make the first figure if none exists yet,
     * and probe now and then whether a figure taken while the machine was busy still
     * holds. Either may change the plan; the plan then is the one that runs. */
    if ((!p->serial || p->reason == prange__why_fork) && prange__fork_ensure()) {
        prange__profile_event(PRANGE__EV_MEASURE);
        plan(n, o, key, l, p, 0);
    }
    int probe = prange__plan_probe_team(p, o);
    if (probe && prange__fork_probe(probe, o ? o->label : NULL)) plan(n, o, key, l, p, 0);
    /* Backing off: one call fewer to the next probe or watch (the plan that runs). */
    if (l && (l->cap > 0 || l->probe)) prange__backoff_tick(key, n, p->serial);
}

/* ---- kept plans -------------------------------------------------------------------------
 * A loop called again with the same inputs gets the same plan while the shared state a
 * plan reads is unchanged (prange__plan_epoch): each thread keeps its last parallel plans,
 * a few slots indexed by key and length, and hands one back after comparing the inputs
 * (~60 instructions instead of ~400: the table read, plan(), the figure's and the
 * runtime's checks; per-call overhead, docs/performance.md). Kept only where making the
 * plan had no side effect to repeat: parallel, outside a region, no back-off cap or probe
 * window (their ticks count calls), a team the pool already has (the thread-creation
 * check is then a comparison). The calling context no input names (nesting, an OpenMP
 * region, a fork, the runtime's nesting limit) is checked on every use. */
typedef struct kept_plan {
    const void *key;
    uint64_t n, epoch;
    double cost_ns;
    int64_t grain;
    unsigned flags;
    int threads, schedule, budget, pool;
    prange__learned learned;
    prange_plan plan;
} kept_plan;
#define KEPT_PLANS 4 /* a power of two */
/* Each thread's kept plans, inline memos and hand-out (prange_sched.h) are a group of a
 * static pool, claimed by its first kept plan, memo or fork and released when it exits:
 * in TLS they would add 900 bytes to the static TLS block that a dlopen'd libprange takes
 * from what glibc reserves for all such libraries (glibc 2.36 here: a 1.7 KiB block loads
 * alone, not after libgomp; tests/static_tls.sh keeps the block under 512 bytes), and from
 * the heap they would be lost with the threads a fork() leaves behind. Threads beyond the
 * pool keep nothing (their calls plan every time, and pass their teams' descriptions in
 * place). */
#define KEPT_GROUPS 64
typedef struct kept_group {
    _Alignas(128) unsigned char handout[PRANGE__HANDOUT]; /* first: on its own pair of lines */
    kept_plan plans[KEPT_PLANS];
    prange__inline_memo memos[PRANGE__MEMOS];
} kept_group;
static kept_group g_kept[KEPT_GROUPS];
static atomic_int g_kept_owned[KEPT_GROUPS];
static PRANGE__TLS kept_plan *t_kept;
PRANGE__TLS prange__inline_memo *prange__memos;
PRANGE__TLS unsigned char *prange__handout;
static pthread_key_t g_kept_key;
static pthread_once_t g_kept_once = PTHREAD_ONCE_INIT;

static void kept_release(void *p)
{
    t_kept = NULL; /* destructors run on the exiting thread: a later call claims again */
    prange__memos = NULL;
    prange__handout = NULL;
    atomic_store_explicit(&g_kept_owned[(kept_group *)p - g_kept], 0, memory_order_release);
}
static void kept_key(void) { pthread_key_create(&g_kept_key, kept_release); }

/* This thread's group, claimed on first use (NULL when the pool is taken: nothing kept). */
static kept_group *kept_claim(void)
{
    pthread_once(&g_kept_once, kept_key);
    for (int g = 0; g < KEPT_GROUPS; g++) {
        int free_ = 0;
        if (atomic_load_explicit(&g_kept_owned[g], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&g_kept_owned[g], &free_, 1)) {
            memset(&g_kept[g], 0, sizeof g_kept[g]); /* a former owner's plans and memos */
            if (pthread_setspecific(g_kept_key, &g_kept[g]) != 0) {
                atomic_store(&g_kept_owned[g], 0);
                return NULL;
            }
            t_kept = g_kept[g].plans;
            prange__memos = g_kept[g].memos;
            prange__handout = g_kept[g].handout;
            return &g_kept[g];
        }
    }
    return NULL;
}

static size_t kept_index(const void *key, uint64_t n) { return (((uintptr_t)key >> 4) ^ n) & (KEPT_PLANS - 1); }

/* This thread's kept plans (NULL when the pool is taken). */
static kept_plan *kept_slots(void)
{
    if (t_kept) return t_kept;
    kept_group *g = kept_claim();
    return g ? g->plans : NULL;
}

prange__inline_memo *prange__memos_claim(void)
{
    if (prange__memos) return prange__memos;
    kept_group *g = kept_claim();
    return g ? g->memos : NULL;
}

unsigned char *prange__handout_claim(void)
{
    if (prange__handout) return prange__handout == PRANGE__HANDOUT_BUSY ? NULL : prange__handout;
    kept_group *g = kept_claim();
    return g ? g->handout : NULL;
}

int prange__memo_kept(const void *key, uint64_t n)
{
    return prange__memo_covers(prange__memo_slot(prange__memos, key), key, n,
                               atomic_load_explicit(&prange__plan_epoch, memory_order_acquire));
}

static int kept_matches(const kept_plan *k, uint64_t n, const prange_opts *o, const void *key, uint64_t epoch)
{
    return k->n == n && k->key == key && k->epoch == epoch && k->cost_ns == o->cost_ns && k->grain == o->grain &&
           k->flags == o->flags && k->threads == o->threads && k->schedule == (int)o->schedule &&
           k->pool == prange__pool && k->budget == prange__budget() && prange__tls.depth == 0 &&
           !prange__tls.region_team && !atomic_load_explicit(&prange__after_fork, memory_order_relaxed) &&
           !omp_in_parallel() && omp_get_max_active_levels() >= 1;
}

int prange__plan_call(uint64_t n, const prange_opts *o, const void *key, prange__learned *learned, prange_plan *p)
{
    int learn = !(o->cost_ns > 0);
    uint64_t epoch = atomic_load_explicit(&prange__plan_epoch, memory_order_acquire);
    kept_plan *k = t_kept ? &t_kept[kept_index(key, n)] : NULL;
    if (k && n > 0 && kept_matches(k, n, o, key, epoch)) {
        *learned = k->learned;
        *p = k->plan;
        return learn;
    }
    *learned = learn ? prange__cost_get(key, n) : (prange__learned){0};
    prange__plan_exec_with(n, o, key, learned, p);
    if (!p->serial && !learned->cap && !learned->probe && !learned->time_alone && !prange__region_team() &&
        p->threads <= prange__pool && (k || (kept_slots() && (k = &t_kept[kept_index(key, n)]))))
        *k = (kept_plan){.key = key, .n = n, .epoch = epoch, .cost_ns = o->cost_ns, .grain = o->grain,
                         .flags = o->flags, .threads = o->threads, .schedule = (int)o->schedule,
                         .budget = p->budget, .pool = prange__pool, .learned = *learned, .plan = *p};
    return learn;
}

int prange__plan_probe_team(const prange_plan *p, const prange_opts *o)
{
    if (!p->serial || p->reason != prange__why_fork) return 0;
    int team = (o && o->threads > 0 && o->threads < p->budget) ? o->threads : p->budget;
    if (team > 2) team = 2; /* the smallest team tells whether the machine is quiet */
    /* Would a team of 2 pay at a quiet machine's figure (F + W/2 < 0.85 W)? */
    return prange__fork_quiet_ns() + p->work_ns / 2 < PRANGE__PARALLEL_GAIN * p->work_ns ? team : 0;
}

int prange_plan_for_body(int64_t n, prange_body_fn body, const prange_opts *opts, prange_plan *out)
{
    PRANGE__TLS_SYNC();
    prange_opts o;
    if (n < 0 || !out || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    prange__plan((uint64_t)n, &o, prange__key(&o, (const void *)body), out);
    return 0;
}

int prange_plan_for(int64_t n, const prange_opts *opts, prange_plan *out)
{
    PRANGE__TLS_SYNC();
    return prange_plan_for_body(n, NULL, opts, out);
}

int prange_threads_for(int64_t n, double cost_ns)
{
    PRANGE__TLS_SYNC();
    if (n <= 0 || !(cost_ns >= 0) || isinf(cost_ns)) return 1;
    prange_opts o = PRANGE_OPTS_INIT;
    o.cost_ns = cost_ns;
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
