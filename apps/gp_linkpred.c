/*
 * gp-linkpred: link prediction with WalkPool (graphpool/linkpred.h) or a heuristic.
 *
 *   gp-linkpred [options] [EDGES]
 *
 * Input: an edge list EDGES (any format gp_graph_read_format reads; edge lists keep the user's
 * node labels), or --dataset NAME from the data directory, or with neither a generated network:
 * Watts-Strogatz small world, 300 nodes, 3 neighbours per side, rewiring 0.1, seed 1
 * (gp_gen_watts_strogatz), trained for DEMO_EPOCHS = 3 epochs unless --epochs is given, so the
 * app runs in seconds without any download.
 * Node labels: a plain edge list keeps its labels (unless --one-based: integer ids), and
 * --split-file, --predict, --features and the outputs use them. Columns after 'u v' (weights,
 * timestamps) are read over, with a note on stderr: the model sees unweighted links. A first
 * line of column names is skipped (--header; by default when GP_READ_HEADER_AUTO finds one).
 * --features FILE: node attributes replacing the constant features ("NODE x1 ... xd" lines, or
 * a Matrix Market file whose row i is node i); the model records their width.
 * Split: random (--test-ratio 0.1, --val-ratio 0.05, --seed 1; negatives avoid all edges) or
 * fixed: --split-file FILE (lines "<part> u v") or --dataset NAME --split K (the shipped 90/10
 * split K; --test-percent 50 for 50/50). A fixed split without validation pairs gets
 * --val-ratio (default 0.05) of its training pairs moved to validation (seeded), as WalkPool
 * does. The observed graph is training + validation positives; test positives never enter it.
 * A split without test pairs is an error (its results would be NaN) unless the run is for
 * --predict or --recommend (--test-ratio 0: train on every edge, no test scores); so are --split
 * without --dataset, --test-percent other than 10 or 50, and ratios that leave no training pairs.
 *
 * --method walkpool (default) or a heuristic (cn, jaccard, aa, ra, pa, katz, ppr, svd);
 * --compare runs WalkPool and all heuristics on the same split (or --compare LIST: WalkPool
 * and the heuristics of the comma-separated LIST; WalkPool always runs). Results on stdout: a table, or --json. Progress on stderr (a live line on a
 * terminal), --quiet to silence it.
 * --save-model FILE / --load-model FILE: a checkpoint with the options and the data checksum;
 * with --load-model no training happens (the model is evaluated on the split).
 * --resume FILE: the training state after every epoch (gp_linkpred_fit_resumable); the same
 * command run again after a stop continues from it and ends with the uninterrupted run's numbers.
 * --predict PAIRS writes "u v score" for every pair of the file (node labels as in the input);
 * --recommend K lists the K highest-scoring non-edges of the whole graph (candidates: pairs at
 * distance 2, at most --max-candidates, those with most common neighbours first), or with
 * --for NODE only pairs (NODE, v). Scores use the full graph. --output FILE writes these to a
 * file (replaced atomically: nothing is left half-written on error).
 * Exit status: 0 ok, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <graphpool/generators.h>
#include <graphpool/graphpool.h>
#include <graphpool/heuristics.h>
#include <graphpool/io.h>
#include <graphpool/linkpred.h>
#include <graphpool/metrics.h>
#include <graphpool/splits.h>

#include "app_duration.h"
#include "app_json.h"
#include "app_output.h"
#include "app_openmp.h"

typedef struct app {
    const char *edges, *dataset, *data_dir, *split_file, *method, *compare, *save_model, *load_model;
    const char *predict, *for_node, *output, *features, *curve, *resume;
    FILE *curve_f; /* --curve: open while training */
    int split_k, test_percent, recommend;
    double test_ratio, val_ratio;
    int64_t max_candidates;
    bool json, quiet, one_based, compare_on, directed_labels;
    enum { HEADER_AUTO, HEADER_YES, HEADER_NO } header; /* EDGES's first line: column names? */
    gp_linkpred_options lp;
    /* data */
    gp_graph *g;
    gp_idmap *ids;
    float *attr;        /* --features: num_nodes x attr_dim, row-major, or NULL */
    int64_t attr_dim;
    char name[256];
    char sha[65];
    bool tty;
    double progress_seconds; /* epochs trained in this run and their time, for the time left */
    int progress_epochs;
    /* read before training, so that a bad --predict file or --for node fails at once */
    int64_t *predict_pairs, predict_count; /* --predict: the pairs (node ids) */
    int64_t for_id;                         /* --for: the node id, else -1 */
} app;

/* Epochs on the generated network when --epochs is not given (the paper's 50 otherwise). */
#define DEMO_EPOCHS 3

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gp-linkpred [options] [EDGES]\n"
            "input (default: a generated Watts-Strogatz network, 300 nodes, k=3, p=0.1, seed 1,\n"
            "       trained for 3 epochs unless --epochs is given):\n"
            "  EDGES                  edge list 'u v ...' (labels kept, further columns ignored)\n"
            "                         or .graphml/.gml/.net/.ncol/.lgl/.mtx/.mat (MATLAB, SEAL)\n"
            "  --dataset NAME         link-prediction network of the data directory (USAir, NS, ...)\n"
            "  --data-dir DIR         data directory (default $GP_DATA_DIR, ...)\n"
            "  --one-based            EDGES has integer ids starting at 1 (default: ids are labels)\n"
            "  --header, --no-header  EDGES's first line holds column names (skipped), or does not;\n"
            "                         default: skipped when a column is a number on the second\n"
            "                         line but not on the first ('source,target,weight')\n"
            "  --features FILE        node attributes replacing the constant features: lines\n"
            "                         'NODE x1 ... xd' (NODE as in EDGES; ids for --dataset), or a\n"
            "                         Matrix Market .mtx file (row i = node i); a first line of\n"
            "                         column names is skipped\n"
            "split:\n"
            "  --split K              with --dataset: the fixed split K (1..10)\n"
            "  --test-percent P       10 (default) or 50, for --split\n"
            "  --split-file FILE      fixed split, lines '<part> u v' (node labels as in EDGES;\n"
            "                         0-based ids for --dataset / generated, 1-based with --one-based),\n"
            "                         or WalkPool's FILE.mat (train_pos, ... of 1-based ids)\n"
            "  --test-ratio R         random split: test fraction (0.1)\n"
            "  --val-ratio R          validation fraction (0.05; of the training pairs for fixed splits)\n"
            "  --seed S               split, weights, shuffling (1)\n"
            "method:\n"
            "  --method NAME          walkpool (default) or cn, jaccard, aa, ra, pa, katz, ppr, svd\n"
            "  --compare[=LIST]       walkpool against the heuristics of LIST (comma separated;\n"
            "                         default: all) on the same split (a heuristic's val_auc is\n"
            "                         scored on the training edges alone, its test_auc on\n"
            "                         training + validation edges)\n"
            "walkpool (defaults = the paper):\n"
            "  --epochs N (50) --lr X (5e-5) --batch-size N (32) --hops N (2; --dataset Power: 3)\n"
            "  --max-nodes-per-hop N (0 = no cap; --dataset PB, Ecoli: 100, as in the paper)\n"
            "  --hidden N (32) --heads N (2) --walk-len N (7)\n"
            "  --layers N (2 GCN) --dropout P (0.5) --drnl (DRNL label embedding) --bce (BCE loss)\n"
            "  --torch-init           start the attention MLPs and the classifier as PyTorch's\n"
            "                         nn.Linear does in the reference code (default: Glorot, zero bias)\n"
            "  --threads N (1)\n"
            "  --save-model FILE      save the trained model (best validation epoch)\n"
            "  --resume FILE          save the training state to FILE after every epoch; if FILE\n"
            "                         holds the state of this run (same data, split, options and\n"
            "                         threads; --epochs may be larger), continue after its epoch:\n"
            "                         a stopped run ends with the numbers of an uninterrupted one\n"
            "  --curve FILE           learning curve: per epoch loss, validation and test AUC/AP\n"
            "                         (the test part scored at every epoch; the reported result is\n"
            "                         still the one at the best validation epoch, and unchanged)\n"
            "  --load-model FILE      use a saved model instead of training\n"
            "output:\n"
            "  --predict PAIRS        score the node pairs of the file (two labels per line; a first\n"
            "                         line naming no node, e.g. 'source,target', is skipped)\n"
            "  --recommend K          the K most likely missing links\n"
            "  --for NODE             with --recommend: links of this node only\n"
            "  --max-candidates N     --recommend candidate pairs scored at most (200000)\n"
            "  --output FILE          predictions / recommendations to FILE instead of stdout\n"
            "  --json                 results as JSON\n"
            "  --quiet                no progress on stderr\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* App-level error message (library errors use gp_last_error_message()). */
static char app_err[512];

