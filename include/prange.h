/*
 * prange.h — libprange: Numba-style parallel loops, deterministic reductions and
 * NUMA-aware arrays for numeric C code.
 *
 * This is the only public header. Every symbol is documented where it is declared.
 *
 * Conventions (stated once, followed everywhere)
 * ----------------------------------------------
 * - Errors: functions returning `int` return 0 on success or a negative error code
 *   PRANGE_E* (see PRANGE_ERRNO_MAP); prange_strerror() names it. Nothing is run and
 *   nothing is written when argument validation fails. A status is never mixed with a
 *   result: results go through out-parameters (prange_for_until's prange_stop).
 * - Pointer-returning functions return NULL and set errno.
 * - Kernels returning a double return NaN and set errno = EINVAL on bad input.
 * - Argument order: inputs, then outputs, then the sizes they share and modes, then the
 *   options last: prange_scan_f64(in, out, n, exclusive, opts), prange_row_sums_f64(a,
 *   out, rows, cols, opts), a PRANGE_MAP2 map (a, b, s, out, n, opts), prange_dot_f64(x,
 *   y, n, opts). A loop is (range, body, ctx, [result,] opts). A buffer with its own
 *   capacity is passed as a (pointer, size) pair.
 * - Extensible structs: prange_opts, prange_reducer and prange_mem_opts start with
 *   `uint32_t struct_size`, set by their initialisers PRANGE_OPTS_INIT,
 *   PRANGE_REDUCER_INIT and PRANGE_MEM_OPTS_INIT to the sizeof the caller was compiled
 *   with. The library reads only struct_size bytes: fields an older (smaller) caller lacks
 *   read as 0 (automatic); a newer (larger) caller's extra bytes must all be 0, else the
 *   call fails with PRANGE_EINVAL (an option this library cannot honour is not silently
 *   dropped). struct_size 0 (a `{0}` initialiser), too small to hold the first field
 *   after it, or above 4096 is PRANGE_EINVAL. A NULL pointer where options are expected
 *   means all automatic. New fields are only ever appended.
 * - Determinism: reductions, the kernels, scans and early stop give bitwise the same
 *   result for every thread count, schedule and run (the work is cut by the range, the
 *   grain and the element size, never by the team; partial results are combined in one
 *   fixed order). Only prange_for's side effects happen in an unspecified order.
 * - Ranges are half-open [begin, end) of int64_t. Any pair with begin <= end is valid,
 *   including INT64_MIN .. INT64_MAX; no arithmetic in the library overflows.
 * - Thread safety: every function may be called concurrently from any number of user
 *   threads unless its documentation says otherwise. A call made from inside a loop body
 *   runs serially on the calling worker, at any nesting depth.
 * - Bodies (loop bodies, reduction and scan bodies, reducer callbacks) must return
 *   normally. Leaving one by longjmp is tolerated only on the calling thread of a loop
 *   that ran inline (a serial plan, e.g. PRANGE_SERIAL): the thread's state is restored
 *   by its next prange_for*, prange_reduce, prange_plan_for*, prange_threads_for,
 *   prange_thread_id or prange_num_threads call made from the function that started the
 *   abandoned call or one of its callers (where the setjmp is); until then other calls
 *   run as if nested (serially). The abandoned call's output is undefined. Leaving a body
 *   that runs on a team (any worker, the calling thread included) by longjmp is
 *   undefined, as it is for OpenMP regions. C++ exceptions must not leave a body (on a
 *   worker the OpenMP runtime terminates the process): prange.hpp's lambdas catch them
 *   and rethrow on the caller (docs/cpp.md). A body must call libprange on
 *   the stack it was called on: a call from a signal handler on an alternate stack, or
 *   from a coroutine on a stack of its own, may count as made outside the body.
 * - Signals: no function is async-signal-safe (as malloc or printf): do not call libprange
 *   from a signal handler. One that does anyway never gets a wrong result, nor gives one
 *   to the call it interrupted (each reduction or scan takes its own per-thread scratch,
 *   whoever starts it); but it may deadlock if it lands during the library's first-call
 *   initialisation or inside the allocator or the OpenMP runtime.
 * - Environment variables (PRANGE_*, OMP_NUM_THREADS) are read once, at the first call;
 *   see docs/environment.md or run `prange-info`.
 * - Precedence for every setting, highest first: per-call prange_opts > prange_set_*()
 *   > environment > topology default.
 * - Loading: the shared library stays resident once loaded. dlclose() succeeds but does
 *   not unmap it (it is linked with -z nodelete: its threads and thread-exit destructors
 *   outlive any call), so a plugin host may dlopen/dlclose it repeatedly, from any thread;
 *   state (options, measured costs) persists across reopenings. See docs/design.md.
 */
#ifndef PRANGE_H
#define PRANGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prange_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PRANGE_BUILDING) && defined(__GNUC__)
#define PRANGE_API __attribute__((visibility("default")))
#else
#define PRANGE_API
#endif

/* ======================================================================================
 * Version
 * ==================================================================================== */

/* PRANGE_VERSION_MAJOR, _MINOR, _PATCH and PRANGE_VERSION (major * 10000 + minor * 100 +
 * patch) come from prange_version.h, generated from meson.build (the one version source)
 * and installed next to this header. They name the header a program was compiled with. */

/**
 * prange_version - the version of the library actually linked, as PRANGE_VERSION encodes
 * it (major * 10000 + minor * 100 + patch). Compare with PRANGE_VERSION to detect a
 * program running against another library than the header it was built with.
 *
 * Returns: the number, > 0. Thread-safe.
 */
PRANGE_API int prange_version(void);

/**
 * prange_version_string - the version of the library actually linked, "MAJOR.MINOR.PATCH".
 *
 * Returns: a static string; never NULL. Thread-safe.
 */
PRANGE_API const char *prange_version_string(void);

/* ======================================================================================
 * Errors
 * ==================================================================================== */

/*
 * Every error code with its name and message, in one list (libuv style). The values are
 * the negated Linux errno values, so a code can also be passed to strerror(-code).
 * Each is returned somewhere: EINVAL (bad arguments, everywhere), ENOMEM (scratch),
 * ERANGE (a reducer larger than prange_reduce / prange_scan accept), ENOSYS and EIO
 * (system queries); EOVERFLOW and ENOMEM are also the errno of prange_alloc.
 */
