/*
 * The module interface (allocation, ownership, parameter enumeration, forward dispatch),
 * activations, and the layer stack:
 *   h_0 = X;  h_{l+1} = [act(norm(.))] layer_l(dropout(h_l))  [+ h_l if residual and same width]
 *   output h_L, or with jumping knowledge (Xu et al. 2018, "Representation Learning on Graphs
 *   with Jumping Knowledge Networks") the concatenation [X | h_1 | ... | h_L].
 * Gradients come from the ops used (dropout, norms, activations, add, concat): nothing here
 * has its own backward.
 */
#include <stdio.h>
#include <string.h>

#include <graphpool/module.h>

#include "layer_common.h"

/* ---- allocation and ownership ---- */

gp_status gp_module_alloc(gp_module **out, const gp_module_ops *ops, int64_t in_dim,
                          int64_t out_dim, size_t impl_size, gp_rng *rng)
{
    if (!out || !ops || !ops->forward || !rng)
        return GP_ERR(GP_E_INVALID, "gp_module_alloc: NULL argument");
    *out = NULL;
    if (in_dim < 0 || out_dim < 0)
        return GP_ERR(GP_E_INVALID, "%s: negative size (in %lld, out %lld)", ops->kind,
                      (long long)in_dim, (long long)out_dim);
    gp_module *m = gp_i_calloc(1, sizeof *m);
    if (!m) return GP_ERR(GP_E_NOMEM, "%s: out of memory", ops->kind);
    if (impl_size > 0 && !(m->impl = gp_i_calloc(1, impl_size))) {
        gp_i_free(m);
        return GP_ERR(GP_E_NOMEM, "%s: out of memory", ops->kind);
    }
    m->ops = ops;
    m->in_dim = in_dim;
    m->out_dim = out_dim;
    gp_rng_split(&m->rng, rng);
    *out = m;
    return GP_OK;
}

void gp_module_free(gp_module **m)
{
    if (!m || !*m) return;
    gp_module *p = *m;
    if (p->ops && p->ops->destroy) p->ops->destroy(p);
    for (int i = 0; i < p->num_children; i++) gp_module_free(&p->children[i]);
    for (int i = 0; i < p->num_params; i++) gp_tensor_free(&p->params[i]);
    for (int i = 0; i < p->num_buffers; i++) gp_tensor_free(&p->buffers[i]);
    gp_i_free(p->children);
    gp_i_free(p->params);
    gp_i_free(p->buffers);
    gp_i_free(p->impl);
    gp_i_free(p);
    *m = NULL;
}

/* Append item to a growable pointer array (capacity doubles at powers of two). */
static gp_status push_ptr(void ***arr, int *count, void *item)
{
    int n = *count;
    if ((n & (n - 1)) == 0) { /* n is 0 or a power of two: grow */
        void **grown = gp_i_realloc(*arr, (size_t)(n ? 2 * n : 1) * sizeof(void *));
        if (!grown) return GP_ERR(GP_E_NOMEM, "module: out of memory");
        *arr = grown;
    }
    (*arr)[n] = item;
    *count = n + 1;
    return GP_OK;
}

static gp_status add_tensor(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                            int64_t cols, bool trainable)
{
    if (!m || !name || !*name) return GP_ERR(GP_E_INVALID, "module: NULL module or empty tensor name");
    gp_tensor *p = NULL;
    gp_status st = trainable ? gp_param_new(&p, name, rows, cols) : gp_tensor_new(&p, rows, cols);
    if (st != GP_OK) return st;
    if (!trainable) snprintf(p->name, sizeof p->name, "%s", name);
    st = trainable ? push_ptr((void ***)&m->params, &m->num_params, p)
                   : push_ptr((void ***)&m->buffers, &m->num_buffers, p);
    if (st != GP_OK) {
        gp_tensor_free(&p);
        return st;
    }
    if (out) *out = p;
    return GP_OK;
}

gp_status gp_module_add_param(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                              int64_t cols)
{
    return add_tensor(m, out, name, rows, cols, true);
}

gp_status gp_module_add_buffer(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                               int64_t cols)
{
    return add_tensor(m, out, name, rows, cols, false);
}

