/*
 * reduce.c — deterministic parallel reduction.
 *
 * The range is cut into nb blocks of B iterations, where B depends only on n, the
 * effective grain (opts.grain, or PRANGE_GRAIN when 0) and the accumulator size (never on
 * the thread count). Each block is folded from the identity. Block results are combined
 * along one canonical tree: the binary tree over block indices whose node (level L,
 * index i) covers blocks [i*2^L, (i+1)*2^L).
 *
 * A thread owning blocks [a, b) folds them left to right with a "binary counter" stack:
 * pushing node (L, i) with i odd onto a stack whose top is (L, i-1) combines the two into
 * (L+1, i/2), and so on up. What remains are the maximal aligned subtrees inside [a, b).
 * Every thread's pieces, pushed in block order through the same rule, rebuild exactly the
 * stack one thread would have built over [0, nb). That stack (the binary decomposition of
 * nb) is folded right to left. Hence the result is the same bits for every thread count
 * and every assignment of blocks to threads. Small accumulators: each thread posts its
 * pieces in the caller's buffer and the caller merges after the join (post_team); big
 * ones, and reductions in a region: mailboxes, and the last thread to arrive merges
 * (fold_team's mailboxes, region_reduce; kept_reduce merges in the region's barrier).
 *
 *   nb = 6, blocks b0..b5:  one thread: ((b0+b1)+(b2+b3)) + (b4+b5)
 *   3 threads [0,2)[2,4)[4,6): pieces (1,0) | (1,1) | (1,2) -> merge (1,0)+(1,1) = (2,0),
 *   then fold (2,0) + (1,2): the same two combines in the same order.
 *
 * Memory: a thread folding m blocks holds at most 2 floor(log2 m) + 1 accumulators; the
 * merge, at most floor(log2 nb) + 2 (the binary decomposition of a prefix of [0, nb), plus
 * the piece being pushed). Buffers of up to 2 KiB live in the frame that uses them; bigger
 * ones come from the per-thread scratch, sized by the call: kept and reused when small (no
 * allocation per call in steady state), mapped for the call when big (see lib/scratch.c).
 */
#include <omp.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "prange_lib.h"

#define MAX_BLOCKS (INT64_C(1) << 16)
#define MAX_DEPTH 40 /* a thread's stack: <= 2 * 16 + 1 entries; the merge stack: <= 18 */

typedef struct stack {
    int count;
    int8_t level[MAX_DEPTH];
    int64_t index[MAX_DEPTH];
    unsigned char *slots; /* accumulators of `stride` bytes, as many as the call needs */
} stack;

/* The first two cache lines hold all a worker reads, the reducer included: a copy here,
 * not a pointer to the caller's, costs a member one fetch of two adjacent lines instead
 * of two fetches one after the other. The mailboxes' address reaches workers by value
 * (see prange_reduce). */
typedef struct red {
    _Alignas(64) prange_reducer r;
    prange_reduce_fn body;
    void *ctx;
    int64_t begin;
    uint64_t n, B, nb;
    size_t stride;
    uint64_t first; /* blocks [0, first) folded by the caller before the team (a first slice) */
    stack *pre;     /* ... onto this stack, which member 0 goes on folding */
    atomic_int failed; /* written only on failure: the caller's read after the join hits */
    _Alignas(64) atomic_int arrived; /* team members that posted their pieces */
    atomic_int merged;               /* the result is written: posted stacks are free */
    int sample;
    uint64_t timed_iters, timed_ns;
    prange__whole_fn whole; /* the typed kernels' inline path (prange__reduce_sum), or NULL */
} red;

/* A team member's pieces, posted for whichever member arrives last and merges: inline
 * (level, index, accumulator) when up to 4 pieces fit 80 bytes, which puts one piece of up
 * to 16 bytes (the usual case) in one cache line; else a pointer to the member's stack. */
#define MAIL_PIECES 4
#define MAIL_ACC 80
typedef struct mail {
    int count; /* pieces inline; -1: read them from `from` */
    int8_t level[MAIL_PIECES];
    int64_t index[MAIL_PIECES];
    const stack *from;
    unsigned char acc[MAIL_ACC]; /* `count` accumulators of r->acc_size bytes, packed */
} mail;
_Static_assert(sizeof(mail) == 128, "a mailbox is two cache lines");

/* ---- scratch: a stack header, then its accumulators ------------------------------- */

static size_t round64(size_t x) { return (x + 63) & ~(size_t)63; }
static int floor_log2(uint64_t m) { return 63 - __builtin_clzll(m); }

/* Accumulators a stack needs: folding m blocks, and merging the pieces of nb blocks. */
static int own_entries(uint64_t m) { return m ? 2 * floor_log2(m) + 1 : 0; }
static int merge_entries(uint64_t nb) { return floor_log2(nb) + 2; }

static size_t stack_bytes(size_t stride, int entries) { return round64(sizeof(stack)) + (size_t)entries * stride; }

/* An empty stack at p (stack_bytes long). */
static stack *stack_at(unsigned char *p)
{
    stack *s = (stack *)p;
    s->count = 0;
    s->slots = p + round64(sizeof(stack));
    return s;
}

/* Iterations in blocks [0, k) (nb * B may pass 2^64). */
static uint64_t iters_to(const red *R, uint64_t k) { return k < R->nb ? k * R->B : R->n; }

static inline void *slot(const red *R, stack *s, int k) { return s->slots + (size_t)k * R->stride; }

/* An accumulator copy: the common sizes inline, not through libc's memcpy (a call each,
 * several per reduction on its merge path). */
static inline void acc_copy(void *dst, const void *src, size_t size)
{
    if (size == 8) memcpy(dst, src, 8);
    else if (size == 16) memcpy(dst, src, 16);
    else if (size == 4) memcpy(dst, src, 4);
    else memcpy(dst, src, size);
}

/* A call's buffer: in the frame of the function that holds it when it fits LOCAL bytes
 * (the usual case: a few small accumulators, mailboxes of a small team), else from the
 * thread's scratch. A frame is as private as a scratch level (a nested call or a signal
 * handler gets its own) and costs nothing to take and give back. */
#define LOCAL 2048
typedef struct buffer {
    _Alignas(64) unsigned char local[LOCAL];
    prange__scratch s;
    int taken;
} buffer;