#define PRANGE_ERRNO_MAP(XX)                                                      \
    XX(EINVAL, -22, "invalid argument")                                           \
    XX(ENOMEM, -12, "out of memory")                                              \
    XX(ERANGE, -34, "value out of range")                                         \
    XX(EOVERFLOW, -75, "size arithmetic overflows")                               \
    XX(ENOSYS, -38, "not supported on this system")                               \
    XX(EIO, -5, "input/output error or failed system call")

/** Error codes. All are negative; 0 is success. */
typedef enum prange_errno {
#define PRANGE__ERR_ENUM(name, value, msg) PRANGE_##name = (value),
    PRANGE_ERRNO_MAP(PRANGE__ERR_ENUM)
#undef PRANGE__ERR_ENUM
} prange_errno;

/**
 * prange_strerror - a message for an error code.
 * @err: 0 or a PRANGE_E* code (any int is accepted).
 *
 * Returns: a static string: "success" for 0, the code's message for a known code,
 * "unknown error" otherwise. Never NULL. Thread-safe.
 */
PRANGE_API const char *prange_strerror(int err);

/**
 * prange_err_name - the symbolic name of an error code, e.g. "PRANGE_EINVAL".
 * @err: 0 or a PRANGE_E* code.
 *
 * Returns: a static string ("0" for success, "PRANGE_EUNKNOWN" otherwise). Thread-safe.
 */
PRANGE_API const char *prange_err_name(int err);

/* ======================================================================================
 * Loops
 * ==================================================================================== */

/** Loop schedules. AUTO lets the scheduler choose (currently STATIC). */
typedef enum prange_schedule {
    PRANGE_SCHEDULE_AUTO = 0,
    /** One contiguous, balanced block per thread: thread t of T runs
     *  [t*q + min(t, r), (t+1)*q + min(t+1, r)) with q = n / T, r = n % T. */
    PRANGE_SCHEDULE_STATIC = 1,
    /** Chunks of `chunk` iterations handed out in order from a shared counter. */
    PRANGE_SCHEDULE_DYNAMIC = 2,
    /** Like DYNAMIC, each chunk max(chunk, remaining / (2 * threads)). */
    PRANGE_SCHEDULE_GUIDED = 3
} prange_schedule;

/** Flag for prange_opts.flags: run the loop inline on the calling thread. */
#define PRANGE_SERIAL (1u << 0)
/** Flag for prange_opts.flags: inside a region (prange_region), no barrier after this
 *  loop: a member that is done with its share goes on to the next call at once. Ignored
 *  outside a region, and by prange_reduce and prange_for_until (their outcome needs every
 *  member). */
#define PRANGE_NOWAIT (1u << 1)
/** All flags defined by this version; any other bit is PRANGE_EINVAL. */
#define PRANGE_FLAGS_ALL (PRANGE_SERIAL | PRANGE_NOWAIT)

/** The largest team libprange will run (prange_set_num_threads, PRANGE_NUM_THREADS). */
#define PRANGE_MAX_THREADS 1024

/**
 * Per-call options, an extensible struct (see the conventions above). Initialise with
 * PRANGE_OPTS_INIT and set the fields you need:
 *
 *     prange_opts o = PRANGE_OPTS_INIT;
 *     o.threads = 4;
 *     o.label = "heat: stencil";
 *
 * Every zero field means "automatic", and a NULL pointer where a prange_opts is expected
 * means all automatic. `{0}` is rejected (struct_size 0: PRANGE_EINVAL).
 * Every valid value works in every function that takes options, the extremes included
 * (grain = INT64_MAX, cost_ns = DBL_MAX): costs the library derives from cost_ns (per
 * block, per tile, n * cost_ns) saturate at DBL_MAX instead of overflowing.
 */
typedef struct prange_opts {
    uint32_t struct_size; /**< sizeof(prange_opts) as compiled by the caller: PRANGE_OPTS_INIT */
    unsigned flags;       /**< PRANGE_SERIAL, PRANGE_NOWAIT */
    int64_t grain;        /**< minimum iterations per chunk; 0 = PRANGE_GRAIN (default 1) */
    int threads;          /**< upper bound on the team size; 0 = the process budget */
    prange_schedule schedule; /**< 0 = AUTO: PRANGE_SCHEDULE, else STATIC */
    double cost_ns;       /**< estimated ns per iteration; 0 = learned from earlier calls */
    const char *label;    /**< NULL or a string naming the call site, for diagnostics and
                               profiles (PRANGE_VERBOSE=2 loop lines, PRANGE_PROFILE sites:
                               calls with one label form one site); read during the call, the
                               profile keeps a copy of its first 63 bytes */
    const void *key;      /**< NULL or the identity under which the learned cost model keeps
                               this loop's cost (default: the body pointer); for trampolines
                               and FFI shims whose one body pointer runs many loops */
} prange_opts;

/** Initialiser for prange_opts: struct_size set, everything else automatic. */
#define PRANGE_OPTS_INIT {sizeof(prange_opts), 0, 0, 0, PRANGE_SCHEDULE_AUTO, 0.0, NULL, NULL}

/**
 * prange_body_fn - a chunk body: runs iterations [begin, end) of the loop.
 * Called concurrently from several threads with disjoint ranges; begin < end always.
 */
typedef void (*prange_body_fn)(void *ctx, int64_t begin, int64_t end);

/**
 * prange_until_fn - a chunk body that may stop the loop: return 0 to go on, anything
 * else to stop (see prange_for_until).
 */
typedef int (*prange_until_fn)(void *ctx, int64_t begin, int64_t end);

/** The outcome of prange_for_until. */
typedef struct prange_stop {
    int value;     /**< the non-zero value the lowest stopping chunk returned; 0 = none stopped */
    int64_t index; /**< the begin index of that chunk; `end` when none stopped */
} prange_stop;

/**
 * prange_for - run body over [begin, end) in parallel with the automatic plan.
 * Same as prange_for_opts(begin, end, body, ctx, NULL).
 */
PRANGE_API int prange_for(int64_t begin, int64_t end, prange_body_fn body, void *ctx);

/**
 * prange_for_opts - run body over [begin, end) with per-call options.
 * @begin, @end: the half-open range; begin == end is a successful no-op.
 * @body: called with disjoint sub-ranges whose union is [begin, end), each exactly once.
 * @ctx:  passed to body unchanged.
 * @opts: NULL or options; see prange_opts.
 *
 * Whether the loop runs in parallel, on how many threads and in which chunks is exactly
 * what prange_plan_for() reports. The loop runs inline on the caller when the plan says
 * serial: a call from inside a body, from inside a user's OpenMP parallel region, in a
 * child forked from a process that had other threads (docs/scheduling.md), under
 * PRANGE_SERIAL, or when threads would not pay.
 *
 * Returns: 0; PRANGE_EINVAL (and runs nothing) for begin > end, body == NULL, a negative
 * grain or threads, threads > PRANGE_MAX_THREADS, an unknown schedule or flag, or a
 * negative or non-finite cost_ns. Thread-safe.
 */
