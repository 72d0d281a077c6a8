/*
 * Inverted dropout (Srivastava et al. 2014):
 *   keep_i ~ Bernoulli(1 - p),  y_i = keep_i * x_i / (1 - p);   dx_i = keep_i * dy_i / (1 - p).
 * Identity (the input itself is returned) when the tape is not training or p == 0, so the
 * expected value of y equals x in both modes and eval needs no rescaling.
 *
 * The mask (gp_i_dropout_mask below): one 64-bit draw from rng seeds the whole mask, which is
 * cut into blocks of GP_I_DROPOUT_BLOCK elements in row-major order; block b runs four
 * xoshiro256** generators whose 16 state words are the splitmix64 outputs 16 b .. 16 b + 15
 * of the stream seeded by that draw. Step k of a block takes one output u_l of each generator
 * l = 0..3; its low 32 bits decide element 8 k + 2 l of the block, its high 32 bits element
 * 8 k + 2 l + 1: kept when the 32-bit value is >= ceil(p 2^32) (probability 1 - p, exact to
 * 2^-32). Blocks are independent, so they are drawn in parallel, and four generators per block
 * leave the serial xoshiro dependency chain behind (one generator per element, the previous
 * scheme, spent ~1.3 ns per element; GPN's PROTEINS epoch draws ~29 million): the mask is a
 * function of the seed and the element index only, the same for every thread count. It is
 * kept in tape memory (one byte per element) for the backward pass.
 *
 * Fused ReLU + dropout (one pass each way instead of two, no intermediate tensor):
 *   y_i = keep_i * max(x_i, 0) / (1 - p),   dx_i = [x_i > 0] keep_i dy_i / (1 - p),
 * with the mask gp_dropout(gp_relu(x)) draws from the same rng state, and the same forward
 * bits. The saved byte is keep_i [x_i > 0] and dx_i = dy_i (byte scale): where x_i <= 0 this
 * gives dy_i 0 (-0 for a negative dy_i, NaN for a non-finite one) where gp_relu's backward
 * writes +0; every other gradient has the bits of the unfused pair.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Elements kept iff their 32-bit value is >= this (p in [0, 1): at most 2^32, keeps none). */
static uint64_t keep_threshold32(float p)
{
    return (uint64_t)ceil((double)p * 4294967296.0);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The 16 state words of block b: splitmix64 outputs 16 b .. 16 b + 15 (generator l takes
 * words 4 l .. 4 l + 3 as its s[0..3]). */
static void block_state(uint64_t st[4][4], uint64_t seed, int64_t block)
{
    uint64_t x = seed + (uint64_t)block * 16u * 0x9e3779b97f4a7c15ull;
    for (int l = 0; l < 4; l++)
        for (int w = 0; w < 4; w++) st[w][l] = splitmix64(&x);
}

/* keep[0..len) of block `block` (len <= GP_I_DROPOUT_BLOCK), four generators side by side. */
static void mask_block_scalar(unsigned char *keep, int64_t len, uint64_t seed, int64_t block,
                              uint64_t threshold)
{
    uint64_t s[4][4];
    block_state(s, seed, block);
    for (int64_t base = 0; base < len; base += 8) {
        unsigned char m[8];
        for (int l = 0; l < 4; l++) { /* xoshiro256** step of generator l */
            uint64_t r = s[1][l] * 5, u = ((r << 7) | (r >> 57)) * 9;
            uint64_t t = s[1][l] << 17;
            s[2][l] ^= s[0][l];
            s[3][l] ^= s[1][l];
            s[1][l] ^= s[2][l];
            s[0][l] ^= s[3][l];
            s[2][l] ^= t;
            s[3][l] = (s[3][l] << 45) | (s[3][l] >> 19);
            m[2 * l] = (u & 0xffffffffu) >= threshold;
            m[2 * l + 1] = (u >> 32) >= threshold;
        }
        int64_t n = len - base < 8 ? len - base : 8;
        for (int64_t q = 0; q < n; q++) keep[base + q] = m[q];
    }
}

#ifdef GP_I_VEC_WIDE
typedef uint64_t v4u __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));

