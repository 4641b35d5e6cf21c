/* test_cgroup.c — CPU quota parsing on fake cgroup v1 and v2 trees. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prange_sched.h"

static char g_root[64];

static void setup(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/prange-cg-XXXXXX");
    cr_assert_not_null(mkdtemp(g_root));
}

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    /* mkdir -p of the parent */
    for (char *p = path + strlen(g_root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cgroup, .init = setup, .fini = teardown);

Test(cgroup, v2_max_is_no_quota)
{
    put("a/cpu.max", "max 100000\n");
    cr_assert_eq(prange__cgroup_quota(g_root, "0::/a\n"), 0);
}

Test(cgroup, v2_quota)
{
    put("a/cpu.max", "150000 100000\n");
    cr_assert_float_eq(prange__cgroup_quota(g_root, "0::/a\n"), 1.5, 1e-12);
    put("b/cpu.max", "50000 100000\n");
    cr_assert_float_eq(prange__cgroup_quota(g_root, "0::/b\n"), 0.5, 1e-12);
}

Test(cgroup, v2_nested_smallest_wins)
{
    put("outer/cpu.max", "600000 100000\n");
    put("outer/inner/cpu.max", "max 100000\n");
    put("outer/inner/leaf/cpu.max", "800000 100000\n");
    cr_assert_float_eq(prange__cgroup_quota(g_root, "0::/outer/inner/leaf\n"), 6.0, 1e-12);
    put("outer/inner/cpu.max", "150000 100000\n");
    cr_assert_float_eq(prange__cgroup_quota(g_root, "0::/outer/inner/leaf\n"), 1.5, 1e-12);
}

Test(cgroup, v2_namespace_root_file)
{
    put("cpu.max", "200000 100000\n");
    cr_assert_float_eq(prange__cgroup_quota(g_root, "0::/\n"), 2.0, 1e-12);
}

Test(cgroup, v1_quota)
{
    put("cpu,cpuacct/job/cpu.cfs_quota_us", "300000\n");
    put("cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
    const char *proc = "12:memory:/job\n4:cpu,cpuacct:/job\n1:name=systemd:/job\n";
    cr_assert_float_eq(prange__cgroup_quota(g_root, proc), 3.0, 1e-12);
}

Test(cgroup, v1_unlimited)
{
    put("cpu/job/cpu.cfs_quota_us", "-1\n");
    put("cpu/job/cpu.cfs_period_us", "100000\n");
    cr_assert_eq(prange__cgroup_quota(g_root, "3:cpu:/job\n"), 0);
}

Test(cgroup, garbage_and_missing)
{
    put("g/cpu.max", "lots please\n");
    cr_assert_eq(prange__cgroup_quota(g_root, "0::/g\n"), 0);
    put("h/cpu.max", "-5 100000\n");
    cr_assert_eq(prange__cgroup_quota(g_root, "0::/h\n"), 0);
    put("z/cpu.max", "100000 0\n");
    cr_assert_eq(prange__cgroup_quota(g_root, "0::/z\n"), 0);
    cr_assert_eq(prange__cgroup_quota(g_root, "0::/does/not/exist\n"), 0);
    cr_assert_eq(prange__cgroup_quota(g_root, "garbage"), 0);
    cr_assert_eq(prange__cgroup_quota(g_root, ""), 0);
    cr_assert_eq(prange__cgroup_quota(NULL, "0::/\n"), 0);
    cr_assert_eq(prange__cgroup_quota(g_root, NULL), 0);
}
