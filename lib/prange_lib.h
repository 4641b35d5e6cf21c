/*
 * prange_lib.h — internal helpers shared by the execution layer (lib/): range arithmetic,
 * the static split, per-thread scratch, body contexts and reducer calls.
 */
#ifndef PRANGE_LIB_H
#define PRANGE_LIB_H

#include <float.h>
#include <limits.h>
#include <omp.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "../sched/prange_sched.h"
#include "../sched/profile.h"

/* Length of [begin, end), begin <= end: fits uint64_t for every int64_t pair. */
static inline uint64_t prange__len(int64_t begin, int64_t end) { return (uint64_t)end - (uint64_t)begin; }

/* begin + off, modulo 2^64 (gcc and clang define the conversion back as wrapping). */
static inline int64_t prange__at(int64_t begin, uint64_t off) { return (int64_t)((uint64_t)begin + off); }

/*
 * Balanced static split of n iterations over `team` threads: thread t gets
 * [t*q + min(t, r), (t+1)*q + min(t+1, r)) with q = n / team, r = n % team.
 * The first r threads get one more iteration. No product exceeds n, so nothing overflows.
 *
 *   n = 10, team = 4:  q = 2, r = 2  ->  [0,3) [3,6) [6,8) [8,10)
 *   n =  3, team = 4:  q = 0, r = 3  ->  [0,1) [1,2) [2,3) [3,3)
 */
static inline void prange__split(uint64_t n, int team, int t, uint64_t *lo, uint64_t *hi)
{
    uint64_t T = (uint64_t)team, q = n / T, r = n % T, k = (uint64_t)t;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r ? 1 : 0);
}

/* A buffer of this thread's scratch (lib/scratch.c), taken for the length of one
 * operation and given back in stack order: take, run (nested takes and gives), give.
 * Whatever starts on this thread meanwhile (a nested call, a signal handler) gets another
 * buffer. 64-byte aligned, contents undefined. Small ones are kept per level and reused:
 * no allocation per call in steady state. */
typedef struct prange__scratch {
    void *p;
    size_t maplen; /* > 0: mapped for this operation alone */
    int heap;      /* allocated for this operation alone */
    int level;
} prange__scratch;
/* At least `bytes` in s->p; NULL (and nothing to give back) when out of memory. */
void *prange__scratch_take(prange__scratch *s, size_t bytes);
void prange__scratch_give(prange__scratch *s);

/* Run body over [0, n) cut into the static partition of `blocks` blocks (as
 * prange__split), each block whole on one thread, inside a body context of worker k of
 * `blocks`: the same blocks whatever team starts (block k on worker k mod team). For
 * first touch: pages must follow the partition later loops use, not a plan of the
 * moment. Inline inside a body or an OpenMP region. Returns 0 (lib/loop.c). */
int prange__for_partition(uint64_t n, int blocks, prange_body_fn body, void *ctx);

/* The pairwise 16-lane sum of x[0..n) on the calling thread, on the kernels' ISA path
 * (lib/kernels.c); floats are summed in double; integers wrap. */
double prange__sum_serial_f64(const double *x, int64_t n);
double prange__sum_serial_f32(const float *x, int64_t n);
int64_t prange__sum_serial_i64(const int64_t *x, int64_t n);

/* Record that libprange started a team (for fork handling). Written once: a store on every
 * call would bounce its cache line, which shares state the workers read. */
static inline void prange__mark_pool_started(void)
{
    if (!atomic_load_explicit(&prange__pool_started, memory_order_relaxed))
        atomic_store_explicit(&prange__pool_started, 1, memory_order_relaxed);
}

/* Inside a region of prange__region_size(planned) threads: how many of them work. The
 * rest (the pool's extra workers) return at once. The runtime may give fewer threads than
 * asked (OMP_THREAD_LIMIT), never more. */
static inline int prange__team_of(int planned)
{
    int got = omp_get_num_threads();
    return planned < got ? planned : got;
}

