/*
 * Edge-list reader: "u v [w]" per line, integer ids or string labels (gp_idmap), directed or
 * undirected, repeated edges and self-loops reported and handled by policy; and the index-file
 * reader (one integer per line).
 *
 * Repeat check: edges are bucketed by their first endpoint (counting sort, stable, so file
 * order survives within a bucket; undirected edges use (min, max)), then each bucket is
 * sorted by (second endpoint, file position). Equal neighbours in a bucket are repeats, the
 * first in file order is the original. O(m + n + sum d log d).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_text.h"
#include <graphpool/io.h>

typedef struct fvec {
    float *v;
    int64_t n, cap;
} fvec;

static gp_status fvec_push(fvec *a, float x)
{
    if (a->n == a->cap) {
        int64_t ncap = a->cap ? 2 * a->cap : 1024;
        float *nv = gp_i_realloc(a->v, gp_i_mul_size((size_t)ncap, sizeof(float)));
        if (!nv) return GP_ERR(GP_E_NOMEM, "edge list: out of memory for %lld weights", (long long)ncap);
        a->v = nv;
        a->cap = ncap;
    }
    a->v[a->n++] = x;
    return GP_OK;
}

typedef struct nb_pos {
    int64_t b; /* second endpoint */
    int64_t k; /* edge position in file order */
} nb_pos;

static int cmp_nb_pos(const void *x, const void *y)
{
    const nb_pos *a = x, *b = y;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k);
}

static void sort_bucket(nb_pos *p, int64_t n)
{
    if (n > 24) {
        qsort(p, (size_t)n, sizeof *p, cmp_nb_pos);
        return;
    }
    for (int64_t i = 1; i < n; i++) { /* insertion sort: already ordered by k, stable by b */
        nb_pos x = p[i];
        int64_t j = i - 1;
        while (j >= 0 && p[j].b > x.b) {
            p[j + 1] = p[j];
            j--;
        }
        p[j + 1] = x;
    }
}

/*
 * Mark repeats: repeat[k] = 1 for every edge k that repeats an earlier one. Returns the number
 * of repeats; *first_k the position (in file order) of the earliest repeat, *orig_k the edge it
 * repeats.
 */
static gp_status find_repeats(int64_t *repeats, int64_t *first_k, int64_t *orig_k, uint8_t *repeat,
                              int64_t n, int64_t m, const int64_t *src, const int64_t *dst,
                              bool directed)
{
    *repeats = 0;
    *first_k = *orig_k = -1;
    int64_t *ptr = gp_i_calloc((size_t)n + 2, sizeof(int64_t));
    nb_pos *pos = gp_i_malloc(gp_i_mul_size((size_t)m, sizeof(nb_pos)));
    if (!ptr || !pos) {
        gp_i_free(ptr);
        gp_i_free(pos);
        return GP_ERR(GP_E_NOMEM, "edge list: out of memory for the repeat check of %lld edges", (long long)m);
    }
    for (int64_t k = 0; k < m; k++) {
        int64_t a = directed || src[k] <= dst[k] ? src[k] : dst[k];
        ptr[a + 2]++;
    }
    for (int64_t i = 0; i < n; i++) ptr[i + 2] += ptr[i + 1];
    for (int64_t k = 0; k < m; k++) { /* ptr[a + 1] is the fill position of bucket a */
        int64_t a = src[k], b = dst[k];
        if (!directed && a > b) a = dst[k], b = src[k];
        pos[ptr[a + 1]++] = (nb_pos){b, k};
    }
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = ptr[i], hi = ptr[i + 1];
        sort_bucket(pos + lo, hi - lo);
        for (int64_t p = lo + 1; p < hi; p++) {
            if (pos[p].b != pos[p - 1].b) continue;
            int64_t first = p - 1; /* the run's first element is the original (smallest k) */
            while (first > lo && pos[first - 1].b == pos[p].b) first--;
            repeat[pos[p].k] = 1;
            count++;
            if (*first_k < 0 || pos[p].k < *first_k) {
                *first_k = pos[p].k;
                *orig_k = pos[first].k;
            }
        }
    }
    gp_i_free(ptr);
    gp_i_free(pos);
    *repeats = count;
    return GP_OK;
}

void gp_edgelist_free(gp_edgelist **e)
{
    if (!e || !*e) return;
    gp_i_free((*e)->src);
    gp_i_free((*e)->dst);
    gp_i_free((*e)->weight);
    gp_idmap_free(&(*e)->ids);
    gp_i_free(*e);
    *e = NULL;
}

/* A node id as the file wrote it (label, or 1-based number), for messages. */
static const char *id_text(char buf[48], const gp_idmap *ids, unsigned flags, int64_t id)
{
    if (ids) {
        snprintf(buf, 48, "'%s'", gp_i_quote(gp_idmap_label(ids, id)));
    } else {
        snprintf(buf, 48, "%lld", (long long)(id + ((flags & GP_READ_ONE_BASED) ? 1 : 0)));
    }
    return buf;
}

