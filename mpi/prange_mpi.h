/*
 * prange_mpi.h — libprange-mpi: hybrid MPI + libprange, with reductions whose bits do not
 * depend on the decomposition (see docs/mpi.md).
 *
 * An optional companion library (pkg-config prange-mpi), built when an MPI implementation
 * is found; the core library never depends on MPI. It follows prange.h's conventions:
 * functions return 0 or a negative PRANGE_E* code, results go through out-parameters,
 * options come last. An MPI call that fails (with the communicator's error handler set
 * to MPI_ERRORS_RETURN) gives PRANGE_EIO.
 *
 * Reproducible reductions. Each rank holds a contiguous part of a global array (in rank
 * order; any part may be empty). prange_mpi_sum_f64, _dot_f64, _nrm2_f64 and
 * prange_mpi_reduce_f64 return bitwise the same double on every rank, for any number of
 * ranks, any split of the array among them and any thread count: every term enters an
 * exact fixed-point accumulator covering the whole double range (prange_mpi_acc), the
 * threads' and the ranks' accumulators add exactly (integer additions, so the order does
 * not matter), and the exact total is rounded once, to nearest even. The sum is the
 * correctly rounded exact sum; with MPI_COMM_SELF it is the same double a single process
 * gets (a laptop run equals the cluster run).
 *
 * Special values: any NaN, or +inf and -inf together, give NaN; otherwise an infinity
 * gives that infinity; an exact sum beyond the double range rounds to +-inf (as IEEE
 * rounding does). An exact zero sum is +0.0 (even for a sum of -0.0 terms).
 */
#ifndef PRANGE_MPI_H
#define PRANGE_MPI_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include <prange.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Words of the fixed-point part of prange_mpi_acc (32 value bits each, 2^-1074 units). */
#define PRANGE_MPI_ACC_WORDS 67

/**
 * An exact accumulator for doubles: word k holds a signed count of 2^(32k - 1074), so the
 * words together hold any sum of up to 2^63 finite doubles exactly. Treat it as opaque:
 * fill it with prange_mpi_acc_add / _add_prod inside a prange_mpi_reduce_f64 body. Its
 * identity is all zero bytes.
 */
typedef struct prange_mpi_acc {
    int64_t word[PRANGE_MPI_ACC_WORDS];
    int64_t pending;   /**< additions since the words were last normalised */
    int64_t pos_inf;   /**< +inf terms seen */
    int64_t neg_inf;   /**< -inf terms seen */
    int64_t nan;       /**< NaN terms seen */
} prange_mpi_acc;

/**
 * prange_mpi_acc_add - add one double to acc, exactly (infinities and NaN are counted).
 * Not thread-safe on one acc (each body gets its own).
 */
PRANGE_API void prange_mpi_acc_add(prange_mpi_acc *acc, double v);

/**
 * prange_mpi_acc_add_prod - add a * b: the rounded product and its rounding error (an
 * fma), so the product enters exactly unless |a * b| < 2^-969 (where the error term is
 * itself rounded: at most 2^-1075 per such product) or a * b overflows (then the rounded
 * product, an infinity, is what is added).
 */
PRANGE_API void prange_mpi_acc_add_prod(prange_mpi_acc *acc, double a, double b);

/**
 * prange_mpi_acc_round - the exact sum held in acc rounded once to the nearest double
 * (ties to even), with the special values described above. acc is not changed.
 */
PRANGE_API double prange_mpi_acc_round(const prange_mpi_acc *acc);

/**
 * prange_mpi_acc_allreduce - add the accumulators of every rank of comm, exactly; every
 * rank receives the total in acc. A collective (every rank of comm calls it).
 * Returns: 0; PRANGE_EINVAL for a NULL acc; PRANGE_EIO when MPI fails.
 */
PRANGE_API int prange_mpi_acc_allreduce(prange_mpi_acc *acc, MPI_Comm comm);

/**
 * prange_mpi_reducer - the prange_reducer of prange_mpi_acc (identity zero, exact
 * combine), for a prange_reduce whose body calls prange_mpi_acc_add.
 */
PRANGE_API const prange_reducer *prange_mpi_reducer(void);

