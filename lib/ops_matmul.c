/*
 * Dense products without copying operands: transposes are passed to the kernel (OpenBLAS's
 * sgemm, or the AVX-512 kernel of gemm_avx512.c where it is faster; see gp_i_gemm).
 *   C = op(A) op(B);  dop(A) = dC op(B)^T,  dop(B) = op(A)^T dC.
 * Batched: the same for each of `batch` stacked blocks.
 * addmm (fused): Y = C + A B + bias (C m x n or absent, bias 1 x n or absent):
 *   dC = dY,  dA = dY B^T,  dB = A^T dY,  dbias_j = sum_i dY_ij.
 *   Y is first filled with C + bias (one pass) and sgemm accumulates A B into it (beta = 1):
 *   no zero-fill of a product buffer (OpenBLAS clears C itself when beta = 0) and no separate
 *   add passes. Rounding: Y = (C + bias) + A B, against (A B + C) + bias for gp_add(gp_add(
 *   gp_matmul(A, B), C), bias); with C absent it is the same sum, bit for bit, as long as the
 *   kernel does not split the inner dimension into several passes: k <= 512 with the AVX-512
 *   kernel, 320 with OpenBLAS 0.3.21's Haswell kernels, 448 with its SKYLAKEX ones (measured;
 *   tests/test_fused.c checks k = 300).
 *   Backward: C takes dY's buffer itself when it has no gradient yet (pass-through, see
 *   ops_elementwise.c); the bias sums run down the rows in float, column by column, as
 *   gp_add's broadcast gradient does (same bits).
 */
#include <cblas.h>

#include "internal.h"

/* One single-threaded product: the AVX-512 kernel (gemm_avx512.c) if `avx`, else OpenBLAS
 * (gp_set_threads keeps it at one thread). */
static void sgemm1(bool avx, bool ta, bool tb, int64_t m, int64_t m_all, int64_t n, int64_t k,
                   float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                   float beta, float *c, int64_t ldc)
{
    if (avx && gp_i_sgemm_avx512(ta, tb, m, m_all, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)(lda > 0 ? lda : 1), b,
                (blasint)(ldb > 0 ? ldb : 1), beta, c, (blasint)(ldc > 0 ? ldc : 1));
}

/* Products of at least this many multiply-adds are split over the threads. */
#define GEMM_PAR_MIN_MACS (1 << 20)
/* Part boundaries are multiples of this many rows (the AVX-512 kernel's tile). Cutting columns
 * never gave the bits of the whole product with OpenBLAS, so its products are cut by rows only. */
#define GEMM_PART_ROWS 12
/* ... and of this many for the kernel's dot-product path (its tile: DOT_MA in gemm_avx512.c) */
#define GEMM_DOT_PART_ROWS 4
/* Column parts (products with few rows, AVX-512 kernel) are whole panels of this many columns */
#define GEMM_PART_COLS 32
/* Products on OpenBLAS from GEMM_PAR_MIN_MACS up are cut into this many row blocks (at most),
 * for every thread count (see gp_i_gemm). */
#define GEMM_BLAS_BLOCKS 8

/*
 * Multi-threaded products are split here, not inside OpenBLAS: each thread runs a one-thread
 * product on blocks of whole rows of C, and OpenMP is the only thread pool (OpenBLAS's own
 * workers spin after each call and compete with OpenMP's for the cores: docs/benchmarks.md,
 * "One thread pool"). Results do not depend on the thread count (tests/test_determinism.c):
 * - the AVX-512 kernel sums every element of C in the same order in any row or column block,
 *   so a product is cut into one part per thread: by rows (12-row tiles; 4 for its dot
 *   products), or by 32-column panels when there are fewer than 2 row tiles per thread (a
 *   batch of 32 rows went 12 / 20; products with fewer than 24 rows were not split at all);
 * - OpenBLAS picks its kernels by the shape of each call (0.3.21 takes its small-matrix kernels
 *   below M N K = 10^6 on SKYLAKEX / COOPERLAKE, and the COOPERLAKE kernels summed a row block
 *   at a cut of 12 rows differently), so a product on OpenBLAS is cut into the same
 *   GEMM_BLAS_BLOCKS blocks for every thread count, the threads taking whole blocks. Before
 *   (one part per thread), DD's top-k models differed between 1 and 2 threads; the fixed
 *   blocks also made its one-thread epoch 4 % faster (docs/benchmarks.md, "Session 16").
 * The kernel is chosen once for the whole product (gp_i_gemm_use_avx512).
 */
