/*
 * k,l-labelling with k = 1 (Zhou, Wang, Zhang, ICML 2023, "From Relational Pooling to Subgraph
 * GNNs"): l nodes of a graph carry distinct learned labels, the base GNN runs on every labelled
 * copy, each copy is pooled by a sum and the copies by a mean or max.
 *
 *   expand:  for every ordered tuple S = (v_1, ..., v_l) of distinct nodes of a graph (v_1 the root;
 *            with dist = D > 0 only nodes within D hops of the root), one copy of the graph with
 *              x'_u = [x_u | E[j]]  if u = v_j,      x'_u = [x_u | E[0]]  otherwise
 *            (E: (l+1) x emb parameter "labels", row 0 the "unlabelled" label; node_dim = in_dim +
 *            emb). Ordered tuples average over the l! label permutations (RP over the labels).
 *            l = 1 is the node-marking subgraph GNN (one copy per node). A graph with n < l nodes
 *            uses tuples of length n; an empty graph gives one empty copy; roots with no other
 *            node in range give no tuple (if no root has one: every node marked alone).
 *            training: every tuple is kept with probability frac (at least one per graph);
 *            max_tuples > 0 caps the tuples of a graph by a uniform sample (fresh per training
 *            step, fixed at inference: the inference generator is re-seeded at every call).
 *   readout: h_G = ACROSS_{copies c of G} sum_{u in c} h_u   (ACROSS = mean or max; one row per
 *            group, or per graph for an ungrouped batch).
 *
 * Gradients (tape ops): dx_u = sum over the copies of u of the first in_dim columns of dx';
 * dE[j] = sum of the last emb columns of dx' over the nodes labelled j (gather_rows backward);
 * the readout's segment sum / mean / max backward (max: first arg-max copy per column).
 * Options: l=1 (1..3), dist=0 (0 = no bound), frac=1, max_tuples=0 (no cap), emb=16,
 * across=mean|max, shared=1 (the copies share one structure, rp_internal.h; 0: replicated CSR).
 */
#include <string.h>

#include "rp_internal.h"

typedef struct klgnn_state {
    int64_t l, dist, max_tuples, emb, shared;
    double frac;
    bool across_max;
    gp_tensor *labels;
    gp_rng rng;
    uint64_t eval_seed;
} klgnn_state;

static gp_status klgnn_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                            int64_t *readout_dim, int64_t *node_dim)
{
    gp_status st;
    klgnn_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "klgnn: out of memory");
    *state = s;
    const char *across = NULL;
    GP_TRY(gp_pool_opt_int(opt, "klgnn", "l", 1, 1, 3, &s->l));
    GP_TRY(gp_pool_opt_int(opt, "klgnn", "dist", 0, 0, 1 << 20, &s->dist));
    GP_TRY(gp_pool_opt_double(opt, "klgnn", "frac", 1.0, 1e-9, 1.0, &s->frac));
    GP_TRY(gp_pool_opt_int(opt, "klgnn", "max_tuples", 0, 0, INT64_C(1) << 40, &s->max_tuples));
    GP_TRY(gp_pool_opt_int(opt, "klgnn", "emb", 16, 1, 1 << 16, &s->emb));
    GP_TRY(gp_pool_opt_int(opt, "klgnn", "shared", 1, 0, 1, &s->shared));
    GP_TRY(gp_pool_opt_string(opt, "klgnn", "across", "mean", &across));
    if (strcmp(across, "mean") != 0 && strcmp(across, "max") != 0) {
        st = GP_ERR(GP_E_INVALID, "klgnn: option across=%s: expected mean or max", across);
        goto fail;
    }
    s->across_max = !strcmp(across, "max");
    GP_TRY(gp_module_add_param(m, &s->labels, "labels", s->l + 1, s->emb));
    for (int64_t i = 0; i < gp_tensor_size(s->labels); i++) s->labels->data[i] = gp_rng_normal(rng);
    gp_rng_split(&s->rng, rng);
    s->eval_seed = gp_rng_u64(rng);
    *node_dim = m->in_dim + s->emb;
    *readout_dim = m->in_dim;
fail:
    return st;
}

/* Nodes of graph [first, first + n) within dist hops of root (local ids, root excluded), in BFS
 * order, into near (capacity n); returns their count. mark: n scratch entries, all -1 on entry
 * and on return. */
