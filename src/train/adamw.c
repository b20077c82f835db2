#include <math.h>
#include <physflow/optim.h>

#if defined(PF_NET_DOUBLE)
  #define PF_SQRT sqrt
#else
  #define PF_SQRT sqrtf
#endif

void PFAdamWStep(size_t n, const PFAdamWParams *hp, double lr, PetscInt t, pfreal *params, const pfreal *grads, pfreal *m, pfreal *v)
{
  const pfreal b1 = (pfreal)hp->beta1, b2 = (pfreal)hp->beta2;
  const pfreal c1 = (pfreal)(1.0 / (1.0 - pow(hp->beta1, (double)t)));
  const pfreal c2 = (pfreal)(1.0 / (1.0 - pow(hp->beta2, (double)t)));
  const pfreal lr_ = (pfreal)lr, eps = (pfreal)hp->eps, decay = (pfreal)(1.0 - lr * hp->weight_decay);
  for (size_t i = 0; i < n; i++) {
    pfreal g = grads[i];
    m[i]     = b1 * m[i] + (1 - b1) * g;
    v[i]     = b2 * v[i] + (1 - b2) * g * g;
    /* decoupled decay: shrink the weight, then take the Adam step */
    params[i] = decay * params[i] - lr_ * (m[i] * c1) / (PF_SQRT(v[i] * c2) + eps);
  }
}

void PFEMAUpdate(size_t n, double decay, PetscInt step, const pfreal *params, pfreal *ema)
{
  double       warm = (1.0 + (double)step) / (10.0 + (double)step);
  const pfreal d    = (pfreal)(decay < warm ? decay : warm);
  for (size_t i = 0; i < n; i++) ema[i] = d * ema[i] + (1 - d) * params[i];
}

double PFGlobalNorm(size_t n, const pfreal *g)
{
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
  return sqrt(s);
}