/* At least `bytes`, or NULL when out of memory. */
static unsigned char *buffer_take(buffer *b, size_t bytes)
{
    b->taken = bytes > LOCAL;
    return b->taken ? prange__scratch_take(&b->s, bytes) : b->local;
}

static void buffer_give(buffer *b)
{
    if (b->taken) prange__scratch_give(&b->s);
}

/* The top entry was just written as node (level, index): combine it with left siblings.
 * Inlined: it runs once per block. */
__attribute__((always_inline)) static inline void settle(const red *R, stack *s)
{
    while (s->count >= 2) {
        int t = s->count - 1;
        int64_t i = s->index[t];
        int8_t l = s->level[t];
        if (!(i & 1) || s->level[t - 1] != l || s->index[t - 1] != i - 1) break;
        prange__r_combine(&R->r, slot(R, s, t - 1), slot(R, s, t));
        s->level[t - 1] = (int8_t)(l + 1);
        s->index[t - 1] = i >> 1;
        s->count--;
    }
}

/* Fold blocks [a, b) onto stack s. */
static void fold_blocks(red *R, stack *s, uint64_t a, uint64_t b)
{
    for (uint64_t k = a; k < b; k++) {
        uint64_t lo = k * R->B, hi = (R->n - lo > R->B) ? lo + R->B : R->n;
        int t = s->count++;
        void *acc = slot(R, s, t);
        prange__r_identity(&R->r, acc);
        R->body(R->ctx, prange__at(R->begin, lo), prange__at(R->begin, hi), acc);
        s->level[t] = 0;
        s->index[t] = (int64_t)k;
        settle(R, s);
    }
}

/* Push a piece (copied from `acc`) onto the merge stack. */
static void push_piece(const red *R, stack *m, const void *acc, int8_t level, int64_t index)
{
    int t = m->count++;
    acc_copy(slot(R, m, t), acc, R->r.acc_size);
    m->level[t] = level;
    m->index[t] = index;
    settle(R, m);
}

static void push_stack(const red *R, stack *m, const stack *from)
{
    for (int k = 0; k < from->count; k++)
        push_piece(R, m, from->slots + (size_t)k * R->stride, from->level[k], from->index[k]);
}

/* Fold the final stack right to left into its first slot. */
static void *fold_right(const red *R, stack *s)
{
    for (int t = s->count - 2; t >= 0; t--) prange__r_combine(&R->r, slot(R, s, t), slot(R, s, t + 1));
    return slot(R, s, 0);
}

/* Post this member's pieces. */
static void post(const red *R, mail *box, const stack *own)
{
    size_t size = R->r.acc_size;
    if (own && own->count <= MAIL_PIECES && (size_t)own->count * size <= MAIL_ACC) {
        box->count = own->count;
        for (int k = 0; k < own->count; k++) {
            box->level[k] = own->level[k];
            box->index[k] = own->index[k];
            acc_copy(box->acc + (size_t)k * size, own->slots + (size_t)k * R->stride, size);
        }
    } else {
        box->count = -1;
        box->from = own;
    }
}

/* A pair's piece posted in its barrier line (kept reductions in a region, below). */
#define PAIR_ACC 8
typedef struct pair_post {
    int8_t count; /* 1: the piece is here; 0: in the member's mailbox */
    int8_t level;
    uint16_t index; /* < MAX_BLOCKS */
    unsigned char acc[PAIR_ACC];
} pair_post;
_Static_assert(MAX_BLOCKS <= 65536, "a block index fits a pair's post");

/* The last member to arrive merges every member's pieces, in block order, onto the merge
 * stack and writes the result: member t's from pairs[t] when it posted its piece there
 * (pairs: NULL, or a pair's posts), else from its mailbox. Whoever arrives last at the
 * region's closing barrier pays the futex wake-up: had the caller always merged, it
 * would always pay it. */
static void merge(const red *R, int team, const mail *boxes, const pair_post *pairs, unsigned char *mbuf,
                  void *result, atomic_int *failed)
{
    stack *m = stack_at(mbuf); /* set up here: its lines stay with the member that merges */
    for (int t = 0; t < team; t++) {
        const mail *box = &boxes[t];
        if (pairs && pairs[t].count == 1) {
            push_piece(R, m, pairs[t].acc, pairs[t].level, (int64_t)pairs[t].index);
        } else if (box->count >= 0) {
            for (int k = 0; k < box->count; k++)
                push_piece(R, m, box->acc + (size_t)k * R->r.acc_size, box->level[k], box->index[k]);
        } else if (box->from) {
            push_stack(R, m, box->from);
        } else {
            atomic_store(failed, 1);
            return;
        }
    }
    acc_copy(result, fold_right(R, m), R->r.acc_size);
}

/* A member that posted its stack by address keeps it until the merge has read it. */
static void wait_merged(red *R)
{
    for (unsigned spins = 0; !atomic_load_explicit(&R->merged, memory_order_acquire); spins++)
        prange__wait_step(spins);
}

/* Member tid's share of a team of `team`, blocks [first, nb) split among them, folded onto
 * a stack: R->pre for member 0 after a first slice (its pieces then cover [0, b), as those
 * of a member given [0, b) would), else one in `mine` (given back by the caller when the
 * result is not R->pre). Member 0 of a sampled call times it. NULL: no memory. */
static stack *fold_share(red *R, int tid, int team, buffer *mine)
{
    uint64_t a = 0, b = 0;
    prange__split(R->nb - R->first, team, tid, &a, &b);
    a += R->first;
    b += R->first;
    stack *own = R->pre;
    if (tid != 0 || !own) {
        unsigned char *p = buffer_take(mine, stack_bytes(R->stride, own_entries(b - a)));
        if (!p) return NULL;
        own = stack_at(p);
    }
    uint64_t t0 = (R->sample && tid == 0) ? prange__now_ns() : 0;
    fold_blocks(R, own, a, b);
    if (t0) {
        R->timed_ns = prange__now_ns() - t0;
        R->timed_iters = iters_to(R, b) - iters_to(R, a);
    }
    return own;
}

