/*
 * pair.c — prange-pair: what two libprange processes on one machine cost each other
 * (perf/run --pair; docs/scheduling.md, "Idle workers"; issue #15).
 *
 * Each process runs the same program for a fixed time: a parallel loop (a 2^16-element
 * triad, ~20 us serially here) followed by a serial phase of about the same length on the
 * caller (the part of a real program between loops), over and over. It counts the rounds.
 * libgomp's idle workers spin after each loop (GOMP_SPINCOUNT) before they sleep: alone,
 * that makes the next fork cheap; next to another process it takes a core the other one
 * needed. Five policies, each run alone and as a pair started together:
 *
 *   default        libgomp's own spin (OMP_WAIT_POLICY unset)
 *   passive        OMP_WAIT_POLICY=passive: idle workers sleep at once
 *   spin10k        GOMP_SPINCOUNT=10000: a short spin (a few us), then sleep
 *   node           PRANGE_SHARE=node: the two processes split the cores (1 each here)
 *   node+passive   both
 *
 * Reported: rounds per second alone and for the pair (the sum of both), the pair's
 * throughput relative to the best single process, and the CPU time each process burned
 * per round (spinning shows there). Configurations are interleaved over the repetitions so
 * drift hits all alike; medians. Each measured process is a fresh exec of this program
 * with the policy's environment (libgomp reads it once, at load).
 */
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <prange.h>

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the worker: one measured process ---------------------------------------------------- */

enum { N = 1 << 16 };

typedef struct {
    double *a, *b, *c;
} triad;

static void triad_body(void *p, int64_t b, int64_t e)
{
    triad *t = p;
    for (int64_t i = b; i < e; i++) t->a[i] = t->b[i] + 3.0 * t->c[i];
}

/* The caller's serial phase: a dependent chain of about the triad's serial time. */
static double serial_phase(double x, int steps)
{
    for (int k = 0; k < steps; k++) x = x * 1.0000001 + 1e-9;
    return x;
}

static int worker(double seconds, int steps)
{
    triad t = {malloc(N * sizeof(double)), malloc(N * sizeof(double)), malloc(N * sizeof(double))};
    if (!t.a || !t.b || !t.c) return 1;
    for (int i = 0; i < N; i++) t.a[i] = 0, t.b[i] = i, t.c[i] = 1;
    for (int w = 0; w < 50; w++) prange_for(0, N, triad_body, &t); /* warm-up and learning */
    volatile double sink = 1;
    long rounds = 0;
    double t0 = now_s(), end = t0 + seconds;
    while (now_s() < end) {
        prange_for(0, N, triad_body, &t);
        sink = serial_phase(sink, steps);
        rounds++;
    }
    double wall = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec * 1e-6;
    printf("%ld %.6f %.6f\n", rounds, wall, cpu);
    return 0;
}

/* ---- the driver ------------------------------------------------------------------------- */

typedef struct {
    const char *name, *wait_policy, *spincount, *share;
} policy;

static const policy policies[] = {
    {"default", NULL, NULL, NULL},
    {"passive", "passive", NULL, NULL},
    {"spin10k", NULL, "10000", NULL},
    {"node", NULL, NULL, "node"},
    {"node+passive", "passive", NULL, "node"},
};
enum { NP = sizeof policies / sizeof policies[0], MAXREP = 15 };

typedef struct {
    double rate, cpu_per_round; /* rounds per second; CPU seconds per round */
} outcome;