PRANGE_API int prange_for_opts(int64_t begin, int64_t end, prange_body_fn body, void *ctx,
                               const prange_opts *opts);

/**
 * prange_for_until - a parallel find-first: like prange_for_opts, with a deterministic
 * early stop.
 * @body: called on chunks; returns 0 to continue, any other value to stop.
 * @stop: NULL, or receives the outcome (untouched on error).
 *
 * The range is cut into chunks that depend only on the range and the grain, never on the
 * team: chunk = max(grain, ceil((end - begin) / 1024)) iterations (grain = opts->grain, or
 * PRANGE_GRAIN when 0), so there are at most 1024. Each chunk is one body call. The result
 * is the lowest-index chunk that returned non-zero: chunks above a known stop are skipped
 * (not started), chunks below it still run, so the outcome is the same value and index
 * for every thread count, schedule and run, and the same a serial loop that stops at its
 * first non-zero chunk gives. Chunks at or below the result always run; which chunks
 * above it ran depends on timing. With none stopped: {0, end}.
 *
 * Returns: 0 (the outcome is in *stop); PRANGE_EINVAL (nothing run) for bad arguments as
 * prange_for_opts. Never the body's value. Thread-safe.
 */
PRANGE_API int prange_for_until(int64_t begin, int64_t end, prange_until_fn body, void *ctx,
                                const prange_opts *opts, prange_stop *stop);

/* ======================================================================================
 * Regions: one team for a sequence of loops (docs/regions.md)
 * ==================================================================================== */

/** prange_region_fn - a region's function: runs on every member of the region's team. */
typedef void (*prange_region_fn)(void *ctx);

/**
 * prange_region - run fn(ctx) on every member of one team (SPMD), sharing out the loops
 * it calls among the members: what `omp for` inside one `omp parallel` gives, without a
 * fork-join per loop.
 * @fn:   called once on each member; every member must make the same prange_for,
 *        prange_for_opts, prange_for_until, prange_for_2d and prange_reduce calls, with
 *        the same arguments, in the same order (as with orphaned `omp for`).
 * @ctx:  passed to fn unchanged.
 * @opts: NULL or options: threads caps the team, PRANGE_SERIAL runs fn inline, label
 *        names it in PRANGE_VERBOSE=2 lines, key is the identity under which whether it
 *        pays is learned (default fn); the other fields are ignored.
 *
 * Each loop call inside fn is planned with the region's team as the budget and no
 * fork-join in the cost (the members are awake): once, by the first member to reach it,
 * or, for a static loop whose key and size class were planned earlier in the call, by
 * every member alone from the same inputs (the same plan on each: docs/regions.md). A
 * loop too small to share runs whole on one member (the planner, or member 0) while the
 * others go on to the barrier. A member's ctx may be its own copy as long as the contents
 * agree. Every loop ends with a barrier (all its iterations are done and visible when
 * any member returns from the call) unless its opts carry PRANGE_NOWAIT; fn's end is a
 * barrier too. prange_reduce inside a region writes the same result, bit for bit, as
 * outside (its blocks never depend on the team) into every member's `result`, which
 * should be each member's own variable. prange_thread_id() and prange_num_threads() in fn
 * give the member's index and the team size. The kernels built on these calls (sums,
 * dot, norms, min/max-loc, row kernels) are shared the same way, each member getting the
 * result; a scan runs whole on the first member to reach it (the others wait at its
 * barrier; an error is returned by that member only). Allocation runs on each member.
 *
 * A region none of whose loops was shared runs inline the next time (fn called once on
 * the calling thread, each loop planned as an ordinary call, a fork-join each where one
 * pays, with its own opts: the region's threads cap applies to its team only); a loop
 * going parallel there brings the team back for the next call. A region called from a
 * body, from a region's fn or from inside an OpenMP parallel region, with threads = 1,
 * or under PRANGE_SERIAL, runs fn once, inline, with every loop in it serial.
 *
 * Returns: 0; PRANGE_EINVAL (nothing run) for fn == NULL or invalid opts (as
 * prange_for_opts). Loop calls inside fn return what they return outside; bad arguments
 * make every member's call return PRANGE_EINVAL without running or waiting. Thread-safe:
 * regions of different threads share the budget like loops (docs/scheduling.md).
 */
PRANGE_API int prange_region(prange_region_fn fn, void *ctx, const prange_opts *opts);

/**
 * prange_region_barrier - inside a region's fn: wait until every member has arrived
 * (after PRANGE_NOWAIT loops, before reading what they wrote). Anywhere else (outside a
 * region, inside a loop body, in an inline region) it returns at once.
 * Returns: 0.
 */
PRANGE_API int prange_region_barrier(void);

/**
 * prange_thread_id - the calling worker's index inside a body, 0 .. team-1; inside a
 * region's fn, the member's index.
 * Returns 0 outside a body and in a serial loop. Inside a nested (serial) call it keeps
 * the outer worker's index, so per-thread scratch indexed by it stays exclusive.
 *
 * Per-worker scratch (a private histogram before a merge, NPB EP's threadprivate array)
 * needs no extra function: allocate prange_num_threads() blocks before the loop (the
 * budget, which bounds every team that loop can get, as long as no other thread lowers
 * it with prange_set_num_threads meanwhile) and let each body use block
 * prange_thread_id(); merge after the call. Two bodies with the same thread id never run
 * at the same time. For results that must not depend on the team, use prange_reduce
 * instead: which iterations a worker sees depends on the team. See docs/kernels.md.
 */
PRANGE_API int prange_thread_id(void);

/**
 * prange_num_threads - inside a body, the size of the running team (1 when serial); inside
 * a region's fn, the region's team (1 inline); outside, the default maximum team size: the thread budget (see docs/scheduling.md).
 */
PRANGE_API int prange_num_threads(void);

/**
 * prange_set_num_threads - set the process-wide maximum team size.
 * @n: 1 .. PRANGE_MAX_THREADS, or 0 to restore the default (environment, then topology).
 *
 * The budget is still capped by the CPUs this process may use and its cgroup CPU quota
 * unless n is larger, in which case n is used (oversubscription on request). A calling
 * thread whose OpenMP team grew larger than n (an earlier loop, a first touch) runs its
 * next loops in teams of n: the OpenMP runtime ends the extra workers once, and starts
 * them again if the budget grows back.
 * Returns: 0, or PRANGE_EINVAL for n < 0 or n > PRANGE_MAX_THREADS (nothing changes).
 * Thread-safe; loops already running are not affected.
 */
