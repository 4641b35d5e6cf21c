/*
 * mpi_repro.c THREADS | config — libprange-mpi's reductions are decomposition-independent and
 * correctly rounded (run by tests/mpi_repro.sh under mpirun -np 1..4 with 1 and 2 threads).
 *
 * Every rank builds the same global arrays (random, huge and tiny, cancelling, subnormal,
 * the whole exponent range, overflow, ties, specials) and takes its part under several
 * splits (even, uneven, everything on the last rank, an empty middle rank). For each it
 * checks that every rank got the same bits, that they equal the single-process result
 * (MPI_COMM_SELF over the whole array on rank 0) and, for sum, dot and the generic form,
 * the exactly rounded result of an independent big-integer reference written here.
 * Rank 0 prints one line of result bits per case: the script compares those lines across
 * rank and thread counts. Exits 1 on any mismatch.
 * `mpi_repro config`: prange_mpi_init, then prange_mpi_print_config to stdout.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <prange_mpi.h>

static int rank, size, failures;

static uint64_t bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* ---- the reference: sign-magnitude big integers in units of 2^-2148 ---------------- */

#define RW 140 /* 32-bit words: 4480 bits > 2148 + 2046 + 106 + 64 */
typedef struct {
    uint32_t pos[RW], neg[RW];
} ref;

static void ref_add_int(uint32_t *w, unsigned __int128 v, int at) /* w += v << at */
{
    int k = at / 32, sh = at % 32;
    unsigned __int128 carry = 0;
    uint64_t part[6] = {0};
    /* v << sh split into 32-bit words (v < 2^106, so 5 words are enough). */
    unsigned __int128 lo = v << sh; /* may lose bits above 128: keep them separately */
    unsigned __int128 hi = sh ? v >> (128 - sh) : 0;
    for (int i = 0; i < 4; i++) part[i] = (uint64_t)(lo >> (32 * i)) & 0xffffffffu;
    part[4] = (uint64_t)hi & 0xffffffffu;
    for (int i = 0; k + i < RW; i++) {
        unsigned __int128 s = (unsigned __int128)w[k + i] + (i < 6 ? part[i] : 0) + carry;
        w[k + i] = (uint32_t)s;
        carry = s >> 32;
        if (i >= 5 && !carry) break;
    }
}

/* A finite double as (m, s): |v| = m 2^(s - 1074). */
static void split(double v, uint64_t *m, int *s)
{
    uint64_t u = bits(v), e = (u >> 52) & 0x7ff;
    *m = (u & 0xfffffffffffffull) | (e ? 1ull << 52 : 0);
    *s = e ? (int)e - 1 : 0;
}

static void ref_add(ref *r, double v)
{
    uint64_t m;
    int s;
    split(v, &m, &s);
    ref_add_int(signbit(v) ? r->neg : r->pos, m, s + 1074);
}

static void ref_add_prod(ref *r, double a, double b)
{
    uint64_t ma, mb;
    int sa, sb;
    split(a, &ma, &sa);
    split(b, &mb, &sb);
    ref_add_int(signbit(a) != signbit(b) ? r->neg : r->pos, (unsigned __int128)ma * mb, sa + sb);
}

static int bit_of(const uint32_t *w, int i) { return i >= 0 && (w[i / 32] >> (i % 32)) & 1; }

