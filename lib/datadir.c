/*
 * The data directory (explicit, $GP_DATA_DIR, $XDG_CACHE_HOME/graphpool, ~/.cache/graphpool),
 * datasets found in it by name, convenience loaders for its layouts, and the dataset registry
 * (data/registry.tsv) with checksum verification.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_text.h"
#include <graphpool/io.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *p = gp_i_malloc(n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

gp_status gp_data_dir(char **out, const char *explicit_dir)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_data_dir: out is NULL");
    *out = NULL;
    const char *env = getenv("GP_DATA_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *p = NULL;
    if (explicit_dir && *explicit_dir) p = dup_str(explicit_dir);
    else if (env && *env) p = dup_str(env);
    else if (xdg && *xdg == '/') p = gp_i_path_join(xdg, "graphpool"); /* XDG: relative values are invalid */
    else if (home && *home) p = gp_i_path_join(home, ".cache/graphpool");
    else
        return GP_ERR(GP_E_INVALID, "no data directory: give one (--data-dir), or set GP_DATA_DIR, "
                      "XDG_CACHE_HOME or HOME");
    if (!p) return GP_ERR(GP_E_NOMEM, "gp_data_dir: out of memory");
    *out = p;
    return GP_OK;
}

/* Lower-case alphanumerics only: "IMDB-BINARY" -> "imdbbinary", "C.ele" -> "cele". */
static void normalise(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 1 < cap; src++)
        if (isalnum((unsigned char)*src)) dst[n++] = (char)tolower((unsigned char)*src);
    dst[n] = '\0';
}

static bool same_name(const char *a, const char *b)
{
    char x[128], y[128];
    normalise(x, sizeof x, a);
    normalise(y, sizeof y, b);
    static const char *const alias[][2] = {{"cele", "celegans"}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++) {
        if (!strcmp(x, alias[i][0])) snprintf(x, sizeof x, "%s", alias[i][1]);
        if (!strcmp(y, alias[i][0])) snprintf(y, sizeof y, "%s", alias[i][1]);
    }
    return x[0] && !strcmp(x, y);
}

/* Entry of data_dir/sub whose name (minus suffix, which it must have) matches; *found the
 * spelling in the directory (gp_free) or NULL. */
static gp_status scan(char **found, const char *data_dir, const char *sub, const char *suffix,
                      const char *name)
{
    *found = NULL;
    char *dir = gp_i_path_join(data_dir, sub);
    if (!dir) return GP_ERR(GP_E_NOMEM, "gp_data_find: out of memory");
    DIR *d = opendir(dir);
    gp_i_free(dir);
    if (!d) return GP_OK;
    size_t sl = strlen(suffix);
    gp_status st = GP_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        size_t n = strlen(e->d_name);
        if (n <= sl || strcmp(e->d_name + n - sl, suffix) != 0) continue;
        char stem[256];
        if (n - sl >= sizeof stem) continue;
        memcpy(stem, e->d_name, n - sl);
        stem[n - sl] = '\0';
        if (!same_name(stem, name)) continue;
        *found = dup_str(stem);
        if (!*found) st = GP_ERR(GP_E_NOMEM, "gp_data_find: out of memory");
        break;
    }
    closedir(d);
    return st;
}

