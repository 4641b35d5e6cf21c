/*
 * node.c — PRANGE_SHARE=node: libprange processes of one user on one node divide its cores
 * among those currently running loops (a pipeline, a job array, `make -j`, `pytest -n`),
 * instead of each taking every core.
 *
 * A small table in shared memory (/dev/shm/prange-node-<uid>, 64 slots) holds one slot per
 * process: its PID and when it last ran a loop (CLOCK_MONOTONIC, the same clock for every
 * process). A process counts the slots seen within the last second whose PID is alive and
 * takes its part of the cores: cores / active, the remainder going to the lowest slots.
 * Nothing waits on anyone: a crashed or killed member is found dead by its PID (or silent
 * for a second) and its slot is taken over; an exiting one clears its slot at exit. So
 * when one of two processes exits, the other has every core back within a second.
 *
 *   4 cores; A and B run loops: A takes 2, B 2.  C starts: 2, 1, 1 (slot order).
 *   A exits: within 1 s B and C see 2 active: 2 each.
 *
 * The table is refreshed at most every 50 ms per process, from loops about to run on a
 * team, and every 64th call otherwise (a process held at one thread still counts as
 * running loops, and notices when cores come back).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "prange_sched.h"

#define SLOTS 64
#define MAGIC 0x70726e6f64653031ull /* "prnode01" */
#define ACTIVE_NS 1000000000ull    /* seen within a second: running loops */
#define REFRESH_NS 50000000ull     /* re-read the table at most every 50 ms */

typedef struct {
    _Atomic(int32_t) pid;     /* 0 = free */
    _Atomic(uint64_t) seen;   /* last loop, CLOCK_MONOTONIC ns */
} node_slot;

typedef struct {
    _Atomic(uint64_t) magic;
    node_slot slot[SLOTS];
} node_table;

static node_table *g_tab;
static int g_slot = -1;
static atomic_int g_share;       /* this process's cores; 0 = not computed yet */
static atomic_int g_active;      /* processes active at the last refresh */
static _Atomic(uint64_t) g_next; /* next refresh */
static atomic_flag g_busy = ATOMIC_FLAG_INIT;
static char g_why[160];

static int alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

static void leave(void)
{
    if (g_tab && g_slot >= 0) atomic_store(&g_tab->slot[g_slot].pid, 0);
}

/* Map the table (created zeroed by the first process) and take a slot: a free one, or
 * one whose process is dead. -1 when shared memory is unavailable or the table is full. */
static int attach(void)
{
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/prange-node-%u", (unsigned)getuid());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(g_why, sizeof g_why, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (sb.st_size < (off_t)sizeof(node_table) && ftruncate(fd, sizeof(node_table)) != 0)) {
        snprintf(g_why, sizeof g_why, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, sizeof(node_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(g_why, sizeof g_why, "mmap %s: %s", path, strerror(errno));
        return -1;
    }
    node_table *t = p;
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&t->magic, &zero, MAGIC);
    if (atomic_load(&t->magic) != MAGIC) {
        snprintf(g_why, sizeof g_why, "%s is not a libprange node table", path);
        munmap(p, sizeof(node_table));
        return -1;
    }
    int32_t me = (int32_t)getpid();
    for (int i = 0; i < SLOTS; i++) {
        int32_t cur = atomic_load(&t->slot[i].pid);
        if ((cur == 0 || !alive(cur)) && atomic_compare_exchange_strong(&t->slot[i].pid, &cur, me)) {
            g_tab = t;
            g_slot = i;
            atexit(leave);
            snprintf(g_why, sizeof g_why, "%s, slot %d", path, i);
            return 0;
        }
    }
    snprintf(g_why, sizeof g_why, "%s: all %d slots taken", path, SLOTS);
    munmap(p, sizeof(node_table));
    return -1;
}

/* Re-read the table and compute this process's share of `cores`. */
static void refresh(int cores, uint64_t now)
{
    if (!g_tab && g_slot == -1 && attach() != 0) g_slot = -2; /* give up for good */
    if (!g_tab) return;
    int32_t me = (int32_t)getpid();
    if (atomic_load(&g_tab->slot[g_slot].pid) != me) { /* forked child: its own slot */
        g_tab = NULL;
        g_slot = -1;
        if (attach() != 0) {
            g_slot = -2;
            return;
        }
    }
    atomic_store(&g_tab->slot[g_slot].seen, now);
    int active = 0, before = 0;
    for (int i = 0; i < SLOTS; i++) {
        int32_t pid = atomic_load(&g_tab->slot[i].pid);
        uint64_t seen = atomic_load(&g_tab->slot[i].seen);
        if (pid == 0 || now - seen > ACTIVE_NS || (i != g_slot && !alive(pid))) continue;
        active++;
        before += i < g_slot;
    }
    if (active < 1) active = 1;
    int share = cores / active + (before < cores % active ? 1 : 0);
    if (share < 1) share = 1;
    atomic_store(&g_active, active);
    /* A new share is a new budget: plans kept at the old one are dropped. */
    if (atomic_exchange(&g_share, share) != share) prange__plan_changed();
}

int prange__node_share(int cores, int force)
{
    static PRANGE__TLS unsigned tick;
    uint64_t next = atomic_load_explicit(&g_next, memory_order_relaxed);
    if ((force || (++tick & 63) == 0 || next == 0)) {
        uint64_t now = prange__now_ns();
        if (now >= next && !atomic_flag_test_and_set(&g_busy)) {
            refresh(cores, now);
            atomic_store(&g_next, now + REFRESH_NS);
            atomic_flag_clear(&g_busy);
        }
    }
    int s = atomic_load_explicit(&g_share, memory_order_relaxed);
    return s > 0 && s < cores ? s : cores;
}

void prange__node_describe(char *buf, size_t size)
{
    if (g_slot == -2 || !g_tab)
        snprintf(buf, size, "PRANGE_SHARE=node: not sharing (%s)", g_why[0] ? g_why : "no loop yet");
    else
        snprintf(buf, size, "PRANGE_SHARE=node: %d of the cores, %d process%s running loops (%s)",
                 atomic_load(&g_share), atomic_load(&g_active), atomic_load(&g_active) == 1 ? "" : "es", g_why);
}