static double ref_round(const ref *r)
{
    /* magnitude = |pos - neg|, bit by bit */
    int cmp = 0;
    for (int k = RW - 1; k >= 0 && !cmp; k--) cmp = r->pos[k] > r->neg[k] ? 1 : r->pos[k] < r->neg[k] ? -1 : 0;
    if (!cmp) return 0.0;
    const uint32_t *a = cmp > 0 ? r->pos : r->neg, *b = cmp > 0 ? r->neg : r->pos;
    uint32_t d[RW];
    int64_t borrow = 0;
    for (int k = 0; k < RW; k++) {
        int64_t t = (int64_t)a[k] - b[k] - borrow;
        borrow = t < 0;
        d[k] = (uint32_t)(t + (borrow << 32));
    }
    int p = RW * 32 - 1;
    while (!bit_of(d, p)) p--;
    int lsb = p - 52 > 1074 ? p - 52 : 1074; /* units 2^-2148; doubles stop at 2^-1074 */
    uint64_t m = 0;
    for (int i = p; i >= lsb; i--) m = m << 1 | (uint64_t)bit_of(d, i);
    int guard = bit_of(d, lsb - 1), sticky = 0;
    for (int i = lsb - 2; i >= 0 && !sticky; i--) sticky = bit_of(d, i);
    if (guard && (sticky || (m & 1))) m++;
    double v = ldexp((double)m, lsb - 2148);
    return cmp > 0 ? v : -v;
}

/* ---- data ---------------------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double unit(void) { return (double)(next() >> 11) * 0x1p-53; } /* [0, 1) */
static double sgn(void) { return next() & 1 ? 1.0 : -1.0; }

typedef struct {
    const char *name;
    int64_t n;
    int exact_dot; /* no product below 2^-969: the dot is exactly rounded */
} dataset;

static void shuffle(double *x, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(next() % (uint64_t)(i + 1));
        double t = x[i];
        x[i] = x[j], x[j] = t;
    }
}

static void make(int which, double *x, double *y, int64_t n)
{
    rng = 88172645463325252ull + (uint64_t)which * 7919;
    for (int64_t i = 0; i < n; i++) y[i] = sgn() * (0.5 + unit()) * ldexp(1, (int)(next() % 41) - 20);
    switch (which) {
    case 0: /* random, moderate range */
        for (int64_t i = 0; i < n; i++) x[i] = sgn() * unit() * ldexp(1, (int)(next() % 41) - 20);
        break;
    case 1: /* huge and tiny: 1e300s cancel, what is left is small */
        for (int64_t i = 0; i < n; i++) {
            double v[] = {1e300, 1.0, 1e-300, 0x1p-1074, 3.0, 1e200};
            x[i] = v[next() % 6] * (i % 2 ? 1 : -1) * (1 + (double)(next() % 8));
        }
        x[0] = 1e300, x[1] = 0.1; /* an odd one out at each end */
        x[n - 1] = -1e300, x[n - 2] = 1e-310;
        shuffle(x, n);
        break;
    case 2: /* cancelling pairs: the sum is the few unpaired terms */
        for (int64_t i = 0; i + 1 < n; i += 2) {
            x[i] = sgn() * unit() * ldexp(1, (int)(next() % 200) - 100);
            x[i + 1] = -x[i];
        }
        x[n - 1] = 0x1p-60;
        shuffle(x, n);
        break;
    case 3: /* subnormal and near the smallest normal, both signs */
        for (int64_t i = 0; i < n; i++) x[i] = sgn() * (double)(next() % (1ull << 53)) * 0x1p-1074 * (i % 3 ? 1 : 0x1p-20);
        break;
    case 4: /* the whole exponent range */
        for (int64_t i = 0; i < n; i++) x[i] = sgn() * (1 + unit()) * ldexp(1, (int)(next() % 2046) - 1022);
        for (int64_t i = 0; i < n; i++) y[i] = unit() + 0.5; /* a dot with the range's products */
        break;
    case 5: /* every term near DBL_MAX: the exact sum overflows, rounding gives +inf */
        for (int64_t i = 0; i < n; i++) x[i] = 1.7e308 * (i % 4 == 3 ? -1 : 1);
        break;
    case 6: /* the big terms cancel exactly: finite, where a naive sum overflows */
        for (int64_t i = 0; i < n; i++) x[i] = i % 2 ? -1.7e308 : 1.7e308;
        x[n - 1] = 2.5;
        break;
    case 7: /* ties to even: 2^53 + 1 + 1e-30 x many */
        for (int64_t i = 0; i < n; i++) x[i] = i % 2 ? 0x1p-60 : -0x1p-60;
        x[0] = 0x1p53, x[n / 2] = 1.0;
        break;
    case 8: /* the largest terms one word takes, all of one sign: its carries must move up
             * in time (biased exponent 1056: the significand lands at bit 31 of a word) */
        for (int64_t i = 0; i < n; i++) x[i] = (2 - 0x1p-52) * 0x1p33 * (i % 1000 ? 1 : 3);
        break;
    case 9: /* the scale jumps by 2^20 every 3000 terms, up and down: a block's scale is
             * not its neighbour's */
        for (int64_t i = 0; i < n; i++) x[i] = sgn() * (0.5 + unit()) * ldexp(1, 20 * (int)((i / 3000) % 7));
        break;
    }
}

