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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "prange.h"

/* Thread-locals on the hot path use the initial-exec model: a plain %fs-relative load
 * instead of a __tls_get_addr call per access from the shared library. They total a few
 * hundred bytes, well inside the static TLS surplus glibc keeps for dlopen()ed libraries. */
#define PRANGE__TLS _Thread_local __attribute__((tls_model("initial-exec")))

/* ---- options table (sched/options.c) ---------------------------------------------- */

typedef enum { PRANGE__KIND_INT, PRANGE__KIND_BOOL, PRANGE__KIND_ENUM, PRANGE__KIND_SCHED, PRANGE__KIND_PROFILE } prange__opt_kind;
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
      "fixed fork-join cost in ns for the cost model; 0 = measured, then kept up to date")         \
    X(MEM, "PRANGE_MEM", PRANGE__KIND_ENUM, 0, 0, 2, "first_touch|interleave|local",           \
      "placement of prange_alloc arrays without an explicit policy")                       \
    X(HUGEPAGES, "PRANGE_HUGEPAGES", PRANGE__KIND_BOOL, 1, 0, 1, NULL,                       \
      "advise transparent huge pages for prange_alloc blocks of 2 MiB and more, after the first touch") \
    X(SHARE, "PRANGE_SHARE", PRANGE__KIND_ENUM, 0, 0, 1, "none|node",                        \
      "node: divide the cores among this user's libprange processes running loops")         \
    X(ISA, "PRANGE_ISA", PRANGE__KIND_ENUM, 0, 0, 3, "auto|baseline|avx2|avx512",           \
      "instruction set of the kernels; auto = the widest this CPU runs at full width (same bits on every one)") \
    X(VERBOSE, "PRANGE_VERBOSE", PRANGE__KIND_INT, 0, 0, 2, NULL,                            \
      "0 quiet; 1 print the configuration once; 2 also print every loop's plan")            \
    X(PROFILE, "PRANGE_PROFILE", PRANGE__KIND_PROFILE, 0, 0, 2, "off|1|json:PATH",            \
      "per-call-site profile at exit: 1 a table on stderr, json:PATH a JSON file (docs/profiling.md)")

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
    const char *choices; /* ENUM: "a|b|c" (value = position); SCHED, PROFILE: the accepted form */
    const char *doc;
} prange__opt_desc;

