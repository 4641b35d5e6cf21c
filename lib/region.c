/*
 * region.c — persistent teams: prange_region runs a function on every member of one
 * team, and the loops it calls are shared out among the members (lib/loop.c,
 * lib/reduce.c) with a barrier between them instead of a fork-join each.
 *
 * The region lives on the caller's stack: a barrier (arrival count + generation) and a
 * ring of loop slots (prange_lib.h). Nothing is allocated; a loop planned in a slot costs
 * one compare-and-swap (the member that plans it), one cache line read by the others, one
 * decrement on leaving and the barrier. Most loops cost the barrier alone: every member
 * plans them from inputs the members agreed on in an earlier slot ("kept inputs" below).
 *
 *   member 0: for(A) ........ barrier | for(B, nowait) | for(C) ..... barrier
 *   member 1: for(A) . barrier ...... | for(B, nowait) | for(C) barrier ....
 *             slot 0 (A): planned by whoever came first; freed by the last to leave
 *
 * Whether a region is worth a team is learned per function (or opts->key), from one
 * account by the model in both modes: a call whose loops' sharing saved (or, inline,
 * would save) no more than the barriers of the loops one member runs makes the next call
 * inline, its loops planned as ordinary calls (a fork-join each where one pays); the
 * other way round, the team. A team call that took less than its loops take alone (by
 * their learned costs) keeps the team whatever the account says. A team that lost
 * although it shared is held off for a while that doubles while it keeps losing. A team
 * call that took more than 0.8 x its loops' work is checked against the next call, run
 * inline: the account cannot see a member waiting for a core.
 * docs/regions.md.
 */
#include <limits.h>
#include <stddef.h>
#include <linux/futex.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prange_lib.h"

enum { FREE = 0, PLANNING = 1, READY = 2 };

#define NEAR_TEAM 2 /* teams that wait next to the barrier's counter */
#define TREE_TEAM 4 /* larger teams arrive in groups */
#define GROUP 4
#define GROUPS 32

typedef struct region {
    prange__rslot slot[PRANGE__RING];
    /* The barrier. A team of more than NEAR_TEAM members waits on another line than the
     * one they arrive on, so each arrival's increment does not take the line away from
     * every member already waiting (a 16-core machine: 3.1 us per loop in a region with
     * both on one line, docs/performance.md); a pair waits next to its counter, where
     * the last arrival's release costs no second line (7.7 against 8.6 us for 64 loops on
     * 2 cores). */
    _Alignas(64) atomic_uint arrived; /* members (or groups, TREE_TEAM) arrived */
    atomic_uint gen_near;             /* barriers completed, teams of at most NEAR_TEAM */
    atomic_int sleep_near;            /* members asleep on gen_near (a futex) */
    /* What the last member writes for the others before a release, in the line they wait
     * on: they read it with the generation, not as one more line (a reduction's result,
     * lib/reduce.c); a pair's members also write there before arriving (its posts). */
    _Alignas(16) unsigned char said_near[PRANGE__SAID];
    _Alignas(64) atomic_uint gen_far; /* barriers completed, larger teams */
    atomic_int sleep_far;             /* members asleep on gen_far */
    _Alignas(16) unsigned char said_far[PRANGE__SAID];
    /* Teams of more than TREE_TEAM arrive in groups of GROUP first, each group on its own
     * line, and the last of each group arrives for it above: 16 members make 4 + 4 serial
     * increments on a contended line instead of 16. Beyond GROUPS x GROUP members the
     * groups grow instead. */
    struct {
        _Alignas(64) atomic_uint n;
    } group[GROUPS];
    _Alignas(64) atomic_int parallel; /* a loop was shared (team) or ran on a team (inline) */
    /* A team call's account (ns, by the model; members add theirs once, at the end): */
    _Atomic(int64_t) shared;   /* sharing loops saved over one member running them */
    _Atomic(int64_t) barriers; /* loops one member ran while the others waited */
    atomic_int guessed;        /* a loop was planned at the default cost: no account */
    _Atomic(int64_t) serial;   /* what its loops take on one thread, by their learned costs */
    _Atomic(int64_t) work;     /* its loops' work by the costs their plans used (hints too) */
    atomic_int unlearned;      /* a shared loop had no learned cost (a hint): no such figure */
    /* Read only while the team runs: the caller's scratch for reductions planned from kept
     * inputs (lib/reduce.c; NULL: none, they go through slots). */
    _Alignas(64) unsigned char *rarea;
} region;
_Static_assert(offsetof(region, said_near) + PRANGE__SAID <= offsetof(region, arrived) + 64 &&
                   offsetof(region, said_far) + PRANGE__SAID <= offsetof(region, gen_far) + 64,
               "what the last member says shares the line the others wait on");

