/*
 * prange.hpp — C++17 interface to libprange: lambdas instead of (function, context)
 * pairs, results returned by value, errors and body exceptions as C++ exceptions.
 * Header-only, over the C API of prange.h (link libprange as for C). See docs/cpp.md.
 *
 *     prange::parallel_for(0, n, [&](int64_t i) { y[i] += a * x[i]; });
 *     double s = prange::parallel_reduce(0, n, 0.0, std::plus<>(), [&](int64_t i) { return x[i]; });
 *
 * Conventions (all functions here)
 * --------------------------------
 * - Bodies are either chunk bodies, called with a half-open sub-range (i0, i1), or
 *   per-index bodies, called with one index i: the overload is chosen by what the lambda
 *   can be called with (a lambda callable both ways is a chunk body).
 * - opts: a prange_opts, as in C (NULL there = prange::default_opts() here). When
 *   opts.key is NULL it is set to an address unique to the body's type, so the learned
 *   cost model keeps one cost per lambda type (not one for the shared trampoline).
 * - Errors: a negative PRANGE_E* code from the C call is thrown as prange::error
 *   (nothing has run, as in C).
 * - Exceptions: an exception leaving a body, on the calling thread or on a worker, never
 *   reaches the OpenMP runtime (which would std::terminate): it is caught, the chunks
 *   above it that have not started are skipped, and once the loop has stopped it is
 *   rethrown on the caller. When several chunks throw, the one rethrown is the
 *   exception of the lowest-index throwing chunk, and the chunks are fixed by the range
 *   and the grain (as for prange_for_until), so the same exception is rethrown for every
 *   thread count and run, and the same a serial loop gives. Chunks below the thrower
 *   still run; which chunks above it ran depends on timing. The loop's other effects
 *   are left as they are (no rollback).
 * - Thread safety: as the C functions; a body runs concurrently on disjoint ranges.
 */
#ifndef PRANGE_HPP
#define PRANGE_HPP

#include "prange.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace prange {

/** A PRANGE_E* code returned by the C API (bad arguments, no memory), as an exception. */
class error : public std::runtime_error {
public:
    explicit error(int code) : std::runtime_error(prange_strerror(code)), code_(code) {}
    /** The negative PRANGE_E* code. */
    int code() const noexcept { return code_; }

private:
    int code_;
};

/** prange_opts with every field automatic: PRANGE_OPTS_INIT. */
inline prange_opts default_opts() noexcept
{
    prange_opts o = PRANGE_OPTS_INIT;
    return o;
}

namespace detail {

template <class...> inline constexpr bool always_false = false;

/* One address per type: the learned-cost key of the loops whose body has type F. */
template <class F> const void *type_key() noexcept
{
    static const char key = 0;
    return &key;
}

template <class F> prange_opts keyed(prange_opts o) noexcept
{
    if (!o.key) o.key = type_key<std::decay_t<F>>();
    return o;
}

inline void check(int rc)
{
    if (rc < 0) throw error(rc);
}

/* Where a chunk lies, for "lowest index": (begin, 0) in 1-D, (row, column) of a tile's
 * corner in 2-D, compared lexicographically. */
struct rank {
    int64_t first, second;
    bool operator<(const rank &o) const noexcept
    {
        return first < o.first || (first == o.first && second < o.second);
    }
};

/* The exception of the lowest-ranked throwing chunk of one call. record() runs only on
 * the exceptional path (a lock); above() is one relaxed load while nothing has thrown. */
class first_exception {
public:
    void record(rank r, std::exception_ptr e) noexcept
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!ptr_ || r < rank_) {
            rank_ = r;
            ptr_ = std::move(e);
        }
        thrown_.store(true, std::memory_order_release);
    }
    bool any() const noexcept { return thrown_.load(std::memory_order_acquire); }
    /* Whether a chunk at r lies above one known to have thrown (so it need not run). */
    bool above(rank r) noexcept
    {
        if (!any()) return false;
        std::lock_guard<std::mutex> lock(mutex_);
        return rank_ < r;
    }
    /* After the loop: the recorded exception, if its chunk ranks at r (or any, r null). */
    void rethrow_if_at(const rank *r)
    {
        if (ptr_ && (!r || (!(rank_ < *r) && !(*r < rank_)))) std::rethrow_exception(ptr_);
    }

