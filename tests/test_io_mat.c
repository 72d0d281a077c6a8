/*
 * MATLAB MAT-file reader (lib/io_mat.c) on fixtures written by SciPy (scipy.io.savemat, zlib
 * compressed and not) and one written by hand in MATLAB's own habit (integral doubles stored as
 * uint8, the name in a small element): tests/fixtures/make_mat_fixtures.py says what each holds.
 * Values against the dense matrices written there; the graph of each against a dense reference
 * (entry (i, j) is the edge j -> i, symmetrised unless directed, self-loop policies); complex,
 * cell-only and non-MAT files fail with their status and the file's name; split files (.mat
 * paths of gp_link_split_read) against the pairs written; every truncation and
 * 300 random byte changes of the fixtures end in a clean error or a correct read (the sanitized
 * build checks the memory side); an allocator failing the n-th allocation leaves nothing behind.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <graphpool/graphpool.h>
#include <graphpool/io.h>

#include "failing_alloc.h"

static char fixtures[PATH_MAX], tmpdir[PATH_MAX];

static const char *fx(const char *name)
{
    static char buf[4][PATH_MAX + 64];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, PATH_MAX + 64, "%s/%s", fixtures, name);
    return b;
}

/* Dense value (i, j) of a variable. */
static double at(const gp_mat_var *v, int64_t i, int64_t j)
{
    if (!v->sparse) return v->values[j * v->rows + i];
    for (int64_t k = v->jc[j]; k < v->jc[j + 1]; k++)
        if (v->ir[k] == i) return v->values[k];
    return 0.0;
}

static void assert_dense(const gp_mat_var *v, int64_t rows, int64_t cols, const double *rowmajor)
{
    assert_int_equal(v->rows, rows);
    assert_int_equal(v->cols, cols);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            if (at(v, i, j) != rowmajor[i * cols + j])
                fail_msg("'%s' (%lld, %lld): %g, expected %g", v->name, (long long)i, (long long)j, at(v, i, j),
                         rowmajor[i * cols + j]);
}

/* The graph's adjacency as a dense 0/1 matrix (adj row i, column j: the edge j -> i). */
static void graph_dense(const gp_graph *g, int n, int *adj)
{
    memset(adj, 0, sizeof(int) * (size_t)n * (size_t)n);
    for (int64_t i = 0; i < g->adj.rows; i++)
        for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++) adj[i * n + g->adj.idx[k]] = 1;
}

static void test_seal_style_sparse(void **state)
{
    (void)state;
    gp_mat_var *v = NULL;
    assert_int_equal(gp_mat_read(&v, fx("mat_net.mat"), "net"), GP_OK);
    assert_true(v->sparse);
    assert_false(v->logical);
    assert_string_equal(v->name, "net");
    assert_int_equal(v->nnz, 12);
    double net[36] = {0};
    const int e[6][2] = {{0, 1}, {0, 2}, {1, 2}, {2, 3}, {3, 4}, {4, 5}};
    for (int k = 0; k < 6; k++) net[e[k][0] * 6 + e[k][1]] = net[e[k][1] * 6 + e[k][0]] = 1;
    assert_dense(v, 6, 6, net);
    gp_mat_var_free(&v);
    assert_null(v);
    /* without a name: the first numeric variable (the char one is skipped) */
    assert_int_equal(gp_mat_read(&v, fx("mat_net.mat"), NULL), GP_OK);
    assert_string_equal(v->name, "group");
    assert_dense(v, 1, 3, (double[]){1, 2, 3});
    gp_mat_var_free(&v);
    /* as a graph (by extension): the first square variable, 'net' */
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_read_format(&g, fx("mat_net.mat"), GP_FORMAT_AUTO, NULL), GP_OK);
    assert_int_equal(gp_graph_nodes(g), 6);
    assert_int_equal(gp_graph_edges(g), 12); /* stored entries: both directions */
    int adj[36];
    graph_dense(g, 6, adj);
    for (int i = 0; i < 36; i++) assert_int_equal(adj[i], net[i] != 0);
    gp_graph_free(&g);
}

