#pragma once
/* Sparse noisy observations of mesh fields (issue 7, src/inverse/obs.c).
 *
 * File (ARCHITECTURE "observations"): kind "observations";
 *   /obs/coords [nobs, 2], /obs/values [nobs] (float64), attributes of /obs:
 *   field (the observed field), sigma (the noise std, field units);
 *   optionally /truth/<field> [nvert] (the full fields of the sample the
 *   observations were made from, natural vertex order) and root attributes
 *   source (data file), index (sample), seed, mesh.
 * Values at a point are the FE interpolant of the vertex values (P1 on
 * triangles, Q1 on quadrilaterals: the cell's vertex weights). */
#include <physflow/physics.h>
#include <physflow/real.h>
#include <physflow/rng.h>

typedef struct {
  PetscInt nobs;
  double  *coords; /* [nobs, 2] */
  double  *values; /* [nobs] */
  double   sigma;
  char     field[64];
  /* the truth, if the file has it: nfields x nvert in natural order */
  PetscInt ntruth, nvert;
  char     truthname[8][64];
  double  *truth;
} PFObs;

/* Reads and checks an observation file on rank 0 and broadcasts it; a
 * missing, corrupt or empty file, non-finite values or sigma <= 0 give one
 * error on every rank of comm. */
PETSC_EXTERN PetscErrorCode PFObsRead(MPI_Comm comm, const char path[], PFObs *obs);
/* Written by rank 0 to a temporary and renamed (atomic) */
PETSC_EXTERN PetscErrorCode PFObsWrite(MPI_Comm comm, const char path[], const PFObs *obs, const char source[], PetscInt index, PetscInt seed, const char mesh[]);
PETSC_EXTERN PetscErrorCode PFObsDestroy(PFObs *obs);

/* The cell of the serial mesh (rank 0's natural-order coords and cells)
 * holding the point x and its vertices' interpolation weights w[nvpc]
 * (sum 1); *cell = -1 if no cell holds it.  Brute force over the cells. */
PETSC_EXTERN PetscErrorCode PFObsLocate(PFMesh mesh, const double x[2], PetscInt *cell, double w[4]);

/* The observation operator H of nobs points on the physics' owned
 * vertices: y = H f (f one field's owned vertex array), g += H^T r.
 * Collective on the physics' comm (y is reduced over it). */
typedef struct {
  MPI_Comm  comm;
  PetscInt  nobs, nent;
  PetscInt *obs, *vert; /* [nent] observation and owned-vertex index of each entry */
  double   *w;          /* [nent] */
} PFObsOperator;
PETSC_EXTERN PetscErrorCode PFObsOperatorCreate(PFPhysics phys, PetscInt nobs, const double coords[], PFObsOperator *H);
/* rank 0 (the serial mesh): nobs uniformly random points inside the mesh,
 * point j drawn from the stream (seed, purpose, a, j), with their cells'
 * natural vertices vidx[4 nobs] (-1 past a cell's vertices) and weights w;
 * streams (may be NULL): each point's generator after its position */
PETSC_EXTERN PetscErrorCode PFObsDrawPositions(PFMesh mesh, uint64_t seed, PFRNGPurpose purpose, uint64_t a, PetscInt nobs, double coords[], PetscInt vidx[], double w[], PFRNG streams[]);
/* H of nobs random points (PFObsDrawPositions); coords_out [2 nobs] (may
 * be NULL): the points, on every rank */
PETSC_EXTERN PetscErrorCode PFObsOperatorCreateRandom(PFPhysics phys, uint64_t seed, PFRNGPurpose purpose, uint64_t a, PetscInt nobs, double coords_out[], PFObsOperator *H);
PETSC_EXTERN PetscErrorCode PFObsOperatorApply(PFObsOperator *H, const PetscScalar *f, double y[]);
PETSC_EXTERN PetscErrorCode PFObsOperatorApplyTransposeAdd(PFObsOperator *H, const double r[], PetscScalar *g);
PETSC_EXTERN PetscErrorCode PFObsOperatorDestroy(PFObsOperator *H);

/* Observation conditioning (a conditional model, -infer_type conditional):
 * the sensors become two vertex channels, mask = H^T 1 (each sensor's
 * interpolation weights at its cell's vertices) and value = H^T yhat
 * (yhat: the values normalised like the field), so any number of sensors
 * at any positions on any mesh is an input of the same shape.  Overwrites
 * mask and value [nown]. */
PETSC_EXTERN PetscErrorCode PFObsEncode(PFObsOperator *H, PetscInt nown, const double yhat[], pfreal *mask, pfreal *value);
/* The Voronoi encoding (after Fukami et al. 2021, sparse sensors to a dense
 * input): value = yhat of the nearest sensor at every vertex, distance =
 * the distance to it in units of the mean sensor spacing sqrt(area/nobs).
 * xy [nown][2]: the owned vertices' coordinates. */
PETSC_EXTERN PetscErrorCode PFObsEncodeVoronoi(PetscInt nobs, const double coords[], const double yhat[], double area, PetscInt nown, const double xy[], pfreal *distance, pfreal *value);
