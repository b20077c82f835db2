#pragma once
/* Noise refinement of a one-step student (PIDDM, Zhang & Zou 2025): the
 * student G(z) = z + v(z, 0) is differentiable in its noise z, so a few
 * gradient steps on z can make its output obey the PDE better and agree
 * with partial observations, without retraining:
 *
 *   mixed(z) = m .* y + (1 - m) .* G(z)      (observed entries where known)
 *   L(z) = lambda R(mixed(z)) + w_obs |m .* (G(z) - y)|^2 / |m| + prior |z|^2 / (2 n)
 *
 * per sample (R: the constraint's residual norm), minimised with Adam; the
 * result is mixed(z).  Observed = m_i = 1 (a per-component mask, e.g. the
 * logK entries for the forward problem, a few p entries for the inverse
 * one, random entries of all fields for reconstruction).  Without
 * observations only the residual and the prior act. */
#include <physflow/constraint.h>

typedef struct {
  PetscInt      steps;
  double        lr, lambda, obs_weight, prior;
  const pfreal *mask; /* [n] 1 observed, 0 not; NULL: no observations */
  const pfreal *y;    /* [n] observed values (normalised units) */
} PFRefineParams;

/* B states of the group (n local components each, the net's input):
 * z [B n] is refined in place, x [B n] receives mixed(z).  loss[0], loss[1]:
 * the batch mean of L before and after.  Collective on the constraint's comm. */
PETSC_EXTERN PetscErrorCode PFRefineNoise(PFConstraint c, PFNet net, PetscInt B, const PFRefineParams *p, pfreal *z, pfreal *x, double loss[2]);
