/*
 * WalkPool link prediction: subgraph extraction, model, training (linkpred.h).
 *
 * Forward per batch of B links (block-diagonal G+, nodes of link l at [o_l, o_l + n_l), a = o_l,
 * b = o_l + 1):
 *   X = [ones | attributes] (| DRNL embedding E[z]),   H1 = GCN1(X),
 *   H_{i+1} = GCN_{i+1}(dropout(relu(H_i))),          Z = [X | H1 | ... | HL]
 *   Q = W2 dropout(lrelu(W1 Z + c1)) + c2 (same shape for K),   s_h(u->v) = <Q_h[u], K_h[v]>/sqrt(d)
 *   F = gp_walkpool(s),  y = MLP(BN(F)),  loss = mean (sigmoid(y) - label)^2  or BCE(y, label).
 * Gradients come from the ops used. The three stages (encoder, walk profile, classifier) run on
 * separate tapes chained by gp_tape_backward_from, so each stage's forward + backward time is
 * measured exactly. With 2+ threads a batch is cut in two halves whose encoder + walk profile
 * run on one thread each (library serial inside; the second half trains a replica of the
 * encoder's weights, synchronised before the batch, whose gradients are added to the model's
 * afterwards), and the classifier runs on the whole batch.
 * Subgraphs: G+ is built from the induced subgraph's sorted rows by inserting the target's two
 * entries (O(n + m), no sort).
 *
 * DRNL (Zhang & Chen 2018), on G- inside the subgraph: d_a = distance to a without b,
 * d_b = distance to b without a, d = d_a + d_b, z = 1 + min(d_a, d_b) + (d/2)(d/2 + d%2 - 1),
 * z(a) = z(b) = 1, unreachable 0.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <graphpool/graphpool.h>
#include <graphpool/layers.h>
#include <graphpool/linkpred.h>
#include <graphpool/metrics.h>
#include <graphpool/walkpool.h>

#include "internal.h"

void gp_linkpred_options_default(gp_linkpred_options *opt)
{
    if (!opt) return;
    *opt = (gp_linkpred_options){
        .hops = 2,
        .max_nodes_per_hop = 0,
        .ones_dim = 16,
        .drnl = false,
        .drnl_dim = 32,
        .drnl_max_label = 64,
        .gnn_layers = 2,
        .hidden = 32,
        .heads = 2,
        .walk_len = 7,
        .dropout = 0.5f,
        .torch_init = false,
        .bce = false,
        .lr = 5e-5f,
        .batch_size = 32,
        .epochs = 50,
        .seed = 1,
        .threads = 0,
    };
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ======================================================================================== */
/* Subgraph extraction                                                                      */

typedef struct lp_sample {
    gp_graph *g;
    int64_t *nodes;
    int64_t *drnl;
} lp_sample;

struct gp_linkpred_samples {
    int64_t count;
    lp_sample *s;
};

static void samples_release(lp_sample *s)
{
    gp_graph_free(&s->g);
    gp_free(s->nodes);
    gp_i_free(s->drnl);
    s->nodes = NULL;
    s->drnl = NULL;
}

/* BFS distances from src in g (local), never entering `blocked`; -1 = unreachable. */
static void bfs_without(int64_t *dist, int64_t *queue, const gp_graph *g, int64_t src, int64_t blocked)
{
    int64_t n = gp_graph_nodes(g), head = 0, tail = 0;
    for (int64_t v = 0; v < n; v++) dist[v] = -1;
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        int64_t v = queue[head++];
        for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++) {
            int64_t u = g->adj.idx[k];
            if (u == blocked || dist[u] >= 0) continue;
            dist[u] = dist[v] + 1;
            queue[tail++] = u;
        }
    }
}

static gp_status drnl_labels(int64_t **out, const gp_graph *g, int64_t max_label)
{
    int64_t n = gp_graph_nodes(g);
    int64_t *z = gp_i_malloc((size_t)n * sizeof(int64_t));
    int64_t *da = gp_i_malloc((size_t)n * sizeof(int64_t)), *db = gp_i_malloc((size_t)n * sizeof(int64_t));
    int64_t *q = gp_i_malloc((size_t)n * sizeof(int64_t));
    if (!z || !da || !db || !q) {
        gp_i_free(z);
        gp_i_free(da);
        gp_i_free(db);
        gp_i_free(q);
        return GP_ERR(GP_E_NOMEM, "linkpred: out of memory (DRNL)");
    }
    bfs_without(da, q, g, 0, 1);
    bfs_without(db, q, g, 1, 0);
    for (int64_t v = 0; v < n; v++) {
        int64_t lab;
        if (v < 2) lab = 1;
        else if (da[v] < 0 || db[v] < 0) lab = 0;
        else {
            int64_t d = da[v] + db[v], h = d / 2;
            lab = 1 + (da[v] < db[v] ? da[v] : db[v]) + h * (h + d % 2 - 1);
        }
        z[v] = lab < max_label ? lab : max_label - 1;
    }
    gp_i_free(da);
    gp_i_free(db);
    gp_i_free(q);
    *out = z;
    return GP_OK;
}

/* G+ from the induced subgraph (sorted rows, symmetric): the same entries without self-loops or
 * values, plus 0 -> 1 and 1 -> 0 (local 0 = a, 1 = b) when absent. O(n + m), no sorting. */
static gp_status plus_graph(gp_graph **out, const gp_graph *sub)
{
    const gp_csr *s = &sub->adj;
    int64_t n = s->rows;
    bool has01 = false;
    for (int64_t k = s->ptr[0]; k < s->ptr[1]; k++) has01 |= s->idx[k] == 1;
    gp_csr *c = NULL;
    gp_status st = gp_csr_new(&c, n, n, s->nnz + (has01 ? 0 : 2), false);
    if (st != GP_OK) return st;
    int64_t w = 0;
    for (int64_t v = 0; v < n; v++) {
        c->ptr[v] = w;
        int64_t add = has01 || v > 1 ? -1 : 1 - v; /* the target's column to insert in row v */
        for (int64_t k = s->ptr[v]; k < s->ptr[v + 1]; k++) {
            int64_t u = s->idx[k];
            if (add >= 0 && u > add) {
                c->idx[w++] = add;
                add = -1;
            }
            if (u != v) c->idx[w++] = u;
        }
        if (add >= 0) c->idx[w++] = add;
    }
    c->ptr[n] = w;
    c->nnz = w;
    st = gp_graph_from_csr(out, &c, true);
    gp_csr_free(&c);
    return st;
}

static gp_status extract_one(lp_sample *s, const gp_graph *obs, int64_t a, int64_t b,
                             const gp_linkpred_options *opt, int64_t index)
{
    gp_status st = GP_OK;
    gp_graph *sub = NULL;
    int64_t count = 0;
    gp_rng rng;
    gp_rng_seed(&rng, opt->seed * UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)index + 1);
    int64_t seeds[2] = {a, b};
    GP_TRY(gp_graph_khop(&s->nodes, &count, NULL, obs, 2, seeds, opt->hops, opt->max_nodes_per_hop,
                         opt->max_nodes_per_hop > 0 ? &rng : NULL));
    GP_TRY(gp_graph_induced(&sub, obs, count, s->nodes));
    GP_TRY(plus_graph(&s->g, sub));
    if (opt->drnl) GP_TRY(drnl_labels(&s->drnl, s->g, opt->drnl_max_label));
fail:
    gp_graph_free(&sub);
    if (st != GP_OK) samples_release(s);
    return st;
}

