/*
 * Internal helpers shared by the library's source files (not installed).
 *
 * Ops follow one pattern (see ops_matmul.c for the reference example):
 *
 *   static gp_status relu_backward(gp_tape *t, gp_node *n);
 *   static const gp_op_info relu_op = {"relu", relu_backward};
 *
 *   gp_tensor *gp_relu(gp_tape *t, gp_tensor *a) {
 *       if (!gp_i_begin(t, 1, &a)) return NULL;          // NULL input or earlier error
 *       gp_tensor *out = gp_i_out(t, a->rows, a->cols);  // uninitialised temporary
 *       if (!out) return NULL;
 *       ... compute out->data ...
 *       gp_node *n = gp_i_record(t, &relu_op, out, 1, &a); // NULL if nothing needs grad
 *       if (n) n->f[0] = ...;                             // save what backward needs
 *       return gp_i_done(t, out);
 *   }
 *
 * A backward adds into the gradients of the inputs that need one:
 *   if (gp_i_needs_grad(n->in[0])) { float *ga = gp_i_grad(t, n->in[0]); if (!ga) return
 *   GP_E_NOMEM; ... ga[i] += ...; }
 * n->out->grad holds the incoming gradient.
 *
 * Each op carries its own descriptor (name + backward) instead of a central X-macro table:
 * op files then never touch a shared list, and the node stores the descriptor pointer, so
 * dispatch is one indirect call.
 */
#ifndef GP_INTERNAL_H
#define GP_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <graphpool/graphpool.h>

/* ---- allocation through the pluggable allocator ---- */
void *gp_i_malloc(size_t size);
void *gp_i_calloc(size_t count, size_t size);
void *gp_i_realloc(void *p, size_t size);
void gp_i_free(void *p);
/* count * size with overflow check; SIZE_MAX on overflow (then malloc fails). */
size_t gp_i_mul_size(size_t count, size_t size);

