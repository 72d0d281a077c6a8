/*
 * Conversions to and from igraph and GraphBLAS.
 *
 * Orientation: adj row i lists the in-neighbours of i, so entry (i, j) is the edge j -> i.
 * igraph -> gp: an edge u -> v becomes entry (v, u); undirected edges both entries.
 * gp -> igraph: a symmetric graph gives one undirected edge per entry (i, j) with j <= i
 * (the lower triangle with the diagonal), otherwise a directed edge j -> i per entry.
 * GraphBLAS matrices are the CSR matrix itself (GrB_FP32; unweighted = iso value 1).
 *
 * Foreign errors become GP_E_FOREIGN with the foreign reason in the message: igraph's comes
 * from the handler gp_init installs (it records igraph's reason as the last error), and
 * GraphBLAS's from GrB_error on the matrix involved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include <graphpool/interop.h>

/* ---- foreign error mapping ---- */

static gp_status igraph_fail(igraph_error_t err, const char *file, int line, const char *what)
{
    /* Copy first: the new message is written into the buffer gp_last_error() points at. */
    char reason[512];
    snprintf(reason, sizeof reason, "%s", gp_last_error_message());
    if (!reason[0]) snprintf(reason, sizeof reason, "igraph: %s", igraph_strerror(err));
    return gp_i_error(GP_E_FOREIGN, file, line, "%s failed (igraph error %d): %s", what, (int)err,
                      reason);
}

