/*
 * envcheck.c — PRANGE_* variables that libprange does not know: a misspelled name is
 * silently ignored by every parser, so it is reported with the closest known name
 * (optimal string alignment distance: insertions, deletions, substitutions and swaps of
 * two neighbours, over the names' upper-case letters).
 */
#include <ctype.h>
#include <string.h>

#include "prange_sched.h"

extern char **environ;

#define NAME_CAP 64

/* Edit distance between a and b (each at most NAME_CAP bytes; longer ones are "far"). */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > NAME_CAP || m > NAME_CAP) return NAME_CAP;
    int d[NAME_CAP + 1][NAME_CAP + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = toupper((unsigned char)a[i - 1]) != toupper((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && toupper((unsigned char)a[i - 1]) == toupper((unsigned char)b[j - 2]) &&
                toupper((unsigned char)a[i - 2]) == toupper((unsigned char)b[j - 1]) && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *prange__opt_closest(const char *name)
{
    const char *best = NULL;
    int best_d = 4; /* within 3 */
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        int d = distance(name, prange__opt_table[i].name);
        if (d < best_d) best_d = d, best = prange__opt_table[i].name;
    }
    return best;
}

int prange__env_misspelled(const char *const *env, FILE *out)
{
    if (!env) env = (const char *const *)environ;
    int count = 0;
    for (const char *const *e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        if (len < 7 || strncmp(*e, "PRANGE_", 7) != 0) continue;
        char name[NAME_CAP + 1];
        if (len > NAME_CAP) len = NAME_CAP;
        memcpy(name, *e, len);
        name[len] = '\0';
        int known = 0;
        for (int i = 0; i < PRANGE__OPT_COUNT && !known; i++) known = strcmp(name, prange__opt_table[i].name) == 0;
        if (known) continue;
        count++;
        if (!out) continue;
        const char *near = prange__opt_closest(name);
        if (near) fprintf(out, "prange: warning: %s is not a libprange variable; did you mean %s?\n", name, near);
        else fprintf(out, "prange: warning: %s is not a libprange variable (prange-info lists them)\n", name);
    }
    return count;
}