gp_status gp_module_add_child(gp_module *m, gp_module **child)
{
    if (!m || !child || !*child) return GP_ERR(GP_E_INVALID, "gp_module_add_child: NULL argument");
    gp_status st = push_ptr((void ***)&m->children, &m->num_children, *child);
    if (st == GP_OK) *child = NULL;
    return st;
}

/* ---- forward dispatch ---- */

gp_tensor *gp_module_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    if (!gp_i_begin(t, 1, &x)) return NULL;
    if (!m) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "module forward: module is NULL");
        return NULL;
    }
    if (!GP_TAPE_CHECK(t, x->cols == m->in_dim, "%s: input has %lld columns, the layer takes %lld",
                       m->ops->kind, (long long)x->cols, (long long)m->in_dim))
        return NULL;
    return m->ops->forward(m, t, g, x);
}

gp_tensor *gp_module_forward_relu(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    if (m && gp_i_begin(t, 1, &x) && x->cols == m->in_dim) {
        gp_tensor *y = NULL;
        if (gp_i_gcn_forward_relu(m, t, g, x, &y) || gp_i_graphconv_forward_relu(m, t, g, x, &y)) return y;
    }
    return gp_relu(t, gp_module_forward(m, t, g, x)); /* and every error message */
}

void gp_i_module_rngs(gp_module *m, gp_rng **out, int cap, int *n)
{
    if (!m) return;
    if (out && *n < cap) out[*n] = &m->rng;
    (*n)++;
    for (int c = 0; c < m->num_children; c++) gp_i_module_rngs(m->children[c], out, cap, n);
}

bool gp_module_accepts_csr(const gp_module *m)
{
    return m && m->ops->forward_csr;
}

gp_tensor *gp_module_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x,
                                 float dropout)
{
    if (!gp_i_begin(t, 0, NULL)) return NULL;
    if (!m || !x) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "module forward: module or sparse input is NULL");
        return NULL;
    }
    if (!m->ops->forward_csr) {
        GP_TAPE_FAIL(t, GP_E_UNSUPPORTED, "%s: this layer does not take sparse input", m->ops->kind);
        return NULL;
    }
    if (!GP_TAPE_CHECK(t, x->cols == m->in_dim, "%s: input has %lld columns, the layer takes %lld",
                       m->ops->kind, (long long)x->cols, (long long)m->in_dim))
        return NULL;
    return m->ops->forward_csr(m, t, g, x, dropout);
}

/* ---- parameter enumeration ---- */

static gp_status list_push(gp_param_list *l, gp_tensor *x, const char *prefix)
{
    size_t len = strlen(prefix) + strlen(x->name) + 1;
    char *name = gp_i_malloc(len);
    if (!name) return GP_ERR(GP_E_NOMEM, "gp_module_params: out of memory");
    snprintf(name, len, "%s%s", prefix, x->name);
    int n = l->count;
    if ((n & (n - 1)) == 0) {
        size_t cap = (size_t)(n ? 2 * n : 1);
        gp_tensor **tg = gp_i_realloc(l->tensors, cap * sizeof *tg);
        if (tg) l->tensors = tg;
        char **ng = tg ? gp_i_realloc(l->names, cap * sizeof *ng) : NULL;
        if (ng) l->names = ng;
        if (!tg || !ng) {
            gp_i_free(name);
            return GP_ERR(GP_E_NOMEM, "gp_module_params: out of memory");
        }
    }
    l->tensors[n] = x;
    l->names[n] = name;
    l->count = n + 1;
    return GP_OK;
}

static gp_status collect(gp_param_list *l, const gp_module *m, const char *prefix, bool buffers)
{
    gp_status st;
    int count = buffers ? m->num_buffers : m->num_params;
    for (int i = 0; i < count; i++)
        if ((st = list_push(l, buffers ? m->buffers[i] : m->params[i], prefix)) != GP_OK) return st;
    for (int c = 0; c < m->num_children; c++) {
        char sub[256];
        int w = snprintf(sub, sizeof sub, "%s%d.", prefix, c);
        if (w < 0 || (size_t)w >= sizeof sub)
            return GP_ERR(GP_E_INVALID, "gp_module_params: module tree too deep for names");
        if ((st = collect(l, m->children[c], sub, buffers)) != GP_OK) return st;
    }
    return GP_OK;
}

