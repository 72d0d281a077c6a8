/* Node input features for gp-graphclass (node_features.h). */
#include "node_features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const part_names[] = {"labels", "attr", "degree", "degree-norm", "ones"};
enum { NUM_PARTS = 5 };

unsigned node_features_parse(const char *name)
{
    unsigned parts = 0;
    const char *s = name;
    for (;;) {
        size_t len = strcspn(s, "+");
        int k;
        for (k = 0; k < NUM_PARTS && (strlen(part_names[k]) != len || strncmp(s, part_names[k], len)); k++) {}
        if (k == NUM_PARTS || (parts & (1u << k))) return 0;
        parts |= 1u << k;
        if (!s[len]) return parts;
        s += len + 1;
    }
}

void node_features_name(unsigned parts, char *buf, size_t size)
{
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int k = 0; k < NUM_PARTS; k++)
        if (parts & (1u << k)) {
            int w = snprintf(buf + used, size > used ? size - used : 0, "%s%s", used ? "+" : "", part_names[k]);
            if (w > 0) used += (size_t)w;
        }
}

static int64_t node_degree(const gp_graph_dataset *ds, int64_t gi, int64_t j)
{
    const gp_graph *g = ds->graphs[gi];
    return g->adj.ptr[j + 1] - g->adj.ptr[j];
}

int64_t node_features_dim(const node_features *fs)
{
    int64_t d = 0;
    if (fs->parts & NF_LABELS) d += fs->num_label_values;
    if (fs->parts & NF_ATTR) d += fs->num_attr;
    if (fs->parts & NF_DEGREE) d += fs->max_degree + 1;
    if (fs->parts & NF_DEGREE_NORM) d += 1;
    if (fs->parts & NF_ONES) d += 1;
    return d;
}

/* Mean and std of every attribute column over the dataset's nodes (no labels used): raw
 * attributes span very different scales (ENZYMES: 1e-1 to 1e2). */
static int attr_statistics(node_features *fs, const gp_graph_dataset *ds)
{
    double n = ds->num_nodes > 0 ? (double)ds->num_nodes : 1.0;
    fs->num_attr = ds->num_node_attr;
    fs->attr_mean = calloc((size_t)fs->num_attr + 1, sizeof(double));
    fs->attr_std = calloc((size_t)fs->num_attr + 1, sizeof(double));
    if (!fs->attr_mean || !fs->attr_std) return 1;
    for (int64_t a = 0; a < fs->num_attr; a++) {
        double m = 0, m2 = 0;
        for (int64_t v = 0; v < ds->num_nodes; v++) {
            double x = ds->node_attr[v * fs->num_attr + a];
            m += x;
            m2 += x * x;
        }
        m /= n;
        fs->attr_mean[a] = m;
        fs->attr_std[a] = sqrt(fmax(m2 / n - m * m, 0.0));
        if (fs->attr_std[a] < 1e-12) fs->attr_std[a] = 1.0;
    }
    return 0;
}

int node_features_choose(node_features *fs, const gp_graph_dataset *ds, const char *mode)
{
    memset(fs, 0, sizeof *fs);
    int64_t maxd = 0;
    double s = 0, s2 = 0;
    for (int64_t gi = 0; gi < ds->num_graphs; gi++)
        for (int64_t j = 0; j < gp_graph_nodes(ds->graphs[gi]); j++) {
            int64_t d = node_degree(ds, gi, j);
            if (d > maxd) maxd = d;
            s += (double)d;
            s2 += (double)d * (double)d;
        }
    unsigned degree = maxd > NF_MAX_DEGREE_ONEHOT ? NF_DEGREE_NORM : NF_DEGREE;
    if (!strcmp(mode, "auto")) {
        fs->parts = ds->node_labels ? NF_LABELS : ds->node_attr ? NF_ATTR : degree;
    } else if (!strcmp(mode, "all")) {
        fs->parts = (ds->node_labels ? NF_LABELS : 0u) | (ds->node_attr ? NF_ATTR : 0u) | degree;
    } else if (!(fs->parts = node_features_parse(mode))) {
        return fprintf(stderr, "gp-graphclass: unknown --features %s (auto, all, or labels, attr, degree, "
                               "degree-norm, ones joined by '+')\n", mode), 2;
    }
    if ((fs->parts & NF_LABELS) && !ds->node_labels)
        return fprintf(stderr, "gp-graphclass: --features %s: the dataset has no node labels\n", mode), 2;
    if ((fs->parts & NF_ATTR) && !ds->node_attr)
        return fprintf(stderr, "gp-graphclass: --features %s: the dataset has no node attributes\n", mode), 2;
    double n = ds->num_nodes > 0 ? (double)ds->num_nodes : 1.0;
    fs->deg_mean = s / n;
    fs->deg_std = sqrt(fmax(s2 / n - fs->deg_mean * fs->deg_mean, 1e-12));
    fs->max_degree = maxd < NF_MAX_DEGREE_ONEHOT ? maxd : NF_MAX_DEGREE_ONEHOT;
    if (fs->parts & NF_LABELS) {
        fs->num_label_values = ds->num_node_labels;
        fs->label_values = malloc((size_t)(ds->num_node_labels + 1) * sizeof(int64_t));
        if (!fs->label_values) return 1;
        for (int64_t c = 0; c < ds->num_node_labels; c++)
            fs->label_values[c] = ds->node_label_values ? ds->node_label_values[c] : c;
    }
    if ((fs->parts & NF_ATTR) && attr_statistics(fs, ds)) return 1;
    fs->dim = node_features_dim(fs);
    return 0;
}

