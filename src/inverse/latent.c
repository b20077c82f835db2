/* The latent parameter predictor phi (issue 7, -infer_type latent; after
 * Tauberschmidt et al. 2025): its prediction and the gradient of the
 * label-free residual loss that trains it (include/physflow/inverse.h). */
#include <physflow/inverse.h>
#include <physflow/private/netimpl.h>

PetscErrorCode PFLatentSetUp(PFLatent *lt, PetscInt maxbatch)
{
  const size_t nf = (size_t)(lt->ninputs + lt->nstate) * lt->nown;

  PetscFunctionBegin;
  PetscCheck(lt->ninputs == lt->nstate, PETSC_COMM_SELF, PETSC_ERR_SUP, "the latent predictor maps %" PetscInt_FMT " state field(s) to %" PetscInt_FMT " input field(s): only equal counts are supported (the mesh network keeps its channel count)", lt->nstate, lt->ninputs);
  lt->maxbatch = maxbatch;
  PetscCall(PFNetPlan(lt->phi, maxbatch));
  PetscCall(PetscMalloc5(maxbatch, &lt->tbuf, maxbatch * nf + 1, &lt->x, maxbatch * nf + 1, &lt->gx, (size_t)maxbatch * lt->ninputs * lt->nown + 1, &lt->dg, maxbatch, &lt->one));
  for (PetscInt b = 0; b < maxbatch; b++) lt->tbuf[b] = 1, lt->one[b] = 1;
  lt->Mtot = 0;
  if (lt->phys) PetscCall(PFPhysicsGetDomainMeasure(lt->phys, &lt->Mtot));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFLatentPredict(PFLatent *lt, PetscInt B, const pfreal *state, pfreal *inputs)
{
  PetscFunctionBegin;
  PetscCheck(B <= lt->maxbatch, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "batch %" PetscInt_FMT " beyond the planned %" PetscInt_FMT, B, lt->maxbatch);
  PetscCall(PFNetForward(lt->phi, B, state, lt->tbuf, inputs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFLatentLossGradient(PFLatent *lt, PetscInt B, PetscInt Bg, const pfreal *state, double *lsum)
{
  const size_t ni = (size_t)lt->ninputs * lt->nown, ns = (size_t)lt->nstate * lt->nown, n = ni + ns;

  PetscFunctionBegin;
  *lsum = 0;
  PetscCall(PFLatentPredict(lt, B, state, lt->dg));
  for (PetscInt b = 0; b < B; b++) {
    PetscCall(PetscArraycpy(lt->x + b * n, lt->dg + b * ni, ni));
    PetscCall(PetscArraycpy(lt->x + b * n + ni, state + b * ns, ns));
  }
  PetscCall(PFConstraintStateLoss(lt->c, B, Bg, lt->x, lt->one, lsum, lt->gx));
  /* the state is data: only the inputs' part of the gradient goes back */
  if (lt->prior > 0) {
    /* the prior term on phi's output (still in dg) */
    const PetscScalar *mass;
    PetscCall(PFPhysicsGetVertexMass(lt->phys, &mass));
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < lt->ninputs; f++)
        for (PetscInt i = 0; i < lt->nown; i++) {
          size_t k = (size_t)b * ni + (size_t)f * lt->nown + i;
          double g = (double)lt->dg[k], m = PetscRealPart(mass[i]) / lt->Mtot;
          *lsum += lt->prior * m * g * g;
          lt->gx[(size_t)b * n + (size_t)f * lt->nown + i] += (pfreal)(2 * lt->prior * m * g / (double)Bg);
        }
  }
  for (PetscInt b = 0; b < B; b++) PetscCall(PetscArraycpy(lt->dg + b * ni, lt->gx + b * n, ni));
  PetscCall(PFNetBackward(lt->phi, B, lt->dg, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFLatentLift(void *ctx, PetscInt B, const pfreal *state, pfreal *full)
{
  PFLatent    *lt = (PFLatent *)ctx;
  const size_t ni = (size_t)lt->ninputs * lt->nown, ns = (size_t)lt->nstate * lt->nown;

  PetscFunctionBegin;
  PetscCall(PFLatentPredict(lt, B, state, lt->dg)); /* its activations stay for the VJP */
  for (PetscInt b = 0; b < B; b++) {
    PetscCall(PetscArraycpy(full + b * (ni + ns), lt->dg + b * ni, ni));
    PetscCall(PetscArraycpy(full + b * (ni + ns) + ni, state + b * ns, ns));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFLatentLiftVJP(void *ctx, PetscInt B, const pfreal *gfull, pfreal *gstate)
{
  PFLatent    *lt = (PFLatent *)ctx;
  const size_t ni = (size_t)lt->ninputs * lt->nown, ns = (size_t)lt->nstate * lt->nown;

  PetscFunctionBegin;
  /* d/dx <g, [phi(x), x]> = g_state + (dphi/dx)^T g_inputs; phi's own
   * parameter gradient, accumulated on the way, is not used (phi is frozen) */
  for (PetscInt b = 0; b < B; b++) PetscCall(PetscArraycpy(lt->dg + b * ni, gfull + b * (ni + ns), ni));
  PetscCall(PFNetBackward(lt->phi, B, lt->dg, lt->x));
  for (PetscInt b = 0; b < B; b++)
    for (size_t q = 0; q < ns; q++) gstate[b * ns + q] = gfull[b * (ni + ns) + ni + q] + lt->x[b * ns + q];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFLatentDestroy(PFLatent *lt)
{
  PetscFunctionBegin;
  PetscCall(PetscFree5(lt->tbuf, lt->x, lt->gx, lt->dg, lt->one));
  PetscFunctionReturn(PETSC_SUCCESS);
}
