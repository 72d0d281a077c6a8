/*
 * TU Dortmund graph-classification format (Morris et al. 2020, "TUDataset"):
 *   NAME_graph_indicator.txt  line i = graph id (1-based) of node i; nodes of a graph contiguous
 *   NAME_graph_labels.txt     line g = class value of graph g
 *   NAME_A.txt[.gz]           "row, col" per line (1-based global node ids), edge row -> col
 *   NAME_node_labels.txt, NAME_node_attributes.txt, NAME_edge_labels.txt (optional)
 * or, instead of NAME_A, the DGCNN adjacency-list file NAME_dgcnn.txt[.gz] (Zhang et al. 2018):
 *   first line G; per graph "n label", then n lines "tag m nb_1 .. nb_m" with 0-based
 *   neighbours inside the graph (global id = nodes of earlier graphs + j). DGCNN labels are TU
 *   labels minus a constant (dortmund2txt.m subtracts the minimum), which is checked.
 *
 * Each graph's adjacency is built from its lines (row = col of the line, i.e. in-neighbours),
 * repeats dropped and counted, then symmetrised if the lines were not already symmetric.
 * Label values are remapped to 0..C-1 by rank. Edge lines are held as two int32 arrays
 * (8 bytes per line; COLLAB has 24.6 M lines) and processed in place when, as in every TU
 * file, the lines come grouped by graph; otherwise they are bucketed by graph first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_text.h"
#include <graphpool/io.h>

typedef struct ivec32 {
    int32_t *v;
    int64_t n, cap;
} ivec32;

static gp_status ivec32_reserve(ivec32 *a, int64_t cap)
{
    if (cap <= a->cap) return GP_OK;
    int32_t *nv = gp_i_realloc(a->v, gp_i_mul_size((size_t)cap, sizeof(int32_t)));
    if (!nv) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory for %lld edge lines", (long long)cap);
    a->v = nv;
    a->cap = cap;
    gp_i_advise_huge(nv, (size_t)cap * sizeof(int32_t));
    return GP_OK;
}

/* Once, after the first 64 Ki entries: reserve for the whole file (estimated from its size). */
static gp_status reserve_edges(ivec32 *r, ivec32 *c, const gp_i_text *t)
{
    if (r->n != 65536) return GP_OK;
    int64_t hint = gp_i_text_scale_hint(t, r->n);
    gp_status st = ivec32_reserve(r, hint);
    return st == GP_OK ? ivec32_reserve(c, hint) : st;
}

static gp_status ivec32_push(ivec32 *a, int32_t x)
{
    if (a->n == a->cap) {
        int64_t ncap = a->cap ? 2 * a->cap : 4096;
        int32_t *nv = gp_i_realloc(a->v, gp_i_mul_size((size_t)ncap, sizeof(int32_t)));
        if (!nv) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory for %lld edge lines", (long long)ncap);
        a->v = nv;
        a->cap = ncap;
        gp_i_advise_huge(nv, (size_t)ncap * sizeof(int32_t));
    }
    a->v[a->n++] = x;
    return GP_OK;
}

void gp_graph_dataset_free(gp_graph_dataset **ds)
{
    if (!ds || !*ds) return;
    gp_graph_dataset *d = *ds;
    if (d->graphs)
        for (int64_t g = 0; g < d->num_graphs; g++) gp_graph_free(&d->graphs[g]);
    gp_i_free(d->graphs);
    gp_i_free(d->labels);
    gp_i_free(d->class_values);
    gp_i_free(d->node_ptr);
    gp_i_free(d->node_labels);
    gp_i_free(d->node_label_values);
    gp_i_free(d->node_attr);
    gp_i_free(d->edge_ptr);
    gp_i_free(d->edge_labels);
    gp_i_free(d->edge_label_values);
    gp_i_free(d);
    *ds = NULL;
}

