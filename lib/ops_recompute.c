/*
 * Row maps recomputed in backward (gradient checkpointing for row-wise sub-networks).
 *
 * A row map computes Y = f(in) one chunk of rows at a time, Y[k0, k0 + len) = f(in, k0, len)
 * (f: any ops, typically an MLP of sliced or gathered rows of `in`), and returns either Y
 * (rows x cols) or its rows summed into num_out rows, out[scatter[k]] += Y[k] (serially in k,
 * the bits of gp_scatter_add_rows). f's temporaries are the big ones (several rows x width
 * tensors and their gradients); they never reach the caller's tape:
 *
 *   forward   each chunk runs on a scratch tape that does not record; its rows are copied or
 *             scattered into the output, the only tensor left on the caller's tape;
 *   backward  each chunk runs again on the scratch tape, recording, and the output's gradient
 *             (its rows, or for a scatter the gathered rows dOut[scatter[k]]) is
 *             back-propagated through it: f's parameters accumulate their gradients directly,
 *             and `in` receives its gradient through a stand-in leaf that shares its values
 *             (all of them, or the chunk's rows) and its gradient buffer.
 *
 * Dropout inside f replays: the given rng streams are saved before every chunk in the forward,
 * restored for the chunk's recomputation, and put back afterwards. Cost: one more forward of f.
 * With recompute off, f runs once on all rows on the caller's tape (recorded and kept, as
 * without a row map); on a tape that does not record the chunked forward is always used, which
 * bounds the temporaries (inference on large graphs). Used by GPN (graphpool/gpn.c) for its
 * edge scorer and DeepSets.
 *
 * skip_zero_grad: a row whose output gradient is zero adds nothing to any gradient (f is
 * row-wise), so the backward recomputes and back-propagates only the chunk's other rows: f gets
 * their indices, and dropout on the scratch tape takes those rows of the masks it drew for the
 * whole chunk (gp_i_tape_set_row_subset), the forward's masks. GPN's edge scores get a gradient
 * only on edges inside clusters (~56 % on PROTEINS): a DD epoch 4.2-4.4 s -> 3.7 s.
 */
#include <string.h>

#include "internal.h"

enum { MAX_RNGS = 16 };

typedef struct rowmap_saved {
    gp_i_rowmap spec;
    bool training;
    gp_rng *before; /* per chunk, spec.num_rngs states */
} rowmap_saved;

static int64_t chunk_len(const gp_i_rowmap *s, int64_t k0)
{
    return s->rows - k0 < s->chunk ? s->rows - k0 : s->chunk;
}

/* The stand-in for `in` that f sees for rows [k0, k0 + len): values shared, gradient into grad
 * (NULL: none). */
static gp_tensor stand_in(const gp_i_rowmap *s, int64_t k0, int64_t len, float *grad)
{
    gp_tensor leaf = *s->in;
    if (s->slice) {
        leaf.data = s->in->data + k0 * s->in->cols;
        leaf.rows = len;
    }
    leaf.grad = grad ? (s->slice ? grad + k0 * s->in->cols : grad) : NULL;
    leaf.flags = grad ? GP_TENSOR_REQUIRES_GRAD : 0;
    leaf.node = -1;
    return leaf;
}

static void save_rngs(gp_rng *dst, gp_rng *const *rngs, int count)
{
    for (int r = 0; r < count; r++) dst[r] = *rngs[r];
}

static void load_rngs(gp_rng *const *rngs, const gp_rng *src, int count)
{
    for (int r = 0; r < count; r++) *rngs[r] = src[r];
}

static bool part_ok(gp_tape *t, const gp_i_rowmap *s, const gp_tensor *part, int64_t len)
{
    return GP_TAPE_CHECK(t, part->rows == len && part->cols == s->cols,
                         "row map: a chunk of %lld rows gave %lld x %lld, expected %lld columns",
                         (long long)len, (long long)part->rows, (long long)part->cols,
                         (long long)s->cols);
}

static gp_status rowmap_backward(gp_tape *t, gp_node *n)
{
    const rowmap_saved *sv = n->p[0];
    const gp_i_rowmap *s = &sv->spec;
    const float *dout = n->out->grad;
    float *gin = NULL;
    if (gp_i_needs_grad(s->in) && !(gin = gp_i_grad(t, s->in))) return GP_E_NOMEM;
    gp_rng after[MAX_RNGS];
    save_rngs(after, s->rngs, s->num_rngs);
    gp_tape *sc = s->scratch;
    gp_tape_set_training(sc, sv->training);
    gp_tape_set_recording(sc, true);
    gp_status st = GP_OK;
    for (int64_t k0 = 0, c = 0; st == GP_OK && k0 < s->rows; k0 += s->chunk, c++) {
        int64_t len = chunk_len(s, k0);
        gp_tape_reset(sc);
        load_rngs(s->rngs, sv->before + c * s->num_rngs, s->num_rngs);
        int64_t *rows = NULL, *local = NULL, count = len; /* the chunk's rows to recompute */
        if (s->skip_zero_grad) {
            rows = gp_tape_alloc(sc, (size_t)len * sizeof *rows);
            local = gp_tape_alloc(sc, (size_t)len * sizeof *local);
            if (!rows || !local) {
                st = GP_E_NOMEM;
                break;
            }
            count = 0;
            for (int64_t r = 0; r < len; r++)
                if (!gp_i_all_zero(dout + (s->scatter ? s->scatter[k0 + r] : k0 + r) * s->cols, s->cols))
                    rows[count] = k0 + r, local[count] = r, count++;
            if (count == 0) continue; /* no gradient reaches these rows: nothing to add */
            if (count == len) rows = NULL; /* all of them: the plain recomputation */
            else gp_i_tape_set_row_subset(sc, local, count, len);
        }
        gp_tensor leaf = stand_in(s, k0, len, gin);
        gp_tensor *part = s->f(s->ctx, sc, &leaf, k0, count, rows);
        gp_i_tape_set_row_subset(sc, NULL, 0, 0);
        if (part && !part_ok(sc, s, part, count)) part = NULL;
        const float *seed = s->scatter || rows ? NULL : dout + k0 * s->cols;
        if (part && !seed) { /* the gradient rows of the recomputed rows, gathered */
            float *g = gp_tape_alloc(sc, gp_i_mul_size((size_t)(count * s->cols), sizeof(float)));
            if (g)
                for (int64_t i = 0; i < count; i++) {
                    int64_t k = rows ? rows[i] : k0 + i;
                    memcpy(g + i * s->cols, dout + (s->scatter ? s->scatter[k] : k) * s->cols,
                           (size_t)s->cols * sizeof(float));
                }
            seed = g;
        }
        st = part && seed ? gp_tape_backward_from(sc, part, seed) : gp_tape_status(sc);
    }
    gp_tape_reset(sc); /* on failure the scratch tape's message is the last error */
    load_rngs(s->rngs, after, s->num_rngs);
    return st;
}

