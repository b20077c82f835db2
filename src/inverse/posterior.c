/* The observation-guided velocity of include/physflow/inverse.h */
#include <physflow/inverse.h>
#include <physflow/private/netimpl.h>
#include <physflow/private/physicsimpl.h>

PetscErrorCode PFPosteriorGuideSetUp(PFPosteriorGuide *pg)
{
  const size_t n = (size_t)pg->nf * pg->nown;

  PetscFunctionBegin;
  pg->maxbatch = pg->net->maxbatch;
  PetscCheck(pg->maxbatch > 0, PETSC_COMM_SELF, PETSC_ERR_ORDER, "call PFNetPlan before PFPosteriorGuideSetUp");
  PetscCheck(pg->field >= 0 && pg->field < pg->nf && pg->sigma > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "posterior guidance: bad field or sigma");
  PetscCall(PetscMalloc4(pg->maxbatch, &pg->tbuf, pg->maxbatch * n, &pg->x1, pg->maxbatch * n, &pg->g, pg->maxbatch * n, &pg->jt));
  {
    PetscInt nres = pg->nown;
    if (pg->phys) PetscCall(PFPhysicsGetResidualSize(pg->phys, &nres));
    PetscCall(PetscMalloc5(n, &pg->xp, n, &pg->gp, PetscMax(nres, pg->nown) + 1, &pg->R, pg->H->nobs, &pg->hy, n, &pg->gr));
  }
  PetscCall(pg->phys->ops.forcingnorm(pg->phys, &pg->fnorm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPosteriorGuideDestroy(PFPosteriorGuide *pg)
{
  PetscFunctionBegin;
  PetscCall(PetscFree4(pg->tbuf, pg->x1, pg->g, pg->jt));
  PetscCall(PetscFree5(pg->xp, pg->gp, pg->R, pg->hy, pg->gr));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* g = grad of L at the normalised state x1 (one state), the likelihood
 * variance inflated by r2 (field units) */
static PetscErrorCode LikelihoodGradient(PFPosteriorGuide *pg, const pfreal *x1, double r2, pfreal *g)
{
  const PetscInt nown = pg->nown, nf = pg->nf;

  PetscFunctionBegin;
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt i = 0; i < nown; i++) pg->xp[f * nown + i] = (double)x1[f * nown + i] * pg->std[f] + pg->mean[f];
  PetscCall(PetscArrayzero(pg->gp, (size_t)nf * nown));
  PetscCall(PFObsOperatorApply(pg->H, pg->xp + pg->field * nown, pg->hy));
  for (PetscInt j = 0; j < pg->H->nobs; j++) pg->hy[j] = (pg->hy[j] - pg->y[j]) / (pg->sigma * pg->sigma + r2);
  PetscCall(PFObsOperatorApplyTransposeAdd(pg->H, pg->hy, pg->gp + pg->field * nown));
  if (pg->wres > 0) {
    /* w J_R^T R / |F|^2: the gradient of w |R|^2 / (2 |F|^2) */
    PetscCall(PFPhysicsResidual(pg->phys, 1, pg->xp, pg->R));
    PetscCall(PFPhysicsResidualVJP(pg->phys, 1, pg->xp, pg->R, pg->gr));
    for (PetscInt q = 0; q < nf * nown; q++) pg->gp[q] += pg->wres * pg->gr[q] / (pg->fnorm * pg->fnorm);
  }
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt i = 0; i < nown; i++) g[f * nown + i] = (pfreal)(PetscRealPart(pg->gp[f * nown + i]) * pg->std[f]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFPosteriorGuideVelocity(void *ctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  PFPosteriorGuide *pg = (PFPosteriorGuide *)ctx;
  const size_t      n  = (size_t)pg->nf * pg->nown;
  const double      c  = pg->scale * (1 - t) / (t + 0.05);
  /* the x1 estimate's own uncertainty, Var[x1 | x_t] = (1 - t)^2 / (t^2 +
   * (1 - t)^2) per unit data variance for the straight path with Gaussian
   * data (the PiGDM correction, Song et al. 2023): without it the drift's
   * stiffness |H|^2 / sigma^2 makes the sampler unstable for small sigma */
  const double      r2 = PetscSqr(1 - t) / (t * t + PetscSqr(1 - t)) * PetscSqr(pg->std[pg->field]);

  PetscFunctionBegin;
  for (PetscInt b0 = 0; b0 < nloc; b0 += pg->maxbatch) {
    const PetscInt nb = PetscMin(pg->maxbatch, nloc - b0);
    const size_t   N  = (size_t)nb * n;
    const pfreal  *xb = x + (size_t)b0 * n;
    pfreal        *vb = v + (size_t)b0 * n;
    for (PetscInt j = 0; j < nb; j++) pg->tbuf[j] = (pfreal)t;
    PetscCall(PFNetForward(pg->net, nb, xb, pg->tbuf, vb));
    for (size_t q = 0; q < N; q++) pg->x1[q] = xb[q] + (pfreal)(1 - t) * vb[q];
    for (PetscInt j = 0; j < nb; j++) PetscCall(LikelihoodGradient(pg, pg->x1 + (size_t)j * n, r2, pg->g + (size_t)j * n));
    /* J^T g = g + (1 - t) (dv/dx)^T g: one backward */
    for (size_t q = 0; q < N; q++) pg->jt[q] = (pfreal)(1 - t) * pg->g[q];
    PetscCall(PFNetBackward(pg->net, nb, pg->jt, pg->x1));
    for (size_t q = 0; q < N; q++) vb[q] -= (pfreal)(c * ((double)pg->g[q] + (double)pg->x1[q]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
