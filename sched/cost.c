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
 * Each slot also keeps the back-off of its (body, size class). Every parallel call of a
 * learning key is timed and adds its wall time and its serial estimate (n x the learned
 * cost) to the slot's window; a window closes after about 20 ms of serial work (2 to
 * 1024 calls), or early once it lost 10 ms, or 2 ms in 3 calls that each took more than
 * twice their estimate, or at the second call that lost 16 times its estimate and
 * 0.2 ms (a short loop whose worker waits for a core). A window that took longer than its serial
 * estimate halves the team the key may plan, for 16 calls, then for a number of calls
 * that at least doubles each time the probe window at the full team loses again, and ends
 * when a probe window wins. Windows, not single calls: a virtual CPU descheduled for 2 ms
 * once in a hundred calls is not a reason to give up a 1.8x speed-up, a worker that waits
 * for a core on every call is. docs/scheduling.md has a worked example.
 *
 * The same windows judge a team tried against a busy fork-join figure (plan.c, "trying
 * the team"): after 2 ms of serial work instead of 20, and a loss backs off as a lost
 * probe window does (at least 32 x the time lost).
 */
#include "prange_sched.h"
#include "profile.h"

#define SLOTS 512  /* power of two */
#define PROBES 8
#define WARM_SAMPLES 8  /* calls timed before sampling drops to 1 in 64 */
#define BACKOFF_FIRST 16     /* capped calls after a first loss: a one-off loss costs little */
#define BACKOFF_COST 32.0    /* then at least 32 x what a lost probe window cost: <= ~3% */
#define BACKOFF_MAX_NS 5e8   /* and at most 0.5 s of serial work: a quiet machine is seen */
#define WINDOW_NS 2e7        /* a window: about 20 ms of serial work ... */
#define WINDOW_MIN 2         /* ... in at least 2 calls ... */
#define WINDOW_MAX 1024      /* ... and at most 1024 */
#define WINDOW_LOST_NS 1e7   /* or closed early once it lost 10 ms, */
#define WINDOW_SLOW 3        /* or 2 ms in 3 calls each slower than twice their estimate */
#define WINDOW_SLOW_NS 2e6
#define WINDOW_DEAR 2        /* or 2 calls that each lost 16 x their estimate (more than */
#define WINDOW_DEAR_X 16     /* the 16 capped calls of a first back-off can cost) and */
#define WINDOW_DEAR_NS 2e5   /* 0.2 ms */
#define WINDOW_VOTE 32       /* or at 32 calls of which more than half lost, */
#define WINDOW_TAIL 1.25     /* or at 32 calls 1.25 x their estimate, 3 of them slow */
#define WINDOW_TRIAL_NS 2e6  /* a team tried under a busy figure: 2 ms of serial work */
#define WINDOW_ASK 4         /* a window without a serial time asks for one at its 4th call */
/* Serial calls a back-off asks for at once: the first after team calls finds half of an
 * in-cache loop's data in the other cores' caches (a 10^4 triad: 3.7 us, 2.2 us warm);
 * the lower median of the two keeps the second. */
#define ALONE_CALLS 2

typedef struct {
    _Atomic(uintptr_t) key;    /* body pointer ^ size class, 0 = free */
    prange__window cost;       /* ns per iteration */
    prange__window alone;      /* ns per iteration of calls run on one thread (below) */
    /* Back-off (written by timed parallel calls and capped ones; races lose a count or a
     * sample at worst). One word that every call reads, 0 in the common case: cap (bits
     * 0-15: at most this many threads while skip > 0; 0 = none), skip (32-63: capped
     * calls left before the probe window). */
    _Atomic(uint64_t) bo;
    atomic_uint interval;      /* the last back-off in calls; 0 = none recently */
    /* The open window: timed parallel calls, their wall time and serial estimates (ns). */
    atomic_uint win_calls, win_slow; /* calls, and those slower than twice their estimate */
    atomic_uint win_dear;            /* calls that lost WINDOW_DEAR_X times their estimate */
    atomic_uint win_lost;            /* calls slower than their estimate */
    _Atomic(double) win_wall, win_serial;
    atomic_int time_alone;           /* calls to run alone, timed, next (plan.c) */
    atomic_uint pend_calls;          /* a window left unjudged for want of a serial time: */
    _Atomic(double) pend_wall;       /* its calls and their wall time, judged with the next */
} slot;

#define BO_CAP(w) ((int)((w) & 0xffff))
#define BO_SKIP(w) ((unsigned)((w) >> 32))
static inline uint64_t bo_word(int cap, unsigned skip) { return (uint64_t)(unsigned)cap | (uint64_t)skip << 32; }

static slot g_slots[SLOTS];

static uintptr_t make_key(const void *key, uint64_t n)
{
    /* Function pointers are at least 2-aligned on every ABI we build for; the class sits
     * in the top bits, which user-space code addresses do not use. */
    return (uintptr_t)key ^ ((uintptr_t)(prange__size_class(n) + 1) << 56);
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
    if (!s) return (prange__learned){0};
    unsigned alone = prange__window_count(&s->alone);
    prange__learned l = {prange__window_get(&s->cost), prange__window_count(&s->cost), 0, 0,
                         prange__window_get(&s->alone), (uint16_t)(alone < 65535 ? alone : 65535),
                         (uint16_t)(atomic_load_explicit(&s->time_alone, memory_order_relaxed) != 0)};
    uint64_t w = atomic_load_explicit(&s->bo, memory_order_relaxed);
    if (__builtin_expect(w != 0, 0)) {
        if (BO_CAP(w) > 0 && BO_SKIP(w) > 0) l.cap = (uint16_t)BO_CAP(w);
        else l.probe = 1; /* the probe window after a back-off */
    }
    return l;
}

double prange__cost_lookup(const void *key, uint64_t n) { return prange__cost_get(key, n).ns; }

_Atomic(uint64_t) prange__plan_epoch;

int prange__cost_warm(const prange__learned *l) { return l->samples >= WARM_SAMPLES && !l->probe && !l->cap; }

int prange__cost_sample_learned(const prange__learned *l)
{
    /* A capped call is timed too: run inline it times the whole loop, the serial figure a
     * probe is then judged against. The caller's share alone under-rates a loop whose
     * dear iterations sit in the other shares (a triangular loop), which would then keep
     * losing to an estimate of half its serial time. */
    return l->samples < WARM_SAMPLES || l->probe || l->cap || l->time_alone ? 1 : prange__sample_tick();
}

PRANGE__TLS unsigned prange__tick;

static void window_reset(slot *s)
{
    atomic_store_explicit(&s->win_calls, 0, memory_order_relaxed);
    atomic_store_explicit(&s->win_slow, 0, memory_order_relaxed);
    atomic_store_explicit(&s->win_dear, 0, memory_order_relaxed);
    atomic_store_explicit(&s->win_lost, 0, memory_order_relaxed);
    atomic_store_explicit(&s->win_wall, 0, memory_order_relaxed);
    atomic_store_explicit(&s->win_serial, 0, memory_order_relaxed);
}

void prange__backoff_tick(const void *key, uint64_t n, int serial)
{
    /* Plain reads and writes, not compare-and-swap: a loop's calls are usually one
     * thread's, and a count lost to a race moves the next probe by a call. */
    slot *s = find(make_key(key, n), 0);
    if (!s) return;
    uint64_t w = atomic_load_explicit(&s->bo, memory_order_relaxed);
    int cap = BO_CAP(w);
    unsigned skip = BO_SKIP(w);
    if (cap == 0) return;
    if (skip > 0) {
        if (--skip == 0) window_reset(s); /* the probe window starts with the next call */
    } else if (serial) {
        cap = 0; /* a probe planned serial for another reason: nothing to probe */
    } else {
        return;
    }
    atomic_store_explicit(&s->bo, bo_word(cap, skip), memory_order_relaxed);
}

/* The next ALONE_CALLS calls of this key run alone, timed (plan.c, prange__why_alone). */
static void ask_alone(slot *s)
{
    atomic_store_explicit(&s->time_alone, ALONE_CALLS, memory_order_relaxed);
    prange__plan_changed();
}

int prange__backoff_observe(const void *key, const prange__learned *l, uint64_t n, int threads, double wall_ns,
                            int trial, const char *what, const char *label)
{
    if (!key || !(l->ns > 0) || threads < 2) return 0;
    slot *s = find(make_key(key, n), 0);
    if (!s) return 0;
    /* The serial estimate from calls that ran alone when there are some: a team's share of
     * a memory-bound loop runs slower per iteration than the loop alone (the team shares
     * the bandwidth), so n x the learned cost would make a parallel call that a busy
     * neighbour slowed past the serial loop look like a win (a 10^7 triad next to one
     * busy core: 12.9 ms on 2 threads, 9.9 ms alone, 26 ms estimated from the shares). */
    double est = prange__serial_estimate_ns(l, n);
    unsigned calls = atomic_load_explicit(&s->win_calls, memory_order_relaxed) + 1;
    unsigned slow = atomic_load_explicit(&s->win_slow, memory_order_relaxed) + (wall_ns > 2 * est);
    double wall = atomic_load_explicit(&s->win_wall, memory_order_relaxed) + wall_ns;
    double serial = atomic_load_explicit(&s->win_serial, memory_order_relaxed) + est;
    /* Early: a window that lost a lot, or whose calls keep stalling (a worker waiting for
     * a core on every call shows in 3 calls; one stall in a hundred never closes it). */
    /* A call that lost more than BACKOFF_FIRST calls of its serial work waited for a core
     * (a 61 us triad took 1.4-2.7 ms with a busy loop on every core): when it happens
     * twice, a back-off costs less than the next one, and a short loop's size class met in
     * a sweep would otherwise spend 3-5 calls on such stalls. Once is a hiccup. */
    double lost_now = wall_ns - est;
    unsigned dear = atomic_load_explicit(&s->win_dear, memory_order_relaxed) +
                    (lost_now > WINDOW_DEAR_X * est && lost_now > WINDOW_DEAR_NS);
    /* A window of many short calls is judged early by its calls' majority, as a median
     * would: a 3 us loop's 20 ms window is ~7000 calls, and a team that loses a little on
     * most calls (a worker that shares its core) lost them all by then. A hiccup is one
     * call's vote. */
    unsigned lost_calls = atomic_load_explicit(&s->win_lost, memory_order_relaxed) + (wall_ns > est);
    /* The window left unjudged for want of a serial time (below) joins the first window
     * that has one, its calls counted lost or won by their mean: next to one busy loop a
     * 10^7 triad's 2 team calls of 12.5 ms then lose at the first team call after its 2
     * calls alone (8.2 ms), not 2 calls later. */
    unsigned pend = atomic_load_explicit(&s->pend_calls, memory_order_relaxed);
    int judged = pend > 0 && l->alone_ns > 0;
    if (judged) {
        double pw = atomic_load_explicit(&s->pend_wall, memory_order_relaxed);
        atomic_store_explicit(&s->pend_calls, 0, memory_order_relaxed);
        calls += pend;
        wall += pw;
        serial += pend * est;
        if (pw > pend * est) lost_calls += pend;
    }
    int stall = (slow >= WINDOW_SLOW && wall - serial > WINDOW_SLOW_NS) || dear >= WINDOW_DEAR;
    /* And by its calls' sum when a tail of slow calls makes it: a 10^4 triad's team next
     * to one busy loop won most calls (2 us against 2.4 us alone) but waited ~20 us on one
     * in 15, 1.4-2.6 x the serial time in all; no rule above closed its window of 8000
     * calls. Three slow calls, so one hiccup does not. */
    int tail = calls >= WINDOW_VOTE && slow >= WINDOW_SLOW && wall > WINDOW_TAIL * serial;
    int early = wall - serial > WINDOW_LOST_NS || stall || tail || (calls >= WINDOW_VOTE && 2 * lost_calls > calls);
    /* A team tried under a busy figure is judged on a tenth of the window: it stands
     * against the figure's verdict, and a sweep makes a dozen calls of a 1 ms loop. */
    int closes = calls >= WINDOW_MIN && (serial >= (trial ? WINDOW_TRIAL_NS : WINDOW_NS) || calls >= WINDOW_MAX);
    /* The window left unjudged is judged now, with this call: it was a window already
     * (closed, or WINDOW_ASK calls), and waiting for the next one to close would keep a
     * losing team for another window (below). */
    closes |= judged;
    /* Nothing ran alone yet: the estimate is n x the team shares' cost, which is no serial
     * time. A share of a memory-bound loop runs slower per iteration than the loop alone,
     * and next to a busy loop the caller's share ran on the busy core as often as not: a
     * 10^7 triad's teams of 12-14 ms "won" every window against 16.5 ms estimated, where
     * it took 8.2 ms alone; a 10^4 triad's teams (4.7 us) never lost a vote against the
     * shares, and 2.3 us alone. Such a window is judged on stalls only (whatever the
     * estimate, they lost): at its close or its WINDOW_ASK-th call, whichever comes
     * first, the next calls run alone, timed (plan.c, prange__why_alone), and the window
     * is judged with the first team call after them. At the 4th call, not the 32nd: next
     * to one busy loop a 10^5 triad's teams took 75-125 us against 45-60 us alone on all
     * of a sweep's 21 calls, its window waiting for its 32nd; asked at the 8th, 9 of the
     * 21 calls still ran on the team, and the median was the team's in 1 run of 4.
     * A whole call, not a slice: a slice shorter than the system's time slices measured
     * the caller at full speed next to a busy loop on every core (11.7 ms for 16.5 ms).
     * Calls of more than PRANGE__ALONE_CALL_NS are judged against the shares. */
    int want_alone = l->alone_samples < PRANGE__ALONE_WANT && est <= PRANGE__ALONE_CALL_NS;
    if (want_alone && !(l->alone_ns > 0) && !stall && (closes || early || calls >= WINDOW_ASK)) {
        window_reset(s);
        atomic_store_explicit(&s->pend_wall, wall, memory_order_relaxed);
        atomic_store_explicit(&s->pend_calls, calls, memory_order_relaxed);
        ask_alone(s);
        if (prange__verbose() >= 2)
            prange__log("%s%s%s: %u calls on %d threads took %.0f ns against %.0f ns from the team's shares: the "
                        "next call runs alone, timed, for a serial estimate",
                        what, label ? " " : "", label ? label : "", calls, threads, wall, serial);
        return 0;
    }
    if (!closes && !early) {
        atomic_store_explicit(&s->win_calls, calls, memory_order_relaxed);
        atomic_store_explicit(&s->win_slow, slow, memory_order_relaxed);
        atomic_store_explicit(&s->win_dear, dear, memory_order_relaxed);
        atomic_store_explicit(&s->win_lost, lost_calls, memory_order_relaxed);
        atomic_store_explicit(&s->win_wall, wall, memory_order_relaxed);
        atomic_store_explicit(&s->win_serial, serial, memory_order_relaxed);
        return 0;
    }
    window_reset(s);
    /* A few serial samples, not two: the next calls after each of the first windows run
     * alone too. */
    if (want_alone) ask_alone(s);
    uint64_t w = atomic_load_explicit(&s->bo, memory_order_relaxed);
    int cap = BO_CAP(w);
    unsigned interval = atomic_load_explicit(&s->interval, memory_order_relaxed);
    /* A window closed by its length is judged as its median call would be, too: lost only
     * when most of its calls lost. Next to a busy loop on every core, a 10^7 triad's team
     * calls were spread from 4.5 to 24 ms (a member waiting a time slice, or not) around
     * a median of ~11 ms, against a steady 16.5 ms alone: one late call in a window of 2
     * lost it, and the loop ran serially for 16-33 calls. Such a window, neither won nor
     * lost, changes nothing; the next one decides. */
    if (wall > serial && !early && 2 * lost_calls <= calls) return 0;
    if (wall <= serial) {
        /* Won: a probe window ends the back-off; later wins forget it by halves. */
        if (cap > 0 && !l->cap) atomic_store_explicit(&s->bo, 0, memory_order_relaxed);
        else if (cap == 0 && interval > 0)
            atomic_store_explicit(&s->interval, interval / 2 >= BACKOFF_FIRST ? interval / 2 : 0, memory_order_relaxed);
        return 0;
    }
    /* Lost: half the team that lost. A capped window that loses lowers the cap and keeps
     * its count. A window at the full team backs off for BACKOFF_FIRST calls the first
     * time, else (a probe window, or a loss soon after one) for twice as long as the last
     * time and at least BACKOFF_COST times what the window lost, in calls of its serial
     * estimate, never beyond BACKOFF_MAX_NS of serial work. */
    int next = threads / 2 > 1 ? threads / 2 : 1;
    unsigned skip = BO_SKIP(w);
    if (!l->cap) {
        double per = serial / calls, most = BACKOFF_MAX_NS / per, back = BACKOFF_FIRST;
        /* A lost trial is a lost probe: the figure said so already. */
        if (interval > 0 || trial) {
            double by_cost = BACKOFF_COST * (wall - serial) / per;
            back = 2.0 * interval > by_cost ? 2.0 * interval : by_cost;
            if (back > most) back = most;
            if (back < BACKOFF_FIRST) back = BACKOFF_FIRST;
            if (back > 1e9) back = 1e9;
        }
        skip = interval = (unsigned)back;
        atomic_store_explicit(&s->interval, interval, memory_order_relaxed);
    }
    atomic_store_explicit(&s->bo, bo_word(next, skip), memory_order_relaxed);
    prange__plan_changed();
    prange__profile_event(PRANGE__EV_SLOWER);
    if (prange__verbose() >= 2)
        prange__log("%s%s%s: %u calls on %d threads took %.0f ns, the serial estimate is %.0f ns: at most %d "
                    "thread%s for the next %u calls of this body and size",
                    what, label ? " " : "", label ? label : "", calls, threads, wall, serial, next,
                    next == 1 ? "" : "s", skip);
    return 1;
}

uint64_t prange__cost_record_alone(const void *key, uint64_t n, uint64_t iters, double ns, int alone)
{
    if (!key || iters == 0 || !(ns >= 0)) return UINT64_MAX;
    slot *s = find(make_key(key, n), 1);
    /* 0 means "unknown" to lookups: a sample is never below 1e-6 ns per iteration. */
    double c = ns / (double)iters;
    if (c < 1e-6) c = 1e-6;
    if (s) prange__window_add(&s->cost, c);
    if (s && alone) {
        prange__window_add(&s->alone, c);
        int left = atomic_load_explicit(&s->time_alone, memory_order_relaxed);
        if (left > 0) atomic_store_explicit(&s->time_alone, left - 1, memory_order_relaxed);
    }
    return prange__plan_changed();
}

void prange__cost_record(const void *key, uint64_t n, uint64_t iters, double ns)
{
    (void)prange__cost_record_alone(key, n, iters, ns, 0);
}