/* A member's kept inputs for loops of one key and size class (prange__region_kept). */
#define KEPT 16 /* entries, a power of two */
typedef struct kept {
    const void *key; /* NULL: empty */
    unsigned cls;
    int hinted;
    int uses; /* loops planned from it since the slot that kept it */
    prange__learned learned;
} kept;

/* A member's share of the account, added up on its stack while it runs fn; an inline
 * call keeps one too, of what its team would have done with the same loops. A team
 * member's kept inputs live on its stack too, for the length of the call. */
typedef struct {
    double shared, barriers;
    double loop_ns, wait_ns; /* what sharing a loop costs the team, and a barrier after one */
    int guessed;
    int team;      /* an inline call: the team a team call would have */
    double serial; /* a team call: its loops on one thread, by their learned costs */
    double work;   /* both: its loops' work by the costs their plans used (hints too) */
    int unlearned; /* ... unknown: a loop it shared had no learned cost */
    kept *kept;    /* a team member's: KEPT entries */
    unsigned reductions; /* ... and the reductions it planned from them so far */
    int ahead;     /* a team member past a nowait loop since its last barrier */
} account;
static PRANGE__TLS account *t_account;

/* ---- kept inputs -----------------------------------------------------------------------
 * A loop planned in a slot costs the members that did not plan it a wait for the
 * planner's line, and the slot's hand-back after it: two or three cross-core transfers a
 * loop, as much as its barrier (docs/regions.md). But a plan inside a region reads only
 * the call's arguments, which every member passes alike, the learned cost of its key and
 * size class, and the region's figure for sharing a loop, fixed for the call
 * (region_call.loop_ns). So the learned cost a slot's plan used is kept by every member,
 * and the next loops of that key and class are planned by each member alone: the same
 * arguments, the same inputs, the same plan, nothing to wait for. The entries change only
 * at slots, which every member passes in the same order, so every member's table is the
 * same; an entry serves PRANGE__KEPT_USES loops, then the next loop of its key and class
 * goes through a slot again and keeps what the cost table says then. */
/* A key's size classes take consecutive entries (a wavefront's diagonals span 6 classes
 * at 2000²); another key's may overlap them: an entry is looked for at KEPT_PROBES
 * places. Replacement takes, in this order, the place of the same key and class, a free
 * one, or the one that served most loops since its slot (it is due for a refresh the
 * soonest). All deterministic: every member's table stays the same. */
#define KEPT_PROBES 4
static kept *kept_at(const void *key, unsigned cls, int p)
{
    uint64_t h = (uint64_t)(uintptr_t)key * UINT64_C(0x9e3779b97f4a7c15);
    return &t_account->kept[((h >> 60) + cls + (unsigned)p) & (KEPT - 1)];
}

const prange__learned *prange__region_kept(const void *key, uint64_t n, int hinted)
{
    unsigned cls = prange__size_class(n);
    for (int p = 0; p < KEPT_PROBES; p++) {
        kept *k = kept_at(key, cls, p);
        if (k->key != key || k->cls != cls) continue;
        if (k->hinted != hinted || k->uses >= PRANGE__KEPT_USES) return NULL;
        k->uses++;
        return &k->learned;
    }
    return NULL;
}

void prange__region_keep(const void *key, uint64_t n, int hinted, const prange__learned *learned)
{
    if (!hinted && !prange__cost_warm(learned)) return; /* still learning: plan in slots */
    unsigned cls = prange__size_class(n);
    kept *pick = NULL;
    for (int p = 0; p < KEPT_PROBES; p++) {
        kept *k = kept_at(key, cls, p);
        if (k->key == key && k->cls == cls) {
            pick = k;
            break;
        }
        if (!pick || (pick->key && (!k->key || k->uses > pick->uses))) pick = k;
    }
    *pick = (kept){key, cls, hinted, 0, *learned};
}