gp_status gp_data_find(char **path, gp_dataset_kind *kind, char **canonical, const char *data_dir,
                       const char *name)
{
    if (!path || !data_dir || !name) return GP_ERR(GP_E_INVALID, "gp_data_find: NULL argument");
    *path = NULL;
    if (canonical) *canonical = NULL;
    static const struct {
        const char *sub, *suffix;
        gp_dataset_kind kind;
    } place[] = {{"linkpred", ".edges", GP_DATASET_LINKPRED},
                 {"planetoid", "", GP_DATASET_PLANETOID},
                 {"hetero", "", GP_DATASET_HETERO},
                 {"tu", "", GP_DATASET_TU}};
    for (size_t i = 0; i < sizeof place / sizeof place[0]; i++) {
        char *stem = NULL;
        gp_status st = scan(&stem, data_dir, place[i].sub, place[i].suffix, name);
        if (st != GP_OK) return st;
        if (!stem) continue;
        size_t n = strlen(place[i].sub) + strlen(stem) + strlen(place[i].suffix) + 2;
        char *rel = gp_i_malloc(n);
        if (rel) snprintf(rel, n, "%s/%s%s", place[i].sub, stem, place[i].suffix);
        char *p = rel ? gp_i_path_join(data_dir, rel) : NULL;
        gp_i_free(rel);
        if (!p) {
            gp_i_free(stem);
            return GP_ERR(GP_E_NOMEM, "gp_data_find: out of memory");
        }
        *path = p;
        if (kind) *kind = place[i].kind;
        if (canonical) *canonical = stem;
        else gp_i_free(stem);
        return GP_OK;
    }
    return GP_ERR(GP_E_IO, "dataset '%s' not found in %s (looked for linkpred/<name>.edges, planetoid/<name>/, "
                  "hetero/<name>/, tu/<name>/; 'gp-data fetch %s' says where the files come from)",
                  name, data_dir, name);
}

/* Node count of a link-prediction network from linkpred/meta.tsv ("name nodes edges ..."). */
static gp_status linkpred_meta(int64_t *nodes, int64_t *edges, const char *data_dir, const char *name)
{
    char *path = gp_i_path_join(data_dir, "linkpred/meta.tsv");
    if (!path) return GP_ERR(GP_E_NOMEM, "out of memory");
    gp_i_text *t = NULL;
    gp_status st = gp_i_text_open(&t, path);
    gp_i_free(path);
    if (st != GP_OK) return st;
    *nodes = *edges = -1;
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        gp_i_cursor c = {l, false};
        const char *n = gp_i_field(&c), *a = gp_i_field(&c), *b = gp_i_field(&c);
        if (!n || !same_name(n, name)) continue;
        if (!a || !b || !gp_i_parse_int(a, nodes) || !gp_i_parse_int(b, edges) || *nodes < 0 || *edges < 0) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad line for %s (expected 'name nodes edges ...')", gp_i_quote(n));
            goto fail;
        }
        break;
    }
    if (*nodes < 0) st = GP_TEXT_FAIL(t, GP_E_PARSE, "no line for '%s'", name);
fail:
    gp_i_text_close(&t);
    return st;
}

gp_status gp_data_read_linkpred(gp_graph **out, const char *data_dir, const char *name)
{
    if (!out || !data_dir || !name) return GP_ERR(GP_E_INVALID, "gp_data_read_linkpred: NULL argument");
    *out = NULL;
    char *path = NULL, *canon = NULL;
    gp_dataset_kind kind;
    gp_graph *g = NULL;
    int64_t nodes, edges;
    gp_status st;
    GP_TRY(gp_data_find(&path, &kind, &canon, data_dir, name));
    if (kind != GP_DATASET_LINKPRED) {
        st = GP_ERR(GP_E_INVALID, "%s is not a link-prediction network (linkpred/<name>.edges)", path);
        goto fail;
    }
    GP_TRY(linkpred_meta(&nodes, &edges, data_dir, canon));
    gp_edgelist_options o = {0, GP_DUP_FAIL, GP_LOOP_FAIL, nodes};
    GP_TRY(gp_graph_read_edgelist(&g, NULL, path, &o));
    if (gp_graph_edges(g) != 2 * edges) {
        st = GP_ERR(GP_E_PARSE, "%s: %lld undirected edges, but linkpred/meta.tsv says %lld", path,
                    (long long)(gp_graph_edges(g) / 2), (long long)edges);
        goto fail;
    }
    *out = g;
    g = NULL;
fail:
    gp_graph_free(&g);
    gp_i_free(path);
    gp_i_free(canon);
    return st;
}

