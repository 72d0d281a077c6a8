/*
 * Readers, data directory, registry, SHA-256 and mini-batches (suite 'data').
 *
 * Golden inputs are the hand-written files in tests/fixtures/ (found next to this source
 * file, or via $GP_TEST_FIXTURES). Malformed variants are written at run time into a temporary
 * directory: each one changes a single thing of a golden file, so each error is specific.
 * Every error must have its status, name the input file and (where a line is at fault) the
 * line "name:LINE:", and leave the output NULL; an out-of-memory loop (SQLite style) checks
 * that no reader leaves anything allocated on any failure path.
 *
 * The last tests read every dataset of $GP_DATA_DIR (../shared/data) and compare the counts
 * with its meta files and the literature numbers of its README / SOURCES.md; they are
 * skipped, with a message, when the directory is missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include <igraph.h>
#include <graphpool/graphpool.h>
#include <graphpool/interop.h>
#include <graphpool/io.h>

#include "failing_alloc.h"

/* ------------------------------------------------------------------ helpers */

static char fixtures[PATH_MAX]; /* tests/fixtures */
static char srcroot[PATH_MAX];  /* the source tree */
static char tmp[PATH_MAX];      /* per-run temporary directory */

/* Paths in rotating static buffers (several may be alive in one expression). */
static const char *path_in(const char *dir, const char *name)
{
    static char buf[8][PATH_MAX];
    static int next;
    char *b = buf[next++ % 8], joined[PATH_MAX]; /* dir may be an older buffer of the ring */
    int n = snprintf(joined, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX) fail_msg("path too long: %s/%s", dir, name);
    memcpy(b, joined, (size_t)n + 1);
    return b;
}
static const char *fx(const char *name) { return path_in(fixtures, name); }
static const char *tp(const char *name) { return path_in(tmp, name); }

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void write_gz(const char *path, const char *text, size_t n)
{
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)n), (int)n);
    gzclose(g);
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    b[len] = '\0';
    fclose(f);
    if (n) *n = (size_t)len;
    return b;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = read_all(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    free(b);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void rm_tree(const char *p) { nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void make_dir(const char *p)
{
    if (mkdir(p, 0777) != 0) assert_int_equal(errno, EEXIST);
}

/* The error has status want, and its message contains every given piece (NULL-terminated). */
static void expect_error_(gp_status st, gp_status want, const char *file, int line, ...)
{
    const char *msg = gp_last_error();
    if (st != want) {
        print_error("%s:%d: status %s, expected %s (%s)\n", file, line, gp_status_name(st),
                    gp_status_name(want), msg);
        fail();
    }
    va_list ap;
    va_start(ap, line);
    for (const char *piece; (piece = va_arg(ap, const char *));) {
        if (!strstr(msg, piece)) {
            print_error("%s:%d: message \"%s\" lacks \"%s\"\n", file, line, msg, piece);
            fail();
        }
    }
    va_end(ap);
}
#define expect_error(st, want, ...) expect_error_((st), (want), __FILE__, __LINE__, __VA_ARGS__, (const char *)NULL)

/* Dense copy of a graph's adjacency (row-major n x n). */
static float *dense(const gp_graph *g)
{
    float *d = NULL;
    assert_int_equal(gp_csr_to_dense(&d, &g->adj), GP_OK);
    return d;
}

/* adj[i][j] of a graph given as (u, v) undirected pairs. */
static void assert_graph_edges(const gp_graph *g, int64_t n, int m, const int64_t (*uv)[2], bool symmetric)
{
    assert_int_equal(gp_graph_nodes(g), n);
    float *d = dense(g);
    float *want = calloc((size_t)(n * n), sizeof(float));
    for (int k = 0; k < m; k++) {
        want[uv[k][1] * n + uv[k][0]] = 1.0f; /* edge u -> v: row v lists u */
        if (symmetric) want[uv[k][0] * n + uv[k][1]] = 1.0f;
    }
    for (int64_t i = 0; i < n * n; i++) assert_float_equal(d[i], want[i], 0.0f);
    assert_int_equal(g->symmetric, symmetric);
    free(want);
    gp_free(d);
}

/* ------------------------------------------------------------------ SHA-256 */

static void test_sha256_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    char hex[65];
    uint8_t dg[32];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        gp_sha256 s;
        gp_sha256_init(&s);
        gp_sha256_update(&s, v[i].msg, strlen(v[i].msg));
        gp_sha256_final(&s, dg);
        gp_sha256_hex(hex, dg);
        assert_string_equal(hex, v[i].hex);
    }
    /* one million 'a' (FIPS 180-2 appendix B.3), fed in uneven pieces across block edges */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    gp_sha256 s;
    gp_sha256_init(&s);
    size_t at = 0, step = 1;
    while (at < 1000000) {
        size_t take = step < 1000000 - at ? step : 1000000 - at;
        gp_sha256_update(&s, a + at, take);
        at += take;
        step = step * 7 % 211 + 1;
    }
    gp_sha256_final(&s, dg);
    gp_sha256_hex(hex, dg);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* the file checksum is the same */
    FILE *f = fopen(tp("million_a"), "wb");
    fwrite(a, 1, 1000000, f);
    fclose(f);
    assert_int_equal(gp_sha256_file(hex, tp("million_a")), GP_OK);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    expect_error(gp_sha256_file(hex, tp("no_such_file")), GP_E_IO, "no_such_file", "No such file");
    free(a);
}

/* ------------------------------------------------------------------ id map */

static void test_idmap(void **state)
{
    (void)state;
    gp_idmap *m = NULL;
    assert_int_equal(gp_idmap_new(&m), GP_OK);
    int64_t id;
    bool added;
    char label[32];
    for (int i = 0; i < 100000; i++) { /* grows the table and the label pool many times */
        int n = snprintf(label, sizeof label, "node-%d", i * 7919 % 100000);
        assert_int_equal(gp_idmap_add(&id, &added, m, label, (size_t)n), GP_OK);
        assert_true(added);
        assert_int_equal(id, i);
    }
    assert_int_equal(gp_idmap_size(m), 100000);
    for (int i = 0; i < 100000; i += 997) {
        snprintf(label, sizeof label, "node-%d", i * 7919 % 100000);
        assert_int_equal(gp_idmap_find(m, label), i);
        assert_string_equal(gp_idmap_label(m, i), label);
        assert_int_equal(gp_idmap_add(&id, &added, m, label, strlen(label)), GP_OK);
        assert_false(added);
        assert_int_equal(id, i);
    }
    /* a label given by length needs no NUL: "node-1x" cut at 6 is "node-1" */
    assert_int_equal(gp_idmap_add(&id, &added, m, "node-1x", 6), GP_OK);
    assert_false(added);
    assert_string_equal(gp_idmap_label(m, id), "node-1");
    assert_int_equal(gp_idmap_find(m, "node-100000"), -1);
    assert_null(gp_idmap_label(m, -1));
    assert_null(gp_idmap_label(m, 100000));
    expect_error(gp_idmap_add(&id, NULL, m, "a\0b", 3), GP_E_INVALID, "NUL");
    gp_idmap_free(&m);
    assert_null(m);
}

/* ------------------------------------------------------------------ line reader via edge lists */

static const int64_t golden_uv[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 0}, {0, 5}};

static void check_golden(const gp_edgelist *e)
{
    assert_int_equal(e->num_nodes, 6);
    assert_int_equal(e->count, 6);
    assert_int_equal(e->data_lines, 6);
    assert_int_equal(e->duplicates, 0);
    assert_int_equal(e->self_loops, 0);
    assert_null(e->weight);
    assert_null(e->ids);
    for (int k = 0; k < 6; k++) {
        assert_int_equal(e->src[k], golden_uv[k][0]);
        assert_int_equal(e->dst[k], golden_uv[k][1]);
    }
}

static void test_edgelist_golden(void **state)
{
    (void)state;
    gp_edgelist *e = NULL;
    assert_int_equal(gp_edgelist_read(&e, fx("edges_golden.txt"), NULL), GP_OK);
    check_golden(e);
    assert_false(e->directed);
    gp_edgelist_free(&e);
    assert_null(e);

    /* the same bytes gzipped read the same (gzip is detected from the content) */
    char *text = read_all(fx("edges_golden.txt"), NULL);
    write_gz(tp("golden.gz"), text, strlen(text));
    write_gz(tp("golden_named_txt.txt"), text, strlen(text));
    assert_int_equal(gp_edgelist_read(&e, tp("golden.gz"), NULL), GP_OK);
    check_golden(e);
    gp_edgelist_free(&e);
    assert_int_equal(gp_edgelist_read(&e, tp("golden_named_txt.txt"), NULL), GP_OK);
    check_golden(e);
    gp_edgelist_free(&e);
    free(text);

    /* CRLF line ends and no final newline */
    assert_int_equal(gp_edgelist_read(&e, fx("edges_crlf.txt"), NULL), GP_OK);
    assert_int_equal(e->count, 3);
    assert_int_equal(e->src[2], 2);
    assert_int_equal(e->dst[2], 0);
    gp_edgelist_free(&e);

    /* as a graph: undirected -> symmetric */
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_read_edgelist(&g, NULL, fx("edges_golden.txt"), NULL), GP_OK);
    assert_graph_edges(g, 6, 6, golden_uv, true);
    gp_graph_free(&g);
    gp_edgelist_options o = {GP_READ_DIRECTED, 0, 0, 0};
    assert_int_equal(gp_graph_read_edgelist(&g, NULL, fx("edges_golden.txt"), &o), GP_OK);
    assert_graph_edges(g, 6, 6, golden_uv, false);
    gp_graph_free(&g);

    /* explicit node count larger than the ids: isolated nodes kept */
    o = (gp_edgelist_options){0, 0, 0, 9};
    assert_int_equal(gp_graph_read_edgelist(&g, NULL, fx("edges_golden.txt"), &o), GP_OK);
    assert_int_equal(gp_graph_nodes(g), 9);
    assert_int_equal(gp_graph_edges(g), 12);
    gp_graph_free(&g);

    /* 1-based ids */
    write_file(tp("one_based.txt"), "1 2\n2 3\n");
    o = (gp_edgelist_options){GP_READ_ONE_BASED, 0, 0, 0};
    assert_int_equal(gp_edgelist_read(&e, tp("one_based.txt"), &o), GP_OK);
    assert_int_equal(e->num_nodes, 3);
    assert_int_equal(e->src[0], 0);
    assert_int_equal(e->dst[1], 2);
    gp_edgelist_free(&e);

    /* extra columns ignored on request */
    o = (gp_edgelist_options){GP_READ_EXTRA_COLUMNS, 0, 0, 0};
    assert_int_equal(gp_edgelist_read(&e, fx("edges_extra_column.txt"), &o), GP_OK);
    assert_int_equal(e->count, 1);
    assert_int_equal(e->first_extra_column_line, 1);
    gp_edgelist_free(&e);
    write_file(tp("extra_later.txt"), "# u v t\n0 1\n1 2 5\n2 3 6 x\n");
    assert_int_equal(gp_edgelist_read(&e, tp("extra_later.txt"), &o), GP_OK);
    assert_int_equal(e->count, 3);
    assert_int_equal(e->first_extra_column_line, 3);
    gp_edgelist_free(&e);
    assert_int_equal(gp_edgelist_read(&e, tp("one_based.txt"), &o), GP_OK);
    assert_int_equal(e->first_extra_column_line, 0);
    gp_edgelist_free(&e);

    /* a line far longer than the 1 MiB read buffer */
    size_t big = 3u << 20;
    char *longl = malloc(big + 16);
    memset(longl, 'x', big);
    longl[0] = '#';
    memcpy(longl + big, "\n0 1\n", 6);
    write_file(tp("long_line.txt"), longl);
    assert_int_equal(gp_edgelist_read(&e, tp("long_line.txt"), NULL), GP_OK);
    assert_int_equal(e->count, 1);
    gp_edgelist_free(&e);
    free(longl);
}

/* Header lines: skipped on request (GP_READ_HEADER) or when the first two data lines show one
 * (GP_READ_HEADER_AUTO); line numbers in messages stay those of the file. */