void gp_i_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0) return;
    if (k == 0) { /* sgemm leaves C untouched when k == 0 only if beta == 1 */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    bool avx = gp_i_gemm_use_avx512(m, n, k, ta, tb);
    /* the kernel's dot products (a batch of 32 times W^T) work on 4-row tiles: halves of 16 rows
     * instead of 12 and 20 */
    int64_t part_rows = avx && gp_i_gemm_avx512_dot(ta, tb, m, k) ? GEMM_DOT_PART_ROWS : GEMM_PART_ROWS;
    int64_t tiles = m / part_rows, nt = gp_i_threads(); /* whole tiles; the last part takes the rest */
    bool big = (double)m * n * k >= GEMM_PAR_MIN_MACS;
    if (!avx && big && tiles >= 2) {
        /* OpenBLAS chooses its kernels by the shape of each call (0.3.21: its small-matrix
         * kernels by M N K), so a row block could be summed by another kernel than the whole
         * product: cut into GEMM_BLAS_BLOCKS blocks whatever the thread count, and spread the
         * blocks over the threads (1 thread: one after the other). */
        int64_t blocks = tiles < GEMM_BLAS_BLOCKS ? tiles : GEMM_BLAS_BLOCKS;
        int nb = nt < blocks ? (int)nt : (int)blocks;
        GP_I_PARALLEL_FOR(nb > 1 && !gp_i_in_parallel(),
        for (int64_t p = 0; p < blocks; p++) {
            int64_t lo = tiles * p / blocks * GEMM_PART_ROWS;
            int64_t hi = p == blocks - 1 ? m : tiles * (p + 1) / blocks * GEMM_PART_ROWS;
            sgemm1(false, ta, tb, hi - lo, m, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
                   c + lo * ldc, ldc);
        });
        return;
    }
    /* Few rows and no dot products (a batch of 32 times W): rows would split 12 / 20 over two
     * threads; the columns are split instead, in whole 32-column panels. The kernel sums every
     * element of C alike in any column block too (test_gemm.c: column cuts), so the bits stay. */
    int64_t panels = n / GEMM_PART_COLS;
    if (avx && big && nt > 1 && part_rows == GEMM_PART_ROWS && m < 2 * GEMM_PART_ROWS * nt && panels >= 2 * nt &&
        !gp_i_in_parallel()) {
        int cparts = (int)nt;
#pragma omp parallel for schedule(static) num_threads(cparts)
        for (int p = 0; p < cparts; p++) {
            int64_t j0 = panels * p / cparts * GEMM_PART_COLS;
            int64_t j1 = p == cparts - 1 ? n : panels * (p + 1) / cparts * GEMM_PART_COLS;
            sgemm1(true, ta, tb, m, m, j1 - j0, k, alpha, a, lda, tb ? b + j0 * ldb : b + j0, ldb, beta, c + j0,
                   ldc);
        }
        return;
    }
    int64_t parts = tiles < nt ? tiles : nt;
    if (parts < 2 || !big || gp_i_in_parallel()) {
        sgemm1(avx, ta, tb, m, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
#pragma omp parallel for schedule(static) num_threads((int)parts)
    for (int64_t p = 0; p < parts; p++) {
        int64_t lo = tiles * p / parts * part_rows;
        int64_t hi = p == parts - 1 ? m : tiles * (p + 1) / parts * part_rows;
        /* rows lo..hi of op(A) and of C */
        sgemm1(avx, ta, tb, hi - lo, m, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta,
               c + lo * ldc, ldc);
    }
}

/* Shapes of one block: A block is ar x ac, B block br x bc. */
static gp_status matmul_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
    bool ta = n->i[0], tb = n->i[1];
    int64_t batch = n->i[2];
    int64_t ar = a->rows / batch, ac = a->cols, br = b->rows / batch, bc = b->cols;
    int64_t m = ta ? ac : ar, k = ta ? ar : ac, nn = tb ? br : bc;
    /* A fresh gradient buffer is written with beta = 0 (no zero-fill). If a and b are the same
     * tensor, b's call sees the buffer already taken and accumulates. */
    bool assign_a = false, assign_b = false;
    float *ga = gp_i_needs_grad(a) ? gp_i_grad_acc(t, a, &assign_a) : NULL;
    float *gb = gp_i_needs_grad(b) ? gp_i_grad_acc(t, b, &assign_b) : NULL;
    if ((gp_i_needs_grad(a) && !ga) || (gp_i_needs_grad(b) && !gb)) return GP_E_NOMEM;
    float beta_a = assign_a ? 0.0f : 1.0f, beta_b = assign_b ? 0.0f : 1.0f;
    for (int64_t s = 0; s < batch; s++) {
        const float *A = a->data + s * ar * ac, *B = b->data + s * br * bc;
        const float *dC = c->grad + s * m * nn;
        if (ga) {
            float *dA = ga + s * ar * ac;
            if (!ta) gp_i_gemm(false, !tb, m, k, nn, 1.0f, dC, nn, B, bc, beta_a, dA, ac);
            else gp_i_gemm(tb, true, k, m, nn, 1.0f, B, bc, dC, nn, beta_a, dA, ac);
        }
        if (gb) {
            float *dB = gb + s * br * bc;
            if (!tb) gp_i_gemm(!ta, false, k, nn, m, 1.0f, A, ac, dC, nn, beta_b, dB, bc);
            else gp_i_gemm(true, ta, nn, k, m, 1.0f, dC, nn, A, ac, beta_b, dB, bc);
        }
    }
    return GP_OK;
}

static const gp_op_info matmul_op = {"matmul", matmul_backward};

gp_tensor *gp_matmul_batched(gp_tape *t, gp_tensor *a, gp_tensor *b, int64_t batch, bool ta, bool tb)
{
    gp_tensor *in[2] = {a, b};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (!GP_TAPE_CHECK(t, batch >= 1 && a->rows % batch == 0 && b->rows % batch == 0,
                       "matmul: %lld and %lld rows do not split into %lld blocks",
                       (long long)a->rows, (long long)b->rows, (long long)batch))
        return NULL;
    int64_t ar = a->rows / batch, ac = a->cols, br = b->rows / batch, bc = b->cols;
    int64_t m = ta ? ac : ar, k = ta ? ar : ac, kb = tb ? bc : br, nn = tb ? br : bc;
    if (!GP_TAPE_CHECK(t, k == kb, "matmul: inner sizes differ (%lld x %lld%s times %lld x %lld%s)",
                       (long long)ar, (long long)ac, ta ? "^T" : "", (long long)br,
                       (long long)bc, tb ? "^T" : ""))
        return NULL;
    gp_tensor *c = gp_i_out(t, m * batch, nn);
    if (!c) return NULL;
    for (int64_t s = 0; s < batch; s++)
        gp_i_gemm(ta, tb, m, nn, k, 1.0f, a->data + s * ar * ac, ac, b->data + s * br * bc, bc,
                  0.0f, c->data + s * m * nn, nn);
    gp_node *n = gp_i_record(t, &matmul_op, c, 2, in);
    if (n) {
        n->i[0] = ta;
        n->i[1] = tb;
        n->i[2] = batch;
    }
    return gp_i_done(t, c);
}

gp_tensor *gp_matmul(gp_tape *t, gp_tensor *a, gp_tensor *b, bool ta, bool tb)
{
    return gp_matmul_batched(t, a, b, 1, ta, tb);
}

gp_tensor *gp_matrix_power(gp_tape *t, gp_tensor *a, int k)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!GP_TAPE_CHECK(t, a->rows == a->cols && k >= 1,
                       "matrix power: needs a square matrix and k >= 1 (got %lld x %lld, k=%d)",
                       (long long)a->rows, (long long)a->cols, k))
        return NULL;
    gp_tensor *result = NULL, *base = a;
    for (;;) { /* repeated squaring: O(log k) products */
        if (k & 1) result = result ? gp_matmul(t, result, base, false, false) : base;
        k >>= 1;
        if (!k) break;
        base = gp_matmul(t, base, base, false, false);
    }
    return gp_i_done(t, result);
}

