/*
 * profile.c — per-call-site profiles: the site table, the latency histogram, the clock,
 * and the report (a table on stderr or JSON) at exit or on request.
 *
 * Sites. A call's site is its label when given (copied: a plugin's strings may be gone at
 * exit), else its body resolved with dladdr (symbol; symbol+offset; module+offset for a
 * function the dynamic symbol table does not name, e.g. a static one), or for a kernel the
 * kernel's name and its caller, resolved the same way. The table is fixed-size and
 * lock-free: open addressing on a 64-bit key (the body, a hash of the label, or of kernel
 * and caller), a slot claimed with one compare-and-swap, its name written before it is
 * published. When every slot is taken, further sites are counted under one site, "other".
 *
 * Figures per site, all atomic counters (any thread, no lock): a histogram of per-call
 * wall times in clock ticks (PRANGE__HIST_BUCKETS buckets: exact below 64 ticks, then 32
 * per power of two, so every value is within 1/64 of its bucket's midpoint), their sum and
 * maximum, parallel calls and the team sizes they ran on, the scheduler's changed decisions,
 * and on the loops the scheduler samples anyway (1 in 64, for the learned cost and the
 * fork-join figure) the slowest and the summed worker shares it timed. Calls are the sum of
 * the histogram; inline calls are calls less parallel ones.
 *
 * Clock. On x86 with an invariant TSC (clock.c), __rdtsc (a few ns); ticks become ns at report time,
 * calibrated once against CLOCK_MONOTONIC over the whole run. Elsewhere CLOCK_MONOTONIC.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "profile.h"

atomic_int prange__prof_flag = -1;
PRANGE__TLS prange__prof_call *prange__prof_cur;

/* ---- clock ------------------------------------------------------------------------------ */

static int g_tsc;                     /* set once at init, before the flag is */
static uint64_t g_tsc0, g_ns0;        /* calibration start */
static uint64_t (*g_fake_clock)(void); /* tests */
static double g_fake_ns_per_tick;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ticks(void)
{
    if (__builtin_expect(g_fake_clock != NULL, 0)) return g_fake_clock();
#if defined(__x86_64__) || defined(__i386__)
    if (g_tsc) return __rdtsc();
#endif
    return mono_ns();
}

/* ns per tick: measured over the run so far (at least 2 ms: the report waits for them). */
static double ns_per_tick(void)
{
    if (g_fake_clock) return g_fake_ns_per_tick;
    if (!g_tsc) return 1.0;
    uint64_t ns, t;
    do {
        t = ticks();
        ns = mono_ns();
    } while (ns - g_ns0 < 2000000);
    return t > g_tsc0 ? (double)(ns - g_ns0) / (double)(t - g_tsc0) : 1.0;
}

void prange__profile_set_clock(uint64_t (*fn)(void), double ns_per_tick_)
{
    g_fake_ns_per_tick = ns_per_tick_;
    g_fake_clock = fn;
}

/* ---- histogram ---------------------------------------------------------------------------- */

unsigned prange__hist_bucket(uint64_t v)
{
    if (v < 64) return (unsigned)v;
    if (v >> PRANGE__HIST_TOP_BIT) return PRANGE__HIST_BUCKETS - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 6 .. TOP_BIT - 1 */
    return 64 + (e - 6) * 32 + (unsigned)((v >> (e - 5)) & 31);
}

uint64_t prange__hist_low(unsigned b)
{
    if (b < 64) return b;
    unsigned e = (b - 64) / 32 + 6, sub = (b - 64) % 32;
    return ((uint64_t)1 << e) + ((uint64_t)sub << (e - 5));
}

uint64_t prange__hist_high(unsigned b)
{
    if (b < 64) return b;
    if (b >= PRANGE__HIST_BUCKETS - 1) return UINT64_MAX;
    return prange__hist_low(b + 1) - 1;
}

uint64_t prange__hist_mid(unsigned b)
{
    if (b >= PRANGE__HIST_BUCKETS - 1) return prange__hist_low(b);
    return prange__hist_low(b) + (prange__hist_high(b) - prange__hist_low(b)) / 2;
}

