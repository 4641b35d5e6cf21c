/*
 * prange-info — print what libprange sees and decides on this machine: version, build,
 * topology, cgroup quota, every option with its value and source, and the plans for
 * n = 10^1 .. 10^9. Paste its output into bug reports.
 * --markdown prints the options table that docs/environment.md embeds.
 * --calibrate [FILE] measures the fork-join cost per team size and writes the tuning
 * cache (default $XDG_CACHE_HOME/libprange/tuning) that later processes read.
 * --help prints the usage to standard output.
 * Exit status: 0; 1 when the output or the tuning cache could not be written; 2 for bad
 * arguments (an unknown one, an empty FILE), with the usage on standard error.
 */
#include <errno.h>
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

static void usage(FILE *f, const char *argv0)
{
    fprintf(f, "usage: %s [--version | --markdown | --calibrate [FILE]]\n"
               "  (no argument)     print the version, build, topology, options and plans\n"
               "  --version         print the version\n"
               "  --markdown        print the options table of docs/environment.md\n"
               "  --calibrate FILE  measure the fork-join cost and write the tuning cache to FILE\n"
               "                    (default: $XDG_CACHE_HOME/libprange/tuning)\n",
            argv0);
}

/* Exit status: `rc`, or 1 when standard output could not be written (a full disk, a
 * closed pipe: the output is lost, so the run failed). */
static int finish(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "prange-info: cannot write the output: %s\n", strerror(errno));
        return 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 3 || (argc == 3 && strcmp(argv[1], "--calibrate") != 0)) {
        fprintf(stderr, "prange-info: too many arguments\n");
        usage(stderr, argv[0]);
        return 2;
    }
    if (argc == 1) {
        int rc = prange_print_config(stdout); /* PRANGE_EIO: a write failed; finish() says so */
        return finish(rc == 0 ? 0 : 1);
    }
    const char *arg = argv[1];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        usage(stdout, argv[0]);
        return finish(0);
    }
    if (strcmp(arg, "--version") == 0) {
        printf("%s\n", prange_version_string());
        return finish(0);
    }
    if (strcmp(arg, "--markdown") == 0) {
        print_markdown();
        return finish(0);
    }
    if (strcmp(arg, "--calibrate") == 0) {
        const char *path = argc == 3 ? argv[2] : NULL;
        if (path && (path[0] == '\0' || path[0] == '-')) {
            fprintf(stderr, "prange-info: --calibrate needs a file name, not \"%s\"\n", path);
            usage(stderr, argv[0]);
            return 2;
        }
        int rc = prange__calibrate(path, stdout);
        if (rc != 0) fprintf(stderr, "prange-info: calibration failed: %s\n", prange_strerror(rc));
        return finish(rc == 0 ? 0 : 1);
    }
    fprintf(stderr, "prange-info: unknown argument \"%s\"\n", arg);
    usage(stderr, argv[0]);
    return 2;
}
