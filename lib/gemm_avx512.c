/*
 * Row-major single-precision product with AVX-512:  C = alpha op(A) op(B) + beta C.
 *
 * Why it exists: Debian 12's OpenBLAS 0.3.21 runs its AVX2 ("Haswell") kernels on the AVX-512
 * processors this project was first measured on (AMD EPYC; that environment pinned
 * OPENBLAS_CORETYPE=Haswell, docs/benchmarks.md "OpenBLAS core type"), and its generic SSE3
 * ("Prescott") kernels on processors it does not know (an Intel Xeon with AMX, 2026-11-28).
 * At the shapes of the models (n x 128 by 128 x 128 and the backward products) this kernel is
 * faster than the former, and faster than the latter at every shape; where it is not, and on
 * processors without AVX-512, gp_i_gemm keeps calling OpenBLAS. The measurements behind the
 * choice: docs/benchmarks.md, "Dense products: AVX-512 kernel", tests/bench_gemm.c.
 *
 * Blocking (a reduced BLIS scheme): columns of C in blocks of NC, the inner dimension in blocks
 * of KC, rows in tiles of 12; a 12 x 32 micro-kernel keeps its tile of C in 24 registers, loads
 * two vectors of a 32-column panel of op(B) and broadcasts one element of op(A) per row per
 * step. A is read in place (either layout); only a last tile of fewer than 12 rows is copied
 * into a zero-padded KC x 12 strip. Untransposed B with rows of at most DIRECT_LDB floats is
 * read in place too, and so is any untransposed B when A has at most 48 rows; otherwise each
 * (KC x NC) block of op(B) is packed into zero-padded 32-column panels (gathered when B is
 * transposed), as is a last panel narrower than 32. Transposed B with at most 48 rows of A
 * and k >= 128 is summed as dot products instead (gemm_dot below).
 *
 * Rounding and reproducibility: every element of C is summed over p in order, in one float
 * accumulator per KC block (the dot products: 16 lane accumulators, see gemm_dot), whatever its
 * row or column and however the rows are split over threads, so a product gives the same bits
 * for any thread count. With k <= KC the result is one rounding of alpha * acc + beta * C
 * (an FMA): for alpha = 1 and beta = 1 that is exactly acc + C, so gp_addmm's prefilled
 * C + bias gives the same bits as a product followed by an add (lib/ops_matmul.c).
 */
#include <cblas.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define MR 12  /* rows of a micro-tile */
#define NR 32  /* columns of a micro-tile: two 16-float vectors */
#define KC 512 /* inner-dimension block: k <= KC is summed in one pass */
#define NC 256 /* column block: a packed B block is KC x NC floats, 512 KB */
#define DIRECT_LDB 512 /* B untransposed with rows up to this long is not packed, */
#define DIRECT_M 48    /* nor, whatever its rows, if there are at most this many rows of A */

#define AVX512 __attribute__((target("avx512f,fma")))

/* Lane masks of a panel w <= NR columns wide: m0 for columns 0-15, m1 for 16-31. */
static void panel_masks(int64_t w, __mmask16 *m0, __mmask16 *m1)
{
    *m0 = (__mmask16)(w >= 16 ? 0xFFFF : (1u << w) - 1);
    *m1 = (__mmask16)(w >= 32 ? 0xFFFF : w <= 16 ? 0 : (1u << (w - 16)) - 1);
}

/* Pack rows p0..p0+kc-1, columns j0..j0+nc-1 of op(B) into panels of kc x NR floats. */
AVX512 static void pack_b(float *restrict bp, bool tb, const float *restrict b, int64_t ldb, int64_t p0,
                   int64_t kc, int64_t j0, int64_t nc)
{
    for (int64_t jp = 0; jp < nc; jp += NR) {
        int64_t w = nc - jp < NR ? nc - jp : NR;
        float *panel = bp + jp * kc;
        __mmask16 m0, m1;
        panel_masks(w, &m0, &m1);
        if (!tb) { /* op(B)[p][j] = B[p][j]: rows of the panel are pieces of rows of B */
            for (int64_t p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * ldb + j0 + jp;
                _mm512_store_ps(panel + p * NR, _mm512_maskz_loadu_ps(m0, src));
                _mm512_store_ps(panel + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
            }
        } else if (ldb <= INT32_MAX / NR) { /* op(B)[p][j] = B[j][p]: gather a column of B per p */
            __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                               12, 13, 14, 15),
                                             _mm512_set1_epi32((int)ldb));
            const float *col0 = b + (j0 + jp) * ldb + p0, *col1 = m1 ? col0 + 16 * ldb : col0;
            for (int64_t p = 0; p < kc; p++) {
                __m512 g0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, idx, col0 + p, 4);
                __m512 g1 = m1 ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, idx, col1 + p, 4)
                               : _mm512_setzero_ps();
                _mm512_store_ps(panel + p * NR, g0);
                _mm512_store_ps(panel + p * NR + 16, g1);
            }
        } else { /* the same, element by element (a gather's offsets would overflow) */
            for (int64_t p = 0; p < kc; p++)
                for (int64_t jj = 0; jj < NR; jj++)
                    panel[p * NR + jj] = jj < w ? b[(j0 + jp + jj) * ldb + p0 + p] : 0.0f;
        }
    }
}

