#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>
#include <physflow/h5util.h>
#include <physflow/log.h>

PetscErrorCode PFH5Initialize(void)
{
  PetscFunctionBegin;
  /* physflow reports HDF5 failures itself, in one line; HDF5's stack dumps
   * would bury that line */
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5OpenRead(const char path[], hid_t *fid)
{
  PetscBool exists;

  PetscFunctionBegin;
  PetscCall(PetscTestFile(path, 'r', &exists));
  PetscCheck(exists, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot read file '%s': no such file or not readable", path);
  htri_t is = H5Fis_hdf5(path);
  PetscCheck(is > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' is not an HDF5 file (or it is truncated/corrupt)", path);
  *fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  PetscCheck(*fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "cannot open HDF5 file '%s' (corrupt?)", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5Close(hid_t *fid)
{
  PetscFunctionBegin;
  if (*fid >= 0) H5Fclose(*fid);
  *fid = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCheckWritable(MPI_Comm comm, const char path[])
{
  char        dir[PETSC_MAX_PATH_LEN];
  PetscMPIInt rank;
  int         ok = 1;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    PetscCall(PetscStrncpy(dir, path, sizeof(dir)));
    ok = access(dirname(dir), W_OK) == 0;
    if (ok && access(path, F_OK) == 0) ok = access(path, W_OK) == 0;
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_WRITE, "cannot write output '%s': directory missing or not writable", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Temporaries left by killed writers (path.tmp.PID whose PID is gone) are
 * removed, so repeated preemptions do not litter the output directory. */
static void RemoveStaleTemps(const char path[])
{
  char   pattern[PETSC_MAX_PATH_LEN + 16];
  glob_t g;

  snprintf(pattern, sizeof(pattern), "%s.tmp.*", path);
  if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0) return;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *dot = strrchr(g.gl_pathv[i], '.');
    char       *end;
    long        pid = dot ? strtol(dot + 1, &end, 10) : 0;
    if (pid > 0 && *end == 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) (void)unlink(g.gl_pathv[i]);
  }
  globfree(&g);
}

PetscErrorCode PFH5CreateTemp(const char path[], PFH5Temp *t)
{
  PetscFunctionBegin;
  RemoveStaleTemps(path);
  PetscCall(PetscStrncpy(t->path, path, sizeof(t->path)));
  PetscCall(PetscSNPrintf(t->tmp, sizeof(t->tmp), "%s.tmp.%d", path, (int)getpid()));
  t->fid = H5Fcreate(t->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(t->fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create '%s' (is the directory writable?)", t->tmp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSyncRename(const char from[], const char to[], PetscBool sync)
{
  int  fd;
  char dir[PETSC_MAX_PATH_LEN];

  PetscFunctionBegin;
  /* the data must be on disk before the rename makes it visible, or a crash
   * could leave the new name pointing at an incomplete file */
  if (sync) {
    fd = open(from, O_RDONLY);
    PetscCheck(fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s' to sync it: %s", from, strerror(errno));
    (void)fsync(fd);
    close(fd);
  }
  PetscCheck(rename(from, to) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename '%s' to '%s': %s", from, to, strerror(errno));
  if (sync) {
    PetscCall(PetscStrncpy(dir, to, sizeof(dir)));
    fd = open(dirname(dir), O_RDONLY);
    if (fd >= 0) {
      (void)fsync(fd);
      close(fd);
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5CommitTemp(PFH5Temp *t)
{
  PetscFunctionBegin;
  PetscCheck(H5Fflush(t->fid, H5F_SCOPE_GLOBAL) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot flush '%s'", t->tmp);
  H5Fclose(t->fid);
  t->fid = -1;
  PetscCall(PFSyncRename(t->tmp, t->path, PETSC_TRUE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5AbortTemp(PFH5Temp *t)
{
  PetscFunctionBegin;
  if (t->fid >= 0) H5Fclose(t->fid);
  t->fid = -1;
  (void)unlink(t->tmp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5WriteAttrString(hid_t obj, const char name[], const char value[])
{
  hid_t type, space, attr;

  PetscFunctionBegin;
  type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, strlen(value) + 1);
  space = H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(attr >= 0 && H5Awrite(attr, type, value) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write attribute '%s'", name);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriteAttrScalar(hid_t obj, const char name[], hid_t type, const void *value)
{
  hid_t space, attr;

  PetscFunctionBegin;
  space = H5Screate(H5S_SCALAR);
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(attr >= 0 && H5Awrite(attr, type, value) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write attribute '%s'", name);
  H5Aclose(attr);
  H5Sclose(space);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5WriteAttrInt(hid_t obj, const char name[], PetscInt value)
{
  long long v = (long long)value;
  PetscFunctionBegin;
  PetscCall(WriteAttrScalar(obj, name, H5T_NATIVE_LLONG, &v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5WriteAttrReal(hid_t obj, const char name[], double value)
{
  PetscFunctionBegin;
  PetscCall(WriteAttrScalar(obj, name, H5T_NATIVE_DOUBLE, &value));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5HasAttr(hid_t obj, const char name[], PetscBool *has)
{
  PetscFunctionBegin;
  *has = H5Aexists(obj, name) > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5ReadAttrString(hid_t obj, const char name[], char value[], size_t len)
{
  hid_t  attr, type, mem;
  size_t sz;

  PetscFunctionBegin;
  PetscCheck(H5Aexists(obj, name) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "attribute '%s' is missing (not a physflow file, or from an incompatible version)", name);
  attr = H5Aopen(obj, name, H5P_DEFAULT);
  type = H5Aget_type(attr);
  PetscCheck(H5Tget_class(type) == H5T_STRING, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "attribute '%s' is not a string", name);
  if (H5Tis_variable_str(type)) {
    /* written by other tools (h5py's default): read through a char * */
    char *v = NULL;
    mem     = H5Tcopy(H5T_C_S1);
    H5Tset_size(mem, H5T_VARIABLE);
    H5Tset_cset(mem, H5Tget_cset(type)); /* h5py writes UTF-8 */
    PetscCheck(H5Aread(attr, mem, &v) >= 0 && v, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot read attribute '%s'", name);
    PetscCheck(strlen(v) < len, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "attribute '%s' is too long (%zu bytes)", name, strlen(v));
    PetscCall(PetscStrncpy(value, v, len));
    H5free_memory(v);
    H5Tclose(mem);
    H5Tclose(type);
    H5Aclose(attr);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  sz = H5Tget_size(type);
  PetscCheck(sz < len, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "attribute '%s' is too long (%zu bytes)", name, sz);
  mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, sz + 1);
  PetscCheck(H5Aread(attr, mem, value) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot read attribute '%s'", name);
  value[sz] = 0;
  H5Tclose(mem);
  H5Tclose(type);
  H5Aclose(attr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ReadAttrScalar(hid_t obj, const char name[], hid_t memtype, void *value)
{
  hid_t attr;

  PetscFunctionBegin;
  PetscCheck(H5Aexists(obj, name) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "attribute '%s' is missing (not a physflow file, or from an incompatible version)", name);
  attr = H5Aopen(obj, name, H5P_DEFAULT);
  PetscCheck(attr >= 0 && H5Aread(attr, memtype, value) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot read attribute '%s' as a number", name);
  H5Aclose(attr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5ReadAttrInt(hid_t obj, const char name[], PetscInt *value)
{
  long long v;
  PetscFunctionBegin;
  PetscCall(ReadAttrScalar(obj, name, H5T_NATIVE_LLONG, &v));
  *value = (PetscInt)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5ReadAttrReal(hid_t obj, const char name[], double *value)
{
  PetscFunctionBegin;
  PetscCall(ReadAttrScalar(obj, name, H5T_NATIVE_DOUBLE, value));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5WriteStandardAttrs(hid_t fid, const char kind[])
{
  char  *opts = NULL;

  PetscFunctionBegin;
  PetscCall(PFH5WriteAttrString(fid, "physflow_version", PF_VERSION));
  PetscCall(PFH5WriteAttrString(fid, "kind", kind));
  /* the whole options database, so the file says how it was made */
  PetscCall(PetscOptionsGetAll(NULL, &opts));
  PetscCall(PFH5WriteAttrString(fid, "options", opts ? opts : ""));
  PetscCall(PetscFree(opts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5CheckKind(hid_t fid, const char path[], const char kind[])
{
  char      got[64];
  PetscBool has, same;

  PetscFunctionBegin;
  PetscCall(PFH5HasAttr(fid, "kind", &has));
  PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' is not a physflow file (no 'kind' attribute)", path);
  PetscCall(PFH5ReadAttrString(fid, "kind", got, sizeof(got)));
  PetscCall(PetscStrcmp(got, kind, &same));
  PetscCheck(same, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' is a physflow '%s' file, expected a '%s' file", path, got, kind);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static hid_t EnsureParentGroups(hid_t fid, const char name[])
{
  char buf[256];
  size_t n = strlen(name);
  if (n >= sizeof(buf)) return -1;
  memcpy(buf, name, n + 1);
  for (size_t i = 1; i < n; i++) {
    if (buf[i] != '/') continue;
    buf[i] = 0;
    if (H5Lexists(fid, buf, H5P_DEFAULT) <= 0) {
      hid_t g = H5Gcreate2(fid, buf, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      if (g < 0) return -1;
      H5Gclose(g);
    }
    buf[i] = '/';
  }
  return 0;
}

PetscErrorCode PFH5WriteArray(hid_t fid, const char name[], hid_t memtype, hid_t filetype, int rank, const hsize_t dims[], const void *data)
{
  hid_t space, dset;

  PetscFunctionBegin;
  PetscCheck(EnsureParentGroups(fid, name) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create groups for '%s'", name);
  if (H5Lexists(fid, name, H5P_DEFAULT) > 0) H5Ldelete(fid, name, H5P_DEFAULT);
  space = H5Screate_simple(rank, dims, NULL);
  dset  = H5Dcreate2(fid, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(dset >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create dataset '%s'", name);
  PetscCheck(H5Dwrite(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write dataset '%s' (disk full?)", name);
  H5Dclose(dset);
  H5Sclose(space);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5HasDataset(hid_t fid, const char name[], PetscBool *has)
{
  PetscFunctionBegin;
  *has = PETSC_FALSE;
  /* H5Lexists needs each parent to exist; check component by component */
  char   buf[256];
  size_t n = strlen(name);
  PetscCheck(n < sizeof(buf), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "dataset name too long");
  memcpy(buf, name, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    if (H5Lexists(fid, buf, H5P_DEFAULT) <= 0) PetscFunctionReturn(PETSC_SUCCESS);
    buf[i] = c;
  }
  *has = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* open a dataset that must exist, and its dataspace */
static PetscErrorCode OpenDataset(hid_t fid, const char path[], const char name[], hid_t *dset, hid_t *space)
{
  PetscBool has;

  PetscFunctionBegin;
  PetscCall(PFH5HasDataset(fid, name, &has));
  PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no dataset '%s'", path, name);
  *dset  = H5Dopen2(fid, name, H5P_DEFAULT);
  *space = H5Dget_space(*dset);
  PetscCheck(*dset >= 0 && *space >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "'%s': cannot open dataset '%s' (corrupt file?)", path, name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5GetDims(hid_t fid, const char path[], const char name[], int rank, hsize_t dims[])
{
  hid_t dset = -1, space = -1;

  PetscFunctionBegin;
  PetscCall(OpenDataset(fid, path, name, &dset, &space));
  int r = H5Sget_simple_extent_ndims(space);
  PetscCheck(r == rank, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': dataset '%s' has rank %d, expected %d", path, name, r, rank);
  H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFH5ReadArray(hid_t fid, const char path[], const char name[], hid_t memtype, size_t count, void *data)
{
  hid_t dset = -1, space = -1;

  PetscFunctionBegin;
  PetscCall(OpenDataset(fid, path, name, &dset, &space));
  hssize_t n = H5Sget_simple_extent_npoints(space);
  PetscCheck((size_t)n == count, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': dataset '%s' has %lld values, expected %zu", path, name, (long long)n, count);
  PetscCheck(H5Dread(dset, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "'%s': cannot read dataset '%s' (corrupt file?)", path, name);
  H5Sclose(space);
  H5Dclose(dset);
  PetscFunctionReturn(PETSC_SUCCESS);
}
