/* test_cpp.cpp — the C++17 interface (include/prange.hpp): lambdas in both forms, results
 * against the C API and a serial loop, and exceptions thrown from any chunk on any thread. */
#include <criterion/criterion.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "prange.hpp"

namespace {

const int k_threads[] = {1, 2, 4};

/* Options that make the plan parallel on exactly `threads` (the budget is raised first). */
prange_opts parallel(int threads, int64_t grain = 0)
{
    prange_set_num_threads(8);
    prange_opts o = t_parallel_opts(threads, PRANGE_SCHEDULE_AUTO, grain);
    return o;
}

uint64_t bits(double d)
{
    uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
}

std::vector<double> random_vector(int64_t n)
{
    std::vector<double> x((size_t)n);
    uint64_t seed = 7;
    for (int64_t i = 0; i < n; i++) x[(size_t)i] = (i % 3 == 0 ? 1e16 : i % 3 == 1 ? -1e16 : 1.0) * t_unit(&seed);
    return x;
}

struct vec {
    const double *x;
};
void c_sum_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    const double *x = static_cast<vec *>(ctx)->x;
    double s = *static_cast<double *>(acc);
    for (int64_t i = b; i < e; i++) s += x[i];
    *static_cast<double *>(acc) = s;
}

/* An exception that names where it was thrown. */
struct thrown_at : std::runtime_error {
    int64_t index;
    int tid;
    explicit thrown_at(int64_t i) : std::runtime_error("thrown at " + std::to_string(i)), index(i), tid(prange_thread_id()) {}
};

void spin_ns(double ns)
{
    auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds((int64_t)ns);
    while (std::chrono::steady_clock::now() < until) {
    }
}

} // namespace

/* ---- loops ---------------------------------------------------------------------------- */

Test(cpp, every_index_once_both_forms)
{
    const int64_t n = 100003;
    for (int t : k_threads) {
        std::vector<std::atomic<int>> seen((size_t)n);
        prange::parallel_for(0, n, [&](int64_t i) { seen[(size_t)i]++; }, parallel(t));
        prange::parallel_for(0, n, [&](int64_t i0, int64_t i1) {
            cr_assert(i0 < i1);
            for (int64_t i = i0; i < i1; i++) seen[(size_t)i]++;
        }, parallel(t, 7));
        for (int64_t i = 0; i < n; i++) cr_assert_eq(seen[(size_t)i].load(), 2, "threads=%d i=%lld", t, (long long)i);
    }
    /* Default options, an empty range, a range near the int64_t ends. */
    std::atomic<int64_t> count{0};
    prange::parallel_for(5, 5, [&](int64_t) { count++; });
    prange::parallel_for(INT64_MAX - 10, INT64_MAX, [&](int64_t) { count++; });
    cr_assert_eq(count.load(), 10);
}

Test(cpp, bad_arguments_throw_prange_error)
{
    try {
        prange::parallel_for(5, 1, [](int64_t) {});
        cr_assert_fail("begin > end ran");
    } catch (const prange::error &e) {
        cr_assert_eq(e.code(), PRANGE_EINVAL);
        cr_assert_str_eq(e.what(), prange_strerror(PRANGE_EINVAL));
    }
    prange_opts bad = prange::default_opts();
    bad.grain = -1;
    cr_assert_throw(prange::parallel_reduce(0, 10, 0.0, std::plus<>(), [](int64_t) { return 1.0; }, bad), prange::error);
    cr_assert_throw(prange::for_2d(0, 1, 0, 1, -1, 0, [](int64_t, int64_t) {}), prange::error);
}

Test(cpp, find_and_until_match_a_serial_loop)
{
    const int64_t n = 1000000;
    for (int t : k_threads) {
        /* The lowest hit, whatever chunk a worker reaches first. */
        int64_t hit = prange::parallel_find(0, n, [](int64_t i) { return i % 4099 == 4098 || i == 777777; }, parallel(t));
        cr_assert_eq(hit, 4098, "threads=%d: %lld", t, (long long)hit);
        cr_assert_eq(prange::parallel_find(0, n, [](int64_t i) { return i < 0; }, parallel(t)), n);
        prange_stop s = prange::parallel_for_until(0, n, [](int64_t i0, int64_t i1) {
            return i0 <= 500000 && 500000 < i1 ? 7 : i0 >= 600000 ? 9 : 0;
        }, parallel(t, 1000));
        cr_assert_eq(s.value, 7, "threads=%d: %d at %lld", t, s.value, (long long)s.index);
        cr_assert_eq(s.index, 500000, "chunks of grain 1000: the stop's chunk begins at 500000");
    }
}