static gp_status check_options(const gp_linkpred_options *o)
{
    if (!o) return GP_ERR(GP_E_INVALID, "linkpred: NULL options");
    if (o->hops < 1 || o->max_nodes_per_hop < 0 || o->ones_dim < 1 || o->gnn_layers < 1 ||
        o->gnn_layers > 8 || o->hidden < 1 || o->heads < 1 || o->walk_len < 1 || o->batch_size < 1 ||
        o->epochs < 0 || !(o->dropout >= 0.0f && o->dropout < 1.0f) || !(o->lr > 0.0f) ||
        (o->drnl && (o->drnl_dim < 1 || o->drnl_max_label < 2)))
        return GP_ERR(GP_E_INVALID,
                      "linkpred: invalid options (hops %d, cap %lld, layers %d, hidden %lld, heads %d, "
                      "walk_len %d, batch %lld, epochs %d, dropout %g, lr %g)",
                      o->hops, (long long)o->max_nodes_per_hop, o->gnn_layers, (long long)o->hidden,
                      o->heads, o->walk_len, (long long)o->batch_size, o->epochs, (double)o->dropout,
                      (double)o->lr);
    return GP_OK;
}

gp_status gp_linkpred_extract(gp_linkpred_samples **out, const gp_graph *observed, int64_t count,
                              const int64_t *pairs, const gp_linkpred_options *opt)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: NULL output");
    *out = NULL;
    if (!observed || (count > 0 && !pairs) || count < 0)
        return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: NULL argument or negative count");
    gp_status st = check_options(opt);
    if (st != GP_OK) return st;
    if (!observed->symmetric)
        return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: the observed graph must be undirected");
    GP_I_EXPLICIT(observed);
    int64_t n = gp_graph_nodes(observed);
    for (int64_t i = 0; i < count; i++) {
        int64_t a = pairs[2 * i], b = pairs[2 * i + 1];
        if (a < 0 || a >= n || b < 0 || b >= n)
            return GP_ERR(GP_E_RANGE, "gp_linkpred_extract: pair %lld (%lld, %lld) outside [0, %lld)",
                          (long long)i, (long long)a, (long long)b, (long long)n);
        if (a == b)
            return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: pair %lld joins node %lld to itself",
                          (long long)i, (long long)a);
    }
    gp_linkpred_samples *s = gp_i_calloc(1, sizeof *s);
    if (!s || !(s->s = gp_i_calloc((size_t)(count > 0 ? count : 1), sizeof(lp_sample)))) {
        gp_i_free(s);
        return GP_ERR(GP_E_NOMEM, "gp_linkpred_extract: out of memory");
    }
    s->count = count;
    gp_status *sts = gp_i_calloc((size_t)(count > 0 ? count : 1), sizeof(gp_status));
    char *first_msg = gp_i_calloc(512, 1);
    if (!sts || !first_msg) {
        gp_i_free(sts);
        gp_i_free(first_msg);
        gp_linkpred_samples_free(&s);
        return GP_ERR(GP_E_NOMEM, "gp_linkpred_extract: out of memory");
    }
    int nt = gp_i_threads();
    int64_t first_bad = -1;
    /* dynamic schedule (subgraph sizes vary); each pair owns its slot and its rng stream, so the
     * result is independent of threads and schedule */
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt) if (nt > 1 && count > 16)
    for (int64_t i = 0; i < count; i++) {
        sts[i] = extract_one(&s->s[i], observed, pairs[2 * i], pairs[2 * i + 1], opt, i);
        if (sts[i] != GP_OK) {
#pragma omp critical(gp_linkpred_extract_err)
            {
                if (first_bad < 0 || i < first_bad) {
                    first_bad = i;
                    snprintf(first_msg, 512, "%s", gp_last_error());
                }
            }
        }
    }
    if (first_bad >= 0) {
        st = GP_ERR(sts[first_bad], "gp_linkpred_extract: pair %lld: %s", (long long)first_bad, first_msg);
        gp_linkpred_samples_free(&s);
    }
    gp_i_free(sts);
    gp_i_free(first_msg);
    *out = s;
    return st;
}

void gp_linkpred_samples_free(gp_linkpred_samples **s)
{
    if (!s || !*s) return;
    for (int64_t i = 0; i < (*s)->count; i++) samples_release(&(*s)->s[i]);
    gp_i_free((*s)->s);
    gp_i_free(*s);
    *s = NULL;
}

int64_t gp_linkpred_samples_count(const gp_linkpred_samples *s) { return s ? s->count : 0; }

gp_status gp_linkpred_sample(const gp_graph **g, const int64_t **nodes, const int64_t **drnl,
                             const gp_linkpred_samples *s, int64_t i)
{
    if (!s || i < 0 || i >= s->count)
        return GP_ERR(GP_E_RANGE, "gp_linkpred_sample: index %lld out of range", (long long)i);
    if (g) *g = s->s[i].g;
    if (nodes) *nodes = s->s[i].nodes;
    if (drnl) *drnl = s->s[i].drnl;
    return GP_OK;
}

/* ======================================================================================== */
/* The model                                                                                */

#define LP_CLS_LAYERS 5
#define LP_CONFIG_LEN 24

struct gp_linkpred_model {
    gp_linkpred_options opt;
    int64_t attr_dim, x_dim, in_dim, z_dim, fdim;
    gp_module *root;
    gp_tensor *drnl_emb;
    gp_module *gnn[8];
    gp_module *q1, *q2, *k1, *k2;
    gp_tensor *bn_gamma, *bn_beta, *bn_mean, *bn_var;
    gp_module *cls[LP_CLS_LAYERS];
    gp_tensor *config, *data_sha;
};

static gp_tensor *root_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    (void)m;
    (void)g;
    (void)x;
    GP_TAPE_FAIL(t, GP_E_UNSUPPORTED, "linkpred model: use gp_linkpred_fit / gp_linkpred_predict");
    return NULL;
}

static const gp_module_ops root_ops = {"linkpred", root_forward, NULL, NULL};

/* PyTorch's nn.Linear initialisation (kaiming_uniform with a = sqrt(5), and its bias rule):
 * weight and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = in_dim (the weight's
 * rows here). Replaces the layer's Glorot / zero start. */
static gp_status torch_linear_init(gp_module *lin, gp_rng *rng)
{
    gp_param_list pl = {0};
    gp_status st = gp_module_params(&pl, lin, false);
    if (st != GP_OK) return st;
    if (pl.count < 1) {
        gp_param_list_free(&pl);
        return GP_ERR(GP_E_STATE, "linkpred: linear layer without weight");
    }
    float bound = 1.0f / sqrtf((float)(pl.tensors[0]->rows > 0 ? pl.tensors[0]->rows : 1));
    for (int i = 0; i < pl.count; i++) gp_init_uniform(pl.tensors[i], rng, -bound, bound);
    gp_param_list_free(&pl);
    return GP_OK;
}

static gp_status add_child(gp_module *root, gp_module **keep, gp_module *child)
{
    *keep = child;
    gp_module *tmp = child;
    gp_status st = gp_module_add_child(root, &tmp);
    if (st != GP_OK) {
        gp_module_free(&tmp);
        *keep = NULL;
    }
    return st;
}

