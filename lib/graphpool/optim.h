/*
 * Optimisers over a list of parameters (gp_param_new tensors; their grad buffers hold the
 * gradient after gp_tape_backward). Optimiser state (moments) is separate from gradients.
 *
 * SGD with momentum (PyTorch convention): g = grad + wd * w; v = mu v + g; w -= lr * v
 *   (Nesterov: w -= lr * (g + mu v)).
 * Adam (Kingma & Ba 2015): g = grad + wd * w (L2 penalty); m = b1 m + (1-b1) g;
 *   v = b2 v + (1-b2) g^2; w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 * AdamW (Loshchilov & Hutter 2019): as Adam without the L2 term, plus w -= lr * wd * w first.
 */
#ifndef GRAPHPOOL_OPTIM_H
#define GRAPHPOOL_OPTIM_H

#include <stdbool.h>
#include <graphpool/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_optim gp_optim;

/* The parameter array is copied; the parameters themselves must outlive the optimiser. */
GP_API gp_status gp_sgd_new(gp_optim **out, gp_tensor *const *params, int count, float lr,
                            float momentum, float weight_decay, bool nesterov);
GP_API gp_status gp_adam_new(gp_optim **out, gp_tensor *const *params, int count, float lr,
                             float beta1, float beta2, float eps, float weight_decay);
GP_API gp_status gp_adamw_new(gp_optim **out, gp_tensor *const *params, int count, float lr,
                              float beta1, float beta2, float eps, float weight_decay);
GP_API void gp_optim_free(gp_optim **o);

/* One update from the current gradients. GP_E_NUMERIC (and no update) if a gradient is not
 * finite. */
GP_API gp_status gp_optim_step(gp_optim *o);
GP_API void gp_optim_zero_grad(gp_optim *o);
GP_API void gp_optim_set_lr(gp_optim *o, float lr);
GP_API float gp_optim_get_lr(const gp_optim *o);
/* State for resuming training (e.g. gp_linkpred_fit_resumable): the number of completed
 * updates (Adam's bias corrections use it), and a moment buffer of parameter `param` with the
 * parameter's size: which 0 = SGD momentum or Adam's first moment, 1 = Adam's second moment;
 * NULL where the optimiser keeps none (plain SGD, SGD's second) or an index is out of range. */
GP_API long gp_optim_get_step(const gp_optim *o);
GP_API void gp_optim_set_step(gp_optim *o, long step);
GP_API float *gp_optim_moment(gp_optim *o, int which, int param);

/* Scale all gradients so that their global L2 norm is at most max_norm; returns the norm
 * before clipping. */
GP_API float gp_clip_grad_norm(gp_tensor *const *params, int count, float max_norm);

/* Learning-rate schedules: pure functions of the step (or epoch) number. */
/* base * gamma^(floor(step / step_size)). */
GP_API float gp_lr_step_decay(float base, long step, long step_size, float gamma);
/* Linear warm-up from 0 over `warmup` steps, then cosine from base to min_lr at `total`. */
GP_API float gp_lr_cosine(float base, long step, long warmup, long total, float min_lr);

#ifdef __cplusplus
}
#endif
#endif
