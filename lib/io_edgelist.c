/*
 * Edge-list reader: "u v [w]" per line, integer ids or string labels (gp_idmap), directed or
 * undirected, repeated edges and self-loops reported and handled by policy; and the index-file
 * reader (one integer per line).
 *
 * Repeat check: a hash set of edge keys filled in file order (see find_repeats), O(m). A header
 * line (column names) is skipped on request, or when the first two data lines show one.
 */
#include <stdio.h>
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
        gp_i_advise_huge(nv, (size_t)ncap * sizeof(float));
    }
    a->v[a->n++] = x;
    return GP_OK;
}

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Key of edge k: a * n + b + 1 with (a, b) = (min, max) when undirected; never 0 (empty). */
static inline uint64_t edge_key(const int64_t *src, const int64_t *dst, int64_t k, uint64_t n, bool directed)
{
    uint64_t a = (uint64_t)src[k], b = (uint64_t)dst[k];
    if (!directed && a > b) {
        uint64_t t = a;
        a = b, b = t;
    }
    return a * n + b + 1;
}

/*
 * Mark repeats: repeat[k] = 1 for every edge k that repeats an earlier one. Returns the number
 * of repeats; *first_k the position (in file order) of the earliest repeat, *orig_k the edge it
 * repeats. A hash set of edge keys filled in file order (linear probing, load <= 2/3, the slot
 * of edge k + 16 prefetched while edge k is probed): O(m) expected, 8 to 16 bytes per edge,
 * nothing proportional to n. Needs n < 2^32 so that keys fit 64 bits.
 */
static gp_status find_repeats(int64_t *repeats, int64_t *first_k, int64_t *orig_k, uint8_t *repeat,
                              int64_t n, int64_t m, const int64_t *src, const int64_t *dst,
                              bool directed)
{
    *repeats = 0;
    *first_k = *orig_k = -1;
    /* Fast path: keys strictly increasing in file order (sorted lists, as most published
     * edge lists are) cannot repeat; one sequential pass instead of the hash set. */
    bool increasing = true;
    for (int64_t k = 1; k < m && increasing; k++)
        increasing = edge_key(src, dst, k - 1, (uint64_t)n, directed) < edge_key(src, dst, k, (uint64_t)n, directed);
    if (increasing) return GP_OK;
    uint64_t slots = 1024;
    while (slots < (uint64_t)m + (uint64_t)m / 2) slots <<= 1;
    uint64_t *tab = gp_i_malloc(gp_i_mul_size((size_t)slots, sizeof(uint64_t)));
    if (!tab) return GP_ERR(GP_E_NOMEM, "edge list: out of memory for the repeat check of %lld edges", (long long)m);
    gp_i_advise_huge(tab, (size_t)slots * sizeof(uint64_t));
    memset(tab, 0, (size_t)slots * sizeof(uint64_t));
    const uint64_t mask = slots - 1, un = (uint64_t)n;
    enum { AHEAD = 16 };
    int64_t count = 0;
    for (int64_t k = 0; k < m; k++) {
        if (k + AHEAD < m) __builtin_prefetch(&tab[mix64(edge_key(src, dst, k + AHEAD, un, directed)) & mask], 1);
        uint64_t key = edge_key(src, dst, k, un, directed), h = mix64(key) & mask;
        while (tab[h] && tab[h] != key) h = (h + 1) & mask;
        if (tab[h] == key) {
            repeat[k] = 1;
            if (count++ == 0) *first_k = k;
        } else {
            tab[h] = key;
        }
    }
    gp_i_free(tab);
    if (count > 0) {
        uint64_t key = edge_key(src, dst, *first_k, un, directed);
        for (int64_t j = 0; j < *first_k && *orig_k < 0; j++)
            if (edge_key(src, dst, j, un, directed) == key) *orig_k = j;
    }
    *repeats = count;
    return GP_OK;
}

/* File line of kept edge k from the checkpoints (the last one at or before k). */
static int64_t line_of(const gp_i_vec *cp_k, const gp_i_vec *cp_line, int64_t k)
{
    int64_t lo = 0, hi = cp_k->n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (cp_k->v[mid] <= k) lo = mid;
        else hi = mid - 1;
    }
    return cp_line->v[lo] + (k - cp_k->v[lo]);
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

/*
 * Header lines. The first two data lines are read ahead (copies) and handed out again by
 * next_line, each with its own line number in t->line (messages stay right), unless the first
 * is skipped as a header: always with GP_READ_HEADER; with GP_READ_HEADER_AUTO when
 * looks_like_header says so.
 */
typedef struct ahead {
    char *text[2];
    int64_t line[2]; /* their 1-based file lines */
    int count, next;
    int64_t resume_line; /* t->line after the read-ahead, restored once both are handed out */
} ahead;

