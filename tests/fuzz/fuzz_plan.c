/* fuzz_plan.c — libFuzzer target for the plan function and the loop executor: arbitrary
 * n, grain, threads, schedule, cost and flags. A valid call's plan must be coherent, a
 * small loop at any position of the int64 range must run every iteration exactly once, and
 * a loop over a full or near-full range (lengths up to 2^64 - 1), with or without early
 * stop, must hand the body few, non-empty pieces that tile the range exactly; a body that
 * stops at once must end the loop after at most one piece per thread, with the outcome
 * of the lowest chunk (prange_stop {value, begin}). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "prange.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("PRANGE_FORK_NS", "800", 1); /* plans without timing anything */
    setenv("PRANGE_NUM_THREADS", "4", 1);
    return 0;
}

typedef struct {
    int64_t begin;
    _Atomic(unsigned char) seen[64];
    atomic_int bad;
} cover;

static void body(void *c, int64_t b, int64_t e)
{
    cover *k = c;
    if (!(b < e)) atomic_store(&k->bad, 1);
    for (int64_t i = b; i < e; i++) {
        uint64_t off = (uint64_t)i - (uint64_t)k->begin;
        if (off >= 64) atomic_store(&k->bad, 1);
        else atomic_fetch_add(&k->seen[off], 1);
    }
}

static int until_body(void *c, int64_t b, int64_t e)
{
    body(c, b, e);
    return 0;
}

/* Full-range loops: every piece recorded, then sorted and checked to tile the range. A
 * loop that cuts too finely (e.g. one iteration per piece) hits MAX_PIECES and fails. */
#define MAX_PIECES 16384
typedef struct {
    atomic_int calls;
    int stop; /* returned by every piece; 0 = go on */
    int64_t piece[MAX_PIECES][2];
} pieces;

static int piece_until(void *c, int64_t b, int64_t e)
{
    pieces *k = c;
    int at = atomic_fetch_add(&k->calls, 1);
    if (!(b < e) || at >= MAX_PIECES) abort();
    k->piece[at][0] = b;
    k->piece[at][1] = e;
    return k->stop;
}

static void piece_body(void *c, int64_t b, int64_t e) { (void)piece_until(c, b, e); }

static int cmp_begin(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static void check_tiling(pieces *k, int64_t begin, int64_t end)
{
    int n = atomic_load(&k->calls);
    qsort(k->piece, (size_t)n, sizeof k->piece[0], cmp_begin);
    int64_t at = begin;
    for (int i = 0; i < n; i++) {
        if (k->piece[i][0] != at) abort();
        at = k->piece[i][1];
    }
    if (at != end) abort();
}

static pieces g_pieces;

/* A loop over [INT64_MIN + cut_lo, INT64_MAX - cut_hi): plain, until, or until with a body
 * that stops at once. */
static void full_range(const prange_opts *o, uint8_t mode, uint16_t cut_lo, uint16_t cut_hi)
{
    int64_t begin = INT64_MIN + cut_lo, end = INT64_MAX - cut_hi;
    pieces *k = &g_pieces;
    memset(k, 0, sizeof *k);
    int until = (mode & 2) != 0;
    k->stop = (until && (mode & 4)) ? 3 : 0; /* only an early-stop body can stop */
    prange_stop st = {0, end};
    int rc = until ? prange_for_until(begin, end, piece_until, k, o, &st) : prange_for_opts(begin, end, piece_body, k, o);
    if (rc == PRANGE_EINVAL) return; /* bad options: nothing may have run */
    if (rc != 0) abort();
    if (!k->stop) {
        if (st.value != 0 || st.index != end) abort();
        check_tiling(k, begin, end);
    } else if (st.value != 3 || st.index != begin || atomic_load(&k->calls) > 4) { /* budget: PRANGE_NUM_THREADS=4 */
        abort(); /* every chunk stops: the lowest, chunk 0, is the outcome */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct {
        int64_t n, grain, begin;
        int32_t threads, schedule;
        double cost;
        uint32_t flags;
        uint8_t len;
        uint8_t mode; /* bit 0: full range; 1: early stop; 2: stop at once */
        uint16_t cut_lo, cut_hi;
    } in;
    memset(&in, 0, sizeof in);
    memcpy(&in, data, size < sizeof in ? size : sizeof in);
    prange_opts o = PRANGE_OPTS_INIT;
    o.grain = in.grain;
    o.threads = in.threads;
    o.schedule = (prange_schedule)in.schedule;
    o.cost_ns = in.cost;
    o.flags = in.flags;
    prange_plan p;
    int rc = prange_plan_for(in.n, &o, &p);
    if (rc == 0) {
        if (p.threads < 1 || (p.serial && p.threads != 1) || !p.reason) abort();
        if (p.schedule < PRANGE_SCHEDULE_STATIC || p.schedule > PRANGE_SCHEDULE_GUIDED) abort();
        if (in.n > 0 && p.chunk < 1) abort();
        if (!p.serial && (p.threads > 4 || (o.threads > 0 && p.threads > o.threads))) abort();
        char line[256];
        if (prange_plan_format(&p, line, sizeof line) < 0) abort();
    } else if (rc != PRANGE_EINVAL) {
        abort();
    }
    if (in.mode & 1) {
        full_range(&o, in.mode, in.cut_lo, in.cut_hi);
        return 0;
    }
    /* Run a loop of up to 63 iterations anywhere in the int64 range. */
    int64_t len = in.len % 64;
    int64_t begin = in.begin > INT64_MAX - len ? INT64_MAX - len : in.begin;
    cover c;
    memset(&c, 0, sizeof c);
    c.begin = begin;
    int r1 = prange_for_opts(begin, begin + len, body, &c, &o);
    if (r1 != 0 && r1 != PRANGE_EINVAL) abort();
    if (r1 == 0) {
        for (int64_t i = 0; i < len; i++)
            if (c.seen[i] != 1) abort();
        if (c.bad) abort();
        memset(&c, 0, sizeof c);
        c.begin = begin;
        prange_stop st;
        if (prange_for_until(begin, begin + len, until_body, &c, &o, &st) != 0) abort();
        if (st.value != 0 || st.index != begin + len) abort();
        for (int64_t i = 0; i < len; i++)
            if (c.seen[i] != 1) abort();
    }
    return 0;
}
