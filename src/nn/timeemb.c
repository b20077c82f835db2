#include <math.h>
#include <physflow/nn.h>

/* Frequencies are computed in double and rounded once so float and double
 * builds and the PyTorch reference agree on the embedding to round-off. */
void PFTimeEmbedForward(PetscInt B, PetscInt E, const pfreal *t, PetscInt ldo, pfreal *out)
{
  const PetscInt half = E / 2;
  for (PetscInt b = 0; b < B; b++) {
    pfreal *o = out + b * ldo;
    for (PetscInt k = 0; k < half; k++) {
      double f   = exp(-log(10000.0) * (double)k / (double)half);
      double arg = PF_TEMB_SCALE * (double)t[b] * f;
      o[k]        = (pfreal)sin(arg);
      o[half + k] = (pfreal)cos(arg);
    }
  }
}

void PFTimeEmbedBackward(PetscInt B, PetscInt E, const pfreal *t, PetscInt ldo, const pfreal *dout, pfreal *dt)
{
  const PetscInt half = E / 2;
  for (PetscInt b = 0; b < B; b++) {
    const pfreal *d   = dout + b * ldo;
    double        acc = 0;
    for (PetscInt k = 0; k < half; k++) {
      double w   = PF_TEMB_SCALE * exp(-log(10000.0) * (double)k / (double)half);
      double arg = w * (double)t[b];
      acc += (double)d[k] * w * cos(arg) - (double)d[half + k] * w * sin(arg);
    }
    dt[b] = (pfreal)acc;
  }
}
