/*
 * Batching graphs: the block-diagonal union diag(A_1, ..., A_B).
 *
 * Node i of graph b becomes node off_b + i with off_b = n_1 + ... + n_{b-1}; an entry (i, j)
 * of A_b becomes (off_b + i, off_b + j). Inputs that are themselves batches nest flat: their
 * graph_ptr offsets are shifted by off_b and concatenated, so the result has
 * sum_b num_graphs_b graphs. The result is weighted if any input is (unweighted inputs then
 * contribute ones) and symmetric iff every input is. Cost O(total n + total m + graphs).
 */
#include <string.h>

#include "internal.h"

gp_status gp_graph_batch(gp_graph **out, int64_t count, const gp_graph *const *graphs)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_graph_batch: out is NULL");
    *out = NULL;
    if (count <= 0 || !graphs)
        return GP_ERR(GP_E_INVALID, "gp_graph_batch: need at least one graph (count = %lld%s)",
                      (long long)count, graphs ? "" : ", graphs is NULL");
    int64_t n = 0, m = 0, num_graphs = 0;
    bool weighted = false, symmetric = true;
    for (int64_t b = 0; b < count; b++) {
        const gp_graph *g = graphs[b];
        if (!g) return GP_ERR(GP_E_INVALID, "gp_graph_batch: graphs[%lld] is NULL", (long long)b);
        GP_I_EXPLICIT(g); /* cached in graphs[b]: the look-up in the second loop cannot fail */
        n += g->adj.rows;
        m += g->adj.nnz;
        num_graphs += g->num_graphs;
        weighted |= g->adj.val != NULL;
        symmetric &= g->symmetric;
    }
    gp_status st;
    gp_csr *adj = NULL;
    gp_graph *r = NULL;
    int64_t *graph_ptr = gp_i_malloc(gp_i_mul_size((size_t)num_graphs + 1, sizeof(int64_t)));
    if (!graph_ptr) return GP_ERR(GP_E_NOMEM, "gp_graph_batch: out of memory");
    GP_TRY(gp_csr_new(&adj, n, n, m, weighted));
    int64_t node_off = 0, edge_off = 0, graph_off = 0;
    for (int64_t b = 0; b < count; b++) {
        const gp_graph *g = graphs[b];
        (void)gp_i_graph_explicit(&g, g);
        const gp_csr *a = &g->adj;
        for (int64_t i = 0; i < a->rows; i++) adj->ptr[node_off + i] = edge_off + a->ptr[i];
        for (int64_t k = 0; k < a->nnz; k++) adj->idx[edge_off + k] = node_off + a->idx[k];
        if (weighted) {
            if (a->val)
                memcpy(adj->val + edge_off, a->val, (size_t)a->nnz * sizeof(float));
            else
                for (int64_t k = 0; k < a->nnz; k++) adj->val[edge_off + k] = 1.0f;
        }
        for (int64_t h = 0; h < g->num_graphs; h++) graph_ptr[graph_off + h] = node_off + g->graph_ptr[h];
        node_off += a->rows;
        edge_off += a->nnz;
        graph_off += g->num_graphs;
    }
    adj->ptr[n] = m;
    graph_ptr[num_graphs] = n;
    GP_TRY(gp_i_graph_wrap(&r, &adj, symmetric));
    GP_TRY(gp_i_graph_set_batch(r, num_graphs, graph_ptr));
    gp_i_free(graph_ptr);
    *out = r;
    return GP_OK;
fail:
    gp_i_free(graph_ptr);
    gp_csr_free(&adj);
    gp_graph_free(&r);
    return st;
}