PRANGE_API int prange_set_num_threads(int n);

/* ======================================================================================
 * Plans: what a loop will do, without running it
 * ==================================================================================== */

/** The scheduler's decision for one loop. */
typedef struct prange_plan {
    int threads;              /**< team size; 1 when serial */
    int serial;               /**< 1 when the loop runs inline on the caller */
    int64_t chunk;            /**< STATIC: largest block; DYNAMIC/GUIDED: (minimum) chunk;
                                   saturated to INT64_MAX like n */
    prange_schedule schedule; /**< resolved schedule, never AUTO */
    const char *reason;       /**< static string: why this plan (e.g. "work below fork-join cost") */
    int64_t n;                /**< iterations planned for (saturated to INT64_MAX) */
    int budget;               /**< the thread budget the plan started from */
    double cost_ns;           /**< ns per iteration used by the model */
    double work_ns;           /**< estimated serial time, n * cost_ns */
    double fork_ns;           /**< measured fork-join cost of the team */
} prange_plan;

/**
 * prange_plan_for - the plan prange_for_opts() would use for n iterations.
 * @n:    iterations, >= 0.
 * @opts: NULL or the options the loop would get.
 * @out:  filled on success; untouched on error.
 *
 * With opts->cost_ns == 0 the model uses the default cost (0.5 ns per iteration); a loop
 * whose body already ran may use a learned cost instead, which prange_plan_for_body()
 * includes. Like the loop, a parallel plan may first start the calling thread's OpenMP
 * workers, or find that the system refuses them (reason "thread creation refused" or
 * "threads limited by thread creation"; see docs/scheduling.md, "Teams").
 * Returns: 0 or PRANGE_EINVAL (n < 0, out NULL, bad opts). Thread-safe.
 */
PRANGE_API int prange_plan_for(int64_t n, const prange_opts *opts, prange_plan *out);

/**
 * prange_plan_for_body - like prange_plan_for, including what was learned about body's
 * cost per iteration at sizes like n (under opts->key instead when it is set, as the loop
 * does). body may be NULL (same as prange_plan_for).
 */
PRANGE_API int prange_plan_for_body(int64_t n, prange_body_fn body, const prange_opts *opts,
                                    prange_plan *out);

/**
 * prange_plan_format - write a plan as one line of text, e.g.
 * "n=100000000 threads=2 schedule=static chunk=50000000 cost=0.50ns work=50.0ms
 *  fork=1.2us reason=parallel".
 * @buf, @size: destination; always NUL-terminated when size > 0.
 * Returns: the length the full line needs (as snprintf), or PRANGE_EINVAL.
 */
PRANGE_API int prange_plan_format(const prange_plan *plan, char *buf, size_t size);

/**
 * prange_threads_for - the team size the scheduler would use for n iterations of cost_ns
 * each, for existing OpenMP code:
 *     int t = prange_threads_for(n, 2.0);
 *     #pragma omp parallel for num_threads(t) if(t > 1)
 * Returns: >= 1 (1 means run serially); 1 for n <= 0 or a bad cost. Thread-safe.
 */
PRANGE_API int prange_threads_for(int64_t n, double cost_ns);

/** prange_schedule_name - "auto", "static", "dynamic", "guided", or "?" */
PRANGE_API const char *prange_schedule_name(prange_schedule s);

/* ======================================================================================
 * Reductions
 * ==================================================================================== */

/**
 * A reducer: an accumulator type of `acc_size` bytes with an identity and an associative
 * combine. Deterministic: the bits of a prange_reduce result depend only on the range,
 * what body reads, the reducer (acc_size, identity, combine and what they read through
 * rctx), the grain the caller chose (opts->grain, or PRANGE_GRAIN when set in the
 * environment) and, without a grain, opts->cost_ns: never on the thread count, the
 * schedule, threads, flags, anything the scheduler learned, or the run (see
 * docs/reductions.md).
 * combine need not be commutative: the left operand always covers lower indices.
 * An extensible struct: initialise with PRANGE_REDUCER_INIT, then set the fields.
 *
 * identity and combine receive `rctx` (user data: an array length, a modulus, a table) and
 * acc_size, so one pair of functions serves a family of reducers (see the array reducers).
 * They are called concurrently from several threads on distinct accumulators.
 */
typedef struct prange_reducer {
    uint32_t struct_size; /**< sizeof(prange_reducer) as compiled: PRANGE_REDUCER_INIT */
    size_t acc_size;      /**< bytes of one accumulator */
    /** Write the identity element into acc. */
    void (*identity)(void *rctx, void *acc, size_t acc_size);
    /** acc = acc (+) rhs, where acc covers the lower indices. */
    void (*combine)(void *rctx, void *acc, const void *rhs, size_t acc_size);
    void *rctx;           /**< passed to identity and combine unchanged */
} prange_reducer;

/** Initialiser for prange_reducer: struct_size set, everything else empty. */
#define PRANGE_REDUCER_INIT {sizeof(prange_reducer), 0, NULL, NULL, NULL}

/** Folds iterations [begin, end) into acc (which holds a partial result). */
typedef void (*prange_reduce_fn)(void *ctx, int64_t begin, int64_t end, void *acc);