static void worker(red *R, int tid, int team, void *result, mail *boxes, unsigned char *m)
{
    buffer mine;
    prange__tls_t saved = prange__enter_team(tid, team);
    prange__bind_worker_if_asked(tid);
    stack *own = fold_share(R, tid, team, &mine);
    int pre = own && own == R->pre;
    post(R, &boxes[tid], own);
    /* acq_rel: the last member sees every post made before the others arrived. */
    if (atomic_fetch_add_explicit(&R->arrived, 1, memory_order_acq_rel) == team - 1) {
        merge(R, team, boxes, NULL, m, result, &R->failed);
        atomic_store_explicit(&R->merged, 1, memory_order_release);
    } else if (own && boxes[tid].count < 0) {
        wait_merged(R);
    }
    if (own && !pre) buffer_give(&mine);
    prange__leave(saved);
}

/* Block size, a function of inputs the caller controls only (never the team or anything
 * learned), so the result's bits are too:
 * - an explicit grain (opts->grain, or PRANGE_GRAIN set in the environment) is the block;
 * - else a cost hint gives blocks of about 20 us of declared work, at most 2048 (256
 *   iterations of 1 ms: blocks of 1, spread over every core); but at least ~16 ns of
 *   declared work per accumulator byte (at most 32 iterations per byte, the default's
 *   ceiling), no more than 1 GiB of accumulators over all blocks, and at most 4096 blocks;
 * - else 2048 iterations, so a block's cost hides the identity and combine calls; for big
 *   accumulators 32 per accumulator byte, down to 4 per byte while that leaves fewer than
 *   64 blocks (slack for a team);
 * and always large enough that nb <= 2^16 (bounded stacks).
 * Why 32 per byte: an array reducer zeroes and combines O(size) per block, ~0.2 ns per
 * byte here (a 2 KiB accumulator: ~450 ns a block), against ~0.5 ns per iteration of a
 * histogram body. At 4 per byte (8192 iterations for 256 bins) that was 5-10% of the
 * call; at 32 (65536) it is ~1%.
 *
 *   n = 256, cost_ns = 1e6, double acc:  B = max(ceil(20000 / 1e6), ceil(8 * 16 / 1e6)) = 1  256 blocks
 *   n = 1e6, cost_ns = 2:                 B = min(10000, 2048)      = 2048   489 blocks
 *   n = 2^27, 2 KiB acc:                  B = 32 * 2048             = 65536  2048 blocks
 *   n = 2^20, 2 KiB acc:                  B = max(2^20 / 64, 4 * 2048) = 16384  64 blocks
 */
#define BLOCK_NS 20000.0
#define HINTED_BLOCKS 4096
#define BYTE_NS 16.0   /* declared work per accumulator byte a hinted block carries */
#define BYTE_ITERS 32  /* a default block's iterations per accumulator byte, at most */
#define BYTE_ITERS_MIN 4
#define SLACK_BLOCKS 64
static uint64_t block_size(uint64_t n, int64_t grain, double cost_ns, size_t size)
{
    uint64_t B, most = (uint64_t)size * BYTE_ITERS; /* size <= 2^30: no overflow */
    if (grain > 0) {
        B = (uint64_t)grain;
    } else if (cost_ns > 0) {
        double t = ceil(BLOCK_NS / cost_ns), z = ceil((double)size * BYTE_NS / cost_ns);
        B = t >= 2048 ? 2048 : t <= 1 ? 1 : (uint64_t)t;
        /* A block zeroes and combines its accumulator: enough declared work per
         * accumulator byte to hide that (never more than the default's iterations per
         * byte), and no more than 1 GiB of accumulators over all blocks. */
        uint64_t by_size = z >= (double)most ? most : (uint64_t)z;
        if (by_size > B) B = by_size;
        double by_total = ceil((double)n * (double)size / (double)(1u << 30));
        if (by_total > (double)B) B = by_total >= 9e18 ? n : (uint64_t)by_total;
        /* At most 4096 blocks: slack enough for any team, without paying an identity and
         * a combine per iteration of a long range whose cost was declared high. */
        uint64_t by_blocks = (n - 1) / HINTED_BLOCKS + 1;
        if (by_blocks > B) B = by_blocks;
    } else {
        uint64_t least = (uint64_t)size * BYTE_ITERS_MIN, slack = (n - 1) / SLACK_BLOCKS + 1;
        uint64_t by_size = slack < least ? least : slack > most ? most : slack;
        B = by_size > 2048 ? by_size : 2048;
    }
    uint64_t by_count = (n - 1) / (uint64_t)MAX_BLOCKS + 1;
    return by_count > B ? by_count : B;
}


#define ONE_ACC 64 /* fold_inline's single block: accumulators up to this size in its frame */

/* Blocks [R->first, nb) on the calling thread (onto R->pre, which holds [0, first), when
 * a first slice ran), folded along the canonical tree into `result`: 0, or PRANGE_ENOMEM
 * (no scratch for the stack). */
static int fold_inline(red *R, void *result)
{
    /* Without the merge stack: a typed kernel folds every block itself, in typed code;
     * one block (a small reduction called again and again: a dot product per solver step)
     * is its own accumulator (355 -> 284 libprange instructions at 64 elements,
     * perf/ab/overhead.c's ireduce). The same bits: fold_blocks would fold the one block
     * alone and fold_right combine nothing. */
    if (!R->pre && (R->whole || (R->nb == 1 && R->r.acc_size <= ONE_ACC))) {
        _Alignas(64) unsigned char acc[ONE_ACC]; /* 64-aligned, as a stack slot is */
        size_t size = R->whole ? sizeof(double) : R->r.acc_size;
        if (!R->whole) prange__r_identity(&R->r, acc);
        prange__tls_t saved = prange__enter_inline();
        uint64_t t0 = R->sample ? prange__now_ns() : 0;
        if (R->whole) {
            double v = R->whole(R->ctx, R->begin, R->n, R->B);
            memcpy(acc, &v, sizeof v);
        } else {
            R->body(R->ctx, R->begin, prange__at(R->begin, R->n), acc);
        }
        if (t0) {
            R->timed_ns = prange__now_ns() - t0;
            R->timed_iters = R->n;
        }
        prange__leave(saved);
        acc_copy(result, acc, size);
        return 0;
    }
    buffer buf;
    stack *s = R->pre;
    if (!s) {
        unsigned char *p = buffer_take(&buf, stack_bytes(R->stride, own_entries(R->nb)));
        if (!p) return PRANGE_ENOMEM;
        s = stack_at(p);
    }
    prange__tls_t saved = prange__enter_inline();
    uint64_t t0 = R->sample ? prange__now_ns() : 0;
    fold_blocks(R, s, R->first, R->nb);
    if (t0) {
        R->timed_ns = prange__now_ns() - t0;
        R->timed_iters = R->n - iters_to(R, R->first);
    }
    prange__leave(saved);
    acc_copy(result, fold_right(R, s), R->r.acc_size);
    if (!R->pre) buffer_give(&buf);
    return 0;
}