private:
    std::atomic<bool> thrown_{false};
    std::mutex mutex_;
    std::exception_ptr ptr_;
    rank rank_{0, 0};
};

/* ---- 1-D loops, all over prange_for_until (its chunks are fixed by range and grain) ---- */

/* Which body a loop runs: the user's callable and how to turn a chunk into calls. */
enum class form { chunk, index, until, find };

template <class F, form K> struct loop_state {
    explicit loop_state(F *fn) : f(fn) {}
    F *f;
    first_exception ex;
    std::atomic<int64_t> found{INT64_MAX}; /* find: the lowest index whose predicate held */
};

template <class F, form K> int loop_trampoline(void *ctx, int64_t b, int64_t e) noexcept
{
    auto *s = static_cast<loop_state<F, K> *>(ctx);
    try {
        if constexpr (K == form::chunk) {
            (*s->f)(b, e);
        } else if constexpr (K == form::index) {
            for (int64_t i = b; i < e; i++) (*s->f)(i);
        } else if constexpr (K == form::until) {
            return static_cast<int>((*s->f)(b, e));
        } else {
            for (int64_t i = b; i < e; i++)
                if ((*s->f)(i)) {
                    int64_t cur = s->found.load(std::memory_order_relaxed);
                    while (i < cur && !s->found.compare_exchange_weak(cur, i, std::memory_order_relaxed)) {
                    }
                    return 1;
                }
        }
        return 0;
    } catch (...) {
        s->ex.record(rank{b, 0}, std::current_exception());
        return 1; /* stop: chunks above this one are not started */
    }
}

/* Runs the loop; rethrows the exception of the lowest stopping chunk if that chunk threw. */
template <form K, class F> prange_stop run_loop(int64_t b, int64_t e, F &f, const prange_opts &opts)
{
    loop_state<F, K> s(&f);
    prange_opts o = keyed<F>(opts);
    prange_stop stop{0, e};
    check(prange_for_until(b, e, loop_trampoline<F, K>, &s, &o, &stop));
    if (stop.value != 0) {
        rank at{stop.index, 0};
        s.ex.rethrow_if_at(&at);
    }
    if constexpr (K == form::find) stop.index = stop.value ? s.found.load() : e;
    return stop;
}

/* ---- reductions, over prange_reduce ---- */

template <class T, class C, class B> struct reduce_state {
    T identity;
    C *combine;
    B *body;
    first_exception ex;
};

template <class T, class C, class B> void reduce_identity(void *rctx, void *acc, size_t) noexcept
{
    std::memcpy(acc, &static_cast<reduce_state<T, C, B> *>(rctx)->identity, sizeof(T));
}

/* Accumulators live in the library's scratch, not necessarily aligned for T: copied in
 * and out. Once anything threw, the result is discarded: combines are skipped. */
template <class T, class C, class B> void reduce_combine(void *rctx, void *acc, const void *rhs, size_t) noexcept
{
    auto *s = static_cast<reduce_state<T, C, B> *>(rctx);
    if (s->ex.any()) return;
    T l = s->identity, r = s->identity;
    std::memcpy(&l, acc, sizeof(T));
    std::memcpy(&r, rhs, sizeof(T));
    try {
        l = (*s->combine)(l, r);
    } catch (...) {
        /* Ranked after every block, so a body's exception always wins over combine's. */
        s->ex.record(rank{INT64_MAX, INT64_MAX}, std::current_exception());
        return;
    }
    std::memcpy(acc, &l, sizeof(T));
}

