/*
 * Compressed sparse row matrices (float32 values, int64 indices).
 *
 * Index width: int64_t, the width of igraph_integer_t and GraphBLAS's GrB_Index, so graphs
 * cross to both libraries without conversion; docs/benchmarks.md has the measurement of
 * int32 against int64 column indices in the SpMM kernel that backs this choice.
 *
 * Row i holds the entries (i, idx[k]) for k in [ptr[i], ptr[i+1]); columns are sorted within
 * each row. val == NULL means every stored value is 1 (unweighted graphs, binary features).
 */
#ifndef GRAPHPOOL_SPARSE_H
#define GRAPHPOOL_SPARSE_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_csr {
    int64_t rows;
    int64_t cols;
    int64_t nnz;
    int64_t *ptr; /* rows + 1 */
    int64_t *idx; /* nnz column indices, sorted within each row */
    float *val;   /* nnz values, or NULL for all ones */
} gp_csr;

/* Allocate an empty CSR (ptr zeroed, idx and val uninitialised; val only if with_values). */
GP_API gp_status gp_csr_new(gp_csr **out, int64_t rows, int64_t cols, int64_t nnz, bool with_values);
GP_API void gp_csr_free(gp_csr **m);
/* Build from (row, col, value) triplets; duplicates are summed; values may be NULL (ones,
 * duplicates then count). Rows/cols out of range give GP_E_RANGE. */
GP_API gp_status gp_csr_from_coo(gp_csr **out, int64_t rows, int64_t cols, int64_t nnz,
                                 const int64_t *row, const int64_t *col, const float *val);
/* The transpose; if perm is not NULL it receives nnz entries (free with gp_free) with
 * perm[kt] = k: entry kt of the transpose is entry k of m. */
GP_API gp_status gp_csr_transpose(gp_csr **out, int64_t **perm, const gp_csr *m);
/* Structural and value validation: sorted unique columns, in range, finite values. */
GP_API gp_status gp_csr_check(const gp_csr *m);
/* Dense copy (rows x cols, row-major), for tests and small matrices. */
GP_API gp_status gp_csr_to_dense(float **out, const gp_csr *m);

/* Y[rows x d] += A X[cols x d] (plain kernel entry point; ops.h has the differentiable op).
 * vals overrides m->val if not NULL; y must not overlap x. Uses the kernel chosen in
 * docs/benchmarks.md; the result is bit-identical for any thread count. */
GP_API void gp_csr_spmm(float *y, const gp_csr *m, const float *vals, const float *x, int64_t d);

/* Free memory returned by the library (e.g. perm above, map arrays). NULL-safe. */
GP_API void gp_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
