/*
 * The tape: an ordered list of recorded op nodes; backward walks it in reverse and each
 * node's backward adds into its inputs' gradients (reverse-mode AD, as in ggml's
 * ggml_compute_backward). Temporaries and their gradients live in the arena.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct gp_tape {
    gp_arena *arena;
    gp_node *nodes; /* malloc'd, kept across resets */
    size_t count;
    size_t capacity;
    bool training;
    bool recording;
    gp_status error;
};

gp_status gp_tape_new(gp_tape **out)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_tape_new: out is NULL");
    *out = NULL;
    gp_tape *t = gp_i_calloc(1, sizeof *t);
    if (!t) return GP_ERR(GP_E_NOMEM, "gp_tape_new: out of memory");
    gp_status st = gp_arena_new(&t->arena, 0);
    if (st != GP_OK) {
        gp_i_free(t);
        return st;
    }
    t->training = true;
    t->recording = true;
    *out = t;
    return GP_OK;
}

void gp_tape_free(gp_tape **tape)
{
    if (!tape || !*tape) return;
    gp_arena_free(&(*tape)->arena);
    gp_i_free((*tape)->nodes);
    gp_i_free(*tape);
    *tape = NULL;
}

void gp_tape_reset(gp_tape *t)
{
    gp_arena_reset(t->arena);
    t->count = 0;
    t->error = GP_OK;
}

void gp_tape_set_training(gp_tape *t, bool training) { t->training = training; }
bool gp_tape_training(const gp_tape *t) { return t->training; }
bool gp_i_training(const gp_tape *t) { return t->training; }
void gp_tape_set_recording(gp_tape *t, bool recording) { t->recording = recording; }
bool gp_tape_recording(const gp_tape *t) { return t->recording; }
gp_status gp_tape_status(const gp_tape *t) { return t->error; }
gp_arena *gp_tape_arena(gp_tape *t) { return t->arena; }
size_t gp_tape_size(const gp_tape *t) { return t->count; }

const char *gp_tape_node_name(const gp_tape *t, size_t i)
{
    return i < t->count ? t->nodes[i].op->name : NULL;
}

gp_status gp_i_tape_fail(gp_tape *t, gp_status st, const char *file, int line, const char *fmt,
                         ...)
{
    if (t->error != GP_OK) return st; /* first error wins, its message is kept */
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    gp_i_error(st, file, line, "%s", msg);
    t->error = st;
    return st;
}

void *gp_tape_alloc(gp_tape *t, size_t bytes)
{
    void *p = gp_arena_alloc(t->arena, bytes);
    if (!p && t->error == GP_OK) t->error = GP_E_NOMEM; /* message set by the arena */
    return p;
}

static gp_tensor *new_temp(gp_tape *t, int64_t rows, int64_t cols, bool zero)
{
    if (rows < 0 || cols < 0) {
        GP_TAPE_FAIL(t, GP_E_SHAPE, "negative tensor shape %lld x %lld", (long long)rows,
                     (long long)cols);
        return NULL;
    }
    gp_tensor *x = gp_tape_alloc(t, sizeof *x);
    if (!x) return NULL;
    size_t bytes = gp_i_mul_size(gp_i_mul_size((size_t)rows, (size_t)cols), sizeof(float));
    x->data = zero ? gp_arena_calloc(t->arena, bytes) : gp_arena_alloc(t->arena, bytes);
    if (!x->data) {
        if (t->error == GP_OK) t->error = GP_E_NOMEM;
        return NULL;
    }
    x->grad = NULL;
    x->rows = rows;
    x->cols = cols;
    x->flags = 0;
    x->node = -1;
    x->name[0] = '\0';
    return x;
}

gp_tensor *gp_tape_tensor(gp_tape *t, int64_t rows, int64_t cols)
{
    if (!t || t->error != GP_OK) return NULL;
    return new_temp(t, rows, cols, true);
}

gp_tensor *gp_tape_constant(gp_tape *t, const float *data, int64_t rows, int64_t cols)
{
    if (!t || t->error != GP_OK) return NULL;
    gp_tensor *x = new_temp(t, rows, cols, false);
    if (x) memcpy(x->data, data, (size_t)(rows * cols) * sizeof(float));
    return x;
}