/* Pack rows i0..i0+mr-1 (mr <= MR), inner indices p0..p0+kc-1 of op(A) stored transposed
 * (op(A)[i][p] = A[p][i]) as ap[p * MR + i], rows mr..MR-1 zero. (Untransposed A is not packed:
 * the micro-kernel reads its rows in place.) */
AVX512 static void pack_a_t(float *restrict ap, const float *restrict a, int64_t lda, int64_t i0,
                            int64_t mr, int64_t p0, int64_t kc)
{
    __mmask16 keep = (__mmask16)((1u << mr) - 1), row = (__mmask16)((1u << MR) - 1);
    for (int64_t p = 0; p < kc; p++)
        _mm512_mask_storeu_ps(ap + p * MR, row, _mm512_maskz_loadu_ps(keep, a + (p0 + p) * lda + i0));
}

/* Pack the last, short tile (mr < MR rows) of untransposed A as pack_a_t does. */
static void pack_a_rows(float *restrict ap, const float *restrict a, int64_t lda, int64_t i0,
                        int64_t mr, int64_t p0, int64_t kc)
{
    memset(ap, 0, (size_t)(kc * MR) * sizeof(float));
    for (int64_t i = 0; i < mr; i++)
        for (int64_t p = 0; p < kc; p++) ap[p * MR + i] = a[(i0 + i) * lda + p0 + p];
}

#define TILE_ROWS _Pragma("GCC unroll 12")

/* C tile (mr rows, columns selected by masks m0 / m1) = alpha * op(A) bp + beta * C, with
 * op(A)[i][p] = ap[i * ars + p * acs] (packed: ars 1, acs MR; rows of A in place: ars lda,
 * acs 1, and then mr must be MR: the rows beyond the tile are not read). */