typedef struct prange__opt_val {
    int64_t value;  /* INT/BOOL: the number; ENUM: index; SCHED: prange_schedule */
    int64_t chunk;  /* SCHED only: chunk, 0 = automatic */
    prange__opt_src src;
    const char *from; /* the variable that set it (OMP_NUM_THREADS may set NUM_THREADS) */
    const char *text; /* PROFILE json: the PATH, inside the environment string (copy it) */
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

/* This process as one of several launcher tasks (MPI ranks) on the node (sched/ranks.c). */
typedef struct prange__rank {
    int local_rank, local_size; /* 0, 0: not launched as one of several */
    const char *from;           /* the variable that said so, e.g. OMPI_COMM_WORLD_LOCAL_RANK */
    int sets;                   /* disjoint CPU sets the node's ranks are bound to (estimated) */
    int sharers;                /* ranks sharing this rank's set, itself included */
    int index;                  /* this rank's slice among them */
    int set_pus;                /* PUs of the rank's whole set (an explicit thread count may use them) */
} prange__rank;

typedef struct prange__state {
    prange__opt_val opt[PRANGE__OPT_COUNT];
    prange__topo topo;     /* of the CPUs loops use: allowed, bound, this rank's slice */
    double quota;          /* cgroup CPU quota in CPUs; 0 = none */
    int default_budget;    /* min(cores, ceil(quota)) or the env thread count */
    void *hwloc;           /* hwloc_topology_t, NULL when unavailable */
    void *cpus;            /* hwloc_bitmap_t of the CPUs loops use; NULL without hwloc */
    prange__rank rank;
    int long_spin;         /* libgomp's idle workers spin ~3 ms after each region: neither
                              OMP_WAIT_POLICY nor GOMP_SPINCOUNT set, or OMP_WAIT_POLICY=active */
} prange__state;

/* The state, initialised once (pthread_once) on first use. Never NULL. Inline: a plan
 * reads it five times, and a call each was a tenth of an inline loop's overhead. */
extern prange__state prange__g_state;
extern atomic_int prange__g_ready;
const prange__state *prange__state_init(void); /* the first use: initialise, then the state */
static inline const prange__state *prange__state_get(void)
{
    if (__builtin_expect(atomic_load_explicit(&prange__g_ready, memory_order_acquire), 1)) return &prange__g_state;
    return prange__state_init();
}
/* Default budget: physical cores allowed, capped by ceil(quota), at least 1. An explicit
 * request (PRANGE_NUM_THREADS / OMP_NUM_THREADS, 0 = none) replaces the core count and
 * may use hyper-threads, never more than the allowed PUs nor the quota. Pure. */
int prange__budget_from(int cores, int pus, int requested, double quota);
/* The current budget: prange_set_num_threads() override, else the default (under
 * PRANGE_SHARE=node without an explicit thread count: this process's part of it). */
int prange__budget(void);
/* The same, re-reading the node table now if it is due (calls about to run on a team). */
int prange__budget_now(void);
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
/* What a plan may count on without probing or starting anything: `want`, or this
 * thread's team when a larger one was refused less than a second ago. */
int prange__team_known(int want);
/* prange_set_num_threads()'s value; 0 = none (sched/init.c). */
extern atomic_int prange__threads_override;
/* The team a region on this thread runs at least: the pool, unless prange_set_num_threads
 * lowered the budget below it. A program that asks for 2 threads then forks 2, not the 16
 * that an earlier loop or a first touch started (a 2-thread loop in a pool of 16 paid the
 * 16-thread fork-join: 6.3 us against libgomp's 1.5 us on a 16-core machine). */
static inline int prange__pool_size(void)
{
    int pool = prange__pool, o = atomic_load_explicit(&prange__threads_override, memory_order_relaxed);
    return o > 0 && o < pool ? o : pool;
}
/* Threads in the region for a plan of `team`: the pool, never fewer (see threads.c), but
 * see prange__pool_size. Called where a region starts: a region smaller than the pool
 * makes libgomp end the extra workers, so the pool shrinks with it, and a later larger
 * team grows (and probes) again. */
static inline int prange__region_size(int team)
{
    int pool = prange__pool_size(), region = team > pool ? team : pool;
    if (__builtin_expect(region < prange__pool, 0)) prange__pool = region;
    return region;
}
/* The process-wide lock that team growth holds, and how many threads (this one included,
 * up to `want`) could run at once, probed under it. For calibration. */
void prange__team_lock(void);
void prange__team_unlock(void);
int prange__team_probe_locked(int want);
/* A sentence about refused threads, for prange-info ("no refusal so far", or the largest
 * team refused and why). */
void prange__threads_describe(char *buf, size_t size);

/* ---- robust running estimates (sched/estimate.c) ------------------------------------- */

/* The lower median of the last PRANGE__WINDOW samples: one outlier moves nothing, a
 * lasting change shows within 5 samples. Zero-initialised = empty; lock-free. */
#define PRANGE__WINDOW 8
typedef struct prange__window {
    atomic_uint count;                   /* samples added so far */
    _Atomic(uint64_t) v[PRANGE__WINDOW]; /* double bits, ring indexed by count */
    _Atomic(uint64_t) est;               /* double bits of the current estimate */
} prange__window;
/* Fill the window with x (a fresh measurement that replaces the history). */
void prange__window_seed(prange__window *w, double x);
/* Make dst a copy of src (samples, count and estimate; not atomic as a whole: callers
 * accept that a concurrent add may be lost). */
void prange__window_copy(prange__window *dst, const prange__window *src);
/* Add a sample; returns the new estimate. */
double prange__window_add(prange__window *w, double x);
/* The current estimate (0 for an empty window) and the number of samples added. */
double prange__window_get(const prange__window *w);
unsigned prange__window_count(const prange__window *w);

/* ---- one budget across calling threads (sched/share.c) ------------------------------- */

/* Take up to `want` threads (the caller included) from the process-wide budget for a
 * call about to run on a team: min(want, free), or 1 (run inline, still counted) when
 * fewer than 2 are free. Never blocks. Give the result back with prange__share_give. */
int prange__share_take(int want);
void prange__share_give(int n);
/* Threads now running shares of libprange loops (tests, prange-info). */
int prange__share_in_use(void);
void prange__share_describe(char *buf, size_t size);

/* ---- processes sharing the node (sched/node.c, PRANGE_SHARE=node) ---------------------- */

/* This process's part of `cores` among the user's libprange processes running loops
 * (refreshed at most every 50 ms: always when `force`, else every 64th call). */
int prange__node_share(int cores, int force);
/* A sentence for prange-info: the share, the active processes, the table. */
void prange__node_describe(char *buf, size_t size);

/* ---- fork-join cost (sched/calibrate.c) ------------------------------------------------ */

/* Fork-join cost of a team of `threads` in ns: PRANGE_FORK_NS, else the current robust
 * estimate, which starts from the tuning cache or a measurement and follows
 * prange__fork_observe and prange__fork_probe. Starts nothing: before the first figure
 * exists it returns a prior (1 us per 2 threads) and sets *prior (when non-NULL) to 1. */
double prange__fork_ns(int threads, int *prior);
/* On the execution path: make sure the first figure exists (reads the tuning cache or
 * measures, starting the calling thread's workers). Returns 1 when it was just made. */
int prange__fork_ensure(void);
/* A sampled parallel call of `threads` threads spent `ns` beyond its slowest worker's
 * share (fork, wake-ups, join). Ignored under PRANGE_FORK_NS or before the first figure. */
void prange__fork_observe(int threads, double ns);
/* What sharing one loop among the awake members of a region's team of `team` costs (the
 * hand-out and the barrier beyond the slowest share): measured on sampled shared loops
 * (prange__region_loop_observe), at most the fork-join figure; half of that figure until
 * then, and always under PRANGE_FORK_NS. */
double prange__region_loop_ns(int team);
void prange__region_loop_observe(int team, double ns);
/* What a loop that one member runs costs a region's team of `team` beyond the loop (its
 * barrier), measured like the above (prange__region_wait_observe), never below half the
 * cost of sharing a loop (that half until measured, and always under PRANGE_FORK_NS). */
double prange__region_wait_ns(int team);
void prange__region_wait_observe(int team, double ns);
/* Parallel calls still to be timed for the figure after it was made or re-seeded by a
 * probe (then every parallel call is sampled, not 1 in 64). */
extern atomic_int prange__fork_watch;
/* The cheapest 2-thread figure this process saw, capped at what a quiet machine costs. */
double prange__fork_quiet_ns(void);
/* When `fork`, the current figure of a region of `region` threads, says the machine is
 * busy (10 times what a quiet machine's region of that size costs, or more): that quiet
 * figure, at which a learned loop may try the team (plan.c, "trying the team"). 0 when
 * the figure is not busy, fixed (PRANGE_FORK_NS) or not measured yet. */
double prange__fork_trial_ns(int region, double fork);
/* Whether PRANGE_FORK_NS fixes the figures (reproducible plans: nothing is measured against
 * them, neither the trials above nor a region's check, lib/region.c). */
int prange__fork_fixed(void);
/* On the execution path of a loop that the figure made serial: when the back-off allows,
 * measure a few empty regions of `team` and update the figure. Returns 1 when the figure
 * dropped (plan again). Never blocks: one thread probes at a time, the others skip.
 * `label`: the loop's opts->label for the PRANGE_VERBOSE=2 line (NULL: none). */
int prange__fork_probe(int team, const char *label);
/* Tests: time "empty regions of t threads" with fn instead of the clock (NULL = real). */
typedef double (*prange__fork_measure_fn)(int threads);
void prange__fork_set_measure_hook(prange__fork_measure_fn fn);
/* Where the figures came from: "PRANGE_FORK_NS", "tuning cache" or "measured". */
const char *prange__fork_source(void);
/* The source and the figures, e.g. "measured: 2 threads 561 ns, 4 threads 790 ns". */
void prange__fork_describe(char *buf, size_t size);
/* The tuning cache path: $XDG_CACHE_HOME/libprange/tuning or ~/.cache/libprange/tuning. */
int prange__tuning_path(char *buf, size_t size);
/* Measure carefully (201 regions per size) and write the tuning cache to `path` (NULL =
 * the default path); print a line to `report` when non-NULL. 0, PRANGE_EIO (the file
 * could not be written) or PRANGE_EINVAL (an empty or too long path, no default path:
 * checked before measuring). */
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
 * (a hwloc_bitmap_t) from `topology` (a hwloc_topology_t), among the cores of `within`
 * (the CPUs loops use; NULL = the topology's allowed set). 0, or -1 for none. Pure. */
int prange__bind_target(void *topology, const void *within, int mode, int tid, void *set);

/* ---- ranks sharing a node (sched/ranks.c) --------------------------------------------- */

/* The local rank and local rank count from the launcher's variables (Open MPI, MPICH,
 * PMIx, PMI, Slurm), read through getenv_fn. 1 when found (filled), else 0. Pure. */
int prange__rank_from_env(const char *(*getenv_fn)(const char *name), prange__rank *out);
/* This rank's slice of `cpus` (its CPU set, a hwloc_const_cpuset_t) in `topology`: writes
 * it to `slice` (a hwloc_bitmap_t; all of cpus when nothing is shared) and fills r->sets,
 * ->sharers, ->index. Returns the number of ranks sharing the set (1: no slicing). Pure. */
int prange__rank_slice(void *topology, const void *cpus, prange__rank *r, void *slice);
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

/* ---- extensible structs (sched/structs.c) ------------------------------------------ */

/* The largest struct_size accepted: far above any struct's size, below nonsense. */
#define PRANGE__STRUCT_MAX 4096
/* Copy the caller's struct `src` (leading uint32_t struct_size) into `dst` of the
 * library's `size` bytes: zero first, then min(struct_size, size) bytes; dst's
 * struct_size becomes `size`. PRANGE_EINVAL (dst zeroed) when struct_size < min (the
 * offset of the field after struct_size) or > PRANGE__STRUCT_MAX, or when a byte past
 * `size` is non-zero (a newer caller's option this library cannot honour). */
int prange__struct_in(void *dst, size_t size, const void *src, size_t min);
/* The caller's layout is this library's (the usual case, on every call that takes opts):
 * one plain struct copy here, not two calls (prange__struct_in, then libc's memcpy). */
#define PRANGE__STRUCT_IN(dst, src, type, first_field)                                   \
    (((const type *)(src))->struct_size == sizeof(type) ? (*(dst) = *(const type *)(src), 0) \
                                                         : prange__struct_in((dst), sizeof(type), (src), offsetof(type, first_field)))

/* Read and validate per-call options into `out` (NULL = all automatic): 0 or
 * PRANGE_EINVAL. Every entry point taking opts reads them through here, once. */
int prange__opts_load(const prange_opts *opts, prange_opts *out);
/* The learned-cost identity of a loop: opts->key when given, else the body. */
static inline const void *prange__key(const prange_opts *o, const void *body)
{
    return o && o->key ? o->key : body;
}
/* The effective grain: opts->grain, or PRANGE_GRAIN when it is 0 (or opts is NULL). */
int64_t prange__grain(const prange_opts *opts);
/* The grain the caller chose: opts->grain, or PRANGE_GRAIN when set in the environment;
 * 0 when neither (reductions then size blocks themselves). */
int64_t prange__grain_explicit(const prange_opts *opts);
/* The plan for n iterations (n may exceed INT64_MAX: a range INT64_MIN..INT64_MAX).
 * `key` identifies the body for learned costs (NULL: none). opts already validated. */
void prange__plan(uint64_t n, const prange_opts *opts, const void *key, prange_plan *out);

/* The plan of a call about to run: prange__plan, after making the first fork-join figure
 * or probing a stale one where the plan depends on it (both start threads, which a plan
 * query must not). `learned`: what the cost table knows of (key, n), read once by the
 * caller for its plan and its sampling (NULL: the plan reads it itself where it needs it). */
struct prange__learned;
void prange__plan_exec_with(uint64_t n, const prange_opts *opts, const void *key,
                            const struct prange__learned *learned, prange_plan *out);
static inline void prange__plan_exec(uint64_t n, const prange_opts *opts, const void *key, prange_plan *out)
{
    prange__plan_exec_with(n, opts, key, NULL, out);
}
/* The plan of a call about to run, from one read of the learned cost (*learned: what it
 * read, for the call's sampling; nothing when opts has a cost hint), or this thread's kept
 * plan for the same inputs while the shared state is unchanged (plan.c). Returns whether
 * the call learns (no hint). */
int prange__plan_call(uint64_t n, const prange_opts *o, const void *key, struct prange__learned *learned,
                      prange_plan *plan);
/* The plan of a loop shared among the members of a region's team (prange__region_team() >
 * 0), from inputs every member holds alike: the call's arguments, `learned` (the cost the
 * members agreed on; ignored with a cost hint) and `fork_ns`, what sharing a loop costs
 * the team, fixed for the region's call. Reads no shared state: every member computes the
 * same plan (lib/region.c, "kept inputs"). */
void prange__plan_region(uint64_t n, const prange_opts *o, const void *key, const struct prange__learned *learned,
                         double fork_ns, prange_plan *out);
/* The reason of a plan that the fork-join figure made serial (compare by address). */
extern const char prange__why_fork[];
/* The reason of a plan that a back-off made serial (cost.c). */
extern const char prange__why_backoff[];
/* The reason of a plan that tries the team although the fork-join figure says the machine
 * is busy: planned at the quiet figure, judged by its calls' windows (cost.c). */
extern const char prange__why_trial[];
/* The reason of a plan that runs a learned loop alone, timed, because its back-off has
 * no serial time to judge its team against (cost.c). */
extern const char prange__why_alone[];
/* A serial plan that only the fork-join figure made serial, for a loop that a quiet
 * machine would run on 2 threads: the team to probe with prange__fork_probe, else 0. */
int prange__plan_probe_team(const prange_plan *plan, const prange_opts *opts);
/* A parallel plan must promise at least 15% less time than the serial loop. Near the
 * crossover the serial loop is the safer bet: the model's fork-join figure is an empty
 * region's, and a real one adds wake-up jitter and a cache-line transfer per worker. */
#define PRANGE__PARALLEL_GAIN 0.85
/* What a team of t saves over one thread by the model, for `work` ns of serial work and
 * a cost `fork` of sharing it: work - work / t - fork when plans would use that team (it
 * promises the model's margin), else 0. Inline: an inline region's account asks it for
 * every loop. */
static inline double prange__team_gain_ns(double work, int t, double fork)
{
    return t >= 2 && fork + work / t < PRANGE__PARALLEL_GAIN * work ? work - work / t - fork : 0;
}

/* Per-thread loop context, set by lib/ around every body call. depth > 0 means "inside a
 * body": a loop started there runs serially on that worker. */
typedef struct prange__tls_t {
    int depth; /* nesting depth of running bodies on this thread */
    int tid;   /* worker index of the outermost running loop */
    int team;  /* its team size */
    uintptr_t frame; /* depth > 0: the stack frame of the outermost entry, above every frame
                      * of its bodies; UINTPTR_MAX for a team member (never stale) */
    /* depth == 0 inside a prange_region function (lib/region.c), else 0 / NULL: */
    void *region;    /* the region this thread is a member of (tid, team: its index, size) */
    int region_team; /* >= 2: loops here are shared out among the members (plans cap at
                      * it and pay no fork); 0: an inline region, loops run as usual */
    uint64_t rseq;   /* the member's next loop number in the region */
} prange__tls_t;
extern PRANGE__TLS prange__tls_t prange__tls;
/* The team of the region whose loops the calling thread shares out; 0 when none. */
static inline int prange__region_team(void) { return prange__tls.depth == 0 ? prange__tls.region_team : 0; }

/* A body that leaves an inline run by longjmp never restores the context: the thread would
 * stay "inside a body". Its entry frame tells: every call made from inside a body runs in
 * a frame below it, so a public entry point whose own frame (`here`) is at or above it was
 * called after the entry was abandoned. Forget the context then. One thread-local compare;
 * called first thing by the public functions that read the context (PRANGE__TLS_SYNC), and
 * by the profile when a call begins. */
/* The calls in progress on this thread, for the profile (sched/profile.h). */
struct prange__prof_call;
extern PRANGE__TLS struct prange__prof_call *prange__prof_cur;
static inline void prange__tls_sync(uintptr_t here)
{
    if (__builtin_expect(prange__tls.depth > 0 && prange__tls.frame <= here, 0)) {
        prange__tls = (prange__tls_t){0};
        prange__prof_cur = NULL; /* the calls that ran the body were abandoned with it */
    }
}
#define PRANGE__TLS_SYNC() prange__tls_sync((uintptr_t)__builtin_frame_address(0))

/* ---- learned cost per iteration (sched/cost.c) --------------------------------------- */

/* What the table knows of (key, size class of n), in one probe: a call reads it once for
 * its plan, its sampling and its first slice (three probes were a fifth of an inline
 * call's cost). */
typedef struct prange__learned {
    double ns;        /* learned ns per iteration, 0 when unknown */
    unsigned samples; /* samples recorded so far */
    uint16_t cap;     /* backing off: plan at most this many threads (0: no cap) */
    uint16_t probe;   /* the probe window after a back-off: the full team */
    double alone_ns;  /* ns per iteration of the calls that ran on one thread, 0 when none */
    uint16_t alone_samples; /* how many such calls were recorded (at most 65535) */
    uint16_t time_alone;    /* a window closed with fewer than PRANGE__ALONE_WANT of them: the
                               next calls run alone, timed (prange__why_alone) */
} prange__learned;
/* The serial samples a key's back-off wants (a closed window with fewer asks for two calls
 * alone), and the longest call, by the learned cost, it runs alone for them: 40 ms. */
#define PRANGE__ALONE_WANT 2
#define PRANGE__ALONE_CALL_NS 4e7
prange__learned prange__cost_get(const void *key, uint64_t n);
/* A plan that rests on the default cost: the call learns (`learn`: no hint), nothing was
 * learned yet, and the cost decided (parallel, or serial by the fork-join figure). */
static inline int prange__plan_guessed(const prange_plan *p, int learn, const prange__learned *l)
{
    return learn && !(l->ns > 0) && (!p->serial || p->reason == prange__why_fork);
}
/* What n iterations of a learned loop take on one thread: from the calls that ran alone
 * when there are some, since a team's share of a memory-bound loop runs slower per
 * iteration than the loop alone (the team shares the bandwidth). 0 when nothing is
 * learned. */
static inline double prange__serial_estimate_ns(const prange__learned *l, uint64_t n)
{
    return (double)n * (l->alone_ns > 0 ? l->alone_ns : l->ns);
}
/* Learned ns per iteration for (key, size class of n), or 0 when unknown. */
double prange__cost_lookup(const void *key, uint64_t n);
/* Whether a call whose key the table knows as `l` should be timed: always while
 * learning, backing off or probing, then 1 in 64 (calls with a cost hint use
 * prange__sample_tick alone: they are timed for the fork-join figure only). */
int prange__cost_sample_learned(const prange__learned *l);
/* 1 in 64 calls on this thread; prange__sample_due: whether the next tick is one. */
extern PRANGE__TLS unsigned prange__tick;
static inline int prange__sample_tick(void) { return (++prange__tick & 63) == 0; }
static inline int prange__sample_due(void) { return ((prange__tick + 1) & 63) == 0; }
/* The size class costs are learned per: floor(log4 n), 0 .. 31 (0 for n < 4), without a
 * loop (every call looks its class up). */
static inline unsigned prange__size_class(uint64_t n)
{
    return n >= 4 ? (unsigned)(63 - __builtin_clzll(n)) / 2 : 0;
}
/* Whether a call of a key the table knows as `l` is past learning, backing off and
 * probing: timed 1 in 64 (prange__sample_tick), and its serial plan may be reused. */
int prange__cost_warm(const prange__learned *l);
/* Bumped whenever something a plan reads from the shared state changes: a learned cost,
 * a back-off, the fork-join figure, the thread budget (prange_set_num_threads, a new
 * PRANGE_SHARE=node share). A plan made at one value still holds while the value is
 * unchanged and the call's own inputs are the same (lib/loop.c keeps the last inline
 * plan of each thread on this). */
extern _Atomic(uint64_t) prange__plan_epoch;
/* Returns the epoch the bump moved on from. */
static inline uint64_t prange__plan_changed(void)
{
    return atomic_fetch_add_explicit(&prange__plan_epoch, 1, memory_order_release);
}
/* The last inline decision of this thread for a warm key (no back-off, no probe) and
 * size class, made at epoch `epoch`: every length in [n_min, n_max] of that class is
 * serial (lib/loop.c: memo_keep says why, for_memo and run_loop reuse it). A thread keeps
 * PRANGE__MEMOS of them, one slot per key hash, so the loops of a sequence of small loops
 * (a solver step, a sweep and its reduction) each keep theirs. */
typedef struct prange__inline_memo {
    const void *key;
    uint64_t n_min, n_max, epoch; /* n_min: the class's first length */
    int64_t grain;
    unsigned flags;
    int pool, threads;
    double ns;   /* the cost it was made with: learned, or the hint (an inline region's account) */
    double hint; /* the call's cost_ns: 0 for a learned loop's memo; a call must match it */
    double work_max; /* serial while n x ns <= this (ns): n_max at another cost (lib/loop.c) */
    /* Up to n_quiet (n x ns <= work_quiet) no fork-join probe could follow the plan; the
     * longer lengths of the class hold only while no probe is due (prange__probe_due). */
    uint64_t n_quiet;
    double work_quiet;
} prange__inline_memo;
#define PRANGE__MEMOS 4 /* a power of two */
/* This thread's memos, NULL until its first kept decision claims them (with its kept
 * plans: one group of plan.c's static pool, released when the thread exits), or when
 * the pool is taken. */
extern PRANGE__TLS prange__inline_memo *prange__memos;
prange__inline_memo *prange__memos_claim(void);
/* This thread's hand-out: PRANGE__HANDOUT bytes, aligned on a pair of cache lines, in the
 * same group as its memos. A team's workers read the call's description from it (lib's
 * prange__launch); NULL until claimed, and PRANGE__HANDOUT_BUSY while the thread's own
 * fork uses it. prange__handout_claim: the slot, or NULL when the pool is taken. */
#define PRANGE__HANDOUT 128
#define PRANGE__HANDOUT_BUSY ((unsigned char *)(uintptr_t)1)
extern PRANGE__TLS unsigned char *prange__handout;
unsigned char *prange__handout_claim(void);
/* The slot of `key` (NULL-safe: m NULL gives NULL). Fibonacci hashing of the address
 * without its alignment bits: neighbouring functions of one file land apart. */
static inline prange__inline_memo *prange__memo_slot(prange__inline_memo *m, const void *key)
{
    uint32_t h = (uint32_t)((uintptr_t)key >> 4) * 0x9E3779B1u;
    return m ? m + (h >> (32 - 2)) : NULL;
}
_Static_assert(PRANGE__MEMOS == 4, "prange__memo_slot takes the top 2 bits");
static inline int prange__probe_due(void);
/* Whether memo m (NULL-safe) was made for n iterations of `key` (never NULL: an empty slot
 * has key NULL) at epoch `epoch`, and no fork-join probe is due for that length; the
 * call's options and the pool are the caller's to compare (the budget moves the epoch). */
static inline int prange__memo_covers(const prange__inline_memo *m, const void *key, uint64_t n, uint64_t epoch)
{
    return m && key && m->key == key && n >= m->n_min && n <= m->n_max && m->epoch == epoch &&
           (n <= m->n_quiet || !prange__probe_due());
}
/* Whether this thread keeps an inline decision for n iterations of `key` made at the
 * current epoch (what a call with the same options would reuse). No side effect. */
int prange__memo_kept(const void *key, uint64_t n);
/* Back-off (see cost.c): a call of (key, n) planned under a cap counts down to the probe
 * window; a probe planned serial (`serial`: the cost or the fork-join figure says so now)
 * ends the back-off. */
void prange__backoff_tick(const void *key, uint64_t n, int serial);
/* A timed parallel call of a learning key (read as `l` before it ran) took `wall_ns` on
 * `threads` threads for n iterations: added to the key's window. A window that closes
 * slower than its serial estimate halves the team the key may plan and backs off (logged
 * under PRANGE_VERBOSE=2 as `what` and `label`, counted in the profile); returns 1 then.
 * A probe window that closes faster ends the back-off. `trial`: the call's plan tried the
 * team under a busy figure (prange__why_trial): its window is judged sooner, and a loss
 * backs off as a lost probe window does. A window that closes while the key has fewer
 * than PRANGE__ALONE_WANT serial samples asks for one (the next call runs alone, when it
 * is at most PRANGE__ALONE_CALL_NS of work), and one with none is not judged then: its
 * serial estimate is the team shares' cost. Outside regions only. */
int prange__backoff_observe(const void *key, const prange__learned *l, uint64_t n, int threads, double wall_ns,
                            int trial, const char *what, const char *label);
/* Record that `iters` iterations of key took `ns` on one thread (n = the loop size). */
void prange__cost_record(const void *key, uint64_t n, uint64_t iters, double ns);
/* The same, for a call that ran on one thread when `alone` (inline, or a first slice):
 * also kept apart as the serial estimate the back-off compares parallel calls with.
 * Returns the plan epoch its own bump moved on from (UINT64_MAX: nothing recorded), so a
 * caller that saw that epoch knows the sample was the only change since (lib/loop.c). */
uint64_t prange__cost_record_alone(const void *key, uint64_t n, uint64_t iters, double ns, int alone);
/* ---- clocks (sched/clock.c) ------------------------------------------------------------ */

/* Monotonic time in ns (cheap). */
uint64_t prange__now_ns(void);
/* The calling thread's CPU time in ns (dearer: for one-off samples that must not count a
 * preemption). */
uint64_t prange__cpu_ns(void);
/* Detect an invariant TSC and calibrate it (50 us, once, at initialisation). */
void prange__clock_init(void);
extern int prange__clock_tsc;        /* ticks are TSC cycles (else ns) */
extern double prange__clock_tick_ns; /* ns per tick */
/* The cheapest monotonic clock, in ticks: the TSC where it is invariant, else ns. */
static inline uint64_t prange__ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_expect(prange__clock_tsc, 1)) return __builtin_ia32_rdtsc();
#endif
    return prange__now_ns();
}
/* The tick from which the next fork-join probe is due (sched/calibrate.c; 0 before the
 * first). A serial plan whose loop a team would speed up at the quiet figure probes then
 * (plan.c); a kept inline plan of such a length holds only until that tick (lib/loop.c;
 * under PRANGE_FORK_NS nothing probes, and it never asks). */
