/*
 * output.c — what a run writes: the table on stdout (one line per variant, the ratio to
 * the best serial/OpenMP reference of the row) and the JSON artifact (schema 2: the
 * machine's fingerprint, metadata, one object per measured variant with its repetitions;
 * NaN and infinities written as null, so every JSON reader parses it). perf/report.py
 * reads the artifact.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <hwloc.h>

#include "harness.h"

#ifdef HAVE_TBB
#include "tbb_variants.h"
#endif

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "?"
#endif

static const char *g_slow_kernel;
static double g_slow_factor = 1;

static FILE *J;
static int j_first_row = 1;

static void json_str(const char *k, const char *v, int comma)
{
    fprintf(J, "\"%s\": \"", k);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', J);
        if ((unsigned char)*p >= 0x20) fputc(*p, J);
        else fprintf(J, "\\u%04x", (unsigned char)*p); /* newlines of the config text */
    }
    fprintf(J, "\"%s", comma ? ", " : "");
}

/* A number for JSON: NaN and infinities (no JSON literal) are written as null. */
static void json_num(const char *key, double v, const char *fmt)
{
    fprintf(J, "\"%s\": ", key);
    if (isfinite(v)) fprintf(J, fmt, v);
    else fputs("null", J);
}

/* The 1-minute load average: recorded at start and end, since a loaded machine widens
 * every confidence interval (NaN when unreadable). */
static double g_load_start = NAN;
static double load_average(void)
{
    double l = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = NAN;
        fclose(f);
    }
    return l;
}

static void read_line_of(const char *path, const char *key, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (key && strncmp(line, key, strlen(key)) != 0) continue;
        char *v = key ? strchr(line, ':') : line;
        if (!v) continue;
        if (key) v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        size_t len = strlen(v);
        if (len >= size) len = size - 1;
        memcpy(out, v, len);
        out[len] = '\0';
        break;
    }
    fclose(f);
}

/* libprange's configuration text (prange_print_config), malloc'd; NULL on failure. */
static char *config_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    prange_print_config(f);
    fclose(f);
    return text;
}

