#pragma once
#include <physflow/compat.h>

/* Karhunen-Loeve (KL) expansion of a centred Gaussian random field with the
 * exponential covariance C(x,y) = sigma2 exp(-|x-y|/ell) (|.| Euclidean),
 * discretised by the Nystrom method on a fixed set of points.  The Darcy
 * datagen draws log-permeability as g = sum_k sqrt(lambda_k) xi_k phi_k(x)
 * with xi_k i.i.d. standard normal.
 *
 * Discretisation: with quadrature weights w (W = diag(w)) the integral
 * eigenproblem  int C(x,y) phi(y) dy = lambda phi(x)  becomes the symmetric
 * matrix eigenproblem of A = W^{1/2} C W^{1/2}; an eigenvector u_k of A gives
 * phi_k = W^{-1/2} u_k, which is L2(w)-orthonormal:
 * sum_i w_i phi_k(x_i) phi_l(x_i) = delta_kl.  The sign of each mode is fixed
 * so that its largest-magnitude value is positive (only the span is unique
 * for repeated eigenvalues, e.g. the symmetric pairs on a square). */
typedef struct _p_PFKL *PFKL;

/* Collective on comm.  npts points of dimension dim (coords [npts,dim],
 * row-major) with quadrature weights w[npts] (all > 0; NULL = equal weights
 * 1/npts, i.e. a domain of measure 1).  Keeps the nterms largest eigenpairs.
 * The dense npts x npts eigenproblem is solved on rank 0 of comm (LAPACK
 * dsyevr, range 'I', O(npts^2) memory) and the result is broadcast, so every
 * rank holds the modes at all npts points.  coords and w are read on rank 0
 * only; the sizes npts, dim and nterms must agree on all ranks. */
PETSC_EXTERN PetscErrorCode PFKLCreate(MPI_Comm comm, PetscInt npts, PetscInt dim, const double *coords, const double *w, double ell, double sigma2, PetscInt nterms, PFKL *kl);
PETSC_EXTERN PetscErrorCode PFKLGetSizes(PFKL kl, PetscInt *npts, PetscInt *nterms);
/* lambda[nterms], descending; owned by kl */
PETSC_EXTERN PetscErrorCode PFKLGetEigenvalues(PFKL kl, const double **lambda);
/* Mode values at the points: phi[i*nterms + k] = phi_k(x_i) (row-major
 * [npts, nterms]); owned by kl */
PETSC_EXTERN PetscErrorCode PFKLGetModes(PFKL kl, const double **phi);
/* g[i] = sum_k sqrt(lambda_k) xi_k phi_k(x_{idx[i]}) for i < n, with
 * xi[nterms]; idx NULL means all points in order (then n must be npts).
 * Not collective. */
PETSC_EXTERN PetscErrorCode PFKLEvaluate(PFKL kl, const double *xi, PetscInt n, const PetscInt *idx, double *g);
/* Fraction of the total variance, trace(A) = sigma2 sum_i w_i, captured by
 * the kept terms: sum_k lambda_k / trace(A). */
PETSC_EXTERN PetscErrorCode PFKLGetVarianceFraction(PFKL kl, double *frac);
PETSC_EXTERN PetscErrorCode PFKLDestroy(PFKL *kl);