/* A reduction inside a region, in a slot (lib/region.c): the planner's scratch holds the
 * mailboxes, the merge stack and the result, which every member copies after the barrier
 * (a reduction always waits: its value needs every block). The blocks are the same as
 * outside a region, so are the bits. */
typedef struct rred {
    red R;
    mail *boxes;
    unsigned char *m; /* the merge stack's buffer */
    unsigned char *result;
    prange__scratch buf; /* the planner's */
} rred;
_Static_assert(sizeof(rred) <= PRANGE__RDESC, "a reduction's descriptor fits a region slot");

/* ---- a reduction inside a region planned from kept inputs ---------------------------
 * Every member plans it alone (lib/region.c, "kept inputs"); the members the plan names
 * fold their shares and post their pieces in the region's area, a mailbox each, and the
 * last member to arrive at the barrier merges them, in member order, before it releases
 * the others; each then copies the result, which a team's merge writes in the line the
 * members wait on (said below; a pair merges after the barrier, said_pair). No slot
 * and no planner to wait for: the posts and the barrier's line. The area holds two sets of mailboxes and
 * results, used in turn: a member still copying one result is never overtaken by the
 * next reduction's merge, which waits at its barrier for every member to have copied.
 * Accumulators of up to KEPT_ACC bytes; bigger ones go through slots. The blocks and
 * the tree are the same as everywhere else, so are the bits. */
#define KEPT_ACC 64
static size_t area_boxes(int team) { return 2 * (size_t)team * sizeof(mail); }

size_t prange__region_reduce_bytes(int team)
{
    /* mailboxes, two results, two failure flags (a line) */
    return area_boxes(team) + 3 * KEPT_ACC;
}

typedef struct kept_merge {
    const red *R;
    int k;
    const mail *boxes;
    const pair_post *pairs; /* NULL, or a pair's posts in its barrier line */
    void *res;
    atomic_int *failed;
} kept_merge;

/* A merged result said in the line the members wait on: they fetch it with the release,
 * where a result in the area cost each of them one more cross-core transfer a reduction. */
typedef struct said {
    atomic_int failed;
    int pad;
    unsigned char acc[PRANGE__SAID - 8];
} said;
_Static_assert(sizeof(said) == PRANGE__SAID, "a said result fills the barrier line's room");

/* A pair (a team of 2 waits next to its counter, lib/region.c) posts in that line a piece
 * of up to 8 bytes each, when its share left one: written just before its arrival's
 * increment on that line, it reaches the other member with that increment, and the
 * release, not as a mailbox line of its own. When both pieces are there, nobody merges
 * in the barrier: each member merges the two after the release, the same pieces in the
 * same order through the same code, so the same bits. The last to arrive releases at
 * once; merging first kept the other waiting for the merge and for the line, which it
 * read while the other spun on it (16 reductions in a region of 2: the 10th percentile
 * 6-26% lower, docs/performance.md). The posts alternate between two sets by the
 * reduction's parity: a member may start the next reduction while the other still reads
 * this one's pieces, but not the one after, whose barrier needs the other's arrival.
 * Otherwise (a piece in a mailbox) the last to arrive merges into the area, as for a
 * larger team. */
typedef struct said_pair {
    pair_post post[2][2]; /* [parity][member] */
} said_pair;
_Static_assert(sizeof(said_pair) <= PRANGE__SAID, "a pair's two sets of posts fit the barrier line's room");

/* Whether the pair's pieces are all in its posts (pairs: k of them). */
static int posts_inline(const pair_post *pairs, int k)
{
    for (int t = 0; t < k; t++)
        if (pairs[t].count != 1) return 0;
    return 1;
}

static void post_pair(const red *R, pair_post *to, mail *box, const stack *own)
{
    if (own && own->count == 1 && R->r.acc_size <= PAIR_ACC) {
        to->count = 1;
        to->level = own->level[0];
        to->index = (uint16_t)own->index[0];
        acc_copy(to->acc, own->slots, R->r.acc_size);
    } else {
        to->count = 0;
        post(R, box, own);
    }
}

/* The merge stack lives in the frame of the member that merges: one in the region's area
 * moved its lines between the members in turn, as the last to arrive changed. */
_Static_assert(sizeof(stack) + 64 + (size_t)(16 + 2) * KEPT_ACC <= LOCAL, "a kept merge's stack fits a frame");
/* merge() on a stack in this frame (a kept merge's always fits, see above). */
static void merge_here(const red *R, int k, const mail *boxes, const pair_post *pairs, void *result,
                       atomic_int *failed)
{
    buffer b;
    merge(R, k, boxes, pairs, buffer_take(&b, stack_bytes(R->stride, merge_entries(R->nb))), result, failed);
}

static void kept_merge_last(void *p)
{
    const kept_merge *m = p;
    if (m->k < 2 || (m->pairs && posts_inline(m->pairs, m->k))) return; /* each member merges */
    atomic_store_explicit(m->failed, 0, memory_order_relaxed); /* read after the release */
    merge_here(m->R, m->k, m->boxes, m->pairs, m->res, m->failed);
}

/* A pair's merge after the release, by each member, from the two posts (read once from
 * the line). Pieces in posts leave nothing to fail. */
static void merge_pair(const red *R, const mail *boxes, const pair_post *posts, void *result)
{
    pair_post mine[2];
    memcpy(mine, posts, sizeof mine);
    atomic_int failed = 0;
    merge_here(R, 2, boxes, mine, result, &failed);
}

/* Returns 0 or PRANGE_ENOMEM; 1, having done nothing, for a serial plan while members
 * may be out of step (the slot's first member must run it). */
