/*
 * Benchmark of the sparse-dense product Y += A X (A n x n CSR, X and Y n x d row-major).
 *
 *   work    = 2 nnz d flops            (the useful sparse flops, used for every variant,
 *                                      including dense sgemm, which really does 2 n^2 d)
 *   traffic = 8 (n+1) + w nnz + 4 nnz + 4 n d + 8 n d bytes
 *             (row pointers, w-byte column indices, values, X rows read once, Y read and
 *             written once: a lower bound, since gathered X rows are re-read per edge)
 *   GFLOP/s = work / t,  GB/s = traffic / t,  t = median time of one call
 *
 * Graphs: n nodes, 5 n random node pairs (seeded xoshiro256**), symmetrised, duplicates and
 * self-loops dropped (average degree ~10), random weights in [0.5, 1.5); X and the initial Y
 * uniform in [-1, 1). Cases whose X + Y exceed ~2 GB are skipped.
 *
 * Variants:
 *   lib           gp_csr_spmm, the library's kernel (int64 column indices)
 *   lib-i32       a copy of the library's kernel reading int32 column indices (AVX2 or
 *                 4-float vectors, as the library picks for the CPU)
 *   plain         the plain loop (innermost over d; the library's first kernel), int64
 *   grb           GraphBLAS GrB_mxm(Y, NULL, GrB_PLUS_FP32, PLUS_TIMES_FP32, A, X): A built
 *                 once from malloc'd copies, X (already copied to a malloc'd buffer) and Y
 *                 packed FullR, Y accumulated in place, both unpacked: no copy timed
 *   grb+copy      the same plus the memcpy of X into the malloc'd buffer, timed
 *   sgemm         dense cblas_sgemm on the densified A (n <= 1000 only)
 *   with --candidates also:
 *   lib-copy      the copy of the library's kernel with int64 indices (control: same as lib)
 *   lib-v4        that copy with 4-float vectors only (the kernel used without AVX2)
 *   plain-i32     the plain loop with int32 column indices
 *
 * Check: each variant runs once from the same initial Y and is compared with a double
 * precision CSR reference: err = max |y - ref| / max |ref|. Kernel copies that sum in the
 * library's order are also compared bit for bit with lib; lib with 2 threads is compared bit
 * for bit with lib with 1 thread.
 *
 * Timing: calls are batched so one sample lasts >= 1 ms; the variants take turns, one sample
 * each per round, so load from other processes spreads over all of them, in a new random
 * order every round (a fixed order made a variant run always after the same one: a kernel
 * following the one that copies X into GraphBLAS's buffer found the caches cold, one
 * following the same kernel with other indices found them warm); >= 5 rounds and until the
 * slowest variant has run 0.3 s (at most 101 rounds). Median and minimum reported.
 *
 * Usage: bench_spmm [--min-n N] [--max-n N] [--threads T] [--candidates] [out.md]
 * prints a markdown table on stdout and, if out.md is given, writes it there too.
 * bench_spmm --check only verifies gp_csr_spmm (registered as the test 'spmm_kernel'): against
 * a double reference over many shapes and widths, and bit-identical for 1, 2 and 3 threads.
 */
#define _POSIX_C_SOURCE 200809L /* setenv; clock_gettime */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <GraphBLAS.h>
#include <cblas.h>

#include <graphpool/graphpool.h>

#define MAX_DENSE_BYTES 2e9 /* skip cases whose X + Y exceed ~2 GB */
#define PAR_MIN_WORK ((int64_t)1 << 20) /* lib/spmm.c's SPMM_PAR_MIN_WORK */
#define MAX_ROUNDS 101

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------- */
/* A copy of lib/spmm.c's row kernels (keep in sync), generic in the column index width.     */

typedef float v4f __attribute__((vector_size(16)));
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2 1
typedef float v8f __attribute__((vector_size(32)));
#endif

static inline __attribute__((always_inline)) int64_t col_at(const void *idx, bool wide, int64_t k)
{
    return wide ? ((const int64_t *)idx)[k] : (int64_t)((const int32_t *)idx)[k];
}