static gp_status read_ahead(ahead *a, gp_i_text *t)
{
    for (int i = 0; i < 2; i++) {
        char *l;
        gp_status st = gp_i_text_data(t, &l);
        if (st != GP_OK) return st;
        if (!l) break;
        size_t n = strlen(l) + 1;
        if (!(a->text[i] = gp_i_malloc(n))) return GP_ERR(GP_E_NOMEM, "edge list: out of memory");
        memcpy(a->text[i], l, n);
        a->line[i] = t->line;
        a->count++;
    }
    a->resume_line = t->line;
    return GP_OK;
}

static gp_status next_line(char **l, gp_i_text *t, ahead *a)
{
    if (a->next < a->count) {
        t->line = a->line[a->next];
        *l = a->text[a->next++];
        return GP_OK;
    }
    if (a->next == a->count && a->count > 0) {
        t->line = a->resume_line;
        a->next++;
    }
    return gp_i_text_data(t, l);
}

/* The fields of line (at most max, their count in *count), split in a copy that the caller
 * frees (NULL when out of memory). */
static char *fields_of(const char *line, const char **f, int max, int *count)
{
    size_t len = strlen(line) + 1;
    char *copy = gp_i_malloc(len);
    *count = 0;
    if (!copy) return NULL;
    memcpy(copy, line, len);
    gp_i_cursor c = {copy, false};
    const char *x;
    while (*count < max && (x = gp_i_field(&c))) f[(*count)++] = x;
    return copy;
}

static bool is_number(const char *s)
{
    float v;
    return gp_i_parse_float(s, &v);
}

/* Column names above data, decided as a spreadsheet would: some column is a number on the
 * second data line but not on the first, and no column is a number on both ("source target"
 * over "1 2"; "from,to,weight" over "a,b,0.5"; not "1 2 x" over "3 4 5"). */
static bool looks_like_header(const char *first, const char *second)
{
    enum { MAX = 16 };
    const char *f1[MAX], *f2[MAX];
    int k1, k2;
    char *c1 = fields_of(first, f1, MAX, &k1), *c2 = fields_of(second, f2, MAX, &k2);
    bool text_over_number = false, number_on_both = false;
    for (int k = 0; k < k1 && k < k2; k++) {
        bool a = is_number(f1[k]), b = is_number(f2[k]);
        text_over_number |= !a && b;
        number_on_both |= a && b;
    }
    gp_i_free(c1);
    gp_i_free(c2);
    return text_over_number && !number_on_both;
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
                                "more than the %lld nodes given (num_nodes)", gp_i_quote(f), col,
                                (long long)(*id + 1), (long long)num_nodes);
        return GP_OK;
    }
    int64_t v;
    if (!gp_i_parse_int(f, &v))
        return GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %d (an integer node id is "
                            "expected; node names that are not numbers must be read as labels, "
                            "GP_READ_LABELS)", gp_i_quote(f), col);
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
        return GP_TEXT_FAIL(t, GP_E_RANGE, "node id %s in column %d is above %lld, the largest id read "
                            "without a node count (GP_READ_MAX_ID): give the node count (num_nodes), or "
                            "read the ids as labels (GP_READ_LABELS)", f, col, (long long)GP_READ_MAX_ID);
    *id = v;
    return GP_OK;
}

/* Is the first or second field of the header line also a node label of the file? Then the
 * line was an edge between nodes with names of mixed kinds ("A B" over "3 4"), not a header. */
static bool header_names_nodes(const char *header, const gp_idmap *ids)
{
    const char *f[2];
    int k;
    char *copy = fields_of(header, f, 2, &k);
    bool found = false;
    for (int i = 0; i < k; i++) found |= gp_idmap_find(ids, f[i]) >= 0;
    gp_i_free(copy);
    return found;
}

/* One pass over the file. *reread: a line taken for a header (GP_READ_HEADER_AUTO) names nodes
 * of the file; nothing is returned and the caller reads again without the rule. */
