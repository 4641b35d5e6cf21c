/* test_options.c — the options table and its strict parser: every bad value warns once,
 * naming the variable, the value and the accepted form, and keeps the default. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "prange_sched.h"

/* A fake environment: a list of NAME=VALUE pairs. */
static const char *const *g_env;
static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = g_env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

/* Parse `env`; return the number of bad values, and the warnings in `out`. */
static int parse(const char *const *env, prange__opt_val vals[PRANGE__OPT_COUNT], char *out, size_t size)
{
    g_env = env;
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    int bad = prange__opts_parse(vals, fake_getenv, f);
    rewind(f);
    size_t k = fread(out, 1, size - 1, f);
    out[k] = '\0';
    fclose(f);
    return bad;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(options, defaults_without_environment)
{
    prange__opt_val v[PRANGE__OPT_COUNT];
    char out[256];
    const char *env[] = {NULL};
    cr_assert_eq(parse(env, v, out, sizeof out), 0);
    cr_assert_str_empty(out);
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        cr_assert_eq(v[i].value, prange__opt_table[i].def);
        cr_assert_eq(v[i].src, PRANGE__SRC_DEFAULT);
    }
}

Test(options, good_values)
{
    prange__opt_val v[PRANGE__OPT_COUNT];
    char out[256];
    const char *env[] = {"PRANGE_NUM_THREADS=7", "PRANGE_GRAIN=+64", "PRANGE_SCHEDULE=guided,32",
                         "PRANGE_SERIAL=yes", "PRANGE_BIND=NUMA", "PRANGE_VERBOSE=2", "PRANGE_FORK_NS=1500", NULL};
    cr_assert_eq(parse(env, v, out, sizeof out), 0, "%s", out);
    cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].value, 7);
    cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].src, PRANGE__SRC_ENV);
    cr_assert_eq(v[PRANGE__OPT_GRAIN].value, 64);
    cr_assert_eq(v[PRANGE__OPT_SCHEDULE].value, PRANGE_SCHEDULE_GUIDED);
    cr_assert_eq(v[PRANGE__OPT_SCHEDULE].chunk, 32);
    cr_assert_eq(v[PRANGE__OPT_SERIAL].value, 1);
    cr_assert_eq(v[PRANGE__OPT_BIND].value, 2);
    cr_assert_eq(v[PRANGE__OPT_VERBOSE].value, 2);
    cr_assert_eq(v[PRANGE__OPT_FORK_NS].value, 1500);
    char buf[64];
    prange__opt_format(PRANGE__OPT_SCHEDULE, &v[PRANGE__OPT_SCHEDULE], buf, sizeof buf);
    cr_assert_str_eq(buf, "guided,32");
    prange__opt_format(PRANGE__OPT_BIND, &v[PRANGE__OPT_BIND], buf, sizeof buf);
    cr_assert_str_eq(buf, "numa");
}

/* Every variable, every class of bad value: exactly one warning, default kept. */
Test(options, every_bad_value_warns_once_and_keeps_default)
{
    static const char *const bad_values[] = {"abc", "-3", "1e99", "", "4x", " 4", "99999999999999999999999",
                                              "0x10", "2.5", "static,", "dynamic,0", "maybe"};
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        const prange__opt_desc *d = &prange__opt_table[i];
        for (size_t k = 0; k < sizeof bad_values / sizeof *bad_values; k++) {
            char var[128];
            snprintf(var, sizeof var, "%s=%s", d->name, bad_values[k]);
            const char *env[] = {var, NULL};
            prange__opt_val v[PRANGE__OPT_COUNT];
            char out[512];
            int bad = parse(env, v, out, sizeof out);
            /* A few "bad" strings are valid for some kinds (e.g. "-3"? never; "2.5"? never). */
            cr_assert_eq(bad, 1, "%s accepted", var);
            cr_assert_eq(count_lines(out), 1, "%s: %s", var, out);
            cr_assert(strstr(out, d->name) != NULL, "warning does not name the variable: %s", out);
            char quoted[64];
            snprintf(quoted, sizeof quoted, "\"%s\"", bad_values[k]);
            cr_assert(strstr(out, quoted) != NULL, "warning does not show the value: %s", out);
            cr_assert(strstr(out, "expected") != NULL, "warning lacks the accepted form: %s", out);
            cr_assert_eq(v[i].value, d->def, "%s did not keep the default", var);
            cr_assert_eq(v[i].src, PRANGE__SRC_DEFAULT);
        }
    }
}

Test(options, out_of_range)
{
    const char *env[] = {"PRANGE_NUM_THREADS=1025", "PRANGE_VERBOSE=3", "PRANGE_GRAIN=0", "PRANGE_FORK_NS=-1", NULL};
    prange__opt_val v[PRANGE__OPT_COUNT];
    char out[1024];
    cr_assert_eq(parse(env, v, out, sizeof out), 4);
    cr_assert_eq(count_lines(out), 4, "%s", out);
    cr_assert(strstr(out, "an integer in 0..1024") != NULL, "%s", out);
}

