/*
 * ranks.c — MPI ranks (or other launcher tasks) that share a node: each takes its own
 * slice of the cores they share, so that the ranks' teams together use every core once.
 *
 * Without it, `mpirun --bind-to none -np 2` on 2 cores gave each rank a budget of 2 (4
 * threads on 2 cores), and from 3 ranks Open MPI binds each rank to a whole socket, which
 * every rank on that socket then filled. No message passes between the ranks: each one
 * reads its local rank and the number of local ranks from the launcher's environment and
 * its own CPU set, and assumes what launchers do by default:
 *
 * - the ranks' CPU sets are equal-sized and tile the allowed cores: G = round(node cores /
 *   my cores) disjoint sets (1 with --bind-to none, the socket count with --bind-to
 *   socket, the core count with --bind-to core);
 * - ranks go round-robin over those sets (Open MPI maps by socket from 3 ranks on): rank r
 *   is in set r mod G, whose ranks are r mod G, r mod G + G, ...; it is number r / G of
 *   the k of them, and takes the (r / G)-th of k contiguous slices of the set's cores in
 *   hwloc's logical order (so a slice stays within a NUMA node where the sizes allow).
 *
 *   2 sockets x 4 cores:        G    rank: slice
 *   4 ranks, --bind-to none     1    0: 0-1   1: 2-3   2: 4-5   3: 6-7
 *   3 ranks, --bind-to none     1    0: 0-2   1: 3-5   2: 6-7
 *   4 ranks, --bind-to socket   2    0: 0-1   2: 2-3   1: 4-5   3: 6-7
 *   3 ranks, --bind-to socket   2    0: 0-1   2: 2-3   1: 4-7
 *   2 ranks, --bind-to core     8    each rank its one core: nothing to slice
 *
 * A launcher that maps otherwise can still give ranks overlapping slices; PRANGE_NUM_THREADS
 * (or a binding of one's own) then decides, and PRANGE_VERBOSE=1 / prange-info show the
 * slice each rank took.
 */
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prange_sched.h"

/* A non-negative int, whole string; -1 otherwise. */
static int parse_count(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end == '\0' && v >= 0 && v <= 1 << 20) ? (int)v : -1;
}

/* Slurm's SLURM_TASKS_PER_NODE: "2(x3),1" -> this node is one of them; the first count is
 * the usual one (block distribution fills nodes in order). */
static int first_count(const char *s)
{
    if (!s) return -1;
    char buf[16];
    size_t n = strcspn(s, "(,");
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return parse_count(buf);
}

int prange__rank_from_env(const char *(*getenv_fn)(const char *), prange__rank *out)
{
    static const struct {
        const char *rank, *size;
    } vars[] = {
        {"OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"}, /* Open MPI */
        {"MPI_LOCALRANKID", "MPI_LOCALNRANKS"},                       /* MPICH / Hydra */
        {"PMIX_LOCAL_RANK", "PMIX_LOCAL_SIZE"},                       /* PMIx */
        {"PMI_LOCAL_RANK", "PMI_LOCAL_SIZE"},                         /* PMI */
    };
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        int r = parse_count(getenv_fn(vars[i].rank)), n = parse_count(getenv_fn(vars[i].size));
        if (r >= 0 && n > 0 && r < n) {
            *out = (prange__rank){.local_rank = r, .local_size = n, .from = vars[i].rank};
            return 1;
        }
    }
    int r = parse_count(getenv_fn("SLURM_LOCALID"));
    int n = parse_count(getenv_fn("SLURM_NTASKS_PER_NODE"));
    if (n <= 0) n = first_count(getenv_fn("SLURM_TASKS_PER_NODE"));
    if (r >= 0 && n > 0 && r < n) {
        *out = (prange__rank){.local_rank = r, .local_size = n, .from = "SLURM_LOCALID"};
        return 1;
    }
    return 0;
}

static int cores_in(hwloc_topology_t t, hwloc_const_cpuset_t set)
{
    int n = 0;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_CORE, o)) != NULL;)
        n += hwloc_bitmap_intersects(o->cpuset, set);
    return n;
}

int prange__rank_slice(void *topology, const void *cpus, prange__rank *r, void *slice)
{
    hwloc_topology_t t = topology;
    hwloc_const_cpuset_t mine = cpus;
    hwloc_bitmap_t out = slice;
    hwloc_bitmap_copy(out, mine);
    r->set_pus = hwloc_bitmap_weight(mine);
    r->sets = r->sharers = 1;
    r->index = 0;
    if (r->local_size < 2) return 1;
    int node = cores_in(t, hwloc_topology_get_allowed_cpuset(t)), have = cores_in(t, mine);
    if (have <= 0 || node <= 0) return 1;
    int sets = (node + have / 2) / have; /* round(node / have) */
    if (sets < 1) sets = 1;
    int set = r->local_rank % sets;
    int k = (r->local_size - 1 - set) / sets + 1; /* ranks set, set + sets, ... */
    r->sets = sets;
    r->sharers = k;
    r->index = r->local_rank / sets;
    if (k < 2) return 1;
    /* Slice `index` of k contiguous slices of my cores (prange__split's arithmetic). */
    int q = have / k, rem = have % k, lo = r->index * q + (r->index < rem ? r->index : rem);
    int hi = lo + q + (r->index < rem ? 1 : 0), c = 0;
    hwloc_bitmap_zero(out);
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_CORE, o)) != NULL;) {
        if (!hwloc_bitmap_intersects(o->cpuset, mine)) continue;
        if (c >= lo && c < hi) hwloc_bitmap_or(out, out, o->cpuset);
        c++;
    }
    hwloc_bitmap_and(out, out, mine);
    if (hwloc_bitmap_iszero(out)) hwloc_bitmap_copy(out, mine); /* more ranks than cores */
    return k;
}
