/*
 * prange-info — print what libprange sees and decides on this machine: version, build,
 * topology, cgroup quota, every option with its value and source, and the plans for
 * n = 10^1 .. 10^9. Paste its output into bug reports.
 * After the library's report come the system lines a bug report needs: CPU model, kernel,
 * transparent huge pages, the OpenMP variables as libgomp reads them, the process's actual
 * CPU binding, and PRANGE_* variables that libprange does not know ("did you mean").
 * --json prints the same report as one JSON object: every "key: value" line as a string,
 * every section ("options:", "plans ...:") as the list of its lines (options as objects).
 * --markdown prints the options table that docs/environment.md embeds.
 * --calibrate [FILE] measures the fork-join cost per team size and writes the tuning
 * cache (default $XDG_CACHE_HOME/libprange/tuning) that later processes read.
 * --help prints the usage to standard output.
 * Exit status: 0; 1 when the output or the tuning cache could not be written; 2 for bad
 * arguments (an unknown one, an empty FILE), with the usage on standard error.
 */
#include <ctype.h>
#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "prange.h"
#include "prange_sched.h"

/* The options table as Markdown rows: the body of docs/environment.md's table. */
static void print_markdown(void)
{
    printf("| variable | default | accepted values | meaning |\n|---|---|---|---|\n");
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        const prange__opt_desc *d = &prange__opt_table[i];
        prange__opt_val v = {d->def, 0, PRANGE__SRC_DEFAULT, NULL, NULL};
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

/* The first line of `path` starting with `prefix`, after it and any ": " (trimmed); "?" when none. */
static void read_field(const char *path, const char *prefix, char *buf, size_t size)
{
    snprintf(buf, size, "?");
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, strlen(prefix)) != 0) continue;
        char *v = line + strlen(prefix);
        while (*v == ' ' || *v == '\t' || *v == ':') v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(buf, size, "%s", v);
        break;
    }
    fclose(f);
}

/* "always [madvise] never" -> "madvise". */
static void thp_mode(const char *path, char *buf, size_t size)
{
    char all[256];
    read_field(path, "", all, sizeof all);
    const char *b = strchr(all, '['), *e = b ? strchr(b, ']') : NULL;
    if (b && e) snprintf(buf, size, "%.*s", (int)(e - b - 1), b + 1);
    else snprintf(buf, size, "%s", strcmp(all, "?") ? all : "unknown (no /sys/kernel/mm/transparent_hugepage)");
}

/* A CPU set as a list, e.g. "0-3,8". */
static void cpu_list(const cpu_set_t *set, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n + 24 < size; c++) {
        if (!CPU_ISSET(c, set)) continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set)) e++;
        n += (size_t)(e > c ? snprintf(buf + n, size - n, "%s%d-%d", n ? "," : "", c, e)
                            : snprintf(buf + n, size - n, "%s%d", n ? "," : "", c));
        c = e;
    }
}

static const char *env_or_unset(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "unset";
}

