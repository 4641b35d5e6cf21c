/*
 * harness.h — between the harness (perf/harness.c: options, plan, measuring) and the
 * output module (perf/output.c: the table, the JSON artifact). Kernels need only bench.h.
 */
#ifndef PRANGE_HARNESS_H
#define PRANGE_HARNESS_H

#include <stdio.h>

#include "bench.h"

enum { MAXREPS = 256 };

/* The run's settings, from the command line. */
typedef struct {
    int quick, reps;
    double min_batch_s;
    const char *kernels, *json, *tsv, *git, *sizes;
    const char *variants; /* NULL = all; else these (and "serial", the reference) */
    int threads[16], nthreads;
    int64_t nmax;
    int sweep;
} config;

/* One variant measured at one (n, threads). */
typedef struct {
    double first, min, p10, p50, median, p90, p95, p99, mean;
    double result, error; /* result and its relative error against serial */
    int ok, samples, measured, percall;
    int64_t batch, calls;
    double rep[MAXREPS]; /* batch mean of each repetition, in the order measured */
} stats;

/* ---- perf/output.c ---------------------------------------------------------------------- */

/* Open the JSON artifact (cfg->json; none when NULL) and write its metadata: the machine's
 * fingerprint, the build, libprange's configuration, the injected slowdown if any.
 * 0, or -1 (message printed) when the file cannot be written. */
int output_begin(const config *cfg, const char *slow_kernel, double slow_factor);
/* The table's heading on stdout. */
void output_heading(const config *cfg, double first_call);
/* One measured row: a table line per variant and its JSON object. */
void output_row(const kernel *K, int64_t n, int threads, const char *phase, const stats *s, int nv);
/* The run's tail: bandwidth limit and memory on stdout, the JSON's closing fields. */
void output_end(double first_call, double data_bytes, int wrong);

#endif