double prange__region_fork_ns(void) { return t_account->loop_ns; }

unsigned prange__region_reduction_seq(void) { return t_account->reductions++; }

void prange__region_account_inline(double work_ns, int guessed, int barrier)
{
    account *a = t_account;
    if (!a || !a->team || prange__tls.depth > 0) return;
    a->guessed |= guessed;
    if (work_ns > 0) a->work += work_ns;
    double g = prange__team_gain_ns(work_ns, a->team, a->loop_ns);
    if (g > 0) a->shared += g;
    else if (barrier) a->barriers += a->wait_ns;
}

void prange__region_account(const prange_plan *p, int barrier, int learn, const prange__learned *l)
{
    account *a = t_account;
    if (!a || a->team || prange__tls.depth > 0) return;
    int shared = !p->serial && p->threads > 1;
    a->guessed |= prange__plan_guessed(p, learn, l);
    if (p->work_ns > 0) a->work += p->work_ns;
    if (learn && l->ns > 0) a->serial += prange__serial_estimate_ns(l, (uint64_t)p->n);
    else if (shared) a->unlearned = 1;
    if (shared) a->shared += prange__team_gain_ns(p->work_ns, p->threads, p->fork_ns);
    else if (barrier) a->barriers += a->wait_ns;
}

/* A member waiting at a barrier spins for SPIN_NS, then sleeps on the generation word (a
 * futex) until the last member's release wakes it. It never yields: on a machine shared
 * with a busy process, a member that yields hands its core to that process for a time
 * slice at every barrier, and the release then finds it waiting for the core (next to one
 * busy loop on 2 cores, heat's team took 2.2 x its serial time; libgomp's team, which
 * spins then sleeps, 0.8 x). A thread woken from sleep runs at once. Sleeping after the
 * spin keeps a long wait (the others running a long serial loop) off a core other work
 * needs. Barriers of loops of microseconds never sleep. */
#define SPIN_NS 100000

static long futex(atomic_uint *w, int op, unsigned val)
{
    return syscall(SYS_futex, (unsigned *)w, op, val, NULL, NULL, 0);
}

static void wait_gen(atomic_uint *g, atomic_int *sleepers, unsigned gen)
{
    uint64_t t0 = 0;
    for (unsigned spins = 1; atomic_load_explicit(g, memory_order_acquire) == gen; spins++) {
        prange__cpu_relax();
        if (spins % 256) continue;
        if (!t0) {
            t0 = prange__ticks();
            continue;
        }
        if (prange__ticks_since_ns(t0) < SPIN_NS) continue;
        /* Counted before the last look at the word, which the kernel makes again: a release
         * between the two either sees the count or changes the word first (both seq_cst). */
        atomic_fetch_add(sleepers, 1);
        while (atomic_load(g) == gen) futex(g, FUTEX_WAIT_PRIVATE, gen);
        atomic_fetch_sub(sleepers, 1);
        return;
    }
}

/* `last` (when not NULL) runs on the last member to arrive, before it releases the others:
 * every member's writes before arriving are visible to it, and its writes to them. */
static void barrier(region *R, int team, int tid, void (*last)(void *), void *arg)
{
    atomic_uint *g = team > NEAR_TEAM ? &R->gen_far : &R->gen_near;
    atomic_int *sleepers = team > NEAR_TEAM ? &R->sleep_far : &R->sleep_near;
    unsigned gen = atomic_load_explicit(g, memory_order_acquire);
    int above = team;
    if (team > TREE_TEAM) {
        /* Each group's counter is reset by its last member before that member arrives
         * above, so before the release that lets any member reach the next barrier. */
        int per = team <= GROUPS * GROUP ? GROUP : (team + GROUPS - 1) / GROUPS;
        int k = tid / per, size = team - k * per < per ? team - k * per : per;
        above = (team + per - 1) / per;
        if (atomic_fetch_add_explicit(&R->group[k].n, 1, memory_order_acq_rel) != (unsigned)size - 1) goto wait;
        atomic_store_explicit(&R->group[k].n, 0, memory_order_relaxed);
    }
    if (atomic_fetch_add_explicit(&R->arrived, 1, memory_order_acq_rel) == (unsigned)above - 1) {
        if (last) last(arg);
        atomic_store_explicit(&R->arrived, 0, memory_order_relaxed);
        atomic_store(g, gen + 1); /* seq_cst: ordered before the look at the sleepers */
        if (atomic_load(sleepers) > 0) futex(g, FUTEX_WAKE_PRIVATE, INT_MAX);
        return;
    }
wait:
    wait_gen(g, sleepers, gen);
}

