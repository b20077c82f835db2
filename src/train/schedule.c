#include <math.h>
#include <physflow/optim.h>

const char *const PFLRSchedules[] = {"constant", "cosine", "PFLRSchedule", "PF_LR_", NULL};

double PFLearningRate(PFLRSchedule kind, double lr, double min_factor, PetscInt warmup, PetscInt horizon, PetscInt s)
{
  if (warmup > 0 && s < warmup) return lr * (double)(s + 1) / (double)warmup;
  if (kind == PF_LR_CONSTANT || horizon <= warmup) return lr;
  double p = (double)(s - warmup) / (double)(horizon - warmup);
  if (p > 1) p = 1;
  return lr * (min_factor + (1 - min_factor) * 0.5 * (1 + cos(M_PI * p)));
}
