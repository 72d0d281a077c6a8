/*
 * Graph Parsing Networks (Song, Huang, Wang, Zhou, Lin, ICLR 2024, "Graph Parsing Networks";
 * official code LUMIA-Group/GraphParsingNetworks). One pooling level, applied recurrently with
 * the SAME weights until no graph of the batch has an edge left:
 *
 *   g1      = GNN1(h, A)          L GCN layers (ReLU + dropout between), then LayerNorm(h + out);
 *                                 L = 0: g1 = h
 *   sigma_e = sigmoid(MLP(g1_u * g1_v))   per undirected edge e = {u, v} (elementwise product,
 *                                 so the score is symmetric); MLP: d -> d -> 1 with LayerNorm,
 *                                 ReLU and dropout between layers (parser_layers = 2)
 *   parse   each node keeps its dominant edge (highest sigma; ties: smaller edge index, edges
 *           numbered in CSR order of the pairs (u < v) of row v), clusters = weakly connected
 *           components of the dominant-edge graph (union-find), isolated nodes are singletons
 *           (gp_gpn_parse_edges). S[i, c] = 1 iff node i is in cluster c; no gradient.
 *   A'      = 1[offdiag(S^T A S) > 0]   (hand kernel gp_gpn_pooled_graph; see below)
 *   h'_c    = gate_c * DS_post( sum_{i in c} DS_pre(g2_i) ),  DS(x) = LayerNorm(x + MLP(x)),
 *             MLP = x W + b (ds_layers = 1) or ds_layers linear layers with ReLU and dropout
 *             between them (the official NCI1 preset uses 3),
 *             g2 = g1 (gnn2=share) or h (gnn2=identity, the official DD setting),
 *             gate_c = sum over the directed edges e inside c of sigma_e = 2 sum_{undirected}
 *             (the official node_score * link_counts), gate 1 for singletons.
 *   Graphs without edges at a level keep their node vectors unchanged (h'_c = h_i, c = {i});
 *   GNN1, the scorer and DeepSets run on the other graphs' nodes only (active_nodes).
 *   readout = sum over the nodes that remain of h (readout=sum), or the sum over levels of the
 *             per-graph mean of h at the start of each level, including the last (readout=levelmean,
 *             the official molpcba variant).
 *
 * Gradients (tape ops): the parse, S and A' carry none; the loss reaches the scorer only through
 * the gate: dL/dsigma_e = 2 <dL/dh'_c, DS_post(...)_c> for e inside c, dz_e = dsigma_e sigma_e
 * (1 - sigma_e), then back through the MLP, the product g1_u * g1_v and GNN1. DeepSets and GNN1
 * also receive gradients through the features.
 *
 * Interface: GPN is a readout operator (GP_POOL_READOUT): it runs encoder, parsing and DeepSets
 * internally until the batch stops changing, because its depth is data dependent and per graph,
 * which a fixed number of coarsen steps after message-passing blocks cannot express. The pooled
 * graphs of a readout are owned by the operator (the tape borrows them) and freed when a later
 * readout starts on a reset or different tape, or by destroy.
 *
 * Coarsening kernel: 1[offdiag(S^T A S) > 0] is computed by a hand kernel: members of each
 * cluster by counting sort, then for each cluster one pass over its members' rows with a marker
 * array (distinct neighbouring clusters), twice (count, fill), then each row sorted;
 * O(n + nnz(A) + sum_c r_c log r_c) time, O(n + C) scratch. GraphBLAS (S^T (A S) with GrB_mxm, then offdiag) was measured
 * against it in tests/bench_gpn.c (docs/benchmarks.md); the hand kernel is used.
 *
 * Options: gnn_layers=2, parser_layers=2, ds_layers=1, dropout=0, act_final=false,
 * gnn2=share|identity, readout=sum|levelmean, recompute=auto|true|false (the edge scorer and
 * DeepSets pre computed score_chunk=4096 rows at a time and recomputed in backward instead of
 * kept; auto: when the batch has at least 2^22 / width undirected edges, i.e. large batches;
 * false: computed on all rows at once and kept, as before).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <graphpool/gpn.h>

#include "pool_internal.h"

enum { MAX_GNN_LAYERS = 8, MAX_RNGS = 16 };
/* recompute=auto recomputes on every level when the batch's edge scorer would keep temporaries
 * of (undirected edges x width) floats of at least this many (16 MB each): DD batches of 64 yes
 * (~46 000 edges x 128), PROTEINS (~9 300 x 128) and NCI1 (~8 300 x 256) presets' batches no
 * (docs/benchmarks.md, session 14). */
#define RECOMPUTE_AUTO_MIN (INT64_C(1) << 22)
enum { RECOMPUTE_OFF, RECOMPUTE_ON, RECOMPUTE_AUTO };

typedef struct gpn_state {
    int64_t gnn_layers, parser_layers, ds_layers, score_chunk;
    double dropout;
    bool act_final, gnn2_identity, levelmean;
    int recompute;       /* RECOMPUTE_* */
    bool recompute_now;  /* this readout's choice (auto: from the batch's size) */
    gp_module *conv[MAX_GNN_LAYERS], *parser, *ds_pre, *ds_post; /* children of the module */
    gp_tensor *parser_param;                /* the parser's first parameter */
    gp_rng *parser_rngs[MAX_RNGS], *pre_rngs[MAX_RNGS]; /* dropout streams: parser, DeepSets pre */
    int num_parser_rngs, num_pre_rngs;
    gp_tape *scratch;                       /* chunks of recomputed row maps (created on first use) */
    gp_tensor *gnn_gamma, *gnn_beta, *pre_gamma, *pre_beta, *post_gamma, *post_beta;
    /* pooled graphs of the last readout (borrowed by its tape) */
    gp_graph **graphs;
    int num_graphs, cap_graphs;
    const gp_tape *last_tape;
    size_t last_tape_size;
} gpn_state;

