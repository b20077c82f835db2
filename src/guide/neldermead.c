/* Nelder-Mead minimisation of a few schedule parameters (the objective is a
 * guided sampling run: no gradients, a handful of parameters) */
#include <math.h>
#include <physflow/guide.h>

#define NM_MAXD 8

PetscErrorCode PFNelderMead(MPI_Comm comm, PetscInt d, double th[], const double step[], PFGuideObjectiveFn fn, void *ctx, PetscInt maxeval, double *Jbest)
{
  double   S[NM_MAXD + 1][NM_MAXD], J[NM_MAXD + 1], cen[NM_MAXD], r[NM_MAXD], e[NM_MAXD], Jr, Je;
  PetscInt neval = 0;

  PetscFunctionBegin;
  PetscCheck(d >= 1 && d <= NM_MAXD, comm, PETSC_ERR_ARG_OUTOFRANGE, "Nelder-Mead in %" PetscInt_FMT " dimensions", d);
  for (PetscInt k = 0; k <= d; k++) {
    for (PetscInt i = 0; i < d; i++) S[k][i] = th[i] + (k == i + 1 ? step[i] : 0);
    PetscCall(fn(ctx, S[k], &J[k]));
    neval++;
  }
  while (neval < maxeval) {
    PetscInt lo = 0, hi = 0, nh = -1;
    for (PetscInt k = 1; k <= d; k++) {
      if (J[k] < J[lo]) lo = k;
      if (J[k] > J[hi]) hi = k;
    }
    if (hi == lo) hi = (lo + 1) % (d + 1);
    for (PetscInt k = 0; k <= d; k++)
      if (k != hi && (nh < 0 || J[k] > J[nh])) nh = k; /* the second worst */
    {
      double spread = 0;
      for (PetscInt k = 0; k <= d; k++)
        for (PetscInt i = 0; i < d; i++) spread = PetscMax(spread, fabs(S[k][i] - S[lo][i]));
      if (spread < 1e-3 && fabs(J[hi] - J[lo]) <= 1e-6 * (fabs(J[lo]) + 1e-12)) break;
    }
    for (PetscInt i = 0; i < d; i++) {
      cen[i] = 0;
      for (PetscInt k = 0; k <= d; k++)
        if (k != hi) cen[i] += S[k][i] / d;
      r[i] = 2 * cen[i] - S[hi][i];
    }
    PetscCall(fn(ctx, r, &Jr));
    neval++;
    if (Jr < J[lo]) {
      for (PetscInt i = 0; i < d; i++) e[i] = 3 * cen[i] - 2 * S[hi][i];
      PetscCall(fn(ctx, e, &Je));
      neval++;
      if (Je < Jr) Jr = Je, PetscArraycpy(r, e, d);
      PetscCall(PetscArraycpy(S[hi], r, d));
      J[hi] = Jr;
    } else if (Jr < J[nh]) {
      PetscCall(PetscArraycpy(S[hi], r, d));
      J[hi] = Jr;
    } else {
      for (PetscInt i = 0; i < d; i++) e[i] = 0.5 * (cen[i] + S[hi][i]);
      PetscCall(fn(ctx, e, &Je));
      neval++;
      if (Je < J[hi]) {
        PetscCall(PetscArraycpy(S[hi], e, d));
        J[hi] = Je;
      } else
        for (PetscInt k = 0; k <= d; k++) {
          if (k == lo) continue;
          for (PetscInt i = 0; i < d; i++) S[k][i] = 0.5 * (S[k][i] + S[lo][i]);
          PetscCall(fn(ctx, S[k], &J[k]));
          neval++;
        }
    }
    if (neval % 5 == 0 || neval >= maxeval) {
      PetscInt b = 0;
      for (PetscInt k = 1; k <= d; k++)
        if (J[k] < J[b]) b = k;
      PetscCall(PetscPrintf(comm, "  tuning: %3" PetscInt_FMT " evaluations, best objective %.4e\n", neval, J[b]));
    }
  }
  {
    PetscInt b = 0;
    for (PetscInt k = 1; k <= d; k++)
      if (J[k] < J[b]) b = k;
    PetscCall(PetscArraycpy(th, S[b], d));
    *Jbest = J[b];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
