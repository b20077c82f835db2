/* Reference posteriors by MCMC: preconditioned Crank-Nicolson on the
 * latent prior variables of the inputs (include/physflow/inverse.h).
 *
 * pCN (Cotter, Roberts, Stuart & White 2013, "MCMC methods for functions")
 * proposes xi' = sqrt(1 - beta^2) xi + beta z, z ~ N(0, I), which leaves
 * the Gaussian prior invariant, so the acceptance probability is
 * min(1, exp(Phi(xi) - Phi(xi'))) with Phi the data misfit alone and does
 * not degrade with the number of latent variables.  Where the sensors pin
 * some directions, pCN's steps, sized to the prior, must shrink to their
 * posterior width and the other directions then move by a random walk of
 * tiny steps: with -mcmc_proposal laplace the same proposal is made
 * around the Gaussian N(mu, Gamma) of the Laplace approximation at the MAP
 * (generalised pCN, Rudolf & Sprungk 2018, "On a generalization of the
 * preconditioned Crank-Nicolson Metropolis algorithm"),
 *   xi' = mu + sqrt(1 - beta^2) (xi - mu) + beta Gamma^{1/2} z,
 * reversible with respect to N(mu, Gamma), so the acceptance is
 * exp(Psi(xi) - Psi(xi')) with Psi = Phi + |xi|^2/2 - |xi - mu|^2_{Gamma^-1}/2,
 * the posterior's departure from its Laplace approximation (0 for a
 * linear-Gaussian problem: an exact independence sampler at beta = 1).
 * Every rank of the physics' group runs the same chain (same random
 * numbers, the misfit and the Laplace factor broadcast from the group's
 * first rank) around collective solves, as the MAP estimate does. */
#include <physflow/dense.h>
#include <physflow/inverse.h>
#include <physflow/rng.h>
#include <physflow/private/physicsimpl.h>


