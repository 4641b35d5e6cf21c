/*
 * prange_mpi.c — libprange-mpi: reproducible distributed reductions (threads inside a rank
 * through prange_reduce with the exact accumulator's reducer, ranks through an MPI_Op that
 * adds accumulators), and the hybrid helpers (docs/mpi.md).
 */
#include <errno.h>
#include <hwloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "prange_mpi_lib.h"

/* ---- the reducer -------------------------------------------------------------------- */

static void acc_identity(void *rctx, void *acc, size_t size)
{
    (void)rctx;
    memset(acc, 0, size);
}

static void acc_combine(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx;
    (void)size;
    prange__acc_combine(acc, rhs);
}

static const prange_reducer reducer = {sizeof(prange_reducer), sizeof(prange_mpi_acc), acc_identity, acc_combine, NULL};

const prange_reducer *prange_mpi_reducer(void) { return &reducer; }

/* ---- the MPI datatype and operation, made once, freed at MPI_Finalize ----------------- */

static MPI_Datatype acc_type = MPI_DATATYPE_NULL;
static MPI_Op acc_op = MPI_OP_NULL;
static int mpi_ready; /* 1: made; -1: MPI refused */
static pthread_once_t mpi_once = PTHREAD_ONCE_INIT;

static void op_fn(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    prange_mpi_acc *a = inout;
    const prange_mpi_acc *b = in;
    for (int i = 0; i < *len; i++) prange__acc_combine(&a[i], &b[i]);
}

/* MPI_Finalize deletes MPI_COMM_SELF's attributes first: the standard hook to free ours. */
static int at_finalize(MPI_Comm comm, int key, void *value, void *extra)
{
    (void)comm, (void)key, (void)value, (void)extra;
    MPI_Op_free(&acc_op);
    MPI_Type_free(&acc_type);
    return MPI_SUCCESS;
}

static void make_mpi_objects(void)
{
    int key;
    if (MPI_Type_contiguous((int)sizeof(prange_mpi_acc), MPI_BYTE, &acc_type) != MPI_SUCCESS ||
        MPI_Type_commit(&acc_type) != MPI_SUCCESS ||
        MPI_Op_create(op_fn, 1 /* commutative: the additions are exact */, &acc_op) != MPI_SUCCESS ||
        MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, at_finalize, &key, NULL) != MPI_SUCCESS ||
        MPI_Comm_set_attr(MPI_COMM_SELF, key, NULL) != MPI_SUCCESS) {
        mpi_ready = -1;
        return;
    }
    mpi_ready = 1;
}

int prange_mpi_acc_allreduce(prange_mpi_acc *acc, MPI_Comm comm)
{
    if (!acc) return PRANGE_EINVAL;
    pthread_once(&mpi_once, make_mpi_objects);
    if (mpi_ready != 1) return PRANGE_EIO;
    prange__acc_normalise(acc);
    prange_mpi_acc out;
    if (MPI_Allreduce(acc, &out, 1, acc_type, acc_op, comm) != MPI_SUCCESS) return PRANGE_EIO;
    *acc = out;
    return 0;
}

/* ---- reductions ---------------------------------------------------------------------- */

int prange_mpi_reduce_f64(int64_t n_local, prange_reduce_fn body, void *ctx, MPI_Comm comm, double *result,
                          const prange_opts *opts)
{
    if (n_local < 0 || !body || !result) return PRANGE_EINVAL;
    prange_mpi_acc acc;
    /* Without options: blocks of 2^14 terms, so that the accumulators' identities and
     * combines (a few hundred operations each) cost little; the bits do not depend on it. */
    prange_opts big = PRANGE_OPTS_INIT;
    big.grain = 1 << 14;
    int rc = prange_reduce(0, n_local, &reducer, body, ctx, &acc, opts ? opts : &big);
    if (rc == PRANGE_EINVAL) return rc; /* before any communication (prange_mpi.h) */
    if (rc != 0) { /* take part anyway, so the other ranks do not wait: they get NaN */
        memset(&acc, 0, sizeof acc);
        acc.nan = 1;
    }
    int mrc = prange_mpi_acc_allreduce(&acc, comm);
    if (rc == 0 && mrc == 0) *result = prange_mpi_acc_round(&acc);
    return rc ? rc : mrc;
}

typedef struct {
    const double *x, *y;
    int square;
    double scale, scale2;
} terms;