#define LANES(VT) ((int)(sizeof(VT) / sizeof(float)))
/* -O2 does not unroll the loops over a block's vectors, which left acc[] on the stack. */
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL_Q _Pragma("GCC unroll 4")
#else
#define UNROLL_Q
#endif
#define ACCUMULATE_BLOCK(VT, NV)                                                               \
    do {                                                                                       \
        VT acc[NV];                                                                            \
        UNROLL_Q for (int q = 0; q < (NV); q++)                                                \
            memcpy(&acc[q], yi + c0 + q * LANES(VT), sizeof(VT));                              \
        for (int64_t k = k0; k < k1; k++) {                                                    \
            const float *xj = x + col_at(idx, wide, k) * d + c0;                               \
            UNROLL_Q for (int q = 0; q < (NV); q++) {                                          \
                VT xv;                                                                         \
                memcpy(&xv, xj + q * LANES(VT), sizeof xv);                                    \
                acc[q] += val ? xv * val[k] : xv;                                              \
            }                                                                                  \
        }                                                                                      \
        UNROLL_Q for (int q = 0; q < (NV); q++)                                                \
            memcpy(yi + c0 + q * LANES(VT), &acc[q], sizeof(VT));                              \
    } while (0)

static inline __attribute__((always_inline)) void
accumulate_tail(float *restrict yi, const void *restrict idx, bool wide,
                const float *restrict val, const float *restrict x, int64_t d, int64_t k0,
                int64_t k1, int64_t c0)
{
    int64_t w = d - c0;
    float acc[8];
    for (int64_t t = 0; t < w; t++) acc[t] = yi[c0 + t];
    for (int64_t k = k0; k < k1; k++) {
        const float *xj = x + col_at(idx, wide, k) * d + c0;
        float a = val ? val[k] : 1.0f;
        for (int64_t t = 0; t < w; t++) acc[t] += a * xj[t];
    }
    for (int64_t t = 0; t < w; t++) yi[c0 + t] = acc[t];
}

#define DEFINE_BLOCKED_ROWS(NAME, ATTR, VT, WIDE)                                              \
    ATTR static void NAME(float *restrict y, const int64_t *restrict ptr,                      \
                          const void *restrict idx, const float *restrict val,                 \
                          const float *restrict x, int64_t d, int64_t r0, int64_t r1)          \
    {                                                                                          \
        const bool wide = (WIDE);                                                              \
        for (int64_t i = r0; i < r1; i++) {                                                    \
            int64_t k0 = ptr[i], k1 = ptr[i + 1];                                              \
            if (k0 == k1) continue;                                                            \
            float *yi = y + i * d;                                                             \
            int64_t c0 = 0;                                                                    \
            for (; c0 + 16 <= d; c0 += 16) ACCUMULATE_BLOCK(VT, 16 / LANES(VT));               \
            if (c0 + 8 <= d) {                                                                 \
                ACCUMULATE_BLOCK(VT, 8 / LANES(VT));                                           \
                c0 += 8;                                                                       \
            }                                                                                  \
            if (c0 < d) accumulate_tail(yi, idx, wide, val, x, d, k0, k1, c0);                 \
        }                                                                                      \
    }

DEFINE_BLOCKED_ROWS(blocked_i64_v4, , v4f, true)
DEFINE_BLOCKED_ROWS(blocked_i32_v4, , v4f, false)
#ifdef HAVE_AVX2
DEFINE_BLOCKED_ROWS(blocked_i64_avx2, __attribute__((target("avx2"))), v8f, true)
DEFINE_BLOCKED_ROWS(blocked_i32_avx2, __attribute__((target("avx2"))), v8f, false)
#define PICK(avx2_kernel, v4_kernel) (c->avx2 ? (avx2_kernel) : (v4_kernel))
#else
#define PICK(avx2_kernel, v4_kernel) (v4_kernel)
#endif

/* The plain loop: y_i += a_k x_idx[k] with the innermost loop over the d columns. */
static inline __attribute__((always_inline)) void
plain_rows(float *y, const int64_t *ptr, const void *idx, bool wide, const float *val,
           const float *x, int64_t d, int64_t r0, int64_t r1)
{
    for (int64_t i = r0; i < r1; i++) {
        float *yi = y + i * d;
        for (int64_t k = ptr[i]; k < ptr[i + 1]; k++) {
            const float *xj = x + col_at(idx, wide, k) * d;
            float a = val ? val[k] : 1.0f;
            for (int64_t c = 0; c < d; c++) yi[c] += a * xj[c];
        }
    }
}

typedef void (*rows_fn)(float *y, const int64_t *ptr, const void *idx, const float *val,
                        const float *x, int64_t d, int64_t r0, int64_t r1);

