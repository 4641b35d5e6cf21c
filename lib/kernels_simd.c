/*
 * kernels_simd.c — the kernels' inner loops, compiled once per ISA (see kernels_isa.h).
 * PRANGE_KERN_ISA names the copy (baseline, avx2, avx512); meson adds -mavx2 / -mavx512f
 * and, for every copy, -ffp-contract=off: a contracted a + x*y would round once instead
 * of twice and the paths would no longer agree.
 *
 * Sums are pairwise with a base case of 16 independent accumulators over at most 128
 * elements (the NumPy scheme, in 16 lanes): the lanes hide the FP-add latency (16 lanes
 * are 8 dependency chains on SSE2, 4 on AVX2, 2 on AVX-512: enough on the wide paths to
 * keep both add ports busy, where 8 lanes were not) and the error grows with log2(n).
 */
#include <string.h>

#include "kernels_isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#define LANES 16
#define LEAF 128

/* Pairwise sum of TERM(i) over [0, n), base case <= 128 terms in 16 lanes. Every term
 * lands in a lane, the tail too, so a term sees at most 8 + 4 additions in the base case.
 * A full block (2048 terms) takes a flat path: 16 leaves of 128 in a loop whose trip
 * counts are constants, then the same balanced tree over the leaf sums. The recursion
 * would split 2048 into exactly those leaves and that tree, so the bits are identical;
 * the flat loop just avoids a call and a mispredicted loop exit per leaf (~20% in cache). */
#define LANES16_SCALAR(a)                                                                   \
    ((((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))) +                  \
     (((a[8] + a[9]) + (a[10] + a[11])) + ((a[12] + a[13]) + (a[14] + a[15]))))
#if defined(__AVX__)
/* The same additions, paired alike, in 8 vector instructions: gcc 12 compiled the
 * expression above into 31 (15 scalar adds and their shuffles), a quarter of a 128-term
 * leaf's instructions on the AVX paths, where an in-cache dot is bound by how many
 * instructions it issues. Adjacent lanes first (hadd), then pairs of pairs (the two
 * halves of each hadd), then the two halves. */
static inline double lanes16(const double *a)
{
    __m256d h01 = _mm256_hadd_pd(_mm256_loadu_pd(a), _mm256_loadu_pd(a + 4));      /* a0+a1 a4+a5 a2+a3 a6+a7 */
    __m256d h23 = _mm256_hadd_pd(_mm256_loadu_pd(a + 8), _mm256_loadu_pd(a + 12)); /* a8+a9 ... */
    __m256d q = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20), _mm256_permute2f128_pd(h01, h23, 0x31));
    __m256d p = _mm256_hadd_pd(q, q); /* q0+q1 . q2+q3 . */
    return _mm_cvtsd_f64(_mm_add_sd(_mm256_castpd256_pd128(p), _mm256_extractf128_pd(p, 1)));
}
#define LANES16(a) lanes16(a)
#else
#define LANES16(a) LANES16_SCALAR(a)
#endif

#define PAIRWISE(name, ARGS, CALL, OFFSET, TERM)                                            \
    static double name##_flat2048(ARGS)                                                     \
    {                                                                                       \
        double leaf[16];                                                                    \
        for (int l = 0; l < 16; l++) {                                                      \
            double a[LANES] = {0};                                                          \
            for (int64_t i = (int64_t)l * LEAF; i < (int64_t)(l + 1) * LEAF; i += LANES)    \
                for (int k = 0; k < LANES; k++) a[k] += TERM(i + k);                        \
            leaf[l] = LANES16(a);                                                           \
        }                                                                                   \
        return LANES16(leaf); /* the balanced tree over the 16 leaves: the same pairings */ \
    }                                                                                       \
    static double name(ARGS, int64_t n)                                                     \
    {                                                                                       \
        if (n == 2048) return name##_flat2048(CALL);                                        \
        if (n > LEAF) {                                                                     \
            int64_t m = (n / 2 + LANES - 1) & ~(int64_t)(LANES - 1);                        \
            return name(CALL, m) + name(OFFSET(m), n - m);                                  \
        }                                                                                   \
        double a[LANES] = {0};                                                              \
        int64_t i = 0;                                                                      \
        for (; i + LANES <= n; i += LANES)                                                  \
            for (int k = 0; k < LANES; k++) a[k] += TERM(i + k);                            \
        for (int k = 0; i + k < n; k++) a[k] += TERM(i + k);                                \
        return LANES16(a);                                                                  \
    }

#define X1(m) x + (m)
#define X2(m) x + (m), y + (m)
#define XS(m) x + (m), s
#define T_SUM(i) x[i]
#define T_SUMF(i) (double)x[i]
#define T_DOT(i) (x[i] * y[i])
#define T_DOTF(i) ((double)x[i] * (double)y[i])
#define T_SQ(i) (x[i] * x[i])
#define T_SQF(i) ((double)x[i] * (double)x[i])
#define T_SSQ(i) ((x[i] * s) * (x[i] * s))
#define T_SSQF(i) (((double)x[i] * s) * ((double)x[i] * s))
#define A1 const double *x
#define A1F const float *x
#define A2 const double *x, const double *y
#define A2F const float *x, const float *y
#define AS const double *x, double s
#define ASF const float *x, double s
#define C1 x
#define C2 x, y
#define CS x, s

