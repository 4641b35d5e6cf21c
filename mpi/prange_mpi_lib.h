/* prange_mpi_lib.h — libprange-mpi internals shared by its files. */
#ifndef PRANGE_MPI_LIB_H
#define PRANGE_MPI_LIB_H

#include "prange_mpi.h"

/* Additions of magnitude < 2^53 a normalised word takes before it could overflow:
 * 2^32 + 1023 * 2^53 < 2^63. */
#define PRANGE__ACC_ROOM 1023

/* Carry every word's bits above 32 into the next (the top word keeps its sign). */
void prange__acc_normalise(prange_mpi_acc *a);
/* a += b, exactly (b is not changed). */
void prange__acc_combine(prange_mpi_acc *a, const prange_mpi_acc *b);
/* Add n terms: x[i]; x[i] * y[i] exactly (y non-NULL); or (x[i] * scale * scale2)^2
 * exactly (square non-zero; y NULL). */
void prange__acc_terms(prange_mpi_acc *a, const double *x, const double *y, int64_t n, int square, double scale,
                       double scale2);

#endif
