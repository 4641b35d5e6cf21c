/* dlclose.c LIBPRANGE_SO — a plugin host's life: dlopen libprange (not linked at build
 * time, so libgomp comes and goes with it), run parallel loops and reductions from main
 * and from a user thread, dlclose, let the thread exit (its per-thread scratch is freed
 * at thread exit), dlopen again; 30 cycles, in a child process with a timeout. Nothing
 * may crash, and every result must be right. Exit 0 when so. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "prange.h"

typedef struct {
    int (*set_num_threads)(int);
    int (*for_opts)(int64_t, int64_t, prange_body_fn, void *, const prange_opts *);
    double (*sum_f64)(const double *, int64_t, const prange_opts *);
} api;

enum { N = 1 << 16 };
static double g_x[N];

static void fill(void *ctx, int64_t b, int64_t e)
{
    double *x = ctx;
    for (int64_t i = b; i < e; i++) x[i] = (double)(i % 7);
}

/* A parallel loop (starts a team) and a sum (uses the thread's scratch); 0 when right. */
static int work(const api *a)
{
    prange_opts o = PRANGE_OPTS_INIT;
    o.threads = 2;
    o.cost_ns = 1e6; /* always worth a team */
    memset(g_x, 0, sizeof g_x);
    if (a->for_opts(0, N, fill, g_x, &o) != 0) return 1;
    double want = 0;
    for (int i = 0; i < N; i++) want += (double)(i % 7);
    return a->sum_f64(g_x, N, NULL) == want ? 0 : 2;
}

typedef struct {
    const api *a;
    int result;
    pthread_mutex_t m;
    pthread_cond_t c;
    int stage; /* 1: thread's work done; 2: main has dlclose()d, the thread may exit */
} user;

static void *user_thread(void *p)
{
    user *u = p;
    u->result = work(u->a);
    pthread_mutex_lock(&u->m);
    u->stage = 1;
    pthread_cond_broadcast(&u->c);
    while (u->stage < 2) pthread_cond_wait(&u->c, &u->m);
    pthread_mutex_unlock(&u->m);
    return NULL; /* thread-exit destructors run now, after the dlclose */
}

static int cycles(const char *path)
{
    for (int k = 0; k < 30; k++) {
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 10;
        }
        api a;
        *(void **)&a.set_num_threads = dlsym(h, "prange_set_num_threads");
        *(void **)&a.for_opts = dlsym(h, "prange_for_opts");
        *(void **)&a.sum_f64 = dlsym(h, "prange_sum_f64");
        if (!a.set_num_threads || !a.for_opts || !a.sum_f64) return 11;
        a.set_num_threads(2);
        if (work(&a) != 0) return 12;
        user u = {&a, -1, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        pthread_t th;
        if (pthread_create(&th, NULL, user_thread, &u) != 0) return 13;
        pthread_mutex_lock(&u.m);
        while (u.stage < 1) pthread_cond_wait(&u.c, &u.m);
        pthread_mutex_unlock(&u.m);
        if (dlclose(h) != 0) return 14;
        pthread_mutex_lock(&u.m);
        u.stage = 2;
        pthread_cond_broadcast(&u.c);
        pthread_mutex_unlock(&u.m);
        pthread_join(th, NULL);
        if (u.result != 0) return 15;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBPRANGE_SO\n", argv[0]);
        return 2;
    }
    pid_t pid = fork();
    if (pid == 0) {
        alarm(120);
        _exit(cycles(argv[1]));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 1;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "dlclose: the child died of signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 1;
    }
    if (WEXITSTATUS(status) != 0) fprintf(stderr, "dlclose: the child failed with %d\n", WEXITSTATUS(status));
    else printf("dlclose: 30 dlopen/run/dlclose cycles with a user thread, no crash\n");
    return WEXITSTATUS(status);
}