/* dir/NAME_suffix, or with ".gz" appended; *path NULL if neither exists. */
static gp_status find_file(char **path, const char *dir, const char *name, const char *suffix)
{
    *path = NULL;
    size_t n = strlen(name) + strlen(suffix) + 5;
    char *base = gp_i_malloc(n);
    if (!base) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
    snprintf(base, n, "%s_%s", name, suffix);
    char *p = gp_i_path_join(dir, base);
    gp_i_free(base);
    if (!p) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
    if (gp_i_file_exists(p)) {
        *path = p;
        return GP_OK;
    }
    size_t pl = strlen(p);
    char *gz = gp_i_realloc(p, pl + 4);
    if (!gz) {
        gp_i_free(p);
        return GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
    }
    memcpy(gz + pl, ".gz", 4);
    if (gp_i_file_exists(gz)) {
        *path = gz;
        return GP_OK;
    }
    gp_i_free(gz);
    return GP_OK;
}

/*
 * One integer per line. expected >= 0: the file must have exactly that many data lines
 * (what names where the number comes from, for the message).
 */
static gp_status read_ints(gp_i_vec *v, const char *path, int64_t expected, const char *what)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    GP_TRY(gp_i_text_open(&t, path));
    if (expected >= 0) GP_TRY(gp_i_vec_reserve(v, expected > 0 ? expected : 1));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        int64_t x;
        GP_TRY(GP_TEXT_LINE_INT(&x, t, l));
        if (expected >= 0 && v->n == expected) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "more lines than the %lld %s", (long long)expected, what);
            goto fail;
        }
        GP_TRY(gp_i_vec_push(v, x));
    }
    if (v->n == 0) {
        st = GP_ERR(GP_E_PARSE, "%s: empty file", path);
        goto fail;
    }
    if (expected >= 0 && v->n != expected) {
        st = GP_ERR(GP_E_PARSE, "%s: %lld lines, but there are %lld %s", path, (long long)v->n,
                    (long long)expected, what);
        goto fail;
    }
fail:
    gp_i_text_close(&t);
    return st;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Replace values by their rank among the distinct values; *values gets those (ascending). */
static gp_status remap(int64_t *vals, int64_t n, int64_t *num, int64_t **values)
{
    int64_t *u = gp_i_malloc(gp_i_mul_size((size_t)n + 1, sizeof(int64_t)));
    if (!u) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory for %lld labels", (long long)n);
    memcpy(u, vals, (size_t)n * sizeof(int64_t));
    qsort(u, (size_t)n, sizeof(int64_t), cmp_i64);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (k == 0 || u[k - 1] != u[i]) u[k++] = u[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = k - 1;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (u[mid] < vals[i]) lo = mid + 1;
            else hi = mid;
        }
        vals[i] = lo;
    }
    *num = k;
    *values = u;
    return GP_OK;
}

/* Node attributes: rows of comma-separated floats, all of the same width, exactly n rows. */
static gp_status read_attributes(float **out, int64_t *width, const char *path, int64_t n)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    float *a = NULL, *row = NULL;
    int64_t w = 0, rows = 0, first_line = 0, row_cap = 0;
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        if (rows == n) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "more lines than the %lld nodes of graph_indicator", (long long)n);
            goto fail;
        }
        gp_i_cursor c = {l, false};
        int64_t col = 0;
        for (const char *f; (f = gp_i_field(&c));) {
            if (a && col == w) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "more than %lld columns (line %lld has %lld)",
                                  (long long)w, (long long)first_line, (long long)w);
                goto fail;
            }
            float x;
            if (!*f || !gp_i_parse_float(f, &x)) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %lld", gp_i_quote(f), (long long)col + 1);
                goto fail;
            }
            if (col == row_cap) {
                row_cap = row_cap ? 2 * row_cap : 64;
                float *nr = gp_i_realloc(row, (size_t)row_cap * sizeof(float));
                if (!nr) {
                    st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
                    goto fail;
                }
                row = nr;
            }
            row[col++] = x;
        }
        if (!a) { /* the first row sets the width */
            w = col;
            first_line = t->line;
            a = gp_i_malloc(gp_i_mul_size(gp_i_mul_size((size_t)n, (size_t)w), sizeof(float)));
            if (!a) {
                st = GP_ERR(GP_E_NOMEM, "%s: out of memory for %lld x %lld attributes", path, (long long)n, (long long)w);
                goto fail;
            }
        } else if (col != w) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "%lld columns, but line %lld has %lld", (long long)col,
                              (long long)first_line, (long long)w);
            goto fail;
        }
        memcpy(a + rows * w, row, (size_t)w * sizeof(float));
        rows++;
    }
    if (rows != n) {
        st = rows == 0 ? GP_ERR(GP_E_PARSE, "%s: empty file", path)
                       : GP_ERR(GP_E_PARSE, "%s: %lld lines, but there are %lld nodes in graph_indicator",
                                path, (long long)rows, (long long)n);
        goto fail;
    }
    *out = a;
    *width = w;
    a = NULL;