static gp_status app_error(gp_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static gp_status app_error(gp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(app_err, sizeof app_err, fmt, ap);
    va_end(ap);
    return st;
}

/* "gp-linkpred: WHAT: message", without WHAT when the message already starts with it (a path:
 * "f.txt:5: ...", possibly after the library's C location "io_edgelist.c:151: "). */
static int fail(const char *what)
{
    const char *msg = app_err[0] ? app_err : gp_last_error_message(), *m = msg, *sp = strchr(msg, ' ');
    const char *c = strstr(msg, ".c:");
    if (sp && c && c < sp && sp[-1] == ':') m = sp + 1;
    size_t n = strlen(what);
    if (strncmp(m, what, n) == 0 && m[n] == ':') fprintf(stderr, "gp-linkpred: %s\n", msg);
    else fprintf(stderr, "gp-linkpred: %s: %s\n", what, msg);
    return 1;
}

/* ---- node labels ---- */
static void node_label(char *buf, size_t size, const app *a, int64_t id)
{
    const char *l = a->ids ? gp_idmap_label(a->ids, id) : NULL;
    if (l) snprintf(buf, size, "%s", l);
    else snprintf(buf, size, "%lld", (long long)(id + (a->one_based ? 1 : 0)));
}

static int64_t node_lookup(const app *a, const char *label)
{
    if (a->ids) return gp_idmap_find(a->ids, label);
    char *end;
    errno = 0;
    long long v = strtoll(label, &end, 10);
    if (errno || *end || end == label) return -1;
    v -= a->one_based ? 1 : 0;
    return v >= 0 && v < gp_graph_nodes(a->g) ? v : -1;
}

/* SHA-256 of the graph structure (CSR), identifying the data a model was trained on. */
static void graph_sha(char hex[65], const gp_graph *g)
{
    gp_sha256 s;
    gp_sha256_init(&s);
    gp_sha256_update(&s, &g->adj.rows, sizeof g->adj.rows);
    gp_sha256_update(&s, g->adj.ptr, (size_t)(g->adj.rows + 1) * sizeof(int64_t));
    gp_sha256_update(&s, g->adj.idx, (size_t)g->adj.nnz * sizeof(int64_t));
    uint8_t d[32];
    gp_sha256_final(&s, d);
    gp_sha256_hex(hex, d);
}

/* A usual name of an edge list's first two columns (case ignored): a first "edge" between two
 * of them is more likely a header that the automatic rule could not see. */
static bool column_name(const char *s)
{
    static const char *const names[] = {"source", "target", "src", "dst", "from", "to", "node1", "node2",
                                        "node_1", "node_2", "id1", "id2", "head", "tail", "u", "v",
                                        "sender", "receiver", "start", "end"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(s, names[i]) == 0) return true;
    return false;
}

/* A plain edge list into a->g (and a->ids with GP_READ_LABELS). Columns after 'u v' (a weight,
 * a timestamp) are read over: the model uses the links only, and says so on stderr. */
static gp_status read_plain_edges(app *a, const gp_edgelist_options *eo)
{
    gp_edgelist *e = NULL;
    gp_status st = gp_edgelist_read(&e, a->edges, eo);
    if (st != GP_OK) return st;
    st = gp_graph_from_edges(&a->g, e->num_nodes, e->count, e->src, e->dst, NULL, GP_EDGES_SYMMETRISE);
    if (st == GP_OK && (eo->flags & GP_READ_LABELS)) {
        a->ids = e->ids;
        e->ids = NULL;
    }
    if (st == GP_OK && e->header_line > 0 && !a->quiet)
        fprintf(stderr, "gp-linkpred: %s: line %lld holds column names: skipped (--no-header reads it as "
                        "an edge)\n", a->edges, (long long)e->header_line);
    if (st == GP_OK && e->first_extra_column_line > 0 && !a->quiet)
        fprintf(stderr, "gp-linkpred: %s: columns after 'u v' (from line %lld) are ignored: the links are "
                        "unweighted\n", a->edges, (long long)e->first_extra_column_line);
    if (st == GP_OK && a->ids && a->header == HEADER_AUTO && !e->header_line && e->count > 0 && !a->quiet &&
        column_name(gp_idmap_label(a->ids, e->src[0])) && column_name(gp_idmap_label(a->ids, e->dst[0])))
        fprintf(stderr, "gp-linkpred: %s: the first edge joins nodes '%s' and '%s': if that line holds "
                        "column names, give --header\n", a->edges, gp_idmap_label(a->ids, e->src[0]),
                gp_idmap_label(a->ids, e->dst[0]));
    gp_edgelist_free(&e);
    return st;
}

/* Is EDGES a plain edge list (read by gp_edgelist_read, labels kept), not a format of its own? */
static bool plain_edge_list(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *exts[] = {".graphml", ".gml", ".net", ".paj", ".ncol", ".lgl", ".mtx", ".mat"};
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (dot && strstr(path, exts[i])) return false;
    return true;
}

static gp_status load_graph(app *a)
{
    gp_status st;
    if (a->dataset) {
        char *dir = NULL;
        if ((st = gp_data_dir(&dir, a->data_dir)) != GP_OK) return st;
        st = gp_data_read_linkpred(&a->g, dir, a->dataset);
        gp_free(dir);
        snprintf(a->name, sizeof a->name, "%s", a->dataset);
    } else if (a->edges) {
        gp_graph_format fmt = GP_FORMAT_AUTO;
        bool plain = plain_edge_list(a->edges);
        gp_edgelist_options eo = {0};
        eo.self_loops = GP_LOOP_DROP;
        if (plain) { /* node labels kept (with or without --split-file), unless --one-based */
            eo.flags = (a->one_based ? GP_READ_ONE_BASED : GP_READ_LABELS) | GP_READ_EXTRA_COLUMNS;
            eo.flags |= a->header == HEADER_YES ? GP_READ_HEADER : a->header == HEADER_AUTO ? GP_READ_HEADER_AUTO : 0;
            st = read_plain_edges(a, &eo);
        } else {
            if (a->one_based) eo.flags |= GP_READ_ONE_BASED;
            st = gp_graph_read_format(&a->g, a->edges, fmt, &eo);
        }
        const char *base = strrchr(a->edges, '/');
        snprintf(a->name, sizeof a->name, "%s", base ? base + 1 : a->edges);
    } else {
        st = gp_gen_watts_strogatz(&a->g, 300, 3, 0.1, 1);
        snprintf(a->name, sizeof a->name, "watts-strogatz(n=300,k=3,p=0.1,seed=1)");
    }
    if (st != GP_OK) return st;
    if (!a->g->symmetric) return app_error(GP_E_INVALID, "the graph must be undirected");
    if (gp_graph_edges(a->g) == 0)
        return app_error(GP_E_PARSE, "no edges between two different nodes (self-loops are dropped)");
    graph_sha(a->sha, a->g);
    return GP_OK;
}

/* Fields of a text line separated by blanks or a comma with optional blanks (io.h's rules);
 * returns the count (at most max), 0 for blank and comment lines. A UTF-8 byte-order mark at
 * the start of the line (a file's first line, from a spreadsheet) is not part of a field, as in
 * the library's readers. */
static int split_fields(char *line, char **f, int max)
{
    char *p = line;
    if (memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || *p == '\n' || *p == '\r' || *p == '#' || *p == '%') return 0;
    int n = 0;
    for (char *t = strtok(p, " \t,\r\n"); t; t = strtok(NULL, " \t,\r\n")) {
        if (n == max) return max + 1;
        f[n++] = t;
    }
    return n;
}

/* The parts of a --split-file, in gp_link_split order. */
static const char *const link_parts[GP_LINK_PARTS] = {"train_pos", "train_neg", "val_pos",
                                                      "val_neg", "test_pos", "test_neg"};

/* Node pairs from a text file, one a line: "u v" (--predict), or "<part> u v" with with_part
 * (--split-file; part one of link_parts). Fields as split_fields reads them: blank lines and
 * lines starting with # or % are skipped. Nodes are named by the input's labels through the id
 * map, or by number (node_lookup: --one-based, range checked). A first data line whose fields
 * are all unknown (no part, no node: "source,target") is a header: skipped, said on stderr.
 * On success *rows holds *count rows {u, v}, or {part, u, v}, in file order (the caller frees
 * it). Errors give file:line: a wrong number of fields, an unknown part, an unknown or
 * out-of-range node, a self-loop. */
static gp_status read_pair_file(int64_t **rows, int64_t *count, const app *a, const char *path, bool with_part)
{
    const int width = with_part ? 3 : 2;
    *rows = NULL;
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f) return app_error(GP_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    int64_t cap = 1024, n = 0;
    int64_t *r = malloc((size_t)(width * cap) * sizeof(int64_t));
    gp_status st = r ? GP_OK : app_error(GP_E_NOMEM, "out of memory");
    char line[8192];
    long lineno = 0;
    bool first = true;
    while (st == GP_OK && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) { /* the rest would be read as another line */
            st = app_error(GP_E_PARSE, "%s:%ld: line longer than %zu bytes", path, lineno, sizeof line - 2);
            break;
        }
        char *fl[3];
        int nf = split_fields(line, fl, width);
        if (nf == 0) continue;
        if (nf != width) {
            st = app_error(GP_E_PARSE, "%s:%ld: expected %s", path, lineno,
                           with_part ? "'<part> u v'" : "two node labels");
            break;
        }
        int part = -1;
        if (with_part)
            for (int i = 0; i < GP_LINK_PARTS; i++)
                if (strcmp(fl[0], link_parts[i]) == 0) part = i;
        const char *lu = fl[width - 2], *lv = fl[width - 1];
        int64_t u = node_lookup(a, lu), v = node_lookup(a, lv);
        bool header = first && u < 0 && v < 0 && (!with_part || part < 0);
        first = false;
        if (header) {
            if (!a->quiet)
                fprintf(stderr, "gp-linkpred: %s: line %ld names no node%s: read as column names and skipped\n",
                        path, lineno, with_part ? " and no part" : "");
            continue;
        }
        if (with_part) {
            if (part < 0) {
                st = app_error(GP_E_PARSE, "%s:%ld: unknown part '%s' (expected train_pos, train_neg, val_pos, "
                               "val_neg, test_pos or test_neg)", path, lineno, fl[0]);
                break;
            }
        }
        if (u < 0 || v < 0) {
            st = app_error(GP_E_RANGE, "%s:%ld: unknown node '%s'", path, lineno, u < 0 ? lu : lv);
            break;
        }
        if (u == v) {
            st = app_error(GP_E_PARSE, "%s:%ld: pair %s %s is a self-loop", path, lineno, lu, lv);
            break;
        }
        if (n == cap) {
            cap *= 2;
            int64_t *nr = realloc(r, (size_t)(width * cap) * sizeof(int64_t));
            if (!nr) {
                st = app_error(GP_E_NOMEM, "out of memory");
                break;
            }
            r = nr;
        }
        int64_t *row = r + width * n++;
        if (with_part) *row++ = part;
        row[0] = u;
        row[1] = v;
    }
    if (st == GP_OK && ferror(f)) st = app_error(GP_E_IO, "%s: read error (%s)", path, strerror(errno));
    fclose(f);
    if (st != GP_OK) {
        free(r);
        return st;
    }
    *rows = r;
    *count = n;
    return GP_OK;
}