static int kept_reduce(red *R, const prange_opts *o, const void *key, const prange__learned *kl, void *result,
                       unsigned char *area)
{
    prange_plan plan;
    prange__plan_region(R->n, o, key, kl, prange__region_fork_ns(), &plan);
    int team = prange__tls.region_team, tid = prange__tls.tid, k = plan.serial ? 1 : plan.threads;
    int learn = !(o->cost_ns > 0);
    if (k == 1 && !prange__region_in_step()) return 1; /* member 0 may be behind: a slot */
    unsigned par = prange__region_reduction_seq() & 1;
    mail *boxes = (mail *)(void *)(area + par * (area_boxes(team) / 2));
    unsigned char *res = area + area_boxes(team) + par * KEPT_ACC;
    atomic_int *failed = (atomic_int *)(void *)(area + area_boxes(team) + 2 * KEPT_ACC) + par;
    /* A team's result in the line the members wait on; a pair's (the line holds the
     * counter too) with its small pieces. */
    said_pair *pair = NULL;
    if (k > 1) {
        int next_to_counter;
        unsigned char *line = prange__region_said(&next_to_counter);
        size_t size = R->r.acc_size;
        if (next_to_counter && k == 2) {
            pair = (said_pair *)(void *)line; /* the result stays in the area */
        } else if (!next_to_counter && size <= sizeof(((said *)0)->acc)) {
            res = ((said *)(void *)line)->acc; /* written by the merging member only */
            failed = &((said *)(void *)line)->failed;
        }
    }
    R->sample = 0;
    if (tid == 0) {
        if (prange__verbose() >= 2) prange__log_plan("reduce (region, kept inputs)", o->label, &plan);
        R->sample = learn && prange__sample_tick();
        prange__region_account(&plan, 1, learn, kl);
        if (k > 1) prange__region_note_parallel();
        /* a team's merge clears the flag it uses; member 0 runs a serial plan */
        if (k == 1) atomic_store_explicit(failed, 0, memory_order_relaxed); /* read after the next barrier */
    }
    if (k > 1) prange__profile_team(k);
    buffer mine;
    int took = 0;
    if (k > 1 && tid < k) {
        prange__tls_t saved = prange__enter_team(tid, k);
        prange__bind_worker_if_asked(tid);
        stack *own = fold_share(R, tid, k, &mine); /* R->pre is NULL in a region */
        prange__leave(saved);
        took = own != NULL;
        /* a stack posted by address lives in this frame until the merge */
        if (pair) post_pair(R, &pair->post[par][tid], &boxes[tid], own);
        else post(R, &boxes[tid], own);
    } else if (k == 1 && tid == 0 && fold_inline(R, res) != 0) {
        atomic_store_explicit(failed, 1, memory_order_relaxed);
    }
    kept_merge m = {R, k, boxes, pair ? pair->post[par] : NULL, res, failed};
    prange__region_wait_then(kept_merge_last, &m);
    int rc = 0;
    if (pair && posts_inline(pair->post[par], k)) {
        merge_pair(R, boxes, pair->post[par], result);
    } else {
        rc = atomic_load_explicit(failed, memory_order_relaxed) ? PRANGE_ENOMEM : 0;
        if (rc == 0) acc_copy(result, res, R->r.acc_size);
    }
    if (took) buffer_give(&mine);
    if (rc == 0 && R->sample && R->timed_iters)
        prange__cost_record_alone(key, R->n, R->timed_iters, (double)R->timed_ns, k == 1);
    return rc;
}

/* L: the calling member's own reduction (its timing is written there). */
static int region_reduce(red *L, prange_opts *o, const void *key, void *result)
{
    unsigned char *area = prange__region_area();
    int keep = key && area && L->r.acc_size <= KEPT_ACC;
    if (keep) {
        const prange__learned *kl = prange__region_kept(key, L->n, o->cost_ns > 0);
        int rc = kl ? kept_reduce(L, o, key, kl, result, area) : 1;
        if (rc <= 0) return rc;
    }
    int planner, tid = prange__tls.tid;
    prange__rslot *s = prange__region_enter(&planner);
    rred *S = (rred *)(void *)s->desc;
    if (planner) {
        prange_plan plan;
        int learn = !(o->cost_ns > 0);
        s->learned = learn ? prange__cost_get(key, L->n) : (prange__learned){0};
        prange__plan_region(L->n, o, key, &s->learned, prange__region_fork_ns(), &plan);
        if (prange__verbose() >= 2) prange__log_plan("reduce (region)", o->label, &plan);
        memcpy(&S->R, L, sizeof *L); /* not yet shared: a plain copy */
        atomic_init(&S->R.arrived, 0);
        atomic_init(&S->R.merged, 0);
        S->R.sample = learn && prange__cost_sample_learned(&s->learned);
        int k = plan.serial ? 1 : plan.threads;
        size_t mail_bytes = k > 1 ? (size_t)k * sizeof(mail) : 0;
        size_t res = round64(L->r.acc_size);
        unsigned char *p = prange__scratch_take(&S->buf, res + mail_bytes +
                                                              (k > 1 ? stack_bytes(L->stride, merge_entries(L->nb)) : 0));
        s->key = learn ? key : NULL;
        s->threads = p ? k : 0;
        if (!p) s->rc = PRANGE_ENOMEM;
        else {
            S->result = p;
            S->boxes = (mail *)(p + res);
            S->m = k > 1 ? p + res + mail_bytes : NULL;
        }
        prange__region_account(&plan, 1, learn, &s->learned);
        prange__region_publish(s);
    }
    if (keep) prange__region_keep(key, L->n, o->cost_ns > 0, &s->learned);
    int k = s->threads;
    if (k > 1) prange__profile_team(k); /* shared: a parallel call of the region's team */
    if (k == 1 && s->runner == tid) {
        if (fold_inline(&S->R, S->result) != 0) atomic_store(&S->R.failed, 1);
    } else if (k > 1 && tid < k) {
        worker(&S->R, tid, k, S->result, S->boxes, S->m);
    }
    prange__region_wait();
    int rc = s->rc ? s->rc : atomic_load(&S->R.failed) ? PRANGE_ENOMEM : 0;
    if (rc == 0) acc_copy(result, S->result, L->r.acc_size);
    if (planner) {
        /* The result lives in this member's scratch: every other member copies it first. */
        for (unsigned spins = 0; atomic_load_explicit(&s->left, memory_order_acquire) > 1; spins++)
            prange__wait_step(spins);
        if (s->threads) prange__scratch_give(&S->buf);
    }
    if (prange__region_leave(s)) {
        if (S->R.sample && s->key && rc == 0)
            prange__cost_record_alone(s->key, S->R.n, S->R.timed_iters, (double)S->R.timed_ns, s->threads == 1);
        prange__region_free(s);
    }
    return rc;
}

