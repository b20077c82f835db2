#pragma once
/* Small HDF5 helpers with physflow's error conventions: every failure becomes
 * a PETSc error whose message names the file and object, and files that are
 * rewritten (models, checkpoints) go through a temporary name + rename so a
 * crash at any moment leaves either the old or the new file, never a torn one. */
#include <hdf5.h>
#include <physflow/compat.h>

PETSC_EXTERN PetscErrorCode PFH5Initialize(void); /* silence HDF5's own error printing */
PETSC_EXTERN PetscErrorCode PFH5OpenRead(const char path[], hid_t *fid);
PETSC_EXTERN PetscErrorCode PFH5Close(hid_t *fid);

/* Atomic rewrite: create path.tmp.<pid>, write, then PFH5CommitTemp fsyncs and
 * renames it over path.  PFH5AbortTemp removes the temporary on failure. */
typedef struct {
  hid_t fid;
  char  path[PETSC_MAX_PATH_LEN];
  char  tmp[PETSC_MAX_PATH_LEN];
} PFH5Temp;
PETSC_EXTERN PetscErrorCode PFH5CreateTemp(const char path[], PFH5Temp *t);
PETSC_EXTERN PetscErrorCode PFH5CommitTemp(PFH5Temp *t);
/* rename(from, to); with sync, from's data is on disk first and the rename
 * after (fsync of the file, then of to's directory): a crash cannot leave
 * to naming an incomplete file.  Rank-local. */
PETSC_EXTERN PetscErrorCode PFSyncRename(const char from[], const char to[], PetscBool sync);
PETSC_EXTERN PetscErrorCode PFH5AbortTemp(PFH5Temp *t);
/* Fail early (before hours of work) if path's directory is not writable */
PETSC_EXTERN PetscErrorCode PFCheckWritable(MPI_Comm comm, const char path[]);

PETSC_EXTERN PetscErrorCode PFH5WriteAttrString(hid_t obj, const char name[], const char value[]);
PETSC_EXTERN PetscErrorCode PFH5WriteAttrInt(hid_t obj, const char name[], PetscInt value);
PETSC_EXTERN PetscErrorCode PFH5WriteAttrReal(hid_t obj, const char name[], double value);
PETSC_EXTERN PetscErrorCode PFH5HasAttr(hid_t obj, const char name[], PetscBool *has);
PETSC_EXTERN PetscErrorCode PFH5ReadAttrString(hid_t obj, const char name[], char value[], size_t len);
PETSC_EXTERN PetscErrorCode PFH5ReadAttrInt(hid_t obj, const char name[], PetscInt *value);
PETSC_EXTERN PetscErrorCode PFH5ReadAttrReal(hid_t obj, const char name[], double *value);
/* Standard root attributes of every physflow file */
PETSC_EXTERN PetscErrorCode PFH5WriteStandardAttrs(hid_t fid, const char kind[]);
PETSC_EXTERN PetscErrorCode PFH5CheckKind(hid_t fid, const char path[], const char kind[]);

/* Whole-array datasets; memtype says what the buffer holds (H5T_NATIVE_FLOAT,
 * H5T_NATIVE_DOUBLE, ...), the file stores it as filetype.  Intermediate
 * groups in name (e.g. "adam/m") are created as needed. */
PETSC_EXTERN PetscErrorCode PFH5WriteArray(hid_t fid, const char name[], hid_t memtype, hid_t filetype, int rank, const hsize_t dims[], const void *data);
PETSC_EXTERN PetscErrorCode PFH5HasDataset(hid_t fid, const char name[], PetscBool *has);
/* Reads dims (rank <= 4) of a dataset, failing with a clear message if absent or of another rank */
PETSC_EXTERN PetscErrorCode PFH5GetDims(hid_t fid, const char path[], const char name[], int rank, hsize_t dims[]);
PETSC_EXTERN PetscErrorCode PFH5ReadArray(hid_t fid, const char path[], const char name[], hid_t memtype, size_t count, void *data);
