/*
 * prange_sched.h — internal interface of the scheduler layer (sched/), used by lib/.
 *
 * sched/ knows the machine (topology, cgroup quota, NUMA placement), the options and the
 * process state (initialisation, fork, the calling thread's OpenMP team and its growth,
 * the fork-join cost, learned per-iteration costs, logging), and turns "n iterations of
 * cost c" into a prange_plan. It never runs user code: lib/ does. Everything here is
 * prange__-prefixed and hidden.
 */
#ifndef PRANGE_SCHED_H
#define PRANGE_SCHED_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "prange.h"

/* Thread-locals on the hot path use the initial-exec model: a plain %fs-relative load
 * instead of a __tls_get_addr call per access from the shared library. They total a few
 * hundred bytes, well inside the static TLS surplus glibc keeps for dlopen()ed libraries. */
#define PRANGE__TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* ---- options table (sched/options.c) ---------------------------------------------- */

typedef enum { PRANGE__KIND_INT, PRANGE__KIND_BOOL, PRANGE__KIND_ENUM, PRANGE__KIND_SCHED } prange__opt_kind;
typedef enum { PRANGE__SRC_DEFAULT, PRANGE__SRC_ENV, PRANGE__SRC_CALL } prange__opt_src;

/*
 * The single source of truth for every environment variable: parsing, PRANGE_VERBOSE=1,
 * prange-info and docs/environment.md (checked by tests/test_options.c) all read it.
 * X(id, env name, kind, default, min, max, accepted choices, one-line doc)
 */
#define PRANGE__OPTIONS(X)                                                                   \
    X(NUM_THREADS, "PRANGE_NUM_THREADS", PRANGE__KIND_INT, 0, 0, PRANGE_MAX_THREADS, NULL,   \
      "maximum team size; 0 = one per physical core allowed (OMP_NUM_THREADS is used when unset)") \
    X(GRAIN, "PRANGE_GRAIN", PRANGE__KIND_INT, 1, 1, INT64_C(1) << 40, NULL,                   \
      "default minimum iterations per chunk")                                                \
    X(SCHEDULE, "PRANGE_SCHEDULE", PRANGE__KIND_SCHED, PRANGE_SCHEDULE_STATIC, 0, 0,         \
      "static|dynamic[,chunk]|guided[,chunk]", "schedule of loops that ask for AUTO")        \
    X(SERIAL, "PRANGE_SERIAL", PRANGE__KIND_BOOL, 0, 0, 1, NULL,                             \
      "run every loop inline on the calling thread (debugging)")                             \
    X(BIND, "PRANGE_BIND", PRANGE__KIND_ENUM, 0, 0, 2, "none|core|numa",                     \
      "pin workers once: none, one core each (compact), or to their NUMA node")               \
    X(FORK_NS, "PRANGE_FORK_NS", PRANGE__KIND_INT, 0, 0, INT64_C(1000000000), NULL,          \
      "fork-join cost in ns used by the cost model; 0 = measure once at first use")         \
    X(MEM, "PRANGE_MEM", PRANGE__KIND_ENUM, 0, 0, 2, "first_touch|interleave|local",           \
      "placement of prange_alloc arrays without an explicit policy")                       \
    X(HUGEPAGES, "PRANGE_HUGEPAGES", PRANGE__KIND_BOOL, 1, 0, 1, NULL,                       \
      "advise transparent huge pages for prange_alloc blocks of 2 MiB and more")            \
    X(VERBOSE, "PRANGE_VERBOSE", PRANGE__KIND_INT, 0, 0, 2, NULL,                            \
      "0 quiet; 1 print the configuration once; 2 also print every loop's plan")

typedef enum {
#define PRANGE__OPT_ID(id, ...) PRANGE__OPT_##id,
    PRANGE__OPTIONS(PRANGE__OPT_ID)
#undef PRANGE__OPT_ID
    PRANGE__OPT_COUNT
} prange__opt_id;

typedef struct prange__opt_desc {
    const char *name;
    prange__opt_kind kind;
    int64_t def, min, max;
    const char *choices; /* ENUM: "a|b|c" (value = position); SCHED: the accepted form */
    const char *doc;
} prange__opt_desc;

typedef struct prange__opt_val {
    int64_t value;  /* INT/BOOL: the number; ENUM: index; SCHED: prange_schedule */
    int64_t chunk;  /* SCHED only: chunk, 0 = automatic */
    prange__opt_src src;
    const char *from; /* the variable that set it (OMP_NUM_THREADS may set NUM_THREADS) */
} prange__opt_val;

