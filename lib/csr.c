/* CSR matrices: construction from triplets, transpose with entry permutation, checks. */
#include <math.h>
#include <string.h>

#include "internal.h"

gp_status gp_csr_new(gp_csr **out, int64_t rows, int64_t cols, int64_t nnz, bool with_values)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_csr_new: out is NULL");
    *out = NULL;
    if (rows < 0 || cols < 0 || nnz < 0)
        return GP_ERR(GP_E_INVALID, "gp_csr_new: negative size");
    gp_csr *m = gp_i_calloc(1, sizeof *m);
    if (!m) return GP_ERR(GP_E_NOMEM, "gp_csr_new: out of memory");
    m->rows = rows;
    m->cols = cols;
    m->nnz = nnz;
    m->ptr = gp_i_calloc((size_t)rows + 1, sizeof(int64_t));
    m->idx = gp_i_malloc(gp_i_mul_size((size_t)nnz, sizeof(int64_t)));
    m->val = with_values ? gp_i_malloc(gp_i_mul_size((size_t)nnz, sizeof(float))) : NULL;
    if (!m->ptr || !m->idx || (with_values && !m->val)) {
        gp_csr_free(&m);
        return GP_ERR(GP_E_NOMEM, "gp_csr_new: out of memory for %lld entries", (long long)nnz);
    }
    *out = m;
    return GP_OK;
}

void gp_csr_free(gp_csr **m)
{
    if (!m || !*m) return;
    gp_i_free((*m)->ptr);
    gp_i_free((*m)->idx);
    gp_i_free((*m)->val);
    gp_i_free(*m);
    *m = NULL;
}

/*
 * CSR from triplets in O(nnz + rows + cols) with two stable counting sorts: first by column,
 * then by row. Within each row the entries come out sorted by column and, for equal columns,
 * in input order, so duplicates are adjacent with the earliest first. No comparison sort:
 * a hub row with 10^6 neighbours costs the same per entry as any other.
 */
gp_status gp_i_csr_build(gp_csr **out, int64_t rows, int64_t cols, int64_t nnz,
                         const int64_t *row, const int64_t *col, const float *val,
                         bool keep_first)
{
    if (!out) return GP_ERR(GP_E_INVALID, "csr build: out is NULL");
    *out = NULL;
    if (nnz > 0 && (!row || !col))
        return GP_ERR(GP_E_INVALID, "csr build: %lld entries but NULL row or col array",
                      (long long)nnz);
    for (int64_t k = 0; k < nnz; k++)
        if (row[k] < 0 || row[k] >= rows || col[k] < 0 || col[k] >= cols)
            return GP_ERR(GP_E_RANGE, "entry %lld: (%lld, %lld) outside a %lld x %lld matrix",
                          (long long)k, (long long)row[k], (long long)col[k], (long long)rows,
                          (long long)cols);
    gp_csr *m = NULL;
    gp_status st = gp_csr_new(&m, rows, cols, nnz, true);
    if (st != GP_OK) return st;
    int64_t *cptr = gp_i_calloc((size_t)cols + 1, sizeof(int64_t));
    int64_t *by_col = gp_i_malloc(gp_i_mul_size((size_t)nnz, sizeof(int64_t))); /* entry ids */
    if (!cptr || !by_col) {
        gp_i_free(cptr);
        gp_i_free(by_col);
        gp_csr_free(&m);
        return GP_ERR(GP_E_NOMEM, "csr build: out of memory for %lld entries", (long long)nnz);
    }
    /* pass 1: entry ids ordered by column (stable) */
    for (int64_t k = 0; k < nnz; k++) cptr[col[k] + 1]++;
    for (int64_t j = 0; j < cols; j++) cptr[j + 1] += cptr[j];
    for (int64_t k = 0; k < nnz; k++) by_col[cptr[col[k]]++] = k;
    /* pass 2: scatter by row in that order (stable) */
    for (int64_t k = 0; k < nnz; k++) m->ptr[row[k] + 1]++;
    for (int64_t i = 0; i < rows; i++) m->ptr[i + 1] += m->ptr[i];
    int64_t *fill = cptr; /* reuse: needs rows + 1 entries */
    if (rows > cols) {
        gp_i_free(cptr);
        fill = gp_i_malloc(gp_i_mul_size((size_t)rows + 1, sizeof(int64_t)));
        if (!fill) {
            gp_i_free(by_col);
            gp_csr_free(&m);
            return GP_ERR(GP_E_NOMEM, "csr build: out of memory");
        }
    }
    memcpy(fill, m->ptr, (size_t)rows * sizeof(int64_t));
    for (int64_t q = 0; q < nnz; q++) {
        int64_t k = by_col[q], p = fill[row[k]]++;
        m->idx[p] = col[k];
        m->val[p] = val ? val[k] : 1.0f;
    }
    gp_i_free(fill);
    gp_i_free(by_col);
    /* merge duplicates (sum, or keep the first), compacting in place */
    int64_t w = 0;
    for (int64_t i = 0; i < rows; i++) {
        int64_t b = m->ptr[i], e = m->ptr[i + 1], start = w;
        for (int64_t p = b; p < e; p++) {
            if (w > start && m->idx[w - 1] == m->idx[p]) {
                if (!keep_first) m->val[w - 1] += m->val[p];
            } else {
                m->idx[w] = m->idx[p];
                m->val[w] = m->val[p];
                w++;
            }
        }
        m->ptr[i] = start;
    }
    m->ptr[rows] = w;
    m->nnz = w;
    *out = m;
    return GP_OK;
}

