/*
 * Pooling operators: one interface for global readouts, hierarchical (coarsening) pooling and
 * input expansion (relational pooling), chosen by name at run time.
 *
 * A pooling operator is a module (module.h) of kind "pool": its parameters (and child modules,
 * e.g. SAGPool's scoring GCN) are enumerated, optimised and checkpointed like any layer's, and it
 * can be added as a child of a model. It is created from a spec string
 *
 *     NAME[:KEY=VALUE[,KEY=VALUE]...]      e.g. "topk:ratio=0.8", "sagpool:ratio=0.5", "gnp", "meanmax"
 *
 * (options may also be separated by ':'), and implements one or more of three operations on a
 * batch (gp_pool_batch: a block-diagonal graph with graph_ptr / graph_of, node features):
 *
 *   readout  (GP_POOL_READOUT)  one vector per graph: num_graphs x readout_dim (or per group,
 *                               see below)
 *   coarsen  (GP_POOL_COARSEN)  a new batch: fewer nodes, new graph, features node_dim wide
 *   expand   (GP_POOL_EXPAND)   a new batch before message passing, e.g. each graph replaced by
 *                               labelled copies (grouped: group_ptr) or features widened with
 *                               position ids (relational pooling)
 *
 * Gradients: operators are written with tape ops (ops.h), so gradients flow through the
 * coarsened features back to the input features and the operator's parameters.
 *
 * Lifetimes: everything an operator returns is borrowed by the tape (index arrays live in the
 * tape's arena; a new graph is owned by the output batch). Keep every output batch until after
 * gp_tape_backward and then release it with gp_pool_batch_release (which frees an owned graph).
 *
 * Groups: a batch may carry num_groups / group_ptr: graphs [group_ptr[s], group_ptr[s+1]) are
 * copies of one sample (relational pooling, k,l-labelling). Readouts then return one row per
 * group; the built-in readouts reduce each graph and average the copies of each group.
 *
 * Adding an operator: write graphpool/NAME.c defining a `const gp_pool_class gp_i_pool_NAME`,
 * declare it in graphpool/pool_internal.h and add one line to the registry table in pool.c
 * (or call gp_pool_register at run time). docs/pooling.md is the guide.
 */
#ifndef GRAPHPOOL_POOL_H
#define GRAPHPOOL_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What an operator can do (gp_pool_class.caps). */
enum {
    GP_POOL_READOUT = 1u << 0,
    GP_POOL_COARSEN = 1u << 1,
    GP_POOL_EXPAND = 1u << 2,
};

typedef struct gp_pool_batch {
    gp_graph *graph;          /* block-diagonal batch (num_graphs, graph_ptr, graph_of) */
    gp_tensor *x;             /* graph nodes x d features (a tape tensor) */
    int64_t num_groups;       /* 0: every graph is its own sample */
    const int64_t *group_ptr; /* num_groups + 1 offsets into the graphs, or NULL */
    /* Filled by coarsening / expanding operators (NULL when not applicable): */
    const int64_t *kept;      /* node-drop: output node i is input node kept[i] */
    const int64_t *cluster;   /* clustering: the output node of each input node (-1: dropped) */
    gp_tensor *score;         /* output nodes x 1: the score that gated each output node */
    gp_tensor *aux_loss;      /* 1 x 1 auxiliary loss to add to the objective */
    bool owns_graph;          /* graph was built by the operator (freed by release) */
} gp_pool_batch;

/* A batch view of (graph, x) with no groups; nothing is owned. */
GP_API gp_pool_batch gp_pool_batch_of(gp_graph *graph, gp_tensor *x);
/* Free what the batch owns (its graph if owns_graph) and zero it. NULL-safe. Call after the
 * backward pass of the tape that used it. */
GP_API void gp_pool_batch_release(gp_pool_batch *b);
/* Number of samples: num_groups if grouped, else graph->num_graphs. */
GP_API int64_t gp_pool_batch_samples(const gp_pool_batch *b);

/* ---- options given in the spec ---- */
typedef struct gp_pool_options {
    int count;
    char **keys;
    char **values;
    bool *used; /* set by the getters: unknown keys are reported after init */
} gp_pool_options;

/* Getters: *out keeps def if the key is absent; GP_E_INVALID (naming the operator, key and value)
 * if the value does not parse or lies outside [lo, hi]. */
GP_API gp_status gp_pool_opt_double(const gp_pool_options *o, const char *op, const char *key,
                                    double def, double lo, double hi, double *out);
GP_API gp_status gp_pool_opt_int(const gp_pool_options *o, const char *op, const char *key,
                                 int64_t def, int64_t lo, int64_t hi, int64_t *out);
/* *out points into o (or is def). */
GP_API gp_status gp_pool_opt_string(const gp_pool_options *o, const char *op, const char *key,
                                    const char *def, const char **out);
GP_API gp_status gp_pool_opt_bool(const gp_pool_options *o, const char *op, const char *key,
                                  bool def, bool *out);

/* ---- the operator class (one per file) ---- */
typedef struct gp_pool_class {
    const char *name;    /* registry name, e.g. "topk" */
    const char *summary; /* one line for help texts, listing the options */
    unsigned caps;       /* GP_POOL_* */
    /*
     * Set up m (a "pool" module already holding in_dim): read options, add parameters and
     * children (gp_module_add_param / gp_module_add_child), allocate state in *state (freed by
     * destroy), and set *readout_dim / *node_dim (widths of readout rows / coarsened or
     * expanded node features; leave 0 for operations not supported).
     */
    gp_status (*init)(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                      int64_t *readout_dim, int64_t *node_dim);
    /* Operations (NULL when not in caps). Errors: NULL / non-OK with the tape's sticky status. */
    gp_tensor *(*readout)(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in);
    gp_status (*coarsen)(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                         gp_pool_batch *out);
    gp_status (*expand)(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                        gp_pool_batch *out);
    void (*destroy)(void *state); /* frees state; NULL: state is one block, freed with gp_free */
} gp_pool_class;