PetscErrorCode PFMCMCLaplaceFactor(PFPhysics phys, PFObsOperator *H, PetscInt field, double sigma, const PetscScalar *x0, double *L)
{
  const PetscInt k = H->nobs;
  PetscInt       m, n, nf, ni;
  double        *G, *e;
  PetscScalar   *b, *gx;
  PetscMPIInt    size;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(phys, &m));
  PetscCall(PFPhysicsGetVertexMap(phys, &n, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, NULL, &ni));
  PetscCall(PetscMalloc4((size_t)k * m + 1, &G, k + 1, &e, (size_t)k * n + 1, &b, (size_t)k * nf * n + 1, &gx));
  PetscCall(PetscArrayzero(e, k));
  /* row i of G: the misfit gradient for a unit residual at sensor i; of a
   * state field, through k adjoint solves at the one state x0 */
  if (field < ni) {
    for (PetscInt i = 0; i < k; i++) {
      e[i] = 1;
      PetscCall(PFObsMisfitGradient(phys, H, field, x0, e, b, gx));
      PetscCall(PFPhysicsLatentVJP(phys, gx, G + (size_t)i * m));
      e[i] = 0;
    }
  } else {
    PetscCall(PetscArrayzero(b, (size_t)k * n));
    for (PetscInt i = 0; i < k; i++) {
      e[i] = 1;
      PetscCall(PFObsOperatorApplyTransposeAdd(H, e, b + (size_t)i * n));
      e[i] = 0;
    }
    PetscCall(PFPhysicsStateAdjointMany(phys, x0, k, b, gx));
    for (PetscInt i = 0; i < k; i++) PetscCall(PFPhysicsLatentVJP(phys, gx + (size_t)i * nf * n, G + (size_t)i * m));
  }
  for (PetscInt a = 0; a < m; a++)
    for (PetscInt c = 0; c < m; c++) {
      double s = a == c ? 1 : 0;
      for (PetscInt i = 0; i < k; i++) s += G[(size_t)i * m + a] * G[(size_t)i * m + c] / (sigma * sigma);
      L[a * m + c] = s;
    }
  PetscCall(PFCholeskyFactor(m, L)); /* SPD: I + a Gram matrix */
  /* so that the chains stay identical on every rank of the group */
  PetscCallMPI(MPI_Comm_size(H->comm, &size));
  if (size > 1) PetscCallMPI(MPI_Bcast(L, (PetscMPIInt)(m * m), MPI_DOUBLE, 0, H->comm));
  PetscCall(PetscFree4(G, e, b, gx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* |L^T (xi - mu)|^2 / 2: the Laplace approximation's quadratic form */
static double LaplaceQuadratic(PetscInt m, const double *L, const double *mu, const double *xi)
{
  double q = 0;
  for (PetscInt j = 0; j < m; j++) {
    double s = 0;
    for (PetscInt i = j; i < m; i++) s += L[i * m + j] * (xi[i] - mu[i]);
    q += s * s;
  }
  return 0.5 * q;
}

/* Psi(xi): the acceptance's potential (pCN: Phi alone) */
static double Potential(PetscInt m, const double *L, const double *mu, const double *xi, double phi)
{
  double p = phi;
  if (!L || phi == PETSC_INFINITY) return phi;
  for (PetscInt k = 0; k < m; k++) p += 0.5 * xi[k] * xi[k];
  return p - LaplaceQuadratic(m, L, mu, xi);
}

PetscErrorCode PFMCMCChain(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const PFMCMCParams *p, const double xi0[], const double L[], uint64_t seed, PetscInt chain, PetscInt rows, PetscScalar *X, PFMCMCStats *st)
{
  PetscInt     m, n, nf, acc = 0, acc_window = 0, steps, cur = 0;
  double      *xi[2], *mu, *z, *r, phi, psi, beta = p->beta;
  PetscScalar *x[2];
  size_t       ns;
  PFRNG        rng;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(phys, &m));
  PetscCheck(m > 0, phys->comm, PETSC_ERR_SUP, "MCMC needs a latent prior map of the inputs (Darcy: -darcy_field kl)");
  PetscCheck(p->burn >= 0 && p->thin >= 1 && beta > 0 && beta <= 1, phys->comm, PETSC_ERR_ARG_OUTOFRANGE, "MCMC needs burn-in >= 0, thinning >= 1 and a step in (0, 1]");
  PetscCheck(!L || xi0, phys->comm, PETSC_ERR_ARG_WRONG, "the Laplace proposal is centred at the MAP: give the chain's start xi0");
  PetscCall(PFPhysicsGetVertexMap(phys, &n, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, NULL, NULL));
  ns = (size_t)nf * n;
  /* the current state and the proposal, [cur] and [1 - cur] */
  PetscCall(PetscMalloc3(4 * m, &xi[0], H->nobs + 1, &r, 2 * ns + 1, &x[0]));
  xi[1] = xi[0] + m, mu = xi[0] + 2 * m, z = xi[0] + 3 * m, x[1] = x[0] + ns;
  for (PetscInt k = 0; k < m; k++) xi[0][k] = xi0 ? xi0[k] : 0, mu[k] = L ? xi0[k] : 0;
  PetscCall(PFObsMisfitShared(phys, H, field, y, sigma, xi[0], x[0], r, &phi));
  PetscCheck(phi < PETSC_INFINITY, phys->comm, PETSC_ERR_NOT_CONVERGED, "MCMC: the solve at the chain's start failed");
  psi = Potential(m, L, mu, xi[0], phi);
  PFRNGInit(&rng, seed, PF_RNG_MCMC, (uint64_t)chain, 0);
  steps = p->burn + rows * p->thin;
  for (PetscInt s = 0; s < steps; s++) {
    const double c = sqrt(1 - beta * beta);
    double       phip, psip;
    for (PetscInt k = 0; k < m; k++) z[k] = PFRNGNormal(&rng);
    if (L) PFCholeskySolveUpper(m, L, z); /* Gamma^{1/2} z: L^-T z, Gamma = (L L^T)^-1 */
    for (PetscInt k = 0; k < m; k++) xi[1 - cur][k] = mu[k] + c * (xi[cur][k] - mu[k]) + beta * z[k];
    PetscCall(PFObsMisfitShared(phys, H, field, y, sigma, xi[1 - cur], x[1 - cur], r, &phip));
    psip = Potential(m, L, mu, xi[1 - cur], phip);
    if (log(PFRNGUniform(&rng)) < psi - psip) {
      cur = 1 - cur, phi = phip, psi = psip;
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
  PetscCall(PetscFree3(xi[0], r, x[0]));
  PetscFunctionReturn(PETSC_SUCCESS);
}
