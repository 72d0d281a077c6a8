/*
 * Learning-rate schedules: pure functions of the step number, evaluated in double.
 *
 *   step decay: lr = base * gamma^floor(step / step_size)
 *   cosine:     step < warmup:          lr = base * step / warmup        (0 at step 0)
 *               warmup <= step < total: p = (step - warmup) / (total - warmup),
 *                                       lr = min_lr + (base - min_lr) (1 + cos(pi p)) / 2
 *               step >= total:          lr = min_lr                      (clamped)
 * Out-of-range arguments are clamped rather than rejected (there is no status to return):
 * a negative step counts as 0, step_size <= 0 means no decay, warmup <= 0 means no warm-up.
 * If total <= warmup there is no cosine phase: the warm-up ends directly in min_lr.
 */
#include <math.h>

#include "internal.h"

float gp_lr_step_decay(float base, long step, long step_size, float gamma)
{
    if (step <= 0 || step_size <= 0) return base;
    long k = step / step_size; /* floor: both non-negative */
    return (float)((double)base * pow((double)gamma, (double)k));
}

float gp_lr_cosine(float base, long step, long warmup, long total, float min_lr)
{
    if (step < 0) step = 0;
    if (warmup > 0 && step < warmup) return (float)((double)base * (double)step / (double)warmup);
    if (warmup < 0) warmup = 0;
    if (step >= total) return min_lr;
    double p = (double)(step - warmup) / (double)(total - warmup);
    const double pi = 3.14159265358979323846;
    return (float)((double)min_lr + ((double)base - min_lr) * 0.5 * (1.0 + cos(pi * p)));
}