/* A split file whose pairs name nodes as the edge list does (its labels, a->ids, or with
 * --one-based its 1-based ids); each pair is stored as (min, max). */
static gp_status read_labelled_split(gp_link_split **out, const app *a)
{
    *out = NULL;
    int64_t *rows = NULL, total = 0, count[GP_LINK_PARTS] = {0};
    gp_status st = read_pair_file(&rows, &total, a, a->split_file, true);
    if (st == GP_OK && total == 0) st = app_error(GP_E_PARSE, "%s: empty file (no pairs)", a->split_file);
    if (st == GP_OK) {
        for (int64_t i = 0; i < total; i++) count[rows[3 * i]]++;
        st = gp_link_split_new(out, gp_graph_nodes(a->g), count);
    }
    if (st == GP_OK) {
        int64_t fill[GP_LINK_PARTS] = {0};
        for (int64_t i = 0; i < total; i++) {
            int64_t p = rows[3 * i], u = rows[3 * i + 1], v = rows[3 * i + 2], k = fill[p]++;
            (*out)->pairs[p][2 * k] = u < v ? u : v;
            (*out)->pairs[p][2 * k + 1] = u < v ? v : u;
        }
    }
    free(rows);
    return st;
}

/* --features: "NODE x1 ... xd" lines (every node once, d the same on every line; a first line
 * of column names is skipped), or a Matrix Market file whose row i is node i. */
static gp_status load_features(app *a)
{
    int64_t n = gp_graph_nodes(a->g);
    const char *path = a->features;
    size_t len = strlen(path);
    if ((len > 4 && strcmp(path + len - 4, ".mtx") == 0) || (len > 7 && strcmp(path + len - 7, ".mtx.gz") == 0)) {
        gp_csr *x = NULL;
        gp_status st = gp_csr_read_mtx(&x, path);
        if (st != GP_OK) return st;
        if (x->rows != n || x->cols < 1) {
            st = app_error(GP_E_SHAPE, "%s: %lld x %lld matrix, the graph has %lld nodes", path, (long long)x->rows,
                           (long long)x->cols, (long long)n);
            gp_csr_free(&x);
            return st;
        }
        a->attr_dim = x->cols;
        a->attr = calloc((size_t)(n * x->cols), sizeof(float));
        if (!a->attr) {
            gp_csr_free(&x);
            return app_error(GP_E_NOMEM, "out of memory");
        }
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = x->ptr[i]; k < x->ptr[i + 1]; k++)
                a->attr[i * x->cols + x->idx[k]] = x->val ? x->val[k] : 1.0f;
        gp_csr_free(&x);
        return GP_OK;
    }
    FILE *f = fopen(path, "r");
    if (!f) return app_error(GP_E_IO, "%s: cannot open (%s)", path, strerror(errno));
    size_t lsize = 1 << 16;
    char *line = malloc(lsize);
    char **fl = malloc(4097 * sizeof(char *));
    unsigned char *seen = calloc((size_t)(n > 0 ? n : 1), 1);
    gp_status st = line && fl && seen ? GP_OK : app_error(GP_E_NOMEM, "out of memory");
    long lineno = 0;
    int64_t rows = 0;
    while (st == GP_OK && fgets(line, (int)lsize, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            st = app_error(GP_E_PARSE, "%s:%ld: line longer than %zu bytes", path, lineno, lsize - 1);
            break;
        }
        int nf = split_fields(line, fl, 4096);
        if (nf == 0) continue;
        if (nf > 4096) {
            st = app_error(GP_E_UNSUPPORTED, "%s:%ld: more than 4095 features", path, lineno);
            break;
        }
        if (nf < 2) {
            st = app_error(GP_E_PARSE, "%s:%ld: expected 'NODE x1 ... xd'", path, lineno);
            break;
        }
        int64_t id = node_lookup(a, fl[0]);
        if (!a->attr && id < 0) { /* a first line of column names ("node,x1,x2"): no node, no number */
            bool names = true;
            for (int j = 1; j < nf && names; j++) {
                char *end;
                (void)strtod(fl[j], &end);
                names = end == fl[j] || *end;
            }
            if (names) {
                if (!a->quiet)
                    fprintf(stderr, "gp-linkpred: %s: line %ld names no node and holds no number: read as column "
                                    "names and skipped\n", path, lineno);
                continue;
            }
        }
        if (!a->attr) {
            a->attr_dim = nf - 1;
            a->attr = calloc((size_t)(n > 0 ? n : 1) * (size_t)a->attr_dim, sizeof(float));
            if (!a->attr) {
                st = app_error(GP_E_NOMEM, "out of memory");
                break;
            }
        } else if (nf - 1 != a->attr_dim) {
            st = app_error(GP_E_PARSE, "%s:%ld: %d features, the first line had %lld", path, lineno, nf - 1,
                           (long long)a->attr_dim);
            break;
        }
        if (id < 0) {
            st = app_error(GP_E_RANGE, "%s:%ld: unknown node '%s'", path, lineno, fl[0]);
            break;
        }
        if (seen[id]) {
            st = app_error(GP_E_PARSE, "%s:%ld: node '%s' has a second line", path, lineno, fl[0]);
            break;
        }
        seen[id] = 1;
        rows++;
        for (int j = 1; j < nf; j++) {
            char *end;
            errno = 0;
            double v = strtod(fl[j], &end);
            if (errno || end == fl[j] || *end || !isfinite(v) || fabs(v) > FLT_MAX) { /* finite as a float */
                st = app_error(GP_E_PARSE, "%s:%ld: bad number '%s' in column %d", path, lineno, fl[j], j + 1);
                break;
            }
            a->attr[id * a->attr_dim + j - 1] = (float)v;
        }
    }
    if (st == GP_OK && ferror(f)) st = app_error(GP_E_IO, "%s: read error (%s)", path, strerror(errno));
    if (st == GP_OK && rows < n) {
        int64_t miss = 0;
        while (seen[miss]) miss++;
        char lab[256];
        node_label(lab, sizeof lab, a, miss);
        st = app_error(GP_E_PARSE, "%s: %lld of %lld nodes have no features (first: '%s')", path,
                       (long long)(n - rows), (long long)n, lab);
    }
    fclose(f);
    free(line);
    free(fl);
    free(seen);
    return st;
}

