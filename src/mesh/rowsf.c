#include <physflow/rowsf.h>

PetscErrorCode PFRowSFSetUp(PFRowSF *r, PetscSF sf)
{
  const PetscInt *deg;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscCall(PetscObjectReference((PetscObject)sf));
  r->sf = sf;
  PetscCall(PetscSFGetGraph(sf, &r->nroots, NULL, NULL, NULL));
  PetscCall(PetscSFComputeDegreeBegin(sf, &deg));
  PetscCall(PetscSFComputeDegreeEnd(sf, &deg));
  PetscCall(PetscMalloc1(r->nroots + 1, &r->moff));
  r->moff[0] = 0;
  for (PetscInt i = 0; i < r->nroots; i++) r->moff[i + 1] = r->moff[i] + deg[i];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFRowSFDestroy(PFRowSF *r)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < r->nrowt; i++) PetscCallMPI(MPI_Type_free(&r->rowt[i]));
  PetscCall(PetscFree(r->moff));
  PetscCall(PetscFree(r->wmulti));
  PetscCall(PetscSFDestroy(&r->sf));
  PetscCall(PetscMemzero(r, sizeof(*r)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the contiguous MPI type of a row of F pfreals, created once per F */
static PetscErrorCode RowType(PFRowSF *r, PetscInt F, MPI_Datatype *t)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < r->nrowt; i++)
    if (r->rowF[i] == F) {
      *t = r->rowt[i];
      PetscFunctionReturn(PETSC_SUCCESS);
    }
  if (r->nrowt == 8) { /* keep the cache small: drop the oldest */
    PetscCallMPI(MPI_Type_free(&r->rowt[0]));
    for (int i = 1; i < 8; i++) {
      r->rowt[i - 1] = r->rowt[i];
      r->rowF[i - 1] = r->rowF[i];
    }
    r->nrowt--;
  }
  PetscCallMPI(MPI_Type_contiguous((PetscMPIInt)F, MPIU_PFREAL, &r->rowt[r->nrowt]));
  PetscCallMPI(MPI_Type_commit(&r->rowt[r->nrowt]));
  r->rowF[r->nrowt] = F;
  *t                = r->rowt[r->nrowt++];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFRowSFBcast(PFRowSF *r, PetscInt F, const pfreal *root, pfreal *leaf)
{
  MPI_Datatype t;

  PetscFunctionBegin;
  PetscCall(RowType(r, F, &t));
  PetscCall(PetscSFBcastBegin(r->sf, t, root, leaf, MPI_REPLACE));
  PetscCall(PetscSFBcastEnd(r->sf, t, root, leaf, MPI_REPLACE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFRowSFGatherSum(PFRowSF *r, PetscInt F, const pfreal *leaf, pfreal beta, pfreal *root)
{
  MPI_Datatype t;
  size_t       need = (size_t)r->moff[r->nroots] * F + 1;

  PetscFunctionBegin;
  PetscCall(RowType(r, F, &t));
  if (need > r->nwmulti) {
    PetscCall(PetscFree(r->wmulti));
    PetscCall(PetscMalloc1(need, &r->wmulti));
    r->nwmulti = need;
  }
  PetscCall(PetscSFGatherBegin(r->sf, t, leaf, r->wmulti));
  PetscCall(PetscSFGatherEnd(r->sf, t, leaf, r->wmulti));
  for (PetscInt i = 0; i < r->nroots; i++) {
    pfreal *y = root + (size_t)i * F;
    if (beta == 0)
      for (PetscInt f = 0; f < F; f++) y[f] = 0;
    else if (beta != 1)
      for (PetscInt f = 0; f < F; f++) y[f] *= beta;
    for (PetscInt k = r->moff[i]; k < r->moff[i + 1]; k++) {
      const pfreal *m = r->wmulti + (size_t)k * F;
      for (PetscInt f = 0; f < F; f++) y[f] += m[f];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
