/*
 * Modules: layers that own parameters, behind one small vtable.
 *
 * A module is created with a seeded gp_rng (weights are drawn from it, and the module's own
 * dropout stream is split off it), run with gp_module_forward(m, tape, graph, x) on a (batched)
 * graph and node features (n x in_dim; graph-free modules such as linear layers accept a NULL
 * graph), enumerated with gp_module_params (trainable tensors for optimisers; with buffers such
 * as batch-norm running statistics for checkpoints), and freed with gp_module_free, which frees
 * its children too.
 *
 * Sparse input features (e.g. Cora's 2708 x 1433 bag of words) go through
 * gp_module_forward_csr: layers whose first operation is X W use gp_sparse_matmul, so the
 * features are never densified, and input dropout is applied to their stored values.
 *
 * Writing a new module: define a gp_module_ops table, call gp_module_alloc, add parameters with
 * gp_module_add_param and sub-modules with gp_module_add_child. Everything added is freed by
 * gp_module_free; ops->destroy frees whatever else impl points to.
 *
 * Parameter names: a module's own tensors are named by their tensor name (e.g. "weight"), a
 * child's with the child's index as prefix ("0.weight", "1.2.bias"). Names are unique within a
 * module tree (gp_module_params checks this) and are what checkpoints store.
 *
 * Threading: a module is used by one thread at a time (forward fills graph caches on first use).
 */
#ifndef GRAPHPOOL_MODULE_H
#define GRAPHPOOL_MODULE_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/graph.h>
#include <graphpool/rng.h>
#include <graphpool/sparse.h>
#include <graphpool/tape.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_module gp_module;

typedef struct gp_module_ops {
    const char *kind; /* "gcn", "linear", "stack", ... */
    /* n x in_dim -> n x out_dim; NULL on error with the tape's sticky status set. */
    gp_tensor *(*forward)(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x);
    /* Sparse constant input with dropout on its stored values; NULL if unsupported. */
    gp_tensor *(*forward_csr)(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x, float dropout);
    /* Free what impl owns (not impl itself, params, buffers or children); may be NULL. */
    void (*destroy)(gp_module *m);
} gp_module_ops;

struct gp_module {
    const gp_module_ops *ops;
    int64_t in_dim, out_dim;
    gp_rng rng;              /* the module's dropout stream */
    int num_params, num_buffers, num_children;
    gp_tensor **params;      /* trainable (gp_param_new), owned */
    gp_tensor **buffers;     /* non-trainable state saved in checkpoints, owned */
    gp_module **children;    /* owned */
    void *impl;              /* kind-specific state, zero-filled, freed by gp_module_free */
};

/* ---- using modules ---- */
GP_API gp_tensor *gp_module_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x);
/* gp_relu(gp_module_forward(...)), as one op where the layer allows (GCN, and GraphConv with sum
 * aggregation, on a dense input: the pre-activation is not kept); the same values and gradients. */
GP_API gp_tensor *gp_module_forward_relu(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x);
/* GP_E_UNSUPPORTED on the tape if the module cannot take sparse input. dropout in [0, 1). */
GP_API gp_tensor *gp_module_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x,
                                        float dropout);
GP_API bool gp_module_accepts_csr(const gp_module *m);
/* Frees m, its tensors and children; sets *m = NULL. NULL-safe. */
GP_API void gp_module_free(gp_module **m);

/* A flat list of a module tree's tensors with unique qualified names (owned by the list). */
typedef struct gp_param_list {
    int count;
    gp_tensor **tensors;
    char **names;
} gp_param_list;
/*
 * Collect m's trainable parameters (and, with include_buffers, its buffers after them), depth
 * first: own tensors, then each child's. GP_E_INVALID if two names collide (the name is in the
 * message). Free with gp_param_list_free.
 */
GP_API gp_status gp_module_params(gp_param_list *out, const gp_module *m, bool include_buffers);
GP_API void gp_param_list_free(gp_param_list *list);
/* Total number of trainable scalars. */
GP_API int64_t gp_module_num_weights(const gp_module *m);

/* ---- writing modules ---- */
/* A module with impl_size zeroed bytes of impl; its dropout rng is split off rng (required). */
GP_API gp_status gp_module_alloc(gp_module **out, const gp_module_ops *ops, int64_t in_dim,
                                 int64_t out_dim, size_t impl_size, gp_rng *rng);
