#pragma once
/* The ensemble Kalman (linear MMSE) estimate of every field of a mesh
 * state from sensors of one field (src/inverse/kalman.c): an input channel
 * set of conditional models (train -condition obs -cond_kalman N).  States
 * are in the model's normalised units; distributed over the owned vertices
 * of the ranks sharing the mesh (PFKalmanEstimate is collective on H's comm). */
#include <physflow/obs.h>
#include <physflow/physics.h>
#include <physflow/real.h>

typedef struct {
  PetscInt N, nf, nown; /* ensemble members, fields, owned vertices */
  pfreal  *A;           /* [nf nown][N] anomalies, by vertex, in the network's precision (the estimate is a network input) */
  double  *m;           /* [nf nown] ensemble mean */
  double  *mean, *std;  /* [nf] the normalisation */
  /* PFKalmanSetPhysics: the adjoint summary's PDE and work */
  PFPhysics    phys;
  PetscInt     ninputs;
  PetscScalar *X, *g;   /* [nf nown] a physical state, its misfit gradient */
  PetscScalar *b;       /* [nown] work */
  double      *r;       /* [nobs] (grown on demand) */
  PetscInt     rcap;
} PFKalman;

/* the first N samples (N <= 0: all) of the dataset path (fields in the model's order),
 * normalised with mean/std; ownnat: the owned vertices' natural indices */
PETSC_EXTERN PetscErrorCode PFKalmanCreate(MPI_Comm comm, const char path[], PetscInt N, PetscInt nf, const char *const fields[], PetscInt nown, const PetscInt ownnat[], const double mean[], const double std[], PFKalman *k);
/* out [nf nown] = the estimate from the sensor values y [H->nobs] of field
 * `field` (normalised) with noise std s (normalised) */
PETSC_EXTERN PetscErrorCode PFKalmanEstimate(PFKalman *k, PFObsOperator *H, PetscInt field, const double y[], double s, pfreal *out);
/* The adjoint summary (src/inverse/kalman_adjoint.c): the PDE the
 * ensemble's fields obey (its fields must be the ensemble's, by name and
 * in order, with one state field) */
PETSC_EXTERN PetscErrorCode PFKalmanSetPhysics(PFKalman *k, PFPhysics phys, const char *const fields[]);
/* out [nf nown]: at the inputs of the estimate xlin [nf nown] (normalised),
 * the forward solve's state fields and, in the input fields, asinh of the
 * gradient density of the sensor misfit |H x_field - y|^2 / 2 with respect
 * to the (normalised) inputs, one forward and one adjoint solve (collective) */
PETSC_EXTERN PetscErrorCode PFKalmanAdjointSummary(PFKalman *k, PFObsOperator *H, PetscInt field, const double y[], const pfreal *xlin, pfreal *out);
PETSC_EXTERN PetscErrorCode PFKalmanDestroy(PFKalman *k);