uint64_t prange__hist_quantile(const uint64_t *counts, double q, uint64_t max)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < PRANGE__HIST_BUCKETS; b++) total += counts[b];
    if (total == 0) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)total), seen = 0;
    if (rank < 1) rank = 1;
    for (unsigned b = 0; b < PRANGE__HIST_BUCKETS; b++) {
        seen += counts[b];
        if (seen >= rank) {
            uint64_t m = prange__hist_mid(b);
            return m < max ? m : max;
        }
    }
    return max;
}

/* ---- sites ---------------------------------------------------------------------------------- */

#define SITES 256 /* power of two; one more slot, "other", takes the overflow */
#define NAME_MAX_LEN 96
#define LABEL_MAX_LEN 63

typedef struct site {
    _Atomic(uint64_t) key; /* 0: free */
    atomic_int ready;      /* the identity and the name below are written */
    int kind;
    const void *fn, *ra;   /* identity of an unlabelled site */
    char label[LABEL_MAX_LEN + 1];
    char name[NAME_MAX_LEN];
    _Atomic(uint64_t) parallel, ticks, max_ticks, team_mask;
    _Atomic(uint64_t) events[PRANGE__EV_COUNT];
    _Atomic(uint64_t) sampled, s_wall_ticks, s_busy_max, s_busy_mean, s_busy_sum; /* sampled parallel loops */
    _Atomic(uint64_t) hist[PRANGE__HIST_BUCKETS];
} site;

static site g_sites[SITES + 1];
#define OTHER (&g_sites[SITES])

static const char *const kind_names[PRANGE__SITE_KINDS] = {"loop", "until", "loop2d", "reduce", "scan", "kernel"};
static const char *const event_names[PRANGE__EV_COUNT] = {"backoffs", "probes", "fork_measures", "first_slices",
                                                                     "slower_than_serial"};

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h;
}

/* FNV-1a over the label's first LABEL_MAX_LEN bytes (what the site keeps of it). */
static uint64_t hash_label(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < LABEL_MAX_LEN && s[i]; i++) h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The key: labels and kernels tagged in the top bits, which user-space code addresses do
 * not use; never 0. */
static uint64_t site_key(const prange__prof_call *pc)
{
    if (pc->label) return hash_label(pc->label) | (UINT64_C(1) << 63);
    if (pc->ra) return (mix((uint64_t)(uintptr_t)pc->fn) ^ (uint64_t)(uintptr_t)pc->ra) | (UINT64_C(1) << 62);
    return (uint64_t)(uintptr_t)pc->fn | 1;
}

static int same_site(const site *s, const prange__prof_call *pc)
{
    if (pc->label) return strncmp(s->label, pc->label, LABEL_MAX_LEN) == 0 && s->label[0];
    return !s->label[0] && s->fn == pc->fn && s->ra == pc->ra;
}

/* A code address as "symbol", "symbol+0x1f", "module+0x1234" or "0x7f...". */
static void resolve(const void *p, char *buf, size_t size)
{
    Dl_info di;
    if (!p || dladdr(p, &di) == 0) {
        snprintf(buf, size, "%p", p);
        return;
    }
    if (di.dli_sname && di.dli_saddr) {
        uintptr_t off = (uintptr_t)p - (uintptr_t)di.dli_saddr;
        if (off == 0) snprintf(buf, size, "%s", di.dli_sname);
        else snprintf(buf, size, "%s+0x%" PRIxPTR, di.dli_sname, off);
        return;
    }
    const char *mod = di.dli_fname ? strrchr(di.dli_fname, '/') : NULL;
    mod = mod ? mod + 1 : (di.dli_fname && di.dli_fname[0] ? di.dli_fname : "?");
    snprintf(buf, size, "%s+0x%" PRIxPTR, mod, (uintptr_t)p - (uintptr_t)di.dli_fbase);
}

/* The name a call's site is reported under. */
static void site_name(const prange__prof_call *pc, char *buf, size_t size)
{
    if (pc->label) {
        snprintf(buf, size, "%.*s", LABEL_MAX_LEN, pc->label);
    } else if (pc->ra) {
        char caller[64];
        resolve(pc->ra, caller, sizeof caller);
        snprintf(buf, size, "%s @ %s", (const char *)pc->fn, caller);
    } else {
        resolve(pc->fn, buf, size);
    }
}

