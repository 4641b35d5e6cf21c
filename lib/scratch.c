/*
 * scratch.c — per-thread scratch memory for reductions and scans.
 *
 * Buffers are taken and given back in stack order on each thread: an operation takes a
 * level, runs (bodies may start nested operations, which take the next levels), gives it
 * back. The in-use mark is the level count itself, so whatever starts an operation while
 * this thread is inside one (a nested call from a body, a signal handler, a reducer's
 * combine) gets a fresh level: no buffer is ever shared by two operations.
 *
 * The first FAST levels keep their buffer between calls (grown on first use, freed at
 * thread exit): no allocation per call in steady state. A buffer above KEEP bytes is
 * mapped for the call and unmapped when given back, so a big reducer leaves neither
 * address space nor resident memory behind; deeper levels allocate per call.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "prange_lib.h"

#define FAST 16
#define KEEP ((size_t)1 << 20)
#define MIN_KEEP ((size_t)4096) /* the smallest kept buffer */

typedef struct scratch {
    unsigned char *p;
    size_t cap;
} scratch;

/* The kept buffers, per level. */
static PRANGE__TLS scratch t_scratch[FAST];
static PRANGE__TLS int t_top; /* levels in use on this thread */
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    for (int i = 0; i < FAST; i++) {
        free(s[i].p);
        s[i] = (scratch){0};
    }
}

static void make_key(void) { pthread_key_create(&g_key, scratch_free); }

/* Kept level `i`, at least `bytes` long. */
static void *grow(int i, size_t bytes)
{
    scratch *s = &t_scratch[i];
    if (s->cap < bytes) {
        pthread_once(&g_key_once, make_key);
        /* At least a page: fold stacks are a few hundred bytes to a few KiB and differ
         * between a call's inline and team paths, so a loop whose plan flips (a busy
         * machine) would otherwise grow the buffer once more, in steady state. */
        size_t want = (bytes + 63) & ~(size_t)63;
        if (want < MIN_KEEP) want = MIN_KEEP;
        unsigned char *p = aligned_alloc(64, want);
        if (!p) return NULL;
        free(s->p);
        s->p = p;
        s->cap = want;
        pthread_setspecific(g_key, t_scratch); /* freed when the thread exits */
    }
    return s->p;
}

void *prange__scratch_take(prange__scratch *s, size_t bytes)
{
    /* Mark the level used before touching it: a handler that interrupts us from here on
     * takes the next one (and gives it back before we resume). */
    int level = t_top++;
    atomic_signal_fence(memory_order_seq_cst);
    *s = (prange__scratch){.level = level};
    if (bytes > KEEP) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            s->p = p;
            s->maplen = bytes;
        }
    } else if (level < FAST) {
        s->p = grow(level, bytes);
    } else {
        s->p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        s->heap = s->p != NULL;
    }
    if (!s->p) prange__scratch_give(s);
    return s->p;
}

void prange__scratch_give(prange__scratch *s)
{
    if (s->maplen) munmap(s->p, s->maplen);
    if (s->heap) free(s->p);
    *s = (prange__scratch){.level = s->level};
    atomic_signal_fence(memory_order_seq_cst);
    t_top = s->level;
}