/*
 * Create an operator from its spec for node features of width in_dim; weights drawn from rng.
 * Errors: unknown name (GP_E_INVALID listing the known names), bad or unknown option
 * (GP_E_INVALID naming it), in_dim < 1.
 */
GP_API gp_status gp_pool_new(gp_module **out, const char *spec, int64_t in_dim, gp_rng *rng);
/* True if m is a pooling module; its class and capability bits. */
GP_API bool gp_pool_is(const gp_module *m);
GP_API const gp_pool_class *gp_pool_class_of(const gp_module *m);
GP_API unsigned gp_pool_caps(const gp_module *m);
GP_API int64_t gp_pool_readout_dim(const gp_module *m);
GP_API int64_t gp_pool_node_dim(const gp_module *m);
GP_API const char *gp_pool_spec(const gp_module *m);

/* One row per sample (num_samples x readout_dim). GP_E_UNSUPPORTED if the operator has no
 * readout. gp_module_forward(m, t, g, x) on a pool module is the readout of (g, x). */
GP_API gp_tensor *gp_pool_readout(gp_module *m, gp_tape *t, const gp_pool_batch *in);
/* *out receives the coarsened batch (release it after backward); groups are passed through. */
GP_API gp_status gp_pool_coarsen(gp_module *m, gp_tape *t, const gp_pool_batch *in,
                                 gp_pool_batch *out);
GP_API gp_status gp_pool_expand(gp_module *m, gp_tape *t, const gp_pool_batch *in,
                                gp_pool_batch *out);

/* ---- registry ---- */
/* Classes built in plus registered ones, in registry order; NULL past the end. */
GP_API const gp_pool_class *gp_pool_class_at(int i);
GP_API const gp_pool_class *gp_pool_class_find(const char *name);
/* Add a class at run time (the pointer is kept); GP_E_INVALID if the name is taken. Not
 * thread-safe: register before creating operators from other threads. */
GP_API gp_status gp_pool_register(const gp_pool_class *cls);

/* ---- node-drop selection shared by top-k style operators (nodedrop_select.c) ---- */
/*
 * Per graph g of the batch (graph_ptr, num_graphs), keep k_g = min(n_g, max(1, ceil(ratio n_g)))
 * nodes with the largest score (ties: smaller node index first; NaN ranks last), or, if
 * min_score >= 0, the nodes whose score > min(min_score, max_g score - 1e-7) (at least the best
 * one). Kept nodes are written in increasing node order (so graph ids never decrease) to kept
 * (capacity: graph_ptr[num_graphs]), their count to *num_kept and the new offsets to new_ptr
 * (num_graphs + 1). Empty graphs stay empty. ratio in (0, 1]. O(n log n_max) time.
 */
GP_API gp_status gp_nodedrop_select(int64_t *kept, int64_t *num_kept, int64_t *new_ptr,
                                    const float *score, int64_t num_graphs,
                                    const int64_t *graph_ptr, double ratio, double min_score);
/*
 * The subgraph of a batch induced by kept nodes given in increasing order, with graph ids
 * (new_ptr from gp_nodedrop_select). A linear-time hand kernel: O(n + entries of kept rows).
 */
GP_API gp_status gp_nodedrop_induced(gp_graph **out, const gp_graph *g, int64_t num_kept,
                                     const int64_t *kept, const int64_t *new_ptr);

/* ---- GNP (gnp.c): generalised norm-based pooling, Ko et al. ---- */
/*
 * params: 4 x C parameter rows (p+, q+, p-, q-), C = 1 (shared by all features) or C = cols.
 * Per segment s (rows [seg_ptr[s], seg_ptr[s+1]) of x, n_s rows) and column c:
 *   y = GNP_{p+,q+}(relu(x)) - GNP_{p-,q-}(relu(-x)),  GNP_{p,q}(a) = n^-q (sum_i a_i^p)^(1/p)
 * with the clamps and zero handling of gnp.c's file comment. Empty segments give 0.
 */
GP_API gp_tensor *gp_gnp_segments(gp_tape *t, gp_tensor *x, gp_tensor *params,
                                  const int64_t *seg_ptr, int64_t num_segments);
/* Neighbourhood aggregation: y_i = GNP over the in-neighbours j of i (row i of g->adj) of x_j
 * (edge values ignored; 0 for isolated nodes). */
GP_API gp_tensor *gp_gnp_aggregate(gp_tape *t, const gp_graph *g, gp_tensor *x, gp_tensor *params);
/* Initialise a 4 x C params tensor to p+ = p- = p0, q+ = q- = q0. */
GP_API void gp_gnp_init_params(gp_tensor *params, float p0, float q0);
/*
 * GNP message passing layer: y_i = x_i W_root + GNP_{j in N(i)}(x_j) W_rel + b (GraphConv with
 * GNP aggregation; params "gnp" 4 x (per_channel ? in_dim : 1), "root.weight", "rel.weight",
 * "bias").
 */
GP_API gp_status gp_gnpconv_new(gp_module **out, int64_t in_dim, int64_t out_dim, bool per_channel,
                                float p0, float q0, gp_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