Test(cpp, for_2d_visits_each_cell_once)
{
    const int64_t rows = 97, cols = 131;
    for (int t : k_threads) {
        std::vector<std::atomic<int>> seen((size_t)(rows * cols));
        prange::for_2d(0, rows, 0, cols, [&](int64_t i, int64_t j) { seen[(size_t)(i * cols + j)]++; }, parallel(t));
        prange::for_2d(0, rows, 0, cols, 8, 16, [&](int64_t ib, int64_t ie, int64_t jb, int64_t je) {
            cr_assert(ie - ib <= 8 && je - jb <= 16);
            for (int64_t i = ib; i < ie; i++)
                for (int64_t j = jb; j < je; j++) seen[(size_t)(i * cols + j)]++;
        }, parallel(t));
        for (int64_t k = 0; k < rows * cols; k++) cr_assert_eq(seen[(size_t)k].load(), 2);
    }
}

/* ---- reductions ----------------------------------------------------------------------- */

Test(cpp, reduce_bitwise_equal_to_the_c_api)
{
    const int64_t sizes[] = {0, 1, 2047, 2049, 100003, 1000000};
    std::vector<double> x = random_vector(1000000);
    vec v{x.data()};
    for (int64_t n : sizes)
        for (int64_t grain : {int64_t(0), int64_t(333)}) {
            double c = -1;
            prange_opts o1 = parallel(1, grain);
            cr_assert_eq(prange_reduce(0, n, prange_reducer_sum_f64(), c_sum_body, &v, &c, &o1), 0);
            for (int t : k_threads) {
                double chunk = prange::parallel_reduce(0, n, 0.0, std::plus<>(), [&](int64_t i0, int64_t i1, double s) {
                    for (int64_t i = i0; i < i1; i++) s += x[(size_t)i];
                    return s;
                }, parallel(t, grain));
                double index = prange::parallel_reduce(0, n, 0.0, [](double a, double b) { return a + b; },
                                                       [&](int64_t i) { return x[(size_t)i]; }, parallel(t, grain));
                cr_assert_eq(bits(chunk), bits(c), "n=%lld grain=%lld threads=%d: %.17g != %.17g", (long long)n,
                             (long long)grain, t, chunk, c);
                cr_assert_eq(bits(index), bits(c), "per-index form, n=%lld threads=%d", (long long)n, t);
            }
        }
}

/* A non-commutative combine (2x2 matrix products mod 2^64) over a struct accumulator. */
struct mat {
    uint64_t a, b, c, d;
};
static mat mul(mat x, mat y) { return {x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.d, x.c * y.a + x.d * y.c, x.c * y.b + x.d * y.d}; }

Test(cpp, reduce_keeps_the_order_of_a_non_commutative_combine)
{
    const int64_t n = 300001;
    auto m = [](int64_t i) { return mat{(uint64_t)i | 1, 3, (uint64_t)i >> 1, 5}; };
    mat serial{1, 0, 0, 1};
    for (int64_t i = 0; i < n; i++) serial = mul(serial, m(i));
    for (int t : k_threads) {
        mat r = prange::parallel_reduce(0, n, mat{1, 0, 0, 1}, mul, m, parallel(t, 1000));
        cr_assert(std::memcmp(&r, &serial, sizeof r) == 0, "threads=%d", t);
    }
}

/* ---- exceptions ----------------------------------------------------------------------- */

/* Two chunks throw different exceptions: the lower one is rethrown, for every thread count
 * and every form; never std::terminate (the test runs in its own process). */
