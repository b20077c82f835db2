#include <math.h>
#include "operator.h"

PetscErrorCode PFDarcyCornerForcing(const PetscReal x[], void *ctx, double *f)
{
  const double fval = ((double *)ctx)[0], corner = ((double *)ctx)[1];

  PetscFunctionBegin;
  *f = 0;
  if (x[0] <= corner && x[1] <= corner) *f = fval;
  else if (x[0] >= 1 - corner && x[1] >= 1 - corner) *f = -fval;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpCreate(PFMesh mesh, PetscInt order, PFDarcyForcing forcing, void *fctx, PFDarcyOp *op)
{
  PetscSection    lsec, gsec, csec;
  PetscQuadrature quad;
  PetscTabulation T;
  PetscInt        cStart, cEnd, vStart, vEnd, pStart, pEnd, nq, dim = 2, nb, qorder;
  const PetscReal *qw;
  PetscReal      *v, *J, *invJ, *detJ, *grad;
  PetscInt       *ci, *cj;
  PetscScalar    *Fl;
  Vec             cl;
  const PetscScalar *ca;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(op, sizeof(*op)));
  op->comm = mesh->comm;
  PetscCheck(order == 1 || order == 2, op->comm, PETSC_ERR_ARG_OUTOFRANGE, "Darcy elements of order %" PetscInt_FMT ": only 1 (P1/Q1) and 2 (P2/Q2) are implemented", order);
  op->order = order;
  PetscCall(DMClone(mesh->dm, &op->dm));
  /* PetscFECreateLagrange's quadrature order q means q+1 points per direction
   * (Stroud conical on triangles, Gauss tensor on quads), exact to degree
   * 2q+1.  Order 1 integrates phi_k grad(phi_i).grad(phi_j), of degree 1 on
   * affine triangles and 3 per variable on parallelogram quads: q = 3 is
   * exact.  Order 2 integrates exp(g_h) grad(phi_i).grad(phi_j) (see below),
   * the polynomial part of degree 2 (P2) or 4 per variable (Q2): q = 3 again
   * leaves a quadrature error far below the O(h^3) discretisation error, and
   * the B tensor has 16 points, not 25 or more. */
  qorder = 3;
  PetscCall(PetscFECreateLagrange(PETSC_COMM_SELF, dim, 1, mesh->simplex, order, qorder, &op->fe));
  PetscCall(PetscObjectSetName((PetscObject)op->fe, "p"));
  PetscCall(DMSetField(op->dm, 0, NULL, (PetscObject)op->fe));
  PetscCall(DMCreateDS(op->dm));
  PetscCall(DMGetLocalSection(op->dm, &lsec));
  PetscCall(DMGetGlobalSection(op->dm, &gsec));
  PetscCall(PetscFEGetDimension(op->fe, &nb));
  PetscCheck(nb <= PF_DARCY_MAXNB, PETSC_COMM_SELF, PETSC_ERR_PLIB, "element basis of %" PetscInt_FMT " functions exceeds PF_DARCY_MAXNB = %d", nb, PF_DARCY_MAXNB);
  op->nb = nb;
  PetscCall(PetscFEGetQuadrature(op->fe, &quad));
  PetscCall(PetscQuadratureGetData(quad, NULL, NULL, &nq, NULL, &qw));
  PetscCall(PetscFEGetCellTabulation(op->fe, 1, &T));
  /* Where the permeability is known ("coefficient points").  Order 1: at the
   * nodes, K_h = sum_k K_k phi_k with K_k = exp(g_k), positive because the
   * P1/Q1 basis is.  Order 2: the P2/Q2 interpolant of positive nodal K is
   * NOT positive (vertex basis functions dip to -1/8 on the edges): with log
   * K jumping by ~4 across a cell, as the SPDE field does near the corners of
   * plate_hole.msh, K_h < 0 there and the matrix is indefinite.  So order 2
   * evaluates K = exp(g_h) at the quadrature points instead, g_h the P2/Q2
   * interpolant of the nodal log K: always positive, and still linear in the
   * point values, so the tensor contraction stays.  E maps nodal log K to
   * the points (the basis tabulation). */
  op->nK = order == 1 ? nb : nq;
  if (order == 2) {
    PetscCall(PetscMalloc2(nq * nb, &op->E, op->nK, &op->kc));
    PetscCall(PetscArraycpy(op->E, T->T[0], nq * nb));
  } else PetscCall(PetscMalloc1(op->nK, &op->kc));
  PetscCall(DMPlexGetHeightStratum(op->dm, 0, &cStart, &cEnd));
  PetscCall(DMPlexGetDepthStratum(op->dm, 0, &vStart, &vEnd));
  PetscCall(DMPlexGetChart(op->dm, &pStart, &pEnd));
  op->ncell = cEnd - cStart;
  PetscCall(DMCreateGlobalVector(op->dm, &op->mass));
  PetscCall(VecDuplicate(op->mass, &op->F));
  PetscCall(VecGetLocalSize(op->mass, &op->nown));
  PetscCall(VecGetOwnershipRange(op->mass, &op->rstart, NULL));
  PetscCall(DMCreateLocalVector(op->dm, &op->l0));
  PetscCall(VecDuplicate(op->l0, &op->l1));
  PetscCall(VecDuplicate(op->l0, &op->l2));
  PetscCall(VecCreateMPIWithArray(op->comm, 1, op->nown, PETSC_DECIDE, NULL, &op->g0));
  PetscCall(VecCreateMPIWithArray(op->comm, 1, op->nown, PETSC_DECIDE, NULL, &op->g1));

  /* Nodes: every point carrying a dof is one node (a vertex, an edge midpoint
   * or a Q2 cell centre), located at the average of the vertices of its
   * closure.  Owned vertices are listed in point order, so operators of both
   * orders on the same mesh list them identically. */
  PetscCall(DMGetCoordinatesLocal(op->dm, &cl));
  PetscCall(DMGetCoordinateSection(op->dm, &csec));
  PetscCall(VecGetArrayRead(cl, &ca));
  for (PetscInt p = pStart; p < pEnd; p++) {
    PetscInt ldof, gdof;
    PetscCall(PetscSectionGetDof(lsec, p, &ldof));
    PetscCall(PetscSectionGetDof(gsec, p, &gdof));
    if (ldof == 0) continue;
    PetscCheck(ldof == 1, PETSC_COMM_SELF, PETSC_ERR_PLIB, "mesh point %" PetscInt_FMT " carries %" PetscInt_FMT " dofs; the Darcy operator expects one per node", p, ldof);
    if (p >= vStart && p < vEnd) op->nvown += gdof > 0 ? 1 : 0;
    else op->nint++;
  }
  PetscCall(PetscMalloc3(2 * op->nown, &op->owncoords, op->nvown, &op->vdof, op->nvown, &op->ownnat));
  PetscCall(PetscMalloc4(op->nint, &op->intdof, op->nint, &op->intnv, 4 * op->nint, &op->intv, op->nown + 1, &op->work));
  op->nvown = op->nint = 0;
  for (PetscInt p = pStart; p < pEnd; p++) {
    PetscInt  ldof, gdof, loff, goff, nv = 0, vpt[4], *closure = NULL, n;
    PetscBool isvert = (PetscBool)(p >= vStart && p < vEnd);
    PetscCall(PetscSectionGetDof(lsec, p, &ldof));
    if (ldof == 0) continue;
    PetscCall(PetscSectionGetDof(gsec, p, &gdof));
    PetscCall(PetscSectionGetOffset(lsec, p, &loff));
    PetscCall(PetscSectionGetOffset(gsec, p, &goff));
    PetscCall(DMPlexGetTransitiveClosure(op->dm, p, PETSC_TRUE, &n, &closure));
    for (PetscInt i = 0; i < 2 * n; i += 2)
      if (closure[i] >= vStart && closure[i] < vEnd) {
        PetscCheck(nv < 4, PETSC_COMM_SELF, PETSC_ERR_SUP, "mesh point %" PetscInt_FMT " has more than 4 vertices", p);
        vpt[nv++] = closure[i];
      }
    PetscCall(DMPlexRestoreTransitiveClosure(op->dm, p, PETSC_TRUE, &n, &closure));
    if (gdof > 0) {
      PetscReal *x = op->owncoords + 2 * (goff - op->rstart);
      x[0] = x[1] = 0;
      for (PetscInt j = 0; j < nv; j++) {
        PetscInt coff;
        PetscCall(PetscSectionGetOffset(csec, vpt[j], &coff));
        x[0] += PetscRealPart(ca[coff]) / nv;
        x[1] += PetscRealPart(ca[coff + 1]) / nv;
      }
    }
    if (isvert) {
      if (gdof <= 0) continue;
      op->vdof[op->nvown]   = goff - op->rstart;
      op->ownnat[op->nvown] = mesh->vnat[p - vStart];
      op->nvown++;
    } else {
      op->intdof[op->nint] = loff;
      op->intnv[op->nint]  = nv;
      for (PetscInt j = 0; j < nv; j++) PetscCall(PetscSectionGetOffset(lsec, vpt[j], &op->intv[4 * op->nint + j]));
      op->nint++;
    }
  }
  PetscCall(VecRestoreArrayRead(cl, &ca));
  /* order 1: vertex arrays ARE dof arrays (the residual and VJP of the
   * physics take vertex arrays as dof arrays) */
  if (order == 1) {
    PetscCheck(op->nvown == op->nown, PETSC_COMM_SELF, PETSC_ERR_PLIB, "P1/Q1 operator: %" PetscInt_FMT " owned vertices but %" PetscInt_FMT " owned dofs", op->nvown, op->nown);
    for (PetscInt i = 0; i < op->nvown; i++) PetscCheck(op->vdof[i] == i, PETSC_COMM_SELF, PETSC_ERR_PLIB, "P1/Q1 operator: the dofs are not numbered in vertex order");
  }

  PetscCall(PetscMalloc3(op->ncell * nb, &op->cidx, op->ncell * op->nK * nb * nb, &op->B, op->ncell * nb * nb, &op->Me));
  PetscCall(PetscMalloc5(nq * dim, &v, nq * dim * dim, &J, nq * dim * dim, &invJ, nq, &detJ, nb * dim, &grad));
  PetscCall(PetscMalloc2(op->ncell * nb * nb, &ci, op->ncell * nb * nb, &cj));
  PetscCall(PetscCalloc1(op->ncell * nb * nb, &op->coo));
  PetscCall(VecSet(op->l0, 0));
  PetscCall(VecSet(op->l1, 0));
  PetscCall(VecGetArray(op->l0, &Fl));
  {
    PetscScalar *Ml;
    PetscCall(VecGetArray(op->l1, &Ml));
    for (PetscInt c = cStart; c < cEnd; c++) {
      PetscInt  n, *lidx, *gidx;
      PetscInt  cc = c - cStart;
      PetscReal *Bc = op->B + cc * op->nK * nb * nb, *Mc = op->Me + cc * nb * nb;
      PetscCall(DMPlexGetClosureIndices(op->dm, lsec, lsec, c, PETSC_TRUE, &n, &lidx, NULL, NULL));
      PetscCheck(n == nb, PETSC_COMM_SELF, PETSC_ERR_PLIB, "closure has %" PetscInt_FMT " dofs, basis %" PetscInt_FMT, n, nb);
      for (PetscInt i = 0; i < nb; i++) op->cidx[cc * nb + i] = lidx[i];
      PetscCall(DMPlexRestoreClosureIndices(op->dm, lsec, lsec, c, PETSC_TRUE, &n, &lidx, NULL, NULL));
      PetscCall(DMPlexGetClosureIndices(op->dm, lsec, gsec, c, PETSC_TRUE, &n, &gidx, NULL, NULL));
      for (PetscInt i = 0; i < nb; i++)
        for (PetscInt j = 0; j < nb; j++) {
          /* non-owned dofs come back encoded as -(g+1) */
          ci[(cc * nb + i) * nb + j] = gidx[i] >= 0 ? gidx[i] : -(gidx[i] + 1);
          cj[(cc * nb + i) * nb + j] = gidx[j] >= 0 ? gidx[j] : -(gidx[j] + 1);
        }
      PetscCall(DMPlexRestoreClosureIndices(op->dm, lsec, gsec, c, PETSC_TRUE, &n, &gidx, NULL, NULL));
      PetscCall(DMPlexComputeCellGeometryFEM(op->dm, c, quad, v, J, invJ, detJ));
      PetscCall(PetscArrayzero(Bc, op->nK * nb * nb));
      PetscCall(PetscArrayzero(Mc, nb * nb));
      for (PetscInt q = 0; q < nq; q++) {
        const PetscReal *phi = T->T[0] + q * nb, *dref = T->T[1] + q * nb * dim, *iJ = invJ + q * dim * dim;
        PetscReal        wq  = qw[q] * detJ[q], f;
        PetscCheck(detJ[q] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "inverted or degenerate cell %" PetscInt_FMT " (det J = %g)", c, (double)detJ[q]);
        /* physical gradients: grad_j = sum_i dphi/dxi_i dxi_i/dx_j */
        for (PetscInt b = 0; b < nb; b++)
          for (PetscInt d = 0; d < dim; d++) {
            grad[b * dim + d] = 0;
            for (PetscInt e = 0; e < dim; e++) grad[b * dim + d] += dref[b * dim + e] * iJ[e * dim + d];
          }
        if (order == 1) {
          for (PetscInt k = 0; k < nb; k++)
            for (PetscInt i = 0; i < nb; i++)
              for (PetscInt j = 0; j < nb; j++) {
                PetscReal gg = 0;
                for (PetscInt d = 0; d < dim; d++) gg += grad[i * dim + d] * grad[j * dim + d];
                Bc[(k * nb + i) * nb + j] += wq * phi[k] * gg;
              }
        } else {
          /* B[c][q][i][j] = w_q grad(phi_i).grad(phi_j) at point q */
          for (PetscInt i = 0; i < nb; i++)
            for (PetscInt j = 0; j < nb; j++) {
              PetscReal gg = 0;
              for (PetscInt d = 0; d < dim; d++) gg += grad[i * dim + d] * grad[j * dim + d];
              Bc[(q * nb + i) * nb + j] = wq * gg;
            }
        }
        for (PetscInt i = 0; i < nb; i++)
          for (PetscInt j = 0; j < nb; j++) Mc[i * nb + j] += wq * phi[i] * phi[j];
        PetscCall(forcing(v + q * dim, fctx, &f));
        for (PetscInt i = 0; i < nb; i++) {
          Fl[op->cidx[cc * nb + i]] += wq * f * phi[i];
          Ml[op->cidx[cc * nb + i]] += wq * phi[i];
        }
      }
    }
    PetscCall(VecRestoreArray(op->l1, &Ml));
  }
  PetscCall(VecRestoreArray(op->l0, &Fl));
  PetscCall(VecSet(op->F, 0));
  PetscCall(VecSet(op->mass, 0));
  PetscCall(DMLocalToGlobal(op->dm, op->l0, ADD_VALUES, op->F));
  PetscCall(DMLocalToGlobal(op->dm, op->l1, ADD_VALUES, op->mass));
  /* pure Neumann: the forcing must be orthogonal to constants; quadrature of
   * the discontinuous source leaves a tiny net source, removed as a uniform one */
  PetscCall(VecDuplicate(op->F, &op->Fraw));
  PetscCall(VecDuplicate(op->F, &op->b));
  PetscCall(VecCopy(op->F, op->Fraw));
  {
    PetscScalar fsum, msum;
    PetscCall(VecSum(op->F, &fsum));
    PetscCall(VecSum(op->mass, &msum));
    PetscCall(VecAXPY(op->F, -fsum / msum, op->mass));
    PetscCall(VecNorm(op->F, NORM_2, &op->fnorm));
  }
  PetscCall(MatCreate(op->comm, &op->A));
  PetscCall(MatSetSizes(op->A, op->nown, op->nown, PETSC_DETERMINE, PETSC_DETERMINE));
  PetscCall(MatSetType(op->A, MATAIJ));
  PetscCall(MatSetPreallocationCOO(op->A, (PetscCount)op->ncell * nb * nb, ci, cj));
  PetscCall(MatNullSpaceCreate(op->comm, PETSC_TRUE, 0, NULL, &op->nullsp));
  PetscCall(MatSetNullSpace(op->A, op->nullsp));
  PetscCall(MatSetOption(op->A, MAT_SYMMETRIC, PETSC_TRUE));
  PetscCall(PetscFree2(ci, cj));
  PetscCall(PetscFree5(v, J, invJ, detJ, grad));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpDestroy(PFDarcyOp *op)
{
  PetscFunctionBegin;
  PetscCall(PetscFree3(op->cidx, op->B, op->Me));
  PetscCall(PetscFree(op->coo));
  PetscCall(PetscFree3(op->owncoords, op->vdof, op->ownnat));
  PetscCall(PetscFree4(op->intdof, op->intnv, op->intv, op->work));
  if (op->E) PetscCall(PetscFree2(op->E, op->kc));
  else PetscCall(PetscFree(op->kc));
  PetscCall(VecDestroy(&op->mass));
  PetscCall(VecDestroy(&op->F));
  PetscCall(VecDestroy(&op->Fraw));
  PetscCall(VecDestroy(&op->b));
  PetscCall(PetscFree2(op->dir, op->dirv));
  PetscCall(VecDestroy(&op->l0));
  PetscCall(VecDestroy(&op->l1));
  PetscCall(VecDestroy(&op->l2));
  PetscCall(VecDestroy(&op->g0));
  PetscCall(VecDestroy(&op->g1));
  PetscCall(MatDestroy(&op->A));
  PetscCall(MatDestroy(&op->Afac));
  PetscCall(MatNullSpaceDestroy(&op->nullsp));
  PetscCall(PetscFEDestroy(&op->fe));
  PetscCall(DMDestroy(&op->dm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* global owned array -> ghosted local vector */
PetscErrorCode PFDarcyOpToLocal(PFDarcyOp *op, const PetscScalar *own, Vec loc)
{
  PetscFunctionBegin;
  PetscCall(VecPlaceArray(op->g0, own));
  PetscCall(DMGlobalToLocal(op->dm, op->g0, INSERT_VALUES, loc));
  PetscCall(VecResetArray(op->g0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ghosted local contributions -> owned array (sum) */
static PetscErrorCode AddToOwned(PFDarcyOp *op, Vec loc, PetscScalar *own)
{
  PetscFunctionBegin;
  PetscCall(VecPlaceArray(op->g1, own));
  PetscCall(VecSet(op->g1, 0));
  PetscCall(DMLocalToGlobal(op->dm, loc, ADD_VALUES, op->g1));
  PetscCall(VecResetArray(op->g1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpLocalCoef(PFDarcyOp *op, const PetscScalar *g, Vec C)
{
  PetscFunctionBegin;
  PetscCall(PFDarcyOpToLocal(op, g, C));
  if (op->order == 1) PetscCall(VecExp(C));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpVertexLocalCoef(PFDarcyOp *op, const PetscScalar *gv, Vec C)
{
  PetscScalar *c;

  PetscFunctionBegin;
  if (op->order == 1) {
    PetscCall(PFDarcyOpLocalCoef(op, gv, C));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* The physics knows log K only at the vertices.  The other nodes take the
   * P1/Q1 interpolant g_h of those values (edge midpoint: the mean of its 2
   * vertices; Q2 cell centre: the mean of its 4, the bilinear value there),
   * so K = exp(g_h) at every node.  The P2/Q2 interpolant of these nodal
   * values is g_h itself (it reproduces P1/Q1), so the solve sees
   * K = exp(g_h) at every quadrature point too: no information is invented
   * between the vertices, and K matches the P1/Q1 operator's at the vertices. */
  PetscCall(PetscArrayzero(op->work, op->nown));
  for (PetscInt i = 0; i < op->nvown; i++) op->work[op->vdof[i]] = gv[i];
  PetscCall(PFDarcyOpToLocal(op, op->work, C));
  PetscCall(VecGetArray(C, &c));
  /* every vertex of a local edge or cell is local (overlap-0 closures), so
   * the ghosted vertex values suffice: no second communication */
  for (PetscInt s = 0; s < op->nint; s++) {
    PetscScalar sum = 0;
    for (PetscInt j = 0; j < op->intnv[s]; j++) sum += c[op->intv[4 * s + j]];
    c[op->intdof[s]] = sum / op->intnv[s];
  }
  PetscCall(VecRestoreArray(C, &c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpVertexValues(PFDarcyOp *op, const PetscScalar *dofs, PetscScalar *vert)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < op->nvown; i++) vert[i] = dofs[op->vdof[i]];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* K at the coefficient points of local cell c (op->kc) from the local
 * coefficient array: order 1 the nodal K, order 2 exp of the interpolated log K */
static inline void CellK(PFDarcyOp *op, PetscInt c, const PetscScalar *Cl)
{
  const PetscInt  nb  = op->nb;
  const PetscInt *idx = op->cidx + c * nb;

  if (op->order == 1) {
    for (PetscInt k = 0; k < nb; k++) op->kc[k] = Cl[idx[k]];
  } else {
    for (PetscInt q = 0; q < op->nK; q++) {
      PetscScalar gq = 0;
      for (PetscInt k = 0; k < nb; k++) gq += op->E[q * nb + k] * Cl[idx[k]];
      op->kc[q] = PetscExpScalar(gq);
    }
  }
}

/* element matrix sum_m K_m B[c][m] */
static inline void CellMatrix(PFDarcyOp *op, PetscInt c, PetscScalar *Ae)
{
  const PetscInt   nb2 = op->nb * op->nb;
  const PetscReal *Bc  = op->B + c * op->nK * nb2;

  for (PetscInt ij = 0; ij < nb2; ij++) Ae[ij] = 0;
  for (PetscInt m = 0; m < op->nK; m++) {
    const PetscScalar K = op->kc[m];
    for (PetscInt ij = 0; ij < nb2; ij++) Ae[ij] += K * Bc[m * nb2 + ij];
  }
}

PetscErrorCode PFDarcyOpAssemble(PFDarcyOp *op, const PetscScalar *Cl)
{
  PetscFunctionBegin;
  for (PetscInt c = 0; c < op->ncell; c++) {
    CellK(op, c, Cl);
    CellMatrix(op, c, op->coo + c * op->nb * op->nb);
  }
  PetscCall(MatSetValuesCOO(op->A, op->coo, INSERT_VALUES));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* R = A(K) p - F, the element equations at every dof (Dirichlet rows too:
 * there they are the reaction, i.e. the weak boundary flux) */
static PetscErrorCode ElementResidual(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *R)
{
  const PetscInt     nb = op->nb;
  const PetscScalar *Cl, *pl, *F;
  PetscScalar       *Rl;

  PetscFunctionBegin;
  PetscCall(PFDarcyOpLocalCoef(op, g, op->l0));
  PetscCall(PFDarcyOpToLocal(op, p, op->l1));
  PetscCall(VecSet(op->l2, 0));
  PetscCall(VecGetArrayRead(op->l0, &Cl));
  PetscCall(VecGetArrayRead(op->l1, &pl));
  PetscCall(VecGetArray(op->l2, &Rl));
  for (PetscInt c = 0; c < op->ncell; c++) {
    const PetscInt *idx = op->cidx + c * nb;
    PetscScalar     Ae[PF_DARCY_MAXNB * PF_DARCY_MAXNB], pe[PF_DARCY_MAXNB];
    CellK(op, c, Cl);
    CellMatrix(op, c, Ae);
    for (PetscInt j = 0; j < nb; j++) pe[j] = pl[idx[j]];
    for (PetscInt i = 0; i < nb; i++) {
      PetscScalar r = 0;
      for (PetscInt j = 0; j < nb; j++) r += Ae[i * nb + j] * pe[j];
      Rl[idx[i]] += r;
    }
  }
  PetscCall(VecRestoreArrayRead(op->l0, &Cl));
  PetscCall(VecRestoreArrayRead(op->l1, &pl));
  PetscCall(VecRestoreArray(op->l2, &Rl));
  PetscCall(AddToOwned(op, op->l2, R));
  PetscCall(VecGetArrayRead(op->F, &F));
  for (PetscInt i = 0; i < op->nown; i++) R[i] -= F[i];
  PetscCall(VecRestoreArrayRead(op->F, &F));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpResidual(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *R)
{
  PetscFunctionBegin;
  PetscCall(ElementResidual(op, g, p, R));
  /* Dirichlet rows: the equation there is p_i = value */
  for (PetscInt k = 0; k < op->ndir; k++) R[op->dir[k]] = p[op->dir[k]] - op->dirv[k];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* gg = (dE/dg)^T v, gp = (dE/dp)^T v for the element equations E = A(K) p - F */
static PetscErrorCode ElementVJP(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *v, PetscScalar *gg, PetscScalar *gp)
{
  const PetscInt     nb = op->nb, nb2 = nb * nb;
  const PetscScalar *Cl, *pl, *vl;
  PetscScalar       *Gl, *Pl;
  Vec                vloc, gK, gP;

  PetscFunctionBegin;
  PetscCall(PFDarcyOpLocalCoef(op, g, op->l0));
  PetscCall(PFDarcyOpToLocal(op, p, op->l1));
  PetscCall(DMGetLocalVector(op->dm, &vloc));
  PetscCall(DMGetLocalVector(op->dm, &gK));
  PetscCall(DMGetLocalVector(op->dm, &gP));
  PetscCall(PFDarcyOpToLocal(op, v, vloc));
  PetscCall(VecSet(gK, 0));
  PetscCall(VecSet(gP, 0));
  PetscCall(VecGetArrayRead(op->l0, &Cl));
  PetscCall(VecGetArrayRead(op->l1, &pl));
  PetscCall(VecGetArrayRead(vloc, &vl));
  PetscCall(VecGetArray(gK, &Gl));
  PetscCall(VecGetArray(gP, &Pl));
  for (PetscInt c = 0; c < op->ncell; c++) {
    const PetscInt  *idx = op->cidx + c * nb;
    const PetscReal *Bc  = op->B + c * op->nK * nb2;
    PetscScalar      pe[PF_DARCY_MAXNB], ve[PF_DARCY_MAXNB];
    CellK(op, c, Cl);
    for (PetscInt j = 0; j < nb; j++) {
      pe[j] = pl[idx[j]];
      ve[j] = vl[idx[j]];
    }
    for (PetscInt m = 0; m < op->nK; m++) {
      const PetscReal  *Bm = Bc + m * nb2;
      const PetscScalar K  = op->kc[m];
      PetscScalar       vBp = 0;
      for (PetscInt i = 0; i < nb; i++)
        for (PetscInt j = 0; j < nb; j++) {
          vBp += ve[i] * Bm[i * nb + j] * pe[j];
          /* d(R_i)/d(p_j) = sum_m K_m B_mij, so (J_p^T v)_j = sum_i v_i sum_m K_m B_mij */
          Pl[idx[j]] += K * ve[i] * Bm[i * nb + j];
        }
      /* order 1: K_k = exp(g_k), d/dg_k = K_k d/dK_k; order 2: K_q =
       * exp(sum_k E_qk g_k), d/dg_k = sum_q E_qk K_q d/dK_q */
      if (op->order == 1) Gl[idx[m]] += K * vBp;
      else
        for (PetscInt k = 0; k < nb; k++) Gl[idx[k]] += op->E[m * nb + k] * K * vBp;
    }
  }
  PetscCall(VecRestoreArrayRead(op->l0, &Cl));
  PetscCall(VecRestoreArrayRead(op->l1, &pl));
  PetscCall(VecRestoreArrayRead(vloc, &vl));
  PetscCall(VecRestoreArray(gK, &Gl));
  PetscCall(VecRestoreArray(gP, &Pl));
  PetscCall(AddToOwned(op, gK, gg));
  PetscCall(AddToOwned(op, gP, gp));
  PetscCall(DMRestoreLocalVector(op->dm, &vloc));
  PetscCall(DMRestoreLocalVector(op->dm, &gK));
  PetscCall(DMRestoreLocalVector(op->dm, &gP));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpVJP(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *v, PetscScalar *gg, PetscScalar *gp)
{
  PetscFunctionBegin;
  if (op->ndir) {
    /* Dirichlet rows are p_i = value, not element equations: their weights
     * leave the element pass, and d(p_i - value)/dp_i = 1 is added */
    PetscScalar *vmod;
    PetscCall(PetscMalloc1(op->nown, &vmod));
    PetscCall(PetscArraycpy(vmod, v, op->nown));
    for (PetscInt k = 0; k < op->ndir; k++) vmod[op->dir[k]] = 0;
    PetscCall(ElementVJP(op, g, p, vmod, gg, gp));
    PetscCall(PetscFree(vmod));
    for (PetscInt k = 0; k < op->ndir; k++) gp[op->dir[k]] += v[op->dir[k]];
  } else PetscCall(ElementVJP(op, g, p, v, gg, gp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* mark[i] = value at the owned dofs on the closure of the boundary group
 * with this Face Sets tag (vertices, and edge midpoints for order 2) */
static PetscErrorCode MarkGroup(PFDarcyOp *op, PFMesh mesh, PetscInt tag, const char name[], PetscScalar value, PetscScalar *mark)
{
  DMLabel      label;
  PetscSection gsec;
  IS           is;
  PetscInt     nf = 0, nfg;

  PetscFunctionBegin;
  PetscCall(DMGetLabel(op->dm, "Face Sets", &label));
  PetscCheck(label, op->comm, PETSC_ERR_ARG_WRONG, "mesh '%s' has no boundary groups (no \"Face Sets\" label)", mesh->source);
  PetscCall(DMGetGlobalSection(op->dm, &gsec));
  PetscCall(DMLabelGetStratumIS(label, tag, &is));
  if (is) {
    const PetscInt *faces;
    PetscCall(ISGetLocalSize(is, &nf));
    PetscCall(ISGetIndices(is, &faces));
    for (PetscInt f = 0; f < nf; f++) {
      PetscInt *closure = NULL, n;
      PetscCall(DMPlexGetTransitiveClosure(op->dm, faces[f], PETSC_TRUE, &n, &closure));
      /* the closure of a boundary edge is the edge and its 2 vertices */
      for (PetscInt i = 0; i < 2 * n; i += 2) {
        PetscInt gdof, goff;
        PetscCall(PetscSectionGetDof(gsec, closure[i], &gdof));
        PetscCall(PetscSectionGetOffset(gsec, closure[i], &goff));
        for (PetscInt k = 0; k < gdof; k++) mark[goff - op->rstart + k] = value;
      }
      PetscCall(DMPlexRestoreTransitiveClosure(op->dm, faces[f], PETSC_TRUE, &n, &closure));
    }
    PetscCall(ISRestoreIndices(is, &faces));
    PetscCall(ISDestroy(&is));
  }
  PetscCallMPI(MPI_Allreduce(&nf, &nfg, 1, MPIU_INT, MPI_SUM, op->comm));
  PetscCheck(nfg > 0, op->comm, PETSC_ERR_ARG_WRONG, "boundary group '%s' of mesh '%s' has no edges", name, mesh->source);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSetDirichlet(PFDarcyOp *op, PFMesh mesh, PetscInt ntags, const PetscInt tags[], const char *const names[], const double values[])
{
  PetscScalar *mark, *val;

  PetscFunctionBegin;
  if (ntags == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscCalloc2(op->nown, &mark, op->nown, &val));
  /* a dof shared by two groups (a corner) takes the later group's value */
  for (PetscInt t = 0; t < ntags; t++) {
    PetscCall(MarkGroup(op, mesh, tags[t], names[t], 1, mark));
    PetscCall(MarkGroup(op, mesh, tags[t], names[t], values[t], val));
  }
  op->ndir = 0;
  for (PetscInt i = 0; i < op->nown; i++) op->ndir += mark[i] != 0 ? 1 : 0;
  PetscCall(PetscMalloc2(op->ndir + 1, &op->dir, op->ndir + 1, &op->dirv));
  op->ndir = 0;
  for (PetscInt i = 0; i < op->nown; i++)
    if (mark[i] != 0) {
      op->dirv[op->ndir] = PetscRealPart(val[i]);
      op->dir[op->ndir++] = i;
    }
  PetscCall(PetscFree2(mark, val));
  PetscCallMPI(MPI_Allreduce(&op->ndir, &op->ndir_global, 1, MPIU_INT, MPI_SUM, op->comm));
  /* no null space any more: the raw forcing, not its Neumann projection */
  PetscCall(VecCopy(op->Fraw, op->F));
  PetscCall(VecNorm(op->F, NORM_2, &op->fnorm));
  PetscCall(MatSetNullSpace(op->A, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpGroupMask(PFDarcyOp *op, PFMesh mesh, PetscInt tag, const char name[], PetscScalar *mask)
{
  PetscFunctionBegin;
  PetscCall(PetscArrayzero(mask, op->nown));
  PetscCall(MarkGroup(op, mesh, tag, name, 1, mask));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpGroupFlux(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *mask, double *Q, PetscScalar *gg, PetscScalar *gp)
{
  PetscScalar *E;
  double       q = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(op->nown + 1, &E));
  PetscCall(ElementResidual(op, g, p, E));
  for (PetscInt i = 0; i < op->nown; i++) q -= PetscRealPart(mask[i] * E[i]);
  PetscCallMPI(MPI_Allreduce(&q, Q, 1, MPI_DOUBLE, MPI_SUM, op->comm));
  if (gg) {
    for (PetscInt i = 0; i < op->nown; i++) E[i] = -mask[i];
    PetscCall(ElementVJP(op, g, p, E, gg, gp));
  }
  PetscCall(PetscFree(E));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Solve the assembled A(K) with op->b as right-hand side.  The Dirichlet
 * dofs take the values dval[k] (k over op->dir; NULL: op->dirv), by
 * symmetric elimination, which keeps CG applicable: b is corrected for the
 * known values, and the next MatSetValuesCOO restores the rows.  Pure
 * Neumann: the constant is fixed by zero mean, sum_i p_i int phi_i = int p_h
 * (order 1: the lumped-mass mean). */
/* The rows a solve replaces by the identity (global indices, rows[ndir +
 * 1]): the Dirichlet dofs; for a factored solve of a pure Neumann operator
 * global dof 0, pinned: for a right-hand side of zero sum the pinned row's
 * equation is minus the sum of the others' (A's rows sum to zero), so the
 * pinned system's solution solves the singular one */
static void BoundaryRows(PFDarcyOp *op, PetscBool factored, PetscInt rows[], PetscInt *nrows)
{
  *nrows = 0;
  if (op->ndir_global)
    for (PetscInt k = 0; k < op->ndir; k++) rows[(*nrows)++] = op->rstart + op->dir[k];
  else if (factored && op->rstart == 0 && op->nown > 0) rows[(*nrows)++] = 0;
}

/* whether ksp factors its matrix (PC lu or cholesky): the singular pure
 * Neumann operator is then pinned, not handed over with its null space */
static PetscErrorCode IsFactored(KSP ksp, PetscBool *factored)
{
  PC pc;

  PetscFunctionBegin;
  PetscCall(KSPGetPC(ksp, &pc));
  PetscCall(PetscObjectTypeCompareAny((PetscObject)pc, factored, PCLU, PCCHOLESKY, ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The matrix a solve hands to its KSP: A itself for an iterative solver
 * (Dirichlet rows eliminated in place: the next assembly restores them),
 * or a copy without the null space for a factorisation */
static PetscErrorCode SolveMatrix(PFDarcyOp *op, PetscBool factored, Mat *M)
{
  PetscFunctionBegin;
  *M = op->A;
  if (!factored) PetscFunctionReturn(PETSC_SUCCESS);
  if (!op->Afac) PetscCall(MatDuplicate(op->A, MAT_COPY_VALUES, &op->Afac));
  else PetscCall(MatCopy(op->A, op->Afac, SAME_NONZERO_PATTERN));
  PetscCall(MatSetNullSpace(op->Afac, NULL));
  *M = op->Afac;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the zero-mean representative of a pure Neumann solution */
static PetscErrorCode ZeroMean(PFDarcyOp *op, Vec sol)
{
  PetscScalar mp, msum;

  PetscFunctionBegin;
  PetscCall(VecDot(sol, op->mass, &mp));
  PetscCall(VecSum(op->mass, &msum));
  PetscCall(VecShift(sol, -mp / msum));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Solve the assembled A with right-hand side op->b; Dirichlet dofs (if
 * any) get dval[k] (NULL: the boundary data op->dirv) by symmetric
 * elimination, which keeps CG applicable: b is corrected for the known
 * values.  Pure Neumann: the constant is fixed by zero mean, sum_i p_i
 * int phi_i = int p_h (order 1: the lumped-mass mean). */
static PetscErrorCode SolveAssembled(PFDarcyOp *op, KSP ksp, const PetscScalar *dval, Vec sol, PetscInt *its)
{
  KSPConvergedReason reason;
  PetscInt          *rows, nrows;
  PetscBool          factored;
  Mat                M;

  PetscFunctionBegin;
  PetscCall(IsFactored(ksp, &factored));
  PetscCall(SolveMatrix(op, factored, &M));
  PetscCall(PetscMalloc1(op->ndir + 1, &rows));
  BoundaryRows(op, factored, rows, &nrows);
  if (op->ndir_global || factored) { /* collective: a rank may have no such row */
    PetscScalar *s;
    PetscCall(VecSet(sol, 0));
    PetscCall(VecGetArray(sol, &s));
    for (PetscInt k = 0; k < op->ndir && op->ndir_global; k++) s[op->dir[k]] = dval ? dval[k] : op->dirv[k];
    PetscCall(VecRestoreArray(sol, &s));
    PetscCall(MatZeroRowsColumns(M, nrows, rows, 1.0, sol, op->b));
  }
  PetscCall(PetscFree(rows));
  PetscCall(KSPSetOperators(ksp, M, M));
  PetscCall(KSPSolve(ksp, op->b, sol));
  PetscCall(KSPGetConvergedReason(ksp, &reason));
  {
    /* made collective: a preconditioner's failure may be flagged on one
     * rank only (preonly reports the local PC reason), and callers that
     * catch a failed solve must all take the same branch */
    PetscMPIInt r = (PetscMPIInt)reason, rmin;
    PetscCallMPI(MPI_Allreduce(&r, &rmin, 1, MPI_INT, MPI_MIN, op->comm));
    reason = (KSPConvergedReason)rmin;
  }
  PetscCheck(reason > 0, op->comm, PETSC_ERR_NOT_CONVERGED, "the Darcy solve did not converge (%s); check the permeability field, or try -darcy_ksp_type gmres or a looser -darcy_ksp_rtol", KSPConvergedReasons[reason]);
  if (its) PetscCall(KSPGetIterationNumber(ksp, its));
  if (!op->ndir_global) PetscCall(ZeroMean(op, sol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSolveCoef(PFDarcyOp *op, KSP ksp, Vec C, Vec sol, PetscInt *its)
{
  const PetscScalar *Cl;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(C, &Cl));
  PetscCall(PFDarcyOpAssemble(op, Cl));
  PetscCall(VecRestoreArrayRead(C, &Cl));
  PetscCall(VecCopy(op->F, op->b));
  PetscCall(SolveAssembled(op, ksp, NULL, sol, its));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A = J_p at log K g (owned dof array), order 1 */
static PetscErrorCode AssembleJacobian(PFDarcyOp *op, const PetscScalar *g)
{
  const PetscScalar *Cl;

  PetscFunctionBegin;
  PetscCheck(op->order == 1, op->comm, PETSC_ERR_SUP, "the Jacobian solve is implemented for the order-1 operator (the residual's)");
  PetscCall(PFDarcyOpLocalCoef(op, g, op->l0));
  PetscCall(VecGetArrayRead(op->l0, &Cl));
  PetscCall(PFDarcyOpAssemble(op, Cl));
  PetscCall(VecRestoreArrayRead(op->l0, &Cl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* J_p^T y = r, after A_II y_I = r_I with y_D = 0: (J_p^T y)_D is
 * sum_{i interior} y_i A_iD = (A_DI y_I), so y_D = r_D - A_DI y_I */
static PetscErrorCode AdjointDirichletRows(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *r, PetscScalar *y)
{
  PetscScalar *gg, *gp;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(op->nown, &gg, op->nown, &gp));
  PetscCall(PFDarcyOpVJP(op, g, y, y, gg, gp));
  for (PetscInt k = 0; k < op->ndir; k++) y[op->dir[k]] = r[op->dir[k]] - gp[op->dir[k]];
  PetscCall(PetscFree2(gg, gp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSolveJacobian(PFDarcyOp *op, KSP ksp, const PetscScalar *g, PetscBool transpose, const PetscScalar *r, PetscScalar *y)
{
  PetscScalar *b, *dval = NULL;

  PetscFunctionBegin;
  PetscCall(AssembleJacobian(op, g));
  PetscCall(VecGetArray(op->b, &b));
  PetscCall(PetscArraycpy(b, r, op->nown));
  PetscCall(VecRestoreArray(op->b, &b));
  /* J_p = [A_II A_ID; 0 I] (rows: interior, Dirichlet).  J_p y = r: y_D = r_D,
   * A_II y_I = r_I - A_ID r_D.  J_p^T y = r: A_II y_I = r_I, then
   * y_D = r_D - A_DI y_I. */
  PetscCall(PetscCalloc1(op->ndir + 1, &dval));
  if (!transpose)
    for (PetscInt k = 0; k < op->ndir; k++) dval[k] = r[op->dir[k]];
  {
    /* an absolute floor: the residual of a solver state is round-off, which
     * CG cannot reduce by a further 1e-12 */
    PetscReal rtol, atol, dtol;
    PetscInt  maxit;
    PetscCall(KSPGetTolerances(ksp, &rtol, &atol, &dtol, &maxit));
    PetscCall(KSPSetTolerances(ksp, rtol, PetscMax(atol, 1e-14 * op->fnorm), dtol, maxit));
    PetscErrorCode ierr;
    PetscCall(VecPlaceArray(op->g0, y));
    /* a failed solve (callers may catch it: a wild generated field) must
     * leave the work vector and the tolerances as they were */
    ierr = SolveAssembled(op, ksp, dval, op->g0, NULL);
    PetscCall(VecResetArray(op->g0));
    PetscCall(KSPSetTolerances(ksp, rtol, atol, dtol, maxit));
    if (ierr) PetscCall(PetscFree(dval));
    PetscCall(ierr);
  }
  if (transpose && op->ndir_global) PetscCall(AdjointDirichletRows(op, g, r, y));
  PetscCall(PetscFree(dval));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSolveJacobianMany(PFDarcyOp *op, KSP ksp, const PetscScalar *g, PetscBool transpose, PetscInt K, const PetscScalar *r, PetscScalar *y)
{
  PetscInt    *rows, nrows;
  PetscScalar *b;
  PetscBool    factored;
  Vec          sol, lift = NULL, Alift = NULL;
  Mat          M;

  PetscFunctionBegin;
  PetscCall(AssembleJacobian(op, g));
  /* one factored copy for all K (its boundary rows the identity); op->A
   * keeps J_p's interior-boundary block for the forward solves' lifting */
  PetscCall(IsFactored(ksp, &factored));
  PetscCheck(factored, op->comm, PETSC_ERR_ARG_WRONG, "the Jacobian solve of many right-hand sides wants a factorisation (-darcy_adjoint_pc_type cholesky or lu)");
  PetscCall(SolveMatrix(op, PETSC_TRUE, &M));
  PetscCall(PetscMalloc1(op->ndir + 1, &rows));
  BoundaryRows(op, PETSC_TRUE, rows, &nrows);
  PetscCall(MatZeroRowsColumns(M, nrows, rows, 1.0, NULL, NULL));
  PetscCall(KSPSetOperators(ksp, M, M));
  PetscCall(VecDuplicate(op->b, &sol));
  if (!transpose && op->ndir_global) {
    PetscCall(VecDuplicate(op->b, &lift));
    PetscCall(VecDuplicate(op->b, &Alift));
  }
  for (PetscInt q = 0; q < K; q++) {
    const PetscScalar *rq = r + (size_t)q * op->nown;
    PetscScalar       *yq = y + (size_t)q * op->nown;
    KSPConvergedReason reason;
    if (lift) {
      /* J_p y = r: y_D = r_D, A_II y_I = r_I - A_ID r_D */
      PetscScalar *l;
      PetscCall(VecSet(lift, 0));
      PetscCall(VecGetArray(lift, &l));
      for (PetscInt k = 0; k < op->ndir; k++) l[op->dir[k]] = rq[op->dir[k]];
      PetscCall(VecRestoreArray(lift, &l));
      PetscCall(MatMult(op->A, lift, Alift));
    }
    /* J_p^T y = r: A_II y_I = r_I with y_D = 0, then y_D = r_D - A_DI y_I */
    PetscCall(VecGetArray(op->b, &b));
    PetscCall(PetscArraycpy(b, rq, op->nown));
    if (lift) {
      const PetscScalar *al;
      PetscCall(VecGetArrayRead(Alift, &al));
      for (PetscInt i = 0; i < op->nown; i++) b[i] -= al[i];
      PetscCall(VecRestoreArrayRead(Alift, &al));
    }
    for (PetscInt k = 0; k < nrows; k++) b[rows[k] - op->rstart] = 0;
    PetscCall(VecRestoreArray(op->b, &b));
    PetscCall(VecPlaceArray(sol, yq));
    PetscCall(KSPSolve(ksp, op->b, sol));
    PetscCall(KSPGetConvergedReason(ksp, &reason));
    if (reason > 0 && !op->ndir_global) PetscCall(ZeroMean(op, sol)); /* as PFDarcyOpSolveJacobian returns it */
    PetscCall(VecResetArray(sol));
    if (reason <= 0) {
      PetscCall(VecDestroy(&sol));
      PetscCall(VecDestroy(&lift));
      PetscCall(VecDestroy(&Alift));
      PetscCall(PetscFree(rows));
      SETERRQ(op->comm, PETSC_ERR_NOT_CONVERGED, "the Darcy Jacobian solve of many right-hand sides (-darcy_adjoint_) did not converge (%s)", KSPConvergedReasons[reason]);
    }
    if (op->ndir_global && transpose) PetscCall(AdjointDirichletRows(op, g, rq, yq));
    else if (op->ndir_global)
      for (PetscInt k = 0; k < op->ndir; k++) yq[op->dir[k]] = rq[op->dir[k]];
  }
  PetscCall(VecDestroy(&sol));
  PetscCall(VecDestroy(&lift));
  PetscCall(VecDestroy(&Alift));
  PetscCall(PetscFree(rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSolve(PFDarcyOp *op, KSP ksp, const PetscScalar *gv, Vec sol, PetscInt *its)
{
  PetscFunctionBegin;
  PetscCall(PFDarcyOpVertexLocalCoef(op, gv, op->l0));
  PetscCall(PFDarcyOpSolveCoef(op, ksp, op->l0, sol, its));
  PetscFunctionReturn(PETSC_SUCCESS);
}