static void plain_i64(float *y, const int64_t *ptr, const void *idx, const float *val,
                      const float *x, int64_t d, int64_t r0, int64_t r1)
{
    plain_rows(y, ptr, idx, true, val, x, d, r0, r1);
}
static void plain_i32(float *y, const int64_t *ptr, const void *idx, const float *val,
                      const float *x, int64_t d, int64_t r0, int64_t r1)
{
    plain_rows(y, ptr, idx, false, val, x, d, r0, r1);
}

static int64_t split_row(const int64_t *ptr, int64_t rows, int64_t target)
{
    int64_t lo = 0, hi = rows;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ptr[mid] + mid < target) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* The library's threading: nt parts of about equal nnz + rows. */
static void run_rows(rows_fn fn, float *y, const gp_csr *a, const void *idx, const float *x,
                     int64_t d, int nt)
{
    int64_t rows = a->rows, total = a->nnz + rows;
    if (nt <= 1 || a->nnz * d < PAR_MIN_WORK || rows < 2) {
        fn(y, a->ptr, idx, a->val, x, d, 0, rows);
        return;
    }
    if (nt > rows) nt = (int)rows;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int p = 0; p < nt; p++)
        fn(y, a->ptr, idx, a->val, x, d, split_row(a->ptr, rows, total * p / nt),
           split_row(a->ptr, rows, total * (p + 1) / nt));
}

/* ---------------------------------------------------------------------------------------- */

typedef struct bench_ctx {
    const gp_csr *a;
    int32_t *idx32;
    const float *x; /* n x d input (bench memory) */
    float *xbuf;    /* malloc'd copy of X that GraphBLAS packs */
    float *adense;  /* n x n dense A for n <= 1000, else NULL */
    GrB_Matrix ga, gx, gy;
    int64_t n, d;
    int nt;
    bool avx2; /* the CPU has AVX2: the library uses its AVX2 kernel */
} bench_ctx;

typedef int (*variant_fn)(bench_ctx *c, float *y);

static int v_lib(bench_ctx *c, float *y)
{
    gp_csr_spmm(y, c->a, NULL, c->x, c->d);
    return 0;
}
static int v_lib_i32(bench_ctx *c, float *y)
{
    run_rows(PICK(blocked_i32_avx2, blocked_i32_v4), y, c->a, c->idx32, c->x, c->d, c->nt);
    return 0;
}
static int v_lib_copy(bench_ctx *c, float *y)
{
    run_rows(PICK(blocked_i64_avx2, blocked_i64_v4), y, c->a, c->a->idx, c->x, c->d, c->nt);
    return 0;
}
static int v_lib_v4(bench_ctx *c, float *y)
{
    run_rows(blocked_i64_v4, y, c->a, c->a->idx, c->x, c->d, c->nt);
    return 0;
}
static int v_plain(bench_ctx *c, float *y)
{
    run_rows(plain_i64, y, c->a, c->a->idx, c->x, c->d, c->nt);
    return 0;
}
static int v_plain_i32(bench_ctx *c, float *y)
{
    run_rows(plain_i32, y, c->a, c->idx32, c->x, c->d, c->nt);
    return 0;
}

/* Y += A X with GraphBLAS: X and Y are packed FullR (O(1), no copy); with the accumulator
 * GrB_PLUS_FP32 GraphBLAS updates Y in place; then both are unpacked. Every GrB_Info is
 * checked; the arrays handed back must be the very same ones. */
static int grb_mxm(bench_ctx *c, float *y)
{
    GrB_Index bytes = (GrB_Index)(c->n * c->d) * sizeof(float), size;
    void *xp = c->xbuf, *yp = y;
    bool iso = false;
    GrB_Info info = GxB_Matrix_pack_FullR(c->gx, &xp, bytes, false, NULL);
    if (info == GrB_SUCCESS) info = GxB_Matrix_pack_FullR(c->gy, &yp, bytes, false, NULL);
    if (info == GrB_SUCCESS)
        info = GrB_mxm(c->gy, NULL, GrB_PLUS_FP32, GrB_PLUS_TIMES_SEMIRING_FP32, c->ga, c->gx,
                       NULL);
    if (info == GrB_SUCCESS) info = GxB_Matrix_unpack_FullR(c->gy, &yp, &size, &iso, NULL);
    if (info == GrB_SUCCESS) info = GxB_Matrix_unpack_FullR(c->gx, &xp, &size, &iso, NULL);
    if (info != GrB_SUCCESS) return (int)info;
    return (yp == y && xp == c->xbuf && !iso) ? 0 : 1000;
}

static int v_grb(bench_ctx *c, float *y) { return grb_mxm(c, y); }