/* The same generators, one per 64-bit lane of AVX2 vectors (x * 5 and x * 9 as shifts and
 * adds: AVX2 has no 64-bit multiply). A step's eight decisions are packed into one 64-bit
 * word, byte 2 l from lane l's low half, byte 2 l + 1 from its high half. */
__attribute__((target("avx2"))) static void mask_block_avx2(unsigned char *keep, int64_t len,
                                                           uint64_t seed, int64_t block,
                                                           uint64_t threshold)
{
    uint64_t st[4][4];
    block_state(st, seed, block);
    v4u s0, s1, s2, s3;
    memcpy(&s0, st[0], sizeof s0);
    memcpy(&s1, st[1], sizeof s1);
    memcpy(&s2, st[2], sizeof s2);
    memcpy(&s3, st[3], sizeof s3);
    const v4i thr = (v4i){0} + (int64_t)threshold; /* <= 2^32: signed compares are exact */
    const v4u low = (v4u){0} + 0xffffffffull, one = (v4u){0} + 1u;
    const v4u lane_shift = {0, 16, 32, 48};
    for (int64_t base = 0; base < len; base += 8) {
        v4u r = (s1 << 2) + s1;
        v4u rr = (r << 7) | (r >> 57);
        v4u u = (rr << 3) + rr;
        v4u t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 45) | (s3 >> 19);
        v4u k_lo = (v4u)((v4i)(u & low) >= thr) & one;
        v4u k_hi = (v4u)((v4i)(u >> 32) >= thr) & one;
        v4u w = (k_lo | (k_hi << 8)) << lane_shift;
        uint64_t word = w[0] | w[1] | w[2] | w[3];
        if (len - base >= 8) memcpy(keep + base, &word, 8); /* little-endian: byte q = element q */
        else
            for (int64_t q = 0; q < len - base; q++) keep[base + q] = (unsigned char)(word >> (8 * q));
    }
}
#endif

typedef void (*mask_fn)(unsigned char *keep, int64_t len, uint64_t seed, int64_t block,
                        uint64_t threshold);

/* The AVX2 build where the processor has it (gp_i_simd_level; GP_SIMD=sse2 picks the scalar
 * one, so the tests compare the two: the same bits) */
static mask_fn pick_mask_kernel(void)
{
#ifdef GP_I_VEC_WIDE
    if (gp_i_simd_level() >= GP_SIMD_AVX2) return mask_block_avx2;
#endif
    return mask_block_scalar;
}

void gp_i_dropout_mask(unsigned char *keep, int64_t size, float p, uint64_t seed)
{
    uint64_t threshold = keep_threshold32(p);
    mask_fn kernel = pick_mask_kernel();
    int64_t blocks = (size + GP_I_DROPOUT_BLOCK - 1) / GP_I_DROPOUT_BLOCK;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(size >= GP_PAR_MIN_WORK,
    for (int64_t b = 0; b < blocks; b++) {
        int64_t lo = b * GP_I_DROPOUT_BLOCK;
        int64_t len = size - lo < GP_I_DROPOUT_BLOCK ? size - lo : GP_I_DROPOUT_BLOCK;
        kernel(keep + lo, len, seed, b, threshold);
    });
}

/* The elementwise passes, built for AVX-512, AVX2 and plain x86-64 (GP_I_CLONES; the same
 * bits). Against the plain build alone, GPN's PROTEINS epoch on 2 threads: paired differences
 * -1 to -14 ms, median -6 (docs/benchmarks.md, "Session 16"). */

/* y = x keep scale, or y += x keep scale (no branch: the mask is random) */
GP_I_CLONES static void masked_scale(float *restrict y, const float *restrict x,
                                   const unsigned char *restrict keep, float scale, int64_t n,
                                   bool accumulate)
{
    if (accumulate)
        for (int64_t i = 0; i < n; i++) y[i] += x[i] * ((float)keep[i] * scale);
    else
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * ((float)keep[i] * scale);
}

