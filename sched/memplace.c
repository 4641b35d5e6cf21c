/*
 * memplace.c — placement decisions for prange_alloc: which NUMA nodes a block's pages may
 * use, applied through hwloc's area membind before the first touch.
 */
#include <errno.h>
#include <hwloc.h>

#include "prange_sched.h"

int prange__mem_node_exists(int node)
{
    const prange__state *st = prange__state_get();
    if (node < 0) return 0;
    if (!st->hwloc) return node == 0; /* no topology: the one node the OS surely has */
    hwloc_const_nodeset_t allowed = hwloc_topology_get_allowed_nodeset(st->hwloc);
    return hwloc_bitmap_isset(allowed, (unsigned)node);
}

int prange__mem_place(void *addr, size_t len, int policy, int node)
{
    const prange__state *st = prange__state_get();
    if (!st->hwloc || !st->topo.this_system) return -ENOSYS;
    hwloc_topology_t t = st->hwloc;
    hwloc_nodeset_t set = hwloc_bitmap_alloc();
    if (!set) return -ENOMEM;
    hwloc_membind_policy_t how = HWLOC_MEMBIND_BIND;
    switch (policy) {
    case PRANGE_MEM_INTERLEAVE:
        hwloc_bitmap_copy(set, hwloc_topology_get_allowed_nodeset(t));
        how = HWLOC_MEMBIND_INTERLEAVE;
        break;
    case PRANGE_MEM_LOCAL: {
        /* The node of the CPU the caller runs on now. */
        hwloc_cpuset_t cpu = hwloc_bitmap_alloc();
        if (cpu && hwloc_get_last_cpu_location(t, cpu, HWLOC_CPUBIND_THREAD) == 0)
            hwloc_cpuset_to_nodeset(t, cpu, set);
        hwloc_bitmap_free(cpu);
        if (hwloc_bitmap_iszero(set)) hwloc_bitmap_copy(set, hwloc_topology_get_allowed_nodeset(t));
        break;
    }
    case PRANGE_MEM_BIND:
        hwloc_bitmap_only(set, (unsigned)node);
        break;
    default:
        hwloc_bitmap_free(set);
        return -EINVAL;
    }
    int rc = hwloc_set_area_membind(t, addr, len, set, how, HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT);
    int err = rc == 0 ? 0 : -(errno ? errno : ENOSYS);
    hwloc_bitmap_free(set);
    return err;
}
