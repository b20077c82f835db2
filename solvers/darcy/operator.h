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
 * Order 2 (P2 on triangles, Q2 on quads) keeps the idea with K known at the
 * quadrature points instead of the nodes (a nodal P2 interpolant of K can be
 * negative): K_q = exp(sum_k phi_k(x_q) g_k), g_k log K at the nodes, and
 *     B[c][q][i][j] = w_q |J| grad(phi_i) . grad(phi_j) at x_q,
 * so A(K)_ij = sum_c sum_q K_q B[c][q][i][j].  Generically the m of B[c][m]
 * runs over nK "coefficient points": the nb nodes (order 1) or the nq
 * quadrature points (order 2).  The local "coefficient" vector that carries
 * the permeability is nodal K for order 1 and nodal log K for order 2.
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
  PetscInt     nK;          /* coefficient points per cell: nb (order 1) or nq (order 2) */
  PetscReal   *E;           /* order 2: [nq, nb] basis at the quadrature points (NULL for order 1) */
  PetscScalar *kc;          /* [nK] K at the coefficient points of one cell (work) */
  PetscInt    *cidx;        /* [ncell*nb] local dof indices */
  PetscReal   *B;           /* [ncell*nK*nb*nb] */
  PetscReal   *Me;          /* [ncell*nb^2] element mass matrices */
  PetscInt     nown, rstart; /* owned dofs, first global dof */
  PetscReal   *owncoords;   /* [nown, 2] coordinates of the owned dofs (nodes) */
  PetscInt     nvown;       /* owned vertices */
  PetscInt    *vdof;        /* [nvown] dof-array index of each owned vertex */
  PetscInt    *ownnat;      /* [nvown] natural index of each owned vertex */
  /* order 2: the non-vertex local dofs and the local vertex dofs whose
   * average gives them (the P1/Q1 interpolant at the node), see
   * PFDarcyOpVertexLocalCoef */
  PetscInt     nint, *intdof, *intnv, *intv; /* intv [nint, 4] */
  PetscScalar *work;        /* [nown] */
  Vec          mass;        /* integral of each basis function (order 1: the lumped mass), global */
  Vec          F;           /* forcing (compatible with the Neumann null space), global */
  Vec          l0, l1, l2;  /* local work vectors */
  Vec          g0, g1;      /* global work vectors (arrays placed) */
  Mat          A;           /* A(K), COO pattern fixed */
  Mat          Afac;        /* the factored solves' copy of A, boundary rows the identity (NULL until used) */
  PetscScalar *coo;         /* [ncell*nb*nb] */
  MatNullSpace nullsp;
  double       fnorm;
  /* Dirichlet dofs (owned dof indices), p = dirval there; none: pure Neumann */
  PetscInt     ndir, ndir_global, *dir;
  double      *dirv;        /* [ndir] the value at each */
  Vec          Fraw, b;     /* forcing before the Neumann projection; rhs work */
} PFDarcyOp;

/* source term f(x) */
typedef PetscErrorCode (*PFDarcyForcing)(const PetscReal x[], void *ctx, double *f);
/* the PIDM benchmark's source/sink pair: +f on [0,c]^2, -f on [1-c,1]^2; ctx = double[2] {f, c} */
PETSC_INTERN PetscErrorCode PFDarcyCornerForcing(const PetscReal x[], void *ctx, double *f);
/* order 1 (P1/Q1) or 2 (P2 on triangles, Q2 on quads) */
PETSC_INTERN PetscErrorCode PFDarcyOpCreate(PFMesh mesh, PetscInt order, PFDarcyForcing forcing, void *ctx, PFDarcyOp *op);
PETSC_INTERN PetscErrorCode PFDarcyOpDestroy(PFDarcyOp *op);
/* values of the COO entries of A(K) for a local coefficient array (PFDarcyOpLocalCoef) */
PETSC_INTERN PetscErrorCode PFDarcyOpAssemble(PFDarcyOp *op, const PetscScalar *Cloc);
/* R = A(exp(g)) p - F; g (log K at every node), p, R owned DOF arrays */
PETSC_INTERN PetscErrorCode PFDarcyOpResidual(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *R);
/* gg = (dR/dg)^T v, gp = (dR/dp)^T v */
PETSC_INTERN PetscErrorCode PFDarcyOpVJP(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *v, PetscScalar *gg, PetscScalar *gp);
/* the local (ghosted) coefficient vector from an owned DOF array of log K at
 * every node: order 1 nodal K = exp(g), order 2 g itself */
