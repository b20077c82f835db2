/* PFDatasetWriter: collective parallel HDF5 writer of mesh datasets, resumable,
 * and the XDMF description that lets ParaView open them.
 *
 * Crash consistency rests on three choices:
 *  - every dataset is allocated at creation (H5D_ALLOC_TIME_EARLY), so writing
 *    rows later changes raw data only, never the file's metadata: a kill in the
 *    middle of WriteRows cannot tear the HDF5 structure;
 *  - the field data are written and flushed (MPI_File_sync) before the same
 *    rows are set in /completed, so a row marked complete holds its data;
 *  - the file is built under a temporary name and only renamed to
 *    path.partial once its structure and mesh are on disk, and renamed to path
 *    only when every sample is complete: each name always means what it says.
 * Default (earliest) HDF5 file format, so there are no "file open for writing"
 * superblock flags and a file left by a killed writer reopens without h5clear. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <physflow/dataset.h>
#include <physflow/h5util.h>
#include <physflow/log.h>

#define PF_DS_MSG_LEN    1024
#define PF_DS_NAME_LEN   256
#define PF_DS_CHUNK_SIZE (1 << 20) /* bytes: about one HDF5 chunk-cache slot */
#define PF_DS_START_OVER "to start afresh, run without -resume (or delete the file)"

/* how Create found things: write a new file, continue path.partial, or path is already complete */
typedef enum {
  PF_DS_FRESH    = 0,
  PF_DS_RESUME   = 1,
  PF_DS_FINISHED = 2
} PFDatasetMode;

struct _p_PFDatasetWriter {
  MPI_Comm    comm;
  PetscMPIInt rank;
  char        path[PETSC_MAX_PATH_LEN];
  char        partial[PETSC_MAX_PATH_LEN];
  PetscInt    nsamples, nvert, nfields, nparams;
  char      **fields, **params;
  hid_t       fid, dxpl, cdset; /* file, collective transfer, /completed */
  hid_t      *fdset, *pdset;    /* /fields/<name>, /params/<name> */
  PetscBool  *done;
  PetscInt    ndone;
  PetscBool   finished; /* path was complete at Create: nothing is open */
  PetscBool   scratch;  /* layout->scratch: no fsync, no XDMF */
};

static hid_t H5TPetscInt(void)
{
  return sizeof(PetscInt) == 8 ? H5T_NATIVE_INT64 : H5T_NATIVE_INT32;
}

/* ---------------------------------------------------------------------------
 * Errors of work done on rank 0 alone (inspecting a file, renaming, writing
 * the XDMF) must be raised on every rank with the same message, or the other
 * ranks would wait forever in the next collective call.  Rank 0 runs the work
 * under PetscReturnErrorHandler (no traceback printed there) and broadcasts
 * the error code and message. */
typedef struct {
  int  code;
  char msg[PF_DS_MSG_LEN];
} PFRootError;

