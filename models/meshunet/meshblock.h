#pragma once
/* The residual block of the mesh networks, on one level's mesh graph:
 *
 *   z    = Conv_1(SiLU(Norm_1(h))) + (s W_t + b_t)     s: the shared time MLP output [B][C]
 *   hout = h + Conv_2(SiLU(Norm_2(z)))
 *
 * (PFMeshConv: identity + d/dx + d/dy + Laplacian mixed by learned matrices;
 * PFMeshNorm: mass-weighted group norm over the whole distributed mesh). */
#include <physflow/meshconv.h>
#include <physflow/private/netimpl.h>

typedef struct {
  PFMeshGraph   g;
  const pfreal *w;          /* the norms' vertex weights on this level */
  PetscInt      C, G;
  PFMeshConv    c1, c2;
  size_t        o_n1, o_n2, o_c1, o_c2, o_pW, o_pb;
  /* workspace: activations saved for the backward */
  const pfreal *hin;
  pfreal       *n1, *a1, *z1, *n2, *a2, *hout, *stats, *tproj;
} PFMeshBlock;

/* Declares the block's parameters (named prefix.norm1, .conv1, .time, .norm2, .conv2) */
PETSC_INTERN PetscErrorCode PFMeshBlockSetUp(PFNet net, PFMeshBlock *b, const char prefix[], PFMeshGraph g, const pfreal *w, PetscInt C, PetscInt G);
PETSC_INTERN void           PFMeshBlockBindParams(PFNet net, PFMeshBlock *b);
PETSC_INTERN size_t         PFMeshBlockWorkspaceSize(const PFMeshBlock *b, PetscInt B);
/* binds the block's slices of work; returns the first value after them */
PETSC_INTERN pfreal        *PFMeshBlockBindWorkspace(PFMeshBlock *b, PetscInt B, pfreal *work);
/* hout = block(hin); hin must stay unchanged until the backward */
PETSC_INTERN PetscErrorCode PFMeshBlockForward(PFNet net, PFMeshBlock *b, PetscInt B, const pfreal *s, const pfreal *hin);
/* dh: in dL/dhout, out dL/dhin (in place); da, dz: scratch [nown][B][C];
 * accumulates parameter gradients and dL/ds into ds */
PETSC_INTERN PetscErrorCode PFMeshBlockBackward(PFNet net, PFMeshBlock *b, PetscInt B, const pfreal *s, pfreal *dh, pfreal *da, pfreal *dz, pfreal *ds);

/* the convolution and norm parameter blocks, shared with the network's in/out layers */
PETSC_INTERN void           PFMeshConvInit(PFMeshConv *c, PFMeshGraph g, PetscInt Cin, PetscInt Cout);
PETSC_INTERN PetscErrorCode PFMeshConvAddParams(PFNet net, const char name[], PFMeshConv *c, size_t *off);
PETSC_INTERN PetscErrorCode PFMeshNormAddParams(PFNet net, const char name[], PetscInt C, size_t *off);