static void test_edgelist_header(void **state)
{
    (void)state;
    gp_edgelist *e = NULL;
    gp_edgelist_options auto_labels = {GP_READ_LABELS | GP_READ_EXTRA_COLUMNS | GP_READ_HEADER_AUTO, 0, 0, 0};
    /* names over labels and a numeric third column: a header */
    write_file(tp("h_csv.txt"), "# exported\nsource,target,weight\na,b,0.5\nb,c,1\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_csv.txt"), &auto_labels), GP_OK);
    assert_int_equal(e->header_line, 2);
    assert_int_equal(e->count, 2);
    assert_int_equal(e->data_lines, 2);
    assert_int_equal(gp_idmap_size(e->ids), 3);
    assert_int_equal(gp_idmap_find(e->ids, "source"), -1);
    assert_string_equal(gp_idmap_label(e->ids, e->src[0]), "a");
    assert_int_equal(e->first_extra_column_line, 3);
    gp_edgelist_free(&e);
    /* names over integer ids */
    gp_edgelist_options auto_ids = {GP_READ_HEADER_AUTO, 0, 0, 0};
    write_file(tp("h_ids.txt"), "from to\n0 1\n1 2\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_ids.txt"), &auto_ids), GP_OK);
    assert_int_equal(e->header_line, 1);
    assert_int_equal(e->count, 2);
    assert_int_equal(e->num_nodes, 3);
    gp_edgelist_free(&e);
    /* not headers: numbers on both lines, labels only (no evidence), a single data line */
    gp_edgelist_options auto_extra = {GP_READ_HEADER_AUTO | GP_READ_EXTRA_COLUMNS, 0, 0, 0};
    write_file(tp("h_no1.txt"), "1 2 x\n3 4 5\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_no1.txt"), &auto_extra), GP_OK);
    assert_int_equal(e->header_line, 0);
    assert_int_equal(e->count, 2);
    assert_int_equal(e->src[0], 1);
    gp_edgelist_free(&e);
    write_file(tp("h_no2.txt"), "source target\na b\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_no2.txt"), &auto_labels), GP_OK);
    assert_int_equal(e->header_line, 0);
    assert_int_equal(e->count, 2);
    assert_int_equal(gp_idmap_find(e->ids, "source"), 0);
    gp_edgelist_free(&e);
    /* names of mixed kinds: "A B" over "3 4" looks like a header, but A is a node of line 3 */
    write_file(tp("h_mixed.txt"), "A B\n3 4\nA 3\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_mixed.txt"), &auto_labels), GP_OK);
    assert_int_equal(e->header_line, 0);
    assert_int_equal(e->count, 3);
    assert_string_equal(gp_idmap_label(e->ids, e->src[0]), "A");
    gp_edgelist_free(&e);
    write_file(tp("h_mixed2.txt"), "x y\n3 4\n4 5\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_mixed2.txt"), &auto_labels), GP_OK);
    assert_int_equal(e->header_line, 1);
    assert_int_equal(e->count, 2);
    gp_edgelist_free(&e);
    write_file(tp("h_one.txt"), "\n0 1\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_one.txt"), &auto_ids), GP_OK);
    assert_int_equal(e->header_line, 0);
    assert_int_equal(e->count, 1);
    gp_edgelist_free(&e);
    /* the same file as without the flag when there is no header, and edges in file order */
    assert_int_equal(gp_edgelist_read(&e, fx("edges_golden.txt"), &auto_ids), GP_OK);
    check_golden(e);
    gp_edgelist_free(&e);
    /* forced: the first data line goes, whatever it holds */
    gp_edgelist_options forced = {GP_READ_LABELS | GP_READ_HEADER, 0, 0, 0};
    assert_int_equal(gp_edgelist_read(&e, tp("h_no2.txt"), &forced), GP_OK);
    assert_int_equal(e->header_line, 1);
    assert_int_equal(e->count, 1);
    assert_int_equal(gp_idmap_find(e->ids, "source"), -1);
    gp_edgelist_free(&e);
    write_file(tp("h_only.txt"), "# c\nu v\n\n");
    expect_error(gp_edgelist_read(&e, tp("h_only.txt"), &forced), GP_E_PARSE, "h_only.txt", "no edge lines",
                 "but the header");
    assert_null(e);
    /* a UTF-8 byte-order mark (spreadsheet exports) is not part of the first label, with or
     * without a header line; elsewhere in the file it is an ordinary byte */
    write_file(tp("h_bom.txt"), "\xEF\xBB\xBF" "a b\nb c\nc \xEF\xBB\xBF" "a\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_bom.txt"), &auto_labels), GP_OK);
    assert_int_equal(gp_idmap_size(e->ids), 4);
    assert_string_equal(gp_idmap_label(e->ids, 0), "a");
    assert_string_equal(gp_idmap_label(e->ids, 3), "\xEF\xBB\xBF" "a");
    gp_edgelist_free(&e);
    write_file(tp("h_bom_csv.txt"), "\xEF\xBB\xBF" "from,to,w\n0,1,0.5\n");
    assert_int_equal(gp_edgelist_read(&e, tp("h_bom_csv.txt"), &(gp_edgelist_options){GP_READ_HEADER_AUTO | GP_READ_EXTRA_COLUMNS, 0, 0, 0}),
                     GP_OK);
    assert_int_equal(e->header_line, 1);
    assert_int_equal(e->count, 1);
    gp_edgelist_free(&e);
    /* errors on the lines read ahead and after them name the right line */
    write_file(tp("h_bad2.txt"), "from to\n# c\n0 1\n1 x\n");
    expect_error(gp_edgelist_read(&e, tp("h_bad2.txt"), &auto_ids), GP_E_PARSE, "h_bad2.txt:4:", "'x'");
    write_file(tp("h_bad3.txt"), "0 1\n\n1 2\n2 y\n");
    expect_error(gp_edgelist_read(&e, tp("h_bad3.txt"), &auto_ids), GP_E_PARSE, "h_bad3.txt:4:", "'y'");
    write_file(tp("h_bad1.txt"), "0 -1\n1 2\n");
    expect_error(gp_edgelist_read(&e, tp("h_bad1.txt"), &auto_ids), GP_E_RANGE, "h_bad1.txt:1:", "negative");
    write_file(tp("h_dup.txt"), "a b\n\nb a\n");
    gp_edgelist_options dup_fail = {GP_READ_LABELS | GP_READ_HEADER_AUTO, GP_DUP_FAIL, 0, 0};
    expect_error(gp_edgelist_read(&e, tp("h_dup.txt"), &dup_fail), GP_E_PARSE, "h_dup.txt:3:", "first at line 1");
    assert_null(e);
}

static void test_edgelist_labels_weights(void **state)
{
    (void)state;
    gp_edgelist *e = NULL;
    gp_edgelist_options o = {GP_READ_LABELS, 0, 0, 0};
    assert_int_equal(gp_edgelist_read(&e, fx("edges_labels.txt"), &o), GP_OK);
    assert_int_equal(e->num_nodes, 4);
    assert_int_equal(e->count, 4);
    assert_non_null(e->ids);
    assert_string_equal(gp_idmap_label(e->ids, 3), "dave");
    assert_int_equal(gp_idmap_find(e->ids, "carol"), 2);
    assert_int_equal(gp_idmap_find(e->ids, "eve"), -1);
    assert_int_equal(e->src[3], 3);
    assert_int_equal(e->dst[3], 0);
    gp_edgelist_free(&e);

    gp_graph *g = NULL;
    gp_idmap *ids = NULL;
    assert_int_equal(gp_graph_read_edgelist(&g, &ids, fx("edges_labels.txt"), &o), GP_OK);
    assert_non_null(ids);
    assert_string_equal(gp_idmap_label(ids, 0), "alice");
    assert_int_equal(gp_graph_edges(g), 8);
    gp_graph_free(&g);
    gp_idmap_free(&ids);

    /* numbers read as labels: compact ids in order of appearance */
    write_file(tp("sparse_ids.txt"), "1000000000000 7\n7 42\n");
    assert_int_equal(gp_edgelist_read(&e, tp("sparse_ids.txt"), &o), GP_OK);
    assert_int_equal(e->num_nodes, 3);
    assert_string_equal(gp_idmap_label(e->ids, 0), "1000000000000");
    gp_edgelist_free(&e);
    expect_error(gp_edgelist_read(&e, tp("sparse_ids.txt"), NULL), GP_E_RANGE, "sparse_ids.txt:1:",
                 "GP_READ_MAX_ID", "GP_READ_LABELS");
    assert_null(e);

    o = (gp_edgelist_options){GP_READ_WEIGHTS, 0, 0, 0};
    assert_int_equal(gp_edgelist_read(&e, fx("edges_weighted.txt"), &o), GP_OK);
    assert_non_null(e->weight);
    assert_int_equal(e->num_nodes, 4);
    assert_float_equal(e->weight[0], 0.5f, 0.0f);
    assert_float_equal(e->weight[2], -12.5f, 0.0f);
    gp_edgelist_free(&e);
    assert_int_equal(gp_graph_read_edgelist(&g, NULL, fx("edges_weighted.txt"), &o), GP_OK);
    float *d = dense(g);
    assert_float_equal(d[2 * 4 + 1], 0.5f, 0.0f); /* edge 1 - 2 both ways */
    assert_float_equal(d[1 * 4 + 2], 0.5f, 0.0f);
    assert_float_equal(d[1 * 4 + 3], -12.5f, 0.0f);
    gp_free(d);
    gp_graph_free(&g);
}

static void test_edgelist_duplicates_loops(void **state)
{
    (void)state;
    /* edges_dups.txt: 1 "0 1", 2 "1 2", 3 "2 1", 4 "3 3", 5 "0 1", 6 "2 3" */
    gp_edgelist *e = NULL;
    assert_int_equal(gp_edgelist_read(&e, fx("edges_dups.txt"), NULL), GP_OK);
    assert_int_equal(e->duplicates, 2); /* "2 1" repeats "1 2" undirected; "0 1" again */
    assert_int_equal(e->first_duplicate_line, 3);
    assert_int_equal(e->self_loops, 1);
    assert_int_equal(e->first_self_loop_line, 4);
    assert_int_equal(e->count, 4); /* first occurrences, in file order */
    static const int64_t kept[4][2] = {{0, 1}, {1, 2}, {3, 3}, {2, 3}};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(e->src[k], kept[k][0]);
        assert_int_equal(e->dst[k], kept[k][1]);
    }
    gp_edgelist_free(&e);

    gp_edgelist_options o = {GP_READ_DIRECTED, GP_DUP_DROP, GP_LOOP_DROP, 0};
    assert_int_equal(gp_edgelist_read(&e, fx("edges_dups.txt"), &o), GP_OK);
    assert_int_equal(e->duplicates, 1); /* directed: only the second "0 1" */
    assert_int_equal(e->first_duplicate_line, 5);
    assert_int_equal(e->self_loops, 1);
    assert_int_equal(e->count, 4); /* 0-1, 1-2, 2-1, 2-3 */
    gp_edgelist_free(&e);

    o = (gp_edgelist_options){0, GP_DUP_KEEP, GP_LOOP_KEEP, 0};
    assert_int_equal(gp_edgelist_read(&e, fx("edges_dups.txt"), &o), GP_OK);
    assert_int_equal(e->count, 6);
    gp_edgelist_free(&e);
    gp_graph *g = NULL; /* kept repeats are summed into weights */
    assert_int_equal(gp_graph_read_edgelist(&g, NULL, fx("edges_dups.txt"), &o), GP_OK);
    float *d = dense(g);
    assert_float_equal(d[0 * 4 + 1], 2.0f, 0.0f);
    assert_float_equal(d[1 * 4 + 2], 2.0f, 0.0f);
    assert_float_equal(d[3 * 4 + 3], 1.0f, 0.0f);
    assert_float_equal(d[2 * 4 + 3], 1.0f, 0.0f);
    gp_free(d);
    gp_graph_free(&g);

    o = (gp_edgelist_options){0, GP_DUP_FAIL, GP_LOOP_KEEP, 0};
    expect_error(gp_edgelist_read(&e, fx("edges_dups.txt"), &o), GP_E_PARSE, "edges_dups.txt:3:",
                 "repeated edge 2 1", "first at line 2");
    assert_null(e);
    o = (gp_edgelist_options){0, GP_DUP_KEEP, GP_LOOP_FAIL, 0};
    expect_error(gp_edgelist_read(&e, fx("edges_dups.txt"), &o), GP_E_PARSE, "edges_dups.txt:4:", "self-loop");
    assert_null(e);
    o = (gp_edgelist_options){GP_READ_LABELS, GP_DUP_FAIL, GP_LOOP_KEEP, 0};
    write_file(tp("dup_labels.txt"), "x y\ny z\nz y\n");
    expect_error(gp_edgelist_read(&e, tp("dup_labels.txt"), &o), GP_E_PARSE, "dup_labels.txt:3:",
                 "repeated edge 'z' 'y'", "first at line 2");
    /* line numbers survive comments, blank lines and dropped loops between the edges */
    write_file(tp("dup_lines.txt"), "0 1\n# c\n1 2\n\n2 2\n% x\n3 2\n1 0\n");
    o = (gp_edgelist_options){0, GP_DUP_FAIL, GP_LOOP_DROP, 0};
    expect_error(gp_edgelist_read(&e, tp("dup_lines.txt"), &o), GP_E_PARSE, "dup_lines.txt:8:", "first at line 1");
    o = (gp_edgelist_options){0, GP_DUP_DROP, GP_LOOP_DROP, 0};
    assert_int_equal(gp_edgelist_read(&e, tp("dup_lines.txt"), &o), GP_OK);
    assert_int_equal(e->first_duplicate_line, 8);
    assert_int_equal(e->first_self_loop_line, 5);
    assert_int_equal(e->count, 3);
    gp_edgelist_free(&e);
    o = (gp_edgelist_options){GP_READ_ONE_BASED, GP_DUP_FAIL, GP_LOOP_KEEP, 0};
    write_file(tp("dup_one.txt"), "1 2\n2 1\n");
    expect_error(gp_edgelist_read(&e, tp("dup_one.txt"), &o), GP_E_PARSE, "dup_one.txt:2:", "repeated edge 2 1");
}

