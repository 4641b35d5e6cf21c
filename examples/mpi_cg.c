/*
 * mpi_cg.c — a distributed conjugate gradient on the 2-D Poisson problem (5-point
 * Laplacian, zero Dirichlet boundary, N x N unknowns): the grid's rows are split among the
 * ranks, each step exchanges one halo row with each neighbour, libprange loops do the
 * stencil and the vector updates inside each rank, and the dot products are libprange-mpi's
 * reproducible ones. Every element is computed by the same expression whoever owns it,
 * and every dot is the correctly rounded exact one, so the residual history is bitwise the
 * same for any number of ranks and threads (tests/mpi_repro.sh compares it).
 *
 * Build:  mpicc mpi_cg.c $(pkg-config --cflags --libs prange-mpi) -o mpi_cg
 * Run:    mpirun -np 2 ./mpi_cg [N [threads]]     (default N = 96; threads 0: prange_mpi_init)
 * Rank 0 prints "cg it=K rr=<bits of r.r>" per iteration, each rank's team size, and a
 * last line "mpi_cg ... ok" when the true residual |b - A x| / |b| is below 1e-8 (exit
 * status 1 otherwise).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prange_mpi.h>

typedef struct {
    int64_t n, rows;  /* grid side; rows this rank owns */
    int64_t row0;     /* global index of the first one */
    double *p, *ap;   /* p has a halo row above and below: (rows + 2) * n */
    double *x, *r;
    double alpha, beta;
} cg;

/* ap = A p on the owned rows (the halo rows of p are the neighbours', or zero). */
static void stencil(void *ctx, int64_t b, int64_t e)
{
    cg *c = ctx;
    int64_t n = c->n;
    for (int64_t i = b; i < e; i++) {
        const double *row = c->p + (i + 1) * n, *up = row - n, *down = row + n;
        double *out = c->ap + i * n;
        for (int64_t j = 0; j < n; j++) {
            double left = j > 0 ? row[j - 1] : 0, right = j + 1 < n ? row[j + 1] : 0;
            out[j] = 4 * row[j] - left - right - up[j] - down[j];
        }
    }
}

/* x += alpha p; r -= alpha ap */
static void update_xr(void *ctx, int64_t b, int64_t e)
{
    cg *c = ctx;
    const double *p = c->p + c->n;
    for (int64_t k = b; k < e; k++) {
        c->x[k] += c->alpha * p[k];
        c->r[k] -= c->alpha * c->ap[k];
    }
}

/* p = r + beta p */
static void update_p(void *ctx, int64_t b, int64_t e)
{
    cg *c = ctx;
    double *p = c->p + c->n;
    for (int64_t k = b; k < e; k++) p[k] = c->r[k] + c->beta * p[k];
}

static void halo(cg *c, int rank, int size)
{
    int64_t n = c->n;
    int up = rank > 0 ? rank - 1 : MPI_PROC_NULL, down = rank + 1 < size ? rank + 1 : MPI_PROC_NULL;
    /* my first row goes up, the row below mine comes from down; and the other way round */
    MPI_Sendrecv(c->p + n, (int)n, MPI_DOUBLE, up, 0, c->p + (c->rows + 1) * n, (int)n, MPI_DOUBLE, down, 0,
                 MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(c->p + c->rows * n, (int)n, MPI_DOUBLE, down, 1, c->p, (int)n, MPI_DOUBLE, up, 1, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
}

static double dot(const double *a, const double *b, int64_t m)
{
    double v;
    if (prange_mpi_dot_f64(a, b, m, MPI_COMM_WORLD, &v, NULL) != 0) MPI_Abort(MPI_COMM_WORLD, 2);
    return v;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size, threads = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int64_t n = argc > 1 ? atoll(argv[1]) : 96;
    int want_threads = argc > 2 ? atoi(argv[2]) : 0;
    if (n < size || n > 1 << 14) {
        if (rank == 0) fprintf(stderr, "mpi_cg: N must be in [ranks, 16384]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    prange_mpi_init(MPI_COMM_WORLD, &threads);
    if (want_threads > 0) prange_set_num_threads(threads = want_threads);

    cg c = {.n = n, .row0 = n * rank / size};
    c.rows = n * (rank + 1) / size - c.row0;
    int64_t m = c.rows * n;
    c.p = calloc((size_t)(m + 2 * n), sizeof(double));
    c.ap = calloc((size_t)m, sizeof(double));
    c.x = calloc((size_t)m, sizeof(double));
    c.r = calloc((size_t)m, sizeof(double));
    double *b = calloc((size_t)m, sizeof(double));
    if (!c.p || !c.ap || !c.x || !c.r || !b) MPI_Abort(MPI_COMM_WORLD, 2);
    for (int64_t k = 0; k < m; k++) { /* a right-hand side with some structure */
        int64_t gi = c.row0 + k / n, gj = k % n;
        b[k] = 1 + (double)((gi * 7 + gj * 13) % 11) / 10;
    }
    memcpy(c.r, b, (size_t)m * sizeof(double));
    memcpy(c.p + n, b, (size_t)m * sizeof(double));
    double rr = dot(c.r, c.r, m), rr0 = rr;
    int it = 0, maxit = 10 * (int)n;
    while (it < maxit && rr > 1e-24 * rr0) {
        halo(&c, rank, size);
        prange_for(0, c.rows, stencil, &c);
        c.alpha = rr / dot(c.p + n, c.ap, m);
        prange_for(0, m, update_xr, &c);
        double next = dot(c.r, c.r, m);
        c.beta = next / rr;
        rr = next;
        prange_for(0, m, update_p, &c);
        it++;
        uint64_t u;
        memcpy(&u, &rr, sizeof u);
        if (rank == 0) printf("cg it=%d rr=%016llx\n", it, (unsigned long long)u);
    }
    /* The true residual b - A x, with the same stencil on x. */
    memcpy(c.p + n, c.x, (size_t)m * sizeof(double));
    halo(&c, rank, size);
    prange_for(0, c.rows, stencil, &c);
    for (int64_t k = 0; k < m; k++) c.ap[k] = b[k] - c.ap[k];
    double res, bn;
    prange_mpi_nrm2_f64(c.ap, m, MPI_COMM_WORLD, &res, NULL);
    prange_mpi_nrm2_f64(b, m, MPI_COMM_WORLD, &bn, NULL);
    int ok = res <= 1e-8 * bn;
    /* Only rank 0 writes (the launcher may cut other ranks' output into its lines). */
    int *teams = rank == 0 ? malloc((size_t)size * sizeof *teams) : NULL;
    MPI_Gather(&threads, 1, MPI_INT, teams, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("mpi_cg teams:");
        for (int r = 0; teams && r < size; r++) printf(" %d", teams[r]);
        printf("\nmpi_cg N=%lld iterations=%d relative residual=%.3e %s\n", (long long)n, it, res / bn,
               ok ? "ok" : "NOT CONVERGED");
    }
    free(teams);
    free(c.p), free(c.ap), free(c.x), free(c.r), free(b);
    MPI_Finalize();
    return !ok;
}
