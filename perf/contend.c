/*
 * contend.c — prange-contend: libprange on a machine shared with other work (perf/run
 * --contention; docs/benchmarking.md). Three scenarios, each with its target (issue #14):
 *
 * 1. recovery: a neighbour keeps the machine busy while a fresh process starts and runs a
 *    10^7-element triad over and over; the neighbour stops after 1 s. Recorded per call:
 *    the team the bodies saw and the time. Target: the first parallel call comes within
 *    1 s (or 1000 calls) of the load stopping.
 * 2. sweep under load: with the neighbour on, a triad at sizes 10^2 .. 10^7, serial vs
 *    `omp parallel for` vs prange_for, interleaved repetitions. Target: libprange's median
 *    <= 1.25 x min(serial, OpenMP) + 100 ns at every size.
 * 3. hiccup: on a quiet machine a 16384-element loop of ~20 ns per element is called over
 *    and over; one call takes 4 ms more (a preempted body). Target: no call after it
 *    changes plan for more than 20 calls (the learned cost ignores one outlier).
 *
 * Neighbours (--load): "one" (a busy loop, one core's worth), "all" (a busy loop per
 * core), "prange" (another process running libprange loops non-stop). Each scenario runs
 * the measured part in a fresh child process, so it starts with nothing learned.
 * Writes a JSON artifact (--json PATH) and prints one verdict line per target.
 */
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <prange.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the triad ------------------------------------------------------------------------ */

typedef struct {
    double *a, *b, *c;
    int team; /* the largest team a body saw */
} triad_ctx;

static void triad_body(void *p, int64_t b, int64_t e)
{
    triad_ctx *t = p;
    int k = prange_num_threads();
    if (k > __atomic_load_n(&t->team, __ATOMIC_RELAXED)) __atomic_store_n(&t->team, k, __ATOMIC_RELAXED);
    /* The arrays in locals, as in the OpenMP variant: a store through t->a[i] may alias
     * t's own fields, and the copy called through a pointer (prange) reloaded them every
     * iteration, 1.7x slower than the inlined serial variant at 10^3-10^4 elements. */
    double *a = t->a;
    const double *x = t->b, *y = t->c;
    for (int64_t i = b; i < e; i++) a[i] = x[i] + 3.0 * y[i];
}