static int v_grb_copy(bench_ctx *c, float *y)
{
    memcpy(c->xbuf, c->x, (size_t)(c->n * c->d) * sizeof(float));
    return grb_mxm(c, y);
}

static int v_sgemm(bench_ctx *c, float *y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)c->n, (blasint)c->d,
                (blasint)c->n, 1.0f, c->adense, (blasint)c->n, c->x, (blasint)c->d, 1.0f, y,
                (blasint)c->d);
    return 0;
}

enum { NEEDS_NOTHING, NEEDS_DENSE, NEEDS_GRB };

typedef struct variant {
    const char *name;
    variant_fn fn;
    int index_bytes; /* for the traffic estimate; 0: dense (no GB/s) */
    int needs;
    bool candidate;  /* only with --candidates */
    bool lib_order;  /* sums in the library's order: must match lib bit for bit */
} variant;

static const variant variants[] = {
    {"lib", v_lib, 8, NEEDS_NOTHING, false, true},
    {"lib-i32", v_lib_i32, 4, NEEDS_NOTHING, false, true},
    {"plain", v_plain, 8, NEEDS_NOTHING, false, false},
    {"grb", v_grb, 8, NEEDS_GRB, false, false},
    {"grb+copy", v_grb_copy, 8, NEEDS_GRB, false, false},
    {"sgemm", v_sgemm, 0, NEEDS_DENSE, false, false},
    {"lib-copy", v_lib_copy, 8, NEEDS_NOTHING, true, true},
    {"lib-v4", v_lib_v4, 8, NEEDS_NOTHING, true, true},
    {"plain-i32", v_plain_i32, 4, NEEDS_NOTHING, true, false},
};
enum { NVARIANTS = sizeof variants / sizeof variants[0] };

typedef struct timing {
    long batch;
    double samples[MAX_ROUNDS];
    int count;
} timing;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts the samples; returns the median. */
static double median_of(timing *t)
{
    qsort(t->samples, (size_t)t->count, sizeof(double), cmp_double);
    int n = t->count;
    return n % 2 ? t->samples[n / 2] : 0.5 * (t->samples[n / 2 - 1] + t->samples[n / 2]);
}

static int time_sample(const variant *v, bench_ctx *c, float *y, timing *t)
{
    int status = 0;
    double s0 = now_seconds();
    for (long b = 0; b < t->batch && !status; b++) status = v->fn(c, y);
    t->samples[t->count++] = (now_seconds() - s0) / (double)t->batch;
    return status;
}

static gp_graph *random_graph(int64_t n, uint64_t seed)
{
    int64_t m = 5 * n;
    int64_t *src = malloc((size_t)m * sizeof *src), *dst = malloc((size_t)m * sizeof *dst);
    float *w = malloc((size_t)m * sizeof *w);
    gp_graph *g = NULL;
    if (src && dst && w) {
        gp_rng rng;
        gp_rng_seed(&rng, seed);
        for (int64_t k = 0; k < m; k++) {
            src[k] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
            dst[k] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
            w[k] = 0.5f + gp_rng_uniform(&rng);
        }
        if (gp_graph_from_edges(&g, n, m, src, dst, w,
                                GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES |
                                    GP_EDGES_DROP_SELF_LOOPS) != GP_OK)
            fprintf(stderr, "graph: %s\n", gp_last_error());
    }
    free(src);
    free(dst);
    free(w);
    return g;
}

/* ref = y0 + A x in double. */
static void reference(double *ref, const float *y0, const gp_csr *a, const float *x, int64_t d)
{
    for (int64_t i = 0; i < a->rows; i++) {
        double *ri = ref + i * d;
        for (int64_t c = 0; c < d; c++) ri[c] = y0[i * d + c];
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) {
            const float *xj = x + a->idx[k] * d;
            double v = a->val ? a->val[k] : 1.0;
            for (int64_t c = 0; c < d; c++) ri[c] += v * xj[c];
        }
    }
}

static double rel_error(const float *y, const double *ref, size_t count)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < count; i++) {
        double e = fabs((double)y[i] - ref[i]);
        if (e > num) num = e;
        if (fabs(ref[i]) > den) den = fabs(ref[i]);
    }
    return den > 0 ? num / den : num;
}

typedef struct printer {
    FILE *out[2];
} printer;

