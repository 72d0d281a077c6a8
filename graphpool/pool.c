/*
 * The pooling interface (pool.h): spec parsing ("NAME:key=value,key=value"), option getters,
 * the registry of operator classes, the "pool" module wrapper and the dispatchers.
 *
 * A pooling operator is a gp_module whose impl is a pool_impl: the class vtable, the class's
 * own state, the output widths and the spec it was made from. Parameters and children added by
 * the class's init belong to the module, so optimisers and checkpoints see them as for any
 * layer. Nothing here has a backward: operators are compositions of tape ops.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* ---- registry ---- */

/* Built-in classes. A new operator adds one line here (and its extern in pool_internal.h). */
static const gp_pool_class *const builtin_classes[] = {
    &gp_i_pool_sum,     &gp_i_pool_mean, &gp_i_pool_max,  &gp_i_pool_min,
    &gp_i_pool_meanmax, &gp_i_pool_maxmean, &gp_i_pool_gnp, &gp_i_pool_topk,
    &gp_i_pool_sagpool,
    &gp_i_pool_rp, &gp_i_pool_klgnn, &gp_i_pool_rplocal,
    &gp_i_pool_gpn,
};
enum { NUM_BUILTIN = (int)(sizeof builtin_classes / sizeof builtin_classes[0]), MAX_REGISTERED = 64 };
static const gp_pool_class *registered_classes[MAX_REGISTERED];
static int num_registered;

const gp_pool_class *gp_pool_class_at(int i)
{
    if (i < 0) return NULL;
    if (i < NUM_BUILTIN) return builtin_classes[i];
    i -= NUM_BUILTIN;
    return i < num_registered ? registered_classes[i] : NULL;
}

const gp_pool_class *gp_pool_class_find(const char *name)
{
    if (!name) return NULL;
    for (int i = 0; gp_pool_class_at(i); i++)
        if (strcmp(gp_pool_class_at(i)->name, name) == 0) return gp_pool_class_at(i);
    return NULL;
}

gp_status gp_pool_register(const gp_pool_class *cls)
{
    if (!cls || !cls->name || !*cls->name || !cls->init)
        return GP_ERR(GP_E_INVALID, "gp_pool_register: NULL class, name or init");
    if (gp_pool_class_find(cls->name))
        return GP_ERR(GP_E_INVALID, "gp_pool_register: the name \"%s\" is taken", cls->name);
    if (((cls->caps & GP_POOL_READOUT) && !cls->readout) ||
        ((cls->caps & GP_POOL_COARSEN) && !cls->coarsen) ||
        ((cls->caps & GP_POOL_EXPAND) && !cls->expand))
        return GP_ERR(GP_E_INVALID, "gp_pool_register: %s: a capability without its function",
                      cls->name);
    if (num_registered == MAX_REGISTERED)
        return GP_ERR(GP_E_NOMEM, "gp_pool_register: registry full (%d classes)", MAX_REGISTERED);
    registered_classes[num_registered++] = cls;
    return GP_OK;
}

/* ---- options ---- */

static const char *find_value(const gp_pool_options *o, const char *key)
{
    if (!o) return NULL;
    for (int i = 0; i < o->count; i++)
        if (strcmp(o->keys[i], key) == 0) {
            o->used[i] = true;
            return o->values[i];
        }
    return NULL;
}

gp_status gp_pool_opt_double(const gp_pool_options *o, const char *op, const char *key, double def,
                             double lo, double hi, double *out)
{
    *out = def;
    const char *v = find_value(o, key);
    if (!v) return GP_OK;
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !(d >= lo && d <= hi))
        return GP_ERR(GP_E_INVALID, "%s: option %s=%s: expected a number in [%g, %g]", op, key, v,
                      lo, hi);
    *out = d;
    return GP_OK;
}

gp_status gp_pool_opt_int(const gp_pool_options *o, const char *op, const char *key, int64_t def,
                          int64_t lo, int64_t hi, int64_t *out)
{
    *out = def;
    const char *v = find_value(o, key);
    if (!v) return GP_OK;
    char *end = NULL;
    errno = 0;
    long long d = strtoll(v, &end, 10);
    if (!*v || *end || errno || d < lo || d > hi)
        return GP_ERR(GP_E_INVALID, "%s: option %s=%s: expected an integer in [%lld, %lld]", op,
                      key, v, (long long)lo, (long long)hi);
    *out = d;
    return GP_OK;
}

