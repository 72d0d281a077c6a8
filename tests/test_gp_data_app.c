/*
 * gp-data verify and fetch against a registry written by the test (suite "apps"; no network:
 * no entry has a fetch URL). A file with the right checksum is OK, a missing one MISSING, one
 * with other bytes MISMATCH, and a directory where a file is expected is reported as such
 * ("NOTFILE ... is a directory"; it was counted as a checksum mismatch after a read error);
 * fetch does not try to replace it. The app path is argv[1].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
static int check(char *app, const char *cmd, const char *name, int want, const char *const *expect)
{
    static char out[1 << 16];
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

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_gp_data_app PATH-TO-gp-data\n");
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
    bad = bad || check(argv[1], "verify", NULL, 1, verify) || check(argv[1], "fetch", "D", 1, fetch);
    struct stat sb;
    if (!bad && (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) bad = fprintf(stderr, "%s was replaced\n", path);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return bad;
}
