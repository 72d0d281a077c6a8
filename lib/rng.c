/* xoshiro256** seeded with splitmix64 (public-domain algorithms by Blackman & Vigna). */
#include <math.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void gp_rng_seed(gp_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t gp_rng_u64(gp_rng *rng) { return gp_i_xoshiro_next(rng->s); }

float gp_rng_uniform(gp_rng *rng) { return (float)(gp_rng_u64(rng) >> 40) * 0x1.0p-24f; }

float gp_rng_normal(gp_rng *rng)
{
    /* Box-Muller in double; u1 in (0, 1] so the log is finite. */
    double u1 = ((double)(gp_rng_u64(rng) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = (double)(gp_rng_u64(rng) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t gp_rng_below(gp_rng *rng, uint64_t n)
{
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t r;
    do r = gp_rng_u64(rng);
    while (r >= limit);
    return r % n;
}

void gp_rng_shuffle(gp_rng *rng, int64_t *values, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)gp_rng_below(rng, (uint64_t)i + 1);
        int64_t tmp = values[i];
        values[i] = values[j];
        values[j] = tmp;
    }
}

void gp_rng_split(gp_rng *child, gp_rng *parent) { gp_rng_seed(child, gp_rng_u64(parent)); }