static PetscErrorCode RootErrorShare(MPI_Comm comm, PetscErrorCode ierr, PFRootError *e)
{
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  e->code   = 0;
  e->msg[0] = 0;
  if (rank == 0 && ierr) {
    char *specific = NULL;

    e->code = (int)ierr;
    (void)PetscErrorMessage((int)ierr, NULL, &specific);
    PetscCall(PetscStrncpy(e->msg, specific && specific[0] ? specific : "unknown error (run on rank 0 with -info)", sizeof(e->msg)));
  }
  PetscCallMPI(MPI_Bcast(e, (PetscMPIInt)sizeof(*e), MPI_BYTE, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

#define PFRootTry(rank, ierr, call) \
  do { \
    (ierr) = PETSC_SUCCESS; \
    if ((rank) == 0) { \
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL)); \
      (ierr) = (call); \
      PetscCall(PetscPopErrorHandler()); \
    } \
  } while (0)

/* All ranks agree on success of a collective HDF5 step: a failure on any rank
 * fails everywhere, so no rank goes on into the next collective call alone. */
static PetscErrorCode AllOK(MPI_Comm comm, PetscBool ok, PetscBool *all)
{
  int l = ok ? 1 : 0, g;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Allreduce(&l, &g, 1, MPI_INT, MPI_MIN, comm));
  *all = g ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * Layout checks */
static PetscErrorCode CheckNames(MPI_Comm comm, const char what[], PetscInt n, const char *const names[])
{
  PetscFunctionBegin;
  PetscCheck(n == 0 || names, comm, PETSC_ERR_ARG_NULL, "dataset layout: %" PetscInt_FMT " %s but no names given", n, what);
  for (PetscInt i = 0; i < n; i++) {
    size_t len;
    PetscCheck(names[i], comm, PETSC_ERR_ARG_NULL, "dataset layout: name of %s %" PetscInt_FMT " is NULL", what, i);
    PetscCall(PetscStrlen(names[i], &len));
    /* names become HDF5 link names and XDMF attribute names */
    PetscCheck(len > 0 && len < 64 && !strchr(names[i], '/') && strcmp(names[i], ".") && strcmp(names[i], ".."), comm, PETSC_ERR_ARG_WRONG, "dataset layout: %s name '%s' is not usable: give 1-63 characters without '/'", what, names[i]);
    for (PetscInt j = 0; j < i; j++) PetscCheck(strcmp(names[i], names[j]), comm, PETSC_ERR_ARG_WRONG, "dataset layout: %s '%s' is listed twice", what, names[i]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CheckLayout(MPI_Comm comm, const PFDatasetLayout *L)
{
  PetscInt v[14];

  PetscFunctionBegin;
  PetscCheck(L, comm, PETSC_ERR_ARG_NULL, "dataset layout is NULL");
  PetscCheck(L->nsamples > 0 && L->nvert > 0 && L->ncells > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "dataset layout: nsamples, nvert and ncells must be positive, got %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT, L->nsamples, L->nvert, L->ncells);
  PetscCheck(L->dim == 2 || L->dim == 3, comm, PETSC_ERR_ARG_OUTOFRANGE, "dataset layout: dim must be 2 or 3, got %" PetscInt_FMT, L->dim);
  PetscCheck(L->nvpc == 3 || L->nvpc == 4 || (L->nvpc == 8 && L->dim == 3), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "dataset layout: %" PetscInt_FMT " vertices per cell in %" PetscInt_FMT "-D is not supported (3 triangles, 4 quadrilaterals in 2-D or tetrahedra in 3-D, 8 hexahedra)", L->nvpc, L->dim);
  /* one row is one chunk at least; HDF5 limits chunks to 4 GiB */
  PetscCheck(L->nvert <= ((PetscInt)1 << 28), comm, PETSC_ERR_ARG_OUTOFRANGE, "dataset layout: %" PetscInt_FMT " vertices is more than this writer supports (2^28 per sample)", L->nvert);
  PetscCheck(L->nfields > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "dataset layout: give at least one field, got %" PetscInt_FMT, L->nfields);
  PetscCheck(L->nparams >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "dataset layout: nparams must be >= 0, got %" PetscInt_FMT, L->nparams);
  PetscCall(CheckNames(comm, "field", L->nfields, L->fields));
  PetscCall(CheckNames(comm, "parameter", L->nparams, L->params));
  PetscCheck(L->kind && L->kind[0], comm, PETSC_ERR_ARG_NULL, "dataset layout: kind is empty (use \"dataset\")");
  /* ranks that disagree on sizes would deadlock or corrupt the file later */
  v[0] = L->nsamples, v[1] = L->nvert, v[2] = L->dim, v[3] = L->ncells, v[4] = L->nvpc, v[5] = L->nfields, v[6] = L->nparams;
  for (int i = 0; i < 7; i++) v[7 + i] = -v[i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, v, 14, MPIU_INT, MPI_MAX, comm));
  for (int i = 0; i < 7; i++) PetscCheck(v[i] == -v[7 + i], comm, PETSC_ERR_ARG_INCOMP, "dataset layout differs between ranks (entry %d ranges over %" PetscInt_FMT "..%" PetscInt_FMT "); every rank must pass the same layout", i, -v[7 + i], v[i]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * Reading an existing file (rank 0) */

/* Members of a group, in creation order when the group tracks it (physflow's
 * writer does), by name otherwise.  Absent group: n = 0. */
static PetscErrorCode GroupMembers(hid_t fid, const char group[], PetscInt *n, char ***names)
{
  H5G_info_t   info;
  hid_t        g;
  H5_index_t   index = H5_INDEX_CRT_ORDER;

  PetscFunctionBegin;
  *n     = 0;
  *names = NULL;
  if (H5Lexists(fid, group, H5P_DEFAULT) <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  g = H5Gopen2(fid, group, H5P_DEFAULT);
  PetscCheck(g >= 0 && H5Gget_info(g, &info) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "/%s is not a readable group", group);
  PetscCall(PetscCalloc1(info.nlinks + 1, names));
  if (info.nlinks > 0 && H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, 0, NULL, 0, H5P_DEFAULT) < 0) index = H5_INDEX_NAME;
  for (hsize_t i = 0; i < info.nlinks; i++) {
    ssize_t len = H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, i, NULL, 0, H5P_DEFAULT);
    PetscCheck(len >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "cannot list the members of /%s", group);
    PetscCall(PetscMalloc1(len + 1, &(*names)[i]));
    H5Lget_name_by_idx(g, ".", index, H5_ITER_INC, i, (*names)[i], (size_t)len + 1, H5P_DEFAULT);
  }
  H5Gclose(g);
  *n = (PetscInt)info.nlinks;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode FreeNames(PetscInt n, char ***names)
{
  PetscFunctionBegin;
  if (*names)
    for (PetscInt i = 0; i < n; i++) PetscCall(PetscFree((*names)[i]));
  PetscCall(PetscFree(*names));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Shape and element type of a dataset; rank -1 if there is no such dataset */
static PetscErrorCode DatasetShape(hid_t fid, const char name[], int *rank, hsize_t dims[2], H5T_class_t *cls, size_t *size)
{
  hid_t dset, space, type;

  PetscFunctionBegin;
  *rank   = -1;
  dims[0] = dims[1] = 0;
  /* H5Lexists fails (< 0) when an intermediate group is missing: also absent */
  if (H5Lexists(fid, name, H5P_DEFAULT) <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  dset = H5Dopen2(fid, name, H5P_DEFAULT);
  if (dset < 0) PetscFunctionReturn(PETSC_SUCCESS);
  space = H5Dget_space(dset);
  type  = H5Dget_type(dset);
  *rank = H5Sget_simple_extent_ndims(space);
  if (*rank >= 1 && *rank <= 2) H5Sget_simple_extent_dims(space, dims, NULL);
  else *rank = -2; /* unexpected rank: callers report it as a wrong shape */
  if (cls) *cls = H5Tget_class(type);
  if (size) *size = H5Tget_size(type);
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void ShapeString(int rank, const hsize_t d[2], char buf[], size_t len)
{
  if (rank == 1) snprintf(buf, len, "[%llu]", (unsigned long long)d[0]);
  else if (rank == 2) snprintf(buf, len, "[%llu, %llu]", (unsigned long long)d[0], (unsigned long long)d[1]);
  else snprintf(buf, len, "of another rank");
}

static PetscErrorCode CheckShape(hid_t fid, const char file[], const char name[], int rank, hsize_t d0, hsize_t d1, const char meaning[])
{
  int     r;
  hsize_t got[2], want[2] = {d0, d1};
  char    sgot[64], swant[64];

  PetscFunctionBegin;
  PetscCall(DatasetShape(fid, name, &r, got, NULL, NULL));
  PetscCheck(r != -1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no dataset /%s, so it does not hold this run's dataset; " PF_DS_START_OVER, file, name);
  ShapeString(r, got, sgot, sizeof(sgot));
  ShapeString(rank, want, swant, sizeof(swant));
  PetscCheck(r == rank && got[0] == d0 && (rank == 1 || got[1] == d1), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': /%s is %s but this run needs %s (%s differs); " PF_DS_START_OVER, file, name, sgot, swant, meaning);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The file's members of a group must be exactly the layout's names (in any
 * order: rows are written by name) */
static PetscErrorCode CheckMembers(hid_t fid, const char file[], const char group[], PetscInt n, const char *const names[])
{
  PetscInt  nf;
  char    **fnames, have[PF_DS_MSG_LEN / 2] = "", want[PF_DS_MSG_LEN / 2] = "";
  PetscBool same;

  PetscFunctionBegin;
  PetscCall(GroupMembers(fid, group, &nf, &fnames));
  same = (PetscBool)(nf == n);
  for (PetscInt i = 0; i < n && same; i++) {
    PetscBool found = PETSC_FALSE;
    for (PetscInt j = 0; j < nf && !found; j++) found = (PetscBool)!strcmp(names[i], fnames[j]);
    same = found;
  }
  if (!same) {
    for (PetscInt j = 0; j < nf; j++) {
      PetscCall(PetscStrlcat(have, j ? ", " : "", sizeof(have)));
      PetscCall(PetscStrlcat(have, fnames[j], sizeof(have)));
    }
    for (PetscInt i = 0; i < n; i++) {
      PetscCall(PetscStrlcat(want, i ? ", " : "", sizeof(want)));
      PetscCall(PetscStrlcat(want, names[i], sizeof(want)));
    }
  }
  PetscCall(FreeNames(nf, &fnames));
  PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has /%s {%s} but this run writes {%s}; " PF_DS_START_OVER, file, group, have, want);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ReadWhole(hid_t fid, const char file[], const char name[], hid_t memtype, void *buf)
{
  hid_t  dset = H5Dopen2(fid, name, H5P_DEFAULT);
  herr_t st   = dset >= 0 ? H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;

  PetscFunctionBegin;
  if (dset >= 0) H5Dclose(dset);
  PetscCheck(st >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "'%s': cannot read /%s (corrupt file?); " PF_DS_START_OVER, file, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Same mesh as the file's?  Same vertex count with other coordinates or
 * another vertex order would silently mix two meshes in one dataset. */
static PetscErrorCode CheckMesh(hid_t fid, const char file[], const PFDatasetLayout *L, const double *coords, const PetscInt *cells)
{
  PetscInt n;

  PetscFunctionBegin;
  if (coords) {
    double *fc, scale = 1, worst = 0;
    PetscInt at = -1;

    n = L->nvert * L->dim;
    PetscCall(PetscMalloc1(n, &fc));
    PetscCall(ReadWhole(fid, file, "coords", H5T_NATIVE_DOUBLE, fc));
    for (PetscInt i = 0; i < n; i++) scale = PetscMax(scale, PetscAbsReal(coords[i]));
    for (PetscInt i = 0; i < n; i++)
      if (!(PetscAbsReal(fc[i] - coords[i]) <= worst)) worst = PetscAbsReal(fc[i] - coords[i]), at = i;
    PetscCall(PetscFree(fc));
    PetscCheck(worst <= 1e-10 * scale, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' was written on another mesh: vertex %" PetscInt_FMT " moved by %g (same vertex count, other coordinates or vertex order); " PF_DS_START_OVER, file, at / L->dim, worst);
  }
  if (cells) {
    PetscInt *fk, at = -1;

    n = L->ncells * L->nvpc;
    PetscCall(PetscMalloc1(n, &fk));
    PetscCall(ReadWhole(fid, file, "cells", H5TPetscInt(), fk));
    for (PetscInt i = 0; i < n && at < 0; i++)
      if (fk[i] != cells[i]) at = i;
    PetscCall(PetscFree(fk));
    PetscCheck(at < 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' was written on another mesh: cell %" PetscInt_FMT " has other vertices; " PF_DS_START_OVER, file, at / L->nvpc);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode InspectOpenFile(hid_t fid, const char file[], const PFDatasetLayout *L, const double *coords, const PetscInt *cells, unsigned char done[])
{
  char name[PF_DS_NAME_LEN];

  PetscFunctionBegin;
  PetscCall(PFH5CheckKind(fid, file, L->kind));
  PetscCall(CheckShape(fid, file, "coords", 2, (hsize_t)L->nvert, (hsize_t)L->dim, "number of vertices or dimension"));
  PetscCall(CheckShape(fid, file, "cells", 2, (hsize_t)L->ncells, (hsize_t)L->nvpc, "number of cells or cell type"));
  PetscCall(CheckMembers(fid, file, "fields", L->nfields, L->fields));
  for (PetscInt f = 0; f < L->nfields; f++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "fields/%s", L->fields[f]));
    PetscCall(CheckShape(fid, file, name, 2, (hsize_t)L->nsamples, (hsize_t)L->nvert, "number of samples or vertices"));
  }
  PetscCall(CheckMembers(fid, file, "params", L->nparams, L->params));
  for (PetscInt p = 0; p < L->nparams; p++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "params/%s", L->params[p]));
    PetscCall(CheckShape(fid, file, name, 1, (hsize_t)L->nsamples, 0, "number of samples"));
  }
  PetscCall(CheckShape(fid, file, "completed", 1, (hsize_t)L->nsamples, 0, "number of samples"));
  PetscCall(CheckMesh(fid, file, L, coords, cells));
  PetscCall(ReadWhole(fid, file, "completed", H5T_NATIVE_UCHAR, done));
  for (PetscInt i = 0; i < L->nsamples; i++)
    PetscCheck(done[i] <= 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': /completed[%" PetscInt_FMT "] = %d, expected 0 or 1 (corrupt file); " PF_DS_START_OVER, file, i, (int)done[i]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Opened with H5F_CLOSE_STRONG so that closing the file also closes whatever
 * an error left open: the same process may reopen it in parallel next. */
static PetscErrorCode InspectFile(const char file[], const PFDatasetLayout *L, const double *coords, const PetscInt *cells, unsigned char done[])
{
  hid_t          fapl, fid;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCheck(H5Fis_hdf5(file) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' is not an HDF5 file (truncated or corrupt); " PF_DS_START_OVER, file);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  fid = H5Fopen(file, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s' (corrupt, or locked by a running writer?); " PF_DS_START_OVER, file);
  ierr = InspectOpenFile(fid, file, L, coords, cells, done);
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode CheckMeshArgs(const PFDatasetLayout *L, const double *coords, const PetscInt *cells, const char file[])
{
  PetscFunctionBegin;
  PetscCheck(coords && cells, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "creating '%s' needs the mesh: pass coords and cells on rank 0", file);
  for (PetscInt i = 0; i < L->nvert * L->dim; i++) PetscCheck(!PetscIsInfOrNanReal(coords[i]), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "coordinate %" PetscInt_FMT " of vertex %" PetscInt_FMT " is %g; the mesh must have finite coordinates", i % L->dim, i / L->dim, coords[i]);
  for (PetscInt i = 0; i < L->ncells * L->nvpc; i++)
    PetscCheck(cells[i] >= 0 && cells[i] < L->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "cell %" PetscInt_FMT " refers to vertex %" PetscInt_FMT ", outside 0..%" PetscInt_FMT " (cells take 0-based natural vertex numbers)", i / L->nvpc, cells[i], L->nvert - 1);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0: what is there, and is it usable? */
static PetscErrorCode PlanOnRoot(const char path[], const char partial[], const PFDatasetLayout *L, const double *coords, const PetscInt *cells, PetscBool resume, int *mode, unsigned char done[])
{
  PetscFunctionBegin;
  *mode = PF_DS_FRESH;
  if (resume && access(partial, F_OK) == 0) *mode = PF_DS_RESUME;
  else if (resume && access(path, F_OK) == 0) *mode = PF_DS_FINISHED;
  if (*mode == PF_DS_RESUME) PetscCall(InspectFile(partial, L, coords, cells, done));
  else if (*mode == PF_DS_FINISHED) {
    PetscInt n = 0;
    PetscCall(InspectFile(path, L, coords, cells, done));
    for (PetscInt i = 0; i < L->nsamples; i++) n += done[i];
    PetscCheck(n == L->nsamples, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' exists but only %" PetscInt_FMT " of its %" PetscInt_FMT " samples are complete, and there is no '%s' to resume; " PF_DS_START_OVER, path, n, L->nsamples, partial);
  } else PetscCall(CheckMeshArgs(L, coords, cells, partial));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * Creating and opening */

static hid_t ParallelFapl(MPI_Comm comm)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  return fapl;
}

/* A dataset allocated now and filled with fill (see the top of this file) */
static hid_t CreateAllocated(hid_t loc, const char name[], hid_t type, int rank, const hsize_t dims[], const hsize_t *chunk, hid_t filltype, const void *fill)
{
  hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), dset;

  if (chunk) H5Pset_chunk(dcpl, rank, chunk);
  if (fill) H5Pset_fill_value(dcpl, filltype, fill);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Pclose(dcpl);
  H5Sclose(space);
  return dset;
}

static hid_t CreateOrderedGroup(hid_t fid, const char name[])
{
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE), g;

  /* readers then list the fields in the order the writer gave them */
  H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  g = H5Gcreate2(fid, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  return g;
}

/* Collective: every rank creates the same objects; rank 0 alone writes the mesh */
static PetscErrorCode CreateFile(PFDatasetWriter w, const PFDatasetLayout *L, const double *coords, const PetscInt *cells)
{
  char           tmp[PETSC_MAX_PATH_LEN + 8];
  hid_t          fapl, fid, g, d;
  hsize_t        dims[2], chunk[2];
  double         nan = NAN;
  unsigned char  zero = 0;
  PetscBool      ok = PETSC_TRUE, all;
  PetscErrorCode ierr;
  PFRootError    e;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.new", w->partial));
  fapl = ParallelFapl(w->comm);
  fid  = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  PetscCall(AllOK(w->comm, (PetscBool)(fid >= 0), &all));
  PetscCheck(all, w->comm, PETSC_ERR_FILE_WRITE, "cannot create '%s' with parallel HDF5 (directory not writable, or a file system without MPI-IO locking?)", tmp);
  PetscCall(PFH5WriteStandardAttrs(fid, L->kind));

  dims[0] = (hsize_t)L->nvert, dims[1] = (hsize_t)L->dim;
  d = CreateAllocated(fid, "coords", H5T_IEEE_F64LE, 2, dims, NULL, 0, NULL);
  ok &= (PetscBool)(d >= 0);
  /* independent raw-data write by one rank is allowed in parallel HDF5 */
  if (d >= 0 && w->rank == 0) ok &= (PetscBool)(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, coords) >= 0);
  if (d >= 0) H5Dclose(d);
  dims[0] = (hsize_t)L->ncells, dims[1] = (hsize_t)L->nvpc;
  d = CreateAllocated(fid, "cells", H5T_STD_I64LE, 2, dims, NULL, 0, NULL);
  ok &= (PetscBool)(d >= 0);
  if (d >= 0 && w->rank == 0) ok &= (PetscBool)(H5Dwrite(d, H5TPetscInt(), H5S_ALL, H5S_ALL, H5P_DEFAULT, cells) >= 0);
  if (d >= 0) H5Dclose(d);

  /* chunks of whole samples (training reads rows), up to 16 rows or ~1 MiB */
  dims[0]  = (hsize_t)L->nsamples, dims[1] = (hsize_t)L->nvert;
  chunk[0] = (hsize_t)PetscMax(1, PetscMin(PetscMin(16, L->nsamples), (PF_DS_CHUNK_SIZE / 8) / L->nvert));
  chunk[1] = (hsize_t)L->nvert;
  g        = CreateOrderedGroup(fid, "fields");
  ok &= (PetscBool)(g >= 0);
  for (PetscInt f = 0; f < L->nfields && g >= 0; f++) {
    d = CreateAllocated(g, L->fields[f], H5T_IEEE_F64LE, 2, dims, chunk, H5T_NATIVE_DOUBLE, &nan);
    ok &= (PetscBool)(d >= 0);
    if (d >= 0) H5Dclose(d);
  }
  if (g >= 0) H5Gclose(g);
  g = CreateOrderedGroup(fid, "params");
  ok &= (PetscBool)(g >= 0);
  for (PetscInt p = 0; p < L->nparams && g >= 0; p++) {
    d = CreateAllocated(g, L->params[p], H5T_IEEE_F64LE, 1, dims, NULL, H5T_NATIVE_DOUBLE, &nan);
    ok &= (PetscBool)(d >= 0);
    if (d >= 0) H5Dclose(d);
  }
  if (g >= 0) H5Gclose(g);
  d = CreateAllocated(fid, "completed", H5T_STD_U8LE, 1, dims, NULL, H5T_NATIVE_UCHAR, &zero);
  ok &= (PetscBool)(d >= 0);
  if (d >= 0) H5Dclose(d);
  ok &= (PetscBool)(H5Fclose(fid) >= 0);
  PetscCall(AllOK(w->comm, ok, &all));
  PetscCheck(all, w->comm, PETSC_ERR_FILE_WRITE, "cannot create the datasets of '%s' (disk full or quota?)", tmp);

  PFRootTry(w->rank, ierr, PFSyncRename(tmp, w->partial, (PetscBool)!w->scratch));
  PetscCall(RootErrorShare(w->comm, ierr, &e));
  PetscCheck(!e.code, w->comm, e.code, "%s", e.msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode OpenFile(PFDatasetWriter w)
{
  hid_t     fapl = ParallelFapl(w->comm);
  char      name[PF_DS_NAME_LEN];
  PetscBool ok, all;

  PetscFunctionBegin;
  w->fid = H5Fopen(w->partial, H5F_ACC_RDWR, fapl);
  H5Pclose(fapl);
  PetscCall(AllOK(w->comm, (PetscBool)(w->fid >= 0), &all));
  PetscCheck(all, w->comm, PETSC_ERR_FILE_OPEN, "cannot open '%s' for writing with parallel HDF5 (permissions? on a file system without locking set HDF5_USE_FILE_LOCKING=FALSE)", w->partial);
  ok = PETSC_TRUE;
  for (PetscInt f = 0; f < w->nfields; f++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "fields/%s", w->fields[f]));
    w->fdset[f] = H5Dopen2(w->fid, name, H5P_DEFAULT);
    ok &= (PetscBool)(w->fdset[f] >= 0);
  }
  for (PetscInt p = 0; p < w->nparams; p++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "params/%s", w->params[p]));
    w->pdset[p] = H5Dopen2(w->fid, name, H5P_DEFAULT);
    ok &= (PetscBool)(w->pdset[p] >= 0);
  }
  w->cdset = H5Dopen2(w->fid, "completed", H5P_DEFAULT);
  ok &= (PetscBool)(w->cdset >= 0);
  PetscCall(AllOK(w->comm, ok, &all));
  PetscCheck(all, w->comm, PETSC_ERR_FILE_UNEXPECTED, "'%s': cannot open its datasets (corrupt?); " PF_DS_START_OVER, w->partial);
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriterFree(PFDatasetWriter *w)
{
  PetscFunctionBegin;
  if (!*w) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(FreeNames((*w)->nfields, &(*w)->fields));
  PetscCall(FreeNames((*w)->nparams, &(*w)->params));
  PetscCall(PetscFree2((*w)->fdset, (*w)->pdset));
  PetscCall(PetscFree((*w)->done));
  PetscCall(PetscFree(*w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDatasetWriterCreate(MPI_Comm comm, const char path[], const PFDatasetLayout *layout, const double *coords, const PetscInt *cells, PetscBool resume, PFDatasetWriter *writer)
{
  PFDatasetWriter w;
  unsigned char  *done8;
  int             mode = PF_DS_FRESH;
  PetscErrorCode  ierr;
  PFRootError     e;

  PetscFunctionBegin;
  PetscCheck(path && writer, comm, PETSC_ERR_ARG_NULL, "PFDatasetWriterCreate needs a path and a place for the writer");
  *writer = NULL;
  PetscCall(PFInitializePackage());
  PetscCall(CheckLayout(comm, layout));
  PetscCall(PFCheckWritable(comm, path));
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));

  PetscCall(PetscNew(&w));
  w->comm     = comm;
  w->fid      = -1;
  w->dxpl     = -1;
  w->cdset    = -1;
  w->nsamples = layout->nsamples;
  w->nvert    = layout->nvert;
  w->nfields  = layout->nfields;
  w->nparams  = layout->nparams;
  w->scratch  = layout->scratch;
  PetscCallMPI(MPI_Comm_rank(comm, &w->rank));
  PetscCall(PetscStrncpy(w->path, path, sizeof(w->path)));
  PetscCall(PetscSNPrintf(w->partial, sizeof(w->partial), "%s.partial", path));
  PetscCall(PetscCalloc1(w->nfields, &w->fields));
  for (PetscInt f = 0; f < w->nfields; f++) PetscCall(PetscStrallocpy(layout->fields[f], &w->fields[f]));
  PetscCall(PetscCalloc1(w->nparams + 1, &w->params));
  for (PetscInt p = 0; p < w->nparams; p++) PetscCall(PetscStrallocpy(layout->params[p], &w->params[p]));
  PetscCall(PetscMalloc2(w->nfields, &w->fdset, w->nparams + 1, &w->pdset));
  for (PetscInt f = 0; f < w->nfields; f++) w->fdset[f] = -1;
  for (PetscInt p = 0; p < w->nparams; p++) w->pdset[p] = -1;
  PetscCall(PetscMalloc1(w->nsamples, &w->done));
  PetscCall(PetscCalloc1(w->nsamples, &done8));

  PFRootTry(w->rank, ierr, PlanOnRoot(w->path, w->partial, layout, coords, cells, resume, &mode, done8));
  PetscCall(RootErrorShare(comm, ierr, &e));
  if (e.code) {
    /* a rejected resume is an ordinary outcome (the caller may retry with other options): leave nothing behind */
    PetscCall(PetscFree(done8));
    PetscCall(WriterFree(&w));
    SETERRQ(comm, e.code, "%s", e.msg);
  }
  PetscCallMPI(MPI_Bcast(&mode, 1, MPI_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(done8, (PetscMPIInt)w->nsamples, MPI_UNSIGNED_CHAR, 0, comm));
  for (PetscInt i = 0; i < w->nsamples; i++) {
    w->done[i] = done8[i] ? PETSC_TRUE : PETSC_FALSE;
    w->ndone += done8[i] ? 1 : 0;
  }
  PetscCall(PetscFree(done8));

  if (mode == PF_DS_FRESH) PetscCall(CreateFile(w, layout, coords, cells));
  if (mode == PF_DS_FINISHED) w->finished = PETSC_TRUE;
  else PetscCall(OpenFile(w));
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  *writer = w;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDatasetWriterGetCompleted(PFDatasetWriter w, const PetscBool **done, PetscInt *ndone)
{
  PetscFunctionBegin;
  PetscCheck(w, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFDatasetWriter is NULL (closed already?)");
  if (done) *done = w->done;
  if (ndone) *ndone = w->ndone;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * Writing rows */

/* Selects the sorted rows of a [nsamples] or [nsamples, ncols] dataspace.
 * HDF5 walks a selection in file order whatever order it was built in, which
 * is why rows are sorted first; runs of consecutive samples become one block,
 * so a rank writing a contiguous range selects a single hyperslab. */
static herr_t SelectRows(hid_t space, PetscInt n, const PetscInt rows[], hsize_t ncols)
{
  H5S_seloper_t op = H5S_SELECT_SET;

  if (n == 0) return H5Sselect_none(space);
  for (PetscInt i = 0, j; i < n; i = j) {
    hsize_t start[2], count[2];
    for (j = i + 1; j < n && rows[j] == rows[j - 1] + 1; j++) { }
    start[0] = (hsize_t)rows[i], start[1] = 0;
    count[0] = (hsize_t)(j - i), count[1] = ncols;
    if (H5Sselect_hyperslab(space, op, start, NULL, count, NULL) < 0) return -1;
    op = H5S_SELECT_OR;
  }
  return 0;
}

/* Collective write of the rows (sorted) of one dataset from buf (rows in the same order) */
static PetscBool WriteSelected(hid_t dset, hid_t dxpl, hid_t memtype, PetscInt n, const PetscInt rows[], hsize_t ncols, const void *buf)
{
  hid_t   fspace = H5Dget_space(dset), mspace;
  hsize_t m      = n ? (hsize_t)n * ncols : 1;
  double  dummy  = 0;
  herr_t  st;

  mspace = H5Screate_simple(1, &m, NULL);
  /* a rank without rows still takes part, with an empty selection */
  if (!n) H5Sselect_none(mspace);
  st = SelectRows(fspace, n, rows, ncols);
  if (st >= 0) st = H5Dwrite(dset, memtype, mspace, fspace, dxpl, n ? buf : (const void *)&dummy);
  H5Sclose(mspace);
  H5Sclose(fspace);
  return st >= 0 ? PETSC_TRUE : PETSC_FALSE;
}

PetscErrorCode PFDatasetWriterWriteRows(PFDatasetWriter w, PetscInt nrows, const PetscInt *idx, const double *const *values, const double *const *params)
{
  PetscMPIInt    size, n, *counts, *displs;
  PetscInt       total = 0, *all, *sorted, *rows, *perm, none = -1;
  PetscBool      args_ok, inorder = PETSC_TRUE, ok = PETSC_TRUE, allok;
  double        *buf = NULL;
  unsigned char *ones;
  int            bad = -1;

  PetscFunctionBegin;
  PetscCheck(w, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFDatasetWriter is NULL (closed already?)");
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  PetscCallMPI(MPI_Comm_size(w->comm, &size));
  /* every check below is made on gathered data, so all ranks raise the same error */
  args_ok = (PetscBool)(nrows >= 0 && nrows < PETSC_MPI_INT_MAX && (nrows == 0 || (idx && values && (w->nparams == 0 || params))));
  for (PetscInt f = 0; args_ok && nrows > 0 && f < w->nfields; f++) args_ok = (PetscBool)(values[f] != NULL);
  for (PetscInt p = 0; args_ok && nrows > 0 && p < w->nparams; p++) args_ok = (PetscBool)(params[p] != NULL);
  n = args_ok ? (PetscMPIInt)nrows : -1;
  PetscCall(PetscMalloc2(size, &counts, size + 1, &displs));
  PetscCallMPI(MPI_Allgather(&n, 1, MPI_INT, counts, 1, MPI_INT, w->comm));
  displs[0] = 0;
  for (PetscMPIInt r = 0; r < size; r++) {
    if (counts[r] < 0 && bad < 0) bad = r;
    displs[r + 1] = displs[r] + PetscMax(counts[r], 0);
  }
  PetscCheck(bad < 0, w->comm, PETSC_ERR_ARG_WRONG, "PFDatasetWriterWriteRows on '%s': rank %d passed nrows < 0, or nrows > 0 with NULL idx, values or params", w->path, bad);
  total = displs[size];
  PetscCall(PetscMalloc2(total + 1, &all, total + 1, &sorted));
  PetscCallMPI(MPI_Allgatherv(n > 0 ? idx : &none, n, MPIU_INT, all, counts, displs, MPIU_INT, w->comm));
  PetscCall(PetscArraycpy(sorted, all, total));
  PetscCall(PetscSortInt(total, sorted));
  PetscCheck(total == 0 || (sorted[0] >= 0 && sorted[total - 1] < w->nsamples), w->comm, PETSC_ERR_ARG_OUTOFRANGE, "PFDatasetWriterWriteRows on '%s': sample index %" PetscInt_FMT " is outside 0..%" PetscInt_FMT, w->path, sorted[0] < 0 ? sorted[0] : sorted[total - 1], w->nsamples - 1);
  for (PetscInt i = 1; i < total; i++) PetscCheck(sorted[i] != sorted[i - 1], w->comm, PETSC_ERR_ARG_WRONG, "PFDatasetWriterWriteRows on '%s': sample %" PetscInt_FMT " is written twice in one round; each sample must come from one rank once", w->path, sorted[i]);
  PetscCheck(!w->finished || total == 0, w->comm, PETSC_ERR_ARG_WRONGSTATE, "'%s' was already complete when the writer was created (resume found nothing to do); ask PFDatasetWriterGetCompleted before writing", w->path);
  if (w->finished) {
    PetscCall(PetscFree2(all, sorted));
    PetscCall(PetscFree2(counts, displs));
    PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /* this rank's rows in increasing sample order, and its data permuted to match */
  PetscCall(PetscMalloc3(nrows + 1, &rows, nrows + 1, &perm, nrows + 1, &ones));
  for (PetscInt r = 0; r < nrows; r++) perm[r] = r, ones[r] = 1;
  for (PetscInt r = 1; r < nrows; r++) inorder = (PetscBool)(inorder && idx[r] > idx[r - 1]);
  if (!inorder) PetscCall(PetscSortIntWithPermutation(nrows, idx, perm));
  for (PetscInt r = 0; r < nrows; r++) rows[r] = idx[perm[r]];
  if (!inorder) PetscCall(PetscMalloc1((size_t)nrows * (size_t)w->nvert, &buf));

  for (PetscInt f = 0; f < w->nfields; f++) {
    const double *src = nrows ? values[f] : NULL;
    if (!inorder) {
      for (PetscInt r = 0; r < nrows; r++) PetscCall(PetscArraycpy(buf + (size_t)r * w->nvert, values[f] + (size_t)perm[r] * w->nvert, w->nvert));
      src = buf;
    }
    ok &= WriteSelected(w->fdset[f], w->dxpl, H5T_NATIVE_DOUBLE, nrows, rows, (hsize_t)w->nvert, src);
  }
  for (PetscInt p = 0; p < w->nparams; p++) {
    const double *src = nrows ? params[p] : NULL;
    if (!inorder) {
      for (PetscInt r = 0; r < nrows; r++) buf[r] = params[p][perm[r]];
      src = buf;
    }
    ok &= WriteSelected(w->pdset[p], w->dxpl, H5T_NATIVE_DOUBLE, nrows, rows, 1, src);
  }
  /* the data must be on disk before any of these rows is marked complete */
  ok &= (PetscBool)(H5Fflush(w->fid, H5F_SCOPE_GLOBAL) >= 0);
  PetscCall(AllOK(w->comm, ok, &allok));
  PetscCheck(allok, w->comm, PETSC_ERR_FILE_WRITE, "writing samples to '%s' failed (disk full or quota?); they were not marked complete, so a rerun with -resume redoes them", w->partial);
  ok = WriteSelected(w->cdset, w->dxpl, H5T_NATIVE_UCHAR, nrows, rows, 1, ones);
  ok &= (PetscBool)(H5Fflush(w->fid, H5F_SCOPE_GLOBAL) >= 0);
  PetscCall(AllOK(w->comm, ok, &allok));
  PetscCheck(allok, w->comm, PETSC_ERR_FILE_WRITE, "marking samples complete in '%s' failed (disk full or quota?); a rerun with -resume redoes them", w->partial);

  for (PetscInt i = 0; i < total; i++) {
    if (!w->done[all[i]]) w->ndone++;
    w->done[all[i]] = PETSC_TRUE;
  }
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree3(rows, perm, ones));
  PetscCall(PetscFree2(all, sorted));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * Attributes */
PetscErrorCode PFDatasetWriterSetAttrString(PFDatasetWriter w, const char name[], const char value[])
{
  PetscFunctionBegin;
  PetscCheck(w, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFDatasetWriter is NULL (closed already?)");
  if (w->finished) PetscFunctionReturn(PETSC_SUCCESS);
  /* attribute creation is collective metadata: every rank, same value */
  PetscCall(PFH5WriteAttrString(w->fid, name, value));
  /* on disk now, so that the metadata are not rewritten during a later row write */
  PetscCheck(H5Fflush(w->fid, H5F_SCOPE_GLOBAL) >= 0, w->comm, PETSC_ERR_FILE_WRITE, "cannot flush '%s' after setting attribute '%s'", w->partial, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDatasetWriterSetAttrReal(PFDatasetWriter w, const char name[], double value)
{
  PetscFunctionBegin;
  PetscCheck(w, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFDatasetWriter is NULL (closed already?)");
  if (w->finished) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PFH5WriteAttrReal(w->fid, name, value));
  PetscCheck(H5Fflush(w->fid, H5F_SCOPE_GLOBAL) >= 0, w->comm, PETSC_ERR_FILE_WRITE, "cannot flush '%s' after setting attribute '%s'", w->partial, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * Closing */
static PetscErrorCode XMFName(const char path[], char xmf[], size_t len)
{
  size_t n;

  PetscFunctionBegin;
  PetscCall(PetscStrlen(path, &n));
  if (n > 3 && !strcmp(path + n - 3, ".h5")) PetscCall(PetscSNPrintf(xmf, len, "%.*s.xmf", (int)(n - 3), path));
  else PetscCall(PetscSNPrintf(xmf, len, "%s.xmf", path));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode FinishOnRoot(PFDatasetWriter w)
{
  char xmf[PETSC_MAX_PATH_LEN + 8];

  PetscFunctionBegin;
  if (!w->finished) PetscCall(PFSyncRename(w->partial, w->path, (PetscBool)!w->scratch));
  if (w->scratch) PetscFunctionReturn(PETSC_SUCCESS);
  /* also when resume found the file complete: a kill between the rename and
   * the XDMF must not leave a dataset without its XDMF */
  PetscCall(XMFName(w->path, xmf, sizeof(xmf)));
  PetscCall(PFWriteXDMF(w->path, xmf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDatasetWriterClose(PFDatasetWriter *writer, PetscBool *complete)
{
  PFDatasetWriter w;
  PetscBool       ok = PETSC_TRUE, all, full;
  PetscErrorCode  ierr;
  PFRootError     e;

  PetscFunctionBegin;
  if (complete) *complete = PETSC_FALSE;
  if (!writer || !*writer) PetscFunctionReturn(PETSC_SUCCESS);
  w = *writer;
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  full = (PetscBool)(w->ndone == w->nsamples);
  if (!w->finished) {
    for (PetscInt f = 0; f < w->nfields; f++) H5Dclose(w->fdset[f]);
    for (PetscInt p = 0; p < w->nparams; p++) H5Dclose(w->pdset[p]);
    H5Dclose(w->cdset);
    H5Pclose(w->dxpl);
    ok = (PetscBool)(H5Fclose(w->fid) >= 0);
    w->fid = -1;
    PetscCall(AllOK(w->comm, ok, &all));
    PetscCheck(all, w->comm, PETSC_ERR_FILE_WRITE, "closing '%s' failed (disk full or quota?); the samples marked complete are safe, rerun with -resume", w->partial);
  }
  if (full) {
    PFRootTry(w->rank, ierr, FinishOnRoot(w));
    PetscCall(RootErrorShare(w->comm, ierr, &e));
    PetscCheck(!e.code, w->comm, e.code, "%s", e.msg);
  }
  PetscCall(WriterFree(writer));
  if (complete) *complete = full;
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------------------------
 * XDMF */

/* names may contain characters that are markup in XML */
static void PutEscaped(FILE *fp, const char s[])
{
  for (; *s; s++) {
    switch (*s) {
    case '&':
      fputs("&amp;", fp);
      break;
    case '<':
      fputs("&lt;", fp);
      break;
    case '>':
      fputs("&gt;", fp);
      break;
    case '"':
      fputs("&quot;", fp);
      break;
    default:
      fputc(*s, fp);
    }
  }
}

static const char *XdmfNumberType(H5T_class_t cls)
{
  return cls == H5T_FLOAT ? "Float" : "Int";
}

static PetscErrorCode WriteXDMFFromFile(hid_t fid, const char h5path[], const char xmfpath[])
{
  int          rank;
  hsize_t      cd[2], kd[2], fd[2], nsamples = 0;
  H5T_class_t  ccls, kcls, fcls;
  size_t       csize, ksize, fsize;
  PetscInt     nf;
  char       **fields, name[PF_DS_NAME_LEN], tmp[PETSC_MAX_PATH_LEN + 32];
  const char  *base, *topo;
  FILE        *fp;
  PetscBool    fail;

  PetscFunctionBegin;
  PetscCall(DatasetShape(fid, "coords", &rank, cd, &ccls, &csize));
  PetscCheck(rank == 2 && (cd[1] == 2 || cd[1] == 3) && ccls == H5T_FLOAT, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /coords [nvert, 2 or 3] of floats, so it cannot be described in XDMF", h5path);
  PetscCall(DatasetShape(fid, "cells", &rank, kd, &kcls, &ksize));
  PetscCheck(rank == 2 && kcls == H5T_INTEGER, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /cells [ncells, nvpc] of integers, so it cannot be described in XDMF", h5path);
  if (kd[1] == 3) topo = "Triangle";
  else if (kd[1] == 4) topo = cd[1] == 2 ? "Quadrilateral" : "Tetrahedron";
  else if (kd[1] == 8 && cd[1] == 3) topo = "Hexahedron";
  else SETERRQ(PETSC_COMM_SELF, PETSC_ERR_SUP, "'%s': cells of %llu vertices in %llu-D have no XDMF topology here (3, 4, or 8 in 3-D)", h5path, (unsigned long long)kd[1], (unsigned long long)cd[1]);
  PetscCall(GroupMembers(fid, "fields", &nf, &fields));
  PetscCheck(nf > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /fields/<name> datasets to show", h5path);
  for (PetscInt f = 0; f < nf; f++) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "fields/%s", fields[f]));
    PetscCall(DatasetShape(fid, name, &rank, fd, &fcls, &fsize));
    if (f == 0) nsamples = fd[0];
    PetscCheck(rank == 2 && fd[1] == cd[0] && fd[0] == nsamples && fd[0] > 0 && fcls == H5T_FLOAT, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': /%s should be [nsamples, %llu] floats like the other fields", h5path, name, (unsigned long long)cd[0]);
  }
  base = strrchr(h5path, '/');
  base = base ? base + 1 : h5path;

  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp.%d", xmfpath, (int)getpid()));
  fp = fopen(tmp, "w");
  if (!fp) PetscCall(FreeNames(nf, &fields));
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create '%s': %s", tmp, strerror(errno));
  fprintf(fp, "<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n");
  /* ParaView offers three readers for .xmf; only one of them reads hyperslabs */
  fprintf(fp, "<!-- ParaView: open with \"XDMF Reader\" (pvpython: XDMFReader(FileNames=[...])); its Xdmf3 readers (5.11) show no fields for HyperSlab items -->\n");
  fprintf(fp, "<Xdmf Version=\"2.0\">\n  <Domain>\n");
  fprintf(fp, "    <Grid Name=\"samples\" GridType=\"Collection\" CollectionType=\"Temporal\">\n");
  for (hsize_t i = 0; i < nsamples; i++) {
    fprintf(fp, "      <Grid Name=\"sample_%llu\" GridType=\"Uniform\">\n        <Time Value=\"%llu\"/>\n", (unsigned long long)i, (unsigned long long)i);
    fprintf(fp, "        <Topology TopologyType=\"%s\" NumberOfElements=\"%llu\" NodesPerElement=\"%llu\">\n", topo, (unsigned long long)kd[0], (unsigned long long)kd[1]);
    fprintf(fp, "          <DataItem Dimensions=\"%llu %llu\" NumberType=\"%s\" Precision=\"%zu\" Format=\"HDF\">", (unsigned long long)kd[0], (unsigned long long)kd[1], XdmfNumberType(kcls), ksize);
    PutEscaped(fp, base);
    fprintf(fp, ":/cells</DataItem>\n        </Topology>\n");
    fprintf(fp, "        <Geometry GeometryType=\"%s\">\n", cd[1] == 2 ? "XY" : "XYZ");
    fprintf(fp, "          <DataItem Dimensions=\"%llu %llu\" NumberType=\"Float\" Precision=\"%zu\" Format=\"HDF\">", (unsigned long long)cd[0], (unsigned long long)cd[1], csize);
    PutEscaped(fp, base);
    fprintf(fp, ":/coords</DataItem>\n        </Geometry>\n");
    for (PetscInt f = 0; f < nf; f++) {
      fprintf(fp, "        <Attribute Name=\"");
      PutEscaped(fp, fields[f]);
      fprintf(fp, "\" AttributeType=\"Scalar\" Center=\"Node\">\n");
      /* row i of /fields/<name>: start (i, 0), stride (1, 1), count (1, nvert) */
      fprintf(fp, "          <DataItem ItemType=\"HyperSlab\" Dimensions=\"%llu\">\n", (unsigned long long)cd[0]);
      fprintf(fp, "            <DataItem Dimensions=\"3 2\" Format=\"XML\">%llu 0 1 1 1 %llu</DataItem>\n", (unsigned long long)i, (unsigned long long)cd[0]);
      fprintf(fp, "            <DataItem Dimensions=\"%llu %llu\" NumberType=\"Float\" Precision=\"%zu\" Format=\"HDF\">", (unsigned long long)nsamples, (unsigned long long)cd[0], fsize);
      PutEscaped(fp, base);
      fprintf(fp, ":/fields/");
      PutEscaped(fp, fields[f]);
      fprintf(fp, "</DataItem>\n          </DataItem>\n        </Attribute>\n");
    }
    fprintf(fp, "      </Grid>\n");
  }
  fprintf(fp, "    </Grid>\n  </Domain>\n</Xdmf>\n");
  fail = (PetscBool)(ferror(fp) != 0);
  fail = (PetscBool)((fclose(fp) != 0) || fail);
  PetscCall(FreeNames(nf, &fields));
  if (fail) (void)unlink(tmp);
  PetscCheck(!fail, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "writing '%s' failed (disk full?)", tmp);
  PetscCheck(rename(tmp, xmfpath) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename '%s' to '%s': %s", tmp, xmfpath, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFWriteXDMF(const char h5path[], const char xmfpath[])
{
  hid_t          fapl, fid;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PFH5Initialize());
  PetscCheck(H5Fis_hdf5(h5path) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot describe '%s' in XDMF: no such HDF5 file", h5path);
  fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  fid = H5Fopen(h5path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s' (corrupt?)", h5path);
  ierr = WriteXDMFFromFile(fid, h5path, xmfpath);
  H5Fclose(fid);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}
