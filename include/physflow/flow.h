#pragma once
/* PFFlow: the probability path, its training pairs and its sampler.
 *
 *  cfm    conditional flow matching on the OT path (Lipman et al. 2023):
 *         x_t = (1-(1-s) t) x0 + t x1,  u_t = x1 - (1-s) x0,  s = -flow_sigma_min
 *  otcfm  the same path with x0 re-paired to x1 by the exact OT assignment
 *         within the global minibatch (Tong et al. 2023; Pooladian et al. 2023)
 *  vp     DDPM baseline (Ho et al. 2020): T = 1000, linear betas 1e-4..0.02,
 *         epsilon prediction, ancestral (ddpm) or DDIM sampling
 *
 * t = 0 is noise and t = 1 is data for cfm/otcfm.  Every random draw is keyed
 * by (seed, step, global sample index), so pairs do not depend on ranks. */
#include <hdf5.h>
#include <physflow/net.h>
#include <physflow/sampler.h>

typedef struct _p_PFFlow *PFFlow;
typedef const char       *PFFlowType;
#define PFFLOWCFM   "cfm"
#define PFFLOWOTCFM "otcfm"
#define PFFLOWVP    "vp"

PETSC_EXTERN PetscErrorCode PFFlowCreate(MPI_Comm comm, PFFlow *flow);
PETSC_EXTERN PetscErrorCode PFFlowSetType(PFFlow flow, PFFlowType type);
PETSC_EXTERN PetscErrorCode PFFlowGetType(PFFlow flow, PFFlowType *type);
PETSC_EXTERN PetscErrorCode PFFlowSetFromOptions(PFFlow flow);
PETSC_EXTERN PetscErrorCode PFFlowView(PFFlow flow, PetscViewer viewer);
PETSC_EXTERN PetscErrorCode PFFlowDestroy(PFFlow *flow);

/* Training pairs for the local samples [gidx0, gidx0+nloc) of a global batch
 * of Bg samples of size n at optimisation step `step`: network inputs (xt, t)
 * and regression target.  x1 holds the local data samples.  Collective. */
PETSC_EXTERN PetscErrorCode PFFlowTrainingPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt n, const pfreal *x1, pfreal *xt, pfreal *t, pfreal *target);

/* Pairs of a fixed coupling (reflow, distillation): x1[j] is file row
 * rows[j] of samples that a model generated from PFFlowSample's noise with
 * seed noise_seed (sample index = row), so x0 is that noise, not fresh
 * noise; t is random as above (t_fixed < 0) or t_fixed for every pair.
 * cfm flows only. */
PETSC_EXTERN PetscErrorCode PFFlowCoupledPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt gidx0, PetscInt nloc, PetscInt n, uint64_t noise_seed, const PetscInt rows[], const pfreal *x1, double t_fixed, pfreal *xt, pfreal *t, pfreal *target);
/* Generate nloc samples (global indices gidx0...) from noise keyed by seed;
 * the sampler type must suit the flow (ODE samplers for cfm/otcfm,
 * ddpm/ddim for vp).  Evaluates the net in chunks of at most its planned batch. */
PETSC_EXTERN PetscErrorCode PFFlowSample(PFFlow flow, PFNet net, PFSampler sampler, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, PetscInt *nfe);

/* For states distributed over ranks: keys[i] is a global, partition-
 * independent id of local component i (e.g. natural vertex x fields + field);
 * every noise value is then drawn from its own stream keyed by it. */
/* As PFFlowSample (same noise) with a given velocity function (e.g. physics-guided) */
PETSC_EXTERN PetscErrorCode PFFlowSampleVelocity(PFFlow flow, PFSampler sampler, uint64_t seed, PetscInt gidx0, PetscInt nloc, PetscInt n, PFVelocityFn fn, void *ctx, pfreal *x, PetscInt *nfe);
PETSC_EXTERN PetscErrorCode PFFlowSetComponentKeys(PFFlow flow, PetscInt n, const PetscInt keys[]);
/* Conditioning channels carried in the state (a conditional model's extra
 * inputs, e.g. encoded observations): held[i] marks local component i of
 * a state of n components.  Training pairs keep them at the data's value
 * at every t (x_t = x1, target 0), sampling leaves the caller's values in
 * them (no noise) and zeroes their velocity.  held NULL: none.  cfm only. */
PETSC_EXTERN PetscErrorCode PFFlowSetHeldComponents(PFFlow flow, PetscInt n, const PetscBool held[]);
/* Pinned components: held components whose value the model fixes (a
 * vertex value that is the same in every training sample, e.g. Dirichlet
 * data): sampling starts them at values[d] (finite; NaN: the caller's
 * value), so they stay there.  After PFFlowSetHeldComponents (which
 * clears them); NULL: none. */
PETSC_EXTERN PetscErrorCode PFFlowSetPinnedValues(PFFlow flow, PetscInt n, const pfreal values[]);
PETSC_EXTERN PetscErrorCode PFFlowWriteH5(PFFlow flow, hid_t fid);
PETSC_EXTERN PetscErrorCode PFFlowCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], PFFlow *flow);