static void test_edgelist_errors(void **state)
{
    (void)state;
    gp_edgelist *e = NULL;
    gp_graph *g = NULL;
    expect_error(gp_edgelist_read(&e, fx("edges_bad_number.txt"), NULL), GP_E_PARSE,
                 "edges_bad_number.txt:2:", "bad number 'x2' in column 2");
    assert_null(e);
    expect_error(gp_edgelist_read(&e, fx("edges_missing_column.txt"), NULL), GP_E_PARSE,
                 "edges_missing_column.txt:3:", "missing column 2");
    assert_null(e);
    expect_error(gp_edgelist_read(&e, fx("edges_negative.txt"), NULL), GP_E_RANGE,
                 "edges_negative.txt:2:", "negative node id -3 in column 1");
    assert_null(e);
    expect_error(gp_edgelist_read(&e, fx("edges_extra_column.txt"), NULL), GP_E_PARSE,
                 "edges_extra_column.txt:1:", "unexpected column 3");
    gp_edgelist_options o = {GP_READ_WEIGHTS, 0, 0, 0};
    expect_error(gp_edgelist_read(&e, fx("edges_bad_weight.txt"), &o), GP_E_PARSE,
                 "edges_bad_weight.txt:2:", "bad weight 'nan' in column 3");
    expect_error(gp_edgelist_read(&e, fx("edges_golden.txt"), &o), GP_E_PARSE,
                 "edges_golden.txt:4:", "missing column 3 (weight)");
    o = (gp_edgelist_options){0, 0, 0, 5};
    expect_error(gp_edgelist_read(&e, fx("edges_golden.txt"), &o), GP_E_RANGE,
                 "edges_golden.txt:9:", "node id 5 in column 2 is out of range (5 nodes)");
    expect_error(gp_graph_read_edgelist(&g, NULL, fx("edges_golden.txt"), &o), GP_E_RANGE, "edges_golden.txt:9:");
    assert_null(g);
    o = (gp_edgelist_options){GP_READ_ONE_BASED, 0, 0, 0};
    expect_error(gp_edgelist_read(&e, fx("edges_golden.txt"), &o), GP_E_RANGE,
                 "edges_golden.txt:4:", "node id 0 in column 1, but ids are 1-based");
    o = (gp_edgelist_options){GP_READ_LABELS, 0, 0, 3};
    expect_error(gp_edgelist_read(&e, fx("edges_labels.txt"), &o), GP_E_RANGE, "edges_labels.txt:5:", "'dave'");
    expect_error(gp_edgelist_read(&e, fx("edges_empty.txt"), NULL), GP_E_PARSE, "edges_empty.txt", "empty");
    expect_error(gp_edgelist_read(&e, fx("edges_comments_only.txt"), NULL), GP_E_PARSE,
                 "edges_comments_only.txt", "no edge lines");
    expect_error(gp_edgelist_read(&e, fx("no_such_file.txt"), NULL), GP_E_IO, "no_such_file.txt",
                 "No such file or directory");
    expect_error(gp_edgelist_read(&e, fixtures, NULL), GP_E_IO, "is a directory");
    FILE *bin = fopen(tp("binary.txt"), "wb"); /* UTF-16: every other byte is NUL */
    fwrite("0\0 \0" "1\0\n\0", 1, 8, bin);
    fclose(bin);
    expect_error(gp_edgelist_read(&e, tp("binary.txt"), NULL), GP_E_PARSE, "binary.txt:1:", "NUL byte");
    write_file(tp("overflow.txt"), "0 99999999999999999999\n");
    expect_error(gp_edgelist_read(&e, tp("overflow.txt"), NULL), GP_E_PARSE, "overflow.txt:1:", "bad number");
    write_file(tp("empty_field.txt"), "0,,1\n");
    expect_error(gp_edgelist_read(&e, tp("empty_field.txt"), NULL), GP_E_PARSE, "empty_field.txt:1:", "empty column 2");
    write_file(tp("trailing_comma.txt"), "0,1,\n");
    expect_error(gp_edgelist_read(&e, tp("trailing_comma.txt"), NULL), GP_E_PARSE, "trailing_comma.txt:1:",
                 "unexpected column 3");
    o = (gp_edgelist_options){0, 0, 0, INT64_C(1) << 32};
    expect_error(gp_edgelist_read(&e, fx("edges_golden.txt"), &o), GP_E_UNSUPPORTED, "4294967296 nodes");
    gp_edgelist_options bad = {0, (gp_dup_policy)7, 0, 0};
    expect_error(gp_edgelist_read(&e, fx("edges_golden.txt"), &bad), GP_E_INVALID, "bad options");
    expect_error(gp_edgelist_read(NULL, fx("edges_golden.txt"), NULL), GP_E_INVALID, "NULL");
    assert_null(e);
}

static void test_gzip_errors(void **state)
{
    (void)state;
    /* 200000 lines "i i+1": about 2.6 MB of text, a few hundred kB of gzip */
    size_t cap = 32u << 20, n = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 200000; i++) n += (size_t)snprintf(text + n, cap - n, "%d %d\n", i, i + 1);
    write_gz(tp("big.gz"), text, n);
    free(text);
    gp_edgelist *e = NULL;
    assert_int_equal(gp_edgelist_read(&e, tp("big.gz"), NULL), GP_OK);
    assert_int_equal(e->count, 200000);
    gp_edgelist_free(&e);

    size_t len;
    char *gz = read_all(tp("big.gz"), &len);
    FILE *f = fopen(tp("truncated.gz"), "wb"); /* cut in the middle of the deflate stream */
    fwrite(gz, 1, len / 2, f);
    fclose(f);
    gp_status st = gp_edgelist_read(&e, tp("truncated.gz"), NULL);
    expect_error(st, GP_E_IO, "truncated.gz:", "truncated gzip stream");
    assert_null(e);
    /* the line named is the one being read when the data ran out, somewhere in the middle */
    const char *at = strstr(gp_last_error(), "truncated.gz:");
    long line = strtol(at + strlen("truncated.gz:"), NULL, 10);
    assert_true(line > 1000 && line < 200000);

    f = fopen(tp("cut_trailer.gz"), "wb"); /* everything but the last 4 bytes (size) */
    fwrite(gz, 1, len - 4, f);
    fclose(f);
    expect_error(gp_edgelist_read(&e, tp("cut_trailer.gz"), NULL), GP_E_IO, "cut_trailer.gz:", "truncated");

    for (size_t i = len / 3; i < len / 3 + 64; i++) gz[i] ^= 0x5a; /* corrupt the stream */
    f = fopen(tp("corrupt.gz"), "wb");
    fwrite(gz, 1, len, f);
    fclose(f);
    st = gp_edgelist_read(&e, tp("corrupt.gz"), NULL);
    assert_true(st == GP_E_IO || st == GP_E_PARSE); /* zlib error, or garbage that parses badly */
    assert_non_null(strstr(gp_last_error(), "corrupt.gz:"));
    assert_null(e);
    free(gz);
}

static void test_index_read(void **state)
{
    (void)state;
    int64_t *idx = NULL, n = 0;
    write_file(tp("idx.txt"), "3\n1\n\n4\n");
    assert_int_equal(gp_index_read(&idx, &n, tp("idx.txt"), 5), GP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[2], 4);
    gp_free(idx);
    expect_error(gp_index_read(&idx, &n, tp("idx.txt"), 4), GP_E_RANGE, "idx.txt:4:", "index 4 is outside [0, 4)");
    assert_null(idx);
    write_file(tp("idx_bad.txt"), "1\n2 3\n");
    expect_error(gp_index_read(&idx, &n, tp("idx_bad.txt"), 0), GP_E_PARSE, "idx_bad.txt:2:", "unexpected column 2");
    write_file(tp("idx_empty.txt"), "");
    assert_int_equal(gp_index_read(&idx, &n, tp("idx_empty.txt"), 0), GP_OK);
    assert_int_equal(n, 0);
    gp_free(idx);
}

/* ------------------------------------------------------------------ TU */

static void check_tiny(const gp_graph_dataset *d, bool from_dgcnn)
{
    assert_int_equal(d->num_graphs, 3);
    assert_int_equal(d->num_nodes, 9);
    assert_int_equal(d->num_classes, 2);
    assert_int_equal(d->class_values[0], -1);
    assert_int_equal(d->class_values[1], 1);
    assert_int_equal(d->labels[0], 0);
    assert_int_equal(d->labels[1], 1);
    assert_int_equal(d->labels[2], 0);
    static const int64_t ptr[4] = {0, 3, 5, 9};
    for (int g = 0; g < 4; g++) assert_int_equal(d->node_ptr[g], ptr[g]);
    /* graph 1: triangle; graph 2: edge + self-loop on its node 1; graph 3: 4-cycle (its last
     * edge given in one direction only in TINY_A.txt, so symmetrised) */
    static const int64_t t1[][2] = {{0, 1}, {1, 2}, {0, 2}}, t2[][2] = {{0, 1}, {1, 1}},
                         t3[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}};
    assert_graph_edges(d->graphs[0], 3, 3, t1, true);
    assert_graph_edges(d->graphs[1], 2, 2, t2, true);
    assert_graph_edges(d->graphs[2], 4, 4, t3, true);
    for (int g = 0; g < 3; g++) {
        assert_null(d->graphs[g]->adj.val);
        assert_int_equal(d->edge_ptr[g + 1] - d->edge_ptr[g], gp_graph_edges(d->graphs[g]));
    }
    assert_int_equal(d->num_edges, 8);
    assert_int_equal(d->num_self_loops, 1);
    assert_int_equal(d->duplicate_lines, from_dgcnn ? 0 : 1);
}

static int64_t entry_of(const gp_graph *g, int64_t i, int64_t j)
{
    for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++)
        if (g->adj.idx[k] == j) return k;
    fail_msg("no entry (%lld, %lld)", (long long)i, (long long)j);
    return -1;
}