extern _Atomic(uint64_t) prange__probe_tick;
static inline int prange__probe_due(void)
{
    return prange__ticks() >= atomic_load_explicit(&prange__probe_tick, memory_order_relaxed);
}
/* ns since `t0` (a prange__ticks() reading). */
static inline uint64_t prange__ticks_since_ns(uint64_t t0)
{
    return (uint64_t)((double)(prange__ticks() - t0) * prange__clock_tick_ns);
}

/* ---- diagnostics (sched/log.c) ------------------------------------------------------- */

/* Print "prange: " + message + newline to stderr, in one write. */
void prange__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* PRANGE_VERBOSE=2: one line per loop with its plan, named by the caller's opts->label
 * (NULL: none). */
void prange__log_plan(const char *what, const char *label, const prange_plan *plan);
/* PRANGE_* variables of `env` (NAME=VALUE strings, NULL-terminated; NULL = the process's
 * environment) that are not in the options table: one line each to `out` (NULL = none),
 * "PRANGE_NUM_THREAD is not a libprange variable; did you mean PRANGE_NUM_THREADS?", the
 * suggestion being the closest name within an edit distance of 3 (sched/envcheck.c).
 * Returns how many there are. Printed once under PRANGE_VERBOSE >= 1 and by prange-info. */
int prange__env_misspelled(const char *const *env, FILE *out);
/* The closest table name to `name` (NULL when none is within an edit distance of 3). */
const char *prange__opt_closest(const char *name);
static inline int prange__verbose(void) { return (int)prange__state_get()->opt[PRANGE__OPT_VERBOSE].value; }

#endif