fail:
    gp_i_text_close(&t);
    gp_i_free(a);
    gp_i_free(row);
    return st;
}

typedef struct tu_edges {
    ivec32 r, c;     /* 0-based global endpoints of each line, edge r -> c */
} tu_edges;

/* NAME_A.txt: "row, col" lines. */
static gp_status read_a(tu_edges *e, const char *path, const int64_t *graph_of, int64_t n)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        gp_i_cursor c = {l, false};
        int64_t id[2];
        for (int j = 0; j < 2; j++) {
            GP_TRY(GP_TEXT_INT_COLUMN(&id[j], t, &c, j + 1, "row, col"));
            if (id[j] < 1 || id[j] > n) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "node id %lld in column %d is outside 1..%lld "
                                  "(the nodes of graph_indicator)", (long long)id[j], j + 1, (long long)n);
                goto fail;
            }
        }
        const char *extra = gp_i_field(&c);
        if (extra) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column 3 ('%s'): expected 'row, col'", gp_i_quote(extra));
            goto fail;
        }
        if (graph_of[id[0] - 1] != graph_of[id[1] - 1]) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "edge %lld, %lld joins graph %lld and graph %lld",
                              (long long)id[0], (long long)id[1], (long long)graph_of[id[0] - 1] + 1,
                              (long long)graph_of[id[1] - 1] + 1);
            goto fail;
        }
        GP_TRY(reserve_edges(&e->r, &e->c, t));
        GP_TRY(ivec32_push(&e->r, (int32_t)(id[0] - 1)));
        GP_TRY(ivec32_push(&e->c, (int32_t)(id[1] - 1)));
    }
    if (e->r.n == 0) st = GP_ERR(GP_E_PARSE, "%s: empty file (no edges)", path);
fail:
    gp_i_text_close(&t);
    return st;
}

/* Read one integer field of a DGCNN line. */
static gp_status dgcnn_int(int64_t *x, gp_i_text *t, gp_i_cursor *c, const char *what)
{
    const char *f = gp_i_field(c);
    if (!f || !*f) return GP_TEXT_FAIL(t, GP_E_PARSE, "missing %s", what);
    if (!gp_i_parse_int(f, x)) return GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' (%s)", gp_i_quote(f), what);
    return GP_OK;
}

