/*
 * The tape: an ordered list of recorded op nodes; backward walks it in reverse and each
 * node's backward adds into its inputs' gradients (reverse-mode AD, as in ggml's
 * ggml_compute_backward). Temporaries and their gradients live in the arena.
 *
 * Gradient buffers are reused within a backward pass: once node k's backward has run, the
 * gradient of its output is dead (every consumer of the output came later on the tape and has
 * already added into it), so its buffer goes to a free list from which gp_i_grad /
 * gp_i_grad_acc take buffers of the same size (or up to 1/4 larger) before growing the arena.
 * The peak of a backward pass is then the forward activations plus the gradients alive at one
 * time, not plus every gradient of the pass (DD, GPN preset: 399 MB of gradients allocated per
 * step, docs/benchmarks.md "Gradient buffers reused"). A buffer is reused only if the tape
 * allocated it for exactly that tensor's gradient: the tape keeps a map from the start of
 * each such buffer to its size. Ops that hand an output's gradient down without a copy
 * (x->grad = y->grad: add, sub, addmm's C) pass the buffer on with the pointer, so it is
 * released when x's own node has run; a buffer that an input shares at an offset, or that two
 * inputs share, is never reused (removed from the map). The output's grad pointer is cleared
 * once its node has run, whatever happens to the buffer: only parameters' and leaves'
 * gradients are meant to be read after backward (tape.h), and a second backward pass on the
 * same tape then starts from fresh intermediate gradients (it used to add onto the first's).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

typedef struct grad_buf {
    float *ptr;
    size_t bytes;
} grad_buf;

struct gp_tape {
    gp_arena *arena;
    gp_node *nodes; /* malloc'd, kept across resets */
    size_t count;
    size_t capacity;
    bool training;
    bool recording;
    gp_status error;
    grad_buf *owned; /* open-addressing map: start of a gradient buffer -> its size */
    size_t owned_cap, owned_count;
    grad_buf *spare; /* released gradient buffers */
    size_t spare_count, spare_cap;
    const int64_t *subset_rows; /* gp_i_tape_set_row_subset: dropout masks are these rows... */
    int64_t subset_count, subset_full; /* ...of the masks of a subset_full-row tensor */
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
    gp_i_free((*tape)->owned);
    gp_i_free((*tape)->spare);
    gp_i_free(*tape);
    *tape = NULL;
}

void gp_tape_reset(gp_tape *t)
{
    gp_arena_reset(t->arena);
    if (t->owned_count) memset(t->owned, 0, t->owned_cap * sizeof *t->owned);
    t->owned_count = 0;
    t->spare_count = 0;
    t->count = 0;
    t->error = GP_OK;
    gp_i_tape_set_row_subset(t, NULL, 0, 0);
}

void gp_tape_set_training(gp_tape *t, bool training) { t->training = training; }
bool gp_tape_training(const gp_tape *t) { return t->training; }
bool gp_i_training(const gp_tape *t) { return t->training; }
void gp_tape_set_recording(gp_tape *t, bool recording) { t->recording = recording; }

void gp_i_tape_set_row_subset(gp_tape *t, const int64_t *rows, int64_t count, int64_t full_rows)
{
    t->subset_rows = rows;
    t->subset_count = rows ? count : 0;
    t->subset_full = rows ? full_rows : 0;
}

const int64_t *gp_i_tape_row_subset(const gp_tape *t, int64_t *count, int64_t *full_rows)
{
    *count = t->subset_count;
    *full_rows = t->subset_full;
    return t->subset_rows;
}
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

void gp_i_tape_release_from(gp_tape *t, const void *p) { (void)gp_i_arena_release_from(t->arena, p); }

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

/* ---- gradient buffers: the ownership map and the free list ---- */

static size_t owned_slot(const gp_tape *t, const float *p)
{
    uint64_t h = (uint64_t)((uintptr_t)p >> 6) * 0x9e3779b97f4a7c15ull; /* arena blocks: 64-byte aligned */
    return (size_t)(h ^ (h >> 32)) & (t->owned_cap - 1);
}

/* The map entry of buffer p (NULL if the tape did not allocate p as a gradient). */
static grad_buf *owned_find(gp_tape *t, const float *p)
{
    if (!t->owned_cap || !p) return NULL;
    for (size_t i = owned_slot(t, p);; i = (i + 1) & (t->owned_cap - 1)) {
        if (t->owned[i].ptr == p) return &t->owned[i];
        if (!t->owned[i].ptr) return NULL;
    }
}

