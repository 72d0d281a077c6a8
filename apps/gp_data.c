/*
 * gp-data: the dataset registry (data/registry.tsv) against a data directory.
 *
 *   gp-data [--data-dir DIR] [--registry FILE] list
 *   gp-data [--data-dir DIR] [--registry FILE] verify [NAME]
 *   gp-data [--data-dir DIR] [--registry FILE] fetch NAME...
 *   gp-data generate KIND[:key=value,...] [--seed S] [--output FILE]
 *
 * list    every dataset with its task and how many of its files are present
 * verify  SHA-256 of every file (of NAME, or all) against the registry (a directory or other
 *         non-regular file where a file is expected is reported as such, "NOTFILE")
 * fetch   files that are missing or wrong: those with a byte-identical public copy are
 *         downloaded with curl to FILE.part, verified, and only then renamed into place; those
 *         made from a MATLAB file (fetch_url "mat:URL", and "mat-meta" for linkpred/meta.tsv,
 *         made from every network's .mat; each .mat is downloaded once per command) are
 *         downloaded and converted (data_convert.h) into FILE.part, then verified and renamed
 *         the same way; for the others, and when the
 *         download fails (no network), it prints exactly which file to put where, its
 *         checksum, its source and how it was made.
 * generate a synthetic graph as an edge list (data_generate.c); needs no data directory.
 *
 * Data directory: --data-dir, else $GP_DATA_DIR, else $XDG_CACHE_HOME/graphpool, else
 * ~/.cache/graphpool. Registry: --registry, else $GP_REGISTRY, else DIR/registry.tsv if
 * present, else the source tree's data/registry.tsv (compiled in).
 * Exit status: 0 success, 1 failure (missing, mismatched or non-regular files, I/O error), 2
 * usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <graphpool/graphpool.h>
#include <graphpool/io.h>

#include "app_output.h"
#include "data_convert.h"
#include "data_generate.h"

#ifndef GP_REGISTRY_DEFAULT
#define GP_REGISTRY_DEFAULT "data/registry.tsv"
#endif

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: gp-data [--data-dir DIR] [--registry FILE] list\n"
               "       gp-data [--data-dir DIR] [--registry FILE] verify [NAME]\n"
               "       gp-data [--data-dir DIR] [--registry FILE] fetch NAME...\n"
               "       gp-data %s", data_generate_help);
}

/* Same rule as the library's dataset lookup: case and punctuation do not matter. */
static int name_matches(const char *a, const char *b)
{
    for (;;) {
        while (*a && !((*a >= '0' && *a <= '9') || ((*a | 32) >= 'a' && (*a | 32) <= 'z'))) a++;
        while (*b && !((*b >= '0' && *b <= '9') || ((*b | 32) >= 'a' && (*b | 32) <= 'z'))) b++;
        if (!*a || !*b) return !*a && !*b;
        if ((*a | 32) != (*b | 32)) return 0;
        a++, b++;
    }
}

static const char *resolve_name(const gp_registry *r, const char *name)
{
    if (name_matches(name, "C.ele")) name = "Celegans";
    for (int64_t i = 0; i < r->count; i++)
        if (name_matches(r->entries[i].dataset, name)) return r->entries[i].dataset;
    return NULL;
}

/* Has an earlier entry the same path (meta.tsv is listed under every network)? */
static int seen_path(const gp_registry *r, int64_t i, const char *only)
{
    for (int64_t j = 0; j < i; j++)
        if ((!only || !strcmp(r->entries[j].dataset, only)) && !strcmp(r->entries[j].path, r->entries[i].path))
            return 1;
    return 0;
}

/* a + sep + b in a new string, or NULL. */
static char *concat(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, sep, b);
    return p;
}

static char *join(const char *a, const char *b) { return concat(a, "/", b); }

static char *with_suffix(const char *path, const char *suffix) { return concat(path, "", suffix); }

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Why the existing path is no data file ("is a directory", ...); NULL for a regular file (or a
 * link to one) and for a missing path. Checked before hashing: reading a directory gave a read
 * error counted as a checksum mismatch, and a named pipe would block. */
