#pragma once
#include <physflow/flow.h>

struct _p_PFFlow {
  MPI_Comm  comm;
  char      type[16];
  double    sigma_min; /* cfm/otcfm */
  double    t0_fraction; /* cfm: share of training rows at t = 0 exactly (-flow_t0_fraction) */
  /* vp (DDPM) schedule */
  PetscInt  vp_T;
  double    vp_beta0, vp_beta1;
  double   *vp_alphabar; /* [vp_T+1], alphabar[0] = 1 */
  /* distributed fields: a global key per local component, so the noise of
   * a component does not depend on which rank holds it */
  PetscInt  nkeys;
  PetscInt *keys;
  /* conditioning channels (PFFlowSetHeldComponents): held[i] marks a local
   * component that is an input, not a generated value */
  PetscInt   nheld;
  PetscBool *held;
  pfreal    *pinval; /* [nheld] a held component's fixed value (NaN: the caller's), or NULL */
};

PETSC_INTERN PetscErrorCode PFFlowVPSetUp(PFFlow flow);
PETSC_INTERN PetscErrorCode PFFlowVPTrainingPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt n, const pfreal *x1, pfreal *xt, pfreal *t, pfreal *target);
PETSC_INTERN PetscErrorCode PFFlowVPSample(PFFlow flow, PFNet net, PFSampler sampler, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, PetscInt *nfe);
PETSC_INTERN void           PFFlowNoise(PFFlow flow, uint64_t seed, int purpose, uint64_t a, PetscInt n, pfreal *z);