/* Options that fix the architecture, stored in the checkpoint. */
static void config_write(float *c, const gp_linkpred_options *o, int64_t attr_dim)
{
    memset(c, 0, LP_CONFIG_LEN * sizeof(float));
    c[0] = 1.0f; /* config version */
    c[1] = (float)o->hops;
    c[2] = (float)o->max_nodes_per_hop;
    c[3] = (float)o->ones_dim;
    c[4] = o->drnl ? 1.0f : 0.0f;
    c[5] = (float)o->drnl_dim;
    c[6] = (float)o->drnl_max_label;
    c[7] = (float)o->gnn_layers;
    c[8] = (float)o->hidden;
    c[9] = (float)o->heads;
    c[10] = (float)o->walk_len;
    c[11] = o->dropout;
    c[12] = o->bce ? 1.0f : 0.0f;
    c[13] = o->lr;
    c[14] = (float)o->batch_size;
    c[15] = (float)o->epochs;
    c[16] = (float)(o->seed & 0xffffff);
    c[17] = (float)attr_dim;
}

static void config_read(gp_linkpred_options *o, int64_t *attr_dim, const float *c)
{
    gp_linkpred_options_default(o);
    o->hops = (int)c[1];
    o->max_nodes_per_hop = (int64_t)c[2];
    o->ones_dim = (int64_t)c[3];
    o->drnl = c[4] != 0.0f;
    o->drnl_dim = (int64_t)c[5];
    o->drnl_max_label = (int64_t)c[6];
    o->gnn_layers = (int)c[7];
    o->hidden = (int64_t)c[8];
    o->heads = (int)c[9];
    o->walk_len = (int)c[10];
    o->dropout = c[11];
    o->bce = c[12] != 0.0f;
    o->lr = c[13];
    o->batch_size = (int64_t)c[14];
    o->epochs = (int)c[15];
    o->seed = (uint64_t)c[16];
    *attr_dim = (int64_t)c[17];
}

gp_status gp_linkpred_model_new(gp_linkpred_model **out, const gp_linkpred_options *opt, int64_t attr_dim)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_new: NULL output");
    *out = NULL;
    gp_status st = check_options(opt);
    if (st != GP_OK) return st;
    if (attr_dim < 0) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_new: negative attribute width");
    gp_linkpred_model *m = gp_i_calloc(1, sizeof *m);
    if (!m) return GP_ERR(GP_E_NOMEM, "gp_linkpred_model_new: out of memory");
    m->opt = *opt;
    m->attr_dim = attr_dim;
    m->x_dim = attr_dim > 0 ? attr_dim : opt->ones_dim;
    m->in_dim = m->x_dim + (opt->drnl ? opt->drnl_dim : 0);
    m->z_dim = m->in_dim + opt->gnn_layers * opt->hidden;
    m->fdim = gp_walkpool_dim(opt->walk_len, opt->heads);
    gp_rng rng;
    gp_rng_seed(&rng, opt->seed);
    GP_TRY(gp_module_alloc(&m->root, &root_ops, m->in_dim, 1, 0, &rng));
    GP_TRY(gp_module_add_buffer(m->root, &m->config, "config", 1, LP_CONFIG_LEN));
    config_write(m->config->data, opt, attr_dim);
    GP_TRY(gp_module_add_buffer(m->root, &m->data_sha, "data_sha256", 1, 16));
    if (opt->drnl) {
        GP_TRY(gp_module_add_param(m->root, &m->drnl_emb, "drnl.weight", opt->drnl_max_label, opt->drnl_dim));
        for (int64_t i = 0; i < gp_tensor_size(m->drnl_emb); i++) m->drnl_emb->data[i] = gp_rng_normal(&rng);
    }
    int64_t H = opt->heads, d = opt->hidden;
    GP_TRY(gp_module_add_param(m->root, &m->bn_gamma, "bn.weight", 1, m->fdim));
    GP_TRY(gp_module_add_param(m->root, &m->bn_beta, "bn.bias", 1, m->fdim));
    GP_TRY(gp_module_add_buffer(m->root, &m->bn_mean, "bn.running_mean", 1, m->fdim));
    GP_TRY(gp_module_add_buffer(m->root, &m->bn_var, "bn.running_var", 1, m->fdim));
    gp_tensor_fill(m->bn_gamma, 1.0f);
    gp_tensor_fill(m->bn_var, 1.0f);
    gp_module *tmp = NULL;
    for (int l = 0; l < opt->gnn_layers; l++) {
        GP_TRY(gp_gcn_new(&tmp, l == 0 ? m->in_dim : d, d, true, &rng));
        GP_TRY(add_child(m->root, &m->gnn[l], tmp));
    }
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &rng));
    GP_TRY(add_child(m->root, &m->q1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &rng));
    GP_TRY(add_child(m->root, &m->q2, tmp));
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &rng));
    GP_TRY(add_child(m->root, &m->k1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &rng));
    GP_TRY(add_child(m->root, &m->k2, tmp));
    int64_t F = m->fdim, widths[LP_CLS_LAYERS + 1] = {F, 20 * F, 20 * F, 10 * F, F, 1};
    for (int l = 0; l < LP_CLS_LAYERS; l++) {
        GP_TRY(gp_linear_new(&tmp, widths[l], widths[l + 1], true, &rng));
        GP_TRY(add_child(m->root, &m->cls[l], tmp));
    }
    if (opt->torch_init) {
        gp_module *lins[4 + LP_CLS_LAYERS] = {m->q1, m->q2, m->k1, m->k2};
        for (int l = 0; l < LP_CLS_LAYERS; l++) lins[4 + l] = m->cls[l];
        for (int i = 0; i < 4 + LP_CLS_LAYERS; i++) GP_TRY(torch_linear_init(lins[i], &rng));
    }
    *out = m;
    return GP_OK;
fail:
    gp_linkpred_model_free(&m);
    return st;
}

void gp_linkpred_model_free(gp_linkpred_model **m)
{
    if (!m || !*m) return;
    gp_module_free(&(*m)->root);
    gp_i_free(*m);
    *m = NULL;
}

const gp_linkpred_options *gp_linkpred_model_options(const gp_linkpred_model *m) { return m ? &m->opt : NULL; }
int64_t gp_linkpred_model_attr_dim(const gp_linkpred_model *m) { return m ? m->attr_dim : 0; }
gp_module *gp_linkpred_model_module(gp_linkpred_model *m) { return m ? m->root : NULL; }

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

gp_status gp_linkpred_model_save(const gp_linkpred_model *m, const char *path, const char *data_sha256)
{
    if (!m || !path) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_save: NULL argument");
    /* 16 floats of 16 bits each; entry 0 of a recorded checksum is offset by 1 so that all
     * zeros means "none" */
    float *c = m->data_sha->data;
    memset(c, 0, 16 * sizeof(float));
    if (data_sha256 && strlen(data_sha256) == 64) {
        for (int i = 0; i < 16; i++) {
            int v = 0;
            for (int j = 0; j < 4; j++) {
                int h = hexval(data_sha256[4 * i + j]);
                if (h < 0) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_save: bad checksum text");
                v = v * 16 + h;
            }
            c[i] = (float)v + (i == 0 ? 1.0f : 0.0f);
        }
    }
    return gp_module_save(m->root, path);
}

