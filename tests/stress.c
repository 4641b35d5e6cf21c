/* stress.c — a plain-C concurrency stress (no test framework, so it also runs under
 * ThreadSanitizer, which Criterion's runtime does not survive): 4 user threads at once
 * issue loops of every schedule, early-stop loops, reductions, scans, kernels and
 * allocations, with and without cost hints (so the learned-cost table is written
 * concurrently), and check every result. Exit 0 when all were right. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "prange.h"

#define USERS 4
#define ROUNDS 60

static void fill(void *c, int64_t b, int64_t e)
{
    double *x = c;
    for (int64_t i = b; i < e; i++) x[i] = (double)(i % 5);
}

static int stop_at(void *c, int64_t b, int64_t e)
{
    int64_t at = *(const int64_t *)c;
    return at >= b && at < e ? 7 : 0;
}

static void count(void *c, int64_t b, int64_t e, void *acc)
{
    const double *x = c;
    int64_t s = *(int64_t *)acc;
    for (int64_t i = b; i < e; i++) s += (int64_t)x[i];
    *(int64_t *)acc = s;
}

static void *user(void *p)
{
    long id = (long)p, errors = 0;
    int64_t n = 50000 + 1000 * id;
    int64_t want = 0;
    for (int64_t i = 0; i < n; i++) want += i % 5;
    for (int r = 0; r < ROUNDS; r++) {
        double *x = prange_alloc(n, sizeof *x);
        double *y = prange_alloc(n, sizeof *y);
        if (!x || !y) return (void *)1;
        prange_opts o = {.struct_size = sizeof(prange_opts), .schedule = (prange_schedule)(r % 4), .cost_ns = (r % 3) ? 5.0 : 0, .threads = 2};
        errors += prange_for_opts(0, n, fill, x, &o) != 0;
        int64_t s = 0;
        errors += prange_reduce(0, n, prange_reducer_sum_i64(), count, x, &s, &o) != 0 || s != want;
        errors += prange_sum_f64(x, n, NULL) != (double)want;
        errors += prange_scan_f64(x, y, n, 0, &o) != 0 || y[n - 1] != (double)want;
        int64_t at = n / 3;
        prange_stop st;
        errors += prange_for_until(0, n, stop_at, &at, &o, &st) != 0 || st.value != 7;
        prange_free(x);
        prange_free(y);
    }
    return (void *)errors;
}

int main(void)
{
    prange_set_num_threads(2);
    pthread_t th[USERS];
    for (long i = 0; i < USERS; i++) pthread_create(&th[i], NULL, user, (void *)i);
    long errors = 0;
    for (int i = 0; i < USERS; i++) {
        void *r;
        pthread_join(th[i], &r);
        errors += (long)r;
    }
    printf("stress: %d user threads x %d rounds of loops, reductions, scans, kernels and allocations: %ld wrong\n",
           USERS, ROUNDS, errors);
    return errors ? 1 : 0;
}