static void test_tu_golden(void **state)
{
    (void)state;
    gp_graph_dataset *d = NULL;
    assert_int_equal(gp_graph_dataset_read_tu(&d, fx("tu/TINY"), "TINY"), GP_OK);
    check_tiny(d, false);
    /* node labels 5 3 5 7 7 3 3 5 9 -> ranks among {3, 5, 7, 9} */
    static const int64_t nl[9] = {1, 0, 1, 2, 2, 0, 0, 1, 3};
    assert_int_equal(d->num_node_labels, 4);
    for (int i = 0; i < 9; i++) assert_int_equal(d->node_labels[i], nl[i]);
    assert_int_equal(d->node_label_values[3], 9);
    assert_int_equal(d->num_node_attr, 2);
    assert_float_equal(d->node_attr[0], 1.5f, 0.0f);
    assert_float_equal(d->node_attr[3], 0.25f, 0.0f);
    assert_float_equal(d->node_attr[17], 16.0f, 0.0f);
    /* edge labels 10/20/30/40 -> 0..3, on the CSR entries (row = head of the line) */
    assert_int_equal(d->num_edge_labels, 4);
    const int64_t *el = d->edge_labels;
    assert_int_equal(el[d->edge_ptr[0] + entry_of(d->graphs[0], 1, 0)], 0); /* line "1, 2" */
    assert_int_equal(el[d->edge_ptr[0] + entry_of(d->graphs[0], 2, 0)], 2); /* line "1,3" */
    assert_int_equal(el[d->edge_ptr[1] + entry_of(d->graphs[1], 1, 1)], 3); /* "5, 5" */
    assert_int_equal(el[d->edge_ptr[2] + entry_of(d->graphs[2], 1, 0)], 1); /* "6, 7": first of two */
    assert_int_equal(el[d->edge_ptr[2] + entry_of(d->graphs[2], 0, 3)], 0); /* "9, 6" */
    assert_int_equal(el[d->edge_ptr[2] + entry_of(d->graphs[2], 3, 0)], 0); /* its mirror */

    float *x = NULL;
    int64_t dim = 0;
    assert_int_equal(gp_graph_dataset_features(&x, &dim, d), GP_OK);
    assert_int_equal(dim, 6);
    assert_float_equal(x[0 * 6 + 1], 1.0f, 0.0f);
    assert_float_equal(x[0 * 6 + 0], 0.0f, 0.0f);
    assert_float_equal(x[8 * 6 + 3], 1.0f, 0.0f);
    assert_float_equal(x[8 * 6 + 5], 16.0f, 0.0f);
    gp_free(x);

    /* DGCNN adjacency lists give the same graphs and labels */
    gp_graph_dataset *dd = NULL;
    assert_int_equal(gp_graph_dataset_read_tu(&dd, fx("tu/TINYD"), "TINYD"), GP_OK);
    check_tiny(dd, true);
    assert_null(dd->node_labels);
    assert_null(dd->edge_labels);
    assert_int_equal(gp_graph_dataset_features(&x, &dim, dd), GP_OK);
    assert_int_equal(dim, 1);
    assert_float_equal(x[4], 1.0f, 0.0f);
    gp_free(x);
    gp_graph_dataset_free(&dd);
    gp_graph_dataset_free(&d);
    assert_null(d);
}

/* A copy of TINY (or TINYD) in tmp/<dir> with one file replaced (text) or removed (NULL). */
static const char *tu_variant(const char *dir, const char *name, const char *file, const char *text)
{
    static const char *tiny[] = {"A.txt", "edge_labels.txt", "graph_indicator.txt", "graph_labels.txt",
                                 "node_attributes.txt", "node_labels.txt"};
    static const char *tinyd[] = {"dgcnn.txt", "graph_indicator.txt", "graph_labels.txt"};
    bool d = !strcmp(name, "TINYD");
    const char *src = d ? "tu/TINYD" : "tu/TINY";
    const char *out = tp(dir);
    static char keep[PATH_MAX];
    if (snprintf(keep, sizeof keep, "%s", out) >= (int)sizeof keep) fail();
    rm_tree(keep);
    make_dir(keep);
    size_t count = d ? 3 : 6;
    for (size_t i = 0; i < count; i++) {
        char f[128];
        snprintf(f, sizeof f, "%s_%s", name, d ? tinyd[i] : tiny[i]);
        copy_file(path_in(fx(src), f), path_in(keep, f));
    }
    char f[128];
    snprintf(f, sizeof f, "%s_%s", name, file);
    remove(path_in(keep, f));
    if (text) write_file(path_in(keep, f), text);
    return keep;
}

static void test_tu_inconsistent(void **state)
{
    (void)state;
    gp_graph_dataset *d = NULL;
    const char *dir;
#define TU_ERR(file, text, st, ...)                                                             \
    do {                                                                                       \
        dir = tu_variant("tu_bad", "TINY", file, text);                                        \
        expect_error(gp_graph_dataset_read_tu(&d, dir, "TINY"), st, __VA_ARGS__);              \
        assert_null(d);                                                                        \
    } while (0)
    TU_ERR("graph_indicator.txt", "1\n1\n1\n2\n2\n3\n3\n3\n2\n", GP_E_PARSE, "TINY_graph_indicator.txt:9:",
           "must not decrease");
    TU_ERR("graph_indicator.txt", "1\n1\n1\n3\n3\n4\n4\n4\n4\n", GP_E_PARSE, "TINY_graph_indicator.txt:4:",
           "graph 2 has no nodes");
    TU_ERR("graph_indicator.txt", "0\n", GP_E_RANGE, "TINY_graph_indicator.txt:1:", "ids start at 1");
    /* the message quotes the whole line (it quoted only its first field: '1') */
    TU_ERR("graph_indicator.txt", "1\n1 2\n", GP_E_PARSE, "TINY_graph_indicator.txt:2:", "bad line '1 2'");
    TU_ERR("graph_indicator.txt", "1\n1,\n", GP_E_PARSE, "TINY_graph_indicator.txt:2:", "bad line '1,'");
    TU_ERR("graph_indicator.txt", "1\n 1 \n2x\n", GP_E_PARSE, "TINY_graph_indicator.txt:3:", "bad line '2x'");
    TU_ERR("graph_indicator.txt", "", GP_E_PARSE, "TINY_graph_indicator.txt", "empty");
    TU_ERR("graph_indicator.txt", NULL, GP_E_IO, "TINY_graph_indicator.txt", "no such file");
    TU_ERR("graph_labels.txt", "1\n2\n", GP_E_PARSE, "TINY_graph_labels.txt", "2 lines, but there are 3 graphs");
    TU_ERR("graph_labels.txt", "1\n2\n1\n2\n", GP_E_PARSE, "TINY_graph_labels.txt:4:", "more lines than the 3 graphs");
    TU_ERR("graph_labels.txt", "1\nx\n1\n", GP_E_PARSE, "TINY_graph_labels.txt:2:", "bad number 'x'");
    TU_ERR("node_labels.txt", "1\n1\n1\n1\n1\n1\n1\n1\n", GP_E_PARSE, "TINY_node_labels.txt",
           "8 lines, but there are 9 nodes");
    TU_ERR("node_attributes.txt", "1, 2\n3, 4\n5, 6, 7\n", GP_E_PARSE, "TINY_node_attributes.txt:3:",
           "more than 2 columns");
    TU_ERR("node_attributes.txt", "1, 2\n3\n", GP_E_PARSE, "TINY_node_attributes.txt:2:", "1 columns, but line 1 has 2");
    TU_ERR("node_attributes.txt", "1, 2\n3, inf\n", GP_E_PARSE, "TINY_node_attributes.txt:2:", "bad number 'inf' in column 2");
    TU_ERR("A.txt", "1, 2\n2, 1\n3, 4\n", GP_E_PARSE, "TINY_A.txt:3:", "edge 3, 4 joins graph 1 and graph 2");
    TU_ERR("A.txt", "1, 2\n2, 10\n", GP_E_RANGE, "TINY_A.txt:2:", "node id 10 in column 2 is outside 1..9");
    TU_ERR("A.txt", "1, 2\n0, 1\n", GP_E_RANGE, "TINY_A.txt:2:", "node id 0 in column 1");
    TU_ERR("A.txt", "1, 2\n-2, 1\n", GP_E_RANGE, "TINY_A.txt:2:", "node id -2 in column 1");
    TU_ERR("A.txt", "1, 2\n2, x\n", GP_E_PARSE, "TINY_A.txt:2:", "bad number 'x' in column 2");
    TU_ERR("A.txt", "1, 2\n2\n", GP_E_PARSE, "TINY_A.txt:2:", "missing column 2");
    TU_ERR("A.txt", "1, 2, 3\n", GP_E_PARSE, "TINY_A.txt:1:", "unexpected column 3");
    TU_ERR("A.txt", "", GP_E_PARSE, "TINY_A.txt", "empty");
    TU_ERR("A.txt", NULL, GP_E_IO, "neither TINY_A.txt[.gz] nor TINY_dgcnn.txt[.gz]");
    TU_ERR("edge_labels.txt", "1\n", GP_E_PARSE, "TINY_edge_labels.txt", "1 lines, but there are 17 lines of the edge file");

    /* lines not grouped by graph (bucketed first), and a graph without edges */
    dir = tu_variant("tu_shuffled", "TINY", "A.txt", "9, 6\n1, 2\n8, 9\n2, 1\n6, 7\n2, 3\n7, 6\n3, 2\n7, 8\n"
                                                      "1,3\n8, 7\n3,1\n9, 8\n");
    remove(path_in(dir, "TINY_edge_labels.txt"));
    assert_int_equal(gp_graph_dataset_read_tu(&d, dir, "TINY"), GP_OK);
    static const int64_t t1[][2] = {{0, 1}, {1, 2}, {0, 2}}, t3[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 0}};
    assert_graph_edges(d->graphs[0], 3, 3, t1, true);
    assert_int_equal(gp_graph_edges(d->graphs[1]), 0);
    assert_graph_edges(d->graphs[2], 4, 4, t3, true);
    assert_int_equal(d->num_edges, 7);
    assert_int_equal(d->duplicate_lines, 0);
    assert_null(d->edge_labels);
    gp_graph_dataset_free(&d);

    /* NAME_A.txt.gz instead of NAME_A.txt: same result; truncated: an error */
    dir = tu_variant("tu_gz", "TINY", "A.txt", NULL);
    char *a = read_all(fx("tu/TINY/TINY_A.txt"), NULL);
    write_gz(path_in(dir, "TINY_A.txt.gz"), a, strlen(a));
    assert_int_equal(gp_graph_dataset_read_tu(&d, dir, "TINY"), GP_OK);
    check_tiny(d, false);
    gp_graph_dataset_free(&d);
    size_t len;
    char *gz = read_all(path_in(dir, "TINY_A.txt.gz"), &len);
    FILE *f = fopen(path_in(dir, "TINY_A.txt.gz"), "wb");
    fwrite(gz, 1, len - 6, f);
    fclose(f);
    expect_error(gp_graph_dataset_read_tu(&d, dir, "TINY"), GP_E_IO, "TINY_A.txt.gz:", "truncated gzip");
    assert_null(d);
    free(gz);
    free(a);

    /* the DGCNN file against the TU files */
#define DG_ERR(text, st, ...)                                                                   \
    do {                                                                                       \
        dir = tu_variant("tu_bad_d", "TINYD", "dgcnn.txt", text);                              \
        expect_error(gp_graph_dataset_read_tu(&d, dir, "TINYD"), st, __VA_ARGS__);             \
        assert_null(d);                                                                        \
    } while (0)
    DG_ERR("2\n", GP_E_PARSE, "TINYD_dgcnn.txt:1:", "2 graphs, but graph_indicator has 3");
    DG_ERR("3\n3 0\n0 2 1 2\n0 2 0 2\n0 2 0 1\n3 2\n", GP_E_PARSE, "TINYD_dgcnn.txt:6:",
           "graph 2 has 3 nodes here, but 2 in graph_indicator");
    DG_ERR("3\n3 0\n0 2 1 2\n0 2 0 2\n0 2 0 1\n2 1\n", GP_E_PARSE, "TINYD_dgcnn.txt:6:", "graph 2 has label 1 here");
    DG_ERR("3\n3 0\n0 2 1 3\n", GP_E_RANGE, "TINYD_dgcnn.txt:3:", "neighbour 3 is outside 0..2");
    DG_ERR("3\n3 0\n0 3 1 2\n", GP_E_PARSE, "TINYD_dgcnn.txt:3:", "2 neighbours listed, but the line announces 3");
    DG_ERR("3\n3 0\n0 2 1 2\n", GP_E_PARSE, "TINYD_dgcnn.txt", "file ends inside graph 1");
    DG_ERR("3\n3 0\n0 2 1 2\n0 2 0 2\n0 2 0 1\n", GP_E_PARSE, "TINYD_dgcnn.txt", "file ends before graph 2");
    char *good = read_all(fx("tu/TINYD/TINYD_dgcnn.txt"), NULL);
    char *more = malloc(strlen(good) + 8);
    sprintf(more, "%s1 0\n", good);
    DG_ERR(more, GP_E_PARSE, "TINYD_dgcnn.txt:14:", "unexpected data after the last of 3 graphs");
    free(more);
    free(good);
#undef TU_ERR
#undef DG_ERR
}

/* ------------------------------------------------------------------ mini-batches */

