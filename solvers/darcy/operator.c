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
   * 2q+1.  phi_k grad(phi_i).grad(phi_j) has degree 3k-2 on affine triangles
   * (4 for P2) and degree 3k per variable on parallelogram quads (6 for Q2),
   * so q = 3 is exact for both orders there.  Order 2 takes q = 4 as margin
   * for general quads (a rational integrand) and for the discontinuous
   * source; order 1 keeps q = 3 so its data do not change. */
  qorder = order == 1 ? 3 : 4;
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

  PetscCall(PetscMalloc3(op->ncell * nb, &op->cidx, op->ncell * nb * nb * nb, &op->B, op->ncell * nb * nb, &op->Me));
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
      PetscReal *Bc = op->B + cc * nb * nb * nb, *Mc = op->Me + cc * nb * nb;
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
      PetscCall(PetscArrayzero(Bc, nb * nb * nb));
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
        for (PetscInt k = 0; k < nb; k++)
          for (PetscInt i = 0; i < nb; i++)
            for (PetscInt j = 0; j < nb; j++) {
              PetscReal gg = 0;
              for (PetscInt d = 0; d < dim; d++) gg += grad[i * dim + d] * grad[j * dim + d];
              Bc[(k * nb + i) * nb + j] += wq * phi[k] * gg;
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
  PetscCall(VecDestroy(&op->mass));
  PetscCall(VecDestroy(&op->F));
  PetscCall(VecDestroy(&op->Fraw));
  PetscCall(VecDestroy(&op->b));
  PetscCall(PetscFree(op->dir));
  PetscCall(VecDestroy(&op->l0));
  PetscCall(VecDestroy(&op->l1));
  PetscCall(VecDestroy(&op->l2));
  PetscCall(VecDestroy(&op->g0));
  PetscCall(VecDestroy(&op->g1));
  PetscCall(MatDestroy(&op->A));
  PetscCall(MatNullSpaceDestroy(&op->nullsp));
  PetscCall(PetscFEDestroy(&op->fe));
  PetscCall(DMDestroy(&op->dm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* global owned array -> ghosted local vector */
static PetscErrorCode ToLocal(PFDarcyOp *op, const PetscScalar *own, Vec loc)
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

PetscErrorCode PFDarcyOpLocalK(PFDarcyOp *op, const PetscScalar *g, Vec Kloc)
{
  PetscFunctionBegin;
  PetscCall(ToLocal(op, g, Kloc));
  PetscCall(VecExp(Kloc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpVertexLocalK(PFDarcyOp *op, const PetscScalar *gv, Vec Kloc)
{
  PetscScalar *K;

  PetscFunctionBegin;
  if (op->order == 1) {
    PetscCall(PFDarcyOpLocalK(op, gv, Kloc));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* The physics knows log K only at the vertices.  The other nodes take the
   * P1/Q1 interpolant g_h of those values (edge midpoint: the mean of its 2
   * vertices; Q2 cell centre: the mean of its 4, the bilinear value there),
   * then K = exp(g_h) at every node.  So K_h is the P2/Q2 interpolant of
   * exp(g_h): positive, equal to the P1/Q1 operator's K at the vertices, and
   * no new information is invented between them. */
  PetscCall(PetscArrayzero(op->work, op->nown));
  for (PetscInt i = 0; i < op->nvown; i++) op->work[op->vdof[i]] = gv[i];
  PetscCall(ToLocal(op, op->work, Kloc));
  PetscCall(VecGetArray(Kloc, &K));
  /* every vertex of a local edge or cell is local (overlap-0 closures), so
   * the ghosted vertex values suffice: no second communication */
  for (PetscInt s = 0; s < op->nint; s++) {
    PetscScalar sum = 0;
    for (PetscInt j = 0; j < op->intnv[s]; j++) sum += K[op->intv[4 * s + j]];
    K[op->intdof[s]] = sum / op->intnv[s];
  }
  PetscCall(VecRestoreArray(Kloc, &K));
  PetscCall(VecExp(Kloc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpVertexValues(PFDarcyOp *op, const PetscScalar *dofs, PetscScalar *vert)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < op->nvown; i++) vert[i] = dofs[op->vdof[i]];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpAssemble(PFDarcyOp *op, const PetscScalar *Kl)
{
  const PetscInt nb = op->nb;

  PetscFunctionBegin;
  for (PetscInt c = 0; c < op->ncell; c++) {
    const PetscInt  *idx = op->cidx + c * nb;
    const PetscReal *Bc  = op->B + c * nb * nb * nb;
    PetscScalar     *Ae  = op->coo + c * nb * nb;
    for (PetscInt ij = 0; ij < nb * nb; ij++) Ae[ij] = 0;
    for (PetscInt k = 0; k < nb; k++) {
      const PetscScalar K = Kl[idx[k]];
      for (PetscInt ij = 0; ij < nb * nb; ij++) Ae[ij] += K * Bc[k * nb * nb + ij];
    }
  }
  PetscCall(MatSetValuesCOO(op->A, op->coo, INSERT_VALUES));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpResidual(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *R)
{
  const PetscInt     nb = op->nb;
  const PetscScalar *Kl, *pl, *F;
  PetscScalar       *Rl;

  PetscFunctionBegin;
  PetscCall(PFDarcyOpLocalK(op, g, op->l0));
  PetscCall(ToLocal(op, p, op->l1));
  PetscCall(VecSet(op->l2, 0));
  PetscCall(VecGetArrayRead(op->l0, &Kl));
  PetscCall(VecGetArrayRead(op->l1, &pl));
  PetscCall(VecGetArray(op->l2, &Rl));
  for (PetscInt c = 0; c < op->ncell; c++) {
    const PetscInt  *idx = op->cidx + c * nb;
    const PetscReal *Bc  = op->B + c * nb * nb * nb;
    PetscScalar      Ae[PF_DARCY_MAXNB * PF_DARCY_MAXNB], pe[PF_DARCY_MAXNB];
    for (PetscInt ij = 0; ij < nb * nb; ij++) Ae[ij] = 0;
    for (PetscInt k = 0; k < nb; k++)
      for (PetscInt ij = 0; ij < nb * nb; ij++) Ae[ij] += Kl[idx[k]] * Bc[k * nb * nb + ij];
    for (PetscInt j = 0; j < nb; j++) pe[j] = pl[idx[j]];
    for (PetscInt i = 0; i < nb; i++) {
      PetscScalar r = 0;
      for (PetscInt j = 0; j < nb; j++) r += Ae[i * nb + j] * pe[j];
      Rl[idx[i]] += r;
    }
  }
  PetscCall(VecRestoreArrayRead(op->l0, &Kl));
  PetscCall(VecRestoreArrayRead(op->l1, &pl));
  PetscCall(VecRestoreArray(op->l2, &Rl));
  PetscCall(AddToOwned(op, op->l2, R));
  PetscCall(VecGetArrayRead(op->F, &F));
  for (PetscInt i = 0; i < op->nown; i++) R[i] -= F[i];
  PetscCall(VecRestoreArrayRead(op->F, &F));
  /* Dirichlet rows: the equation there is p_i = value */
  for (PetscInt k = 0; k < op->ndir; k++) R[op->dir[k]] = p[op->dir[k]] - op->dirval;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpVJP(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, const PetscScalar *v, PetscScalar *gg, PetscScalar *gp)
{
  const PetscInt     nb = op->nb;
  const PetscScalar *Kl, *pl, *vl;
  PetscScalar       *Gl, *Pl;
  Vec                vloc, gK, gP;

  PetscFunctionBegin;
  PetscCall(PFDarcyOpLocalK(op, g, op->l0));
  PetscCall(ToLocal(op, p, op->l1));
  PetscCall(DMGetLocalVector(op->dm, &vloc));
  PetscCall(DMGetLocalVector(op->dm, &gK));
  PetscCall(DMGetLocalVector(op->dm, &gP));
  if (op->ndir) {
    /* Dirichlet rows are p_i = value, not element equations: their weights
     * leave the element pass, and d(p_i - value)/dp_i = 1 is added below */
    PetscScalar *vmod;
    PetscCall(PetscMalloc1(op->nown, &vmod));
    PetscCall(PetscArraycpy(vmod, v, op->nown));
    for (PetscInt k = 0; k < op->ndir; k++) vmod[op->dir[k]] = 0;
    PetscCall(ToLocal(op, vmod, vloc));
    PetscCall(PetscFree(vmod));
  } else PetscCall(ToLocal(op, v, vloc));
  PetscCall(VecSet(gK, 0));
  PetscCall(VecSet(gP, 0));
  PetscCall(VecGetArrayRead(op->l0, &Kl));
  PetscCall(VecGetArrayRead(op->l1, &pl));
  PetscCall(VecGetArrayRead(vloc, &vl));
  PetscCall(VecGetArray(gK, &Gl));
  PetscCall(VecGetArray(gP, &Pl));
  for (PetscInt c = 0; c < op->ncell; c++) {
    const PetscInt  *idx = op->cidx + c * nb;
    const PetscReal *Bc  = op->B + c * nb * nb * nb;
    PetscScalar      pe[PF_DARCY_MAXNB], ve[PF_DARCY_MAXNB];
    for (PetscInt j = 0; j < nb; j++) {
      pe[j] = pl[idx[j]];
      ve[j] = vl[idx[j]];
    }
    for (PetscInt k = 0; k < nb; k++) {
      const PetscReal  *Bk = Bc + k * nb * nb;
      const PetscScalar K  = Kl[idx[k]];
      PetscScalar       vBp = 0;
      for (PetscInt i = 0; i < nb; i++)
        for (PetscInt j = 0; j < nb; j++) {
          vBp += ve[i] * Bk[i * nb + j] * pe[j];
          /* d(R_i)/d(p_j) = sum_k K_k B_kij, so (J_p^T v)_j = sum_i v_i sum_k K_k B_kij */
          Pl[idx[j]] += K * ve[i] * Bk[i * nb + j];
        }
      /* K_k = exp(g_k): d/dg_k = K_k d/dK_k */
      Gl[idx[k]] += K * vBp;
    }
  }
  PetscCall(VecRestoreArrayRead(op->l0, &Kl));
  PetscCall(VecRestoreArrayRead(op->l1, &pl));
  PetscCall(VecRestoreArrayRead(vloc, &vl));
  PetscCall(VecRestoreArray(gK, &Gl));
  PetscCall(VecRestoreArray(gP, &Pl));
  PetscCall(AddToOwned(op, gK, gg));
  PetscCall(AddToOwned(op, gP, gp));
  for (PetscInt k = 0; k < op->ndir; k++) gp[op->dir[k]] += v[op->dir[k]];
  PetscCall(DMRestoreLocalVector(op->dm, &vloc));
  PetscCall(DMRestoreLocalVector(op->dm, &gK));
  PetscCall(DMRestoreLocalVector(op->dm, &gP));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpGatherNatural(PFDarcyOp *op, PetscInt nvert, const PetscScalar *own, double *natural)
{
  PetscFunctionBegin;
  PetscCall(PFGatherNatural(op->comm, op->nvown, op->ownnat, nvert, own, natural));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSetDirichlet(PFDarcyOp *op, PFMesh mesh, PetscInt ntags, const PetscInt tags[], const char *const names[], double value)
{
  DMLabel      label;
  PetscSection gsec;
  PetscBool   *mark;

  PetscFunctionBegin;
  if (ntags == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(DMGetLabel(op->dm, "Face Sets", &label));
  PetscCheck(label, op->comm, PETSC_ERR_ARG_WRONG, "mesh '%s' has no boundary groups (no \"Face Sets\" label): it cannot take -darcy_dirichlet", mesh->source);
  PetscCall(DMGetGlobalSection(op->dm, &gsec));
  PetscCall(PetscCalloc1(op->nown, &mark));
  for (PetscInt t = 0; t < ntags; t++) {
    IS              is;
    const PetscInt *faces;
    PetscInt        nf = 0, nfg;
    PetscCall(DMLabelGetStratumIS(label, tags[t], &is));
    if (is) {
      PetscCall(ISGetLocalSize(is, &nf));
      PetscCall(ISGetIndices(is, &faces));
      for (PetscInt f = 0; f < nf; f++) {
        PetscInt *closure = NULL, n;
        PetscCall(DMPlexGetTransitiveClosure(op->dm, faces[f], PETSC_TRUE, &n, &closure));
        /* the closure of a boundary edge is the edge and its 2 vertices:
         * every owned dof there (P2/Q2: the edge midpoint too) is fixed */
        for (PetscInt i = 0; i < 2 * n; i += 2) {
          PetscInt gdof, goff;
          PetscCall(PetscSectionGetDof(gsec, closure[i], &gdof));
          PetscCall(PetscSectionGetOffset(gsec, closure[i], &goff));
          for (PetscInt k = 0; k < gdof; k++) mark[goff - op->rstart + k] = PETSC_TRUE;
        }
        PetscCall(DMPlexRestoreTransitiveClosure(op->dm, faces[f], PETSC_TRUE, &n, &closure));
      }
      PetscCall(ISRestoreIndices(is, &faces));
      PetscCall(ISDestroy(&is));
    }
    PetscCallMPI(MPI_Allreduce(&nf, &nfg, 1, MPIU_INT, MPI_SUM, op->comm));
    PetscCheck(nfg > 0, op->comm, PETSC_ERR_ARG_WRONG, "boundary group '%s' of mesh '%s' has no edges", names[t], mesh->source);
  }
  op->ndir = 0;
  for (PetscInt i = 0; i < op->nown; i++) op->ndir += mark[i] ? 1 : 0;
  PetscCall(PetscMalloc1(op->ndir + 1, &op->dir));
  op->ndir = 0;
  for (PetscInt i = 0; i < op->nown; i++)
    if (mark[i]) op->dir[op->ndir++] = i;
  PetscCall(PetscFree(mark));
  PetscCallMPI(MPI_Allreduce(&op->ndir, &op->ndir_global, 1, MPIU_INT, MPI_SUM, op->comm));
  op->dirval = value;
  /* no null space any more: the raw forcing, not its Neumann projection */
  PetscCall(VecCopy(op->Fraw, op->F));
  PetscCall(VecNorm(op->F, NORM_2, &op->fnorm));
  PetscCall(MatSetNullSpace(op->A, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSolveK(PFDarcyOp *op, KSP ksp, Vec Kloc, Vec sol, PetscInt *its)
{
  KSPConvergedReason reason;
  const PetscScalar *Kl;

  PetscFunctionBegin;
  PetscCall(VecGetArrayRead(Kloc, &Kl));
  { /* DEBUG */
    PetscTabulation T; PetscQuadrature quad; PetscInt nq; double kmin = 1e300, rmin = 1e300; PetscInt nneg = 0;
    PetscCall(PetscFEGetCellTabulation(op->fe, 1, &T));
    PetscCall(PetscFEGetQuadrature(op->fe, &quad));
    PetscCall(PetscQuadratureGetData(quad, NULL, NULL, &nq, NULL, NULL));
    for (PetscInt c = 0; c < op->ncell; c++) { double cmin = 1e300, nmin = 1e300;
      for (PetscInt k = 0; k < op->nb; k++) nmin = PetscMin(nmin, Kl[op->cidx[c*op->nb+k]]);
      for (PetscInt q = 0; q < nq; q++) { double kq = 0; for (PetscInt k = 0; k < op->nb; k++) kq += Kl[op->cidx[c*op->nb+k]] * T->T[0][q*op->nb+k]; cmin = PetscMin(cmin, kq);}
      if (cmin <= 0) { nneg++; for (PetscInt k = 0; k < op->nb; k++) { PetscInt d = op->cidx[c*op->nb+k]; PetscPrintf(PETSC_COMM_SELF, "  cell %d node %d dof %d (%g,%g) K %g log %g\n", (int)c, (int)k, (int)d, op->owncoords[2*d], op->owncoords[2*d+1], Kl[d], log(Kl[d])); } } kmin = PetscMin(kmin, cmin); rmin = PetscMin(rmin, cmin/nmin); }
    PetscCall(PetscPrintf(PETSC_COMM_SELF, "DEBUG min K_h at quad points %g, min ratio to the cell's min nodal K %g, cells with K_h<=0: %d of %d\n", kmin, rmin, (int)nneg, (int)op->ncell));
  }
  PetscCall(PFDarcyOpAssemble(op, Kl));
  PetscCall(VecRestoreArrayRead(Kloc, &Kl));
  PetscCall(VecCopy(op->F, op->b));
  if (op->ndir_global) {
    /* symmetric elimination keeps CG applicable; b is corrected for the
     * known values, and the next MatSetValuesCOO restores the rows */
    PetscInt    *rows;
    PetscScalar *s;
    PetscCall(PetscMalloc1(op->ndir + 1, &rows));
    PetscCall(VecSet(sol, 0));
    PetscCall(VecGetArray(sol, &s));
    for (PetscInt k = 0; k < op->ndir; k++) {
      rows[k]       = op->rstart + op->dir[k];
      s[op->dir[k]] = op->dirval;
    }
    PetscCall(VecRestoreArray(sol, &s));
    PetscCall(MatZeroRowsColumns(op->A, op->ndir, rows, 1.0, sol, op->b));
    PetscCall(PetscFree(rows));
  }
  PetscCall(KSPSetOperators(ksp, op->A, op->A));
  PetscCall(KSPSolve(ksp, op->b, sol));
  PetscCall(KSPGetConvergedReason(ksp, &reason));
  PetscCheck(reason > 0, op->comm, PETSC_ERR_NOT_CONVERGED, "the Darcy solve did not converge (%s); check the permeability field, or try -darcy_ksp_type gmres or a looser -darcy_ksp_rtol", KSPConvergedReasons[reason]);
  PetscCall(KSPGetIterationNumber(ksp, its));
  if (!op->ndir_global) {
    /* pure Neumann: fix the constant by zero mean, sum_i p_i int phi_i =
     * int p_h (order 1: the lumped-mass mean) */
    PetscScalar mp, msum;
    PetscCall(VecDot(sol, op->mass, &mp));
    PetscCall(VecSum(op->mass, &msum));
    PetscCall(VecShift(sol, -mp / msum));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpSolve(PFDarcyOp *op, KSP ksp, const PetscScalar *gv, Vec sol, PetscInt *its)
{
  PetscFunctionBegin;
  PetscCall(PFDarcyOpVertexLocalK(op, gv, op->l0));
  PetscCall(PFDarcyOpSolveK(op, ksp, op->l0, sol, its));
  PetscFunctionReturn(PETSC_SUCCESS);
}
