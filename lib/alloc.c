/*
 * alloc.c — NUMA-aware contiguous arrays.
 *
 * A large block (>= 1 MiB, or any block with a policy other than first touch) is its own
 * anonymous mapping: 2 MiB-aligned when huge pages are asked for (advised after the
 * touch, for khugepaged), its placement policy applied before any page exists, then its
 * pages touched in parallel by the static partition a default prange_for over the same
 * count uses, so that each page is faulted in (and so placed) by the thread that will
 * process it. Fresh anonymous pages are zero; touching one byte per page is enough. Small
 * blocks come from the C allocator.
 *
 * A 64-byte header sits just below the returned pointer, in the page before it:
 *
 *   mapping: [ ... | page holding the header | p = 2 MiB- (or page-) aligned ... p+bytes ]
 *
 * All large blocks thus share page offset 0. That is deliberate: in c[i] = a[i] + b[i] a
 * load can only falsely depend (4K aliasing) on an earlier store whose address matches in
 * bits 11:0, i.e. c[j] with j = i - D/8 for a page-offset difference D; D = 0 makes that
 * store the one of the same iteration, which comes after the load. Small non-zero D is
 * the harmful case, so no "colouring" offsets are added (tried, and measured no gain).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "prange_lib.h"

#define MAGIC UINT64_C(0x70726e67616c6c63) /* "prngallc" */
#define HEADER 64
#define LARGE ((size_t)1 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

typedef struct header {
    uint64_t magic;
    void *base;    /* what to free / munmap */
    size_t maplen; /* 0 for a C-allocator block */
    size_t bytes;
    char pad[HEADER - 32];
} header;

_Static_assert(sizeof(header) == HEADER, "header is one cache line");

/* Test hook: sees every touch range (internal, tests only). */
void (*prange__touch_hook)(int tid, int64_t begin, int64_t end);

typedef struct {
    unsigned char *p;
    size_t elem, page;
} touch_ctx;

/* Fault in every page whose first byte lies in this block's bytes; the block starting at
 * element 0 also takes the page holding p itself. */
static void touch_body(void *c, int64_t b, int64_t e)
{
    touch_ctx *t = c;
    if (prange__touch_hook) prange__touch_hook(prange_thread_id(), b, e);
    uintptr_t lo = (uintptr_t)(t->p + (size_t)b * t->elem), hi = (uintptr_t)(t->p + (size_t)e * t->elem);
    uintptr_t page = (lo + t->page - 1) & ~(uintptr_t)(t->page - 1);
    if (b == 0) *(volatile unsigned char *)lo = 0;
    for (; page < hi; page += t->page) *(volatile unsigned char *)page = 0;
}

/* The partition of the touch: a default loop's plan over `count` (static blocks, the
 * default cost, nothing learned: the touch loop's own cost must not move it), whatever
 * PRANGE_SCHEDULE says. */
static int touch_blocks(size_t count)
{
    prange_opts o = PRANGE_OPTS_INIT;
    o.schedule = PRANGE_SCHEDULE_STATIC;
    prange_plan plan;
    prange__plan_exec((uint64_t)count, &o, NULL, &plan);
    return plan.serial ? 1 : plan.threads;
}

static void *small_block(size_t bytes)
{
    size_t len = HEADER + ((bytes + 63) & ~(size_t)63);
    unsigned char *base = aligned_alloc(64, len);
    if (!base) {
        errno = ENOMEM;
        return NULL;
    }
    memset(base + HEADER, 0, bytes);
    header *h = (header *)base;
    *h = (header){.magic = MAGIC, .base = base, .maplen = 0, .bytes = bytes};
    return base + HEADER;
}