void prange__region_wait_then(void (*last)(void *), void *arg)
{
    barrier(prange__tls.region, prange__tls.region_team, prange__tls.tid, last, arg);
    t_account->ahead = 0;
}

void prange__region_wait(void) { prange__region_wait_then(NULL, NULL); }

void prange__region_went_on(void) { t_account->ahead = 1; }

int prange__region_in_step(void) { return !t_account->ahead; }

unsigned char *prange__region_area(void) { return ((region *)prange__tls.region)->rarea; }

unsigned char *prange__region_said(int *pair)
{
    region *R = prange__tls.region;
    *pair = prange__tls.region_team <= NEAR_TEAM;
    return *pair ? R->said_near : R->said_far;
}

prange__rslot *prange__region_enter(int *planner)
{
    region *R = prange__tls.region;
    uint64_t seq = prange__tls.rseq++;
    prange__rslot *s = &R->slot[seq % PRANGE__RING];
    uint64_t want = seq << 2;
    for (unsigned spins = 0;; spins++) {
        uint64_t cur = atomic_load_explicit(&s->state, memory_order_acquire);
        if (cur == (want | READY)) {
            *planner = 0;
            return s;
        }
        if (cur == want && atomic_compare_exchange_strong_explicit(&s->state, &cur, want | PLANNING,
                                                                   memory_order_acquire, memory_order_relaxed)) {
            *planner = 1;
            s->rc = 0;
            s->key = NULL;
            s->runner = prange__tls.tid;
            atomic_store_explicit(&s->left, prange__tls.region_team, memory_order_relaxed);
            return s;
        }
        prange__wait_step(spins); /* being planned, or still used by loop seq - PRANGE__RING */
    }
}

void prange__region_publish(prange__rslot *s)
{
    region *R = prange__tls.region;
    if (s->threads > 1) atomic_store_explicit(&R->parallel, 1, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&s->state, memory_order_relaxed);
    atomic_store_explicit(&s->state, (cur & ~(uint64_t)3) | READY, memory_order_release);
}

int prange__region_leave(prange__rslot *s)
{
    return atomic_fetch_sub_explicit(&s->left, 1, memory_order_acq_rel) == 1;
}

void prange__region_free(prange__rslot *s)
{
    uint64_t seq = atomic_load_explicit(&s->state, memory_order_relaxed) >> 2;
    atomic_store_explicit(&s->state, (seq + PRANGE__RING) << 2 | FREE, memory_order_release);
}

void prange__region_note_parallel(void)
{
    region *R = prange__tls.region;
    if (R && prange__tls.depth == 0) atomic_store_explicit(&R->parallel, 1, memory_order_relaxed);
}

/* ---- team or inline, learned per region function -------------------------------------- */

#define MODES 64 /* power of two */
#define MODE_PROBES 4
#define HOLD_FIRST 4   /* inline calls a team that lost to inline is not tried again for */
#define HOLD_MAX 1024  /* ... doubling while it keeps losing */
/* A team call that took more than this share of its loops' serial work (by the model) is
 * checked against one inline call (a member sharing its core with other work makes every
 * barrier wait: on 2 cores next to one busy loop, heat took 2.2 x its serial time on a
 * team while the account, which sees no such wait, kept it). Quiet 2-thread teams take
 * 0.5-0.6 of it. */
#define SUSPECT 0.8
#define MUTE_FIRST 64    /* team calls not checked after a check that the team won */
#define MUTE_MAX 4096    /* ... doubling each time */
#define HOLD_COST 32.0   /* a team that lost to a check: held off >= 32 x its loss in calls */
#define HOLD_TIME_NS 5e8 /* ... within 0.5 s of inline calls */
static struct {
    _Atomic(uintptr_t) key;
    atomic_int inline_next; /* the next call runs inline */
    atomic_int hold, hold_len; /* inline calls left before a team is tried again; the last hold */
    _Atomic(int64_t) lost_shared; /* what the team that lost shared (ns): the hold is for that work */
    atomic_int check;             /* the next (inline) call checks the last team call */
    _Atomic(int64_t) team_milli;  /* that call's time per ns of its loops' work, x 1000 */
    atomic_int mute, mute_len;    /* team calls left unchecked; the last such count */
} g_modes[MODES];

