/*
 * gp-graphclass with the GPN preset (suite "apps"): a 1-fold, 2-epoch run of --preset gpn-PROTEINS
 * on MUTAG (--hidden 16 overrides the preset; its pool spec and --features all must reach the run)
 * with --write-parse DIR must exit 0 and leave exactly one file graph_<i>.json per MUTAG graph (no
 * temporary files), each valid JSON (a complete JSON grammar check) of the documented form
 * {"levels": L, "num_nodes": [n0..nL], "cluster": [[...]]} with cluster[l] of n_l ids in [0,
 * n_{l+1}), no empty cluster, every level shrinking, n0 equal to the graph's node count from
 * MUTAG_graph_indicator.txt. Also: a missing DIR is a usage error (exit 2) with a message, before
 * any training; --preset gpn on a dataset without an official preset, a negative --clip-norm and a
 * negative --warmup-epochs are exit 2. argv[1] is the app; it is run with fork/exec, no shell.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_run.h"

/* ---- a complete JSON grammar check (RFC 8259), recursive descent ---- */

static void ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

static bool value(const char **p, int depth);

static bool string(const char **p)
{
    if (**p != '"') return false;
    for ((*p)++; **p != '"'; (*p)++) {
        unsigned char ch = (unsigned char)**p;
        if (ch < 0x20) return false; /* also the terminating NUL */
        if (ch == '\\') {
            (*p)++;
            if (**p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!(*p)[k] || !strchr("0123456789abcdefABCDEF", (*p)[k])) return false;
                *p += 4;
            } else if (!**p || !strchr("\"\\/bfnrt", **p)) {
                return false;
            }
        }
    }
    (*p)++;
    return true;
}

static bool number(const char **p)
{
    const char *s = *p;
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
    else return false;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return false;
        while (*s >= '0' && *s <= '9') s++;
    }
    *p = s;
    return true;
}

static bool sequence(const char **p, char close, bool object, int depth)
{
    (*p)++;
    ws(p);
    if (**p == close) return (*p)++, true;
    for (;;) {
        if (object) {
            if (!string(p)) return false;
            ws(p);
            if (**p != ':') return false;
            (*p)++;
        }
        if (!value(p, depth + 1)) return false;
        ws(p);
        if (**p == close) return (*p)++, true;
        if (**p != ',') return false;
        (*p)++;
        ws(p);
    }
}

static bool value(const char **p, int depth)
{
    if (depth > 64) return false;
    ws(p);
    switch (**p) {
    case '{': return sequence(p, '}', true, depth);
    case '[': return sequence(p, ']', false, depth);
    case '"': return string(p);
    case 't': return !strncmp(*p, "true", 4) ? (*p += 4, true) : false;
    case 'f': return !strncmp(*p, "false", 5) ? (*p += 5, true) : false;
    case 'n': return !strncmp(*p, "null", 4) ? (*p += 4, true) : false;
    default: return number(p);
    }
}

static bool valid_json(const char *text)
{
    const char *p = text;
    if (!value(&p, 0)) return false;
    ws(&p);
    return *p == '\0';
}

/* ---- the hierarchy's structure ---- */

/* Integers of the array that starts at *p ('['), at most cap; *p moves past its ']'. -1 on error. */
static long long int_array(const char **p, long long *out, long long cap)
{
    if (**p != '[') return -1;
    long long n = 0;
    (*p)++;
    for (;;) {
        ws(p);
        if (**p == ']') return (*p)++, n;
        char *end;
        long long v = strtoll(*p, &end, 10);
        if (end == *p || n == cap) return -1;
        out[n++] = v;
        *p = end;
        ws(p);
        if (**p == ',') (*p)++;
    }
}

static const char *after_key(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p) return NULL;
    p = strchr(p, ':');
    if (!p) return NULL;
    p++;
    ws(&p);
    return p;
}

/* "" if the hierarchy is consistent with a graph of n nodes, else what is wrong. */
static const char *check_hierarchy(const char *text, long long n)
{
    static long long nodes[1024], ids[4096];
    const char *p = after_key(text, "\"levels\"");
    if (!p) return "no levels";
    long long levels = strtoll(p, NULL, 10);
    if (levels < 0 || levels > 1000) return "bad levels";
    if (!(p = after_key(text, "\"num_nodes\"")) || int_array(&p, nodes, 1024) != levels + 1)
        return "num_nodes does not have levels + 1 entries";
    if (nodes[0] != n) return "num_nodes[0] is not the graph's node count";
    if (!(p = after_key(text, "\"cluster\"")) || *p != '[') return "no cluster array";
    p++;
    for (long long l = 0; l < levels; l++) {
        ws(&p);
        if (int_array(&p, ids, 4096) != nodes[l]) return "cluster[l] does not have num_nodes[l] entries";
        if (nodes[l + 1] >= nodes[l] || nodes[l + 1] < 1) return "a level does not shrink";
        bool *hit = calloc((size_t)nodes[l + 1], sizeof(bool));
        if (!hit) return "out of memory";
        const char *why = "";
        for (long long i = 0; i < nodes[l] && !why[0]; i++) {
            if (ids[i] < 0 || ids[i] >= nodes[l + 1]) why = "cluster id out of range";
            else hit[ids[i]] = true;
        }
        for (long long c = 0; c < nodes[l + 1] && !why[0]; c++)
            if (!hit[c]) why = "an empty cluster";
        free(hit);
        if (why[0]) return why;
        ws(&p);
        if (*p == ',') p++;
    }
    ws(&p);
    return *p == ']' ? "" : "extra cluster arrays";
}