static bool has_edge(const gp_graph *g, int64_t u, int64_t v);

/* A --split-file must agree with the graph: training and validation positives are edges of it
 * (the observed graph is built from them), negatives are not. (Test positives are not checked:
 * EDGES may be the training graph alone.) */
static gp_status check_split_edges(const app *a, const gp_link_split *s)
{
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        bool pos = p == GP_LINK_TRAIN_POS || p == GP_LINK_VAL_POS;
        if (p == GP_LINK_TEST_POS) continue;
        for (int64_t k = 0; k < s->count[p]; k++) {
            int64_t u = s->pairs[p][2 * k], v = s->pairs[p][2 * k + 1];
            if (has_edge(a->g, u, v) == pos) continue;
            char lu[256], lv[256];
            node_label(lu, sizeof lu, a, u);
            node_label(lv, sizeof lv, a, v);
            return app_error(GP_E_INVALID, "%s: %s pair %s %s is %s edge of the graph", a->split_file, link_parts[p],
                             lu, lv, pos ? "not an" : "an");
        }
    }
    return GP_OK;
}

static gp_status make_split(gp_link_split **out, app *a)
{
    gp_status st;
    if (a->split_file || a->split_k > 0) {
        size_t n = a->split_file ? strlen(a->split_file) : 0;
        bool mat = n > 4 && !strcasecmp(a->split_file + n - 4, ".mat"); /* 1-based ids of its own */
        if (a->split_file && !mat && (a->ids || a->one_based)) { /* labels, or 1-based ids as in EDGES */
            st = read_labelled_split(out, a);
        } else if (a->split_file) {
            st = gp_link_split_read(out, a->split_file, gp_graph_nodes(a->g));
        } else {
            char *dir = NULL;
            if ((st = gp_data_dir(&dir, a->data_dir)) != GP_OK) return st;
            st = gp_data_read_linkpred_split(out, dir, a->dataset, a->test_percent, a->split_k);
            gp_free(dir);
        }
        if (st != GP_OK) return st;
        if (a->split_file && (st = check_split_edges(a, *out)) != GP_OK) return st;
        if ((*out)->count[GP_LINK_VAL_POS] == 0 && a->val_ratio > 0.0)
            st = gp_link_split_move_to_val(*out, a->val_ratio, a->lp.seed);
    } else {
        st = gp_link_split_random(out, a->g, a->val_ratio, a->test_ratio, GP_NEG_AVOID_ALL_EDGES, a->lp.seed);
    }
    /* no test pairs: every reported number would be NaN (allowed when the run is for --predict or
     * --recommend: training on every edge, no evaluation) */
    bool for_output = a->predict || a->recommend > 0;
    if (st == GP_OK && !for_output &&
        ((*out)->count[GP_LINK_TEST_POS] == 0 || (*out)->count[GP_LINK_TEST_NEG] == 0))
        st = app_error(GP_E_INVALID, "%s%sno test pairs (%lld positives, %lld negatives)%s", a->split_file ? a->split_file : "",
                       a->split_file ? ": " : "", (long long)(*out)->count[GP_LINK_TEST_POS],
                       (long long)(*out)->count[GP_LINK_TEST_NEG],
                       a->split_file || a->split_k > 0 ? "" : ": too few edges for --test-ratio");
    return st;
}

typedef struct method_result {
    char name[32];
    double test_auc, test_ap, val_auc, val_ap, seconds;
    int best_epoch;
    bool is_walkpool;
    gp_linkpred_result lr;
} method_result;

static gp_status heuristic_part_auc(double *auc, double *ap, const gp_heuristic_info *h, const gp_graph *obs,
                                    const gp_link_split *s, gp_link_part pos, gp_link_part neg)
{
    *auc = *ap = NAN;
    int64_t np = s->count[pos], nn = s->count[neg];
    if (np == 0 || nn == 0) return GP_OK;
    double *sc = malloc((size_t)(np + nn) * sizeof(double));
    if (!sc) return app_error(GP_E_NOMEM, "out of memory");
    gp_status st = h->fn(sc, obs, np, s->pairs[pos], NULL);
    if (st == GP_OK) st = h->fn(sc + np, obs, nn, s->pairs[neg], NULL);
    if (st == GP_OK) st = gp_roc_auc_pn(auc, np, sc, nn, sc + np);
    if (st == GP_OK) st = gp_average_precision_pn(ap, np, sc, nn, sc + np);
    free(sc);
    return st;
}

/* ---- output files (app_output.c: written whole or not at all) ---- */
static gp_status out_open(app_output *o, const char *path)
{
    int e = app_output_open(o, path);
    return e ? app_error(GP_E_IO, "%s: cannot write (%s)", path, strerror(e)) : GP_OK;
}

static gp_status out_close(app_output *o, bool ok)
{
    int e = app_output_close(o, ok);
    return e ? app_error(GP_E_IO, "%s: write failed (%s)", o->path, strerror(e)) : GP_OK;
}

static void progress_line(const gp_linkpred_epoch *e, void *user)
{
    app *a = user;
    char test[32] = "     -"; /* the test part is scored at new best epochs only (without --curve) */
    if (!isnan(e->test_auc)) snprintf(test, sizeof test, "%.4f", e->test_auc);
    if (a->curve_f) {
        fprintf(a->curve_f, "%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%d\t%.3f\n", e->epoch, e->loss, e->val_auc,
                e->val_ap, e->test_auc, e->test_ap, e->best ? 1 : 0, e->seconds);
        fflush(a->curve_f); /* FILE.tmp-* can be followed while training */
    }
    if (a->quiet) return;
    /* time left at the mean pace of the epochs trained in this run */
    a->progress_seconds += e->seconds;
    a->progress_epochs++;
    double left = (e->epochs - e->epoch) * (a->progress_seconds / a->progress_epochs);
    char eta[48] = "", dur[32];
    if (e->epoch < e->epochs) {
        app_duration(dur, sizeof dur, left);
        snprintf(eta, sizeof eta, "  ~%s left", dur);
    }
    /* on a terminal the line is rewritten in place: the time left in a fixed width and blanks
     * after it, so a shorter line (the last epoch has no time left) leaves nothing behind */
    fprintf(stderr, "%sepoch %3d/%d  loss %.4f  val auc %.4f  test auc %s  %.2fs%s%-*s%s", a->tty ? "\r" : "",
            e->epoch, e->epochs, e->loss, e->val_auc, test, e->seconds, e->best ? " *" : "  ", a->tty ? 20 : 0, eta,
            a->tty ? "   " : "\n");
    if (a->tty && e->epoch == e->epochs) fputc('\n', stderr);
    /* a long run on big subgraphs: say once what bounds them */
    if (a->progress_epochs == 1 && left > 1800 && e->mean_nodes > 200 && a->lp.max_nodes_per_hop == 0)
        fprintf(stderr, "%sgp-linkpred: about %.1f h left, subgraphs of %.0f nodes on average: --max-nodes-per-hop "
                "100 bounds them (the paper's setting for its densest networks, PB and Ecoli)\n", a->tty ? "\n" : "",
                left / 3600.0, e->mean_nodes);
    fflush(stderr);
}

