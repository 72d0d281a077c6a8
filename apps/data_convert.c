/* gp-data's .mat conversions (data_convert.h has the formats). */
#include "data_convert.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <graphpool/graphpool.h>
#include <graphpool/io.h>
#include <graphpool/linksplit.h>

static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The sorted distinct pairs u < v (as u * n + v) of the nonzero off-diagonal entries of `net`. */
static int net_pairs(int64_t **keys, int64_t *count, int64_t *nodes, const char *mat, char *err, size_t errsz)
{
    gp_mat_var *v = NULL;
    if (gp_mat_read(&v, mat, "net") != GP_OK) return fail(err, errsz, "%s", gp_last_error_message());
    int64_t n = v->rows, cap = v->sparse ? v->nnz : v->rows * v->cols, m = 0;
    if (v->rows != v->cols) {
        gp_mat_var_free(&v);
        return fail(err, errsz, "%s: variable net is not a square matrix", mat);
    }
    int64_t *k = malloc((size_t)(cap + 1) * sizeof *k);
    if (!k) {
        gp_mat_var_free(&v);
        return fail(err, errsz, "%s: out of memory", mat);
    }
    for (int64_t j = 0; j < n; j++) {
        int64_t k0 = v->sparse ? v->jc[j] : j * n, k1 = v->sparse ? v->jc[j + 1] : (j + 1) * n;
        for (int64_t e = k0; e < k1; e++) {
            int64_t i = v->sparse ? v->ir[e] : e - j * n;
            double x = v->values[e];
            if (isnan(x)) {
                free(k);
                gp_mat_var_free(&v);
                return fail(err, errsz, "%s: variable net holds NaN", mat);
            }
            if (x != 0.0 && i != j) k[m++] = i < j ? i * n + j : j * n + i;
        }
    }
    gp_mat_var_free(&v);
    qsort(k, (size_t)m, sizeof *k, cmp_i64);
    int64_t u = 0;
    for (int64_t e = 0; e < m; e++)
        if (e == 0 || k[e] != k[e - 1]) k[u++] = k[e];
    *keys = k;
    *count = u;
    *nodes = n;
    return 0;
}

static int close_checked(FILE *f, const char *out, char *err, size_t errsz)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return fail(err, errsz, "cannot write %s (%s)", out, strerror(errno));
    return 0;
}

int convert_mat_edges(const char *mat, const char *out, char *err, size_t errsz)
{
    int64_t *k, m, n;
    if (net_pairs(&k, &m, &n, mat, err, errsz)) return 1;
    FILE *f = fopen(out, "wb");
    if (!f) {
        free(k);
        return fail(err, errsz, "cannot create %s (%s)", out, strerror(errno));
    }
    for (int64_t e = 0; e < m; e++) fprintf(f, "%lld %lld\n", (long long)(k[e] / n), (long long)(k[e] % n));
    free(k);
    return close_checked(f, out, err, errsz);
}

int convert_mat_meta(int count, const char *const *names, const char *const *mats, const char *out, char *err,
                     size_t errsz)
{
    FILE *f = fopen(out, "wb");
    if (!f) return fail(err, errsz, "cannot create %s (%s)", out, strerror(errno));
    fprintf(f, "# name\tnum_nodes\tnum_undirected_edges\tisolated_nodes\tmax_degree\n");
    for (int i = 0; i < count; i++) {
        int64_t *k, m, n;
        if (net_pairs(&k, &m, &n, mats[i], err, errsz)) {
            fclose(f);
            return 1;
        }
        int64_t *deg = calloc((size_t)n + 1, sizeof *deg), isolated = 0, maxdeg = 0;
        if (!deg) {
            free(k);
            fclose(f);
            return fail(err, errsz, "%s: out of memory", mats[i]);
        }
        for (int64_t e = 0; e < m; e++) deg[k[e] / n]++, deg[k[e] % n]++;
        for (int64_t v = 0; v < n; v++) {
            isolated += deg[v] == 0;
            if (deg[v] > maxdeg) maxdeg = deg[v];
        }
        fprintf(f, "%s\t%lld\t%lld\t%lld\t%lld\n", names[i], (long long)n, (long long)m, (long long)isolated,
                (long long)maxdeg);
        free(deg);
        free(k);
    }
    return close_checked(f, out, err, errsz);
}

/* text as a gzip member the way Python's gzip module writes it with compresslevel 9, the name
 * in the header and mtime 0 (deflate as zlib.compressobj(9, DEFLATED, -15, 8, 0): the data,
 * then the finish). */
static int write_gzip(const char *out, const char *name, const unsigned char *text, size_t len, char *err,
                      size_t errsz)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return fail(err, errsz, "zlib: cannot start compressing %s", out);
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return fail(err, errsz, "%s: out of memory", out);
    }
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int ok = deflate(&z, Z_NO_FLUSH) == Z_OK && deflate(&z, Z_FINISH) == Z_STREAM_END;
    size_t zlen = cap - z.avail_out;
    deflateEnd(&z);
    if (!ok) {
        free(buf);
        return fail(err, errsz, "zlib: compressing %s failed", out);
    }
    FILE *f = fopen(out, "wb");
    if (!f) {
        free(buf);
        return fail(err, errsz, "cannot create %s (%s)", out, strerror(errno));
    }
    const unsigned char head[10] = {0x1f, 0x8b, 8, 8 /* FNAME */, 0, 0, 0, 0 /* mtime */, 2 /* best */, 255};
    uint32_t crc = (uint32_t)crc32(0L, text, (uInt)len), size = (uint32_t)len;
    unsigned char tail[8];
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(crc >> (8 * i)), tail[4 + i] = (unsigned char)(size >> (8 * i));
    fwrite(head, 1, sizeof head, f);
    fwrite(name, 1, strlen(name) + 1, f);
    fwrite(buf, 1, zlen, f);
    fwrite(tail, 1, sizeof tail, f);
    free(buf);
    return close_checked(f, out, err, errsz);
}

int convert_mat_split(const char *mat, const char *out, const char *gzip_name, char *err, size_t errsz)
{
    static const char *const part[GP_LINK_PARTS] = {"train_pos", "train_neg", "val_pos",
                                                    "val_neg",   "test_pos",  "test_neg"};
    gp_link_split *s = NULL;
    if (gp_link_split_read(&s, mat, 0) != GP_OK) return fail(err, errsz, "%s", gp_last_error_message());
    size_t cap = 64, len = 0;
    /* a line is at most "train_pos " + two 19-digit ids + separator and newline = 50 bytes */
    for (int p = 0; p < GP_LINK_PARTS; p++) cap += (size_t)s->count[p] * 64;
    char *text = malloc(cap);
    if (!text) {
        gp_link_split_free(&s);
        return fail(err, errsz, "%s: out of memory", mat);
    }
    for (int p = 0; p < GP_LINK_PARTS; p++)
        for (int64_t i = 0; i < s->count[p]; i++)
            len += (size_t)snprintf(text + len, cap - len, "%s %lld %lld\n", part[p], (long long)s->pairs[p][2 * i],
                                    (long long)s->pairs[p][2 * i + 1]);
    gp_link_split_free(&s);
    int rc = write_gzip(out, gzip_name, (const unsigned char *)text, len, err, errsz);
    free(text);
    return rc;
}
