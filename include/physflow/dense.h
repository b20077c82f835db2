#pragma once
/* Small dense SPD algebra on one rank (row-major [k][k]): the k x k
 * systems of the Kalman estimate and of the Laplace proposal's covariance. */
#include <petscsys.h>
#include <physflow/compat.h>

/* In place: the lower Cholesky factor L of the SPD matrix C = L L^T (the
 * strict upper triangle is left as it was).  PETSC_ERR_MAT_CH_ZRPVT if C
 * is not positive definite. */
PETSC_EXTERN PetscErrorCode PFCholeskyFactor(PetscInt k, double *C);
/* w <- L^{-1} w and w <- L^{-T} w with the factor of PFCholeskyFactor */
PETSC_EXTERN void PFCholeskySolveLower(PetscInt k, const double *L, double *w);
PETSC_EXTERN void PFCholeskySolveUpper(PetscInt k, const double *L, double *w);