/* ---- addmm: Y = C + A B + bias ---- */

static gp_status addmm_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *c = n->in[0], *a = n->in[1], *b = n->in[2], *bias = n->in[3], *y = n->out;
    int64_t m = y->rows, nn = y->cols, k = a->cols;
    const float *dy = y->grad;
    int nt = gp_i_threads();
    if (gp_i_needs_grad(a)) {
        bool assign;
        float *ga = gp_i_grad_acc(t, a, &assign);
        if (!ga) return GP_E_NOMEM;
        gp_i_gemm(false, true, m, k, nn, 1.0f, dy, nn, b->data, nn, assign ? 0.0f : 1.0f, ga, k);
    }
    if (gp_i_needs_grad(b)) {
        bool assign;
        float *gw = gp_i_grad_acc(t, b, &assign);
        if (!gw) return GP_E_NOMEM;
        gp_i_gemm(true, false, k, nn, m, 1.0f, a->data, k, dy, nn, assign ? 0.0f : 1.0f, gw, nn);
    }
    if (gp_i_needs_grad(bias)) {
        bool assign;
        float *gb = gp_i_grad_acc(t, bias, &assign);
        if (!gb) return GP_E_NOMEM;
        gp_i_column_sums(gb, dy, m, nn, 1.0f, assign); /* rows in order: gp_add's bits */
    }
    /* C last: once it holds dY's buffer, no one may read dY (C may also be A, as in x + x W) */
    if (gp_i_needs_grad(c)) {
        if (!c->grad) {
            c->grad = y->grad; /* pass-through */
        } else {
            float *gc = c->grad;
            int64_t size = m * nn;
            GP_I_PARALLEL_FOR(size >= GP_PAR_MIN_WORK,
            for (int64_t i = 0; i < size; i++) gc[i] += dy[i];);
        }
    }
    return GP_OK;
}