bool gp_i_begin(gp_tape *t, int nin, gp_tensor *const *in)
{
    if (!t) {
        GP_ERR(GP_E_INVALID, "op called with a NULL tape");
        return false;
    }
    if (t->error != GP_OK) return false;
    for (int i = 0; i < nin; i++)
        if (!in[i]) {
            GP_TAPE_FAIL(t, GP_E_INVALID, "op input %d is NULL", i);
            return false;
        }
    return true;
}

gp_tensor *gp_i_out(gp_tape *t, int64_t rows, int64_t cols) { return new_temp(t, rows, cols, false); }
gp_tensor *gp_i_out_zero(gp_tape *t, int64_t rows, int64_t cols) { return new_temp(t, rows, cols, true); }

gp_node *gp_i_record(gp_tape *t, const gp_op_info *op, gp_tensor *out, int nin,
                     gp_tensor *const *in)
{
    if (!t->recording || t->error != GP_OK) return NULL;
    bool any = false;
    for (int i = 0; i < nin; i++) any |= gp_i_needs_grad(in[i]);
    if (!any) return NULL;
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? 2 * t->capacity : 256;
        gp_node *nodes = gp_i_realloc(t->nodes, gp_i_mul_size(cap, sizeof *nodes));
        if (!nodes) {
            GP_TAPE_FAIL(t, GP_E_NOMEM, "tape: out of memory for %zu nodes", cap);
            return NULL;
        }
        t->nodes = nodes;
        t->capacity = cap;
    }
    gp_node *n = &t->nodes[t->count];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->out = out;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    out->flags |= GP_TENSOR_REQUIRES_GRAD;
    out->node = (int32_t)t->count;
    t->count++;
    return n;
}

gp_tensor *gp_i_done(gp_tape *t, gp_tensor *out) { return t->error == GP_OK ? out : NULL; }

float *gp_i_grad(gp_tape *t, gp_tensor *x)
{
    if (!x->grad) {
        size_t bytes = gp_i_mul_size((size_t)gp_tensor_size(x), sizeof(float));
        x->grad = gp_arena_calloc(t->arena, bytes);
    }
    return x->grad;
}

float *gp_i_grad_acc(gp_tape *t, gp_tensor *x, bool *assign)
{
    *assign = false;
    if (!x->grad) {
        size_t bytes = gp_i_mul_size((size_t)gp_tensor_size(x), sizeof(float));
        x->grad = gp_arena_alloc(t->arena, bytes);
        *assign = x->grad != NULL;
    }
    return x->grad;
}

static gp_status run_backward(gp_tape *t, gp_tensor *out)
{
    if (out->node < 0) return GP_OK; /* nothing recorded: no parameter reached the output */
    for (size_t k = (size_t)out->node + 1; k-- > 0;) {
        gp_node *n = &t->nodes[k];
        if (!n->out->grad) continue; /* no gradient reached this node */
        gp_status st = n->op->backward(t, n);
        if (st != GP_OK) {
            if (st == GP_E_NOMEM) GP_ERR(st, "backward of %s: out of memory", n->op->name);
            t->error = st;
            return st;
        }
    }
    return GP_OK;
}

gp_status gp_tape_backward(gp_tape *t, gp_tensor *loss)
{
    if (!t) return GP_ERR(GP_E_INVALID, "gp_tape_backward: NULL tape");
    if (t->error != GP_OK) return t->error;
    if (!loss) return GP_TAPE_FAIL(t, GP_E_INVALID, "gp_tape_backward: NULL loss");
    if (loss->rows != 1 || loss->cols != 1)
        return GP_TAPE_FAIL(t, GP_E_SHAPE, "gp_tape_backward: loss is %lld x %lld, not 1 x 1",
                            (long long)loss->rows, (long long)loss->cols);
    float one = 1.0f;
    return gp_tape_backward_from(t, loss, &one);
}

gp_status gp_tape_backward_from(gp_tape *t, gp_tensor *out, const float *out_grad)
{
    if (!t) return GP_ERR(GP_E_INVALID, "gp_tape_backward_from: NULL tape");
    if (t->error != GP_OK) return t->error;
    if (!out || !out_grad) return GP_TAPE_FAIL(t, GP_E_INVALID, "gp_tape_backward_from: NULL argument");
    if (!gp_i_needs_grad(out)) return GP_OK;
    float *g = gp_i_grad(t, out);
    if (!g) return t->error = GP_ERR(GP_E_NOMEM, "backward: out of memory");
    int64_t n = gp_tensor_size(out);
    for (int64_t i = 0; i < n; i++) g[i] += out_grad[i];
    return run_backward(t, out);
}