gp_status gp_pool_opt_string(const gp_pool_options *o, const char *op, const char *key,
                             const char *def, const char **out)
{
    (void)op;
    const char *v = find_value(o, key);
    *out = v ? v : def;
    return GP_OK;
}

gp_status gp_pool_opt_bool(const gp_pool_options *o, const char *op, const char *key, bool def,
                           bool *out)
{
    *out = def;
    const char *v = find_value(o, key);
    if (!v) return GP_OK;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = false;
    else
        return GP_ERR(GP_E_INVALID, "%s: option %s=%s: expected true or false", op, key, v);
    return GP_OK;
}

static void options_free(gp_pool_options *o)
{
    for (int i = 0; i < o->count; i++) {
        gp_i_free(o->keys[i]);
        gp_i_free(o->values[i]);
    }
    gp_i_free(o->keys);
    gp_i_free(o->values);
    gp_i_free(o->used);
    memset(o, 0, sizeof *o);
}

static char *dup_range(const char *s, size_t n)
{
    char *d = gp_i_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* "NAME[:k=v[,k=v]...]" (',' or ':' between options) -> name (gp_i_free) and options. */
static gp_status parse_spec(char **name, gp_pool_options *o, const char *spec)
{
    memset(o, 0, sizeof *o);
    *name = NULL;
    size_t len = strcspn(spec, ":");
    if (len == 0) return GP_ERR(GP_E_INVALID, "pooling spec \"%s\": empty operator name", spec);
    *name = dup_range(spec, len);
    if (!*name) return GP_ERR(GP_E_NOMEM, "pooling spec: out of memory");
    const char *p = spec + len;
    int cap = 0;
    for (const char *c = p; *c; c++) cap += (*c == ':' || *c == ',');
    if (cap > 0) {
        o->keys = gp_i_calloc((size_t)cap, sizeof(char *));
        o->values = gp_i_calloc((size_t)cap, sizeof(char *));
        o->used = gp_i_calloc((size_t)cap, sizeof(bool));
        if (!o->keys || !o->values || !o->used) {
            options_free(o);
            return GP_ERR(GP_E_NOMEM, "pooling spec: out of memory");
        }
    }
    while (*p) {
        p++; /* the separator */
        size_t n = strcspn(p, ":,");
        const char *eq = memchr(p, '=', n);
        if (n == 0 || !eq || eq == p) {
            options_free(o);
            return GP_ERR(GP_E_INVALID,
                          "pooling spec \"%s\": expected key=value options after the name", spec);
        }
        int i = o->count;
        o->keys[i] = dup_range(p, (size_t)(eq - p));
        o->values[i] = dup_range(eq + 1, n - (size_t)(eq - p) - 1);
        o->count++;
        if (!o->keys[i] || !o->values[i]) {
            options_free(o);
            return GP_ERR(GP_E_NOMEM, "pooling spec: out of memory");
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(o->keys[j], o->keys[i])) {
                gp_status st = GP_ERR(GP_E_INVALID, "pooling spec \"%s\": option %s given twice",
                                      spec, o->keys[i]);
                options_free(o);
                return st;
            }
        p += n;
    }
    return GP_OK;
}

/* ---- the module wrapper ---- */

typedef struct pool_impl {
    const gp_pool_class *cls;
    void *state;
    int64_t readout_dim, node_dim;
    char *spec;
} pool_impl;

static gp_tensor *pool_module_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    gp_pool_batch b = gp_pool_batch_of(g, x);
    return gp_pool_readout(m, t, &b);
}

static void pool_module_destroy(gp_module *m)
{
    pool_impl *p = m->impl;
    if (!p) return;
    if (p->state) {
        if (p->cls && p->cls->destroy) p->cls->destroy(p->state);
        else gp_i_free(p->state);
    }
    gp_i_free(p->spec);
    p->state = NULL;
    p->spec = NULL;
}

static const gp_module_ops pool_module_ops = {"pool", pool_module_forward, NULL, pool_module_destroy};