/* Parse one endpoint (column col, 1-based) into *id. */
static gp_status parse_id(int64_t *id, gp_i_text *t, const char *f, int col, unsigned flags,
                          int64_t num_nodes, gp_idmap *ids)
{
    if (!f) return GP_TEXT_FAIL(t, GP_E_PARSE, "missing column %d (expected 'u v')", col);
    if (!*f) return GP_TEXT_FAIL(t, GP_E_PARSE, "empty column %d", col);
    if (flags & GP_READ_LABELS) {
        gp_status st = gp_idmap_add(id, NULL, ids, f, strlen(f));
        if (st != GP_OK) return st;
        if (num_nodes > 0 && *id >= num_nodes)
            return GP_TEXT_FAIL(t, GP_E_RANGE, "label '%s' in column %d is the %lld-th distinct label, "
                                "more than num_nodes = %lld", gp_i_quote(f), col,
                                (long long)(*id + 1), (long long)num_nodes);
        return GP_OK;
    }
    int64_t v;
    if (!gp_i_parse_int(f, &v))
        return GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %d (an integer node id is "
                            "expected; use GP_READ_LABELS for string labels)", gp_i_quote(f), col);
    if (v < 0) return GP_TEXT_FAIL(t, GP_E_RANGE, "negative node id %lld in column %d", (long long)v, col);
    if (flags & GP_READ_ONE_BASED) {
        if (v == 0)
            return GP_TEXT_FAIL(t, GP_E_RANGE, "node id 0 in column %d, but ids are 1-based", col);
        v--;
    }
    if (num_nodes > 0 && v >= num_nodes)
        return GP_TEXT_FAIL(t, GP_E_RANGE, "node id %s in column %d is out of range (%lld nodes)",
                            f, col, (long long)num_nodes);
    if (num_nodes <= 0 && v > GP_READ_MAX_ID)
        return GP_TEXT_FAIL(t, GP_E_RANGE, "node id %s in column %d is larger than GP_READ_MAX_ID "
                            "(give num_nodes, or read ids as labels with GP_READ_LABELS)", f, col);
    *id = v;
    return GP_OK;
}