PETSC_INTERN PetscErrorCode PFDarcyOpLocalCoef(PFDarcyOp *op, const PetscScalar *g, Vec C);
/* the same from an owned VERTEX array of log K: the other nodes take the
 * P1/Q1 interpolant g_h of the vertex values, so K = exp(g_h) */
PETSC_INTERN PetscErrorCode PFDarcyOpVertexLocalCoef(PFDarcyOp *op, const PetscScalar *gv, Vec C);
/* the vertex values of an owned DOF array */
PETSC_INTERN PetscErrorCode PFDarcyOpVertexValues(PFDarcyOp *op, const PetscScalar *dofs, PetscScalar *vert);
/* p = values[t] on the dofs of the boundary group with Face Sets tag tags[t]
 * (vertices, and edge midpoints for order 2; replaces the Neumann null space
 * and zero-mean normalisation) */
PETSC_INTERN PetscErrorCode PFDarcyOpSetDirichlet(PFDarcyOp *op, PFMesh mesh, PetscInt ntags, const PetscInt tags[], const char *const names[], const double values[]);
/* mask = 1 at the owned dofs of one boundary group, 0 elsewhere */
PETSC_INTERN PetscErrorCode PFDarcyOpGroupMask(PFDarcyOp *op, PFMesh mesh, PetscInt tag, const char name[], PetscScalar *mask);
/* The outflow of the Darcy velocity u = -K grad p through a boundary group,
 *   Q = int_group u . n ds = -sum_i mask_i (A(K) p - F)_i,
 * the variationally consistent (reaction) flux: the element equations of
 * the group's dofs, whose test functions sum to 1 on the group (exact for a
 * discrete solution on a Dirichlet group, conservative by construction).
 * Linear in p; gg, gp (if gg is not NULL): dQ/dg, dQ/dp (order-1 op).
 * Collective. */
PETSC_INTERN PetscErrorCode PFDarcyOpGroupFlux(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *mask, double *Q, PetscScalar *gg, PetscScalar *gp);
/* solve A(K) p = F (with the boundary conditions) for a local coefficient
 * vector (PFDarcyOpLocalCoef); sol global */
PETSC_INTERN PetscErrorCode PFDarcyOpSolveCoef(PFDarcyOp *op, KSP ksp, Vec C, Vec sol, PetscInt *its);
/* y = J_p^{-1} r (or J_p^{-T} r), J_p = dR/dp = A(exp(g)) with identity
 * Dirichlet rows: the state Jacobian of the residual (order 1; owned dof
 * arrays).  Pure Neumann: r must sum to zero; y has zero mean. */
PETSC_INTERN PetscErrorCode PFDarcyOpSolveJacobian(PFDarcyOp *op, KSP ksp, const PetscScalar *g, PetscBool transpose, const PetscScalar *r, PetscScalar *y);
/* y_q = J_p^{-1} r_q (or J_p^{-T} r_q) for K right-hand sides at one
 * state (owned dof arrays [K][nown]; pure Neumann: each r_q must sum to
 * zero): one matrix for all, so ksp (a factorisation: PC lu or cholesky,
 * -darcy_adjoint_) sets up once and each right-hand side costs a pair of
 * triangular solves */
PETSC_INTERN PetscErrorCode PFDarcyOpSolveJacobianMany(PFDarcyOp *op, KSP ksp, const PetscScalar *g, PetscBool transpose, PetscInt K, const PetscScalar *r, PetscScalar *y);
/* the same from an owned VERTEX array of log K (PFDarcyOpVertexLocalCoef) */
PETSC_INTERN PetscErrorCode PFDarcyOpSolve(PFDarcyOp *op, KSP ksp, const PetscScalar *gv, Vec sol, PetscInt *its);
/* owned dof array -> local (ghosted) vector */
PETSC_INTERN PetscErrorCode PFDarcyOpToLocal(PFDarcyOp *op, const PetscScalar *own, Vec loc);
/* net: the outward flux K grad p . n integrated over the true boundary of
 * the mesh (order-1 op; g = log K and p vertex arrays), from cell averages:
 * grad p by Green's formula over the cell's edges (exact for P1, the cell
 * mean for Q1), K the mean of the cell's nodal K.  bmask[nown]: 1 at the
 * owned vertices of boundary edges that are not Dirichlet (where the natural
 * no-flux condition holds weakly), else 0.  Collective. */
PETSC_INTERN PetscErrorCode PFDarcyOpBoundaryFlux(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *bmask, double *net);