/* Read the "config" tensor from a checkpoint without building a model (format in module.h). */
static gp_status read_config(float *config, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return GP_ERR(GP_E_IO, "%s: cannot open the model file", path);
    gp_status st = GP_E_PARSE;
    char magic[8];
    uint32_t version, count;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "GPCKPT\r\n", 8) != 0 || fread(&version, 4, 1, f) != 1 ||
        fread(&count, 4, 1, f) != 1) {
        fclose(f);
        return GP_ERR(GP_E_PARSE, "%s: not a graphpool model file", path);
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len;
        char name[256];
        int64_t rows, cols;
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof name || fread(name, 1, len, f) != len ||
            fread(&rows, 8, 1, f) != 1 || fread(&cols, 8, 1, f) != 1 || rows < 0 || cols < 0)
            break;
        name[len] = '\0';
        if (strcmp(name, "config") == 0 && rows == 1 && cols == LP_CONFIG_LEN) {
            if (fread(config, sizeof(float), LP_CONFIG_LEN, f) == LP_CONFIG_LEN) st = GP_OK;
            break;
        }
        if (fseek(f, (long)(rows * cols * (int64_t)sizeof(float)), SEEK_CUR) != 0) break;
    }
    fclose(f);
    if (st != GP_OK) return GP_ERR(st, "%s: not a gp-linkpred model file (no valid config)", path);
    return GP_OK;
}

gp_status gp_linkpred_model_load(gp_linkpred_model **out, char *data_sha256, const char *path)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_load: NULL argument");
    *out = NULL;
    float config[LP_CONFIG_LEN];
    gp_status st = read_config(config, path);
    if (st != GP_OK) return st;
    if (config[0] != 1.0f) return GP_ERR(GP_E_PARSE, "%s: unknown model config version", path);
    gp_linkpred_options opt;
    int64_t attr_dim;
    config_read(&opt, &attr_dim, config);
    gp_linkpred_model *m = NULL;
    st = gp_linkpred_model_new(&m, &opt, attr_dim);
    if (st != GP_OK) return GP_ERR(st, "%s: bad model config (%s)", path, gp_last_error());
    st = gp_module_load(m->root, path);
    if (st != GP_OK) {
        gp_linkpred_model_free(&m);
        return st;
    }
    if (data_sha256) {
        data_sha256[0] = '\0';
        const float *c = m->data_sha->data;
        if (c[0] != 0.0f) {
            for (int i = 0; i < 16; i++) {
                unsigned v = (unsigned)c[i] - (i == 0 ? 1u : 0u);
                snprintf(data_sha256 + 4 * i, 5, "%04x", v & 0xffffu);
            }
        }
    }
    *out = m;
    return GP_OK;
}

/* ======================================================================================== */
/* Batches and the forward pass                                                             */

/* One batch; the arrays are kept and grown across batches (no per-batch malloc of the feature
 * matrix; only the block-diagonal graph is rebuilt). */
typedef struct lp_batch {
    gp_graph *g;      /* block-diagonal G+ */
    int64_t count;
    int64_t *pairs;   /* 2 * count batch ids */
    float *x;         /* nodes x x_dim */
    int64_t *z;       /* DRNL labels, or NULL */
    float *y;         /* count labels */
    int64_t cap_nodes, cap_count, ones_rows; /* capacities; rows of x already all ones */
} lp_batch;

static void batch_free(lp_batch *b)
{
    gp_graph_free(&b->g);
    gp_i_free(b->pairs);
    gp_i_free(b->x);
    gp_i_free(b->z);
    gp_i_free(b->y);
    memset(b, 0, sizeof *b);
}

static gp_status batch_build(lp_batch *b, const gp_linkpred_model *m, const gp_linkpred_samples *s,
                             const int64_t *which, int64_t count, const int64_t *labels, const float *attr)
{
    gp_status st = GP_OK;
    gp_graph_free(&b->g);
    const gp_graph **gs = gp_i_malloc((size_t)count * sizeof(gp_graph *));
    if (!gs) return GP_ERR(GP_E_NOMEM, "linkpred: out of memory");
    for (int64_t i = 0; i < count; i++) gs[i] = s->s[which[i]].g;
    GP_TRY(gp_graph_batch(&b->g, count, gs));
    int64_t n = gp_graph_nodes(b->g), xd = m->x_dim;
    b->count = count;
    if (count > b->cap_count) {
        gp_i_free(b->pairs);
        gp_i_free(b->y);
        b->pairs = gp_i_malloc((size_t)(2 * count) * sizeof(int64_t));
        b->y = gp_i_malloc((size_t)count * sizeof(float));
        b->cap_count = b->pairs && b->y ? count : 0;
        if (!b->cap_count) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory"));
    }
    if (n > b->cap_nodes) {
        int64_t cap = n + n / 4 + 1;
        gp_i_free(b->x);
        gp_i_free(b->z);
        b->z = NULL;
        b->ones_rows = 0;
        b->x = gp_i_malloc((size_t)cap * (size_t)xd * sizeof(float));
        if (m->opt.drnl) b->z = gp_i_malloc((size_t)cap * sizeof(int64_t));
        b->cap_nodes = b->x && (!m->opt.drnl || b->z) ? cap : 0;
        if (!b->cap_nodes) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory"));
    }
    if (m->attr_dim == 0 && b->ones_rows < n) { /* constant features: filled once */
        for (int64_t i = b->ones_rows * xd; i < n * xd; i++) b->x[i] = 1.0f;
        b->ones_rows = n;
    }
    for (int64_t i = 0; i < count; i++) {
        const lp_sample *sp = &s->s[which[i]];
        int64_t o = b->g->graph_ptr[i], ni = b->g->graph_ptr[i + 1] - o;
        b->pairs[2 * i] = o;
        b->pairs[2 * i + 1] = o + 1;
        b->y[i] = labels ? (float)labels[which[i]] : 0.0f;
        if (m->attr_dim > 0)
            for (int64_t v = 0; v < ni; v++)
                memcpy(b->x + (o + v) * xd, attr + sp->nodes[v] * xd, (size_t)xd * sizeof(float));
        if (m->opt.drnl)
            for (int64_t v = 0; v < ni; v++) b->z[o + v] = sp->drnl[v];
    }
fail:
    gp_i_free(gs);
    if (st != GP_OK) batch_free(b);
    return st;
}

typedef struct lp_tapes {
    gp_tape *enc, *walk, *cls;
} lp_tapes;

typedef struct lp_timing {
    double encoder, walk, classifier;             /* wall clock */
    double encoder_cpu, walk_cpu, classifier_cpu; /* CPU time of this thread */
} lp_timing;

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A copy of x on tape t that is a gradient leaf (when recording). */
static gp_tensor *leaf_copy(gp_tape *t, const gp_tensor *x)
{
    if (!x) return NULL;
    gp_tensor *c = gp_tape_constant(t, x->data, x->rows, x->cols);
    if (c && gp_tape_recording(t)) c->flags |= GP_TENSOR_REQUIRES_GRAD;
    return c;
}

static gp_status tape_error(gp_tape *t, const char *stage)
{
    gp_status st = gp_tape_status(t);
    if (st == GP_OK) st = GP_E_STATE;
    return GP_ERR(st, "linkpred: %s failed: %s", stage, gp_last_error());
}

/* The encoder's weights: the model's own, or a replica that a second thread trains on its half
 * of the batch (its gradients are added to the model's afterwards, in a fixed order). */
typedef struct lp_enc {
    gp_tensor *drnl_emb;
    gp_module *gnn[8], *q1, *q2, *k1, *k2;
    gp_rng *rng;
} lp_enc;

static void enc_of_model(lp_enc *e, gp_linkpred_model *m)
{
    memset(e, 0, sizeof *e);
    e->drnl_emb = m->drnl_emb;
    for (int l = 0; l < m->opt.gnn_layers; l++) e->gnn[l] = m->gnn[l];
    e->q1 = m->q1;
    e->q2 = m->q2;
    e->k1 = m->k1;
    e->k2 = m->k2;
    e->rng = &m->root->rng;
}