/**
 * prange_reduce - deterministic parallel reduction over [begin, end).
 * @r:      the reducer; r->acc_size in 1 .. 2^30 (see Memory below). Read at the call only
 *          (may be a temporary).
 * @body:   folds a block of iterations into the accumulator it is given.
 * @ctx:    passed to body.
 * @result: receives the result (r->acc_size bytes); the identity for an empty range.
 *          Must not overlap ctx data that body reads.
 * @opts:   NULL or options. grain, when given (or PRANGE_GRAIN set), is the block size;
 *          else cost_ns, when given, makes blocks of about 20 us of declared work (at most
 *          2048 iterations: few expensive iterations, e.g. 256 of 1 ms, become 256 blocks
 *          that every core shares; at least 16 ns of declared work per accumulator
 *          byte; at most 4096 blocks); else blocks of 2048 iterations (for large
 *          accumulators 32 per accumulator byte, down to 4 per byte while that leaves
 *          fewer than 64 blocks). At most 2^16 blocks: larger ranges get larger blocks.
 *
 * The range is cut into blocks whose boundaries depend only on the range, the grain or
 * cost_ns above and r->acc_size; each block is folded from the identity and block results are
 * combined along one canonical tree, so the result does not depend on the thread count or
 * schedule.
 * Memory: a thread folding m blocks holds up to 2 floor(log2 m) + 1 accumulators, and the
 * merge floor(log2 nb) + 2 more (nb blocks, at most 2^16); the calling thread also holds
 * each team member's posted pieces (at most 1 KiB a member) or mailbox. A thread keeps up to 1 MiB of
 * them per nesting level for the next call; a bigger buffer is mapped for the call and
 * unmapped when it returns (pages are resident only where identity, combine, body and
 * the result copies write). So a 2^30-byte accumulator needs a few GiB of address space
 * for the call, and as much memory as its accumulators touch. Nesting has no depth limit.
 * Returns: 0; PRANGE_EINVAL (nothing run or written) for NULL r/body/result, a bad
 * struct_size, a reducer without identity or combine, acc_size 0, begin > end, or bad
 * opts; PRANGE_ERANGE (nothing run or written) for acc_size > 2^30;
 * PRANGE_ENOMEM when scratch could not be allocated (a kept buffer's first use, a buffer
 * above 1 MiB, or a call nested more than 16 scratch users deep). Thread-safe.
 */
PRANGE_API int prange_reduce(int64_t begin, int64_t end, const prange_reducer *r,
                             prange_reduce_fn body, void *ctx, void *result,
                             const prange_opts *opts);

/** A value with its index, for min/max with index. */
typedef struct prange_loc_f64 {
    double value;
    int64_t index;
} prange_loc_f64;

/** A value with its index (integers). */
typedef struct prange_loc_i64 {
    int64_t value;
    int64_t index;
} prange_loc_i64;

/** A value with its index (single precision). */
typedef struct prange_loc_f32 {
    float value;
    int64_t index;
} prange_loc_f32;

/*
 * Built-in reducers: each function returns a pointer to a constant reducer owned by the
 * library (never NULL, valid for the life of the process; functions rather than exported
 * objects, so no copy is relocated into the executable). Accumulator types:
 *   sum/prod/min/max _f64: double; _f32: float; _i64: int64_t (wrapping arithmetic)
 *   minloc/maxloc _f64: prange_loc_f64; _f32: prange_loc_f32; _i64: prange_loc_i64
 *   and/or/xor _u64: uint64_t; land/lor: int (0 or 1)
 * min/max _f64/_f32 propagate NaN (any NaN makes the result NaN). minloc/maxloc: ties go
 * to the lowest index; a NaN counts as the extreme value, so the first NaN wins (as
 * NumPy's argmin/argmax); the identity has index INT64_MAX and value +inf (minloc) / -inf.
 * Thread-safe.
 */
PRANGE_API const prange_reducer *prange_reducer_sum_f64(void);
PRANGE_API const prange_reducer *prange_reducer_sum_f32(void);
PRANGE_API const prange_reducer *prange_reducer_sum_i64(void);
PRANGE_API const prange_reducer *prange_reducer_prod_f64(void);
PRANGE_API const prange_reducer *prange_reducer_prod_f32(void);
PRANGE_API const prange_reducer *prange_reducer_prod_i64(void);
PRANGE_API const prange_reducer *prange_reducer_min_f64(void);
PRANGE_API const prange_reducer *prange_reducer_max_f64(void);
PRANGE_API const prange_reducer *prange_reducer_min_f32(void);
PRANGE_API const prange_reducer *prange_reducer_max_f32(void);
PRANGE_API const prange_reducer *prange_reducer_min_i64(void);
PRANGE_API const prange_reducer *prange_reducer_max_i64(void);
PRANGE_API const prange_reducer *prange_reducer_minloc_f64(void);
PRANGE_API const prange_reducer *prange_reducer_maxloc_f64(void);
PRANGE_API const prange_reducer *prange_reducer_minloc_f32(void);
PRANGE_API const prange_reducer *prange_reducer_maxloc_f32(void);
PRANGE_API const prange_reducer *prange_reducer_minloc_i64(void);
PRANGE_API const prange_reducer *prange_reducer_maxloc_i64(void);
PRANGE_API const prange_reducer *prange_reducer_and_u64(void);
PRANGE_API const prange_reducer *prange_reducer_or_u64(void);
PRANGE_API const prange_reducer *prange_reducer_xor_u64(void);
PRANGE_API const prange_reducer *prange_reducer_land(void);
PRANGE_API const prange_reducer *prange_reducer_lor(void);

/**
 * prange_reducer_array_sum_f64 / _i64 - a reducer whose accumulator is an array of
 * `count` doubles / int64_t summed element-wise (histograms, group-by, centroids).
 * Each block gets a private zeroed copy; copies are combined along the canonical tree.
 * Returns the reducer by value (its identity and combine work from acc_size; rctx is
 * unused); acc_size is 0 (rejected by prange_reduce) when count is 0 or count * element
 * size exceeds 2^30 bytes. Thread-safe.
 */
PRANGE_API prange_reducer prange_reducer_array_sum_f64(size_t count);
PRANGE_API prange_reducer prange_reducer_array_sum_i64(size_t count);

/* ======================================================================================
 * Kernels
 * ==================================================================================== */

/*
 * Every kernel takes `opts` last: NULL = automatic. The thread cap (opts->threads),
 * PRANGE_SERIAL and the cost hint are honoured; grain, PRANGE_GRAIN and schedule are not
 * used, because the blocks are fixed (2048 elements, more for huge n) so that the result's
 * bits depend on the input alone, never on any option, the environment or the team. Bad
 * opts (see prange_opts) count as bad input.
 */

/**
 * prange_sum_f64 - sum of x[0..n), deterministic, pairwise-accurate.
 * Error bound: |s - exact| <= (16 + ceil(log2(max(1, n / 2048)))) * 2^-53 * sum|x[i]|
 * (a term passes through at most 15 + ceil(...) rounded additions; docs/reductions.md).
 * The same bits on every instruction-set path (PRANGE_ISA), as for any thread count.
 * Returns NaN and sets errno = EINVAL for n < 0, x == NULL with n > 0, or bad opts; 0.0
 * for n == 0. Thread-safe.
 */
PRANGE_API double prange_sum_f64(const double *x, int64_t n, const prange_opts *opts);

/** prange_sum_f32 - sum of floats, accumulated in double; bad input as prange_sum_f64. */
PRANGE_API double prange_sum_f32(const float *x, int64_t n, const prange_opts *opts);

/**
 * prange_dot_f64 / prange_dot_f32 - sum of x[i] * y[i], deterministic (the f32 products
 * and sum in double); bad input as prange_sum_f64.
 */