gp_status gp_module_params(gp_param_list *out, const gp_module *m, bool include_buffers)
{
    if (!out || !m) return GP_ERR(GP_E_INVALID, "gp_module_params: NULL argument");
    *out = (gp_param_list){0};
    gp_status st = collect(out, m, "", false);
    if (st == GP_OK && include_buffers) st = collect(out, m, "", true);
    /* quadratic, but trees have tens of tensors */
    for (int i = 0; st == GP_OK && i < out->count; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(out->names[i], out->names[j]) == 0) {
                st = GP_ERR(GP_E_INVALID, "gp_module_params: two tensors are named '%s'", out->names[i]);
                break;
            }
    if (st != GP_OK) gp_param_list_free(out);
    return st;
}

void gp_param_list_free(gp_param_list *list)
{
    if (!list) return;
    for (int i = 0; i < list->count; i++) gp_i_free(list->names[i]);
    gp_i_free(list->names);
    gp_i_free(list->tensors);
    *list = (gp_param_list){0};
}

int64_t gp_module_num_weights(const gp_module *m)
{
    if (!m) return 0;
    int64_t total = 0;
    for (int i = 0; i < m->num_params; i++) total += gp_tensor_size(m->params[i]);
    for (int c = 0; c < m->num_children; c++) total += gp_module_num_weights(m->children[c]);
    return total;
}

/* ---- activations ---- */

gp_tensor *gp_activate(gp_tape *t, gp_tensor *x, gp_activation act)
{
    switch (act) {
    case GP_ACT_NONE: return x;
    case GP_ACT_RELU: return gp_relu(t, x);
    case GP_ACT_ELU: return gp_elu(t, x, 1.0f);
    case GP_ACT_LEAKY_RELU: return gp_leaky_relu(t, x, 0.01f);
    case GP_ACT_TANH: return gp_tanh(t, x);
    case GP_ACT_SIGMOID: return gp_sigmoid(t, x);
    }
    GP_TAPE_FAIL(t, GP_E_INVALID, "activation: unknown kind %d", (int)act);
    return NULL;
}

gp_status gp_activation_parse(gp_activation *out, const char *name)
{
    static const char *const names[] = {"none", "relu", "elu", "leaky_relu", "tanh", "sigmoid"};
    if (!out || !name) return GP_ERR(GP_E_INVALID, "gp_activation_parse: NULL argument");
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (gp_activation)i;
            return GP_OK;
        }
    return GP_ERR(GP_E_INVALID, "unknown activation '%s' (none, relu, elu, leaky_relu, tanh, sigmoid)", name);
}

/* ---- stack ---- */

typedef struct stack_norm {
    gp_tensor *gamma, *beta, *running_mean, *running_var; /* NULL: no norm after this layer */
} stack_norm;

typedef struct stack_impl {
    gp_stack_options opt;
    stack_norm *norm; /* one per layer (capacity follows children) */
    int norm_cap;
} stack_impl;