/* Clear the last error first so that a reason recorded by igraph's handler is this call's. */
#define IG_TRY(call)                                                                           \
    do {                                                                                       \
        gp_clear_error();                                                                      \
        igraph_error_t ig_err_ = (call);                                                       \
        if (ig_err_ != IGRAPH_SUCCESS) {                                                       \
            st = igraph_fail(ig_err_, __FILE__, __LINE__, #call);                              \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

static const char *grb_info_name(GrB_Info info)
{
    switch (info) {
    case GrB_SUCCESS: return "GrB_SUCCESS";
    case GrB_NO_VALUE: return "GrB_NO_VALUE";
    case GrB_UNINITIALIZED_OBJECT: return "GrB_UNINITIALIZED_OBJECT";
    case GrB_NULL_POINTER: return "GrB_NULL_POINTER";
    case GrB_INVALID_VALUE: return "GrB_INVALID_VALUE";
    case GrB_INVALID_INDEX: return "GrB_INVALID_INDEX";
    case GrB_DOMAIN_MISMATCH: return "GrB_DOMAIN_MISMATCH";
    case GrB_DIMENSION_MISMATCH: return "GrB_DIMENSION_MISMATCH";
    case GrB_OUTPUT_NOT_EMPTY: return "GrB_OUTPUT_NOT_EMPTY";
    case GrB_NOT_IMPLEMENTED: return "GrB_NOT_IMPLEMENTED";
    case GrB_PANIC: return "GrB_PANIC";
    case GrB_OUT_OF_MEMORY: return "GrB_OUT_OF_MEMORY";
    case GrB_INSUFFICIENT_SPACE: return "GrB_INSUFFICIENT_SPACE";
    case GrB_INVALID_OBJECT: return "GrB_INVALID_OBJECT";
    case GrB_INDEX_OUT_OF_BOUNDS: return "GrB_INDEX_OUT_OF_BOUNDS";
    case GrB_EMPTY_OBJECT: return "GrB_EMPTY_OBJECT";
    default: return "unknown GrB_Info";
    }
}

static gp_status grb_fail(GrB_Info info, GrB_Matrix a, const char *file, int line, const char *what)
{
    const char *detail = NULL;
    if (a && GrB_Matrix_error(&detail, a) != GrB_SUCCESS) detail = NULL;
    bool has_detail = detail && detail[0];
    return gp_i_error(GP_E_FOREIGN, file, line, "%s failed: GraphBLAS %s (%d)%s%s", what,
                      grb_info_name(info), (int)info, has_detail ? ": " : "",
                      has_detail ? detail : "");
}

#define GRB_TRY(call, mat)                                                                     \
    do {                                                                                       \
        GrB_Info grb_info_ = (call);                                                           \
        if (grb_info_ != GrB_SUCCESS) {                                                        \
            st = grb_fail(grb_info_, (mat), __FILE__, __LINE__, #call);                        \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)

/* ---- igraph ---- */

gp_status gp_graph_from_igraph(gp_graph **out, const igraph_t *ig, unsigned flags)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_graph_from_igraph: out is NULL");
    *out = NULL;
    if (!ig) return GP_ERR(GP_E_INVALID, "gp_graph_from_igraph: ig is NULL");
    gp_status st = GP_OK;
    igraph_integer_t n = igraph_vcount(ig), m = igraph_ecount(ig);
    igraph_vector_int_t edges;
    bool edges_ready = false;
    IG_TRY(igraph_vector_int_init(&edges, 0));
    edges_ready = true;
    /* bycol: all sources, then all targets, so both halves are used in place. */
    IG_TRY(igraph_get_edgelist(ig, &edges, true));
    const igraph_integer_t *from = VECTOR(edges), *to = VECTOR(edges) + m;
    if (!igraph_is_directed(ig)) flags |= GP_EDGES_SYMMETRISE;
    st = gp_graph_from_edges(out, n, m, from, to, NULL, flags);
fail:
    if (edges_ready) igraph_vector_int_destroy(&edges);
    return st;
}

gp_status gp_graph_to_igraph(igraph_t *ig, const gp_graph *g)
{
    if (!ig || !g) return GP_ERR(GP_E_INVALID, "gp_graph_to_igraph: NULL argument");
    GP_I_EXPLICIT(g);
    gp_status st = GP_OK;
    const gp_csr *a = &g->adj;
    bool undirected = g->symmetric;
    int64_t m = 0;
    for (int64_t i = 0; i < a->rows; i++)
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) m += !undirected || a->idx[k] <= i;
    igraph_vector_int_t edges;
    bool edges_ready = false;
    IG_TRY(igraph_vector_int_init(&edges, 2 * m));
    edges_ready = true;
    igraph_integer_t *e = VECTOR(edges);
    for (int64_t i = 0; i < a->rows; i++)
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) {
            if (undirected && a->idx[k] > i) continue;
            *e++ = a->idx[k]; /* j -> i */
            *e++ = i;
        }
    IG_TRY(igraph_create(ig, &edges, a->rows, !undirected));
fail:
    if (edges_ready) igraph_vector_int_destroy(&edges);
    return st;
}

/* ---- GraphBLAS ---- */

gp_status gp_csr_to_grb(GrB_Matrix *out, const gp_csr *m)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_csr_to_grb: out is NULL");
    *out = NULL;
    if (!m) return GP_ERR(GP_E_INVALID, "gp_csr_to_grb: m is NULL");
    /* Packing trusts its input (no GxB_SECURE_IMPORT), so check it here. */
    gp_status st = gp_csr_check(m);
    if (st != GP_OK) return st;
    GrB_Matrix a = NULL;
    /* Packed arrays belong to GraphBLAS, which frees them with its own allocator: libc, as
     * gp_init starts it with GrB_init. So these are malloc'd, not gp_i_malloc'd, and their
     * sizes are the true allocation sizes (GraphBLAS 7.4.0 pools blocks by size). */
    size_t ap_size = gp_i_mul_size((size_t)m->rows + 1, sizeof(GrB_Index));
    size_t aj_size = gp_i_mul_size(m->nnz > 0 ? (size_t)m->nnz : 1, sizeof(GrB_Index));
    size_t ax_size = gp_i_mul_size(m->val && m->nnz > 0 ? (size_t)m->nnz : 1, sizeof(float));
    GrB_Index *ap = malloc(ap_size), *aj = malloc(aj_size);
    float *ax = malloc(ax_size);
    if (!ap || !aj || !ax) {
        st = GP_ERR(GP_E_NOMEM, "gp_csr_to_grb: out of memory for %lld entries", (long long)m->nnz);
        goto fail;
    }
    memcpy(ap, m->ptr, ((size_t)m->rows + 1) * sizeof(GrB_Index)); /* int64 -> uint64, same bits */
    if (m->nnz > 0) memcpy(aj, m->idx, (size_t)m->nnz * sizeof(GrB_Index));
    if (m->val && m->nnz > 0)
        memcpy(ax, m->val, (size_t)m->nnz * sizeof(float));
    else
        ax[0] = 1.0f; /* iso: one value for every entry */
    bool iso = m->val == NULL;
    GRB_TRY(GrB_Matrix_new(&a, GrB_FP32, (GrB_Index)m->rows, (GrB_Index)m->cols), NULL);
    void *axv = ax;
    GRB_TRY(GxB_Matrix_pack_CSR(a, &ap, &aj, &axv, ap_size, aj_size, ax_size, iso, false, NULL), a);
    ax = axv; /* NULL now: GraphBLAS owns all three */
    *out = a;
    return GP_OK;
fail:
    free(ap);
    free(aj);
    free(ax);
    if (a) GrB_Matrix_free(&a);
    return st;
}

gp_status gp_csr_from_grb(gp_csr **out, GrB_Matrix m)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_csr_from_grb: out is NULL");
    *out = NULL;
    if (!m) return GP_ERR(GP_E_INVALID, "gp_csr_from_grb: m is NULL");
    gp_status st = GP_OK;
    GrB_Index rows = 0, cols = 0, nvals = 0;
    GrB_Index *ri = NULL, *ci = NULL;
    float *x = NULL;
    GRB_TRY(GrB_Matrix_nrows(&rows, m), m);
    GRB_TRY(GrB_Matrix_ncols(&cols, m), m);
    GRB_TRY(GrB_Matrix_nvals(&nvals, m), m);
    if (rows > INT64_MAX / 2 || cols > INT64_MAX / 2)
        return GP_ERR(GP_E_RANGE, "gp_csr_from_grb: %llu x %llu matrix is too large",
                      (unsigned long long)rows, (unsigned long long)cols);
    ri = gp_i_malloc(gp_i_mul_size((size_t)nvals, sizeof(GrB_Index)));
    ci = gp_i_malloc(gp_i_mul_size((size_t)nvals, sizeof(GrB_Index)));
    x = gp_i_malloc(gp_i_mul_size((size_t)nvals, sizeof(float)));
    if (!ri || !ci || !x) {
        st = GP_ERR(GP_E_NOMEM, "gp_csr_from_grb: out of memory for %llu entries",
                    (unsigned long long)nvals);
        goto fail;
    }
    /* Typecasts any built-in type to float; the tuples may come in any order (by-column or
     * hypersparse storage), and gp_csr_from_coo sorts them into rows. */
    GrB_Index got = nvals;
    GRB_TRY(GrB_Matrix_extractTuples_FP32(ri, ci, x, &got, m), m);
    /* GrB_Index and int64_t are the same width; indices are < 2^60 so the bits agree. */
    st = gp_csr_from_coo(out, (int64_t)rows, (int64_t)cols, (int64_t)got, (const int64_t *)ri,
                         (const int64_t *)ci, x);
fail:
    gp_i_free(ri);
    gp_i_free(ci);
    gp_i_free(x);
    return st;
}