static void test_dense_logical_and_loops(void **state)
{
    (void)state;
    gp_mat_var *v = NULL;
    const double a[16] = {0, 1, 0, 0, 0, 0, 0, -2, 0, 3, 0, 0, 0, 0, 0, 1};
    assert_int_equal(gp_mat_read(&v, fx("mat_dense.mat"), "A"), GP_OK);
    assert_false(v->sparse);
    assert_dense(v, 4, 4, a);
    gp_mat_var_free(&v);
    assert_int_equal(gp_mat_read(&v, fx("mat_dense.mat"), "L"), GP_OK);
    assert_true(v->sparse);
    assert_true(v->logical);
    assert_dense(v, 3, 3, (double[]){0, 0, 1, 0, 0, 0, 1, 0, 0});
    gp_mat_var_free(&v);
    /* graphs of A against the dense rule: entry (i, j) != 0 is the edge j -> i */
    for (int mode = 0; mode < 3; mode++) { /* undirected + drop loops, directed + keep, fail */
        gp_edgelist_options o = {0};
        o.self_loops = mode == 0 ? GP_LOOP_DROP : mode == 1 ? GP_LOOP_KEEP : GP_LOOP_FAIL;
        if (mode == 1) o.flags = GP_READ_DIRECTED;
        gp_graph *g = NULL;
        gp_status st = gp_graph_read_mat(&g, fx("mat_dense.mat"), &o);
        if (mode == 2) {
            assert_int_equal(st, GP_E_PARSE);
            assert_null(g);
            assert_non_null(strstr(gp_last_error(), "mat_dense.mat"));
            assert_non_null(strstr(gp_last_error(), "self-loop on node 4"));
            continue;
        }
        assert_int_equal(st, GP_OK);
        int adj[16], ref[16] = {0};
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                if (a[i * 4 + j] == 0 || (i == j && mode == 0)) continue;
                ref[i * 4 + j] = 1;
                if (mode == 0) ref[j * 4 + i] = 1;
            }
        graph_dense(g, 4, adj);
        for (int i = 0; i < 16; i++)
            if (adj[i] != ref[i]) fail_msg("mode %d: entry (%d, %d) is %d", mode, i / 4, i % 4, adj[i]);
        gp_graph_free(&g);
    }
}

