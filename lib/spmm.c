/*
 * Sparse-dense product kernel Y += A X (A rows x cols in CSR, X cols x d and Y rows x d,
 * row-major):
 *
 *   y[i][c] += sum over k in [ptr[i], ptr[i+1]) of a_k x[idx[k]][c]   (a_k = 1 if no values)
 *
 * summed in storage order k for every entry, starting from the old y[i][c] — or from 0 in the
 * overwriting variant Y = A X (gp_i_csr_spmm_set), which spares callers a zero-fill of Y.
 *
 * Kernel choice (measured: docs/benchmarks.md, section "SpMM kernel"):
 * - Register blocking: the columns are taken in blocks of 16 (then one of 8, then the 1..7
 *   left, scalar); a block's partial sums stay in registers while row i's entries are
 *   traversed, so Y is read and written once per row instead of once per stored entry.
 * - 8-float AVX2 vectors when the CPU has AVX2 (chosen at run time), else 4-float vectors
 *   (SSE2 on x86-64, NEON etc. elsewhere). Neither uses FMA (ISO C: -ffp-contract=off), so
 *   both give the same bits.
 * - One kernel for every size: GraphBLAS GrB_mxm (PLUS_TIMES FP32, Y accumulated in place)
 *   was slower than this kernel in every case measured, so the library does not call
 *   GraphBLAS here (and never has to copy buffers for it).
 * - Column indices stay int64 (igraph and GraphBLAS take them without conversion): the same
 *   kernel reading int32 indices was not consistently faster.
 *
 * Threads: the rows are cut into gp_i_threads() contiguous parts of about equal nnz + rows
 * (balanced for skewed degrees), one part per OpenMP iteration; products below
 * SPMM_PAR_MIN_WORK multiply-adds do not enter an OpenMP region at all (entering one costs
 * microseconds even when its if clause is false). Every output entry is computed by one
 * thread in the same order whatever the thread count, so the result is bit-identical for any
 * number of threads.
 */
#include <string.h>

#include "internal.h"

/* GNU C vector extensions (gcc, clang). Explicit vectors make the blocking independent of
 * the optimisation level and of the auto-vectoriser's cost model (which split a 16-float
 * block into 8+4+2+1+1 lanes at -O3). Element-wise + and * round exactly like scalar code.
 * Each kernel uses only vectors its target has registers for: 32-byte vectors in a
 * non-AVX build are kept in memory and ran several times slower than 16-byte ones. */

typedef void (*rows_fn)(float *restrict y, const int64_t *restrict ptr,
                        const int64_t *restrict idx, const float *restrict val,
                        const float *restrict x, int64_t d, int64_t r0, int64_t r1, bool set);

/* Columns [c0, c0 + NV * lanes) of row i: NV vectors of partial sums stay in registers while
 * the row's entries are traversed. Vectors are loaded and stored one by one with memcpy
 * (unaligned; whole-array copies kept the array on the stack). */
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
        UNROLL_Q for (int q = 0; q < (NV); q++) {                                              \
            if (set) acc[q] = (VT){0};                                                         \
            else memcpy(&acc[q], yi + c0 + q * LANES(VT), sizeof(VT));                         \
        }                                                                                      \
        for (int64_t k = k0; k < k1; k++) {                                                    \
            const float *xj = x + idx[k] * d + c0;                                             \
            UNROLL_Q for (int q = 0; q < (NV); q++) {                                          \
                VT xv;                                                                         \
                memcpy(&xv, xj + q * LANES(VT), sizeof xv);                                    \
                acc[q] += val ? xv * val[k] : xv;                                              \
            }                                                                                  \
        }                                                                                      \
        UNROLL_Q for (int q = 0; q < (NV); q++)                                                \
            memcpy(yi + c0 + q * LANES(VT), &acc[q], sizeof(VT));                              \
    } while (0)

/* The last 1..7 columns [c0, d) of row i, scalar. */
static inline void accumulate_tail(float *restrict yi, const int64_t *restrict idx,
                                   const float *restrict val, const float *restrict x,
                                   int64_t d, int64_t k0, int64_t k1, int64_t c0, bool set)
{
    int64_t w = d - c0;
    float acc[8];
    for (int64_t t = 0; t < w; t++) acc[t] = set ? 0.0f : yi[c0 + t];
    for (int64_t k = k0; k < k1; k++) {
        const float *xj = x + idx[k] * d + c0;
        float a = val ? val[k] : 1.0f;
        for (int64_t t = 0; t < w; t++) acc[t] += a * xj[t];
    }
    for (int64_t t = 0; t < w; t++) yi[c0 + t] = acc[t];
}

/* Rows [r0, r1) of Y += A X with vectors of type VT: blocks of 16 columns, one of 8, the
 * rest scalar. Unweighted entries add x as is (1 * x == x exactly, so weighted and
 * unweighted storage of the same matrix give the same bits). */
