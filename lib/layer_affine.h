/*
 * The parameters of an affine map X W + b, shared by the layers built around one (linear, GCN;
 * defined in layer_linear.c). Not installed.
 */
#ifndef GP_LAYER_AFFINE_H
#define GP_LAYER_AFFINE_H

#include "layer_common.h"

typedef struct gp_i_affine {
    gp_tensor *weight; /* "weight", in_dim x out_dim, Glorot uniform */
    gp_tensor *bias;   /* "bias", 1 x out_dim, zero; NULL without bias */
} gp_i_affine;

/* A module of the given kind whose impl is a gp_i_affine (parameters in the order weight, bias). */
gp_status gp_i_affine_new(gp_module **out, const gp_module_ops *ops, int64_t in_dim, int64_t out_dim,
                          bool bias, gp_rng *rng);

#endif