PRANGE_API double prange_dot_f64(const double *x, const double *y, int64_t n, const prange_opts *opts);
PRANGE_API double prange_dot_f32(const float *x, const float *y, int64_t n, const prange_opts *opts);

/**
 * prange_nrm2_f64 / prange_nrm2_f32 - Euclidean norm sqrt(sum x[i]^2) without spurious
 * overflow or underflow over the whole range of the type, subnormals included:
 * nrm2({1e200, 1e200}) = 1.414e200, nrm2({1e-200, 1e-200}) = 1.414e-200,
 * nrm2({0, 1e-310}) = 1e-310. The result is +inf only when the true norm exceeds DBL_MAX.
 * The f32 version computes in double (as prange_sum_f32) and returns a double. Any NaN
 * gives NaN; otherwise any infinity gives +inf. Deterministic (same bits for any thread
 * count). Bad input as prange_sum_f64.
 */
PRANGE_API double prange_nrm2_f64(const double *x, int64_t n, const prange_opts *opts);
PRANGE_API double prange_nrm2_f32(const float *x, int64_t n, const prange_opts *opts);

/**
 * prange_minloc_f64 / prange_maxloc_f64 / _f32 - the smallest / largest element and its
 * index. Ties go to the lowest index; the first NaN wins (as NumPy's argmin). For n == 0
 * the result is {NaN, -1}; for bad input (as prange_sum_f64) {NaN, -1} with errno =
 * EINVAL. Thread-safe.
 */
PRANGE_API prange_loc_f64 prange_minloc_f64(const double *x, int64_t n, const prange_opts *opts);
PRANGE_API prange_loc_f64 prange_maxloc_f64(const double *x, int64_t n, const prange_opts *opts);
PRANGE_API prange_loc_f32 prange_minloc_f32(const float *x, int64_t n, const prange_opts *opts);
PRANGE_API prange_loc_f32 prange_maxloc_f32(const float *x, int64_t n, const prange_opts *opts);

/* ======================================================================================
 * Element-wise maps (the @vectorize analog), row kernels, 2-D ranges, scans
 * ==================================================================================== */

/*
 * PRANGE_MAP1 / PRANGE_MAP2 / PRANGE_MAP3 - define an element-wise kernel in one line:
 *
 *     PRANGE_MAP2(axpy, double, double, double, double, s * a + b)
 *     ...
 *     int rc = axpy(x, y, 2.0, y, n, NULL);        // y = 2x + y, in place
 *
 * defines `static int NAME(const Ta *a, [const Tb *b, [const Tc *c,]] Ts s, Tout *out,
 * int64_t n, const prange_opts *opts)` (inputs, scalar, output, size, options). EXPR is
 * written in terms of `a`, `b`, `c` (the elements at i) and `s` (the scalar argument; pass
 * any value when unused). The element
 * expression is inlined into the chunk loop, so the compiler vectorises it; the loop runs
 * through the scheduler like prange_for (serial fallback, grain, cost hint via opts).
 * out may be the same array as an input (in place: the same address and the same element
 * size); any other overlap between the bytes of out and of an input (e.g. float in, double
 * out in one buffer) is rejected with PRANGE_EINVAL (nothing written). Returns 0 or
 * PRANGE_EINVAL (NULL arrays with n > 0, n < 0, bad opts). Thread-safe if the arrays are
 * not shared.
 */
#if defined(__GNUC__)
#define PRANGE__UNUSED __attribute__((unused))
#else
#define PRANGE__UNUSED
#endif
/* Whether out's and an input's byte ranges overlap other than as exact aliasing with the
 * same element size (in place: each element is read before it is written). */
#define PRANGE__MAP_OVERLAP(o, x, n)                                                          \
    ((n) > 0 && (uintptr_t)(o) < (uintptr_t)(x) + (uintptr_t)(n) * sizeof(*(x)) &&           \
     (uintptr_t)(x) < (uintptr_t)(o) + (uintptr_t)(n) * sizeof(*(o)) &&                       \
     !((uintptr_t)(o) == (uintptr_t)(x) && sizeof(*(o)) == sizeof(*(x))))
#define PRANGE__MAP_BODY(NAME, DECLS, LOADS, EXPR)                                            \
    typedef struct NAME##_ctx_ DECLS NAME##_ctx_;                                            \
    static void NAME##_body_(void *ctx_, int64_t b_, int64_t e_)                              \
    {                                                                                        \
        NAME##_ctx_ *k_ = (NAME##_ctx_ *)ctx_;                                               \
        for (int64_t i_ = b_; i_ < e_; i_++) {                                               \
            LOADS                                                                            \
            k_->out[i_] = (EXPR);                                                            \
        }                                                                                    \
    }