bool gp_pool_is(const gp_module *m) { return m && m->ops == &pool_module_ops; }

const gp_pool_class *gp_pool_class_of(const gp_module *m)
{
    return gp_pool_is(m) ? ((const pool_impl *)m->impl)->cls : NULL;
}

unsigned gp_pool_caps(const gp_module *m) { return gp_pool_is(m) ? gp_pool_class_of(m)->caps : 0u; }

int64_t gp_pool_readout_dim(const gp_module *m)
{
    return gp_pool_is(m) ? ((const pool_impl *)m->impl)->readout_dim : 0;
}

int64_t gp_pool_node_dim(const gp_module *m)
{
    return gp_pool_is(m) ? ((const pool_impl *)m->impl)->node_dim : 0;
}

const char *gp_pool_spec(const gp_module *m)
{
    return gp_pool_is(m) ? ((const pool_impl *)m->impl)->spec : NULL;
}

static gp_status unknown_name(const char *name)
{
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; gp_pool_class_at(i) && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 gp_pool_class_at(i)->name);
    return GP_ERR(GP_E_INVALID, "unknown pooling operator \"%s\" (known: %s)", name, list);
}

gp_status gp_pool_new(gp_module **out, const char *spec, int64_t in_dim, gp_rng *rng)
{
    if (!out || !spec || !rng) return GP_ERR(GP_E_INVALID, "gp_pool_new: NULL argument");
    *out = NULL;
    if (in_dim < 1) return GP_ERR(GP_E_INVALID, "gp_pool_new: %s: in_dim %lld < 1", spec, (long long)in_dim);
    char *name = NULL;
    gp_pool_options opt;
    gp_module *m = NULL;
    gp_status st = parse_spec(&name, &opt, spec);
    if (st != GP_OK) {
        gp_i_free(name);
        return st;
    }
    const gp_pool_class *cls = gp_pool_class_find(name);
    if (!cls) {
        st = unknown_name(name);
        goto fail;
    }
    GP_TRY(gp_module_alloc(&m, &pool_module_ops, in_dim, 0, sizeof(pool_impl), rng));
    pool_impl *p = m->impl;
    p->cls = cls;
    p->spec = dup_range(spec, strlen(spec));
    if (!p->spec) {
        st = GP_ERR(GP_E_NOMEM, "gp_pool_new: out of memory");
        goto fail;
    }
    GP_TRY(cls->init(m, &p->state, &opt, rng, &p->readout_dim, &p->node_dim));
    for (int i = 0; i < opt.count; i++)
        if (!opt.used[i]) {
            st = GP_ERR(GP_E_INVALID, "%s: unknown option \"%s\" (%s)", name, opt.keys[i],
                        cls->summary ? cls->summary : "no options");
            goto fail;
        }
    m->out_dim = p->readout_dim > 0 ? p->readout_dim : p->node_dim;
    *out = m;
    m = NULL;
fail:
    gp_module_free(&m);
    options_free(&opt);
    gp_i_free(name);
    return st;
}

/* ---- batches ---- */

gp_pool_batch gp_pool_batch_of(gp_graph *graph, gp_tensor *x)
{
    gp_pool_batch b;
    memset(&b, 0, sizeof b);
    b.graph = graph;
    b.x = x;
    return b;
}

void gp_pool_batch_release(gp_pool_batch *b)
{
    if (!b) return;
    if (b->owns_graph) gp_graph_free(&b->graph);
    memset(b, 0, sizeof *b);
}

int64_t gp_pool_batch_samples(const gp_pool_batch *b)
{
    if (!b || !b->graph) return 0;
    return b->group_ptr ? b->num_groups : b->graph->num_graphs;
}