static void free_graphs(gpn_state *s)
{
    for (int i = 0; i < s->num_graphs; i++) gp_graph_free(&s->graphs[i]);
    s->num_graphs = 0;
}

static void gpn_destroy(void *state)
{
    gpn_state *s = state;
    if (!s) return;
    free_graphs(s);
    gp_i_free(s->graphs);
    gp_tape_free(&s->scratch);
    gp_i_free(s);
}

static gp_status add_child(gp_module *m, gp_module **child, gp_module **slot)
{
    gp_status st = gp_module_add_child(m, child);
    if (st == GP_OK) *slot = m->children[m->num_children - 1];
    return st;
}

static gp_status add_norm(gp_module *m, gp_tensor **gamma, gp_tensor **beta, const char *name)
{
    char gname[48], bname[48];
    snprintf(gname, sizeof gname, "%s.gamma", name);
    snprintf(bname, sizeof bname, "%s.beta", name);
    gp_status st = gp_module_add_param(m, gamma, gname, 1, m->in_dim);
    if (st != GP_OK) return st;
    gp_tensor_fill(*gamma, 1.0f);
    return gp_module_add_param(m, beta, bname, 1, m->in_dim);
}

static gp_status gpn_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                          int64_t *readout_dim, int64_t *node_dim)
{
    (void)node_dim;
    gp_status st;
    gp_module *child = NULL;
    const char *gnn2 = NULL, *readout = NULL;
    int64_t d = m->in_dim;
    gpn_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "gpn: out of memory");
    *state = s;
    GP_TRY(gp_pool_opt_int(opt, "gpn", "gnn_layers", 2, 0, MAX_GNN_LAYERS, &s->gnn_layers));
    GP_TRY(gp_pool_opt_int(opt, "gpn", "parser_layers", 2, 1, 8, &s->parser_layers));
    GP_TRY(gp_pool_opt_int(opt, "gpn", "ds_layers", 1, 1, 8, &s->ds_layers));
    GP_TRY(gp_pool_opt_double(opt, "gpn", "dropout", 0.0, 0.0, 0.99, &s->dropout));
    GP_TRY(gp_pool_opt_bool(opt, "gpn", "act_final", false, &s->act_final));
    const char *rc = NULL;
    GP_TRY(gp_pool_opt_string(opt, "gpn", "recompute", "auto", &rc));
    if (!strcmp(rc, "auto")) s->recompute = RECOMPUTE_AUTO;
    else if (!strcmp(rc, "true") || !strcmp(rc, "1")) s->recompute = RECOMPUTE_ON;
    else if (!strcmp(rc, "false") || !strcmp(rc, "0")) s->recompute = RECOMPUTE_OFF;
    else {
        st = GP_ERR(GP_E_INVALID, "gpn: option recompute=%s: expected auto, true or false", rc);
        goto fail;
    }
    GP_TRY(gp_pool_opt_int(opt, "gpn", "score_chunk", 4096, 1, INT64_C(1) << 30, &s->score_chunk));
    GP_TRY(gp_pool_opt_string(opt, "gpn", "gnn2", "share", &gnn2));
    GP_TRY(gp_pool_opt_string(opt, "gpn", "readout", "sum", &readout));
    if (!strcmp(gnn2, "identity")) s->gnn2_identity = true;
    else if (strcmp(gnn2, "share") != 0) {
        st = GP_ERR(GP_E_INVALID, "gpn: option gnn2=%s: expected share or identity", gnn2);
        goto fail;
    }
    if (!strcmp(readout, "levelmean")) s->levelmean = true;
    else if (strcmp(readout, "sum") != 0) {
        st = GP_ERR(GP_E_INVALID, "gpn: option readout=%s: expected sum or levelmean", readout);
        goto fail;
    }
    for (int64_t l = 0; l < s->gnn_layers; l++) {
        GP_TRY(gp_gcn_new(&child, d, d, true, rng));
        GP_TRY(add_child(m, &child, &s->conv[l]));
    }
    int64_t hidden[8];
    for (int i = 0; i < 8; i++) hidden[i] = d;
    gp_mlp_options mo = {GP_ACT_RELU, (float)s->dropout, GP_NORM_LAYER};
    GP_TRY(gp_mlp_new(&child, d, (int)s->parser_layers - 1, hidden, 1, &mo, rng));
    GP_TRY(add_child(m, &child, &s->parser));
    gp_i_module_rngs(s->parser, s->parser_rngs, MAX_RNGS, &s->num_parser_rngs);
    if (s->num_parser_rngs > MAX_RNGS || s->parser->num_children < 1 || s->parser->children[0]->num_params < 1) {
        st = GP_ERR(GP_E_STATE, "gpn: unexpected parser module layout");
        goto fail;
    }
    s->parser_param = s->parser->children[0]->params[0];
    /* DeepSets MLPs: one linear layer (ds_layers=1), else d -> d ... -> d with ReLU and dropout
     * between layers and no inserted norm (the official MLP "post" form) */
    gp_mlp_options dso = {GP_ACT_RELU, (float)s->dropout, GP_NORM_NONE};
    for (int k = 0; k < 2; k++) {
        if (s->ds_layers == 1) GP_TRY(gp_linear_new(&child, d, d, true, rng));
        else GP_TRY(gp_mlp_new(&child, d, (int)s->ds_layers - 1, hidden, d, &dso, rng));
        GP_TRY(add_child(m, &child, k == 0 ? &s->ds_pre : &s->ds_post));
    }
    gp_i_module_rngs(s->ds_pre, s->pre_rngs, MAX_RNGS, &s->num_pre_rngs);
    if (s->num_pre_rngs > MAX_RNGS) {
        st = GP_ERR(GP_E_STATE, "gpn: unexpected DeepSets module layout");
        goto fail;
    }
    if (s->gnn_layers > 0) GP_TRY(add_norm(m, &s->gnn_gamma, &s->gnn_beta, "gnn_norm"));
    GP_TRY(add_norm(m, &s->pre_gamma, &s->pre_beta, "ds_pre_norm"));
    GP_TRY(add_norm(m, &s->post_gamma, &s->post_beta, "ds_post_norm"));
    *readout_dim = d;