/* Remove an entry, re-inserting the run after it (linear probing without tombstones). */
static void owned_remove(gp_tape *t, grad_buf *e)
{
    size_t i = (size_t)(e - t->owned);
    t->owned[i].ptr = NULL;
    t->owned_count--;
    for (size_t j = (i + 1) & (t->owned_cap - 1); t->owned[j].ptr; j = (j + 1) & (t->owned_cap - 1)) {
        grad_buf b = t->owned[j];
        t->owned[j].ptr = NULL;
        size_t k = owned_slot(t, b.ptr);
        while (t->owned[k].ptr) k = (k + 1) & (t->owned_cap - 1);
        t->owned[k] = b;
    }
}

/* Record p (bytes) as a gradient buffer; false if the map cannot grow (p is then not reused). */
static bool owned_add(gp_tape *t, float *p, size_t bytes)
{
    if (2 * (t->owned_count + 1) > t->owned_cap) {
        size_t cap = t->owned_cap ? 2 * t->owned_cap : 256;
        grad_buf *old = t->owned, *tab = gp_i_calloc(cap, sizeof *tab);
        if (!tab) return false;
        size_t old_cap = t->owned_cap;
        t->owned = tab, t->owned_cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
            if (!old[i].ptr) continue;
            size_t k = owned_slot(t, old[i].ptr);
            while (tab[k].ptr) k = (k + 1) & (cap - 1);
            tab[k] = old[i];
        }
        gp_i_free(old);
    }
    size_t k = owned_slot(t, p);
    while (t->owned[k].ptr) k = (k + 1) & (t->owned_cap - 1);
    t->owned[k] = (grad_buf){p, bytes};
    t->owned_count++;
    return true;
}

/* A gradient buffer of at least `bytes`: a released one of that size (up to 1/4 larger), else
 * new arena memory. Not zeroed. */
static float *grad_take(gp_tape *t, size_t bytes)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < t->spare_count; i++) {
        size_t b = t->spare[i].bytes;
        if (b >= bytes && b - bytes <= bytes / 4 && (best == SIZE_MAX || b < t->spare[best].bytes)) {
            best = i;
            if (b == bytes) break;
        }
    }
    if (best != SIZE_MAX) {
        grad_buf b = t->spare[best];
        t->spare[best] = t->spare[--t->spare_count];
        (void)owned_add(t, b.ptr, b.bytes); /* if the map cannot grow: not reused again */
        return b.ptr;
    }
    float *p = gp_arena_alloc(t->arena, bytes > 0 ? bytes : 1);
    if (p) (void)owned_add(t, p, bytes); /* if the map cannot grow, p is simply never reused */
    return p;
}

/* After node n's backward: its output's gradient is dead. Clear the pointer, and release the
 * buffer unless an input now shares it. */
static void grad_release(gp_tape *t, gp_node *n)
{
    gp_tensor *y = n->out;
    grad_buf *e = owned_find(t, y->grad);
    y->grad = NULL;
    if (!e) return;
    const char *lo = (const char *)e->ptr, *hi = lo + e->bytes;
    int exact = 0, inside = 0;
    for (int i = 0; i < n->nin; i++) {
        gp_tensor *x = n->in[i];
        if (!x || !x->grad || x == y) continue;
        bool dup = false; /* the same tensor twice (x + x) counts once */
        for (int j = 0; j < i; j++) dup |= n->in[j] == x;
        if (dup) continue;
        const char *g = (const char *)x->grad;
        if (g == lo) exact++;
        else if (g > lo && g < hi) inside++;
    }
    if (exact == 1 && inside == 0) return; /* handed down: the input's node releases it */
    if (exact || inside) { /* shared: never reused */
        owned_remove(t, e);
        return;
    }
    if (t->spare_count == t->spare_cap) {
        size_t cap = t->spare_cap ? 2 * t->spare_cap : 64;
        grad_buf *sp = gp_i_realloc(t->spare, cap * sizeof *sp);
        if (!sp) return; /* not reused: harmless */
        t->spare = sp, t->spare_cap = cap;
    }
    t->spare[t->spare_count++] = *e;
    owned_remove(t, e);
}

float *gp_i_grad(gp_tape *t, gp_tensor *x)
{
    if (!x->grad) {
        size_t bytes = gp_i_mul_size((size_t)gp_tensor_size(x), sizeof(float));
        x->grad = grad_take(t, bytes);
        if (x->grad) memset(x->grad, 0, bytes);
    }
    return x->grad;
}

float *gp_i_grad_acc(gp_tape *t, gp_tensor *x, bool *assign)
{
    *assign = false;
    if (!x->grad) {
        size_t bytes = gp_i_mul_size((size_t)gp_tensor_size(x), sizeof(float));
        x->grad = grad_take(t, bytes);
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
        grad_release(t, n);
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