static const gp_op_info rowmap_op = {"rowmap_recomputed", rowmap_backward};

/* Recompute off: f on all rows at once on t itself, kept (what the caller would write without
 * a row map). */
static gp_tensor *rowmap_kept(gp_tape *t, const gp_i_rowmap *s)
{
    gp_tensor *y = s->f(s->ctx, t, s->in, 0, s->rows, NULL);
    if (!y || !part_ok(t, s, y, s->rows)) return NULL;
    return s->scatter ? gp_scatter_add_rows(t, y, s->scatter, s->num_out) : y;
}

gp_tensor *gp_i_rowmap_run(gp_tape *t, const gp_i_rowmap *spec)
{
    gp_tensor *in[2] = {spec ? spec->in : NULL, spec ? spec->param : NULL};
    if (!gp_i_begin(t, 1, in)) return NULL;
    if (!GP_TAPE_CHECK(t, spec->f && spec->chunk >= 1 && spec->rows >= 0 && spec->cols >= 0 &&
                              spec->num_rngs >= 0 && spec->num_rngs <= MAX_RNGS &&
                              (!spec->slice || spec->in->rows == spec->rows) &&
                              !(spec->slice && spec->skip_zero_grad) &&
                              (!spec->recompute || spec->scratch),
                       "row map: bad arguments"))
        return NULL;
    if (!spec->recompute && gp_tape_recording(t)) return rowmap_kept(t, spec);
    int64_t nchunks = (spec->rows + spec->chunk - 1) / spec->chunk;
    rowmap_saved *sv = gp_tape_alloc(t, sizeof *sv);
    gp_rng *before = gp_tape_alloc(t, (size_t)(nchunks * spec->num_rngs > 0 ? nchunks * spec->num_rngs : 1) * sizeof *before);
    gp_tensor *out = spec->scatter ? gp_tape_tensor(t, spec->num_out, spec->cols)
                                   : gp_tape_tensor(t, spec->rows, spec->cols);
    if (!sv || !before || !out) return NULL;
    *sv = (rowmap_saved){*spec, gp_tape_training(t), before};
    const gp_i_rowmap *s = &sv->spec;
    gp_tape *sc = s->scratch;
    gp_tape_set_training(sc, sv->training);
    gp_tape_set_recording(sc, false);
    for (int64_t k0 = 0, c = 0; k0 < s->rows; k0 += s->chunk, c++) {
        int64_t len = chunk_len(s, k0);
        gp_tape_reset(sc);
        save_rngs(before + c * s->num_rngs, s->rngs, s->num_rngs);
        gp_tensor leaf = stand_in(s, k0, len, NULL);
        gp_tensor *part = s->f(s->ctx, sc, &leaf, k0, len, NULL);
        if (!part) {
            gp_status cst = gp_tape_status(sc);
            GP_TAPE_FAIL(t, cst, "%s", gp_last_error_message());
            gp_tape_reset(sc);
            return NULL;
        }
        if (!part_ok(t, s, part, len)) {
            gp_tape_reset(sc);
            return NULL;
        }
        if (!s->scatter) {
            memcpy(out->data + k0 * s->cols, part->data, (size_t)(len * s->cols) * sizeof(float));
        } else {
            for (int64_t r = 0; r < len; r++) {
                int64_t o = s->scatter[k0 + r];
                if (o < 0 || o >= s->num_out) {
                    GP_TAPE_FAIL(t, GP_E_RANGE, "row map: scatter index %lld at %lld outside [0, %lld)",
                                 (long long)o, (long long)(k0 + r), (long long)s->num_out);
                    gp_tape_reset(sc);
                    return NULL;
                }
                float *d = out->data + o * s->cols;
                const float *p = part->data + r * s->cols;
                for (int64_t j = 0; j < s->cols; j++) d[j] += p[j];
            }
        }
    }
    gp_tape_reset(sc);
    gp_node *n = gp_i_record(t, &rowmap_op, out, 2, in);
    if (n) n->p[0] = sv;
    return gp_i_done(t, out);
}