/* The runtime gives a region exactly the threads asked unless OMP_DYNAMIC or a thread
 * limit (shared by the user's threads) lets it give fewer. Only then do members ask it:
 * omp_get_num_threads() reads the team's descriptor, which the caller has just written,
 * so on every worker's way to its share it costs a cache-line transfer (a forced 2-thread
 * loop: 1.44 us -> 1.25 us in this machine's slow regime, docs/performance.md). Taken on
 * the caller before the region (the ICVs may change between calls): the code to pass in;
 * members get their team from it with prange__team_in. Both libgomp and LLVM's libomp
 * report INT_MAX without a limit. */
static inline int prange__team_code(int planned)
{
    return !omp_get_dynamic() && omp_get_thread_limit() == INT_MAX ? planned : -planned;
}
static inline int prange__team_in(int code) { return code > 0 ? code : prange__team_of(-code); }

/* Run fn(desc') on a region of `threads` threads (prange__region_size), where desc' holds
 * the `size` bytes of the call's description desc (size <= PRANGE__HANDOUT): the caller's
 * member 0 and the workers read it there. What crosses to a worker's core is the data it
 * reads. A `#pragma omp parallel` hands its firstprivates over in a block the caller has
 * just written in its frame: one to three cache lines fetched from the caller's core on
 * every call, 30-60 ns in this machine's fast regime and 135-280 ns in its slow one. desc'
 * is instead the thread's hand-out (sched/plan.c), rewritten only when the description
 * changed: a call repeating the last one's leaves it in the workers' caches, and a
 * changed one crosses as one aligned pair of lines (docs/performance.md, "Where a forced
 * reduction's time goes"). The runtime's entry point itself is what the pragma calls
 * (libgomp's GOMP_parallel, which LLVM's libomp also provides): same ICVs, nesting and
 * thread limits. A thread without a hand-out (the pool taken), or re-entering while its
 * fork uses it (a signal handler), passes desc in place. Loops, reductions and regions
 * launch through here; the first-touch partition, once per allocation, keeps the pragma. */
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
static inline void prange__launch(void (*fn)(void *), const void *desc, size_t size, int threads)
{
    unsigned char *h = prange__handout;
    if (__builtin_expect(h == NULL, 0)) h = prange__handout_claim();
    if (h == NULL || h == PRANGE__HANDOUT_BUSY) {
        GOMP_parallel(fn, (void *)(uintptr_t)desc, (unsigned)threads, 0);
        return;
    }
    prange__handout = PRANGE__HANDOUT_BUSY;
    if (memcmp(h, desc, size) != 0) memcpy(h, desc, size);
    GOMP_parallel(fn, h, (unsigned)threads, 0);
    prange__handout = h;
}

/* The team a parallel plan runs on, taken from the process-wide budget (sched/share.c)
 * and grown on the calling thread to that size. Other threads' loops may hold part of the
 * budget, and the system may refuse threads: neither is known when planning, so the call
 * runs on what it got (1 = inline), said under PRANGE_VERBOSE=2 as `what` and the
 * caller's opts->label (NULL: none). The result must be given back with
 * prange__share_give once the call has run. */
static inline int prange__team_run(const prange_plan *plan, const char *what, const char *label)
{
    int want = prange__share_take(plan->threads);
    int got = want > 1 ? prange__team_ready(want) : 1;
    if (got < 1) got = 1;
    if (got < want) prange__share_give(want - got);
    prange__profile_team(got);
    if (got < plan->threads) prange__profile_event(PRANGE__EV_BACKOFF);
    if (got < plan->threads && prange__verbose() >= 2)
        prange__log("%s%s%s: planned %d threads, ran on %d: %s", what, label ? " " : "", label ? label : "",
                    plan->threads, got,
                    want < plan->threads ? "other threads' loops hold the budget" : "thread creation refused");
    return got;
}

/* Enter a body context on this thread, returning what to restore with prange__leave.
 * As a team member: worker `tid` of `team`. Inline: keep an enclosing loop's worker
 * index (a nested call runs on its worker), else worker 0 of 1, entered in the caller's
 * frame (always inlined: the frame is the caller's, above its bodies' frames), which
 * prange__tls_sync compares to tell an abandoned context (longjmp) from a nested call. */