/* Start `count` workers with policy p at once; their summed rate and mean CPU per round. */
static int run_group(const char *self, const policy *p, int count, double seconds, int steps, outcome *out)
{
    /* The child environment: ours without the variables the policies set, plus p's. */
    static char *env[4096];
    int ne = 0;
    for (char **e = environ; *e && ne < 4090; e++)
        if (strncmp(*e, "OMP_WAIT_POLICY=", 16) && strncmp(*e, "GOMP_SPINCOUNT=", 15) &&
            strncmp(*e, "PRANGE_SHARE=", 13))
            env[ne++] = *e;
    char wp[64], sc[64], sh[64];
    if (p->wait_policy) snprintf(wp, sizeof wp, "OMP_WAIT_POLICY=%s", p->wait_policy), env[ne++] = wp;
    if (p->spincount) snprintf(sc, sizeof sc, "GOMP_SPINCOUNT=%s", p->spincount), env[ne++] = sc;
    if (p->share) snprintf(sh, sizeof sh, "PRANGE_SHARE=%s", p->share), env[ne++] = sh;
    env[ne] = NULL;

    char secs[32], st[32];
    snprintf(secs, sizeof secs, "%g", seconds);
    snprintf(st, sizeof st, "%d", steps);
    char *argv[] = {(char *)self, "--worker", secs, st, NULL};
    pid_t pid[2];
    FILE *res[2];
    for (int i = 0; i < count; i++) {
        res[i] = tmpfile();
        if (!res[i]) return -1;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fileno(res[i]), 1);
        if (posix_spawn(&pid[i], self, &fa, NULL, argv, env) != 0) return -1;
        posix_spawn_file_actions_destroy(&fa);
    }
    out->rate = 0;
    out->cpu_per_round = 0;
    int bad = 0;
    for (int i = 0; i < count; i++) {
        int status;
        waitpid(pid[i], &status, 0);
        long rounds = 0;
        double wall = 0, cpu = 0;
        rewind(res[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || fscanf(res[i], "%ld %lf %lf", &rounds, &wall, &cpu) != 3 ||
            rounds <= 0)
            bad = 1;
        else {
            out->rate += (double)rounds / wall;
            out->cpu_per_round += cpu / (double)rounds / count;
        }
        fclose(res[i]);
    }
    return bad ? -1 : 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: prange-pair [--seconds S] [--reps N] [--json PATH]\n"
               "  two libprange processes on one machine: rounds per second of a loop + serial phase\n"
               "  program, alone and as a pair, with libgomp's default spin, OMP_WAIT_POLICY=passive,\n"
               "  GOMP_SPINCOUNT=10000, PRANGE_SHARE=node and node+passive (docs/scheduling.md, \"Idle workers\").\n");
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--worker") == 0) return worker(atof(argv[2]), atoi(argv[3]));
    double seconds = 1.0;
    int reps = 5;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], &end);
            if (*end || !(seconds >= 0.1 && seconds <= 60)) {
                fprintf(stderr, "prange-pair: --seconds must be 0.1..60\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            long r = strtol(argv[++i], &end, 10);
            if (*end || r < 1 || r > MAXREP) {
                fprintf(stderr, "prange-pair: --reps must be 1..%d\n", MAXREP);
                return 2;
            }
            reps = (int)r;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "prange-pair: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("prange-pair: /proc/self/exe");
        return 1;
    }
    self[len] = 0;

    /* The serial phase: as long as the triad's serial time, measured here once. */
    int steps = 1000;
    {
        double t0 = now_s();
        volatile double x = serial_phase(1.0, 1000000);
        (void)x;
        double per_step = (now_s() - t0) / 1e6;
        triad t = {malloc(N * sizeof(double)), malloc(N * sizeof(double)), malloc(N * sizeof(double))};
        if (!t.a || !t.b || !t.c) return 1;
        for (int i = 0; i < N; i++) t.a[i] = 0, t.b[i] = i, t.c[i] = 1;
        double best = 1;
        for (int k = 0; k < 20; k++) {
            double a = now_s();
            triad_body(&t, 0, N);
            double d = now_s() - a;
            if (d < best) best = d;
        }
        steps = (int)(best / per_step) + 1;
        free(t.a), free(t.b), free(t.c);
    }

    double alone[NP][MAXREP], pair[NP][MAXREP], cpu1[NP][MAXREP], cpu2[NP][MAXREP];
    int total = reps * NP * 2, k = 0, tty = isatty(2);
    for (int r = 0; r < reps; r++)
        for (int j = 0; j < NP; j++) {
            int p = (j + r) % NP; /* the order rotates */
            outcome o;
            if (tty) fprintf(stderr, "\r[%d/%d] %s alone   ", k + 1, total, policies[p].name);
            k++;
            if (run_group(self, &policies[p], 1, seconds, steps, &o) != 0) goto failed;
            alone[p][r] = o.rate, cpu1[p][r] = o.cpu_per_round;
            if (tty) fprintf(stderr, "\r[%d/%d] %s pair    ", k + 1, total, policies[p].name);
            k++;
            if (run_group(self, &policies[p], 2, seconds, steps, &o) != 0) goto failed;
            pair[p][r] = o.rate, cpu2[p][r] = o.cpu_per_round;
        }
    if (tty) fprintf(stderr, "\r%40s\r", "");

    double med_alone[NP], med_pair[NP], med_c1[NP], med_c2[NP], best_alone = 0;
    for (int p = 0; p < NP; p++) {
        med_alone[p] = median(alone[p], reps), med_pair[p] = median(pair[p], reps);
        med_c1[p] = median(cpu1[p], reps), med_c2[p] = median(cpu2[p], reps);
        if (med_alone[p] > best_alone) best_alone = med_alone[p];
    }
    printf("two libprange processes, %d cores online: a 2^16 triad + a serial phase of the same length, "
           "%g s per process, median of %d\n", (int)sysconf(_SC_NPROCESSORS_ONLN), seconds, reps);
    printf("  %-13s %14s %14s %12s %16s %16s\n", "policy", "alone rounds/s", "pair rounds/s", "pair/best1",
           "cpu/round alone", "cpu/round pair");
    for (int p = 0; p < NP; p++)
        printf("  %-13s %14.0f %14.0f %12.2f %13.1f us %13.1f us\n", policies[p].name, med_alone[p], med_pair[p],
               med_pair[p] / best_alone, med_c1[p] * 1e6, med_c2[p] * 1e6);
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f, "{\"schema\": \"prange-pair/1\", \"cores_online\": %ld, \"seconds\": %g, \"reps\": %d, "
                   "\"serial_steps\": %d, \"policies\": [",
                sysconf(_SC_NPROCESSORS_ONLN), seconds, reps, steps);
        for (int p = 0; p < NP; p++)
            fprintf(f, "%s{\"name\": \"%s\", \"alone_rounds_per_s\": %.6g, \"pair_rounds_per_s\": %.6g, "
                       "\"alone_cpu_per_round_s\": %.6g, \"pair_cpu_per_round_s\": %.6g}",
                    p ? ", " : "", policies[p].name, med_alone[p], med_pair[p], med_c1[p], med_c2[p]);
        fprintf(f, "]}\n");
        if (fclose(f) != 0) {
            perror(json);
            return 1;
        }
    }
    return 0;
failed:
    fprintf(stderr, "\nprange-pair: a worker failed\n");
    return 1;
}