/* The site of a call: found, claimed, or "other" when the table is full. */
static site *site_of(const prange__prof_call *pc)
{
    uint64_t k = site_key(pc), h = mix(k);
    for (unsigned p = 0; p < SITES; p++) {
        site *s = &g_sites[(h + p) & (SITES - 1)];
        uint64_t cur = atomic_load_explicit(&s->key, memory_order_acquire);
        if (cur == 0) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&s->key, &expect, k)) {
                /* Ours: write the identity and the name (dladdr: once per site), then publish. */
                s->kind = pc->kind;
                s->fn = pc->fn;
                s->ra = pc->ra;
                if (pc->label) snprintf(s->label, sizeof s->label, "%s", pc->label);
                site_name(pc, s->name, sizeof s->name);
                atomic_store_explicit(&s->ready, 1, memory_order_release);
                return s;
            }
            cur = expect;
        }
        if (cur != k) continue;
        /* Another thread may still be writing the name: a few instructions. */
        while (!atomic_load_explicit(&s->ready, memory_order_acquire)) sched_yield();
        if (same_site(s, pc)) return s;
    }
    return OTHER;
}

/* ---- recording ------------------------------------------------------------------------------ */

static inline void add(_Atomic(uint64_t) *c, uint64_t v) { atomic_fetch_add_explicit(c, v, memory_order_relaxed); }
static inline void raise_to(_Atomic(uint64_t) *c, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(c, &cur, v, memory_order_relaxed, memory_order_relaxed)) {
    }
}

int prange__profile_begin_slow(prange__prof_call *pc, const char *label, const void *fn, const void *ra,
                               prange__site_kind kind, int absorb)
{
    if (atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) < 0) (void)prange__state_get();
    /* acquire: the clock's settings were written before the flag (released at init). */
    if (atomic_load_explicit(&prange__prof_flag, memory_order_acquire) == 0) return 0;
    if (label && !label[0]) label = NULL; /* "" names nothing */
    /* Calls left by longjmp from a body never finished: forget them with the body context
     * (pc lies in the entry point's frame), and any whose record lay at or below this one
     * (the stack grows down: an enclosing call's record is above it). */
    prange__tls_sync((uintptr_t)pc);
    prange__prof_call *cur = prange__prof_cur;
    while (cur && (uintptr_t)cur <= (uintptr_t)pc) cur = cur->prev;
    int depth = prange__tls.depth;
    if (cur && cur->absorb && cur->depth == depth) {
        prange__prof_cur = cur;
        return 0; /* a part of a kernel or a scan */
    }
    pc->prev = cur;
    pc->label = label;
    pc->fn = fn;
    pc->ra = ra;
    pc->kind = kind;
    pc->depth = depth;
    pc->absorb = absorb;
    pc->team = 1;
    memset(pc->events, 0, sizeof pc->events);
    pc->planned = 0;
    prange__prof_cur = pc;
    pc->t0 = ticks();
    return 1;
}

int prange__profile_begin_opts(prange__prof_call *pc, const prange_opts *opts, const void *fn, const void *ra,
                               prange__site_kind kind)
{
    if (__builtin_expect(atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) == 0, 1)) return 0;
    /* Only what the caller's struct_size covers (an older caller may lack the label). */
    const char *label = NULL;
    if (opts && opts->struct_size >= offsetof(prange_opts, label) + sizeof opts->label &&
        opts->struct_size <= PRANGE__STRUCT_MAX)
        label = opts->label;
    return prange__profile_begin_slow(pc, label, fn, ra, kind, 1);
}

static void fmt_ns(char *buf, size_t size, double ns)
{
    if (ns < 1e3) snprintf(buf, size, "%.0fns", ns);
    else if (ns < 1e6) snprintf(buf, size, "%.3gus", ns / 1e3);
    else if (ns < 1e9) snprintf(buf, size, "%.3gms", ns / 1e6);
    else snprintf(buf, size, "%.3gs", ns / 1e9);
}