static void test_matlab_storage_types(void **state)
{
    (void)state;
    gp_mat_var *v = NULL;
    assert_int_equal(gp_mat_read(&v, fx("mat_uint8.mat"), "B"), GP_OK);
    assert_dense(v, 2, 3, (double[]){1, 0, 2, 0, 0, 7});
    gp_mat_var_free(&v);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void spit(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static void expect_error(const char *file, const char *name, gp_status want, const char *text)
{
    gp_mat_var *v = NULL;
    gp_status st = gp_mat_read(&v, fx(file), name);
    if (st != want || v || !strstr(gp_last_error(), file) || !strstr(gp_last_error(), text))
        fail_msg("%s, variable %s: status %d (%s), expected %d and '%s'", file, name ? name : "(first)", st,
                 gp_last_error(), want, text);
}

static void test_unsupported_and_bad_files(void **state)
{
    (void)state;
    expect_error("mat_complex.mat", "C", GP_E_UNSUPPORTED, "complex");
    expect_error("mat_cell.mat", "K", GP_E_UNSUPPORTED, "cell, struct, char or object");
    expect_error("mat_cell.mat", NULL, GP_E_PARSE, "no numeric matrix");
    expect_error("mat_net.mat", "nope", GP_E_PARSE, "no variable named 'nope'");
    expect_error("edges_golden.txt", NULL, GP_E_PARSE, "not a MATLAB level-5 MAT-file");
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_read_mat(&g, fx("mat_cell.mat"), NULL), GP_E_PARSE);
    assert_non_null(strstr(gp_last_error(), "no numeric square matrix"));
    assert_int_equal(gp_graph_read_mat(&g, fx("missing.mat"), NULL), GP_E_IO);
    assert_int_equal(gp_graph_read_mat(&g, tmpdir, NULL), GP_E_IO); /* a directory */
    assert_non_null(strstr(gp_last_error(), "not a regular file"));
    assert_null(g);
    /* MATLAB's -v7.3 files: the same 128-byte header with version 0x0200, then HDF5 */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/v73.mat", tmpdir);
    unsigned char h[520] = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: HDF5 schema 1.00 .";
    memcpy(h + 124, "\x00\x02IM", 4);
    memcpy(h + 512, "\x89HDF\r\n\x1a\n", 8);
    spit(path, h, sizeof h);
    gp_mat_var *v = NULL;
    assert_int_equal(gp_mat_read(&v, path, NULL), GP_E_UNSUPPORTED);
    assert_non_null(strstr(gp_last_error(), "v7.3"));
    remove(path);
}

/* A damaged copy must give an error with a message, or a variable whose stored indices are in
 * range; a truncated one (good != NULL), when the cut missed what is read, exactly the variable
 * of the intact file. */
static void check_damaged(const char *path, const char *name, const gp_mat_var *good)
{
    gp_mat_var *v = NULL;
    gp_status st = gp_mat_read(&v, path, name);
    if (st != GP_OK) {
        assert_null(v);
        assert_true(strlen(gp_last_error()) > 0);
        return;
    }
    for (int64_t j = 0; v->sparse && j < v->cols; j++)
        for (int64_t k = v->jc[j]; k < v->jc[j + 1]; k++) assert_true(v->ir[k] >= 0 && v->ir[k] < v->rows);
    if (good) {
        assert_int_equal(v->rows, good->rows);
        assert_int_equal(v->cols, good->cols);
        for (int64_t i = 0; i < v->rows; i++)
            for (int64_t j = 0; j < v->cols; j++) assert_true(at(v, i, j) == at(good, i, j));
    }
    gp_mat_var_free(&v);
}

static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    const char *files[][2] = {{"mat_net.mat", "net"}, {"mat_dense.mat", "L"}, {"mat_uint8.mat", "B"}};
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/damaged.mat", tmpdir);
    srand(7);
    for (int f = 0; f < 3; f++) {
        size_t n;
        unsigned char *buf = slurp(fx(files[f][0]), &n);
        gp_mat_var *good = NULL;
        assert_int_equal(gp_mat_read(&good, fx(files[f][0]), files[f][1]), GP_OK);
        for (size_t len = 0; len < n; len++) {
            spit(path, buf, len);
            check_damaged(path, files[f][1], good);
        }
        unsigned char *copy = malloc(n);
        for (int round = 0; round < 100; round++) {
            memcpy(copy, buf, n);
            for (int k = 0; k < 1 + round % 3; k++) copy[(size_t)rand() % n] = (unsigned char)rand();
            spit(path, copy, n);
            check_damaged(path, files[f][1], NULL);
        }
        gp_mat_var_free(&good);
        free(copy);
        free(buf);
    }
    remove(path);
}

/* SEAL / WalkPool split files: 1-based pairs, stored 0-based with u < v; no val_* = empty parts */
static void test_link_split(void **state)
{
    (void)state;
    gp_link_split *s = NULL;
    assert_int_equal(gp_link_split_read(&s, fx("mat_split.mat"), 6), GP_OK);
    assert_int_equal(s->num_nodes, 6);
    const int64_t want[GP_LINK_PARTS][8] = {{0, 1, 0, 2, 1, 2, 2, 3}, {0, 4, 1, 5}, {0}, {0}, {3, 4, 4, 5}, {0, 5, 1, 4}};
    const int64_t count[GP_LINK_PARTS] = {4, 2, 0, 0, 2, 2};
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        assert_int_equal(s->count[p], count[p]);
        for (int64_t k = 0; k < 2 * count[p]; k++) assert_int_equal(s->pairs[p][k], want[p][k]);
    }
    gp_link_split_free(&s);
    assert_int_equal(gp_link_split_read(&s, fx("mat_split.mat"), 0), GP_OK); /* node count from the ids */
    assert_int_equal(s->num_nodes, 6);
    gp_link_split_free(&s);
    assert_int_equal(gp_link_split_read(&s, fx("mat_split.mat"), 5), GP_E_RANGE); /* node 6 of 5 */
    assert_non_null(strstr(gp_last_error(), "mat_split.mat: train_neg pair 2: node 6"));
    assert_int_equal(gp_link_split_read(&s, fx("mat_split_bad.mat"), 0), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "test_pos pair 1: node 0 is not a 1-based id"));
    assert_int_equal(gp_link_split_read(&s, fx("mat_net.mat"), 0), GP_E_PARSE);
    assert_non_null(strstr(gp_last_error(), "no variable train_pos"));
    assert_null(s);
}

