/* common.h — helpers shared by the Criterion tests. */
#ifndef PRANGE_TESTS_COMMON_H
#define PRANGE_TESTS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prange.h"

/* Deterministic pseudo-random stream (splitmix64): test vectors are reproducible. */
static inline uint64_t t_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static inline double t_unit(uint64_t *s) { return (double)(t_rand(s) >> 11) * 0x1p-52 - 1.0; }

/* Options that force a parallel plan of exactly `threads` (budget permitting): a cost
 * high enough that the model always pays for the fork. */
static inline prange_opts t_parallel_opts(int threads, prange_schedule s, int64_t grain)
{
    prange_opts o = PRANGE_OPTS_INIT;
    o.threads = threads;
    o.schedule = s;
    o.grain = grain;
    o.cost_ns = 1e6;
    return o;
}

/* stderr of the calls between t_capture_start and t_capture_end, in buf (what
 * PRANGE_VERBOSE=2 prints). Both return 0, or -1 when the file could not be made or read. */
typedef struct {
    char path[32];
    int fd, saved;
} t_capture;

static inline int t_capture_start(t_capture *c)
{
    strcpy(c->path, "/tmp/prange-verbose-XXXXXX");
    c->fd = mkstemp(c->path);
    if (c->fd < 0) return -1;
    fflush(stderr);
    c->saved = dup(2);
    dup2(c->fd, 2);
    return 0;
}

static inline int t_capture_end(t_capture *c, char *buf, size_t size)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    memset(buf, 0, size);
    ssize_t got = pread(c->fd, buf, size - 1, 0);
    close(c->fd);
    unlink(c->path);
    return got < 0 ? -1 : 0;
}

/* AddressSanitizer keeps freed memory in quarantine (RSS grows) and reports some reads a
 * test makes on purpose: tests that measure what only an uninstrumented build shows skip
 * those checks under it. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ThreadSanitizer's shadow memory counts in RSS: RSS bounds do not hold under it. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* Valgrind runs the test binaries themselves (tests/run --valgrind): its preloaded core
 * library says so at run time. Like the sanitizers it slows code by 10-100x, so checks of
 * what a cheap loop learned or costs are skipped under them (decisions are still checked). */
static inline int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}
static inline int under_instrumentation(void) { return UNDER_ASAN || UNDER_TSAN || under_valgrind(); }

/* Valgrind (tests/run --valgrind) has the same effects, known only at run time. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND 0
#endif

/* Resident set size of this process in KiB (0 when /proc is unreadable). */
static inline long t_rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static const int t_thread_counts[] = {1, 2, 3, 4, 7, 8, 16};
#define T_NTHREADS (int)(sizeof t_thread_counts / sizeof t_thread_counts[0])

#endif