static gp_status run_walkpool(method_result *r, app *a, gp_linkpred_model **model, const gp_graph *obs,
                              const gp_link_split *s)
{
    gp_status st;
    snprintf(r->name, sizeof r->name, "walkpool");
    r->is_walkpool = true;
    double t0 = now_s();
    if (*model) { /* loaded: evaluate only */
        int64_t np = s->count[GP_LINK_TEST_POS], nn = s->count[GP_LINK_TEST_NEG];
        r->test_auc = r->test_ap = r->val_auc = r->val_ap = NAN;
        if (np > 0 && nn > 0) {
            int64_t *pairs = malloc((size_t)(2 * (np + nn)) * sizeof(int64_t));
            double *sc = malloc((size_t)(np + nn) * sizeof(double));
            if (!pairs || !sc) {
                free(pairs);
                free(sc);
                return app_error(GP_E_NOMEM, "out of memory");
            }
            memcpy(pairs, s->pairs[GP_LINK_TEST_POS], (size_t)(2 * np) * sizeof(int64_t));
            memcpy(pairs + 2 * np, s->pairs[GP_LINK_TEST_NEG], (size_t)(2 * nn) * sizeof(int64_t));
            st = gp_linkpred_predict(sc, *model, obs, np + nn, pairs, a->attr);
            if (st == GP_OK) st = gp_roc_auc_pn(&r->test_auc, np, sc, nn, sc + np);
            if (st == GP_OK) st = gp_average_precision_pn(&r->test_ap, np, sc, nn, sc + np);
            free(pairs);
            free(sc);
            if (st != GP_OK) return st;
        }
        r->seconds = now_s() - t0;
        return GP_OK;
    }
    a->lp.test_every_epoch = a->curve != NULL;
    if ((st = gp_linkpred_model_new(model, &a->lp, a->attr_dim)) != GP_OK) return st;
    app_output curve = {0};
    if (a->curve) {
        if ((st = out_open(&curve, a->curve)) != GP_OK) return st;
        fprintf(curve.f, "epoch\tloss\tval_auc\tval_ap\ttest_auc\ttest_ap\tbest\tseconds\n");
        a->curve_f = curve.f;
    }
    st = a->resume ? gp_linkpred_fit_resumable(&r->lr, *model, obs, s, a->attr, progress_line, a, a->resume)
                   : gp_linkpred_fit(&r->lr, *model, obs, s, a->attr, progress_line, a);
    a->curve_f = NULL;
    gp_status cst = out_close(&curve, st == GP_OK);
    if (st == GP_OK) st = cst;
    if (st != GP_OK) return st;
    r->test_auc = r->lr.test_auc;
    r->test_ap = r->lr.test_ap;
    r->val_auc = r->lr.val_auc;
    r->val_ap = r->lr.val_ap;
    r->best_epoch = r->lr.best_epoch;
    r->seconds = now_s() - t0;
    if (!a->quiet && r->lr.resumed_epochs > 0)
        fprintf(stderr, "walkpool: continued from %s after epoch %d (epochs 1-%d were trained before)\n", a->resume,
                r->lr.resumed_epochs, r->lr.resumed_epochs);
    if (!a->quiet)
        fprintf(stderr,
                "walkpool: %lld subgraphs (mean %.1f nodes, %.1f edges), extraction %.2fs; per epoch %.2fs "
                "(encoder %.2fs, walk profile %.2fs, classifier %.2fs, batching %.2fs over all epochs)\n",
                (long long)r->lr.subgraphs, r->lr.mean_nodes, r->lr.mean_edges, r->lr.extract_seconds,
                r->lr.epoch_seconds, r->lr.encoder_seconds, r->lr.walk_seconds, r->lr.classifier_seconds,
                r->lr.batch_seconds);
    return GP_OK;
}

/* Score pairs with the chosen method on the full graph. */
static gp_status score_pairs(double *sc, app *a, gp_linkpred_model *model, const gp_heuristic_info *h,
                             int64_t count, const int64_t *pairs)
{
    if (count == 0) return GP_OK;
    if (h) return h->fn(sc, a->g, count, pairs, NULL);
    return gp_linkpred_predict(sc, model, a->g, count, pairs, a->attr);
}

static bool has_edge(const gp_graph *g, int64_t u, int64_t v)
{
    int64_t lo = g->adj.ptr[v], hi = g->adj.ptr[v + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (g->adj.idx[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo < g->adj.ptr[v + 1] && g->adj.idx[lo] == u;
}

/* The labels of nodes u and v (size bytes each), JSON-escaped when the output is JSON. */
static void pair_labels(char *lu, char *lv, size_t size, const app *a, int64_t u, int64_t v)
{
    node_label(lu, size, a, u);
    node_label(lv, size, a, v);
    if (!a->json) return;
    char tmp[256];
    app_json_escape(tmp, sizeof tmp, lu);
    snprintf(lu, size, "%s", tmp);
    app_json_escape(tmp, sizeof tmp, lv);
    snprintf(lv, size, "%s", tmp);
}

static gp_status do_predict(app *a, gp_linkpred_model *model, const gp_heuristic_info *h)
{
    const int64_t *pairs = a->predict_pairs, count = a->predict_count;
    gp_status st = GP_OK;
    double *sc = malloc((size_t)(count + 1) * sizeof(double));
    if (!sc) st = app_error(GP_E_NOMEM, "out of memory");
    if (st == GP_OK) st = score_pairs(sc, a, model, h, count, pairs);
    app_output o = {0};
    if (st == GP_OK) st = out_open(&o, a->output);
    if (st == GP_OK) {
        char lu[256], lv[256];
        if (a->json) fprintf(o.f, "{\"predictions\": [");
        for (int64_t i = 0; i < count; i++) {
            pair_labels(lu, lv, sizeof lu, a, pairs[2 * i], pairs[2 * i + 1]);
            bool e = has_edge(a->g, pairs[2 * i], pairs[2 * i + 1]);
            if (a->json)
                fprintf(o.f, "%s{\"u\": \"%s\", \"v\": \"%s\", \"score\": %.6g, \"edge\": %s}", i ? ", " : "", lu, lv,
                        sc[i], e ? "true" : "false");
            else fprintf(o.f, "%s\t%s\t%.6g%s\n", lu, lv, sc[i], e ? "\t(existing edge)" : "");
        }
        if (a->json) fprintf(o.f, "]}\n");
        st = out_close(&o, true);
    }
    free(sc);
    return st;
}

typedef struct cand {
    int64_t u, v, cn;
    double score;
} cand;

static int cmp_cn_desc(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->cn != b->cn) return a->cn > b->cn ? -1 : 1;
    if (a->u != b->u) return a->u < b->u ? -1 : 1;
    return a->v < b->v ? -1 : (a->v > b->v);
}

static int cmp_score_desc(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->u != b->u) return a->u < b->u ? -1 : 1;
    return a->v < b->v ? -1 : (a->v > b->v);
}

/* Non-adjacent pairs at distance 2 (u < v, or (node, v) with --for), with their common
 * neighbour counts. */
static gp_status recommend_candidates(cand **out, int64_t *count, const app *a, int64_t only)
{
    const gp_graph *g = a->g;
    int64_t n = gp_graph_nodes(g), cap = 1024, c = 0;
    cand *cs = malloc((size_t)cap * sizeof(cand));
    int64_t *mark = malloc((size_t)n * sizeof(int64_t)), *cnt = calloc((size_t)n, sizeof(int64_t));
    int64_t *touched = malloc((size_t)n * sizeof(int64_t));
    if (!cs || !mark || !cnt || !touched) {
        free(cs);
        free(mark);
        free(cnt);
        free(touched);
        return app_error(GP_E_NOMEM, "out of memory");
    }
    for (int64_t v = 0; v < n; v++) mark[v] = -1;
    for (int64_t u = only >= 0 ? only : 0; u < (only >= 0 ? only + 1 : n); u++) {
        int64_t nt = 0;
        for (int64_t k = g->adj.ptr[u]; k < g->adj.ptr[u + 1]; k++) mark[g->adj.idx[k]] = u;
        for (int64_t k = g->adj.ptr[u]; k < g->adj.ptr[u + 1]; k++) {
            int64_t w = g->adj.idx[k];
            for (int64_t k2 = g->adj.ptr[w]; k2 < g->adj.ptr[w + 1]; k2++) {
                int64_t v = g->adj.idx[k2];
                if (v == u || mark[v] == u || (only < 0 && v < u)) continue;
                if (cnt[v]++ == 0) touched[nt++] = v;
            }
        }
        for (int64_t i = 0; i < nt; i++) {
            int64_t v = touched[i];
            if (c == cap) {
                cap *= 2;
                cand *nc = realloc(cs, (size_t)cap * sizeof(cand));
                if (!nc) {
                    free(cs);
                    free(mark);
                    free(cnt);
                    free(touched);
                    return app_error(GP_E_NOMEM, "out of memory");
                }
                cs = nc;
            }
            cs[c++] = (cand){u, v, cnt[v], 0.0};
            cnt[v] = 0;
        }
    }
    free(mark);
    free(cnt);
    free(touched);
    *out = cs;
    *count = c;
    return GP_OK;
}

static gp_status do_recommend(app *a, gp_linkpred_model *model, const gp_heuristic_info *h)
{
    int64_t only = a->for_id;
    cand *cs = NULL;
    int64_t c = 0;
    gp_status st = recommend_candidates(&cs, &c, a, only);
    if (st != GP_OK) return st;
    if (c > a->max_candidates) {
        qsort(cs, (size_t)c, sizeof(cand), cmp_cn_desc);
        if (!a->quiet)
            fprintf(stderr, "recommend: %lld candidate pairs at distance 2; scoring the %lld with the most common "
                            "neighbours (--max-candidates)\n", (long long)c, (long long)a->max_candidates);
        c = a->max_candidates;
    }
    int64_t *pairs = malloc((size_t)(2 * c + 2) * sizeof(int64_t));
    double *sc = malloc((size_t)(c + 1) * sizeof(double));
    if (!pairs || !sc) st = app_error(GP_E_NOMEM, "out of memory");
    for (int64_t i = 0; st == GP_OK && i < c; i++) {
        pairs[2 * i] = cs[i].u;
        pairs[2 * i + 1] = cs[i].v;
    }
    double t0 = now_s();
    if (st == GP_OK) st = score_pairs(sc, a, model, h, c, pairs);
    if (st == GP_OK && !a->quiet)
        fprintf(stderr, "recommend: scored %lld candidate pairs in %.2fs\n", (long long)c, now_s() - t0);
    for (int64_t i = 0; st == GP_OK && i < c; i++) cs[i].score = sc[i];
    if (st == GP_OK) qsort(cs, (size_t)c, sizeof(cand), cmp_score_desc);
    int64_t k = a->recommend < c ? a->recommend : c;
    app_output o = {0};
    if (st == GP_OK) st = out_open(&o, a->output);
    if (st == GP_OK) {
        char lu[256], lv[256];
        if (a->json) fprintf(o.f, "{\"recommendations\": [");
        for (int64_t i = 0; i < k; i++) {
            pair_labels(lu, lv, sizeof lu, a, cs[i].u, cs[i].v);
            if (a->json)
                fprintf(o.f, "%s{\"rank\": %lld, \"u\": \"%s\", \"v\": \"%s\", \"score\": %.6g, \"common_neighbours\": %lld}",
                        i ? ", " : "", (long long)(i + 1), lu, lv, cs[i].score, (long long)cs[i].cn);
            else fprintf(o.f, "%lld\t%s\t%s\t%.6g\n", (long long)(i + 1), lu, lv, cs[i].score);
        }
        if (a->json) fprintf(o.f, "]}\n");
        st = out_close(&o, true);
    }
    free(cs);
    free(pairs);
    free(sc);
    return st;
}

static void json_num(FILE *f, const char *key, double v, bool comma)
{
    if (isnan(v)) fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
    else fprintf(f, "\"%s\": %.6g%s", key, v, comma ? ", " : "");
}

static void print_results(FILE *f, const app *a, const gp_link_split *s, const method_result *r, int nr)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss_mb = (double)ru.ru_maxrss / 1024.0;
    if (a->json) {
        char name[600];
        app_json_escape(name, sizeof name, a->name);
        fprintf(f, "{\"data\": \"%s\", \"nodes\": %lld, \"edges\": %lld, \"data_sha256\": \"%s\", ", name,
               (long long)gp_graph_nodes(a->g), (long long)(gp_graph_edges(a->g) / 2), a->sha);
        fprintf(f, "\"features\": %lld, ", (long long)a->attr_dim);
        fprintf(f, "\"split\": {\"train\": %lld, \"val\": %lld, \"test\": %lld}, ", (long long)s->count[GP_LINK_TRAIN_POS],
               (long long)s->count[GP_LINK_VAL_POS], (long long)s->count[GP_LINK_TEST_POS]);
        fprintf(f, "\"results\": [");
        for (int i = 0; i < nr; i++) {
            fprintf(f, "%s{\"method\": \"%s\", ", i ? ", " : "", r[i].name);
            json_num(f, "test_auc", r[i].test_auc, true);
            json_num(f, "test_ap", r[i].test_ap, true);
            json_num(f, "val_auc", r[i].val_auc, true);
            if (r[i].is_walkpool && r[i].best_epoch > 0) {
                fprintf(f, "\"best_epoch\": %d, \"resumed_epochs\": %d, ", r[i].best_epoch, r[i].lr.resumed_epochs);
                json_num(f, "extract_seconds", r[i].lr.extract_seconds, true);
                json_num(f, "epoch_seconds", r[i].lr.epoch_seconds, true);
                json_num(f, "epoch_cpu_seconds", r[i].lr.epoch_cpu_seconds, true);
                json_num(f, "batch_seconds", r[i].lr.batch_seconds, true);
                json_num(f, "encoder_seconds", r[i].lr.encoder_seconds, true);
                json_num(f, "walk_seconds", r[i].lr.walk_seconds, true);
                json_num(f, "classifier_seconds", r[i].lr.classifier_seconds, true);
                json_num(f, "encoder_cpu_seconds", r[i].lr.encoder_cpu_seconds, true);
                json_num(f, "walk_cpu_seconds", r[i].lr.walk_cpu_seconds, true);
                json_num(f, "classifier_cpu_seconds", r[i].lr.classifier_cpu_seconds, true);
                json_num(f, "mean_subgraph_nodes", r[i].lr.mean_nodes, true);
            }
            json_num(f, "seconds", r[i].seconds, false);
            fprintf(f, "}");
        }
        fprintf(f, "], \"peak_rss_mb\": %.1f}\n", rss_mb);
        return;
    }
    fprintf(f, "data: %s (%lld nodes, %lld edges)\n", a->name, (long long)gp_graph_nodes(a->g),
           (long long)(gp_graph_edges(a->g) / 2));
    fprintf(f, "split: %lld train, %lld val, %lld test positives (as many negatives)\n",
           (long long)s->count[GP_LINK_TRAIN_POS], (long long)s->count[GP_LINK_VAL_POS],
           (long long)s->count[GP_LINK_TEST_POS]);
    fprintf(f, "%-10s %9s %9s %9s %10s\n", "method", "test_auc", "test_ap", "val_auc", "seconds");
    for (int i = 0; i < nr; i++)
        fprintf(f, "%-10s %9.4f %9.4f %9.4f %10.2f\n", r[i].name, r[i].test_auc, r[i].test_ap, r[i].val_auc, r[i].seconds);
    for (int i = 0; i < nr; i++)
        if (r[i].is_walkpool && r[i].best_epoch > 0)
            fprintf(f, "walkpool: best epoch %d; epoch %.2fs (CPU %.2fs; encoder %.2fs, walk %.2fs, classifier %.2fs in "
                   "total); extraction %.2fs; peak RSS %.0f MB\n",
                   r[i].best_epoch, r[i].lr.epoch_seconds, r[i].lr.epoch_cpu_seconds, r[i].lr.encoder_seconds, r[i].lr.walk_seconds,
                   r[i].lr.classifier_seconds, r[i].lr.extract_seconds, rss_mb);
}