Test(cpp, lowest_throwing_chunk_wins_for_any_thread_count)
{
    const int64_t n = 1000000, lo = 300001, hi = 700001;
    auto expect = [](const char *what, int t, auto &&run) {
        try {
            run();
            cr_assert_fail("%s, threads=%d: nothing thrown", what, t);
        } catch (const thrown_at &e) {
            cr_assert_eq(e.index, lo, "%s, threads=%d: rethrew %lld", what, t, (long long)e.index);
        }
    };
    for (int t : k_threads)
        for (int rep = 0; rep < 3; rep++) {
            expect("per-index", t, [&] {
                prange::parallel_for(0, n, [&](int64_t i) { if (i == lo || i == hi) throw thrown_at(i); }, parallel(t));
            });
            expect("chunk", t, [&] {
                prange::parallel_for(0, n, [&](int64_t i0, int64_t i1) {
                    for (int64_t i = i0; i < i1; i++) if (i == lo || i == hi) throw thrown_at(i);
                }, parallel(t));
            });
            expect("find", t, [&] {
                prange::parallel_find(0, n, [&](int64_t i) -> bool { if (i == lo || i == hi) throw thrown_at(i); return false; }, parallel(t));
            });
            expect("reduce", t, [&] {
                prange::parallel_reduce(0, n, int64_t(0), std::plus<>(), [&](int64_t i) -> int64_t {
                    if (i == lo || i == hi) throw thrown_at(i);
                    return i;
                }, parallel(t));
            });
            expect("2-D", t, [&] {
                /* (lo / 1000, lo % 1000) comes first in row-major order; hi's row is later. */
                prange::for_2d(0, 1000, 0, 1000, [&](int64_t i, int64_t j) {
                    int64_t k = i * 1000 + j;
                    if (k == lo || k == hi) throw thrown_at(k);
                }, parallel(t));
            });
        }
    /* A stop below an exception wins over it (a serial loop never reaches the throw). */
    prange_stop s = prange::parallel_for_until(0, n, [&](int64_t i0, int64_t i1) -> int {
        if (i0 <= hi && hi < i1) throw thrown_at(hi);
        return i0 <= lo && lo < i1;
    }, parallel(2));
    cr_assert_eq(s.value, 1);
}

/* Throw from chunks run by a worker (thread id > 0), then from the caller's (id 0): the
 * caller gets the lowest-index one of those that threw, after the loop has stopped. */
static void throw_from(bool worker)
{
    for (int t : {2, 4}) {
        std::mutex m;
        std::vector<int64_t> thrown;
        std::atomic<bool> worker_ran{false}, caller_ran{false};
        std::atomic<int> running{0};
        try {
            prange::parallel_for(0, 1 << 20, [&](int64_t i0, int64_t) {
                running++;
                bool mine = prange_thread_id() != 0;
                (mine ? worker_ran : caller_ran) = true;
                /* Let both kinds of thread reach a chunk before anyone throws (a deadline,
                 * not a timing: on a loaded machine a worker may start late). */
                auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
                while (!(worker_ran && caller_ran) && std::chrono::steady_clock::now() < deadline)
                    std::this_thread::yield();
                running--;
                if (mine == worker) {
                    std::lock_guard<std::mutex> g(m);
                    thrown.push_back(i0);
                    throw thrown_at(i0);
                }
            }, parallel(t));
            cr_assert_fail("threads=%d: nothing thrown", t);
        } catch (const thrown_at &e) {
            cr_assert_eq(running.load(), 0, "rethrown only once every chunk has returned");
            cr_assert(worker_ran && caller_ran, "threads=%d: the plan ran a team", t);
            cr_assert_eq(e.tid != 0, worker, "thrown on thread %d", e.tid);
            cr_assert_eq(e.index, *std::min_element(thrown.begin(), thrown.end()));
        }
    }
}
Test(cpp, exception_from_a_worker_chunk) { throw_from(true); }
Test(cpp, exception_from_the_callers_chunk) { throw_from(false); }

/* Chunks above a thrower that have not started when the throw is seen never start: with
 * one thread none does; with a team only the few already under way (1023 chunks of 1 ms
 * follow the throwing one). */
