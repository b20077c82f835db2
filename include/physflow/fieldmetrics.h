#pragma once
/* Distribution metrics of mesh fields (samples [n][nvert], natural order). */
#include <physflow/compat.h>
#include <stdint.h>

/* ||mean_S - mean_R||_w / ||std_R||_w and ||std_S - std_R||_w / ||std_R||_w
 * (w: vertex masses, NULL = uniform) */
PETSC_EXTERN PetscErrorCode PFFieldMomentErrors(PetscInt ns, PetscInt nr, PetscInt nv, const double *S, const double *R, const double *w, double *mean_err, double *std_err);
/* correlation of the field between two vertices against their distance, in
 * nbins bins over [0, rmax), from npairs random vertex pairs */
PETSC_EXTERN PetscErrorCode PFFieldCorrelation(PetscInt n, PetscInt nv, const double *X, const double *coords, PetscInt nbins, double rmax, PetscInt npairs, uint64_t seed, double *corr);
/* sliced Wasserstein distance between two sets of multi-field samples */
PETSC_EXTERN PetscErrorCode PFFieldSlicedWasserstein(PetscInt nf, PetscInt ns, PetscInt nr, PetscInt nv, const double *const *S, const double *const *R, PetscInt nproj, uint64_t seed, double *swd);