static void test_minibatch(void **state)
{
    (void)state;
    gp_graph_dataset *d = NULL;
    assert_int_equal(gp_graph_dataset_read_tu(&d, fx("tu/TINY"), "TINY"), GP_OK);
    int64_t idx[3] = {0, 1, 2};
    gp_minibatch *b = NULL, *b2 = NULL;
    assert_int_equal(gp_minibatch_new(&b, d, 3, idx, 2, true, 11), GP_OK);
    assert_int_equal(gp_minibatch_new(&b2, d, 3, idx, 2, true, 11), GP_OK);
    assert_int_equal(gp_minibatch_batches(b), 2);
    bool differs = false;
    int64_t first_order[3] = {0};
    for (int epoch = 0; epoch < 6; epoch++) {
        int seen[3] = {0};
        int64_t at = 0, batches = 0;
        for (;;) {
            gp_graph *g = NULL, *g2 = NULL;
            gp_minibatch_info info, info2;
            assert_int_equal(gp_minibatch_next(&g, &info, b), GP_OK);
            assert_int_equal(gp_minibatch_next(&g2, &info2, b2), GP_OK);
            if (!g) {
                assert_null(g2);
                assert_int_equal(info.count, 0);
                break;
            }
            batches++;
            assert_int_equal(info.count, info2.count); /* same seed: same batches */
            assert_int_equal(g->num_graphs, info.count);
            int64_t nodes = 0;
            for (int64_t i = 0; i < info.count; i++) {
                int64_t gi = info.graphs[i];
                assert_int_equal(gi, info2.graphs[i]);
                seen[gi]++;
                if (epoch == 0) first_order[at] = gi;
                else differs = differs || first_order[at] != gi;
                at++;
                assert_int_equal(info.labels[i], d->labels[gi]);
                /* block i of the batch is graph gi, its nodes are dataset rows node_ptr[gi] + j */
                int64_t n = gp_graph_nodes(d->graphs[gi]);
                assert_int_equal(g->graph_ptr[i + 1] - g->graph_ptr[i], n);
                for (int64_t j = 0; j < n; j++) assert_int_equal(info.nodes[nodes + j], d->node_ptr[gi] + j);
                nodes += n;
            }
            assert_int_equal(info.num_nodes, nodes);
            assert_int_equal(gp_graph_nodes(g), nodes);
            gp_graph_free(&g);
            gp_graph_free(&g2);
        }
        assert_int_equal(batches, 2);
        for (int i = 0; i < 3; i++) assert_int_equal(seen[i], 1); /* every graph once per epoch */
        gp_minibatch_reset(b);
        gp_minibatch_reset(b2);
    }
    assert_true(differs); /* reshuffled between epochs */
    gp_minibatch_free(&b);
    gp_minibatch_free(&b2);

    /* no shuffle: the given order, and the batch graph is gp_graph_batch of the parts */
    int64_t some[2] = {2, 0};
    assert_int_equal(gp_minibatch_new(&b, d, 2, some, 5, false, 0), GP_OK);
    gp_graph *g = NULL, *ref = NULL;
    gp_minibatch_info info;
    assert_int_equal(gp_minibatch_next(&g, &info, b), GP_OK);
    assert_int_equal(info.count, 2);
    assert_int_equal(info.graphs[0], 2);
    const gp_graph *parts[2] = {d->graphs[2], d->graphs[0]};
    assert_int_equal(gp_graph_batch(&ref, 2, parts), GP_OK);
    float *x = dense(g), *y = dense(ref);
    for (int64_t i = 0; i < 7 * 7; i++) assert_float_equal(x[i], y[i], 0.0f);
    gp_free(x);
    gp_free(y);
    gp_graph_free(&g);
    gp_graph_free(&ref);
    gp_minibatch_free(&b);

    int64_t bad[1] = {3};
    expect_error(gp_minibatch_new(&b, d, 1, bad, 1, false, 0), GP_E_RANGE, "index 3");
    assert_null(b);
    expect_error(gp_minibatch_new(&b, d, 1, some, 0, false, 0), GP_E_INVALID, "batch_size");
    gp_graph_dataset_free(&d);
}

/* ------------------------------------------------------------------ node datasets */

static void test_nodes_golden(void **state)
{
    (void)state;
    gp_node_dataset *d = NULL;
    assert_int_equal(gp_node_dataset_read(&d, fx("nodes/small"), 0), GP_OK);
    assert_int_equal(d->num_nodes, 6);
    assert_int_equal(d->num_classes, 3);
    assert_int_equal(d->labels[4], -1);
    assert_int_equal(d->labels[2], 2);
    static const int64_t e[][2] = {{0, 1}, {0, 2}, {1, 2}, {3, 4}, {4, 5}};
    assert_graph_edges(d->graph, 6, 5, e, true);
    assert_int_equal(d->num_features, 4);
    assert_non_null(d->features);
    assert_null(d->features->val); /* binary */
    float *x = NULL;
    assert_int_equal(gp_csr_to_dense(&x, d->features), GP_OK);
    static const float fx0[24] = {1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    for (int i = 0; i < 24; i++) assert_float_equal(x[i], fx0[i], 0.0f);
    gp_free(x);
    assert_int_equal(d->num_splits, 1);
    assert_int_equal(d->splits[0].count[GP_NODES_TRAIN], 3);
    assert_int_equal(d->splits[0].idx[GP_NODES_TEST][0], 5);
    gp_node_dataset_free(&d);
    assert_null(d);

    assert_int_equal(gp_node_dataset_read(&d, fx("nodes/multi"), 0), GP_OK);
    assert_int_equal(d->num_splits, 2);
    assert_int_equal(d->splits[1].idx[GP_NODES_TRAIN][0], 4);
    assert_int_equal(d->splits[1].count[GP_NODES_TEST], 2);
    assert_non_null(d->features->val); /* not binary: values kept */
    assert_int_equal(gp_csr_to_dense(&x, d->features), GP_OK);
    assert_float_equal(x[0], 0.5f, 0.0f);
    assert_float_equal(x[2 * 3 + 1], 2.0f, 0.0f);
    assert_float_equal(x[4 * 3 + 2], -1.0f, 0.0f);
    gp_free(x);
    assert_true(d->graph->symmetric);
    gp_node_dataset_free(&d);
    assert_int_equal(gp_node_dataset_read(&d, fx("nodes/multi"), GP_NODES_RAW_DIRECTED), GP_OK);
    assert_false(d->graph->symmetric);
    assert_int_equal(gp_graph_edges(d->graph), 6); /* 0->1, 1->0, 1->2, 2->3, 3->4, 4->4 */
    gp_node_dataset_free(&d);
}

/* A copy of nodes/small in tmp/nodes_bad with one file replaced or removed. */
static const char *nodes_variant(const char *file, const char *text)
{
    static const char *files[] = {"meta", "labels", "edges", "features", "train_idx", "val_idx", "test_idx"};
    static char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", tp("nodes_bad")) >= (int)sizeof dir) fail();
    rm_tree(dir);
    make_dir(dir);
    for (size_t i = 0; i < 7; i++) copy_file(path_in(fx("nodes/small"), files[i]), path_in(dir, files[i]));
    remove(path_in(dir, file));
    if (text) write_file(path_in(dir, file), text);
    return dir;
}

static void test_nodes_errors(void **state)
{
    (void)state;
    gp_node_dataset *d = NULL;
#define ND_ERR(file, text, st, ...)                                                             \
    do {                                                                                       \
        expect_error(gp_node_dataset_read(&d, nodes_variant(file, text), 0), st, __VA_ARGS__); \
        assert_null(d);                                                                        \
    } while (0)
    ND_ERR("labels", "0\n1\n2\n0\n-1\n", GP_E_PARSE, "labels", "5 labels, but meta says 6 nodes");
    ND_ERR("labels", "0\n1\n2\n0\n-2\n1\n", GP_E_RANGE, "labels:5:", "label -2");
    ND_ERR("labels", "0\n1\n3\n0\n-1\n1\n", GP_E_RANGE, "labels", "label 3, but meta says 3 classes");
    ND_ERR("labels", NULL, GP_E_IO, "labels", "No such file");
    ND_ERR("edges", "0 1\n0 2\n1 2\n3 4\n", GP_E_PARSE, "undirected edges: 4 in the files, but meta says 5");
    ND_ERR("edges", "0 1\n0 2\n1 2\n3 4\n4 6\n", GP_E_RANGE, "edges:5:", "node id 6 in column 2 is out of range");
    ND_ERR("edges", "0 1\n1 0\n1 2\n3 4\n4 5\n", GP_E_PARSE, "edges", "repeated edges");
    ND_ERR("features", "0 0 1\n0 9 1\n", GP_E_RANGE, "features:2:", "feature 9 is out of range (4 features)");
    ND_ERR("features", "0 0 1\n0 1\n", GP_E_PARSE, "features:2:", "missing column 3");
    ND_ERR("features", "0 0 1\n", GP_E_PARSE, "feature nonzeros: 1 in the files, but meta says 6");
    ND_ERR("train_idx", "0\n6\n", GP_E_RANGE, "train_idx:2:", "index 6 is outside [0, 6)");
    ND_ERR("train_idx", "0\n1\n", GP_E_PARSE, "train_idx entries: 2 in the files, but meta says 3");
    ND_ERR("test_idx", "5\n4\n", GP_E_PARSE, "test_idx", "entry 2: node 4 has no label");
    ND_ERR("val_idx", NULL, GP_E_IO, "val_idx", "No such file");
    ND_ERR("meta", "num_nodes six\n", GP_E_PARSE, "meta:1:", "bad number 'six' for num_nodes");
    /* without meta everything comes from the files */
    const char *dir = nodes_variant("meta", NULL);
    assert_int_equal(gp_node_dataset_read(&d, dir, 0), GP_OK);
    assert_int_equal(d->num_nodes, 6);
    assert_int_equal(d->num_classes, 3);
    assert_int_equal(d->num_features, 4);
    gp_node_dataset_free(&d);
#undef ND_ERR
}

/* ------------------------------------------------------------------ link splits */

static void test_link_split(void **state)
{
    (void)state;
    gp_link_split *s = NULL;
    assert_int_equal(gp_link_split_read(&s, fx("split_golden.txt"), 0), GP_OK);
    assert_int_equal(s->num_nodes, 5);
    assert_int_equal(s->count[GP_LINK_TRAIN_POS], 2);
    assert_int_equal(s->count[GP_LINK_TRAIN_NEG], 1);
    assert_int_equal(s->count[GP_LINK_VAL_POS], 1);
    assert_int_equal(s->count[GP_LINK_VAL_NEG], 1);
    assert_int_equal(s->count[GP_LINK_TEST_POS], 1);
    assert_int_equal(s->count[GP_LINK_TEST_NEG], 1);
    assert_int_equal(s->pairs[GP_LINK_TRAIN_POS][2], 1); /* "2 1" stored as (1, 2) */
    assert_int_equal(s->pairs[GP_LINK_TRAIN_POS][3], 2);
    assert_int_equal(s->pairs[GP_LINK_TEST_NEG][1], 4);
    gp_link_split_free(&s);

    char *text = read_all(fx("split_golden.txt"), NULL);
    write_gz(tp("split.txt.gz"), text, strlen(text));
    free(text);
    assert_int_equal(gp_link_split_read(&s, tp("split.txt.gz"), 10), GP_OK);
    assert_int_equal(s->num_nodes, 10);
    assert_int_equal(s->count[GP_LINK_TRAIN_POS], 2);
    gp_link_split_free(&s);

    expect_error(gp_link_split_read(&s, fx("split_golden.txt"), 4), GP_E_RANGE, "split_golden.txt:5:",
                 "node id 4 in column 3 is out of range (4 nodes)");
    assert_null(s);
    write_file(tp("split_bad.txt"), "train_pos 0 1\ntrain_edge 1 2\n");
    expect_error(gp_link_split_read(&s, tp("split_bad.txt"), 0), GP_E_PARSE, "split_bad.txt:2:", "unknown part 'train_edge'");
    write_file(tp("split_bad.txt"), "train_pos 0 1\ntest_neg 2 2\n");
    expect_error(gp_link_split_read(&s, tp("split_bad.txt"), 0), GP_E_PARSE, "split_bad.txt:2:", "self-loop");
    write_file(tp("split_bad.txt"), "train_pos 0 1\ntest_neg 2\n");
    expect_error(gp_link_split_read(&s, tp("split_bad.txt"), 0), GP_E_PARSE, "split_bad.txt:2:", "missing column 3");
    write_file(tp("split_bad.txt"), "train_pos 0 -1\n");
    expect_error(gp_link_split_read(&s, tp("split_bad.txt"), 0), GP_E_RANGE, "split_bad.txt:1:", "negative node id -1");
    write_file(tp("split_bad.txt"), "train_pos 0 1.5\n");
    expect_error(gp_link_split_read(&s, tp("split_bad.txt"), 0), GP_E_PARSE, "split_bad.txt:1:", "bad number '1.5'");
    write_file(tp("split_bad.txt"), "");
    expect_error(gp_link_split_read(&s, tp("split_bad.txt"), 0), GP_E_PARSE, "split_bad.txt", "empty");
    assert_null(s);
}

/* ------------------------------------------------------------------ Matrix Market, igraph */

static void test_mtx(void **state)
{
    (void)state;
    gp_csr *m = NULL;
    assert_int_equal(gp_csr_read_mtx(&m, fx("mtx_general.mtx")), GP_OK);
    assert_int_equal(m->rows, 3);
    assert_int_equal(m->cols, 4);
    assert_int_equal(m->nnz, 4); /* (3,1) twice: summed */
    float *x = NULL;
    assert_int_equal(gp_csr_to_dense(&x, m), GP_OK);
    static const float want[12] = {1.5f, 0, 0, -2, 0, 3, 0, 0, 4.5f, 0, 0, 0};
    for (int i = 0; i < 12; i++) assert_float_equal(x[i], want[i], 0.0f);
    gp_free(x);
    gp_csr_free(&m);

    gp_graph *g = NULL;
    assert_int_equal(gp_graph_read_mtx(&g, fx("mtx_symmetric.mtx")), GP_OK);
    static const int64_t e[][2] = {{0, 1}, {1, 2}, {2, 3}, {3, 3}};
    assert_graph_edges(g, 4, 4, e, true);
    assert_null(g->adj.val);
    gp_graph_free(&g);
    assert_int_equal(gp_graph_read_mtx(&g, fx("mtx_integer.mtx")), GP_OK);
    assert_false(g->symmetric);
    float *d = dense(g);
    assert_float_equal(d[0 * 3 + 1], 7.0f, 0.0f);
    assert_float_equal(d[1 * 3 + 2], -1.0f, 0.0f);
    gp_free(d);
    gp_graph_free(&g);
    /* through the format switch, from a .gz */
    char *text = read_all(fx("mtx_symmetric.mtx"), NULL);
    write_gz(tp("sym.mtx.gz"), text, strlen(text));
    free(text);
    assert_int_equal(gp_graph_read_format(&g, tp("sym.mtx.gz"), GP_FORMAT_AUTO, NULL), GP_OK);
    assert_graph_edges(g, 4, 4, e, true);
    gp_graph_free(&g);

    expect_error(gp_graph_read_mtx(&g, fx("mtx_general.mtx")), GP_E_SHAPE, "mtx_general.mtx", "not square");
    assert_null(g);
    expect_error(gp_csr_read_mtx(&m, fx("mtx_upper.mtx")), GP_E_PARSE, "mtx_upper.mtx:4:", "above the diagonal");
    assert_null(m);
    expect_error(gp_csr_read_mtx(&m, fx("mtx_short.mtx")), GP_E_PARSE, "mtx_short.mtx", "file ends after 2 of the 4 entries");
    expect_error(gp_csr_read_mtx(&m, fx("mtx_range.mtx")), GP_E_RANGE, "mtx_range.mtx:4:", "row index 4 is outside 1..3");
    expect_error(gp_csr_read_mtx(&m, fx("mtx_array.mtx")), GP_E_UNSUPPORTED, "mtx_array.mtx:1:", "coordinate");
    expect_error(gp_csr_read_mtx(&m, fx("mtx_noheader.mtx")), GP_E_PARSE, "mtx_noheader.mtx:1:", "not a Matrix Market file");
    expect_error(gp_csr_read_mtx(&m, fx("mtx_badvalue.mtx")), GP_E_PARSE, "mtx_badvalue.mtx:3:", "bad number 'abc' in column 3");
    write_file(tp("too_many.mtx"), "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 1\n2 2\n");
    expect_error(gp_csr_read_mtx(&m, tp("too_many.mtx")), GP_E_PARSE, "too_many.mtx:4:", "more entries than the 1");
    write_file(tp("complex.mtx"), "%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n");
    expect_error(gp_csr_read_mtx(&m, tp("complex.mtx")), GP_E_UNSUPPORTED, "complex.mtx:1:", "complex");
    write_file(tp("skew.mtx"), "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 1\n");
    expect_error(gp_csr_read_mtx(&m, tp("skew.mtx")), GP_E_UNSUPPORTED, "skew.mtx:1:", "skew-symmetric");
    write_file(tp("int_float.mtx"), "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1.5\n");
    expect_error(gp_csr_read_mtx(&m, tp("int_float.mtx")), GP_E_PARSE, "int_float.mtx:3:", "bad integer '1.5'");
    write_file(tp("empty.mtx"), "");
    expect_error(gp_csr_read_mtx(&m, tp("empty.mtx")), GP_E_PARSE, "empty.mtx", "empty");
    assert_null(m);
}

static void test_igraph_formats(void **state)
{
    (void)state;
    static const int64_t e[][2] = {{0, 1}, {1, 2}, {2, 3}, {0, 2}};
    const char *files[] = {"small.graphml", "small.gml", "small.net", "small.ncol", "small.lgl"};
    for (size_t i = 0; i < 5; i++) {
        gp_graph *g = NULL;
        gp_status st = gp_graph_read_format(&g, fx(files[i]), GP_FORMAT_AUTO, NULL);
        if (st != GP_OK) fail_msg("%s: %s", files[i], gp_last_error());
        assert_graph_edges(g, 4, 4, e, true);
        gp_graph_free(&g);
    }
    /* gzip works for igraph's formats too */
    char *text = read_all(fx("small.graphml"), NULL);
    write_gz(tp("small.graphml.gz"), text, strlen(text));
    free(text);
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_read_format(&g, tp("small.graphml.gz"), GP_FORMAT_AUTO, NULL), GP_OK);
    assert_graph_edges(g, 4, 4, e, true);
    gp_graph_free(&g);
    /* NCOL directed; duplicate policy FAIL */
    gp_edgelist_options o = {GP_READ_DIRECTED, 0, 0, 0};
    assert_int_equal(gp_graph_read_format(&g, fx("small.ncol"), GP_FORMAT_NCOL, &o), GP_OK);
    assert_false(g->symmetric);
    assert_int_equal(gp_graph_edges(g), 4);
    gp_graph_free(&g);
    write_file(tp("multi.ncol"), "a b\nb a\nb c\n");
    o = (gp_edgelist_options){0, GP_DUP_FAIL, 0, 0};
    expect_error(gp_graph_read_format(&g, tp("multi.ncol"), GP_FORMAT_NCOL, &o), GP_E_PARSE, "multi.ncol", "repeated edges");
    assert_null(g);
    o = (gp_edgelist_options){0, GP_DUP_DROP, 0, 0};
    assert_int_equal(gp_graph_read_format(&g, tp("multi.ncol"), GP_FORMAT_NCOL, &o), GP_OK);
    assert_int_equal(gp_graph_edges(g), 4);
    gp_graph_free(&g);
    /* malformed input: igraph's reason comes back, with the file name */
    expect_error(gp_graph_read_format(&g, fx("bad.graphml"), GP_FORMAT_AUTO, NULL), GP_E_FOREIGN, "bad.graphml",
                 "GraphML");
    assert_null(g);
    expect_error(gp_graph_read_format(&g, fx("bad.gml"), GP_FORMAT_AUTO, NULL), GP_E_FOREIGN, "bad.gml", "GML");
    expect_error(gp_graph_read_format(&g, fx("nothere.gml"), GP_FORMAT_AUTO, NULL), GP_E_IO, "nothere.gml");
    write_file(tp("empty.graphml"), "");
    expect_error(gp_graph_read_format(&g, tp("empty.graphml"), GP_FORMAT_AUTO, NULL), GP_E_PARSE, "empty.graphml", "empty");
    /* unknown extensions are edge lists */
    assert_int_equal(gp_graph_read_format(&g, fx("edges_golden.txt"), GP_FORMAT_AUTO, NULL), GP_OK);
    assert_graph_edges(g, 6, 6, golden_uv, true);
    gp_graph_free(&g);
}