Test(cpp, chunks_above_a_throw_are_not_started, .timeout = 120)
{
    for (int t : k_threads) {
        std::atomic<int> above{0};
        try {
            prange::parallel_for(0, 1024, [&](int64_t i0, int64_t) {
                if (i0 == 0) throw thrown_at(0);
                above++;
                spin_ns(1e6);
            }, parallel(t, 1));
        } catch (const thrown_at &e) {
            cr_assert_eq(e.index, 0);
        }
        if (t == 1)
            cr_assert_eq(above.load(), 0, "serial: nothing after the throw");
        else
            cr_assert(above.load() < 64, "threads=%d: %d chunks above the throw ran", t, above.load());
    }
    /* The same in a reduction (blocks of 100) and a 2-D loop (tiles of 1 x 1). */
    for (int t : k_threads) {
        std::atomic<int> above{0};
        cr_assert_throw(prange::parallel_reduce(0, 102400, 0.0, std::plus<>(), [&](int64_t i0, int64_t, double s) {
            if (i0 == 0) throw thrown_at(0);
            above++;
            spin_ns(1e6);
            return s;
        }, parallel(t, 100)), thrown_at);
        cr_assert(above.load() < (t == 1 ? 1 : 64), "reduce, threads=%d: %d blocks above ran", t, above.load());
        above = 0;
        cr_assert_throw(prange::for_2d(0, 32, 0, 32, 1, 1, [&](int64_t ib, int64_t, int64_t jb, int64_t) {
            if (ib == 0 && jb == 0) throw thrown_at(0);
            above++;
            spin_ns(1e6);
        }, parallel(t)), thrown_at);
        cr_assert(above.load() < (t == 1 ? 1 : 64), "2-D, threads=%d: %d tiles above ran", t, above.load());
    }
}

Test(cpp, exception_from_combine_is_rethrown)
{
    for (int t : k_threads) {
        cr_assert_throw(prange::parallel_reduce(0, 100000, 0.0, [](double a, double b) -> double {
            if (b > 0) throw std::domain_error("combine");
            return a + b;
        }, [](int64_t, int64_t, double) { return 1.0; }, parallel(t, 100)), std::domain_error);
    }
}

/* Nested: an inner loop's exception crosses the outer body and reaches the caller. */
Test(cpp, nested_exception_reaches_the_caller)
{
    try {
        prange::parallel_for(0, 64, [](int64_t i) {
            prange::parallel_for(0, 64, [i](int64_t j) { if (i == 9 && j == 5) throw thrown_at(i * 64 + j); });
        }, parallel(2, 1));
        cr_assert_fail("nothing thrown");
    } catch (const thrown_at &e) {
        cr_assert_eq(e.index, 9 * 64 + 5);
    }
}

/* ---- learned cost key ----------------------------------------------------------------- */

/* Each lambda type learns its own cost (opts.key = an address per type), not one shared
 * by the trampoline. */
Test(cpp, learned_cost_is_kept_per_lambda_type)
{
    setenv("PRANGE_FORK_NS", "2000", 1);
    auto dear = [](int64_t i0, int64_t i1) { spin_ns(200.0 * (double)(i1 - i0)); };
    static volatile int64_t sink;
    auto cheap = [](int64_t i0, int64_t i1) { sink = sink + (i1 - i0); };
    for (int k = 0; k < 4; k++) {
        prange::parallel_for(0, 3000, dear);
        prange::parallel_for(0, 3000, cheap);
    }
    prange_opts od = prange::default_opts(), oc = prange::default_opts();
    od.key = prange::detail::type_key<decltype(dear)>();
    oc.key = prange::detail::type_key<decltype(cheap)>();
    prange_plan pd, pc;
    cr_assert_eq(prange_plan_for_body(3000, NULL, &od, &pd), 0);
    cr_assert_eq(prange_plan_for_body(3000, NULL, &oc, &pc), 0);
    cr_assert(pd.cost_ns > 200.0 * 0.7 && pd.cost_ns < 200.0 * 5.0, "dear lambda learned %.1f ns", pd.cost_ns);
    cr_assert(pc.cost_ns < 50.0, "cheap lambda learned %.1f ns", pc.cost_ns);
    /* A key the caller sets is kept. */
    static const int mine = 0;
    prange_opts o = prange::default_opts();
    o.key = &mine;
    cr_assert_eq(prange::detail::keyed<decltype(dear)>(o).key, &mine);
}
