/*
 * The shared line reader: zlib's gzopen/gzread (plain files pass through unchanged, gzip is
 * detected from its magic bytes), lines split with memchr in a private buffer.
 *
 * Why gzread and not gzgets: gzgets needs a maximum line length up front and copies each
 * line byte by byte; reading 1 MiB blocks and splitting them in place costs one memchr per
 * line and allows lines of any length (COLLAB's adjacency lists have thousands of fields).
 *
 * A truncated gzip stream is not an error for gzread itself (it returns what it could
 * decompress, then 0) but gzerror() then reports Z_BUF_ERROR "unexpected end of file";
 * that is checked at the end of the data so a cut-off .gz never reads as a shorter file.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io_text.h"

enum { BLOCK = 1 << 20 };

gp_status gp_i_text_fail(const gp_i_text *t, gp_status st, const char *cfile, int cline,
                         const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->line > 0)
        return gp_i_error(st, cfile, cline, "%s:%lld: %s", t->path, (long long)t->line, msg);
    return gp_i_error(st, cfile, cline, "%s: %s", t->path, msg);
}

gp_status gp_i_text_open(gp_i_text **out, const char *path)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "text reader: NULL argument");
    *out = NULL;
    gp_i_text *t = gp_i_calloc(1, sizeof *t);
    size_t plen = strlen(path);
    char *name = gp_i_malloc(plen + 1);
    char *buf = gp_i_malloc(BLOCK);
    if (!t || !name || !buf) {
        gp_i_free(t);
        gp_i_free(name);
        gp_i_free(buf);
        return GP_ERR(GP_E_NOMEM, "%s: out of memory for the read buffer", path);
    }
    memcpy(name, path, plen + 1);
    t->path = name;
    t->buf = buf;
    t->cap = BLOCK;
    struct stat sb;
    t->size = stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
    if (t->size >= 0 && S_ISDIR(sb.st_mode)) {
        gp_status st = GP_ERR(GP_E_IO, "%s: is a directory, not a file", path);
        gp_i_text_close(&t);
        return st;
    }
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        int e = errno;
        gp_status st = e ? GP_ERR(GP_E_IO, "%s: cannot open (%s)", path, strerror(e))
                         : GP_ERR(GP_E_NOMEM, "%s: cannot open (zlib out of memory)", path);
        gp_i_text_close(&t);
        return st;
    }
    gzbuffer(gz, 1 << 17);
    t->gz = gz;
    *out = t;
    return GP_OK;
}

int64_t gp_i_text_scale_hint(const gp_i_text *t, int64_t so_far)
{
    /* file bytes per delivered byte (1 for plain files, the compression ratio for gzip), then
     * lines per consumed delivered byte */
    z_off_t in = gzoffset((gzFile)t->gz);
    int64_t consumed = t->produced - (int64_t)(t->end - t->pos);
    if (t->size <= 0 || in <= 0 || so_far <= 0 || consumed <= 0) return 0;
    double total = (double)t->size * (double)t->produced / (double)in;
    double lines = total * (double)so_far / (double)consumed;
    return lines < 1e12 ? (int64_t)(lines * 1.05) + 1024 : 0;
}

void gp_i_text_close(gp_i_text **t)
{
    if (!t || !*t) return;
    if ((*t)->gz) gzclose_r((gzFile)(*t)->gz);
    gp_i_free((*t)->path);
    gp_i_free((*t)->buf);
    gp_i_free(*t);
    *t = NULL;
}

/* An error while reading the line after the last one returned: name that line. */
static gp_status read_fail(gp_i_text *t, const char *what, const char *why)
{
    t->line++;
    gp_status st = GP_TEXT_FAIL(t, GP_E_IO, "%s (%s)", what, why);
    t->line--;
    return st;
}

/* Refill after moving the unread tail to the front; grows the buffer when a line fills it. */
static gp_status refill(gp_i_text *t)
{
    size_t rest = t->end - t->pos;
    if (t->pos > 0) {
        memmove(t->buf, t->buf + t->pos, rest);
        t->pos = 0;
        t->end = rest;
    }
    if (t->end + 1 >= t->cap) { /* a line longer than the buffer */
        size_t ncap = t->cap * 2;
        char *nb = gp_i_realloc(t->buf, ncap);
        if (!nb) return GP_TEXT_FAIL(t, GP_E_NOMEM, "out of memory for a line of %zu bytes", t->end);
        t->buf = nb;
        t->cap = ncap;
    }
    size_t want = t->cap - 1 - t->end; /* keep one byte for the final NUL */
    if (want > (size_t)INT32_MAX) want = (size_t)INT32_MAX;
    int got = gzread((gzFile)t->gz, t->buf + t->end, (unsigned)want);
    int err = Z_OK;
    const char *why = gzerror((gzFile)t->gz, &err);
    if (got < 0 || (err != Z_OK && err != Z_BUF_ERROR))
        return read_fail(t, "read error", err == Z_ERRNO ? strerror(errno) : why);
    if (got == 0) {
        if (err == Z_BUF_ERROR) return read_fail(t, "truncated gzip stream", why);
        t->eof = true;
    }
    t->end += (size_t)got;
    t->produced += got;
    return GP_OK;
}

static gp_status nul_fail(gp_i_text *t)
{
    t->line++;
    gp_status st = GP_TEXT_FAIL(t, GP_E_PARSE, "NUL byte in the line: a binary or UTF-16 file, not text");
    t->line--;
    return st;
}