static void emit(printer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(printer *p, const char *fmt, ...)
{
    for (int i = 0; i < 2; i++) {
        if (!p->out[i]) continue;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(p->out[i], fmt, ap);
        va_end(ap);
        fflush(p->out[i]);
    }
}

/* The load average (other processes compete for the cores), for the record. */
static void emit_load(printer *p, const char *when)
{
    char buf[64] = "unknown";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) strcpy(buf, "unknown");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    emit(p, "Load average (/proc/loadavg) %s: %s\n\n", when, buf);
}


typedef struct case_data {
    gp_graph *g;
    float *x, *y0, *y, *y_lib, *y_lib1;
    double *ref;
    bench_ctx c;
    bool grb_ok;
} case_data;

static void case_free(case_data *cd)
{
    GrB_free(&cd->c.ga);
    GrB_free(&cd->c.gx);
    GrB_free(&cd->c.gy);
    gp_free(cd->c.adense);
    free(cd->x);
    free(cd->y0);
    free(cd->y);
    free(cd->y_lib);
    free(cd->y_lib1);
    free(cd->ref);
    free(cd->c.xbuf);
    free(cd->c.idx32);
    gp_graph_free(&cd->g);
}

/* Graph, inputs, reference, GraphBLAS copy of A. */
static int case_setup(case_data *cd, int64_t n, int64_t d)
{
    memset(cd, 0, sizeof *cd);
    cd->g = random_graph(n, 1000 + (uint64_t)n);
    if (!cd->g) return -1;
    const gp_csr *a = &cd->g->adj;
    size_t xy = (size_t)(n * d);
    bench_ctx *c = &cd->c;
    c->a = a;
    c->n = n;
    c->d = d;
#ifdef HAVE_AVX2
    c->avx2 = __builtin_cpu_supports("avx2");
#endif
    cd->x = malloc(xy * sizeof(float));
    cd->y0 = malloc(xy * sizeof(float));
    cd->y = malloc(xy * sizeof(float)); /* malloc'd with its exact size: GraphBLAS packs it */
    cd->y_lib = malloc(xy * sizeof(float));
    cd->y_lib1 = malloc(xy * sizeof(float));
    cd->ref = malloc(xy * sizeof(double));
    c->xbuf = malloc(xy * sizeof(float));
    c->idx32 = malloc((size_t)a->nnz * sizeof(int32_t));
    if (!cd->x || !cd->y0 || !cd->y || !cd->y_lib || !cd->y_lib1 || !cd->ref || !c->xbuf ||
        !c->idx32)
        return -1;
    gp_rng rng;
    gp_rng_seed(&rng, 7 + (uint64_t)(n * 1000 + d));
    for (size_t i = 0; i < xy; i++) cd->x[i] = 2.0f * gp_rng_uniform(&rng) - 1.0f;
    for (size_t i = 0; i < xy; i++) cd->y0[i] = 2.0f * gp_rng_uniform(&rng) - 1.0f;
    for (int64_t k = 0; k < a->nnz; k++) c->idx32[k] = (int32_t)a->idx[k];
    memcpy(c->xbuf, cd->x, xy * sizeof(float));
    c->x = cd->x;
    reference(cd->ref, cd->y0, a, cd->x, d);
    if (n <= 1000 && gp_csr_to_dense(&c->adense, a) != GP_OK) return -1;

    /* A for GraphBLAS: malloc'd copies packed as CSR (GrB_Index is uint64_t, like int64). */
    GrB_Index *ap = malloc((size_t)(n + 1) * sizeof *ap);
    GrB_Index *aj = malloc((size_t)a->nnz * sizeof *aj);
    float *ax = malloc((size_t)a->nnz * sizeof *ax);
    if (ap && aj && ax) {
        memcpy(ap, a->ptr, (size_t)(n + 1) * sizeof *ap);
        memcpy(aj, a->idx, (size_t)a->nnz * sizeof *aj);
        memcpy(ax, a->val, (size_t)a->nnz * sizeof *ax);
        cd->grb_ok =
            GrB_Matrix_new(&c->ga, GrB_FP32, (GrB_Index)n, (GrB_Index)n) == GrB_SUCCESS &&
            GxB_Matrix_pack_CSR(c->ga, &ap, &aj, (void **)&ax, (GrB_Index)(n + 1) * sizeof *ap,
                                (GrB_Index)a->nnz * sizeof *aj, (GrB_Index)a->nnz * sizeof *ax,
                                false, false, NULL) == GrB_SUCCESS &&
            GrB_Matrix_new(&c->gx, GrB_FP32, (GrB_Index)n, (GrB_Index)d) == GrB_SUCCESS &&
            GrB_Matrix_new(&c->gy, GrB_FP32, (GrB_Index)n, (GrB_Index)d) == GrB_SUCCESS;
    }
    if (!cd->grb_ok) fprintf(stderr, "GraphBLAS set-up failed: GraphBLAS variants skipped\n");
    free(ap); /* all three are NULL after a successful pack */
    free(aj);
    free(ax);
    return 0;
}