/* One half (or all) of a batch through encoder and walk profile: its tapes and outputs. */
typedef struct lp_part {
    const lp_enc *enc;
    lp_tapes *tp;     /* enc and walk tapes used */
    lp_batch *b;
    gp_tensor *logits, *lw, *feat;
    lp_timing tm;
    gp_status st;
    char msg[256];
} lp_part;

static gp_status part_forward(gp_linkpred_model *m, lp_part *pt, bool train)
{
    const gp_linkpred_options *o = &m->opt;
    const lp_enc *e = pt->enc;
    lp_tapes *tp = pt->tp;
    lp_batch *b = pt->b;
    gp_tape *tapes[2] = {tp->enc, tp->walk};
    for (int i = 0; i < 2; i++) {
        gp_tape_reset(tapes[i]);
        gp_tape_set_training(tapes[i], train);
        gp_tape_set_recording(tapes[i], train);
    }
    double t0 = now_seconds(), c0 = thread_cpu_seconds();
    /* encoder */
    gp_tape *t = tp->enc;
    int64_t n = gp_graph_nodes(b->g);
    gp_tensor *x = gp_tape_constant(t, b->x, n, m->x_dim);
    if (o->drnl) {
        gp_tensor *parts[2] = {x, gp_gather_rows(t, e->drnl_emb, b->z, n)};
        x = gp_concat_cols(t, 2, parts);
    }
    gp_tensor *zparts[9];
    zparts[0] = x;
    gp_tensor *h = x;
    for (int l = 0; l < o->gnn_layers; l++) {
        gp_tensor *in = l == 0 ? h : gp_dropout(t, gp_relu(t, h), o->dropout, e->rng);
        h = gp_module_forward(e->gnn[l], t, b->g, in);
        zparts[l + 1] = h;
    }
    gp_tensor *z = gp_concat_cols(t, o->gnn_layers + 1, zparts);
    gp_tensor *q = gp_module_forward(
        e->q2, t, NULL, gp_dropout(t, gp_leaky_relu(t, gp_module_forward(e->q1, t, NULL, z), 0.2f), o->dropout, e->rng));
    gp_tensor *k = gp_module_forward(
        e->k2, t, NULL, gp_dropout(t, gp_leaky_relu(t, gp_module_forward(e->k1, t, NULL, z), 0.2f), o->dropout, e->rng));
    /* row v, column u: <K[v], Q[u]> = s(u -> v) */
    pt->logits = gp_scale(t, gp_sddmm(t, b->g, k, q, o->heads), 1.0f / sqrtf((float)o->hidden));
    if (!pt->logits) return tape_error(t, "encoder");
    double t1 = now_seconds(), c1 = thread_cpu_seconds();
    /* walk profile */
    pt->lw = leaf_copy(tp->walk, pt->logits);
    pt->feat = gp_walkpool(tp->walk, b->g, pt->lw, b->pairs, o->walk_len);
    if (!pt->feat) return tape_error(tp->walk, "walk profile");
    double t2 = now_seconds(), c2 = thread_cpu_seconds();
    pt->tm.encoder += t1 - t0;
    pt->tm.walk += t2 - t1;
    pt->tm.encoder_cpu += c1 - c0;
    pt->tm.walk_cpu += c2 - c1;
    return GP_OK;
}

static gp_status part_backward(lp_part *pt, const float *grad)
{
    double t4 = now_seconds(), c4 = thread_cpu_seconds();
    if (gp_tape_backward_from(pt->tp->walk, pt->feat, grad) != GP_OK) return tape_error(pt->tp->walk, "walk backward");
    double t5 = now_seconds(), c5 = thread_cpu_seconds();
    if (gp_tape_backward_from(pt->tp->enc, pt->logits, pt->lw->grad) != GP_OK)
        return tape_error(pt->tp->enc, "encoder backward");
    double t6 = now_seconds(), c6 = thread_cpu_seconds();
    pt->tm.walk += t5 - t4;
    pt->tm.encoder += t6 - t5;
    pt->tm.walk_cpu += c5 - c4;
    pt->tm.encoder_cpu += c6 - c5;
    return GP_OK;
}

/* Run part_forward (backward when grad != NULL) of np parts; two parts run on two threads with
 * the library serial inside each (each part owns its tapes, graph and weights' gradients, so
 * the result does not depend on the schedule). */
static gp_status parts_run(gp_linkpred_model *m, lp_part *parts, int np, bool train, const float *grad)
{
    if (np == 1) return grad ? part_backward(&parts[0], grad) : part_forward(m, &parts[0], train);
    int nt = gp_i_threads();
    int64_t F = m->fdim;
    gp_set_threads(1);
#pragma omp parallel for schedule(static, 1) num_threads(2)
    for (int i = 0; i < np; i++) {
        lp_part *pt = &parts[i];
        pt->st = grad ? part_backward(pt, grad + (i == 0 ? 0 : parts[0].b->count) * F) : part_forward(m, pt, train);
        if (pt->st != GP_OK) snprintf(pt->msg, sizeof pt->msg, "%s", gp_last_error());
    }
    gp_set_threads(nt);
    for (int i = 0; i < np; i++)
        if (parts[i].st != GP_OK) return GP_ERR(parts[i].st, "%s", parts[i].msg);
    return GP_OK;
}

/*
 * Forward (and with `train` the backward) of one batch given as np (1 or 2) parts: encoder and
 * walk profile per part, then the classifier on all rows (batch norm sees the whole batch).
 * logits_out receives the outputs (pre-sigmoid, parts in order), *loss_out the loss when training.
 */