void *prange_alloc_opts(int64_t count, size_t elem_size, const prange_mem_opts *user)
{
    prange_mem_opts loaded = PRANGE_MEM_OPTS_INIT;
    if (user && PRANGE__STRUCT_IN(&loaded, user, prange_mem_opts, policy) != 0) {
        errno = EINVAL;
        return NULL;
    }
    const prange_mem_opts *opts = &loaded;
    if (count < 0 || (int)opts->policy < PRANGE_MEM_DEFAULT || (int)opts->policy > PRANGE_MEM_BIND ||
        (opts->flags & ~(unsigned)PRANGE_MEM_FLAGS_ALL) ||
        (opts->policy == PRANGE_MEM_BIND && !prange__mem_node_exists(opts->node))) {
        errno = EINVAL;
        return NULL;
    }
    if (elem_size != 0 && (uint64_t)count > (SIZE_MAX - 2 * HUGE_PAGE) / elem_size) {
        errno = EOVERFLOW; /* the size (with the mapping's slack) does not fit size_t */
        return NULL;
    }
    const prange__state *st = prange__state_get();
    size_t bytes = (size_t)count * elem_size;
    int policy = opts->policy != PRANGE_MEM_DEFAULT ? (int)opts->policy
                                                    : PRANGE_MEM_FIRST_TOUCH + (int)st->opt[PRANGE__OPT_MEM].value;
    if (policy == PRANGE_MEM_FIRST_TOUCH && bytes < LARGE && !(opts->flags & PRANGE_MEM_ALIGN_HUGE))
        return small_block(bytes);

    int huge = (opts->flags & PRANGE_MEM_NO_HUGEPAGES) ? 0
               : (opts->flags & PRANGE_MEM_HUGEPAGES)  ? 1
                                                       : (int)st->opt[PRANGE__OPT_HUGEPAGES].value;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t align = (huge || (opts->flags & PRANGE_MEM_ALIGN_HUGE)) ? HUGE_PAGE : page;
    size_t maplen = page + align + bytes;
    maplen = (maplen + page - 1) & ~(page - 1);
    unsigned char *base = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned char *start = (unsigned char *)(((uintptr_t)base + page + align - 1) & ~(uintptr_t)(align - 1));
    unsigned char *p = start;
    size_t span = bytes;
    /* Huge pages never at fault: a 2 MiB fault that waits for a free huge page (compaction,
     * or the host backing it) stalled 1 call in 10 by 10x (docs/memory.md, "Huge pages").
     * The touch below faults 4 KiB pages, even under THP "always"; advised afterwards, the
     * range is collapsed by khugepaged in the background. Best effort, both calls. */
    huge = huge && bytes >= HUGE_PAGE;
    if (huge) madvise(start, span, MADV_NOHUGEPAGE);

    if (policy != PRANGE_MEM_FIRST_TOUCH && span > 0) {
        int err = prange__mem_place(start, span, policy, opts->node);
        if (err != 0) {
            if (opts->flags & PRANGE_MEM_STRICT) {
                munmap(base, maplen);
                errno = -err;
                return NULL;
            }
            static atomic_int said;
            if (prange__verbose() >= 1 && !atomic_exchange(&said, 1))
                prange__log("prange_alloc: placement policy %d not applied (%s); pages go where first touched",
                            policy, strerror(-err));
        }
    }
    header *h = (header *)(p - HEADER);
    *h = (header){.magic = MAGIC, .base = base, .maplen = maplen, .bytes = bytes};
    if (count > 0 && elem_size > 0) {
        touch_ctx t = {p, elem_size, page};
        prange__for_partition((uint64_t)count, touch_blocks(count), touch_body, &t);
    }
    if (huge) madvise(start, span, MADV_HUGEPAGE);
    return p;
}

void *prange_alloc(int64_t count, size_t elem_size) { return prange_alloc_opts(count, elem_size, NULL); }

/* Whether the header below p can be read: a large block's header page goes with its
 * mapping, so a second free would fault instead of being reported. mincore fails with
 * ENOMEM on a range that is not mapped. */
static int header_mapped(const header *h)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)h & ~(uintptr_t)(page - 1);
    size_t len = (uintptr_t)h + HEADER - first;
    unsigned char vec[2];
    return mincore((void *)first, len, vec) == 0 || errno != ENOMEM;
}

void prange_free(void *p)
{
    if (!p) return;
    header *h = (header *)((unsigned char *)p - HEADER);
    if (!header_mapped(h) || h->magic != MAGIC) {
        fprintf(stderr, "prange: prange_free(%p): not a block from prange_alloc, or freed twice\n", p);
        abort();
    }
    h->magic = 0; /* a second free of a C-allocator block is caught too */
    if (h->maplen) munmap(h->base, h->maplen);
    else free(h->base);
}

int64_t prange_mem_location(const void *p, size_t nbytes, int64_t *pages_per_node, int max_nodes)
{
    if ((!p && nbytes > 0) || max_nodes < 0) return PRANGE_EINVAL;
    for (int i = 0; i < max_nodes && pages_per_node; i++) pages_per_node[i] = 0;
    if (nbytes == 0) return 0;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)p & ~(uintptr_t)(page - 1), end = (uintptr_t)p + nbytes;
    int64_t resident = 0;
    enum { BATCH = 128 }; /* 1.5 KiB of stack per batch: callers' stacks may be small */
    void *pages[BATCH];
    int status[BATCH];
    for (uintptr_t a = first; a < end;) {
        int k = 0;
        for (; k < BATCH && a < end; k++, a += page) pages[k] = (void *)a;
        /* move_pages with no target nodes only reports where each page is. */
        long rc = syscall(SYS_move_pages, 0, (unsigned long)k, pages, NULL, status, 0);
        if (rc != 0) return errno == ENOSYS ? PRANGE_ENOSYS : PRANGE_EIO;
        for (int i = 0; i < k; i++) {
            if (status[i] < 0) continue; /* -ENOENT: not resident (never touched) */
            resident++;
            if (pages_per_node && status[i] < max_nodes) pages_per_node[status[i]]++;
        }
    }
    return resident;
}
