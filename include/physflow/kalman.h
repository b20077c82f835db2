#pragma once
/* The ensemble Kalman (linear MMSE) estimate of every field of a mesh
 * state from sensors of one field (src/inverse/kalman.c): an input channel
 * set of conditional models (train -condition obs -cond_kalman N).  States
 * are in the model's normalised units; distributed over the owned vertices
 * of the ranks sharing the mesh (PFKalmanEstimate is collective on H's comm). */
#include <physflow/obs.h>
#include <physflow/real.h>

typedef struct {
  PetscInt N, nf, nown; /* ensemble members, fields, owned vertices */
  double  *A;           /* [nf nown][N] anomalies, by vertex */
  double  *m;           /* [nf nown] ensemble mean */
} PFKalman;

/* the first N samples (N <= 0: all) of the dataset path (fields in the model's order),
 * normalised with mean/std; ownnat: the owned vertices' natural indices */
PETSC_EXTERN PetscErrorCode PFKalmanCreate(MPI_Comm comm, const char path[], PetscInt N, PetscInt nf, const char *const fields[], PetscInt nown, const PetscInt ownnat[], const double mean[], const double std[], PFKalman *k);
/* out [nf nown] = the estimate from the sensor values y [H->nobs] of field
 * `field` (normalised) with noise std s (normalised) */
PETSC_EXTERN PetscErrorCode PFKalmanEstimate(PFKalman *k, PFObsOperator *H, PetscInt field, const double y[], double s, pfreal *out);
PETSC_EXTERN PetscErrorCode PFKalmanDestroy(PFKalman *k);