/*
 * The paper's per-network settings, which the reference code forces in its main.py: 3 hops for
 * Power, at most 100 new nodes per hop for PB and E.coli (their 2-hop subgraphs are large: PB
 * split 1 without the cap averages 749 nodes per subgraph against 166 with it). Applied with
 * --dataset NAME unless --hops / --max-nodes-per-hop are given.
 */
static void paper_settings(app *a, bool hops_set, bool cap_set)
{
    /* data set names are matched without regard to case, as the data directory does */
    bool power = !strcasecmp(a->dataset, "Power");
    bool capped = !strcasecmp(a->dataset, "PB") || !strcasecmp(a->dataset, "Ecoli");
    if (power && !hops_set) {
        a->lp.hops = 3;
        if (!a->quiet) fprintf(stderr, "gp-linkpred: %s: 3 hops, as in the paper (--hops N to change)\n", a->dataset);
    }
    if (capped && !cap_set) {
        a->lp.max_nodes_per_hop = 100;
        if (!a->quiet)
            fprintf(stderr, "gp-linkpred: %s: at most 100 new nodes per hop, as in the paper "
                            "(--max-nodes-per-hop 0 for no cap)\n", a->dataset);
    }
}

enum {
    OPT_DATASET = 256, OPT_DATA_DIR, OPT_SPLIT, OPT_TEST_PERCENT, OPT_SPLIT_FILE, OPT_TEST_RATIO, OPT_VAL_RATIO,
    OPT_SEED, OPT_METHOD, OPT_COMPARE, OPT_EPOCHS, OPT_LR, OPT_BATCH, OPT_HOPS, OPT_CAP, OPT_HIDDEN, OPT_HEADS,
    OPT_WALK, OPT_LAYERS, OPT_DROPOUT, OPT_DRNL, OPT_BCE, OPT_TORCH_INIT, OPT_THREADS, OPT_SAVE, OPT_LOAD, OPT_PREDICT,
    OPT_RECOMMEND, OPT_FOR, OPT_MAXCAND, OPT_OUTPUT, OPT_CURVE, OPT_RESUME, OPT_JSON, OPT_QUIET, OPT_ONE_BASED, OPT_HEADER, OPT_NO_HEADER, OPT_FEATURES, OPT_HELP
};

/* The range of the last number option parsed, for the error message. */
static struct {
    double lo, hi;
    bool integer;
} wanted;

static bool parse_number(double *out, const char *s, double lo, double hi, bool integer)
{
    char *end;
    errno = 0;
    wanted.lo = lo, wanted.hi = hi, wanted.integer = integer;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi) || (integer && v != floor(v))) return false;
    if (strpbrk(s, "xX")) return false; /* strtod reads hexadecimal too; the other apps do not */
    *out = v;
    return true;
}

static bool parse_num(double *out, const char *s, double lo, double hi)
{
    return parse_number(out, s, lo, hi, false);
}

