#include <math.h>
#include <physflow/meshlevels.h>

static PetscErrorCode EnsureWork(PFMeshTransfer *T, PetscInt F)
{
  PetscFunctionBegin;
  if ((size_t)T->nfine * 4 * F + 1 > T->nleaf) {
    PetscCall(PetscFree(T->leaf));
    T->nleaf = (size_t)T->nfine * 4 * F + 1;
    PetscCall(PetscMalloc1(T->nleaf, &T->leaf));
  }
  if ((size_t)T->ncoarse * F + 1 > T->ncw) {
    PetscCall(PetscFree(T->cw));
    T->ncw = (size_t)T->ncoarse * F + 1;
    PetscCall(PetscMalloc1(T->ncw, &T->cw));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Y[i] = scale_i sum_k wt[i,k] leaf[i,k] after broadcasting coarse rows */
static PetscErrorCode Interpolate(PFMeshTransfer *T, PetscInt F, const pfreal *Xc, const pfreal *scale, pfreal *Yf)
{
  PetscFunctionBegin;
  PetscCall(EnsureWork(T, F));
  PetscCall(PFRowSFBcast(&T->rows, F, Xc, T->leaf));
  for (PetscInt i = 0; i < T->nfine; i++) {
    pfreal       *y = Yf + (size_t)i * F;
    const pfreal *w = T->wt + 4 * (size_t)i, s = scale ? scale[i] : 1;
    const pfreal *l = T->leaf + (size_t)i * 4 * F;
    for (PetscInt f = 0; f < F; f++) y[f] = s * (w[0] * l[f] + w[1] * l[F + f] + w[2] * l[2 * F + f] + w[3] * l[3 * F + f]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* dXc = P^T (scale .* dYf) */
static PetscErrorCode InterpolateTranspose(PFMeshTransfer *T, PetscInt F, const pfreal *dYf, const pfreal *scale, pfreal *dXc)
{
  PetscFunctionBegin;
  PetscCall(EnsureWork(T, F));
  for (PetscInt i = 0; i < T->nfine; i++) {
    const pfreal *y = dYf + (size_t)i * F, s = scale ? scale[i] : 1;
    for (int k = 0; k < 4; k++) {
      pfreal *l = T->leaf + ((size_t)i * 4 + k) * F, a = s * T->wt[4 * (size_t)i + k];
      for (PetscInt f = 0; f < F; f++) l[f] = a * y[f];
    }
  }
  PetscCall(PFRowSFGatherSum(&T->rows, F, T->leaf, 0, dXc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshTransferProlong(PFMeshTransfer *T, PetscInt F, const pfreal *Xc, pfreal *Yf)
{
  PetscFunctionBegin;
  PetscCall(Interpolate(T, F, Xc, NULL, Yf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshTransferProlongTranspose(PFMeshTransfer *T, PetscInt F, const pfreal *dYf, pfreal *dXc)
{
  PetscFunctionBegin;
  PetscCall(InterpolateTranspose(T, F, dYf, NULL, dXc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshTransferRestrict(PFMeshTransfer *T, PetscInt F, const pfreal *Xf, pfreal *Yc)
{
  PetscFunctionBegin;
  PetscCall(InterpolateTranspose(T, F, Xf, T->wfine, Yc));
  for (PetscInt j = 0; j < T->ncoarse; j++)
    for (PetscInt f = 0; f < F; f++) Yc[(size_t)j * F + f] *= T->dinv[j];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshTransferRestrictTranspose(PFMeshTransfer *T, PetscInt F, const pfreal *dYc, pfreal *dXf)
{
  PetscFunctionBegin;
  PetscCall(EnsureWork(T, F));
  for (PetscInt j = 0; j < T->ncoarse; j++)
    for (PetscInt f = 0; f < F; f++) T->cw[(size_t)j * F + f] = T->dinv[j] * dYc[(size_t)j * F + f];
  PetscCall(Interpolate(T, F, T->cw, T->wfine, dXf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The box cell of a point along one axis and its local coordinate in [0,1] */
static void Locate(double x, double lo, double hx, PetscInt n, PetscInt *i, double *s)
{
  double u = (x - lo) / hx;
  *i       = (PetscInt)floor(u);
  if (*i < 0) *i = 0;
  if (*i > n - 1) *i = n - 1;
  *s = u - (double)*i;
  if (*s < 0) *s = 0;
  if (*s > 1) *s = 1;
}

/* rank 0: the rank of every cell of the level's box, by a majority vote of
 * the data-mesh vertices inside it (fxy, frank: all nf of them on rank 0);
 * empty cells (outside the domain) take the previous cell's rank */
static PetscErrorCode CellRanks(PFMeshLevels lv, PetscInt l, PetscInt nf, const double *fxy, const PetscMPIInt *frank, PetscMPIInt size, PetscInt **cellrank)
{
  const PetscInt nx = lv->faces[l][0], ny = lv->faces[l][1];
  const double   hx = (lv->hi[0] - lv->lo[0]) / nx, hy = (lv->hi[1] - lv->lo[1]) / ny;
  PetscInt      *votes;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1((size_t)nx * ny * size, &votes));
  PetscCall(PetscMalloc1((size_t)nx * ny, cellrank));
  for (PetscInt v = 0; v < nf; v++) {
    PetscInt i, j;
    double   s;
    Locate(fxy[2 * v], lv->lo[0], hx, nx, &i, &s);
    Locate(fxy[2 * v + 1], lv->lo[1], hy, ny, &j, &s);
    votes[((size_t)j * nx + i) * size + frank[v]]++;
  }
  for (PetscInt c = 0, last = 0; c < nx * ny; c++) {
    PetscInt best = -1, nb = 0;
    for (PetscMPIInt r = 0; r < size; r++)
      if (votes[(size_t)c * size + r] > nb) {
        nb   = votes[(size_t)c * size + r];
        best = r;
      }
    (*cellrank)[c] = best >= 0 ? best : last;
    last           = (*cellrank)[c];
  }
  PetscCall(PetscFree(votes));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The SF and weights of the transfer between level l and the box level l+1 */
static PetscErrorCode TransferCreate(PFMeshLevels lv, PetscInt l)
{
  PFMeshTransfer *T = &lv->T[l];
  PFMeshGraph     f = lv->graph[l], c = lv->graph[l + 1];
  const PetscInt  nx = lv->faces[l + 1][0], ny = lv->faces[l + 1][1], ngrid = (nx + 1) * (ny + 1);
  const double    hx = (lv->hi[0] - lv->lo[0]) / nx, hy = (lv->hi[1] - lv->lo[1]) / ny;
  PetscInt       *grid2nat, *ownerrank, *owneridx, *allnat, nnat;
  PetscMPIInt     rank, size, *counts, *displs, n = (PetscMPIInt)c->nown;
  PetscSFNode    *remote;
  PetscSF         sf;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(lv->comm, &rank));
  PetscCallMPI(MPI_Comm_size(lv->comm, &size));
  T->nfine   = f->nown;
  T->ncoarse = c->nown;
  T->wfine   = lv->w[l];
  /* natural number of grid vertex (i, j), from the serial coordinates */
  PetscCall(PetscMalloc1(ngrid, &grid2nat));
  if (rank == 0) {
    const PFMesh m = lv->mesh[l + 1];
    for (PetscInt k = 0; k < ngrid; k++) grid2nat[k] = -1;
    for (PetscInt v = 0; v < m->nvert; v++) {
      PetscInt i = (PetscInt)floor((m->coords[2 * v] - lv->lo[0]) / hx + 0.5), j = (PetscInt)floor((m->coords[2 * v + 1] - lv->lo[1]) / hy + 0.5);
      PetscCheck(i >= 0 && i <= nx && j >= 0 && j <= ny && m->nvert == ngrid, PETSC_COMM_SELF, PETSC_ERR_PLIB, "coarse box vertex off the grid");
      grid2nat[j * (nx + 1) + i] = v;
    }
    for (PetscInt k = 0; k < ngrid; k++) PetscCheck(grid2nat[k] >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "coarse box grid incomplete");
  }
  PetscCallMPI(MPI_Bcast(grid2nat, (PetscMPIInt)ngrid, MPIU_INT, 0, lv->comm));
  {
    /* every owned coarse vertex sits where its natural number says */
    PetscInt *nat2grid, bad = 0;
    PetscCall(PetscMalloc1(ngrid, &nat2grid));
    for (PetscInt k = 0; k < ngrid; k++) nat2grid[grid2nat[k]] = k;
    for (PetscInt k = 0; k < c->nown; k++) {
      PetscInt g = nat2grid[c->ownnat[k]], i = g % (nx + 1), j = g / (nx + 1);
      double   ex = lv->lo[0] + i * hx, ey = lv->lo[1] + j * hy;
      if (PetscAbsReal(ex - c->xy[2 * k]) > 1e-9 * (1 + hx) || PetscAbsReal(ey - c->xy[2 * k + 1]) > 1e-9 * (1 + hy)) bad++;
    }
    PetscCall(PetscFree(nat2grid));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPIU_INT, MPI_SUM, lv->comm));
    PetscCheck(!bad, lv->comm, PETSC_ERR_PLIB, "coarse level %" PetscInt_FMT ": %" PetscInt_FMT " vertices are not where their natural numbers put them", l + 1, bad);
  }
  /* owner (rank, owned index) of every coarse natural vertex */
  PetscCall(PetscMalloc2(size, &counts, size + 1, &displs));
  PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, lv->comm));
  displs[0] = 0;
  for (PetscMPIInt r = 0; r < size; r++) displs[r + 1] = displs[r] + counts[r];
  nnat = displs[size];
  PetscCheck(nnat == ngrid, lv->comm, PETSC_ERR_PLIB, "coarse level has %" PetscInt_FMT " owned vertices, expected %" PetscInt_FMT, nnat, ngrid);
  PetscCall(PetscMalloc3(nnat, &allnat, nnat, &ownerrank, nnat, &owneridx));
  PetscCallMPI(MPI_Allgatherv(c->ownnat, n, MPIU_INT, allnat, counts, displs, MPIU_INT, lv->comm));
  for (PetscMPIInt r = 0; r < size; r++)
    for (PetscInt k = displs[r]; k < displs[r + 1]; k++) {
      ownerrank[allnat[k]] = r;
      owneridx[allnat[k]]  = k - displs[r];
    }
  /* leaves: 4 corners per fine owned vertex, bilinear weights */
  PetscCall(PetscMalloc1(4 * (size_t)T->nfine + 1, &T->wt));
  PetscCall(PetscMalloc1(4 * (size_t)T->nfine + 1, &remote));
  for (PetscInt v = 0; v < T->nfine; v++) {
    PetscInt i, j;
    double   s, t;
    Locate(f->xy[2 * v], lv->lo[0], hx, nx, &i, &s);
    Locate(f->xy[2 * v + 1], lv->lo[1], hy, ny, &j, &t);
    const PetscInt corner[4] = {j * (nx + 1) + i, j * (nx + 1) + i + 1, (j + 1) * (nx + 1) + i, (j + 1) * (nx + 1) + i + 1};
    const double   w[4]      = {(1 - s) * (1 - t), s * (1 - t), (1 - s) * t, s * t};
    for (int k = 0; k < 4; k++) {
      PetscInt nat           = grid2nat[corner[k]];
      remote[4 * v + k].rank  = ownerrank[nat];
      remote[4 * v + k].index = owneridx[nat];
      T->wt[4 * v + k]        = (pfreal)w[k];
    }
  }
  PetscCall(PetscSFCreate(lv->comm, &sf));
  PetscCall(PetscSFSetGraph(sf, T->ncoarse, 4 * T->nfine, NULL, PETSC_OWN_POINTER, remote, PETSC_OWN_POINTER));
  PetscCall(PetscSFSetUp(sf));
  PetscCall(PFRowSFSetUp(&T->rows, sf));
  PetscCall(PetscSFDestroy(&sf));
  PetscCall(PetscFree3(allnat, ownerrank, owneridx));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree(grid2nat));
  /* coarse weights w_{l+1} = P^T w_l; restriction divides by them */
  PetscCall(PetscMalloc1(T->ncoarse + 1, &lv->w[l + 1]));
  PetscCall(PetscMalloc1(T->ncoarse + 1, &T->dinv));
  PetscCall(PFMeshTransferProlongTranspose(T, 1, lv->w[l], lv->w[l + 1]));
  for (PetscInt j = 0; j < T->ncoarse; j++) T->dinv[j] = lv->w[l + 1][j] > 0 ? (pfreal)1 / lv->w[l + 1][j] : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshLevelsCreate(PFMeshGraph fine, PetscInt nlevels, const PetscInt faces[][2], PFMeshLevels *levels)
{
  PFMeshLevels lv;
  PetscMPIInt  rank, size, n = (PetscMPIInt)(2 * fine->nown), *counts = NULL, *displs = NULL;
  double       mn[2] = {PETSC_MAX_REAL, PETSC_MAX_REAL}, mx[2] = {-PETSC_MAX_REAL, -PETSC_MAX_REAL}, *fxy = NULL;
  PetscMPIInt *frank = NULL;
  PetscInt     nf    = 0;

  PetscFunctionBegin;
  PetscCheck(nlevels >= 1 && nlevels <= PF_MESHLEVELS_MAX, fine->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_levels must be in [1, %d], got %" PetscInt_FMT, PF_MESHLEVELS_MAX, nlevels);
  PetscCallMPI(MPI_Comm_rank(fine->comm, &rank));
  PetscCallMPI(MPI_Comm_size(fine->comm, &size));
  PetscCall(PetscNew(&lv));
  lv->comm     = fine->comm;
  lv->nlevels  = nlevels;
  lv->graph[0] = fine;
  PetscCall(PetscMalloc1(fine->nown + 1, &lv->w[0]));
  for (PetscInt i = 0; i < fine->nown; i++) lv->w[0][i] = (pfreal)1 / fine->minv[i];
  for (PetscInt i = 0; i < fine->nown; i++)
    for (int d = 0; d < 2; d++) {
      mn[d] = PetscMin(mn[d], fine->xy[2 * i + d]);
      mx[d] = PetscMax(mx[d], fine->xy[2 * i + d]);
    }
  PetscCallMPI(MPI_Allreduce(mn, lv->lo, 2, MPI_DOUBLE, MPI_MIN, lv->comm));
  PetscCallMPI(MPI_Allreduce(mx, lv->hi, 2, MPI_DOUBLE, MPI_MAX, lv->comm));
  lv->faces[0][0] = lv->faces[0][1] = -1; /* the data mesh: not a box level */
  for (PetscInt l = 1; l < nlevels; l++) {
    /* a level is useful only if it is coarser than the one above it */
    PetscBool coarser = PETSC_FALSE;
    for (int d = 0; d < 2; d++) {
      double cells    = (lv->hi[d] - lv->lo[d]) / (fine->h * pow(2.0, (double)l));
      lv->faces[l][d] = faces ? faces[l][d] : PetscMax(2, (PetscInt)floor(cells + 0.5 + 1e-6));
      PetscCheck(lv->faces[l][d] >= 2, lv->comm, PETSC_ERR_ARG_OUTOFRANGE, "level %" PetscInt_FMT " needs at least 2 cells per direction, got %" PetscInt_FMT, l, lv->faces[l][d]);
      if (l == 1 ? 2 * cells > lv->faces[l][d] + 0.5 : lv->faces[l][d] < lv->faces[l - 1][d]) coarser = PETSC_TRUE;
    }
    PetscCheck(coarser, lv->comm, PETSC_ERR_ARG_OUTOFRANGE, "the mesh is too coarse for %" PetscInt_FMT " U-Net levels (level %" PetscInt_FMT " would be no coarser than level %" PetscInt_FMT "); lower -mesh_levels", nlevels, l, l - 1);
  }
  /* the data-mesh vertices and their ranks on rank 0, to align partitions */
  if (nlevels > 1 && size > 1) {
    if (rank == 0) PetscCall(PetscMalloc2(size, &counts, size + 1, &displs));
    PetscCallMPI(MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, lv->comm));
    if (rank == 0) {
      displs[0] = 0;
      for (PetscMPIInt r = 0; r < size; r++) displs[r + 1] = displs[r] + counts[r];
      nf = displs[size] / 2;
      PetscCall(PetscMalloc2(2 * nf + 1, &fxy, nf + 1, &frank));
      for (PetscMPIInt r = 0; r < size; r++)
        for (PetscInt k = displs[r] / 2; k < displs[r + 1] / 2; k++) frank[k] = r;
    }
    PetscCallMPI(MPI_Gatherv(fine->xy, n, MPI_DOUBLE, fxy, counts, displs, MPI_DOUBLE, 0, lv->comm));
  }
  for (PetscInt l = 1; l < nlevels; l++) {
    PetscInt *cellrank = NULL;
    if (rank == 0 && size > 1) PetscCall(CellRanks(lv, l, nf, fxy, frank, size, &cellrank));
    PetscCall(PFMeshCreateBox(lv->comm, lv->faces[l], lv->lo, lv->hi, cellrank, &lv->mesh[l]));
    PetscCall(PetscFree(cellrank));
    PetscCall(PFMeshGraphCreate(lv->mesh[l], &lv->graph[l]));
    PetscCall(TransferCreate(lv, l - 1));
  }
  if (rank == 0 && size > 1 && nlevels > 1) {
    PetscCall(PetscFree2(fxy, frank));
    PetscCall(PetscFree2(counts, displs));
  }
  *levels = lv;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshLevelsDestroy(PFMeshLevels *lv)
{
  PetscFunctionBegin;
  if (!*lv) PetscFunctionReturn(PETSC_SUCCESS);
  for (PetscInt l = 0; l < (*lv)->nlevels; l++) {
    PetscCall(PetscFree((*lv)->w[l]));
    if (l == 0) continue;
    PetscCall(PFMeshGraphDestroy(&(*lv)->graph[l]));
    PetscCall(PFMeshDestroy(&(*lv)->mesh[l]));
  }
  for (PetscInt l = 0; l + 1 < (*lv)->nlevels; l++) {
    PFMeshTransfer *T = &(*lv)->T[l];
    PetscCall(PFRowSFDestroy(&T->rows));
    PetscCall(PetscFree(T->wt));
    PetscCall(PetscFree(T->dinv));
    PetscCall(PetscFree(T->leaf));
    PetscCall(PetscFree(T->cw));
  }
  PetscCall(PetscFree(*lv));
  PetscFunctionReturn(PETSC_SUCCESS);
}
