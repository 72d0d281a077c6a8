/*
 * Reading graphs and datasets; the data directory and dataset registry; SHA-256; graph
 * mini-batches.
 *
 * Readers: edge lists (integer ids or string labels), TU graph-classification sets, the
 * Planetoid / Geom-GCN node-classification layout, fixed link-prediction split files, Matrix
 * Market, and the formats igraph reads (GraphML, GML, Pajek, NCOL, LGL).
 *
 * Every reader reads plain text or gzip (.gz, detected from the content, not the name)
 * transparently. On bad input it returns an error status whose gp_last_error() message names
 * the input file and line, e.g.
 *   "io_edgelist.c:210: edges.txt:12: bad number 'x1' in column 2",
 * sets its output to NULL and leaves nothing allocated. Text rules shared by all readers:
 * lines end in "\n" or "\r\n"; fields are separated by blanks (spaces, tabs) or by a comma
 * with optional blanks around it ("1,2", "1, 2", "1\t2", "1 2" are the same); blank lines and
 * lines whose first non-blank character is '#' or '%' are skipped (Matrix Market: '%' only).
 *
 * Data directory layout (data/README.md; the benchmark copy is ../shared/data):
 *   linkpred/<Name>.edges, linkpred/meta.tsv, linkpred/splits/test{10,50}/<Name>_split<k>.txt.gz
 *   planetoid/<name>/, hetero/<name>/   (edges, features, labels, meta, split index files)
 *   tu/<NAME>/NAME_A.txt[.gz], NAME_graph_indicator.txt, ...
 */
#ifndef GRAPHPOOL_IO_H
#define GRAPHPOOL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <graphpool/graph.h>
#include <graphpool/linksplit.h>
#include <graphpool/sparse.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Bidirectional id map: string label <-> dense id 0..size-1 (ids in order of first insertion).
 * Hash table with open addressing; add and find are O(label length) expected.
 */
typedef struct gp_idmap gp_idmap;

GP_API gp_status gp_idmap_new(gp_idmap **out);
GP_API void gp_idmap_free(gp_idmap **m);
GP_API int64_t gp_idmap_size(const gp_idmap *m);
/* The id of the label (len bytes, need not be NUL-terminated, may not contain NUL), adding it
 * with id = size if new; *added (optional) tells which. */
GP_API gp_status gp_idmap_add(int64_t *id, bool *added, gp_idmap *m, const char *label, size_t len);
/* The id of a NUL-terminated label, or -1 if absent. */
GP_API int64_t gp_idmap_find(const gp_idmap *m, const char *label);
/* The label of an id (NUL-terminated, owned by the map, valid until the next gp_idmap_add),
 * or NULL if id is outside [0, size). */
GP_API const char *gp_idmap_label(const gp_idmap *m, int64_t id);

/* ------------------------------------------------------------------------------------------
 * Edge lists: one edge per line, "u v" or "u v w" (w a weight with GP_READ_WEIGHTS).
 */
enum {
    GP_READ_DIRECTED = 1u << 0,      /* edges are directed (default: undirected) */
    GP_READ_LABELS = 1u << 1,        /* node ids are arbitrary strings, kept in a gp_idmap */
    GP_READ_WEIGHTS = 1u << 2,       /* the third column is a finite weight (required) */
    GP_READ_ONE_BASED = 1u << 3,     /* integer ids start at 1 (0 is then out of range) */
    GP_READ_EXTRA_COLUMNS = 1u << 4, /* ignore columns after the used ones (default: error) */
    GP_READ_HEADER = 1u << 5,        /* the first data line holds column names: skipped */
    GP_READ_HEADER_AUTO = 1u << 6,   /* skip the first data line if it holds column names: some
                                        column is a number on the second data line but not on the
                                        first, and none is a number on both ("source target" over
                                        "1 2", "from,to,weight" over "a,b,0.5"); with labels, not
                                        if its first or second field names a node of another line
                                        (then it is an edge: "A B" over "3 4" with A elsewhere);
                                        header_line says */
};

