/* Observation conditioning of a conditional model (issue 7,
 * -infer_type conditional): the encoding of a sensor set as two vertex
 * channels, and the random sensor sets of the training samples.
 *
 * Why H^T: a sensor at an arbitrary point has no vertex of its own; its
 * transpose interpolation spreads it over its cell's vertices with the
 * weights that produced its value, so mask = H^T 1 says where (and how
 * strongly) the field is observed and value = H^T yhat what was seen
 * there.  Training and inference use the same map, so a model trained on
 * random sensor sets takes any sensor set of any size on its mesh. */
#include <math.h>
#include <physflow/h5util.h>
#include <physflow/inverse.h>

PetscErrorCode PFObsEncode(PFObsOperator *H, PetscInt nown, const double yhat[], pfreal *mask, pfreal *value)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < nown; i++) mask[i] = value[i] = 0;
  for (PetscInt e = 0; e < H->nent; e++) {
    mask[H->vert[e]] += (pfreal)H->w[e];
    value[H->vert[e]] += (pfreal)(H->w[e] * yhat[H->obs[e]]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsConditionerSetUp(PFObsConditioner *oc)
{
  PetscFunctionBegin;
  PetscCheck(oc->nobs_min >= 1 && oc->nobs_max >= oc->nobs_min, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "sensor counts must satisfy 1 <= min <= max (got %" PetscInt_FMT ", %" PetscInt_FMT ")", oc->nobs_min, oc->nobs_max);
  PetscCheck(oc->noise > 0 && isfinite(oc->noise) && oc->std > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "the training observations' noise must be positive");
  PetscCall(PetscMalloc2(oc->nown + 1, &oc->f, oc->nobs_max, &oc->y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsConditionerFill(void *ctx, uint64_t draw, const pfreal *fields, pfreal *channels)
{
  PFObsConditioner *oc = (PFObsConditioner *)ctx;
  PFObsOperator     H;
  PFRNG             r;
  PetscInt          k;

  PetscFunctionBegin;
  /* the sensor count, then positions (streams 0..k-1), then the noise */
  PFRNGInit(&r, oc->seed, PF_RNG_COND, draw, 0xffffffffu);
  k = oc->nobs_min + (PetscInt)PFRNGBelow(&r, (uint32_t)(oc->nobs_max - oc->nobs_min + 1));
  PetscCall(PFObsOperatorCreateRandom(oc->phys, oc->seed, PF_RNG_COND, draw, k, &H));
  for (PetscInt i = 0; i < oc->nown; i++) oc->f[i] = (PetscScalar)fields[oc->field * oc->nown + i];
  /* normalised values: H is an interpolation (weights sum to 1), so the
   * normalisation commutes with it; the noise scales with 1/std */
  PetscCall(PFObsOperatorApply(&H, oc->f, oc->y));
  PFRNGInit(&r, oc->seed, PF_RNG_COND, draw, 0xfffffffeu);
  for (PetscInt j = 0; j < k; j++) oc->y[j] += oc->noise / oc->std * PFRNGNormal(&r);
  PetscCall(PFObsEncode(&H, oc->nown, oc->y, channels, channels + oc->nown));
  PetscCall(PFObsOperatorDestroy(&H));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsConditionerWrite(void *ctx, hid_t g)
{
  PFObsConditioner *oc = (PFObsConditioner *)ctx;

  PetscFunctionBegin;
  PetscCall(PFH5WriteAttrString(g, "condition", "obs"));
  PetscCall(PFH5WriteAttrString(g, "cond_field", oc->fieldname));
  PetscCall(PFH5WriteAttrInt(g, "cond_nobs_min", oc->nobs_min));
  PetscCall(PFH5WriteAttrInt(g, "cond_nobs_max", oc->nobs_max));
  PetscCall(PFH5WriteAttrReal(g, "cond_noise", oc->noise));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsConditionerDestroy(PFObsConditioner *oc)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(oc->f, oc->y));
  PetscFunctionReturn(PETSC_SUCCESS);
}
