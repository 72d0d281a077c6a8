/*
 * Seeded random numbers: xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64.
 * The same seed always gives the same stream on every platform. Floats are drawn from the
 * top 24 bits (uniform in [0, 1)); normals use the Box-Muller transform (no caching).
 */
#ifndef GRAPHPOOL_RNG_H
#define GRAPHPOOL_RNG_H

#include <stdint.h>
#include <graphpool/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_rng {
    uint64_t s[4];
} gp_rng;

GP_API void gp_rng_seed(gp_rng *rng, uint64_t seed);
GP_API uint64_t gp_rng_u64(gp_rng *rng);
/* Uniform float in [0, 1). */
GP_API float gp_rng_uniform(gp_rng *rng);
/* Standard normal (mean 0, variance 1). */
GP_API float gp_rng_normal(gp_rng *rng);
/* Uniform integer in [0, n), unbiased (rejection). n must be > 0. */
GP_API uint64_t gp_rng_below(gp_rng *rng, uint64_t n);
/* Fisher-Yates shuffle of n int64 values. */
GP_API void gp_rng_shuffle(gp_rng *rng, int64_t *values, int64_t n);
/* An independent child stream derived from this one (advances the parent). */
GP_API void gp_rng_split(gp_rng *child, gp_rng *parent);

#ifdef __cplusplus
}
#endif
#endif
