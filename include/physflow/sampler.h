#pragma once
/* PFSampler: integrates dx/dt = v(x, t) from t0 to t1 for a batch of states.
 *
 * Fixed-step: euler (order 1), heun (2), rk4 (4), with -sampler_steps steps.
 * Adaptive: dopri5 (Dormand-Prince 5(4), FSAL), with -sampler_atol/-sampler_rtol;
 * its error norm is the RMS over ALL samples on all ranks (one small
 * allreduce per step), so the accepted steps do not depend on the partition.
 * Every integrator counts velocity evaluations (NFE). */
#include <physflow/compat.h>
#include <physflow/real.h>

typedef struct _p_PFSampler *PFSampler;
typedef const char          *PFSamplerType;
#define PFSAMPLEREULER  "euler"
#define PFSAMPLERHEUN   "heun"
#define PFSAMPLERRK4    "rk4"
#define PFSAMPLERDOPRI5 "dopri5"
#define PFSAMPLERDDPM   "ddpm" /* VP models only: ancestral sampling */
#define PFSAMPLERDDIM   "ddim" /* VP models only: deterministic DDIM */

/* v = velocity of the nloc states x (each of size n) at time t */
typedef PetscErrorCode (*PFVelocityFn)(void *ctx, double t, PetscInt nloc, const pfreal *x, pfreal *v);

PETSC_EXTERN PetscErrorCode PFSamplerCreate(MPI_Comm comm, PFSampler *s);
PETSC_EXTERN PetscErrorCode PFSamplerSetType(PFSampler s, PFSamplerType type);
PETSC_EXTERN PetscErrorCode PFSamplerGetType(PFSampler s, PFSamplerType *type);
PETSC_EXTERN PetscErrorCode PFSamplerSetSteps(PFSampler s, PetscInt steps);
/* heun, rk4: make the last step an Euler step (the velocity is never evaluated at t1) */
PETSC_EXTERN PetscErrorCode PFSamplerSetFinalEuler(PFSampler s, PetscBool flg);
PETSC_EXTERN PetscErrorCode PFSamplerGetSteps(PFSampler s, PetscInt *steps);
PETSC_EXTERN PetscErrorCode PFSamplerSetTolerances(PFSampler s, double atol, double rtol);
PETSC_EXTERN PetscErrorCode PFSamplerSetFromOptions(PFSampler s);
PETSC_EXTERN PetscErrorCode PFSamplerIntegrate(PFSampler s, PFVelocityFn fn, void *ctx, PetscInt nloc, PetscInt n, double t0, double t1, pfreal *x, PetscInt *nfe);
PETSC_EXTERN PetscErrorCode PFSamplerView(PFSampler s, PetscViewer viewer);
PETSC_EXTERN PetscErrorCode PFSamplerDestroy(PFSampler *s);