#define PRANGE_MAP1(NAME, Tout, Ta, Ts, EXPR)                                                 \
    PRANGE__MAP_BODY(NAME, { Tout *out; const Ta *pa; Ts s; },                                \
                     const Ta a = k_->pa[i_]; const Ts s = k_->s; (void)s;, EXPR)             \
    PRANGE__UNUSED static int NAME(const Ta *a, Ts s, Tout *out, int64_t n, const prange_opts *opts) \
    {                                                                                        \
        if (n < 0 || (n > 0 && (!out || !a)) || PRANGE__MAP_OVERLAP(out, a, n)) return PRANGE_EINVAL; \
        NAME##_ctx_ k = {out, a, s};                                                         \
        return prange_for_opts(0, n, NAME##_body_, &k, opts);                                \
    }
#define PRANGE_MAP2(NAME, Tout, Ta, Tb, Ts, EXPR)                                             \
    PRANGE__MAP_BODY(NAME, { Tout *out; const Ta *pa; const Tb *pb; Ts s; },                  \
                     const Ta a = k_->pa[i_]; const Tb b = k_->pb[i_]; const Ts s = k_->s; (void)s;, EXPR) \
    PRANGE__UNUSED static int NAME(const Ta *a, const Tb *b, Ts s, Tout *out, int64_t n,   \
                                   const prange_opts *opts)                                  \
    {                                                                                        \
        if (n < 0 || (n > 0 && (!out || !a || !b)) || PRANGE__MAP_OVERLAP(out, a, n) ||     \
            PRANGE__MAP_OVERLAP(out, b, n))                                                  \
            return PRANGE_EINVAL;                                                            \
        NAME##_ctx_ k = {out, a, b, s};                                                      \
        return prange_for_opts(0, n, NAME##_body_, &k, opts);                                \
    }
#define PRANGE_MAP3(NAME, Tout, Ta, Tb, Tc, Ts, EXPR)                                         \
    PRANGE__MAP_BODY(NAME, { Tout *out; const Ta *pa; const Tb *pb; const Tc *pc; Ts s; },    \
                     const Ta a = k_->pa[i_]; const Tb b = k_->pb[i_]; const Tc c = k_->pc[i_]; \
                     const Ts s = k_->s; (void)s;, EXPR)                                      \
    PRANGE__UNUSED static int NAME(const Ta *a, const Tb *b, const Tc *c, Ts s, Tout *out,  \
                                   int64_t n, const prange_opts *opts)                       \
    {                                                                                        \
        if (n < 0 || (n > 0 && (!out || !a || !b || !c)) || PRANGE__MAP_OVERLAP(out, a, n) || \
            PRANGE__MAP_OVERLAP(out, b, n) || PRANGE__MAP_OVERLAP(out, c, n))                \
            return PRANGE_EINVAL;                                                            \
        NAME##_ctx_ k = {out, a, b, c, s};                                                   \
        return prange_for_opts(0, n, NAME##_body_, &k, opts);                                \
    }

/**
 * prange_row_sums_f64 / prange_row_norms_f64 - per-row sum / Euclidean norm of a row-major
 * rows x cols matrix (the @guvectorize analog): rows run in parallel, each row's inner
 * loop is contiguous: the 16-lane pairwise sum of prange_sum_f64, and nrm2's overflow-safe
 * rules, on one thread per row (bitwise the same result for any thread count).
 * opts->cost_ns, when given, is per row.
 * prange_row_softmax_f64 - out row = exp(row - max(row)) / sum(...); out may equal a.
 * @a: rows * cols doubles; @out: rows doubles (rows * cols for softmax); @opts: NULL or
 * options.
 * Returns: 0 or PRANGE_EINVAL (NULL arrays with rows, cols > 0; negative sizes; rows * cols
 * overflowing; out overlapping a other than exactly in place for softmax). Thread-safe.
 */
PRANGE_API int prange_row_sums_f64(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts);
PRANGE_API int prange_row_norms_f64(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts);
PRANGE_API int prange_row_softmax_f64(const double *a, double *out, int64_t rows, int64_t cols, const prange_opts *opts);

/** A tile body for prange_for_2d: runs rows [ib, ie) x columns [jb, je). */
typedef void (*prange_body2d_fn)(void *ctx, int64_t ib, int64_t ie, int64_t jb, int64_t je);

/**
 * prange_for_2d - a 2-D range [i0, i1) x [j0, j1) cut into tiles of tile_i x tile_j (0 =
 * automatic: 64 x 64), the tiles run in parallel (the pndindex / tiled-loop analog). Every
 * (i, j) is visited exactly once. opts->grain counts tiles; opts->cost_ns is per (i, j).
 * The learned cost is kept under opts->key when set, else under `body` (the user's tile
 * body, so two 2-D loops with different bodies learn apart).
 * Returns: 0; PRANGE_EINVAL for i0 > i1, j0 > j1, a NULL body, negative tiles, bad opts,
 * or more tiles than an int64_t can number. Thread-safe; body runs concurrently on
 * disjoint tiles.
 */
PRANGE_API int prange_for_2d(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t tile_i, int64_t tile_j,
                             prange_body2d_fn body, void *ctx, const prange_opts *opts);

/**
 * prange_scan_f64 / prange_scan_f32 / prange_scan_i64 - prefix sums, inclusive (out[i] =
 * in[0] + ... + in[i]) or exclusive (out[i] = in[0] + ... + in[i-1], out[0] = 0). Parallel
 * in two passes over fixed blocks of 4096: each block's sum, the block offsets in order,
 * then each block's scan from its offset. Deterministic: bitwise identical for any thread
 * count (the f64 result differs from a running serial sum by at most ~ (4096 + n/4096) u
 * sum|x|). The f32 scan accumulates in double and rounds each output to float once.
 * out may equal in. opts->cost_ns and grain are per element. Integers wrap.
 * Returns 0, PRANGE_EINVAL (NULL with n > 0, n < 0, partial overlap, bad opts),
 * PRANGE_ENOMEM (the block-offset scratch could not be allocated). Thread-safe.
 */
PRANGE_API int prange_scan_f64(const double *in, double *out, int64_t n, int exclusive, const prange_opts *opts);
PRANGE_API int prange_scan_f32(const float *in, float *out, int64_t n, int exclusive, const prange_opts *opts);
PRANGE_API int prange_scan_i64(const int64_t *in, int64_t *out, int64_t n, int exclusive, const prange_opts *opts);

/**
 * prange_scan_fn - a scan body over [begin, end).
 * emit == 0: fold the elements into acc (which starts at the identity) and write nothing.
 * emit == 1: acc holds the combination of every element before begin; walk the elements
 *            in order, folding each into acc and writing the prefix where the scan wants it
 *            (after folding for an inclusive scan, before for an exclusive one).
 */
typedef void (*prange_scan_fn)(void *ctx, int64_t begin, int64_t end, void *acc, int emit);

/**
 * prange_scan - a prefix scan with a user reducer (any associative combine, commutative or
 * not), deterministic like the typed scans: fixed blocks of max(4096, ceil(n / 65536))
 * iterations are folded (emit = 0) in parallel, their results turned into block prefixes
 * on the caller in order, then each block is emitted (emit = 1) in parallel from its
 * prefix. The body sees each block twice.
 * The reducer's identity and combine get its rctx, as in prange_reduce.
 * Returns: 0; PRANGE_EINVAL (begin > end, NULL r or body, a bad struct_size, a reducer
 * without identity or combine, acc_size 0, bad opts); PRANGE_ERANGE (acc_size > 2^20);
 * PRANGE_ENOMEM (scratch could not be allocated).
 * Thread-safe; body runs concurrently on disjoint blocks.
 */
PRANGE_API int prange_scan(int64_t begin, int64_t end, const prange_reducer *r, prange_scan_fn body, void *ctx,
                           const prange_opts *opts);

/* ======================================================================================
 * NUMA-aware arrays
 * ==================================================================================== */

/** Where the pages of an allocation go. */
typedef enum prange_mem_policy {
    PRANGE_MEM_DEFAULT = 0,     /**< PRANGE_MEM (default first_touch) */
    PRANGE_MEM_FIRST_TOUCH = 1, /**< each page on the node of the thread whose static block
                                     covers it (the partition prange_for uses) */
    PRANGE_MEM_INTERLEAVE = 2,  /**< pages round-robin over the NUMA nodes of the allowed cpuset */
    PRANGE_MEM_LOCAL = 3,       /**< every page on the calling thread's node */
    PRANGE_MEM_BIND = 4         /**< every page on node prange_mem_opts.node */
} prange_mem_policy;

/** Flags for prange_mem_opts.flags. */
#define PRANGE_MEM_HUGEPAGES (1u << 0)    /**< advise transparent huge pages after the touch (>= 2 MiB blocks) */
#define PRANGE_MEM_NO_HUGEPAGES (1u << 1) /**< never advise huge pages (overrides PRANGE_HUGEPAGES) */
#define PRANGE_MEM_STRICT (1u << 2)       /**< fail when the policy cannot be applied (else best effort) */
#define PRANGE_MEM_ALIGN_HUGE (1u << 3)   /**< 2 MiB-aligned pointer even without huge pages or when small */
#define PRANGE_MEM_FLAGS_ALL (PRANGE_MEM_HUGEPAGES | PRANGE_MEM_NO_HUGEPAGES | PRANGE_MEM_STRICT | PRANGE_MEM_ALIGN_HUGE)

/** Options for prange_alloc_opts(), an extensible struct: initialise with
 *  PRANGE_MEM_OPTS_INIT (= the defaults of prange_alloc()), then set the fields. */
typedef struct prange_mem_opts {
    uint32_t struct_size;     /**< sizeof(prange_mem_opts) as compiled: PRANGE_MEM_OPTS_INIT */
    prange_mem_policy policy; /**< 0 = PRANGE_MEM */
    int node;                 /**< PRANGE_MEM_BIND: the OS index of the NUMA node */
    unsigned flags;           /**< PRANGE_MEM_* flags; huge pages default to PRANGE_HUGEPAGES */
} prange_mem_opts;

/** Initialiser for prange_mem_opts: struct_size set, the defaults. */
#define PRANGE_MEM_OPTS_INIT {sizeof(prange_mem_opts), PRANGE_MEM_DEFAULT, 0, 0}

/**
 * prange_alloc - a zeroed array of count elements of elem_size bytes, at least 64-byte
 * aligned, whose pages were first touched in parallel by the same static partition that
 * prange_for(0, count, ...) uses with the default plan (see docs/memory.md).
 *
 * Blocks of 1 MiB and more are their own mappings, 2 MiB-aligned and advised for huge
 * pages after the touch, which faults 4 KiB pages (khugepaged collapses them later; no
 * fault waits for a huge page: docs/memory.md) (PRANGE_HUGEPAGES; page-aligned without).
 * Smaller blocks come from
 * the C allocator (their pages are shared with other data, so no placement applies).
 * count == 0 or elem_size == 0 gives a valid, freeable, empty block.
 *
 * Returns: the block, or NULL with errno = EINVAL (count < 0), EOVERFLOW (count * elem_size
 * does not fit size_t, with a few MiB to spare for the mapping), ENOMEM (memory is
 * exhausted). Thread-safe.
 */
PRANGE_API void *prange_alloc(int64_t count, size_t elem_size);

/**
 * prange_alloc_opts - prange_alloc with a placement policy and flags.
 * @opts: NULL or options.
 * Returns: as prange_alloc; also NULL with errno = EINVAL for a bad struct_size, an unknown
 * policy or flag or a node that does not exist; with PRANGE_MEM_STRICT, NULL with errno = ENOSYS / EXDEV /
 * EPERM when the system refuses the placement (without it placement is best effort).
 */
PRANGE_API void *prange_alloc_opts(int64_t count, size_t elem_size, const prange_mem_opts *opts);

/**
 * prange_free - release a block from prange_alloc / prange_alloc_opts. NULL is a no-op.
 * Passing any other pointer is undefined; a pointer whose header is not libprange's or
 * is no longer mapped (a double free, of a small or a large block) is reported on stderr
 * and aborts. A stale pointer whose address was handed out again cannot be told from the
 * new block (see docs/memory.md). Thread-safe.
 */
PRANGE_API void prange_free(void *p);

/**
 * prange_mem_location - on which NUMA nodes the pages of [p, p + nbytes) are.
 * @pages_per_node: receives, for each OS node index below max_nodes, the number of pages
 *                  resident there (pages never touched are not counted); may be NULL.
 * @max_nodes: entries in pages_per_node.
 * Works on any memory, not only prange_alloc's.
 * Returns: the number of resident pages found (>= 0); PRANGE_EINVAL (p NULL with
 * nbytes > 0, or max_nodes < 0); PRANGE_ENOSYS where the system cannot say. Thread-safe.
 */
PRANGE_API int64_t prange_mem_location(const void *p, size_t nbytes, int64_t *pages_per_node, int max_nodes);

/* ======================================================================================
 * Configuration and diagnostics
 * ==================================================================================== */

/**
 * prange_print_config - print the version, build, topology, every option with its value
 * and source, and the plans for n = 10^1 .. 10^9 to `out` (NULL = stderr).
 * This is what `prange-info` prints. The stream is flushed before returning.
 * Returns: 0, or PRANGE_EIO when a write or the flush failed (a full disk, a closed pipe).
 * Thread-safe (lines from concurrent calls may interleave).
 */
PRANGE_API int prange_print_config(FILE *out);

/* ---- Profiles (PRANGE_PROFILE; docs/profiling.md) ---------------------------------------- */

/**
 * prange_profile_write - print the per-call-site profile gathered so far to `out` (NULL =
 * stderr), as the table PRANGE_PROFILE=1 prints at exit: per site (the call's label, else
 * its body's symbol, or a kernel's name and caller) the calls, inline and parallel counts,
 * team sizes, total / mean / p50 / p90 / p99 / max wall time per call, and on sampled
 * parallel loops the load imbalance and the fork-join time against the serial estimate.
 * Sites record only while PRANGE_PROFILE is set (1 or json:PATH); otherwise the table is
 * empty. The stream is flushed before returning.
 * Returns: 0, or PRANGE_EIO when a write or the flush failed.
 * Thread-safe: may run while other threads' calls record; a call finishing meanwhile may
 * show in some columns and not yet in others.
 */
PRANGE_API int prange_profile_write(FILE *out);

/**
 * prange_profile_reset - zero every site's figures (the sites and their names stay), e.g.
 * between the phases of a long-running program. Thread-safe: calls finishing during the
 * reset may be counted in part before it and in part after.
 */
PRANGE_API void prange_profile_reset(void);

#ifdef __cplusplus
}
#endif
#endif /* PRANGE_H */