/* ---- a team outside a region, small accumulators: members post, the caller merges ------
 * Each member folds its share on its own stack, then copies its pieces into its post, a
 * few cache lines of the caller's buffer: the count, the levels and indices, then the
 * accumulators packed (one line for one piece of up to 8 bytes). After the join the
 * caller merges the posts in block order. A worker's result thus crosses to the caller
 * once, after the barrier, where the mailbox protocol (fold_team) passes a counter, the
 * caller's mailbox and the result between members on the way; and workers get the
 * reduction's description in the runtime's block, not by a second fetch from the
 * caller's frame. A cross-core transfer costs 45 ns here in libgomp's fast regime, 220 ns
 * in its slow one (docs/performance.md). */
#define POST_MAX 1024 /* bytes of one member's post, at most; else fold_team */
typedef struct posts {
    unsigned char *base;
    uint32_t bytes, cap; /* one post's bytes; pieces it holds */
} posts;

static size_t round8(size_t x) { return (x + 7) & ~(size_t)7; }
static size_t post_index_at(uint32_t cap) { return round8(4 + (size_t)cap); }
static size_t post_acc_at(uint32_t cap) { return post_index_at(cap) + 8 * (size_t)cap; }

/* Posts for `planned` members over blocks [R->first, nb), or bytes 0 when one would pass
 * POST_MAX. */
static posts posts_for(const red *R, int planned)
{
    uint64_t most = (R->nb - R->first - 1) / (uint64_t)planned + 1; /* the largest share */
    uint32_t cap = (uint32_t)own_entries(most);
    size_t bytes = round64(post_acc_at(cap) + (size_t)cap * R->r.acc_size);
    return (posts){NULL, bytes <= POST_MAX ? (uint32_t)bytes : 0, cap};
}

/* Member v's pieces (s NULL: it had no memory for its stack). */
static void post_write(const red *R, posts P, int v, const stack *s)
{
    unsigned char *p = P.base + (size_t)v * P.bytes;
    int32_t count = s ? s->count : -1;
    size_t ia = post_index_at(P.cap), aa = post_acc_at(P.cap), size = R->r.acc_size;
    memcpy(p, &count, sizeof count);
    for (int k = 0; k < count; k++) {
        p[4 + k] = (unsigned char)s->level[k];
        memcpy(p + ia + 8 * (size_t)k, &s->index[k], 8);
        acc_copy(p + aa + (size_t)k * size, s->slots + (size_t)k * R->stride, size);
    }
}

/* After the join: every member's pieces in block order onto the merge stack at mbuf, the
 * result written. 0, or PRANGE_ENOMEM when a member had no stack. */
static int merge_posts(const red *R, int planned, posts P, unsigned char *mbuf, void *result)
{
    stack *m = stack_at(mbuf);
    size_t ia = post_index_at(P.cap), aa = post_acc_at(P.cap), size = R->r.acc_size;
    for (int v = 0; v < planned; v++) {
        if (v == 0 && R->pre) {
            push_stack(R, m, R->pre);
            continue;
        }
        const unsigned char *p = P.base + (size_t)v * P.bytes;
        int32_t count;
        memcpy(&count, p, sizeof count);
        if (count < 0) return PRANGE_ENOMEM;
        for (int k = 0; k < count; k++) {
            int64_t index;
            memcpy(&index, p + ia + 8 * (size_t)k, 8);
            push_piece(R, m, p + aa + (size_t)k * size, (int8_t)p[4 + k], index);
        }
    }
    acc_copy(result, fold_right(R, m), size);
    return 0;
}

/* Thread tid of a team of `team` folds the shares of `planned` members (tid, tid + team,
 * ...: its own when the runtime gave the planned team, more when it gave fewer; a share's
 * pieces do not depend on who folds it) and posts them. Member 0 goes on folding the
 * caller's first slice on R->pre, which the caller reads itself. */
static void member_post(red *R, int tid, int team, int planned, posts P)
{
    prange__tls_t saved = prange__enter_team(tid, team);
    prange__bind_worker_if_asked(tid);
    uint64_t t0 = (tid == 0 && R->sample) ? prange__now_ns() : 0, iters = 0;
    for (int v = tid; v < planned; v += team) {
        uint64_t a = 0, b = 0;
        prange__split(R->nb - R->first, planned, v, &a, &b);
        a += R->first;
        b += R->first;
        iters += iters_to(R, b) - iters_to(R, a);
        if (v == 0 && R->pre) {
            fold_blocks(R, R->pre, a, b);
            continue;
        }
        buffer mine;
        unsigned char *q = buffer_take(&mine, stack_bytes(R->stride, own_entries(b - a)));
        stack *st = q ? stack_at(q) : NULL;
        if (st) fold_blocks(R, st, a, b);
        post_write(R, P, v, st);
        if (q) buffer_give(&mine);
    }
    if (t0) {
        R->timed_ns = prange__now_ns() - t0;
        R->timed_iters = iters;
    }
    prange__leave(saved);
}

/* A post_team call's description for its team (prange__launch): what a worker reads, its
 * own copy of the reduction, not a pointer to the caller's; member 0 (the caller) folds
 * on R itself. Two cache lines, no padding. */
typedef struct post_call {
    prange_reduce_fn body;
    void *ctx, *rctx;
    void (*identity)(void *, void *, size_t);
    void (*combine)(void *, void *, const void *, size_t);
    int64_t begin;
    uint64_t n, B, nb, first;
    size_t acc_size, stride;
    posts P;
    red *R;
    int planned, code;
} post_call;
_Static_assert(sizeof(post_call) == PRANGE__HANDOUT, "a reduction's call fills the hand-out");

static void post_member(void *p)
{
    const post_call *c = p;
    int team = prange__team_in(c->code), tid = omp_get_thread_num();
    if (tid == 0) {
        member_post(c->R, 0, team, c->planned, c->P);
    } else if (tid < team) {
        red L;
        L.r.acc_size = c->acc_size;
        L.r.identity = c->identity;
        L.r.combine = c->combine;
        L.r.rctx = c->rctx;
        L.body = c->body;
        L.ctx = c->ctx;
        L.begin = c->begin;
        L.n = c->n;
        L.B = c->B;
        L.nb = c->nb;
        L.stride = c->stride;
        L.first = c->first;
        L.pre = NULL; /* member 0's only */
        L.sample = 0;
        member_post(&L, tid, team, c->planned, c->P);
    }
}

