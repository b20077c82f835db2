#pragma once
/* The Darcy operator on one distributed mesh, assembled the libCEED way:
 * element restriction (closure indices of each cell), basis (PetscFE
 * tabulation at quadrature points) and geometry computed ONCE, giving per
 * cell the tensor
 *     B[c][k][i][j] = int_cell phi_k grad(phi_i) . grad(phi_j)
 * Because the stiffness is linear in the nodal permeability K (K_h = sum_k
 * K_k phi_k), A(K)_ij = sum_c sum_k K_k B[c][k][i][j]: a new sample costs a
 * small tensor contraction per cell plus MatSetValuesCOO, not a generic FE
 * assembly.  The residual and its VJP use the same tensors, so they are the
 * exact discrete equations the solver solves.
 *
 * Two kinds of owned arrays appear below.  DOF arrays follow the FE global
 * vector (order 1: the vertices; order 2: vertices, edge midpoints and, on
 * quads, cell centres, interleaved as the section numbers them).  VERTEX
 * arrays hold the owned vertices in mesh point order, which is what the rest
 * of physflow sees; vdof maps them into the dof arrays.  With order 1 the two
 * coincide (checked at creation), so either kind may be passed. */
#include <petscdmplex.h>
#include <petscksp.h>
#include <physflow/compat.h>
#include <physflow/mesh.h>

/* largest element basis (Q2): bounds the per-cell stack arrays */
#define PF_DARCY_MAXNB 9

typedef struct {
  MPI_Comm     comm;
  DM           dm;          /* clone of the mesh DM carrying the P1/Q1 or P2/Q2 field */
  PetscFE      fe;
  PetscInt     order;
  PetscInt     nb, ncell;   /* basis functions per cell, local cells */
  PetscInt    *cidx;        /* [ncell*nb] local dof indices */
  PetscReal   *B;           /* [ncell*nb^3] */
  PetscReal   *Me;          /* [ncell*nb^2] element mass matrices */
  PetscInt     nown, rstart; /* owned dofs, first global dof */
  PetscReal   *owncoords;   /* [nown, 2] coordinates of the owned dofs (nodes) */
  PetscInt     nvown;       /* owned vertices */
  PetscInt    *vdof;        /* [nvown] dof-array index of each owned vertex */
  PetscInt    *ownnat;      /* [nvown] natural index of each owned vertex */
  /* order 2: the non-vertex local dofs and the local vertex dofs whose
   * average gives them (the P1/Q1 interpolant at the node), see VertexLocalK */
  PetscInt     nint, *intdof, *intnv, *intv; /* intv [nint, 4] */
  PetscScalar *work;        /* [nown] */
  Vec          mass;        /* integral of each basis function (order 1: the lumped mass), global */
  Vec          F;           /* forcing (compatible with the Neumann null space), global */
  Vec          l0, l1, l2;  /* local work vectors */
  Vec          g0, g1;      /* global work vectors (arrays placed) */
  Mat          A;           /* A(K), COO pattern fixed */
  PetscScalar *coo;         /* [ncell*nb*nb] */
  MatNullSpace nullsp;
  double       fnorm;
  /* Dirichlet vertices (owned indices), p = dirval there; none: pure Neumann */
  PetscInt     ndir, ndir_global, *dir;
  double       dirval;
  Vec          Fraw, b;     /* forcing before the Neumann projection; rhs work */
} PFDarcyOp;

/* source term f(x) */
typedef PetscErrorCode (*PFDarcyForcing)(const PetscReal x[], void *ctx, double *f);
/* the PIDM benchmark's source/sink pair: +f on [0,c]^2, -f on [1-c,1]^2; ctx = double[2] {f, c} */
PETSC_INTERN PetscErrorCode PFDarcyCornerForcing(const PetscReal x[], void *ctx, double *f);
/* order 1 (P1/Q1) or 2 (P2 on triangles, Q2 on quads) */
PETSC_INTERN PetscErrorCode PFDarcyOpCreate(PFMesh mesh, PetscInt order, PFDarcyForcing forcing, void *ctx, PFDarcyOp *op);
PETSC_INTERN PetscErrorCode PFDarcyOpDestroy(PFDarcyOp *op);
/* values of the COO entries of A(K) for local nodal K (local vector array) */
PETSC_INTERN PetscErrorCode PFDarcyOpAssemble(PFDarcyOp *op, const PetscScalar *Kloc);
/* R = A(exp(g)) p - F; g (log K at every node), p, R owned DOF arrays */
PETSC_INTERN PetscErrorCode PFDarcyOpResidual(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *R);
/* gg = (dR/dg)^T v, gp = (dR/dp)^T v */
PETSC_INTERN PetscErrorCode PFDarcyOpVJP(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *v, PetscScalar *gg, PetscScalar *gp);
/* exp of an owned DOF array (log K at every node) into a local (ghosted) vector */
PETSC_INTERN PetscErrorCode PFDarcyOpLocalK(PFDarcyOp *op, const PetscScalar *g, Vec Kloc);
/* the same from an owned VERTEX array: K = exp(g_h) at every node, g_h the
 * P1/Q1 interpolant of the vertex values */
PETSC_INTERN PetscErrorCode PFDarcyOpVertexLocalK(PFDarcyOp *op, const PetscScalar *gv, Vec Kloc);
/* the vertex values of an owned DOF array */
PETSC_INTERN PetscErrorCode PFDarcyOpVertexValues(PFDarcyOp *op, const PetscScalar *dofs, PetscScalar *vert);
/* owned VERTEX array -> natural order on rank 0 of the operator's comm */
PETSC_INTERN PetscErrorCode PFDarcyOpGatherNatural(PFDarcyOp *op, PetscInt nvert, const PetscScalar *own, double *natural);
/* p = value on the dofs of the boundary groups with these Face Sets tags
 * (vertices, and edge midpoints for order 2; replaces the Neumann null space
 * and zero-mean normalisation) */
PETSC_INTERN PetscErrorCode PFDarcyOpSetDirichlet(PFDarcyOp *op, PFMesh mesh, PetscInt ntags, const PetscInt tags[], const char *const names[], double value);
/* solve A(K) p = F (with the boundary conditions) for the local nodal K; sol global */
PETSC_INTERN PetscErrorCode PFDarcyOpSolveK(PFDarcyOp *op, KSP ksp, Vec Kloc, Vec sol, PetscInt *its);
/* the same with K from an owned VERTEX array of log K (PFDarcyOpVertexLocalK) */
PETSC_INTERN PetscErrorCode PFDarcyOpSolve(PFDarcyOp *op, KSP ksp, const PetscScalar *gv, Vec sol, PetscInt *its);
