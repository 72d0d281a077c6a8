/*
 * Relational pooling input expansion, RP-GIN (Murphy, Srinivasan, Rao, Ribeiro, ICML 2019):
 *
 *   f(G) = 1/|P| sum_{pi in P} GNN(A, [X, I_pi])           I_pi[i] = onehot(pi(i) mod width)
 *
 * Each node i of a graph with n nodes gets the one-hot position id pi(i) mod width of a permutation
 * pi of 0..n-1, concatenated to its features: x'_i = [x_i | e_{pi(i) mod width}] (node_dim =
 * in_dim + width). The base GNN runs on the expanded batch and a readout averages the copies of
 * each group (the built-in readouts reduce each graph, then take the mean over its copies).
 *
 *   training (tape in training mode): train_perms (default 1) sampled permutations per graph and
 *     step (pi-SGD: an unbiased estimate of the gradient of the permutation-averaged loss). With
 *     one permutation the input graph is shared, only the features are widened.
 *   inference: P = all n! permutations (lexicographic order) if n <= exact, else `perms` sampled
 *     ones; the batch is replicated (one copy per permutation, grouped per input graph). The
 *     sampled permutations come from a generator re-seeded at every call, so inference is
 *     deterministic and independent of the training history.
 *
 * Gradient: x' = concat(gather_rows(x, src), ids): dx_j = sum over the copies of node j of the
 * first in_dim columns of dx' (gather and concat ops); the ids are constants.
 * Options: perms=16, width=41, exact=6 (largest n averaged exactly; n! copies), train_perms=1,
 * shared=1 (the copies share one structure, rp_internal.h; 0: replicated CSR).
 */
#include <string.h>

#include "rp_internal.h"

typedef struct rp_state {
    int64_t perms, width, exact, train_perms, shared;
    gp_rng rng;         /* training permutations */
    uint64_t eval_seed; /* inference permutations */
} rp_state;

/* ---- shared helpers (rp_internal.h) ---- */

gp_status gp_i_rp_replicate(gp_tape *t, const char *op, const gp_graph *g, const int64_t *copies,
                            bool shared, gp_graph **out, int64_t **src_node, int64_t *num_nodes)
{
    *out = NULL;
    *src_node = NULL;
    *num_nodes = 0;
    gp_status st = gp_i_graph_copies_new(out, g, copies, shared);
    if (st != GP_OK) return GP_TAPE_FAIL(t, st, "%s: %s", op, gp_last_error_message());
    int64_t nodes = gp_graph_nodes(*out);
    int64_t *src = gp_tape_alloc(t, (size_t)(nodes > 0 ? nodes : 1) * sizeof(int64_t));
    if (!src) {
        gp_graph_free(out);
        return GP_TAPE_FAIL(t, GP_E_NOMEM, "%s: out of memory for %lld copied nodes", op,
                            (long long)nodes);
    }
    int64_t row = 0;
    for (int64_t b = 0; b < g->num_graphs; b++)
        for (int64_t c = 0; c < copies[b]; c++)
            for (int64_t i = g->graph_ptr[b]; i < g->graph_ptr[b + 1]; i++) src[row++] = i;
    *src_node = src;
    *num_nodes = nodes;
    return GP_OK;
}

gp_status gp_i_rp_groups(gp_tape *t, const gp_pool_batch *in, const int64_t *copies,
                         gp_pool_batch *out)
{
    int64_t graphs = in->graph->num_graphs;
    int64_t *cum = gp_tape_alloc(t, (size_t)(graphs + 1) * sizeof(int64_t));
    if (!cum) return GP_TAPE_FAIL(t, GP_E_NOMEM, "expand: out of memory");
    cum[0] = 0;
    for (int64_t b = 0; b < graphs; b++) cum[b + 1] = cum[b] + copies[b];
    if (!in->group_ptr) {
        out->num_groups = graphs;
        out->group_ptr = cum;
        return GP_OK;
    }
    int64_t *gp = gp_tape_alloc(t, (size_t)(in->num_groups + 1) * sizeof(int64_t));
    if (!gp) return GP_TAPE_FAIL(t, GP_E_NOMEM, "expand: out of memory");
    for (int64_t s = 0; s <= in->num_groups; s++) gp[s] = cum[in->group_ptr[s]];
    out->num_groups = in->num_groups;
    out->group_ptr = gp;
    return GP_OK;
}

/* ---- permutations ---- */

/* Next permutation in lexicographic order; false (and p reset to sorted) after the last. */
static bool next_permutation(int64_t *p, int64_t n)
{
    int64_t i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i < 0) {
        for (int64_t a = 0, b = n - 1; a < b; a++, b--) {
            int64_t tmp = p[a];
            p[a] = p[b], p[b] = tmp;
        }
        return false;
    }
    int64_t j = n - 1;
    while (p[j] <= p[i]) j--;
    int64_t tmp = p[i];
    p[i] = p[j], p[j] = tmp;
    for (int64_t a = i + 1, b = n - 1; a < b; a++, b--) {
        tmp = p[a];
        p[a] = p[b], p[b] = tmp;
    }
    return true;
}

