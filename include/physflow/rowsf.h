#pragma once
/* PFRowSF: a PetscSF that moves whole ROWS of F contiguous pfreals per
 * point (all samples and channels of a mesh vertex at once), in both
 * directions:
 *   Bcast      roots -> leaves (each leaf gets its root's row)
 *   GatherSum  leaves -> roots, summing every leaf row into its root
 * A row moves as one contiguous MPI datatype (cached per F).  MPI reductions
 * are not defined on derived datatypes, so GatherSum gathers every leaf copy
 * to its root (the SF's multi-root space, degree copies per root) and adds
 * them here; this also makes the sum order deterministic.
 * Used by the mesh operators' halo exchange (PFMeshGraph) and by the U-Net's
 * inter-level transfers (PFMeshTransfer). */
#include <petscsf.h>
#include <physflow/compat.h>
#include <physflow/real.h>

typedef struct {
  PetscSF      sf;                 /* owned reference */
  PetscInt     nroots;
  PetscInt    *moff;               /* [nroots+1] multi-root offsets */
  PetscInt     nrowt, rowF[8];
  MPI_Datatype rowt[8];
  size_t       nwmulti;
  pfreal      *wmulti;
} PFRowSF;

/* takes a reference to sf */
PETSC_EXTERN PetscErrorCode PFRowSFSetUp(PFRowSF *r, PetscSF sf);
PETSC_EXTERN PetscErrorCode PFRowSFDestroy(PFRowSF *r);
PETSC_EXTERN PetscErrorCode PFRowSFBcast(PFRowSF *r, PetscInt F, const pfreal *root, pfreal *leaf);
/* root = beta root + sum of its leaves' rows (beta 0 overwrites) */
PETSC_EXTERN PetscErrorCode PFRowSFGatherSum(PFRowSF *r, PetscInt F, const pfreal *leaf, pfreal beta, pfreal *root);