/* Repeated edges: (u, v) twice, or (u, v) and (v, u) when undirected. */
typedef enum gp_dup_policy {
    GP_DUP_DROP = 0, /* keep the first occurrence (and its weight) */
    GP_DUP_KEEP,     /* keep all; gp_graph_read_edgelist then sums them into one weighted edge */
    GP_DUP_FAIL      /* GP_E_PARSE naming the file and line of the first repeat */
} gp_dup_policy;

typedef enum gp_loop_policy {
    GP_LOOP_KEEP = 0, /* keep self-loops (u, u) */
    GP_LOOP_DROP,
    GP_LOOP_FAIL /* GP_E_PARSE naming the file and line of the first self-loop */
} gp_loop_policy;

/* Zero-initialised options (or NULL) = undirected, integer 0-based ids, no weights, drop
 * repeated edges, keep self-loops, node count from the largest id. */
typedef struct gp_edgelist_options {
    unsigned flags;           /* GP_READ_* */
    gp_dup_policy duplicates;
    gp_loop_policy self_loops;
    int64_t num_nodes;        /* > 0: ids must be below it (GP_E_RANGE otherwise); 0: derived.
                                 Below 2^32. */
} gp_edgelist_options;

/* Largest integer node id accepted when num_nodes is derived (beyond it, use GP_READ_LABELS
 * or give num_nodes): a file with one id of 10^12 must not allocate a 10^12-node graph. */
#define GP_READ_MAX_ID INT64_C(2147483647)

typedef struct gp_edgelist {
    int64_t num_nodes;   /* option, else largest id + 1, else number of labels */
    int64_t count;       /* edges kept */
    int64_t *src, *dst;  /* count 0-based ids each, in file order */
    float *weight;       /* count weights (GP_READ_WEIGHTS), else NULL */
    bool directed;
    gp_idmap *ids;       /* GP_READ_LABELS: id <-> label; else NULL */
    int64_t data_lines;  /* edge lines read */
    int64_t duplicates;  /* repeated edges found (dropped or kept per policy) */
    int64_t self_loops;  /* self-loops found (dropped or kept per policy) */
    int64_t first_duplicate_line, first_self_loop_line; /* 1-based file lines, 0 if none */
    int64_t first_extra_column_line; /* GP_READ_EXTRA_COLUMNS: the first line with a column after
                                        the used ones (1-based), 0 if none */
    int64_t header_line;             /* the header line skipped (1-based), 0 if none */
} gp_edgelist;

/*
 * Read an edge list. Errors (GP_E_IO, GP_E_PARSE, GP_E_RANGE) name file and line: file not
 * found or unreadable, truncated .gz, a file without edges, a missing or extra column, a bad
 * number or weight, a negative id or one >= num_nodes, a repeat or loop under a FAIL policy;
 * 2^32 nodes or more: GP_E_UNSUPPORTED. Repeats are found with a hash set of edges.
 * Complexity O(m) expected time (a sorted list of distinct edges skips the hash set); memory
 * about 30 bytes per edge while reading, the 16 (20 with weights) of the result included.
 * Throughput: docs/benchmarks.md, "Edge-list reader".
 */
GP_API gp_status gp_edgelist_read(gp_edgelist **out, const char *path, const gp_edgelist_options *opt);
GP_API void gp_edgelist_free(gp_edgelist **e);
/*
 * Read an edge list into a graph: undirected lists become symmetric graphs, weights become
 * edge values. If ids is not NULL and GP_READ_LABELS is set, *ids receives the id map (the
 * caller frees it), else *ids = NULL.
 */
GP_API gp_status gp_graph_read_edgelist(gp_graph **out, gp_idmap **ids, const char *path,
                                        const gp_edgelist_options *opt);

/* One integer per line (e.g. split index files) into *idx (gp_free), *count entries. If
 * limit > 0 every value must be in [0, limit) (GP_E_RANGE with file:line). An empty file gives
 * count 0 and a valid (1-element) allocation. */
GP_API gp_status gp_index_read(int64_t **idx, int64_t *count, const char *path, int64_t limit);

/* ------------------------------------------------------------------------------------------
 * Graph classification datasets (TU Dortmund format).
 */