PAIRWISE(pw_sum, A1, C1, X1, T_SUM)
PAIRWISE(pw_sumf, A1F, C1, X1, T_SUMF)
PAIRWISE(pw_dot, A2, C2, X2, T_DOT)
PAIRWISE(pw_dotf, A2F, C2, X2, T_DOTF)
PAIRWISE(pw_sq, A1, C1, X1, T_SQ)
PAIRWISE(pw_sqf, A1F, C1, X1, T_SQF)
PAIRWISE(pw_ssq, AS, CS, XS, T_SSQ)
PAIRWISE(pw_ssqf, ASF, CS, XS, T_SSQF)

/* Entry points: n == 0 is a sum of nothing (the recursion wants n >= 1 lanes' worth). */
static double k_sum(const double *x, int64_t n) { return n > 0 ? pw_sum(x, n) : 0.0; }
static double k_sumf(const float *x, int64_t n) { return n > 0 ? pw_sumf(x, n) : 0.0; }
static double k_dot(const double *x, const double *y, int64_t n) { return n > 0 ? pw_dot(x, y, n) : 0.0; }
static double k_dotf(const float *x, const float *y, int64_t n) { return n > 0 ? pw_dotf(x, y, n) : 0.0; }
static double k_sq(const double *x, int64_t n) { return n > 0 ? pw_sq(x, n) : 0.0; }
static double k_sqf(const float *x, int64_t n) { return n > 0 ? pw_sqf(x, n) : 0.0; }
static double k_ssq(const double *x, double s, int64_t n) { return n > 0 ? pw_ssq(x, s, n) : 0.0; }
static double k_ssqf(const float *x, double s, int64_t n) { return n > 0 ? pw_ssqf(x, s, n) : 0.0; }

/* Blocks of B terms along the canonical tree of lib/reduce.c: each block's pairwise sum
 * from the identity (0.0 + sum: -0.0 becomes +0.0, as there), pushed on a binary counter
 * that combines a right sibling into its left one (left + right), then the pieces folded
 * right to left. The reduction's inline path with the built-in sum, minus two calls
 * through pointers and the generic stack per block (an in-cache dot: 32 blocks at 64K).
 * nb <= 2^16 (lib/reduce.c), so the counter holds at most 17 pieces. */
#define TREE(name, pw, ARGS, OFFSET)                                                  \
    static double name(ARGS, int64_t n, int64_t B)                                          \
    {                                                                                       \
        double v[64];                                                                       \
        int8_t lv[64];                                                                      \
        int64_t ix[64];                                                                     \
        int t = 0;                                                                          \
        int64_t nb = (n - 1) / B + 1;                                                       \
        for (int64_t k = 0; k < nb; k++) {                                                  \
            int64_t lo = k * B, len = n - lo < B ? n - lo : B;                              \
            double r = 0.0 + pw(OFFSET(lo), len);                                           \
            int8_t l = 0;                                                                   \
            int64_t i = k;                                                                  \
            while (t > 0 && (i & 1) && lv[t - 1] == l && ix[t - 1] == i - 1) {              \
                r = v[t - 1] + r;                                                           \
                t--, l++, i >>= 1;                                                          \
            }                                                                               \
            v[t] = r, lv[t] = l, ix[t] = i, t++;                                            \
        }                                                                                   \
        double total = v[t - 1];                                                            \
        for (int j = t - 2; j >= 0; j--) total = v[j] + total;                              \
        return total;                                                                       \
    }
TREE(k_sum_tree, pw_sum, A1, X1)
TREE(k_dot_tree, pw_dot, A2, X2)

/* max |x|: exact whatever the lane order (a maximum rounds nothing). */
#define MAXABS(name, T)                                                                     \
    static double name(const T *x, int64_t n, double m)                                     \
    {                                                                                       \
        double l[LANES];                                                                    \
        for (int k = 0; k < LANES; k++) l[k] = m;                                           \
        int64_t i = 0;                                                                      \
        for (; i + LANES <= n; i += LANES)                                                  \
            for (int k = 0; k < LANES; k++) {                                               \
                double v = __builtin_fabs((double)x[i + k]);                                \
                l[k] = v > l[k] ? v : l[k];                                                 \
            }                                                                               \
        for (; i < n; i++) {                                                                \
            double v = __builtin_fabs((double)x[i]);                                        \
            m = v > m ? v : m;                                                              \
        }                                                                                   \
        for (int k = 0; k < LANES; k++) m = l[k] > m ? l[k] : m;                            \
        return m;                                                                           \
    }
MAXABS(k_maxabs, double)
MAXABS(k_maxabsf, float)

