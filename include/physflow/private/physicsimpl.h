#pragma once
#include <physflow/physics.h>

struct _PFPhysicsOps {
  PetscErrorCode (*setfromoptions)(PFPhysics, PetscOptionItems *);
  PetscErrorCode (*setup)(PFPhysics);
  PetscErrorCode (*drawinputs)(PFPhysics, uint64_t, PetscInt, PetscScalar *);
  PetscErrorCode (*solve)(PFPhysics, PFFidelity, uint64_t, PetscInt, PetscScalar *);
  PetscErrorCode (*residual)(PFPhysics, PetscInt, const PetscScalar *, PetscScalar *);
  PetscErrorCode (*residualvjp)(PFPhysics, PetscInt, const PetscScalar *, const PetscScalar *, PetscScalar *);
  PetscErrorCode (*jacobiansolve)(PFPhysics, PetscInt, const PetscScalar *, PetscBool, const PetscScalar *, PetscScalar *);
  PetscErrorCode (*solvemany)(PFPhysics, const PetscScalar *, PetscInt, PetscBool, const PetscScalar *, PetscScalar *); /* optional: J_p^-1 (or J_p^-T) of K right-hand sides at one state */
  PetscErrorCode (*newtonstep)(PFPhysics, PetscInt, const PetscScalar *, PetscScalar *, PetscScalar *, double *);
  PetscErrorCode (*forcingnorm)(PFPhysics, double *);
  PetscErrorCode (*boundaryflux)(PFPhysics, PetscInt, const char[], PetscInt, const PetscScalar *, double *, PetscScalar *);
  PetscErrorCode (*latent)(PFPhysics, PetscInt *);
  PetscErrorCode (*inputsfromlatent)(PFPhysics, const double *, PetscScalar *);
  PetscErrorCode (*latentvjp)(PFPhysics, const PetscScalar *, double *);
  PetscErrorCode (*latentfrominputs)(PFPhysics, const PetscScalar *, double *);
  PetscErrorCode (*params)(PFPhysics, uint64_t, PetscInt, double *);
  PetscErrorCode (*validate)(PFPhysics, const PetscScalar *, PetscInt *, const char *const **, double *);
  PetscErrorCode (*view)(PFPhysics, PetscViewer);
  PetscErrorCode (*destroy)(PFPhysics);
};

struct _p_PFPhysics {
  MPI_Comm             comm;
  char                 type[32];
  struct _PFPhysicsOps ops;
  void                *data;
  PetscBool            setupcalled;
  /* the mesh and vertex layout, filled by the implementation's setup */
  char         meshfile[PETSC_MAX_PATH_LEN];
  PetscInt     mesh_faces;
  PFMesh       mesh;
  PetscInt     nown;    /* owned vertices */
  PetscInt     nres;    /* residual entries per state on this rank (0: nown) */
  PetscInt    *ownnat;  /* natural index of each owned vertex */
  PetscScalar *mass;    /* lumped mass of each owned vertex */
  PetscInt     nfields, ninputs;
  /* the state Jacobian's null space is the constants, and the solver picks
   * the state with zero mass-weighted mean (pure Neumann Darcy) */
  PetscBool    state_mean_zero;
  const char *const *fieldnames;
  /* scalar parameters of a sample beside its fields (e.g. Re) */
  PetscInt           nparams;
  const char *const *paramnames;
};

PETSC_INTERN PetscErrorCode PFPhysicsCreate_Darcy(PFPhysics);
PETSC_INTERN PetscErrorCode PFPhysicsCreate_NS(PFPhysics);
