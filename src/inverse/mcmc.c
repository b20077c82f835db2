/* Reference posteriors by MCMC: preconditioned Crank-Nicolson on the
 * latent prior variables of the inputs (include/physflow/inverse.h).
 *
 * pCN (Cotter, Roberts, Stuart & White 2013, "MCMC methods for functions")
 * proposes xi' = sqrt(1 - beta^2) xi + beta z, z ~ N(0, I), which leaves
 * the Gaussian prior invariant, so the acceptance probability is
 * min(1, exp(Phi(xi) - Phi(xi'))) with Phi the data misfit alone and does
 * not degrade with the number of latent variables.  Every rank of the
 * physics' group runs the same chain (same random numbers, the misfit
 * broadcast from the group's first rank) around collective solves, as the
 * MAP estimate does. */
#include <physflow/inverse.h>
#include <physflow/rng.h>
#include <physflow/private/physicsimpl.h>

typedef struct {
  PFPhysics      phys;
  PFObsOperator *H;
  PetscInt       field;
  const double  *y;
  double         sigma, *r;
} Misfit;

/* Phi(xi) (PFObsMisfit, state into x), a failed solve as Phi = inf, the
 * same on every rank of the group (its first rank's value) */
static PetscErrorCode MisfitEvaluate(Misfit *mf, const double xi[], PetscScalar *x, double *phi)
{
  PetscErrorCode ierr;
  PetscMPIInt    size;

  PetscFunctionBegin;
  ierr = PFObsMisfit(mf->phys, mf->H, mf->field, mf->y, mf->sigma, xi, x, mf->r, phi);
  if (ierr == PETSC_ERR_NOT_CONVERGED) *phi = PETSC_INFINITY;
  else PetscCall(ierr);
  PetscCallMPI(MPI_Comm_size(mf->H->comm, &size));
  if (size > 1) PetscCallMPI(MPI_Bcast(phi, 1, MPI_DOUBLE, 0, mf->H->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMCMCChain(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const PFMCMCParams *p, const double xi0[], uint64_t seed, PetscInt chain, PetscInt rows, PetscScalar *X, PFMCMCStats *st)
{
  Misfit       mf = {.phys = phys, .H = H, .field = field, .y = y, .sigma = sigma};
  PetscInt     m, n, nf, acc = 0, acc_window = 0, steps, cur = 0;
  double      *xi[2], phi, beta = p->beta;
  PetscScalar *x[2];
  size_t       ns;
  PFRNG        rng;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(phys, &m));
  PetscCheck(m > 0, phys->comm, PETSC_ERR_SUP, "MCMC needs a latent prior map of the inputs (Darcy: -darcy_field kl)");
  PetscCheck(p->burn >= 0 && p->thin >= 1 && beta > 0 && beta <= 1, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "MCMC needs burn-in >= 0, thinning >= 1 and a step in (0, 1]");
  PetscCall(PFPhysicsGetVertexMap(phys, &n, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, NULL, NULL));
  ns = (size_t)nf * n;
  /* the current state and the proposal, [cur] and [1 - cur] */
  PetscCall(PetscMalloc3(2 * m, &xi[0], H->nobs + 1, &mf.r, 2 * ns + 1, &x[0]));
  xi[1] = xi[0] + m, x[1] = x[0] + ns;
  for (PetscInt k = 0; k < m; k++) xi[0][k] = xi0 ? xi0[k] : 0;
  PetscCall(MisfitEvaluate(&mf, xi[0], x[0], &phi));
  PetscCheck(phi < PETSC_INFINITY, phys->comm, PETSC_ERR_NOT_CONVERGED, "MCMC: the solve at the chain's start failed");
  PFRNGInit(&rng, seed, PF_RNG_MCMC, (uint64_t)chain, 0);
  steps = p->burn + rows * p->thin;
  for (PetscInt s = 0; s < steps; s++) {
    const double c = sqrt(1 - beta * beta);
    double       phip;
    for (PetscInt k = 0; k < m; k++) xi[1 - cur][k] = c * xi[cur][k] + beta * PFRNGNormal(&rng);
    PetscCall(MisfitEvaluate(&mf, xi[1 - cur], x[1 - cur], &phip));
    if (log(PFRNGUniform(&rng)) < phi - phip) {
      cur = 1 - cur, phi = phip;
      acc_window++;
      if (s >= p->burn) acc++;
    }
    /* burn-in: steer the step towards an acceptance rate of about 0.25
     * (near the optimum for random-walk proposals), in windows of 50 */
    if (s < p->burn && (s + 1) % 50 == 0) {
      const double rate = acc_window / 50.0;
      if (rate > 0.3) beta = PetscMin(1.0, beta * 1.25);
      else if (rate < 0.2) beta *= 0.8;
      acc_window = 0;
    }
    if (s >= p->burn && (s - p->burn + 1) % p->thin == 0) PetscCall(PetscArraycpy(X + (size_t)((s - p->burn) / p->thin) * ns, x[cur], ns));
  }
  st->acceptance = rows * p->thin > 0 ? (double)acc / (double)(rows * p->thin) : NAN;
  st->beta       = beta;
  PetscCall(PetscFree3(xi[0], mf.r, x[0]));
  PetscFunctionReturn(PETSC_SUCCESS);
}