static gp_status read_once(gp_edgelist **out, const char *path, gp_edgelist_options o, bool *reread)
{
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_idmap *ids = NULL;
    gp_edgelist *e = NULL;
    gp_i_vec src = {0}, dst = {0};
    /* File lines of the kept edges, without 8 bytes per edge: a checkpoint (edge index, line)
     * wherever line - index changes (after comment or blank lines, dropped loops). */
    gp_i_vec cp_k = {0}, cp_line = {0};
    fvec w = {0};
    uint8_t *repeat = NULL;
    ahead head = {0};
    int64_t header_line = 0;
    bool weighted = o.flags & GP_READ_WEIGHTS, directed = o.flags & GP_READ_DIRECTED;
    if (o.flags & GP_READ_LABELS) GP_TRY(gp_idmap_new(&ids));
    GP_TRY(gp_i_text_open(&t, path));
    if (o.flags & (GP_READ_HEADER | GP_READ_HEADER_AUTO)) {
        GP_TRY(read_ahead(&head, t));
        if (head.count > 0 && ((o.flags & GP_READ_HEADER) ||
                               (head.count == 2 && looks_like_header(head.text[0], head.text[1])))) {
            header_line = head.line[0];
            head.next = 1;
        }
    }
    int64_t data_lines = 0, loops = 0, first_loop = 0, first_extra = 0, max_id = -1;
    for (;;) {
        char *l;
        GP_TRY(next_line(&l, t, &head));
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
        if (!first_extra || !(o.flags & GP_READ_EXTRA_COLUMNS)) {
            const char *fx = gp_i_field(&c);
            if (fx && (o.flags & GP_READ_EXTRA_COLUMNS)) {
                first_extra = t->line;
            } else if (fx) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column %d ('%s'): expected %s (a weight "
                                  "column is read with GP_READ_WEIGHTS, further columns are skipped with "
                                  "GP_READ_EXTRA_COLUMNS)",
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
        if (cp_k.n == 0 || cp_line.v[cp_line.n - 1] + (src.n - cp_k.v[cp_k.n - 1]) != t->line) {
            GP_TRY(gp_i_vec_push(&cp_k, src.n));
            GP_TRY(gp_i_vec_push(&cp_line, t->line));
        }
        if (src.n == 4096) { /* reserve for the whole file once instead of doubling */
            int64_t hint = gp_i_text_lines_hint(t);
            if (hint > src.cap) {
                GP_TRY(gp_i_vec_reserve(&src, hint));
                GP_TRY(gp_i_vec_reserve(&dst, hint));
            }
        }
        GP_TRY(gp_i_vec_push(&src, u));
        GP_TRY(gp_i_vec_push(&dst, v));
        if (weighted) GP_TRY(fvec_push(&w, wk));
    }
    if (header_line && ids && !(o.flags & GP_READ_HEADER) && header_names_nodes(head.text[0], ids)) {
        *reread = true;
        goto fail;
    }
    if (data_lines == 0) {
        st = GP_ERR(GP_E_PARSE, "%s: empty: no edge lines (%lld lines, all blank or comments%s)", path,
                    (long long)t->line, header_line ? " but the header" : "");
        goto fail;
    }
    int64_t n = o.num_nodes > 0 ? o.num_nodes : ids ? gp_idmap_size(ids) : max_id + 1;
    if (n > (int64_t)UINT32_MAX) {
        st = GP_ERR(GP_E_UNSUPPORTED, "%s: %lld nodes; the edge-list reader supports fewer than 2^32",
                    path, (long long)n);
        goto fail;
    }
    int64_t m = src.n, repeats = 0, first_k = -1, orig_k = -1;
    repeat = gp_i_calloc((size_t)m + 1, 1);
    if (!repeat) {
        st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (m > 0) GP_TRY(find_repeats(&repeats, &first_k, &orig_k, repeat, n, m, src.v, dst.v, directed));
    if (repeats > 0 && o.duplicates == GP_DUP_FAIL) {
        t->line = line_of(&cp_k, &cp_line, first_k);
        char a[48], b[48];
        st = GP_TEXT_FAIL(t, GP_E_PARSE, "repeated edge %s %s (first at line %lld; duplicate "
                          "policy is FAIL)", id_text(a, ids, o.flags, src.v[first_k]),
                          id_text(b, ids, o.flags, dst.v[first_k]), (long long)line_of(&cp_k, &cp_line, orig_k));
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
    e->first_duplicate_line = repeats ? line_of(&cp_k, &cp_line, first_k) : 0;
    e->self_loops = loops;
    e->first_self_loop_line = first_loop;
    e->first_extra_column_line = first_extra;
    e->header_line = header_line;
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
    gp_i_vec_free(&cp_k);
    gp_i_vec_free(&cp_line);
    gp_i_free(w.v);
    gp_i_free(repeat);
    gp_i_free(head.text[0]);
    gp_i_free(head.text[1]);
    return st;
}

gp_status gp_edgelist_read(gp_edgelist **out, const char *path, const gp_edgelist_options *opt)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_edgelist_read: NULL argument");
    *out = NULL;
    gp_edgelist_options o = opt ? *opt : (gp_edgelist_options){0};
    if (o.num_nodes < 0 || o.duplicates > GP_DUP_FAIL || o.self_loops > GP_LOOP_FAIL)
        return GP_ERR(GP_E_INVALID, "gp_edgelist_read: bad options for %s", path);
    bool reread = false;
    gp_status st = read_once(out, path, o, &reread);
    if (st == GP_OK && reread) {
        o.flags &= ~(unsigned)GP_READ_HEADER_AUTO;
        st = read_once(out, path, o, &reread);
    }
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
        int64_t x;
        GP_TRY(GP_TEXT_LINE_INT(&x, t, l));
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