gp_status gp_edgelist_read(gp_edgelist **out, const char *path, const gp_edgelist_options *opt)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_edgelist_read: NULL argument");
    *out = NULL;
    gp_edgelist_options o = opt ? *opt : (gp_edgelist_options){0};
    if (o.num_nodes < 0 || o.duplicates > GP_DUP_FAIL || o.self_loops > GP_LOOP_FAIL)
        return GP_ERR(GP_E_INVALID, "gp_edgelist_read: bad options for %s", path);
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_idmap *ids = NULL;
    gp_edgelist *e = NULL;
    gp_i_vec src = {0}, dst = {0}, line = {0};
    fvec w = {0};
    uint8_t *repeat = NULL;
    bool weighted = o.flags & GP_READ_WEIGHTS, directed = o.flags & GP_READ_DIRECTED;
    if (o.flags & GP_READ_LABELS) GP_TRY(gp_idmap_new(&ids));
    GP_TRY(gp_i_text_open(&t, path));
    int64_t data_lines = 0, loops = 0, first_loop = 0, max_id = -1;
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        data_lines++;
        gp_i_cursor c = {l, false};
        int64_t u, v;
        float wk = 1.0f;
        const char *f1 = gp_i_field(&c);
        GP_TRY(parse_id(&u, t, f1, 1, o.flags, o.num_nodes, ids));
        const char *f2 = gp_i_field(&c);
        GP_TRY(parse_id(&v, t, f2, 2, o.flags, o.num_nodes, ids));
        int used = 2;
        if (weighted) {
            const char *f3 = gp_i_field(&c);
            if (!f3 || !*f3) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "missing column 3 (weight)");
                goto fail;
            }
            if (!gp_i_parse_float(f3, &wk)) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad weight '%s' in column 3 (a finite number is expected)",
                                  gp_i_quote(f3));
                goto fail;
            }
            used = 3;
        }
        if (!(o.flags & GP_READ_EXTRA_COLUMNS)) {
            const char *fx = gp_i_field(&c);
            if (fx) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column %d ('%s'): expected %s "
                                  "(GP_READ_WEIGHTS reads a weight, GP_READ_EXTRA_COLUMNS ignores the rest)",
                                  used + 1, gp_i_quote(fx), weighted ? "'u v w'" : "'u v'");
                goto fail;
            }
        }
        if (u == v) {
            loops++;
            if (!first_loop) first_loop = t->line;
            if (o.self_loops == GP_LOOP_FAIL) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "self-loop on node %s (self-loop policy is FAIL)",
                                  f1 ? gp_i_quote(f1) : "?");
                goto fail;
            }
            if (o.self_loops == GP_LOOP_DROP) continue;
        }
        if (u > max_id) max_id = u;
        if (v > max_id) max_id = v;
        GP_TRY(gp_i_vec_push(&src, u));
        GP_TRY(gp_i_vec_push(&dst, v));
        GP_TRY(gp_i_vec_push(&line, t->line));
        if (weighted) GP_TRY(fvec_push(&w, wk));
    }
    if (data_lines == 0) {
        st = GP_ERR(GP_E_PARSE, "%s: empty: no edge lines (%lld lines, all blank or comments)", path,
                    (long long)t->line);
        goto fail;
    }
    int64_t n = o.num_nodes > 0 ? o.num_nodes : ids ? gp_idmap_size(ids) : max_id + 1;
    int64_t m = src.n, repeats = 0, first_k = -1, orig_k = -1;
    repeat = gp_i_calloc((size_t)m + 1, 1);
    if (!repeat) {
        st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (m > 0) GP_TRY(find_repeats(&repeats, &first_k, &orig_k, repeat, n, m, src.v, dst.v, directed));
    if (repeats > 0 && o.duplicates == GP_DUP_FAIL) {
        t->line = line.v[first_k];
        char a[48], b[48];
        st = GP_TEXT_FAIL(t, GP_E_PARSE, "repeated edge %s %s (first at line %lld; duplicate "
                          "policy is FAIL)", id_text(a, ids, o.flags, src.v[first_k]),
                          id_text(b, ids, o.flags, dst.v[first_k]), (long long)line.v[orig_k]);
        goto fail;
    }
    int64_t kept = m;
    if (repeats > 0 && o.duplicates == GP_DUP_DROP) {
        kept = 0;
        for (int64_t k = 0; k < m; k++) {
            if (repeat[k]) continue;
            src.v[kept] = src.v[k];
            dst.v[kept] = dst.v[k];
            if (weighted) w.v[kept] = w.v[k];
            kept++;
        }
    }
    e = gp_i_calloc(1, sizeof *e);
    if (!e) {
        st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    e->num_nodes = n;
    e->count = kept;
    e->directed = directed;
    e->data_lines = data_lines;
    e->duplicates = repeats;
    e->first_duplicate_line = repeats ? line.v[first_k] : 0;
    e->self_loops = loops;
    e->first_self_loop_line = first_loop;
    GP_TRY(gp_i_vec_take(&e->src, &src));
    GP_TRY(gp_i_vec_take(&e->dst, &dst));
    if (weighted) {
        if (!w.v) GP_TRY(fvec_push(&w, 0.0f));
        e->weight = w.v;
        w.v = NULL;
    }
    e->ids = ids;
    ids = NULL;
    *out = e;
    e = NULL;
fail:
    gp_i_text_close(&t);
    gp_idmap_free(&ids);
    gp_edgelist_free(&e);
    gp_i_vec_free(&src);
    gp_i_vec_free(&dst);
    gp_i_vec_free(&line);
    gp_i_free(w.v);
    gp_i_free(repeat);
    return st;
}

gp_status gp_graph_read_edgelist(gp_graph **out, gp_idmap **ids, const char *path,
                                 const gp_edgelist_options *opt)
{
    if (ids) *ids = NULL;
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_graph_read_edgelist: NULL argument");
    *out = NULL;
    gp_edgelist *e = NULL;
    gp_status st = gp_edgelist_read(&e, path, opt);
    if (st != GP_OK) return st;
    unsigned flags = e->directed ? 0 : GP_EDGES_SYMMETRISE;
    st = gp_graph_from_edges(out, e->num_nodes, e->count, e->src, e->dst, e->weight, flags);
    if (st == GP_OK && ids) {
        *ids = e->ids;
        e->ids = NULL;
    }
    gp_edgelist_free(&e);
    return st;
}

gp_status gp_index_read(int64_t **idx, int64_t *count, const char *path, int64_t limit)
{
    if (!idx || !count || !path) return GP_ERR(GP_E_INVALID, "gp_index_read: NULL argument");
    *idx = NULL;
    *count = 0;
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_i_vec v = {0};
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        gp_i_cursor c = {l, false};
        const char *f = gp_i_field(&c);
        int64_t x;
        if (!f || !gp_i_parse_int(f, &x)) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' (one integer per line is expected)",
                              f ? gp_i_quote(f) : "");
            goto fail;
        }
        const char *extra = gp_i_field(&c);
        if (extra) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column 2 ('%s'): one integer per line is expected",
                              gp_i_quote(extra));
            goto fail;
        }
        if (x < 0 || (limit > 0 && x >= limit)) {
            st = limit > 0 ? GP_TEXT_FAIL(t, GP_E_RANGE, "index %lld is outside [0, %lld)", (long long)x, (long long)limit)
                           : GP_TEXT_FAIL(t, GP_E_RANGE, "negative index %lld", (long long)x);
            goto fail;
        }
        GP_TRY(gp_i_vec_push(&v, x));
    }
    int64_t n = v.n;
    GP_TRY(gp_i_vec_take(idx, &v));
    *count = n;
fail:
    gp_i_text_close(&t);
    gp_i_vec_free(&v);
    return st;
}
