#pragma once
/* Writer of physflow's mesh datasets (datagen of PDE solutions): one HDF5 file
 * written collectively by every rank of MPI_COMM_WORLD, resumable after a
 * kill, plus an XDMF file beside it so ParaView opens it.
 *
 * File layout (see docs/design.md, "Files"):
 *   /coords [nvert, dim] float64         natural vertex order
 *   /cells  [ncells, nvpc] int64         0-based natural vertex indices
 *   /fields/<name> [nsamples, nvert] float64, NaN where not yet written
 *   /params/<name> [nsamples] float64,       NaN where not yet written
 *   /completed [nsamples] uint8           1 = the row is fully written
 *   root attributes physflow_version, kind, options (+ any set later)
 * /fields and /params keep the creation order of their members, so readers
 * see the fields in the order the writer gave them.
 *
 * While samples are missing the file is called path.partial; only when every
 * sample is complete is it renamed (atomically) to path.  A killed run is
 * continued with resume = PETSC_TRUE. */
#include <physflow/compat.h>

typedef struct _p_PFDatasetWriter *PFDatasetWriter;

typedef struct {
  PetscInt           nsamples, nvert, dim, ncells, nvpc; /* nvpc: vertices per cell: 3 triangles, 4 quads */
  PetscInt           nfields;
  const char *const *fields; /* e.g. {"logK","p"}: /fields/<name> [nsamples, nvert] float64 */
  PetscInt           nparams;
  const char *const *params; /* e.g. {"Re"}: /params/<name> [nsamples] float64; may be 0 */
  const char        *kind;   /* "dataset" (root attribute kind) */
  PetscBool          scratch; /* a temporary file its caller finishes and renames (infer's results): no fsync, no XDMF */
} PFDatasetLayout;

/* Collective on comm (every rank that will call WriteRows).
 * resume = PETSC_FALSE: creates path.partial afresh (an old one is replaced).
 * resume = PETSC_TRUE:  if path.partial exists, reopens it after checking that it
 *   matches layout (kind, nsamples, nvert, dim, ncells, nvpc, the field and
 *   parameter names, and the mesh if coords/cells are given); a mismatch is an
 *   error that says what differs.  Else if path exists it must be a complete
 *   file of this layout: the writer then reports every sample done, writes
 *   nothing, and Close only (re)writes the XDMF.  Else starts afresh.
 * coords [nvert*dim] and cells [ncells*nvpc] are read on rank 0 only (other
 * ranks may pass NULL); required when a file is created. */
PETSC_EXTERN PetscErrorCode PFDatasetWriterCreate(MPI_Comm comm, const char path[], const PFDatasetLayout *layout, const double *coords, const PetscInt *cells, PetscBool resume, PFDatasetWriter *w);
/* Which samples are complete: done[nsamples], identical on every rank; owned by w */
PETSC_EXTERN PetscErrorCode PFDatasetWriterGetCompleted(PFDatasetWriter w, const PetscBool **done, PetscInt *ndone);
/* Collective: every rank calls it in the same round, with nrows >= 0 rows
 * (0 is fine).  idx[nrows] sample indices (any order; no index twice in one
 * round over all ranks), values[f][r*nvert + v] in natural vertex order,
 * params[p][r] (NULL if nparams == 0).  Rewriting a completed sample is
 * allowed (it overwrites).  Field and parameter data are written and flushed
 * before the rows are marked in /completed, so after a kill at any moment
 * every row marked complete holds its data. */
PETSC_EXTERN PetscErrorCode PFDatasetWriterWriteRows(PFDatasetWriter w, PetscInt nrows, const PetscInt *idx, const double *const *values, const double *const *params);
/* Collective, same value on every rank.  On a writer that found path already
 * complete these do nothing: that file is final and is not modified. */
PETSC_EXTERN PetscErrorCode PFDatasetWriterSetAttrString(PFDatasetWriter w, const char name[], const char value[]);
PETSC_EXTERN PetscErrorCode PFDatasetWriterSetAttrReal(PFDatasetWriter w, const char name[], double value);
/* Collective.  If every sample is complete: closes the file, renames
 * path.partial -> path (fsync'd, atomic), and writes the XDMF beside it
 * (path with .h5 replaced by .xmf, or .xmf appended).  Otherwise closes and
 * leaves path.partial for resume.  *complete (may be NULL) says which. */
PETSC_EXTERN PetscErrorCode PFDatasetWriterClose(PFDatasetWriter *w, PetscBool *complete);

/* Not collective: call it on one rank.  XDMF (version 2, read by ParaView's
 * XDMFReader and Xdmf3Reader) for any file with /coords, /cells and
 * /fields/<name> [n, nvert]: a temporal collection of n grids ("Time" = sample
 * index) sharing the mesh, one nodal Attribute per field (a HyperSlab of row
 * i).  Cell type from nvpc and dim: 3 Triangle, 4 Quadrilateral (dim 2) or
 * Tetrahedron (dim 3), 8 Hexahedron.  The .h5 is referenced by its basename,
 * so xmfpath must be in the same directory as h5path (and the pair can be
 * moved together).  Written to a temporary and renamed. */
PETSC_EXTERN PetscErrorCode PFWriteXDMF(const char h5path[], const char xmfpath[]);