static gp_status run_batch(gp_linkpred_model *m, gp_tape *tc, lp_part *parts, int np, bool train, float *logits_out,
                           double *loss_out, lp_timing *tm)
{
    const gp_linkpred_options *o = &m->opt;
    gp_tape_reset(tc);
    gp_tape_set_training(tc, train);
    gp_tape_set_recording(tc, train);
    for (int i = 0; i < np; i++) memset(&parts[i].tm, 0, sizeof parts[i].tm);
    gp_status st = parts_run(m, parts, np, train, NULL);
    if (st != GP_OK) return st;
    double t2 = now_seconds(), c2 = thread_cpu_seconds();
    /* classifier */
    int64_t count = 0, F = m->fdim;
    for (int i = 0; i < np; i++) count += parts[i].b->count;
    gp_tensor *fc;
    if (np == 1) {
        fc = leaf_copy(tc, parts[0].feat);
    } else {
        float *rows = gp_tape_alloc(tc, (size_t)(count * F) * sizeof(float));
        if (!rows) return tape_error(tc, "classifier input");
        memcpy(rows, parts[0].feat->data, (size_t)(parts[0].b->count * F) * sizeof(float));
        memcpy(rows + parts[0].b->count * F, parts[1].feat->data, (size_t)(parts[1].b->count * F) * sizeof(float));
        fc = gp_tape_constant(tc, rows, count, F);
        if (fc && gp_tape_recording(tc)) fc->flags |= GP_TENSOR_REQUIRES_GRAD;
    }
    gp_tensor *y = gp_batch_norm(tc, fc, m->bn_gamma, m->bn_beta, m->bn_mean, m->bn_var, 0.1f, 1e-5f);
    for (int l = 0; l < LP_CLS_LAYERS; l++) {
        if (l == LP_CLS_LAYERS - 1) y = gp_dropout(tc, y, o->dropout, &m->root->rng);
        y = gp_module_forward(m->cls[l], tc, NULL, y);
        if (l < LP_CLS_LAYERS - 1) y = gp_relu(tc, y);
    }
    if (!y) return tape_error(tc, "classifier");
    for (int64_t i = 0; i < count; i++) logits_out[i] = y->data[i];
    double t3 = now_seconds(), c3 = thread_cpu_seconds();
    if (!train) {
        tm->classifier += t3 - t2;
        tm->classifier_cpu += c3 - c2;
    } else {
        float *labels = gp_tape_alloc(tc, (size_t)count * sizeof(float));
        if (!labels) return tape_error(tc, "labels");
        memcpy(labels, parts[0].b->y, (size_t)parts[0].b->count * sizeof(float));
        if (np == 2) memcpy(labels + parts[0].b->count, parts[1].b->y, (size_t)parts[1].b->count * sizeof(float));
        gp_tensor *target = gp_tape_constant(tc, labels, count, 1);
        gp_tensor *loss = o->bce ? gp_bce_logits_loss(tc, y, target, GP_REDUCE_MEAN)
                                 : gp_mse_loss(tc, gp_sigmoid(tc, y), target, GP_REDUCE_MEAN);
        if (!loss) return tape_error(tc, "loss");
        *loss_out = loss->data[0];
        if (gp_tape_backward(tc, loss) != GP_OK) return tape_error(tc, "classifier backward");
        double t4 = now_seconds(), c4 = thread_cpu_seconds();
        tm->classifier += t4 - t2;
        tm->classifier_cpu += c4 - c2;
        if ((st = parts_run(m, parts, np, train, fc->grad)) != GP_OK) return st;
    }
    /* stage times: those of the first part (parts run at the same time) */
    tm->encoder += parts[0].tm.encoder;
    tm->walk += parts[0].tm.walk;
    tm->encoder_cpu += parts[0].tm.encoder_cpu;
    tm->walk_cpu += parts[0].tm.walk_cpu;
    return GP_OK;
}

static gp_status tapes_new(lp_tapes *tp)
{
    memset(tp, 0, sizeof *tp);
    if (gp_tape_new(&tp->enc) != GP_OK || gp_tape_new(&tp->walk) != GP_OK || gp_tape_new(&tp->cls) != GP_OK) {
        gp_tape_free(&tp->enc);
        gp_tape_free(&tp->walk);
        gp_tape_free(&tp->cls);
        return GP_ERR(GP_E_NOMEM, "linkpred: out of memory (tapes)");
    }
    return GP_OK;
}

static void tapes_free(lp_tapes *tp)
{
    gp_tape_free(&tp->enc);
    gp_tape_free(&tp->walk);
    gp_tape_free(&tp->cls);
}

static double sigmoid_d(double v) { return 1.0 / (1.0 + exp(-v)); }

/*
 * What one training or scoring run keeps across batches: the tapes, the batch buffers and, with
 * two or more threads, a second part (each batch is cut in two halves that run encoder and walk
 * profile on one thread each; for training the second half uses a replica of the encoder's
 * weights, synchronised before every batch, whose gradients are added to the model's after it).
 */
typedef struct lp_runner {
    int parts;
    lp_tapes tp[2];
    lp_batch b[2];
    lp_enc enc[2];
    gp_module *rep_root;        /* the replica's modules (training with 2 parts) */
    gp_rng rep_rng;
    int nparams;
    gp_tensor **mine, **theirs; /* replica / model encoder parameters, same order */
} lp_runner;

static void runner_free(lp_runner *r)
{
    for (int i = 0; i < 2; i++) {
        tapes_free(&r->tp[i]);
        batch_free(&r->b[i]);
    }
    gp_module_free(&r->rep_root);
    gp_i_free(r->mine);
    gp_i_free(r->theirs);
    memset(r, 0, sizeof *r);
}

/* Encoder parameters of e (DRNL table, GCN layers, attention MLPs) in a fixed order; *count
 * only counts when out is NULL. */
static gp_status enc_params(gp_tensor **out, int *count, const lp_enc *e, int layers)
{
    int c = 0;
    if (e->drnl_emb) {
        if (out) out[c] = e->drnl_emb;
        c++;
    }
    gp_module *mods[12];
    int nm = 0;
    for (int l = 0; l < layers; l++) mods[nm++] = e->gnn[l];
    mods[nm++] = e->q1;
    mods[nm++] = e->q2;
    mods[nm++] = e->k1;
    mods[nm++] = e->k2;
    for (int i = 0; i < nm; i++) {
        gp_param_list pl = {0};
        gp_status st = gp_module_params(&pl, mods[i], false);
        if (st != GP_OK) return st;
        for (int j = 0; j < pl.count; j++) {
            if (out) out[c] = pl.tensors[j];
            c++;
        }
        gp_param_list_free(&pl);
    }
    *count = c;
    return GP_OK;
}

static gp_status replica_new(lp_runner *r, gp_linkpred_model *m)
{
    const gp_linkpred_options *o = &m->opt;
    gp_status st = GP_OK;
    gp_rng init;
    gp_rng_seed(&init, o->seed ^ UINT64_C(0xA5A5A5A5DEADBEEF));
    gp_rng_seed(&r->rep_rng, o->seed ^ UINT64_C(0x3C6EF372FE94F82B)); /* dropout of the second half */
    lp_enc *e = &r->enc[1];
    memset(e, 0, sizeof *e);
    e->rng = &r->rep_rng;
    GP_TRY(gp_module_alloc(&r->rep_root, &root_ops, m->in_dim, 1, 0, &init));
    if (o->drnl) GP_TRY(gp_module_add_param(r->rep_root, &e->drnl_emb, "drnl.weight", o->drnl_max_label, o->drnl_dim));
    gp_module *tmp = NULL;
    for (int l = 0; l < o->gnn_layers; l++) {
        GP_TRY(gp_gcn_new(&tmp, l == 0 ? m->in_dim : o->hidden, o->hidden, true, &init));
        GP_TRY(add_child(r->rep_root, &e->gnn[l], tmp));
    }
    int64_t H = o->heads, d = o->hidden;
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->q1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->q2, tmp));
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->k1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->k2, tmp));
    int c0 = 0, c1 = 0;
    GP_TRY(enc_params(NULL, &c0, &r->enc[0], o->gnn_layers));
    GP_TRY(enc_params(NULL, &c1, &r->enc[1], o->gnn_layers));
    if (c0 != c1) GP_TRY(GP_ERR(GP_E_STATE, "linkpred: encoder replica mismatch"));
    r->mine = gp_i_malloc((size_t)c0 * sizeof(gp_tensor *));
    r->theirs = gp_i_malloc((size_t)c0 * sizeof(gp_tensor *));
    if (!r->mine || !r->theirs) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory"));
    GP_TRY(enc_params(r->theirs, &c0, &r->enc[0], o->gnn_layers));
    GP_TRY(enc_params(r->mine, &c1, &r->enc[1], o->gnn_layers));
    r->nparams = c0;
    for (int i = 0; i < c0; i++)
        if (gp_tensor_size(r->mine[i]) != gp_tensor_size(r->theirs[i]))
            GP_TRY(GP_ERR(GP_E_STATE, "linkpred: encoder replica mismatch"));
fail:
    return st;
}