/* z0 (not NULL): the first layer's output, given (gp_i_stack_forward_after_first) */
static gp_tensor *stack_run(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, const gp_csr *xs,
                           gp_tensor *z0)
{
    stack_impl *s = m->impl;
    int L = m->num_children;
    if (L == 0) {
        GP_TAPE_FAIL(t, GP_E_STATE, "stack: no layers");
        return NULL;
    }
    if (z0 && (s->opt.residual || s->opt.jk_concat || s->opt.input_dropout > 0.0f)) {
        GP_TAPE_FAIL(t, GP_E_UNSUPPORTED,
                     "stack: the first layer's output alone does not give a stack with a residual, "
                     "jumping knowledge or input dropout");
        return NULL;
    }
    if (xs && s->opt.jk_concat && !s->opt.jk_skip_input) {
        GP_TAPE_FAIL(t, GP_E_UNSUPPORTED,
                     "stack: sparse input cannot be concatenated (set jk_skip_input)");
        return NULL;
    }
    gp_tensor **parts = NULL;
    int np = 0;
    if (s->opt.jk_concat) {
        parts = gp_tape_alloc(t, (size_t)(L + 1) * sizeof *parts);
        if (!parts) return NULL;
        if (!s->opt.jk_skip_input) parts[np++] = x;
    }
    /* ReLU followed by the next layer's dropout runs as one op (gp_relu_dropout: the same rng
     * draw and forward bits, one pass and one tensor fewer) when nothing else reads the ReLU's
     * output (no residual, no jumping knowledge) */
    bool fuse = s->opt.act == GP_ACT_RELU && !s->opt.residual && !s->opt.jk_concat;
    bool dropped = false; /* h already went through the dropout of the next layer */
    gp_tensor *h = x;
    for (int l = 0; l < L; l++) {
        gp_module *layer = m->children[l];
        gp_tensor *z;
        if (l == 0 && z0) {
            z = z0;
        } else if (l == 0 && xs) {
            z = gp_module_forward_csr(layer, t, g, xs, s->opt.input_dropout);
        } else {
            float p = l == 0 ? s->opt.input_dropout : s->opt.dropout;
            z = gp_module_forward(layer, t, g, dropped ? h : gp_dropout(t, h, p, &m->rng));
        }
        dropped = false;
        if (l < L - 1 || s->opt.act_last) {
            stack_norm *nm = &s->norm[l];
            if (nm->gamma && s->opt.norm == GP_NORM_BATCH)
                z = gp_batch_norm(t, z, nm->gamma, nm->beta, nm->running_mean, nm->running_var,
                                  0.1f, 1e-5f);
            else if (nm->gamma)
                z = gp_layer_norm(t, z, nm->gamma, nm->beta, 1e-5f);
            if (fuse && l < L - 1) {
                z = gp_relu_dropout(t, z, s->opt.dropout, &m->rng);
                dropped = true;
            } else {
                z = gp_activate(t, z, s->opt.act);
            }
        }
        if (s->opt.residual && !(l == 0 && xs) && layer->in_dim == layer->out_dim)
            z = gp_add(t, z, h);
        h = z;
        if (parts) parts[np++] = h;
    }
    if (parts) return gp_concat_cols(t, np, parts);
    return h;
}

static gp_tensor *stack_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    return stack_run(m, t, g, x, NULL, NULL);
}

static void stack_destroy(gp_module *m);

gp_tensor *gp_i_stack_forward_after_first(gp_module *stack, gp_tape *t, gp_graph *g, gp_tensor *z0)
{
    if (!t) return NULL;
    if (!gp_i_begin(t, 1, &z0)) return NULL;
    if (!stack || stack->ops->destroy != stack_destroy) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "stack forward after the first layer: not a stack");
        return NULL;
    }
    return stack_run(stack, t, g, NULL, NULL, z0);
}

static gp_tensor *stack_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x,
                                    float dropout)
{
    stack_impl *s = m->impl;
    if (!gp_module_accepts_csr(m->children[0])) {
        GP_TAPE_FAIL(t, GP_E_UNSUPPORTED, "stack: first layer (%s) does not take sparse input",
                     m->children[0]->ops->kind);
        return NULL;
    }
    /* the caller's dropout adds to the stack's own input dropout: keep the larger */
    float saved = s->opt.input_dropout;
    if (dropout > saved) s->opt.input_dropout = dropout;
    gp_tensor *out = stack_run(m, t, g, NULL, x, NULL);
    s->opt.input_dropout = saved;
    return out;
}

static void stack_destroy(gp_module *m)
{
    stack_impl *s = m->impl;
    if (s) gp_i_free(s->norm);
}

static const gp_module_ops stack_ops = {"stack", stack_forward, NULL, stack_destroy};
/* Same, accepting sparse input once the first layer does. */
static const gp_module_ops stack_csr_ops = {"stack", stack_forward, stack_forward_csr, stack_destroy};

gp_status gp_stack_new(gp_module **out, const gp_stack_options *opt, gp_rng *rng)
{
    static const gp_stack_options defaults = {.act = GP_ACT_RELU};
    const gp_stack_options *o = opt ? opt : &defaults;
    if (!(o->dropout >= 0.0f && o->dropout < 1.0f && o->input_dropout >= 0.0f &&
          o->input_dropout < 1.0f))
        return GP_ERR(GP_E_INVALID, "gp_stack_new: dropout must be in [0, 1) (got %g and %g)",
                      (double)o->dropout, (double)o->input_dropout);
    if (o->norm != GP_NORM_NONE && o->norm != GP_NORM_BATCH && o->norm != GP_NORM_LAYER)
        return GP_ERR(GP_E_INVALID, "gp_stack_new: unknown norm kind %d", (int)o->norm);
    gp_status st = gp_module_alloc(out, &stack_ops, 0, 0, sizeof(stack_impl), rng);
    if (st != GP_OK) return st;
    ((stack_impl *)(*out)->impl)->opt = *o;
    return GP_OK;
}

