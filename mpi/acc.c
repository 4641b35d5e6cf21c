/*
 * acc.c — the exact accumulator behind libprange-mpi's reductions (docs/mpi.md, "Method").
 *
 * A finite double is m * 2^(s - 1074) with m < 2^53 an integer and s = max(biased
 * exponent, 1) - 1 in 0 .. 2046. Word k of the accumulator counts units of 2^(32k - 1074):
 * the term's m << (s mod 32) (up to 84 bits) is added as its low 32 bits to word s / 32
 * and its high bits (below 2^53) to the word above: two integer additions, no rounding
 * (put). A normalised accumulator has words 0..65 in [0, 2^32) (the top word keeps the sign
 * and every carry), so PRANGE__ACC_ROOM = 1023 more additions of magnitude < 2^53 fit in an
 * int64_t (`pending` counts them); then the carries move up (normalise). Additions of
 * integers commute: any order, thread count or rank count gives the same words, hence the
 * same rounding, done once at the end. The same design as Neal's "small superaccumulator"
 * (xsum) and ExBLAS's exact accumulator.
 *
 * Arrays go through blocks of up to 1016 terms (fast_block): a vector pass extracts each
 * block's terms exactly into one to three double sums (see the comment there), which enter
 * the words as 3 terms; only terms far below the block's largest, infinities, NaN and
 * blocks near the overflow threshold go into the words one by one (words_block), where a
 * special value passes like any term and the rare block that had one is walked again to
 * take its words back out and count it instead.
 */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "prange_mpi_lib.h"

#define TOP (PRANGE_MPI_ACC_WORDS - 1)

static inline uint64_t bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Add (sign = +1) or take back (sign = -1) the words of the term with bits u. Shifts of
 * unsigned values and the two's-complement sign trick are well defined; the arithmetic
 * right shift of a negative int64_t (normalise) is what gcc and clang do. */
static inline void put(int64_t *w, uint64_t u, int64_t sign)
{
    uint64_t e = (u >> 52) & 0x7ff, nz = e != 0;
    uint64_t m = (u & 0xfffffffffffffull) | (nz << 52), s = e - nz;
    uint64_t low = s & 31, k = s >> 5;
    int64_t neg = (int64_t)u >> 63; /* 0 or -1 */
    int64_t lo = (int64_t)((m << low) & 0xffffffffu), hi = (int64_t)(m >> (32 - low));
    w[k] += ((lo ^ neg) - neg) * sign;
    w[k + 1] += ((hi ^ neg) - neg) * sign;
}

static inline int is_special(uint64_t u) { return ((u >> 52) & 0x7ff) == 0x7ff; }

static void count_special(prange_mpi_acc *a, uint64_t u)
{
    if (u & 0xfffffffffffffull) a->nan++;
    else if (u >> 63) a->neg_inf++;
    else a->pos_inf++;
}

void prange__acc_normalise(prange_mpi_acc *a)
{
    for (int k = 0; k < TOP; k++) {
        int64_t c = a->word[k] >> 32;
        a->word[k] -= (int64_t)((uint64_t)c << 32);
        a->word[k + 1] += c;
    }
    a->pending = 0;
}

void prange__acc_combine(prange_mpi_acc *a, const prange_mpi_acc *b)
{
    /* Word k of either is below 2^32 + pending 2^53 (normalised, then pending additions),
     * so the sum takes a's pending + b's + 1 (b's normalised part) of the room. */
    if (a->pending + b->pending + 1 > PRANGE__ACC_ROOM) prange__acc_normalise(a);
    if (b->pending + 1 > PRANGE__ACC_ROOM) { /* not with the room this library leaves */
        prange_mpi_acc t = *b;
        prange__acc_normalise(&t);
        prange__acc_combine(a, &t);
        return;
    }
    for (int k = 0; k < PRANGE_MPI_ACC_WORDS; k++) a->word[k] += b->word[k];
    a->pending += b->pending + 1;
    a->pos_inf += b->pos_inf;
    a->neg_inf += b->neg_inf;
    a->nan += b->nan;
}

void prange_mpi_acc_add(prange_mpi_acc *acc, double v)
{
    uint64_t u = bits_of(v);
    if (is_special(u)) {
        count_special(acc, u);
        return;
    }
    put(acc->word, u, 1);
    if (++acc->pending >= PRANGE__ACC_ROOM) prange__acc_normalise(acc);
}

