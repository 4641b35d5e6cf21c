/*
 * log.c — diagnostics: the one output function, and the configuration report that
 * PRANGE_VERBOSE=1 and `prange-info` print (what a user pastes into a bug report).
 */
#include <hwloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../lib/kernels_isa.h"
#include "profile.h"
#include "prange_sched.h"

#ifndef PRANGE_BUILD_INFO
#define PRANGE_BUILD_INFO "unknown"
#endif

void prange__log(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n] = '\n';
    line[n + 1] = '\0';
    /* One fputs: lines from concurrent threads do not interleave mid-line. */
    fprintf(stderr, "prange: %s", line);
}

void prange__log_plan(const char *what, const char *label, const prange_plan *plan)
{
    /* Inside a timed call: printed when it finishes, with its site and duration. */
    if (prange__profile_defer_plan(what, plan)) return;
    char line[320];
    prange_plan_format(plan, line, sizeof line);
    if (label) prange__log("%s %s: %s", what, label, line);
    else prange__log("%s: %s", what, line);
}

static void fmt_bytes(char *buf, size_t size, int64_t b)
{
    if (b <= 0) snprintf(buf, size, "?");
    else if (b >= (INT64_C(1) << 20)) snprintf(buf, size, "%lld MiB", (long long)(b >> 20));
    else snprintf(buf, size, "%lld KiB", (long long)(b >> 10));
}

int prange_print_config(FILE *out)
{
    FILE *f = out ? out : stderr;
    const prange__state *st = prange__state_get();
    const prange__topo *t = &st->topo;
    unsigned hv = hwloc_get_api_version();
    char l1[32], l2[32], l3[32];
    fmt_bytes(l1, sizeof l1, t->l1d);
    fmt_bytes(l2, sizeof l2, t->l2);
    fmt_bytes(l3, sizeof l3, t->l3);

    fprintf(f, "libprange %s\n", prange_version_string());
    fprintf(f, "build:     %s; compiler %s; OpenMP %d; hwloc API %u.%u.%u (headers %s)\n",
            PRANGE_BUILD_INFO, __VERSION__, _OPENMP, hv >> 16, (hv >> 8) & 0xff, hv & 0xff,
            HWLOC_VERSION);
    fprintf(f, "topology:  %d cores, %d PUs (cpuset %s), %d NUMA node%s, %d package%s; L1d %s, L2 %s, L3 %s; %s%s%s\n",
            t->cores, t->pus, t->cpuset, t->numa_nodes, t->numa_nodes == 1 ? "" : "s", t->packages,
            t->packages == 1 ? "" : "s", l1, l2, l3,
            t->from_hwloc ? (t->this_system ? "from hwloc" : "from hwloc (synthetic/XML: not this system)")
                          : "from the affinity mask: ",
            t->from_hwloc ? "" : t->why, "");
    if (st->quota > 0) fprintf(f, "cgroup:    CPU quota %.2f CPUs\n", st->quota);
    else fprintf(f, "cgroup:    no CPU quota\n");
    fprintf(f, "budget:    %d threads%s\n", prange__budget(),
            prange__budget_overridden() ? " (prange_set_num_threads)" : "");
    const prange__rank *rk = &st->rank;
    if (rk->local_size > 1 && rk->sharers > 1)
        fprintf(f, "ranks:     local rank %d of %d (%s); %d ranks share this rank's CPUs: it takes slice %d of %d "
                   "(cpuset %s)\n",
                rk->local_rank, rk->local_size, rk->from, rk->sharers, rk->index, rk->sharers, st->topo.cpuset);
    else if (rk->local_size > 1 && st->topo.cores == 1 && rk->sets >= 2 * rk->local_size)
        fprintf(f, "ranks:     local rank %d of %d (%s), bound to one core while the node has %d: each rank runs its "
                   "loops serially. Give each rank cores, e.g. mpirun --map-by slot:PE=%d --bind-to core (Open MPI), "
                   "srun --cpus-per-task=%d (Slurm), or --bind-to none\n",
                rk->local_rank, rk->local_size, rk->from, rk->sets, rk->sets / rk->local_size, rk->sets / rk->local_size);
    else if (rk->local_size > 0)
        fprintf(f, "ranks:     local rank %d of %d (%s); its CPUs are its own (cpuset %s)\n", rk->local_rank,
                rk->local_size, rk->from, st->topo.cpuset);
    if (st->opt[PRANGE__OPT_SHARE].value == 1) {
        char node[256];
        prange__node_describe(node, sizeof node);
        fprintf(f, "node:      %s\n", node);
    }
    fprintf(f, "options:\n");
    for (int i = 0; i < PRANGE__OPT_COUNT; i++) {
        const prange__opt_desc *d = &prange__opt_table[i];
        prange__opt_val v = st->opt[i];
        char val[64];
        if (i == PRANGE__OPT_NUM_THREADS && prange__budget_overridden()) { /* prange_set_num_threads */
            v.value = prange__budget();
            v.src = PRANGE__SRC_CALL;
        }
        static const char *const src_names[] = {"default", "environment", "call"};
        const char *src = src_names[v.src];
        prange__opt_format((prange__opt_id)i, &v, val, sizeof val);
        fprintf(f, "  %-20s %-12s %-12s %s%s%s\n", d->name, val, src, d->doc,
                v.from && strcmp(v.from, d->name) != 0 ? "; set from " : "",
                v.from && strcmp(v.from, d->name) != 0 ? v.from : "");
    }
    fprintf(f, "plans (no cost hint, default cost):\n");
    int64_t n = 10;
    for (int k = 1; k <= 9; k++, n *= 10) {
        prange_plan p;
        char line[256];
        prange_plan_for(n, NULL, &p);
        prange_plan_format(&p, line, sizeof line);
        fprintf(f, "  %s\n", line);
    }
    char fj[256];
    prange__fork_describe(fj, sizeof fj);
    fprintf(f, "fork-join: %s\n", fj);
    prange__threads_describe(fj, sizeof fj);
    fprintf(f, "threads:   %s\n", fj);
    prange__isa_describe(fj, sizeof fj);
    fprintf(f, "kernels:   %s\n", fj);
    /* A full disk or a closed pipe shows only when the buffer is written out. */
    return fflush(f) != 0 || ferror(f) ? PRANGE_EIO : 0;
}
