/*
 * bench.h — what a kernel of the perf suite sees (perf/README.md, "Add a kernel").
 *
 * A kernel family is one file under perf/kernels/: a few variants of the same work (the
 * serial reference first, then hand-written OpenMP, libprange, peers), each a function
 * `double fn(int64_t n)` that does the work once at size n and returns a number the
 * harness checks against serial's (or 0 when the result is an output array). The file
 * ends with its table and one BENCH_REGISTER line; the harness (perf/harness.c) finds it,
 * measures it, checks it and writes it out (perf/output.c). Only the public prange.h.
 */
#ifndef PRANGE_BENCH_H
#define PRANGE_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <prange.h>

/* ---- the data every kernel may use (allocated and filled by the harness) ------------- */

extern double *A, *B, *C;    /* NMAX each: A in [0.5, 1.5), B in [1, 2), C = 0 (outputs) */
extern double *PA, *PB, *PC; /* the same from prange_alloc (first-touched in parallel) */
extern uint32_t *H;          /* NMAX pseudo-random 32-bit integers */
extern int64_t NMAX;
extern int g_threads;        /* the team size being measured: use it in num_threads() */
extern volatile double g_sink;
#define SCALAR 3.0

/* ---- a kernel ------------------------------------------------------------------------- */

typedef double (*run_fn)(int64_t n);

typedef struct {
    const char *name; /* "serial" (the reference, first), "omp...", "prange..." (the gate's
                         libprange rows), "tbb..." (measured as a second group) */
    run_fn fn;
    double **out;     /* where an output kernel writes; NULL = C */
} variant;
#define V(NAME, FN) {.name = (NAME), .fn = (FN)}

/* How a variant's result is checked against serial's. */
typedef enum {
    CHECK_RETURN,       /* the return value, within 1e-9 relative (reductions sum in other orders) */
    CHECK_OUTPUT_EXACT, /* the array written (C, or *out), bitwise: each element computed alike */
    CHECK_OUTPUT_CLOSE, /* the array written, within 1e-12 (per-element sums in other orders) */
} check_kind;

enum { MAXV = 8 };
typedef struct kernel {
    const char *name;
    double bytes;                   /* bytes moved per element touched (GB/s); 0 = compute-bound */
    check_kind check;
    bool stream;                    /* its GB/s count toward the run's measured bandwidth limit */
    bool sweep;                     /* part of the size sweep */
    bool overhead;                  /* a per-call overhead row: measured at n = 2 x threads */
    int64_t (*size)(int64_t nmax);  /* production size; NULL = nmax */
    int64_t (*elements)(int64_t n); /* elements a call at n touches; NULL = n */
    variant v[MAXV];
} kernel;

/* Called by BENCH_REGISTER before main(): kernels run in registration (link) order. */
void bench_register(const kernel *table, int count);

/* The last line of a kernel family's file: registers its table with the harness. */
#define BENCH_REGISTER(table)                                                                   \
    __attribute__((constructor)) static void bench_register_##table(void)                       \
    {                                                                                           \
        bench_register(table, (int)(sizeof table / sizeof table[0]));                           \
    }

#endif
