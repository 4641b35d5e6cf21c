/*
 * acc.c — the exact accumulator behind libprange-mpi's reductions (docs/mpi.md).
 *
 * A finite double is m * 2^(s - 1074) with m < 2^53 an integer and s = max(biased
 * exponent, 1) - 1 in 0 .. 2046. Word k of the accumulator counts units of 2^(32k - 1074):
 * the term's m << (s mod 32) (up to 84 bits) is added as its low 32 bits to word s / 32
 * and its high bits (below 2^53) to the word above: two integer additions, no rounding,
 * no branch on the data. A normalised accumulator has words 0..65 in [0, 2^32) (the top
 * word keeps the sign and every carry), so 1023 more additions of magnitude < 2^53 fit in
 * an int64_t; every 1023 terms the carries move up (normalise). Additions of integers
 * commute: any order, thread count or rank count gives the same words, hence the same
 * rounding, done once at the end. The same design as Neal's "small superaccumulator"
 * (xsum) and ExBLAS's exact accumulator; docs/mpi.md says why this one over binned sums.
 *
 * Infinities and NaN (biased exponent 2047) go through the fast loop like any term, which
 * only notes that one passed; the rare block that had one is walked again to take the
 * garbage words back out and count the special values instead.
 */
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
    /* Both normalised (words below 2^32, pending 0 after the fold): the sums fit. */
    if (a->pending) prange__acc_normalise(a);
    prange_mpi_acc t = *b;
    if (t.pending) prange__acc_normalise(&t);
    for (int k = 0; k < PRANGE_MPI_ACC_WORDS; k++) a->word[k] += t.word[k];
    prange__acc_normalise(a);
    a->pos_inf += t.pos_inf;
    a->neg_inf += t.neg_inf;
    a->nan += t.nan;
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

/* Terms of one block: x[i] (y NULL), or x[i] * y[i] as product + fma error (y set), or
 * (x[i] * scale * scale2)^2 the same way (square set). Each term adds to a word at most
 * once, a product twice: the caller keeps pending + those additions <= PRANGE__ACC_ROOM. */
static void block(prange_mpi_acc *a, const double *x, const double *y, int64_t n, int square, double scale,
                  double scale2)
{
    int64_t *w = a->word;
    uint64_t sp = 0;
    if (!y && !square) {
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = bits_of(x[i]);
            sp |= (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
            put(w, u, 1);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double xi = square ? x[i] * scale * scale2 : x[i], yi = square ? xi : y[i];
            double p = xi * yi;
            uint64_t u = bits_of(p);
            sp |= (u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
            put(w, u, 1);
            put(w, bits_of(fma(xi, yi, -p)), 1);
        }
    }
    a->pending += (y || square) ? 2 * n : n;
    if (!sp) return;
    /* Rare: take the special terms back out and count them. A product that is inf or NaN
     * had an error term that is inf or NaN too: both go. */
    for (int64_t i = 0; i < n; i++) {
        double xi = square ? x[i] * scale * scale2 : x[i], yi = square ? xi : (y ? y[i] : 1);
        double p = (y || square) ? xi * yi : xi;
        uint64_t u = bits_of(p);
        if (!is_special(u)) continue;
        put(w, u, -1);
        if (y || square) put(w, bits_of(fma(xi, yi, -p)), -1);
        count_special(a, u);
    }
}

void prange__acc_terms(prange_mpi_acc *a, const double *x, const double *y, int64_t n, int square, double scale,
                       double scale2)
{
    int64_t per = (y || square) ? 2 : 1;
    while (n > 0) {
        if (a->pending > PRANGE__ACC_ROOM - per) prange__acc_normalise(a);
        int64_t m = (PRANGE__ACC_ROOM - a->pending) / per;
        if (m > n) m = n;
        block(a, x, y, m, square, scale, scale2);
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
