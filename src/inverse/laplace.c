/* Samples of the Laplace approximation of a posterior at a given estimate
 * (include/physflow/inverse.h; infer -infer_gn_spread laplace, issue 7).
 *
 * Why: a conditional network's one-step mean, refined by a Gauss-Newton
 * step (gaussnewton.c), reaches the MAP's error at a few percent of its
 * cost, but carries no spread; the network's own samples carry a
 * calibrated one but cost a network evaluation per sample and step (32 x
 * Heun 10: 5x the MAP's time).  The benchmark's exact posterior is close
 * to Gaussian around its MAP (the Laplace-proposal chains accept 30-36%
 * of posterior-sized steps, BENCHMARKS part eight), so the Gaussian
 * N(xi, (I + G^T G / sigma^2)^-1) of the latent variables at the refined
 * estimate is a cheap stand-in: its factor costs k adjoint solves sharing
 * one factorisation (PFMCMCLaplaceFactor), and each sample
 *   xi_j = xi + L^{-T} z_j,  z_j ~ N(0, I)
 * has exact inputs through the prior's latent map and either the solver's
 * state for them (one solve each: samples that obey the PDE) or, with
 * linear, the state of the Gauss-Newton (linearised) model that defines
 * the covariance: one chord step from the estimate's state,
 *   p_j = p - J_p(x)^{-1} R([inputs_j, p]),
 * the first-order change of the solution, all right-hand sides with one
 * factorisation of J_p(x).  First order is not enough where the posterior
 * is wide: at the benchmark's posterior widths (logK moving by ~0.5 RMS)
 * the linearised state's error is as large as the change itself, so the
 * solve is the default. */
#include <physflow/dense.h>
#include <physflow/inverse.h>
#include <physflow/log.h>
#include <physflow/rng.h>
#include <physflow/private/physicsimpl.h>

PetscErrorCode PFLaplaceSamples(PFPhysics phys, PFObsOperator *H, PetscInt field, double sigma, const double xi[], const PetscScalar *x, const double *Lin, PetscBool linear, uint64_t seed, PetscInt lo, PetscInt nloc, PetscScalar *X)
{
  PetscInt     m, n, nf, ni, nres;
  double      *L, *z;
  PetscScalar *R, *Y;
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  if (nloc <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFPhysicsGetLatentSize(phys, &m));
  PetscCall(PFPhysicsGetVertexMap(phys, &n, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, NULL, &ni));
  PetscCall(PFPhysicsGetResidualSize(phys, &nres));
  PetscCheck(m > 0, phys->comm, PETSC_ERR_SUP, "Laplace samples need a latent prior map of the inputs (Darcy: -darcy_field kl)");
  PetscCheck(nf - ni == 1 && nres == n, phys->comm, PETSC_ERR_SUP, "Laplace samples: implemented for one state field with a residual per vertex (Darcy)");
  PetscCall(PetscLogEventBegin(PF_EVENT_Laplace, 0, 0, 0, 0));
  PetscCall(PetscMalloc4((size_t)m * m, &L, m, &z, linear ? (size_t)nloc * n + 1 : 1, &R, linear ? (size_t)nloc * n + 1 : 1, &Y));
  if (Lin) PetscCall(PetscArraycpy(L, Lin, (size_t)m * m));
  else PetscCall(PFMCMCLaplaceFactor(phys, H, field, sigma, x, L));
  for (PetscInt j = 0; j < nloc; j++) {
    PetscScalar *Xj = X + (size_t)j * nf * n;
    PFRNG        rng;
    /* keyed by the global sample index: every rank of the group draws the
     * same z, and the samples do not depend on how they are split */
    PFRNGInit(&rng, seed, PF_RNG_LAPLACE, (uint64_t)(lo + j), 0);
    for (PetscInt k = 0; k < m; k++) z[k] = PFRNGNormal(&rng);
    PFCholeskySolveUpper(m, L, z); /* L^T w = z: w ~ N(0, (L L^T)^{-1}) */
    for (PetscInt k = 0; k < m; k++) z[k] += xi[k];
    PetscCall(PFPhysicsInputsFromLatent(phys, z, Xj));
    PetscCall(PetscArraycpy(Xj + (size_t)ni * n, x + (size_t)ni * n, n));
  }
  /* a failed solve (a draw far in the tails) is the caller's to report:
   * nothing left behind */
  if (linear) {
    PetscCall(PFPhysicsResidual(phys, nloc, X, R));
    ierr = PFPhysicsStateJacobianSolveMany(phys, x, nloc, PETSC_FALSE, R, Y);
    for (PetscInt j = 0; j < nloc && !ierr; j++)
      for (PetscInt i = 0; i < n; i++) X[((size_t)j * nf + ni) * n + i] -= Y[(size_t)j * n + i];
  } else
    for (PetscInt j = 0; j < nloc && !ierr; j++) ierr = PFPhysicsSolve(phys, PF_FIDELITY_HIGH, 0, 0, X + (size_t)j * nf * n);
  PetscCall(PetscFree4(L, z, R, Y));
  PetscCall(PetscLogEventEnd(PF_EVENT_Laplace, 0, 0, 0, 0));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