static triad_ctx triad_arrays(int64_t n)
{
    triad_ctx t = {malloc((size_t)n * 8), malloc((size_t)n * 8), malloc((size_t)n * 8), 0};
    if (!t.a || !t.b || !t.c) {
        fprintf(stderr, "prange-contend: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++) t.a[i] = 0, t.b[i] = (double)i, t.c[i] = 1;
    return t;
}

/* ---- neighbours ------------------------------------------------------------------------ */

/* fork(), where the child dies with this process: a run stopped from outside (a timeout,
 * ^C, a crash) must not leave busy loops behind on the machine. */
static pid_t fork_child(void)
{
    pid_t parent = getpid(), p = fork();
    if (p == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)) _exit(1);
    return p;
}

typedef struct {
    pid_t pid[64];
    int n;
} neighbour;

static neighbour start_load(const char *kind)
{
    neighbour nb = {{0}, 0};
    int count = strcmp(kind, "all") == 0 ? (int)sysconf(_SC_NPROCESSORS_ONLN) : 1;
    if (count > 64) count = 64;
    for (int i = 0; i < count; i++) {
        pid_t p = fork_child();
        if (p == 0) {
            if (strcmp(kind, "prange") == 0) {
                triad_ctx t = triad_arrays(1 << 22);
                for (;;) prange_for(0, 1 << 22, triad_body, &t);
            }
            for (volatile unsigned long k = 0;; k++) {
            }
        }
        nb.pid[nb.n++] = p;
    }
    usleep(100000); /* the neighbour is running before the measured process starts */
    return nb;
}

static void stop_load(neighbour *nb)
{
    for (int i = 0; i < nb->n; i++) kill(nb->pid[i], SIGKILL);
    for (int i = 0; i < nb->n; i++) waitpid(nb->pid[i], NULL, 0);
    nb->n = 0;
}

/* ---- 1. recovery ----------------------------------------------------------------------- */

typedef struct {
    double load_stop;   /* seconds after the start */
    double first_par;   /* first parallel call after the load stopped, seconds after it; -1 none */
    int calls_after;    /* calls from the load stop to that call */
    int calls_loaded, par_loaded; /* calls while loaded, and how many ran in parallel */
    double med_loaded_ms, med_after_ms;
} recovery;

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double quantile(double *v, int n, double q) /* v sorted */
{
    if (n <= 0) return NAN;
    double pos = q * (n - 1);
    int lo = (int)pos;
    return lo + 1 < n ? v[lo] + (pos - lo) * (v[lo + 1] - v[lo]) : v[lo];
}

static recovery run_recovery(const char *kind, double total_s)
{
    recovery *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    memset(shared, 0, sizeof *shared);
    neighbour nb = start_load(kind);
    double t0 = now_s();
    pid_t child = fork_child();
    if (child == 0) { /* a fresh process, started under load */
        int64_t n = 10000000;
        triad_ctx t = triad_arrays(n);
        enum { MAX = 200000 };
        static double ms[MAX];
        static int team[MAX];
        static double at[MAX];
        int k = 0;
        while (now_s() - t0 < total_s && k < MAX) {
            t.team = 0;
            double a = now_s();
            prange_for(0, n, triad_body, &t);
            at[k] = a - t0;
            ms[k] = (now_s() - a) * 1e3;
            team[k++] = t.team;
        }
        double stop = shared->load_stop;
        recovery r = {.load_stop = stop, .first_par = -1};
        static double before[MAX], after[MAX];
        int nb_ = 0, na = 0;
        for (int i = 0; i < k; i++) {
            if (at[i] < stop) {
                r.calls_loaded++;
                r.par_loaded += team[i] > 1;
                before[nb_++] = ms[i];
            } else {
                if (r.first_par < 0) r.calls_after++;
                if (r.first_par < 0 && team[i] > 1) r.first_par = at[i] - stop;
                if (r.first_par >= 0) after[na++] = ms[i];
            }
        }
        r.med_loaded_ms = median(before, nb_);
        r.med_after_ms = median(after, na);
        *shared = r;
        _exit(0);
    }
    usleep(1000000);
    shared->load_stop = now_s() - t0;
    stop_load(&nb);
    waitpid(child, NULL, 0);
    recovery r = *shared;
    munmap(shared, sizeof *shared);
    return r;
}

/* ---- 2. the sweep under load ----------------------------------------------------------------- */

typedef struct {
    int64_t n;
    double serial, omp, prange; /* medians, seconds per call */
    double p90_prange;
    double mean[3]; /* serial, omp, prange: what a throughput-minded choice minimises */
    double par; /* the share of timed prange calls that ran on a team: a decision, or noise? */
    /* Each repetition in the order it ran (the JSON's "calls"): the three samples, and the
     * share of the prange sample's calls that ran on a team (one call a sample from 10^5 up:
     * its plan). What a median hides: which calls lost, and what libprange chose then. */
    int reps;
    double rep[3][64];
    double rep_team[64];
} sweep_row;

static int g_threads;

static void triad_omp(triad_ctx *t, int64_t n)
{
    double *a = t->a;
    const double *x = t->b, *y = t->c;
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 0; i < n; i++) a[i] = x[i] + 3.0 * y[i];
}

/* The serial reference: the same body, called as prange calls it inline. A copy inlined
 * into the timing loop was compiled differently (gcc 12 -O3) and ran 1.3-1.8x faster at
 * 10^3-10^4 elements than the same body called through a pointer with PRANGE_SERIAL=1:
 * code generation, not scheduling, which this sweep is about. */
static void (*volatile serial_call)(void *, int64_t, int64_t) = triad_body;

/* Time one call of variant v at size n, in a batch long enough to read (>= 20 us); *par
 * gets how many of prange's calls ran on a team. */
/* The mean time of one call of variant v (serial, omp, prange) over a batch of calls
 * long enough to time, cut short after BATCH_MAX_S: a call that waits for a core takes
 * milliseconds, and 2001 such OpenMP calls of 100 elements next to a busy loop on each of
 * 16 cores made one sample last seconds (the run passed its 60 s limit). *par: the
 * prange calls that ran on a team; *made: the calls made. */
#define BATCH_MAX_S 0.02
static double time_call(triad_ctx *t, int64_t n, int v, int *par, int *made)
{
    int batch = n >= 100000 ? 1 : (int)(200000 / n) + 1, teams = 0, b = 0;
    double a = now_s();
    while (b < batch) {
        if (v == 0) {
            serial_call(t, 0, n);
        } else if (v == 1) {
            triad_omp(t, n);
        } else {
            t->team = 0;
            prange_for(0, n, triad_body, t);
            teams += t->team > 1;
        }
        /* The clock every 16 calls: read on each, it would add ~20 ns to a 40 ns call. */
        if ((++b & 15) == 0 && now_s() - a > BATCH_MAX_S) break;
    }
    if (par) *par = teams;
    if (made) *made = b;
    return (now_s() - a) / b;
}

