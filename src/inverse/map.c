/* MAP estimates by PDE-constrained optimisation with TAO
 * (include/physflow/inverse.h) */
#include <petsctao.h>
#include <physflow/inverse.h>
#include <physflow/private/physicsimpl.h>

typedef struct {
  PFPhysics      phys;
  PFObsOperator *H;
  PetscInt       field, m, n, nf;
  const double  *y;
  double         sigma, *r, *gxi, *xi;
  PetscScalar   *x, *b, *gx;
  TaoConvergedReason reason;
} MAPCtx;

PetscErrorCode PFObsMisfit(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const double xi[], PetscScalar *x, double r[], double *phi)
{
  PetscInt       n;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(phys, &n, NULL));
  PetscCall(PFPhysicsInputsFromLatent(phys, xi, x));
  /* a failed solve goes back to the caller as is: a trial point outside
   * the solver's domain, not an error of the run */
  ierr = PFPhysicsSolve(phys, PF_FIDELITY_HIGH, 0, 0, x);
  if (ierr == PETSC_ERR_NOT_CONVERGED) PetscFunctionReturn(ierr);
  PetscCall(ierr);
  PetscCall(PFObsOperatorApply(H, x + field * n, r));
  *phi = 0;
  for (PetscInt j = 0; j < H->nobs; j++) {
    r[j] = (r[j] - y[j]) / sigma;
    *phi += 0.5 * r[j] * r[j];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsMisfitShared(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const double xi[], PetscScalar *x, double r[], double *phi)
{
  PetscErrorCode ierr;
  PetscMPIInt    size;

  PetscFunctionBegin;
  ierr = PFObsMisfit(phys, H, field, y, sigma, xi, x, r, phi);
  if (ierr == PETSC_ERR_NOT_CONVERGED) *phi = PETSC_INFINITY;
  else PetscCall(ierr);
  PetscCallMPI(MPI_Comm_size(H->comm, &size));
  if (size > 1) PetscCallMPI(MPI_Bcast(phi, 1, MPI_DOUBLE, 0, H->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFObsMisfitGradient(PFPhysics phys, PFObsOperator *H, PetscInt field, const PetscScalar *x, const double r[], PetscScalar *b, PetscScalar *gx)
{
  PetscInt n, nf, ni;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(phys, &n, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, NULL, &ni));
  PetscCall(PetscArrayzero(b, n));
  PetscCall(PFObsOperatorApplyTransposeAdd(H, r, b));
  PetscCall(PetscArrayzero(gx, nf * n));
  if (field < ni) {
    for (PetscInt i = 0; i < n; i++) gx[field * n + i] = b[i];
  } else {
    /* a state field: through the PDE (the adjoint) */
    PetscCall(PFPhysicsStateAdjoint(phys, x, b, gx));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* J(c->xi) and its gradient gxi (c->gxi) */
static PetscErrorCode Evaluate(MAPCtx *c, double *Jout)
{
  double J;

  PetscFunctionBegin;
  PetscCall(PFObsMisfit(c->phys, c->H, c->field, c->y, c->sigma, c->xi, c->x, c->r, &J));
  for (PetscInt j = 0; j < c->H->nobs; j++) c->r[j] /= c->sigma; /* dJ/d(H x) */
  for (PetscInt k = 0; k < c->m; k++) J += 0.5 * c->xi[k] * c->xi[k];
  PetscCall(PFObsMisfitGradient(c->phys, c->H, c->field, c->x, c->r, c->b, c->gx));
  PetscCall(PFPhysicsLatentVJP(c->phys, c->gx, c->gxi));
  for (PetscInt k = 0; k < c->m; k++) c->gxi[k] += c->xi[k];
  *Jout = J;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ObjectiveGradient(Tao tao, Vec X, PetscReal *f, Vec G, void *vctx)
{
  MAPCtx            *c = (MAPCtx *)vctx;
  const PetscScalar *xv;
  PetscScalar       *gv;
  double             J;

  PetscFunctionBegin;
  (void)tao;
  PetscCall(VecGetArrayRead(X, &xv));
  for (PetscInt k = 0; k < c->m; k++) c->xi[k] = PetscRealPart(xv[k]);
  PetscCall(VecRestoreArrayRead(X, &xv));
  {
    /* a trial point whose permeability the solver cannot handle (a long
     * quasi-Newton step into exp(huge)) is outside the domain: an infinite
     * objective makes the line search step back (the failure is the same
     * on every rank of the group) */
    PetscErrorCode ierr = Evaluate(c, &J);
    if (ierr == PETSC_ERR_NOT_CONVERGED) {
      J = PETSC_INFINITY;
      for (PetscInt k = 0; k < c->m; k++) c->gxi[k] = 0;
    } else PetscCall(ierr);
  }
  {
    /* every rank of the group runs its own copy of TAO: they stay in step
     * only with bit-identical values, so the group's first rank decides */
    MPI_Comm    comm = c->H->comm;
    PetscMPIInt size;
    PetscCallMPI(MPI_Comm_size(comm, &size));
    if (size > 1) {
      PetscCallMPI(MPI_Bcast(&J, 1, MPI_DOUBLE, 0, comm));
      PetscCallMPI(MPI_Bcast(c->gxi, (PetscMPIInt)c->m, MPI_DOUBLE, 0, comm));
    }
  }
  PetscCall(VecGetArray(G, &gv));
  for (PetscInt k = 0; k < c->m; k++) gv[k] = c->gxi[k];
  PetscCall(VecRestoreArray(G, &gv));
  *f = J;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MAPCtxSetUp(MAPCtx *c, PetscScalar *x)
{
  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(c->phys, &c->m));
  PetscCheck(c->m > 0, c->phys->comm, PETSC_ERR_SUP, "MAP estimates need a latent prior map of the inputs (Darcy: -darcy_field kl)");
  PetscCall(PFPhysicsGetVertexMap(c->phys, &c->n, NULL));
  PetscCall(PFPhysicsGetFields(c->phys, &c->nf, NULL, NULL));
  PetscCall(PetscMalloc3(c->H->nobs + 1, &c->r, c->m, &c->gxi, c->m, &c->xi));
  PetscCall(PetscMalloc2(c->n + 1, &c->b, c->nf * c->n + 1, &c->gx));
  c->x = x;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MAPCtxDestroy(MAPCtx *c)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(c->r, c->gxi, c->xi));
  PetscCall(PetscFree2(c->b, c->gx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMAPObjective(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const double xi[], PetscScalar *x, double *J, double gxi[])
{
  MAPCtx c = {.phys = phys, .H = H, .field = field, .y = y, .sigma = sigma};

  PetscFunctionBegin;
  PetscCall(MAPCtxSetUp(&c, x));
  for (PetscInt k = 0; k < c.m; k++) c.xi[k] = xi[k];
  PetscCall(Evaluate(&c, J));
  if (gxi)
    for (PetscInt k = 0; k < c.m; k++) gxi[k] = c.gxi[k];
  PetscCall(MAPCtxDestroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMAPEstimate(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, PetscScalar *x, PetscInt *its, double *J, double xi[])
{
  MAPCtx c = {.phys = phys, .H = H, .field = field, .y = y, .sigma = sigma};
  Tao    tao;
  Vec    X;

  PetscFunctionBegin;
  PetscCall(MAPCtxSetUp(&c, x));
  /* every rank of the group runs the same (small) optimisation on its own
   * copy of xi; the evaluations are collective and give identical values */
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, c.m, &X));
  PetscCall(VecSet(X, 0));
  PetscCall(TaoCreate(PETSC_COMM_SELF, &tao));
  /* bounded quasi-Newton: |xi_k| <= 6 (six prior standard deviations)
   * keeps the first, unscaled steps out of permeabilities exp(huge) */
  PetscCall(TaoSetType(tao, TAOBLMVM));
  {
    Vec lo, hi;
    PetscCall(VecDuplicate(X, &lo));
    PetscCall(VecDuplicate(X, &hi));
    PetscCall(VecSet(lo, -6));
    PetscCall(VecSet(hi, 6));
    PetscCall(TaoSetVariableBounds(tao, lo, hi));
    PetscCall(VecDestroy(&lo));
    PetscCall(VecDestroy(&hi));
  }
  PetscCall(TaoSetOptionsPrefix(tao, "map_"));
  PetscCall(TaoSetSolution(tao, X));
  PetscCall(TaoSetObjectiveAndGradient(tao, NULL, ObjectiveGradient, &c));
  /* |grad J| <= 1e-3: J's Hessian near the optimum is the identity (the
   * prior, in these whitened variables) plus the positive semi-definite
   * Gauss-Newton term (and a residual-curvature term, small where the data
   * are fitted), so the estimate is then within ~1e-3 prior standard
   * deviations of the optimum, far inside the posterior's width.  A
   * tighter stop changes nothing that is measured: on 20 sets at 64x64
   * the logK error moved by at most 3e-5 (16 sensors) / 5e-5 (64) against
   * 1e-6, which took 5.7x / 5.0x the iterations (177 / 260 against 31 /
   * 52).  -map_tao_gatol overrides. */
  PetscCall(TaoSetTolerances(tao, 1e-3, 0, 0));
  PetscCall(TaoSetMaximumIterations(tao, 500));
  PetscCall(TaoSetFromOptions(tao));
  PetscCall(TaoSolve(tao));
  PetscCall(TaoGetIterationNumber(tao, its));
  {
    TaoConvergedReason reason;
    PetscCall(TaoGetConvergedReason(tao, &reason));
    if (reason < 0) PetscCall(PetscInfo(NULL, "MAP: TAO did not converge (%s)\n", TaoConvergedReasons[reason]));
    c.reason = reason;
  }
  {
    /* the state at the solution */
    PetscReal f;
    Vec       G;
    PetscCall(VecDuplicate(X, &G));
    PetscCall(ObjectiveGradient(tao, X, &f, G, &c));
    PetscCheck(f < PETSC_INFINITY, phys->comm, PETSC_ERR_NOT_CONVERGED, "MAP: the solve at the optimiser's final point failed");
    *J = f;
    if (xi) PetscCall(PetscArraycpy(xi, c.xi, c.m));
    PetscCall(VecDestroy(&G));
  }
  PetscCall(TaoDestroy(&tao));
  PetscCall(VecDestroy(&X));
  PetscCall(MAPCtxDestroy(&c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
