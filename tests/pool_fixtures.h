/*
 * Fixtures shared by the pooling tests (test_pool.c, test_rp.c, test_rp_local.c): small graphs
 * and batches, pool modules from a spec, random features, a plain GIN, and the
 * expand -> GIN -> readout model (run once, or as a gradcheck forward).
 *
 * Include after <cmocka.h> and "gradcheck.h". Functions are static inline so that a test that
 * does not use one gets no unused-function warning.
 */
#ifndef GP_TEST_POOL_FIXTURES_H
#define GP_TEST_POOL_FIXTURES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <graphpool/layers.h>
#include <graphpool/pool.h>

/* One undirected graph of n nodes with the given edges (m pairs, at most 128). */
static inline gp_graph *undirected(int64_t n, int m, const int64_t *pairs)
{
    int64_t src[128], dst[128];
    assert_true(m <= 128);
    for (int k = 0; k < m; k++) src[k] = pairs[2 * k], dst[k] = pairs[2 * k + 1];
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, n, m, src, dst, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    return g;
}

/* The batch of gs[0..count) (the graphs are freed). */
static inline gp_graph *batch_of(int count, gp_graph **gs)
{
    gp_graph *b = NULL;
    assert_int_equal(gp_graph_batch(&b, count, (const gp_graph *const *)gs), GP_OK);
    for (int i = 0; i < count; i++) gp_graph_free(&gs[i]);
    return b;
}

/* gp_pool_new with a fixed seed; fails the test with the library's message. */
static inline gp_module *pool_new(const char *spec, int64_t in_dim, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_module *m = NULL;
    if (gp_pool_new(&m, spec, in_dim, &rng) != GP_OK) fail_msg("%s: %s", spec, gp_last_error());
    return m;
}

/* n x d uniform features (caller frees). */
static inline float *random_features(int64_t n, int64_t d, uint64_t seed)
{
    float *x = malloc((size_t)(n * d) * sizeof(float));
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n * d; i++) x[i] = gp_rng_uniform(&rng);
    return x;
}

/* ||a - b|| / ||a|| in double. */
static inline double rel_diff(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)a[i] * a[i];
    }
    return sqrt(num / fmax(den, 1e-30));
}

/* A GIN of `layers` layers (MLP in -> hid -> hid, no norm), ReLU after each. */
typedef struct gin_net {
    gp_module *layer[4];
    int layers;
} gin_net;

static inline void gin_net_init(gin_net *net, int layers, int64_t in, int64_t hid, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    net->layers = layers;
    for (int l = 0; l < layers; l++) {
        gp_module *mlp = NULL;
        gp_mlp_options mo = {GP_ACT_RELU, 0.0f, GP_NORM_NONE};
        assert_int_equal(gp_mlp_new(&mlp, l ? hid : in, 1, (int64_t[]){hid}, hid, &mo, &rng), GP_OK);
        assert_int_equal(gp_gin_new(&net->layer[l], &mlp, &(gp_gin_options){0.1f, false}, &rng), GP_OK);
    }
}

static inline void gin_net_free(gin_net *net)
{
    for (int l = 0; l < net->layers; l++) gp_module_free(&net->layer[l]);
}

static inline gp_tensor *gin_net_forward(gin_net *net, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    for (int l = 0; l < net->layers; l++) x = gp_relu(t, gp_module_forward(net->layer[l], t, g, x));
    return x;
}

/* expand (optional) -> GIN -> readout on a fresh tape; the output is a fresh copy (caller
 * frees), its row count in *rows_out. */
static inline float *run_model(gp_module *expand, gin_net *net, gp_module *readout, gp_graph *g,
                               const float *x, int64_t d, bool training, int64_t *rows_out)
{
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, training);
    gp_tensor *xt = gp_tape_constant(t, x, gp_graph_nodes(g), d);
    gp_pool_batch in = gp_pool_batch_of(g, xt), ex;
    memset(&ex, 0, sizeof ex);
    gp_pool_batch *cur = &in;
    if (expand) {
        assert_int_equal(gp_pool_expand(expand, t, &in, &ex), GP_OK);
        cur = &ex;
    }
    gp_pool_batch h = *cur;
    h.x = gin_net_forward(net, t, cur->graph, cur->x);
    gp_tensor *r = gp_pool_readout(readout, t, &h);
    assert_non_null(r);
    float *out = malloc((size_t)gp_tensor_size(r) * sizeof(float));
    memcpy(out, r->data, (size_t)gp_tensor_size(r) * sizeof(float));
    *rows_out = r->rows;
    gp_pool_batch_release(&ex);
    gp_tape_free(&t);
    return out;
}

/* The model as a gradcheck forward (expand_gin_readout; input in[0] = the features). */
typedef struct fwd_ctx {
    gp_graph *g;
    gp_module *pool;    /* the expansion; unused when spec is set */
    gp_module *readout;
    gin_net *net;       /* NULL: the operator alone (expand -> readout) */
    const char *spec;   /* set: a new expansion from spec (same seed) on every call, so that
                         * every evaluation makes the same random draws */
    bool training;
} fwd_ctx;

/* Expanded batches of the last two forwards: the tape uses a copies' graph until backward. */
static gp_pool_batch pending[2];
static int pending_next;

static inline void pending_flush(void)
{
    gp_pool_batch_release(&pending[0]);
    gp_pool_batch_release(&pending[1]);
}

static inline gp_tensor *expand_gin_readout(gp_tape *t, gp_tensor **in, void *vctx)
{
    fwd_ctx *c = vctx;
    gp_tape_set_training(t, c->training);
    gp_module *pool = c->pool;
    if (c->spec) pool = pool_new(c->spec, in[0]->cols, 99);
    gp_pool_batch b = gp_pool_batch_of(c->g, in[0]), ex;
    gp_tensor *r = NULL;
    if (gp_pool_expand(pool, t, &b, &ex) == GP_OK) {
        gp_pool_batch h = ex;
        if (c->net) h.x = gin_net_forward(c->net, t, ex.graph, ex.x);
        r = gp_pool_readout(c->readout, t, &h);
    }
    gp_pool_batch_release(&pending[pending_next]);
    pending[pending_next] = ex;
    pending_next ^= 1;
    if (c->spec) gp_module_free(&pool);
    return r;
}

#endif
