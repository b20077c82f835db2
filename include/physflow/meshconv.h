#pragma once
/* The mesh convolution of the mesh network (models/meshunet):
 *
 *   Y = sum_k (A_k X) W_k + b,   A_0 = I, A_1.. = fixed FE mesh operators
 *
 * on vertex-major features X [nown][B][Cin] (a row of B*Cin values per owned
 * vertex, so one halo exchange moves every sample and channel of a vertex).
 * The operator outputs land per (vertex, sample) side by side in
 * T [nown*B][ng*Cin], so the channel mixing is two GEMMs with M = nown*B
 * (X W_0 and T W_1..): the samples of a batch fill the GEMM's M dimension,
 * and the GEMMs, not the memory-bound sparse products, dominate the cost
 * for realistic widths. */
#include <physflow/meshgraph.h>
#include <physflow/nn.h>

#define PF_MESHCONV_MAXOPS 4

typedef struct {
  PFMeshGraph  g;
  PetscInt     Cin, Cout;
  PetscInt     ng;                      /* graph operators besides the identity */
  PFMeshOpKind kinds[PF_MESHCONV_MAXOPS];
  pfreal      *W, *b, *dW, *db;         /* views into the network buffers: W [(1+ng)*Cin][Cout] */
  pfreal      *T;                       /* saved for the backward: [nown*B][ng*Cin] */
  pfreal      *tmp;                     /* the backward's dT, same layout */
} PFMeshConv;

PETSC_EXTERN PetscInt       PFMeshConvNumParams(const PFMeshConv *c);
PETSC_EXTERN void           PFMeshConvBindParams(PFMeshConv *c, pfreal *params, pfreal *grads);
PETSC_EXTERN size_t         PFMeshConvWorkspaceSize(const PFMeshConv *c, PetscInt B);
PETSC_EXTERN void           PFMeshConvBindWorkspace(PFMeshConv *c, PetscInt B, pfreal *work);
PETSC_EXTERN PetscErrorCode PFMeshConvForward(PFMeshConv *c, PetscInt B, const pfreal *X, pfreal *Y);
/* accumulates dW, db; dX (may be NULL) is overwritten, and may be the
 * forward's input X itself */
PETSC_EXTERN PetscErrorCode PFMeshConvBackward(PFMeshConv *c, PetscInt B, const pfreal *X, const pfreal *dY, pfreal *dX);

/* Group normalisation of vertex-major mesh features X [S][B][C] (S owned
 * vertices of this rank): statistics per (sample, group of C/G channels) over
 * ALL vertices of the distributed mesh, weighted by the lumped vertex masses
 * w (so they are integrals, independent of the mesh density); one allreduce
 * on comm in the forward and one in the backward.  mean, rstd [B*G] are
 * saved for the backward.  dgamma/dbeta are this rank's partial sums. */
PETSC_EXTERN PetscErrorCode PFMeshNormForward(MPI_Comm comm, PetscInt S, PetscInt B, PetscInt C, PetscInt G, const pfreal *w, const pfreal *X, const pfreal *gamma, const pfreal *beta, pfreal *Y, pfreal *mean, pfreal *rstd);
PETSC_EXTERN PetscErrorCode PFMeshNormBackward(MPI_Comm comm, PetscInt S, PetscInt B, PetscInt C, PetscInt G, const pfreal *w, const pfreal *X, const pfreal *gamma, const pfreal *mean, const pfreal *rstd, const pfreal *dY, pfreal *dX, pfreal *dgamma, pfreal *dbeta);
