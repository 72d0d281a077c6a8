/*
 * A link-prediction split: positive and negative node pairs for training, validation and
 * test. Pairs are stored as 2 * count int64 values (u0, v0, u1, v1, ...), 0-based ids,
 * undirected pairs with u < v. Produced by random splitting (splits.h) or read from the fixed
 * split files of SEAL / WalkPool (io.h); freed with gp_link_split_free.
 */
#ifndef GRAPHPOOL_LINKSPLIT_H
#define GRAPHPOOL_LINKSPLIT_H

#include <stdint.h>
#include <graphpool/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gp_link_part {
    GP_LINK_TRAIN_POS = 0,
    GP_LINK_TRAIN_NEG,
    GP_LINK_VAL_POS,
    GP_LINK_VAL_NEG,
    GP_LINK_TEST_POS,
    GP_LINK_TEST_NEG,
    GP_LINK_PARTS
} gp_link_part;

typedef struct gp_link_split {
    int64_t num_nodes;
    int64_t count[GP_LINK_PARTS]; /* pairs in each part */
    int64_t *pairs[GP_LINK_PARTS]; /* 2 * count[p] ids each (may be NULL when count is 0) */
} gp_link_split;

/* An empty split with room for the given counts (pairs uninitialised). */
GP_API gp_status gp_link_split_new(gp_link_split **out, int64_t num_nodes,
                                   const int64_t count[GP_LINK_PARTS]);
GP_API void gp_link_split_free(gp_link_split **s);

#ifdef __cplusplus
}
#endif
#endif
