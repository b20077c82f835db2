#pragma once
/* Reading physflow mesh datasets and samples (/coords, /cells,
 * /fields/<name> [n, nvert]): whole rows, in natural vertex order.  Each rank
 * reads what it needs with independent (serial) HDF5 reads. */
#include <hdf5.h>
#include <physflow/compat.h>

typedef struct {
  hid_t    fid;
  char     path[PETSC_MAX_PATH_LEN];
  PetscInt nsamples, nvert;
  char     mesh[PETSC_MAX_PATH_LEN]; /* the "mesh" attribute ("box 63x63" or a file), "" if absent */
} PFMeshData;

PETSC_EXTERN PetscErrorCode PFMeshDataOpen(const char path[], PFMeshData *md);
PETSC_EXTERN PetscErrorCode PFMeshDataHasField(PFMeshData *md, const char field[], PetscBool *has);
/* rows [i0, i0+n) of /fields/<field> into buf [n*nvert]; NaN/Inf is an error naming the sample */
PETSC_EXTERN PetscErrorCode PFMeshDataReadRows(PFMeshData *md, const char field[], PetscInt i0, PetscInt n, double *buf);
PETSC_EXTERN PetscErrorCode PFMeshDataReadCoords(PFMeshData *md, double *coords);
PETSC_EXTERN PetscErrorCode PFMeshDataClose(PFMeshData *md);
