/*
 * Link prediction with WalkPool (Pan, Shi & Dokmanic, ICLR 2022): enclosing-subgraph
 * extraction, the model (GNN encoder, attention, walk profile, classifier) and its training.
 *
 * Per candidate link (a, b): the k-hop enclosing subgraph of {a, b} in the observed graph,
 * always with the link itself inserted (G+; positives and negatives look alike), local nodes
 * 0 = a and 1 = b. Node features X: 16-d ones (or given attributes), optionally joined by a
 * learned embedding of the node's DRNL label (SEAL, computed on G-). Encoder: GCN layers,
 * Z = [X | H1 | ... | HL] (H1 before its ReLU, dropout between layers). Attention: two 2-layer
 * MLPs (LeakyReLU 0.2, dropout) give queries and keys, heads x hidden; logits
 * s(u->v) = <Q_h[u], K_h[v]> / sqrt(hidden); features = gp_walkpool (walkpool.h). Classifier:
 * batch norm, then an MLP F -> 20F -> 20F -> 10F -> F -> 1 (ReLU) with dropout before the last
 * layer. Loss: MSE between sigmoid(output) and the label (the paper) or BCE with logits.
 * Adam, batch 32, 50 epochs; the reported test AUC/AP are those of the epoch with the best
 * validation AUC, and the model is left with that epoch's parameters.
 *
 * Results depend only on the data, options (seed included) and thread count.
 */
#ifndef GRAPHPOOL_LINKPRED_H
#define GRAPHPOOL_LINKPRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <graphpool/graph.h>
#include <graphpool/linksplit.h>
#include <graphpool/module.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_linkpred_options {
    /* subgraphs */
    int hops;                  /* 2 (the paper: 3 for Power) */
    int64_t max_nodes_per_hop; /* 0 = no cap (the paper: 100 for PB, E.coli, Pubmed) */
    /* features */
    int64_t ones_dim;          /* 16: width of the constant features (used without attributes) */
    bool drnl;                 /* false: add a DRNL label embedding */
    int64_t drnl_dim;          /* 32 */
    int64_t drnl_max_label;    /* 64: labels above are clamped */
    /* model */
    int gnn_layers;            /* 2 GCN layers */
    int64_t hidden;            /* 32: GCN width, attention MLP width and per-head size */
    int heads;                 /* 2 */
    int walk_len;              /* 7: tau = 2 .. walk_len + 1 */
    float dropout;             /* 0.5 */
    bool torch_init;           /* false: Glorot uniform weights and zero biases in the attention
                                  MLPs and the classifier (graphpool's layer default); true: as
                                  PyTorch's nn.Linear starts in the reference code, weights and
                                  biases uniform in +-1/sqrt(fan_in). The GCN layers are Glorot
                                  with zero bias either way (as PyG's GCNConv) */
    /* training */
    bool bce;                  /* false: MSE on the sigmoid (the paper); true: BCE with logits */
    float lr;                  /* 5e-5 */
    int64_t batch_size;        /* 32 */
    int epochs;                /* 50 */
    uint64_t seed;             /* 1: weights, shuffling, dropout, per-hop sampling */
    bool test_every_epoch;     /* false: the test part is scored at new best validation epochs
                                  only; true: at every epoch (learning curves). The selected
                                  epoch, its result and the weights are the same either way */
    int threads;               /* 0: keep the library setting (gp_set_threads). With 2 or more,
                                  each batch's encoder and walk profile run as two halves on two
                                  threads (the library is set to 1 thread meanwhile, so do not
                                  run other graphpool work concurrently); results are
                                  deterministic per thread count but differ between 1 and 2+
                                  (the second half has its own dropout stream) */
} gp_linkpred_options;

/* The paper's defaults above. */
GP_API void gp_linkpred_options_default(gp_linkpred_options *opt);

/* ---- enclosing subgraphs ---- */
typedef struct gp_linkpred_samples gp_linkpred_samples;