static int64_t factorial(int64_t n)
{
    int64_t f = 1;
    for (int64_t i = 2; i <= n; i++) f *= i;
    return f;
}

/* ---- the operator ---- */

static gp_status rp_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                         int64_t *readout_dim, int64_t *node_dim)
{
    (void)readout_dim;
    gp_status st;
    rp_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "rp: out of memory");
    *state = s;
    GP_TRY(gp_pool_opt_int(opt, "rp", "perms", 16, 1, 1000000, &s->perms));
    GP_TRY(gp_pool_opt_int(opt, "rp", "width", 41, 1, 1 << 20, &s->width));
    GP_TRY(gp_pool_opt_int(opt, "rp", "exact", 6, 0, 8, &s->exact));
    GP_TRY(gp_pool_opt_int(opt, "rp", "train_perms", 1, 1, 1000000, &s->train_perms));
    GP_TRY(gp_pool_opt_int(opt, "rp", "shared", 1, 0, 1, &s->shared));
    gp_rng_split(&s->rng, rng);
    s->eval_seed = gp_rng_u64(rng);
    *node_dim = m->in_dim + s->width;
fail:
    return st;
}

static gp_status rp_expand(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                           gp_pool_batch *out)
{
    (void)m;
    rp_state *s = state;
    const gp_graph *g = in->graph;
    int64_t graphs = g->num_graphs;
    bool training = gp_tape_training(t);
    gp_rng eval_rng, *rng = &s->rng;
    if (!training) {
        gp_rng_seed(&eval_rng, s->eval_seed);
        rng = &eval_rng;
    }
    int64_t *copies = gp_tape_alloc(t, (size_t)graphs * sizeof(int64_t));
    if (!copies) return GP_TAPE_FAIL(t, GP_E_NOMEM, "rp: out of memory");
    bool replicate = false;
    for (int64_t b = 0; b < graphs; b++) {
        int64_t n = g->graph_ptr[b + 1] - g->graph_ptr[b];
        copies[b] = training ? s->train_perms : n <= s->exact ? factorial(n) : s->perms;
        replicate |= copies[b] != 1;
    }
    gp_graph *rep = NULL;
    int64_t *src = NULL, nodes = g->adj.rows;
    if (replicate) {
        gp_status st = gp_i_rp_replicate(t, "rp", g, copies, s->shared, &rep, &src, &nodes);
        if (st != GP_OK) return st;
        out->graph = rep;
        out->owns_graph = true;
        if ((st = gp_i_rp_groups(t, in, copies, out)) != GP_OK) return st;
    } else {
        out->graph = in->graph;
        out->num_groups = in->num_groups;
        out->group_ptr = in->group_ptr;
    }
    /* position ids, copy by copy (the output graphs are the copies in order) */
    gp_tensor *ids = gp_tape_tensor(t, nodes, s->width);
    int64_t max_n = 0;
    for (int64_t b = 0; b < graphs; b++)
        if (g->graph_ptr[b + 1] - g->graph_ptr[b] > max_n) max_n = g->graph_ptr[b + 1] - g->graph_ptr[b];
    int64_t *perm = gp_tape_alloc(t, (size_t)(max_n > 0 ? max_n : 1) * sizeof(int64_t));
    if (!ids || !perm) return GP_TAPE_FAIL(t, GP_E_NOMEM, "rp: out of memory");
    int64_t row = 0;
    for (int64_t b = 0; b < graphs; b++) {
        int64_t n = g->graph_ptr[b + 1] - g->graph_ptr[b];
        bool exact = !training && n <= s->exact;
        for (int64_t i = 0; i < n; i++) perm[i] = i;
        for (int64_t c = 0; c < copies[b]; c++) {
            if (exact) {
                if (c > 0) next_permutation(perm, n);
            } else {
                gp_rng_shuffle(rng, perm, n);
            }
            for (int64_t i = 0; i < n; i++) ids->data[(row + i) * s->width + perm[i] % s->width] = 1.0f;
            row += n;
        }
    }
    gp_tensor *x = src ? gp_gather_rows(t, in->x, src, nodes) : in->x;
    out->x = gp_concat_cols(t, 2, (gp_tensor *[]){x, ids});
    return gp_tape_status(t);
}

const gp_pool_class gp_i_pool_rp = {
    "rp", "relational pooling (RP-GIN position ids): perms=16, width=41, exact=6, train_perms=1, "
    "shared=1",
    GP_POOL_EXPAND, rp_init, NULL, NULL, rp_expand, NULL};