/* NAME_dgcnn.txt[.gz]: checked against graph_indicator (sizes) and graph_labels (labels). */
static gp_status read_dgcnn(tu_edges *e, const char *path, int64_t num_graphs, const int64_t *node_ptr,
                            const int64_t *label_values)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    char *l;
    int64_t x, shift = 0;
    GP_TRY(gp_i_text_open(&t, path));
    GP_TRY(gp_i_text_data(t, &l));
    if (!l) {
        st = GP_ERR(GP_E_PARSE, "%s: empty file", path);
        goto fail;
    }
    gp_i_cursor c = {l, false};
    GP_TRY(dgcnn_int(&x, t, &c, "number of graphs"));
    if (x != num_graphs) {
        st = GP_TEXT_FAIL(t, GP_E_PARSE, "%lld graphs, but graph_indicator has %lld", (long long)x, (long long)num_graphs);
        goto fail;
    }
    for (int64_t g = 0; g < num_graphs; g++) {
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) {
            st = GP_ERR(GP_E_PARSE, "%s: file ends before graph %lld of %lld", path, (long long)g + 1, (long long)num_graphs);
            goto fail;
        }
        c = (gp_i_cursor){l, false};
        int64_t n, label, off = node_ptr[g], want = node_ptr[g + 1] - node_ptr[g];
        GP_TRY(dgcnn_int(&n, t, &c, "node count"));
        GP_TRY(dgcnn_int(&label, t, &c, "graph label"));
        if (n != want) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "graph %lld has %lld nodes here, but %lld in graph_indicator",
                              (long long)g + 1, (long long)n, (long long)want);
            goto fail;
        }
        if (g == 0) shift = label_values[0] - label;
        if (label + shift != label_values[g]) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "graph %lld has label %lld here, but %lld in graph_labels "
                              "(graph 1 differs by %lld)", (long long)g + 1, (long long)label,
                              (long long)label_values[g], (long long)shift);
            goto fail;
        }
        for (int64_t j = 0; j < n; j++) {
            GP_TRY(gp_i_text_data(t, &l));
            if (!l) {
                st = GP_ERR(GP_E_PARSE, "%s: file ends inside graph %lld", path, (long long)g + 1);
                goto fail;
            }
            c = (gp_i_cursor){l, false};
            int64_t tag, m;
            GP_TRY(dgcnn_int(&tag, t, &c, "node tag"));
            GP_TRY(dgcnn_int(&m, t, &c, "neighbour count"));
            int64_t got = 0;
            for (const char *f; (f = gp_i_field(&c));) {
                int64_t k;
                if (!*f || !gp_i_parse_int(f, &k)) {
                    st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %lld", gp_i_quote(f), (long long)got + 3);
                    goto fail;
                }
                if (k < 0 || k >= n) {
                    st = GP_TEXT_FAIL(t, GP_E_RANGE, "neighbour %lld is outside 0..%lld (graph %lld has %lld nodes)",
                                      (long long)k, (long long)n - 1, (long long)g + 1, (long long)n);
                    goto fail;
                }
                GP_TRY(reserve_edges(&e->r, &e->c, t));
                GP_TRY(ivec32_push(&e->r, (int32_t)(off + j)));
                GP_TRY(ivec32_push(&e->c, (int32_t)(off + k)));
                got++;
            }
            if (got != m) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "%lld neighbours listed, but the line announces %lld",
                                  (long long)got, (long long)m);
                goto fail;
            }
        }
    }
    GP_TRY(gp_i_text_data(t, &l));
    if (l) {
        st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected data after the last of %lld graphs", (long long)num_graphs);
        goto fail;
    }
fail:
    gp_i_text_close(&t);
    return st;
}

/* Position of column j in row i of m, or -1. */
static int64_t find_entry(const gp_csr *m, int64_t i, int64_t j)
{
    int64_t lo = m->ptr[i], hi = m->ptr[i + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (m->idx[mid] < j) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->ptr[i + 1] && m->idx[lo] == j ? lo : -1;
}

/*
 * Is the structure of m (square, rows sorted) symmetric? One pass in row order: cur[j] is the
 * next entry of row j above the diagonal still waiting for its mirror. Row i's entries (i, j)
 * with j < i must meet those waiting entries in order (their columns increase with i), and
 * at the end none may be left waiting. O(n + nnz) with n cursors of scratch.
 */
static bool csr_symmetric(const gp_csr *m, int64_t *cur)
{
    for (int64_t j = 0; j < m->rows; j++) { /* first entry of row j above the diagonal */
        int64_t k = m->ptr[j];
        while (k < m->ptr[j + 1] && m->idx[k] <= j) k++;
        cur[j] = k;
    }
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1] && m->idx[k] < i; k++) {
            int64_t j = m->idx[k];
            if (cur[j] == m->ptr[j + 1] || m->idx[cur[j]] != i) return false;
            cur[j]++;
        }
    for (int64_t j = 0; j < m->rows; j++)
        if (cur[j] != m->ptr[j + 1]) return false;
    return true;
}

