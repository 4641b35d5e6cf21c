/*
 * cgroup.c — the CPU quota of this process's cgroup and all its ancestors.
 *
 * A container limited to 1.5 CPUs on a 64-core host must not start 64 threads: each
 * would be throttled and a loop can run 10-100x slower than serially. The quota is
 * cgroup v2 `cpu.max` ("max 100000" or "150000 100000") or v1 `cpu.cfs_quota_us` /
 * `cpu.cfs_period_us` (-1 = none). The smallest quota on the path to the root wins.
 * The mount root is a parameter so tests point it at a fake tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prange_sched.h"

/* Read a small file into buf; 0 on success. */
static int read_small(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* v2 "QUOTA PERIOD" or "max PERIOD" -> CPUs, 0 for none or garbage. */
static double parse_cpu_max(const char *s)
{
    char q[32];
    long long period = 0;
    if (sscanf(s, "%31s %lld", q, &period) != 2 || period <= 0) return 0;
    if (strcmp(q, "max") == 0) return 0;
    char *end;
    long long quota = strtoll(q, &end, 10);
    if (*end != '\0' || quota <= 0) return 0;
    return (double)quota / (double)period;
}

/* Paths and lines longer than this are not cgroups we can read (no quota). Kept small:
 * this runs on the caller's stack at the first call, which may be a small one. */
#define PATH_CAP 1024

/* Read the file `name` in directory `dir` (dir has room for PATH_CAP bytes). */
static int read_in(char *dir, const char *name, char *buf, size_t size)
{
    size_t len = strlen(dir);
    if (snprintf(dir + len, PATH_CAP - len, "/%s", name) >= (int)(PATH_CAP - len)) return -1;
    int rc = read_small(dir, buf, size);
    dir[len] = '\0';
    return rc;
}

static double read_v1(char *dir)
{
    char buf[64], *end;
    if (read_in(dir, "cpu.cfs_quota_us", buf, sizeof buf) != 0) return 0;
    long long quota = strtoll(buf, &end, 10);
    if (end == buf || quota <= 0) return 0;
    if (read_in(dir, "cpu.cfs_period_us", buf, sizeof buf) != 0) return 0;
    long long period = strtoll(buf, &end, 10);
    if (end == buf || period <= 0) return 0;
    return (double)quota / (double)period;
}

static double read_v2(char *dir)
{
    char buf[128];
    if (read_in(dir, "cpu.max", buf, sizeof buf) != 0) return 0;
    return parse_cpu_max(buf);
}

/* Walk `rel` ("/a/b") and every ancestor below `mount`, keeping the smallest quota. */
static double walk(const char *mount, const char *rel, int v2)
{
    char dir[PATH_CAP];
    int base = snprintf(dir, sizeof dir, "%s", mount);
    if (base < 0 || base >= (int)sizeof dir || snprintf(dir + base, sizeof dir - (size_t)base, "%s", rel) >= (int)(sizeof dir - (size_t)base))
        return 0;
    double best = 0;
    for (;;) {
        size_t len = strlen(dir);
        while (len > (size_t)base && dir[len - 1] == '/') dir[--len] = '\0';
        double q = v2 ? read_v2(dir) : read_v1(dir);
        if (q > 0 && (best == 0 || q < best)) best = q;
        if (len == (size_t)base) break;
        char *slash = strrchr(dir + base, '/');
        if (!slash) break;
        *slash = '\0';
    }
    return best;
}

double prange__cgroup_quota(const char *root, const char *proc_cgroup)
{
    if (!root || !proc_cgroup) return 0;
    double best = 0;
    const char *line = proc_cgroup;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[PATH_CAP];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            /* "ID:controllers:path" */
            char *c1 = strchr(buf, ':');
            char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c1 && c2 && c2[1] == '/') {
                *c1 = *c2 = '\0';
                const char *ctrls = c1 + 1, *path = c2 + 1;
                double q = 0;
                char mount[PATH_CAP];
                if (strcmp(buf, "0") == 0 && *ctrls == '\0') {
                    q = walk(root, path, 1);
                } else {
                    /* v1: the cpu controller, mounted as cpu, cpu,cpuacct or cpuacct,cpu. */
                    char list[256];
                    snprintf(list, sizeof list, ",%s,", ctrls);
                    if (strstr(list, ",cpu,")) {
                        static const char *const dirs[] = {"cpu", "cpu,cpuacct", "cpuacct,cpu"};
                        for (int i = 0; i < 3 && q == 0; i++) {
                            if (snprintf(mount, sizeof mount, "%s/%s", root, dirs[i]) >= (int)sizeof mount) break;
                            q = walk(mount, path, 0);
                        }
                    }
                }
                if (q > 0 && (best == 0 || q < best)) best = q;
            }
        }
        if (!nl) break;
        line = nl + 1;
    }
    return best;
}