template <class T, class C, class B> void reduce_body(void *ctx, int64_t b, int64_t e, void *acc) noexcept
{
    auto *s = static_cast<reduce_state<T, C, B> *>(ctx);
    if (s->ex.above(rank{b, 0})) return; /* cancelled: a block below threw */
    T a = s->identity;
    std::memcpy(&a, acc, sizeof(T));
    try {
        if constexpr (std::is_invocable_v<B &, int64_t, int64_t, T>) {
            a = (*s->body)(b, e, a);
        } else {
            for (int64_t i = b; i < e; i++) a = (*s->combine)(a, (*s->body)(i));
        }
    } catch (...) {
        s->ex.record(rank{b, 0}, std::current_exception());
        return;
    }
    std::memcpy(acc, &a, sizeof(T));
}

/* ---- 2-D loops, over prange_for_2d ---- */

template <class F> struct tiles_state {
    F *f;
    first_exception ex;
};

template <class F> void tile_trampoline(void *ctx, int64_t ib, int64_t ie, int64_t jb, int64_t je) noexcept
{
    auto *s = static_cast<tiles_state<F> *>(ctx);
    if (s->ex.above(rank{ib, jb})) return; /* cancelled: a tile below threw */
    try {
        if constexpr (std::is_invocable_v<F &, int64_t, int64_t, int64_t, int64_t>) {
            (*s->f)(ib, ie, jb, je);
        } else {
            for (int64_t i = ib; i < ie; i++)
                for (int64_t j = jb; j < je; j++) (*s->f)(i, j);
        }
    } catch (...) {
        s->ex.record(rank{ib, jb}, std::current_exception());
    }
}

} // namespace detail

/**
 * parallel_for - run f over [begin, end) in parallel (prange_for_opts with a lambda).
 * @f: a chunk body f(int64_t i0, int64_t i1) running [i0, i1), or a per-index body
 *     f(int64_t i). Each index is passed exactly once.
 * @opts: per-call options (grain, threads, cost_ns, ...), as in C.
 *
 * The range is cut as prange_for_until cuts it (at most 1024 chunks of at least grain
 * iterations), so that an exception is rethrown deterministically (see the conventions).
 * Throws: prange::error for bad arguments (begin > end, bad opts); the body's exception.
 */
template <class F> void parallel_for(int64_t begin, int64_t end, F &&f, prange_opts opts = default_opts())
{
    if constexpr (std::is_invocable_v<F &, int64_t, int64_t>)
        detail::run_loop<detail::form::chunk>(begin, end, f, opts);
    else if constexpr (std::is_invocable_v<F &, int64_t>)
        detail::run_loop<detail::form::index>(begin, end, f, opts);
    else
        static_assert(detail::always_false<F>, "parallel_for: f(int64_t, int64_t) or f(int64_t)");
}

/**
 * parallel_for_until - prange_for_until with a lambda: a deterministic early stop.
 * @f: a chunk body int f(int64_t i0, int64_t i1) (or bool): non-zero stops the loop.
 * Returns: the outcome, as prange_for_until's prange_stop: the value the lowest stopping
 * chunk returned and that chunk's begin index; {0, end} when none stopped.
 * Throws: prange::error for bad arguments; the body's exception when the lowest chunk
 * that stopped or threw is one that threw (an exception above a stop is discarded, as a
 * serial loop would never have reached it).
 */
template <class F> prange_stop parallel_for_until(int64_t begin, int64_t end, F &&f, prange_opts opts = default_opts())
{
    static_assert(std::is_invocable_v<F &, int64_t, int64_t>, "parallel_for_until: f(int64_t, int64_t) -> int");
    return detail::run_loop<detail::form::until>(begin, end, f, opts);
}

/**
 * parallel_find - the lowest index i in [begin, end) for which pred(i) is true, found in
 * parallel (prange_for_until's chunks; indices above it in its chunk are not tested).
 * Returns: that index, or end when pred holds nowhere. Deterministic.
 * Throws: prange::error for bad arguments; pred's exception when it threw at an index
 * below the result (the lowest throwing chunk's, as in the conventions).
 */
template <class P> int64_t parallel_find(int64_t begin, int64_t end, P &&pred, prange_opts opts = default_opts())
{
    static_assert(std::is_invocable_v<P &, int64_t>, "parallel_find: pred(int64_t) -> bool");
    return detail::run_loop<detail::form::find>(begin, end, pred, opts).index;
}

