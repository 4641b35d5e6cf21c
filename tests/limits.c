/* limits.c — libprange when the system refuses threads or gives small stacks (driven by
 * tests/limits.sh under OMP_STACKSIZE, RLIMIT_NPROC and RLIMIT_STACK limits).
 *
 *   limits BUDGET USERS
 *
 * Sets the budget to BUDGET threads, then runs rounds of loops (with nested reductions in
 * the bodies), reductions, scans, kernels and allocations: on the main thread, on a user
 * thread with a 64 KiB stack, and on USERS user threads at once. A user thread the system
 * refuses is replaced by running its rounds on the main thread. Every result is checked;
 * the process must reach the end. Prints "largest team N" and the plan of a large loop. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prange.h"

#define N (1 << 18)
#define BINS 64
#define ROUNDS 10

static atomic_int g_team_max, g_bad;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "limits: FAILED: %s\n", what);
        atomic_store(&g_bad, 1);
    }
}

static void note_team(void)
{
    int t = prange_num_threads(), m = atomic_load(&g_team_max);
    while (t > m && !atomic_compare_exchange_weak(&g_team_max, &m, t)) {
    }
}

static void fill(void *ctx, int64_t b, int64_t e)
{
    double *x = ctx;
    note_team();
    for (int64_t i = b; i < e; i++) x[i] = (double)(i % 7);
}

/* Each chunk of 4096 checks its own sum with a nested (serial, on this worker) call. */
static void nested(void *ctx, int64_t b, int64_t e)
{
    const double *x = ctx;
    for (int64_t c = b; c < e; c++) {
        double s = prange_sum_f64(x + c * 4096, 4096, NULL), want = 0;
        for (int64_t i = c * 4096; i < (c + 1) * 4096; i++) want += (double)(i % 7);
        check(s == want, "nested sum");
    }
}

static void hist(void *ctx, int64_t b, int64_t e, void *acc)
{
    (void)ctx;
    int64_t *h = acc;
    note_team();
    for (int64_t i = b; i < e; i++) h[i % BINS]++;
}

static void one_round(void)
{
    prange_opts par = {.struct_size = sizeof(prange_opts), .cost_ns = 1e4}; /* worth every thread of the budget */
    double *x = prange_alloc(N, sizeof(double));
    double *y = prange_alloc(N, sizeof(double));
    check(x && y, "prange_alloc");
    if (!x || !y) {
        prange_free(x);
        prange_free(y);
        return;
    }
    check(prange_for_opts(0, N, fill, x, &par) == 0, "prange_for");
    int ok = 1;
    for (int64_t i = 0; i < N; i++) ok &= x[i] == (double)(i % 7);
    check(ok, "loop result");
    check(prange_for_opts(0, N / 4096, nested, x, &par) == 0, "nested loop");

    int64_t h[BINS];
    prange_reducer r = prange_reducer_array_sum_i64(BINS);
    check(prange_reduce(0, N, &r, hist, NULL, h, &par) == 0, "prange_reduce");
    for (int k = 0; k < BINS; k++) ok &= h[k] == N / BINS;
    check(ok, "histogram");

    check(prange_scan_f64(x, y, N, 0, &par) == 0, "prange_scan_f64");
    double run = 0;
    for (int64_t i = 0; i < N; i++) ok &= y[i] == (run += x[i]);
    check(ok, "scan result");
    check(prange_sum_f64(x, N, NULL) == y[N - 1], "prange_sum_f64");
    prange_free(x);
    prange_free(y);
}

static void *rounds(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) one_round();
    return NULL;
}

int main(int argc, char **argv)
{
    int budget = argc > 1 ? atoi(argv[1]) : 4, users = argc > 2 ? atoi(argv[2]) : 2;
    if (budget < 1 || budget > 64 || users < 0 || users > 64) {
        fprintf(stderr, "usage: limits BUDGET(1..64) USERS(0..64)\n");
        return 2;
    }
    check(prange_set_num_threads(budget) == 0, "prange_set_num_threads");
    rounds(NULL);

    /* A user thread with a small stack: the first call from it, and nested calls. */
    pthread_attr_t small;
    pthread_attr_init(&small);
    pthread_attr_setstacksize(&small, 64 << 10);
    pthread_t t;
    if (pthread_create(&t, &small, rounds, NULL) == 0) pthread_join(t, NULL);
    else printf("limits: 64 KiB user thread refused: its rounds run on the main thread\n"), rounds(NULL);
    pthread_attr_destroy(&small);

    pthread_t ids[64];
    int started = 0, refused = 0;
    for (int i = 0; i < users; i++) {
        if (pthread_create(&ids[started], NULL, rounds, NULL) == 0) started++;
        else refused++;
    }
    for (int i = 0; i < refused; i++) rounds(NULL);
    for (int i = 0; i < started; i++) pthread_join(ids[i], NULL);

    prange_opts big = {.struct_size = sizeof(prange_opts), .cost_ns = 1e4};
    prange_plan p;
    char line[256];
    prange_plan_for(100000000, &big, &p);
    prange_plan_format(&p, line, sizeof line);
    printf("limits: %d user threads started, %d refused; largest team %d; plan: %s\n", started, refused,
           atomic_load(&g_team_max), line);
    return atomic_load(&g_bad) ? 1 : 0;
}