/* CPU ns used so far by this process's threads other than the caller: libgomp's pool,
 * which the OpenMP variant and libprange's teams share. A thread's CPU clock by its id
 * (MAKE_THREAD_CPUCLOCK in the kernel's ABI, what pthread_getcpuclockid returns). */
static double others_cpu_ns(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    pid_t self = (pid_t)syscall(SYS_gettid);
    double sum = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || tid == self) continue;
        clockid_t c = (clockid_t)((int)(~(unsigned)tid << 3) | 6); /* per thread (4), scheduler time (2) */
        struct timespec ts;
        if (clock_gettime(c, &ts) == 0) sum += (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
    }
    closedir(d);
    return sum;
}

/* Return once libgomp's idle workers sleep. After each region they spin before they sleep
 * (GOMP_SPINCOUNT): 7.4-8 ms of CPU on the 2-vCPU VM of docs/performance.md, so about
 * 15 ms on a core shared with a busy loop. Whatever ran next paid for them: a serial
 * 10^7 triad right after an OpenMP call took 12.4 ms against 8.5 ms next to one busy loop,
 * and a fixed 3 ms pause did not cover it. Asleep: under 20 us of their CPU in 1 ms.
 * At most 100 ms. */
static void let_workers_sleep(void)
{
    double last = others_cpu_ns();
    for (int k = 0; k < 100; k++) {
        usleep(1000);
        double cur = others_cpu_ns();
        if (last < 0 || cur < 0 || cur - last < 2e4) return;
        last = cur;
    }
}

/* The order of the variants in repetition r: every variant follows every other equally
 * often. Under load, whatever runs right after a team call often starts on the busy core
 * (the system left the caller there) and a serial call then took 13-14 ms instead of 9 at
 * 10^7; a rotation (serial, omp, prange, then omp, prange, serial, ...) put libprange right
 * after OpenMP in 2 repetitions of 3, serial in none, and charged that to libprange. */
static const int order[6][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}};

