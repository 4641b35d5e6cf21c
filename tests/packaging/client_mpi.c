/* client_mpi.c — a libprange-mpi client of an installed prefix (tests/packaging.sh): the
 * reproducible sum of 1 .. 1000 split over the ranks, exact, the same on every rank. */
#include <prange_mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    enum { N = 1000 };
    static double x[N];
    int64_t lo = (int64_t)N * rank / size, hi = (int64_t)N * (rank + 1) / size;
    for (int64_t i = lo; i < hi; i++) x[i - lo] = (double)(i + 1);
    double s = 0;
    int rc = prange_mpi_sum_f64(x, hi - lo, MPI_COMM_WORLD, &s, NULL);
    int bad = rc != 0 || s != 500500.0;
    if (bad) fprintf(stderr, "client_mpi: rank %d: rc %d, sum %.17g (want 500500)\n", rank, rc, s);
    MPI_Finalize();
    return bad;
}