bool gp_i_pool_check_batch(gp_tape *t, const char *op, const gp_pool_batch *in, int64_t width)
{
    if (!in || !in->graph || !in->x) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: batch without graph or features", op);
        return false;
    }
    const gp_graph *g = in->graph;
    if (!GP_TAPE_CHECK(t, in->x->rows == g->adj.rows, "%s: %lld feature rows for %lld nodes", op,
                       (long long)in->x->rows, (long long)g->adj.rows))
        return false;
    if (width > 0 && !GP_TAPE_CHECK(t, in->x->cols == width, "%s: features are %lld wide, expected %lld",
                                    op, (long long)in->x->cols, (long long)width))
        return false;
    if (!g->graph_ptr || g->num_graphs < 1) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: graph without batch offsets", op);
        return false;
    }
    if (in->group_ptr) {
        const int64_t *gp = in->group_ptr;
        bool ok = in->num_groups >= 1 && gp[0] == 0 && gp[in->num_groups] == g->num_graphs;
        for (int64_t s = 0; ok && s < in->num_groups; s++) ok = gp[s + 1] >= gp[s];
        if (!ok) {
            GP_TAPE_FAIL(t, GP_E_INVALID, "%s: group offsets do not cover the %lld graphs", op,
                         (long long)g->num_graphs);
            return false;
        }
    }
    return true;
}

gp_tensor *gp_i_pool_group_mean(gp_tape *t, const gp_pool_batch *in, gp_tensor *per_graph)
{
    if (!in->group_ptr) return per_graph;
    return gp_segment_mean(t, per_graph, in->group_ptr, in->num_groups);
}

/* ---- dispatch ---- */

static pool_impl *checked_impl(gp_module *m, gp_tape *t, unsigned cap, const char *what)
{
    if (!t) return NULL;
    if (!gp_pool_is(m)) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gp_pool_%s: not a pooling module", what);
        return NULL;
    }
    pool_impl *p = m->impl;
    if (!(p->cls->caps & cap)) {
        GP_TAPE_FAIL(t, GP_E_UNSUPPORTED, "%s: no %s operation", p->cls->name, what);
        return NULL;
    }
    return p;
}

gp_tensor *gp_pool_readout(gp_module *m, gp_tape *t, const gp_pool_batch *in)
{
    if (!t || gp_tape_status(t) != GP_OK) return NULL;
    pool_impl *p = checked_impl(m, t, GP_POOL_READOUT, "readout");
    if (!p || !gp_i_pool_check_batch(t, p->cls->name, in, m->in_dim)) return NULL;
    return p->cls->readout(m, p->state, t, in);
}

static gp_status transform(gp_module *m, gp_tape *t, const gp_pool_batch *in, gp_pool_batch *out,
                           unsigned cap, const char *what)
{
    if (out) memset(out, 0, sizeof *out);
    if (!t) return GP_ERR(GP_E_INVALID, "gp_pool_%s: NULL tape", what);
    if (gp_tape_status(t) != GP_OK) return gp_tape_status(t);
    if (!out) return GP_TAPE_FAIL(t, GP_E_INVALID, "gp_pool_%s: NULL output", what);
    pool_impl *p = checked_impl(m, t, cap, what);
    if (!p || !gp_i_pool_check_batch(t, p->cls->name, in, m->in_dim)) return gp_tape_status(t);
    gp_pool_batch explicit_in;
    if (gp_i_graph_copies(in->graph)) { /* shared copies: operators read the explicit form */
        const gp_graph *e = gp_i_graph_explicit_tape(t, p->cls->name, in->graph);
        if (!e) return gp_tape_status(t);
        explicit_in = *in;
        explicit_in.graph = (gp_graph *)e; /* owned by in->graph's cache */
        in = &explicit_in;
    }
    gp_status st = cap == GP_POOL_COARSEN ? p->cls->coarsen(m, p->state, t, in, out)
                                          : p->cls->expand(m, p->state, t, in, out);
    if (st == GP_OK) st = gp_tape_status(t);
    if (st != GP_OK) {
        gp_pool_batch_release(out);
        if (gp_tape_status(t) == GP_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", gp_last_error_message());
            GP_TAPE_FAIL(t, st, "%s", why);
        }
    }
    return st;
}

gp_status gp_pool_coarsen(gp_module *m, gp_tape *t, const gp_pool_batch *in, gp_pool_batch *out)
{
    return transform(m, t, in, out, GP_POOL_COARSEN, "coarsen");
}

gp_status gp_pool_expand(gp_module *m, gp_tape *t, const gp_pool_batch *in, gp_pool_batch *out)
{
    return transform(m, t, in, out, GP_POOL_EXPAND, "expand");
}
