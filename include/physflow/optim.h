#pragma once
/* AdamW (Loshchilov & Hutter 2019: decoupled weight decay), the exponential
 * moving average of the weights, and the learning-rate schedule. */
#include <physflow/compat.h>
#include <physflow/real.h>

typedef struct {
  double beta1, beta2, eps, weight_decay;
} PFAdamWParams;

/* One AdamW step t (1-based) on n parameters: moments m, v updated in place */
PETSC_EXTERN void PFAdamWStep(size_t n, const PFAdamWParams *hp, double lr, PetscInt t, pfreal *params, const pfreal *grads, pfreal *m, pfreal *v);
/* ema = d ema + (1-d) params with d = min(decay, (1+step)/(10+step)): the
 * warm-up keeps the EMA from dragging the initial weights along for short runs */
PETSC_EXTERN void   PFEMAUpdate(size_t n, double decay, PetscInt step, const pfreal *params, pfreal *ema);
PETSC_EXTERN double PFGlobalNorm(size_t n, const pfreal *g);

typedef enum {
  PF_LR_CONSTANT = 0,
  PF_LR_COSINE   = 1
} PFLRSchedule;
PETSC_EXTERN const char *const PFLRSchedules[];
/* Learning rate of 0-based step s: linear warm-up over `warmup` steps, then
 * constant or cosine decay to lr*min_factor at step `horizon`. */
PETSC_EXTERN double PFLearningRate(PFLRSchedule kind, double lr, double min_factor, PetscInt warmup, PetscInt horizon, PetscInt s);