fail:
    gp_module_free(&child);
    return st;
}

/* ---- parsing (no gradient) ---- */

static int64_t uf_find(int64_t *parent, int64_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

/* a ranks above b (NaN below every number). */
static bool score_better(float a, float b)
{
    if (isnan(a)) return false;
    return isnan(b) || a > b;
}

gp_status gp_gpn_parse_edges(int64_t *cluster, int64_t *num_clusters, int64_t n, int64_t m,
                             const int64_t *eu, const int64_t *ev, const float *score)
{
    if (!cluster || !num_clusters || n < 0 || m < 0 || (m > 0 && (!eu || !ev || !score)))
        return GP_ERR(GP_E_INVALID, "gp_gpn_parse_edges: NULL argument or negative size");
    for (int64_t k = 0; k < m; k++)
        if (eu[k] < 0 || eu[k] >= n || ev[k] < 0 || ev[k] >= n)
            return GP_ERR(GP_E_RANGE, "gp_gpn_parse_edges: edge %lld (%lld, %lld) outside [0, %lld)",
                          (long long)k, (long long)eu[k], (long long)ev[k], (long long)n);
    *num_clusters = 0;
    if (n == 0) return GP_OK;
    int64_t *best = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
    int64_t *parent = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
    if (!best || !parent) {
        gp_i_free(best);
        gp_i_free(parent);
        return GP_ERR(GP_E_NOMEM, "gp_gpn_parse_edges: out of memory (%lld nodes)", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) best[i] = -1, parent[i] = i;
    /* dominant edge of every node: increasing k keeps the smaller index on ties */
    for (int64_t k = 0; k < m; k++) {
        int64_t u = eu[k], v = ev[k];
        if (u == v) continue;
        if (best[u] < 0 || score_better(score[k], score[best[u]])) best[u] = k;
        if (best[v] < 0 || score_better(score[k], score[best[v]])) best[v] = k;
    }
    for (int64_t i = 0; i < n; i++) {
        if (best[i] < 0) continue;
        int64_t k = best[i], j = eu[k] == i ? ev[k] : eu[k];
        int64_t a = uf_find(parent, i), b = uf_find(parent, j);
        if (a < b) parent[b] = a; /* the smaller root wins: deterministic */
        else if (b < a) parent[a] = b;
    }
    /* number components by their smallest node (best[] reused as root -> cluster) */
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) best[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t r = uf_find(parent, i);
        if (best[r] < 0) best[r] = c++;
        cluster[i] = best[r];
    }
    *num_clusters = c;
    gp_i_free(best);
    gp_i_free(parent);
    return GP_OK;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

gp_status gp_gpn_pooled_graph(gp_graph **out, const gp_graph *g, const int64_t *cluster,
                              int64_t num_clusters)
{
    if (!out || !g || !cluster || num_clusters < 0)
        return GP_ERR(GP_E_INVALID, "gp_gpn_pooled_graph: NULL argument or negative size");
    *out = NULL;
    gp_status st = GP_OK;
    const gp_csr *a = &g->adj;
    int64_t n = a->rows, ng = g->num_graphs, nc = num_clusters;
    int64_t *cptr = NULL, *member = NULL, *mark = NULL, *gptr = NULL, *graph_of_c = NULL;
    gp_csr *adj = NULL;
    gp_graph *r = NULL;
    if (n > 0 && nc < 1)
        return GP_ERR(GP_E_INVALID, "gp_gpn_pooled_graph: %lld nodes in no cluster", (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (cluster[i] < 0 || cluster[i] >= nc)
            return GP_ERR(GP_E_RANGE, "gp_gpn_pooled_graph: cluster[%lld] = %lld outside [0, %lld)",
                          (long long)i, (long long)cluster[i], (long long)nc);
    size_t cbytes = gp_i_mul_size((size_t)nc + 1, sizeof(int64_t));
    cptr = gp_i_calloc((size_t)nc + 1, sizeof(int64_t));
    member = gp_i_malloc(gp_i_mul_size((size_t)(n > 0 ? n : 1), sizeof(int64_t)));
    mark = gp_i_malloc(cbytes);
    graph_of_c = gp_i_malloc(cbytes);
    gptr = gp_i_calloc((size_t)ng + 1, sizeof(int64_t));
    if (!cptr || !member || !mark || !graph_of_c || !gptr) {
        st = GP_ERR(GP_E_NOMEM, "gp_gpn_pooled_graph: out of memory");
        goto fail;
    }
    /* members of each cluster (counting sort), and the graph of each cluster */
    for (int64_t c = 0; c < nc; c++) graph_of_c[c] = -1, mark[c] = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t gi = g->graph_of ? g->graph_of[i] : 0, c = cluster[i];
        if (graph_of_c[c] >= 0 && graph_of_c[c] != gi) {
            st = GP_ERR(GP_E_INVALID, "gp_gpn_pooled_graph: cluster %lld spans graphs %lld and %lld",
                        (long long)c, (long long)graph_of_c[c], (long long)gi);
            goto fail;
        }
        graph_of_c[c] = gi;
        cptr[c + 1]++;
    }
    for (int64_t c = 0; c < nc; c++) {
        if (graph_of_c[c] < 0 || (c > 0 && graph_of_c[c] < graph_of_c[c - 1])) {
            st = GP_ERR(GP_E_INVALID, "gp_gpn_pooled_graph: cluster %lld is empty or out of graph order",
                        (long long)c);
            goto fail;
        }
        gptr[graph_of_c[c] + 1]++;
        cptr[c + 1] += cptr[c];
    }
    for (int64_t b = 0; b < ng; b++) gptr[b + 1] += gptr[b];
    /* members in increasing node order (mark[] serves as write positions) */
    for (int64_t c = 0; c < nc; c++) mark[c] = cptr[c];
    for (int64_t i = 0; i < n; i++) member[mark[cluster[i]]++] = i;
    for (int64_t c = 0; c < nc; c++) mark[c] = -1;
    /* pass 1: distinct neighbouring clusters per cluster (mark[d] == c: d seen in row c) */
    int64_t nnz = 0;
    for (int64_t c = 0; c < nc; c++)
        for (int64_t p = cptr[c]; p < cptr[c + 1]; p++) {
            int64_t i = member[p];
            for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) {
                int64_t dcl = cluster[a->idx[k]];
                if (dcl != c && mark[dcl] != c) mark[dcl] = c, nnz++;
            }
        }
    GP_TRY(gp_csr_new(&adj, nc, nc, nnz, false));
    /* pass 2: fill and sort each row */
    for (int64_t c = 0; c < nc; c++) mark[c] = -1;
    nnz = 0;
    adj->ptr[0] = 0;
    for (int64_t c = 0; c < nc; c++) {
        for (int64_t p = cptr[c]; p < cptr[c + 1]; p++) {
            int64_t i = member[p];
            for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) {
                int64_t dcl = cluster[a->idx[k]];
                if (dcl != c && mark[dcl] != c) mark[dcl] = c, adj->idx[nnz++] = dcl;
            }
        }
        adj->ptr[c + 1] = nnz;
        if (nnz - adj->ptr[c] > 1)
            qsort(adj->idx + adj->ptr[c], (size_t)(nnz - adj->ptr[c]), sizeof(int64_t), cmp_int64);
    }
    GP_TRY(gp_graph_from_csr(&r, &adj, true));
    GP_TRY(gp_i_graph_set_batch(r, ng, gptr));
    *out = r;
    r = NULL;
fail:
    gp_graph_free(&r);
    gp_csr_free(&adj);
    gp_i_free(cptr);
    gp_i_free(member);
    gp_i_free(mark);
    gp_i_free(gptr);
    gp_i_free(graph_of_c);
    return st;
}

/* ---- one level on the tape ---- */

typedef struct level_out {
    bool merged;      /* some graph had an edge */
    int64_t *cluster; /* n entries (arena) */
    int64_t num_clusters;
    gp_graph *pooled; /* caller's */
    gp_tensor *h;     /* num_clusters x d */
} level_out;

/* Undirected edges {u < v} of a symmetric graph in CSR order (row v, then u), in the arena. */
static int64_t undirected_edges(gp_tape *t, const gp_graph *g, int64_t **eu, int64_t **ev)
{
    const gp_csr *a = &g->adj;
    int64_t m = 0;
    for (int64_t v = 0; v < a->rows; v++)
        for (int64_t k = a->ptr[v]; k < a->ptr[v + 1]; k++) m += a->idx[k] < v;
    *eu = gp_tape_alloc(t, (size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    *ev = gp_tape_alloc(t, (size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    if (!*eu || !*ev) {
        GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory (%lld edges)", (long long)m);
        return -1;
    }
    m = 0;
    for (int64_t v = 0; v < a->rows; v++)
        for (int64_t k = a->ptr[v]; k < a->ptr[v + 1]; k++)
            if (a->idx[k] < v) (*eu)[m] = a->idx[k], (*ev)[m] = v, m++;
    return m;
}

static gp_tensor *gnn1(gp_module *m, gpn_state *s, gp_tape *t, gp_graph *g, gp_tensor *h)
{
    if (s->gnn_layers == 0) return h;
    gp_tensor *y = h;
    for (int64_t l = 0; l < s->gnn_layers; l++) {
        y = gp_module_forward(s->conv[l], t, g, y);
        if (l < s->gnn_layers - 1 || s->act_final) /* ReLU then dropout, fused */
            y = gp_relu_dropout(t, y, (float)s->dropout, &m->rng);
    }
    return gp_layer_norm(t, gp_add(t, h, y), s->gnn_gamma, s->gnn_beta, 1e-5f);
}

/* sigma(parser(g1_u * g1_v)) per edge; the parser's first layer and the product run as one op
 * that keeps no products and back-propagates only the edges with a gradient (those inside
 * clusters: the gate is sigma's only use with a gradient); the same forward bits as
 * gp_gather_mul followed by the parser's own forward. */
static gp_tensor *edge_scores(gpn_state *s, gp_tape *t, gp_tensor *g1, const int64_t *eu,
                              const int64_t *ev, int64_t m)
{
    gp_tensor *z = gp_i_linear_gather_mul(s->parser->children[0], t, g1, eu, ev, m);
    return gp_sigmoid(t, gp_i_stack_forward_after_first(s->parser, t, NULL, z));
}

/* Edge scores, computed score_chunk edges at a time (gp_i_rowmap_run, lib/ops_recompute.c):
 * when recomputing (recompute=true, or auto on large batches) only sigma (m x 1) stays on the
 * tape and backward recomputes each chunk (the scorer's edge-wide temporaries were the largest
 * items of a GPN step on big graphs; DD: ~46 000 undirected edges per batch of 64, every level
 * kept until backward; on small batches the recomputation costs more than the memory is worth,
 * hence recompute=auto). The backward recomputes only the edges inside clusters: the gate is
 * the only use of sigma with a gradient (skip_zero_grad). */
typedef struct score_ctx {
    gpn_state *s;
    const int64_t *eu, *ev;
} score_ctx;

static gp_tensor *score_rows(void *ctx, gp_tape *t, gp_tensor *g1, int64_t k0, int64_t len,
                             const int64_t *rows)
{
    const score_ctx *c = ctx;
    if (!rows) return edge_scores(c->s, t, g1, c->eu + k0, c->ev + k0, len);
    int64_t *eu = gp_tape_alloc(t, (size_t)(len > 0 ? len : 1) * sizeof *eu);
    int64_t *ev = gp_tape_alloc(t, (size_t)(len > 0 ? len : 1) * sizeof *ev);
    if (!eu || !ev) return NULL;
    for (int64_t i = 0; i < len; i++) eu[i] = c->eu[rows[i]], ev[i] = c->ev[rows[i]];
    return edge_scores(c->s, t, g1, eu, ev, len);
}

/* Recompute in this readout? Decided once, on the batch (level 0), for all levels. */
static bool recompute_batch(const gpn_state *s, const gp_graph *g, int64_t d)
{
    return s->recompute == RECOMPUTE_ON ||
           (s->recompute == RECOMPUTE_AUTO && g->adj.nnz / 2 * d >= RECOMPUTE_AUTO_MIN);
}

static bool have_scratch(gpn_state *s, gp_tape *t)
{
    if (s->scratch || gp_tape_new(&s->scratch) == GP_OK) return true;
    GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory (scratch tape)");
    return false;
}

static gp_tensor *edge_scores_chunked(gpn_state *s, gp_tape *t, gp_tensor *g1, const int64_t *eu,
                                      const int64_t *ev, int64_t m)
{
    score_ctx *c = gp_tape_alloc(t, sizeof *c);
    if (!c || !have_scratch(s, t)) return NULL;
    *c = (score_ctx){s, eu, ev};
    gp_i_rowmap rm = {score_rows, c, g1, false, NULL, m, 1, 0, s->score_chunk,
                      s->parser_rngs, s->num_parser_rngs, s->parser_param, s->scratch,
                      s->recompute_now, true};
    return gp_i_rowmap_run(t, &rm);
}

static gp_tensor *deepsets(gp_tape *t, gp_module *mlp, gp_tensor *gamma, gp_tensor *beta, gp_tensor *x,
                           bool single_linear)
{
    /* one linear layer: x + (x W + b) as one fused product (no separate residual add) */
    gp_tensor *sum = single_linear ? gp_i_linear_residual(mlp, t, x, x)
                                   : gp_add(t, x, gp_module_forward(mlp, t, NULL, x));
    return gp_layer_norm(t, sum, gamma, beta, 1e-5f);
}

/* sum over each cluster's members of DS_pre(g2_i), score_chunk nodes at a time (row map with a
 * scatter: with recompute, DS_pre's node-wide temporaries are not kept either). */
static gp_tensor *pre_rows(void *ctx, gp_tape *t, gp_tensor *x, int64_t k0, int64_t len,
                           const int64_t *rows)
{
    gpn_state *s = ctx;
    (void)k0, (void)len, (void)rows; /* a slice: x holds the rows */
    return deepsets(t, s->ds_pre, s->pre_gamma, s->pre_beta, x, s->ds_layers == 1);
}

static gp_tensor *deepsets_pre_sum(gpn_state *s, gp_tape *t, gp_tensor *g2, const int64_t *cluster,
                                   int64_t nc)
{
    if (!have_scratch(s, t)) return NULL;
    gp_i_rowmap rm = {pre_rows, s, g2, true, cluster, g2->rows, g2->cols, nc, s->score_chunk,
                      s->pre_rngs, s->num_pre_rngs, s->pre_gamma, s->scratch,
                      s->recompute_now, false};
    return gp_i_rowmap_run(t, &rm);
}

static gp_status keep_graph(gpn_state *s, gp_graph *g)
{
    if (s->num_graphs == s->cap_graphs) {
        int cap = s->cap_graphs ? 2 * s->cap_graphs : 16;
        gp_graph **p = gp_i_realloc(s->graphs, (size_t)cap * sizeof *p);
        if (!p) return GP_ERR(GP_E_NOMEM, "gpn: out of memory");
        s->graphs = p;
        s->cap_graphs = cap;
    }
    s->graphs[s->num_graphs++] = g;
    return GP_OK;
}

/* The nodes of the graphs that still have an edge (a graph without one keeps its vectors, so
 * GNN1 and DeepSets would compute rows nobody reads: 3 % of PROTEINS' node rows, 11 % of its
 * clusters): their count, the graph they induce (owned by s, like the pooled graphs), h's rows,
 * and the edges' end points in that graph. Graphs are contiguous node ranges and frozen ones
 * have no edge, so a node's new index is its old one minus the frozen nodes before it. With
 * no frozen graph everything is the level's own (*ga = g, *ha = h, *au = eu, *av = ev). */
typedef struct active_part {
    int64_t na, *old_index, *new_index; /* new_index[i] = -1 for a frozen node */
    gp_graph *ga;
    gp_tensor *ha;
    int64_t *au, *av;
} active_part;

static gp_status active_nodes(gpn_state *s, gp_tape *t, gp_graph *g, gp_tensor *h,
                              const bool *has_edge, const int64_t *eu, const int64_t *ev, int64_t ne,
                              active_part *p)
{
    int64_t n = g->adj.rows;
    *p = (active_part){n, NULL, NULL, g, h, (int64_t *)eu, (int64_t *)ev};
    int64_t na = 0;
    for (int64_t i = 0; i < n; i++) na += has_edge[g->graph_of[i]];
    if (na == n) return GP_OK;
    p->na = na;
    p->old_index = gp_tape_alloc(t, (size_t)na * sizeof(int64_t));
    p->new_index = gp_tape_alloc(t, (size_t)n * sizeof(int64_t));
    p->au = gp_tape_alloc(t, (size_t)ne * sizeof(int64_t));
    p->av = gp_tape_alloc(t, (size_t)ne * sizeof(int64_t));
    if (!p->old_index || !p->new_index || !p->au || !p->av)
        return GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory");
    na = 0;
    for (int64_t i = 0; i < n; i++) {
        p->new_index[i] = has_edge[g->graph_of[i]] ? na : -1;
        if (p->new_index[i] >= 0) p->old_index[na++] = i;
    }
    for (int64_t k = 0; k < ne; k++) p->au[k] = p->new_index[eu[k]], p->av[k] = p->new_index[ev[k]];
    gp_status st = gp_graph_induced(&p->ga, g, na, p->old_index);
    if (st == GP_OK && (st = keep_graph(s, p->ga)) != GP_OK) gp_graph_free(&p->ga);
    if (st != GP_OK) return GP_TAPE_FAIL(t, st, "%s", gp_last_error_message());
    p->ha = gp_gather_rows(t, h, p->old_index, na);
    return p->ha ? GP_OK : gp_tape_status(t);
}

/* One level: g1, scores, parse, pooled graph and pooled features. */
static gp_status level_forward(gp_module *m, gpn_state *s, gp_tape *t, gp_graph *g, gp_tensor *h,
                               level_out *o)
{
    memset(o, 0, sizeof *o);
    gp_status st = GP_OK;
    int64_t n = g->adj.rows, *eu = NULL, *ev = NULL;
    int64_t ne = undirected_edges(t, g, &eu, &ev);
    if (ne < 0) return gp_tape_status(t);
    if (ne == 0) return GP_OK;
    o->merged = true;
    bool *has_edge = gp_tape_alloc(t, (size_t)g->num_graphs * sizeof(bool));
    if (!has_edge) return GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory");
    memset(has_edge, 0, (size_t)g->num_graphs * sizeof(bool));
    for (int64_t k = 0; k < ne; k++) has_edge[g->graph_of[eu[k]]] = true;
    active_part p;
    if ((st = active_nodes(s, t, g, h, has_edge, eu, ev, ne, &p)) != GP_OK) return st;

    gp_tensor *g1 = gnn1(m, s, t, p.ga, p.ha);
    if (!g1) return gp_tape_status(t);
    gp_tensor *sigma = edge_scores_chunked(s, t, g1, p.au, p.av, ne);
    if (!sigma) return gp_tape_status(t);
    o->cluster = gp_tape_alloc(t, (size_t)n * sizeof(int64_t));
    if (!o->cluster) return GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory");
    st = gp_gpn_parse_edges(o->cluster, &o->num_clusters, n, ne, eu, ev, sigma->data);
    if (st == GP_OK) st = gp_gpn_pooled_graph(&o->pooled, g, o->cluster, o->num_clusters);
    if (st != GP_OK) return GP_TAPE_FAIL(t, st, "%s", gp_last_error_message());
    int64_t nc = o->num_clusters;

    /* Clusters of the active nodes, numbered 0..nca-1 in order (clusters are numbered by
     * their smallest node, so a frozen node's singleton falls between them); without frozen
     * graphs the level's own numbering. */
    int64_t nca = nc, *cluster_a = o->cluster, *index = NULL;
    int64_t *cmap = gp_tape_alloc(t, (size_t)nc * sizeof(int64_t));
    if (!cmap) return GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory");
    for (int64_t c = 0; c < nc; c++) cmap[c] = c;
    if (p.na < n) {
        index = gp_tape_alloc(t, (size_t)nc * sizeof(int64_t));
        cluster_a = gp_tape_alloc(t, (size_t)p.na * sizeof(int64_t));
        if (!index || !cluster_a) {
            gp_graph_free(&o->pooled);
            return GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory");
        }
        for (int64_t i = 0; i < n; i++)
            if (p.new_index[i] < 0) cmap[o->cluster[i]] = -1 - i; /* the frozen node itself */
        nca = 0;
        for (int64_t c = 0; c < nc; c++) {
            if (cmap[c] >= 0) cmap[c] = nca++;
            index[c] = cmap[c] >= 0 ? n + cmap[c] : -1 - cmap[c]; /* rows of [h; hp_active] */
        }
        for (int64_t i = 0; i < p.na; i++) cluster_a[i] = cmap[o->cluster[p.old_index[i]]];
    }

    /* pooled features: DeepSets over members, gated by the internal edges' scores */
    gp_tensor *g2 = s->gnn2_identity ? p.ha : g1;
    bool one_linear = s->ds_layers == 1;
    gp_tensor *pre_sum = deepsets_pre_sum(s, t, g2, cluster_a, nca);
    gp_tensor *post = deepsets(t, s->ds_post, s->post_gamma, s->post_beta, pre_sum, one_linear);
    int64_t nint = 0;
    for (int64_t k = 0; k < ne; k++) nint += o->cluster[eu[k]] == o->cluster[ev[k]];
    int64_t *int_edge = gp_tape_alloc(t, (size_t)(nint > 0 ? nint : 1) * sizeof(int64_t));
    int64_t *int_cluster = gp_tape_alloc(t, (size_t)(nint > 0 ? nint : 1) * sizeof(int64_t));
    gp_tensor *single = gp_tape_tensor(t, nca, 1);
    if (!int_edge || !int_cluster || !single) {
        gp_graph_free(&o->pooled);
        return GP_TAPE_FAIL(t, GP_E_NOMEM, "gpn: out of memory");
    }
    for (int64_t c = 0; c < nca; c++) single->data[c] = 1.0f;
    nint = 0;
    for (int64_t k = 0; k < ne; k++) {
        int64_t c = o->cluster[eu[k]];
        if (c == o->cluster[ev[k]])
            int_edge[nint] = k, int_cluster[nint] = cmap[c], nint++, single->data[cmap[c]] = 0.0f;
    }
    gp_tensor *gate = gp_add(t, gp_scale(t, gp_scatter_add_rows(t, gp_gather_rows(t, sigma, int_edge, nint),
                                                                int_cluster, nca),
                                         2.0f),
                             single);
    gp_tensor *hp = gp_mul(t, post, gate);
    /* graphs without edges keep their node vectors */
    if (index) {
        gp_tensor *both[2] = {h, hp};
        hp = gp_gather_rows(t, gp_concat_rows(t, 2, both), index, nc);
    }
    o->h = hp;
    if (!hp) {
        gp_graph_free(&o->pooled);
        return gp_tape_status(t);
    }
    return GP_OK;
}

static bool check_undirected(gp_tape *t, const gp_graph *g)
{
    if (!g->symmetric) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gpn: the graph must be undirected (symmetric adjacency)");
        return false;
    }
    return true;
}

/* gp_gpn_parse reaches the module's state through the dispatcher: it sets this request and
 * calls gp_pool_readout, which then runs the parse instead of the readout. */
typedef struct parse_request {
    gp_gpn_hierarchy *out;
    gp_status st;
} parse_request;
static _Thread_local parse_request *pending_parse;

static gp_status run_parse(gp_gpn_hierarchy *out, gp_module *gpn, gpn_state *s, gp_graph *g,
                           const gp_tensor *x);

static gp_tensor *gpn_readout(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in)
{
    gpn_state *s = state;
    gp_pool_batch explicit_in;
    if (gp_i_graph_copies(in->graph)) { /* shared copies (implicit adjacency): parse the explicit form */
        const gp_graph *e = gp_i_graph_explicit_tape(t, "gpn", in->graph);
        if (!e) return NULL;
        explicit_in = *in;
        explicit_in.graph = (gp_graph *)e; /* owned by in->graph's cache */
        in = &explicit_in;
    }
    if (!check_undirected(t, in->graph)) return NULL;
    if (pending_parse) {
        parse_request *rq = pending_parse;
        pending_parse = NULL;
        rq->st = run_parse(rq->out, m, s, in->graph, in->x);
        if (rq->st != GP_OK) {
            GP_TAPE_FAIL(t, rq->st, "%s", gp_last_error_message());
            return NULL;
        }
        return gp_tape_tensor(t, 1, 1);
    }
    /* Graphs of an earlier readout may still be borrowed by t unless t was reset since. */
    if (s->last_tape != t || gp_tape_size(t) < s->last_tape_size) free_graphs(s);
    gp_graph *g = in->graph;
    gp_tensor *h = in->x, *acc = NULL;
    s->recompute_now = recompute_batch(s, g, m->in_dim);
    for (int64_t level = 0;; level++) {
        if (s->levelmean) {
            gp_tensor *mean = gp_segment_mean(t, h, g->graph_ptr, g->num_graphs);
            acc = acc ? gp_add(t, acc, mean) : mean;
        }
        level_out o;
        if (level_forward(m, s, t, g, h, &o) != GP_OK) return NULL;
        if (!o.merged) {
            if (!s->levelmean) acc = gp_segment_sum(t, h, g->graph_ptr, g->num_graphs);
            break;
        }
        gp_status st = keep_graph(s, o.pooled);
        if (st != GP_OK) {
            gp_graph_free(&o.pooled);
            GP_TAPE_FAIL(t, st, "%s", gp_last_error_message());
            return NULL;
        }
        g = o.pooled;
        h = o.h;
    }
    s->last_tape = t;
    s->last_tape_size = gp_tape_size(t);
    return gp_i_pool_group_mean(t, in, acc);
}

const gp_pool_class gp_i_pool_gpn = {
    "gpn",
    "graph parsing network (readout): gnn_layers=2, parser_layers=2, ds_layers=1, dropout=0, "
    "act_final=false, "
    "gnn2=share|identity, readout=sum|levelmean, recompute=auto|true|false, score_chunk=4096",
    GP_POOL_READOUT, gpn_init, gpn_readout, NULL, NULL, gpn_destroy};

/* ---- the parse hierarchy of one graph ---- */

void gp_gpn_hierarchy_free(gp_gpn_hierarchy *h)
{
    if (!h) return;
    for (int l = 0; l < h->num_levels; l++) gp_i_free(h->cluster[l]);
    gp_i_free(h->cluster);
    gp_i_free(h->num_nodes);
    memset(h, 0, sizeof *h);
}

gp_status gp_gpn_parse(gp_gpn_hierarchy *out, gp_module *gpn, gp_graph *g, const gp_tensor *x)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_gpn_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!gpn || !g || !x) return GP_ERR(GP_E_INVALID, "gp_gpn_parse: NULL argument");
    if (gp_pool_class_of(gpn) != &gp_i_pool_gpn)
        return GP_ERR(GP_E_INVALID, "gp_gpn_parse: not a gpn pooling module");
    if (!g->symmetric) return GP_ERR(GP_E_INVALID, "gp_gpn_parse: the graph must be undirected");
    if (x->rows != g->adj.rows || x->cols != gpn->in_dim)
        return GP_ERR(GP_E_SHAPE, "gp_gpn_parse: features %lld x %lld for %lld nodes and width %lld",
                      (long long)x->rows, (long long)x->cols, (long long)g->adj.rows,
                      (long long)gpn->in_dim);
    gp_tape *t = NULL;
    gp_status st = gp_tape_new(&t);
    if (st != GP_OK) return st;
    gp_tape_set_recording(t, false);
    gp_tensor xv = *x; /* read only */
    xv.flags = 0;
    gp_pool_batch b = gp_pool_batch_of(g, &xv);
    parse_request rq = {out, GP_OK};
    pending_parse = &rq;
    gp_tensor *r = gp_pool_readout(gpn, t, &b);
    pending_parse = NULL;
    st = r ? rq.st : (rq.st != GP_OK ? rq.st : gp_tape_status(t));
    gp_tape_free(&t);
    return st;
}

static gp_status run_parse(gp_gpn_hierarchy *out, gp_module *gpn, gpn_state *s, gp_graph *g,
                           const gp_tensor *x)
{
    gp_status st = GP_OK;
    gp_tape *t = NULL;
    gp_graph *cur = g, *owned = NULL;
    float *hbuf = NULL;
    int64_t d = x->cols, n = g->adj.rows;
    int cap = 0;
    GP_TRY(gp_tape_new(&t));
    gp_tape_set_training(t, false);
    gp_tape_set_recording(t, false);
    out->num_nodes = gp_i_malloc(sizeof(int64_t));
    hbuf = gp_i_malloc(gp_i_mul_size((size_t)(n > 0 ? n : 1) * (size_t)d, sizeof(float)));
    if (!out->num_nodes || !hbuf) {
        st = GP_ERR(GP_E_NOMEM, "gp_gpn_parse: out of memory");
        goto fail;
    }
    memcpy(hbuf, x->data, (size_t)n * (size_t)d * sizeof(float));
    out->num_nodes[0] = n;
    for (;;) {
        gp_tensor hv = gp_tensor_view(hbuf, cur->adj.rows, d);
        level_out o;
        st = level_forward(gpn, s, t, cur, &hv, &o);
        if (st != GP_OK) goto fail;
        if (!o.merged) break;
        if (out->num_levels == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t **cl = gp_i_realloc(out->cluster, (size_t)cap * sizeof *cl);
            int64_t *nn = cl ? gp_i_realloc(out->num_nodes, (size_t)(cap + 1) * sizeof *nn) : NULL;
            if (cl) out->cluster = cl;
            if (nn) out->num_nodes = nn;
            if (!cl || !nn) {
                gp_graph_free(&o.pooled);
                st = GP_ERR(GP_E_NOMEM, "gp_gpn_parse: out of memory");
                goto fail;
            }
        }
        int64_t nprev = cur->adj.rows;
        int64_t *cl = gp_i_malloc(gp_i_mul_size((size_t)(nprev > 0 ? nprev : 1), sizeof(int64_t)));
        if (!cl) {
            gp_graph_free(&o.pooled);
            st = GP_ERR(GP_E_NOMEM, "gp_gpn_parse: out of memory");
            goto fail;
        }
        memcpy(cl, o.cluster, (size_t)nprev * sizeof(int64_t));
        out->cluster[out->num_levels] = cl;
        out->num_nodes[++out->num_levels] = o.num_clusters;
        memcpy(hbuf, o.h->data, (size_t)o.num_clusters * (size_t)d * sizeof(float));
        gp_tape_reset(t); /* nothing borrows the previous graph any more */
        gp_graph_free(&owned);
        owned = cur = o.pooled;
    }
fail:
    if (st != GP_OK) gp_gpn_hierarchy_free(out);
    gp_graph_free(&owned);
    gp_i_free(hbuf);
    gp_tape_free(&t);
    return st;
}

gp_status gp_gpn_hierarchy_write_json(const gp_gpn_hierarchy *h, FILE *f)
{
    if (!h || !f) return GP_ERR(GP_E_INVALID, "gp_gpn_hierarchy_write_json: NULL argument");
    fprintf(f, "{\"levels\": %d, \"num_nodes\": [", h->num_levels);
    for (int l = 0; l <= h->num_levels && h->num_nodes; l++)
        fprintf(f, "%s%lld", l ? ", " : "", (long long)h->num_nodes[l]);
    fputs("], \"cluster\": [", f);
    for (int l = 0; l < h->num_levels; l++) {
        fputs(l ? ", [" : "[", f);
        for (int64_t i = 0; i < h->num_nodes[l]; i++)
            fprintf(f, "%s%lld", i ? ", " : "", (long long)h->cluster[l][i]);
        fputc(']', f);
    }
    fputs("]}\n", f);
    if (ferror(f)) return GP_ERR(GP_E_IO, "gp_gpn_hierarchy_write_json: write error");
    return GP_OK;
}