/* ------------------------------------------------------------------ out-of-memory loop */

typedef gp_status (*reader_fn)(void **out);
static gp_status r_edges(void **o)
{
    gp_edgelist_options opt = {GP_READ_LABELS, 0, 0, 0};
    return gp_edgelist_read((gp_edgelist **)o, fx("edges_labels.txt"), &opt);
}
static gp_status r_tu(void **o) { return gp_graph_dataset_read_tu((gp_graph_dataset **)o, fx("tu/TINY"), "TINY"); }
static gp_status r_tud(void **o) { return gp_graph_dataset_read_tu((gp_graph_dataset **)o, fx("tu/TINYD"), "TINYD"); }
static gp_status r_nodes(void **o) { return gp_node_dataset_read((gp_node_dataset **)o, fx("nodes/multi"), 0); }
static gp_status r_split(void **o) { return gp_link_split_read((gp_link_split **)o, fx("split_golden.txt"), 0); }
static gp_status r_mtx(void **o) { return gp_graph_read_mtx((gp_graph **)o, fx("mtx_symmetric.mtx")); }
static gp_status r_gml(void **o) { return gp_graph_read_format((gp_graph **)o, fx("small.gml"), GP_FORMAT_AUTO, NULL); }

static void free_any(int which, void **o)
{
    switch (which) {
    case 0: gp_edgelist_free((gp_edgelist **)o); break;
    case 1: case 2: gp_graph_dataset_free((gp_graph_dataset **)o); break;
    case 3: gp_node_dataset_free((gp_node_dataset **)o); break;
    case 4: gp_link_split_free((gp_link_split **)o); break;
    default: gp_graph_free((gp_graph **)o); break;
    }
}

/* One read; on success the output is freed again, on failure it must have been set to NULL. */
static gp_status read_and_free(void *ctx)
{
    int r = *(const int *)ctx;
    static const reader_fn readers[] = {r_edges, r_tu, r_tud, r_nodes, r_split, r_mtx, r_gml};
    void *out = (void *)1;
    gp_status st = readers[r](&out);
    if (st == GP_OK)
        free_any(r, &out);
    else if (out != NULL)
        fail_msg("reader %d: status %s but out %p", r, gp_status_name(st), out);
    return st;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    for (int r = 0; r < 7; r++) {
        char what[32];
        snprintf(what, sizeof what, "reader %d", r);
        gp_set_allocator(fa_allocator());
        fa_reset(-1);
        fa_result res = fa_every_failure(what, read_and_free, &r);
        gp_set_allocator(NULL);
        assert_true(res.first_ok > 3); /* each reader allocates a few times at least */
    }
}

/* ------------------------------------------------------------------ data directory */

static void test_data_dir_resolution(void **state)
{
    (void)state;
    char *saved[3];
    const char *names[3] = {"GP_DATA_DIR", "XDG_CACHE_HOME", "HOME"};
    for (int i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    char *d = NULL;
    setenv("GP_DATA_DIR", "/env/data", 1);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(gp_data_dir(&d, "/explicit"), GP_OK);
    assert_string_equal(d, "/explicit");
    gp_free(d);
    assert_int_equal(gp_data_dir(&d, ""), GP_OK);
    assert_string_equal(d, "/env/data");
    gp_free(d);
    unsetenv("GP_DATA_DIR");
    assert_int_equal(gp_data_dir(&d, NULL), GP_OK);
    assert_string_equal(d, "/xdg/graphpool");
    gp_free(d);
    setenv("XDG_CACHE_HOME", "relative", 1); /* not absolute: ignored, as the XDG spec says */
    assert_int_equal(gp_data_dir(&d, NULL), GP_OK);
    assert_string_equal(d, "/home/u/.cache/graphpool");
    gp_free(d);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    expect_error(gp_data_dir(&d, NULL), GP_E_INVALID, "GP_DATA_DIR");
    assert_null(d);
    for (int i = 0; i < 3; i++) {
        if (saved[i]) setenv(names[i], saved[i], 1);
        else unsetenv(names[i]);
        free(saved[i]);
    }

    /* finding by name, in a small layout made here */
    make_dir(tp("dd"));
    make_dir(tp("dd/linkpred"));
    make_dir(tp("dd/tu"));
    make_dir(tp("dd/tu/IMDB-BINARY"));
    make_dir(tp("dd/planetoid"));
    make_dir(tp("dd/planetoid/cora"));
    write_file(tp("dd/linkpred/Celegans.edges"), "0 1\n");
    write_file(tp("dd/linkpred/Ecoli.edges"), "0 1\n");
    static const struct {
        const char *name, *canon;
        gp_dataset_kind kind;
    } q[] = {{"C.ele", "Celegans", GP_DATASET_LINKPRED}, {"celegans", "Celegans", GP_DATASET_LINKPRED},
             {"E.coli", "Ecoli", GP_DATASET_LINKPRED},  {"imdb_binary", "IMDB-BINARY", GP_DATASET_TU},
             {"IMDB-BINARY", "IMDB-BINARY", GP_DATASET_TU}, {"CORA", "cora", GP_DATASET_PLANETOID}};
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        char *p = NULL, *canon = NULL;
        gp_dataset_kind kind;
        assert_int_equal(gp_data_find(&p, &kind, &canon, tp("dd"), q[i].name), GP_OK);
        assert_string_equal(canon, q[i].canon);
        assert_int_equal(kind, q[i].kind);
        assert_non_null(strstr(p, q[i].canon));
        gp_free(p);
        gp_free(canon);
    }
    char *p = NULL;
    expect_error(gp_data_find(&p, NULL, NULL, tp("dd"), "MUTAG"), GP_E_IO, "dataset 'MUTAG' not found", "gp-data fetch");
    assert_null(p);
}