/* Build every graph from the edge lines; fills graphs, edge_ptr and the edge counts. */
static gp_status build_graphs(gp_graph_dataset *d, const tu_edges *e, const int64_t *graph_of)
{
    gp_status st = GP_OK;
    int64_t G = d->num_graphs, L = e->r.n;
    int64_t *line_ptr = gp_i_calloc((size_t)G + 2, sizeof(int64_t));
    int64_t *order = NULL, *row = NULL, *col = NULL, *cur = NULL;
    gp_csr *m = NULL;
    if (!line_ptr) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
    bool grouped = true;
    for (int64_t k = 0, prev = 0; k < L; k++) {
        int64_t g = graph_of[e->r.v[k]];
        grouped = grouped && g >= prev;
        prev = g;
        line_ptr[g + 2]++;
    }
    int64_t max_lines = 0;
    for (int64_t g = 0; g < G; g++) {
        if (line_ptr[g + 2] > max_lines) max_lines = line_ptr[g + 2];
        line_ptr[g + 2] += line_ptr[g + 1];
    }
    if (!grouped) { /* bucket the lines by graph (stable) */
        order = gp_i_malloc(gp_i_mul_size((size_t)L + 1, sizeof(int64_t)));
        if (!order) {
            st = GP_ERR(GP_E_NOMEM, "TU reader: out of memory for %lld edge lines", (long long)L);
            goto fail;
        }
        for (int64_t k = 0; k < L; k++) order[line_ptr[graph_of[e->r.v[k]] + 1]++] = k;
    } else {
        for (int64_t g = 0; g < G; g++) line_ptr[g + 1] = line_ptr[g + 2];
    }
    /* now line_ptr[g] .. line_ptr[g + 1] are graph g's lines (in order, or via order[]) */
    int64_t max_nodes = 0;
    for (int64_t g = 0; g < G; g++)
        if (d->node_ptr[g + 1] - d->node_ptr[g] > max_nodes) max_nodes = d->node_ptr[g + 1] - d->node_ptr[g];
    cur = gp_i_malloc(gp_i_mul_size((size_t)max_nodes + 1, sizeof(int64_t)));
    row = gp_i_malloc(gp_i_mul_size(2 * (size_t)max_lines + 1, sizeof(int64_t)));
    col = gp_i_malloc(gp_i_mul_size(2 * (size_t)max_lines + 1, sizeof(int64_t)));
    d->graphs = gp_i_calloc((size_t)G, sizeof(gp_graph *));
    d->edge_ptr = gp_i_calloc((size_t)G + 1, sizeof(int64_t));
    if (!cur || !row || !col || !d->graphs || !d->edge_ptr) {
        st = GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
        goto fail;
    }
    for (int64_t g = 0; g < G; g++) {
        int64_t off = d->node_ptr[g], n = d->node_ptr[g + 1] - off, cnt = line_ptr[g + 1] - line_ptr[g];
        for (int64_t i = 0; i < cnt; i++) {
            int64_t k = order ? order[line_ptr[g] + i] : line_ptr[g] + i;
            row[i] = e->c.v[k] - off; /* edge r -> c: row c lists its in-neighbour r */
            col[i] = e->r.v[k] - off;
        }
        GP_TRY(gp_i_csr_build(&m, n, n, cnt, row, col, NULL, true));
        d->duplicate_lines += cnt - m->nnz;
        if (!csr_symmetric(m, cur)) { /* add the reverse of every line */
            gp_csr_free(&m);
            for (int64_t i = 0; i < cnt; i++) row[cnt + i] = col[i], col[cnt + i] = row[i];
            GP_TRY(gp_i_csr_build(&m, n, n, 2 * cnt, row, col, NULL, true));
        }
        gp_i_free(m->val);
        m->val = NULL;
        int64_t loops = 0;
        for (int64_t i = 0; i < n; i++) loops += find_entry(m, i, i) >= 0;
        d->num_self_loops += loops;
        d->num_edges += (m->nnz - loops) / 2;
        d->edge_ptr[g + 1] = d->edge_ptr[g] + m->nnz;
        GP_TRY(gp_i_graph_wrap(&d->graphs[g], &m, true));
    }
fail:
    gp_csr_free(&m);
    gp_i_free(line_ptr);
    gp_i_free(order);
    gp_i_free(row);
    gp_i_free(col);
    gp_i_free(cur);
    return st;
}

/* Edge labels (one per A line) onto the adjacency entries; symmetrised entries take the label
 * of their reverse line. */