static void terms_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    const terms *t = ctx;
    prange__acc_terms(acc, t->x + b, t->y ? t->y + b : NULL, e - b, t->square, t->scale, t->scale2);
}

int prange_mpi_sum_f64(const double *x, int64_t n_local, MPI_Comm comm, double *result, const prange_opts *opts)
{
    if (n_local > 0 && !x) return PRANGE_EINVAL;
    terms t = {x, NULL, 0, 1, 1};
    return prange_mpi_reduce_f64(n_local, terms_body, &t, comm, result, opts);
}

int prange_mpi_dot_f64(const double *x, const double *y, int64_t n_local, MPI_Comm comm, double *result,
                       const prange_opts *opts)
{
    if (n_local > 0 && (!x || !y)) return PRANGE_EINVAL;
    terms t = {x, y, 0, 1, 1};
    return prange_mpi_reduce_f64(n_local, terms_body, &t, comm, result, opts);
}

/* The largest |x[i]| as its bits (a NaN's are above +inf's): a maximum of int64_t. */
static void maxabs_body(void *ctx, int64_t b, int64_t e, void *acc)
{
    const double *x = ctx;
    int64_t m = *(int64_t *)acc;
    for (int64_t i = b; i < e; i++) {
        int64_t u;
        memcpy(&u, &x[i], sizeof u);
        u &= INT64_MAX;
        m = u > m ? u : m;
    }
    *(int64_t *)acc = m;
}

int prange_mpi_nrm2_f64(const double *x, int64_t n_local, MPI_Comm comm, double *result, const prange_opts *opts)
{
    if (n_local < 0 || (n_local > 0 && !x) || !result) return PRANGE_EINVAL;
    int64_t mine = 0, top;
    int rc = prange_reduce(0, n_local, prange_reducer_max_i64(), maxabs_body, (void *)x, &mine, opts);
    if (rc == PRANGE_EINVAL) return rc;
    if (rc) mine = INT64_MAX; /* a NaN for everyone (see prange_mpi_reduce_f64) */
    if (MPI_Allreduce(&mine, &top, 1, MPI_INT64_T, MPI_MAX, comm) != MPI_SUCCESS) return PRANGE_EIO;
    if (rc) return rc;
    double big;
    memcpy(&big, &top, sizeof big);
    if (isnan(big) || isinf(big) || big == 0) {
        /* Every rank took the same branch (top is global): no second collective. */
        *result = big;
        return 0;
    }
    /* big = f 2^E, f in [0.5, 1): scaled by 2^-E every element is below 1 and its square
     * neither overflows nor (for the large ones) underflows. -E runs from -1024 to 1074;
     * 2^-E in two exact factors when it is beyond the double range. */
    int e;
    (void)frexp(big, &e);
    double s1 = ldexp(1.0, -e > 1000 ? 1000 : -e), s2 = ldexp(1.0, -e > 1000 ? -e - 1000 : 0);
    terms t = {x, NULL, 1, s1, s2};
    double ss;
    rc = prange_mpi_reduce_f64(n_local, terms_body, &t, comm, &ss, opts);
    if (rc) return rc;
    *result = ldexp(sqrt(ss), e);
    return 0;
}

/* ---- hybrid helpers ------------------------------------------------------------------- */

static int cores_in(hwloc_topology_t t, hwloc_const_cpuset_t set)
{
    int n = 0;
    for (hwloc_obj_t o = NULL; (o = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_CORE, o)) != NULL;)
        n += hwloc_bitmap_intersects(o->cpuset, set);
    return n;
}

/* The cores of this process's CPU set (at least 1), as the core library counts them. */
static int my_cores(const cpu_set_t *mine)
{
    hwloc_topology_t t;
    int n = 0;
    if (hwloc_topology_init(&t) == 0) {
        hwloc_bitmap_t set = hwloc_bitmap_alloc();
        if (set && hwloc_topology_load(t) == 0) {
            for (int c = 0; c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, mine)) hwloc_bitmap_set(set, (unsigned)c);
            n = cores_in(t, set);
        }
        hwloc_bitmap_free(set);
        hwloc_topology_destroy(t);
    }
    if (n <= 0) n = CPU_COUNT(mine);
    return n > 0 ? n : 1;
}

