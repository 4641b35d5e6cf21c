/*
 * options.c — the options table and its strict parser.
 *
 * Every PRANGE_* variable is described once, in PRANGE__OPTIONS (sched.h). A value that
 * does not parse completely, or lies outside its range, keeps the default and produces
 * exactly one warning naming the variable, the value and the accepted form.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "prange_sched.h"

const prange__opt_desc prange__opt_table[PRANGE__OPT_COUNT] = {
#define PRANGE__OPT_ROW(id, name, kind, def, min, max, choices, doc) \
    [PRANGE__OPT_##id] = {name, kind, def, min, max, choices, doc},
    PRANGE__OPTIONS(PRANGE__OPT_ROW)
#undef PRANGE__OPT_ROW
};

/* Strict decimal integer: optional sign, digits, nothing else (no spaces, no 1e3). */
static int parse_i64(const char *s, int64_t *out)
{
    if (*s == '\0' || isspace((unsigned char)*s)) return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || end == s || *end != '\0') return -1;
    *out = (int64_t)v;
    return 0;
}

static int parse_bool(const char *s, int64_t *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* Position of `s` in a "a|b|c" list, or -1. */
static int choice_index(const char *choices, const char *s, size_t len)
{
    int idx = 0;
    for (const char *p = choices;; idx++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncasecmp(p, s, len) == 0) return idx;
        if (!bar) return -1;
        p = bar + 1;
    }
}

/* "static" | "dynamic[,chunk]" | "guided[,chunk]", chunk >= 1. */
static int parse_sched(const char *s, int64_t *sched, int64_t *chunk)
{
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    int idx = choice_index("static|dynamic|guided", s, len);
    if (idx < 0) return -1;
    *sched = PRANGE_SCHEDULE_STATIC + idx;
    *chunk = 0;
    if (comma) {
        if (idx == 0) return -1; /* static has no chunk: it is one balanced block per thread */
        if (parse_i64(comma + 1, chunk) != 0 || *chunk < 1 || *chunk > (INT64_C(1) << 40)) return -1;
    }
    return 0;
}

/* OMP_NUM_THREADS as libgomp reads it (env.c, parse_unsigned_long_list): positive
 * integers separated by commas, each with blanks around it and an optional '+'; one bad
 * element invalidates the variable. Copies the first element, trimmed, into `first`;
 * -1 when libgomp would reject the value (it then keeps its default, and so do we). */
static int omp_list_first(const char *s, char *first, size_t size)
{
    for (int k = 0;; k++) {
        while (isspace((unsigned char)*s)) s++;
        const char *b = s;
        if (!isdigit((unsigned char)(*s == '+' ? s[1] : *s))) return -1;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v == 0 || v > (unsigned long long)INT64_MAX) return -1;
        if (k == 0) {
            size_t n = (size_t)(end - b);
            if (n >= size) return -1;
            memcpy(first, b, n);
            first[n] = '\0';
        }
        for (s = end; isspace((unsigned char)*s); s++) {
        }
        if (*s == '\0') return 0;
        if (*s++ != ',') return -1;
    }
}

static void expected_form(const prange__opt_desc *d, const char *var, char *buf, size_t size)
{
    /* OMP_NUM_THREADS borrows NUM_THREADS's row but 0 means nothing to OpenMP. */
    int64_t min = strcmp(var, d->name) != 0 && d->min < 1 ? 1 : d->min;
    switch (d->kind) {
    case PRANGE__KIND_INT:
        snprintf(buf, size, "an integer in %" PRId64 "..%" PRId64, min, d->max);
        break;
    case PRANGE__KIND_BOOL: snprintf(buf, size, "0|1|true|false|yes|no|on|off"); break;
    default: snprintf(buf, size, "%s", d->choices); break;
    }
}