static void json_metadata(const config *cfg)
{
    /* The topology from hwloc itself (the bench uses only libprange's public API). */
    hwloc_topology_t topo;
    int cores = 0, pus = 0, numa = 0, packages = 0;
    long long cache[4] = {0};
    char *cpuset = NULL;
    if (hwloc_topology_init(&topo) == 0 && hwloc_topology_load(topo) == 0) {
        cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
        pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
        numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
        packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
        static const hwloc_obj_type_t level[4] = {HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L2CACHE,
                                                   HWLOC_OBJ_L3CACHE};
        for (int l = 1; l < 4; l++) {
            hwloc_obj_t o = hwloc_get_obj_by_type(topo, level[l], 0);
            if (o && o->attr) cache[l] = (long long)o->attr->cache.size;
        }
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        if (set && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0) hwloc_bitmap_list_asprintf(&cpuset, set);
        hwloc_bitmap_free(set);
        hwloc_topology_destroy(topo);
    }
    /* What libprange itself reports: options with their sources, plans (prange-info's text). */
    char *config = config_text();
    struct utsname u;
    uname(&u);
    char cpu[256], gov[64], kern[300];
    read_line_of("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    read_line_of("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", NULL, gov, sizeof gov);
    snprintf(kern, sizeof kern, "%s %s %s", u.sysname, u.release, u.machine);
    unsigned hv = hwloc_get_api_version();
    char hwloc_v[32];
    snprintf(hwloc_v, sizeof hwloc_v, "%u.%u.%u", hv >> 16, (hv >> 8) & 0xff, hv & 0xff);
    char date[64];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    /* The machine's fingerprint: what decides whether two runs can be compared. No host
     * name, so a fresh machine of the same kind matches a committed baseline. Memory is
     * MemTotal rounded up to 4 GiB (the kernel's reservations vary a little). */
    char mem[64];
    long long mem_kb = 0;
    read_line_of("/proc/meminfo", "MemTotal", mem, sizeof mem);
    sscanf(mem, "%lld", &mem_kb);
    long long mem_gib = (mem_kb + (4LL << 20) - 1) / (4LL << 20) * 4;
    fprintf(J, "{\n\"schema\": 2,\n\"fingerprint\": {");
    json_str("cpu", cpu, 1);
    fprintf(J, "\"cpus\": %ld, \"memory_gib\": %lld, ", sysconf(_SC_NPROCESSORS_ONLN), mem_gib);
    json_str("kernel_release", u.release, 0);
    fprintf(J, "},\n\"meta\": {");
    json_num("load_start", g_load_start, "%.2f");
    fputs(", ", J);
    if (g_slow_kernel) {
        char inj[128];
        snprintf(inj, sizeof inj, "%s:%g", g_slow_kernel, g_slow_factor);
        json_str("injected_slowdown", inj, 1);
    }
    json_str("date", date, 1);
    json_str("git", cfg->git ? cfg->git : "unknown", 1);
    json_str("cpu", cpu, 1);
    json_str("kernel", kern, 1);
    json_str("governor", gov[0] ? gov : "unreadable", 1);
    fprintf(J, "\"cores\": %d, \"pus\": %d, \"numa_nodes\": %d, \"packages\": %d, ", cores, pus, numa, packages);
    fprintf(J, "\"l1d\": %lld, \"l2\": %lld, \"l3\": %lld, ", cache[1], cache[2], cache[3]);
    json_str("cpuset", cpuset ? cpuset : "", 1);
    free(cpuset);
#ifdef __clang__
    json_str("compiler", "clang " __clang_version__, 1);
#else
    json_str("compiler", "gcc " __VERSION__, 1);
#endif
    json_str("cflags", BENCH_CFLAGS, 1);
    fprintf(J, "\"openmp\": %d, ", _OPENMP);
    json_str("hwloc", hwloc_v, 1);
#ifdef HAVE_TBB
    json_str("tbb", bench_tbb_version(), 1);
#else
    json_str("tbb", "absent", 1);
#endif
    json_str("libprange", prange_version_string(), 1);
    fprintf(J, "\"quick\": %d, \"reps\": %d, \"min_batch_us\": %g, \"nmax\": %lld, ", cfg->quick,
            cfg->reps, cfg->min_batch_s * 1e6, (long long)cfg->nmax);
    json_str("config", config ? config : "", 0);
    free(config);
    fprintf(J, "},\n\"rows\": [\n");
}

/* Bytes moved by one call at n. */
static double bytes_of(const kernel *K, int64_t n)
{
    return K->bytes * (double)(K->elements ? K->elements(n) : n);
}

static double g_bw_limit; /* best GB/s of the STREAM kernels at the largest size */

void output_row(const kernel *K, int64_t n, int threads, const char *phase, const stats *s, int nv)
{
    double best_ref = INFINITY;
    for (int v = 0; v < nv; v++)
        if (s[v].measured && (strcmp(K->v[v].name, "serial") == 0 ||
                              (strncmp(K->v[v].name, "omp", 3) == 0 && !strstr(K->v[v].name, "threads_for"))))
            if (s[v].median < best_ref) best_ref = s[v].median;
    double bytes = bytes_of(K, n);
    for (int v = 0; v < nv; v++) {
        if (!s[v].measured) continue;
        double gbs = K->bytes > 0 ? bytes / s[v].median / 1e9 : 0;
        if (K->stream && strcmp(phase, "production") == 0 && gbs > g_bw_limit) g_bw_limit = gbs;
        double ratio = s[v].median / best_ref;
        printf("%-10s %-11s %3d %12lld %-15s %11.3f %11.3f %11.3f %11.3f %-9s %8.2f %6.3f %s\n", phase, K->name,
               threads, (long long)n, K->v[v].name, s[v].median * 1e6, s[v].p10 * 1e6, s[v].p90 * 1e6,
               s[v].p99 * 1e6, s[v].percall ? "per-call" : "batch", gbs, ratio, s[v].ok ? "" : "WRONG RESULT");
        if (!J) continue;
        fprintf(J, "%s{\"phase\": \"%s\", \"kernel\": \"%s\", \"variant\": \"%s\", \"threads\": %d, \"n\": %lld, ",
                j_first_row ? "" : ",\n", phase, K->name, K->v[v].name, threads, (long long)n);
        json_num("first_s", s[v].first, "%.9g");
        fputs(", ", J);
        json_num("min_s", s[v].min, "%.9g");
        fputs(", ", J);
        json_num("median_s", s[v].median, "%.9g");
        fputs(", ", J);
        json_num("mean_s", s[v].mean, "%.9g");
        fprintf(J, ", \"dist\": \"%s\", \"calls\": %lld, ", s[v].percall ? "per-call" : "batch-mean",
                (long long)s[v].calls);
        json_num("p10_s", s[v].p10, "%.9g");
        fputs(", ", J);
        json_num("p50_s", s[v].p50, "%.9g");
        fputs(", ", J);
        json_num("p90_s", s[v].p90, "%.9g");
        fputs(", ", J);
        json_num("p95_s", s[v].p95, "%.9g");
        fputs(", ", J);
        json_num("p99_s", s[v].p99, "%.9g");
        fprintf(J, ", \"samples\": %d, \"batch\": %lld, \"reps_s\": [", s[v].samples, (long long)s[v].batch);
        for (int r = 0; r < s[v].samples; r++) {
            if (isfinite(s[v].rep[r])) fprintf(J, "%s%.6g", r ? ", " : "", s[v].rep[r]);
            else fprintf(J, "%snull", r ? ", " : "");
        }
        fprintf(J, "], \"bytes\": %.17g, ", bytes);
        json_num("gbs", gbs, "%.6g");
        fputs(", ", J);
        json_num("ratio", ratio, "%.6g");
        fputs(", ", J);
        json_num("result", s[v].result, "%.17g");
        fputs(", ", J);
        json_num("rel_error", s[v].error, "%.3g");
        fprintf(J, ", \"ok\": %s}", s[v].ok ? "true" : "false");
        j_first_row = 0;
    }
}

int output_begin(const config *cfg, const char *slow_kernel, double slow_factor)
{
    g_slow_kernel = slow_kernel;
    g_slow_factor = slow_factor;
    g_load_start = load_average();
    if (!cfg->json) return 0;
    if (!(J = fopen(cfg->json, "w"))) {
        fprintf(stderr, "prange-bench: cannot write %s\n", cfg->json);
        return -1;
    }
    json_metadata(cfg);
    return 0;
}

void output_heading(const config *cfg, double first_call)
{
    printf("libprange perf: nmax=%lld per array, reps=%d, min batch %.0f us, first call %.1f us\n",
           (long long)cfg->nmax, cfg->reps, cfg->min_batch_s * 1e6, first_call * 1e6);
    printf("ratio = median of the variant's batch means / the best median of serial and OpenMP in this row\n");
    printf("%-10s %-11s %3s %12s %-15s %11s %11s %11s %11s %-9s %8s %6s\n", "phase", "kernel", "thr", "n", "variant",
           "median_us", "p10_us", "p90_us", "p99_us", "dist", "GB/s", "ratio");
}

void output_end(double first_call, double data_bytes, int wrong)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("bandwidth limit (best STREAM kernel): %.2f GB/s; peak RSS %.1f MiB (data %.1f MiB)\n", g_bw_limit,
           (double)ru.ru_maxrss / 1024, data_bytes / 1048576);
    if (!J) return;
    fprintf(J, "\n],\n");
    /* libprange's state after the run: the fork-join figures it ended with and the plans
     * they give, next to the start's in meta.config (a 16-core sweep ran a 10^5 triad
     * serially and nothing recorded why). */
    char *config = config_text();
    json_str("config_end", config ? config : "", 1);
    free(config);
    json_num("load_end", load_average(), "%.2f");
    fprintf(J, ", \"first_call_s\": %.9g, \"bandwidth_limit_gbs\": %.6g, \"peak_rss_bytes\": %lld, "
               "\"data_bytes\": %.0f, \"wrong_results\": %d\n}\n",
            first_call, g_bw_limit, (long long)ru.ru_maxrss * 1024, data_bytes, wrong);
    fclose(J);
    J = NULL;
}
