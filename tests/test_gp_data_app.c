/*
 * gp-data verify and fetch against a registry written by the test (suite "apps"; no network:
 * no entry has an http URL). A file with the right checksum is OK, a missing one MISSING, one
 * with other bytes MISMATCH, and a directory where a file is expected is reported as such
 * ("NOTFILE ... is a directory"; it was counted as a checksum mismatch after a read error);
 * fetch does not try to replace it. Conversions of MATLAB files ("mat:file://..." URLs to the
 * fixtures, curl reads them): the edge list, meta.tsv and a gzipped split come out with the
 * registered checksums (the split against tests/fixtures/tiny_split1.txt.gz, written by Python's
 * gzip module as the real split files were); a .mat that serves several files is downloaded
 * once and removed afterwards; a .mat that cannot be converted leaves nothing behind.
 * argv[1]: the app; argv[2]: tests/fixtures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <graphpool/generators.h>
#include <graphpool/graphpool.h>
#include <graphpool/io.h>

#include "app_run.h"

/* SHA-256 of the 3 bytes "abc" (FIPS 180-2, appendix B.1) */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char root[64] = "/tmp/gp_data_app_XXXXXX";

static int put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fputs(text, f);
    return fclose(f) != 0;
}

/* Runs gp-data with cmd and name; 0 when the exit status is want and the output holds every
 * string of expect (NULL-terminated). */
static char out[1 << 16]; /* the output of the last check */

static int check(char *app, const char *cmd, const char *name, int want, const char *const *expect)
{
    char data[128], reg[128];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(reg, sizeof reg, "%s/registry.tsv", root);
    char *argv[] = {app, "--data-dir", data, "--registry", reg, (char *)cmd, (char *)name, NULL};
    int rc = app_run(argv, true, out, sizeof out);
    int bad = rc != want;
    for (const char *const *e = expect; *e; e++) bad |= !strstr(out, *e);
    if (bad) fprintf(stderr, "gp-data %s: exit %d (expected %d):\n%s\n", cmd, rc, want, out);
    return bad;
}

static void sha_text(char hex[65], const char *text)
{
    gp_sha256 h;
    uint8_t d[32];
    gp_sha256_init(&h);
    gp_sha256_update(&h, text, strlen(text));
    gp_sha256_final(&h, d);
    gp_sha256_hex(hex, d);
}

/* Dataset L: tiny.edges from mat_net.mat (edges 0-1 0-2 1-2 2-3 3-4 4-5 of a 6 x 6 matrix),
 * meta.tsv from it, a split from mat_split.mat; then M, whose .mat cannot be converted. */