/*
 * Extract the enclosing subgraph G+ of each pair (count pairs, 2 * count ids) from the
 * symmetric observed graph: gp_graph_khop from {a, b} (hops, per-hop cap sampled with a
 * stream seeded from opt->seed and the pair's index), the induced subgraph, plus the edges
 * a->b and b->a. Parallel over pairs (OpenMP), deterministic. Errors: non-symmetric graph,
 * pair ids out of range or equal (GP_E_RANGE / GP_E_INVALID naming the pair).
 * Storage is compact (no gp_graph per sample): per sample its upper triangle and node ids as
 * unsigned integers of the smallest width that holds them (1 byte per stored undirected edge
 * when the subgraph has at most 256 nodes, 2 up to 65 536), DRNL labels likewise, packed in a
 * few large blocks; the graphs are rebuilt on demand (gp_linkpred_batch) in O(nodes + edges).
 */
GP_API gp_status gp_linkpred_extract(gp_linkpred_samples **out, const gp_graph *observed,
                                     int64_t count, const int64_t *pairs,
                                     const gp_linkpred_options *opt);
GP_API void gp_linkpred_samples_free(gp_linkpred_samples **s);
GP_API int64_t gp_linkpred_samples_count(const gp_linkpred_samples *s);
/* Bytes of memory the samples hold (their blocks and per-sample records). */
GP_API size_t gp_linkpred_samples_bytes(const gp_linkpred_samples *s);
/* Sample i's size: nodes and directed edges (stored entries) of its G+. */
GP_API gp_status gp_linkpred_sample_size(int64_t *nodes, int64_t *edges, const gp_linkpred_samples *s,
                                         int64_t i);
/*
 * The block-diagonal G+ of samples which[0..count) (count >= 1, in that order), exactly as the
 * model sees a batch: sample j's local node v is node graph_ptr[j] + v (local 0 = a, 1 = b),
 * rows sorted, unweighted, symmetric. Outputs are new and optional (NULL to skip): *g
 * (gp_graph_free), *nodes the observed-graph id of each node and *drnl its DRNL label (gp_free;
 * *drnl = NULL when opt->drnl was off). GP_E_RANGE for an id outside [0, count of s).
 */
GP_API gp_status gp_linkpred_batch(gp_graph **g, int64_t **nodes, int64_t **drnl, const gp_linkpred_samples *s,
                                   int64_t count, const int64_t *which);
/* Sample i alone (gp_linkpred_batch of one): its G+ (local node 0 = a, 1 = b), the
 * observed-graph id of each local node, and *drnl the DRNL labels or NULL when opt->drnl was
 * off. All three are new copies owned by the caller (gp_graph_free, gp_free); each may be NULL.
 * (Until the compact storage these were borrowed pointers of types const gp_graph * and
 * const int64_t *.) */
GP_API gp_status gp_linkpred_sample(gp_graph **g, int64_t **nodes, int64_t **drnl, const gp_linkpred_samples *s,
                                    int64_t i);

/* ---- the model ---- */
typedef struct gp_linkpred_model gp_linkpred_model;

/* A new model (weights drawn from opt->seed). attr_dim > 0: node attributes of that width
 * replace the ones features (pass them to fit/predict). */
GP_API gp_status gp_linkpred_model_new(gp_linkpred_model **out, const gp_linkpred_options *opt,
                                       int64_t attr_dim);
GP_API void gp_linkpred_model_free(gp_linkpred_model **m);
GP_API const gp_linkpred_options *gp_linkpred_model_options(const gp_linkpred_model *m);
GP_API int64_t gp_linkpred_model_attr_dim(const gp_linkpred_model *m);
/* The module tree holding every parameter and buffer (for optimisers and checkpoints). */
GP_API gp_module *gp_linkpred_model_module(gp_linkpred_model *m);

/*
 * Save to a checkpoint (module.h format) that also records the options and data_sha256 (64
 * hex digits identifying the training data, or NULL). Load builds the model from the file's
 * options; *data_sha256 (optional, 65 bytes) receives the recorded checksum ("" if none).
 * The loaded model scores exactly like the saved one.
 */
GP_API gp_status gp_linkpred_model_save(const gp_linkpred_model *m, const char *path,
                                        const char *data_sha256);
GP_API gp_status gp_linkpred_model_load(gp_linkpred_model **out, char *data_sha256, const char *path);

