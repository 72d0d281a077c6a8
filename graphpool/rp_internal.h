/*
 * Helpers shared by the relational-pooling operators (rp.c, klgnn.c; not installed).
 *
 * Copies: an expanding operator replaces graph b of a batch by copies[b] copies of it, the copies
 * of one graph consecutive and the graph order kept, so the copies of input graph b (or of input
 * group s) form one output group. Replicated copies never borrow from the input graph (rp's
 * one-permutation training step shares the input graph itself instead, rp.c). shared (option
 * shared=1, the default): the copies share one structure (an implicit graph, lib/graph_copies.c:
 * one copy of each input graph plus graph ids, instead of copies[b] * (n_b + 1 + nnz_b) indices);
 * shared=0: the structure is replicated (explicit block-diagonal CSR). Layers and ops that need
 * explicit entries build them from an implicit graph on first use. docs/benchmarks.md measures
 * both.
 */
#ifndef GP_RP_INTERNAL_H
#define GP_RP_INTERNAL_H

#include "pool_internal.h"

/*
 * The replicated batch of g (copies[b] >= 0 copies of graph b; every edge of g must stay inside
 * its graph), implicit if shared, else explicit. *out is a new graph (the caller owns it).
 * src_node (tape arena, *num_nodes entries): the input node of every output node. Errors set the
 * tape's status.
 */
gp_status gp_i_rp_replicate(gp_tape *t, const char *op, const gp_graph *g, const int64_t *copies,
                            bool shared, gp_graph **out, int64_t **src_node, int64_t *num_nodes);

/*
 * Groups of the replicated batch (tape arena): one group per input group (in->group_ptr) or per
 * input graph, covering that group's copies.
 */
gp_status gp_i_rp_groups(gp_tape *t, const gp_pool_batch *in, const int64_t *copies,
                         gp_pool_batch *out);

/* A growable list of int64 (subsets, tuples), shared by klgnn.c and rp_local.c. */
typedef struct i64_list {
    int64_t *v;
    int64_t n, cap;
} i64_list;

static inline bool list_push(i64_list *a, int64_t x)
{
    if (a->n == a->cap) {
        int64_t cap = a->cap ? 2 * a->cap : 256;
        int64_t *v = gp_i_realloc(a->v, (size_t)cap * sizeof(int64_t));
        if (!v) return false;
        a->v = v, a->cap = cap;
    }
    a->v[a->n++] = x;
    return true;
}

#endif
