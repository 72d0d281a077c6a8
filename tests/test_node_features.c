/*
 * gp-graphclass's node features (apps/node_features.c) on the hand-written TU fixture
 * tests/fixtures/tu/TINY: 9 nodes in 3 graphs, node labels 5 3 5 7 7 3 3 5 9 (values 3 5 7 9),
 * two attribute columns, degrees 2 2 2 1 2 2 2 2 2 as the reader stores them (graph 2's
 * self-loop 5-5 is an entry of node 5's row; repeated and one-way lines are merged).
 * Checked: every combination's name parses back to it; bad names are refused; the columns of
 * labels, attr, degree, degree-norm and ones against hand-computed values; "auto" and "all";
 * parts the dataset lacks are usage errors (exit code 2).
 */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <graphpool/graphpool.h>
#include <graphpool/io.h>

#include "../apps/node_features.h"

static char tiny[PATH_MAX];      /* tests/fixtures/tu/TINY */
static char tiny_bare[PATH_MAX]; /* its graph files only: no node labels, no attributes */

static void test_names(void **state)
{
    (void)state;
    for (unsigned parts = 1; parts < 32; parts++) {
        char name[64];
        node_features_name(parts, name, sizeof name);
        assert_int_equal(node_features_parse(name), parts);
    }
    char name[64];
    node_features_name(NF_ONES | NF_LABELS | NF_DEGREE, name, sizeof name);
    assert_string_equal(name, "labels+degree+ones");
    assert_int_equal(node_features_parse("attr+labels"), NF_LABELS | NF_ATTR);
    assert_int_equal(node_features_parse("degree-norm"), NF_DEGREE_NORM);
    const char *bad[] = {"", "+", "labels+", "+labels", "labels++attr", "labels+labels", "Labels", "degreenorm",
                         "auto", "all", "labels attr"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(node_features_parse(bad[i]), 0);
}

static gp_graph_dataset *read_tu(const char *dir)
{
    gp_graph_dataset *d = NULL;
    if (gp_graph_dataset_read_tu(&d, dir, "TINY") != GP_OK) fail_msg("%s", gp_last_error());
    return d;
}

/* Population mean and std of v[0..n). */
static void mean_std(const double *v, int n, double *mean, double *std)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *std = sqrt(s2 / n);
}