/* ---- training and scoring ---- */
typedef struct gp_linkpred_epoch {
    int epoch;          /* 1-based */
    int epochs;
    double loss;        /* mean training loss */
    double val_auc, val_ap, test_auc, test_ap; /* NaN when the part is empty; the test part is
                                                  only scored at epochs with a new best
                                                  validation AUC (NaN at the others) unless
                                                  test_every_epoch is set */
    double seconds;     /* this epoch: training and evaluation */
    bool best;          /* best validation AUC so far */
    double mean_nodes;  /* nodes per extracted subgraph, mean (the same at every epoch) */
} gp_linkpred_epoch;

typedef void (*gp_linkpred_progress_fn)(const gp_linkpred_epoch *e, void *user);

typedef struct gp_linkpred_result {
    int best_epoch;
    int resumed_epochs;                 /* epochs taken from a training state (gp_linkpred_fit_resumable) */
    double val_auc, val_ap, test_auc, test_ap; /* at best_epoch */
    int64_t subgraphs;                  /* extracted (train, val, test) */
    double mean_nodes, mean_edges;      /* per subgraph (directed edges of G+) */
    /* wall-clock seconds */
    double extract_seconds;             /* once, before the first epoch */
    double encoder_seconds;             /* GNN + attention, forward and backward */
    double walk_seconds;                /* walk profile, forward and backward */
    double classifier_seconds;          /* classifier + loss, forward, backward, Adam step */
    double batch_seconds;               /* assembling batches (block-diagonal graphs, features) */
    /* CPU time of the calling thread in the same three stages: with one thread the exact CPU
     * cost, unaffected by other load on the machine */
    double encoder_cpu_seconds, walk_cpu_seconds, classifier_cpu_seconds;
    double epoch_seconds;               /* mean time of one epoch (train + val + test scoring) */
    double epoch_cpu_seconds;           /* the same in process CPU time (all threads summed) */
    double train_seconds;               /* all epochs */
} gp_linkpred_result;

/*
 * Train m on split (train_pos/neg; model selection on val_pos/neg; test_pos/neg scored at
 * every epoch that improves the validation AUC) with subgraphs from the observed graph (symmetric; it must not contain test
 * positives: the caller builds it, e.g. gp_link_split_observed). attr: num_nodes x attr_dim
 * row-major when the model was made with attributes, else NULL. progress may be NULL.
 * With an empty validation part, the last epoch is kept.
 */
GP_API gp_status gp_linkpred_fit(gp_linkpred_result *res, gp_linkpred_model *m,
                                 const gp_graph *observed, const gp_link_split *split,
                                 const float *attr, gp_linkpred_progress_fn progress, void *user);

/*
 * gp_linkpred_fit that can be stopped and continued: after every epoch the whole training
 * state (weights, the best epoch's weights, Adam's moments and step, the random streams, the
 * sample order, the selection so far) replaces state_path (written to a temporary file and
 * renamed, so a stop while saving keeps the previous epoch's state). If state_path exists when
 * training starts, it must hold the state of this run (same options except epochs and
 * test_every_epoch, thread count, graph, split, attributes and starting weights: GP_E_INVALID
 * otherwise, and nothing changes); training continues after its epoch, with the numbers an
 * uninterrupted run gives: the same selected epoch, AUC, AP and final weights. A state saved
 * after the last epoch reproduces the result without training; a run with more epochs continues
 * it. progress is called for the epochs trained now; res->resumed_epochs says how many were
 * taken from the file, and the timings cover the epochs trained now. The state file is about
 * four times the model's weights (weights, best copy, two moments) and stays after training.
 */
GP_API gp_status gp_linkpred_fit_resumable(gp_linkpred_result *res, gp_linkpred_model *m,
                                           const gp_graph *observed, const gp_link_split *split,
                                           const float *attr, gp_linkpred_progress_fn progress, void *user,
                                           const char *state_path);

/* Probabilities sigmoid(output) for count pairs (eval mode; subgraphs extracted on the fly from
 * observed, in chunks). */
GP_API gp_status gp_linkpred_predict(double *scores, gp_linkpred_model *m, const gp_graph *observed,
                                     int64_t count, const int64_t *pairs, const float *attr);
/* The same for already extracted samples. */
GP_API gp_status gp_linkpred_predict_samples(double *scores, gp_linkpred_model *m,
                                             const gp_linkpred_samples *s, const float *attr);

#ifdef __cplusplus
}
#endif
#endif