static int run_sweep(const char *kind, int reps, sweep_row *rows)
{
    static const int64_t sizes[] = {100, 1000, 10000, 100000, 1000000, 10000000};
    int ns = (int)(sizeof sizes / sizeof sizes[0]);
    sweep_row *shared = mmap(NULL, sizeof(sweep_row) * 8, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    neighbour nb = start_load(kind);
    pid_t child = fork_child();
    if (child == 0) {
        triad_ctx t = triad_arrays(10000000);
        double s[3][64];
        for (int k = 0; k < ns; k++) {
            int64_t n = sizes[k];
            for (int v = 0; v < 3; v++) time_call(&t, n, v, NULL, NULL); /* warm-up (and prange's learning) */
            int64_t par = 0, calls = 0;
            sweep_row row = {.n = n, .reps = reps < 64 ? reps : 64};
            for (int r = 0; r < reps && r < 64; r++) /* interleaved, in all 6 orders */
                for (int j = 0; j < 3; j++) {
                    int v = order[r % 6][j];
                    let_workers_sleep();
                    int teams = 0, made = 0;
                    s[v][r] = row.rep[v][r] = time_call(&t, n, v, &teams, &made);
                    if (v == 2) par += teams, calls += made, row.rep_team[r] = made ? (double)teams / made : 0;
                }
            row.serial = median(s[0], reps);
            row.omp = median(s[1], reps);
            row.prange = median(s[2], reps);
            row.p90_prange = quantile(s[2], reps, 0.9);
            for (int v = 0; v < 3; v++) {
                double sum = 0;
                for (int r = 0; r < reps && r < 64; r++) sum += s[v][r];
                row.mean[v] = sum / (reps < 64 ? reps : 64);
            }
            row.par = calls ? (double)par / (double)calls : 0;
            shared[k] = row;
        }
        _exit(0);
    }
    waitpid(child, NULL, 0);
    stop_load(&nb);
    memcpy(rows, shared, sizeof(sweep_row) * (size_t)ns);
    munmap(shared, sizeof(sweep_row) * 8);
    return ns;
}

/* ---- 3. one hiccup ------------------------------------------------------------------------ */

typedef struct {
    double *x;
    volatile int hiccup; /* spin 4 ms in the next call */
    int team;
} hiccup_ctx;

static void spin_ns(double ns)
{
    double end = now_s() + ns * 1e-9;
    while (now_s() < end) {
    }
}

static void hiccup_body(void *p, int64_t b, int64_t e)
{
    hiccup_ctx *h = p;
    int k = prange_num_threads();
    if (k > __atomic_load_n(&h->team, __ATOMIC_RELAXED)) __atomic_store_n(&h->team, k, __ATOMIC_RELAXED);
    if (h->hiccup && b == 0) {
        h->hiccup = 0;
        spin_ns(4e6);
    }
    for (int64_t i = b; i < e; i++) { /* ~20-30 ns of dependent arithmetic per element */
        double v = h->x[i];
        /* 40 steps: gcc vectorises across elements, and 6 steps were 3 ns per element, a
         * 47 us loop that 2 threads barely beat: its own losses, not the hiccup, then
         * decided the plans. */
        for (int j = 0; j < 40; j++) v = v * 1.0000001 + 1e-9;
        h->x[i] = v;
    }
}

typedef struct {
    int before_team; /* the plan before the hiccup (steady state) */
    int changed;     /* calls after the hiccup whose team differed from before */
    int longest_run; /* the longest run of consecutive changed calls */
} hiccup_result;

static hiccup_result run_hiccup(void)
{
    hiccup_result *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t child = fork_child();
    if (child == 0) {
        enum { N = 16384 };
        hiccup_ctx h = {calloc(N, sizeof(double)), 0, 0};
        int teams[400];
        for (int i = 0; i < 400; i++) {
            if (i == 200) h.hiccup = 1;
            h.team = 0;
            prange_for(0, N, hiccup_body, &h);
            teams[i] = h.team;
        }
        /* The steady plan: the most common team in calls 100..199. */
        int count[1025] = {0}, best = 1;
        for (int i = 100; i < 200; i++) count[teams[i] <= 1024 ? teams[i] : 1024]++;
        for (int k = 1; k <= 1024; k++)
            if (count[k] > count[best]) best = k;
        hiccup_result r = {.before_team = best};
        int run = 0;
        for (int i = 201; i < 400; i++) {
            if (teams[i] != best) {
                r.changed++;
                if (++run > r.longest_run) r.longest_run = run;
            } else {
                run = 0;
            }
        }
        *shared = r;
        _exit(0);
    }
    waitpid(child, NULL, 0);
    hiccup_result r = *shared;
    munmap(shared, sizeof *shared);
    return r;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: prange-contend [--load one|all|prange] [--reps N] [--quick] [--json PATH]\n"
               "  libprange next to a busy neighbour: recovery after the load stops, a size sweep\n"
               "  under load (serial, omp, prange interleaved), and one 4 ms hiccup on a quiet machine.\n");
}