typedef struct gp_graph_dataset {
    int64_t num_graphs;
    gp_graph **graphs;        /* symmetric, unweighted; node j of graph g is dataset node
                                 node_ptr[g] + j (file order) */
    int64_t *labels;          /* num_graphs classes in [0, num_classes) */
    int64_t num_classes;
    int64_t *class_values;    /* num_classes: class c was the value class_values[c] in the
                                 file (ascending, so the remapping keeps the order) */
    int64_t num_nodes;        /* all graphs */
    int64_t *node_ptr;        /* num_graphs + 1 offsets into the per-node arrays */
    int64_t *node_labels;     /* num_nodes values in [0, num_node_labels), or NULL */
    int64_t num_node_labels;
    int64_t *node_label_values; /* as class_values, or NULL */
    float *node_attr;         /* num_nodes x num_node_attr, row-major, or NULL */
    int64_t num_node_attr;
    int64_t *edge_ptr;        /* num_graphs + 1: adjacency entry k of graph g (CSR order) is
                                 dataset entry edge_ptr[g] + k */
    int64_t *edge_labels;     /* edge_ptr[num_graphs] values in [0, num_edge_labels) (-1 for an
                                 entry only present by symmetrisation), or NULL */
    int64_t num_edge_labels;
    int64_t *edge_label_values;
    int64_t num_edges;        /* undirected edges, self-loops excluded */
    int64_t num_self_loops;
    int64_t duplicate_lines;  /* edge lines repeating an earlier line (dropped) */
} gp_graph_dataset;

/*
 * Read dir/NAME_*.txt: NAME_A.txt (or NAME_A.txt.gz, or when neither exists the DGCNN
 * adjacency-list file NAME_dgcnn.txt[.gz]), NAME_graph_indicator.txt, NAME_graph_labels.txt,
 * and if present NAME_node_labels.txt, NAME_node_attributes.txt, NAME_edge_labels.txt.
 * Ids are 1-based; label values (any integers) are remapped to 0..C-1 in ascending order.
 * Edges are symmetrised, repeated lines dropped (counted), self-loops kept.
 * Inconsistencies are errors naming file and line: graph ids that decrease or skip a graph,
 * a per-graph or per-node file with the wrong number of lines, an edge with an id outside
 * 1..N or joining two graphs, node attribute rows of different widths, DGCNN sizes or labels
 * that disagree with the TU files.
 * Complexity O(N + E log(max degree)) time, O(N + E) memory.
 */
GP_API gp_status gp_graph_dataset_read_tu(gp_graph_dataset **out, const char *dir, const char *name);
GP_API void gp_graph_dataset_free(gp_graph_dataset **ds);
/*
 * Dense node features, num_nodes x *dim row-major (gp_free): one-hot node label followed by
 * the node attributes; a single column of ones if the dataset has neither.
 */
GP_API gp_status gp_graph_dataset_features(float **x, int64_t *dim, const gp_graph_dataset *ds);

/* ------------------------------------------------------------------------------------------
 * Node classification datasets (planetoid/<name>/ and hetero/<name>/ layouts).
 */
typedef enum gp_node_part { GP_NODES_TRAIN = 0, GP_NODES_VAL, GP_NODES_TEST, GP_NODES_PARTS } gp_node_part;

typedef struct gp_node_split {
    int64_t count[GP_NODES_PARTS];
    int64_t *idx[GP_NODES_PARTS]; /* node ids, in file order */
} gp_node_split;

enum {
    GP_NODES_RAW_DIRECTED = 1u << 0, /* graph from edges_directed_raw (directed, as given,
                                        self-loops kept) instead of the undirected edges */
};

typedef struct gp_node_dataset {
    int64_t num_nodes;
    gp_graph *graph;          /* symmetric (or directed with GP_NODES_RAW_DIRECTED) */
    gp_csr *features;         /* num_nodes x num_features (val NULL when all values are 1),
                                 or NULL when the dataset has no features file (PubMed) */
    int64_t num_features;
    int64_t *labels;          /* num_nodes classes in [0, num_classes), -1 = unlabelled */
    int64_t num_classes;
    int64_t num_splits;       /* 1 (train_idx, ...), 10 (split<k>_train_idx, ...) or 0 */
    gp_node_split *splits;
} gp_node_dataset;

