/*
 * Mini-batches of graphs: an epoch is a permutation of the given graph indices (Fisher-Yates
 * with graphpool's seeded xoshiro256** stream, or the given order), cut into consecutive
 * batches; each batch is the block-diagonal union of its graphs (gp_graph_batch), with the
 * dataset rows of its nodes so features and labels can be gathered.
 */
#include <string.h>

#include "internal.h"
#include <graphpool/io.h>

struct gp_minibatch {
    const gp_graph_dataset *ds;
    int64_t count, batch_size, pos;
    int64_t *order;   /* count graph indices, this epoch's order */
    int64_t *labels;  /* batch_size labels of the current batch */
    int64_t *nodes;   /* node rows of the current batch */
    int64_t nodes_cap;
    const gp_graph **parts;
    bool shuffle;
    gp_rng rng;
};

void gp_minibatch_free(gp_minibatch **b)
{
    if (!b || !*b) return;
    gp_i_free((*b)->order);
    gp_i_free((*b)->labels);
    gp_i_free((*b)->nodes);
    gp_i_free((void *)(*b)->parts);
    gp_i_free(*b);
    *b = NULL;
}

gp_status gp_minibatch_new(gp_minibatch **out, const gp_graph_dataset *ds, int64_t count,
                           const int64_t *indices, int64_t batch_size, bool shuffle, uint64_t seed)
{
    if (!out || !ds || (count > 0 && !indices)) return GP_ERR(GP_E_INVALID, "gp_minibatch_new: NULL argument");
    *out = NULL;
    if (count < 1 || batch_size < 1)
        return GP_ERR(GP_E_INVALID, "gp_minibatch_new: count (%lld) and batch_size (%lld) must be >= 1",
                      (long long)count, (long long)batch_size);
    for (int64_t i = 0; i < count; i++)
        if (indices[i] < 0 || indices[i] >= ds->num_graphs)
            return GP_ERR(GP_E_RANGE, "gp_minibatch_new: index %lld (entry %lld) is outside [0, %lld)",
                          (long long)indices[i], (long long)i, (long long)ds->num_graphs);
    int64_t bs = batch_size < count ? batch_size : count;
    gp_minibatch *b = gp_i_calloc(1, sizeof *b);
    if (!b) return GP_ERR(GP_E_NOMEM, "gp_minibatch_new: out of memory");
    b->ds = ds;
    b->count = count;
    b->batch_size = bs;
    b->shuffle = shuffle;
    gp_rng_seed(&b->rng, seed);
    b->order = gp_i_malloc((size_t)count * sizeof(int64_t));
    b->labels = gp_i_malloc((size_t)bs * sizeof(int64_t));
    b->parts = gp_i_malloc((size_t)bs * sizeof(gp_graph *));
    if (!b->order || !b->labels || !b->parts) {
        gp_minibatch_free(&b);
        return GP_ERR(GP_E_NOMEM, "gp_minibatch_new: out of memory");
    }
    memcpy(b->order, indices, (size_t)count * sizeof(int64_t));
    gp_minibatch_reset(b);
    *out = b;
    return GP_OK;
}

int64_t gp_minibatch_batches(const gp_minibatch *b)
{
    return b ? (b->count + b->batch_size - 1) / b->batch_size : 0;
}

void gp_minibatch_reset(gp_minibatch *b)
{
    if (!b) return;
    if (b->shuffle) gp_rng_shuffle(&b->rng, b->order, b->count);
    b->pos = 0;
}

gp_status gp_minibatch_next(gp_graph **out, gp_minibatch_info *info, gp_minibatch *b)
{
    if (!out || !b) return GP_ERR(GP_E_INVALID, "gp_minibatch_next: NULL argument");
    *out = NULL;
    if (info) *info = (gp_minibatch_info){0};
    if (b->pos >= b->count) return GP_OK; /* end of the epoch */
    int64_t k = b->count - b->pos < b->batch_size ? b->count - b->pos : b->batch_size;
    const int64_t *gi = b->order + b->pos;
    int64_t nodes = 0;
    for (int64_t i = 0; i < k; i++) {
        b->parts[i] = b->ds->graphs[gi[i]];
        b->labels[i] = b->ds->labels[gi[i]];
        nodes += gp_graph_nodes(b->parts[i]);
    }
    if (nodes > b->nodes_cap) {
        int64_t *nn = gp_i_realloc(b->nodes, gp_i_mul_size((size_t)nodes, sizeof(int64_t)));
        if (!nn) return GP_ERR(GP_E_NOMEM, "gp_minibatch_next: out of memory for %lld nodes", (long long)nodes);
        b->nodes = nn;
        b->nodes_cap = nodes;
    }
    for (int64_t i = 0, at = 0; i < k; i++) {
        int64_t first = b->ds->node_ptr[gi[i]], n = gp_graph_nodes(b->parts[i]);
        for (int64_t j = 0; j < n; j++) b->nodes[at++] = first + j;
    }
    gp_status st = gp_graph_batch(out, k, b->parts);
    if (st != GP_OK) return st;
    b->pos += k;
    if (info) *info = (gp_minibatch_info){k, gi, b->labels, nodes, b->nodes};
    return GP_OK;
}
