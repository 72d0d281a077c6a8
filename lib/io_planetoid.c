/*
 * Node-classification layout of planetoid/<name>/ (Yang et al. 2016 public split, as built by
 * Kipf's GCN loader) and hetero/<name>/ (Geom-GCN, Pei et al. 2020):
 *   meta            "key value" lines (num_nodes, num_features, num_classes, counts)
 *   labels          line i = class of node i, -1 = unlabelled
 *   edges           "u v" undirected, 0-based; edges_directed_raw (hetero) as given
 *   features        "node feature value" triplets (absent for PubMed)
 *   train_idx, val_idx, test_idx  or  split<k>_{train,val,test}_idx, k = 0, 1, ...
 * Every count meta states is checked against the files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_text.h"
#include <graphpool/io.h>

typedef struct meta {
    int64_t num_nodes, num_features, num_classes, num_undirected_edges, num_directed_raw_edges,
        num_feature_nonzeros, num_train, num_val, num_test;
} meta;

/* Unknown / absent values are -1 ("unavailable" in PubMed's meta is such a value). */
static gp_status read_meta(meta *m, const char *path)
{
    *m = (meta){-1, -1, -1, -1, -1, -1, -1, -1, -1};
    static const char *const keys[] = {"num_nodes", "num_features", "num_classes",
                                       "num_undirected_edges", "num_directed_raw_edges",
                                       "num_feature_nonzeros", "num_train", "num_val", "num_test"};
    int64_t *slot[] = {&m->num_nodes, &m->num_features, &m->num_classes, &m->num_undirected_edges,
                       &m->num_directed_raw_edges, &m->num_feature_nonzeros, &m->num_train,
                       &m->num_val, &m->num_test};
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        gp_i_cursor c = {l, false};
        const char *k = gp_i_field(&c), *v = gp_i_field(&c);
        if (!v || !*v) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "missing value (expected 'key value')");
            goto fail;
        }
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            if (strcmp(k, keys[i]) != 0) continue;
            int64_t x;
            if (gp_i_parse_int(v, &x)) {
                if (x < 0) {
                    st = GP_TEXT_FAIL(t, GP_E_RANGE, "negative %s", k);
                    goto fail;
                }
                *slot[i] = x;
            } else if (strcmp(v, "unavailable") != 0) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' for %s", gp_i_quote(v), k);
                goto fail;
            }
        }
    }
fail:
    gp_i_text_close(&t);
    return st;
}

/* A meta count that disagrees with a file. */
static gp_status check_count(const char *dir, const char *what, int64_t want, int64_t got)
{
    if (want < 0 || want == got) return GP_OK;
    return GP_ERR(GP_E_PARSE, "%s: %s: %lld in the files, but meta says %lld", dir, what, (long long)got,
                  (long long)want);
}

static gp_status read_labels(gp_i_vec *v, const char *path, int64_t num_nodes)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        int64_t x;
        if (!gp_i_lone_int(l, &x)) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad label '%s' (one integer per line is expected)", gp_i_quote(l));
            goto fail;
        }
        if (x < -1) {
            st = GP_TEXT_FAIL(t, GP_E_RANGE, "label %lld (classes are >= 0, -1 = unlabelled)", (long long)x);
            goto fail;
        }
        if (num_nodes >= 0 && v->n == num_nodes) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "more labels than the %lld nodes of meta", (long long)num_nodes);
            goto fail;
        }
        GP_TRY(gp_i_vec_push(v, x));
    }
    if (v->n == 0) st = GP_ERR(GP_E_PARSE, "%s: empty file", path);
    else if (num_nodes >= 0 && v->n != num_nodes)
        st = GP_ERR(GP_E_PARSE, "%s: %lld labels, but meta says %lld nodes", path, (long long)v->n,
                    (long long)num_nodes);
fail:
    gp_i_text_close(&t);
    return st;
}