static const gp_op_info addmm_op = {"addmm", addmm_backward};

/* rows [0, rows) of y = c + b (either absent: the other alone), for one part of the rows */
GP_I_CLONES static void rows_plus_bias_part(float *y, const float *c, const float *b, int64_t rows,
                                            int64_t cols)
{
    for (int64_t i = 0; i < rows; i++) {
        float *yi = y + i * cols;
        const float *ci = c ? c + i * cols : NULL;
        if (ci && b)
            for (int64_t j = 0; j < cols; j++) yi[j] = ci[j] + b[j];
        else if (ci)
            for (int64_t j = 0; j < cols; j++) yi[j] = ci[j];
        else
            for (int64_t j = 0; j < cols; j++) yi[j] = b[j];
    }
}

void gp_i_rows_plus_bias(float *y, const float *c, const float *b, int64_t rows, int64_t cols)
{
    if (!c && !b) return;
    int nt = gp_i_threads();
    GP_I_FOR_PARTS(rows * cols, rows, lo, hi,
        rows_plus_bias_part(y + lo * cols, c ? c + lo * cols : NULL, b, hi - lo, cols););
}

gp_tensor *gp_addmm(gp_tape *t, gp_tensor *c, gp_tensor *a, gp_tensor *b, gp_tensor *bias)
{
    gp_tensor *ab[2] = {a, b};
    if (!gp_i_begin(t, 2, ab)) return NULL;
    int64_t m = a->rows, k = a->cols, nn = b->cols;
    if (!GP_TAPE_CHECK(t, b->rows == k, "addmm: inner sizes differ (%lld x %lld times %lld x %lld)",
                       (long long)m, (long long)k, (long long)b->rows, (long long)nn))
        return NULL;
    if (!GP_TAPE_CHECK(t, !c || (c->rows == m && c->cols == nn),
                       "addmm: addend is %lld x %lld, the product %lld x %lld",
                       c ? (long long)c->rows : 0LL, c ? (long long)c->cols : 0LL, (long long)m,
                       (long long)nn) ||
        !GP_TAPE_CHECK(t, !bias || (bias->rows == 1 && bias->cols == nn),
                       "addmm: bias is %lld x %lld, expected 1 x %lld",
                       bias ? (long long)bias->rows : 0LL, bias ? (long long)bias->cols : 0LL,
                       (long long)nn))
        return NULL;
    gp_tensor *y = gp_i_out(t, m, nn);
    if (!y) return NULL;
    float *yd = y->data;
    const float *cd = c ? c->data : NULL, *bd = bias ? bias->data : NULL;
    gp_i_rows_plus_bias(yd, cd, bd, m, nn);
    gp_i_gemm(false, false, m, nn, k, 1.0f, a->data, k, b->data, nn, cd || bd ? 1.0f : 0.0f, yd, nn);
    gp_tensor *in[4] = {c, a, b, bias}; /* absent operands stay NULL: they need no gradient */
    gp_i_record(t, &addmm_op, y, 4, in);
    return gp_i_done(t, y);
}
