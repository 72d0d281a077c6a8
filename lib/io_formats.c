/*
 * Matrix Market coordinate files (graphpool's own reader, see io.h for why not SuiteSparse)
 * and igraph's formats (GraphML, GML, Pajek, NCOL, LGL) through igraph's readers.
 *
 * Matrix Market (NIST, Boisvert et al. 1996): a header "%%MatrixMarket matrix coordinate
 * <field> <symmetry>", '%' comment lines, a size line "M N NNZ", then NNZ lines "i j [value]"
 * with 1-based indices. Symmetric storage lists a_ij for i >= j only; the reader mirrors it.
 *
 * igraph reads a FILE *: plain files are opened directly; anything else (gzip) is
 * decompressed into memory and handed over with fmemopen, so .gz works for every format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include <igraph.h>

#include "io_text.h"
#include <graphpool/interop.h>
#include <graphpool/io.h>

/* ---------------------------------------------------------------- Matrix Market */

typedef enum mm_field { MM_REAL, MM_INTEGER, MM_PATTERN } mm_field;

/* Next line that is neither blank nor a '%' comment ('#' is no comment in Matrix Market). */
static gp_status mm_data_line(gp_i_text *t, char **line)
{
    for (;;) {
        gp_status st = gp_i_text_next(t, line, NULL);
        if (st != GP_OK || !*line) return st;
        const char *p = *line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p && *p != '%') return GP_OK;
    }
}

static gp_status mm_header(gp_i_text *t, mm_field *field, bool *symmetric)
{
    char *l;
    gp_status st = gp_i_text_next(t, &l, NULL);
    if (st != GP_OK) return st;
    if (!l) return GP_ERR(GP_E_PARSE, "%s: empty file", t->path);
    gp_i_cursor c = {l, false};
    const char *w[5];
    for (int i = 0; i < 5; i++) w[i] = gp_i_field(&c);
    if (!w[0] || strcasecmp(w[0], "%%MatrixMarket") != 0)
        return GP_TEXT_FAIL(t, GP_E_PARSE, "not a Matrix Market file (the first line must start with "
                            "'%%%%MatrixMarket')");
    if (!w[4])
        return GP_TEXT_FAIL(t, GP_E_PARSE, "incomplete header (expected '%%%%MatrixMarket matrix "
                            "coordinate <field> <symmetry>')");
    if (strcasecmp(w[1], "matrix") != 0)
        return GP_TEXT_FAIL(t, GP_E_UNSUPPORTED, "object '%s' (only 'matrix' is supported)", gp_i_quote(w[1]));
    if (strcasecmp(w[2], "coordinate") != 0)
        return GP_TEXT_FAIL(t, GP_E_UNSUPPORTED, "format '%s' (only sparse 'coordinate' files are supported)",
                            gp_i_quote(w[2]));
    if (!strcasecmp(w[3], "real")) *field = MM_REAL;
    else if (!strcasecmp(w[3], "double")) *field = MM_REAL;
    else if (!strcasecmp(w[3], "integer")) *field = MM_INTEGER;
    else if (!strcasecmp(w[3], "pattern")) *field = MM_PATTERN;
    else if (!strcasecmp(w[3], "complex"))
        return GP_TEXT_FAIL(t, GP_E_UNSUPPORTED, "complex values are not supported");
    else
        return GP_TEXT_FAIL(t, GP_E_PARSE, "unknown field '%s' (real, integer or pattern)", gp_i_quote(w[3]));
    if (!strcasecmp(w[4], "general")) *symmetric = false;
    else if (!strcasecmp(w[4], "symmetric")) *symmetric = true;
    else if (!strcasecmp(w[4], "skew-symmetric") || !strcasecmp(w[4], "hermitian"))
        return GP_TEXT_FAIL(t, GP_E_UNSUPPORTED, "%s storage is not supported (general or symmetric)",
                            gp_i_quote(w[4]));
    else
        return GP_TEXT_FAIL(t, GP_E_PARSE, "unknown symmetry '%s' (general or symmetric)", gp_i_quote(w[4]));
    return GP_OK;
}