static void test_columns(void **state)
{
    (void)state;
    gp_graph_dataset *d = read_tu(tiny);
    node_features fs;
    assert_int_equal(node_features_choose(&fs, d, "ones+degree-norm+degree+attr+labels"), 0);
    assert_int_equal(fs.parts, 31);
    assert_int_equal(fs.max_degree, 2);
    assert_int_equal(fs.dim, 4 + 2 + 3 + 1 + 1);
    node_features_index ix;
    assert_int_equal(node_features_index_build(&ix, &fs, d), 0);
    float x[9 * 11];
    int64_t all[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    node_features_rows(x, &fs, &ix, d, all, 9);
    static const int label_col[9] = {1, 0, 1, 2, 2, 0, 0, 1, 3}; /* values 3 5 7 9 -> columns 0..3 */
    static const int degree[9] = {2, 2, 2, 1, 2, 2, 2, 2, 2};
    static const double a0[9] = {1.5, -1, 3, 5, 7, 9, 11, 13, 15}, a1[9] = {2, 0.25, 4, 6, 8, 10, 12, 14, 16};
    double m0, s0, m1, s1;
    mean_std(a0, 9, &m0, &s0);
    mean_std(a1, 9, &m1, &s1);
    /* degrees: mean 17/9, population std sqrt(33/9 - (17/9)^2) = sqrt(8)/9, so degree 2 gives
     * (1/9) / (sqrt(8)/9) = 1/sqrt(8) and degree 1 gives -8/sqrt(8) = -sqrt(8) */
    for (int v = 0; v < 9; v++) {
        const float *row = x + v * fs.dim;
        for (int c = 0; c < 4; c++) assert_float_equal(row[c], c == label_col[v] ? 1.0f : 0.0f, 0.0f);
        assert_float_equal(row[4], (a0[v] - m0) / s0, 1e-5);
        assert_float_equal(row[5], (a1[v] - m1) / s1, 1e-5);
        for (int c = 0; c < 3; c++) assert_float_equal(row[6 + c], c == degree[v] ? 1.0f : 0.0f, 0.0f);
        assert_float_equal(row[9], degree[v] == 2 ? 1 / sqrt(8.0) : -sqrt(8.0), 1e-5);
        assert_float_equal(row[10], 1.0f, 0.0f);
    }
    /* any subset of nodes, in any order, gets the same rows (rows are written per batch) */
    int64_t some[3] = {8, 3, 0};
    float y[3 * 11];
    node_features_rows(y, &fs, &ix, d, some, 3);
    for (int i = 0; i < 3; i++) assert_memory_equal(y + i * 11, x + some[i] * 11, 11 * sizeof(float));
    node_features_index_free(&ix);
    node_features_free(&fs);

    /* "all" on a dataset with labels and attributes: labels+attr+degree; "auto": labels */
    assert_int_equal(node_features_choose(&fs, d, "all"), 0);
    assert_int_equal(fs.parts, NF_LABELS | NF_ATTR | NF_DEGREE);
    assert_int_equal(fs.dim, 9);
    node_features_free(&fs);
    assert_int_equal(node_features_choose(&fs, d, "auto"), 0);
    assert_int_equal(fs.parts, NF_LABELS);
    assert_int_equal(fs.dim, 4);
    node_features_free(&fs);
    assert_int_equal(node_features_choose(&fs, d, "labels+nope"), 2);
    node_features_free(&fs);
    gp_graph_dataset_free(&d);
}

static void test_missing_parts(void **state)
{
    (void)state;
    gp_graph_dataset *d = read_tu(tiny_bare);
    node_features fs;
    assert_int_equal(node_features_choose(&fs, d, "all"), 0);
    assert_int_equal(fs.parts, NF_DEGREE);
    assert_int_equal(fs.dim, 3);
    node_features_free(&fs);
    assert_int_equal(node_features_choose(&fs, d, "auto"), 0);
    assert_int_equal(fs.parts, NF_DEGREE);
    node_features_free(&fs);
    assert_int_equal(node_features_choose(&fs, d, "labels+degree"), 2);
    node_features_free(&fs);
    assert_int_equal(node_features_choose(&fs, d, "attr"), 2);
    node_features_free(&fs);
    gp_graph_dataset_free(&d);

    /* a model chosen on the full fixture cannot build features of the bare one */
    gp_graph_dataset *full = read_tu(tiny);
    d = read_tu(tiny_bare);
    assert_int_equal(node_features_choose(&fs, full, "labels"), 0);
    node_features_index ix;
    assert_int_equal(node_features_index_build(&ix, &fs, d), 1);
    node_features_free(&fs);
    gp_graph_dataset_free(&d);
    gp_graph_dataset_free(&full);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    if (!in || !out) fail_msg("cannot copy %s to %s", from, to);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    if (fclose(out) != 0) fail_msg("cannot write %s", to);
}

int main(void)
{
    char here[PATH_MAX];
    snprintf(here, sizeof here, "%s", __FILE__);
    snprintf(tiny, sizeof tiny, "%s/fixtures/tu/TINY", dirname(here));
    char tmpl[] = "/tmp/gp_node_features_XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    snprintf(tiny_bare, sizeof tiny_bare, "%s", tmpl);
    const char *files[] = {"TINY_A.txt", "TINY_graph_indicator.txt", "TINY_graph_labels.txt"};
    for (int i = 0; i < 3; i++) {
        char from[PATH_MAX + 64], to[PATH_MAX + 64];
        snprintf(from, sizeof from, "%s/%s", tiny, files[i]);
        snprintf(to, sizeof to, "%s/%s", tiny_bare, files[i]);
        copy_file(from, to);
    }
    if (gp_init() != GP_OK) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_names), cmocka_unit_test(test_columns),
                                       cmocka_unit_test(test_missing_parts)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        char to[PATH_MAX + 64];
        snprintf(to, sizeof to, "%s/%s", tiny_bare, files[i]);
        remove(to);
    }
    rmdir(tiny_bare);
    gp_finalize();
    return rc;
}