static inline prange__tls_t prange__enter_team(int tid, int team)
{
    prange__tls_t saved = prange__tls;
    prange__tls = (prange__tls_t){.depth = saved.depth + 1, .tid = tid, .team = team, .frame = UINTPTR_MAX};
    return saved;
}
__attribute__((always_inline)) static inline prange__tls_t prange__enter_inline(void)
{
    prange__tls_t saved = prange__tls;
    if (saved.depth == 0) { /* field by field: a compound literal compiled to a `rep stos` */
        prange__tls.depth = 1;
        prange__tls.tid = 0;
        prange__tls.team = 1;
        prange__tls.frame = (uintptr_t)__builtin_frame_address(0);
        prange__tls.region = NULL;
        prange__tls.region_team = 0;
        prange__tls.rseq = 0;
    } else {
        prange__tls.depth++;
    }
    return saved;
}
static inline void prange__leave(prange__tls_t saved) { prange__tls = saved; }
/* prange__enter_inline / prange__leave for a thread known to be outside any body and any
 * region's team (depth 0, region_team 0): saves and restores only what it changes (the
 * warm inline prange_for, lib/loop.c, where the whole context's copy was 14 of ~140
 * instructions). */
typedef struct {
    int tid, team;
    uintptr_t frame;
    void *region;
} prange__top_saved;
__attribute__((always_inline)) static inline prange__top_saved prange__enter_inline_top(void)
{
    prange__top_saved saved = {prange__tls.tid, prange__tls.team, prange__tls.frame, prange__tls.region};
    prange__tls.depth = 1;
    prange__tls.tid = 0;
    prange__tls.team = 1;
    prange__tls.frame = (uintptr_t)__builtin_frame_address(0);
    prange__tls.region = NULL;
    return saved;
}
static inline void prange__leave_top(prange__top_saved saved)
{
    prange__tls.depth = 0;
    prange__tls.tid = saved.tid;
    prange__tls.team = saved.team;
    prange__tls.frame = saved.frame;
    prange__tls.region = saved.region;
}

/* ---- regions (lib/region.c) ----------------------------------------------------------
 * Inside a region's function every member makes the same loop calls in the same order.
 * Loop number k of the region is described in slot k % PRANGE__RING: the first member to
 * reach it plans it and publishes the plan and the loop's descriptor there, the others
 * read them; the last member to leave frees the slot for loop k + PRANGE__RING. A
 * member past a nowait loop may thus run up to PRANGE__RING loops ahead of the slowest,
 * then waits for the slot. A static loop whose inputs the members agreed on in such a
 * slot earlier in the call skips it: every member plans it alone, from its copy of those
 * inputs (prange__region_kept), and finds the same plan. */
#define PRANGE__RING 4
#define PRANGE__RDESC 512 /* bytes for a loop's descriptor (loop.c, reduce.c) */
typedef struct prange__rslot {
    _Alignas(64) _Atomic(uint64_t) state; /* (loop number << 2) | FREE, PLANNING or READY */
    atomic_int left;   /* members that have not left the loop yet */
    int threads;       /* members 0 .. threads-1 run shares; 1: `runner` runs it all; 0: none */
    int runner;        /* the member that planned it */
    int rc;            /* an error every member returns (0: none) */
    const void *key;   /* learned-cost identity, for the last member's record */
    prange__learned learned; /* what the plan rested on: every member keeps a copy */
    _Alignas(64) unsigned char desc[PRANGE__RDESC];
} prange__rslot;
/* The calling member's next loop (prange__region_team() > 0): its slot, once free for
 * it; *planner = 1 when this member must fill it and prange__region_publish it. */
prange__rslot *prange__region_enter(int *planner);
void prange__region_publish(prange__rslot *s);
/* Wait until every member of the calling thread's region has arrived. */
void prange__region_wait(void);
/* The member is done with the slot's loop. Returns 1 for the last one, who then records
 * what the slot asks and calls prange__region_free. */