/* Blocks [R->first, nb) on a team of `planned` through posts P (bytes set), merged by the
 * caller into `result`: 0, or PRANGE_ENOMEM. With `timed`, *wall is the region's time. */
static int post_team(red *R, int planned, posts P, void *result, int timed, uint64_t *wall)
{
    size_t all = (size_t)planned * P.bytes;
    buffer buf;
    unsigned char *p = buffer_take(&buf, all + stack_bytes(R->stride, merge_entries(R->nb)));
    if (!p) return PRANGE_ENOMEM;
    P.base = p;
    prange__mark_pool_started();
    post_call c = {R->body, R->ctx, R->r.rctx, R->r.identity, R->r.combine, R->begin, R->n, R->B, R->nb, R->first,
                   R->r.acc_size, R->stride, P, R, planned, prange__team_code(planned)};
    uint64_t t0 = timed ? prange__ticks() : 0;
    prange__launch(post_member, &c, sizeof c, prange__region_size(planned));
    if (t0) *wall = prange__ticks_since_ns(t0);
    int rc = merge_posts(R, planned, P, p + all, result);
    buffer_give(&buf);
    return rc;
}

/* A mailbox call's description for its team (prange__launch). */
typedef struct mail_call {
    red *R;
    void *result;
    mail *boxes;
    unsigned char *m;
    int code, pad;
} mail_call;

static void mail_member(void *p)
{
    const mail_call *c = p;
    int team = prange__team_in(c->code), tid = omp_get_thread_num();
    if (tid < team) worker(c->R, tid, team, c->result, c->boxes, c->m);
}

/* Blocks [R->first, nb) on a team of `planned` (member 0 continuing R->pre when set),
 * merged into `result`: 0, or PRANGE_ENOMEM. With `timed`, *wall is the region's time on
 * the caller, for the back-off. */
static int fold_team(red *R, int planned, void *result, int timed, uint64_t *wall)
{
    prange__region_note_parallel(); /* inside an inline region: it is worth a team */
    posts P = posts_for(R, planned);
    if (P.bytes) return post_team(R, planned, P, result, timed, wall);
    /* The mailboxes, then the merge stack (used by whichever member arrives last). */
    size_t mail_bytes = (size_t)planned * sizeof(mail);
    buffer buf;
    unsigned char *p = buffer_take(&buf, mail_bytes + stack_bytes(R->stride, merge_entries(R->nb)));
    if (!p) return PRANGE_ENOMEM;
    mail *boxes = (mail *)p;
    unsigned char *m = p + mail_bytes;
    atomic_init(&R->arrived, 0);
    atomic_init(&R->merged, 0);
    prange__mark_pool_started();
    mail_call c = {R, result, boxes, m, prange__team_code(planned), 0};
    uint64_t t0 = timed ? prange__ticks() : 0; /* timed as loops are (lib/loop.c) */
    prange__launch(mail_member, &c, sizeof c, prange__region_size(planned));
    if (t0) *wall = prange__ticks_since_ns(t0);
    buffer_give(&buf);
    return atomic_load(&R->failed) ? PRANGE_ENOMEM : 0;
}

/* A first call without a cost (no hint, nothing learned for this body and size) that the
 * default cost made serial, as loops have (lib/loop.c, run_first_slice): whether there
 * are blocks enough for a slice and a rest of at least 2. */
static int slice_applies(const red *R, const prange_opts *o, const prange__learned *learned, const prange_plan *plan)
{
    return plan->serial && plan->reason == prange__why_fork && !(o->cost_ns > 0) && !(learned->ns > 0) && R->nb >= 3;
}

/* Blocks [a, b) folded inline onto s, timed on the thread's CPU clock (as a loop's slice:
 * a preemption must not make cheap blocks look dear); returns the CPU ns, and the wall
 * ns in *wall (what is recorded, as a loop's slice records it). */
static uint64_t fold_timed(red *R, stack *s, uint64_t a, uint64_t b, uint64_t *wall)
{
    uint64_t w0 = prange__now_ns(), t0 = prange__cpu_ns();
    fold_blocks(R, s, a, b);
    uint64_t ns = prange__cpu_ns() - t0;
    *wall = prange__now_ns() - w0;
    return ns;
}

/* The first call of a reduction that the default cost made serial: a first slice of
 * blocks (1/32 of them over P - 1 for a team of P, at least one) is folded inline on the
 * caller's stack and timed; a dear slice is confirmed by a second, and the cheaper
 * counts. The rest is then planned with what they cost, and the team folds blocks
 * [slice, nb), member 0 going on with the caller's stack: the pieces, so the bits, are
 * those of any other split. 256 blocks of 1 ms (grain 1) must not run on one thread
 * because the model assumed 0.5 ns an iteration. */
__attribute__((noinline)) static int reduce_sliced(red *R, const prange_opts *o, const void *key, prange_plan *plan,
                                                   void *result)
{
    buffer own;
    unsigned char *p = buffer_take(&own, stack_bytes(R->stride, own_entries(R->nb)));
    if (!p) return PRANGE_ENOMEM;
    stack *s = stack_at(p);
    int P = o->threads > 0 && o->threads < plan->budget ? o->threads : plan->budget;
    uint64_t first = R->nb / (32 * (uint64_t)(P > 2 ? P - 1 : 1));
    if (first == 0) first = 1;
    prange__tls_t saved = prange__enter_inline();
    uint64_t slice_wall, ns = fold_timed(R, s, 0, first, &slice_wall), done = iters_to(R, first);
    int dear = prange__slice_decides(ns, plan);
    if (dear && R->nb - first >= first + 2) {
        uint64_t wall2, ns2 = fold_timed(R, s, first, 2 * first, &wall2), done2 = iters_to(R, 2 * first) - done;
        if ((double)ns2 * (double)done < (double)ns * (double)done2) done = done2, ns = ns2, slice_wall = wall2;
        dear = prange__slice_decides(ns, plan);
        first *= 2;
    }
    prange__leave(saved);
    /* A slice too short to decide on teaches nothing (its clock reads weigh as much): the
     * rest is timed instead, as it runs inline. */
    if (dear) prange__cost_record_alone(key, R->n, done, (double)slice_wall, 1);
    R->first = first;
    R->pre = s;
    R->sample = !dear;
    R->timed_iters = R->timed_ns = 0;
    if (dear) {
        prange_opts ro = *o;
        ro.cost_ns = (double)ns / (double)done;
        if (!(ro.cost_ns > 0)) ro.cost_ns = 1e-3;
        prange__plan(R->n - iters_to(R, first), &ro, key, plan);
    }
    prange__profile_event(PRANGE__EV_SLICE);
    if (prange__verbose() >= 2) prange__log_plan("reduce (after a timed first slice)", o->label, plan);
    int planned = plan->serial ? 1 : prange__team_run(plan, "reduce", o->label);
    int taken = plan->serial ? 0 : planned;
    uint64_t wall = 0;
    int rc = planned == 1 ? fold_inline(R, result) : fold_team(R, planned, result, 0, &wall);
    prange__share_give(taken);
    buffer_give(&own);
    if (rc == 0 && R->sample && R->timed_iters)
        prange__cost_record_alone(key, R->n, R->timed_iters, (double)R->timed_ns, planned == 1);
    return rc;
}