static int check_conversions(char *app, const char *fixtures)
{
    char edges_sha[65], meta_sha[65], split_sha[65], path[512], reg[4096];
    sha_text(edges_sha, "0 1\n0 2\n1 2\n2 3\n3 4\n4 5\n");
    sha_text(meta_sha, "# name\tnum_nodes\tnum_undirected_edges\tisolated_nodes\tmax_degree\nL\t6\t6\t0\t3\n");
    snprintf(path, sizeof path, "%s/tiny_split1.txt.gz", fixtures);
    if (gp_sha256_file(split_sha, path) != GP_OK) return fprintf(stderr, "%s\n", gp_last_error()), 1;
    snprintf(reg, sizeof reg,
             "L\tlinkpred\tedgelist\tlinkpred/tiny.edges\t%s\tsrc\tmat:file://%s/mat_net.mat\tnotes\n"
             "L\tlinkpred\tlinkpred-meta\tlinkpred/meta.tsv\t%s\tsrc\tmat-meta\tnotes\n"
             "L\tlinkpred\tlinksplit-gz\tlinkpred/splits/test10/tiny_split1.txt.gz\t%s\tsrc\t"
             "mat:file://%s/mat_split.mat\tnotes\n"
             "M\tlinkpred\tlinksplit-gz\tlinkpred/splits/test10/M_split1.txt.gz\t%s\tsrc\t"
             "mat:file://%s/mat_complex.mat\tnotes\n",
             edges_sha, fixtures, meta_sha, split_sha, fixtures, split_sha, fixtures);
    if (put("registry.tsv", reg)) return 1;
    static const char *const fetched[] = {"fetching and converting linkpred/tiny.edges (missing)",
                                          "L: 0 present, 3 downloaded, 0 still needed", NULL};
    static const char *const verified[] = {"OK       linkpred/tiny.edges", "OK       linkpred/meta.tsv",
                                           "OK       linkpred/splits/test10/tiny_split1.txt.gz", NULL};
    static const char *const again[] = {"L: 3 present, 0 downloaded, 0 still needed", NULL};
    static const char *const failed[] = {"M_split1.txt.gz: converting file://", "no variable train_pos",
                                         "M: 0 present, 0 downloaded, 1 still needed", "from   file://", NULL};
    int bad = check(app, "fetch", "L", 0, fetched);
    /* mat_net.mat serves both tiny.edges and meta.tsv: downloaded once, and no copy left */
    char url[600];
    snprintf(url, sizeof url, "downloading file://%s/mat_net.mat\n", fixtures);
    int downloads = 0;
    for (const char *p = out; (p = strstr(p, url)); p++) downloads++;
    if (!bad && downloads != 1) bad = fprintf(stderr, "mat_net.mat downloaded %d times:\n%s\n", downloads, out) > 0;
    char cmd0[1024];
    snprintf(cmd0, sizeof cmd0, "test -z \"$(ls '%s/data/linkpred' | grep -v -x -e tiny.edges -e meta.tsv -e splits)\"", root);
    if (!bad && system(cmd0) != 0) bad = fprintf(stderr, "downloaded files left in %s/data/linkpred\n", root) > 0;
    bad = bad || check(app, "verify", "L", 0, verified) || check(app, "fetch", "L", 0, again) ||
          check(app, "fetch", "M", 1, failed);
    /* several names: each fetched, exit 1 when one fails; an unknown name stops before any */
    static char msg[1 << 14];
    char data[128], regp[128];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(regp, sizeof regp, "%s/registry.tsv", root);
    char *two[] = {app, "--data-dir", data, "--registry", regp, "fetch", "L", "M", NULL};
    int rc = app_run(two, true, msg, sizeof msg);
    if (!bad && (rc != 1 || !strstr(msg, "L: 3 present") || !strstr(msg, "M: 0 present")))
        bad = fprintf(stderr, "fetch L M: exit %d\n%s\n", rc, msg) > 0;
    char *unknown[] = {app, "--data-dir", data, "--registry", regp, "fetch", "L", "nosuch", NULL};
    rc = app_run(unknown, true, msg, sizeof msg);
    if (!bad && (rc != 2 || !strstr(msg, "unknown dataset 'nosuch'") || strstr(msg, "L: ")))
        bad = fprintf(stderr, "fetch L nosuch: exit %d\n%s\n", rc, msg) > 0;
    snprintf(path, sizeof path, "%s/data/linkpred/splits/test10", root); /* nothing of M left behind */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "test \"$(ls '%s')\" = tiny_split1.txt.gz", path);
    if (!bad && system(cmd) != 0) bad = fprintf(stderr, "files left in %s\n", path) > 0;
    return bad;
}

/* gp-data generate: the file holds exactly the library generator's edges (u < v, sorted) under a
 * comment line, read back by the edge-list reader; bad specs are usage errors that write no
 * file. */