/* New zero-filled parameter (trainable) or buffer owned by m; *out (optional) receives it. */
GP_API gp_status gp_module_add_param(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                                     int64_t cols);
GP_API gp_status gp_module_add_buffer(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                                      int64_t cols);
/* Ownership of *child moves to m (*child set to NULL on success; on failure it stays the
 * caller's). */
GP_API gp_status gp_module_add_child(gp_module *m, gp_module **child);

/* ---- activations and normalisation used by stacks and MLPs ---- */
typedef enum gp_activation {
    GP_ACT_NONE = 0,
    GP_ACT_RELU,
    GP_ACT_ELU,        /* alpha 1 */
    GP_ACT_LEAKY_RELU, /* slope 0.01 */
    GP_ACT_TANH,
    GP_ACT_SIGMOID
} gp_activation;
GP_API gp_tensor *gp_activate(gp_tape *t, gp_tensor *x, gp_activation act);
/* "relu", "elu", ... -> GP_ACT_*; GP_E_INVALID for an unknown name. */
GP_API gp_status gp_activation_parse(gp_activation *out, const char *name);

typedef enum gp_norm_kind {
    GP_NORM_NONE = 0,
    GP_NORM_BATCH, /* gp_batch_norm, momentum 0.1, eps 1e-5; running stats are buffers (and
                    * normalise a training batch of one row, see gp_batch_norm) */
    GP_NORM_LAYER  /* gp_layer_norm, eps 1e-5 */
} gp_norm_kind;

/*
 * A stack runs its layers in order. For layer l (0-based) of L, on input h:
 *   h' = layer_l(dropout(h, l == 0 ? input_dropout : dropout))
 *   if l < L-1 or act_last:  h' = act(norm(h'))
 *   if residual and layer_l keeps the width:  h' = h' + h
 * Output: h_L, or with jk_concat the concatenation [X | h_1 | ... | h_L] (jumping knowledge,
 * Xu et al. 2018; X left out with jk_skip_input), whose width is the sum of the parts.
 * Sparse input (gp_module_forward_csr) goes to the first layer with input dropout
 * max(input_dropout, the dropout argument) on its stored values; it needs jk_skip_input (a
 * sparse X cannot be concatenated), and the first layer gets no residual.
 */
typedef struct gp_stack_options {
    gp_activation act;
    float dropout;       /* before every layer after the first */
    float input_dropout; /* before the first layer */
    gp_norm_kind norm;
    bool act_last;
    bool residual;
    bool jk_concat;
    bool jk_skip_input;
} gp_stack_options;

/* An empty stack (opt NULL: ReLU, no dropout, no norm). */
GP_API gp_status gp_stack_new(gp_module **out, const gp_stack_options *opt, gp_rng *rng);
/* Append a layer (ownership of *layer moves; *layer = NULL). Its in_dim must equal the stack's
 * current width (GP_E_SHAPE otherwise). */
GP_API gp_status gp_stack_add(gp_module *stack, gp_module **layer);
GP_API int gp_stack_size(const gp_module *stack);

/* ---- checkpoints (checkpoint.c) ----
 * File format, little-endian: "GPCKPT\r\n" magic, u32 version (1), u32 tensor count; per tensor
 * u32 name length, name bytes, i64 rows, i64 cols, rows*cols float32; then the u32 CRC-32
 * (IEEE 802.3, as zlib) of everything before it. Saving writes path.tmp-XXXXXX, flushes it
 * to disk and renames it over path, so an interrupted save leaves the old file intact.
 * Loading reads and validates everything (magic, version, checksum, sizes, every name of the
 * module present once with the same shape, no extra names) before writing any tensor: on any
 * error the module is unchanged. Errors: GP_E_IO (open/read/write), GP_E_PARSE (bad magic,
 * version, checksum, truncated or trailing bytes), GP_E_SHAPE (shape mismatch, with the name),
 * GP_E_INVALID (missing or unknown names).
 */
GP_API gp_status gp_module_save(const gp_module *m, const char *path);
GP_API gp_status gp_module_load(gp_module *m, const char *path);

#ifdef __cplusplus
}
#endif
#endif