static gp_status mm_read(gp_csr **out, bool *symmetric, const char *path)
{
    *out = NULL;
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_i_vec row = {0}, col = {0};
    float *val = NULL;
    int64_t val_cap = 0, size[3];
    mm_field field = MM_REAL;
    char *l;
    GP_TRY(gp_i_text_open(&t, path));
    GP_TRY(mm_header(t, &field, symmetric));
    GP_TRY(mm_data_line(t, &l));
    if (!l) {
        st = GP_ERR(GP_E_PARSE, "%s: no size line after the header", path);
        goto fail;
    }
    {
        gp_i_cursor c = {l, false};
        for (int j = 0; j < 3; j++) {
            const char *f = gp_i_field(&c);
            if (!f || !*f) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "missing column %d of the size line 'rows cols entries'", j + 1);
                goto fail;
            }
            if (!gp_i_parse_int(f, &size[j]) || size[j] < 0) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %d of the size line", gp_i_quote(f), j + 1);
                goto fail;
            }
        }
        const char *f = gp_i_field(&c);
        if (f) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column 4 ('%s') in the size line", gp_i_quote(f));
            goto fail;
        }
    }
    if (*symmetric && size[0] != size[1]) {
        st = GP_TEXT_FAIL(t, GP_E_PARSE, "symmetric storage of a non-square %lld x %lld matrix",
                          (long long)size[0], (long long)size[1]);
        goto fail;
    }
    int64_t nnz = size[2], ncols = field == MM_PATTERN ? 2 : 3;
    int64_t reserve = nnz < (1 << 24) ? nnz : (1 << 24); /* a bogus count must not allocate */
    GP_TRY(gp_i_vec_reserve(&row, (*symmetric ? 2 : 1) * reserve + 1));
    GP_TRY(gp_i_vec_reserve(&col, (*symmetric ? 2 : 1) * reserve + 1));
    for (int64_t k = 0;; k++) {
        GP_TRY(mm_data_line(t, &l));
        if (!l) {
            if (k < nnz) {
                st = GP_ERR(GP_E_PARSE, "%s: file ends after %lld of the %lld entries of the size line",
                            path, (long long)k, (long long)nnz);
                goto fail;
            }
            break;
        }
        if (k == nnz) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "more entries than the %lld of the size line", (long long)nnz);
            goto fail;
        }
        gp_i_cursor c = {l, false};
        int64_t ij[2];
        float x = 1.0f;
        for (int j = 0; j < 2; j++) {
            const char *f = gp_i_field(&c);
            if (!f || !*f) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "missing column %d (expected '%s')", j + 1,
                                  ncols == 2 ? "i j" : "i j value");
                goto fail;
            }
            if (!gp_i_parse_int(f, &ij[j])) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %d", gp_i_quote(f), j + 1);
                goto fail;
            }
            if (ij[j] < 1 || ij[j] > size[j]) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "%s index %lld is outside 1..%lld", j ? "column" : "row",
                                  (long long)ij[j], (long long)size[j]);
                goto fail;
            }
        }
        if (ncols == 3) {
            const char *f = gp_i_field(&c);
            int64_t iv;
            if (!f || !*f) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "missing column 3 (value)");
                goto fail;
            }
            bool ok = field == MM_INTEGER ? gp_i_parse_int(f, &iv) : gp_i_parse_float(f, &x);
            if (!ok) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad %s '%s' in column 3", field == MM_INTEGER ? "integer" : "number",
                                  gp_i_quote(f));
                goto fail;
            }
            if (field == MM_INTEGER) x = (float)iv;
        }
        const char *f = gp_i_field(&c);
        if (f) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column %lld ('%s')", (long long)ncols + 1, gp_i_quote(f));
            goto fail;
        }
        if (*symmetric && ij[0] < ij[1]) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "entry (%lld, %lld) above the diagonal in a symmetric file "
                              "(only the lower triangle is stored)", (long long)ij[0], (long long)ij[1]);
            goto fail;
        }
        int copies = *symmetric && ij[0] != ij[1] ? 2 : 1;
        if (row.n + copies > val_cap) {
            int64_t ncap = val_cap ? 2 * val_cap : row.cap;
            while (ncap < row.n + copies) ncap *= 2;
            float *nv = gp_i_realloc(val, gp_i_mul_size((size_t)ncap, sizeof(float)));
            if (!nv) {
                st = GP_ERR(GP_E_NOMEM, "%s: out of memory for %lld entries", path, (long long)ncap);
                goto fail;
            }
            val = nv;
            val_cap = ncap;
        }
        GP_TRY(gp_i_vec_push(&row, ij[0] - 1));
        GP_TRY(gp_i_vec_push(&col, ij[1] - 1));
        val[row.n - 1] = x;
        if (copies == 2) {
            GP_TRY(gp_i_vec_push(&row, ij[1] - 1));
            GP_TRY(gp_i_vec_push(&col, ij[0] - 1));
            val[row.n - 1] = x;
        }
    }
    GP_TRY(gp_i_csr_build(out, size[0], size[1], row.n, row.v, col.v, field == MM_PATTERN ? NULL : val, false));
    if (field == MM_PATTERN && (*out)->nnz == row.n) { /* no repeats: all ones */
        gp_i_free((*out)->val);
        (*out)->val = NULL;
    }
