/*
 * gp-data's conversions of public MATLAB files into the data directory's text formats, made so
 * that the output is byte for byte the registered file (data/registry.tsv; the conversions the
 * registry's notes describe, from SEAL's and WalkPool's .mat files):
 *
 *   edges  variable `net` (square adjacency, sparse or dense): the pairs u < v with entry (u, v)
 *          or (v, u) nonzero, diagonal dropped, one "u v" line each (0-based), sorted.
 *   split  variables train_pos, train_neg, (val_pos, val_neg,) test_pos, test_neg of 1-based
 *          pairs: "<part> u v" lines (0-based), parts in that order, pairs in the file's order;
 *          written as gzip the way Python's gzip module writes it (level 9, the file's name
 *          without ".gz" in the header, mtime 0, OS 255), which the registered files are.
 *   meta   one line per network, "name nodes edges isolated max_degree" (tab-separated, after
 *          a '#' header line), from each network's `net`.
 *
 * Each returns 0, or 1 with a message in err. Output goes to `out` as given (the caller writes
 * to a temporary name, verifies the checksum and renames).
 */
#ifndef GP_APPS_DATA_CONVERT_H
#define GP_APPS_DATA_CONVERT_H

#include <stddef.h>

int convert_mat_edges(const char *mat, const char *out, char *err, size_t errsz);
int convert_mat_split(const char *mat, const char *out, const char *gzip_name, char *err, size_t errsz);
/* count networks: names[i] and the path of its .mat file mats[i]. */
int convert_mat_meta(int count, const char *const *names, const char *const *mats, const char *out, char *err,
                     size_t errsz);

#endif