/**
 * prange_mpi_reduce_f64 - the generic reproducible reduction: body folds local
 * iterations [b, e) of [0, n_local) into the prange_mpi_acc it is given (its `acc`
 * argument), with prange_mpi_acc_add / _add_prod; the local accumulators of every rank
 * are added exactly and the total rounded once. The result's bits depend only on the
 * multiset of terms the bodies add, across all ranks: not on the ranks, the split, the
 * threads, the grain or the order. A collective on comm; result is the same on every rank.
 * @opts: NULL (blocks of 2^14 iterations) or the local loop's options (as prange_reduce's;
 *        its grain and cost hint change the speed, never the bits).
 * Returns: 0; PRANGE_EINVAL (n_local < 0, NULL body or result, bad opts), found before
 * any communication, so that rank leaves the collective (as with MPI's own collectives,
 * every rank must pass valid arguments); PRANGE_ENOMEM (as prange_reduce); PRANGE_EIO
 * (MPI).
 */
PRANGE_API int prange_mpi_reduce_f64(int64_t n_local, prange_reduce_fn body, void *ctx, MPI_Comm comm,
                                     double *result, const prange_opts *opts);

/**
 * prange_mpi_sum_f64 - the correctly rounded sum of the global array whose local part is
 * x[0..n_local), the same double on every rank for any decomposition (see above). Error
 * bound: |result - exact| <= 2^-53 |exact| (one rounding; none of prange_sum_f64's
 * log2(n) growth). A collective on comm.
 * Returns: 0; PRANGE_EINVAL (n_local < 0, x NULL with n_local > 0, result NULL, bad
 * opts); PRANGE_ENOMEM; PRANGE_EIO (MPI).
 */
PRANGE_API int prange_mpi_sum_f64(const double *x, int64_t n_local, MPI_Comm comm, double *result,
                                  const prange_opts *opts);

/**
 * prange_mpi_dot_f64 - sum of x[i] * y[i] over the global arrays, each product entering
 * exactly (prange_mpi_acc_add_prod), the total rounded once: correctly rounded unless
 * some |x[i] y[i]| < 2^-969 (then |result - exact| <= 2^-53 |exact| + m 2^-1075 for m such
 * products) or a product overflows. Decomposition-independent bits as prange_mpi_sum_f64.
 * Returns and arguments as prange_mpi_sum_f64 (x and y NULL only with n_local == 0).
 */
PRANGE_API int prange_mpi_dot_f64(const double *x, const double *y, int64_t n_local, MPI_Comm comm,
                                  double *result, const prange_opts *opts);

/**
 * prange_mpi_nrm2_f64 - the Euclidean norm of the global array, without overflow or
 * underflow: every element is scaled by one power of two taken from the global largest
 * |x[i]| (an exact scaling except for elements more than 2^1022 below the largest), the
 * scaled squares are summed exactly, rounded once, and sqrt(s) is scaled back. Error:
 * |r - norm| <= 1.5 * 2^-53 norm (the rounded sum's 2^-53 halved by sqrt, plus sqrt's own),
 * plus n * 2^-1072 norm from elements more than 2^484 below the largest (docs/mpi.md);
 * decomposition-independent bits as prange_mpi_sum_f64. Any NaN gives NaN, otherwise any
 * infinity +inf. Two collectives on comm (the maximum, then the sum).
 * Returns and arguments as prange_mpi_sum_f64.
 */
PRANGE_API int prange_mpi_nrm2_f64(const double *x, int64_t n_local, MPI_Comm comm, double *result,
                                   const prange_opts *opts);

/**
 * prange_mpi_init - hand this node's cores to the node's ranks' teams: the ranks of comm
 * on this node (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)) exchange their CPU sets; the
 * ranks bound to the same set split its cores into contiguous shares in rank order (as
 * sched/ranks.c does from the launcher's variables, but from what the ranks really are),
 * and this rank's team size becomes its share (prange_set_num_threads; at least 1). Call
 * it after MPI_Init, before the loops; a collective on comm. An explicit PRANGE_NUM_THREADS
 * in the environment is left as it is.
 * @threads: NULL, or receives the team size (prange_num_threads() afterwards).
 * Returns: 0; PRANGE_EIO (MPI, or the CPU set could not be read).
 */
PRANGE_API int prange_mpi_init(MPI_Comm comm, int *threads);

/**
 * prange_mpi_print_config - prange_print_config of every rank of comm, written by rank 0
 * to out (NULL = stderr) in rank order, each under a line "== rank R of N (host H,
 * node-local rank L of K)". A collective; only rank 0 writes.
 * Returns: 0; PRANGE_EIO (MPI or a write failed); PRANGE_ENOMEM.
 */
PRANGE_API int prange_mpi_print_config(MPI_Comm comm, FILE *out);

#ifdef __cplusplus
}
#endif
#endif /* PRANGE_MPI_H */