int gp_stack_size(const gp_module *stack)
{
    return stack && stack->ops->destroy == stack_destroy ? stack->num_children : 0;
}

/* Norm parameters for layer l of the given width. */
static gp_status add_norm(gp_module *m, int l, int64_t width)
{
    stack_impl *s = m->impl;
    stack_norm *nm = &s->norm[l];
    char name[48];
    gp_status st;
    snprintf(name, sizeof name, "norm%d.weight", l);
    if ((st = gp_module_add_param(m, &nm->gamma, name, 1, width)) != GP_OK) return st;
    gp_tensor_fill(nm->gamma, 1.0f);
    snprintf(name, sizeof name, "norm%d.bias", l);
    if ((st = gp_module_add_param(m, &nm->beta, name, 1, width)) != GP_OK) return st;
    if (s->opt.norm == GP_NORM_BATCH) {
        snprintf(name, sizeof name, "norm%d.running_mean", l);
        if ((st = gp_module_add_buffer(m, &nm->running_mean, name, 1, width)) != GP_OK) return st;
        snprintf(name, sizeof name, "norm%d.running_var", l);
        if ((st = gp_module_add_buffer(m, &nm->running_var, name, 1, width)) != GP_OK) return st;
        gp_tensor_fill(nm->running_var, 1.0f);
    }
    return GP_OK;
}

gp_status gp_stack_add(gp_module *stack, gp_module **layer)
{
    if (!stack || !layer || !*layer || stack->ops->destroy != stack_destroy)
        return GP_ERR(GP_E_INVALID, "gp_stack_add: NULL argument or not a stack");
    stack_impl *s = stack->impl;
    int L = stack->num_children;
    gp_module *last = L > 0 ? stack->children[L - 1] : NULL;
    if (last && (*layer)->in_dim != last->out_dim)
        return GP_ERR(GP_E_SHAPE, "gp_stack_add: layer %d (%s) takes %lld columns, layer %d gives %lld",
                      L, (*layer)->ops->kind, (long long)(*layer)->in_dim, L - 1,
                      (long long)last->out_dim);
    if (L + 1 > s->norm_cap) {
        int cap = s->norm_cap ? 2 * s->norm_cap : 4;
        stack_norm *grown = gp_i_realloc(s->norm, (size_t)cap * sizeof *grown);
        if (!grown) return GP_ERR(GP_E_NOMEM, "gp_stack_add: out of memory");
        memset(grown + s->norm_cap, 0, (size_t)(cap - s->norm_cap) * sizeof *grown);
        s->norm = grown;
        s->norm_cap = cap;
    }
    gp_status st;
    /* the previous last layer is now a hidden layer: it gets its norm */
    if (s->opt.norm != GP_NORM_NONE && last && !s->norm[L - 1].gamma)
        if ((st = add_norm(stack, L - 1, last->out_dim)) != GP_OK) return st;
    if (s->opt.norm != GP_NORM_NONE && s->opt.act_last)
        if ((st = add_norm(stack, L, (*layer)->out_dim)) != GP_OK) return st;
    int64_t in = L == 0 ? (*layer)->in_dim : stack->in_dim;
    int64_t out = s->opt.jk_concat ? stack->out_dim + (*layer)->out_dim : (*layer)->out_dim;
    if (s->opt.jk_concat && L == 0 && !s->opt.jk_skip_input) out += in;
    bool csr = L == 0 ? gp_module_accepts_csr(*layer) : stack->ops == &stack_csr_ops;
    if ((st = gp_module_add_child(stack, layer)) != GP_OK) return st;
    stack->in_dim = in;
    stack->out_dim = out;
    stack->ops = csr ? &stack_csr_ops : &stack_ops;
    return GP_OK;
}

/* ---- helpers shared by the layers (layer_common.h) ---- */

gp_tensor *gp_i_input_matmul(gp_tape *t, gp_module *m, gp_tensor *x, const gp_csr *xs,
                             float dropout, gp_tensor *w)
{
    if (xs) return gp_sparse_matmul(t, xs, w, dropout, &m->rng);
    return gp_matmul(t, x, w, false, false);
}

