/*
 * reducers.c — the built-in reducers: identity and combine for each accumulator type.
 * Integer sums and products wrap (computed in uint64_t), so overflow is defined.
 */
#include <math.h>
#include <string.h>

#include "prange_lib.h"

#define REDUCER(name, T, ident, expr)                                                        \
    static void name##_id(void *acc) { *(T *)acc = (ident); }                                \
    static void name##_cb(void *acc, const void *rhs)                                        \
    {                                                                                        \
        T a = *(T *)acc, b = *(const T *)rhs;                                                \
        *(T *)acc = (expr);                                                                  \
    }                                                                                        \
    const prange_reducer prange_reducer_##name = {sizeof(T), name##_id, name##_cb, NULL, NULL};

/* min/max for floating point propagate NaN: (a < b || isnan(a)) keeps a NaN on the left,
 * isnan(b) takes one from the right. */
#define FMIN(a, b) (isnan(a) ? (a) : isnan(b) ? (b) : ((b) < (a) ? (b) : (a)))
#define FMAX(a, b) (isnan(a) ? (a) : isnan(b) ? (b) : ((b) > (a) ? (b) : (a)))

REDUCER(sum_f64, double, 0.0, a + b)
REDUCER(sum_f32, float, 0.0f, a + b)
REDUCER(sum_i64, int64_t, 0, (int64_t)((uint64_t)a + (uint64_t)b))
REDUCER(prod_f64, double, 1.0, a * b)
REDUCER(prod_f32, float, 1.0f, a * b)
REDUCER(prod_i64, int64_t, 1, (int64_t)((uint64_t)a * (uint64_t)b))
REDUCER(min_f64, double, INFINITY, FMIN(a, b))
REDUCER(max_f64, double, -INFINITY, FMAX(a, b))
REDUCER(min_i64, int64_t, INT64_MAX, b < a ? b : a)
REDUCER(max_i64, int64_t, INT64_MIN, b > a ? b : a)
REDUCER(and_u64, uint64_t, ~UINT64_C(0), a & b)
REDUCER(or_u64, uint64_t, 0, a | b)
REDUCER(xor_u64, uint64_t, 0, a ^ b)
REDUCER(land, int, 1, (a != 0) & (b != 0))
REDUCER(lor, int, 0, (a != 0) | (b != 0))

/* ---- min/max with index ------------------------------------------------------------
 * The identity has index INT64_MAX. Order: a NaN beats every number (first NaN wins);
 * otherwise the smaller (minloc) / larger (maxloc) value; ties go to the lower index. */

static int loc_take_f64(prange_loc_f64 a, prange_loc_f64 b, int want_max)
{
    if (b.index == INT64_MAX) return 0;
    if (a.index == INT64_MAX) return 1;
    int an = isnan(a.value), bn = isnan(b.value);
    if (an || bn) return an != bn ? bn : b.index < a.index;
    if (b.value == a.value) return b.index < a.index;
    return want_max ? b.value > a.value : b.value < a.value;
}

static void minloc_f64_id(void *acc) { *(prange_loc_f64 *)acc = (prange_loc_f64){INFINITY, INT64_MAX}; }
static void maxloc_f64_id(void *acc) { *(prange_loc_f64 *)acc = (prange_loc_f64){-INFINITY, INT64_MAX}; }
static void minloc_f64_cb(void *acc, const void *rhs)
{
    prange_loc_f64 *a = acc, b = *(const prange_loc_f64 *)rhs;
    if (loc_take_f64(*a, b, 0)) *a = b;
}
static void maxloc_f64_cb(void *acc, const void *rhs)
{
    prange_loc_f64 *a = acc, b = *(const prange_loc_f64 *)rhs;
    if (loc_take_f64(*a, b, 1)) *a = b;
}
const prange_reducer prange_reducer_minloc_f64 = {sizeof(prange_loc_f64), minloc_f64_id, minloc_f64_cb, NULL, NULL};
const prange_reducer prange_reducer_maxloc_f64 = {sizeof(prange_loc_f64), maxloc_f64_id, maxloc_f64_cb, NULL, NULL};

static int loc_take_i64(prange_loc_i64 a, prange_loc_i64 b, int want_max)
{
    if (b.index == INT64_MAX) return 0;
    if (a.index == INT64_MAX) return 1;
    if (b.value == a.value) return b.index < a.index;
    return want_max ? b.value > a.value : b.value < a.value;
}
static void minloc_i64_id(void *acc) { *(prange_loc_i64 *)acc = (prange_loc_i64){INT64_MAX, INT64_MAX}; }
static void maxloc_i64_id(void *acc) { *(prange_loc_i64 *)acc = (prange_loc_i64){INT64_MIN, INT64_MAX}; }
static void minloc_i64_cb(void *acc, const void *rhs)
{
    prange_loc_i64 *a = acc, b = *(const prange_loc_i64 *)rhs;
    if (loc_take_i64(*a, b, 0)) *a = b;
}
static void maxloc_i64_cb(void *acc, const void *rhs)
{
    prange_loc_i64 *a = acc, b = *(const prange_loc_i64 *)rhs;
    if (loc_take_i64(*a, b, 1)) *a = b;
}
const prange_reducer prange_reducer_minloc_i64 = {sizeof(prange_loc_i64), minloc_i64_id, minloc_i64_cb, NULL, NULL};
const prange_reducer prange_reducer_maxloc_i64 = {sizeof(prange_loc_i64), maxloc_i64_id, maxloc_i64_cb, NULL, NULL};

/* ---- element-wise array sums ------------------------------------------------------- */

static void array_zero(void *acc, size_t size) { memset(acc, 0, size); }
static void array_add_f64(void *acc, const void *rhs, size_t size)
{
    double *a = acc;
    const double *b = rhs;
    for (size_t i = 0, n = size / sizeof(double); i < n; i++) a[i] += b[i];
}
static void array_add_i64(void *acc, const void *rhs, size_t size)
{
    uint64_t *a = acc;
    const uint64_t *b = rhs;
    for (size_t i = 0, n = size / sizeof(uint64_t); i < n; i++) a[i] += b[i];
}

static prange_reducer array_reducer(size_t count, void (*add)(void *, const void *, size_t))
{
    prange_reducer r = {0, NULL, NULL, array_zero, add};
    if (count > 0 && count <= ((size_t)1 << 30) / 8) r.size = count * 8;
    return r;
}

prange_reducer prange_reducer_array_sum_f64(size_t count) { return array_reducer(count, array_add_f64); }
prange_reducer prange_reducer_array_sum_i64(size_t count) { return array_reducer(count, array_add_i64); }