/* Hand out the line of n bytes at b: without its "\r" (CRLF files), NUL-terminated, and the
 * first line without a UTF-8 byte-order mark (spreadsheets and Windows editors write one: it
 * would become part of the first node's name). */
static gp_status deliver(gp_i_text *t, char *b, size_t n, char **line, size_t *len)
{
    if (n > 0 && b[n - 1] == '\r') n--;
    b[n] = '\0';
    if (t->line++ == 0 && n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
        b += 3;
        n -= 3;
    }
    *line = b;
    if (len) *len = n;
    return GP_OK;
}

gp_status gp_i_text_next(gp_i_text *t, char **line, size_t *len)
{
    *line = NULL;
    if (len) *len = 0;
    for (;;) {
        char *b = t->buf + t->pos;
        char *nl = t->pos < t->end ? memchr(b, '\n', t->end - t->pos) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - b);
            if (memchr(b, '\0', n)) return nul_fail(t);
            t->pos += n + 1;
            return deliver(t, b, n, line, len);
        }
        if (t->eof) {
            if (t->pos == t->end) return GP_OK; /* end of file */
            size_t n = t->end - t->pos;       /* last line without "\n" */
            if (memchr(b, '\0', n)) return nul_fail(t);
            t->pos = t->end;
            return deliver(t, b, n, line, len); /* the buffer keeps a spare byte for the NUL */
        }
        gp_status st = refill(t);
        if (st != GP_OK) return st;
    }
}

gp_status gp_i_text_data(gp_i_text *t, char **line)
{
    for (;;) {
        gp_status st = gp_i_text_next(t, line, NULL);
        if (st != GP_OK || !*line) return st;
        const char *p = *line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p && *p != '#' && *p != '%') return GP_OK;
    }
}

bool gp_i_parse_float(const char *s, float *v)
{
    if (!*s) return false;
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(d) || fabs(d) > FLT_MAX) return false;
    *v = (float)d;
    return true;
}

gp_status gp_i_text_line_int(int64_t *x, gp_i_text *t, char *line, const char *cfile, int cline)
{
    gp_i_cursor c = {line, false};
    const char *f = gp_i_field(&c);
    if (!f || !gp_i_parse_int(f, x))
        return gp_i_text_fail(t, GP_E_PARSE, cfile, cline, "bad number '%s' (one integer per line is expected)",
                              f ? gp_i_quote(f) : "");
    const char *extra = gp_i_field(&c);
    if (extra)
        return gp_i_text_fail(t, GP_E_PARSE, cfile, cline,
                              "unexpected column 2 ('%s'): one integer per line is expected", gp_i_quote(extra));
    return GP_OK;
}

/* The next field, column col of a line of the given form, as an integer (into *i) or, when i
 * is NULL, as a float (into *x). */
static gp_status number_column(int64_t *i, float *x, gp_i_text *t, gp_i_cursor *c, int col,
                               const char *form, const char *cfile, int cline)
{
    const char *f = gp_i_field(c);
    if (!f || !*f)
        return gp_i_text_fail(t, GP_E_PARSE, cfile, cline, "missing column %d (expected '%s')", col, form);
    if (i ? !gp_i_parse_int(f, i) : !gp_i_parse_float(f, x))
        return gp_i_text_fail(t, GP_E_PARSE, cfile, cline, "bad number '%s' in column %d", gp_i_quote(f), col);
    return GP_OK;
}

gp_status gp_i_text_int_column(int64_t *x, gp_i_text *t, gp_i_cursor *c, int col, const char *form,
                               const char *cfile, int cline)
{
    return number_column(x, NULL, t, c, col, form, cfile, cline);
}

gp_status gp_i_text_float_column(float *x, gp_i_text *t, gp_i_cursor *c, int col, const char *form,
                                 const char *cfile, int cline)
{
    return number_column(NULL, x, t, c, col, form, cfile, cline);
}

const char *gp_i_quote(const char *s)
{
    static _Thread_local char q[48];
    size_t n = strlen(s);
    if (n <= 40) {
        memcpy(q, s, n + 1);
    } else {
        memcpy(q, s, 37);
        memcpy(q + 37, "...", 4);
    }
    return q;
}

gp_status gp_i_vec_reserve(gp_i_vec *a, int64_t cap)
{
    if (cap <= a->cap) return GP_OK;
    int64_t *nv = gp_i_realloc(a->v, gp_i_mul_size((size_t)cap, sizeof(int64_t)));
    if (!nv) return GP_ERR(GP_E_NOMEM, "out of memory for %lld values", (long long)cap);
    a->v = nv;
    a->cap = cap;
    gp_i_advise_huge(nv, (size_t)cap * sizeof(int64_t));
    return GP_OK;
}

gp_status gp_i_vec_grow(gp_i_vec *a) { return gp_i_vec_reserve(a, a->cap ? 2 * a->cap : 1024); }

gp_status gp_i_vec_take(int64_t **out, gp_i_vec *a)
{
    if (!a->v) {
        a->v = gp_i_malloc(sizeof(int64_t));
        if (!a->v) return GP_ERR(GP_E_NOMEM, "out of memory");
        a->cap = 1;
    }
    *out = a->v;
    a->v = NULL;
    a->n = a->cap = 0;
    return GP_OK;
}

void gp_i_vec_free(gp_i_vec *a)
{
    gp_i_free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

char *gp_i_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    bool slash = a > 0 && dir[a - 1] != '/';
    char *p = gp_i_malloc(a + slash + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

bool gp_i_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}
