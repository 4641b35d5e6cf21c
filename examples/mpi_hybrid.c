/*
 * mpi_hybrid.c — MPI ranks with libprange loops inside each: the hybrid pattern. Each rank
 * owns a contiguous part of a global vector, fills it and sums it with libprange's threads,
 * then the ranks combine their sums. libprange reads the launcher's local rank and rank
 * count (OMPI_COMM_WORLD_LOCAL_RANK/_SIZE, MPI_LOCALRANKID/MPI_LOCALNRANKS, PMI(x), Slurm)
 * and gives each rank its own slice of the cores the ranks share, so the ranks' teams
 * together use each core once (docs/scheduling.md, "Sharing the machine").
 *
 * Build:  mpicc mpi_hybrid.c $(pkg-config --cflags --libs prange) -o mpi_hybrid
 * Run:    mpirun -np 2 --bind-to none ./mpi_hybrid [n]      (default n = 10^7)
 * Prints one line per rank: its team size and its part of the sum; rank 0 checks the total
 * against the closed form and exits non-zero on a mismatch.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include <prange.h>

typedef struct {
    double *x;
    int64_t first; /* global index of x[0] */
} part;

static void fill(void *ctx, int64_t b, int64_t e)
{
    part *p = ctx;
    for (int64_t i = b; i < e; i++) p->x[i] = (double)(p->first + i); /* exact integers */
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int64_t n = argc > 1 ? atoll(argv[1]) : 10000000;
    /* Rank r owns [r * n / size, (r + 1) * n / size). */
    int64_t lo = n * rank / size, hi = n * (rank + 1) / size, m = hi - lo;
    part p = {prange_alloc(m, sizeof(double)), lo};
    if (!p.x && m > 0) {
        fprintf(stderr, "rank %d: prange_alloc failed\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    prange_for(0, m, fill, &p);
    double local = prange_sum_f64(p.x, m, NULL), total = 0;
    MPI_Reduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    printf("mpi_hybrid rank=%d of %d threads=%d local_sum=%.17g\n", rank, size, prange_num_threads(), local);
    fflush(stdout);
    MPI_Barrier(MPI_COMM_WORLD);
    int bad = 0;
    if (rank == 0) {
        double want = (double)n * (double)(n - 1) / 2; /* exact below 2^53 */
        bad = total != want;
        printf("mpi_hybrid total=%.17g expected=%.17g %s\n", total, want, bad ? "MISMATCH" : "ok");
    }
    prange_free(p.x);
    MPI_Finalize();
    return bad;
}