/*
 * Min/max with index: two passes over a block that sits in L1 (a few thousand elements).
 * Pass 1 keeps the extreme in W lanes of native vectors (4 vectors: 4 compare/blend
 * chains) and ORs a NaN mask; pass 2 finds the first index holding the extreme (or the
 * first NaN) 4 vectors at a time, and the exact place with a scalar look inside the hit.
 * The answer is an index, and the caller reads the value there: any lane order finds the
 * same first index (ties, and -0 == +0, go to the lowest index), so the paths agree.
 */
#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif
typedef double vd __attribute__((vector_size(VBYTES)));
typedef float vf __attribute__((vector_size(VBYTES)));
typedef long long vl __attribute__((vector_size(VBYTES)));
typedef int vi __attribute__((vector_size(VBYTES)));

/* Whether any lane of a comparison mask is set. */
static inline int any_l(vl m)
{
#if defined(__AVX512F__)
    return _mm512_test_epi64_mask((__m512i)m, (__m512i)m) != 0;
#elif defined(__AVX__)
    return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#elif defined(__SSE2__)
    return _mm_movemask_epi8((__m128i)m) != 0;
#else
    long long r = 0;
    for (int k = 0; k < (int)(VBYTES / 8); k++) r |= m[k];
    return r != 0;
#endif
}
static inline int any_i(vi m) { return any_l((vl)m); }

/* The OR of TEST(v) over the 4 vectors at p. */
#define SEARCH(p, V, M, W, TEST)                                                            \
    __extension__({                                                                         \
        M hit_ = {0};                                                                       \
        for (int j_ = 0; j_ < 4; j_++) {                                                    \
            V v;                                                                            \
            memcpy(&v, (p) + j_ * (W), sizeof(V));                                          \
            hit_ |= (TEST);                                                                 \
        }                                                                                   \
        hit_;                                                                               \
    })

#define LOC(name, T, V, M, ANY, CMP)                                                        \
    static int64_t name(const T *x, int64_t n)                                              \
    {                                                                                       \
        enum { W = VBYTES / sizeof(T), U = 4 * W };                                         \
        T best = x[0];                                                                      \
        int64_t i = 0;                                                                      \
        M nan = {0};                                                                        \
        if (n >= U) {                                                                       \
            V b[4], v;                                                                      \
            for (int j = 0; j < 4; j++) memcpy(&b[j], x + j * W, sizeof(V));                \
            for (; i + U <= n; i += U)                                                      \
                for (int j = 0; j < 4; j++) {                                               \
                    memcpy(&v, x + i + j * W, sizeof(V));                                   \
                    M take = v CMP b[j];                                                    \
                    nan |= v != v;                                                          \
                    b[j] = (V)(((M)v & take) | ((M)b[j] & ~take));                          \
                }                                                                           \
            for (int j = 0; j < 4; j++)                                                     \
                for (int k = 0; k < W; k++) best = b[j][k] CMP best ? b[j][k] : best;       \
        }                                                                                   \
        int isnan_ = ANY(nan);                                                              \
        for (int64_t t = i; t < n; t++) {                                                   \
            isnan_ |= x[t] != x[t];                                                         \
            best = x[t] CMP best ? x[t] : best;                                             \
        }                                                                                   \
        /* Pass 2: the first NaN, or the first element equal to best. */                  \
        int64_t at = 0;                                                                     \
        V want;                                                                             \
        for (int k = 0; k < W; k++) want[k] = best;                                         \
        if (isnan_) {                                                                       \
            for (; at + U <= n; at += U)                                                    \
                if (ANY(SEARCH(x + at, V, M, W, v != v))) break;                            \
            while (x[at] == x[at]) at++;                                                    \
        } else {                                                                            \
            for (; at + U <= n; at += U)                                                    \
                if (ANY(SEARCH(x + at, V, M, W, v == want))) break;                         \
            while (x[at] != best) at++;                                                     \
        }                                                                                   \
        return at;                                                                          \
    }
LOC(k_minloc, double, vd, vl, any_l, <)
LOC(k_maxloc, double, vd, vl, any_l, >)
LOC(k_minlocf, float, vf, vi, any_i, <)
LOC(k_maxlocf, float, vf, vi, any_i, >)

static int64_t k_sum_i64(const int64_t *x, int64_t n)
{
    uint64_t s = 0;
    for (int64_t i = 0; i < n; i++) s += (uint64_t)x[i];
    return (int64_t)s;
}

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STR_(a) #a
#define STR(a) STR_(a)

const prange__kern CAT(prange__kern_, PRANGE_KERN_ISA) = {
    .name = STR(PRANGE_KERN_ISA),
    .sum = k_sum,
    .sumf = k_sumf,
    .dot = k_dot,
    .dotf = k_dotf,
    .sq = k_sq,
    .sqf = k_sqf,
    .ssq = k_ssq,
    .ssqf = k_ssqf,
    .sum_tree = k_sum_tree,
    .dot_tree = k_dot_tree,
    .maxabs = k_maxabs,
    .maxabsf = k_maxabsf,
    .minloc_f64 = k_minloc,
    .maxloc_f64 = k_maxloc,
    .minloc_f32 = k_minlocf,
    .maxloc_f32 = k_maxlocf,
    .sum_i64 = k_sum_i64,
};