/*
 * Read dir/{meta, labels, edges, features, train_idx, val_idx, test_idx} or the split<k>_*_idx
 * files. meta (optional) gives num_nodes, num_features, num_classes and counts; every count it
 * states is checked (edges, feature nonzeros, split sizes) and a mismatch is GP_E_PARSE naming
 * the file. Without meta, sizes come from the files (num_nodes = lines of labels).
 * Complexity O(n + m + nnz(features)).
 */
GP_API gp_status gp_node_dataset_read(gp_node_dataset **out, const char *dir, unsigned flags);
GP_API void gp_node_dataset_free(gp_node_dataset **ds);

/* ------------------------------------------------------------------------------------------
 * Fixed link-prediction splits: lines "<part> u v", part one of train_pos, train_neg, val_pos,
 * val_neg, test_pos, test_neg; 0-based ids. Pairs are stored with u < v (swapped if needed);
 * u == v is an error. num_nodes > 0: ids must be below it; 0: largest id + 1.
 * Complexity O(lines).
 * A path ending in .mat is read as SEAL's / WalkPool's MATLAB split files: variables of those
 * six names (missing ones are empty parts), each k x 2 (or 2 x k) with 1-based node ids.
 */
GP_API gp_status gp_link_split_read(gp_link_split **out, const char *path, int64_t num_nodes);

/* ------------------------------------------------------------------------------------------
 * Matrix Market and igraph's formats.
 *
 * Matrix Market is read by graphpool's own small reader, not SuiteSparse: LAGraph's
 * LAGraph_MMRead is not packaged in Debian, and CHOLMOD's cholmod_read_sparse (which is)
 * would add a link dependency, reads only a FILE * (no .gz), and reports errors as a status
 * code without the line. Supported: "%%MatrixMarket matrix coordinate" with
 * real, integer or pattern values and general or symmetric storage (symmetric files list
 * the lower triangle only; an entry above the diagonal is an error). 1-based indices;
 * repeated entries are summed. Array format, complex, hermitian and skew-symmetric files
 * give GP_E_UNSUPPORTED.
 */
GP_API gp_status gp_csr_read_mtx(gp_csr **out, const char *path);
/* A square Matrix Market matrix as a graph: adj = the matrix (entry (i, j) is the edge
 * j -> i; pattern files are unweighted); symmetric storage gives a symmetric graph. */
GP_API gp_status gp_graph_read_mtx(gp_graph **out, const char *path);

/* ------------------------------------------------------------------------------------------
 * MATLAB MAT-files, level 5 (`save -v7` and older; lib/io_mat.c): SEAL, WLNM and WalkPool
 * distribute their link-prediction networks this way (a sparse adjacency matrix `net`).
 */
typedef struct gp_mat_var {
    char name[64];
    int64_t rows, cols;
    bool sparse, logical;
    int64_t nnz;      /* sparse: stored entries */
    int64_t *jc, *ir; /* sparse (compressed columns): column j's entries are k = jc[j] .. jc[j+1]-1,
                         in rows ir[k] (0-based) */
    double *values;   /* sparse: nnz values (1 for a logical matrix without them); dense: rows * cols,
                         column-major */
} gp_mat_var;

/* The real 2-D numeric or logical variable `name` (NULL: the first one) of a MAT-file, values
 * converted to double. Errors name the file: not a MAT-file, truncated or corrupt data, no such
 * variable (GP_E_PARSE); big-endian and v7.3 (HDF5) files, complex values, more than two
 * dimensions, or a cell, struct, char or object variable (GP_E_UNSUPPORTED). */
GP_API gp_status gp_mat_read(gp_mat_var **out, const char *path, const char *name);
GP_API void gp_mat_var_free(gp_mat_var **v);

/* The first square numeric variable of a MAT-file as a graph: entry (i, j) != 0 is the edge
 * j -> i (as in .mtx), unweighted; undirected (the matrix symmetrised, A + A^T) unless opt has
 * GP_READ_DIRECTED; repeated edges merged; self-loops per opt->self_loops; NaN entries are an
 * error. */