int prange__region_leave(prange__rslot *s);
void prange__region_free(prange__rslot *s);
/* A member's kept inputs for a loop of `key` over n iterations (prange__region_team() >
 * 0): the cost the members agreed on in an earlier slot for that key and n's size class
 * (`hinted`: for calls with a cost hint), or NULL when it has none, or when the entry has
 * served PRANGE__KEPT_USES loops (the slot then refreshes it). Every member makes the
 * same calls in the same order, so every member's entries are the same, as are their
 * answers: the loop is planned by each alone, with prange__plan_region and
 * prange__region_fork_ns, and nobody waits for a planner. */
#define PRANGE__KEPT_USES 16
const prange__learned *prange__region_kept(const void *key, uint64_t n, int hinted);
/* Every member, after a slot's loop of `key` was planned from `learned`: keep it (a
 * learned cost only once warm, as it then changes slowly). */
void prange__region_keep(const void *key, uint64_t n, int hinted, const prange__learned *learned);
/* What sharing a loop costs the calling member's team, as fixed for the region's call. */
double prange__region_fork_ns(void);
/* Whether every member of the calling member's team passed the same barrier last (no
 * nowait loop since: prange__region_went_on marks one). The same answer on every member.
 * A serial plan from kept inputs runs on member 0 only then: after a nowait loop member
 * 0 may still be in it, waiting for what this loop does (tests/test_region.c,
 * nowait_lets_a_member_run_ahead), and the first member to arrive must run it, as a
 * slot does. */
int prange__region_in_step(void);
void prange__region_went_on(void);
/* The barrier, where the last member to arrive calls last(arg) before releasing the
 * others (it sees everything they wrote before arriving; they see what it wrote). */
void prange__region_wait_then(void (*last)(void *), void *arg);
/* The calling member's region's area for reductions planned from kept inputs, of
 * prange__region_reduce_bytes(team) bytes (NULL when the caller's scratch had none). */
unsigned char *prange__region_area(void);
size_t prange__region_reduce_bytes(int team);
/* PRANGE__SAID bytes in the line the calling member's team waits on at the barrier: the
 * last member to arrive writes there, in prange__region_wait_then's `last`, what every
 * member reads after the release (one line fetched instead of two). Valid until the next
 * barrier's `last`, which runs only after every member arrived there. *pair is set when
 * that line also holds the barrier's counter (a team of 2): then bytes a member writes
 * there just before arriving reach the last member with the arrival; the caller keeps
 * them apart from what `last` writes. */
#define PRANGE__SAID 48
unsigned char *prange__region_said(int *pair);
/* The calling member's count of reductions planned from kept inputs so far in this call
 * (then one more): the same on every member, so which half of the area a reduction uses. */
unsigned prange__region_reduction_seq(void);
/* Inside a region (prange__region_team() > 0): call(arg) once, on the first member to
 * reach this call, as a serial loop of the region (the others wait at its barrier), for
 * operations whose steps must all see one member's data (scans). Returns call's result
 * on the member that ran it, 0 on the others (lib/loop.c). */
int prange__region_once(int (*call)(void *), void *arg);
/* An inline region (prange__tls.region set, no team) notes that one of its loops ran
 * on a team: the region is worth a team next time. */
void prange__region_note_parallel(void);
/* The planner of a loop inside a region's team: add what its plan gains or costs to the
 * region's account (lib/region.c, "team or inline"); `barrier`: the members wait for it;
 * `learn`, `learned`: as prange__plan_call returned them (whether the plan rests on the
 * default cost, and what the loop takes alone by its learned cost). */
void prange__region_account(const prange_plan *plan, int barrier, int learn, const prange__learned *learned);
/* A loop of an inline region call (lib/region.c): `work_ns` by the model, `guessed` and
 * `barrier` as above. Does nothing outside an inline region's function. */
void prange__region_account_inline(double work_ns, int guessed, int barrier);

/* prange_reduce with prange_reducer_sum_f64, for the typed kernels (lib/kernels.c): where
 * the call runs inline over every block, whole(ctx, begin, n, B) returns the result in
 * one call (what body, block by block along the canonical tree, gives: the same bits);
 * elsewhere (a team, a first slice) body runs by blocks as in prange_reduce. */
typedef double (*prange__whole_fn)(void *ctx, int64_t begin, uint64_t n, uint64_t B);
int prange__reduce_sum(int64_t begin, int64_t end, prange_reduce_fn body, prange__whole_fn whole, void *ctx,
                       double *result, const prange_opts *opts);

