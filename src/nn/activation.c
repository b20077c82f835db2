#include <math.h>
#include <physflow/nn.h>

const char *const PFActivations[] = {"silu", "gelu", "PFActivation", "PF_ACT_", NULL};

#include "fastexp.h"

#if defined(PF_NET_DOUBLE)
  #define PF_EXP exp
  #define PF_ERF erf
#else
  #define PF_EXP pf_fast_expf
  #define PF_ERF erff
#endif
#define PF_SQRT1_2   ((pfreal)0.70710678118654752440)
#define PF_SQRT2PI_I ((pfreal)0.39894228040143267794) /* 1/sqrt(2 pi) */

/* SiLU(x) = x sigmoid(x);  GELU(x) = x Phi(x) with the exact normal CDF
 * (PyTorch's default), so the reference network matches to round-off. */
void PFActivationForward(PFActivation act, PetscInt n, const pfreal *X, pfreal *Y)
{
  if (act == PF_ACT_SILU) {
    for (PetscInt i = 0; i < n; i++) Y[i] = X[i] / ((pfreal)1 + PF_EXP(-X[i]));
  } else {
    for (PetscInt i = 0; i < n; i++) Y[i] = (pfreal)0.5 * X[i] * ((pfreal)1 + PF_ERF(X[i] * PF_SQRT1_2));
  }
}

void PFActivationBackward(PFActivation act, PetscInt n, const pfreal *X, const pfreal *dY, pfreal beta, pfreal *dX)
{
  if (act == PF_ACT_SILU) {
    /* d/dx x s(x) = s(x) (1 + x (1 - s(x))) */
    if (beta == 0) {
      for (PetscInt i = 0; i < n; i++) {
        pfreal s = (pfreal)1 / ((pfreal)1 + PF_EXP(-X[i]));
        dX[i]    = dY[i] * s * ((pfreal)1 + X[i] * ((pfreal)1 - s));
      }
    } else {
      for (PetscInt i = 0; i < n; i++) {
        pfreal s = (pfreal)1 / ((pfreal)1 + PF_EXP(-X[i]));
        dX[i]    = beta * dX[i] + dY[i] * s * ((pfreal)1 + X[i] * ((pfreal)1 - s));
      }
    }
  } else {
    /* d/dx x Phi(x) = Phi(x) + x phi(x) */
    for (PetscInt i = 0; i < n; i++) {
      pfreal x   = X[i];
      pfreal cdf = (pfreal)0.5 * ((pfreal)1 + PF_ERF(x * PF_SQRT1_2));
      pfreal pdf = PF_SQRT2PI_I * PF_EXP((pfreal)-0.5 * x * x);
      pfreal g   = dY[i] * (cdf + x * pdf);
      dX[i]      = beta == 0 ? g : beta * dX[i] + g;
    }
  }
}
