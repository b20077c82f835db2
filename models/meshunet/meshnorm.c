#include <math.h>
#include <physflow/meshconv.h>

/* Sums are accumulated in double and reduced in one call: [sum, sumsq] for
 * every (sample, group), plus the total weight. */
PetscErrorCode PFMeshNormForward(MPI_Comm comm, PetscInt S, PetscInt B, PetscInt C, PetscInt G, const pfreal *w, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd)
{
  const PetscInt Cg = C / G, nbg = B * G;
  double        *acc;

  PetscFunctionBegin;
  PetscCheck(C % G == 0, comm, PETSC_ERR_ARG_INCOMP, "%" PetscInt_FMT " channels cannot be split into %" PetscInt_FMT " groups", C, G);
  PetscCall(PetscCalloc1(2 * nbg + 1, &acc));
  for (PetscInt v = 0; v < S; v++) {
    const double wv = w ? (double)w[v] : 1.0;
    acc[2 * nbg] += wv;
    for (PetscInt b = 0; b < B; b++) {
      const pfreal *x = X + ((size_t)v * B + b) * C;
      for (PetscInt g = 0; g < G; g++) {
        double s = 0, q = 0;
        for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) {
          s += (double)x[c];
          q += (double)x[c] * (double)x[c];
        }
        acc[b * G + g] += wv * s;
        acc[nbg + b * G + g] += wv * q;
      }
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(2 * nbg + 1), MPI_DOUBLE, MPI_SUM, comm));
  for (PetscInt i = 0; i < nbg; i++) {
    double n = acc[2 * nbg] * Cg, mu = acc[i] / n, var = acc[nbg + i] / n - mu * mu;
    mean[i] = (pfreal)mu;
    rstd[i] = (pfreal)(1.0 / sqrt(PetscMax(var, 0.0) + PF_NORM_EPS));
  }
  for (PetscInt v = 0; v < S; v++)
    for (PetscInt b = 0; b < B; b++) {
      const pfreal *x = X + ((size_t)v * B + b) * C;
      pfreal       *y = Y + ((size_t)v * B + b) * C;
      for (PetscInt c = 0; c < C; c++) {
        const PetscInt i = b * G + c / Cg;
        y[c]             = (x[c] - mean[i]) * rstd[i] * gamma[c] + beta[c];
      }
    }
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* dx = rstd (g - <g> - xhat <g xhat>), g = dy gamma, <.> the weighted group
 * mean over all vertices; the weight enters because each vertex's value
 * counts with weight w_v in the statistics. */
PetscErrorCode PFMeshNormBackward(MPI_Comm comm, PetscInt S, PetscInt B, PetscInt C, PetscInt G, const pfreal *w, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal *dX, pfreal *dgamma, pfreal *dbeta)
{
  const PetscInt Cg = C / G, nbg = B * G;
  double        *acc;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1(2 * nbg + 1, &acc));
  for (PetscInt v = 0; v < S; v++) {
    acc[2 * nbg] += w ? (double)w[v] : 1.0;
    for (PetscInt b = 0; b < B; b++) {
      const pfreal *x = X + ((size_t)v * B + b) * C, *dy = dY + ((size_t)v * B + b) * C;
      for (PetscInt c = 0; c < C; c++) {
        const PetscInt i    = b * G + c / Cg;
        const double   xhat = (double)((x[c] - mean[i]) * rstd[i]);
        dgamma[c] += dy[c] * (pfreal)xhat;
        dbeta[c] += dy[c];
        /* sums over the group of g = dy gamma and g xhat; dividing by the
         * weight below turns the per-vertex sums into weighted means */
        acc[i] += (double)(dy[c] * gamma[c]);
        acc[nbg + i] += (double)(dy[c] * gamma[c]) * xhat;
      }
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(2 * nbg + 1), MPI_DOUBLE, MPI_SUM, comm));
  if (dX)
    for (PetscInt v = 0; v < S; v++) {
      /* a vertex's value enters the mean with weight w_v / W */
      const double wv = w ? (double)w[v] : 1.0, scale = wv / (acc[2 * nbg] * Cg);
      for (PetscInt b = 0; b < B; b++) {
        const pfreal *x = X + ((size_t)v * B + b) * C, *dy = dY + ((size_t)v * B + b) * C;
        pfreal       *dx = dX + ((size_t)v * B + b) * C;
        for (PetscInt c = 0; c < C; c++) {
          const PetscInt i    = b * G + c / Cg;
          const double   xhat = (double)((x[c] - mean[i]) * rstd[i]);
          dx[c]               = (pfreal)((double)rstd[i] * ((double)(dy[c] * gamma[c]) - scale * (acc[i] + xhat * acc[nbg + i])));
        }
      }
    }
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(PETSC_SUCCESS);
}