static int run_case(printer *p, int64_t n, int64_t d, int max_threads, bool candidates)
{
    double dense_bytes = 2.0 * (double)n * (double)d * sizeof(float);
    if (dense_bytes > MAX_DENSE_BYTES) {
        emit(p, "| %lld | | %lld | | skipped: X + Y = %.2f GB | | | | | |\n", (long long)n,
             (long long)d, dense_bytes / 1e9);
        return 0;
    }
    case_data cd;
    if (case_setup(&cd, n, d) != 0) {
        case_free(&cd);
        return -1;
    }
    bench_ctx *c = &cd.c;
    const gp_csr *a = c->a;
    size_t xy = (size_t)(n * d);
    for (int nt = 1; nt <= max_threads; nt++) {
        gp_set_threads(nt);
        c->nt = nt;
        int active[NVARIANTS], na = 0, failed[NVARIANTS] = {0};
        char note[NVARIANTS][64];
        double err[NVARIANTS];
        timing tm[NVARIANTS];
        double slowest = 0.0;
        for (int vi = 0; vi < NVARIANTS; vi++) { /* checked first call, also the warm-up */
            const variant *v = &variants[vi];
            if ((v->candidate && !candidates) || (v->needs == NEEDS_DENSE && !c->adense) ||
                (v->needs == NEEDS_GRB && !cd.grb_ok))
                continue;
            memcpy(cd.y, cd.y0, xy * sizeof(float));
            double t0 = now_seconds();
            failed[vi] = v->fn(c, cd.y);
            double first = now_seconds() - t0;
            active[na++] = vi;
            if (failed[vi]) continue;
            err[vi] = rel_error(cd.y, cd.ref, xy);
            note[vi][0] = '\0';
            if (v->fn == v_lib) {
                memcpy(cd.y_lib, cd.y, xy * sizeof(float));
                if (nt == 1) memcpy(cd.y_lib1, cd.y, xy * sizeof(float));
                else
                    snprintf(note[vi], sizeof note[vi], "; %s 1 thread",
                             memcmp(cd.y_lib1, cd.y, xy * sizeof(float)) ? "DIFFERS from"
                                                                         : "bits =");
            } else if (v->lib_order) {
                snprintf(note[vi], sizeof note[vi], "; %s lib",
                         memcmp(cd.y_lib, cd.y, xy * sizeof(float)) ? "DIFFERS from" : "bits =");
            }
            tm[vi].count = 0;
            tm[vi].batch = first < 1e-3 ? (long)(1e-3 / (first > 1e-7 ? first : 1e-7)) + 1 : 1;
            if (first * (double)tm[vi].batch > slowest) slowest = first * (double)tm[vi].batch;
        }
        int rounds = slowest > 0 ? (int)(0.3 / slowest) : MAX_ROUNDS;
        rounds = rounds < 5 ? 5 : rounds > MAX_ROUNDS ? MAX_ROUNDS : rounds;
        gp_rng order_rng;
        gp_rng_seed(&order_rng, 2024);
        for (int r = 0; r < rounds; r++) {
            int64_t order[NVARIANTS];
            for (int j = 0; j < na; j++) order[j] = active[j];
            gp_rng_shuffle(&order_rng, order, na); /* a new order every round */
            for (int j = 0; j < na; j++) {
                int vi = (int)order[j];
                if (!failed[vi]) failed[vi] = time_sample(&variants[vi], c, cd.y, &tm[vi]);
            }
        }
        for (int j = 0; j < na; j++) {
            int vi = active[j];
            const variant *v = &variants[vi];
            if (failed[vi]) {
                emit(p, "| %lld | %lld | %lld | %d | %s | failed (code %d) | | | | |\n",
                     (long long)n, (long long)a->nnz, (long long)d, nt, v->name, failed[vi]);
                continue;
            }
            double t = median_of(&tm[vi]), tmin = tm[vi].samples[0];
            double flops = 2.0 * (double)a->nnz * (double)d;
            double bytes = 8.0 * (double)(n + 1) + (double)(v->index_bytes + 4) * (double)a->nnz +
                           12.0 * (double)n * (double)d;
            char gbs[32] = "-";
            if (v->index_bytes) snprintf(gbs, sizeof gbs, "%.2f", bytes / t * 1e-9);
            emit(p, "| %lld | %lld | %lld | %d | %s | %.4g | %.4g | %.2f | %s | %.1e%s |\n",
                 (long long)n, (long long)a->nnz, (long long)d, nt, v->name, t * 1e3,
                 tmin * 1e3, flops / t * 1e-9, gbs, err[vi], note[vi]);
        }
    }
    case_free(&cd);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --check: gp_csr_spmm against a dense double reference over many shapes, widths (every      */
/* tail 1..7, 8, 16 blocks), weighted / unweighted / overriding values, empty rows, 1-3       */
/* threads (bit-identical), and bit for bit against the 4-float-vector copy of the kernel   */
/* and the library's own narrower builds (GP_SIMD=sse2, avx2).                                */

static int check_one(const gp_csr *m, const float *vals, int64_t d, gp_rng *rng)
{
    int64_t rows = m->rows, cols = m->cols;
    size_t ny = (size_t)(rows * d), nx = (size_t)(cols * d);
    float *x = malloc((nx + 1) * sizeof *x), *y0 = malloc((ny + 1) * sizeof *y0);
    float *y = malloc((ny + 1) * sizeof *y), *y1 = malloc((ny + 1) * sizeof *y1);
    int bad = 0;
    if (!x || !y0 || !y || !y1) bad = 1;
    for (size_t i = 0; !bad && i < nx; i++) x[i] = 2.0f * gp_rng_uniform(rng) - 1.0f;
    for (size_t i = 0; !bad && i < ny; i++) y0[i] = 2.0f * gp_rng_uniform(rng) - 1.0f;
    const float *v = vals ? vals : m->val;
    for (int nt = 1; nt <= 3 && !bad; nt++) {
        gp_set_threads(nt);
        memcpy(y, y0, ny * sizeof *y);
        gp_csr_spmm(y, m, vals, x, d);
        if (nt == 1) {
            memcpy(y1, y, ny * sizeof *y);
            for (int64_t i = 0; i < rows && !bad; i++)
                for (int64_t c = 0; c < d && !bad; c++) {
                    double ref = y0[i * d + c], scale = fabs(ref);
                    for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
                        double t = (v ? (double)v[k] : 1.0) * x[m->idx[k] * d + c];
                        ref += t;
                        scale += fabs(t);
                    }
                    if (fabs(y[i * d + c] - ref) > 1e-5 * scale) {
                        fprintf(stderr, "check: %lldx%lld nnz %lld d %lld: y[%lld][%lld] = %.9g, "
                                        "reference %.9g\n", (long long)rows, (long long)cols,
                                (long long)m->nnz, (long long)d, (long long)i, (long long)c,
                                (double)y[i * d + c], ref);
                        bad = 1;
                    }
                }
            /* the 4-float-vector kernel (used without AVX2) gives the same bits */
            memcpy(y, y0, ny * sizeof *y);
            blocked_i64_v4(y, m->ptr, m->idx, v, x, d, 0, rows);
            if (!bad && memcmp(y, y1, ny * sizeof *y)) {
                fprintf(stderr, "check: d %lld: 4-lane kernel differs from gp_csr_spmm\n",
                        (long long)d);
                bad = 1;
            }
            /* so do the library's narrower builds (GP_SIMD caps the width it picks) */
            static const char *const builds[] = {"sse2", "avx2"};
            for (int b = 0; b < 2 && !bad; b++) {
                setenv("GP_SIMD", builds[b], 1);
                memcpy(y, y0, ny * sizeof *y);
                gp_csr_spmm(y, m, vals, x, d);
                unsetenv("GP_SIMD");
                if (memcmp(y, y1, ny * sizeof *y)) {
                    fprintf(stderr, "check: d %lld: GP_SIMD=%s differs from the widest build\n",
                            (long long)d, builds[b]);
                    bad = 1;
                }
            }
        } else if (memcmp(y, y1, ny * sizeof *y)) {
            fprintf(stderr, "check: d %lld: %d threads differ from 1 thread\n", (long long)d, nt);
            bad = 1;
        }
    }
    gp_set_threads(1);
    free(x);
    free(y0);
    free(y);
    free(y1);
    return bad;
}

static int check_kernel(void)
{
    static const int64_t shapes[][3] = {/* rows, cols, entries drawn */
                                        {1, 1, 1}, {7, 5, 9}, {50, 50, 400}, {300, 200, 20000},
                                        {64, 1000, 300}, {500, 500, 0}, {2000, 2000, 40000}};
    static const int64_t widths[] = {1, 2, 3, 5, 7, 8, 9, 12, 15, 16, 17, 23, 24, 25, 31, 32,
                                     33, 40, 64, 65, 72, 100, 128, 136, 151};
    gp_rng rng;
    gp_rng_seed(&rng, 12345);
    int bad = 0, cases = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !bad; s++) {
        int64_t rows = shapes[s][0], cols = shapes[s][1], m = shapes[s][2];
        int64_t *ri = malloc((size_t)(m + 1) * sizeof *ri);
        int64_t *ci = malloc((size_t)(m + 1) * sizeof *ci);
        float *w = malloc((size_t)(m + 1) * sizeof *w);
        gp_csr *a = NULL;
        if (!ri || !ci || !w) bad = 1;
        for (int64_t k = 0; !bad && k < m; k++) { /* rows below rows/4 stay empty */
            ri[k] = rows / 4 + (int64_t)gp_rng_below(&rng, (uint64_t)(rows - rows / 4));
            ci[k] = (int64_t)gp_rng_below(&rng, (uint64_t)cols);
            w[k] = 2.0f * gp_rng_uniform(&rng) - 1.0f;
        }
        if (!bad && gp_csr_from_coo(&a, rows, cols, m, ri, ci, w) != GP_OK) {
            fprintf(stderr, "check: %s\n", gp_last_error());
            bad = 1;
        }
        float *other = bad ? NULL : malloc((size_t)(a->nnz + 1) * sizeof *other);
        if (!bad && !other) bad = 1;
        for (int64_t k = 0; !bad && k < a->nnz; k++) other[k] = gp_rng_uniform(&rng) + 0.5f;
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0] && !bad; wi++) {
            int64_t d = widths[wi];
            bad |= check_one(a, NULL, d, &rng); /* stored values */
            bad |= check_one(a, other, d, &rng); /* overriding values */
            float *stored = a->val;
            a->val = NULL; /* unweighted */
            bad |= check_one(a, NULL, d, &rng);
            a->val = stored;
            cases += 3;
        }
        gp_csr_free(&a);
        free(other);
        free(ri);
        free(ci);
        free(w);
    }
    printf("bench_spmm --check: %d cases, %s\n", cases, bad ? "FAILED" : "all agree");
    return bad;
}

