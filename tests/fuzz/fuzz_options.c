/* fuzz_options.c — libFuzzer target for the options parser: arbitrary bytes become a fake
 * environment ("NAME=VALUE" lines); the parser must never crash, must keep every value in
 * its documented range, and must warn exactly once per rejected variable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prange_sched.h"

static char g_buf[4096];
static char *g_lines[64];
static int g_nlines;

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < g_nlines; i++)
        if (strncmp(g_lines[i], name, n) == 0 && g_lines[i][n] == '=') return g_lines[i] + n + 1;
    return NULL;
}

static const char *const NAMES[] = {"PRANGE_NUM_THREADS", "PRANGE_GRAIN", "PRANGE_SCHEDULE", "PRANGE_SERIAL",
                                    "PRANGE_BIND", "PRANGE_FORK_NS", "PRANGE_MEM", "PRANGE_HUGEPAGES",
                                    "PRANGE_VERBOSE", "OMP_NUM_THREADS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (size >= sizeof g_buf) size = sizeof g_buf - 1;
    /* The first byte of each line picks a variable name, the rest is its value. */
    g_nlines = 0;
    size_t pos = 0;
    char *out = g_buf;
    static char lines[64][160];
    while (pos < size && g_nlines < 64) {
        const char *name = NAMES[data[pos++] % (sizeof NAMES / sizeof *NAMES)];
        size_t start = pos;
        while (pos < size && data[pos] != '\n') pos++;
        size_t len = pos - start < 100 ? pos - start : 100;
        snprintf(lines[g_nlines], sizeof lines[0], "%s=%.*s", name, (int)len, (const char *)data + start);
        /* embedded NULs end the value early, as in a real environment */
        g_lines[g_nlines] = lines[g_nlines];
        g_nlines++;
        pos++;
    }
    (void)out;
    prange__opt_val v[PRANGE__OPT_COUNT];
    int bad = prange__opts_parse(v, fake_getenv, sink);
    if (bad < 0 || bad > PRANGE__OPT_COUNT) abort();
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        const prange__opt_desc *d = &prange__opt_table[i];
        if (d->kind == PRANGE__KIND_INT || d->kind == PRANGE__KIND_BOOL || d->kind == PRANGE__KIND_ENUM)
            if (v[i].value < d->min || v[i].value > d->max) abort();
        if (d->kind == PRANGE__KIND_SCHED &&
            (v[i].value < PRANGE_SCHEDULE_STATIC || v[i].value > PRANGE_SCHEDULE_GUIDED || v[i].chunk < 0))
            abort();
        char buf[64];
        prange__opt_format((prange__opt_id)i, &v[i], buf, sizeof buf);
    }
    return 0;
}
