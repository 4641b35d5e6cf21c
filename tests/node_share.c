/* node_share.c SECONDS — run loops for SECONDS, printing every 50 ms
 * "node_share <pid> <CLOCK_MONOTONIC ms> budget <prange_num_threads()>" (tests/node_share.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <prange.h>

static void body(void *ctx, int64_t b, int64_t e)
{
    volatile double *x = ctx;
    for (int64_t i = b; i < e; i++) x[i & 1023] += 1.0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0, end = now_ms() + secs * 1e3, next = 0;
    static double x[1024];
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1e4}; /* a loop that always plans parallel */
    while (now_ms() < end) {
        if (prange_for_opts(0, 2000, body, x, &o) != 0) return 1;
        if (now_ms() >= next) {
            printf("node_share %d %.0f budget %d\n", (int)getpid(), now_ms(), prange_num_threads());
            fflush(stdout);
            next = now_ms() + 50;
        }
        usleep(2000);
    }
    return 0;
}
