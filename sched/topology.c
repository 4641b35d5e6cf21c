/*
 * topology.c — what the machine offers this process: physical cores in the allowed and
 * bound cpuset (so `taskset` and cgroup cpusets are honoured), NUMA nodes, caches.
 * Read through hwloc once; when hwloc cannot load, the affinity mask stands in.
 */
#include <hwloc.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "prange_sched.h"

static int64_t cache_size(hwloc_topology_t t, hwloc_obj_type_t type)
{
    hwloc_obj_t o = hwloc_get_obj_by_type(t, type, 0);
    return (o && o->attr) ? (int64_t)o->attr->cache.size : 0;
}

static int count_intersecting(hwloc_topology_t t, hwloc_obj_type_t type, hwloc_const_cpuset_t set)
{
    int count = 0;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, type, o)) != NULL;)
        if (o->cpuset && hwloc_bitmap_intersects(o->cpuset, set)) count++;
    return count;
}

int prange__topo_summarize(void *topology, const void *binding, prange__topo *out)
{
    hwloc_topology_t t = topology;
    memset(out, 0, sizeof *out);
    hwloc_bitmap_t set = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
    if (!set) return -1;
    if (binding) hwloc_bitmap_and(set, set, (hwloc_const_cpuset_t)binding);
    if (hwloc_bitmap_iszero(set)) { /* a binding unrelated to this topology: ignore it */
        hwloc_bitmap_copy(set, hwloc_topology_get_allowed_cpuset(t));
    }
    out->pus = hwloc_bitmap_weight(set);
    out->cores = count_intersecting(t, HWLOC_OBJ_CORE, set);
    if (out->cores == 0) out->cores = out->pus; /* no core objects (some VMs): PUs */
    out->numa_nodes = count_intersecting(t, HWLOC_OBJ_NUMANODE, set);
    if (out->numa_nodes == 0) out->numa_nodes = 1;
    out->packages = count_intersecting(t, HWLOC_OBJ_PACKAGE, set);
    if (out->packages == 0) out->packages = 1;
    out->l1d = cache_size(t, HWLOC_OBJ_L1CACHE);
    out->l2 = cache_size(t, HWLOC_OBJ_L2CACHE);
    out->l3 = cache_size(t, HWLOC_OBJ_L3CACHE);
    out->from_hwloc = 1;
    out->this_system = hwloc_topology_is_thissystem(t);
    hwloc_bitmap_list_snprintf(out->cpuset, sizeof out->cpuset, set);
    hwloc_bitmap_free(set);
    if (out->pus <= 0) return -1;
    return 0;
}

void prange__topo_from_affinity(prange__topo *out, const char *why)
{
    memset(out, 0, sizeof *out);
    cpu_set_t mask;
    int n = 0;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) n = CPU_COUNT(&mask);
    if (n <= 0) n = 1;
    out->cores = out->pus = n;
    out->numa_nodes = out->packages = 1;
    out->this_system = 1;
    /* The mask as a list ("0-3,6"). */
    size_t pos = 0;
    for (int c = 0; c < CPU_SETSIZE && pos + 24 < sizeof out->cpuset; c++) {
        if (!CPU_ISSET(c, &mask)) continue;
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &mask)) last++;
        pos += (size_t)snprintf(out->cpuset + pos, sizeof out->cpuset - pos, pos ? ",%d" : "%d", c);
        if (last > c) pos += (size_t)snprintf(out->cpuset + pos, sizeof out->cpuset - pos, "-%d", last);
        c = last;
    }
    snprintf(out->why, sizeof out->why, "%s", why ? why : "hwloc unavailable");
}

/*
 * PRANGE_BIND: worker t goes to the t-th core of the CPUs loops use (allowed, bound by
 * taskset or the launcher, this rank's slice) in hwloc's logical order (compact:
 * consecutive workers share a NUMA node, matching the contiguous static partition that
 * first-touch placement relies on), or to that core's NUMA node. Cores beyond the team
 * wrap around (t mod cores).
 *
 *   2 NUMA nodes x 4 cores, 6 workers, core: w0..w3 -> node 0 cores 0-3, w4, w5 -> node 1
 *                                       numa: w0..w3 -> node 0's PUs,   w4, w5 -> node 1's
 */
int prange__bind_target(void *topology, const void *within, int mode, int tid, void *set)
{
    hwloc_topology_t t = topology;
    hwloc_bitmap_t out = set;
    if (mode == 0 || tid < 0) return -1;
    hwloc_const_cpuset_t allowed = within ? (hwloc_const_cpuset_t)within : hwloc_topology_get_allowed_cpuset(t);
    int ncores = 0;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_CORE, o)) != NULL;)
        ncores += hwloc_bitmap_intersects(o->cpuset, allowed);
    if (ncores == 0) return -1;
    int want = tid % ncores, k = 0;
    hwloc_obj_t core = NULL;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_CORE, o)) != NULL;) {
        if (!hwloc_bitmap_intersects(o->cpuset, allowed)) continue;
        if (k++ == want) { core = o; break; }
    }
    if (!core) return -1;
    hwloc_bitmap_copy(out, core->cpuset);
    if (mode == 2) {
        for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_NUMANODE, o)) != NULL;)
            if (hwloc_bitmap_isincluded(core->cpuset, o->cpuset)) {
                hwloc_bitmap_copy(out, o->cpuset);
                break;
            }
    }
    hwloc_bitmap_and(out, out, allowed);
    return hwloc_bitmap_iszero(out) ? -1 : 0;
}

/* Pin the calling worker once per (thread, index): a pooled thread that comes back with
 * another index is re-pinned; a refused bind is not retried on every loop. */
void prange__bind_worker(int tid)
{
    static PRANGE__TLS int bound_as = -1;
    const prange__state *st = prange__state_get();
    int mode = (int)st->opt[PRANGE__OPT_BIND].value;
    if (mode == 0 || !st->hwloc || !st->topo.this_system || bound_as == tid) return;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) return;
    if (prange__bind_target(st->hwloc, st->cpus, mode, tid, set) != 0 ||
        hwloc_set_cpubind(st->hwloc, set, HWLOC_CPUBIND_THREAD) != 0) {
        if (bound_as == -1 && prange__verbose() >= 1) prange__log("PRANGE_BIND: could not bind worker %d", tid);
    }
    bound_as = tid;
    hwloc_bitmap_free(set);
}