gp_status gp_data_read_linkpred_split(gp_link_split **out, const char *data_dir, const char *name,
                                      int test_percent, int k)
{
    if (!out || !data_dir || !name) return GP_ERR(GP_E_INVALID, "gp_data_read_linkpred_split: NULL argument");
    *out = NULL;
    if ((test_percent != 10 && test_percent != 50) || k < 1)
        return GP_ERR(GP_E_INVALID, "gp_data_read_linkpred_split: test_percent must be 10 or 50 and k >= 1 "
                      "(got %d, %d)", test_percent, k);
    char *path = NULL, *canon = NULL;
    gp_dataset_kind kind;
    int64_t nodes, edges;
    gp_status st;
    GP_TRY(gp_data_find(&path, &kind, &canon, data_dir, name));
    gp_i_free(path);
    path = NULL;
    if (kind != GP_DATASET_LINKPRED) {
        st = GP_ERR(GP_E_INVALID, "'%s' is not a link-prediction network", name);
        goto fail;
    }
    GP_TRY(linkpred_meta(&nodes, &edges, data_dir, canon));
    char rel[320];
    snprintf(rel, sizeof rel, "linkpred/splits/test%d/%s_split%d.txt.gz", test_percent, canon, k);
    path = gp_i_path_join(data_dir, rel);
    if (!path) {
        st = GP_ERR(GP_E_NOMEM, "out of memory");
        goto fail;
    }
    GP_TRY(gp_link_split_read(out, path, nodes));
fail:
    gp_i_free(path);
    gp_i_free(canon);
    return st;
}

gp_status gp_data_read_tu(gp_graph_dataset **out, const char *data_dir, const char *name)
{
    if (!out || !data_dir || !name) return GP_ERR(GP_E_INVALID, "gp_data_read_tu: NULL argument");
    *out = NULL;
    char *path = NULL, *canon = NULL;
    gp_dataset_kind kind;
    gp_status st;
    GP_TRY(gp_data_find(&path, &kind, &canon, data_dir, name));
    if (kind != GP_DATASET_TU) {
        st = GP_ERR(GP_E_INVALID, "%s is not a TU dataset (tu/<NAME>/)", path);
        goto fail;
    }
    GP_TRY(gp_graph_dataset_read_tu(out, path, canon));
fail:
    gp_i_free(path);
    gp_i_free(canon);
    return st;
}

gp_status gp_data_read_nodes(gp_node_dataset **out, const char *data_dir, const char *name, unsigned flags)
{
    if (!out || !data_dir || !name) return GP_ERR(GP_E_INVALID, "gp_data_read_nodes: NULL argument");
    *out = NULL;
    char *path = NULL;
    gp_dataset_kind kind;
    gp_status st;
    GP_TRY(gp_data_find(&path, &kind, NULL, data_dir, name));
    if (kind != GP_DATASET_PLANETOID && kind != GP_DATASET_HETERO) {
        st = GP_ERR(GP_E_INVALID, "%s is not a node-classification dataset (planetoid/ or hetero/)", path);
        goto fail;
    }
    GP_TRY(gp_node_dataset_read(out, path, flags));
fail:
    gp_i_free(path);
    return st;
}

/* ---------------------------------------------------------------- registry */

enum { REG_COLS = 8 };

void gp_registry_free(gp_registry **r)
{
    if (!r || !*r) return;
    gp_i_free((*r)->entries);
    gp_i_free((*r)->text);
    gp_i_free(*r);
    *r = NULL;
}

static bool is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[64] == '\0';
}

/* A relative path that stays inside the data directory. */
static bool safe_path(const char *p)
{
    if (!*p || *p == '/') return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.') || (n == 1 && s[0] == '.')) return false;
        s += n + (e ? 1 : 0);
        if (e && !*s) return false;
    }
    return true;
}

