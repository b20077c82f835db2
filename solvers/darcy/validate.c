/* Physics checks of a Darcy state beyond the residual: boundary fluxes
 * (the natural no-flux condition and global conservation). */
#include <math.h>
#include <petscsf.h>
#include "operator.h"

/* vertices of cell c (local points) in counter-clockwise order, with their
 * coordinates; returns their number (3 or 4) */
static PetscErrorCode CellPolygon(DM dm, PetscInt c, PetscInt vStart, PetscInt vEnd, const PetscScalar *ca, PetscSection csec, PetscInt *nv, PetscInt v[], double xy[][2])
{
  PetscInt *closure = NULL, n;
  double    cx = 0, cy = 0, ang[8];

  PetscFunctionBegin;
  PetscCall(DMPlexGetTransitiveClosure(dm, c, PETSC_TRUE, &n, &closure));
  *nv = 0;
  for (PetscInt i = 0; i < 2 * n; i += 2)
    if (closure[i] >= vStart && closure[i] < vEnd && *nv < 8) {
      PetscInt off;
      PetscCall(PetscSectionGetOffset(csec, closure[i], &off));
      v[*nv]     = closure[i];
      xy[*nv][0] = PetscRealPart(ca[off]);
      xy[*nv][1] = PetscRealPart(ca[off + 1]);
      (*nv)++;
    }
  PetscCall(DMPlexRestoreTransitiveClosure(dm, c, PETSC_TRUE, &n, &closure));
  for (PetscInt i = 0; i < *nv; i++) {
    cx += xy[i][0] / *nv;
    cy += xy[i][1] / *nv;
  }
  for (PetscInt i = 0; i < *nv; i++) ang[i] = atan2(xy[i][1] - cy, xy[i][0] - cx);
  /* insertion sort by angle: the closure order is not cyclic for every cell type */
  for (PetscInt i = 1; i < *nv; i++)
    for (PetscInt j = i; j > 0 && ang[j] < ang[j - 1]; j--) {
      double   ta = ang[j], tx = xy[j][0], ty = xy[j][1];
      PetscInt tv = v[j];
      ang[j] = ang[j - 1], xy[j][0] = xy[j - 1][0], xy[j][1] = xy[j - 1][1], v[j] = v[j - 1];
      ang[j - 1] = ta, xy[j - 1][0] = tx, xy[j - 1][1] = ty, v[j - 1] = tv;
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Faces of the true boundary: one cell over ALL ranks.  (A face between two
 * ranks' cells has one cell on each; DMPlexMarkBoundaryFaces of PETSc 3.18
 * marks those too, so the support sizes are summed through the point SF.) */
static PetscErrorCode MarkTrueBoundaryFaces(DM dm, DMLabel *bnd)
{
  PetscSF   sf;
  PetscInt  pStart, pEnd, fStart, fEnd, *ssz;

  PetscFunctionBegin;
  PetscCall(DMPlexGetChart(dm, &pStart, &pEnd));
  PetscCall(DMPlexGetHeightStratum(dm, 1, &fStart, &fEnd));
  PetscCall(DMGetPointSF(dm, &sf));
  PetscCall(PetscCalloc1(pEnd - pStart, &ssz));
  for (PetscInt f = fStart; f < fEnd; f++) PetscCall(DMPlexGetSupportSize(dm, f, &ssz[f - pStart]));
  {
    PetscInt        nleaves;
    const PetscInt *ilocal;
    PetscInt       *leafv;
    PetscCall(PetscSFGetGraph(sf, NULL, &nleaves, &ilocal, NULL));
    /* leaves carry their own count to the root, which sums; then back */
    PetscCall(PetscCalloc1(pEnd - pStart, &leafv));
    for (PetscInt i = 0; i < nleaves; i++) {
      PetscInt q       = ilocal ? ilocal[i] : i;
      leafv[q - pStart] = ssz[q - pStart];
      ssz[q - pStart]   = 0; /* a leaf is not a root: its count travels */
    }
    PetscCall(PetscSFReduceBegin(sf, MPIU_INT, leafv, ssz, MPI_SUM));
    PetscCall(PetscSFReduceEnd(sf, MPIU_INT, leafv, ssz, MPI_SUM));
    PetscCall(PetscSFBcastBegin(sf, MPIU_INT, ssz, leafv, MPI_REPLACE));
    PetscCall(PetscSFBcastEnd(sf, MPIU_INT, ssz, leafv, MPI_REPLACE));
    for (PetscInt i = 0; i < nleaves; i++) {
      PetscInt q     = ilocal ? ilocal[i] : i;
      ssz[q - pStart] = leafv[q - pStart];
    }
    PetscCall(PetscFree(leafv));
  }
  PetscCall(DMLabelCreate(PETSC_COMM_SELF, "pf_boundary", bnd));
  for (PetscInt f = fStart; f < fEnd; f++)
    if (ssz[f - pStart] == 1) PetscCall(DMLabelSetValue(*bnd, f, 1));
  PetscCall(PetscFree(ssz));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDarcyOpBoundaryFlux(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, PetscScalar *bmask, double *net)
{
  DM                 dm = op->dm, cdm;
  DMLabel            bnd;
  PetscSection       lsec, csec;
  Vec                cv, dirloc, bloc;
  PetscScalar       *bl;
  const PetscScalar *ca, *gl, *pl, *dl;
  PetscScalar       *mark;
  PetscInt           vStart, vEnd, fStart, fEnd;
  double             loc[2] = {0, 0}, glob[2]; /* loc[0] unused: kept for the reduction shape */

  PetscFunctionBegin;
  PetscCheck(op->order == 1, op->comm, PETSC_ERR_SUP, "boundary fluxes need the order-1 operator");
  PetscCall(MarkTrueBoundaryFaces(dm, &bnd));
  PetscCall(DMGetLocalSection(dm, &lsec));
  PetscCall(DMGetCoordinatesLocal(dm, &cv));
  PetscCall(DMGetCoordinateDM(dm, &cdm));
  PetscCall(DMGetLocalSection(cdm, &csec));
  PetscCall(DMPlexGetDepthStratum(dm, 0, &vStart, &vEnd));
  PetscCall(DMPlexGetHeightStratum(dm, 1, &fStart, &fEnd));
  /* local copies: log K, p, and a Dirichlet mark per dof */
  PetscCall(PFDarcyOpToLocal(op, g, op->l0));
  PetscCall(PFDarcyOpToLocal(op, p, op->l1));
  PetscCall(PetscCalloc1(op->nown + 1, &mark));
  for (PetscInt i = 0; i < op->ndir; i++) mark[op->dir[i]] = 1;
  PetscCall(VecDuplicate(op->l0, &dirloc));
  PetscCall(PFDarcyOpToLocal(op, mark, dirloc));
  PetscCall(VecDuplicate(op->l0, &bloc));
  PetscCall(VecSet(bloc, 0));
  PetscCall(VecGetArray(bloc, &bl));
  PetscCall(VecGetArrayRead(cv, &ca));
  PetscCall(VecGetArrayRead(op->l0, &gl));
  PetscCall(VecGetArrayRead(op->l1, &pl));
  PetscCall(VecGetArrayRead(dirloc, &dl));
  for (PetscInt f = fStart; f < fEnd; f++) {
    const PetscInt *supp, *cone;
    PetscInt        val, nv = 0, v[8], a = -1, b = -1;
    double          xy[8][2], area = 0, gx = 0, gy = 0, K = 0, cx = 0, cy = 0, nx, ny, flux;
    PetscCall(DMLabelGetValue(bnd, f, &val));
    if (val != 1) continue;
    PetscCall(DMPlexGetSupport(dm, f, &supp));
    PetscCall(CellPolygon(dm, supp[0], vStart, vEnd, ca, csec, &nv, v, xy));
    /* cell means: grad p = (1/|T|) sum_edges (p_i + p_j)/2 n_e |e|, K = mean nodal K */
    for (PetscInt i = 0; i < nv; i++) {
      PetscInt j = (i + 1) % nv, oi, oj;
      PetscCall(PetscSectionGetOffset(lsec, v[i], &oi));
      PetscCall(PetscSectionGetOffset(lsec, v[j], &oj));
      area += 0.5 * (xy[i][0] * xy[j][1] - xy[j][0] * xy[i][1]);
      /* outward normal times length of a CCW edge: (dy, -dx) */
      gx += 0.5 * PetscRealPart(pl[oi] + pl[oj]) * (xy[j][1] - xy[i][1]);
      gy -= 0.5 * PetscRealPart(pl[oi] + pl[oj]) * (xy[j][0] - xy[i][0]);
      K += exp(PetscRealPart(gl[oi])) / nv;
      cx += xy[i][0] / nv;
      cy += xy[i][1] / nv;
    }
    gx /= area;
    gy /= area;
    /* the face's vertices and its outward normal (away from the centroid) */
    PetscCall(DMPlexGetCone(dm, f, &cone));
    for (PetscInt i = 0; i < nv; i++) {
      if (v[i] == cone[0]) a = i;
      if (v[i] == cone[1]) b = i;
    }
    PetscCheck(a >= 0 && b >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "boundary face vertices not in its cell");
    nx = xy[b][1] - xy[a][1];
    ny = -(xy[b][0] - xy[a][0]);
    if (nx * (0.5 * (xy[a][0] + xy[b][0]) - cx) + ny * (0.5 * (xy[a][1] + xy[b][1]) - cy) < 0) {
      nx = -nx;
      ny = -ny;
    }
    flux = K * (gx * nx + gy * ny); /* |e| is in (nx, ny) */
    loc[1] += flux;
    {
      PetscInt oa, ob;
      PetscCall(PetscSectionGetOffset(lsec, v[a], &oa));
      PetscCall(PetscSectionGetOffset(lsec, v[b], &ob));
      if (!(PetscRealPart(dl[oa]) > 0 && PetscRealPart(dl[ob]) > 0)) {
        bl[oa] = 1;
        bl[ob] = 1;
      }
    }
  }
  PetscCall(VecRestoreArrayRead(dirloc, &dl));
  PetscCall(VecRestoreArrayRead(op->l1, &pl));
  PetscCall(VecRestoreArrayRead(op->l0, &gl));
  PetscCall(VecRestoreArrayRead(cv, &ca));
  PetscCall(VecRestoreArray(bloc, &bl));
  PetscCall(VecDestroy(&dirloc));
  /* a boundary vertex may see its boundary edge only from another rank */
  PetscCall(VecPlaceArray(op->g1, bmask));
  PetscCall(VecSet(op->g1, 0));
  PetscCall(DMLocalToGlobal(dm, bloc, ADD_VALUES, op->g1));
  PetscCall(VecResetArray(op->g1));
  PetscCall(VecDestroy(&bloc));
  for (PetscInt i = 0; i < op->nown; i++) bmask[i] = PetscRealPart(bmask[i]) > 0 ? 1 : 0;
  PetscCall(PetscFree(mark));
  PetscCall(DMLabelDestroy(&bnd));
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, op->comm));
  *net = glob[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}