int node_features_index_build(node_features_index *ix, const node_features *fs, const gp_graph_dataset *ds)
{
    memset(ix, 0, sizeof *ix);
    if ((fs->parts & NF_ATTR) && ds->num_node_attr != fs->num_attr) {
        fprintf(stderr, "gp-graphclass: %lld node attributes, the model expects %lld\n",
                (long long)ds->num_node_attr, (long long)fs->num_attr);
        return 1;
    }
    if ((fs->parts & NF_LABELS) && !ds->node_labels) {
        fprintf(stderr, "gp-graphclass: the dataset has no node labels\n");
        return 1;
    }
    size_t n = (size_t)(ds->num_nodes > 0 ? ds->num_nodes : 1);
    ix->label_col = malloc(n * sizeof *ix->label_col);
    ix->degree = malloc(n * sizeof *ix->degree);
    if (!ix->label_col || !ix->degree) {
        node_features_index_free(ix);
        fprintf(stderr, "gp-graphclass: out of memory for the node features\n");
        return 1;
    }
    for (int64_t gi = 0; gi < ds->num_graphs; gi++)
        for (int64_t j = 0; j < gp_graph_nodes(ds->graphs[gi]); j++) {
            int64_t v = ds->node_ptr[gi] + j, c = -1;
            if (fs->parts & NF_LABELS) {
                int64_t val = ds->node_label_values ? ds->node_label_values[ds->node_labels[v]] : ds->node_labels[v];
                for (c = 0; c < fs->num_label_values && fs->label_values[c] != val; c++) {}
                if (c == fs->num_label_values) c = -1; /* unseen label: all zeros */
            }
            ix->label_col[v] = c;
            ix->degree[v] = node_degree(ds, gi, j);
        }
    return 0;
}

void node_features_rows(float *out, const node_features *fs, const node_features_index *ix,
                        const gp_graph_dataset *ds, const int64_t *nodes, int64_t count)
{
    memset(out, 0, (size_t)(count * fs->dim) * sizeof(float));
    for (int64_t i = 0; i < count; i++) {
        int64_t v = nodes[i], d = ix->degree[v];
        float *row = out + i * fs->dim;
        if (fs->parts & NF_LABELS) {
            if (ix->label_col[v] >= 0) row[ix->label_col[v]] = 1.0f;
            row += fs->num_label_values;
        }
        if (fs->parts & NF_ATTR) {
            for (int64_t a = 0; a < fs->num_attr; a++)
                row[a] = (float)((ds->node_attr[v * fs->num_attr + a] - fs->attr_mean[a]) / fs->attr_std[a]);
            row += fs->num_attr;
        }
        if (fs->parts & NF_DEGREE) {
            row[d < fs->max_degree ? d : fs->max_degree] = 1.0f;
            row += fs->max_degree + 1;
        }
        if (fs->parts & NF_DEGREE_NORM) *row++ = (float)(((double)d - fs->deg_mean) / fs->deg_std);
        if (fs->parts & NF_ONES) *row = 1.0f;
    }
}

void node_features_index_free(node_features_index *ix)
{
    free(ix->label_col);
    free(ix->degree);
    ix->label_col = ix->degree = NULL;
}

void node_features_free(node_features *fs)
{
    free(fs->label_values);
    free(fs->attr_mean);
    free(fs->attr_std);
    fs->label_values = NULL;
    fs->attr_mean = fs->attr_std = NULL;
}
