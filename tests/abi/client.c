/*
 * client.c — the extensible-struct ABI, as a separately compiled client sees it.
 * Built twice (tests/meson.build):
 *   abi_old_client: against a copy of prange.h whose prange_opts lacks its last fields (an
 *     older client's): its smaller options are honoured, and the library never reads past
 *     their struct_size (junk placed there would be a label pointer, printed by
 *     PRANGE_VERBOSE=2, and a key).
 *   abi_new_client: against the real header, passing structs larger than the library's
 *     (a newer client's): unknown trailing bytes that are all zero are accepted, any
 *     non-zero one gives PRANGE_EINVAL and runs nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prange.h"

static int failures;
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);             \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

static void fill(void *c, int64_t b, int64_t e)
{
    int64_t *x = c;
    for (int64_t i = b; i < e; i++) x[i] = 2 * i;
}

static void sum(void *c, int64_t b, int64_t e, void *acc)
{
    const int64_t *x = c;
    for (int64_t i = b; i < e; i++) *(int64_t *)acc += x[i];
}

#define N 100000

#ifdef PRANGE_TEST_OLD_OPTS
static void old_client(int64_t *x)
{
    /* The older struct, followed by junk the library must not read. */
    struct {
        prange_opts o;
        unsigned char junk[64];
    } s;
    memset(&s, 0xff, sizeof s);
    s.o = (prange_opts)PRANGE_OPTS_INIT;
    s.o.threads = 2;
    s.o.cost_ns = 1e6; /* worth a team */
    s.o.schedule = PRANGE_SCHEDULE_DYNAMIC;
    CHECK(s.o.struct_size == sizeof(prange_opts));

    prange_plan p;
    CHECK(prange_plan_for(N, &s.o, &p) == 0);
    CHECK(p.threads == 2 && p.serial == 0 && p.schedule == PRANGE_SCHEDULE_DYNAMIC && p.cost_ns == 1e6);
    s.o.flags = PRANGE_SERIAL;
    CHECK(prange_plan_for(N, &s.o, &p) == 0);
    CHECK(p.serial == 1 && strcmp(p.reason, "flag PRANGE_SERIAL") == 0);
    s.o.flags = 0;

    memset(x, 0, N * sizeof *x);
    CHECK(prange_for_opts(0, N, fill, x, &s.o) == 0);
    int64_t total = 0;
    CHECK(prange_reduce(0, N, prange_reducer_sum_i64(), sum, x, &total, &s.o) == 0);
    CHECK(total == (int64_t)N * (N - 1));
    prange_stop st;
    CHECK(prange_for_until(0, N, (prange_until_fn)NULL, x, &s.o, &st) == PRANGE_EINVAL);
    CHECK(prange_sum_f64((const double *)NULL, 0, &s.o) == 0.0);
    s.o.grain = -1; /* a field the old struct has is still checked */
    CHECK(prange_for_opts(0, N, fill, x, &s.o) == PRANGE_EINVAL);
    s.o.grain = 0;
    s.o.struct_size = 2; /* cannot even hold the first field after struct_size */
    CHECK(prange_for_opts(0, N, fill, x, &s.o) == PRANGE_EINVAL);
    s.o.struct_size = 0; /* {0} */
    CHECK(prange_for_opts(0, N, fill, x, &s.o) == PRANGE_EINVAL);

    /* An older prange_mem_opts that ends after `policy`: node and flags read as 0, so the
     * junk (an unknown flag) after it is not seen. */
    struct {
        uint32_t struct_size;
        prange_mem_policy policy;
        int junk_node;
        unsigned junk_flags;
    } m = {sizeof(uint32_t) + sizeof(prange_mem_policy), PRANGE_MEM_LOCAL, -5, 0xffffffffu};
    void *blk = prange_alloc_opts(1000, 8, (const prange_mem_opts *)(const void *)&m);
    CHECK(blk != NULL);
    prange_free(blk);
}
#else
static void new_client(int64_t *x)
{
    /* A newer client's larger structs: a field this library does not know. */
    struct {
        prange_opts o;
        uint64_t future;
    } big;
    memset(&big, 0, sizeof big);
    big.o = (prange_opts)PRANGE_OPTS_INIT;
    big.o.struct_size = sizeof big;
    memset(x, 0, N * sizeof *x);
    CHECK(prange_for_opts(0, N, fill, x, &big.o) == 0); /* unused (zero): accepted */
    CHECK(x[N - 1] == 2 * (N - 1));
    big.future = 1;
    memset(x, 0, N * sizeof *x);
    CHECK(prange_for_opts(0, N, fill, x, &big.o) == PRANGE_EINVAL);
    CHECK(x[N - 1] == 0); /* nothing ran */
    prange_plan p;
    CHECK(prange_plan_for(N, &big.o, &p) == PRANGE_EINVAL);
    int64_t total = 0;
    CHECK(prange_reduce(0, N, prange_reducer_sum_i64(), sum, x, &total, &big.o) == PRANGE_EINVAL);
    errno = 0;
    CHECK(isnan(prange_sum_f64((const double *)x, 0, &big.o)) && errno == EINVAL);
    big.o.struct_size = 4097; /* beyond any sane size */
    big.future = 0;
    CHECK(prange_for_opts(0, N, fill, x, &big.o) == PRANGE_EINVAL);

    struct {
        prange_reducer r;
        uint64_t future;
    } rbig;
    memset(&rbig, 0, sizeof rbig);
    rbig.r = *prange_reducer_sum_i64();
    rbig.r.struct_size = sizeof rbig;
    CHECK(prange_reduce(0, N, &rbig.r, sum, x, &total, NULL) == 0);
    rbig.future = 7;
    CHECK(prange_reduce(0, N, &rbig.r, sum, x, &total, NULL) == PRANGE_EINVAL);

    struct {
        prange_mem_opts m;
        uint64_t future;
    } mbig;
    memset(&mbig, 0, sizeof mbig);
    mbig.m = (prange_mem_opts)PRANGE_MEM_OPTS_INIT;
    mbig.m.struct_size = sizeof mbig;
    void *blk = prange_alloc_opts(1000, 8, &mbig.m);
    CHECK(blk != NULL);
    prange_free(blk);
    mbig.future = 1;
    errno = 0;
    CHECK(prange_alloc_opts(1000, 8, &mbig.m) == NULL && errno == EINVAL);
}
#endif

int main(void)
{
    /* Plans are printed with their label at level 2: reading a label from past an old
     * client's struct would dereference the junk there. */
    setenv("PRANGE_VERBOSE", "2", 1);
    prange_set_num_threads(4);
    int64_t *x = malloc(N * sizeof *x);
    if (!x) return 1;
#ifdef PRANGE_TEST_OLD_OPTS
    old_client(x);
    const char *who = "older client (smaller prange_opts)";
#else
    new_client(x);
    const char *who = "newer client (larger structs)";
#endif
    free(x);
    printf("%s: %s\n", who, failures ? "FAILED" : "OK");
    return failures != 0;
}