void prange__profile_end(prange__prof_call *pc, uint64_t busy_max_ns, uint64_t busy_sum_ns)
{
    uint64_t dt = ticks() - pc->t0;
    prange__prof_cur = pc->prev;
    int flag = atomic_load_explicit(&prange__prof_flag, memory_order_relaxed);
    if (flag & PRANGE__PROF_RECORD) {
        site *s = site_of(pc);
        add(&s->hist[prange__hist_bucket(dt)], 1);
        add(&s->ticks, dt);
        raise_to(&s->max_ticks, dt);
        if (pc->team > 1) {
            add(&s->parallel, 1);
            atomic_fetch_or_explicit(&s->team_mask, UINT64_C(1) << (pc->team < 63 ? pc->team : 63),
                                     memory_order_relaxed);
            if (busy_max_ns > 0 && busy_sum_ns > 0) {
                add(&s->sampled, 1);
                add(&s->s_wall_ticks, dt);
                add(&s->s_busy_max, busy_max_ns);
                add(&s->s_busy_mean, busy_sum_ns / (uint64_t)pc->team);
                add(&s->s_busy_sum, busy_sum_ns);
            }
        }
        for (int e = 0; e < PRANGE__EV_COUNT; e++)
            if (pc->events[e]) add(&s->events[e], pc->events[e]);
    }
    if (pc->planned) {
        char name[NAME_MAX_LEN], line[320], took[24];
        site_name(pc, name, sizeof name);
        prange_plan_format(&pc->plan, line, sizeof line);
        double npt = g_fake_clock ? g_fake_ns_per_tick : g_tsc ? ns_per_tick() : 1.0;
        fmt_ns(took, sizeof took, (double)dt * npt);
        prange__log("%s %s: %s took=%s", pc->plan_what, name, line, took);
    }
}

void prange__profile_finish(prange__prof_call *pc, int rc, uint64_t busy_max_ns, uint64_t busy_sum_ns)
{
    if (rc == PRANGE_EINVAL || rc == PRANGE_ERANGE) prange__prof_cur = pc->prev;
    else prange__profile_end(pc, busy_max_ns, busy_sum_ns);
}

void prange__profile_team_slow(int team)
{
    prange__prof_call *cur = prange__prof_cur;
    if (cur && team > cur->team) cur->team = team;
}

void prange__profile_event_slow(prange__event ev)
{
    prange__prof_call *cur = prange__prof_cur;
    if (cur) cur->events[ev]++;
}

int prange__profile_defer_plan(const char *what, const prange_plan *plan)
{
    if (!(atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) & PRANGE__PROF_VERBOSE)) return 0;
    prange__prof_call *cur = prange__prof_cur;
    if (!cur) return 0;
    if (cur->planned) { /* an earlier plan of the same call (a first slice, a scan's first pass) */
        char name[NAME_MAX_LEN], line[320];
        site_name(cur, name, sizeof name);
        prange_plan_format(&cur->plan, line, sizeof line);
        prange__log("%s %s: %s", cur->plan_what, name, line);
    }
    cur->planned = 1;
    cur->plan_what = what;
    cur->plan = *plan;
    return 1;
}

void prange__profile_set_recording(int on)
{
    (void)prange__state_get();
    int f = atomic_load(&prange__prof_flag);
    atomic_store(&prange__prof_flag, on ? f | PRANGE__PROF_RECORD : f & ~PRANGE__PROF_RECORD);
}

/* ---- reading and reporting ----------------------------------------------------------------- */

typedef struct snap {
    const site *s;
    uint64_t calls, hist[PRANGE__HIST_BUCKETS];
} snap;

static void take(const site *s, snap *out)
{
    out->s = s;
    out->calls = 0;
    for (unsigned b = 0; b < PRANGE__HIST_BUCKETS; b++) {
        out->hist[b] = atomic_load_explicit(&((site *)s)->hist[b], memory_order_relaxed);
        out->calls += out->hist[b];
    }
}

static uint64_t ld(const _Atomic(uint64_t) *c) { return atomic_load_explicit((_Atomic(uint64_t) *)c, memory_order_relaxed); }