/* "node feature value" triplets into a CSR (val dropped when all ones). */
static gp_status read_features(gp_csr **out, int64_t *num_features, const char *path, int64_t n)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_i_vec row = {0}, col = {0};
    float *val = NULL;
    int64_t cap = 0, max_f = -1;
    bool ones = true;
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        gp_i_cursor c = {l, false};
        int64_t id[2];
        float x;
        for (int j = 0; j < 2; j++) {
            GP_TRY(GP_TEXT_INT_COLUMN(&id[j], t, &c, j + 1, "node feature value"));
            if (id[j] < 0 || (j == 0 && id[j] >= n) || (j == 1 && *num_features >= 0 && id[j] >= *num_features)) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "%s %lld is out of range (%lld %s)", j ? "feature" : "node",
                                  (long long)id[j], (long long)(j ? *num_features : n), j ? "features" : "nodes");
                goto fail;
            }
        }
        GP_TRY(GP_TEXT_FLOAT_COLUMN(&x, t, &c, 3, "node feature value"));
        const char *extra = gp_i_field(&c);
        if (extra) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column 4 ('%s')", gp_i_quote(extra));
            goto fail;
        }
        GP_TRY(gp_i_vec_push(&row, id[0]));
        GP_TRY(gp_i_vec_push(&col, id[1]));
        if (row.n > cap) {
            cap = row.cap;
            float *nv = gp_i_realloc(val, (size_t)cap * sizeof(float));
            if (!nv) {
                st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
                goto fail;
            }
            val = nv;
        }
        val[row.n - 1] = x;
        ones = ones && x == 1.0f;
        if (id[1] > max_f) max_f = id[1];
    }
    if (*num_features < 0) *num_features = max_f + 1;
    GP_TRY(gp_i_csr_build(out, n, *num_features, row.n, row.v, col.v, val, false));
    if (ones && (*out)->nnz == row.n) { /* binary features, no repeats: store no values */
        gp_i_free((*out)->val);
        (*out)->val = NULL;
    }
fail:
    gp_i_text_close(&t);
    gp_i_vec_free(&row);
    gp_i_vec_free(&col);
    gp_i_free(val);
    return st;
}

void gp_node_dataset_free(gp_node_dataset **ds)
{
    if (!ds || !*ds) return;
    gp_node_dataset *d = *ds;
    gp_graph_free(&d->graph);
    gp_csr_free(&d->features);
    gp_i_free(d->labels);
    if (d->splits)
        for (int64_t s = 0; s < d->num_splits; s++)
            for (int p = 0; p < GP_NODES_PARTS; p++) gp_i_free(d->splits[s].idx[p]);
    gp_i_free(d->splits);
    gp_i_free(d);
    *ds = NULL;
}

/* dir/name (caller frees); NULL on out of memory (status set). */
static char *join(const char *dir, const char *name)
{
    char *p = gp_i_path_join(dir, name);
    if (!p) GP_ERR(GP_E_NOMEM, "node dataset reader: out of memory");
    return p;
}

/* Read the split files: "train_idx" ... or "split<k>_train_idx" ... */
static gp_status read_splits(gp_node_dataset *d, const char *dir, const meta *m)
{
    static const char *const part[GP_NODES_PARTS] = {"train_idx", "val_idx", "test_idx"};
    gp_status st = GP_OK;
    char name[64], *path = NULL;
    int64_t k_max = 0;
    bool single = false;
    path = join(dir, "train_idx");
    if (!path) return GP_E_NOMEM;
    single = gp_i_file_exists(path);
    gp_i_free(path);
    path = NULL;
    if (single) {
        k_max = 1;
    } else {
        for (;; k_max++) {
            snprintf(name, sizeof name, "split%lld_train_idx", (long long)k_max);
            path = join(dir, name);
            if (!path) return GP_E_NOMEM;
            bool there = gp_i_file_exists(path);
            gp_i_free(path);
            path = NULL;
            if (!there) break;
        }
    }
    if (k_max == 0) return GP_OK;
    d->splits = gp_i_calloc((size_t)k_max, sizeof(gp_node_split));
    if (!d->splits) return GP_ERR(GP_E_NOMEM, "node dataset reader: out of memory");
    d->num_splits = k_max;
    for (int64_t k = 0; k < k_max; k++)
        for (int p = 0; p < GP_NODES_PARTS; p++) {
            if (single) snprintf(name, sizeof name, "%s", part[p]);
            else snprintf(name, sizeof name, "split%lld_%s", (long long)k, part[p]);
            path = join(dir, name);
            if (!path) return GP_E_NOMEM;
            GP_TRY(gp_index_read(&d->splits[k].idx[p], &d->splits[k].count[p], path, d->num_nodes));
            for (int64_t r = 0; r < d->splits[k].count[p]; r++) /* a class is needed to train or score */
                if (d->labels[d->splits[k].idx[p][r]] < 0) {
                    st = GP_ERR(GP_E_PARSE, "%s: entry %lld: node %lld has no label (-1 in labels)", path,
                                (long long)r + 1, (long long)d->splits[k].idx[p][r]);
                    goto fail;
                }
            gp_i_free(path);
            path = NULL;
        }
    if (single) {
        GP_TRY(check_count(dir, "train_idx entries", m->num_train, d->splits[0].count[0]));
        GP_TRY(check_count(dir, "val_idx entries", m->num_val, d->splits[0].count[1]));
        GP_TRY(check_count(dir, "test_idx entries", m->num_test, d->splits[0].count[2]));
    }
fail:
    gp_i_free(path);
    return st;
}