static bool parse_count(double *out, const char *s, double lo, double hi)
{
    return parse_number(out, s, lo, hi, true);
}

/* --seed: a decimal integer, digits only (strtoull alone would take "-1", " 7" or "7x"). */
static bool parse_seed(uint64_t *out, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s < '0' || *s > '9' || *end) return false;
    *out = (uint64_t)v;
    return true;
}

int main(int argc, char **argv)
{
    app a;
    memset(&a, 0, sizeof a);
    gp_linkpred_options_default(&a.lp);
    a.test_ratio = 0.1;
    a.val_ratio = 0.05;
    a.test_percent = 10;
    a.max_candidates = 200000;
    a.method = "walkpool";
    int threads = 1;
    bool epochs_set = false, test_ratio_set = false, test_percent_set = false, hops_set = false, cap_set = false;
    static const struct option longopts[] = {
        {"dataset", required_argument, 0, OPT_DATASET}, {"data-dir", required_argument, 0, OPT_DATA_DIR},
        {"split", required_argument, 0, OPT_SPLIT}, {"test-percent", required_argument, 0, OPT_TEST_PERCENT},
        {"split-file", required_argument, 0, OPT_SPLIT_FILE}, {"test-ratio", required_argument, 0, OPT_TEST_RATIO},
        {"val-ratio", required_argument, 0, OPT_VAL_RATIO}, {"seed", required_argument, 0, OPT_SEED},
        {"method", required_argument, 0, OPT_METHOD}, {"compare", optional_argument, 0, OPT_COMPARE},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"lr", required_argument, 0, OPT_LR},
        {"batch-size", required_argument, 0, OPT_BATCH}, {"hops", required_argument, 0, OPT_HOPS},
        {"max-nodes-per-hop", required_argument, 0, OPT_CAP}, {"hidden", required_argument, 0, OPT_HIDDEN},
        {"heads", required_argument, 0, OPT_HEADS}, {"walk-len", required_argument, 0, OPT_WALK},
        {"layers", required_argument, 0, OPT_LAYERS}, {"dropout", required_argument, 0, OPT_DROPOUT},
        {"drnl", no_argument, 0, OPT_DRNL}, {"bce", no_argument, 0, OPT_BCE},
        {"torch-init", no_argument, 0, OPT_TORCH_INIT},
        {"threads", required_argument, 0, OPT_THREADS}, {"save-model", required_argument, 0, OPT_SAVE},
        {"resume", required_argument, 0, OPT_RESUME},
        {"load-model", required_argument, 0, OPT_LOAD}, {"predict", required_argument, 0, OPT_PREDICT},
        {"recommend", required_argument, 0, OPT_RECOMMEND}, {"for", required_argument, 0, OPT_FOR},
        {"max-candidates", required_argument, 0, OPT_MAXCAND}, {"output", required_argument, 0, OPT_OUTPUT},
        {"curve", required_argument, 0, OPT_CURVE},
        {"json", no_argument, 0, OPT_JSON}, {"quiet", no_argument, 0, OPT_QUIET},
        {"one-based", no_argument, 0, OPT_ONE_BASED}, {"header", no_argument, 0, OPT_HEADER},
        {"no-header", no_argument, 0, OPT_NO_HEADER}, {"features", required_argument, 0, OPT_FEATURES},
        {"help", no_argument, 0, OPT_HELP}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1;) {
        double v = 0;
        bool ok = true;
        wanted.lo = 1, wanted.hi = 0; /* no range unless a number option sets one */
        switch (c) {
        case OPT_DATASET: a.dataset = optarg; break;
        case OPT_DATA_DIR: a.data_dir = optarg; break;
        case OPT_SPLIT: ok = parse_count(&v, optarg, 1, 1000); a.split_k = (int)v; break;
        case OPT_TEST_PERCENT:
            ok = parse_num(&v, optarg, 1, 99);
            if (ok && v != 10 && v != 50) {
                fprintf(stderr, "gp-linkpred: --test-percent must be 10 or 50 (the shipped splits), not %s\n", optarg);
                return 2;
            }
            a.test_percent = (int)v;
            test_percent_set = true;
            break;
        case OPT_SPLIT_FILE: a.split_file = optarg; break;
        case OPT_TEST_RATIO: ok = parse_num(&a.test_ratio, optarg, 0, 0.9); test_ratio_set = true; break;
        case OPT_VAL_RATIO: ok = parse_num(&a.val_ratio, optarg, 0, 0.9); break;
        case OPT_SEED: ok = parse_seed(&a.lp.seed, optarg); break;
        case OPT_METHOD: a.method = optarg; break;
        case OPT_COMPARE: a.compare_on = true; a.compare = optarg; break;
        case OPT_EPOCHS: ok = parse_count(&v, optarg, 1, 100000); a.lp.epochs = (int)v; epochs_set = true; break;
        case OPT_LR: ok = parse_num(&v, optarg, 1e-12, 10); a.lp.lr = (float)v; break;
        case OPT_BATCH: ok = parse_count(&v, optarg, 1, 1e6); a.lp.batch_size = (int64_t)v; break;
        case OPT_HOPS: ok = parse_count(&v, optarg, 1, 10); a.lp.hops = (int)v; hops_set = true; break;
        case OPT_CAP: ok = parse_count(&v, optarg, 0, 1e9); a.lp.max_nodes_per_hop = (int64_t)v; cap_set = true; break;
        case OPT_HIDDEN: ok = parse_count(&v, optarg, 1, 4096); a.lp.hidden = (int64_t)v; break;
        case OPT_HEADS: ok = parse_count(&v, optarg, 1, 64); a.lp.heads = (int)v; break;
        case OPT_WALK: ok = parse_count(&v, optarg, 1, 64); a.lp.walk_len = (int)v; break;
        case OPT_LAYERS: ok = parse_count(&v, optarg, 1, 8); a.lp.gnn_layers = (int)v; break;
        case OPT_DROPOUT: ok = parse_num(&v, optarg, 0, 0.99); a.lp.dropout = (float)v; break;
        case OPT_DRNL: a.lp.drnl = true; break;
        case OPT_BCE: a.lp.bce = true; break;
        case OPT_TORCH_INIT: a.lp.torch_init = true; break;
        case OPT_THREADS: ok = parse_count(&v, optarg, 1, 1024); threads = (int)v; break;
        case OPT_SAVE: a.save_model = optarg; break;
        case OPT_RESUME: a.resume = optarg; break;
        case OPT_LOAD: a.load_model = optarg; break;
        case OPT_PREDICT: a.predict = optarg; break;
        case OPT_RECOMMEND: ok = parse_count(&v, optarg, 1, 1e9); a.recommend = (int)v; break;
        case OPT_FOR: a.for_node = optarg; break;
        case OPT_MAXCAND: ok = parse_count(&v, optarg, 1, 1e12); a.max_candidates = (int64_t)v; break;
        case OPT_OUTPUT: a.output = optarg; break;
        case OPT_CURVE: a.curve = optarg; break;
        case OPT_JSON: a.json = true; break;
        case OPT_QUIET: a.quiet = true; break;
        case OPT_ONE_BASED: a.one_based = true; break;
        case OPT_HEADER: a.header = HEADER_YES; break;
        case OPT_NO_HEADER: a.header = HEADER_NO; break;
        case OPT_FEATURES: a.features = optarg; break;
        case 'h': case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            const char *name = "?";
            for (const struct option *l = longopts; l->name; l++)
                if (l->val == c) name = l->name;
            fprintf(stderr, "gp-linkpred: bad value '%s' for --%s", optarg, name);
            if (wanted.lo <= wanted.hi)
                fprintf(stderr, " (%s from %g to %g)", wanted.integer ? "an integer" : "a number", wanted.lo, wanted.hi);
            fputc('\n', stderr);
            return 2;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "gp-linkpred: one input file at most (got '%s' and '%s')\n", argv[optind], argv[optind + 1]);
        return 2;
    }
    if (optind == argc - 1) a.edges = argv[optind];
    if (a.dataset) paper_settings(&a, hops_set, cap_set);
    /* the generated demo network trains for a few epochs (seconds) unless told otherwise */
    if (!a.edges && !a.dataset && !epochs_set && !a.load_model) a.lp.epochs = DEMO_EPOCHS;
    if (a.edges && a.dataset) {
        fprintf(stderr, "gp-linkpred: give EDGES or --dataset, not both\n");
        return 2;
    }
    if (a.header != HEADER_AUTO && !(a.edges && plain_edge_list(a.edges))) {
        fprintf(stderr, "gp-linkpred: --%s is for an edge list EDGES (not --dataset, a generated network "
                        "or a file of another format)\n", a.header == HEADER_YES ? "header" : "no-header");
        return 2;
    }
    if (a.split_file && a.split_k > 0) {
        fprintf(stderr, "gp-linkpred: give --split or --split-file, not both\n");
        return 2;
    }
    if (a.split_k > 0 && !a.dataset) {
        fprintf(stderr, "gp-linkpred: --split K needs --dataset (the shipped splits; or use --split-file)\n");
        return 2;
    }
    if (test_percent_set && a.split_k == 0) {
        fprintf(stderr, "gp-linkpred: --test-percent needs --split K\n");
        return 2;
    }
    if (a.split_file || a.split_k > 0) {
        if (test_ratio_set) {
            fprintf(stderr, "gp-linkpred: --test-ratio is for random splits, not with --split or --split-file\n");
            return 2;
        }
    } else if (a.test_ratio <= 0.0 && !a.predict && !a.recommend) {
        fprintf(stderr, "gp-linkpred: --test-ratio must be above 0 (a split without test pairs has no result; "
                        "0 is for --predict or --recommend runs that train on every edge)\n");
        return 2;
    } else if (a.val_ratio + a.test_ratio >= 1.0) {
        fprintf(stderr, "gp-linkpred: --val-ratio %g + --test-ratio %g leave no training pairs (the sum must be below 1)\n",
                a.val_ratio, a.test_ratio);
        return 2;
    }
    if (a.for_node && !a.recommend) {
        fprintf(stderr, "gp-linkpred: --for needs --recommend K\n");
        return 2;
    }
    if (a.output && !a.predict && !a.recommend) {
        fprintf(stderr, "gp-linkpred: --output needs --predict or --recommend\n");
        return 2;
    }
    if (a.predict && a.recommend) {
        fprintf(stderr, "gp-linkpred: give --predict or --recommend, not both\n");
        return 2;
    }
    if (!app_output_path_ok("gp-linkpred", "--save-model", a.save_model) ||
        !app_output_path_ok("gp-linkpred", "--output", a.output) || !app_output_path_ok("gp-linkpred", "--curve", a.curve) ||
        !app_output_path_ok("gp-linkpred", "--resume", a.resume))
        return 2;
    const gp_heuristic_info *heur = NULL;
    if (strcmp(a.method, "walkpool") != 0 && !(heur = gp_heuristic_find(a.method))) {
        fprintf(stderr, "gp-linkpred: unknown method '%s' (walkpool, cn, jaccard, aa, ra, pa, katz, ppr, svd)\n", a.method);
        return 2;
    }
    if (a.curve && (a.load_model || heur)) {
        fprintf(stderr, "gp-linkpred: --curve needs WalkPool training (not --load-model or a heuristic)\n");
        return 2;
    }
    if (a.resume && (a.load_model || heur || a.curve)) {
        fprintf(stderr, "gp-linkpred: --resume needs WalkPool training (not --load-model or a heuristic) and "
                        "no --curve (a curve would cover only the epochs after the stop)\n");
        return 2;
    }
    if ((a.save_model || a.load_model) && heur) {
        fprintf(stderr, "gp-linkpred: --save-model / --load-model need --method walkpool\n");
        return 2;
    }
    a.tty = isatty(fileno(stderr));
    app_settle_thread_env(argv, threads);
    if (gp_init() != GP_OK) return fail("init");
    gp_set_threads(threads);
    int rc = 1;
    gp_link_split *split = NULL;
    gp_graph *obs = NULL, *obs_train = NULL;
    gp_linkpred_model *model = NULL;
    method_result res[16];
    int nr = 0;
    memset(res, 0, sizeof res);
    if (load_graph(&a) != GP_OK) {
        rc = fail(a.edges ? a.edges : a.dataset ? a.dataset : "generator");
        goto done;
    }
    if (a.features && load_features(&a) != GP_OK) {
        rc = fail(a.features);
        goto done;
    }
    a.for_id = a.for_node ? node_lookup(&a, a.for_node) : -1;
    if (a.for_node && a.for_id < 0) {
        app_error(GP_E_RANGE, "--for: unknown node '%s'", a.for_node);
        rc = fail("recommend");
        goto done;
    }
    if (a.predict && read_pair_file(&a.predict_pairs, &a.predict_count, &a, a.predict, false) != GP_OK) {
        rc = fail("predict");
        goto done;
    }
    if (a.load_model) {
        char sha[65];
        if (gp_linkpred_model_load(&model, sha, a.load_model) != GP_OK) {
            rc = fail(a.load_model);
            goto done;
        }
        if (sha[0] && strcmp(sha, a.sha) != 0 && !a.quiet)
            fprintf(stderr, "gp-linkpred: warning: %s was trained on other data (checksum %.12s..., this graph %.12s...)\n",
                    a.load_model, sha, a.sha);
        if (gp_linkpred_model_attr_dim(model) != a.attr_dim) {
            app_error(GP_E_INVALID, "the model expects %lld node features, %s %lld (--features)",
                      (long long)gp_linkpred_model_attr_dim(model), a.features ? "the file has" : "given",
                      (long long)a.attr_dim);
            rc = fail(a.load_model);
            goto done;
        }
    }
    if (make_split(&split, &a) != GP_OK) {
        rc = fail("split");
        goto done;
    }
    if (gp_link_split_observed(&obs, split, true) != GP_OK) {
        rc = fail("observed graph");
        goto done;
    }
    if (!a.quiet)
        fprintf(stderr, "gp-linkpred: %s: %lld nodes, %lld edges; split %lld/%lld/%lld (train/val/test positives)\n",
                a.name, (long long)gp_graph_nodes(a.g), (long long)(gp_graph_edges(a.g) / 2),
                (long long)split->count[GP_LINK_TRAIN_POS], (long long)split->count[GP_LINK_VAL_POS],
                (long long)split->count[GP_LINK_TEST_POS]);
    /* methods to run */
    const char *list[16];
    int nl = 0;
    char listbuf[512];
    if (a.compare_on) {
        list[nl++] = "walkpool";
        if (a.compare) {
            snprintf(listbuf, sizeof listbuf, "%s", a.compare);
            for (char *t = strtok(listbuf, ","); t && nl < 16; t = strtok(NULL, ","))
                if (strcmp(t, "walkpool") != 0) {
                    if (!gp_heuristic_find(t)) {
                        fprintf(stderr, "gp-linkpred: unknown method '%s' in --compare\n", t);
                        rc = 2;
                        goto done;
                    }
                    list[nl++] = t;
                }
        } else {
            for (int i = 0; i < gp_heuristic_count() && nl < 16; i++) list[nl++] = gp_heuristic_at(i)->name;
        }
    } else {
        list[nl++] = a.method;
    }
    for (int i = 0; i < nl; i++) {
        method_result *r = &res[nr++];
        double t0 = now_s();
        if (strcmp(list[i], "walkpool") == 0) {
            if (run_walkpool(r, &a, &model, obs, split) != GP_OK) {
                rc = fail("walkpool");
                goto done;
            }
        } else {
            const gp_heuristic_info *h = gp_heuristic_find(list[i]);
            snprintf(r->name, sizeof r->name, "%s", h->name);
            /* Validation pairs are scored with their own edges hidden, as test pairs are: on the
             * training positives alone (the observed graph holds the validation positives, which
             * would give path-based scores such as katz or ppr a validation AUC of ~1). */
            if (!obs_train && gp_link_split_observed(&obs_train, split, false) != GP_OK) {
                rc = fail("training graph");
                goto done;
            }
            if (heuristic_part_auc(&r->test_auc, &r->test_ap, h, obs, split, GP_LINK_TEST_POS, GP_LINK_TEST_NEG) != GP_OK ||
                heuristic_part_auc(&r->val_auc, &r->val_ap, h, obs_train, split, GP_LINK_VAL_POS, GP_LINK_VAL_NEG) != GP_OK) {
                rc = fail(h->name);
                goto done;
            }
            r->seconds = now_s() - t0;
        }
    }
    if (a.save_model && model && gp_linkpred_model_save(model, a.save_model, a.sha) != GP_OK) {
        rc = fail(a.save_model);
        goto done;
    }
    if (a.predict || a.recommend) {
        gp_status st = a.predict ? do_predict(&a, model, heur) : do_recommend(&a, model, heur);
        if (st != GP_OK) {
            rc = fail(a.predict ? "predict" : "recommend");
            goto done;
        }
        if (!a.json && !a.quiet) print_results(stderr, &a, split, res, nr); /* stdout holds the list */
    } else {
        print_results(stdout, &a, split, res, nr);
    }
    rc = 0;
done:
    gp_linkpred_model_free(&model);
    gp_graph_free(&obs);
    gp_graph_free(&obs_train);
    gp_link_split_free(&split);
    gp_graph_free(&a.g);
    gp_idmap_free(&a.ids);
    free(a.attr);
    free(a.predict_pairs);
    gp_finalize();
    return rc;
}