gp_status gp_csr_from_coo(gp_csr **out, int64_t rows, int64_t cols, int64_t nnz,
                          const int64_t *row, const int64_t *col, const float *val)
{
    return gp_i_csr_build(out, rows, cols, nnz, row, col, val, false);
}

gp_status gp_csr_transpose(gp_csr **out, int64_t **perm, const gp_csr *m)
{
    if (!out || !m) return GP_ERR(GP_E_INVALID, "gp_csr_transpose: NULL argument");
    *out = NULL;
    if (perm) *perm = NULL;
    gp_csr *t = NULL;
    int64_t *p = NULL, *fill = NULL;
    gp_status st = gp_csr_new(&t, m->cols, m->rows, m->nnz, m->val != NULL);
    if (st != GP_OK) return st;
    p = perm ? gp_i_malloc(gp_i_mul_size((size_t)m->nnz, sizeof(int64_t))) : NULL;
    fill = gp_i_malloc(gp_i_mul_size((size_t)m->cols + 1, sizeof(int64_t)));
    if ((perm && !p) || !fill) {
        st = GP_ERR(GP_E_NOMEM, "gp_csr_transpose: out of memory");
        goto fail;
    }
    for (int64_t k = 0; k < m->nnz; k++) t->ptr[m->idx[k] + 1]++;
    for (int64_t j = 0; j < m->cols; j++) t->ptr[j + 1] += t->ptr[j];
    memcpy(fill, t->ptr, (size_t)m->cols * sizeof(int64_t));
    /* Rows of m in increasing order: columns of the transpose come out sorted. */
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
            int64_t q = fill[m->idx[k]]++;
            t->idx[q] = i;
            if (m->val) t->val[q] = m->val[k];
            if (p) p[q] = k;
        }
    gp_i_free(fill);
    *out = t;
    if (perm) *perm = p;
    return GP_OK;
fail:
    gp_i_free(fill);
    gp_i_free(p);
    gp_csr_free(&t);
    return st;
}

gp_status gp_csr_check(const gp_csr *m)
{
    if (!m || !m->ptr || (m->nnz > 0 && !m->idx))
        return GP_ERR(GP_E_INVALID, "csr: NULL matrix or arrays");
    if (m->ptr[0] != 0 || m->ptr[m->rows] != m->nnz)
        return GP_ERR(GP_E_INVALID, "csr: ptr[0] = %lld, ptr[rows] = %lld, nnz = %lld",
                      (long long)m->ptr[0], (long long)m->ptr[m->rows], (long long)m->nnz);
    for (int64_t i = 0; i < m->rows; i++) {
        if (m->ptr[i + 1] < m->ptr[i])
            return GP_ERR(GP_E_INVALID, "csr: ptr decreases at row %lld", (long long)i);
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
            if (m->idx[k] < 0 || m->idx[k] >= m->cols)
                return GP_ERR(GP_E_RANGE, "csr: row %lld has column %lld outside [0, %lld)",
                              (long long)i, (long long)m->idx[k], (long long)m->cols);
            if (k > m->ptr[i] && m->idx[k] <= m->idx[k - 1])
                return GP_ERR(GP_E_INVALID, "csr: row %lld columns not sorted and unique",
                              (long long)i);
            if (m->val && !isfinite(m->val[k]))
                return GP_ERR(GP_E_NUMERIC, "csr: non-finite value in row %lld", (long long)i);
        }
    }
    return GP_OK;
}

gp_status gp_csr_to_dense(float **out, const gp_csr *m)
{
    *out = gp_i_calloc(gp_i_mul_size((size_t)m->rows, (size_t)m->cols), sizeof(float));
    if (!*out) return GP_ERR(GP_E_NOMEM, "gp_csr_to_dense: out of memory");
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++)
            (*out)[i * m->cols + m->idx[k]] += m->val ? m->val[k] : 1.0f;
    return GP_OK;
}