static void test_registry_file_errors(void **state)
{
    (void)state;
    gp_registry *r = NULL;
    static const char *h64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char line[1024];
    snprintf(line, sizeof line, "# comment\nX\tgraphclass\ttu-A\ttu/X/X_A.txt\t%s\thttps://a\t-\tnotes\n", h64);
    write_file(tp("reg_ok.tsv"), line);
    assert_int_equal(gp_registry_read(&r, tp("reg_ok.tsv")), GP_OK);
    assert_int_equal(r->count, 1);
    assert_string_equal(r->entries[0].path, "tu/X/X_A.txt");
    assert_string_equal(r->entries[0].notes, "notes");
    gp_verify_result res;
    assert_int_equal(gp_registry_verify(&res, NULL, tmp, &r->entries[0]), GP_OK);
    assert_int_equal(res, GP_VERIFY_MISSING);
    make_dir(tp("tu"));
    make_dir(tp("tu/X"));
    write_file(tp("tu/X/X_A.txt"), "1, 2\n");
    char hex[65];
    assert_int_equal(gp_registry_verify(&res, hex, tmp, &r->entries[0]), GP_OK);
    assert_int_equal(res, GP_VERIFY_MISMATCH);
    gp_registry_free(&r);
    snprintf(line, sizeof line, "X\tgraphclass\ttu-A\ttu/X/X_A.txt\t%s\thttps://a\t-\tnotes\n", hex);
    write_file(tp("reg_ok.tsv"), line);
    assert_int_equal(gp_registry_read(&r, tp("reg_ok.tsv")), GP_OK);
    assert_int_equal(gp_registry_verify(&res, NULL, tmp, &r->entries[0]), GP_OK);
    assert_int_equal(res, GP_VERIFY_OK);
    gp_registry_free(&r);

    snprintf(line, sizeof line, "X\tgraphclass\ttu-A\ttu/X/X_A.txt\t%s\thttps://a\t-\n", h64);
    write_file(tp("reg_bad.tsv"), line);
    expect_error(gp_registry_read(&r, tp("reg_bad.tsv")), GP_E_PARSE, "reg_bad.tsv:1:", "7 tab-separated columns");
    snprintf(line, sizeof line, "X\tgraphclass\ttu-A\t../etc/passwd\t%s\thttps://a\t-\tn\n", h64);
    write_file(tp("reg_bad.tsv"), line);
    expect_error(gp_registry_read(&r, tp("reg_bad.tsv")), GP_E_PARSE, "reg_bad.tsv:1:", "bad path");
    write_file(tp("reg_bad.tsv"), "X\tg\tf\tp\tABC\tu\t-\tn\n");
    expect_error(gp_registry_read(&r, tp("reg_bad.tsv")), GP_E_PARSE, "reg_bad.tsv:1:", "bad SHA-256");
    assert_null(r);
}

/* gp-data, run from the build directory (meson runs tests there); skipped when absent. */
static int run_app(const char *args)
{
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "apps/gp-data %s >%s 2>&1", args, tp("app.out"));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_gp_data_app(void **state)
{
    (void)state;
    if (access("apps/gp-data", X_OK) != 0) {
        char cwd[PATH_MAX];
        print_message("gp-data not found in %s/apps: app checks skipped\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
        skip();
    }
    char args[3 * PATH_MAX];
    assert_int_equal(run_app(""), 2);
    assert_int_equal(run_app("frobnicate"), 2);
    assert_int_equal(run_app("fetch"), 2);
    assert_int_equal(run_app("list extra"), 2);
    snprintf(args, sizeof args, "--registry %s/data/registry.tsv verify no-such-dataset", srcroot);
    assert_int_equal(run_app(args), 2);
    /* a registry whose download URL is a local file (curl file://) and one that is wrong */
    char hex[65];
    assert_int_equal(gp_sha256_file(hex, fx("edges_golden.txt")), GP_OK);
    char line[2 * PATH_MAX];
    snprintf(line, sizeof line,
             "G\tlinkpred\tedgelist\tlinkpred/G.edges\t%s\thttps://example.org/G\tfile://%s\tcopied\n"
             "G\tlinkpred\tedgelist\tlinkpred/H.edges\t%s\thttps://example.org/H\t-\tconverted by hand\n",
             hex, fx("edges_golden.txt"), hex);
    write_file(tp("app_reg.tsv"), line);
    rm_tree(tp("app_dd"));
    snprintf(args, sizeof args, "--registry %s --data-dir %s fetch g", tp("app_reg.tsv"), tp("app_dd"));
    bool have_curl = system("curl --version >/dev/null 2>&1") == 0;
    assert_int_equal(run_app(args), 1); /* H must be made by hand */
    char *out = read_all(tp("app.out"), NULL);
    assert_non_null(strstr(out, "linkpred/H.edges"));
    assert_non_null(strstr(out, "converted by hand"));
    assert_non_null(strstr(out, hex));
    free(out);
    if (have_curl) {
        gp_verify_result res;
        gp_registry *r = NULL;
        assert_int_equal(gp_registry_read(&r, tp("app_reg.tsv")), GP_OK);
        assert_int_equal(gp_registry_verify(&res, NULL, tp("app_dd"), &r->entries[0]), GP_OK);
        assert_int_equal(res, GP_VERIFY_OK); /* downloaded, verified, in place */
        gp_registry_free(&r);
        copy_file(fx("edges_golden.txt"), tp("app_dd/linkpred/H.edges"));
        assert_int_equal(run_app(args), 0);
        snprintf(args, sizeof args, "--registry %s --data-dir %s verify", tp("app_reg.tsv"), tp("app_dd"));
        assert_int_equal(run_app(args), 0);
        write_file(tp("app_dd/linkpred/H.edges"), "0 1\n");
        assert_int_equal(run_app(args), 1);
        out = read_all(tp("app.out"), NULL);
        assert_non_null(strstr(out, "MISMATCH linkpred/H.edges"));
        free(out);
    }
}

/* ------------------------------------------------------------------ the benchmark data */

static const char *data_dir(void)
{
    const char *d = getenv("GP_DATA_DIR");
    struct stat sb;
    if (!d || !*d || stat(d, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        print_message("GP_DATA_DIR (%s) is not a directory: benchmark-data checks skipped\n", d ? d : "unset");
        return NULL;
    }
    return d;
}

static int64_t count_class(const int64_t *labels, int64_t n, int64_t c)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) k += labels[i] == c;
    return k;
}

static void test_data_linkpred(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) skip();
    /* linkpred/meta.tsv: name nodes edges isolated max_degree (and the literature numbers) */
    static const struct {
        const char *name;
        int64_t nodes, edges, isolated, max_degree;
    } lit[] = {{"USAir", 332, 2126, 0, 139}, {"NS", 1589, 2742, 128, 34},  {"PB", 1222, 16714, 0, 351},
               {"Yeast", 2375, 11693, 0, 118}, {"C.ele", 297, 2148, 0, 134}, {"Power", 4941, 6594, 0, 19},
               {"Router", 5022, 6258, 0, 106}, {"E.coli", 1805, 14660, 0, 1030}};
    for (size_t i = 0; i < 8; i++) {
        gp_graph *g = NULL;
        gp_status st = gp_data_read_linkpred(&g, dir, lit[i].name);
        if (st != GP_OK) fail_msg("%s: %s", lit[i].name, gp_last_error());
        int64_t n = gp_graph_nodes(g), iso = 0, maxd = 0;
        for (int64_t v = 0; v < n; v++) {
            int64_t deg = g->adj.ptr[v + 1] - g->adj.ptr[v];
            iso += deg == 0;
            if (deg > maxd) maxd = deg;
        }
        assert_int_equal(n, lit[i].nodes);
        assert_int_equal(gp_graph_edges(g) / 2, lit[i].edges);
        assert_int_equal(iso, lit[i].isolated);
        assert_int_equal(maxd, lit[i].max_degree);
        assert_true(g->symmetric);
        /* every fixed split: positives = the edge set (each once), negatives = non-edges */
        uint8_t *seen = malloc((size_t)gp_graph_edges(g));
        for (int pct = 10; pct <= 50; pct += 40)
            for (int k = 1; k <= 10; k++) {
                gp_link_split *s = NULL;
                st = gp_data_read_linkpred_split(&s, dir, lit[i].name, pct, k);
                if (st != GP_OK) fail_msg("%s split %d/%d: %s", lit[i].name, pct, k, gp_last_error());
                int64_t m = lit[i].edges, tp_ = s->count[GP_LINK_TEST_POS], tr = s->count[GP_LINK_TRAIN_POS];
                assert_int_equal(tr + tp_, m);
                /* SEAL's MATLAB split rounds in floating point: E.coli 90/10 has 1465 test
                 * edges for 0.1 x 14660 */
                assert_true(llabs(tp_ - m * pct / 100) <= 1);
                assert_int_equal(s->count[GP_LINK_TRAIN_NEG], tr);
                assert_int_equal(s->count[GP_LINK_TEST_NEG], tp_);
                assert_int_equal(s->count[GP_LINK_VAL_POS] + s->count[GP_LINK_VAL_NEG], 0);
                memset(seen, 0, (size_t)gp_graph_edges(g));
                for (int part = 0; part < GP_LINK_PARTS; part++)
                    for (int64_t q = 0; q < s->count[part]; q++) {
                        int64_t u = s->pairs[part][2 * q], v = s->pairs[part][2 * q + 1], at = -1;
                        assert_true(u < v);
                        for (int64_t e = g->adj.ptr[u]; e < g->adj.ptr[u + 1]; e++)
                            if (g->adj.idx[e] == v) at = e;
                        bool pos = part == GP_LINK_TRAIN_POS || part == GP_LINK_TEST_POS;
                        assert_true(pos ? at >= 0 : at < 0);
                        if (pos) {
                            assert_int_equal(seen[at], 0);
                            seen[at] = 1;
                        }
                    }
                gp_link_split_free(&s);
            }
        free(seen);
        gp_graph_free(&g);
    }
}

