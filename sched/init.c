/*
 * init.c — process state, initialised lazily, once, thread-safely: options, topology,
 * cgroup quota, thread budget, fork handling, and the measured fork-join cost.
 * A program that never calls libprange pays nothing but one read of /proc/self/stat per
 * fork() (the fork handlers are registered when the library is loaded).
 */
#include <fcntl.h>
#include <hwloc.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "profile.h"
#include "prange_sched.h"

prange__state prange__g_state; /* read through prange__state_get */
atomic_int prange__g_ready;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
atomic_int prange__threads_override; /* prange_set_num_threads(); 0 = none */

atomic_int prange__after_fork;
atomic_int prange__pool_started;
static atomic_int g_threads_at_fork; /* the forking process's thread count; 0 = unknown */

/* The number of threads of this process, from /proc/self/stat (field 20), with
 * async-signal-safe calls only (fork() may run in a signal handler). 0 when unreadable. */
static int count_threads(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold blanks and parentheses */
    for (int field = 2; p && field < 20; field++) p = strchr(p + 1, ' ');
    int count = 0;
    for (p = p ? p + 1 : ""; *p >= '0' && *p <= '9' && count < 1000000; p++) count = count * 10 + (*p - '0');
    return count;
}

/* libgomp's pool does not survive fork(): the child keeps the forking thread's idea of its
 * workers but not the workers, and its first team waits for them forever. Neither libgomp
 * nor the pool says so, and the pool may come from the program's own OpenMP code, so the
 * parent counts its threads: a child forked from a process that had more than the forking
 * thread (or an unknown count) runs its loops serially. Registered when the library is
 * loaded, not at its first call: the parent may fork before it ever calls libprange. */
static void on_fork_prepare(void)
{
    atomic_store_explicit(&g_threads_at_fork, atomic_load(&prange__pool_started) ? 0 : count_threads(),
                          memory_order_relaxed);
}

static void on_fork_child(void)
{
    if (atomic_load_explicit(&g_threads_at_fork, memory_order_relaxed) != 1) atomic_store(&prange__after_fork, 1);
}

__attribute__((constructor)) static void register_fork_handlers(void)
{
    pthread_atfork(on_fork_prepare, NULL, on_fork_child);
}

static const char *env_get(const char *name) { return getenv(name); }

static void load_topology(prange__state *st)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0) {
        prange__topo_from_affinity(&st->topo, "hwloc_topology_init failed");
        return;
    }
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        prange__topo_from_affinity(&st->topo, "hwloc_topology_load failed (check HWLOC_* variables)");
        return;
    }
    /* The process binding (taskset, sched_setaffinity) narrows the allowed set; on a
     * synthetic or XML topology it is unrelated, and the allowed set stands alone. */
    hwloc_bitmap_t bind = hwloc_bitmap_alloc();
    int have_bind = bind && hwloc_topology_is_thissystem(t) &&
                    hwloc_get_cpubind(t, bind, HWLOC_CPUBIND_PROCESS) == 0;
    /* With OMP_PROC_BIND, libgomp pins the initial thread to its first place before main(),
     * so the process binding shows one CPU. The CPUs OpenMP may use are all its places. */
    if (have_bind && omp_get_proc_bind() != omp_proc_bind_false && omp_get_num_places() > 0) {
        hwloc_bitmap_zero(bind);
        for (int p = 0; p < omp_get_num_places(); p++) {
            int k = omp_get_place_num_procs(p);
            int *ids = k > 0 ? malloc((size_t)k * sizeof *ids) : NULL; /* not on the stack: it may be small */
            if (!ids) continue;
            omp_get_place_proc_ids(p, ids);
            for (int i = 0; i < k; i++) hwloc_bitmap_set(bind, (unsigned)ids[i]);
            free(ids);
        }
    }
    /* The CPUs loops use: allowed, bound, and this rank's slice when ranks share them. */
    hwloc_bitmap_t cpus = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
    if (cpus && have_bind) {
        hwloc_bitmap_and(cpus, cpus, bind);
        if (hwloc_bitmap_iszero(cpus)) hwloc_bitmap_copy(cpus, hwloc_topology_get_allowed_cpuset(t));
    }
    hwloc_bitmap_t slice = hwloc_bitmap_alloc();
    if (cpus && slice && prange__rank_from_env(env_get, &st->rank) &&
        prange__rank_slice(t, cpus, &st->rank, slice) > 1)
        hwloc_bitmap_copy(cpus, slice);
    hwloc_bitmap_free(slice);
    if (!cpus || prange__topo_summarize(t, cpus, &st->topo) != 0) {
        hwloc_bitmap_free(cpus);
        hwloc_topology_destroy(t);
        prange__topo_from_affinity(&st->topo, "hwloc topology has no usable PU");
    } else {
        st->hwloc = t;
        st->cpus = cpus;
    }
    hwloc_bitmap_free(bind);
}