AVX512 static void micro_tile(int64_t kc, const float *restrict ap, int64_t ars, int64_t acs,
                              const float *restrict bp, int64_t bs, float *restrict c, int64_t ldc,
                              int64_t mr,
                              __mmask16 m0, __mmask16 m1, float alpha, float beta)
{
    /* The loops over the tile's rows are unrolled explicitly: the 24 accumulators must stay in
     * registers, which GCC 12 does only at -O3 otherwise (at -O2, meson's default build type,
     * they were kept in memory: 39-63 against 112-143 GFLOP/s, docs/benchmarks.md, "Session 9"). */
    __m512 acc0[MR], acc1[MR];
    TILE_ROWS for (int i = 0; i < MR; i++) acc0[i] = acc1[i] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(bp + p * bs), b1 = _mm512_loadu_ps(bp + p * bs + 16);
        const float *ar = ap + p * acs;
        TILE_ROWS for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(ar[i * ars]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    TILE_ROWS for (int i = 0; i < MR; i++) {
        if (i >= mr) break;
        float *ci = c + i * ldc;
        __m512 r0, r1;
        if (beta == 0.0f) { /* C is not read: it may hold anything, NaN included */
            r0 = _mm512_mul_ps(va, acc0[i]);
            r1 = _mm512_mul_ps(va, acc1[i]);
        } else {
            __m512 c0 = _mm512_maskz_loadu_ps(m0, ci), c1 = _mm512_maskz_loadu_ps(m1, ci + 16);
            if (beta != 1.0f) {
                c0 = _mm512_mul_ps(vb, c0);
                c1 = _mm512_mul_ps(vb, c1);
            }
            r0 = _mm512_fmadd_ps(va, acc0[i], c0);
            r1 = _mm512_fmadd_ps(va, acc1[i], c1);
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

/* ---- B transposed, few rows: dot products ----
 * op(B) = B^T means C[i][j] = <row i of A, row j of B>, both rows contiguous. With few rows of A
 * (a batch of 32 split over two threads: 12 or 20 rows) packing B (a gather per element) costs
 * as much as the product, so these products are summed as dot products instead, straight from
 * A and B: DOT_MA rows of A by DOT_NB rows of B per tile, 16 lanes per accumulator, reduced at
 * the end. Every element of C is summed the same way (lane l takes p = l, l + 16, ... in order,
 * then _mm512_reduce_add_ps), in a full tile or not, so the bits do not depend on the rows a
 * thread gets. */
#define DOT_MA 4      /* 4 x 4 tiles: 16 accumulators, 4 + 4 loads per 16 FMAs */
#define DOT_NB 4
#define DOT_MAX_M 48  /* up to this many rows of A (more go through the packed panels), */
#define DOT_MIN_K 128 /* from this inner dimension (shorter dot products: OpenBLAS is faster) */
#define UNROLL _Pragma("GCC unroll 8") /* all of a tile's accumulators stay in registers */

/* C[i][j] = alpha s + beta C[i][j] as micro_tile does it (C not read when beta == 0). */
AVX512 static inline void dot_store(float *c, float s, float alpha, float beta)
{
    __m128 r;
    if (beta == 0.0f) r = _mm_mul_ss(_mm_set_ss(alpha), _mm_set_ss(s));
    else r = _mm_fmadd_ss(_mm_set_ss(alpha), _mm_set_ss(s), _mm_set_ss(beta == 1.0f ? *c : beta * *c));
    *c = _mm_cvtss_f32(r);
}

/* One tile: MA rows of A (a, lda) by NB rows of B (b, ldb), k inner, into C (c, ldc). */
#define DOT_TILE(NAME, MA, NB)                                                                     \
    AVX512 static void NAME(int64_t k, const float *restrict a, int64_t lda,                       \
                            const float *restrict b, int64_t ldb, float *restrict c, int64_t ldc, \
                            float alpha, float beta)                                               \
    {                                                                                              \
        __m512 acc[MA][NB];                                                                        \
        for (int i = 0; i < MA; i++)                                                               \
            for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_ps();                          \
        for (int64_t p = 0; p < k; p += 16) {                                                      \
            __mmask16 lanes = k - p >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - p)) - 1); \
            __m512 bv[NB];                                                                         \
            for (int j = 0; j < NB; j++) bv[j] = _mm512_maskz_loadu_ps(lanes, b + j * ldb + p);    \
            for (int i = 0; i < MA; i++) {                                                         \
                __m512 av = _mm512_maskz_loadu_ps(lanes, a + i * lda + p);                         \
                for (int j = 0; j < NB; j++) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);     \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int i = 0; i < MA; i++)                                                        \
            UNROLL for (int j = 0; j < NB; j++)                                                    \
                dot_store(c + i * ldc + j, _mm512_reduce_add_ps(acc[i][j]), alpha, beta);          \
    }
DOT_TILE(dot_tile_full, DOT_MA, DOT_NB)
DOT_TILE(dot_tile_one, 1, 1)

static void gemm_dot(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    int64_t mf = m / DOT_MA * DOT_MA, nf = n / DOT_NB * DOT_NB;
    for (int64_t j = 0; j < n; j += DOT_NB) /* a block of B rows, then every row of A */
        for (int64_t i = 0; i < m; i += DOT_MA) {
            if (i < mf && j < nf) {
                dot_tile_full(k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, alpha, beta);
                continue;
            }
            for (int64_t ii = i; ii < m && ii < i + DOT_MA; ii++)
                for (int64_t jj = j; jj < n && jj < j + DOT_NB; jj++)
                    dot_tile_one(k, a + ii * lda, lda, b + jj * ldb, ldb, c + ii * ldc + jj, ldc, alpha, beta);
        }
}

bool gp_i_gemm_avx512_dot(bool ta, bool tb, int64_t m_all, int64_t k)
{
    return tb && !ta && m_all <= DOT_MAX_M && k >= DOT_MIN_K;
}

bool gp_i_sgemm_avx512(bool ta, bool tb, int64_t m, int64_t m_all, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                       float beta, float *c, int64_t ldc)
{
    if (gp_i_gemm_avx512_dot(ta, tb, m_all, k)) {
        gemm_dot(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return true;
    }
    int64_t kcap = k < KC ? k : KC, ncap = n < NC ? n : NC;
    size_t bfloats = (size_t)(kcap * ((ncap + NR - 1) / NR * NR)), afloats = (size_t)(kcap * MR);
    size_t bytes = (bfloats + afloats) * sizeof(float);
    float *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!buf) return false; /* the caller falls back to OpenBLAS */
    float *bp = buf, *ap = buf + bfloats;
    for (int64_t jc = 0; jc < n; jc += NC) {
        int64_t nc = n - jc < NC ? n - jc : NC;
        for (int64_t pc = 0; pc < k; pc += KC) {
            int64_t kc = k - pc < KC ? k - pc : KC;
            float beta_block = pc == 0 ? beta : 1.0f; /* later blocks add to the first */
            /* B untransposed is read in place if its rows are short (measured faster at the
             * models' widths, <= 256 floats; longer rows keep the packing, whose panels are
             * contiguous) or if A has few rows (packing a block for 1-4 row tiles costs more
             * than it saves), except a last panel narrower than NR */
            int64_t direct = tb || (ldb > DIRECT_LDB && m > DIRECT_M) ? 0 : nc / NR * NR;
            if (direct < nc) pack_b(bp + direct * kc, tb, b, ldb, pc, kc, jc + direct, nc - direct);
            for (int64_t ic = 0; ic < m; ic += MR) {
                int64_t mr = m - ic < MR ? m - ic : MR;
                /* A is read in place for whole tiles, else packed */
                const float *at = ap;
                int64_t ars = 1, acs = MR;
                if (mr == MR && !ta) at = a + ic * lda + pc, ars = lda, acs = 1;
                else if (mr == MR) at = a + pc * lda + ic, ars = 1, acs = lda;
                else if (ta) pack_a_t(ap, a, lda, ic, mr, pc, kc);
                else pack_a_rows(ap, a, lda, ic, mr, pc, kc);
                for (int64_t jp = 0; jp < nc; jp += NR) {
                    __mmask16 m0, m1;
                    panel_masks(nc - jp < NR ? nc - jp : NR, &m0, &m1);
                    const float *bt = jp < direct ? b + pc * ldb + jc + jp : bp + jp * kc;
                    micro_tile(kc, at, ars, acs, bt, jp < direct ? ldb : NR, c + ic * ldc + jc + jp,
                               ldc, mr, m0, m1, alpha, beta_block);
                }
            }
        }
    }
    free(buf);
    return true;
}

/* ---- which kernel: GP_GEMM=blas|avx512|auto (default auto), or gp_i_gemm_select ---- */
static int selected = GP_GEMM_AUTO;
static bool have_avx512;
static bool blas_fast; /* OpenBLAS runs AVX2 / AVX-512 kernels (openblas_has_avx2_kernels) */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Shapes where this kernel beats OpenBLAS's Haswell kernels (tests/bench_gemm.c): not below 16
 * columns (a panel is 32 wide; at 1-2 columns OpenBLAS is ~1.7x faster) nor an inner dimension
 * below 8 (equal at 4); with B transposed, packing it costs a gather per element of B, which
 * pays off only from ~64 rows (32 rows: 0.96x, 64: 1.03x, 128: 1.34x at 1440 x 1440), and the
 * dot products win up to 48 rows once k >= 128 (32 x 1440 x 1440: 1.9-2.1x, one thread's 12
 * rows of it 2.3x; k = 128: 1.2x; k = 72: 0.73x). 49-63 rows with B transposed: OpenBLAS. */
static bool wins(int64_t m, int64_t n, int64_t k, bool ta, bool tb)
{
    return n >= 16 && k >= 8 && (!tb || m >= 64 || (!ta && m <= DOT_MAX_M && k >= DOT_MIN_K));
}

/* OpenBLAS cores with AVX2 or AVX-512 kernels, the ones the rule above was measured against.
 * On a processor it does not know, Debian's OpenBLAS 0.3.21 falls back to its SSE3 "Prescott"
 * kernels (seen on an Intel Xeon with AMX and AVX512-FP16), which this kernel beats at every
 * shape of the benchmark, 1.1-6.5x (docs/bench_gemm_xeon.md; docs/benchmarks.md, "OpenBLAS on
 * an unknown processor"); then it takes them all. */
static bool openblas_has_avx2_kernels(void)
{
    static const char *const cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *name = openblas_get_corename();
    for (size_t i = 0; name && i < sizeof cores / sizeof cores[0]; i++)
        if (strcasecmp(name, cores[i]) == 0) return true;
    return false;
}

static void detect(void)
{
    __builtin_cpu_init();
    have_avx512 = __builtin_cpu_supports("avx512f");
    blas_fast = openblas_has_avx2_kernels();
    const char *env = getenv("GP_GEMM");
    if (env && strcmp(env, "blas") == 0) selected = GP_GEMM_BLAS;
    else if (env && strcmp(env, "avx512") == 0) selected = GP_GEMM_AVX512;
}

bool gp_i_gemm_select(int kernel)
{
    pthread_once(&once, detect);
    if (kernel == GP_GEMM_AVX512 && !have_avx512) return false;
    selected = kernel;
    return true;
}

bool gp_i_gemm_use_avx512(int64_t m, int64_t n, int64_t k, bool ta, bool tb)
{
    pthread_once(&once, detect);
    if (!have_avx512 || selected == GP_GEMM_BLAS) return false;
    if (selected == GP_GEMM_AVX512 || !blas_fast) return true;
    return wins(m, n, k, ta, tb);
}