bool gp_i_check_layer_graph(gp_tape *t, const char *kind, const gp_graph *g, int64_t rows)
{
    if (!g) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: graph is NULL", kind);
        return false;
    }
    return GP_TAPE_CHECK(t, g->adj.rows == rows && g->adj.cols == rows,
                         "%s: input has %lld rows, the graph has %lld nodes", kind,
                         (long long)rows, (long long)g->adj.rows);
}

/* The CSR helpers below need explicit arrays: an implicit graph's adj (ptr NULL, graph.h) is
 * refused with a message instead of read as a graph without edges. */
static bool check_explicit(gp_tape *t, const char *what, const gp_csr *adj)
{
    if (adj && adj->ptr && (adj->nnz == 0 || adj->idx)) return true;
    GP_TAPE_FAIL(t, GP_E_INVALID, "%s: the adjacency has no explicit entries (implicit graph of shared "
                 "copies: use its explicit form)", what);
    return false;
}

gp_tensor *gp_i_inverse_counts(gp_tape *t, const gp_csr *adj)
{
    if (!check_explicit(t, "inverse counts", adj)) return NULL;
    gp_tensor *c = gp_i_out(t, adj->rows, 1);
    if (!c) return NULL;
    for (int64_t i = 0; i < adj->rows; i++) {
        int64_t k = adj->ptr[i + 1] - adj->ptr[i];
        c->data[i] = k > 0 ? 1.0f / (float)k : 0.0f;
    }
    return c;
}

gp_tensor *gp_i_graph_inverse_counts(gp_tape *t, const gp_graph *g)
{
    const gp_i_copies *cp = gp_i_graph_copies(g);
    if (!cp) return gp_i_inverse_counts(t, &g->adj);
    gp_tensor *c = gp_i_out(t, g->adj.rows, 1); /* implicit: a copy's counts are its base graph's */
    if (!c) return NULL;
    for (int64_t o = 0; o < g->num_graphs; o++) {
        gp_csr v = gp_i_pack_view(&cp->base, cp->base_of[o]);
        float *co = c->data + g->graph_ptr[o];
        for (int64_t i = 0; i < v.rows; i++) {
            int64_t k = v.ptr[i + 1] - v.ptr[i];
            co[i] = k > 0 ? 1.0f / (float)k : 0.0f;
        }
    }
    return c;
}

const int64_t *gp_i_entry_rows(gp_tape *t, const gp_csr *adj)
{
    if (!check_explicit(t, "entry rows", adj)) return NULL;
    int64_t *rows = gp_tape_alloc(t, gp_i_mul_size((size_t)(adj->nnz > 0 ? adj->nnz : 1), sizeof(int64_t)));
    if (!rows) return NULL;
    for (int64_t i = 0; i < adj->rows; i++)
        for (int64_t k = adj->ptr[i]; k < adj->ptr[i + 1]; k++) rows[k] = i;
    return rows;
}

gp_tensor *gp_i_aggregate_max(gp_tape *t, const gp_csr *adj, gp_tensor *x, bool weighted)
{
    if (!check_explicit(t, "max aggregation", adj)) return NULL;
    gp_tensor *msg = gp_gather_rows(t, x, adj->idx, adj->nnz);
    if (weighted && adj->val && msg) {
        gp_tensor *w = gp_tape_constant(t, adj->val, adj->nnz, 1);
        msg = gp_mul(t, msg, w);
    }
    return gp_segment_max(t, msg, adj->ptr, adj->rows);
}

gp_tensor *gp_i_graph_aggregate_max(gp_tape *t, const gp_graph *g, gp_tensor *x, bool weighted)
{
    const gp_graph *e = gp_i_graph_explicit_tape(t, "max aggregation", g);
    return e ? gp_i_aggregate_max(t, &e->adj, x, weighted) : NULL;
}

gp_status gp_i_add_weight(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                          int64_t cols, gp_rng *rng)
{
    gp_tensor *w = NULL;
    gp_status st = gp_module_add_param(m, &w, name, rows, cols);
    if (st != GP_OK) return st;
    gp_init_glorot_uniform(w, rng, 1.0f);
    if (out) *out = w;
    return GP_OK;
}
