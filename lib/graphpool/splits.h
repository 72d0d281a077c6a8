/*
 * Seeded, reproducible splits.
 *
 * Link prediction (gp_link_split, linksplit.h): a random split of an undirected graph's
 * edges into train / validation / test positives with as many negatives, sampled uniformly
 * from non-edges; the observed (message-passing) graph built from training positives only
 * (optionally + validation), never test ones; moving a random fraction of the training pairs
 * to validation (WalkPool moves 5 % of the fixed splits' training pairs at run time).
 *
 * Graph classification (gp_cv_folds): stratified k-fold cross-validation with a validation
 * set carved from each fold's training part, or the DGCNN/GIN 10-fold index files.
 *
 * The same arguments and seed give the same split on every platform (graphpool's own
 * xoshiro256** stream, no libc rand).
 */
#ifndef GRAPHPOOL_SPLITS_H
#define GRAPHPOOL_SPLITS_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/graph.h>
#include <graphpool/linksplit.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which pairs a negative must avoid. */
typedef enum gp_neg_mode {
    GP_NEG_AVOID_ALL_EDGES = 0, /* negatives are non-edges of the whole graph (SEAL default) */
    GP_NEG_AVOID_TRAIN_EDGES    /* negatives only avoid training positives: a held-out edge may
                                   be drawn as a negative, as when sampling from the observed
                                   graph alone */
} gp_neg_mode;

/*
 * Random link split of the undirected graph g (g->symmetric required; self-loops and edge
 * values ignored; each pair u < v is one edge). With m edges:
 *   test = floor(test_ratio m), val = floor(val_ratio m), train = the rest (shuffled edges);
 * each part gets the same number of negatives: distinct pairs u < v drawn uniformly from the
 * pairs allowed by neg_mode, disjoint across parts. Pairs within a part are in random order.
 * Errors: NULL, non-symmetric graph, ratios outside [0, 1] or summing above 1 (GP_E_INVALID);
 * not enough non-edges for the negatives (GP_E_INVALID, with the counts).
 * Complexity O(n + m) expected (rejection sampling with a hash set; dense graphs enumerate
 * the non-edges instead).
 */
GP_API gp_status gp_link_split_random(gp_link_split **out, const gp_graph *g, double val_ratio,
                                      double test_ratio, gp_neg_mode neg_mode, uint64_t seed);

/*
 * The observed graph for message passing: symmetric, unweighted, s->num_nodes nodes, the
 * training positives and, if with_val, the validation positives. Test pairs never enter.
 */
GP_API gp_status gp_link_split_observed(gp_graph **out, const gp_link_split *s, bool with_val);

/*
 * Move floor(fraction * count) randomly chosen training positives to the validation
 * positives, and likewise floor(fraction * count) training negatives to the validation
 * negatives (appended after any existing validation pairs). fraction in [0, 1].
 */
GP_API gp_status gp_link_split_move_to_val(gp_link_split *s, double fraction, uint64_t seed);

/* ---- graph classification: k-fold cross-validation ---- */

typedef enum gp_cv_part { GP_CV_TRAIN = 0, GP_CV_VAL, GP_CV_TEST, GP_CV_PARTS } gp_cv_part;

/* k folds; for fold f and part p the item indices idx[f][p][0..count[f][p]) (ascending). */
typedef struct gp_cv_folds {
    int64_t k;
    int64_t num_items;
    int64_t (*count)[GP_CV_PARTS];  /* k rows */
    int64_t *(*idx)[GP_CV_PARTS];   /* k rows */
} gp_cv_folds;

/*
 * Stratified k-fold: items of each class are shuffled and dealt round-robin (classes one after
 * another, the deal continuing across classes), so every fold holds each class's count to
 * within 1 and fold sizes differ by at most 1. Fold f tests on its own items; from the other
 * folds' items (the training part) a stratified validation set of floor(val_ratio * size)
 * items is carved (per class within 1 of val_ratio times the class count), the rest trains.
 * labels in [0, C) for some C <= n (otherwise GP_E_RANGE); 2 <= k <= n; val_ratio in [0, 1).
 * Complexity O(k n log n).
 */
GP_API gp_status gp_cv_stratified(gp_cv_folds **out, int64_t n, const int64_t *labels, int64_t k,
                                  double val_ratio, uint64_t seed);

/*
 * Load the k fold files dir/train_idx-<f>.txt and dir/test_idx-<f>.txt (f = 1..k; one
 * 0-based item index per line; e.g. tu/PROTEINS/10fold_idx with k = 10) and carve a
 * validation set of floor(val_ratio * train) items from each fold's training items,
 * stratified by labels if labels is not NULL (n = num_items entries), else uniformly.
 * Errors: missing file (GP_E_IO naming it), a line that is not one integer (GP_E_PARSE with
 * file:line), an index outside [0, num_items) (GP_E_RANGE with file:line), an index twice in
 * a fold or in both train and test (GP_E_PARSE naming the index).
 */
GP_API gp_status gp_cv_read_folds(gp_cv_folds **out, const char *dir, int64_t k, int64_t num_items,
                                  const int64_t *labels, double val_ratio, uint64_t seed);

GP_API void gp_cv_folds_free(gp_cv_folds **f);

#ifdef __cplusplus
}
#endif
#endif