gp_status gp_node_dataset_read(gp_node_dataset **out, const char *dir, unsigned flags)
{
    if (!out || !dir) return GP_ERR(GP_E_INVALID, "gp_node_dataset_read: NULL argument");
    *out = NULL;
    gp_status st = GP_OK;
    gp_node_dataset *d = gp_i_calloc(1, sizeof *d);
    gp_edgelist *e = NULL;
    gp_i_vec lab = {0};
    char *path = NULL;
    meta m;
    if (!d) return GP_ERR(GP_E_NOMEM, "node dataset reader: out of memory");
    if (!(path = join(dir, "meta"))) goto nomem;
    if (gp_i_file_exists(path)) GP_TRY(read_meta(&m, path));
    else m = (meta){-1, -1, -1, -1, -1, -1, -1, -1, -1};
    gp_i_free(path);
    path = NULL;

    if (!(path = join(dir, "labels"))) goto nomem;
    GP_TRY(read_labels(&lab, path, m.num_nodes));
    d->num_nodes = lab.n;
    int64_t max_label = -1;
    for (int64_t i = 0; i < lab.n; i++)
        if (lab.v[i] > max_label) max_label = lab.v[i];
    if (m.num_classes >= 0 && max_label >= m.num_classes) {
        st = GP_ERR(GP_E_RANGE, "%s: label %lld, but meta says %lld classes", path, (long long)max_label,
                    (long long)m.num_classes);
        goto fail;
    }
    d->num_classes = m.num_classes >= 0 ? m.num_classes : max_label + 1;
    GP_TRY(gp_i_vec_take(&d->labels, &lab));
    gp_i_free(path);
    path = NULL;

    bool raw = flags & GP_NODES_RAW_DIRECTED;
    if (!(path = join(dir, raw ? "edges_directed_raw" : "edges"))) goto nomem;
    gp_edgelist_options eo = {raw ? GP_READ_DIRECTED : 0, raw ? GP_DUP_KEEP : GP_DUP_DROP, GP_LOOP_KEEP,
                              d->num_nodes};
    GP_TRY(gp_edgelist_read(&e, path, &eo));
    if (raw) {
        GP_TRY(check_count(dir, "directed raw edges", m.num_directed_raw_edges, e->count));
    } else {
        if (e->duplicates || e->self_loops) {
            st = GP_ERR(GP_E_PARSE, "%s: %lld repeated edges and %lld self-loops (the layout has none; "
                        "first at line %lld)", path, (long long)e->duplicates, (long long)e->self_loops,
                        (long long)(e->first_duplicate_line ? e->first_duplicate_line : e->first_self_loop_line));
            goto fail;
        }
        GP_TRY(check_count(dir, "undirected edges", m.num_undirected_edges, e->count));
    }
    GP_TRY(gp_graph_from_edges(&d->graph, d->num_nodes, e->count, e->src, e->dst, NULL,
                               raw ? 0 : GP_EDGES_SYMMETRISE));
    gp_edgelist_free(&e);
    gp_i_free(path);
    path = NULL;

    if (!(path = join(dir, "features"))) goto nomem;
    d->num_features = m.num_features;
    if (gp_i_file_exists(path)) {
        GP_TRY(read_features(&d->features, &d->num_features, path, d->num_nodes));
        GP_TRY(check_count(dir, "feature nonzeros", m.num_feature_nonzeros, d->features->nnz));
    }
    if (d->num_features < 0) d->num_features = 0;
    gp_i_free(path);
    path = NULL;

    GP_TRY(read_splits(d, dir, &m));
    *out = d;
    return GP_OK;
nomem:
    st = GP_E_NOMEM;
fail:
    gp_i_free(path);
    path = NULL;
    gp_i_vec_free(&lab);
    gp_edgelist_free(&e);
    gp_node_dataset_free(&d);
    return st;
}