/* ---- errors ---- */
/* Record "basename(file):line: message" as the last error and return st. */
gp_status gp_i_error(gp_status st, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define GP_ERR(st, ...) gp_i_error((st), __FILE__, __LINE__, __VA_ARGS__)

/* gp_link_split_read of a .mat path (lib/io_mat.c), and the parts' names (io_linksplit.c). */
struct gp_link_split;
gp_status gp_i_link_split_read_mat(struct gp_link_split **out, const char *path, int64_t num_nodes);
/* Any list of named tensors in the checkpoint format of gp_module_save (atomic write), and back:
 * load matches every name (same shape, each once, none missing or extra) before it writes any
 * value, so a failed load changes nothing (checkpoint.c). */
struct gp_param_list;
gp_status gp_i_tensors_save(const struct gp_param_list *l, const char *path);
gp_status gp_i_tensors_load(const struct gp_param_list *l, const char *path);

/* A training run's state between epochs (train_state.c has the file layout). The pointers are
 * the live run's: save reads them, load writes them only when the whole file checks out (the
 * fingerprint included), so load into a fresh optimiser (zero moments) before any training. */
struct gp_optim;
typedef struct gp_i_train_state {
    const struct gp_param_list *all; /* model tensors: the nparams trainable ones, then buffers */
    int nparams;                     /* their order is the optimiser's */
    struct gp_optim *opt;
    float *best;                     /* all's values at the best epoch, flat in all's order */
    int64_t *order;                  /* count sample indices in [0, count) */
    int64_t count;
    gp_rng **rngs;
    int nrngs;
    uint8_t fingerprint[32];         /* of the data, options and start: a state of another run is refused */
    int epoch, best_epoch;           /* completed epochs; 0 = none yet */
    int max_epoch;                   /* load refuses a state with more completed epochs */
    double best_val, val_auc, val_ap, test_auc, test_ap;
} gp_i_train_state;
gp_status gp_i_train_state_save(const gp_i_train_state *s, const char *path);
gp_status gp_i_train_state_load(gp_i_train_state *s, const char *path);
extern const char *const gp_i_link_part_name[6];
/* Evaluate a gp_status expression; on error jump to the function's fail: label with st set. */
#define GP_TRY(expr)                                                                           \
    do {                                                                                       \
        st = (expr);                                                                           \
        if (st != GP_OK) goto fail;                                                            \
    } while (0)

/* ---- sparse ---- */
/* CSR from triplets; duplicates are summed, or (keep_first) the earliest one is kept. The
 * result always has a value array. */
gp_status gp_i_csr_build(gp_csr **out, int64_t rows, int64_t cols, int64_t nnz,
                         const int64_t *row, const int64_t *col, const float *val,
                         bool keep_first);

/* Y = A X: gp_csr_spmm without reading Y first (no zero-fill needed). */
void gp_i_csr_spmm_set(float *y, const gp_csr *m, const float *vals, const float *x, int64_t d);

/*
 * Ask the kernel for transparent huge pages on the 2 MiB-aligned interior of a large buffer
 * (Linux MADV_HUGEPAGE; a no-op elsewhere; advice only). First-touch page faults (one per
 * 4 KiB page) are slow in virtual machines: the readers' arrays and the tape arena's blocks
 * use it (docs/benchmarks.md, "Edge-list reader").
 */
void gp_i_advise_huge(void *p, size_t n);

/* ---- graphs ---- */
/* Wrap a square CSR (*adj moved, set to NULL) as a single-graph batch with an empty cache. */
gp_status gp_i_graph_wrap(gp_graph **out, gp_csr **adj, bool symmetric);
/* Replace g's batch description by a copy of graph_ptr (num_graphs + 1 offsets). */
gp_status gp_i_graph_set_batch(gp_graph *g, int64_t num_graphs, const int64_t *graph_ptr);

/* ---- random numbers ---- */
/* One xoshiro256** step on a state held by the caller (gp_rng_u64 is this on rng->s): lets hot
 * loops keep the state in registers instead of calling through the PLT per draw. */
static inline uint64_t gp_i_xoshiro_next(uint64_t s[4])
{
    uint64_t r = s[1] * 5, result = ((r << 7) | (r >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Elementwise loops built for AVX-512, AVX2 and plain x86-64 (gcc picks one at load time);
 * each build does the same float operations, so all give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define GP_I_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef GP_I_CLONES
#define GP_I_CLONES
#endif

/* GNU C float vectors of the hand kernels' builds: 4 floats in every build; 8 and 16 in the
 * AVX2 and AVX-512 builds, which exist where GP_I_VEC_WIDE is defined (x86-64, GCC or Clang). */
typedef float v4f __attribute__((vector_size(16)));
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GP_I_VEC_WIDE 1
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
#endif

/* ---- vector width of the hand kernels (layer norm, SpMM, column sums, top-k's gate) ---- */
/* The widest vector build the processor has, capped by the environment: GP_SIMD=sse2|avx2|
 * avx512 (read at every call, so tests can switch builds between calls). Every build of a
 * kernel gives the same bits (tests/test_fused.c, tests/test_pool.c, bench_spmm --check). */
enum { GP_SIMD_SSE2 = 0, GP_SIMD_AVX2 = 1, GP_SIMD_AVX512 = 2 };
int gp_i_simd_level(void);

/* ---- threads ---- */
int gp_i_threads(void);
/* True inside an OpenMP parallel region (nested regions would run on one thread anyway). */
bool gp_i_in_parallel(void);
/* Run a loop in parallel only from this much work up (elements, or multiply-adds): below it,
 * waking a passive OpenMP worker (futex, tens of us in a VM) costs more than the loop. 65536
 * (was 262144; session 15, paired runs with two threads on an idle 2-vCPU EPYC): GPN PROTEINS
 * epoch -5 to -7 ms (its levels past the first are below 2048 rows), top-k PROTEINS -5 ms,
 * WalkPool USAir unchanged within its spread; 16384 gave no consistent further gain (paired
 * medians -3 and +1 ms) and costs more where a sleeping worker must be woken for each loop
 * (OMP_WAIT_POLICY=passive). */
#define GP_PAR_MIN_WORK 65536
/*
 * GP_I_PARALLEL_FOR(cond, for (...) { ... });
 * runs the for-statement with `#pragma omp parallel for schedule(static) num_threads(nt)` (an
 * `int nt` must be in scope) when nt > 1 and cond holds, and as a plain serial loop otherwise.
 * A region with a false `if` clause is not free: libgomp still builds a one-thread team, about
 * 1.7 us per call on a 2-vCPU VM, more than a whole op on small tensors (docs/benchmarks.md,
 * per-op overhead). The statement may not contain preprocessor directives.
 */
#define GP_I_PARALLEL_FOR(cond, ...)                                                   \
    do {                                                                               \
        if (nt > 1 && (cond)) {                                                        \
            _Pragma("omp parallel for schedule(static) num_threads(nt)") __VA_ARGS__   \
        } else {                                                                       \
            __VA_ARGS__                                                                \
        }                                                                              \
    } while (0)
/*
 * GP_I_FOR_PARTS(work, count, lo, hi, statements);
 * cuts [0, count) into nt equal parts [lo, hi) (int64_t variables the statements see) and runs
 * the statements once per part, in parallel, when nt > 1 and work >= GP_PAR_MIN_WORK; else once
 * over [0, count). For kernels that take a range (vector loops, one call per part). An `int nt`
 * must be in scope.
 */
#define GP_I_FOR_PARTS(work, count, lo, hi, ...)                                                  \
    do {                                                                                           \
        int64_t gp_parts_ = nt > 1 && (work) >= GP_PAR_MIN_WORK ? nt : 1, gp_count_ = (count);     \
        GP_I_PARALLEL_FOR(gp_parts_ > 1,                                                           \
        for (int64_t gp_p_ = 0; gp_p_ < gp_parts_; gp_p_++) {                                      \
            int64_t lo = gp_count_ * gp_p_ / gp_parts_, hi = gp_count_ * (gp_p_ + 1) / gp_parts_; \
            __VA_ARGS__                                                                            \
        });                                                                                        \
    } while (0)

/* ---- tape internals ---- */
typedef struct gp_node gp_node;
typedef gp_status (*gp_backward_fn)(gp_tape *t, gp_node *n);
typedef struct gp_op_info {
    const char *name;
    gp_backward_fn backward;
} gp_op_info;

#define GP_NODE_MAX_IN 4
struct gp_node {
    const gp_op_info *op;
    gp_tensor *out;
    gp_tensor *in[GP_NODE_MAX_IN];
    int nin;
    /* op-specific saved arguments */
    float f[4];
    int64_t i[4];
    const void *p[4]; /* borrowed pointers (indices, graphs, rng-drawn masks in the arena) */
};

/* False if t is NULL, the tape already failed, or an input is NULL (no new error then,
 * except for a NULL tape which is reported). */
bool gp_i_begin(gp_tape *t, int nin, gp_tensor *const *in);
/* Output temporary with uninitialised / zeroed data. NULL + sticky error on failure. */
gp_tensor *gp_i_out(gp_tape *t, int64_t rows, int64_t cols);
gp_tensor *gp_i_out_zero(gp_tape *t, int64_t rows, int64_t cols);
/* Record a node if recording is on and an input requires grad; marks out as requiring grad.
 * NULL if not recorded (or on allocation failure, which sets the sticky error). The pointer is
 * valid until the next record. */
gp_node *gp_i_record(gp_tape *t, const gp_op_info *op, gp_tensor *out, int nin,
                     gp_tensor *const *in);
/* Hand p and everything allocated after it back to the arena: for scratch memory that an op
 * allocates last and is done with before it returns (nothing may point into it afterwards).
 * No effect unless p lies in the arena's current block (false then). */
bool gp_i_arena_release_from(gp_arena *a, const void *p);
void gp_i_tape_release_from(gp_tape *t, const void *p);
/* The dropout streams of every module in m's tree, depth first (module.c): stored at out[*n]
 * while *n < cap (out may be NULL: count only), *n counting them all; a NULL m adds none. */
void gp_i_module_rngs(gp_module *m, gp_rng **out, int cap, int *n);
/* Y = A (X W) [+ X W_root] + b (w_root, bias may be NULL), then ReLU if relu, as one op that
 * keeps neither X W nor the aggregate (ops_propagate.c): GCN (A = its normalised graph) and
 * GraphConv with sum aggregation; the bits of the ops it replaces. */
gp_tensor *gp_i_graph_propagate(gp_tape *t, const gp_graph *g, gp_tensor *x, gp_tensor *w,
                                gp_tensor *w_root, gp_tensor *bias, bool relu);
/* y = c + b row by row (c: rows x cols, may be y itself; b: 1 x cols; either may be NULL: the
 * other alone; both NULL: nothing), in parallel when large (ops_matmul.c): gp_addmm's prefill. */
void gp_i_rows_plus_bias(float *y, const float *c, const float *b, int64_t rows, int64_t cols);
/* dst[j] = (assign) or += sign * sum_i src[i * cols + j] (float, rows in order: the serial
 * loop's bits); with threads each takes a range of columns (ops_elementwise.c). */
void gp_i_column_sums(float *dst, const float *src, int64_t rows, int64_t cols, float sign, bool assign);
/* Sum of x[0..n) in double with four interleaved accumulators: a fixed order (deterministic)
 * with a quarter of the dependency chain of a single accumulator. */
static inline double gp_i_sum_double(const float *x, int64_t n)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s[0] += x[i];
        s[1] += x[i + 1];
        s[2] += x[i + 2];
        s[3] += x[i + 3];
    }
    for (; i < n; i++) s[0] += x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}
/* True when x[0..n) are all zero (+0 or -0): a gradient row that adds nothing. */
static inline bool gp_i_all_zero(const float *x, int64_t n)
{
    for (int64_t j = 0; j < n; j++)
        if (x[j] != 0.0f) return false;
    return true;
}
/* Indices idx[0..n) all in [0, limit), else the tape fails (GP_E_RANGE, naming op). */
bool gp_i_check_indices(gp_tape *t, const char *op, const int64_t *idx, int64_t n, int64_t limit);
/* y_k = a[ia[k]] * b[ib[k]] (rows of cols floats), k < n, in parallel when large (ops_index.c). */
void gp_i_gather_products(float *y, const float *a, const int64_t *ia, const float *b,
                          const int64_t *ib, int64_t n, int64_t cols);
/* The terms dst_{idx[k]} += dy_k * other_{oidx[k]} (k = 0..n-1, cols columns) of a gather-multiply's
 * backward (ops_index.c): list l0 for k in order, then l1 (NULL: none; one tensor gathered twice).
 * Threads split the rows of dst; the bits are those of the serial loops. GP_E_NOMEM or GP_OK. */
typedef struct gp_i_product_terms {
    const int64_t *idx, *oidx;
    const float *other;
} gp_i_product_terms;
gp_status gp_i_scatter_products(gp_tape *t, float *dst, int64_t rows, const float *dy, int64_t n,
                                int64_t cols, const gp_i_product_terms *l0, const gp_i_product_terms *l1);

/* A row map recomputed in backward (ops_recompute.c): Y = f(in) computed `chunk` rows at a
 * time on `scratch`, only Y (or its rows summed by `scatter`) kept on the tape. f computes the
 * rows [k0, k0 + len) of Y, or, when `rows` is not NULL, the len rows listed there (only with
 * skip_zero_grad: the backward recomputes the rows whose gradient is not zero). */
typedef gp_tensor *(*gp_i_rowmap_fn)(void *ctx, gp_tape *t, gp_tensor *in, int64_t k0, int64_t len,
                                     const int64_t *rows);
typedef struct gp_i_rowmap {
    gp_i_rowmap_fn f;        /* rows [k0, k0 + len) of Y from `in` (or from its rows k0.., slice) */
    void *ctx;               /* f's context: must stay valid until the tape is reset */
    gp_tensor *in;           /* f's tensor input */
    bool slice;              /* f gets rows [k0, k0 + len) of in (in->rows == rows), else all of in */
    const int64_t *scatter;  /* NULL: the result is Y (rows x cols); else out[scatter[k]] += Y[k] */
    int64_t rows, cols, num_out, chunk;
    gp_rng *const *rngs;     /* dropout streams f draws from (at most 16), replayed in backward */
    int num_rngs;
    gp_tensor *param;        /* one of f's parameters: the op is recorded whenever it trains */
    gp_tape *scratch;        /* for the chunks; must outlive the backward, used by one map at a time */
    bool recompute;          /* false: f runs once on all rows on the tape, kept */
    bool skip_zero_grad;     /* recomputing: only rows with a nonzero output gradient (not slice;
                                f must be row-wise, its dropout on chunk-shaped tensors) */
} gp_i_rowmap;
gp_tensor *gp_i_rowmap_run(gp_tape *t, const gp_i_rowmap *spec);
/* Dropout on tape t then takes, for a tensor of `count` rows, rows rows[0..count) of the masks
 * it would draw for `full_rows` rows (the same seed): a row map's backward recomputing some
 * rows of a chunk gets the chunk's masks. rows NULL: off. */
void gp_i_tape_set_row_subset(gp_tape *t, const int64_t *rows, int64_t count, int64_t full_rows);
const int64_t *gp_i_tape_row_subset(const gp_tape *t, int64_t *count, int64_t *full_rows);
/* out, or NULL if the tape is in error. */
gp_tensor *gp_i_done(gp_tape *t, gp_tensor *out);
/* Set the sticky error (first one wins) and the last-error message; returns st. */
gp_status gp_i_tape_fail(gp_tape *t, gp_status st, const char *file, int line, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));
#define GP_TAPE_FAIL(t, st, ...) gp_i_tape_fail((t), (st), __FILE__, __LINE__, __VA_ARGS__)
/* Shape check helper: fails the tape with GP_E_SHAPE and returns false when !cond. */
#define GP_TAPE_CHECK(t, cond, ...)                                                             \
    ((cond) ? true : (gp_i_tape_fail((t), GP_E_SHAPE, __FILE__, __LINE__, __VA_ARGS__), false))

static inline bool gp_i_needs_grad(const gp_tensor *x)
{
    return x && (x->flags & GP_TENSOR_REQUIRES_GRAD);
}
/* The gradient buffer of x (zero-filled from the arena on first use); NULL on OOM. */
float *gp_i_grad(gp_tape *t, gp_tensor *x);
/*
 * The gradient buffer of x for a backward that can either overwrite or accumulate. On first
 * use the buffer comes from the arena UNinitialised and *assign is set: the caller must then
 * write every element (dx = ...) instead of adding (dx += ...). This saves the zero-fill, a
 * full extra pass over memory that cost ~17 % of a top-k training epoch. NULL on OOM.
 */
float *gp_i_grad_acc(gp_tape *t, gp_tensor *x, bool *assign);
bool gp_i_training(const gp_tape *t);

/* ---- dense kernels shared by ops ---- */
/* C = alpha op(A) op(B) + beta C with row-major operands (cblas_sgemm semantics; OpenBLAS or
 * the AVX-512 kernel, chosen per shape, rows split over the threads). */
void gp_i_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* The same product on one thread with the AVX-512 kernel (gemm_avx512.c); false (C untouched)
 * if its packing buffer cannot be allocated. Requires k > 0 and a processor with AVX-512F.
 * m_all: the rows of the whole product this call computes a row block of (m for a whole
 * product); the summation scheme depends on it, so all row blocks of a product sum alike. */
bool gp_i_sgemm_avx512(bool ta, bool tb, int64_t m, int64_t m_all, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                       float beta, float *c, int64_t ldc);
/* Does the AVX-512 kernel compute this product (m_all rows in all) as dot products (op(B) =
 * B^T, few rows)? Their rows can be split anywhere (4-row tiles, every element summed alike). */
bool gp_i_gemm_avx512_dot(bool ta, bool tb, int64_t m_all, int64_t k);
/* Kernel choice for gp_i_gemm: AUTO picks per shape (default; environment GP_GEMM=blas or
 * GP_GEMM=avx512 forces one). gp_i_gemm_select returns false if AVX-512 is asked for and the
 * processor lacks it. Not thread-safe against concurrent products: set it between steps. */
enum { GP_GEMM_AUTO = 0, GP_GEMM_BLAS = 1, GP_GEMM_AVX512 = 2 };
bool gp_i_gemm_select(int kernel);
bool gp_i_gemm_use_avx512(int64_t m, int64_t n, int64_t k, bool ta, bool tb);

/* ---- graphs whose copies share one structure (graph_copies.c; graph.h "Implicit adjacency") ---- */
/*
 * A pack: `count` base graphs, each a CSR in local coordinates (its rows and columns numbered
 * from 0), stored back to back. Base graph p has n_p = node_ptr[p+1] - node_ptr[p] nodes whose
 * n_p + 1 row offsets are ptr[node_ptr[p] + p ...], starting at 0, and entries
 * [entry_ptr[p], entry_ptr[p+1]) of idx / val (val NULL: unweighted). perm (transposed packs
 * only): the local entry of the untransposed base graph that each entry came from.
 */
typedef struct gp_i_pack {
    int64_t count;
    int64_t *node_ptr, *entry_ptr;
    int64_t *ptr, *idx;
    float *val;
    int64_t *perm;
    int64_t max_nnz; /* the largest base graph's entry count */
} gp_i_pack;

/* Base graph p of a pack as a CSR view (borrowed arrays; rows start at offset 0). */
static inline gp_csr gp_i_pack_view(const gp_i_pack *pk, int64_t p)
{
    int64_t n = pk->node_ptr[p + 1] - pk->node_ptr[p], e0 = pk->entry_ptr[p];
    return (gp_csr){.rows = n, .cols = n, .nnz = pk->entry_ptr[p + 1] - e0,
                    .ptr = pk->ptr + pk->node_ptr[p] + p, .idx = pk->idx + e0,
                    .val = pk->val ? pk->val + e0 : NULL};
}

/*
 * The structure of an implicit graph: output graph o (nodes [graph_ptr[o], graph_ptr[o+1])) is a
 * copy of base graph base_of[o] of the pack; its entries are [edge_ptr[o], edge_ptr[o+1]) in the
 * logical entry order (copy by copy, row by row, each row in its base row's order), which is the
 * entry order of the explicit block-diagonal CSR (gp_i_graph_explicit).
 */
typedef struct gp_i_copies {
    gp_i_pack base;
    gp_i_pack *tr;        /* transposed pack (with perm), built on first need, or NULL */
    int64_t *base_of;     /* num_graphs */
    int64_t *edge_ptr;    /* num_graphs + 1 */
    bool borrows_batch;   /* graph_ptr / graph_of belong to another graph (cached GCN form) */
} gp_i_copies;

/* A graph's private cache (graph.c, graph_copies.c): LAGraph style, absent or correct. */
struct gp_graph_cache {
    gp_graph *gcn;          /* D^-1/2 (A + I) D^-1/2 */
    gp_csr *t;              /* transpose, or NULL while absent; may alias &g->adj (t_is_adj) */
    int64_t *tperm;         /* transpose entry -> entry of adj */
    bool t_is_adj;
    gp_i_copies *copies;    /* implicit adjacency (adj.ptr == NULL), or NULL */
    gp_graph *explicit_form; /* materialised explicit CSR of an implicit graph, or NULL */
};

/* The copies descriptor of an implicit graph, NULL for an explicit one (or a NULL graph). */
static inline const gp_i_copies *gp_i_graph_copies(const gp_graph *g)
{
    return g && g->cache ? g->cache->copies : NULL;
}
/* True if the adjacency carries values (explicit val, or the pack's). */
static inline bool gp_i_graph_weighted(const gp_graph *g)
{
    const gp_i_copies *c = gp_i_graph_copies(g);
    return c ? c->base.val != NULL : g->adj.val != NULL;
}
void gp_i_copies_free(gp_i_copies **c);
/* Copies of the graphs of batch g (copies[b] >= 0 of graph b, copy-major), implicit (sharing one
 * pack) or explicit; GP_E_INVALID if an edge leaves its graph, a count is negative or there is no
 * copy at all. An implicit g is read through its explicit form. */
gp_status gp_i_graph_copies_new(gp_graph **out, const gp_graph *g, const int64_t *copies, bool shared);
/* g itself if explicit, else its explicit form (built on first use, cached in g: logically const). */
gp_status gp_i_graph_explicit(const gp_graph **out, const gp_graph *g);
/* The same, failing the tape (message naming op) on error or a NULL g: NULL then. */
const gp_graph *gp_i_graph_explicit_tape(gp_tape *t, const char *op, const gp_graph *g);
/* The transposed pack of an implicit graph (built on first use, cached). */
gp_status gp_i_copies_transpose(const gp_i_pack **out, const gp_graph *g);
/* Y = A X (set) or Y += A X for implicit g, A's structure from `pack` (the base pack, or the
 * transposed one for A^T); vals: values in the logical entry order (NULL: the pack's). The
 * per-copy products are gp_i_csr_spmm_set / gp_csr_spmm on the copy's base-graph view: the same
 * bits as the explicit CSR. */
void gp_i_copies_spmm(float *y, const gp_graph *g, const gp_i_pack *pack, const float *vals,
                      const float *x, int64_t d, bool set);
/* graph.c's functions on implicit graphs (same results as on the explicit form). */
void gp_i_copies_degrees(const gp_graph *g, float *deg);
gp_status gp_i_copies_add_self_loops(gp_graph **out, const gp_graph *g);
gp_status gp_i_copies_gcn_norm(gp_graph **out, const gp_graph *g);
/* Layer helpers on graphs (module.c), implicit or explicit: 1 / (entries of row i) (0 for empty
 * rows) as an n x 1 constant; max aggregation (layer_common.h) on the explicit form. */
gp_tensor *gp_i_graph_inverse_counts(gp_tape *t, const gp_graph *g);
gp_tensor *gp_i_graph_aggregate_max(gp_tape *t, const gp_graph *g, gp_tensor *x, bool weighted);

/* ---- speed (fused ops; lib/layer_linear.c, lib/ops_elementwise.c) ---- */
/* C + x W + b for a linear module m (gp_linear_new) and a dense x, as one gp_addmm: a residual
 * sum without a separate add pass. GP_E_INVALID on the tape if m is not a linear module. */
gp_tensor *gp_i_linear_residual(gp_module *m, gp_tape *t, gp_tensor *c, gp_tensor *x);
/* (a[ia] * a[ib]) W + b for a linear module m, as one gp_gather_mul_affine (its backward skips
 * rows without a gradient). GP_E_INVALID on the tape if m is not a linear module. */
gp_tensor *gp_i_linear_gather_mul(gp_module *m, gp_tape *t, gp_tensor *a, const int64_t *ia,
                                  const int64_t *ib, int64_t n);
/* The rest of a stack (gp_stack_new / gp_mlp_new) given z0, the output of its first layer:
 * the first layer's norm and activation, then the other layers, as the stack's own forward
 * would run them after that layer. Stacks with a residual, jumping knowledge or input dropout:
 * GP_E_UNSUPPORTED on the tape. */
gp_tensor *gp_i_stack_forward_after_first(gp_module *stack, gp_tape *t, gp_graph *g, gp_tensor *z0);
/* Dropout masks (ops_dropout.c): keep[i] = 1 with probability 1 - p, a function of seed and i
 * only (blocks of GP_I_DROPOUT_BLOCK elements drawn independently, in parallel when large). */
#define GP_I_DROPOUT_BLOCK 8192
void gp_i_dropout_mask(unsigned char *keep, int64_t size, float p, uint64_t seed);
/*
 * Gradient pass-through: the backward of add / sub (left side) / add_scalar / addmm hands a
 * full-size input that has no gradient buffer yet the output's buffer itself (x->grad =
 * y->grad) instead of a copy. Later contributions to x then change y->grad, which no backward
 * reads again (y's node has run); only a caller reading an intermediate tensor's grad after
 * backward would see it. At most one input per node takes the buffer.
 */

/* Replace the const gp_graph *var by its explicit form (itself unless implicit; built once and
 * cached): for public functions that read adj's arrays. Returns the status on failure. */
#define GP_I_EXPLICIT(var)                                                                         \
    do {                                                                                           \
        gp_status gp_i_explicit_st_ = gp_i_graph_explicit(&(var), (var));                          \
        if (gp_i_explicit_st_ != GP_OK) return gp_i_explicit_st_;                                  \
    } while (0)

#endif