/* y = max(x, 0) keep scale (the bits of gp_dropout(gp_relu(x))); keep becomes keep [x > 0] */
GP_I_CLONES static void relu_masked_scale(float *restrict y, const float *restrict x,
                                        unsigned char *restrict keep, float scale, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float xi = x[i], r = xi > 0.0f ? xi : 0.0f;
        y[i] = r * ((float)keep[i] * scale);
        keep[i] = keep[i] & (unsigned char)(xi > 0.0f);
    }
}

static gp_status dropout_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    bool assign;
    float *ga = gp_i_grad_acc(t, a, &assign);
    if (!ga) return GP_E_NOMEM;
    const unsigned char *keep = n->p[0];
    const float *dy = n->out->grad;
    float scale = n->f[0];
    int64_t size = gp_tensor_size(a);
    int nt = gp_i_threads();
    GP_I_FOR_PARTS(size, size, lo, hi, masked_scale(ga + lo, dy + lo, keep + lo, scale, hi - lo, !assign););
    return GP_OK;
}

static const gp_op_info dropout_op = {"dropout", dropout_backward};
/* the same backward: keep already holds keep_i [x_i > 0] */
static const gp_op_info relu_dropout_op = {"relu_dropout", dropout_backward};

/* The checks shared by both ops; false (tape failed) on bad arguments. */
static bool check_dropout(gp_tape *t, const char *op, float p)
{
    if (!(p >= 0.0f && p < 1.0f)) { /* also rejects NaN */
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: probability %g is not in [0, 1)", op, (double)p);
        return false;
    }
    return true;
}

static gp_tensor *dropout(gp_tape *t, gp_tensor *a, float p, gp_rng *rng, bool relu)
{
    const char *name = relu ? "relu_dropout" : "dropout";
    if (!gp_i_begin(t, 1, &a) || !check_dropout(t, name, p)) return NULL;
    if (!gp_i_training(t) || p == 0.0f) return relu ? gp_relu(t, a) : gp_i_done(t, a);
    if (!rng) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: rng is NULL", name);
        return NULL;
    }
    int64_t size = gp_tensor_size(a);
    gp_tensor *out = gp_i_out(t, a->rows, a->cols);
    if (!out) return NULL;
    unsigned char *keep = gp_tape_alloc(t, (size_t)(size > 0 ? size : 1));
    if (!keep) return NULL;
    float scale = 1.0f / (1.0f - p);
    uint64_t seed = gp_i_xoshiro_next(rng->s);
    int64_t count, full;
    const int64_t *rows = gp_i_tape_row_subset(t, &count, &full);
    if (!rows) {
        gp_i_dropout_mask(keep, size, p, seed);
    } else { /* rows of the masks of a full_rows-row tensor (a row map's backward) */
        if (!GP_TAPE_CHECK(t, a->rows == count, "%s: %lld rows inside a row subset of %lld", name,
                           (long long)a->rows, (long long)count))
            return NULL;
        int64_t cols = a->cols;
        unsigned char *all = gp_tape_alloc(t, gp_i_mul_size((size_t)(full > 0 ? full : 1), (size_t)(cols > 0 ? cols : 1)));
        if (!all) return NULL;
        gp_i_dropout_mask(all, full * cols, p, seed);
        for (int64_t i = 0; i < count; i++) memcpy(keep + i * cols, all + rows[i] * cols, (size_t)cols);
    }
    const float *x = a->data;
    float *y = out->data;
    int nt = gp_i_threads();
    GP_I_FOR_PARTS(size, size, lo, hi,
        if (relu) relu_masked_scale(y + lo, x + lo, keep + lo, scale, hi - lo);
        else masked_scale(y + lo, x + lo, keep + lo, scale, hi - lo, false););
    gp_node *n = gp_i_record(t, relu ? &relu_dropout_op : &dropout_op, out, 1, &a);
    if (n) {
        n->f[0] = scale;
        n->p[0] = keep;
    }
    return gp_i_done(t, out);
}

gp_tensor *gp_dropout(gp_tape *t, gp_tensor *a, float p, gp_rng *rng)
{
    return dropout(t, a, p, rng, false);
}

gp_tensor *gp_relu_dropout(gp_tape *t, gp_tensor *a, float p, gp_rng *rng)
{
    return dropout(t, a, p, rng, true);
}