Test(options, omp_num_threads_fallback)
{
    prange__opt_val v[PRANGE__OPT_COUNT];
    char out[512];
    const char *a[] = {"OMP_NUM_THREADS=8,4", NULL};
    cr_assert_eq(parse(a, v, out, sizeof out), 0);
    cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].value, 8);
    cr_assert_str_eq(v[PRANGE__OPT_NUM_THREADS].from, "OMP_NUM_THREADS");
    const char *b[] = {"OMP_NUM_THREADS=3", "PRANGE_NUM_THREADS=5", NULL};
    cr_assert_eq(parse(b, v, out, sizeof out), 0);
    cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].value, 5);
    const char *c[] = {"OMP_NUM_THREADS=0", NULL};
    cr_assert_eq(parse(c, v, out, sizeof out), 1);
    cr_assert(strstr(out, "OMP_NUM_THREADS=\"0\"") != NULL, "%s", out);
    cr_assert(strstr(out, "1..1024") != NULL, "%s", out);
    const char *d[] = {"OMP_NUM_THREADS=lots", NULL};
    cr_assert_eq(parse(d, v, out, sizeof out), 1);
    cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].value, 0);
}

/* OMP_NUM_THREADS takes what libgomp takes: blanks around the value and around each list
 * element, a '+' sign; libgomp rejects the whole variable when any element is bad (then
 * it keeps its default, so libprange must not take the first element either). */
Test(options, omp_num_threads_as_libgomp_reads_it)
{
    static const struct { const char *env; int64_t want; } good[] = {
        {"OMP_NUM_THREADS= 1", 1},    {"OMP_NUM_THREADS=3 ", 3},      {"OMP_NUM_THREADS=\t2\n", 2},
        {"OMP_NUM_THREADS= 4 , 2 ", 4}, {"OMP_NUM_THREADS=+6", 6},     {"OMP_NUM_THREADS=5,3,1", 5},
    };
    static const char *const bad[] = {"OMP_NUM_THREADS= ", "OMP_NUM_THREADS=4,", "OMP_NUM_THREADS=4,x",
                                      "OMP_NUM_THREADS=4,0", "OMP_NUM_THREADS=1 2", "OMP_NUM_THREADS=-1",
                                      "OMP_NUM_THREADS=,4", "OMP_NUM_THREADS=4;2"};
    prange__opt_val v[PRANGE__OPT_COUNT];
    char out[512];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *env[] = {good[i].env, NULL};
        cr_assert_eq(parse(env, v, out, sizeof out), 0, "%s: %s", good[i].env, out);
        cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].value, good[i].want, "%s", good[i].env);
        cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].src, PRANGE__SRC_ENV, "%s", good[i].env);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *env[] = {bad[i], NULL};
        cr_assert_eq(parse(env, v, out, sizeof out), 1, "%s was accepted", bad[i]);
        cr_assert_eq(v[PRANGE__OPT_NUM_THREADS].value, 0, "%s", bad[i]);
        cr_assert(strstr(out, "OMP_NUM_THREADS=") != NULL, "%s", out);
    }
    /* PRANGE_* variables stay strict (documented: one exact form). */
    const char *strict[] = {"PRANGE_NUM_THREADS= 1", NULL};
    cr_assert_eq(parse(strict, v, out, sizeof out), 1);
}

/* The configuration report to a stream whose writes fail (/dev/full: ENOSPC once the
 * buffer is written out) must say so; to a good stream it succeeds. */
Test(options, print_config_reports_write_errors)
{
    FILE *full = fopen("/dev/full", "w");
    cr_assert_not_null(full, "/dev/full is missing");
    int rc = prange_print_config(full);
    fclose(full);
    cr_assert_eq(rc, PRANGE_EIO, "prange_print_config to /dev/full returned %d", rc);
    FILE *ok = tmpfile();
    cr_assert_not_null(ok);
    cr_assert_eq(prange_print_config(ok), 0);
    cr_assert_gt(ftell(ok), 0);
    fclose(ok);
}

/* An empty tuning-cache path is a bad argument, refused before anything is measured (it
 * used to walk past the end of the path and fail as an I/O error). */
Test(options, calibrate_rejects_an_empty_path)
{
    cr_assert_eq(prange__calibrate("", NULL), PRANGE_EINVAL);
}

/* docs/environment.md must list every option with its default and doc line, and nothing
 * else: the table is the single source of truth (prange-info --markdown prints it). */
Test(options, docs_agree_with_table)
{
    FILE *f = fopen(PRANGE_SOURCE_ROOT "/docs/environment.md", "r");
    cr_assert_not_null(f, "docs/environment.md is missing");
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    int rows = 0;
    for (const char *p = doc; (p = strstr(p, "| `PRANGE_")) != NULL; p++) rows++;
    cr_assert_eq(rows, PRANGE__OPT_COUNT, "docs list %d options, the table %d", rows, PRANGE__OPT_COUNT);
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        char row[512], def[64];
        prange__opt_val v = {prange__opt_table[i].def, 0, PRANGE__SRC_DEFAULT, NULL, NULL};
        prange__opt_format((prange__opt_id)i, &v, def, sizeof def);
        snprintf(row, sizeof row, "| `%s` | `%s` |", prange__opt_table[i].name, def);
        cr_assert(strstr(doc, row) != NULL, "docs/environment.md lacks the row start: %s", row);
        cr_assert(strstr(doc, prange__opt_table[i].doc) != NULL, "docs lack the doc of %s", prange__opt_table[i].name);
    }
}