static void test_data_nodes(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) skip();
    /* SOURCES.md tables: nodes, undirected edges, features, nnz, class sizes, split sizes */
    static const struct {
        const char *name;
        int64_t nodes, edges, features, nnz, classes, sizes[7], splits, train, val, test, raw;
    } lit[] = {
        {"cora", 2708, 5278, 1433, 49216, 7, {351, 217, 418, 818, 426, 298, 180}, 1, 140, 500, 1000, -1},
        {"citeseer", 3327, 4552, 3703, 105165, 6, {249, 590, 668, 701, 596, 508}, 1, 120, 500, 1000, -1},
        {"pubmed", 19717, 44324, 500, -1, 3, {4103, 7739, 7875}, 1, 60, 500, 1000, -1},
        {"cornell", 183, 277, 1703, 15266, 5, {33, 1, 18, 101, 30}, 10, 87, 59, 37, 298},
        {"texas", 183, 279, 1703, 15266, 5, {33, 1, 18, 101, 30}, 10, 87, 59, 37, 325},
        {"wisconsin", 251, 450, 1703, 24057, 5, {10, 70, 118, 32, 21}, 10, 120, 80, 51, 515},
        {"chameleon", 2277, 31371, 2325, 29157, 5, {456, 460, 453, 521, 387}, 10, 1092, 729, 456, 36101},
    };
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        gp_node_dataset *d = NULL;
        gp_status st = gp_data_read_nodes(&d, dir, lit[i].name, 0);
        if (st != GP_OK) fail_msg("%s: %s", lit[i].name, gp_last_error());
        assert_int_equal(d->num_nodes, lit[i].nodes);
        assert_int_equal(gp_graph_edges(d->graph) / 2, lit[i].edges);
        assert_int_equal(d->num_features, lit[i].features);
        if (lit[i].nnz >= 0) {
            assert_non_null(d->features);
            assert_int_equal(d->features->nnz, lit[i].nnz);
        } else {
            assert_null(d->features); /* PubMed: no features file (SOURCES.md) */
        }
        assert_int_equal(d->num_classes, lit[i].classes);
        int64_t labelled = 0;
        for (int64_t c = 0; c < lit[i].classes; c++) {
            assert_int_equal(count_class(d->labels, d->num_nodes, c), lit[i].sizes[c]);
            labelled += lit[i].sizes[c];
        }
        /* CiteSeer: 15 unlabelled (-1) nodes, in no split */
        assert_int_equal(count_class(d->labels, d->num_nodes, -1), d->num_nodes - labelled);
        assert_int_equal(d->num_nodes - labelled, strcmp(lit[i].name, "citeseer") ? 0 : 15);
        assert_int_equal(d->num_splits, lit[i].splits);
        for (int64_t s = 0; s < d->num_splits; s++) {
            assert_int_equal(d->splits[s].count[GP_NODES_TRAIN], lit[i].train);
            assert_int_equal(d->splits[s].count[GP_NODES_VAL], lit[i].val);
            assert_int_equal(d->splits[s].count[GP_NODES_TEST], lit[i].test);
            uint8_t *in = calloc((size_t)d->num_nodes, 1); /* parts are disjoint, labelled nodes */
            for (int p = 0; p < GP_NODES_PARTS; p++)
                for (int64_t k = 0; k < d->splits[s].count[p]; k++) {
                    int64_t v = d->splits[s].idx[p][k];
                    assert_int_equal(in[v], 0);
                    in[v] = 1;
                    assert_true(d->labels[v] >= 0);
                }
            free(in);
        }
        if (lit[i].splits == 1) { /* Planetoid public split: 20 training nodes per class */
            for (int64_t c = 0; c < lit[i].classes; c++) {
                int64_t k = 0;
                for (int64_t t = 0; t < lit[i].train; t++) k += d->labels[d->splits[0].idx[GP_NODES_TRAIN][t]] == c;
                assert_int_equal(k, 20);
            }
        }
        gp_node_dataset_free(&d);
        if (lit[i].raw >= 0) {
            assert_int_equal(gp_data_read_nodes(&d, dir, lit[i].name, GP_NODES_RAW_DIRECTED), GP_OK);
            assert_int_equal(gp_graph_edges(d->graph), lit[i].raw);
            gp_node_dataset_free(&d);
        }
    }
}

static void test_data_tu(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) skip();
    /* SOURCES.md: graphs (class sizes by TU label value), nodes, undirected edges, self-loops,
     * node labels used, node attributes, edge labels, repeated A lines */
    static const struct {
        const char *name;
        int64_t graphs, sizes[10], nodes, edges, loops, node_labels, attrs, edge_labels, repeats;
        int64_t never_tested; /* graphs in no 10-fold test fold; -1: no 10fold_idx/ */
    } lit[] = {
        {"MUTAG", 188, {63, 125}, 3371, 3721, 0, 7, 0, 4, 0, -1},
        {"PROTEINS", 1113, {663, 450}, 43471, 81044, 0, 3, 1, 0, 0, 3},
        {"NCI1", 4110, {2053, 2057}, 122747, 132753, 0, 37, 0, 0, 0, 0},
        {"NCI109", 4127, {2048, 2079}, 122494, 132604, 0, 38, 0, 0, 0, 7},
        {"DD", 1178, {691, 487}, 334925, 843046, 0, 82, 0, 0, 0, 8},
        {"ENZYMES", 600, {100, 100, 100, 100, 100, 100}, 19580, 37282, 0, 3, 18, 0, 0, 0},
        {"IMDB-BINARY", 1000, {500, 500}, 19773, 96531, 0, 0, 0, 0, 193062, 0},
        {"IMDB-MULTI", 1500, {500, 500, 500}, 19502, 98903, 0, 0, 0, 0, 197806, 0},
        {"COLLAB", 5000, {2600, 775, 1625}, 372474, 12286079, 2837, 0, 0, 0, 0, 0},
        {"CSL", 150, {15, 15, 15, 15, 15, 15, 15, 15, 15, 15}, 6150, 12300, 0, 0, 0, 0, 0, -1},
        {"EXP", 1200, {600, 600}, 58442, 72530, 0, 2, 0, 0, 0, -1},
    };
    for (size_t i = 0; i < sizeof lit / sizeof lit[0]; i++) {
        gp_graph_dataset *d = NULL;
        gp_status st = gp_data_read_tu(&d, dir, lit[i].name);
        if (st != GP_OK) fail_msg("%s: %s", lit[i].name, gp_last_error());
        assert_int_equal(d->num_graphs, lit[i].graphs);
        assert_int_equal(d->num_nodes, lit[i].nodes);
        assert_int_equal(d->num_edges, lit[i].edges);
        assert_int_equal(d->num_self_loops, lit[i].loops);
        assert_int_equal(d->duplicate_lines, lit[i].repeats);
        int64_t total = 0;
        for (int64_t c = 0; c < d->num_classes; c++) {
            assert_int_equal(count_class(d->labels, d->num_graphs, c), lit[i].sizes[c]);
            total += lit[i].sizes[c];
        }
        assert_int_equal(total, d->num_graphs);
        assert_int_equal(d->node_labels ? d->num_node_labels : 0, lit[i].node_labels);
        assert_int_equal(d->node_attr ? d->num_node_attr : 0, lit[i].attrs);
        assert_int_equal(d->edge_labels ? d->num_edge_labels : 0, lit[i].edge_labels);
        int64_t nodes = 0;
        for (int64_t g = 0; g < d->num_graphs; g++) {
            assert_true(d->graphs[g]->symmetric);
            nodes += gp_graph_nodes(d->graphs[g]);
        }
        assert_int_equal(nodes, d->num_nodes);
        if (d->edge_labels)
            for (int64_t k = 0; k < d->edge_ptr[d->num_graphs]; k++) assert_true(d->edge_labels[k] >= 0);
        if (!strcmp(lit[i].name, "CSL")) /* 4-regular circular skip-link graphs */
            for (int64_t g = 0; g < d->num_graphs; g++)
                for (int64_t v = 0; v < 41; v++)
                    assert_int_equal(d->graphs[g]->adj.ptr[v + 1] - d->graphs[g]->adj.ptr[v], 4);
        /* 10-fold index files: each fold's train and test split all graphs between them;
         * the test folds are disjoint and miss exactly the graphs README names */
        if (lit[i].never_tested >= 0) {
            uint8_t *tested = calloc((size_t)d->num_graphs, 1);
            for (int k = 1; k <= 10; k++) {
                uint8_t *in = calloc((size_t)d->num_graphs, 1);
                for (int part = 0; part < 2; part++) {
                    char rel[128];
                    snprintf(rel, sizeof rel, "tu/%s/10fold_idx/%s_idx-%d.txt", lit[i].name, part ? "test" : "train", k);
                    int64_t *idx = NULL, n = 0;
                    st = gp_index_read(&idx, &n, path_in(dir, rel), d->num_graphs);
                    if (st != GP_OK) fail_msg("%s", gp_last_error());
                    for (int64_t q = 0; q < n; q++) {
                        assert_int_equal(in[idx[q]], 0);
                        in[idx[q]] = 1;
                        if (part) {
                            assert_int_equal(tested[idx[q]], 0);
                            tested[idx[q]] = 1;
                        }
                    }
                    gp_free(idx);
                }
                for (int64_t g = 0; g < d->num_graphs; g++) assert_int_equal(in[g], 1);
                free(in);
            }
            int64_t never = 0;
            for (int64_t g = 0; g < d->num_graphs; g++) never += !tested[g];
            assert_int_equal(never, lit[i].never_tested);
            free(tested);
        }
        gp_graph_dataset_free(&d);
    }
}

static void test_data_registry(void **state)
{
    (void)state;
    const char *dir = data_dir();
    if (!dir) skip();
    gp_registry *r = NULL;
    char reg[PATH_MAX];
    if (snprintf(reg, sizeof reg, "%s/data/registry.tsv", srcroot) >= (int)sizeof reg) fail();
    assert_int_equal(gp_registry_read(&r, reg), GP_OK);
    /* every registered file is in the data directory with the registered checksum */
    for (int64_t i = 0; i < r->count; i++) {
        gp_verify_result res;
        char hex[65];
        assert_int_equal(gp_registry_verify(&res, hex, dir, &r->entries[i]), GP_OK);
        if (res != GP_VERIFY_OK) fail_msg("%s: %s", r->entries[i].path, res == GP_VERIFY_MISSING ? "missing" : hex);
        if (i == 0 || strcmp(r->entries[i].dataset, r->entries[i - 1].dataset)) {
            char *p = NULL;
            assert_int_equal(gp_data_find(&p, NULL, NULL, dir, r->entries[i].dataset), GP_OK);
            gp_free(p);
        }
    }
    /* and every data file of SHA256SUMS (except its two documents) is registered */
    char sums[PATH_MAX];
    if (snprintf(sums, sizeof sums, "%s/SHA256SUMS", dir) >= (int)sizeof sums) fail();
    FILE *f = fopen(sums, "r");
    assert_non_null(f);
    char line[1024];
    int64_t files = 0;
    while (fgets(line, sizeof line, f)) {
        char hex[80], path[900];
        assert_int_equal(sscanf(line, "%79s %899s", hex, path), 2);
        if (!strcmp(path, "README.md") || !strcmp(path, "SOURCES.md")) continue;
        files++;
        bool found = false;
        for (int64_t i = 0; i < r->count && !found; i++)
            found = !strcmp(r->entries[i].path, path) && !strcmp(r->entries[i].sha256, hex);
        if (!found) fail_msg("%s is not in the registry", path);
    }
    fclose(f);
    assert_true(files >= 500);
    gp_registry_free(&r);
}

/* ------------------------------------------------------------------ main */

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("GP_TEST_FIXTURES");
    char here[PATH_MAX];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *slash = strrchr(here, '/');
    if (slash) *slash = '\0';
    else snprintf(here, sizeof here, ".");
    int n1 = env && *env ? snprintf(fixtures, sizeof fixtures, "%s", env)
                         : snprintf(fixtures, sizeof fixtures, "%s/fixtures", here);
    int n2 = snprintf(srcroot, sizeof srcroot, "%s/..", here);
    if (n1 < 0 || n1 >= (int)sizeof fixtures || n2 < 0 || n2 >= (int)sizeof srcroot) return -1;
    char abs[PATH_MAX]; /* absolute, so file:// URLs and messages do not depend on the cwd */
    if (realpath(fixtures, abs)) snprintf(fixtures, sizeof fixtures, "%s", abs);
    if (realpath(srcroot, abs)) snprintf(srcroot, sizeof srcroot, "%s", abs);
    struct stat sb;
    if (stat(fixtures, &sb) != 0) {
        fprintf(stderr, "test_io: fixtures not found at %s (set GP_TEST_FIXTURES)\n", fixtures);
        return -1;
    }
    snprintf(tmp, sizeof tmp, "/tmp/gp_test_io_XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(tmp);
    return 0;
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_idmap),
        cmocka_unit_test(test_edgelist_golden),
        cmocka_unit_test(test_edgelist_labels_weights),
        cmocka_unit_test(test_edgelist_header),
        cmocka_unit_test(test_edgelist_duplicates_loops),
        cmocka_unit_test(test_edgelist_errors),
        cmocka_unit_test(test_gzip_errors),
        cmocka_unit_test(test_index_read),
        cmocka_unit_test(test_tu_golden),
        cmocka_unit_test(test_tu_inconsistent),
        cmocka_unit_test(test_minibatch),
        cmocka_unit_test(test_nodes_golden),
        cmocka_unit_test(test_nodes_errors),
        cmocka_unit_test(test_link_split),
        cmocka_unit_test(test_mtx),
        cmocka_unit_test(test_igraph_formats),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_data_dir_resolution),
        cmocka_unit_test(test_registry_file_errors),
        cmocka_unit_test(test_gp_data_app),
        cmocka_unit_test(test_data_linkpred),
        cmocka_unit_test(test_data_nodes),
        cmocka_unit_test(test_data_tu),
        cmocka_unit_test(test_data_registry),
    };
    int rc = cmocka_run_group_tests_name("io", tests, setup, teardown);
    gp_finalize();
    return rc;
}