static int mode_slot(const void *key, int claim)
{
    uint64_t h = (uint64_t)(uintptr_t)key * UINT64_C(0x9e3779b97f4a7c15);
    for (unsigned p = 0; p < MODE_PROBES; p++) {
        int i = (int)((h >> 58) + p) & (MODES - 1);
        uintptr_t cur = atomic_load_explicit(&g_modes[i].key, memory_order_acquire);
        if (cur == (uintptr_t)key) return i;
        if (cur == 0 && claim) {
            uintptr_t expect = 0;
            if (atomic_compare_exchange_strong(&g_modes[i].key, &expect, (uintptr_t)key) ||
                expect == (uintptr_t)key)
                return i;
        }
    }
    return -1; /* full: such regions always get a team */
}

/* The mode slot of a region whose next call runs inline, else -1. */
static int runs_inline(const void *key)
{
    int i = mode_slot(key, 0);
    return i >= 0 && atomic_load_explicit(&g_modes[i].inline_next, memory_order_relaxed) ? i : -1;
}

/* A hold or a mute that doubles each time, from `first`, up to `most`. */
static int doubled(int len, int first, int most) { return len == 0 ? first : len < most ? 2 * len : most; }

/* The account's verdict (both modes): sharing saved more than the barriers cost. What an
 * inline call would save with a fork-join for each loop that pays one is left out: the
 * model's fork-join figure is an empty region's, and a 2000² wavefront's diagonals, each
 * a fork-join paid by the model, ran inline at the serial time (1.5x its team), while
 * that term made 1 team call in 3 lose there. */
static int team_pays(double shared, double barriers)
{
    return shared > 0 && shared > barriers;
}

/* A team that lost: held off for HOLD_FIRST inline calls, twice as many each time it
 * loses again, and at least `least` (at most HOLD_MAX); the hold is for work like
 * `shared`. */
static void hold_off(int i, int64_t shared, double least)
{
    int len = doubled(atomic_load_explicit(&g_modes[i].hold_len, memory_order_relaxed), HOLD_FIRST, HOLD_MAX);
    if (least > len) len = least < HOLD_MAX ? (int)least : HOLD_MAX;
    atomic_store_explicit(&g_modes[i].hold_len, len, memory_order_relaxed);
    atomic_store_explicit(&g_modes[i].hold, len, memory_order_relaxed);
    atomic_store_explicit(&g_modes[i].lost_shared, shared, memory_order_relaxed);
}

/* The inline call that checks a suspect team call: by the time each took per ns of its
 * loops' work (the same model for both, whatever the grid), the faster mode goes on.
 * Inline faster: the team is held off as one that lost. The team faster: its next
 * MUTE_FIRST calls are not checked, twice as many after each such check (the function
 * may do serial work besides its loops, which both modes pay). */
static void record_check(int i, const account *a, uint64_t wall, const char *label)
{
    double team = (double)atomic_load_explicit(&g_modes[i].team_milli, memory_order_relaxed) / 1000;
    double mine = (double)wall / a->work;
    int team_won = !(mine < team);
    if (team_won) {
        int len = doubled(atomic_load_explicit(&g_modes[i].mute_len, memory_order_relaxed), MUTE_FIRST, MUTE_MAX);
        atomic_store_explicit(&g_modes[i].mute_len, len, memory_order_relaxed);
        atomic_store_explicit(&g_modes[i].mute, len, memory_order_relaxed);
        atomic_store_explicit(&g_modes[i].inline_next, 0, memory_order_relaxed);
    } else {
        /* As a loop's back-off: the team is tried again after 32 x what it lost in calls
         * like this one (~3%), within 0.5 s of them (a machine gone quiet is found). */
        double least = HOLD_COST * (team - mine) / mine, most = HOLD_TIME_NS / (double)(wall ? wall : 1);
        atomic_store_explicit(&g_modes[i].mute_len, 0, memory_order_relaxed);
        hold_off(i, (int64_t)a->shared, least < most ? least : most);
    }
    if (prange__verbose() >= 2)
        prange__log("region%s%s: inline took %llu ns, %.2f ns per ns of its loops' work against %.2f on the team: "
                    "next call %s",
                    label ? " " : "", label ? label : "", (unsigned long long)wall, mine, team,
                    team_won ? "a team (faster than inline)" : "inline (the team lost: held off)");
}