extern const prange__opt_desc prange__opt_table[PRANGE__OPT_COUNT];

/* Parse every option from `getenv_fn` (getenv in production; a fake in tests) into
 * `vals`, printing one warning per bad value to `warn` (NULL = no output). Returns the
 * number of bad values. Pure: no global state. */
int prange__opts_parse(prange__opt_val vals[PRANGE__OPT_COUNT],
                       const char *(*getenv_fn)(const char *name), FILE *warn);
/* Format an option's current value, e.g. "dynamic,64" or "core". */
void prange__opt_format(prange__opt_id id, const prange__opt_val *v, char *buf, size_t size);

/* ---- process state (sched/init.c) -------------------------------------------------- */

typedef struct prange__topo {
    int cores;        /* physical cores with an allowed, bound PU */
    int pus;          /* hardware threads (PUs) allowed */
    int numa_nodes;   /* NUMA nodes with an allowed PU */
    int packages;
    int64_t l1d, l2, l3; /* bytes, 0 when unknown */
    int from_hwloc;   /* 0: fell back to the affinity mask */
    int this_system;  /* 0: a synthetic or XML topology (tests) */
    char cpuset[96];  /* allowed PUs as a list, e.g. "0-15" */
    char why[128];    /* why hwloc was not used, when from_hwloc == 0 */
} prange__topo;

typedef struct prange__state {
    prange__opt_val opt[PRANGE__OPT_COUNT];
    prange__topo topo;
    double quota;          /* cgroup CPU quota in CPUs; 0 = none */
    int default_budget;    /* min(cores, ceil(quota)) or the env thread count */
    void *hwloc;           /* hwloc_topology_t, NULL when unavailable */
} prange__state;

/* The state, initialised once (pthread_once) on first use. Never NULL. */
const prange__state *prange__state_get(void);
/* Default budget: physical cores allowed, capped by ceil(quota), at least 1. An explicit
 * request (PRANGE_NUM_THREADS / OMP_NUM_THREADS, 0 = none) replaces the core count and
 * may use hyper-threads, never more than the allowed PUs nor the quota. Pure. */
int prange__budget_from(int cores, int pus, int requested, double quota);
/* The current budget: prange_set_num_threads() override, else the default. */
int prange__budget(void);
/* Whether prange_set_num_threads() set the budget (for the option's source). */
int prange__budget_overridden(void);
/* Forked child of a process whose thread pool had started: loops run serially. */
extern atomic_int prange__after_fork;
/* Set once the OpenMP team has been started by libprange (for fork detection). */
extern atomic_int prange__pool_started;
/* ---- the calling thread's OpenMP team (sched/threads.c) ---------------------------- */

/* The size of the team libprange last ran on this thread (1: none). Teams never shrink:
 * libgomp would end the extra workers and start them again for the next larger team. */
extern PRANGE__TLS int prange__pool;
/* Grow this thread's team towards `want` (probing first whether the system lets us, once
 * per larger size or once a second after a refusal). Returns the size that runs, 1..want. */
int prange__team_grow(int want);
/* The team size, up to `want`, that this thread can run: one thread-local compare when
 * its team is large enough already. Call only where a parallel region may start. */
static inline int prange__team_ready(int want)
{
    return __builtin_expect(want <= prange__pool, 1) ? want : prange__team_grow(want);
}
/* Threads in the region for a plan of `team`: the pool, never fewer (see threads.c). */
static inline int prange__region_size(int team) { return team > prange__pool ? team : prange__pool; }
/* The process-wide lock that team growth holds, and how many threads (this one included,
 * up to `want`) could run at once, probed under it. For calibration. */
void prange__team_lock(void);
void prange__team_unlock(void);
int prange__team_probe_locked(int want);
/* A sentence about refused threads, for prange-info ("no refusal so far", or the largest
 * team refused and why). */
void prange__threads_describe(char *buf, size_t size);

/* ---- fork-join cost (sched/calibrate.c) ------------------------------------------------ */

/* Fork-join cost of a team of `threads` in ns: PRANGE_FORK_NS, else the tuning cache,
 * else measured once per team size (lazily, at the first plan that needs it). */
