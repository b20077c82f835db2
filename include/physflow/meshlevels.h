#pragma once
/* PFMeshLevels: the mesh hierarchy of the mesh U-Net (-net_type meshunet).
 *
 * Level 0 is the data mesh (any distributed PFMesh: the box or a Gmsh mesh);
 * level l >= 1 is a uniform quad grid over the bounding box of the domain
 * whose cells are 2^l times the data mesh's mean cell size (at least 2 cells
 * a side).  An immersed hierarchy needs no coarse meshes from the user and is
 * exactly the nested box hierarchy on the box.  Every level is distributed
 * over the same communicator, its cells given to the rank that owns most of
 * the data-mesh vertices inside them, so transfers stay mostly on-rank.
 *
 * Transfers between level l (fine) and l+1 (coarse):
 *   prolongation  P   bilinear interpolation of the coarse grid at the fine
 *                     vertices (4 coarse vertices per fine vertex)
 *   restriction   R = D^{-1} P^T W, the P-weighted average with the fine
 *                     vertex weights W (D = P^T w, the coarse weights)
 * The weights w_0 are the lumped vertex masses and w_{l+1} = P^T w_l, so
 * coarse vertices outside the domain (holes, non-convex domains) weigh 0:
 * they get nothing from the restriction and count in no norm statistics.
 * Features are rows of F values per owned vertex, as in PFMeshGraph; the
 * coarse values a fine vertex needs come through a PetscSF (PFRowSF) whose
 * leaves are the (fine owned vertex, corner) slots. */
#include <physflow/meshgraph.h>

#define PF_MESHLEVELS_MAX 6

typedef struct {
  PFRowSF  rows;          /* roots: coarse owned vertices; leaves: nfine x 4 slots */
  PetscInt nfine, ncoarse;
  pfreal  *wt;            /* [nfine][4] interpolation weights */
  pfreal  *dinv;          /* [ncoarse] 1 / coarse weight (0 outside the domain) */
  const pfreal *wfine;    /* fine weights (the levels' w[l]) */
  size_t   nleaf, ncw;
  pfreal  *leaf, *cw;     /* work: [nfine*4][F], [ncoarse][F] */
} PFMeshTransfer;

typedef struct _p_PFMeshLevels *PFMeshLevels;
struct _p_PFMeshLevels {
  MPI_Comm       comm;
  PetscInt       nlevels;
  PFMesh         mesh[PF_MESHLEVELS_MAX];  /* mesh[0] NULL: the caller's */
  PFMeshGraph    graph[PF_MESHLEVELS_MAX]; /* graph[0] borrowed */
  pfreal        *w[PF_MESHLEVELS_MAX];     /* vertex weights per level */
  PetscInt       faces[PF_MESHLEVELS_MAX][2];
  double         lo[2], hi[2];
  PFMeshTransfer T[PF_MESHLEVELS_MAX - 1]; /* T[l]: level l <-> l+1 */
};

/* Collective on fine->comm; an error if the mesh is too coarse for nlevels.
 * faces: the box levels' cells per direction (faces[l] for l = 1..nlevels-1,
 * e.g. as recorded in a model file), or NULL to derive them from the mesh:
 * level l has about extent / (h 2^l) cells, a half rounded up; the rounding
 * must not depend on the last bits of h (a sum over the partition), so
 * values within 1e-6 of a half count as the half. */
PETSC_EXTERN PetscErrorCode PFMeshLevelsCreate(PFMeshGraph fine, PetscInt nlevels, const PetscInt faces[][2], PFMeshLevels *lv);
PETSC_EXTERN PetscErrorCode PFMeshLevelsDestroy(PFMeshLevels *lv);
/* Yf[nfine][F] = P Xc */
PETSC_EXTERN PetscErrorCode PFMeshTransferProlong(PFMeshTransfer *T, PetscInt F, const pfreal *Xc, pfreal *Yf);
/* dXc = P^T dYf (overwrites) */
PETSC_EXTERN PetscErrorCode PFMeshTransferProlongTranspose(PFMeshTransfer *T, PetscInt F, const pfreal *dYf, pfreal *dXc);
/* Yc[ncoarse][F] = D^-1 P^T W Xf */
PETSC_EXTERN PetscErrorCode PFMeshTransferRestrict(PFMeshTransfer *T, PetscInt F, const pfreal *Xf, pfreal *Yc);
/* dXf = W P D^-1 dYc (overwrites) */
PETSC_EXTERN PetscErrorCode PFMeshTransferRestrictTranspose(PFMeshTransfer *T, PetscInt F, const pfreal *dYc, pfreal *dXf);
