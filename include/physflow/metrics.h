#pragma once
#include <physflow/compat.h>
#include <stdint.h>

/* Distribution metrics between two point clouds in R^d (row-major [n, d]).
 * Both are deterministic given the seed. */

/* Sliced Wasserstein-2 distance: sqrt of the mean over nproj random unit
 * directions of W2^2 between the 1-D projections (quantile matching; unequal
 * sizes handled by evaluating both empirical quantile functions on a common grid). */
PETSC_EXTERN PetscErrorCode PFSlicedWasserstein(PetscInt d, PetscInt na, const double *a, PetscInt nb, const double *b, PetscInt nproj, uint64_t seed, double *swd);

/* Squared maximum mean discrepancy, unbiased U-statistic, with a sum of
 * Gaussian kernels whose bandwidths are the median pairwise distance of the
 * pooled sample times {0.5, 1, 2}.  At most maxn points of each set are used
 * (first maxn) to bound the O(n^2) cost. */
PETSC_EXTERN PetscErrorCode PFMMD(PetscInt d, PetscInt na, const double *a, PetscInt nb, const double *b, PetscInt maxn, double *mmd2);