/**
 * parallel_reduce - a deterministic reduction returning its value (prange_reduce with a
 * reducer whose identity and combine are the arguments).
 * @identity: the identity element of combine; also the result for an empty range.
 * @combine:  T combine(T lhs, T rhs), associative; lhs covers the lower indices (it need
 *            not be commutative).
 * @body:     a chunk body T body(int64_t i0, int64_t i1, T acc) returning acc with
 *            [i0, i1) folded in, or a per-index body T body(int64_t i), folded as
 *            acc = combine(acc, body(i)).
 * T must be trivially copyable (accumulators are bytes in the library's scratch).
 *
 * The blocks and the combine tree are prange_reduce's, so the result has the same bits
 * as the C call with the same reducer, range and options, for every thread count.
 * Throws: prange::error (bad arguments, PRANGE_ENOMEM; sizeof(T) > 2^30: PRANGE_ERANGE);
 * the exception of the lowest-index throwing block (blocks above it that have not started
 * are skipped); an exception from combine only when no block threw.
 */
template <class T, class C, class B>
T parallel_reduce(int64_t begin, int64_t end, T identity, C &&combine, B &&body, prange_opts opts = default_opts())
{
    static_assert(std::is_trivially_copyable_v<T>, "parallel_reduce: T must be trivially copyable");
    static_assert(std::is_invocable_r_v<T, C &, T, T>, "parallel_reduce: combine(T, T) -> T");
    static_assert(std::is_invocable_r_v<T, B &, int64_t, int64_t, T> || std::is_invocable_r_v<T, B &, int64_t>,
                  "parallel_reduce: body(int64_t, int64_t, T) -> T or body(int64_t) -> T");
    using BT = std::remove_reference_t<B>;
    using CT = std::remove_reference_t<C>;
    detail::reduce_state<T, CT, BT> s{identity, &combine, &body, {}};
    prange_reducer r = PRANGE_REDUCER_INIT;
    r.acc_size = sizeof(T);
    r.identity = detail::reduce_identity<T, CT, BT>;
    r.combine = detail::reduce_combine<T, CT, BT>;
    r.rctx = &s;
    prange_opts o = detail::keyed<B>(opts);
    T result = identity;
    detail::check(prange_reduce(begin, end, &r, detail::reduce_body<T, CT, BT>, &s, &result, &o));
    s.ex.rethrow_if_at(nullptr);
    return result;
}

/**
 * for_2d - prange_for_2d with a lambda: [i0, i1) x [j0, j1) in tiles of tile_i x tile_j
 * (0 = automatic), the tiles in parallel.
 * @f: a tile body f(int64_t ib, int64_t ie, int64_t jb, int64_t je), or a per-element
 *     body f(int64_t i, int64_t j) (called row by row inside each tile).
 * Exceptions as in the conventions, "lowest" meaning the tile whose corner (ib, jb) is
 * first in row-major order; tiles after it that have not started are skipped.
 * Throws: prange::error for bad arguments (see prange_for_2d); the body's exception.
 */
template <class F>
void for_2d(int64_t i0, int64_t i1, int64_t j0, int64_t j1, int64_t tile_i, int64_t tile_j, F &&f,
            prange_opts opts = default_opts())
{
    static_assert(std::is_invocable_v<F &, int64_t, int64_t, int64_t, int64_t> || std::is_invocable_v<F &, int64_t, int64_t>,
                  "for_2d: f(ib, ie, jb, je) or f(i, j)");
    using FT = std::remove_reference_t<F>;
    detail::tiles_state<FT> s{&f, {}};
    prange_opts o = detail::keyed<F>(opts);
    detail::check(prange_for_2d(i0, i1, j0, j1, tile_i, tile_j, detail::tile_trampoline<FT>, &s, &o));
    s.ex.rethrow_if_at(nullptr);
}

/** for_2d with automatic tiles. */
template <class F> void for_2d(int64_t i0, int64_t i1, int64_t j0, int64_t j1, F &&f, prange_opts opts = default_opts())
{
    for_2d(i0, i1, j0, j1, 0, 0, std::forward<F>(f), opts);
}

} // namespace prange

#endif /* PRANGE_HPP */
