/*
 * prange-info — print what libprange sees and decides on this machine: version, build,
 * topology, cgroup quota, every option with its value and source, and the plans for
 * n = 10^1 .. 10^9. Paste its output into bug reports.
 * --markdown prints the options table that docs/environment.md embeds.
 * --calibrate [FILE] measures the fork-join cost per team size and writes the tuning
 * cache (default $XDG_CACHE_HOME/libprange/tuning) that later processes read.
 */
#include <stdio.h>
#include <string.h>

#include "prange.h"
#include "prange_sched.h"

/* The options table as Markdown rows: the body of docs/environment.md's table. */
static void print_markdown(void)
{
    printf("| variable | default | accepted values | meaning |\n|---|---|---|---|\n");
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        const prange__opt_desc *d = &prange__opt_table[i];
        prange__opt_val v = {d->def, 0, PRANGE__SRC_DEFAULT, NULL};
        char def[64], form[96];
        prange__opt_format((prange__opt_id)i, &v, def, sizeof def);
        if (d->kind == PRANGE__KIND_INT)
            snprintf(form, sizeof form, "integer %lld..%lld", (long long)d->min, (long long)d->max);
        else if (d->kind == PRANGE__KIND_BOOL)
            snprintf(form, sizeof form, "0, 1, true, false, yes, no, on, off");
        else /* a '|' would end the Markdown cell */
            for (size_t k = 0, o = 0; d->choices[k] && o + 3 < sizeof form; k++) {
                if (d->choices[k] == '|') form[o++] = '\\';
                form[o++] = d->choices[k];
                form[o] = '\0';
            }
        printf("| `%s` | `%s` | %s | %s |\n", d->name, def, form, d->doc);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0) {
            print_markdown();
            return 0;
        }
        if (strcmp(argv[i], "--calibrate") == 0) {
            const char *path = i + 1 < argc ? argv[i + 1] : NULL;
            int rc = prange__calibrate(path, stdout);
            if (rc != 0) fprintf(stderr, "prange-info: calibration failed: %s\n", prange_strerror(rc));
            return rc == 0 ? 0 : 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s\n", prange_version_string());
            return 0;
        }
        fprintf(stderr, "usage: %s [--version | --markdown | --calibrate [FILE]]\n%s\n", argv[0],
                strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? ""
                                                                             : "unknown argument");
        return strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2;
    }
    return prange_print_config(stdout) == 0 ? 0 : 1;
}
