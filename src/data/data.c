#include <math.h>
#include <physflow/data.h>
#include <physflow/meshdata.h>
#include <physflow/h5util.h>
#include <physflow/log.h>
#include <physflow/rng.h>

struct _p_PFData {
  /* mesh datasets: fields at the owned vertices of a distributed mesh */
  PetscBool  is_mesh;
  PFMeshData md;
  PetscInt   nfields, nown;
  char     (*fields)[64];
  char       physics[32]; /* the dataset's "physics" attribute, if any */
  PetscInt  *ownnat;
  double    *fmean, *fstd, *row;
  double    *pin;    /* [nfields, nvert] natural order: a vertex's value if
                        the same in every sample, else NaN (physical units) */
  PetscBool  pinned; /* a model of these data holds the pin values (/data/pinned) */
  PFDataConditioner cond; /* nchannels 0: none */
  MPI_Comm  comm;
  PetscBool is_toy;
  PFToyType toy;
  uint64_t  seed;
  char      path[PETSC_MAX_PATH_LEN];
  PetscInt  N, n;    /* samples in the file, values per sample */
  double   *values;  /* [N, n] */
  PetscInt *perm;    /* permutation of the current epoch */
  PetscInt  epoch;   /* epoch perm belongs to, -1 if none */
};

PetscErrorCode PFDataCreateToy(MPI_Comm comm, PFToyType type, uint64_t seed, PFData *data)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(data));
  (*data)->comm   = comm;
  (*data)->is_toy = PETSC_TRUE;
  (*data)->toy    = type;
  (*data)->seed   = seed;
  (*data)->n      = 2;
  (*data)->epoch  = -1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataCreateFromFile(MPI_Comm comm, const char path[], uint64_t seed, PFData *data)
{
  PetscFunctionBegin;
  PetscCall(PetscNew(data));
  (*data)->comm  = comm;
  (*data)->seed  = seed;
  (*data)->epoch = -1;
  PetscCall(PetscStrncpy((*data)->path, path, sizeof((*data)->path)));
  PetscCall(PFSamplesRead(path, &(*data)->N, &(*data)->n, &(*data)->values));
  for (PetscInt i = 0; i < (*data)->N * (*data)->n; i++)
    PetscCheck(isfinite((*data)->values[i]), comm, PETSC_ERR_FP, "'%s': sample %" PetscInt_FMT " contains NaN or Inf; clean the data first", path, i / (*data)->n);
  PetscCall(PetscMalloc1((*data)->N, &(*data)->perm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataCreateMesh(MPI_Comm comm, const char path[], PetscInt nfields, const char *const fields[], PetscInt nown, const PetscInt ownnat[], uint64_t seed, PFData *data)
{
  PFData d;

  PetscFunctionBegin;
  PetscCall(PetscNew(&d));
  d->comm    = comm;
  d->is_mesh = PETSC_TRUE;
  d->seed    = seed;
  d->epoch   = -1;
  d->nfields = nfields;
  d->nown    = nown;
  d->n       = nfields * nown;
  PetscCall(PetscStrncpy(d->path, path, sizeof(d->path)));
  PetscCall(PFMeshDataOpen(path, &d->md));
  if (H5Aexists(d->md.fid, "physics") > 0) PetscCall(PFH5ReadAttrString(d->md.fid, "physics", d->physics, sizeof(d->physics)));
  PetscCall(PetscMalloc5(nfields, &d->fields, nown + 1, &d->ownnat, nfields, &d->fmean, nfields, &d->fstd, d->md.nvert, &d->row));
  PetscCall(PetscArraycpy(d->ownnat, ownnat, nown));
  for (PetscInt f = 0; f < nfields; f++) {
    PetscBool has;
    PetscCall(PetscStrncpy(d->fields[f], fields[f], 64));
    PetscCall(PFMeshDataHasField(&d->md, fields[f], &has));
    PetscCheck(has, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no field '%s'", path, fields[f]);
  }
  d->N = d->md.nsamples;
  PetscCheck(d->N > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no samples", path);
  /* per-field normalisation over every sample and vertex (in double); the
   * model stores it so samples come back in physical units */
  PetscCall(PetscMalloc1((size_t)nfields * d->md.nvert + 1, &d->pin));
  for (PetscInt f = 0; f < nfields; f++) {
    double  s = 0, q = 0;
    double *pin = d->pin + (size_t)f * d->md.nvert;
    for (PetscInt i = 0; i < d->N; i++) {
      PetscCall(PFMeshDataReadRows(&d->md, fields[f], i, 1, d->row));
      for (PetscInt v = 0; v < d->md.nvert; v++) {
        s += d->row[v];
        q += d->row[v] * d->row[v];
        /* bitwise equal in every sample: values a solver imposes (Dirichlet
         * data) are computed the same way each time */
        if (i == 0) pin[v] = d->row[v];
        else if (pin[v] != d->row[v]) pin[v] = NAN;
      }
    }
    /* one sample says nothing about what varies */
    if (d->N < 2)
      for (PetscInt v = 0; v < d->md.nvert; v++) pin[v] = NAN;
    double cnt = (double)d->N * (double)d->md.nvert;
    d->fmean[f] = s / cnt;
    d->fstd[f]  = sqrt(PetscMax(q / cnt - d->fmean[f] * d->fmean[f], 0.0));
    PetscCheck(d->fstd[f] > 0, comm, PETSC_ERR_ARG_WRONG, "field '%s' of '%s' is constant: nothing to learn", fields[f], path);
  }
  PetscCall(PetscMalloc1(d->N, &d->perm));
  *data = d;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataSetNormalization(PFData data, const double mean[], const double std[])
{
  PetscFunctionBegin;
  PetscCheck(data->is_mesh, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "only mesh data have a per-field normalisation");
  for (PetscInt f = 0; f < data->nfields; f++) {
    PetscCheck(std[f] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "normalisation std of field %" PetscInt_FMT " must be positive", f);
    data->fmean[f] = mean[f];
    data->fstd[f]  = std[f];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataGetNormalization(PFData data, PetscInt *nfields, const double **mean, const double **std)
{
  PetscFunctionBegin;
  if (nfields) *nfields = data->is_mesh ? data->nfields : 0;
  if (mean) *mean = data->fmean;
  if (std) *std = data->fstd;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataGetConstantValues(PFData data, PetscInt *nvert, const double **values)
{
  PetscFunctionBegin;
  PetscCheck(data->is_mesh, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "only mesh data have vertex values");
  *nvert  = data->md.nvert;
  *values = data->pin;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataSetPinnedValues(PFData data, const double values[])
{
  PetscFunctionBegin;
  PetscCheck(data->is_mesh, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "only mesh data have vertex values");
  data->pinned = (PetscBool)(values != NULL);
  if (values && values != data->pin) PetscCall(PetscArraycpy(data->pin, values, (size_t)data->nfields * data->md.nvert));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataGetSampleSize(PFData data, PetscInt *n)
{
  PetscFunctionBegin;
  *n = data->n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataSetConditioner(PFData data, const PFDataConditioner *cond)
{
  PetscFunctionBegin;
  PetscCheck(data->is_mesh, data->comm, PETSC_ERR_ARG_WRONG, "conditioning channels need mesh data");
  PetscCheck(cond->nchannels == 0 || cond->fill, data->comm, PETSC_ERR_ARG_WRONG, "a conditioner with channels needs a fill function");
  data->cond = *cond;
  data->n    = (data->nfields + cond->nchannels) * data->nown;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fisher-Yates shuffle keyed by (seed, epoch): every rank builds the same one */
static PetscErrorCode SetEpoch(PFData data, PetscInt epoch)
{
  PFRNG r;

  PetscFunctionBegin;
  if (data->epoch == epoch) PetscFunctionReturn(PETSC_SUCCESS);
  for (PetscInt i = 0; i < data->N; i++) data->perm[i] = i;
  PFRNGInit(&r, data->seed, PF_RNG_SHUFFLE, (uint64_t)epoch, 0);
  for (PetscInt i = data->N - 1; i > 0; i--) {
    PetscInt j    = (PetscInt)PFRNGBelow(&r, (uint32_t)(i + 1));
    PetscInt s    = data->perm[i];
    data->perm[i] = data->perm[j];
    data->perm[j] = s;
  }
  data->epoch = epoch;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The file row of the c-th sample drawn (epochs of shuffled passes) */
static PetscErrorCode RowOfDraw(PFData data, uint64_t c, PetscInt *row)
{
  PetscFunctionBegin;
  PetscCall(SetEpoch(data, (PetscInt)(c / (uint64_t)data->N)));
  *row = data->perm[c % (uint64_t)data->N];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataGetBatchIndices(PFData data, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt rows[])
{
  PetscFunctionBegin;
  PetscCheck(!data->is_toy, data->comm, PETSC_ERR_ARG_WRONG, "a toy distribution has no file rows");
  for (PetscInt j = 0; j < nloc; j++) PetscCall(RowOfDraw(data, (uint64_t)step * (uint64_t)Bg + (uint64_t)(gidx0 + j), &rows[j]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataGetBatch(PFData data, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, pfreal *x1)
{
  PetscFunctionBegin;
  for (PetscInt j = 0; j < nloc; j++) {
    uint64_t c = (uint64_t)step * (uint64_t)Bg + (uint64_t)(gidx0 + j); /* samples drawn so far */
    if (data->is_mesh) {
      PetscInt idx;
      PetscCall(RowOfDraw(data, c, &idx));
      for (PetscInt f = 0; f < data->nfields; f++) {
        PetscCall(PFMeshDataReadRows(&data->md, data->fields[f], idx, 1, data->row));
        for (PetscInt i = 0; i < data->nown; i++) x1[j * data->n + f * data->nown + i] = (pfreal)((data->row[data->ownnat[i]] - data->fmean[f]) / data->fstd[f]);
      }
      if (data->cond.nchannels) PetscCall(data->cond.fill(data->cond.ctx, c, x1 + j * data->n, x1 + j * data->n + data->nfields * data->nown));
    } else if (data->is_toy) {
      double x[2];
      PFToySample(data->toy, data->seed, c, x);
      x1[j * 2]     = (pfreal)x[0];
      x1[j * 2 + 1] = (pfreal)x[1];
    } else {
      PetscInt idx;
      PetscCall(RowOfDraw(data, c, &idx));
      const double *src = data->values + idx * data->n;
      for (PetscInt d = 0; d < data->n; d++) x1[j * data->n + d] = (pfreal)src[d];
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataWriteH5(PFData data, hid_t fid)
{
  hid_t g;

  PetscFunctionBegin;
  g = H5Gcreate2(fid, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create group /data");
  PetscCall(PFH5WriteAttrString(g, "source", data->is_mesh ? "mesh" : data->is_toy ? "toy" : "file"));
  if (data->is_mesh) {
    char    list[1024] = "";
    hsize_t dims[1]    = {(hsize_t)data->nfields};
    for (PetscInt f = 0; f < data->nfields; f++) {
      PetscCall(PetscStrlcat(list, f ? "," : "", sizeof(list)));
      PetscCall(PetscStrlcat(list, data->fields[f], sizeof(list)));
    }
    PetscCall(PFH5WriteAttrString(g, "fields", list));
    PetscCall(PFH5WriteAttrString(g, "mesh", data->md.mesh));
    if (data->physics[0]) PetscCall(PFH5WriteAttrString(g, "physics", data->physics));
    if (data->cond.write) PetscCall(data->cond.write(data->cond.ctx, g));
    H5Gclose(g);
    PetscCall(PFH5WriteArray(fid, "data/mean", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dims, data->fmean));
    PetscCall(PFH5WriteArray(fid, "data/std", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dims, data->fstd));
    if (data->pinned) {
      hsize_t pdims[2] = {(hsize_t)data->nfields, (hsize_t)data->md.nvert};
      PetscCall(PFH5WriteArray(fid, "data/pinned", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, pdims, data->pin));
    }
    g = H5Gopen2(fid, "data", H5P_DEFAULT);
  }
  if (data->is_toy) PetscCall(PFH5WriteAttrString(g, "toy", PFToyTypes[data->toy]));
  else PetscCall(PFH5WriteAttrString(g, "file", data->path));
  PetscCall(PFH5WriteAttrInt(g, "sample_size", data->n));
  H5Gclose(g);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFDataDestroy(PFData *data)
{
  PetscFunctionBegin;
  if (!*data) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*data)->values));
  if ((*data)->is_mesh) {
    PetscCall(PFMeshDataClose(&(*data)->md));
    PetscCall(PetscFree5((*data)->fields, (*data)->ownnat, (*data)->fmean, (*data)->fstd, (*data)->row));
    PetscCall(PetscFree((*data)->pin));
  }
  PetscCall(PetscFree((*data)->perm));
  PetscCall(PetscFree(*data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplesWrite(MPI_Comm comm, const char path[], const char kind[], PetscInt n, PetscInt d, const double *x, PetscInt nfe)
{
  PetscMPIInt rank;
  PFH5Temp    t;
  hsize_t     dims[2] = {(hsize_t)n, (hsize_t)d};

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  if (rank == 0) {
    PetscCall(PFH5CreateTemp(path, &t));
    PetscCall(PFH5WriteStandardAttrs(t.fid, kind));
    if (nfe >= 0) PetscCall(PFH5WriteAttrInt(t.fid, "nfe", nfe));
    PetscCall(PFH5WriteArray(t.fid, "samples", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, dims, x));
    PetscCall(PFH5CommitTemp(&t));
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplesRead(const char path[], PetscInt *n, PetscInt *d, double **x)
{
  hid_t   fid;
  hsize_t dims[2];

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  PetscCall(PFH5OpenRead(path, &fid));
  PetscCall(PFH5GetDims(fid, path, "samples", 2, dims));
  PetscCheck(dims[0] > 0 && dims[1] > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': /samples is empty", path);
  *n = (PetscInt)dims[0];
  *d = (PetscInt)dims[1];
  PetscCall(PetscMalloc1(dims[0] * dims[1], x));
  PetscCall(PFH5ReadArray(fid, path, "samples", H5T_NATIVE_DOUBLE, dims[0] * dims[1], *x));
  PetscCall(PFH5Close(&fid));
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
