#pragma once
/* physflow's profiling events, shown by -log_view next to PETSc's own. */
#include <physflow/compat.h>

PETSC_EXTERN PetscLogEvent PF_EVENT_Forward;   /* network forward */
PETSC_EXTERN PetscLogEvent PF_EVENT_Backward;  /* network backward */
PETSC_EXTERN PetscLogEvent PF_EVENT_Allreduce; /* gradient allreduce */
PETSC_EXTERN PetscLogEvent PF_EVENT_IO;        /* HDF5 reads and writes */
PETSC_EXTERN PetscLogEvent PF_EVENT_Solve;     /* PDE solves */
PETSC_EXTERN PetscLogEvent PF_EVENT_Optimizer; /* AdamW + EMA update */
PETSC_EXTERN PetscLogEvent PF_EVENT_Sample;    /* ODE integration */
PETSC_EXTERN PetscLogEvent PF_EVENT_Refine;    /* Gauss-Newton refinement of an estimate */
PETSC_EXTERN PetscLogEvent PF_EVENT_Laplace;   /* samples of a Laplace approximation */
PETSC_EXTERN PetscClassId  PF_CLASSID;

PETSC_EXTERN PetscErrorCode PFInitializePackage(void);

/* A rank-0 error (ierr from work only rank 0 did) raised on every rank of
 * comm with rank 0's message, prefixed by what[] (may be ""): collective. */
PETSC_EXTERN PetscErrorCode PFBcastError(MPI_Comm comm, PetscErrorCode ierr, const char what[]);