fail:
    gp_i_text_close(&t);
    gp_i_vec_free(&row);
    gp_i_vec_free(&col);
    gp_i_free(val);
    return st;
}

gp_status gp_csr_read_mtx(gp_csr **out, const char *path)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_csr_read_mtx: NULL argument");
    bool sym;
    return mm_read(out, &sym, path);
}

gp_status gp_graph_read_mtx(gp_graph **out, const char *path)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_graph_read_mtx: NULL argument");
    *out = NULL;
    gp_csr *m = NULL;
    bool sym = false;
    gp_status st = mm_read(&m, &sym, path);
    if (st != GP_OK) return st;
    if (m->rows != m->cols) {
        st = GP_ERR(GP_E_SHAPE, "%s: a %lld x %lld matrix is not the adjacency of a graph (not square)", path,
                    (long long)m->rows, (long long)m->cols);
        gp_csr_free(&m);
        return st;
    }
    st = gp_i_graph_wrap(out, &m, sym);
    gp_csr_free(&m);
    return st;
}

/* ---------------------------------------------------------------- igraph formats */

/* Whole file, decompressed if gzip, into memory. */
static gp_status slurp(char **buf, size_t *len, const char *path)
{
    *buf = NULL;
    *len = 0;
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) return GP_ERR(GP_E_IO, "%s: cannot open (%s)", path, errno ? strerror(errno) : "out of memory");
    size_t cap = 1 << 16, n = 0;
    char *b = gp_i_malloc(cap);
    gp_status st = GP_OK;
    if (!b) {
        st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (cap - n < (1 << 15)) {
            char *nb = gp_i_realloc(b, cap * 2);
            if (!nb) {
                st = GP_ERR(GP_E_NOMEM, "%s: out of memory for %zu bytes", path, cap * 2);
                goto done;
            }
            b = nb;
            cap *= 2;
        }
        int got = gzread(gz, b + n, (unsigned)(cap - n - 1));
        int err = Z_OK;
        const char *why = gzerror(gz, &err);
        if (got < 0 || (err != Z_OK && err != Z_BUF_ERROR)) {
            st = GP_ERR(GP_E_IO, "%s: read error (%s)", path, why);
            goto done;
        }
        if (got == 0) {
            if (err == Z_BUF_ERROR) st = GP_ERR(GP_E_IO, "%s: truncated gzip stream (%s)", path, why);
            break;
        }
        n += (size_t)got;
    }
done:
    gzclose_r(gz);
    if (st != GP_OK) {
        gp_i_free(b);
        return st;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return GP_OK;
}

static gp_graph_format format_from_name(const char *path)
{
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".gz")) n -= 3;
    static const struct {
        const char *ext;
        gp_graph_format f;
    } ext[] = {{".graphml", GP_FORMAT_GRAPHML}, {".gml", GP_FORMAT_GML},   {".net", GP_FORMAT_PAJEK},
               {".paj", GP_FORMAT_PAJEK},       {".pajek", GP_FORMAT_PAJEK}, {".ncol", GP_FORMAT_NCOL},
               {".lgl", GP_FORMAT_LGL},         {".mtx", GP_FORMAT_MTX},     {".mat", GP_FORMAT_MAT}};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t e = strlen(ext[i].ext);
        if (n > e && !strncasecmp(path + n - e, ext[i].ext, e)) return ext[i].f;
    }
    return GP_FORMAT_EDGELIST;
}

