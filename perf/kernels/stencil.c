/*
 * stencil.c — 2-D kernels on an m x m grid, m = sqrt(n): a 5-point Jacobi sweep and a
 * tiled transpose.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../bench.h"

/* ---- 2-D 5-point Jacobi sweep on an m x m grid, m = sqrt(n) ------------------------ */

static int64_t side(int64_t n)
{
    int64_t m = (int64_t)sqrt((double)n);
    return m < 3 ? 3 : m;
}
static int64_t g_m;
static void jacobi_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    int64_t m = g_m;
    for (int64_t i = b; i < e; i++)
        for (int64_t j = 1; j < m - 1; j++)
            C[i * m + j] = 0.25 * (A[(i - 1) * m + j] + A[(i + 1) * m + j] + A[i * m + j - 1] + A[i * m + j + 1]);
}
static double jacobi_serial(int64_t n)
{
    g_m = side(n);
    jacobi_body(NULL, 1, g_m - 1);
    return 0;
}
static double jacobi_omp(int64_t n)
{
    g_m = side(n);
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t i = 1; i < g_m - 1; i++) jacobi_body(NULL, i, i + 1);
    return 0;
}
static double jacobi_prange(int64_t n)
{
    g_m = side(n);
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 0.5 * (double)g_m};
    prange_for_opts(1, g_m - 1, jacobi_body, NULL, &o);
    return 0;
}

/* ---- tiled transpose C = A^T on an m x m matrix ---------------------------------------- */

#define TILE 32
static void transpose_body(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    int64_t m = g_m;
    for (int64_t ti = b * TILE; ti < e * TILE && ti < m; ti += TILE)
        for (int64_t tj = 0; tj < m; tj += TILE)
            for (int64_t i = ti; i < ti + TILE && i < m; i++)
                for (int64_t j = tj; j < tj + TILE && j < m; j++) C[j * m + i] = A[i * m + j];
}
static int64_t tiles(int64_t n)
{
    g_m = side(n);
    return (g_m + TILE - 1) / TILE;
}
static double transpose_serial(int64_t n)
{
    transpose_body(NULL, 0, tiles(n));
    return 0;
}
static double transpose_omp(int64_t n)
{
    int64_t t = tiles(n);
#pragma omp parallel for schedule(static) num_threads(g_threads)
    for (int64_t k = 0; k < t; k++) transpose_body(NULL, k, k + 1);
    return 0;
}
static double transpose_prange(int64_t n)
{
    int64_t t = tiles(n);
    prange_opts o = {.struct_size = sizeof(prange_opts), .cost_ns = 1.0 * TILE * (double)g_m};
    prange_for_opts(0, t, transpose_body, NULL, &o);
    return 0;
}

static int64_t elements_square(int64_t n) { return side(n) * side(n); }

static const kernel stencil_kernels[] = {
    {.name = "jacobi", .bytes = 16, .check = CHECK_OUTPUT_EXACT, .elements = elements_square,
     .v = {V("serial", jacobi_serial), V("omp", jacobi_omp), V("prange", jacobi_prange)}},
    {.name = "transpose", .bytes = 16, .check = CHECK_OUTPUT_EXACT, .elements = elements_square,
     .v = {V("serial", transpose_serial), V("omp", transpose_omp), V("prange", transpose_prange)}},
};
BENCH_REGISTER(stencil_kernels)