GP_API gp_status gp_graph_read_mat(gp_graph **out, const char *path, const gp_edgelist_options *opt);

typedef enum gp_graph_format {
    GP_FORMAT_AUTO = 0, /* from the extension: .graphml .gml .net/.paj .ncol .lgl .mtx .mat,
                           else an edge list (a trailing .gz is ignored) */
    GP_FORMAT_EDGELIST,
    GP_FORMAT_MTX,
    GP_FORMAT_GRAPHML,
    GP_FORMAT_GML,
    GP_FORMAT_PAJEK,
    GP_FORMAT_NCOL,
    GP_FORMAT_LGL,
    GP_FORMAT_MAT /* MATLAB level-5 MAT-file: gp_graph_read_mat */
} gp_graph_format;

/*
 * Read a graph in the given format. GraphML, GML, Pajek, NCOL and LGL go through igraph's
 * readers and gp_graph_from_igraph (vertex names and edge weights are not kept: for labelled
 * or weighted NCOL files use the edge-list reader with GP_READ_LABELS | GP_READ_WEIGHTS);
 * igraph's parse errors come back as GP_E_FOREIGN with igraph's message (which has the
 * line). opt applies to edge lists fully; for the igraph formats GP_READ_DIRECTED selects a
 * directed NCOL / LGL graph and the duplicate / loop policies apply to multi-edges and
 * loops. GraphML files with several graphs: the first is read.
 */
GP_API gp_status gp_graph_read_format(gp_graph **out, const char *path, gp_graph_format format,
                                      const gp_edgelist_options *opt);

/* ------------------------------------------------------------------------------------------
 * Data directory and datasets by name.
 */

/* The data directory: explicit_dir if not NULL or empty (e.g. from --data-dir), else
 * $GP_DATA_DIR, else $XDG_CACHE_HOME/graphpool, else $HOME/.cache/graphpool. *out is
 * allocated (gp_free). The directory need not exist. GP_E_INVALID if none can be formed. */
GP_API gp_status gp_data_dir(char **out, const char *explicit_dir);

typedef enum gp_dataset_kind {
    GP_DATASET_LINKPRED = 0, /* linkpred/<Name>.edges */
    GP_DATASET_PLANETOID,    /* planetoid/<name>/ */
    GP_DATASET_HETERO,       /* hetero/<name>/ */
    GP_DATASET_TU            /* tu/<NAME>/ */
} gp_dataset_kind;

/*
 * Find a dataset by name in data_dir: names compare case-insensitively ignoring '.', '-' and
 * '_' ("IMDB-BINARY" = "imdbbinary", "E.coli" = "Ecoli"), plus the alias C.ele = Celegans.
 * *path (gp_free) is the .edges file or the dataset directory, *kind (optional) its layout,
 * *canonical (optional, gp_free) the name as spelled in the directory.
 * GP_E_IO with the places searched if it is not there.
 */
GP_API gp_status gp_data_find(char **path, gp_dataset_kind *kind, char **canonical,
                              const char *data_dir, const char *name);
/* A link-prediction network as a symmetric graph with the node count of linkpred/meta.tsv
 * (NS has isolated nodes that no edge names). */
GP_API gp_status gp_data_read_linkpred(gp_graph **out, const char *data_dir, const char *name);
/* Its fixed split k (1..10) with test_percent 10 (90/10) or 50 (50/50). */
GP_API gp_status gp_data_read_linkpred_split(gp_link_split **out, const char *data_dir,
                                             const char *name, int test_percent, int k);
GP_API gp_status gp_data_read_tu(gp_graph_dataset **out, const char *data_dir, const char *name);
GP_API gp_status gp_data_read_nodes(gp_node_dataset **out, const char *data_dir, const char *name,
                                    unsigned flags);

/* ------------------------------------------------------------------------------------------
 * Dataset registry (data/registry.tsv): one line per file graphpool reads.
 */