/* After an inline call of the region in mode slot i (runs_inline), unless it checks the
 * last team call (record_check): the next call has a team when its account says a team
 * would pay (or, where loops were planned before their cost was known, one of them ran
 * on a team), unless a team lost
 * recently (the hold). The same verdict as a team call's: a region does not go back and
 * forth on one account. A region has no size: the hold is for work like the one that
 * lost, and an inline call that would share more than twice what that team shared (the
 * same function on a bigger grid) ends it. */
static void record_inline(int i, const account *a, int parallel, uint64_t wall, const char *label)
{
    if (atomic_load_explicit(&g_modes[i].check, memory_order_relaxed) && atomic_exchange(&g_modes[i].check, 0) &&
        a->work > 0 && !a->guessed) {
        record_check(i, a, wall, label);
        return;
    }
    int pays = a->guessed ? parallel : team_pays(a->shared, a->barriers);
    int hold = atomic_load_explicit(&g_modes[i].hold, memory_order_relaxed), ended = 0;
    if (hold > 0 && pays && !a->guessed &&
        a->shared > 2.0 * (double)atomic_load_explicit(&g_modes[i].lost_shared, memory_order_relaxed)) {
        atomic_store_explicit(&g_modes[i].hold_len, 0, memory_order_relaxed);
        hold = 0;
        ended = 1;
    }
    if (hold > 0 || ended) atomic_store_explicit(&g_modes[i].hold, hold > 0 ? hold - 1 : 0, memory_order_relaxed);
    if (hold == 0 && pays) atomic_store_explicit(&g_modes[i].inline_next, 0, memory_order_relaxed);
    if (prange__verbose() >= 2) {
        const char *next = hold > 0 ? "inline (a team lost: held off)"
                           : !pays  ? "inline"
                           : ended  ? "a team (the hold ends: more to share than the team that lost)"
                           : a->guessed ? "a team (a loop went parallel; its cost was not known yet)"
                                        : "a team";
        prange__log("region%s%s: inline; a team of %d would save %.0f ns against %.0f ns of barriers: next call %s",
                    label ? " " : "", label ? label : "", a->team, a->shared, a->barriers, next);
    }
}

/* After a team call that took `wall` ns: the team pays when its loops' sharing saved
 * more than the barriers of the loops one member ran, or when the call took less than
 * 0.95 x what its loops take on one thread by their learned costs (the model's figures
 * can over-rate the barriers where a team clearly wins: a 2000² wavefront at 4.1-5.1 ms
 * on its team, 7.6 ms inline, read 1.2 ms saved against 0.8-1.0 ms of barriers in this
 * machine's slow regime). The measurement only keeps a team, never loses one: the
 * estimate leaves out what the function does between its loops, which both modes pay.
 * A team that lost although it shared loops is held off for HOLD_FIRST inline calls,
 * twice as many each time it loses again, in case the two modes' accounts disagree
 * (costs learned between them, figures that moved). */