static int check_generate(char *app)
{
    char file[128], seed[] = "3";
    snprintf(file, sizeof file, "%s/ws.txt", root);
    char *argv_ok[] = {app, "generate", "ws:n=50,k=2,p=0.2", "--seed", seed, "--output", file, NULL};
    int rc = app_run(argv_ok, true, out, sizeof out);
    if (rc != 0) return fprintf(stderr, "generate: exit %d\n%s\n", rc, out), 1;
    FILE *f = fopen(file, "r");
    char first[256] = "";
    if (!f || !fgets(first, sizeof first, f)) return fprintf(stderr, "generate: no %s\n", file), 1;
    fclose(f);
    if (strcmp(first, "# gp-data generate ws:n=50,k=2,p=0.2 --seed 3: 50 nodes (0 without edges, not listed), "
                      "100 edges\n") != 0)
        return fprintf(stderr, "generate: first line %s", first), 1;
    gp_edgelist *e = NULL;
    gp_graph *g = NULL;
    int bad = gp_edgelist_read(&e, file, NULL) != GP_OK || gp_gen_watts_strogatz(&g, 50, 2, 0.2, 3) != GP_OK;
    int64_t k = 0;
    for (int64_t u = 0; !bad && u < 50; u++)
        for (int64_t j = g->adj.ptr[u]; !bad && j < g->adj.ptr[u + 1]; j++) {
            if (g->adj.idx[j] < u) continue;
            bad = k >= e->count || e->src[k] != u || e->dst[k] != g->adj.idx[j] || (k > 0 && e->src[k - 1] == u &&
                                                                                     e->dst[k - 1] >= e->dst[k]);
            k++;
        }
    bad = bad || k != e->count || k != 100;
    gp_edgelist_free(&e);
    gp_graph_free(&g);
    if (bad) return fprintf(stderr, "generate: %s differs from gp_gen_watts_strogatz(50, 2, 0.2, 3)\n", file), 1;
    const char *specs[][2] = {{"foo:n=3", "unknown kind 'foo'"},    {"er:n=10", "er needs p="},
                              {"ba:n=10,x=1", "bad setting 'x=1'"}, {"er:n=10,p=1.5", "p=1.5 is out of range"},
                              {"ba:n=2.5", "n=2.5 is out of range"}, {"ws:n=4,k=3", "n > 2k"}};
    for (int i = 0; i < 6; i++) {
        char bad_file[128];
        snprintf(bad_file, sizeof bad_file, "%s/never.txt", root);
        char *argv_bad[] = {app, "generate", (char *)specs[i][0], "--output", bad_file, NULL};
        rc = app_run(argv_bad, true, out, sizeof out);
        if (rc != 2 || !strstr(out, specs[i][1]) || access(bad_file, F_OK) == 0)
            return fprintf(stderr, "generate %s: exit %d, expected 2 and '%s'\n%s\n", specs[i][0], rc, specs[i][1],
                           out), 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_gp_data_app PATH-TO-gp-data FIXTURE-DIR\n");
        return 2;
    }
    if (!mkdtemp(root)) return 1;
    char path[128];
    snprintf(path, sizeof path, "%s/data", root);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/data/D", root);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/data/D/dir.txt", root); /* a directory where a file belongs */
    mkdir(path, 0777);
    const char *fmt = "D\tgraphclass\ttu-A\tD/%s\t%s\thttps://example.org/%s\t-\tnotes\n";
    char reg[2048];
    int n = 0;
    const char *files[] = {"good.txt", "missing.txt", "other.txt", "dir.txt"};
    for (int i = 0; i < 4; i++) n += snprintf(reg + n, sizeof reg - (size_t)n, fmt, files[i], SHA_ABC, files[i]);
    int bad = put("registry.tsv", reg) || put("data/D/good.txt", "abc") || put("data/D/other.txt", "abd");
    static const char *const verify[] = {"OK       D/good.txt", "MISSING  D/missing.txt", "MISMATCH D/other.txt",
                                         "NOTFILE  D/dir.txt (is a directory)",
                                         "1 ok, 1 missing, 1 mismatched, 1 not a file", NULL};
    static const char *const fetch[] = {"- D/dir.txt (is a directory: move it away first)",
                                        "1 present, 0 downloaded, 3 still needed", NULL};
    /* list: one line per dataset (files, present as files, with a fetch address: none here),
     * then the directory */
    char list_line[128], list_dir[160];
    snprintf(list_line, sizeof list_line, "%-12s %-10s %6d %8d %9d", "D", "graphclass", 4, 2, 0);
    snprintf(list_dir, sizeof list_dir, "data directory: %s/data", root);
    const char *const list[] = {"dataset      task        files  present fetchable", list_line, list_dir, NULL};
    bad = bad || check(argv[1], "list", NULL, 0, list);
    bad = bad || check(argv[1], "verify", NULL, 1, verify) || check(argv[1], "fetch", "D", 1, fetch);
    struct stat sb;
    if (!bad && (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) bad = fprintf(stderr, "%s was replaced\n", path);
    bad = bad || check_conversions(argv[1], argv[2]) || check_generate(argv[1]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return bad;
}