void prange_mpi_acc_add_prod(prange_mpi_acc *acc, double a, double b)
{
    double p = a * b;
    if (is_special(bits_of(p))) {
        count_special(acc, bits_of(p));
        return;
    }
    prange_mpi_acc_add(acc, p);
    prange_mpi_acc_add(acc, fma(a, b, -p));
}

/* Exact words of terms x[0..n) (n <= PRANGE__ACC_ROOM - pending): the general path. */
static void words_block(prange_mpi_acc *a, const double *x, int64_t n)
{
    /* Terms that follow each other mostly share an exponent, so one word array would make
     * every addition wait for the previous one to the same word (a store-to-load chain):
     * LANES arrays, merged at the end, let them overlap. */
    enum { LANES = 4 };
    int64_t w[LANES][PRANGE_MPI_ACC_WORDS];
    memset(w, 0, sizeof w);
    uint64_t sp = 0;
    int64_t i = 0;
    for (; i < n; i++) {
        uint64_t u = bits_of(x[i]);
        sp |= (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
        put(w[i & (LANES - 1)], u, 1);
    }
    /* Each lane holds below (its additions) * 2^53; all of them together below
     * (pending + n) * 2^53 on top of a normalised word: within PRANGE__ACC_ROOM. */
    for (int k = 0; k < PRANGE_MPI_ACC_WORDS; k++) a->word[k] += w[0][k] + w[1][k] + w[2][k] + w[3][k];
    a->pending += n;
    if (!sp) return;
    /* Rare: take the special terms back out and count them instead. */
    for (i = 0; i < n; i++) {
        uint64_t u = bits_of(x[i]);
        if (!is_special(u)) continue;
        put(a->word, u, -1);
        count_special(a, u);
    }
}

/*
 * The fast path for a block of n <= 1016 terms (docs/mpi.md, "Method"): with |x| < 2^E
 * for the block, S1 = 1.5 2^(L1 + 52) and L1 = E - 42, (S1 + x) - S1 is x rounded to a
 * multiple of 2^L1, exactly, and x minus it is exact too (below 2^(L1 - 1)); the same
 * again with L2 = L1 - 42 and L3 = L2 - 42 on the remainders (none below 2^-1074). Each
 * level's sum over the block is exact in a double (at most 1023 multiples of 2^L below
 * 2^(L + 53)), so the three sums and the remainders below 2^L3 (rare: only for terms more
 * than ~2^73 below the block's largest) carry the whole block into the words exactly:
 * 3 word additions instead of n, and the loop is plain vector arithmetic. Infinities,
 * NaN, or a block near the overflow threshold take the general path.
 */
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PRANGE__CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PRANGE__CLONES
#endif

/* The sums of `levels` levels (1, 2 or 3) over the multiple-of-8 part; returns whether a
 * remainder is left. Two sets of sums (they are exact: any grouping gives the same) keep
 * two additions in flight. */
PRANGE__CLONES static int level_sums(const double *x, int64_t n8, int levels, const double *S, double *out)
{
    v4d S1 = {S[0], S[0], S[0], S[0]}, S2 = {S[1], S[1], S[1], S[1]}, S3 = {S[2], S[2], S[2], S[2]};
    v4d a1 = {0, 0, 0, 0}, a2 = a1, a3 = a1, b1 = a1, b2 = a1, b3 = a1;
    v4i nz = {0, 0, 0, 0};
    if (levels == 1) {
        /* Level 1 only, the remainders summed as they are: exact when each is a multiple of
         * 2^L2, which holds for every term of magnitude >= 2^(L2 + 52) = S[3] (its last
         * bit is there) and for zeros; others, and terms not below 2^E = S[4] (E may be a
         * guess here), make the caller take more levels or measure E. */
        const v4i magnitude = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
        v4d T = {S[3], S[3], S[3], S[3]}, zero = {0, 0, 0, 0}, top = {S[4], S[4], S[4], S[4]};
        for (int64_t i = 0; i < n8; i += 8) {
            v4d v, w;
            memcpy(&v, x + i, sizeof v);
            memcpy(&w, x + i + 4, sizeof w);
            v4d q1 = (S1 + v) - S1, p1 = (S1 + w) - S1;
            a1 += q1, b1 += p1;
            a2 += v - q1, b2 += w - p1;
            v4d av = (v4d)((v4i)v & magnitude), aw = (v4d)((v4i)w & magnitude);
            nz |= ((av < T) & (v != zero)) | ((aw < T) & (w != zero)) | (av >= top) | (aw >= top);
        }
    } else if (levels == 2) {
        for (int64_t i = 0; i < n8; i += 8) {
            v4d v, w;
            memcpy(&v, x + i, sizeof v);
            memcpy(&w, x + i + 4, sizeof w);
            v4d q1 = (S1 + v) - S1, r1 = v - q1, p1 = (S1 + w) - S1, t1 = w - p1;
            v4d q2 = (S2 + r1) - S2, r2 = r1 - q2, p2 = (S2 + t1) - S2, t2 = t1 - p2;
            a1 += q1, b1 += p1;
            a2 += q2, b2 += p2;
            nz |= (r2 != 0) | (t2 != 0);
        }
    } else {
        for (int64_t i = 0; i < n8; i += 8) {
            v4d v, w;
            memcpy(&v, x + i, sizeof v);
            memcpy(&w, x + i + 4, sizeof w);
            v4d q1 = (S1 + v) - S1, r1 = v - q1, p1 = (S1 + w) - S1, t1 = w - p1;
            v4d q2 = (S2 + r1) - S2, r2 = r1 - q2, p2 = (S2 + t1) - S2, t2 = t1 - p2;
            v4d q3 = (S3 + r2) - S3, r3 = r2 - q3, p3 = (S3 + t2) - S3, t3 = t2 - p3;
            a1 += q1, b1 += p1;
            a2 += q2, b2 += p2;
            a3 += q3, b3 += p3;
            nz |= (r3 != 0) | (t3 != 0);
        }
    }
    a1 += b1, a2 += b2, a3 += b3;
    out[0] = (a1[0] + a1[1]) + (a1[2] + a1[3]); /* exact: multiples of 2^L1 below 2^(L1 + 53) */
    out[1] = (a2[0] + a2[1]) + (a2[2] + a2[3]);
    out[2] = (a3[0] + a3[1]) + (a3[2] + a3[3]);
    return (nz[0] | nz[1] | nz[2] | nz[3]) != 0;
}

/* The largest |x[i]| (a NaN is skipped: the level sums catch it). */
PRANGE__CLONES static double max_abs(const double *x, int64_t n)
{
    const v4i magnitude = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    v4d mx = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v4d v;
        memcpy(&v, x + i, sizeof v);
        v = (v4d)((v4i)v & magnitude);
        v4i gt = v > mx;
        mx = (v4d)(((v4i)v & gt) | ((v4i)mx & ~gt));
    }
    double m = 0;
    for (int l = 0; l < 4; l++) m = mx[l] > m ? mx[l] : m;
    for (; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

/* The extraction constants for blocks below 2^e: S[j] = 1.5 2^(Lj + 52) for the three
 * levels, S[3] = 2^(L2 + 52), S[4] = 2^e. */
static void constants(int e, double *S)
{
    for (int j = 0; j < 3; j++) {
        int l = e - 42 * (j + 1) > -1074 ? e - 42 * (j + 1) : -1074;
        S[j] = ldexp(1.5, l + 52);
        if (j == 1) S[3] = ldexp(1.0, l + 52);
    }
    S[4] = ldexp(1.0, e);
}

/* *e_guess: the exponent bound of the caller's previous block (INT_MIN: none), tried first:
 * neighbouring blocks mostly share it, and a wrong guess is caught (a term at or above
 * 2^e, or too small for one level), so the block is only measured when it changed. */
static void fast_block(prange_mpi_acc *a, const double *x, int64_t n, int *e_guess)
{
    double S[5], sums[3];
    int64_t n4 = n & ~(int64_t)7;
    int rest = 1;
    if (*e_guess != INT_MIN) {
        constants(*e_guess, S);
        rest = level_sums(x, n4, 1, S, sums);
    }
    if (rest) {
        double m = max_abs(x, n);
        if (!(m <= 0x1p1000)) { /* inf, or too close to overflow for S1 */
            words_block(a, x, n);
            return;
        }
        (void)frexp(m, e_guess);
        constants(*e_guess, S);
        /* One level when every term is within 2^31 of the largest (or zero), the usual
         * case; else two, which cover terms down to 2^-84 of it; else three. */
        rest = level_sums(x, n4, 1, S, sums);
        if (rest) rest = level_sums(x, n4, 2, S, sums);
        if (rest) rest = level_sums(x, n4, 3, S, sums);
    }
    if (!isfinite(sums[0]) || !isfinite(sums[1]) || !isfinite(sums[2])) { /* a NaN */
        words_block(a, x, n);
        return;
    }
    for (int j = 0; j < 3; j++) put(a->word, bits_of(sums[j]), 1);
    a->pending += 3;
    if (rest) /* the remainders below 2^L3, one by one */
        for (int64_t i = 0; i < n4; i++) {
            double r = x[i];
            for (int j = 0; j < 3; j++) r -= (S[j] + r) - S[j];
            if (r != 0) put(a->word, bits_of(r), 1), a->pending++;
        }
    for (int64_t i = n4; i < n; i++) prange_mpi_acc_add(a, x[i]); /* the last 0..7 */
}

/* The terms of products x[i] * y[i] (or squares of x[i] * scale * scale2): the rounded
 * product and its error (0 when the product is not finite: the infinity or NaN alone is
 * what counts). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("fma", "default"))) /* an fma instruction, not a libm call */
#endif
static void products(double *t, const double *x, const double *y, int64_t n, int square, double scale,
                     double scale2)
{
    for (int64_t i = 0; i < n; i++) {
        double xi = square ? x[i] * scale * scale2 : x[i], yi = square ? xi : y[i];
        double p = xi * yi;
        t[i] = p;
        t[n + i] = isfinite(p) ? fma(xi, yi, -p) : 0;
    }
}

void prange__acc_terms(prange_mpi_acc *a, const double *x, const double *y, int64_t n, int square, double scale,
                       double scale2)
{
    enum { BLOCK = 1016 }; /* terms per block: the fast path's bound, and room for 3 more */
    double t[BLOCK];
    int prod = y || square, e_terms = INT_MIN, e_errors = INT_MIN;
    while (n > 0) {
        int64_t m = prod ? BLOCK / 2 : BLOCK;
        if (m > n) m = n;
        /* A block adds at most m + 3 to a word (most often 3: normalise seldom). */
        if (a->pending + m + 3 > PRANGE__ACC_ROOM) prange__acc_normalise(a);
        if (prod) { /* the products, then their errors: each block with its own scale */
            products(t, x, y, m, square, scale, scale2);
            fast_block(a, t, m, &e_terms);
            if (a->pending + m + 3 > PRANGE__ACC_ROOM) prange__acc_normalise(a);
            fast_block(a, t + m, m, &e_errors);
        } else {
            fast_block(a, x, m, &e_terms);
        }
        x += m;
        if (y) y += m;
        n -= m;
    }
}

/* floor(|V| / 2^pos) mod 2^64 of the normalised non-negative accumulator, and whether any
 * bit below pos is set. Words 0..TOP-1 hold 32 bits each; the top word holds the rest. */
static uint64_t window(const int64_t *w, int pos, int *sticky)
{
    uint64_t r = 0;
    *sticky = 0;
    for (int k = 0; k < PRANGE_MPI_ACC_WORDS; k++) {
        uint64_t v = (uint64_t)w[k];
        if (!v) continue;
        int at = 32 * k - pos;
        if (at >= 0) {
            if (at < 64) r |= v << at;
        } else if (-at < 64) {
            r |= v >> -at;
            *sticky |= (v & ((1ull << -at) - 1)) != 0;
        } else {
            *sticky = 1;
        }
    }
    return r;
}

double prange_mpi_acc_round(const prange_mpi_acc *acc)
{
    if (acc->nan || (acc->pos_inf && acc->neg_inf)) return NAN;
    if (acc->pos_inf) return INFINITY;
    if (acc->neg_inf) return -INFINITY;
    prange_mpi_acc a = *acc;
    prange__acc_normalise(&a);
    int neg = a.word[TOP] < 0;
    if (neg) { /* magnitude: negate every word and carry again */
        for (int k = 0; k < PRANGE_MPI_ACC_WORDS; k++) a.word[k] = -a.word[k];
        prange__acc_normalise(&a);
    }
    int top = TOP;
    while (top >= 0 && a.word[top] == 0) top--;
    if (top < 0) return 0.0;
    int p = 32 * top + 63 - __builtin_clzll((uint64_t)a.word[top]); /* highest set bit */
    double r;
    int sticky;
    if (p < 53) {
        r = ldexp((double)window(a.word, 0, &sticky), -1074); /* exact: below 2^53 units */
    } else {
        /* 54 bits from bit p down: 53 for the significand, one guard; sticky below. */
        uint64_t t = window(a.word, p - 53, &sticky) & ((1ull << 54) - 1);
        uint64_t m = t >> 1;
        if ((t & 1) && (sticky || (m & 1))) m++; /* to nearest, ties to even */
        r = ldexp((double)m, p - 52 - 1074);     /* normal, exact, or +inf past DBL_MAX */
    }
    return neg ? -r : r;
}