/* A reducer's identity / combine, with its user data and accumulator size. The built-in
 * double sum's (prange_reducer_sum_f64: the typed kernels' and most users') run here,
 * inline, the same `a + b` in the same operand order, so the same bits: a reduction of
 * 2048-element blocks called them twice a block through pointers (prange_dot_f64 at 64K
 * elements: 4% of its instructions, 3-4% behind an 8-accumulator OpenMP loop). */
void prange__sum_f64_id(void *rctx, void *acc, size_t size);
void prange__sum_f64_cb(void *rctx, void *acc, const void *rhs, size_t size);
static inline void prange__r_identity(const prange_reducer *r, void *acc)
{
    if (r->identity == prange__sum_f64_id) {
        const double zero = 0.0;
        memcpy(acc, &zero, sizeof zero);
        return;
    }
    r->identity(r->rctx, acc, r->acc_size);
}
static inline void prange__r_combine(const prange_reducer *r, void *acc, const void *rhs)
{
    if (r->combine == prange__sum_f64_cb) {
        double a, b;
        memcpy(&a, acc, sizeof a);
        memcpy(&b, rhs, sizeof b);
        a = a + b;
        memcpy(acc, &a, sizeof a);
        return;
    }
    r->combine(r->rctx, acc, rhs, r->acc_size);
}
/* Read and validate the caller's reducer into `out`: 0, PRANGE_EINVAL (NULL, a bad
 * struct_size, no identity or combine, acc_size 0) or PRANGE_ERANGE (acc_size above
 * max_size: an accumulator the library will not allocate per block). */
int prange__reducer_load(const prange_reducer *r, size_t max_size, prange_reducer *out);

/* A per-iteration cost scaled to a per-block (or per-tile) one, saturated at DBL_MAX: a
 * valid finite cost_ns stays valid (1e305 ns x 4096 would be inf, which opts reject). */
static inline double prange__cost_times(double cost_ns, double factor)
{
    double c = cost_ns * factor;
    return c < DBL_MAX ? c : DBL_MAX;
}

/* Define the public kernel `name` (returning T, parameters `params`, the last `opts`) as
 * `call` run as one profiled call: its site is the label, else the kernel's name and its
 * caller (the return address, taken in the public function itself); the loops and
 * reductions it runs are parts of it (sched/profile.h). */
#define PRANGE__KERNEL_ENTRY(T, name, params, call)                                          \
    T name params                                                                             \
    {                                                                                         \
        prange__prof_call pc_;                                                                \
        int prof_ = prange__profile_begin_opts(&pc_, opts, #name, __builtin_return_address(0), \
                                               PRANGE__SITE_KERNEL);                          \
        T r_ = call;                                                                          \
        if (prof_) prange__profile_end(&pc_, 0, 0);                                           \
        return r_;                                                                            \
    }

/* A polite spin-wait hint. */
static inline void prange__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* Step `spins` of a short wait among a team's members: spin ~100 us (4096 pauses), then
 * let other threads run. Not sooner: a member that yields next to a busy process loses its
 * core for a time slice (lib/region.c, the barrier's wait_gen). */
static inline void prange__wait_step(unsigned spins)
{
    if (spins < 4096) prange__cpu_relax();
    else sched_yield();
}

/* PRANGE_BIND pins the workers of a region, never its thread 0: that is the caller (main
 * or a user thread), whose CPU mask is the program's, and which threads it creates later
 * inherit. */
static inline void prange__bind_worker_if_asked(int tid)
{
    if (tid > 0 && prange__state_get()->opt[PRANGE__OPT_BIND].value != 0) prange__bind_worker(tid);
}

/* Whether a first call's timed slice of `ns` CPU ns is long enough to decide on (loops,
 * lib/loop.c; reductions, lib/reduce.c): 5 us, and a quarter of the fork-join figure. */
static inline int prange__slice_decides(uint64_t ns, const prange_plan *plan)
{
    return (double)ns >= 5000 && (double)ns >= plan->fork_ns / 4;
}

#endif
