/*
 * scratch.c — per-thread scratch memory for reductions and scans: grown on first use,
 * then reused, so hot paths allocate nothing in steady state; freed at thread exit.
 *
 * One buffer per nesting depth: an operation started inside a body must not reuse the
 * buffer the enclosing operation is still using on the same thread.
 */
#include <pthread.h>
#include <stdlib.h>

#include "prange_lib.h"

#define LEVELS 8

typedef struct scratch {
    unsigned char *p;
    size_t cap;
} scratch;

/* [0, LEVELS): per nesting depth; [LEVELS]: the reduction mailboxes of a calling thread. */
static PRANGE__TLS scratch t_scratch[LEVELS + 1];
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    for (int i = 0; i <= LEVELS; i++) {
        free(s[i].p);
        s[i] = (scratch){0};
    }
}

static void make_key(void) { pthread_key_create(&g_key, scratch_free); }

/* Slot `i`, at least `bytes` long. */
static void *grow(int i, size_t bytes)
{
    scratch *s = &t_scratch[i];
    if (s->cap < bytes) {
        pthread_once(&g_key_once, make_key);
        size_t want = (bytes + 63) & ~(size_t)63;
        unsigned char *p = aligned_alloc(64, want);
        if (!p) return NULL;
        free(s->p);
        s->p = p;
        s->cap = want;
        pthread_setspecific(g_key, t_scratch); /* freed when the thread exits */
    }
    return s->p;
}

void *prange__scratch(int level, size_t bytes)
{
    if (level < 0 || level >= LEVELS) return NULL;
    return grow(level, bytes);
}

void *prange__scratch_mail(size_t bytes) { return grow(LEVELS, bytes); }