static int64_t near_nodes(const gp_csr *a, int64_t first, int64_t n, int64_t root, int64_t dist,
                          int64_t *near, int64_t *mark, int64_t *queue)
{
    int64_t count = 0;
    if (dist <= 0) {
        for (int64_t u = 0; u < n; u++)
            if (u != root) near[count++] = u;
        return count;
    }
    int64_t head = 0, tail = 0;
    queue[tail++] = root;
    mark[root] = 0;
    while (head < tail) {
        int64_t v = queue[head++];
        if (mark[v] >= dist) continue;
        for (int64_t k = a->ptr[first + v]; k < a->ptr[first + v + 1]; k++) {
            int64_t u = a->idx[k] - first;
            if (mark[u] >= 0) continue;
            mark[u] = mark[v] + 1;
            queue[tail++] = u;
            near[count++] = u;
        }
    }
    for (int64_t i = 0; i < tail; i++) mark[queue[i]] = -1;
    return count;
}

static gp_status klgnn_expand(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                              gp_pool_batch *out)
{
    (void)m;
    klgnn_state *s = state;
    const gp_graph *g = in->graph;
    if (!(g = gp_i_graph_explicit_tape(t, "klgnn", g))) return gp_tape_status(t); /* reads edges */
    const gp_csr *a = &g->adj;
    int64_t graphs = g->num_graphs;
    bool training = gp_tape_training(t);
    gp_rng eval_rng, *rng = &s->rng;
    if (!training) {
        gp_rng_seed(&eval_rng, s->eval_seed);
        rng = &eval_rng;
    }
    gp_status st = GP_OK;
    i64_list tuples = {0};
    int64_t *scratch = NULL, *copies = gp_tape_alloc(t, (size_t)graphs * sizeof(int64_t));
    int64_t *len = gp_tape_alloc(t, (size_t)graphs * sizeof(int64_t));
    int64_t max_n = 0;
    for (int64_t b = 0; b < graphs; b++)
        if (g->graph_ptr[b + 1] - g->graph_ptr[b] > max_n) max_n = g->graph_ptr[b + 1] - g->graph_ptr[b];
    scratch = gp_i_malloc((size_t)(3 * max_n + 1) * sizeof(int64_t));
    if (!copies || !len || !scratch) {
        st = GP_TAPE_FAIL(t, GP_E_NOMEM, "klgnn: out of memory");
        goto done;
    }
    int64_t *near = scratch, *mark = scratch + max_n, *queue = scratch + 2 * max_n;
    for (int64_t i = 0; i < max_n; i++) mark[i] = -1;
    /* tuples per graph (local ids), then sampling in place */
    for (int64_t b = 0; b < graphs; b++) {
        int64_t first = g->graph_ptr[b], n = g->graph_ptr[b + 1] - first;
        int64_t L = n < s->l ? n : s->l, start = tuples.n;
        len[b] = L;
        bool ok = true;
        if (n == 0) {
            copies[b] = 1;
            continue;
        }
        for (int64_t v = 0; v < n && ok; v++) {
            int64_t c = L > 1 ? near_nodes(a, first, n, v, s->dist, near, mark, queue) : 0;
            if (L == 1) ok = list_push(&tuples, v);
            for (int64_t i = 0; L == 2 && i < c && ok; i++)
                ok = list_push(&tuples, v) && list_push(&tuples, near[i]);
            for (int64_t i = 0; L == 3 && i < c && ok; i++)
                for (int64_t j = 0; j < c && ok; j++)
                    if (i != j)
                        ok = list_push(&tuples, v) && list_push(&tuples, near[i]) &&
                             list_push(&tuples, near[j]);
        }
        if (!ok) {
            st = GP_TAPE_FAIL(t, GP_E_NOMEM, "klgnn: out of memory for the tuples");
            goto done;
        }
        int64_t count = (tuples.n - start) / L, keep = count;
        int64_t *tb = tuples.v + start;
        if (count == 0) { /* a root without neighbours in range: fall back to marking the root */
            for (int64_t v = 0; v < n; v++)
                for (int64_t j = 0; j < L; j++)
                    if (!list_push(&tuples, j == 0 ? v : -1)) {
                        st = GP_TAPE_FAIL(t, GP_E_NOMEM, "klgnn: out of memory");
                        goto done;
                    }
            tb = tuples.v + start;
            count = keep = n;
        }
        if (training && s->frac < 1.0) { /* Bernoulli(frac) per tuple, at least one */
            keep = 0;
            for (int64_t i = 0; i < count; i++)
                if (gp_rng_uniform(rng) < (float)s->frac) {
                    memmove(tb + keep * L, tb + i * L, (size_t)L * sizeof(int64_t));
                    keep++;
                }
            if (keep == 0) {
                int64_t pick = (int64_t)gp_rng_below(rng, (uint64_t)count);
                memmove(tb, tuples.v + start + pick * L, (size_t)L * sizeof(int64_t));
                keep = 1;
            }
        }
        if (s->max_tuples > 0 && keep > s->max_tuples) { /* uniform subset, order kept */
            int64_t *pick = gp_i_malloc((size_t)keep * sizeof(int64_t));
            if (!pick) {
                st = GP_TAPE_FAIL(t, GP_E_NOMEM, "klgnn: out of memory");
                goto done;
            }
            for (int64_t i = 0; i < keep; i++) pick[i] = i;
            gp_rng_shuffle(rng, pick, keep);
            /* sort the chosen indices so the kept tuples stay in enumeration order */
            for (int64_t i = 1; i < s->max_tuples; i++)
                for (int64_t j = i; j > 0 && pick[j - 1] > pick[j]; j--) {
                    int64_t tmp = pick[j];
                    pick[j] = pick[j - 1], pick[j - 1] = tmp;
                }
            for (int64_t i = 0; i < s->max_tuples; i++)
                memmove(tb + i * L, tb + pick[i] * L, (size_t)L * sizeof(int64_t));
            gp_i_free(pick);
            keep = s->max_tuples;
        }
        tuples.n = start + keep * L;
        copies[b] = keep;
    }
    gp_graph *rep = NULL;
    int64_t *src = NULL, nodes = 0;
    if ((st = gp_i_rp_replicate(t, "klgnn", g, copies, s->shared, &rep, &src, &nodes)) != GP_OK) goto done;
    out->graph = rep;
    out->owns_graph = true;
    if ((st = gp_i_rp_groups(t, in, copies, out)) != GP_OK) goto done;
    int64_t *label = gp_tape_alloc(t, (size_t)(nodes > 0 ? nodes : 1) * sizeof(int64_t));
    if (!label) {
        st = GP_TAPE_FAIL(t, GP_E_NOMEM, "klgnn: out of memory");
        goto done;
    }
    memset(label, 0, (size_t)nodes * sizeof(int64_t));
    int64_t row = 0, pos = 0;
    for (int64_t b = 0; b < graphs; b++) {
        int64_t n = g->graph_ptr[b + 1] - g->graph_ptr[b];
        if (n == 0) continue;
        for (int64_t c = 0; c < copies[b]; c++, row += n)
            for (int64_t j = 0; j < len[b]; j++, pos++)
                if (tuples.v[pos] >= 0) label[row + tuples.v[pos]] = j + 1;
    }
    gp_tensor *x = gp_gather_rows(t, in->x, src, nodes);
    gp_tensor *e = gp_gather_rows(t, s->labels, label, nodes);
    out->x = gp_concat_cols(t, 2, (gp_tensor *[]){x, e});
    st = gp_tape_status(t);
done:
    gp_i_free(tuples.v);
    gp_i_free(scratch);
    return st;
}

static gp_tensor *klgnn_readout(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in)
{
    (void)m;
    klgnn_state *s = state;
    const gp_graph *g = in->graph;
    gp_tensor *per_copy = gp_segment_sum(t, in->x, g->graph_ptr, g->num_graphs);
    if (!in->group_ptr) return per_copy;
    return s->across_max ? gp_segment_max(t, per_copy, in->group_ptr, in->num_groups)
                         : gp_segment_mean(t, per_copy, in->group_ptr, in->num_groups);
}

const gp_pool_class gp_i_pool_klgnn = {
    "klgnn",
    "k,l-labelling (1,l-GNN; l=1: node marking): l=1, dist=0 (no bound), frac=1, max_tuples=0, "
    "emb=16, across=mean|max, shared=1; readout: sum per copy, across over copies",
    GP_POOL_EXPAND | GP_POOL_READOUT, klgnn_init, klgnn_readout, NULL, klgnn_expand, NULL};