/* parts = 2 when the library runs 2+ threads (train: with the replica). */
static gp_status runner_new(lp_runner *r, gp_linkpred_model *m, bool train)
{
    memset(r, 0, sizeof *r);
    r->parts = gp_i_threads() >= 2 ? 2 : 1;
    enc_of_model(&r->enc[0], m);
    r->enc[1] = r->enc[0]; /* scoring: both halves read the model's weights */
    gp_status st = GP_OK;
    for (int i = 0; i < r->parts && st == GP_OK; i++) st = tapes_new(&r->tp[i]);
    if (st == GP_OK && r->parts == 2 && train) st = replica_new(r, m);
    if (st != GP_OK) runner_free(r);
    return st;
}

/* Replica weights := the model's (before a batch). */
static void replica_sync(lp_runner *r)
{
    for (int i = 0; i < r->nparams; i++)
        memcpy(r->mine[i]->data, r->theirs[i]->data, (size_t)gp_tensor_size(r->mine[i]) * sizeof(float));
}

/* Model gradients += replica gradients; replica gradients := 0 (after a batch). */
static void replica_reduce(lp_runner *r)
{
    for (int i = 0; i < r->nparams; i++) {
        float *g = r->theirs[i]->grad, *h = r->mine[i]->grad;
        if (!g || !h) continue;
        for (int64_t k = 0; k < gp_tensor_size(r->mine[i]); k++) g[k] += h[k];
        gp_tensor_zero_grad(r->mine[i]);
    }
}

/* Build the batch of pairs which[0..count) as r->parts parts and run it. */
static gp_status runner_batch(lp_runner *r, gp_linkpred_model *m, const gp_linkpred_samples *s, const int64_t *which,
                              int64_t count, const int64_t *labels, const float *attr, bool train, float *out,
                              double *loss, lp_timing *tm, double *batch_s)
{
    int np = r->parts == 2 && count >= 2 ? 2 : 1;
    int64_t c0 = count;
    if (np == 2) { /* split where the stored edges (the work) are about halved */
        int64_t total = 0, acc = 0;
        for (int64_t i = 0; i < count; i++) total += gp_graph_edges(s->s[which[i]].g) + 1;
        for (c0 = 0; c0 < count - 1 && 2 * acc < total; c0++) acc += gp_graph_edges(s->s[which[c0]].g) + 1;
        if (c0 < 1) c0 = 1;
    }
    lp_part parts[2];
    double t0 = now_seconds();
    for (int i = 0; i < np; i++) {
        gp_status st = batch_build(&r->b[i], m, s, which + (i ? c0 : 0), i ? count - c0 : c0, labels, attr);
        if (st != GP_OK) return st;
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].enc = &r->enc[np == 2 && r->rep_root && train ? i : 0]; /* the replica is synced for training */
        parts[i].tp = &r->tp[i];
        parts[i].b = &r->b[i];
    }
    if (batch_s) *batch_s += now_seconds() - t0;
    bool replica = np == 2 && r->rep_root && train;
    if (replica) replica_sync(r);
    gp_status st = run_batch(m, r->tp[0].cls, parts, np, train, out, loss, tm);
    if (replica) replica_reduce(r);
    return st;
}

/* Eval-mode scores of samples [0, count) of s, batches of 64. */
static gp_status score_samples(double *scores, gp_linkpred_model *m, lp_runner *r, const gp_linkpred_samples *s,
                               int64_t first, int64_t count, const float *attr, lp_timing *tm, double *batch_s)
{
    gp_status st = GP_OK;
    const int64_t B = 64;
    int64_t which[64];
    float out[64];
    for (int64_t i = 0; i < count; i += B) {
        int64_t c = count - i < B ? count - i : B;
        for (int64_t j = 0; j < c; j++) which[j] = first + i + j;
        st = runner_batch(r, m, s, which, c, NULL, attr, false, out, NULL, tm, batch_s);
        if (st != GP_OK) break;
        for (int64_t j = 0; j < c; j++) scores[i + j] = sigmoid_d(out[j]);
    }
    return st;
}

static gp_status check_attr(const gp_linkpred_model *m, const float *attr)
{
    if (m->attr_dim > 0 && !attr)
        return GP_ERR(GP_E_INVALID, "linkpred: the model expects %lld-d node attributes", (long long)m->attr_dim);
    return GP_OK;
}

gp_status gp_linkpred_predict_samples(double *scores, gp_linkpred_model *m, const gp_linkpred_samples *s,
                                      const float *attr)
{
    if (!scores || !m || !s) return GP_ERR(GP_E_INVALID, "gp_linkpred_predict_samples: NULL argument");
    gp_status st = check_attr(m, attr);
    if (st != GP_OK) return st;
    lp_runner r;
    if ((st = runner_new(&r, m, false)) != GP_OK) return st;
    lp_timing tm = {0};
    st = score_samples(scores, m, &r, s, 0, s->count, attr, &tm, NULL);
    runner_free(&r);
    return st;
}

gp_status gp_linkpred_predict(double *scores, gp_linkpred_model *m, const gp_graph *observed, int64_t count,
                              const int64_t *pairs, const float *attr)
{
    if (!scores || !m || !observed || (count > 0 && !pairs))
        return GP_ERR(GP_E_INVALID, "gp_linkpred_predict: NULL argument");
    gp_status st = check_attr(m, attr);
    if (st != GP_OK) return st;
    const int64_t chunk = 4096; /* bounded memory for many candidate pairs */
    for (int64_t i = 0; i < count && st == GP_OK; i += chunk) {
        int64_t c = count - i < chunk ? count - i : chunk;
        gp_linkpred_samples *s = NULL;
        st = gp_linkpred_extract(&s, observed, c, pairs + 2 * i, &m->opt);
        if (st == GP_OK) st = gp_linkpred_predict_samples(scores + i, m, s, attr);
        gp_linkpred_samples_free(&s);
    }
    return st;
}

/* ======================================================================================== */
/* Training                                                                                 */

static gp_status eval_part(double *auc, double *ap, gp_linkpred_model *m, lp_runner *tp,
                           const gp_linkpred_samples *s, int64_t first, int64_t npos, int64_t nneg,
                           const float *attr, double *scores, lp_timing *tm, double *batch_s)
{
    *auc = *ap = NAN;
    if (npos + nneg == 0) return GP_OK;
    gp_status st = score_samples(scores, m, tp, s, first, npos + nneg, attr, tm, batch_s);
    if (st != GP_OK) return st;
    if (npos > 0 && nneg > 0) {
        if ((st = gp_roc_auc_pn(auc, npos, scores, nneg, scores + npos)) != GP_OK) return st;
        if ((st = gp_average_precision_pn(ap, npos, scores, nneg, scores + npos)) != GP_OK) return st;
    }
    return GP_OK;
}

