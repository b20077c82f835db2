/* The adjoint summary of a sensor set at its Kalman estimate: an input
 * channel set of conditional models (train -cond_kalman_adjoint; issue 7).
 *
 * Why: the Kalman estimate x_lin is the best LINEAR function of the
 * sensors; what separates it from the MAP (1-3% lower logK error at 64x64)
 * is the PDE's nonlinearity, which a network fed x_lin has to learn from
 * the sensor values alone (measured: it recovers the direction of the
 * MAP's correction, not its size).  The PDE tells it directly where x_lin
 * is inconsistent with the data: the forward solve p(K_lin) at the
 * estimate's inputs, and the gradient of the sensor misfit
 *   J(K) = |H p(K) - y|^2 / 2   (normalised units)
 * with respect to the inputs, by one adjoint solve -- the first step of
 * the MAP's own optimisation.  Gradients of the data misfit as inputs of
 * conditional generative models are Orozco et al. 2023's "physics-informed
 * summary statistics" (arXiv 2305.05627: there at the prior mean, here at
 * the Kalman estimate).
 *
 * The gradient is a density (divided by the vertex's lumped mass) so that
 * it does not shrink with the mesh size, with respect to the normalised
 * inputs, and compressed by asinh: the adjoint of point sensors is
 * singular at them, and at 64x64 the density's RMS is 1-12 with peaks of
 * 100 beside the sensors, inputs that threw a first training run off
 * (loss 3x the Kalman-only run's at step 600); asinh keeps the sign and
 * small values and turns the peaks into ~5. */
#include <math.h>
#include <physflow/inverse.h>

PetscErrorCode PFKalmanSetPhysics(PFKalman *k, PFPhysics phys, const char *const fields[])
{
  PetscInt           nf, nown;
  const char *const *names;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetFields(phys, &nf, &names, &k->ninputs));
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  PetscCheck(nf == k->nf && nown == k->nown, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "the Kalman adjoint summary needs the physics' %" PetscInt_FMT " fields on its %" PetscInt_FMT " vertices (the ensemble has %" PetscInt_FMT " on %" PetscInt_FMT ")", nf, nown, k->nf, k->nown);
  PetscCheck(nf - k->ninputs == 1, PETSC_COMM_SELF, PETSC_ERR_SUP, "the Kalman adjoint summary needs a physics with one state field (this one has %" PetscInt_FMT ")", nf - k->ninputs);
  for (PetscInt f = 0; f < nf; f++) {
    PetscBool same;
    PetscCall(PetscStrcmp(fields[f], names[f], &same));
    PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "the Kalman adjoint summary needs the physics' fields in its order: field %" PetscInt_FMT " is '%s', the physics' '%s'", f, fields[f], names[f]);
  }
  k->phys = phys;
  PetscCall(PetscFree3(k->X, k->g, k->b));
  PetscCall(PetscMalloc3((size_t)nf * nown + 1, &k->X, (size_t)nf * nown + 1, &k->g, nown + 1, &k->b));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKalmanAdjointSummary(PFKalman *k, PFObsOperator *H, PetscInt field, const double y[], const pfreal *xlin, pfreal *out)
{
  const PetscInt     nown = k->nown, ni = k->ninputs, nf = k->nf, K = H->nobs;
  PetscScalar       *X = k->X, *g = k->g;
  const PetscScalar *mass;
  PetscErrorCode     ierr;

  PetscFunctionBegin;
  PetscCheck(k->phys, PETSC_COMM_SELF, PETSC_ERR_ORDER, "PFKalmanSetPhysics() first");
  if (K > k->rcap) {
    PetscCall(PetscFree(k->r));
    PetscCall(PetscMalloc1(K, &k->r));
    k->rcap = K;
  }
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt i = 0; i < nown; i++) X[f * nown + i] = (double)xlin[f * nown + i] * k->std[f] + k->mean[f];
  ierr = PFPhysicsSolve(k->phys, PF_FIDELITY_HIGH, 0, 0, X);
  if (ierr == PETSC_ERR_NOT_CONVERGED) {
    /* the solver failed at these inputs (on every rank of the mesh): no
     * summary, i.e. the estimate itself and a zero gradient */
    for (PetscInt q = 0; q < nf * nown; q++) out[q] = q < ni * nown ? 0 : xlin[q];
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(ierr);
  /* r = (H x_field - y) / std_field: dJ/d(H x_field) in physical units */
  for (PetscInt i = 0; i < nown; i++) k->b[i] = (X[field * nown + i] - k->mean[field]) / k->std[field];
  PetscCall(PFObsOperatorApply(H, k->b, k->r));
  for (PetscInt j = 0; j < K; j++) k->r[j] = (k->r[j] - y[j]) / k->std[field];
  PetscCall(PFObsMisfitGradient(k->phys, H, field, X, k->r, k->b, g));
  PetscCall(PFPhysicsGetVertexMass(k->phys, &mass));
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt i = 0; i < nown; i++) {
      const PetscInt q = f * nown + i;
      out[q] = (pfreal)(f < ni ? asinh(PetscRealPart(g[q]) * k->std[f] / PetscRealPart(mass[i])) : (X[q] - k->mean[f]) / k->std[f]);
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}