/* Node count of every MUTAG graph (1-based) from its graph indicator; the number of graphs. */
static long long mutag_sizes(long long *size, long long cap)
{
    const char *root = getenv("GP_DATA_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tu/MUTAG/MUTAG_graph_indicator.txt", root ? root : ".");
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long long g, ng = 0;
    while (fscanf(f, "%lld", &g) == 1)
        if (g >= 1 && g < cap) {
            size[g]++;
            if (g > ng) ng = g;
        }
    fclose(f);
    return ng;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_gpn_app PATH-TO-gp-graphclass\n");
        return 2;
    }
    static char out[1 << 20];
    static long long size[1024];
    int fails = 0;
    long long ng = mutag_sizes(size, 1024);
    if (ng < 100) {
        fprintf(stderr, "cannot read MUTAG_graph_indicator.txt under $GP_DATA_DIR/tu/MUTAG\n");
        return 1;
    }
    char dir[] = "/tmp/gp_gpn_app_XXXXXX";
    if (!mkdtemp(dir)) return 1;

    /* usage errors, before any training */
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    char *bad[] = {argv[1], "--dataset", "MUTAG", "--preset", "gpn-PROTEINS", "--write-parse", missing, NULL};
    int rc = app_run(bad, true, out, sizeof out);
    if (rc != 2 || !strstr(out, "no such directory")) {
        fprintf(stderr, "missing --write-parse directory: exit %d, output:\n%s\n", rc, out);
        fails++;
    }
    char *nopreset[] = {argv[1], "--dataset", "MUTAG", "--preset", "gpn", NULL};
    rc = app_run(nopreset, true, out, sizeof out);
    if (rc != 2 || !strstr(out, "no official GPN preset")) {
        fprintf(stderr, "--preset gpn on MUTAG: exit %d, output:\n%s\n", rc, out);
        fails++;
    }
    char *badclip[] = {argv[1], "--dataset", "MUTAG", "--clip-norm", "-1", NULL};
    char *badwarm[] = {argv[1], "--dataset", "MUTAG", "--cosine", "--warmup-epochs", "-2", NULL};
    if (app_run(badclip, true, out, sizeof out) != 2 || app_run(badwarm, true, out, sizeof out) != 2) {
        fprintf(stderr, "a negative --clip-norm or --warmup-epochs is not a usage error\n");
        fails++;
    }

    char *train[] = {argv[1], "--dataset", "MUTAG", "--preset", "gpn-PROTEINS", "--hidden", "16",
                     "--folds", "2", "--max-folds", "1", "--epochs", "2", "--patience", "0",
                     "--seed", "1", "--quiet", "--json", "--write-parse", dir, NULL};
    rc = app_run(train, true, out, sizeof out);
    if (rc != 0) {
        fprintf(stderr, "gp-graphclass exited with %d\n%s\n", rc, out);
        fails++;
    }
    /* the preset's pool spec (PROTEINS: 3 GCN layers, act_final) reached the model */
    if (!strstr(out, "gpn:gnn_layers=3,ds_layers=1,dropout=0.1,act_final=true")) {
        fprintf(stderr, "the PROTEINS preset's pool spec is not in the output:\n%s\n", out);
        fails++;
    }
    /* and its input features: --features all (MUTAG has labels, no attributes) */
    if (!strstr(out, "\"features\": \"labels+degree\"")) {
        fprintf(stderr, "the preset's features (all = labels+degree on MUTAG) are not in the output:\n%s\n", out);
        fails++;
    }
    long long files = 0, good = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        files++;
        long long gi = 0;
        char tail[8] = "";
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (sscanf(e->d_name, "graph_%lld.%7s", &gi, tail) != 2 || strcmp(tail, "json") || gi < 1 || gi > ng) {
            fprintf(stderr, "unexpected file %s\n", e->d_name);
        } else {
            char *text = slurp(path);
            const char *why = !text ? "unreadable" : !valid_json(text) ? "invalid JSON"
                                                                       : check_hierarchy(text, size[gi]);
            if (why[0]) fprintf(stderr, "%s: %s\n", e->d_name, why);
            else good++;
            free(text);
        }
        remove(path);
    }
    if (d) closedir(d);
    rmdir(dir);
    printf("%lld files, %lld valid hierarchies, %lld graphs\n", files, good, ng);
    if (files != ng || good != ng) fails++;
    /* the grammar check itself rejects broken JSON */
    if (valid_json("{\"levels\": 1, \"num_nodes\": [2, 1], \"cluster\": [[0, 0]]") || valid_json("[1,]") ||
        valid_json("[01]") || !valid_json("{\"a\": [1.5e3, -0, \"x\\u00e9\", true, null]}")) {
        fprintf(stderr, "the JSON check is wrong\n");
        fails++;
    }
    return fails ? 1 : 0;
}
