#include <math.h>
#include <physflow/nn.h>

/* Group normalisation (Wu & He 2018) on [B, S, C]; LayerNorm is S = G = 1.
 * Two passes (mean, then centred variance) avoid the cancellation of the
 * one-pass E[x^2] - E[x]^2 formula in float. */
void PFGroupNormForward(PetscInt B, PetscInt S, PetscInt C, PetscInt G, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd)
{
  const PetscInt Cg = C / G;
  const pfreal   inv_n = (pfreal)1 / (pfreal)(S * Cg);
  for (PetscInt b = 0; b < B; b++) {
    const pfreal *x = X + b * S * C;
    pfreal       *y = Y + b * S * C;
    for (PetscInt g = 0; g < G; g++) {
      pfreal mu = 0, var = 0;
      for (PetscInt s = 0; s < S; s++)
        for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) mu += x[s * C + c];
      mu *= inv_n;
      for (PetscInt s = 0; s < S; s++)
        for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) {
          pfreal d = x[s * C + c] - mu;
          var += d * d;
        }
      pfreal rs = (pfreal)(1.0 / sqrt((double)(var * inv_n) + PF_NORM_EPS));
      mean[b * G + g] = mu;
      rstd[b * G + g] = rs;
      for (PetscInt s = 0; s < S; s++)
        for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) y[s * C + c] = (x[s * C + c] - mu) * rs * gamma[c] + beta[c];
    }
  }
}

/* With xhat = (x - mu) rstd and g = dy * gamma, the input gradient is
 *   dx = rstd (g - mean(g) - xhat mean(g xhat))
 * where the means run over the group's S*C/G values. */
void PFGroupNormBackward(PetscInt B, PetscInt S, PetscInt C, PetscInt G, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal beta, pfreal *dX, pfreal *dgamma, pfreal *dbeta)
{
  const PetscInt Cg = C / G;
  const pfreal   inv_n = (pfreal)1 / (pfreal)(S * Cg);
  for (PetscInt b = 0; b < B; b++) {
    const pfreal *x  = X + b * S * C;
    const pfreal *dy = dY + b * S * C;
    pfreal       *dx = dX ? dX + b * S * C : NULL;
    for (PetscInt g = 0; g < G; g++) {
      const pfreal mu = mean[b * G + g], rs = rstd[b * G + g];
      pfreal       sum_g = 0, sum_gx = 0;
      for (PetscInt s = 0; s < S; s++)
        for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) {
          pfreal xhat = (x[s * C + c] - mu) * rs;
          pfreal gg   = dy[s * C + c] * gamma[c];
          sum_g += gg;
          sum_gx += gg * xhat;
          dgamma[c] += dy[s * C + c] * xhat;
          dbeta[c] += dy[s * C + c];
        }
      if (!dx) continue;
      sum_g *= inv_n;
      sum_gx *= inv_n;
      for (PetscInt s = 0; s < S; s++)
        for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) {
          pfreal xhat = (x[s * C + c] - mu) * rs;
          pfreal v    = rs * (dy[s * C + c] * gamma[c] - sum_g - xhat * sum_gx);
          dx[s * C + c] = beta == 0 ? v : beta * dx[s * C + c] + v;
        }
    }
  }
}

void PFLayerNormForward(PetscInt R, PetscInt C, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd)
{
  PFGroupNormForward(R, 1, C, 1, X, gamma, beta, Y, mean, rstd);
}

void PFLayerNormBackward(PetscInt R, PetscInt C, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal beta, pfreal *dX, pfreal *dgamma, pfreal *dbeta)
{
  PFGroupNormBackward(R, 1, C, 1, X, gamma, mean, rstd, dY, beta, dX, dgamma, dbeta);
}