static void record_team(const void *key, const region *R, int team, uint64_t wall, const char *label)
{
    int i = mode_slot(key, 1);
    if (i < 0) return;
    int64_t shared = atomic_load_explicit(&R->shared, memory_order_relaxed);
    int64_t barriers = atomic_load_explicit(&R->barriers, memory_order_relaxed);
    int64_t serial = atomic_load_explicit(&R->serial, memory_order_relaxed);
    int parallel = atomic_load_explicit(&R->parallel, memory_order_relaxed);
    /* A call whose loops were planned before their cost was known (the first ones) keeps
     * the team when it shared one: its account would be a guess. */
    int guessed = atomic_load_explicit(&R->guessed, memory_order_relaxed);
    int by_account = team_pays((double)shared, (double)barriers);
    int measured = !atomic_load_explicit(&R->unlearned, memory_order_relaxed) && (double)wall < 0.95 * (double)serial;
    int pays = parallel && (guessed || by_account || measured);
    /* A team call that saved little or nothing against its loops' work is checked by the
     * next call, run inline (record_check), unless recent checks found the team faster. */
    int64_t work = atomic_load_explicit(&R->work, memory_order_relaxed);
    int suspect = pays && !guessed && work > 0 && (double)wall > SUSPECT * (double)work && !prange__fork_fixed();
    if (suspect && atomic_load_explicit(&g_modes[i].mute, memory_order_relaxed) > 0) {
        atomic_fetch_sub_explicit(&g_modes[i].mute, 1, memory_order_relaxed);
        suspect = 0;
    }
    atomic_store_explicit(&g_modes[i].inline_next, !pays || suspect, memory_order_relaxed);
    if (suspect) {
        atomic_store_explicit(&g_modes[i].team_milli, (int64_t)(1000.0 * (double)wall / (double)work),
                              memory_order_relaxed);
        atomic_store_explicit(&g_modes[i].check, 1, memory_order_relaxed);
    } else if (pays) {
        atomic_store_explicit(&g_modes[i].hold_len, 0, memory_order_relaxed);
    } else if (shared > 0) {
        hold_off(i, shared, 0);
    }
    if (prange__verbose() >= 2) {
        const char *next = !parallel  ? "inline (no loop was shared)"
                           : suspect    ? "inline, to check the team (it took more than 0.8 x its loops' work)"
                           : guessed    ? "the team (a loop was planned before its cost was known)"
                           : by_account ? "the team"
                           : measured   ? "the team (faster than its loops alone)"
                           : shared > 0 ? "inline (held off while it keeps losing)"
                                        : "inline";
        prange__log("region%s%s: team of %d took %llu ns; sharing saved %lld ns against %lld ns of barriers, its "
                    "loops alone take %lld ns: next call %s",
                    label ? " " : "", label ? label : "", team, (unsigned long long)wall, (long long)shared,
                    (long long)barriers, (long long)serial, next);
    }
}

/* fn on the calling thread with its loops planned as ordinary calls; returns whether one
 * of them ran on a team. */
static int run_watched(region *R, prange_region_fn fn, void *ctx, account *a)
{
    prange__tls_t saved = prange__tls;
    account *saved_account = t_account;
    prange__tls = (prange__tls_t){.tid = 0, .team = 1, .region = R};
    t_account = a;
    fn(ctx);
    t_account = saved_account;
    prange__tls = saved;
    return atomic_load_explicit(&R->parallel, memory_order_relaxed);
}

/* A region's reasons to run its function inline, each loop in it then a nested call. */
static const char *inline_reason(const prange_opts *o)
{
    if (o->flags & PRANGE_SERIAL) return "flag PRANGE_SERIAL";
    if (o->threads == 1) return "threads = 1";
    if (prange__state_get()->opt[PRANGE__OPT_SERIAL].value) return "PRANGE_SERIAL=1";
    if (atomic_load_explicit(&prange__after_fork, memory_order_relaxed)) return "child after fork";
    if (prange__tls.depth > 0) return "nested call";
    if (prange__tls.region) return "inside a region";
    if (omp_in_parallel()) return "inside an OpenMP parallel region";
    return NULL;
}

/* A region's description for its team (prange__launch). No padding. */
typedef struct region_call {
    region *R;
    void (*fn)(void *);
    void *ctx;
    double loop_ns, wait_ns; /* the fork-join figures its members' accounts start from */
    int code, pad;
} region_call;

/* Each member runs the user's function in the region's context, then adds its account. */
static void region_member(void *p)
{
    const region_call *c = p;
    region *Rp = c->R;
    int team = prange__team_in(c->code), tid = omp_get_thread_num();
    if (tid >= team) return;
    prange__bind_worker_if_asked(tid);
    prange__tls_t saved = prange__tls;
    kept table[KEPT] = {{0}};
    account mine = {.loop_ns = c->loop_ns, .wait_ns = c->wait_ns, .kept = table}, *saved_account = t_account;
    prange__tls = (prange__tls_t){.tid = tid, .team = team, .region = Rp, .region_team = team};
    t_account = &mine;
    c->fn(c->ctx);
    barrier(Rp, team, tid, NULL, NULL); /* the last loops may be nowait: all done before returning */
    t_account = saved_account;
    prange__tls = saved;
    atomic_fetch_add_explicit(&Rp->shared, (int64_t)mine.shared, memory_order_relaxed);
    atomic_fetch_add_explicit(&Rp->barriers, (int64_t)mine.barriers, memory_order_relaxed);
    atomic_fetch_add_explicit(&Rp->serial, (int64_t)mine.serial, memory_order_relaxed);
    atomic_fetch_add_explicit(&Rp->work, (int64_t)mine.work, memory_order_relaxed);
    if (mine.guessed) atomic_store_explicit(&Rp->guessed, 1, memory_order_relaxed);
    if (mine.unlearned) atomic_store_explicit(&Rp->unlearned, 1, memory_order_relaxed);
}