/* The system lines: what the library's report does not say and a bug report needs. */
static void print_system(FILE *f)
{
    char buf[512], mode[128];
    read_field("/proc/cpuinfo", "model name", buf, sizeof buf);
    if (!strcmp(buf, "?")) read_field("/proc/cpuinfo", "Model", buf, sizeof buf); /* arm64 */
    fprintf(f, "cpu:       %s\n", buf);
    struct utsname u;
    if (uname(&u) == 0) fprintf(f, "kernel:    %s %s %s %s\n", u.sysname, u.release, u.version, u.machine);
    else fprintf(f, "kernel:    ?\n");
    thp_mode("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf);
    thp_mode("/sys/kernel/mm/transparent_hugepage/defrag", mode, sizeof mode);
    fprintf(f, "thp:       enabled %s, defrag %s\n", buf, mode);
    /* As the OpenMP runtime read them when it was loaded (before main). */
    static const char *const binds[] = {"false", "true", "master", "close", "spread"};
    int pb = (int)omp_get_proc_bind();
    fprintf(f, "omp-proc-bind: %s (runtime: %s)\n", env_or_unset("OMP_PROC_BIND"),
            pb >= 0 && pb <= 4 ? binds[pb] : "?");
    int places = omp_get_num_places();
    fprintf(f, "omp-places: %s (runtime: %d place%s", env_or_unset("OMP_PLACES"), places, places == 1 ? "" : "s");
    for (int p = 0; p < places && p < 4; p++) fprintf(f, "%s%d CPU%s", p ? ", " : ": ", omp_get_place_num_procs(p),
                                                    omp_get_place_num_procs(p) == 1 ? "" : "s");
    fprintf(f, "%s)\n", places > 4 ? ", ..." : "");
    const char *wait = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    /* libgomp: active spins without end, passive sleeps at once; unset spins GOMP_SPINCOUNT
     * rounds (default 300000, 1000 when more threads than CPUs) before sleeping. */
    fprintf(f, "omp-wait-policy: %s (%s)\n", wait ? wait : "unset",
            !wait ? "libgomp spins, then sleeps"
                  : !strcasecmp(wait, "active") ? "libgomp spins without end"
                  : !strcasecmp(wait, "passive") ? "libgomp sleeps at once" : "not active|passive: libgomp ignores it");
    fprintf(f, "gomp-spincount: %s (%s)\n", spin ? spin : "unset",
            spin ? (wait && !strcasecmp(wait, "passive") ? "ignored under OMP_WAIT_POLICY=passive" : "rounds before sleeping")
                 : (wait && !strcasecmp(wait, "active") ? "infinite (OMP_WAIT_POLICY=active)"
                    : "300000 rounds, 1000 when threads outnumber CPUs"));
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        cpu_list(&set, buf, sizeof buf);
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        fprintf(f, "binding:   CPUs %s (%d of %ld online)\n", buf, CPU_COUNT(&set), online);
    } else {
        fprintf(f, "binding:   unknown (sched_getaffinity failed: %s)\n", strerror(errno));
    }
    /* Misspelled variables: their lines, without the "prange: warning: " prefix. */
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    int bad = m ? prange__env_misspelled(NULL, m) : 0;
    if (m) fclose(m);
    if (bad == 0) {
        fprintf(f, "environment: no unknown PRANGE_* variable\n");
    } else {
        fprintf(f, "environment:\n");
        for (char *line = text, *nl; line && *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) break;
            *nl = '\0';
            const char *w = strstr(line, "warning: ");
            fprintf(f, "  %s\n", w ? w + 9 : line);
        }
    }
    free(text);
}

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* The text report as JSON: "libprange X" -> "libprange": "X"; "key: value" -> a string;
 * "key:" followed by indented lines -> their list; the options, objects by name. */
static void print_json(FILE *f, char *text)
{
    fputc('{', f);
    int first = 1, in_list = 0, options = 0;
    for (char *line = text, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl) nl = line + strlen(line) - 1;
        *nl = '\0';
        if (line[0] == ' ') { /* an item of the open section */
            const char *item = line;
            while (*item == ' ') item++;
            if (!in_list) continue;
            fprintf(f, "%s\n    ", in_list == 1 ? "" : ",");
            in_list = 2;
            if (options) { /* NAME VALUE SOURCE DOC */
                char name[64], value[4200], src[32];
                int used = 0;
                if (sscanf(item, "%63s %4199s %31s %n", name, value, src, &used) == 3) {
                    json_str(f, name, strlen(name));
                    fprintf(f, ": {\"value\": ");
                    json_str(f, value, strlen(value));
                    fprintf(f, ", \"source\": ");
                    json_str(f, src, strlen(src));
                    fprintf(f, ", \"doc\": ");
                    json_str(f, item + used, strlen(item + used));
                    fputc('}', f);
                    continue;
                }
                json_str(f, name, 0);
                fprintf(f, ": ");
            }
            json_str(f, item, strlen(item));
            continue;
        }
        if (in_list) fprintf(f, "\n  %c", options ? '}' : ']');
        in_list = options = 0;
        const char *colon = strchr(line, ':');
        size_t klen = colon ? (size_t)(colon - line) : strcspn(line, " ");
        const char *value = colon ? colon + 1 : line + klen;
        while (*value == ' ') value++;
        fprintf(f, "%s\n  ", first ? "" : ",");
        first = 0;
        json_str(f, line, klen);
        fprintf(f, ": ");
        if (colon && !*value) { /* a section */
            options = klen == 7 && !strncmp(line, "options", 7);
            fputc(options ? '{' : '[', f);
            in_list = 1;
        } else {
            json_str(f, value, strlen(value));
        }
    }
    if (in_list) fprintf(f, "\n  %c", options ? '}' : ']');
    fprintf(f, "\n}\n");
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f, "usage: %s [--json | --version | --markdown | --calibrate [FILE]]\n"
               "  (no argument)     print the version, build, topology, options, plans, CPU, kernel, OpenMP and binding\n"
               "  --json            the same as one JSON object\n"
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
    if (argc == 1 || strcmp(argv[1], "--json") == 0) {
        /* One text, printed as is or as JSON: the JSON has every field of the text form. */
        char *text = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&text, &len);
        if (!m || prange_print_config(m) != 0) {
            fprintf(stderr, "prange-info: out of memory\n");
            return 1;
        }
        print_system(m);
        fclose(m);
        if (argc == 1) fputs(text, stdout);
        else print_json(stdout, text);
        free(text);
        return finish(0);
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
