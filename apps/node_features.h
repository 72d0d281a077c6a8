/* Node input features of a TU graph dataset for gp-graphclass: any combination of one-hot node
 * labels, standardised node attributes, one-hot degree, standardised degree and a constant 1,
 * named like "labels+attr+degree". Columns are laid out in that fixed order. */
#ifndef GP_APP_NODE_FEATURES_H
#define GP_APP_NODE_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include <graphpool/graphpool.h>

enum {
    NF_LABELS = 1,      /* one-hot node label (values seen in the training dataset) */
    NF_ATTR = 2,        /* node attributes, (a - mean) / std per column */
    NF_DEGREE = 4,      /* one-hot degree, capped at max_degree */
    NF_DEGREE_NORM = 8, /* (degree - mean) / std */
    NF_ONES = 16,       /* constant 1 */
    NF_MAX_DEGREE_ONEHOT = 256
};

typedef struct node_features {
    unsigned parts; /* NF_* */
    int64_t dim;
    int64_t num_label_values;
    int64_t *label_values; /* one-hot column c is node-label value label_values[c] */
    int64_t num_attr;
    double *attr_mean, *attr_std;
    int64_t max_degree; /* one-hot degree width - 1 */
    double deg_mean, deg_std;
} node_features;

/* The parts a name gives: "labels", "attr", "degree", "degree-norm", "ones" joined by '+', each at
 * most once, in any order. 0 for a name that is not such a combination. */
unsigned node_features_parse(const char *name);

/* The canonical name of parts ("labels+attr+degree"), in buf. */
void node_features_name(unsigned parts, char *buf, size_t size);

/* The feature width that fs's parts and counts give. */
int64_t node_features_dim(const node_features *fs);

/* Choose the features of a training dataset: mode is a combination (node_features_parse), "auto"
 * (one-hot labels if the dataset has them, else attributes, else one-hot degree, or standardised
 * degree when the maximum degree is above NF_MAX_DEGREE_ONEHOT) or "all" (labels and attributes
 * where the dataset has them, plus the degree as for "auto": the input of the official GPN code,
 * TUDataset(use_node_attr=True) + OneHotDegree, except that the official code keeps the attributes
 * raw and switches to a standardised degree at maximum degree 1000, not 256, and then keeps only
 * that column). Fills fs (label values and statistics copied; node_features_free releases them). 0, or 2
 * with a message for a bad mode or a part the dataset lacks, or 1 when out of memory. */
int node_features_choose(node_features *fs, const gp_graph_dataset *ds, const char *mode);

/* What the feature rows of ds's nodes are made from, per node: the one-hot label column (-1: the
 * label value is not in fs) and the degree. Rows are written per batch (node_features_rows), not
 * kept for the whole dataset: a dense num_nodes x dim matrix was 137 MB on DD with labels +
 * degree. 0, or 1 with a message (attribute width differs, no node labels, out of memory). */
typedef struct node_features_index {
    int64_t *label_col;
    int64_t *degree;
} node_features_index;
int node_features_index_build(node_features_index *ix, const node_features *fs, const gp_graph_dataset *ds);

/* The feature rows (count x fs->dim, row-major) of the dataset's nodes nodes[0..count). */
void node_features_rows(float *out, const node_features *fs, const node_features_index *ix,
                        const gp_graph_dataset *ds, const int64_t *nodes, int64_t count);

void node_features_index_free(node_features_index *ix);

void node_features_free(node_features *fs);

#endif
