/*
 * Sparse-dense product kernel Y += A X (A in CSR, X and Y row-major with d columns).
 * Row-parallel (OpenMP, static schedule): each thread owns whole output rows, so the result
 * does not depend on the thread count. The kernel choice per size is in docs/benchmarks.md.
 */
#include "internal.h"

void gp_csr_spmm(float *y, const gp_csr *m, const float *vals, const float *x, int64_t d)
{
    const float *v = vals ? vals : m->val;
    int64_t rows = m->rows;
    int nt = gp_i_threads();
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && m->nnz * d > GP_PAR_MIN_WORK)
    for (int64_t i = 0; i < rows; i++) {
        float *yi = y + i * d;
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
            const float *xj = x + m->idx[k] * d;
            float a = v ? v[k] : 1.0f;
            for (int64_t c = 0; c < d; c++) yi[c] += a * xj[c];
        }
    }
}
