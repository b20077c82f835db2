/* Small dense SPD algebra (include/physflow/dense.h) */
#include <math.h>
#include <physflow/dense.h>

PetscErrorCode PFCholeskyFactor(PetscInt k, double *C)
{
  PetscFunctionBegin;
  for (PetscInt j = 0; j < k; j++) {
    double d = C[j * k + j];
    for (PetscInt p = 0; p < j; p++) d -= C[j * k + p] * C[j * k + p];
    PetscCheck(d > 0, PETSC_COMM_SELF, PETSC_ERR_MAT_CH_ZRPVT, "matrix not positive definite (pivot %" PetscInt_FMT " of %" PetscInt_FMT ")", j, k);
    C[j * k + j] = sqrt(d);
    for (PetscInt i = j + 1; i < k; i++) {
      double s = C[i * k + j];
      for (PetscInt p = 0; p < j; p++) s -= C[i * k + p] * C[j * k + p];
      C[i * k + j] = s / C[j * k + j];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFCholeskySolveLower(PetscInt k, const double *L, double *w)
{
  for (PetscInt i = 0; i < k; i++) {
    for (PetscInt p = 0; p < i; p++) w[i] -= L[i * k + p] * w[p];
    w[i] /= L[i * k + i];
  }
}

void PFCholeskySolveUpper(PetscInt k, const double *L, double *w)
{
  for (PetscInt i = k - 1; i >= 0; i--) {
    for (PetscInt p = i + 1; p < k; p++) w[i] -= L[p * k + i] * w[p];
    w[i] /= L[i * k + i];
  }
}