int prange_mpi_init(MPI_Comm comm, int *threads)
{
    MPI_Comm node;
    int l, k, rc = 0;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return PRANGE_EIO;
    cpu_set_t mine, *all = NULL;
    CPU_ZERO(&mine);
    int have = sched_getaffinity(0, sizeof mine, &mine) == 0;
    if (MPI_Comm_rank(node, &l) != MPI_SUCCESS || MPI_Comm_size(node, &k) != MPI_SUCCESS ||
        !(all = malloc((size_t)k * sizeof *all)) ||
        MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, node) != MPI_SUCCESS)
        rc = PRANGE_EIO;
    if (rc == 0 && !have) rc = PRANGE_EIO;
    if (rc == 0) {
        /* The ranks bound to my set share it: contiguous shares in node-rank order, the
         * arithmetic of prange__split (and of sched/ranks.c's slices). */
        int sharers = 0, index = 0;
        for (int r = 0; r < k; r++) {
            if (!CPU_EQUAL(&all[r], &mine)) continue;
            if (r < l) index++;
            sharers++;
        }
        int cores = my_cores(&mine), q = cores / sharers, rem = cores % sharers;
        int n = q + (index < rem);
        if (n < 1) n = 1;
        /* An explicit PRANGE_NUM_THREADS stays the user's choice. */
        const char *env = getenv("PRANGE_NUM_THREADS");
        if (!(env && *env)) prange_set_num_threads(n);
        if (threads) *threads = prange_num_threads();
    }
    free(all);
    MPI_Comm_free(&node);
    return rc;
}

int prange_mpi_print_config(MPI_Comm comm, FILE *out)
{
    int rank, size, l = 0, k = 1, len, rc = 0;
    if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &size) != MPI_SUCCESS) return PRANGE_EIO;
    MPI_Comm node;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &l);
        MPI_Comm_size(node, &k);
        MPI_Comm_free(&node);
    }
    char host[MPI_MAX_PROCESSOR_NAME] = "?";
    int hl;
    MPI_Get_processor_name(host, &hl);
    /* This rank's text: a header line, then prange_print_config, in memory. */
    char *text = NULL;
    size_t tsize = 0;
    FILE *mem = open_memstream(&text, &tsize);
    if (mem) {
        fprintf(mem, "== rank %d of %d (host %s, node-local rank %d of %d)\n", rank, size, host, l, k);
        if (prange_print_config(mem) != 0) rc = PRANGE_EIO;
        if (fclose(mem) != 0) rc = PRANGE_EIO;
    } else {
        rc = PRANGE_ENOMEM;
    }
    len = text && tsize < (size_t)INT32_MAX ? (int)tsize : 0;
    /* Rank 0 makes room for the lengths, gathers them, makes room for the texts and says
     * whether they may come (each step known to all ranks): without room every rank sends
     * nothing and rank 0 reports ENOMEM. */
    int *lens = NULL, *offs = NULL, ok = 1;
    char *all = NULL;
    size_t total = 0;
    if (rank == 0) {
        lens = calloc((size_t)size, sizeof *lens);
        offs = calloc((size_t)size, sizeof *offs);
        ok = lens && offs;
    }
    if (MPI_Bcast(&ok, 1, MPI_INT, 0, comm) != MPI_SUCCESS ||
        (ok && MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, comm) != MPI_SUCCESS)) {
        free(lens), free(offs), free(text);
        return PRANGE_EIO;
    }
    if (rank == 0 && ok) {
        for (int r = 0; ok && r < size; r++) {
            offs[r] = (int)total;
            total += (size_t)lens[r];
            ok = total <= INT32_MAX;
        }
        ok = ok && (all = malloc(total + 1)) != NULL;
    }
    if (rank == 0 && !ok) rc = PRANGE_ENOMEM;
    if (MPI_Bcast(&ok, 1, MPI_INT, 0, comm) != MPI_SUCCESS ||
        (ok && MPI_Gatherv(text, len, MPI_CHAR, all, lens, offs, MPI_CHAR, 0, comm) != MPI_SUCCESS))
        rc = PRANGE_EIO;
    if (rank == 0 && ok && rc == 0) {
        FILE *f = out ? out : stderr;
        if (fwrite(all, 1, total, f) != total || fflush(f) != 0) rc = PRANGE_EIO;
    }
    free(all);
    free(lens);
    free(offs);
    free(text);
    return rc;
}
