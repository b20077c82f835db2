#include <string.h>
#include <petscsf.h>
#include <physflow/meshgraph.h>

typedef struct {
  PetscInt r, c;
  double   v;
} Triplet;

static int CompareTriplet(const void *a, const void *b)
{
  const Triplet *x = (const Triplet *)a, *y = (const Triplet *)b;
  if (x->r != y->r) return x->r < y->r ? -1 : 1;
  if (x->c != y->c) return x->c < y->c ? -1 : 1;
  return 0;
}

/* COO -> CSR over nloc rows, summing duplicates */
static PetscErrorCode BuildCSR(PetscInt nloc, PetscInt n, Triplet *t, double scale, PFLocalCSR *A)
{
  PetscInt nz = 0;

  PetscFunctionBegin;
  qsort(t, (size_t)n, sizeof(Triplet), CompareTriplet);
  PetscCall(PetscCalloc1(nloc + 1, &A->rowptr));
  PetscCall(PetscMalloc2(n + 1, &A->col, n + 1, &A->val));
  for (PetscInt i = 0; i < n; i++) {
    if (nz > 0 && A->col[nz - 1] == t[i].c && i > 0 && t[i - 1].r == t[i].r) {
      A->val[nz - 1] += (pfreal)(scale * t[i].v);
      continue;
    }
    A->col[nz]   = t[i].c;
    A->val[nz++] = (pfreal)(scale * t[i].v);
    A->rowptr[t[i].r + 1]++;
  }
  for (PetscInt r = 0; r < nloc; r++) A->rowptr[r + 1] += A->rowptr[r];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGraphCreate(PFMesh mesh, PFMeshGraph *graph)
{
  PFMeshGraph     g;
  PetscFE         fe;
  PetscSection    lsec, gsec;
  PetscQuadrature quad;
  PetscTabulation T;
  const PetscReal *qw;
  PetscInt        nq, nb, dim = 2, cStart, cEnd, vStart, vEnd, rstart, ncell, nt = 0;
  PetscReal      *v, *J, *invJ, *detJ, *grad;
  Triplet        *tri[PF_MESHOP_N];
  double         *mloc, *mown, area = 0, garea;
  PetscInt        gcells;

  PetscFunctionBegin;
  PetscCall(PetscNew(&g));
  g->comm = mesh->comm;
  PetscCall(DMClone(mesh->dm, &g->dm));
  PetscCall(PetscFECreateLagrange(PETSC_COMM_SELF, dim, 1, mesh->simplex, 1, 2, &fe));
  PetscCall(DMSetField(g->dm, 0, NULL, (PetscObject)fe));
  PetscCall(DMCreateDS(g->dm));
  PetscCall(DMGetLocalSection(g->dm, &lsec));
  PetscCall(DMGetGlobalSection(g->dm, &gsec));
  PetscCall(DMGetSectionSF(g->dm, &g->sf));
  PetscCall(PetscObjectReference((PetscObject)g->sf));
  PetscCall(PetscSectionGetStorageSize(lsec, &g->nloc));
  PetscCall(PetscSectionGetConstrainedStorageSize(gsec, &g->nown));
  PetscCallMPI(MPI_Scan(&g->nown, &rstart, 1, MPIU_INT, MPI_SUM, g->comm));
  rstart -= g->nown;
  PetscCall(DMPlexGetDepthStratum(g->dm, 0, &vStart, &vEnd));
  PetscCall(PetscMalloc3(g->nown, &g->ownnat, g->nloc, &g->loc2own, g->nown, &g->minv));
  for (PetscInt p = vStart; p < vEnd; p++) {
    PetscInt loff, goff, gdof;
    PetscCall(PetscSectionGetOffset(lsec, p, &loff));
    PetscCall(PetscSectionGetDof(gsec, p, &gdof));
    PetscCall(PetscSectionGetOffset(gsec, p, &goff));
    g->loc2own[loff] = gdof > 0 ? goff - rstart : -1;
    if (gdof > 0) g->ownnat[goff - rstart] = mesh->vnat[p - vStart];
  }
  /* coordinates of the owned vertices (the U-Net's transfers locate them) */
  {
    Vec                cv;
    DM                 cdm;
    PetscSection       csec;
    const PetscScalar *ca;
    PetscCall(PetscMalloc1(2 * g->nown + 1, &g->xy));
    PetscCall(DMGetCoordinatesLocal(g->dm, &cv));
    PetscCall(DMGetCoordinateDM(g->dm, &cdm));
    PetscCall(DMGetLocalSection(cdm, &csec));
    PetscCall(VecGetArrayRead(cv, &ca));
    for (PetscInt p = vStart; p < vEnd; p++) {
      PetscInt loff, coff;
      PetscCall(PetscSectionGetOffset(lsec, p, &loff));
      if (g->loc2own[loff] < 0) continue;
      PetscCall(PetscSectionGetOffset(csec, p, &coff));
      g->xy[2 * g->loc2own[loff]]     = PetscRealPart(ca[coff]);
      g->xy[2 * g->loc2own[loff] + 1] = PetscRealPart(ca[coff + 1]);
    }
    PetscCall(VecRestoreArrayRead(cv, &ca));
  }
  /* element matrices of the local cells, as local triplets */
  PetscCall(PetscFEGetDimension(fe, &nb));
  PetscCall(PetscFEGetQuadrature(fe, &quad));
  PetscCall(PetscQuadratureGetData(quad, NULL, NULL, &nq, NULL, &qw));
  PetscCall(PetscFEGetCellTabulation(fe, 1, &T));
  PetscCall(DMPlexGetHeightStratum(g->dm, 0, &cStart, &cEnd));
  ncell = cEnd - cStart;
  for (int k = 0; k < PF_MESHOP_N; k++) PetscCall(PetscMalloc1(ncell * nb * nb + 1, &tri[k]));
  PetscCall(PetscCalloc1(g->nloc, &mloc));
  PetscCall(PetscCalloc1(g->nown, &mown));
  PetscCall(PetscMalloc5(nq * dim, &v, nq * dim * dim, &J, nq * dim * dim, &invJ, nq, &detJ, nb * dim, &grad));
  for (PetscInt c = cStart; c < cEnd; c++) {
    PetscInt n, *idx;
    double   E[PF_MESHOP_N][16];
    PetscCall(DMPlexGetClosureIndices(g->dm, lsec, lsec, c, PETSC_TRUE, &n, &idx, NULL, NULL));
    PetscCall(DMPlexComputeCellGeometryFEM(g->dm, c, quad, v, J, invJ, detJ));
    PetscCall(PetscArrayzero(&E[0][0], PF_MESHOP_N * 16));
    for (PetscInt q = 0; q < nq; q++) {
      const PetscReal *phi = T->T[0] + q * nb, *dref = T->T[1] + q * nb * dim, *iJ = invJ + q * dim * dim;
      double           wq  = qw[q] * detJ[q];
      for (PetscInt b = 0; b < nb; b++)
        for (PetscInt d = 0; d < dim; d++) {
          grad[b * dim + d] = 0;
          for (PetscInt e = 0; e < dim; e++) grad[b * dim + d] += dref[b * dim + e] * iJ[e * dim + d];
        }
      for (PetscInt i = 0; i < nb; i++) {
        mloc[idx[i]] += wq * phi[i];
        area += wq * phi[i];
        for (PetscInt j = 0; j < nb; j++) {
          E[PF_MESHOP_DX][i * nb + j] += wq * phi[i] * grad[j * dim];
          E[PF_MESHOP_DY][i * nb + j] += wq * phi[i] * grad[j * dim + 1];
          E[PF_MESHOP_LAP][i * nb + j] += wq * (grad[i * dim] * grad[j * dim] + grad[i * dim + 1] * grad[j * dim + 1]);
          E[PF_MESHOP_AVG][i * nb + j] += wq * phi[i] * phi[j];
        }
      }
    }
    for (int k = 0; k < PF_MESHOP_N; k++)
      for (PetscInt i = 0; i < nb; i++)
        for (PetscInt j = 0; j < nb; j++) {
          tri[k][nt + i * nb + j].r = idx[i];
          tri[k][nt + i * nb + j].c = idx[j];
          tri[k][nt + i * nb + j].v = E[k][i * nb + j];
        }
    nt += nb * nb;
    PetscCall(DMPlexRestoreClosureIndices(g->dm, lsec, lsec, c, PETSC_TRUE, &n, &idx, NULL, NULL));
  }
  /* the section SF restricted to the ghost leaves: the products read and
   * write owned rows in place, so only ghost rows travel */
  {
    PetscInt *ghost, ng = 0;
    PetscSF   gsf;
    PetscCall(PetscMalloc1(g->nloc + 1, &ghost));
    for (PetscInt l = 0; l < g->nloc; l++)
      if (g->loc2own[l] < 0) ghost[ng++] = l;
    PetscCall(PetscSFCreateEmbeddedLeafSF(g->sf, ng, ghost, &gsf));
    PetscCall(PFRowSFSetUp(&g->ghosts, gsf));
    PetscCall(PetscSFDestroy(&gsf));
    PetscCall(PetscFree(ghost));
  }
  /* lumped mass: sum the local contributions on the owners */
  PetscCall(PetscSFReduceBegin(g->sf, MPI_DOUBLE, mloc, mown, MPI_SUM));
  PetscCall(PetscSFReduceEnd(g->sf, MPI_DOUBLE, mloc, mown, MPI_SUM));
  for (PetscInt i = 0; i < g->nown; i++) g->minv[i] = (pfreal)(1.0 / mown[i]);
  PetscCallMPI(MPI_Allreduce(&area, &garea, 1, MPI_DOUBLE, MPI_SUM, g->comm));
  PetscCallMPI(MPI_Allreduce(&ncell, &gcells, 1, MPIU_INT, MPI_SUM, g->comm));
  g->h = sqrt(garea / (double)gcells);
  /* dimensionless operators: derivatives times h, the Laplacian times h^2
   * (and negated: -int grad.grad is the weak Laplacian) */
  PetscCall(BuildCSR(g->nloc, nt, tri[PF_MESHOP_DX], g->h, &g->op[PF_MESHOP_DX]));
  PetscCall(BuildCSR(g->nloc, nt, tri[PF_MESHOP_DY], g->h, &g->op[PF_MESHOP_DY]));
  PetscCall(BuildCSR(g->nloc, nt, tri[PF_MESHOP_LAP], -g->h * g->h, &g->op[PF_MESHOP_LAP]));
  PetscCall(BuildCSR(g->nloc, nt, tri[PF_MESHOP_AVG], 1.0, &g->op[PF_MESHOP_AVG]));
  /* the operators come from the same element closures, so they share one
   * sparsity pattern (no entry is dropped): the products below rely on it */
  for (int k = 1; k < PF_MESHOP_N; k++) {
    PetscBool same;
    PetscCall(PetscArraycmp(g->op[k].rowptr, g->op[0].rowptr, g->nloc + 1, &same));
    if (same) PetscCall(PetscArraycmp(g->op[k].col, g->op[0].col, g->op[0].rowptr[g->nloc], &same));
    PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_PLIB, "mesh operator %d has a sparsity pattern of its own", k);
  }
  /* the pattern by columns (rows in increasing order within a column), so
   * the transposed products gather into each output row as the forward ones
   * do, and add in the same order as a row-by-row scatter would */
  {
    const PetscInt nnz = g->op[0].rowptr[g->nloc];
    PetscInt      *next;
    PetscCall(PetscCalloc1(g->nloc + 1, &g->cscptr));
    PetscCall(PetscMalloc2(nnz + 1, &g->cscrow, nnz + 1, &g->cscpos));
    PetscCall(PetscMalloc1(g->nloc + 1, &next));
    for (PetscInt z = 0; z < nnz; z++) g->cscptr[g->op[0].col[z] + 1]++;
    for (PetscInt c = 0; c < g->nloc; c++) g->cscptr[c + 1] += g->cscptr[c];
    PetscCall(PetscArraycpy(next, g->cscptr, g->nloc));
    for (PetscInt r = 0; r < g->nloc; r++)
      for (PetscInt z = g->op[0].rowptr[r]; z < g->op[0].rowptr[r + 1]; z++) {
        const PetscInt q = next[g->op[0].col[z]]++;
        g->cscrow[q]     = r;
        g->cscpos[q]     = z;
      }
    PetscCall(PetscFree(next));
  }
  for (int k = 0; k < PF_MESHOP_N; k++) PetscCall(PetscFree(tri[k]));
  PetscCall(PetscFree(mloc));
  PetscCall(PetscFree(mown));
  PetscCall(PetscFree5(v, J, invJ, detJ, grad));
  PetscCall(PetscFEDestroy(&fe));
  *graph = g;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGraphDestroy(PFMeshGraph *g)
{
  PetscFunctionBegin;
  if (!*g) PetscFunctionReturn(PETSC_SUCCESS);
  for (int k = 0; k < PF_MESHOP_N; k++) {
    PetscCall(PetscFree((*g)->op[k].rowptr));
    PetscCall(PetscFree2((*g)->op[k].col, (*g)->op[k].val));
  }
  PetscCall(PetscFree3((*g)->ownnat, (*g)->loc2own, (*g)->minv));
  PetscCall(PetscFree((*g)->cscptr));
  PetscCall(PetscFree2((*g)->cscrow, (*g)->cscpos));
  PetscCall(PetscFree((*g)->wloc));
  PetscCall(PetscFree((*g)->wloc2));
  PetscCall(PetscFree((*g)->wown));
  PetscCall(PFRowSFDestroy(&(*g)->ghosts));
  PetscCall(PetscSFDestroy(&(*g)->sf));
  PetscCall(PetscFree((*g)->xy));
  PetscCall(DMDestroy(&(*g)->dm));
  PetscCall(PetscFree(*g));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* work buffers grow to the largest request and are then reused */
static PetscErrorCode EnsureWork(PFMeshGraph g, size_t n)
{
  PetscFunctionBegin;
  if (n <= g->nwork) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(g->wloc));
  PetscCall(PetscFree(g->wloc2));
  PetscCall(PetscMalloc1(n, &g->wloc));
  PetscCall(PetscMalloc1(n, &g->wloc2));
  g->nwork = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The sparse products accumulate 4 x PF_VEC_LEN channels (32 floats) at a
 * time in four 32-byte vector registers (GCC/Clang vector extensions), so each output
 * value is written once instead of once per matrix entry. */
typedef pfreal PFVec __attribute__((vector_size(32)));
#define PF_VEC_LEN ((PetscInt)(sizeof(PFVec) / sizeof(pfreal)))

typedef struct {
  PFVec v[4];
} PFChunk;

static inline PFVec PFVecLoad(const pfreal *p)
{
  PFVec v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline void ChunkZero(PFChunk *c)
{
  for (int i = 0; i < 4; i++) c->v[i] = (PFVec){0};
}

/* c += a x[0..4*PF_VEC_LEN) */
static inline void ChunkAxpy(PFChunk *c, pfreal a, const pfreal *x)
{
  for (int i = 0; i < 4; i++) c->v[i] += a * PFVecLoad(x + i * PF_VEC_LEN);
}

/* y = c, or y = beta y + c */
static inline void ChunkStore(const PFChunk *c, pfreal beta, pfreal *y)
{
  if (beta == 0) memcpy(y, c->v, sizeof(c->v));
  else
    for (int i = 0; i < 4; i++) {
      const PFVec v = beta * PFVecLoad(y + i * PF_VEC_LEN) + c->v[i];
      memcpy(y + i * PF_VEC_LEN, &v, sizeof(v));
    }
}

/* The row of local vertex l: an owned vertex's row lives in the owned array
 * (own, rows of F), a ghost's in the local one (ghost, indexed by l); only
 * ghost rows travel through the SF */
static inline const pfreal *LocalRow(PFMeshGraph g, PetscInt l, size_t F, const pfreal *own, const pfreal *ghost)
{
  return g->loc2own[l] >= 0 ? own + (size_t)g->loc2own[l] * F : ghost + (size_t)l * F;
}

PetscErrorCode PFMeshGraphApplyBlocked(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, PetscInt blk, const pfreal *X, pfreal *Y)
{
  const size_t   W = (size_t)nk * (size_t)F;
  const PetscInt nb = F / blk;

  PetscFunctionBegin;
  PetscCheck(blk > 0 && F % blk == 0, g->comm, PETSC_ERR_ARG_INCOMP, "row length %" PetscInt_FMT " is not a multiple of the block %" PetscInt_FMT, F, blk);
  PetscCall(EnsureWork(g, (size_t)g->nloc * PetscMax(W, (size_t)F)));
  /* halo: owned rows to the ghost copies */
  PetscCall(PFRowSFBcast(&g->ghosts, F, X, g->wloc));
  /* local products of the rank's cells: block j of operator k at
   * j*nk*blk + k*blk of the output row; an owned vertex's row goes straight
   * into Y, a ghost's (a partial sum) to the work rows */
  for (PetscInt r = 0; r < g->nloc; r++) {
    pfreal *y = (pfreal *)LocalRow(g, r, W, Y, g->wloc2);
    for (PetscInt j = 0; j < nb; j++)
      for (PetscInt k = 0; k < nk; k++) {
        const PFLocalCSR *A   = &g->op[kinds[k]];
        pfreal           *yk  = y + ((size_t)j * nk + k) * blk;
        const size_t      off = (size_t)j * blk;
        PetscInt          f0  = 0;
        for (; f0 + 4 * PF_VEC_LEN <= blk; f0 += 4 * PF_VEC_LEN) {
          PFChunk acc;
          ChunkZero(&acc);
          for (PetscInt z = A->rowptr[r]; z < A->rowptr[r + 1]; z++) ChunkAxpy(&acc, A->val[z], LocalRow(g, A->col[z], F, X, g->wloc) + off + f0);
          ChunkStore(&acc, 0, yk + f0);
        }
        for (; f0 < blk; f0++) { /* channels left over */
          pfreal acc = 0;
          for (PetscInt z = A->rowptr[r]; z < A->rowptr[r + 1]; z++) acc += A->val[z] * LocalRow(g, A->col[z], F, X, g->wloc)[off + f0];
          yk[f0] = acc;
        }
      }
  }
  /* ghost rows are partial sums: add them into their owners */
  PetscCall(PFRowSFGatherSum(&g->ghosts, (PetscInt)W, g->wloc2, 1, Y));
  for (PetscInt i = 0; i < g->nown; i++) {
    pfreal *y = Y + (size_t)i * W;
    for (size_t j = 0; j < W; j++) y[j] *= g->minv[i];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGraphApply(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, const pfreal *X, pfreal *Y)
{
  PetscFunctionBegin;
  PetscCall(PFMeshGraphApplyBlocked(g, nk, kinds, F, F, X, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGraphApplyTransposeBlocked(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, PetscInt blk, const pfreal *dY, pfreal beta, pfreal *dX)
{
  const size_t   W = (size_t)nk * (size_t)F;
  const PetscInt nb = F / blk;
  pfreal        *Z;

  PetscFunctionBegin;
  PetscCheck(blk > 0 && F % blk == 0, g->comm, PETSC_ERR_ARG_INCOMP, "row length %" PetscInt_FMT " is not a multiple of the block %" PetscInt_FMT, F, blk);
  PetscCall(EnsureWork(g, (size_t)g->nloc * PetscMax(W, (size_t)F)));
  /* transpose of the scaling: M_L^{-1} dY, then to every local copy */
  if ((size_t)g->nown * W + 1 > g->nwown) {
    PetscCall(PetscFree(g->wown));
    PetscCall(PetscMalloc1((size_t)g->nown * W + 1, &g->wown));
    g->nwown = (size_t)g->nown * W + 1;
  }
  Z = g->wown;
  for (PetscInt i = 0; i < g->nown; i++)
    for (size_t j = 0; j < W; j++) Z[(size_t)i * W + j] = g->minv[i] * dY[(size_t)i * W + j];
  PetscCall(PFRowSFBcast(&g->ghosts, (PetscInt)W, Z, g->wloc2));
  /* x_c = sum over the rows r of column c (increasing) and the operators
   * of a_k(r, c) z_{r,k}: gathered per output row like the forward; an
   * owned vertex's result goes straight into dX */
  for (PetscInt c = 0; c < g->nloc; c++) {
    pfreal      *x  = (pfreal *)LocalRow(g, c, F, dX, g->wloc);
    const pfreal bx = g->loc2own[c] >= 0 ? beta : 0;
    for (PetscInt j = 0; j < nb; j++) {
      const size_t off = (size_t)j * nk * blk;
      PetscInt     f0  = 0;
      for (; f0 + 4 * PF_VEC_LEN <= blk; f0 += 4 * PF_VEC_LEN) {
        PFChunk acc;
        ChunkZero(&acc);
        for (PetscInt q = g->cscptr[c]; q < g->cscptr[c + 1]; q++) {
          const pfreal *z = LocalRow(g, g->cscrow[q], W, Z, g->wloc2) + off + f0;
          for (PetscInt k = 0; k < nk; k++) ChunkAxpy(&acc, g->op[kinds[k]].val[g->cscpos[q]], z + (size_t)k * blk);
        }
        ChunkStore(&acc, bx, x + (size_t)j * blk + f0);
      }
      for (; f0 < blk; f0++) {
        pfreal acc = 0, *xf = x + (size_t)j * blk + f0;
        for (PetscInt q = g->cscptr[c]; q < g->cscptr[c + 1]; q++)
          for (PetscInt k = 0; k < nk; k++) acc += g->op[kinds[k]].val[g->cscpos[q]] * LocalRow(g, g->cscrow[q], W, Z, g->wloc2)[off + (size_t)k * blk + f0];
        *xf = bx == 0 ? acc : bx * *xf + acc;
      }
    }
  }
  /* the ghosts' partial sums into their owners */
  PetscCall(PFRowSFGatherSum(&g->ghosts, F, g->wloc, 1, dX));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGraphApplyTranspose(PFMeshGraph g, PetscInt nk, const PFMeshOpKind kinds[], PetscInt F, const pfreal *dY, pfreal beta, pfreal *dX)
{
  PetscFunctionBegin;
  PetscCall(PFMeshGraphApplyTransposeBlocked(g, nk, kinds, F, F, dY, beta, dX));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshGraphBoundaryVertices(PFMeshGraph g, PetscInt flag[])
{
  PetscSF      psf;
  PetscSection lsec;
  PetscInt     pStart, pEnd, fStart, fEnd, vStart, vEnd, nroots, *supp, *tot, *all, *loc;

  PetscFunctionBegin;
  /* a face's cells over all ranks: the local support sizes, summed over the
   * point SF's copies of the face (a partition face has one cell on each
   * side: not a boundary face) */
  PetscCall(DMPlexGetChart(g->dm, &pStart, &pEnd));
  PetscCall(DMPlexGetHeightStratum(g->dm, 1, &fStart, &fEnd));
  PetscCall(DMPlexGetDepthStratum(g->dm, 0, &vStart, &vEnd));
  PetscCall(PetscCalloc3(pEnd - pStart + 1, &supp, pEnd - pStart + 1, &tot, pEnd - pStart + 1, &all));
  for (PetscInt f = fStart; f < fEnd; f++) PetscCall(DMPlexGetSupportSize(g->dm, f, &supp[f - pStart]));
  PetscCall(PetscArraycpy(tot, supp, pEnd - pStart));
  PetscCall(DMGetPointSF(g->dm, &psf));
  PetscCall(PetscSFGetGraph(psf, &nroots, NULL, NULL, NULL));
  if (nroots >= 0) {
    PetscCall(PetscSFReduceBegin(psf, MPIU_INT, supp, tot, MPI_SUM));
    PetscCall(PetscSFReduceEnd(psf, MPIU_INT, supp, tot, MPI_SUM));
  }
  PetscCall(PetscArraycpy(all, tot, pEnd - pStart));
  if (nroots >= 0) {
    PetscCall(PetscSFBcastBegin(psf, MPIU_INT, tot, all, MPI_REPLACE));
    PetscCall(PetscSFBcastEnd(psf, MPIU_INT, tot, all, MPI_REPLACE));
  }
  /* the vertices of the boundary faces, on the local vertices */
  PetscCall(DMGetLocalSection(g->dm, &lsec));
  PetscCall(PetscCalloc1(g->nloc + 1, &loc));
  for (PetscInt f = fStart; f < fEnd; f++) {
    const PetscInt *cone;
    PetscInt        nc;
    if (all[f - pStart] != 1) continue;
    PetscCall(DMPlexGetConeSize(g->dm, f, &nc));
    PetscCall(DMPlexGetCone(g->dm, f, &cone));
    for (PetscInt q = 0; q < nc; q++) {
      PetscInt off;
      if (cone[q] < vStart || cone[q] >= vEnd) continue;
      PetscCall(PetscSectionGetOffset(lsec, cone[q], &off));
      loc[off] = 1;
    }
  }
  /* a vertex whose boundary faces all live on other ranks learns it here */
  for (PetscInt i = 0; i < g->nown; i++) flag[i] = 0;
  PetscCall(PetscSFReduceBegin(g->sf, MPIU_INT, loc, flag, MPI_MAX));
  PetscCall(PetscSFReduceEnd(g->sf, MPIU_INT, loc, flag, MPI_MAX));
  PetscCall(PetscFree(loc));
  PetscCall(PetscFree3(supp, tot, all));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFMeshToVertexMajor(PetscInt B, PetscInt F, PetscInt n, const pfreal *x, pfreal *y)
{
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < F; f++)
      for (PetscInt i = 0; i < n; i++) y[((size_t)i * B + b) * F + f] = x[(size_t)b * F * n + (size_t)f * n + i];
}

void PFMeshFromVertexMajor(PetscInt B, PetscInt F, PetscInt n, const pfreal *y, pfreal *x)
{
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < F; f++)
      for (PetscInt i = 0; i < n; i++) x[(size_t)b * F * n + (size_t)f * n + i] = y[((size_t)i * B + b) * F + f];
}
