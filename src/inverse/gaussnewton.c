/* Gauss-Newton steps on the MAP objective from a given start
 * (include/physflow/inverse.h): the physics' correction of an amortised
 * estimate (infer -infer_gn_steps; issue 7).
 *
 * Why: a conditional network's posterior mean lands within a few percent
 * of the Bayes-optimal estimate in logK error but not on it (its
 * amortisation gap); the exact posterior of the benchmark is close to
 * Gaussian around its MAP (the Laplace-proposal chains accept 30-36% of
 * posterior-sized steps), so from the network's estimate, already in the
 * MAP's basin, a Gauss-Newton step on
 *   J(xi) = |H x_f(xi) - y|^2 / (2 sigma^2) + |xi|^2 / 2
 * closes most of that gap at the cost of one forward and k + 1 adjoint
 * solves (k sensors), where TAO's quasi-Newton MAP from the prior mean
 * takes 27-50 iterations of a forward and an adjoint solve each.  The
 * step solves the m x m system
 *   (I + G^T G / sigma^2) delta = -grad J,   G = d(H x_f)/dxi,
 * whose Cholesky factor is the Laplace factor of the MCMC proposal
 * (PFMCMCLaplaceFactor), and is halved until J decreases (at most four
 * times: a step that does not decrease J ends the iteration where it was). */
#include <physflow/dense.h>
#include <physflow/inverse.h>
#include <physflow/log.h>
#include <physflow/private/physicsimpl.h>

/* J and its gradient at xi, the group's first rank's on every rank (every
 * rank of the group then takes the same steps) */
static PetscErrorCode ObjectiveShared(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, PetscInt m, const double xi[], PetscScalar *x, double *J, double g[])
{
  PetscMPIInt size;

  PetscFunctionBegin;
  PetscCall(PFMAPObjective(phys, H, field, y, sigma, xi, x, J, g));
  PetscCallMPI(MPI_Comm_size(H->comm, &size));
  if (size > 1) {
    PetscCallMPI(MPI_Bcast(J, 1, MPI_DOUBLE, 0, H->comm));
    PetscCallMPI(MPI_Bcast(g, (PetscMPIInt)m, MPI_DOUBLE, 0, H->comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* J at xi (forward solve only), inf where the solve fails; x: its state */
static PetscErrorCode ObjectiveValue(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, PetscInt m, const double xi[], PetscScalar *x, double *r, double *J)
{
  PetscFunctionBegin;
  PetscCall(PFObsMisfitShared(phys, H, field, y, sigma, xi, x, r, J));
  for (PetscInt k = 0; k < m; k++) *J += 0.5 * xi[k] * xi[k]; /* inf stays inf */
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMAPGaussNewton(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, PetscInt steps, double xi[], PetscScalar *x, PFGaussNewtonStats *st, double *Lout)
{
  PetscInt m;
  double  *g, *L, *d, *trial, *r, J;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(phys, &m));
  PetscCheck(m > 0, phys->comm, PETSC_ERR_SUP, "Gauss-Newton MAP steps need a latent prior map of the inputs (Darcy: -darcy_field kl)");
  PetscCheck(steps >= 0, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "Gauss-Newton steps must be >= 0, got %" PetscInt_FMT, steps);
  PetscCall(PetscMalloc5(m, &g, (size_t)m * m, &L, m, &d, m, &trial, H->nobs + 1, &r));
  PetscCall(PetscLogEventBegin(PF_EVENT_Refine, 0, 0, 0, 0));
  {
    /* a failed solve here is the caller's to catch: nothing left behind */
    PetscErrorCode ierr = ObjectiveShared(phys, H, field, y, sigma, m, xi, x, &J, g);
    if (ierr) {
      PetscCall(PetscLogEventEnd(PF_EVENT_Refine, 0, 0, 0, 0));
      PetscCall(PetscFree5(g, L, d, trial, r));
    }
    PetscCall(ierr);
  }
  st->J0 = J, st->steps = 0;
  for (PetscInt s = 0; s < steps; s++) {
    double Jt = PETSC_INFINITY, alpha = 1;
    /* x holds the state at xi: G there, the factor of I + G^T G / sigma^2 */
    PetscCall(PFMCMCLaplaceFactor(phys, H, field, sigma, x, L));
    if (Lout) PetscCall(PetscArraycpy(Lout, L, (size_t)m * m));
    for (PetscInt k = 0; k < m; k++) d[k] = -g[k];
    PFCholeskySolveLower(m, L, d);
    PFCholeskySolveUpper(m, L, d);
    for (PetscInt h = 0; h <= 4; h++, alpha *= 0.5) {
      for (PetscInt k = 0; k < m; k++) trial[k] = xi[k] + alpha * d[k];
      PetscCall(ObjectiveValue(phys, H, field, y, sigma, m, trial, x, r, &Jt));
      if (Jt < J) break;
    }
    if (!(Jt < J)) {
      /* no decrease along the step: back to the state at xi (a forward
       * solve; J is unchanged) */
      PetscCall(ObjectiveValue(phys, H, field, y, sigma, m, xi, x, r, &Jt));
      break;
    }
    PetscCall(PetscArraycpy(xi, trial, m));
    st->steps++;
    /* the gradient at the new point, for the next step (x: its state) */
    if (s + 1 < steps) PetscCall(ObjectiveShared(phys, H, field, y, sigma, m, xi, x, &J, g));
    else J = Jt;
  }
  st->J = J;
  PetscCall(PetscLogEventEnd(PF_EVENT_Refine, 0, 0, 0, 0));
  PetscCall(PetscFree5(g, L, d, trial, r));
  PetscFunctionReturn(PETSC_SUCCESS);
}