static const char *not_a_file(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode)) return NULL;
    return S_ISDIR(sb.st_mode) ? "is a directory" : "is not a regular file";
}

/* not_a_file of dir/rel; *oom set when the path could not be built. */
static const char *entry_not_a_file(const char *dir, const char *rel, int *oom)
{
    char *p = join(dir, rel);
    *oom = !p;
    const char *why = p ? not_a_file(p) : NULL;
    free(p);
    return why;
}

static int cmd_list(const gp_registry *r, const char *dir)
{
    printf("%-12s %-10s %6s %8s %9s\n", "dataset", "task", "files", "present", "fetchable");
    for (int64_t i = 0; i < r->count; i++) {
        const char *ds = r->entries[i].dataset;
        if (i > 0 && !strcmp(r->entries[i - 1].dataset, ds)) continue;
        int files = 0, present = 0, fetchable = 0;
        for (int64_t j = i; j < r->count && !strcmp(r->entries[j].dataset, ds); j++) {
            char *p = join(dir, r->entries[j].path);
            if (!p) return 1;
            files++;
            present += exists(p) && !not_a_file(p);
            fetchable += strcmp(r->entries[j].fetch_url, "-") != 0;
            free(p);
        }
        printf("%-12s %-10s %6d %8d %9d\n", ds, r->entries[i].task, files, present, fetchable);
    }
    printf("data directory: %s\n", dir);
    return 0;
}

static int cmd_verify(const gp_registry *r, const char *dir, const char *only)
{
    int64_t ok = 0, missing = 0, bad = 0, not_files = 0;
    for (int64_t i = 0; i < r->count; i++) {
        const gp_registry_entry *e = &r->entries[i];
        if ((only && strcmp(e->dataset, only)) || seen_path(r, i, only)) continue;
        int oom;
        const char *why = entry_not_a_file(dir, e->path, &oom);
        if (oom) return fprintf(stderr, "gp-data: out of memory\n"), 1;
        if (why) {
            not_files++;
            printf("NOTFILE  %s (%s)\n", e->path, why);
            continue;
        }
        gp_verify_result res;
        char hex[65];
        if (gp_registry_verify(&res, hex, dir, e) != GP_OK) {
            fprintf(stderr, "gp-data: %s\n", gp_last_error_message());
            bad++;
            continue;
        }
        if (res == GP_VERIFY_OK) {
            ok++;
            printf("OK       %s\n", e->path);
        } else if (res == GP_VERIFY_MISSING) {
            missing++;
            printf("MISSING  %s\n", e->path);
        } else {
            bad++;
            printf("MISMATCH %s (sha256 %s, expected %s)\n", e->path, hex, e->sha256);
        }
    }
    printf("%lld ok, %lld missing, %lld mismatched", (long long)ok, (long long)missing, (long long)bad);
    if (not_files) printf(", %lld not %s", (long long)not_files, not_files == 1 ? "a file" : "files");
    printf(" in %s\n", dir);
    return missing || bad || not_files ? 1 : 0;
}

/* mkdir -p of the directory part of path. */
static int make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p) return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