/* The same split with train_pos and test_neg stored as sparse matrices: the same pairs. A
 * sparse pair list that leaves an entry unstored holds a 0, which is not a 1-based id. */
static void test_link_split_sparse(void **state)
{
    (void)state;
    gp_link_split *dense = NULL, *sparse = NULL;
    assert_int_equal(gp_link_split_read(&dense, fx("mat_split.mat"), 6), GP_OK);
    assert_int_equal(gp_link_split_read(&sparse, fx("mat_split_sparse.mat"), 6), GP_OK);
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        assert_int_equal(sparse->count[p], dense->count[p]);
        for (int64_t k = 0; k < 2 * dense->count[p]; k++) assert_int_equal(sparse->pairs[p][k], dense->pairs[p][k]);
    }
    gp_link_split_free(&dense);
    gp_link_split_free(&sparse);
    assert_int_equal(gp_link_split_read(&sparse, fx("mat_split_sparse_bad.mat"), 0), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "mat_split_sparse_bad.mat: sparse variable 'train_pos' stores 3 of its 4 "
                                            "entries: node 0 is not a 1-based id"));
    assert_null(sparse);
}

static gp_status read_both(void *ctx)
{
    (void)ctx;
    gp_mat_var *v = NULL;
    gp_graph *g = NULL;
    gp_status st = gp_mat_read(&v, fx("mat_dense.mat"), "L");
    if (st == GP_OK) st = gp_graph_read_mat(&g, fx("mat_net.mat"), NULL);
    gp_link_split *s = NULL;
    if (st == GP_OK) st = gp_link_split_read(&s, fx("mat_split.mat"), 6);
    gp_link_split_free(&s);
    gp_mat_var_free(&v);
    gp_graph_free(&g);
    return st;
}

static void test_every_allocation_failure_is_clean(void **state)
{
    (void)state;
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    fa_result r = fa_every_failure("MAT-file reads", read_both, NULL);
    gp_set_allocator(NULL);
    assert_true(r.total > 5);
    assert_int_equal(r.failures, r.total);
}

static int setup(void **state)
{
    (void)state;
    const char *env = getenv("GP_TEST_FIXTURES");
    char here[PATH_MAX];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *slash = strrchr(here, '/');
    if (slash) *slash = '\0';
    snprintf(fixtures, sizeof fixtures, "%s", env && *env ? env : here);
    if (!(env && *env)) snprintf(fixtures, sizeof fixtures, "%.*s/fixtures", (int)(sizeof fixtures - 10), here);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gp_test_io_mat_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(tmpdir);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_style_sparse),        cmocka_unit_test(test_dense_logical_and_loops),
        cmocka_unit_test(test_matlab_storage_types),     cmocka_unit_test(test_unsupported_and_bad_files),
        cmocka_unit_test(test_truncated_and_corrupt),    cmocka_unit_test(test_link_split),
        cmocka_unit_test(test_link_split_sparse),
        cmocka_unit_test(test_every_allocation_failure_is_clean),
    };
    int rc = cmocka_run_group_tests_name("io_mat", tests, setup, teardown);
    gp_finalize();
    return rc;
}