#define DEFINE_SPMM_ROWS(NAME, ATTR, VT)                                                       \
    ATTR static void NAME(float *restrict y, const int64_t *restrict ptr,                      \
                          const int64_t *restrict idx, const float *restrict val,              \
                          const float *restrict x, int64_t d, int64_t r0, int64_t r1,          \
                          bool set)                                                            \
    {                                                                                          \
        for (int64_t i = r0; i < r1; i++) {                                                    \
            int64_t k0 = ptr[i], k1 = ptr[i + 1];                                              \
            float *yi = y + i * d;                                                             \
            if (k0 == k1) {                                                                    \
                if (set) memset(yi, 0, (size_t)d * sizeof(float));                             \
                continue;                                                                      \
            }                                                                                  \
            int64_t c0 = 0;                                                                    \
            for (; c0 + 16 <= d; c0 += 16) ACCUMULATE_BLOCK(VT, 16 / LANES(VT));             \
            if (c0 + 8 <= d) {                                                                 \
                ACCUMULATE_BLOCK(VT, 8 / LANES(VT));                                          \
                c0 += 8;                                                                       \
            }                                                                                  \
            if (c0 < d) accumulate_tail(yi, idx, val, x, d, k0, k1, c0, set);                  \
        }                                                                                      \
    }

DEFINE_SPMM_ROWS(spmm_rows_v4, , v4f)
#ifdef GP_I_VEC_WIDE
DEFINE_SPMM_ROWS(spmm_rows_avx2, __attribute__((target("avx2"))), v8f)

/* AVX-512: blocks of 64 columns in four 16-float vectors (a 128-wide row in two passes over its
 * entries instead of eight), then 16, 8 and the rest as above; the same sums in the same order. */
__attribute__((target("avx512f"))) static void spmm_rows_avx512(
    float *restrict y, const int64_t *restrict ptr, const int64_t *restrict idx,
    const float *restrict val, const float *restrict x, int64_t d, int64_t r0, int64_t r1, bool set)
{
    for (int64_t i = r0; i < r1; i++) {
        int64_t k0 = ptr[i], k1 = ptr[i + 1];
        float *yi = y + i * d;
        if (k0 == k1) {
            if (set) memset(yi, 0, (size_t)d * sizeof(float));
            continue;
        }
        int64_t c0 = 0;
        for (; c0 + 64 <= d; c0 += 64) ACCUMULATE_BLOCK(v16f, 4);
        for (; c0 + 16 <= d; c0 += 16) ACCUMULATE_BLOCK(v16f, 1);
        if (c0 + 8 <= d) {
            ACCUMULATE_BLOCK(v8f, 1);
            c0 += 8;
        }
        if (c0 < d) accumulate_tail(yi, idx, val, x, d, k0, k1, c0, set);
    }
}
#endif

/* The widest kernel the CPU has (gp_i_simd_level; the same results: no FMA in any). */
static rows_fn pick_rows_kernel(void)
{
#ifdef GP_I_VEC_WIDE
    int level = gp_i_simd_level();
    if (level == GP_SIMD_AVX512) return spmm_rows_avx512;
    if (level == GP_SIMD_AVX2) return spmm_rows_avx2;
#endif
    return spmm_rows_v4;
}

/* Threads only from 2^18 multiply-adds (nnz d) up: entering an OpenMP region and waking a
 * second thread costs microseconds. 2^20 before (then, with the workers sleeping between
 * regions, two threads were slower than one at nnz d = 1.6e5 and 6.4e5); with the apps' short
 * spin, 2^18 (session 17, paired runs, two threads, same bits): GPN PROTEINS preset -2 ms,
 * top-k PROTEINS -1 ms, and -8 to -10 ms for top-k in the VM's slow phases (docs/benchmarks.md,
 * "Session 17"). GP_PAR_MIN_WORK (65536) is meant for elementwise loops. */
#define SPMM_PAR_MIN_WORK ((int64_t)1 << 18)

/* First row r with ptr[r] + r >= target (ptr[r] + r is strictly increasing in r). */
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

static void spmm(float *y, const gp_csr *m, const float *vals, const float *x, int64_t d, bool set)
{
    if (!m || d <= 0 || m->rows <= 0) return;
    if (m->nnz <= 0) {
        if (set) memset(y, 0, (size_t)(m->rows * d) * sizeof(float));
        return;
    }
    const float *v = vals ? vals : m->val;
    int64_t rows = m->rows, total = m->nnz + rows;
    int nt = gp_i_threads();
    rows_fn spmm_rows = pick_rows_kernel();
    if (nt <= 1 || m->nnz * d < SPMM_PAR_MIN_WORK || rows < 2) {
        spmm_rows(y, m->ptr, m->idx, v, x, d, 0, rows, set);
        return;
    }
    if (nt > rows) nt = (int)rows;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int p = 0; p < nt; p++) {
        int64_t r0 = split_row(m->ptr, rows, total * p / nt);
        int64_t r1 = split_row(m->ptr, rows, total * (p + 1) / nt);
        spmm_rows(y, m->ptr, m->idx, v, x, d, r0, r1, set);
    }
}

void gp_csr_spmm(float *y, const gp_csr *m, const float *vals, const float *x, int64_t d)
{
    spmm(y, m, vals, x, d, false);
}

void gp_i_csr_spmm_set(float *y, const gp_csr *m, const float *vals, const float *x, int64_t d)
{
    spmm(y, m, vals, x, d, true);
}