static gp_status place_edge_labels(gp_graph_dataset *d, const tu_edges *e, const int64_t *lab,
                                   const int64_t *graph_of)
{
    int64_t total = d->edge_ptr[d->num_graphs];
    d->edge_labels = gp_i_malloc(gp_i_mul_size((size_t)total + 1, sizeof(int64_t)));
    if (!d->edge_labels) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory for %lld edge labels", (long long)total);
    for (int64_t k = 0; k < total; k++) d->edge_labels[k] = -1;
    for (int64_t k = 0; k < e->r.n; k++) {
        int64_t g = graph_of[e->r.v[k]], off = d->node_ptr[g];
        const gp_csr *m = &d->graphs[g]->adj;
        int64_t p = find_entry(m, e->c.v[k] - off, e->r.v[k] - off);
        if (p >= 0 && d->edge_labels[d->edge_ptr[g] + p] < 0) d->edge_labels[d->edge_ptr[g] + p] = lab[k];
    }
    for (int64_t g = 0; g < d->num_graphs; g++) {
        const gp_csr *m = &d->graphs[g]->adj;
        int64_t *el = d->edge_labels + d->edge_ptr[g];
        for (int64_t i = 0; i < m->rows; i++)
            for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++)
                if (el[k] < 0) {
                    int64_t p = find_entry(m, m->idx[k], i);
                    if (p >= 0) el[k] = el[p];
                }
    }
    return GP_OK;
}

gp_status gp_graph_dataset_read_tu(gp_graph_dataset **out, const char *dir, const char *name)
{
    if (!out || !dir || !name) return GP_ERR(GP_E_INVALID, "gp_graph_dataset_read_tu: NULL argument");
    *out = NULL;
    gp_status st = GP_OK;
    gp_graph_dataset *d = gp_i_calloc(1, sizeof *d);
    char *path = NULL;
    gp_i_vec ind = {0}, glab = {0}, nlab = {0}, elab = {0};
    tu_edges e = {{0}, {0}};
    int64_t *raw_labels = NULL;
    if (!d) return GP_ERR(GP_E_NOMEM, "TU reader: out of memory");

    /* graph_indicator: graph of every node; contiguous, starting at 1, no empty graph */
    GP_TRY(find_file(&path, dir, name, "graph_indicator.txt"));
    if (!path) {
        st = GP_ERR(GP_E_IO, "%s/%s_graph_indicator.txt: no such file (not a TU dataset directory?)", dir, name);
        goto fail;
    }
    {
        gp_i_text *t = NULL;
        GP_TRY(gp_i_text_open(&t, path));
        int64_t prev = 0;
        for (;;) {
            char *l;
            st = gp_i_text_data(t, &l);
            if (st != GP_OK || !l) break;
            int64_t x;
            if (!gp_i_lone_int(l, &x)) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad line '%s' (one graph id per line is expected)", gp_i_quote(l));
                break;
            }
            if (x < 1) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "graph id %lld: ids start at 1", (long long)x);
                break;
            }
            if (x < prev) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "graph id %lld after %lld: ids must not decrease (the "
                                  "nodes of a graph must be contiguous)", (long long)x, (long long)prev);
                break;
            }
            if (x > prev + 1) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "graph id %lld after %lld: graph %lld has no nodes",
                                  (long long)x, (long long)prev, (long long)prev + 1);
                break;
            }
            if (ind.n >= INT32_MAX) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "more than 2^31 - 1 nodes");
                break;
            }
            prev = x;
            st = gp_i_vec_push(&ind, x - 1);
            if (st != GP_OK) break;
        }
        if (st == GP_OK && ind.n == 0) st = GP_ERR(GP_E_PARSE, "%s: empty file", path);
        gp_i_text_close(&t);
        if (st != GP_OK) goto fail;
    }
    int64_t N = ind.n, G = ind.v[N - 1] + 1;
    d->num_nodes = N;
    d->num_graphs = G;
    d->node_ptr = gp_i_calloc((size_t)G + 1, sizeof(int64_t));
    if (!d->node_ptr) {
        st = GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < N; i++) d->node_ptr[ind.v[i] + 1]++;
    for (int64_t g = 0; g < G; g++) d->node_ptr[g + 1] += d->node_ptr[g];
    gp_i_free(path);
    path = NULL;

    /* graph labels */
    GP_TRY(find_file(&path, dir, name, "graph_labels.txt"));
    if (!path) {
        st = GP_ERR(GP_E_IO, "%s/%s_graph_labels.txt: no such file", dir, name);
        goto fail;
    }
    GP_TRY(read_ints(&glab, path, G, "graphs of graph_indicator"));
    raw_labels = gp_i_malloc((size_t)G * sizeof(int64_t));
    if (!raw_labels) {
        st = GP_ERR(GP_E_NOMEM, "TU reader: out of memory");
        goto fail;
    }
    memcpy(raw_labels, glab.v, (size_t)G * sizeof(int64_t));
    GP_TRY(remap(glab.v, G, &d->num_classes, &d->class_values));
    GP_TRY(gp_i_vec_take(&d->labels, &glab));
    gp_i_free(path);
    path = NULL;

    /* optional node labels and attributes */
    GP_TRY(find_file(&path, dir, name, "node_labels.txt"));
    if (path) {
        GP_TRY(read_ints(&nlab, path, N, "nodes of graph_indicator"));
        GP_TRY(remap(nlab.v, N, &d->num_node_labels, &d->node_label_values));
        GP_TRY(gp_i_vec_take(&d->node_labels, &nlab));
        gp_i_free(path);
        path = NULL;
    }
    GP_TRY(find_file(&path, dir, name, "node_attributes.txt"));
    if (path) {
        GP_TRY(read_attributes(&d->node_attr, &d->num_node_attr, path, N));
        gp_i_free(path);
        path = NULL;
    }

    /* edges: NAME_A.txt[.gz], else the DGCNN adjacency lists */
    GP_TRY(find_file(&path, dir, name, "A.txt"));
    if (path) {
        GP_TRY(read_a(&e, path, ind.v, N));
    } else {
        GP_TRY(find_file(&path, dir, name, "dgcnn.txt"));
        if (!path) {
            st = GP_ERR(GP_E_IO, "%s: neither %s_A.txt[.gz] nor %s_dgcnn.txt[.gz] exists", dir, name, name);
            goto fail;
        }
        GP_TRY(read_dgcnn(&e, path, G, d->node_ptr, raw_labels));
    }
    gp_i_free(path);
    path = NULL;
    GP_TRY(build_graphs(d, &e, ind.v));

    GP_TRY(find_file(&path, dir, name, "edge_labels.txt"));
    if (path) {
        GP_TRY(read_ints(&elab, path, e.r.n, "lines of the edge file"));
        GP_TRY(remap(elab.v, e.r.n, &d->num_edge_labels, &d->edge_label_values));
        GP_TRY(place_edge_labels(d, &e, elab.v, ind.v));
    }
    *out = d;
    d = NULL;