static const dataset sets[] = {
    {"random", 100003, 1}, {"huge_tiny", 10007, 0}, {"cancelling", 50001, 1}, {"subnormal", 20000, 0},
    {"range", 30011, 0},   {"overflow", 4001, 0},   {"cancel_max", 1001, 0},  {"ties", 999, 1},
    {"same_word", 100000, 1}, {"steps", 40000, 1},
};

/* The generic form: terms x[i] / 3 (each rounded, the same way on every rank). */
typedef struct {
    const double *x;
} gen_ctx;
static void gen_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    const gen_ctx *g = ctx;
    for (int64_t i = b; i < e; i++) prange_mpi_acc_add(acc, g->x[i] / 3);
}

static void check(const char *what, const char *set, const char *splitname, double got, double want)
{
    if (bits(got) == bits(want) || (isnan(got) && isnan(want))) return;
    printf("FAIL rank %d of %d: %s %s split %s: got %a, want %a\n", rank, size, what, set, splitname, got, want);
    failures++;
}

/* Every rank has the same bits. */
static void same_everywhere(const char *what, const char *set, const char *splitname, double v)
{
    uint64_t mine = bits(v), lo, hi;
    MPI_Allreduce(&mine, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&mine, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (lo != hi) {
        printf("FAIL %s %s split %s: ranks disagree (%016llx .. %016llx)\n", what, set, splitname,
               (unsigned long long)lo, (unsigned long long)hi);
        failures++;
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc > 1 && strcmp(argv[1], "config") == 0) { /* the hybrid helpers: see mpi_repro.sh */
        int t = 0, rc = prange_mpi_init(MPI_COMM_WORLD, &t);
        if (rc == 0) rc = prange_mpi_print_config(MPI_COMM_WORLD, stdout);
        MPI_Finalize();
        return rc != 0;
    }
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    prange_set_num_threads(threads);
    prange_opts small = PRANGE_OPTS_INIT; /* many blocks, a team even for small parts */
    small.grain = 257;
    small.cost_ns = 50;
    small.threads = threads;

    for (size_t d = 0; d < sizeof sets / sizeof sets[0]; d++) {
        int64_t n = sets[d].n;
        double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
        make((int)d, x, y, n);
        /* The single-process results and the exact references (rank 0 prints them). */
        double one[4] = {0}, exact[3];
        gen_ctx gall = {x};
        prange_mpi_sum_f64(x, n, MPI_COMM_SELF, &one[0], NULL);
        prange_mpi_dot_f64(x, y, n, MPI_COMM_SELF, &one[1], NULL);
        prange_mpi_nrm2_f64(x, n, MPI_COMM_SELF, &one[2], NULL);
        prange_mpi_reduce_f64(n, gen_body, &gall, MPI_COMM_SELF, &one[3], NULL);
        static ref rs, rd, rg;
        memset(&rs, 0, sizeof rs), memset(&rd, 0, sizeof rd), memset(&rg, 0, sizeof rg);
        for (int64_t i = 0; i < n; i++) ref_add(&rs, x[i]), ref_add_prod(&rd, x[i], y[i]), ref_add(&rg, x[i] / 3);
        exact[0] = ref_round(&rs), exact[1] = ref_round(&rd), exact[2] = ref_round(&rg);
        if (d == 5) { /* the exact sums pass DBL_MAX: rounding gives +inf (the reference has no inf) */
            exact[0] = exact[2] = INFINITY;
        }
        check("sum vs exact", sets[d].name, "-", one[0], exact[0]);
        if (sets[d].exact_dot) check("dot vs exact", sets[d].name, "-", one[1], exact[1]);
        check("generic vs exact", sets[d].name, "-", one[3], exact[2]);
        /* nrm2: within 2 ulp of the core library's (which scales the same way) */
        double core = prange_nrm2_f64(x, n, NULL);
        if (!(fabs(one[2] - core) <= 2 * (nextafter(core, INFINITY) - core)) && !(isinf(core) && isinf(one[2]))) {
            printf("FAIL %s nrm2 %a vs core %a\n", sets[d].name, one[2], core);
            failures++;
        }
        if (rank == 0)
            printf("%-10s sum %016llx dot %016llx nrm2 %016llx generic %016llx\n", sets[d].name,
                   (unsigned long long)bits(one[0]), (unsigned long long)bits(one[1]),
                   (unsigned long long)bits(one[2]), (unsigned long long)bits(one[3]));

        const char *splits[] = {"even", "uneven", "last", "empty_middle"};
        for (int s = 0; s < 4; s++) {
            /* cut[r] .. cut[r + 1]: rank r's part */
            int64_t cut[5] = {0};
            uint64_t save = rng;
            rng = 12345 + (uint64_t)s * 31 + (uint64_t)size;
            for (int r = 1; r < size; r++) {
                if (s == 0) cut[r] = n * r / size;
                else if (s == 1) cut[r] = cut[r - 1] + (int64_t)(next() % (uint64_t)(n - cut[r - 1] + 1));
                else if (s == 2) cut[r] = 0;
                else cut[r] = r == 1 ? n / 3 : (r == 2 ? n / 3 : n * r / size);
            }
            cut[size] = n;
            rng = save;
            int64_t lo = cut[rank], m = cut[rank + 1] - lo;
            for (int o = 0; o < 2; o++) {
                const prange_opts *opts = o ? &small : NULL;
                double got[4];
                gen_ctx g = {x + lo};
                if (prange_mpi_sum_f64(x + lo, m, MPI_COMM_WORLD, &got[0], opts) ||
                    prange_mpi_dot_f64(x + lo, y + lo, m, MPI_COMM_WORLD, &got[1], opts) ||
                    prange_mpi_nrm2_f64(x + lo, m, MPI_COMM_WORLD, &got[2], opts) ||
                    prange_mpi_reduce_f64(m, gen_body, &g, MPI_COMM_WORLD, &got[3], opts)) {
                    printf("FAIL %s: a call failed\n", sets[d].name);
                    failures++;
                }
                const char *what[] = {"sum", "dot", "nrm2", "generic"};
                for (int k = 0; k < 4; k++) {
                    same_everywhere(what[k], sets[d].name, splits[s], got[k]);
                    check(what[k], sets[d].name, splits[s], got[k], one[k]);
                }
            }
        }
        free(x);
        free(y);
    }

    /* Special values (documented in prange_mpi.h): any NaN, or +inf with -inf, is NaN. */
    {
        double v[] = {1.0, INFINITY, 2.0, -INFINITY, NAN, -0.0};
        struct { int lo, hi; double want; } c[] = {{0, 2, INFINITY}, {2, 4, -INFINITY}, {1, 4, NAN}, {4, 5, NAN},
                                                   {5, 6, 0.0}, {0, 1, 1.0}};
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
            int64_t len = c[i].hi - c[i].lo, lo = len * rank / size, hi = len * (rank + 1) / size;
            double got;
            prange_mpi_sum_f64(v + c[i].lo + lo, hi - lo, MPI_COMM_WORLD, &got, NULL);
            check("special", "specials", "even", got, c[i].want);
        }
        /* Rounding: ties to even, and a sticky bit far below the guard bit breaks a tie. */
        double t[][4] = {{0x1p53, 1, 0, 0x1p53},           {0x1p53 + 2, 1, 0, 0x1p53 + 4},
                         {0x1p53, 1, 0x1p-60, 0x1p53 + 2}, {0x1p53, 1, -0x1p-1074, 0x1p53},
                         {-0x1p53, -1, -0x1p-900, -0x1p53 - 2}, {0x1p-1074, 0x1p-1074, -0x1p-1073, 0}};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            int64_t lo = 3 * rank / size, hi = 3 * (rank + 1) / size;
            double got;
            prange_mpi_sum_f64(t[i] + lo, hi - lo, MPI_COMM_WORLD, &got, NULL);
            check("rounding", "ties", "even", got, t[i][3]);
        }
        double big[] = {1e300, 1e300};
        double got;
        prange_mpi_dot_f64(big, big, rank == 0 ? 2 : 0, MPI_COMM_WORLD, &got, NULL); /* overflowing products */
        check("dot overflow", "specials", "-", got, INFINITY);
        prange_mpi_nrm2_f64(big, rank == 0 ? 2 : 0, MPI_COMM_WORLD, &got, NULL);
        double want = 1e300 * sqrt(2.0); /* within an ulp: no overflow on the way */
        if (!(fabs(got - want) <= nextafter(want, INFINITY) - want)) check("nrm2 no overflow", "specials", "-", got, want);
    }
    /* The accumulator used directly: 5000 of the largest terms one word takes (more than
     * one normalisation's room) on each rank, a product, then the ranks' total. */
    {
        prange_mpi_acc a;
        memset(&a, 0, sizeof a);
        static ref want;
        double v = (2 - 0x1p-52) * 0x1p33;
        for (int r = 0; r < size; r++) {
            for (int i = 0; i < 5000; i++) ref_add(&want, v);
            ref_add_prod(&want, 1 + 0x1p-30, 1 - 0x1p-30);
        }
        for (int i = 0; i < 5000; i++) prange_mpi_acc_add(&a, v);
        prange_mpi_acc_add_prod(&a, 1 + 0x1p-30, 1 - 0x1p-30);
        if (prange_mpi_acc_allreduce(&a, MPI_COMM_WORLD) != 0) failures++;
        check("acc direct", "acc", "-", prange_mpi_acc_round(&a), ref_round(&want));
        memset(&a, 0, sizeof a); /* a product's rounding error enters too: -2^-60 exactly */
        prange_mpi_acc_add_prod(&a, 1 + 0x1p-30, 1 - 0x1p-30);
        prange_mpi_acc_add(&a, -1);
        check("acc product", "acc", "-", prange_mpi_acc_round(&a), -0x1p-60);
    }
    /* Bad arguments: found before any communication. */
    double r;
    if (prange_mpi_sum_f64(NULL, 1, MPI_COMM_WORLD, &r, NULL) != PRANGE_EINVAL ||
        prange_mpi_sum_f64(&r, -1, MPI_COMM_WORLD, &r, NULL) != PRANGE_EINVAL ||
        prange_mpi_dot_f64(&r, NULL, 1, MPI_COMM_WORLD, &r, NULL) != PRANGE_EINVAL ||
        prange_mpi_nrm2_f64(&r, 1, MPI_COMM_WORLD, NULL, NULL) != PRANGE_EINVAL) {
        printf("FAIL bad arguments not refused\n");
        failures++;
    }
    int all;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("mpi_repro ranks=%d threads=%d: %s\n", size, threads, all ? "FAILED" : "ok");
    MPI_Finalize();
    return all != 0;
}