static const site *site_at(int i)
{
    const site *s = &g_sites[i];
    if (i == SITES) return s;
    return atomic_load_explicit(&((site *)s)->ready, memory_order_acquire) ? s : NULL;
}

static void stats_of(const snap *sn, double npt, prange__site_stats *o)
{
    const site *s = sn->s;
    uint64_t max = ld(&s->max_ticks);
    memset(o, 0, sizeof *o);
    o->kind = s == OTHER ? -1 : s->kind;
    o->calls = sn->calls;
    o->parallel_calls = ld(&s->parallel);
    o->inline_calls = o->calls > o->parallel_calls ? o->calls - o->parallel_calls : 0;
    o->team_mask = ld(&s->team_mask);
    o->sampled = ld(&s->sampled);
    o->total_ns = (double)ld(&s->ticks) * npt;
    o->p50_ns = (double)prange__hist_quantile(sn->hist, 0.50, max) * npt;
    o->p90_ns = (double)prange__hist_quantile(sn->hist, 0.90, max) * npt;
    o->p99_ns = (double)prange__hist_quantile(sn->hist, 0.99, max) * npt;
    o->max_ns = (double)max * npt;
    for (int e = 0; e < PRANGE__EV_COUNT; e++) o->events[e] = ld(&s->events[e]);
}

int prange__profile_site(const char *name, prange__site_stats *out)
{
    static snap sn; /* tests only; too big for a small stack */
    for (int i = 0; i <= SITES; i++) {
        const site *s = site_at(i);
        if (!s || strcmp(i == SITES ? "other" : s->name, name) != 0) continue;
        take(s, &sn);
        if (sn.calls == 0 && i == SITES) return -1;
        stats_of(&sn, g_fake_clock ? g_fake_ns_per_tick : ns_per_tick(), out);
        return 0;
    }
    return -1;
}

static const char *name_of(const site *s) { return s == OTHER ? "other" : s->name; }

static void teams_text(uint64_t mask, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int t = 2; t < 64 && n < size; t++)
        if (mask >> t & 1) n += (size_t)snprintf(buf + n, size - n, "%s%d%s", n ? "," : "", t, t == 63 ? "+" : "");
    if (!buf[0]) snprintf(buf, size, "-");
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* Sites with calls, in table order (the heaviest total first). */
static int cmp_total(const void *a, const void *b)
{
    uint64_t x = ld(&(*(const snap *const *)a)->s->ticks), y = ld(&(*(const snap *const *)b)->s->ticks);
    return x < y ? 1 : x > y ? -1 : 0;
}

static pthread_mutex_t g_report_lock = PTHREAD_MUTEX_INITIALIZER; /* one report at a time: its buffers */
static snap g_snaps[SITES + 1];
static snap *g_order[SITES + 1];

static int collect(void)
{
    int n = 0;
    for (int i = 0; i <= SITES; i++) {
        const site *s = site_at(i);
        if (!s) continue;
        take(s, &g_snaps[n]);
        if (g_snaps[n].calls) g_order[n] = &g_snaps[n], n++;
    }
    qsort(g_order, (size_t)n, sizeof g_order[0], cmp_total);
    return n;
}

