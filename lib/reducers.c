/*
 * reducers.c — the built-in reducers: identity and combine for each accumulator type,
 * each reached through an accessor function (no exported data: objects exported from a
 * shared library get copy-relocated into executables, which freezes their size).
 * Integer sums and products wrap (computed in uint64_t), so overflow is defined.
 */
#include <math.h>
#include <string.h>

#include "prange_lib.h"

int prange__reducer_load(const prange_reducer *r, size_t max_size, prange_reducer *out)
{
    if (!r || PRANGE__STRUCT_IN(out, r, prange_reducer, acc_size) != 0) return PRANGE_EINVAL;
    if (out->acc_size == 0 || !out->identity || !out->combine) return PRANGE_EINVAL;
    return out->acc_size > max_size ? PRANGE_ERANGE : 0;
}

#define BUILTIN(name, T, id_fn, cb_fn)                                                       \
    const prange_reducer *prange_reducer_##name(void)                                        \
    {                                                                                        \
        static const prange_reducer r = {sizeof(prange_reducer), sizeof(T), id_fn, cb_fn, NULL}; \
        return &r;                                                                           \
    }

#define REDUCER(name, T, ident, expr)                                                        \
    static void name##_id(void *rctx, void *acc, size_t size)                                \
    {                                                                                        \
        (void)rctx, (void)size;                                                              \
        *(T *)acc = (ident);                                                                 \
    }                                                                                        \
    static void name##_cb(void *rctx, void *acc, const void *rhs, size_t size)               \
    {                                                                                        \
        (void)rctx, (void)size;                                                              \
        T a = *(T *)acc, b = *(const T *)rhs;                                                \
        *(T *)acc = (expr);                                                                  \
    }                                                                                        \
    BUILTIN(name, T, name##_id, name##_cb)

/* min/max for floating point propagate NaN: (a < b || isnan(a)) keeps a NaN on the left,
 * isnan(b) takes one from the right. */
#define FMIN(a, b) (isnan(a) ? (a) : isnan(b) ? (b) : ((b) < (a) ? (b) : (a)))
#define FMAX(a, b) (isnan(a) ? (a) : isnan(b) ? (b) : ((b) > (a) ? (b) : (a)))

/* The double sum by name: prange__r_identity and prange__r_combine (prange_lib.h) run it
 * inline when a reducer's functions are these; both must stay exactly what they do. */
void prange__sum_f64_id(void *rctx, void *acc, size_t size)
{
    (void)rctx, (void)size;
    *(double *)acc = 0.0;
}
void prange__sum_f64_cb(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx, (void)size;
    double a = *(double *)acc, b = *(const double *)rhs;
    *(double *)acc = a + b;
}
BUILTIN(sum_f64, double, prange__sum_f64_id, prange__sum_f64_cb)
REDUCER(sum_f32, float, 0.0f, a + b)
REDUCER(sum_i64, int64_t, 0, (int64_t)((uint64_t)a + (uint64_t)b))
REDUCER(prod_f64, double, 1.0, a * b)
REDUCER(prod_f32, float, 1.0f, a * b)
REDUCER(prod_i64, int64_t, 1, (int64_t)((uint64_t)a * (uint64_t)b))
REDUCER(min_f64, double, INFINITY, FMIN(a, b))
REDUCER(max_f64, double, -INFINITY, FMAX(a, b))
REDUCER(min_f32, float, INFINITY, FMIN(a, b))
REDUCER(max_f32, float, -INFINITY, FMAX(a, b))
REDUCER(min_i64, int64_t, INT64_MAX, b < a ? b : a)
REDUCER(max_i64, int64_t, INT64_MIN, b > a ? b : a)
REDUCER(and_u64, uint64_t, ~UINT64_C(0), a & b)
REDUCER(or_u64, uint64_t, 0, a | b)
REDUCER(xor_u64, uint64_t, 0, a ^ b)
REDUCER(land, int, 1, (a != 0) & (b != 0))
REDUCER(lor, int, 0, (a != 0) | (b != 0))

/* ---- min/max with index ------------------------------------------------------------
 * The identity has index INT64_MAX. Order: a NaN beats every number (first NaN wins);
 * otherwise the smaller (minloc) / larger (maxloc) value; ties go to the lower index.
 * One template for every value type (ISNAN is 0 for integers). */

#define ISNAN_F(v) isnan(v)
#define ISNAN_I(v) 0
#define LOC_REDUCERS(sfx, LOC, VT, VMIN, VMAX, ISNAN)                                        \
    static int loc_take_##sfx(LOC a, LOC b, int want_max)                                    \
    {                                                                                        \
        if (b.index == INT64_MAX) return 0;                                                  \
        if (a.index == INT64_MAX) return 1;                                                  \
        int an = ISNAN(a.value), bn = ISNAN(b.value);                                        \
        if (an || bn) return an != bn ? bn : b.index < a.index;                              \
        if (b.value == a.value) return b.index < a.index;                                    \
        return want_max ? b.value > a.value : b.value < a.value;                             \
    }                                                                                        \
    static void minloc_##sfx##_id(void *rctx, void *acc, size_t size)                        \
    {                                                                                        \
        (void)rctx, (void)size;                                                              \
        *(LOC *)acc = (LOC){(VT)(VMAX), INT64_MAX};                                          \
    }                                                                                        \
    static void maxloc_##sfx##_id(void *rctx, void *acc, size_t size)                        \
    {                                                                                        \
        (void)rctx, (void)size;                                                              \
        *(LOC *)acc = (LOC){(VT)(VMIN), INT64_MAX};                                          \
    }                                                                                        \
    static void minloc_##sfx##_cb(void *rctx, void *acc, const void *rhs, size_t size)       \
    {                                                                                        \
        (void)rctx, (void)size;                                                              \
        LOC *a = acc, b = *(const LOC *)rhs;                                                 \
        if (loc_take_##sfx(*a, b, 0)) *a = b;                                                \
    }                                                                                        \
    static void maxloc_##sfx##_cb(void *rctx, void *acc, const void *rhs, size_t size)       \
    {                                                                                        \
        (void)rctx, (void)size;                                                              \
        LOC *a = acc, b = *(const LOC *)rhs;                                                 \
        if (loc_take_##sfx(*a, b, 1)) *a = b;                                                \
    }                                                                                        \
    BUILTIN(minloc_##sfx, LOC, minloc_##sfx##_id, minloc_##sfx##_cb)                         \
    BUILTIN(maxloc_##sfx, LOC, maxloc_##sfx##_id, maxloc_##sfx##_cb)

LOC_REDUCERS(f64, prange_loc_f64, double, -INFINITY, INFINITY, ISNAN_F)
LOC_REDUCERS(f32, prange_loc_f32, float, -INFINITY, INFINITY, ISNAN_F)
LOC_REDUCERS(i64, prange_loc_i64, int64_t, INT64_MIN, INT64_MAX, ISNAN_I)

/* ---- element-wise array sums: the element count comes from acc_size ------------------ */

static void array_zero(void *rctx, void *acc, size_t size)
{
    (void)rctx;
    memset(acc, 0, size);
}
static void array_add_f64(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx;
    double *a = acc;
    const double *b = rhs;
    for (size_t i = 0, n = size / sizeof(double); i < n; i++) a[i] += b[i];
}
static void array_add_i64(void *rctx, void *acc, const void *rhs, size_t size)
{
    (void)rctx;
    uint64_t *a = acc;
    const uint64_t *b = rhs;
    for (size_t i = 0, n = size / sizeof(uint64_t); i < n; i++) a[i] += b[i];
}

static prange_reducer array_reducer(size_t count, void (*add)(void *, void *, const void *, size_t))
{
    prange_reducer r = PRANGE_REDUCER_INIT;
    r.identity = array_zero;
    r.combine = add;
    if (count > 0 && count <= ((size_t)1 << 30) / 8) r.acc_size = count * 8;
    return r;
}

prange_reducer prange_reducer_array_sum_f64(size_t count) { return array_reducer(count, array_add_f64); }
prange_reducer prange_reducer_array_sum_i64(size_t count) { return array_reducer(count, array_add_i64); }
