/* fuzz_plan.c — libFuzzer target for the plan function and the loop executor: arbitrary
 * n, grain, threads, schedule, cost and flags. A valid call's plan must be coherent, and a
 * small loop at any position of the int64 range must run every iteration exactly once. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct {
        int64_t n, grain, begin;
        int32_t threads, schedule;
        double cost;
        uint32_t flags;
        uint8_t len;
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
