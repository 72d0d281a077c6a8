/*
 * Global readouts: one vector per graph of a batch (rows graph_ptr[g] .. graph_ptr[g+1]).
 *   sum:     r_g = sum_i x_i                 dx_i = dr_g
 *   mean:    r_g = (1/n_g) sum_i x_i         dx_i = dr_g / n_g
 *   max/min: r_gc = extremum_i x_ic          gradient to the first arg-extremum of each column
 *   meanmax: [mean | max] (2d wide), maxmean: [max | mean] (PyG's gmp || gap order)
 * Empty graphs give 0. Grouped batches (pool.h) average the per-graph rows of each group.
 * Gradients come from the segment ops (ops_segment.c); meanmax / maxmean are one fused op
 * (gp_segment_max_mean: the bits of concat(max, mean), one pass over x).
 */
#include "pool_internal.h"

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_MEANMAX, R_MAXMEAN };

typedef struct readout_state {
    int kind;
} readout_state;

static gp_status readout_init(gp_module *m, void **state, int kind, int64_t *readout_dim)
{
    readout_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "readout: out of memory");
    s->kind = kind;
    *state = s;
    *readout_dim = (kind == R_MEANMAX || kind == R_MAXMEAN) ? 2 * m->in_dim : m->in_dim;
    return GP_OK;
}

#define READOUT_INIT(NAME, KIND)                                                                   \
    static gp_status NAME##_init(gp_module *m, void **state, const gp_pool_options *opt,          \
                                 gp_rng *rng, int64_t *readout_dim, int64_t *node_dim)             \
    {                                                                                              \
        (void)opt, (void)rng, (void)node_dim;                                                      \
        return readout_init(m, state, KIND, readout_dim);                                          \
    }
READOUT_INIT(sum, R_SUM)
READOUT_INIT(mean, R_MEAN)
READOUT_INIT(max, R_MAX)
READOUT_INIT(min, R_MIN)
READOUT_INIT(meanmax, R_MEANMAX)
READOUT_INIT(maxmean, R_MAXMEAN)

static gp_tensor *readout_run(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in)
{
    (void)m;
    const readout_state *s = state;
    const gp_graph *g = in->graph;
    const int64_t *ptr = g->graph_ptr;
    int64_t b = g->num_graphs;
    gp_tensor *x = in->x, *r = NULL;
    switch (s->kind) {
    case R_SUM: r = gp_segment_sum(t, x, ptr, b); break;
    case R_MEAN: r = gp_segment_mean(t, x, ptr, b); break;
    case R_MAX: r = gp_segment_max(t, x, ptr, b); break;
    case R_MIN: r = gp_segment_min(t, x, ptr, b); break;
    case R_MEANMAX: r = gp_segment_max_mean(t, x, ptr, b, true); break; /* one pass, one op */
    default: r = gp_segment_max_mean(t, x, ptr, b, false); break;
    }
    return gp_i_pool_group_mean(t, in, r);
}

#define READOUT_CLASS(NAME, SUMMARY)                                                               \
    const gp_pool_class gp_i_pool_##NAME = {#NAME, SUMMARY, GP_POOL_READOUT, NAME##_init,          \
                                            readout_run, NULL, NULL, NULL}
READOUT_CLASS(sum, "sum readout (no options)");
READOUT_CLASS(mean, "mean readout (no options)");
READOUT_CLASS(max, "max readout (no options)");
READOUT_CLASS(min, "min readout (no options)");
READOUT_CLASS(meanmax, "mean || max readout (no options)");
READOUT_CLASS(maxmean, "max || mean readout (no options)");