gp_status gp_linkpred_fit(gp_linkpred_result *res, gp_linkpred_model *m, const gp_graph *observed,
                          const gp_link_split *split, const float *attr, gp_linkpred_progress_fn progress,
                          void *user)
{
    if (!res || !m || !observed || !split) return GP_ERR(GP_E_INVALID, "gp_linkpred_fit: NULL argument");
    memset(res, 0, sizeof *res);
    res->val_auc = res->val_ap = res->test_auc = res->test_ap = NAN;
    gp_status st = check_attr(m, attr);
    if (st != GP_OK) return st;
    if (split->count[GP_LINK_TRAIN_POS] + split->count[GP_LINK_TRAIN_NEG] == 0)
        return GP_ERR(GP_E_INVALID, "gp_linkpred_fit: no training pairs");
    if (split->num_nodes > gp_graph_nodes(observed))
        return GP_ERR(GP_E_INVALID, "gp_linkpred_fit: the split has %lld nodes, the graph %lld",
                      (long long)split->num_nodes, (long long)gp_graph_nodes(observed));
    const gp_linkpred_options *o = &m->opt;
    if (o->threads > 0) gp_set_threads(o->threads);
    /* all pairs in one array: train pos, train neg, val pos, val neg, test pos, test neg */
    int64_t total = 0, start[GP_LINK_PARTS + 1];
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        start[p] = total;
        total += split->count[p];
    }
    start[GP_LINK_PARTS] = total;
    int64_t *pairs = gp_i_malloc((size_t)(2 * total + 2) * sizeof(int64_t));
    int64_t *labels = gp_i_malloc((size_t)(total + 1) * sizeof(int64_t));
    int64_t *order = gp_i_malloc((size_t)(total + 1) * sizeof(int64_t));
    double *scores = gp_i_malloc((size_t)(total + 1) * sizeof(double));
    gp_linkpred_samples *s = NULL;
    gp_optim *opt = NULL;
    gp_param_list params = {0}, all = {0};
    float *best = NULL;
    lp_runner tp = {0};
    bool have_tapes = false;
    if (!pairs || !labels || !order || !scores) GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_fit: out of memory"));
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        if (split->count[p] > 0)
            memcpy(pairs + 2 * start[p], split->pairs[p], (size_t)(2 * split->count[p]) * sizeof(int64_t));
        for (int64_t i = start[p]; i < start[p + 1]; i++) labels[i] = p % 2 == 0 ? 1 : 0;
    }
    double t0 = now_seconds();
    GP_TRY(gp_linkpred_extract(&s, observed, total, pairs, o));
    res->extract_seconds = now_seconds() - t0;
    res->subgraphs = total;
    for (int64_t i = 0; i < total; i++) {
        res->mean_nodes += (double)gp_graph_nodes(s->s[i].g);
        res->mean_edges += (double)gp_graph_edges(s->s[i].g);
    }
    if (total > 0) {
        res->mean_nodes /= (double)total;
        res->mean_edges /= (double)total;
    }
    GP_TRY(gp_module_params(&params, m->root, false));
    GP_TRY(gp_module_params(&all, m->root, true));
    GP_TRY(gp_adam_new(&opt, params.tensors, params.count, o->lr, 0.9f, 0.999f, 1e-8f, 0.0f));
    int64_t nweights = 0;
    for (int i = 0; i < all.count; i++) nweights += gp_tensor_size(all.tensors[i]);
    best = gp_i_malloc((size_t)nweights * sizeof(float));
    if (!best) GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_fit: out of memory"));
    GP_TRY(runner_new(&tp, m, true));
    have_tapes = true;
    gp_rng shuffle;
    gp_rng_seed(&shuffle, o->seed ^ UINT64_C(0x5DEECE66D));
    int64_t ntrain = start[GP_LINK_VAL_POS];
    for (int64_t i = 0; i < ntrain; i++) order[i] = i;
    double best_val = -INFINITY;
    lp_timing tm = {0};
    double train_start = now_seconds(), cpu_start = cpu_seconds();
    for (int epoch = 1; epoch <= o->epochs; epoch++) {
        double e0 = now_seconds();
        gp_rng_shuffle(&shuffle, order, ntrain);
        double loss_sum = 0.0;
        int64_t nb = 0;
        for (int64_t i = 0; i < ntrain; i += o->batch_size) {
            int64_t c = ntrain - i < o->batch_size ? ntrain - i : o->batch_size;
            float out[1024];
            float *outp = c <= 1024 ? out : gp_i_malloc((size_t)c * sizeof(float));
            double loss = 0.0;
            st = outp ? runner_batch(&tp, m, s, order + i, c, labels, attr, true, outp, &loss, &tm, &res->batch_seconds)
                      : GP_ERR(GP_E_NOMEM, "out of memory");
            if (outp != out) gp_i_free(outp);
            if (st != GP_OK) goto fail;
            double a0 = now_seconds(), ac = thread_cpu_seconds();
            GP_TRY(gp_optim_step(opt));
            gp_optim_zero_grad(opt);
            tm.classifier += now_seconds() - a0;
            tm.classifier_cpu += thread_cpu_seconds() - ac;
            loss_sum += loss;
            nb++;
        }
        gp_linkpred_epoch ep = {.epoch = epoch, .epochs = o->epochs, .loss = nb ? loss_sum / (double)nb : NAN};
        GP_TRY(eval_part(&ep.val_auc, &ep.val_ap, m, &tp, s, start[GP_LINK_VAL_POS], split->count[GP_LINK_VAL_POS],
                         split->count[GP_LINK_VAL_NEG], attr, scores, &tm, &res->batch_seconds));
        ep.test_auc = ep.test_ap = NAN;
        double v = isnan(ep.val_auc) ? (double)epoch : ep.val_auc; /* no validation: the last epoch */
        /* the test part is scored where it can be reported (a new best epoch), or everywhere for
         * learning curves; evaluation draws no random numbers, so training is the same */
        if (v > best_val || o->test_every_epoch)
            GP_TRY(eval_part(&ep.test_auc, &ep.test_ap, m, &tp, s, start[GP_LINK_TEST_POS],
                             split->count[GP_LINK_TEST_POS], split->count[GP_LINK_TEST_NEG], attr, scores, &tm,
                             &res->batch_seconds));
        if (v > best_val) {
            best_val = v;
            ep.best = true;
            res->best_epoch = epoch;
            res->val_auc = ep.val_auc;
            res->val_ap = ep.val_ap;
            res->test_auc = ep.test_auc;
            res->test_ap = ep.test_ap;
            float *p = best;
            for (int i = 0; i < all.count; i++) {
                memcpy(p, all.tensors[i]->data, (size_t)gp_tensor_size(all.tensors[i]) * sizeof(float));
                p += gp_tensor_size(all.tensors[i]);
            }
        }
        ep.seconds = now_seconds() - e0;
        if (progress) progress(&ep, user);
    }
    res->train_seconds = now_seconds() - train_start;
    res->epoch_seconds = o->epochs > 0 ? res->train_seconds / o->epochs : 0.0;
    res->epoch_cpu_seconds = o->epochs > 0 ? (cpu_seconds() - cpu_start) / o->epochs : 0.0;
    res->encoder_seconds = tm.encoder;
    res->walk_seconds = tm.walk;
    res->classifier_seconds = tm.classifier;
    res->encoder_cpu_seconds = tm.encoder_cpu;
    res->walk_cpu_seconds = tm.walk_cpu;
    res->classifier_cpu_seconds = tm.classifier_cpu;
    if (res->best_epoch > 0) { /* leave the model at the selected epoch */
        const float *p = best;
        for (int i = 0; i < all.count; i++) {
            memcpy(all.tensors[i]->data, p, (size_t)gp_tensor_size(all.tensors[i]) * sizeof(float));
            p += gp_tensor_size(all.tensors[i]);
        }
    }
fail:
    if (have_tapes) runner_free(&tp);
    gp_optim_free(&opt);
    gp_param_list_free(&params);
    gp_param_list_free(&all);
    gp_linkpred_samples_free(&s);
    gp_i_free(best);
    gp_i_free(pairs);
    gp_i_free(labels);
    gp_i_free(order);
    gp_i_free(scores);
    return st;
}
