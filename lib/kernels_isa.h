/*
 * kernels_isa.h — the kernels' inner loops, one table per instruction set.
 *
 * lib/kernels_simd.c is compiled once per ISA (meson.build: baseline, and on x86-64 also
 * -mavx2 and -mavx512f), always with -ffp-contract=off, each copy defining one table
 * below. lib/kernels.c picks one table for the process (prange__kern, PRANGE_ISA) and
 * calls only through it. The arithmetic is written once, in 16 fixed lanes: every copy
 * does the same IEEE operations in the same order (the compiler only maps the lanes onto
 * 8 xmm, 4 ymm or 2 zmm registers), so every path gives the same bits.
 */
#ifndef PRANGE_KERNELS_ISA_H
#define PRANGE_KERNELS_ISA_H

#include <stddef.h>
#include <stdint.h>

typedef struct prange__kern {
    const char *name; /* "baseline", "avx2", "avx512" */
    /* Pairwise sums over [0, n), n >= 0 (floats are widened to double). */
    double (*sum)(const double *x, int64_t n);
    double (*sumf)(const float *x, int64_t n);
    double (*dot)(const double *x, const double *y, int64_t n);
    double (*dotf)(const float *x, const float *y, int64_t n);
    double (*sq)(const double *x, int64_t n);                /* sum of x^2 */
    double (*sqf)(const float *x, int64_t n);
    double (*ssq)(const double *x, double s, int64_t n);     /* sum of (x*s)^2 */
    double (*ssqf)(const float *x, double s, int64_t n);
    /* What prange_reduce folds inline with prange_reducer_sum_f64 over blocks of B terms
     * (n >= 1, B >= 1), each block folded from the identity by sum / dot: the blocks
     * along the canonical tree (lib/reduce.c), without a call through a pointer a block. */
    double (*sum_tree)(const double *x, int64_t n, int64_t B);
    double (*dot_tree)(const double *x, const double *y, int64_t n, int64_t B);
    /* max |x| over [0, n) from m (NaNs ignored: nrm2 asks only when there are none). */
    double (*maxabs)(const double *x, int64_t n, double m);
    double (*maxabsf)(const float *x, int64_t n, double m);
    /* The index in [0, n), n >= 1, of the first NaN if any, else of the first smallest
     * (largest) element. */
    int64_t (*minloc_f64)(const double *x, int64_t n);
    int64_t (*maxloc_f64)(const double *x, int64_t n);
    int64_t (*minloc_f32)(const float *x, int64_t n);
    int64_t (*maxloc_f32)(const float *x, int64_t n);
    /* Wrapping integer sum. */
    int64_t (*sum_i64)(const int64_t *x, int64_t n);
} prange__kern;

enum { PRANGE__ISA_BASELINE, PRANGE__ISA_AVX2, PRANGE__ISA_AVX512, PRANGE__ISA_COUNT };

extern const prange__kern prange__kern_baseline;
#if defined(PRANGE_HAVE_ISA_X86)
extern const prange__kern prange__kern_avx2;
extern const prange__kern prange__kern_avx512;
#endif

/* The table the kernels use (chosen on first use from PRANGE_ISA and the CPU). */
const prange__kern *prange__kern_get(void);
/* The table for one kernel call over `bytes` of input: under PRANGE_ISA=auto the baseline
 * path when the input is larger than the last-level cache (memory-bound, where it measured
 * faster; every path gives the same bits), else prange__kern_get(). */
const prange__kern *prange__kern_for(double bytes);
/* Whether this build and this CPU can run path `isa` (PRANGE__ISA_*). */
int prange__isa_supported(int isa);
/* Tests: use path `isa` from now on; 0, or PRANGE_ENOSYS when it cannot run here. */
int prange__isa_set(int isa);
/* One line for prange_print_config: the path in use, why, and what the CPU offers. */
void prange__isa_describe(char *buf, size_t size);

#endif