int main(int argc, char **argv)
{
    int64_t min_n = 0, max_n = 1000000;
    int max_threads = 2;
    bool candidates = false, check = false;
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-n") && i + 1 < argc) max_n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--min-n") && i + 1 < argc) min_n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) max_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--candidates")) candidates = true;
        else if (!strcmp(argv[i], "--check")) check = true;
        else if (argv[i][0] != '-' && !out_path) out_path = argv[i];
        else {
            fprintf(stderr,
                    "usage: %s [--check] [--min-n N] [--max-n N] [--threads T] [--candidates] "
                    "[out.md]\n",
                    argv[0]);
            return 2;
        }
    }
    if (gp_init() != GP_OK) {
        fprintf(stderr, "gp_init: %s\n", gp_last_error());
        return 1;
    }
    if (check) {
        int bad = check_kernel();
        gp_finalize();
        return bad ? 1 : 0;
    }
    printer p = {{stdout, NULL}};
    if (out_path && !(p.out[1] = fopen(out_path, "w"))) {
        fprintf(stderr, "cannot write %s\n", out_path);
        gp_finalize();
        return 1;
    }
    double t0 = now_seconds();
    emit_load(&p, "at start");
    emit(&p, "| n | nnz | d | threads | variant | median ms | min ms | GFLOP/s | GB/s | "
             "max rel err |\n");
    emit(&p, "|---:|---:|---:|---:|---|---:|---:|---:|---:|---|\n");
    static const int64_t sizes[] = {50, 1000, 100000, 1000000};
    static const int64_t widths[] = {16, 64, 256};
    int rc = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0] && !rc; si++)
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0] && !rc; wi++)
            if (sizes[si] >= min_n && sizes[si] <= max_n)
                rc = run_case(&p, sizes[si], widths[wi], max_threads, candidates);
    emit(&p, "\n");
    emit_load(&p, "at end");
    if (rc) fprintf(stderr, "benchmark failed: %s\n", gp_last_error());
    fprintf(stderr, "bench_spmm: %.0f s\n", now_seconds() - t0);
    if (p.out[1]) fclose(p.out[1]);
    gp_finalize();
    return rc ? 1 : 0;
}