/* curl -fsSL URL -o OUT; returns curl's exit status, or -1 if it could not be started. */
static int run_curl(const char *url, const char *out)
{
    char *argv[] = {"curl", "-fsSL", "--retry", "2", "--connect-timeout", "20", "-o", (char *)out,
                    (char *)url, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "curl", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "gp-data: cannot run curl (%s)\n", strerror(rc));
        return -1;
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void print_manual(const gp_registry_entry *e, const char *dir)
{
    printf("  put %s/%s\n    sha256 %s\n    source %s\n", dir, e->path, e->sha256, e->source_url);
    if (!strncmp(e->fetch_url, "mat:", 4)) printf("    from   %s (converted as below)\n", e->fetch_url + 4);
    else if (!strcmp(e->fetch_url, "mat-meta")) printf("    from   every network's .mat file (as below)\n");
    else if (strcmp(e->fetch_url, "-")) printf("    download %s\n", e->fetch_url);
    printf("    how    %s\n", e->notes);
}

/* curl URL to path; 0 on success. *offline is set when the network cannot be reached, after
 * which nothing more is downloaded. */
static int download(const char *url, const char *path, int *offline)
{
    int rc = run_curl(url, path);
    if (rc == 0) return 0;
    if (rc > 0) fprintf(stderr, "gp-data: curl failed (exit %d) for %s\n", rc, url);
    /* 5, 6, 7, 28: proxy / host not resolved, no connection, timeout */
    *offline = rc < 0 || rc == 5 || rc == 6 || rc == 7 || rc == 28;
    if (*offline) fprintf(stderr, "gp-data: no network: not trying further downloads\n");
    unlink(path);
    return 1;
}

/* The .mat files one fetch command has downloaded, by URL: linkpred/meta.tsv is made from every
 * network's .mat, which the network's edge list was converted from a moment before, so each is
 * downloaded once per command (into the file named when it was first needed) and removed at the
 * command's end (mat_cache_clear). */
typedef struct mat_cache {
    int count, cap;
    char **url, **path;
} mat_cache;

static void mat_cache_clear(mat_cache *c)
{
    for (int i = 0; i < c->count; i++) {
        unlink(c->path[i]);
        free(c->url[i]);
        free(c->path[i]);
    }
    free(c->url);
    free(c->path);
    *c = (mat_cache){0};
}

/* *path: the local copy of url, downloaded into new_path unless c has it already. */
static int cached_download(mat_cache *c, const char *url, const char *new_path, const char **path,
                           int *offline)
{
    for (int i = 0; i < c->count; i++)
        if (!strcmp(c->url[i], url)) return *path = c->path[i], 0;
    if (c->count == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        char **u = realloc(c->url, (size_t)cap * sizeof *u);
        if (u) c->url = u;
        char **p = u ? realloc(c->path, (size_t)cap * sizeof *p) : NULL;
        if (p) c->path = p;
        if (!u || !p) return fprintf(stderr, "gp-data: out of memory\n"), 1;
        c->cap = cap;
    }
    char *u = strdup(url), *p = strdup(new_path);
    if (!u || !p) {
        free(u);
        free(p);
        return fprintf(stderr, "gp-data: out of memory\n"), 1;
    }
    fprintf(stderr, "  downloading %s\n", url);
    if (download(url, new_path, offline)) {
        free(u);
        free(p);
        return 1;
    }
    c->url[c->count] = u;
    c->path[c->count++] = p;
    *path = p;
    return 0;
}

/* A .mat file of e's fetch_url ("mat:URL") converted into part by e's format. */
static int fetch_converted(const gp_registry_entry *e, const char *dest, const char *part, mat_cache *cache,
                           int *offline)
{
    char *local = with_suffix(dest, ".src.mat"), err[1024] = "";
    if (!local) return fprintf(stderr, "gp-data: out of memory\n"), 1;
    const char *src = NULL;
    int rc = cached_download(cache, e->fetch_url + 4, local, &src, offline);
    if (rc == 0) {
        const char *base = strrchr(e->path, '/');
        base = base ? base + 1 : e->path;
        size_t blen = strlen(base);
        char gzname[512];
        if (!strcmp(e->format, "edgelist")) {
            rc = convert_mat_edges(src, part, err, sizeof err);
        } else if (!strcmp(e->format, "linksplit-gz") && blen > 3 && blen - 3 < sizeof gzname &&
                   !strcmp(base + blen - 3, ".gz")) {
            snprintf(gzname, sizeof gzname, "%.*s", (int)(blen - 3), base);
            rc = convert_mat_split(src, part, gzname, err, sizeof err);
        } else {
            rc = 1;
            snprintf(err, sizeof err, "no conversion from a .mat file to format %s", e->format);
        }
        if (rc) fprintf(stderr, "gp-data: %s: converting %s: %s\n", e->path, e->fetch_url + 4, err);
    }
    free(local);
    return rc;
}

/* linkpred/meta.tsv ("mat-meta"): a line per link-prediction network of the registry (entries of
 * format edgelist with a "mat:" source, in registry order), each from its downloaded .mat. */
static int fetch_meta(const gp_registry *r, const char *dest, const char *part, mat_cache *cache, int *offline)
{
    int count = 0, rc = 0;
    const char **names = calloc((size_t)r->count + 1, sizeof *names);
    const char **mats = calloc((size_t)r->count + 1, sizeof *mats);
    if (!names || !mats) rc = fprintf(stderr, "gp-data: out of memory\n") > 0;
    for (int64_t i = 0; i < r->count && !rc; i++) {
        const gp_registry_entry *e = &r->entries[i];
        if (strcmp(e->format, "edgelist") || strncmp(e->fetch_url, "mat:", 4) || strncmp(e->path, "linkpred/", 9) ||
            seen_path(r, i, NULL))
            continue;
        char suffix[32];
        snprintf(suffix, sizeof suffix, ".src%d.mat", count);
        char *local = with_suffix(dest, suffix);
        if (!local) {
            rc = fprintf(stderr, "gp-data: out of memory\n") > 0;
            break;
        }
        names[count] = e->dataset;
        rc = cached_download(cache, e->fetch_url + 4, local, &mats[count++], offline);
        free(local);
    }
    char err[1024] = "";
    if (!rc && count == 0) rc = fprintf(stderr, "gp-data: %s: no network with a .mat source in the registry\n", dest) > 0;
    if (!rc && convert_mat_meta(count, names, mats, part, err, sizeof err))
        rc = fprintf(stderr, "gp-data: %s: %s\n", dest, err) > 0;
    free(mats);
    free(names);
    return rc;
}

static int cmd_fetch(const gp_registry *r, const char *dir, const char *name)
{
    int64_t have = 0, got = 0, todo = 0;
    int offline = 0; /* after curl could not start or reach the host, stop trying */
    mat_cache cache = {0};
    for (int64_t i = 0; i < r->count; i++) {
        const gp_registry_entry *e = &r->entries[i];
        if (strcmp(e->dataset, name) || seen_path(r, i, name)) continue;
        int oom;
        const char *not_file = entry_not_a_file(dir, e->path, &oom);
        if (oom) return mat_cache_clear(&cache), fprintf(stderr, "gp-data: out of memory\n"), 1;
        if (not_file) { /* never replaced: it may hold something else */
            if (todo == 0) printf("%s: these files must be put in place by hand:\n", name);
            todo++;
            printf("- %s (%s: move it away first)\n", e->path, not_file);
            print_manual(e, dir);
            continue;
        }
        gp_verify_result res;
        char hex[65];
        if (gp_registry_verify(&res, hex, dir, e) != GP_OK) {
            fprintf(stderr, "gp-data: %s\n", gp_last_error_message());
            todo++;
            continue;
        }
        if (res == GP_VERIFY_OK) {
            have++;
            continue;
        }
        const char *why = res == GP_VERIFY_MISSING ? "missing" : "checksum mismatch";
        if (strcmp(e->fetch_url, "-") && !offline) {
            char *dest = join(dir, e->path), *part = dest ? with_suffix(dest, ".part") : NULL;
            if (!dest || !part) {
                free(dest);
                mat_cache_clear(&cache);
                fprintf(stderr, "gp-data: out of memory\n");
                return 1;
            }
            int convert = !strncmp(e->fetch_url, "mat:", 4), meta = !strcmp(e->fetch_url, "mat-meta");
            fprintf(stderr, "%s %s (%s)\n", convert || meta ? "fetching and converting" : "fetching", e->path, why);
            int rc = make_parents(dest) != 0                  ? -1
                     : convert                                ? fetch_converted(e, dest, part, &cache, &offline)
                     : meta                                   ? fetch_meta(r, dest, part, &cache, &offline)
                                                              : download(e->fetch_url, part, &offline);
            int placed = 0;
            if (rc == 0) {
                if (gp_sha256_file(hex, part) == GP_OK && !strcmp(hex, e->sha256)) {
                    placed = rename(part, dest) == 0;
                    if (!placed) fprintf(stderr, "gp-data: cannot rename %s (%s)\n", part, strerror(errno));
                } else {
                    fprintf(stderr, "gp-data: %s: %s file has sha256 %s, expected %s; discarded\n", e->path,
                            convert || meta ? "converted" : "downloaded", hex, e->sha256);
                }
            }
            if (!placed) unlink(part);
            free(part);
            free(dest);
            if (placed) {
                got++;
                continue;
            }
        }
        if (todo == 0) printf("%s: these files must be put in place by hand:\n", name);
        todo++;
        printf("- %s (%s)\n", e->path, why);
        print_manual(e, dir);
    }
    mat_cache_clear(&cache);
    printf("%s: %lld present, %lld downloaded, %lld still needed (data directory %s)\n", name,
           (long long)have, (long long)got, (long long)todo, dir);
    return todo ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *dir_opt = NULL, *reg_opt = NULL, *seed_opt = NULL, *output = NULL;
    static const struct option opts[] = {{"data-dir", required_argument, 0, 'd'},
                                          {"registry", required_argument, 0, 'r'},
                                          {"seed", required_argument, 0, 's'},
                                          {"output", required_argument, 0, 'o'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "d:r:s:o:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'r': reg_opt = optarg; break;
        case 's': seed_opt = optarg; break;
        case 'o': output = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind], *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (!strcmp(cmd, "generate")) {
        if (!name || optind + 2 < argc) {
            fprintf(stderr, "gp-data: generate takes one KIND[:key=value,...]\n%s", data_generate_help);
            return 2;
        }
        uint64_t seed = 1;
        if (seed_opt) {
            char *end = NULL;
            errno = 0;
            unsigned long long s = strtoull(seed_opt, &end, 10);
            if (*seed_opt < '0' || *seed_opt > '9' || *end || errno) {
                fprintf(stderr, "gp-data: bad value '%s' for --seed (an integer from 0)\n", seed_opt);
                return 2;
            }
            seed = s;
        }
        if (!app_output_path_ok("gp-data", "--output", output)) return 2;
        if (gp_init() != GP_OK) {
            fprintf(stderr, "gp-data: %s\n", gp_last_error_message());
            return 1;
        }
        int rc = data_generate(name, seed, output);
        gp_finalize();
        return rc;
    }
    if (seed_opt || output) {
        fprintf(stderr, "gp-data: --seed and --output are for generate\n");
        return 2;
    }
    int is_list = !strcmp(cmd, "list"), is_verify = !strcmp(cmd, "verify"), is_fetch = !strcmp(cmd, "fetch");
    if ((!is_list && !is_verify && !is_fetch) || (is_list && name) || (is_fetch && !name) ||
        (!is_fetch && optind + 2 < argc)) {
        usage(stderr);
        return 2;
    }
    if (gp_init() != GP_OK) {
        fprintf(stderr, "gp-data: %s\n", gp_last_error_message());
        return 1;
    }
    char *dir = NULL, *reg_path = NULL;
    gp_registry *r = NULL;
    int rc = 1;
    if (gp_data_dir(&dir, dir_opt) != GP_OK) {
        fprintf(stderr, "gp-data: %s\n", gp_last_error_message());
        goto done;
    }
    const char *env = getenv("GP_REGISTRY");
    if (reg_opt) reg_path = strdup(reg_opt);
    else if (env && *env) reg_path = strdup(env);
    else {
        reg_path = join(dir, "registry.tsv");
        if (reg_path && !exists(reg_path)) {
            free(reg_path);
            reg_path = strdup(GP_REGISTRY_DEFAULT);
        }
    }
    if (!reg_path || gp_registry_read(&r, reg_path) != GP_OK) {
        fprintf(stderr, "gp-data: %s\n", reg_path ? gp_last_error_message() : "out of memory");
        goto done;
    }
    for (int i = optind + 1; i < argc; i++) /* every name known before anything is fetched */
        if (!resolve_name(r, argv[i])) {
            fprintf(stderr, "gp-data: unknown dataset '%s' (gp-data list shows the names)\n", argv[i]);
            rc = 2;
            goto done;
        }
    if (is_list) rc = cmd_list(r, dir);
    else if (is_verify) rc = cmd_verify(r, dir, name ? resolve_name(r, name) : NULL);
    else {
        rc = 0;
        for (int i = optind + 1; i < argc; i++)
            if (cmd_fetch(r, dir, resolve_name(r, argv[i]))) rc = 1;
    }
done:
    gp_registry_free(&r);
    free(reg_path);
    gp_free(dir);
    gp_finalize();
    return rc;
}