static void write_table(FILE *f, int n, double npt)
{
    uint64_t calls = 0;
    for (int i = 0; i < n; i++) calls += g_order[i]->calls;
    fprintf(f, "prange profile: %d site%s, %" PRIu64 " call%s; clock %s%s\n", n, n == 1 ? "" : "s", calls,
            calls == 1 ? "" : "s", g_fake_clock ? "fake" : g_tsc ? "TSC" : "CLOCK_MONOTONIC",
            g_fake_clock || !g_tsc ? "" : " (calibrated against CLOCK_MONOTONIC)");
    fprintf(f, "%-32s %-6s %9s %9s %9s %-8s %9s %9s %9s %9s %9s %9s %6s %9s %9s %s\n", "site", "kind", "calls",
            "inline", "parallel", "teams", "total", "mean", "p50", "p90", "p99", "max", "imbal", "fork-join",
            "vs-serial", "decisions");
    for (int i = 0; i < n; i++) {
        const snap *sn = g_order[i];
        const site *s = sn->s;
        prange__site_stats st;
        stats_of(sn, npt, &st);
        char teams[64], tot[16], mean[16], p50[16], p90[16], p99[16], mx[16], imb[16] = "-", fj[16] = "-",
                                                                            vs[16] = "-", dec[96] = "";
        teams_text(st.team_mask, teams, sizeof teams);
        fmt_ns(tot, sizeof tot, st.total_ns);
        fmt_ns(mean, sizeof mean, st.total_ns / (double)st.calls);
        fmt_ns(p50, sizeof p50, st.p50_ns);
        fmt_ns(p90, sizeof p90, st.p90_ns);
        fmt_ns(p99, sizeof p99, st.p99_ns);
        fmt_ns(mx, sizeof mx, st.max_ns);
        if (st.sampled) {
            double wall = (double)ld(&s->s_wall_ticks) * npt, bmax = (double)ld(&s->s_busy_max);
            snprintf(imb, sizeof imb, "%.2f", bmax / (double)ld(&s->s_busy_mean));
            fmt_ns(fj, sizeof fj, (wall > bmax ? wall - bmax : 0) / (double)st.sampled);
            snprintf(vs, sizeof vs, "x%.2f", (double)ld(&s->s_busy_sum) / wall);
        }
        size_t k = 0;
        for (int e = 0; e < PRANGE__EV_COUNT; e++)
            if (st.events[e])
                k += (size_t)snprintf(dec + k, sizeof dec - k, "%s%s=%" PRIu64, k ? " " : "", event_names[e],
                                      st.events[e]);
        fprintf(f, "%-32s %-6s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %-8s %9s %9s %9s %9s %9s %9s %6s %9s %9s %s\n",
                name_of(s), s == OTHER ? "-" : kind_names[s->kind], st.calls, st.inline_calls, st.parallel_calls, teams,
                tot, mean, p50, p90, p99, mx, imb, fj, vs, k ? dec : "-");
    }
}

static void write_json(FILE *f, int n, double npt)
{
    fprintf(f, "{\n  \"clock\": \"%s\",\n  \"ns_per_tick\": %.6g,\n  \"sites\": [", g_fake_clock ? "fake" : g_tsc ? "tsc" : "monotonic",
            npt);
    for (int i = 0; i < n; i++) {
        const snap *sn = g_order[i];
        const site *s = sn->s;
        prange__site_stats st;
        stats_of(sn, npt, &st);
        fprintf(f, "%s\n    {\"site\": ", i ? "," : "");
        json_string(f, name_of(s));
        fprintf(f, ", \"kind\": \"%s\", \"calls\": %" PRIu64 ", \"inline\": %" PRIu64 ", \"parallel\": %" PRIu64
                   ", \"teams\": [",
                s == OTHER ? "other" : kind_names[s->kind], st.calls, st.inline_calls, st.parallel_calls);
        for (int t = 2, first = 1; t < 64; t++)
            if (st.team_mask >> t & 1) fprintf(f, "%s%d", first ? "" : ", ", t), first = 0;
        fprintf(f, "], \"total_ns\": %.0f, \"mean_ns\": %.1f, \"p50_ns\": %.0f, \"p90_ns\": %.0f, \"p99_ns\": %.0f, "
                   "\"max_ns\": %.0f, \"sampled\": %" PRIu64,
                st.total_ns, st.total_ns / (double)st.calls, st.p50_ns, st.p90_ns, st.p99_ns, st.max_ns, st.sampled);
        if (st.sampled) {
            double wall = (double)ld(&s->s_wall_ticks) * npt, bmax = (double)ld(&s->s_busy_max);
            fprintf(f, ", \"imbalance\": %.3f, \"sampled_wall_ns\": %.0f, \"fork_join_ns\": %.0f, \"serial_estimate_ns\": %" PRIu64,
                    bmax / (double)ld(&s->s_busy_mean), wall, wall > bmax ? wall - bmax : 0, ld(&s->s_busy_sum));
        } else {
            fprintf(f, ", \"imbalance\": null, \"sampled_wall_ns\": 0, \"fork_join_ns\": 0, \"serial_estimate_ns\": 0");
        }
        for (int e = 0; e < PRANGE__EV_COUNT; e++) fprintf(f, ", \"%s\": %" PRIu64, event_names[e], st.events[e]);
        fputc('}', f);
    }
    fprintf(f, "%s]\n}\n", n ? "\n  " : "");
}