double prange__fork_ns(int threads);
/* Where the figures came from: "PRANGE_FORK_NS", "tuning cache" or "measured". */
const char *prange__fork_source(void);
/* The source and the figures, e.g. "measured: 2 threads 561 ns, 4 threads 790 ns". */
void prange__fork_describe(char *buf, size_t size);
/* The tuning cache path: $XDG_CACHE_HOME/libprange/tuning or ~/.cache/libprange/tuning. */
int prange__tuning_path(char *buf, size_t size);
/* Measure carefully (201 regions per size) and write the tuning cache to `path` (NULL =
 * the default path); print a line to `report` when non-NULL. 0 or PRANGE_EIO/EINVAL. */
int prange__calibrate(const char *path, FILE *report);

/* ---- cgroup CPU quota (sched/cgroup.c) ------------------------------------------------ */

/* The CPU quota (in CPUs, e.g. 1.5) of the cgroup `proc_cgroup` names (the text of
 * /proc/self/cgroup) and of all its ancestors, under the mount `root` (/sys/fs/cgroup).
 * Returns the smallest quota found, or 0 when there is none or nothing is readable. */
double prange__cgroup_quota(const char *root, const char *proc_cgroup);

/* ---- topology (sched/topology.c) ------------------------------------------------------ */

/* Summarise an hwloc topology (a hwloc_topology_t) restricted to `binding` (a
 * hwloc_const_cpuset_t; NULL = the topology's allowed set). Returns 0 or -1. */
int prange__topo_summarize(void *topology, const void *binding, prange__topo *out);
/* Fallback without hwloc: the process affinity mask, one core per CPU. */
void prange__topo_from_affinity(prange__topo *out, const char *why);
/* Where PRANGE_BIND mode (1 core, 2 numa) puts worker `tid`: writes its cpuset into `set`
 * (a hwloc_bitmap_t) from `topology` (a hwloc_topology_t). 0, or -1 for none. Pure. */
int prange__bind_target(void *topology, int mode, int tid, void *set);
/* Pin the calling worker `tid` of a team per PRANGE_BIND (once per thread). */
void prange__bind_worker(int tid);

/* ---- memory placement (sched/memplace.c) -------------------------------------------- */

/* Apply a placement policy (prange_mem_policy, resolved: never DEFAULT, never
 * FIRST_TOUCH) to [addr, addr + len) before it is touched. 0, or a negative errno when
 * the system refused (callers decide whether that is fatal: PRANGE_MEM_STRICT). */
int prange__mem_place(void *addr, size_t len, int policy, int node);
/* Whether OS NUMA node `node` exists in the allowed set. */
int prange__mem_node_exists(int node);

/* ---- plans (sched/plan.c) ---------------------------------------------------------------- */

/* Validate per-call options: 0 or PRANGE_EINVAL. */
int prange__opts_check(const prange_opts *opts);
/* The plan for n iterations (n may exceed INT64_MAX: a range INT64_MIN..INT64_MAX).
 * `key` identifies the body for learned costs (NULL: none). opts already validated. */
void prange__plan(uint64_t n, const prange_opts *opts, const void *key, prange_plan *out);

/* Per-thread loop context, set by lib/ around every body call. depth > 0 means "inside a
 * body": a loop started there runs serially on that worker. */
typedef struct prange__tls_t {
    int depth; /* nesting depth of running bodies on this thread */
    int tid;   /* worker index of the outermost running loop */
    int team;  /* its team size */
} prange__tls_t;
extern PRANGE__TLS prange__tls_t prange__tls;

/* ---- learned cost per iteration (sched/cost.c) --------------------------------------- */

/* Learned ns per iteration for (key, size class of n), or 0 when unknown. */
double prange__cost_lookup(const void *key, uint64_t n);
/* Whether this call should be timed (always while learning, then 1 in 64). */
int prange__cost_should_sample(const void *key, uint64_t n);
/* Record that `iters` iterations of key took `ns` on one thread (n = the loop size). */
void prange__cost_record(const void *key, uint64_t n, uint64_t iters, double ns);
/* Monotonic time in ns (cheap). */
uint64_t prange__now_ns(void);

/* ---- diagnostics (sched/log.c) ------------------------------------------------------- */

/* Print "prange: " + message + newline to stderr, in one write. */
void prange__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* PRANGE_VERBOSE=2: one line per loop with its plan. */
void prange__log_plan(const char *what, const prange_plan *plan);
static inline int prange__verbose(void) { return (int)prange__state_get()->opt[PRANGE__OPT_VERBOSE].value; }

#endif