static const char *format_name(gp_graph_format f)
{
    switch (f) {
    case GP_FORMAT_GRAPHML: return "GraphML";
    case GP_FORMAT_GML: return "GML";
    case GP_FORMAT_PAJEK: return "Pajek";
    case GP_FORMAT_NCOL: return "NCOL";
    case GP_FORMAT_LGL: return "LGL";
    default: return "?";
    }
}

static gp_status read_igraph(gp_graph **out, const char *path, gp_graph_format fmt,
                             const gp_edgelist_options *o)
{
    char *buf = NULL;
    size_t len = 0;
    gp_status st = slurp(&buf, &len, path);
    if (st != GP_OK) return st;
    if (len == 0) {
        gp_i_free(buf);
        return GP_ERR(GP_E_PARSE, "%s: empty file", path);
    }
    FILE *f = fmemopen(buf, len, "r");
    if (!f) {
        st = GP_ERR(GP_E_IO, "%s: fmemopen failed (%s)", path, strerror(errno));
        gp_i_free(buf);
        return st;
    }
    igraph_t ig;
    igraph_bool_t directed = (o->flags & GP_READ_DIRECTED) != 0;
    igraph_error_t err = IGRAPH_SUCCESS;
    gp_clear_error();
    switch (fmt) {
    case GP_FORMAT_GRAPHML: err = igraph_read_graph_graphml(&ig, f, 0); break;
    case GP_FORMAT_GML: err = igraph_read_graph_gml(&ig, f); break;
    case GP_FORMAT_PAJEK: err = igraph_read_graph_pajek(&ig, f); break;
    case GP_FORMAT_NCOL: err = igraph_read_graph_ncol(&ig, f, NULL, false, IGRAPH_ADD_WEIGHTS_NO, directed); break;
    case GP_FORMAT_LGL: err = igraph_read_graph_lgl(&ig, f, false, IGRAPH_ADD_WEIGHTS_NO, directed); break;
    default: err = IGRAPH_EINVAL; break;
    }
    fclose(f);
    gp_i_free(buf);
    if (err != IGRAPH_SUCCESS) {
        char why[768];
        snprintf(why, sizeof why, "%s", gp_last_error_message()[0] ? gp_last_error_message() : igraph_strerror(err));
        return GP_ERR(GP_E_FOREIGN, "%s: igraph could not read it as %s: %s", path, format_name(fmt), why);
    }
    unsigned flags = 0;
    igraph_bool_t has = false;
    if (o->duplicates == GP_DUP_DROP) flags |= GP_EDGES_DROP_DUPLICATES;
    if (o->self_loops == GP_LOOP_DROP) flags |= GP_EDGES_DROP_SELF_LOOPS;
    if (o->duplicates == GP_DUP_FAIL && igraph_has_multiple(&ig, &has) == IGRAPH_SUCCESS && has)
        st = GP_ERR(GP_E_PARSE, "%s: the graph has repeated edges (duplicate policy is FAIL)", path);
    if (st == GP_OK && o->self_loops == GP_LOOP_FAIL && igraph_has_loop(&ig, &has) == IGRAPH_SUCCESS && has)
        st = GP_ERR(GP_E_PARSE, "%s: the graph has self-loops (self-loop policy is FAIL)", path);
    if (st == GP_OK) st = gp_graph_from_igraph(out, &ig, flags);
    igraph_destroy(&ig);
    return st;
}

gp_status gp_graph_read_format(gp_graph **out, const char *path, gp_graph_format format,
                               const gp_edgelist_options *opt)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_graph_read_format: NULL argument");
    *out = NULL;
    gp_edgelist_options o = opt ? *opt : (gp_edgelist_options){0};
    if (format == GP_FORMAT_AUTO) format = format_from_name(path);
    switch (format) {
    case GP_FORMAT_EDGELIST: return gp_graph_read_edgelist(out, NULL, path, &o);
    case GP_FORMAT_MTX: return gp_graph_read_mtx(out, path);
    case GP_FORMAT_MAT: return gp_graph_read_mat(out, path, &o);
    case GP_FORMAT_GRAPHML:
    case GP_FORMAT_GML:
    case GP_FORMAT_PAJEK:
    case GP_FORMAT_NCOL:
    case GP_FORMAT_LGL: return read_igraph(out, path, format, &o);
    default: break;
    }
    return GP_ERR(GP_E_INVALID, "gp_graph_read_format: unknown format %d", (int)format);
}