static int reduce_call(int64_t begin, int64_t end, const prange_reducer *reducer, prange_reduce_fn body, void *ctx,
                       void *result, const prange_opts *opts, prange__whole_fn whole)
{
    red R;
    R.whole = whole;
    prange_opts o;
    if (!body || !result || begin > end || prange__opts_load(opts, &o) != 0) return PRANGE_EINVAL;
    int lrc = prange__reducer_load(reducer, (size_t)1 << 30, &R.r);
    if (lrc != 0) return lrc; /* PRANGE_EINVAL, or PRANGE_ERANGE above 1 GiB */
    const prange_reducer *r = &R.r;
    const void *key = prange__key(&o, (const void *)body);

    R.body = body;
    R.ctx = ctx;
    R.begin = begin;
    R.n = prange__len(begin, end);
    R.stride = round64(r->acc_size);
    atomic_init(&R.failed, 0);
    R.timed_iters = R.timed_ns = 0;
    R.first = 0;
    R.pre = NULL;
    if (R.n == 0) {
        prange__r_identity(r, result);
        return 0;
    }
    R.B = block_size(R.n, prange__grain_explicit(&o), o.cost_ns, r->acc_size);
    R.nb = (R.n - 1) / R.B + 1;

    o.grain = (int64_t)(R.B < (uint64_t)INT64_MAX ? R.B : (uint64_t)INT64_MAX); /* whole blocks */
    o.schedule = PRANGE_SCHEDULE_STATIC; /* blocks are split statically, whatever was asked */
    if (prange__region_team()) return region_reduce(&R, &o, key, result);
    /* Fewer than 2 blocks' worth (plan()'s grain rule, and no other rule makes it
     * parallel): serial whatever is learned, so nothing to read, plan or learn. A small
     * reduction called again and again (a dot product per solver step) pays the fold
     * alone: 732 -> 379 libprange instructions at 64 elements (perf/ab/run).
     * PRANGE_VERBOSE=2 plans it, to print the plan. */
    if (R.n / 2 < R.B && prange__verbose() < 2) {
        if (prange__tls.region) /* what plan() would have counted: the hinted work, if any */
            prange__region_account_inline(prange__cost_times(o.cost_ns, (double)R.n), 0, 1);
        R.sample = 0;
        return fold_inline(&R, result);
    }
    /* One read of the learned cost serves the plan and the sampling. */
    prange__learned learned;
    prange_plan plan;
    int learn = prange__plan_call(R.n, &o, key, &learned, &plan);
    if (prange__verbose() >= 2) prange__log_plan("reduce", o.label, &plan);
    if (prange__tls.region) /* an inline region's reduction: what its team would do with it */
        prange__region_account_inline(plan.work_ns, prange__plan_guessed(&plan, learn, &learned), 1);
    R.sample = learn && prange__cost_sample_learned(&learned);
    if (learn && slice_applies(&R, &o, &learned, &plan)) return reduce_sliced(&R, &o, key, &plan, result);
    int planned = plan.serial ? 1 : prange__team_run(&plan, "reduce", o.label);
    /* Threads taken from the budget (a parallel plan that found it held runs inline,
     * counted as 1), given back before returning. */
    int taken = plan.serial ? 0 : planned;
    uint64_t wall = 0; /* a sampled parallel call's time, for the back-off */
    int rc = planned == 1 ? fold_inline(&R, result) : fold_team(&R, planned, result, learn && learned.ns > 0, &wall);
    prange__share_give(taken);
    if (rc != 0) return rc;
    if (R.sample) prange__cost_record_alone(key, R.n, R.timed_iters, (double)R.timed_ns, planned == 1);
    /* Slower than its serial estimate: back off (sched/cost.c). */
    if (wall)
        prange__backoff_observe(key, &learned, R.n, planned, (double)wall, plan.reason == prange__why_trial, "reduce",
                                o.label);
    return 0;
}

/* reduce_call as one profiled call (calls the arguments reject are not counted). */
static int reduce_profiled(int64_t begin, int64_t end, const prange_reducer *reducer, prange_reduce_fn body,
                           void *ctx, void *result, const prange_opts *opts, prange__whole_fn whole)
{
    PRANGE__TLS_SYNC(); /* a body left by longjmp (prange_sched.h) */
    prange__prof_call pc;
    int prof = prange__profile_begin_opts(&pc, opts, (const void *)body, NULL, PRANGE__SITE_REDUCE);
    int rc = reduce_call(begin, end, reducer, body, ctx, result, opts, whole);
    if (prof) prange__profile_finish(&pc, rc, 0, 0);
    return rc;
}

int prange_reduce(int64_t begin, int64_t end, const prange_reducer *reducer, prange_reduce_fn body, void *ctx,
                  void *result, const prange_opts *opts)
{
    return reduce_profiled(begin, end, reducer, body, ctx, result, opts, NULL);
}

int prange__reduce_sum(int64_t begin, int64_t end, prange_reduce_fn body, prange__whole_fn whole, void *ctx,
                       double *result, const prange_opts *opts)
{
    return reduce_profiled(begin, end, prange_reducer_sum_f64(), body, ctx, result, opts, whole);
}