int main(int argc, char **argv)
{
    const char *kind = "one", *json = NULL;
    int reps = 11;
    double recovery_s = 3.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--load") == 0 && i + 1 < argc) kind = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) json = argv[++i];
        else if (strcmp(argv[i], "--quick") == 0) reps = 7, recovery_s = 2.0;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "prange-contend: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(kind, "one") && strcmp(kind, "all") && strcmp(kind, "prange")) {
        fprintf(stderr, "prange-contend: --load must be one, all or prange (got '%s')\n", kind);
        return 2;
    }
    if (reps < 3 || reps > 64) {
        fprintf(stderr, "prange-contend: --reps must be 3..64\n");
        return 2;
    }
    g_threads = prange_num_threads();
    int fails = 0;

    recovery r = run_recovery(kind, recovery_s);
    int rec_ok = r.first_par >= 0 && (r.first_par <= 1.0 || r.calls_after <= 1000);
    fails += !rec_ok;
    printf("recovery  (--load %s): %d calls under load, %d of them parallel (median %.2f ms); load stopped at "
           "%.2f s; first parallel call %s%.3f s later (%d calls), median after %.2f ms. target <= 1 s or 1000 "
           "calls: %s\n",
           kind, r.calls_loaded, r.par_loaded, r.med_loaded_ms, r.load_stop, r.first_par < 0 ? "never: " : "",
           r.first_par < 0 ? 0 : r.first_par, r.calls_after, r.med_after_ms, rec_ok ? "ok" : "MISS");

    sweep_row rows[8];
    int nrows = run_sweep(kind, reps, rows);
    int sweep_ok = 1;
    printf("sweep under load (--load %s), triad, median per call; target prange <= 1.25 x min(serial, omp) + 100 ns\n",
           kind);
    for (int k = 0; k < nrows; k++) {
        double ref = fmin(rows[k].serial, rows[k].omp);
        int ok = rows[k].prange <= 1.25 * ref + 100e-9;
        sweep_ok &= ok;
        printf("  n=%-9lld serial %9.2f us  omp %9.2f us  prange %9.2f us (p90 %9.2f, on a team %3.0f%%)  ratio %.2f  "
               "%s\n",
               (long long)rows[k].n, rows[k].serial * 1e6, rows[k].omp * 1e6, rows[k].prange * 1e6,
               rows[k].p90_prange * 1e6, 100 * rows[k].par, rows[k].prange / ref, ok ? "ok" : "MISS");
        printf("  %-11s mean   %9.2f us      %9.2f us         %9.2f us\n", "", rows[k].mean[0] * 1e6, rows[k].mean[1] * 1e6,
               rows[k].mean[2] * 1e6);
    }
    fails += !sweep_ok;

    hiccup_result h = run_hiccup();
    int hic_ok = h.longest_run <= 20;
    fails += !hic_ok;
    printf("hiccup: steady team %d; after one 4 ms hiccup %d of 199 calls changed plan, longest run %d "
           "(target <= 20): %s\n", h.before_team, h.changed, h.longest_run, hic_ok ? "ok" : "MISS");

    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            perror(json);
            return 1;
        }
        fprintf(f, "{\"schema\": \"prange-contend/1\", \"load\": \"%s\", \"threads\": %d, \"cores_online\": %ld,\n",
                kind, g_threads, sysconf(_SC_NPROCESSORS_ONLN));
        char first[32] = "null";
        if (r.first_par >= 0) snprintf(first, sizeof first, "%.4f", r.first_par);
        fprintf(f, " \"recovery\": {\"load_stop_s\": %.4f, \"first_parallel_after_s\": %s, \"calls_after\": %d, "
                   "\"calls_loaded\": %d, \"parallel_loaded\": %d, \"median_loaded_ms\": %.4f, "
                   "\"median_after_ms\": %.4f, \"ok\": %s},\n",
                r.load_stop, first, r.calls_after, r.calls_loaded, r.par_loaded,
                isnan(r.med_loaded_ms) ? 0 : r.med_loaded_ms, isnan(r.med_after_ms) ? 0 : r.med_after_ms,
                rec_ok ? "true" : "false");
        fprintf(f, " \"sweep\": [");
        for (int k = 0; k < nrows; k++) {
            fprintf(f, "%s{\"n\": %lld, \"serial_s\": %.9g, \"omp_s\": %.9g, \"prange_s\": %.9g, \"prange_p90_s\": %.9g, "
                       "\"prange_on_team\": %.4f, \"mean_s\": [%.9g, %.9g, %.9g],\n  \"calls\": {",
                    k ? ",\n " : "", (long long)rows[k].n, rows[k].serial, rows[k].omp, rows[k].prange,
                    rows[k].p90_prange, rows[k].par, rows[k].mean[0], rows[k].mean[1], rows[k].mean[2]);
            static const char *const names[3] = {"serial_s", "omp_s", "prange_s"};
            for (int v = 0; v <= 3; v++) {
                fprintf(f, "%s\"%s\": [", v ? ", " : "", v < 3 ? names[v] : "prange_team");
                for (int r = 0; r < rows[k].reps; r++)
                    fprintf(f, v < 3 ? "%s%.9g" : "%s%.3g", r ? ", " : "", v < 3 ? rows[k].rep[v][r] : rows[k].rep_team[r]);
                fprintf(f, "]");
            }
            fprintf(f, "}}");
        }
        fprintf(f, "], \"sweep_ok\": %s,\n", sweep_ok ? "true" : "false");
        fprintf(f, " \"hiccup\": {\"steady_team\": %d, \"changed\": %d, \"longest_run\": %d, \"ok\": %s}}\n",
                h.before_team, h.changed, h.longest_run, hic_ok ? "true" : "false");
        if (fclose(f) != 0) {
            perror(json);
            return 1;
        }
    }
    printf("contention: %d of 3 targets met\n", 3 - fails);
    return 0;
}