fail:
    gp_graph_dataset_free(&d);
    gp_i_free(path);
    gp_i_free(raw_labels);
    gp_i_vec_free(&ind);
    gp_i_vec_free(&glab);
    gp_i_vec_free(&nlab);
    gp_i_vec_free(&elab);
    gp_i_free(e.r.v);
    gp_i_free(e.c.v);
    return st;
}

gp_status gp_graph_dataset_features(float **x, int64_t *dim, const gp_graph_dataset *ds)
{
    if (!x || !dim || !ds) return GP_ERR(GP_E_INVALID, "gp_graph_dataset_features: NULL argument");
    *x = NULL;
    *dim = 0;
    int64_t nl = ds->node_labels ? ds->num_node_labels : 0;
    int64_t na = ds->node_attr ? ds->num_node_attr : 0;
    int64_t d = nl + na > 0 ? nl + na : 1;
    float *f = gp_i_calloc(gp_i_mul_size((size_t)ds->num_nodes, (size_t)d) + 1, sizeof(float));
    if (!f) return GP_ERR(GP_E_NOMEM, "gp_graph_dataset_features: out of memory for %lld x %lld",
                          (long long)ds->num_nodes, (long long)d);
    for (int64_t i = 0; i < ds->num_nodes; i++) {
        float *r = f + i * d;
        if (nl + na == 0) r[0] = 1.0f;
        if (nl) r[ds->node_labels[i]] = 1.0f;
        if (na) memcpy(r + nl, ds->node_attr + i * na, (size_t)na * sizeof(float));
    }
    *x = f;
    *dim = d;
    return GP_OK;
}
