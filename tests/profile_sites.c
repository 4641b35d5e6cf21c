/* profile_sites.c — run by tests/profile.sh under PRANGE_PROFILE: three labelled loops of
 * clearly different costs (about 1 : 50 : 2500) and one unlabelled body, each a known
 * number of times. The "dear" label lives in a buffer overwritten before exit: the
 * profile must have copied it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prange.h"

typedef struct {
    int reps;
    double out[16];
} work;

static void body(void *ctx, int64_t b, int64_t e)
{
    work *w = ctx;
    for (int64_t i = b; i < e; i++) {
        double x = (double)i;
        for (int r = 0; r < w->reps; r++) x = x * 0.999999 + 1e-9 * r;
        w->out[i] = x;
    }
}

/* A second function, not labelled: its site is its symbol (or module+offset). */
static void unlabelled(void *ctx, int64_t b, int64_t e) { body(ctx, b, e); }

static int run(const char *label, int reps, int calls, prange_body_fn fn)
{
    work w = {reps, {0}};
    prange_opts o = PRANGE_OPTS_INIT;
    o.label = label;
    for (int i = 0; i < calls; i++)
        if (prange_for_opts(0, 16, fn, &w, &o) != 0) return 1;
    return 0;
}

int main(void)
{
    char *dear = strdup("dear");
    if (!dear) return 1;
    int bad = run("cheap", 2, 300, body) | run("medium", 100, 200, body) | run(dear, 5000, 30, body) |
              run(NULL, 10, 100, unlabelled);
    memset(dear, 'x', 4);
    free(dear);
    printf("profile_sites: %s\n", bad ? "FAILED" : "done");
    return bad;
}
