/*
 * mpi_bench.c [n [reps [threads]]] — the MPI section of the perf suite (perf/mpi_run):
 * the reproducible distributed sum (prange_mpi_sum_f64) against the usual
 * MPI_Allreduce(prange_sum_f64(local part)), on n doubles split evenly among the ranks
 * (default 10^8), interleaved, reps times each (default 11); also the exact accumulator's
 * dot and nrm2. A call's time is the slowest rank's; rank 0 prints the medians, the
 * min and max, and the ratio of the medians (baseline / reproducible: 1 = as fast).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prange_mpi.h>

typedef struct {
    double *x;
    int64_t first;
} part;

static void fill(void *ctx, int64_t b, int64_t e)
{
    part *p = ctx;
    for (int64_t i = b; i < e; i++) { /* varied exponents and signs, cheap to make */
        uint64_t h = (uint64_t)(p->first + i) * 0x9e3779b97f4a7c15ull;
        p->x[i] = ((double)(h >> 11) * 0x1p-53 - 0.25) * (double)(1 + (h & 1023));
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { BASE, REPRO, DOT, NRM2, NV };
static const char *names[NV] = {"MPI_Allreduce(prange_sum_f64)", "prange_mpi_sum_f64", "prange_mpi_dot_f64",
                                "prange_mpi_nrm2_f64"};

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size, threads = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int64_t n = argc > 1 ? (int64_t)atof(argv[1]) : 100000000;
    int reps = argc > 2 ? atoi(argv[2]) : 11;
    if (reps < 1 || reps > 1000 || n < 1) MPI_Abort(MPI_COMM_WORLD, 2);
    prange_mpi_init(MPI_COMM_WORLD, &threads);
    if (argc > 3 && atoi(argv[3]) > 0) prange_set_num_threads(threads = atoi(argv[3]));
    int64_t lo = n * rank / size, m = n * (rank + 1) / size - lo;
    part p = {prange_alloc(m, sizeof(double)), lo};
    if (!p.x) MPI_Abort(MPI_COMM_WORLD, 2);
    prange_for(0, m, fill, &p); /* first touch by the team that reads it */

    double *t[NV];
    for (int v = 0; v < NV; v++) t[v] = calloc((size_t)reps + 1, sizeof(double));
    double result[NV] = {0};
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up, not counted */
        for (int v = 0; v < NV; v++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime(), out = 0;
            if (v == BASE) {
                double local = prange_sum_f64(p.x, m, NULL);
                MPI_Allreduce(&local, &out, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            } else if (v == REPRO) {
                prange_mpi_sum_f64(p.x, m, MPI_COMM_WORLD, &out, NULL);
            } else if (v == DOT) {
                prange_mpi_dot_f64(p.x, p.x, m, MPI_COMM_WORLD, &out, NULL);
            } else {
                prange_mpi_nrm2_f64(p.x, m, MPI_COMM_WORLD, &out, NULL);
            }
            double mine = MPI_Wtime() - t0, slowest;
            MPI_Reduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
            if (r >= 0) t[v][r] = slowest;
            result[v] = out;
        }
    }
    int *teams = rank == 0 ? malloc((size_t)size * sizeof *teams) : NULL;
    MPI_Gather(&threads, 1, MPI_INT, teams, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("mpi_bench: n=%lld ranks=%d threads/rank=%d reps=%d (times: slowest rank, seconds)\n",
               (long long)n, size, teams[0], reps);
        double med[NV];
        for (int v = 0; v < NV; v++) {
            qsort(t[v], (size_t)reps, sizeof(double), cmp);
            med[v] = t[v][reps / 2];
            printf("  %-30s median %.4f  min %.4f  max %.4f  %6.2f GB/s  result %.17g\n", names[v], med[v], t[v][0],
                   t[v][reps - 1], (double)n * 8 / med[v] * 1e-9, result[v]);
        }
        printf("  speed of prange_mpi_sum_f64 relative to MPI_Allreduce(prange_sum_f64): %.2fx (target >= 0.5x)\n",
               med[BASE] / med[REPRO]);
    }
    free(teams);
    for (int v = 0; v < NV; v++) free(t[v]);
    prange_free(p.x);
    MPI_Finalize();
    return 0;
}
