/* Observation conditioning of a conditional model (issue 7,
 * -infer_type conditional): the encoding of a sensor set as two vertex
 * channels, and the random sensor sets of the training samples.
 *
 * Two encodings.  "point": a sensor at an arbitrary point has no vertex of
 * its own; its transpose interpolation spreads it over its cell's vertices
 * with the weights that produced its value, so mask = H^T 1 says where
 * (and how strongly) the field is observed and value = H^T yhat what was
 * seen there.  Measured at 64x64 with 16-64 sensors, that input is too
 * sparse: a U-Net trained 6000 steps on it barely used it (posterior p
 * error 0.47 against MAP's 0.13).  "voronoi" (the default): every vertex
 * gets the value of its nearest sensor and the distance to it (in units of
 * the mean sensor spacing), a dense input the convolutions see everywhere.
 * Training and inference use the same map, so a model trained on random
 * sensor sets takes any sensor set of any size on its mesh. */
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

PetscErrorCode PFObsEncodeVoronoi(PetscInt nobs, const double coords[], const double yhat[], double area, PetscInt nown, const double xy[], pfreal *distance, pfreal *value)
{
  const double spacing = sqrt(area / (double)nobs);

  PetscFunctionBegin;
  for (PetscInt i = 0; i < nown; i++) {
    double   best = INFINITY;
    PetscInt j0   = 0;
    for (PetscInt j = 0; j < nobs; j++) {
      double dx = xy[2 * i] - coords[2 * j], dy = xy[2 * i + 1] - coords[2 * j + 1], d2 = dx * dx + dy * dy;
      if (d2 < best) best = d2, j0 = j;
    }
    value[i]    = (pfreal)yhat[j0];
    distance[i] = (pfreal)(sqrt(best) / spacing);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsConditionerSetUp(PFObsConditioner *oc)
{
  PetscFunctionBegin;
  PetscCheck(oc->nobs_min >= 1 && oc->nobs_max >= oc->nobs_min, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "sensor counts must satisfy 1 <= min <= max (got %" PetscInt_FMT ", %" PetscInt_FMT ")", oc->nobs_min, oc->nobs_max);
  PetscCheck(oc->noise > 0 && isfinite(oc->noise) && oc->std > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "the training observations' noise must be positive");
  PetscCheck(!oc->voronoi || (oc->xy && oc->area > 0), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "the Voronoi encoding needs the vertex coordinates and the domain's area");
  PetscCall(PetscMalloc3(oc->nown + 1, &oc->f, oc->nobs_max, &oc->y, 2 * oc->nobs_max, &oc->xyobs));
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
  PetscCall(PFObsOperatorCreateRandom(oc->phys, oc->seed, PF_RNG_COND, draw, k, oc->xyobs, &H));
  for (PetscInt i = 0; i < oc->nown; i++) oc->f[i] = (PetscScalar)fields[oc->field * oc->nown + i];
  /* normalised values: H is an interpolation (weights sum to 1), so the
   * normalisation commutes with it; the noise scales with 1/std */
  PetscCall(PFObsOperatorApply(&H, oc->f, oc->y));
  PFRNGInit(&r, oc->seed, PF_RNG_COND, draw, 0xfffffffeu);
  for (PetscInt j = 0; j < k; j++) oc->y[j] += oc->noise / oc->std * PFRNGNormal(&r);
  if (oc->voronoi) PetscCall(PFObsEncodeVoronoi(k, oc->xyobs, oc->y, oc->area, oc->nown, oc->xy, channels, channels + oc->nown));
  else PetscCall(PFObsEncode(&H, oc->nown, oc->y, channels, channels + oc->nown));
  if (oc->kalman) {
    pfreal *xlin = channels + 2 * oc->nown;
    PetscCall(PFKalmanEstimate(oc->kalman, &H, oc->field, oc->y, oc->noise / oc->std, xlin));
    if (oc->kalman_adjoint) PetscCall(PFKalmanAdjointSummary(oc->kalman, &H, oc->field, oc->y, xlin, xlin + oc->kalman->nf * oc->nown));
  }
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
  PetscCall(PFH5WriteAttrString(g, "cond_encoding", oc->voronoi ? "voronoi" : "point"));
  if (oc->kalman) {
    PetscCall(PFH5WriteAttrInt(g, "cond_kalman", oc->kalman->N));
    PetscCall(PFH5WriteAttrString(g, "cond_kalman_data", oc->kalman_data));
    if (oc->kalman_adjoint) PetscCall(PFH5WriteAttrInt(g, "cond_kalman_adjoint", 1));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsConditionerDestroy(PFObsConditioner *oc)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(oc->f, oc->y, oc->xyobs));
  PetscFunctionReturn(PETSC_SUCCESS);
}