int prange_region(prange_region_fn fn, void *ctx, const prange_opts *opts)
{
    PRANGE__TLS_SYNC();
    prange_opts o;
    if (!fn || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    const char *why = inline_reason(&o);
    if (why) {
        if (prange__verbose() >= 2) prange__log("region%s%s: inline (%s)", o.label ? " " : "", o.label ? o.label : "", why);
        prange__tls_t saved = prange__enter_inline();
        fn(ctx);
        prange__leave(saved);
        return 0;
    }
    const void *key = prange__key(&o, (const void *)fn);
    region R;
    for (int i = 0; i < PRANGE__RING; i++) atomic_init(&R.slot[i].state, (uint64_t)i << 2 | FREE);
    atomic_init(&R.arrived, 0);
    atomic_init(&R.gen_near, 0);
    atomic_init(&R.gen_far, 0);
    atomic_init(&R.sleep_near, 0);
    atomic_init(&R.sleep_far, 0);
    atomic_init(&R.parallel, 0);
    atomic_init(&R.shared, 0);
    atomic_init(&R.barriers, 0);
    atomic_init(&R.guessed, 0);
    atomic_init(&R.serial, 0);
    atomic_init(&R.work, 0);
    atomic_init(&R.unlearned, 0);
    R.rarea = NULL;
    int budget = prange__budget();
    prange_plan want = {.threads = o.threads > 0 && o.threads < budget ? o.threads : budget};
    if (want.threads < 2) { /* a budget of 1: every loop is serial anyway */
        run_watched(&R, fn, ctx, NULL);
        return 0;
    }
    int mode = runs_inline(key);
    if (mode >= 0) { /* with the account of what its team would have done */
        account a = {.loop_ns = prange__region_loop_ns(want.threads),
                     .wait_ns = prange__region_wait_ns(want.threads),
                     .team = want.threads};
        int checking = atomic_load_explicit(&g_modes[mode].check, memory_order_relaxed);
        uint64_t t0 = prange__ticks(), c0 = checking ? prange__cpu_ns() : 0;
        int parallel = run_watched(&R, fn, ctx, &a);
        uint64_t wall = prange__ticks_since_ns(t0);
        /* A check runs right after its team call, while the team's workers still spin
         * (~3 ms, libgomp's default) on the cores it needs: its own CPU time says what
         * the inline calls after it take (unless its loops ran on a team: those shares
         * are not on this thread's clock). */
        if (checking && !parallel) {
            uint64_t cpu = prange__cpu_ns() - c0;
            if (cpu < wall) wall = cpu;
        }
        record_inline(mode, &a, parallel, wall, o.label);
        return 0;
    }
    int planned = prange__team_run(&want, "region", o.label);
    if (planned == 1) {
        run_watched(&R, fn, ctx, NULL); /* the budget is held: nothing learned from this run */
        prange__share_give(1);
        return 0;
    }
    for (int i = 0; i < GROUPS && i * GROUP < planned; i++) atomic_init(&R.group[i].n, 0);
    prange__mark_pool_started();
    prange__scratch area;
    R.rarea = prange__scratch_take(&area, prange__region_reduce_bytes(planned));
    region_call c = {&R, fn, ctx, prange__region_loop_ns(planned), prange__region_wait_ns(planned),
                     prange__team_code(planned), 0};
    uint64_t t0 = prange__ticks();
    prange__launch(region_member, &c, sizeof c, prange__region_size(planned));
    if (R.rarea) prange__scratch_give(&area);
    uint64_t wall = prange__ticks_since_ns(t0);
    prange__share_give(planned);
    record_team(key, &R, planned, wall, o.label);
    return 0;
}

int prange_region_barrier(void)
{
    PRANGE__TLS_SYNC();
    if (prange__region_team()) prange__region_wait();
    return 0;
}