static void read_quota(prange__state *st)
{
    static char buf[4096]; /* init runs once (pthread_once), maybe on a small stack */
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    st->quota = prange__cgroup_quota("/sys/fs/cgroup", buf);
}

int prange__budget_from(int cores, int pus, int requested, double quota)
{
    int budget = cores > 0 ? cores : 1;
    if (requested > 0) budget = requested < pus ? requested : (pus > 0 ? pus : requested);
    if (quota > 0) {
        double q = quota >= PRANGE_MAX_THREADS ? PRANGE_MAX_THREADS : quota;
        int qc = (int)q < q ? (int)q + 1 : (int)q; /* ceil: 0.5 CPU -> 1, 1.5 -> 2 */
        if (qc < budget) budget = qc;
    }
    return budget > 0 ? budget : 1;
}

static void init_once(void)
{
    prange__state *st = &prange__g_state;
    prange__opts_parse(st->opt, env_get, stderr);
    prange__clock_init();
    prange__profile_init(st);
    load_topology(st);
    read_quota(st);
    /* As libgomp decides at its start-up (env.c): with neither variable set its workers
     * spin about 3 ms after every region before they sleep, 5 min with active. */
    const char *wp = env_get("OMP_WAIT_POLICY");
    st->long_spin = !env_get("GOMP_SPINCOUNT") && (!wp || strcasecmp(wp, "passive") != 0);
    /* An explicit thread count wins over a rank's slice, within the rank's whole set. */
    int pus = st->rank.sharers > 1 && st->rank.set_pus > st->topo.pus ? st->rank.set_pus : st->topo.pus;
    st->default_budget = prange__budget_from(st->topo.cores, pus, (int)st->opt[PRANGE__OPT_NUM_THREADS].value,
                                             st->quota);
    atomic_store_explicit(&prange__g_ready, 1, memory_order_release);
}

const prange__state *prange__state_init(void)
{
    pthread_once(&g_once, init_once);
    /* Printed outside pthread_once: printing asks for the state again. */
    static atomic_int printed;
    if (prange__g_state.opt[PRANGE__OPT_VERBOSE].value >= 1 && !atomic_exchange(&printed, 1)) {
        prange_print_config(stderr);
        prange__env_misspelled(NULL, stderr);
    }
    return &prange__g_state;
}

static int budget(int force)
{
    const prange__state *st = prange__state_get();
    int o = atomic_load_explicit(&prange__threads_override, memory_order_relaxed);
    if (o > 0) return o;
    /* PRANGE_SHARE=node divides the default budget; an explicit thread count wins. */
    if (st->opt[PRANGE__OPT_SHARE].value == 1 && st->opt[PRANGE__OPT_NUM_THREADS].src == PRANGE__SRC_DEFAULT)
        return prange__node_share(st->default_budget, force);
    return st->default_budget;
}

int prange__budget(void) { return budget(0); }
int prange__budget_now(void) { return budget(1); }

int prange_set_num_threads(int n)
{
    if (n < 0 || n > PRANGE_MAX_THREADS) return PRANGE_EINVAL;
    (void)prange__state_get();
    /* Kept plans compare the epoch, not the budget (lib/loop.c's inline memos). */
    if (atomic_exchange(&prange__threads_override, n) != n) prange__plan_changed();
    return 0;
}

int prange__budget_overridden(void) { return atomic_load(&prange__threads_override) > 0; }