gp_status gp_registry_read(gp_registry **out, const char *path)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_registry_read: NULL argument");
    *out = NULL;
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_registry *r = gp_i_calloc(1, sizeof *r);
    gp_i_vec off = {0}; /* REG_COLS offsets per entry into text */
    size_t used = 0, cap = 1 << 16;
    char *text = gp_i_malloc(cap);
    if (!r || !text) {
        st = GP_ERR(GP_E_NOMEM, "gp_registry_read: out of memory");
        goto fail;
    }
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        size_t len;
        GP_TRY(gp_i_text_next(t, &l, &len));
        if (!l) break;
        if (len == 0 || l[0] == '#') continue;
        if (used + len + 1 > cap) {
            while (used + len + 1 > cap) cap *= 2;
            char *nt = gp_i_realloc(text, cap);
            if (!nt) {
                st = GP_ERR(GP_E_NOMEM, "gp_registry_read: out of memory");
                goto fail;
            }
            text = nt;
        }
        char *s = text + used;
        memcpy(s, l, len + 1);
        int cols = 0;
        const char *field[REG_COLS] = {0};
        for (char *p = s;;) {
            char *tab = strchr(p, '\t');
            if (tab) *tab = '\0';
            if (cols < REG_COLS) {
                field[cols] = p;
                GP_TRY(gp_i_vec_push(&off, (int64_t)(p - text)));
            }
            cols++;
            if (!tab) break;
            p = tab + 1;
        }
        if (cols != REG_COLS) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "%d tab-separated columns, expected %d (dataset task format "
                              "path sha256 source_url fetch_url notes)", cols, REG_COLS);
            goto fail;
        }
        if (!is_hex64(field[4])) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad SHA-256 '%s' (64 lowercase hex digits expected)", gp_i_quote(field[4]));
            goto fail;
        }
        if (!safe_path(field[3])) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad path '%s' (relative, without '.' or '..' parts)", gp_i_quote(field[3]));
            goto fail;
        }
        for (int j = 0; j < REG_COLS; j++)
            if (!*field[j]) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "empty column %d", j + 1);
                goto fail;
            }
        used += len + 1;
    }
    r->count = off.n / REG_COLS;
    if (r->count == 0) {
        st = GP_ERR(GP_E_PARSE, "%s: no entries", path);
        goto fail;
    }
    r->entries = gp_i_calloc((size_t)r->count, sizeof(gp_registry_entry));
    if (!r->entries) {
        st = GP_ERR(GP_E_NOMEM, "gp_registry_read: out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < r->count; i++) {
        const int64_t *o = off.v + REG_COLS * i;
        r->entries[i] = (gp_registry_entry){text + o[0], text + o[1], text + o[2], text + o[3],
                                            text + o[4], text + o[5], text + o[6], text + o[7]};
    }
    r->text = text;
    text = NULL;
    *out = r;
    r = NULL;
fail:
    gp_i_text_close(&t);
    gp_i_vec_free(&off);
    gp_i_free(text);
    gp_registry_free(&r);
    return st;
}

gp_status gp_registry_verify(gp_verify_result *result, char *hex, const char *data_dir,
                             const gp_registry_entry *e)
{
    if (!result || !data_dir || !e) return GP_ERR(GP_E_INVALID, "gp_registry_verify: NULL argument");
    char h[65];
    if (hex) hex[0] = '\0';
    char *path = gp_i_path_join(data_dir, e->path);
    if (!path) return GP_ERR(GP_E_NOMEM, "gp_registry_verify: out of memory");
    if (!gp_i_file_exists(path)) {
        gp_i_free(path);
        *result = GP_VERIFY_MISSING;
        return GP_OK;
    }
    gp_status st = gp_sha256_file(h, path);
    gp_i_free(path);
    if (st != GP_OK) return st;
    if (hex) memcpy(hex, h, 65);
    *result = strcmp(h, e->sha256) == 0 ? GP_VERIFY_OK : GP_VERIFY_MISMATCH;
    return GP_OK;
}