/* Parse one value for `d`; 0 on success. */
static int parse_value(const prange__opt_desc *d, const char *s, prange__opt_val *v)
{
    int64_t x = 0, chunk = 0;
    switch (d->kind) {
    case PRANGE__KIND_INT:
        if (parse_i64(s, &x) != 0 || x < d->min || x > d->max) return -1;
        break;
    case PRANGE__KIND_BOOL:
        if (parse_bool(s, &x) != 0) return -1;
        break;
    case PRANGE__KIND_ENUM:
        if ((x = choice_index(d->choices, s, strlen(s))) < 0 || *s == '\0') return -1;
        break;
    case PRANGE__KIND_SCHED:
        if (parse_sched(s, &x, &chunk) != 0) return -1;
        break;
    case PRANGE__KIND_PROFILE: /* off | 1 | json:PATH, PATH not empty */
        if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) x = 0;
        else if (strcmp(s, "1") == 0) x = 1;
        else if (strncmp(s, "json:", 5) == 0 && s[5] != '\0') x = 2, v->text = s + 5;
        else return -1;
        break;
    }
    v->value = x;
    v->chunk = chunk;
    return 0;
}

static void warn_bad(FILE *warn, const char *var, const char *value, const prange__opt_desc *d,
                     const prange__opt_val *def)
{
    if (!warn) return;
    char form[96], dflt[64];
    expected_form(d, var, form, sizeof form);
    prange__opt_format((prange__opt_id)(d - prange__opt_table), def, dflt, sizeof dflt);
    fprintf(warn, "prange: warning: %s=\"%s\" is not valid (expected %s); using the default %s\n",
            var, value, form, dflt);
}

int prange__opts_parse(prange__opt_val vals[PRANGE__OPT_COUNT],
                       const char *(*getenv_fn)(const char *name), FILE *warn)
{
    int bad = 0;
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        const prange__opt_desc *d = &prange__opt_table[i];
        prange__opt_val def = {d->def, 0, PRANGE__SRC_DEFAULT, NULL, NULL};
        vals[i] = def;
        const char *s = getenv_fn(d->name);
        const char *var = d->name;
        /* OMP_NUM_THREADS is honoured where users expect it: when PRANGE_NUM_THREADS is
         * unset, read as libgomp reads it. Its first list element is the outer team size
         * ("8,4" -> 8); 0 is not meaningful to OpenMP either. */
        char first[32];
        int omp_bad = 0;
        if (!s && i == PRANGE__OPT_NUM_THREADS && (s = getenv_fn("OMP_NUM_THREADS")) != NULL) {
            var = "OMP_NUM_THREADS";
            omp_bad = omp_list_first(s, first, sizeof first) != 0;
            s = first;
        }
        if (!s) continue;
        prange__opt_val v = def;
        if (omp_bad || parse_value(d, s, &v) != 0) {
            warn_bad(warn, var, getenv_fn(var), d, &def);
            bad++;
            continue;
        }
        v.src = PRANGE__SRC_ENV;
        v.from = var;
        vals[i] = v;
    }
    return bad;
}

void prange__opt_format(prange__opt_id id, const prange__opt_val *v, char *buf, size_t size)
{
    const prange__opt_desc *d = &prange__opt_table[id];
    switch (d->kind) {
    case PRANGE__KIND_INT: snprintf(buf, size, "%" PRId64, v->value); break;
    case PRANGE__KIND_BOOL: snprintf(buf, size, "%d", (int)v->value); break;
    case PRANGE__KIND_ENUM: {
        const char *p = d->choices;
        for (int64_t k = 0; k < v->value && p; k++) {
            p = strchr(p, '|');
            if (p) p++;
        }
        size_t n = p ? strcspn(p, "|") : 1;
        snprintf(buf, size, "%.*s", (int)n, p ? p : "?");
        break;
    }
    case PRANGE__KIND_PROFILE:
        if (v->value == 2) snprintf(buf, size, "json:%s", v->text ? v->text : "PATH");
        else snprintf(buf, size, "%s", v->value == 1 ? "1" : "off");
        break;
    case PRANGE__KIND_SCHED:
        if (v->chunk > 0)
            snprintf(buf, size, "%s,%" PRId64, prange_schedule_name((prange_schedule)v->value), v->chunk);
        else
            snprintf(buf, size, "%s", prange_schedule_name((prange_schedule)v->value));
        break;
    }
}
