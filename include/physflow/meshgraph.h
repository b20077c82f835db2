#pragma once
/* PFMeshGraph: the fixed sparse mesh operators of the mesh network on a
 * distributed mesh, with float halo exchange through a PetscSF.
 *
 * Vertex features live on the rank's OWNED vertices (the same order as the
 * PFPhysics field arrays: the P1/Q1 global vector order), as rows of F
 * contiguous values ([nown][F], F = batch x channels).  An operator
 *     Y = M_L^{-1} sum_cells E_cell X          (E: element matrices)
 * is applied the libCEED way: broadcast owned rows to the ghost vertices,
 * multiply by the locally assembled matrix of the rank's cells (CSR, rows
 * and columns local; owned rows read and written in place, only ghost rows
 * travel), sum the ghost rows' partial sums into their owners (SF gather),
 * scale by the inverse lumped mass.  Its transpose runs the same steps
 * backwards, gathering by columns.  Operators (dimensionless: scaled by the mean
 * cell size h):
 *   PF_MESHOP_DX, PF_MESHOP_DY   h M_L^{-1} int phi_i d(phi_j)/dx, /dy
 *   PF_MESHOP_LAP                h^2 M_L^{-1} (-int grad phi_i . grad phi_j)
 *   PF_MESHOP_AVG                M_L^{-1} M (consistent-mass smoothing)    */
#include <physflow/mesh.h>
#include <physflow/real.h>
#include <physflow/rowsf.h>

typedef enum {
  PF_MESHOP_DX  = 0,
  PF_MESHOP_DY  = 1,
  PF_MESHOP_LAP = 2,
  PF_MESHOP_AVG = 3,
  PF_MESHOP_N   = 4
} PFMeshOpKind;

typedef struct {
  PetscInt *rowptr, *col; /* local CSR */
  pfreal   *val;
} PFLocalCSR;

typedef struct _p_PFMeshGraph *PFMeshGraph;
struct _p_PFMeshGraph {
  MPI_Comm   comm;
  DM         dm;           /* P1/Q1 clone of the mesh DM (for the section SF) */
  PetscSF    sf;           /* roots: owned vertices; leaves: local vertices */
  PetscInt   nown, nloc;
  PetscInt  *ownnat;       /* natural index of each owned vertex */
  PetscInt  *loc2own;      /* owned index of a local vertex, or -1 (ghost) */
  pfreal    *minv;         /* inverse lumped mass of owned vertices */
  double     h;            /* mean cell size */
  PFLocalCSR op[PF_MESHOP_N]; /* one sparsity pattern, checked at creation */
  PetscInt  *cscptr, *cscrow, *cscpos; /* the pattern by columns; cscpos: the entry's CSR position */
  double    *xy;           /* [nown][2] coordinates of the owned vertices */
  PFRowSF    ghosts;       /* the section SF restricted to the ghost leaves, moving rows of F values */
  size_t  nwork, nwown;
  pfreal *wloc, *wloc2, *wown;
};

PETSC_EXTERN PetscErrorCode PFMeshGraphCreate(PFMesh mesh, PFMeshGraph *g);
PETSC_EXTERN PetscErrorCode PFMeshGraphDestroy(PFMeshGraph *g);
/* flag[nown]: 1 for the owned vertices on the domain's boundary (in the
 * closure of a face with one cell; partition faces are not boundary), else 0 */
PETSC_EXTERN PetscErrorCode PFMeshGraphBoundaryVertices(PFMeshGraph g, PetscInt flag[]);
/* Y[nown][nk*F] = the nk operators kinds[] applied to X[nown][F]
 * (operator k's result in columns k*F..k*F+F-1 of each row); Y must not
 * overlap X (owned rows are written while neighbours are read).  Collective. */
PETSC_EXTERN PetscErrorCode PFMeshGraphApply(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, const pfreal *X, pfreal *Y);
/* dX[nown][F] (+)= sum_k A_k^T dY_k, the adjoint of PFMeshGraphApply;
 * beta = 0 overwrites dX, 1 accumulates. Collective. */
PETSC_EXTERN PetscErrorCode PFMeshGraphApplyTranspose(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, const pfreal *dY, pfreal beta, pfreal *dX);
/* The same with the rows cut into F/blk blocks of blk values, each block's
 * nk results side by side: row layout [F/blk][nk][blk] (blk = F is the
 * layout above).  The mesh convolution's [sample][operator][channel] rows
 * are then a matrix its GEMM reads in place. */
PETSC_EXTERN PetscErrorCode PFMeshGraphApplyBlocked(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, PetscInt blk, const pfreal *X, pfreal *Y);
PETSC_EXTERN PetscErrorCode PFMeshGraphApplyTransposeBlocked(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, PetscInt blk, const pfreal *dY, pfreal beta, pfreal *dX);

/* Layouts of B states of F fields on the n owned vertices: the state layout
 * x[b][f*n + i] (PFPhysics, PFNet) <-> vertex-major y[i][b][f] (rows of B*F
 * values per vertex, what PFMeshGraphApply moves) */
PETSC_EXTERN void PFMeshToVertexMajor(PetscInt B, PetscInt F, PetscInt n, const pfreal *x, pfreal *y);
PETSC_EXTERN void PFMeshFromVertexMajor(PetscInt B, PetscInt F, PetscInt n, const pfreal *y, pfreal *x);