typedef struct gp_registry_entry {
    const char *dataset;    /* dataset name, e.g. "MUTAG" */
    const char *task;       /* linkpred, nodeclass, graphclass */
    const char *format;     /* layout of the file */
    const char *path;       /* relative to the data directory */
    const char *sha256;     /* 64 lowercase hex digits */
    const char *source_url; /* public URL of the original file(s) it was made from */
    const char *fetch_url;  /* URL of a byte-identical copy; "mat:URL" of a MATLAB file that
                               gp-data converts; "mat-meta" (linkpred/meta.tsv, made from every
                               network's .mat); or "-" if it must be made by hand */
    const char *notes;      /* how it was converted */
} gp_registry_entry;

typedef struct gp_registry {
    int64_t count;
    gp_registry_entry *entries;
    char *text; /* storage of all strings */
} gp_registry;

/* Read a registry file (tab-separated, 8 columns, '#' lines are comments). Errors name the
 * file and line (wrong column count, malformed checksum). */
GP_API gp_status gp_registry_read(gp_registry **out, const char *path);
GP_API void gp_registry_free(gp_registry **r);

typedef enum gp_verify_result { GP_VERIFY_OK = 0, GP_VERIFY_MISSING, GP_VERIFY_MISMATCH } gp_verify_result;
/* Check data_dir/e->path against e->sha256; hex (optional, 65 bytes) receives the actual
 * checksum. A missing file is a result, not an error; read errors are GP_E_IO. */
GP_API gp_status gp_registry_verify(gp_verify_result *result, char *hex, const char *data_dir,
                                    const gp_registry_entry *e);

/* ------------------------------------------------------------------------------------------
 * SHA-256 (FIPS 180-4).
 */
typedef struct gp_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t fill;
} gp_sha256;

GP_API void gp_sha256_init(gp_sha256 *s);
GP_API void gp_sha256_update(gp_sha256 *s, const void *data, size_t n);
GP_API void gp_sha256_final(gp_sha256 *s, uint8_t digest[32]);
/* 64 lowercase hex digits and a NUL. */
GP_API void gp_sha256_hex(char hex[65], const uint8_t digest[32]);
/* Checksum of a file's bytes (as stored: a .gz file is not decompressed). GP_E_IO on error. */
GP_API gp_status gp_sha256_file(char hex[65], const char *path);

/* ------------------------------------------------------------------------------------------
 * Mini-batches of graphs: a list of dataset graph indices, shuffled each epoch with a seeded
 * xoshiro256** stream (the same seed gives the same sequence of epochs), cut into batches of
 * batch_size graphs (the last one may be smaller) and assembled into block-diagonal graphs
 * with gp_graph_batch.
 */
typedef struct gp_minibatch gp_minibatch;

typedef struct gp_minibatch_info {
    int64_t count;         /* graphs in the batch */
    const int64_t *graphs; /* their dataset indices */
    const int64_t *labels; /* their classes */
    int64_t num_nodes;
    const int64_t *nodes;  /* node i of the batch graph is row nodes[i] of the dataset's
                              per-node arrays (node_labels, node_attr, features) */
} gp_minibatch_info;

/* ds is borrowed and must outlive the batcher; indices (count entries in [0, num_graphs))
 * are copied. batch_size >= 1. The first epoch starts at once (shuffled if shuffle). */
GP_API gp_status gp_minibatch_new(gp_minibatch **out, const gp_graph_dataset *ds, int64_t count,
                                  const int64_t *indices, int64_t batch_size, bool shuffle,
                                  uint64_t seed);
GP_API void gp_minibatch_free(gp_minibatch **b);
/* Batches per epoch: ceil(count / batch_size). */
GP_API int64_t gp_minibatch_batches(const gp_minibatch *b);
/* Start the next epoch (a new shuffle if shuffle is set). */
GP_API void gp_minibatch_reset(gp_minibatch *b);
/*
 * The next batch of the current epoch: *out a new block-diagonal graph (caller frees),
 * info (optional) its description, borrowed until the next call. At the end of the epoch
 * *out = NULL, info->count = 0 and GP_OK. Complexity O(nodes + edges of the batch).
 */
GP_API gp_status gp_minibatch_next(gp_graph **out, gp_minibatch_info *info, gp_minibatch *b);

#ifdef __cplusplus
}
#endif
#endif