static int report(FILE *f, int json)
{
    pthread_mutex_lock(&g_report_lock);
    double npt = ns_per_tick();
    int n = collect();
    if (json) write_json(f, n, npt);
    else write_table(f, n, npt);
    pthread_mutex_unlock(&g_report_lock);
    return fflush(f) != 0 || ferror(f) ? PRANGE_EIO : 0;
}

int prange_profile_write(FILE *out)
{
    (void)prange__state_get();
    return report(out ? out : stderr, 0);
}

void prange_profile_reset(void)
{
    for (int i = 0; i <= SITES; i++) {
        site *s = &g_sites[i];
        /* A slot never claimed holds zeros: leave its pages untouched. */
        if (i < SITES && !atomic_load_explicit(&s->key, memory_order_relaxed)) continue;
        _Atomic(uint64_t) *counters[] = {&s->parallel, &s->ticks, &s->max_ticks, &s->team_mask, &s->sampled,
                                        &s->s_wall_ticks, &s->s_busy_max, &s->s_busy_mean, &s->s_busy_sum};
        for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++)
            atomic_store_explicit(counters[k], 0, memory_order_relaxed);
        for (int e = 0; e < PRANGE__EV_COUNT; e++) atomic_store_explicit(&s->events[e], 0, memory_order_relaxed);
        for (unsigned b = 0; b < PRANGE__HIST_BUCKETS; b++) atomic_store_explicit(&s->hist[b], 0, memory_order_relaxed);
    }
}

/* ---- at exit ------------------------------------------------------------------------------ */

static int g_mode;              /* PRANGE_PROFILE: 0 off, 1 table, 2 JSON */
static char g_path[4096];       /* json:PATH */
static pid_t g_pid;             /* the process that read PRANGE_PROFILE */

static void at_exit(void)
{
    if (g_mode == 2) {
        /* A forked child that exits normally writes PATH.<pid>, not over its parent's file. */
        char path[sizeof g_path + 24];
        if (getpid() == g_pid) snprintf(path, sizeof path, "%s", g_path);
        else snprintf(path, sizeof path, "%s.%ld", g_path, (long)getpid());
        FILE *f = fopen(path, "w");
        if (!f || report(f, 1) != 0) prange__log("PRANGE_PROFILE: cannot write %s", path);
        if (f) fclose(f);
    } else if (g_mode == 1) {
        report(stderr, 0);
    }
}

/* A forked child reports its own calls only. */
static void on_fork_child(void)
{
    if (atomic_load_explicit(&prange__prof_flag, memory_order_relaxed) & PRANGE__PROF_RECORD) prange_profile_reset();
}

void prange__profile_init(const prange__state *st)
{
    const prange__opt_val *p = &st->opt[PRANGE__OPT_PROFILE];
    g_mode = (int)p->value;
    if (g_mode == 2 && p->text) snprintf(g_path, sizeof g_path, "%s", p->text);
    g_pid = getpid();
    if (g_mode) {
        g_tsc = prange__clock_tsc; /* an invariant TSC (clock.c) */
        g_ns0 = mono_ns();
        g_tsc0 = g_tsc ? ticks() : g_ns0;
        /* The library stays mapped to the end (-z nodelete): the handler cannot outlive it. */
        atexit(at_exit);
    }
    pthread_atfork(NULL, NULL, on_fork_child); /* recording may also be turned on later (tests) */
    int flag = (g_mode ? PRANGE__PROF_RECORD : 0) | (st->opt[PRANGE__OPT_VERBOSE].value >= 2 ? PRANGE__PROF_VERBOSE : 0);
    atomic_store_explicit(&prange__prof_flag, flag, memory_order_release);
}
