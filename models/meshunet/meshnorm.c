#include <math.h>
#include <physflow/meshconv.h>

/* Every pass walks a vertex's row of B*C values with per-(sample, channel)
 * arrays (statistics expanded from the groups, partial sums kept per
 * channel), so the loops are contiguous and vectorise; the per-channel sums
 * are folded into groups once, after the walk.  Sums are accumulated in
 * double and reduced in one call. */

/* per-(sample, channel) copies of a per-(sample, group) quantity */
static void ExpandGroups(PetscInt B, PetscInt C, PetscInt G, const pfreal *q, pfreal *e)
{
  const PetscInt Cg = C / G;
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt c = 0; c < C; c++) e[b * C + c] = q[b * G + c / Cg];
}

/* acc[b*G + g] = sum of the channel sums s[b*C + c] of group g */
static void FoldGroups(PetscInt B, PetscInt C, PetscInt G, const double *s, double *acc)
{
  const PetscInt Cg = C / G;
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt g = 0; g < G; g++) {
      double t = 0;
      for (PetscInt c = g * Cg; c < (g + 1) * Cg; c++) t += s[b * C + c];
      acc[b * G + g] = t;
    }
}

PetscErrorCode PFMeshNormForward(MPI_Comm comm, PetscInt S, PetscInt B, PetscInt C, PetscInt G, const pfreal *w, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd)
{
  const PetscInt Cg = C / G, nbg = B * G, BC = B * C;
  double        *acc, *s, *q, W = 0;
  pfreal        *mu, *rs;

  PetscFunctionBegin;
  PetscCheck(C % G == 0, comm, PETSC_ERR_ARG_INCOMP, "%" PetscInt_FMT " channels cannot be split into %" PetscInt_FMT " groups", C, G);
  PetscCall(PetscCalloc3(2 * nbg + 1, &acc, BC, &s, BC, &q));
  PetscCall(PetscMalloc2(BC, &mu, BC, &rs));
  for (PetscInt v = 0; v < S; v++) {
    const double  wv = w ? (double)w[v] : 1.0;
    const pfreal *x  = X + (size_t)v * BC;
    W += wv;
    for (PetscInt i = 0; i < BC; i++) {
      const double xi = (double)x[i];
      s[i] += wv * xi;
      q[i] += wv * xi * xi;
    }
  }
  FoldGroups(B, C, G, s, acc);
  FoldGroups(B, C, G, q, acc + nbg);
  acc[2 * nbg] = W;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(2 * nbg + 1), MPI_DOUBLE, MPI_SUM, comm));
  for (PetscInt i = 0; i < nbg; i++) {
    double n = acc[2 * nbg] * Cg, m = acc[i] / n, var = acc[nbg + i] / n - m * m;
    mean[i] = (pfreal)m;
    rstd[i] = (pfreal)(1.0 / sqrt(PetscMax(var, 0.0) + PF_NORM_EPS));
  }
  ExpandGroups(B, C, G, mean, mu);
  ExpandGroups(B, C, G, rstd, rs);
  for (PetscInt v = 0; v < S; v++) {
    const pfreal *x = X + (size_t)v * BC;
    pfreal       *y = Y + (size_t)v * BC;
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt c = 0; c < C; c++) {
        const PetscInt i = b * C + c;
        y[i]             = (x[i] - mu[i]) * rs[i] * gamma[c] + beta[c];
      }
  }
  PetscCall(PetscFree3(acc, s, q));
  PetscCall(PetscFree2(mu, rs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* dx = rstd (g - <g> - xhat <g xhat>), g = dy gamma, <.> the weighted group
 * mean over all vertices; the weight enters because each vertex's value
 * counts with weight w_v in the statistics. */
PetscErrorCode PFMeshNormBackward(MPI_Comm comm, PetscInt S, PetscInt B, PetscInt C, PetscInt G, const pfreal *w, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal *dX, pfreal *dgamma, pfreal *dbeta)
{
  const PetscInt Cg = C / G, nbg = B * G, BC = B * C;
  double        *acc, *sg, *sgx, W = 0;
  pfreal        *mu, *rs, *dg, *db;

  PetscFunctionBegin;
  PetscCall(PetscCalloc3(2 * nbg + 1, &acc, BC, &sg, BC, &sgx));
  PetscCall(PetscMalloc2(BC, &mu, BC, &rs));
  PetscCall(PetscCalloc2(BC, &dg, BC, &db));
  ExpandGroups(B, C, G, mean, mu);
  ExpandGroups(B, C, G, rstd, rs);
  for (PetscInt v = 0; v < S; v++) {
    const pfreal *x = X + (size_t)v * BC, *dy = dY + (size_t)v * BC;
    W += w ? (double)w[v] : 1.0;
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt c = 0; c < C; c++) {
        const PetscInt i    = b * C + c;
        const pfreal   xhat = (x[i] - mu[i]) * rs[i], gi = dy[i] * gamma[c];
        dg[i] += dy[i] * xhat;
        db[i] += dy[i];
        /* sums over the group of g = dy gamma and g xhat; dividing by the
         * weight below turns the per-vertex sums into weighted means */
        sg[i] += (double)gi;
        sgx[i] += (double)gi * (double)xhat;
      }
  }
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt c = 0; c < C; c++) {
      dgamma[c] += dg[b * C + c];
      dbeta[c] += db[b * C + c];
    }
  FoldGroups(B, C, G, sg, acc);
  FoldGroups(B, C, G, sgx, acc + nbg);
  acc[2 * nbg] = W;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(2 * nbg + 1), MPI_DOUBLE, MPI_SUM, comm));
  if (dX) {
    /* the group sums, expanded per channel like the statistics */
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt c = 0; c < C; c++) {
        sg[b * C + c]  = acc[b * G + c / Cg];
        sgx[b * C + c] = acc[nbg + b * G + c / Cg];
      }
    for (PetscInt v = 0; v < S; v++) {
      /* a vertex's value enters the mean with weight w_v / W */
      const double  wv = w ? (double)w[v] : 1.0, scale = wv / (acc[2 * nbg] * Cg);
      const pfreal *x = X + (size_t)v * BC, *dy = dY + (size_t)v * BC;
      pfreal       *dx = dX + (size_t)v * BC;
      for (PetscInt b = 0; b < B; b++)
        for (PetscInt c = 0; c < C; c++) {
          const PetscInt i    = b * C + c;
          const double   xhat = (double)((x[i] - mu[i]) * rs[i]);
          dx[i]               = (pfreal)((double)rs[i] * ((double)(dy[i] * gamma[c]) - scale * (sg[i] + xhat * sgx[i])));
        }
    }
  }
  PetscCall(PetscFree3(acc, sg, sgx));
  PetscCall(PetscFree2(mu, rs));
  PetscCall(PetscFree2(dg, db));
  PetscFunctionReturn(PETSC_SUCCESS);
}
