#include <math.h>
#include <physflow/h5util.h>
#include <physflow/meshdata.h>

PetscErrorCode PFMeshDataOpen(const char path[], PFMeshData *md)
{
  hsize_t   dims[2];
  PetscBool has;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(md, sizeof(*md)));
  PetscCall(PetscStrncpy(md->path, path, sizeof(md->path)));
  PetscCall(PFH5OpenRead(path, &md->fid));
  PetscCall(PFH5HasDataset(md->fid, "coords", &has));
  PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no mesh fields (no /coords): not a PDE dataset or samples file", path);
  PetscCall(PFH5GetDims(md->fid, path, "coords", 2, dims));
  md->nvert = (PetscInt)dims[0];
  PetscCall(PFH5HasAttr(md->fid, "mesh", &has));
  if (has) PetscCall(PFH5ReadAttrString(md->fid, "mesh", md->mesh, sizeof(md->mesh)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshDataHasField(PFMeshData *md, const char field[], PetscBool *has)
{
  char name[256];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(name, sizeof(name), "fields/%s", field));
  PetscCall(PFH5HasDataset(md->fid, name, has));
  if (*has) {
    hsize_t dims[2];
    PetscCall(PFH5GetDims(md->fid, md->path, name, 2, dims));
    PetscCheck((PetscInt)dims[1] == md->nvert, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': /%s has %llu values per sample but the mesh has %" PetscInt_FMT " vertices", md->path, name, (unsigned long long)dims[1], md->nvert);
    md->nsamples = (PetscInt)dims[0];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshDataReadRows(PFMeshData *md, const char field[], PetscInt i0, PetscInt n, double *buf)
{
  char      name[256];
  hid_t     dset, fspace, mspace;
  hsize_t   start[2] = {(hsize_t)i0, 0}, count[2] = {(hsize_t)n, (hsize_t)md->nvert};
  PetscBool has;

  PetscFunctionBegin;
  PetscCall(PFMeshDataHasField(md, field, &has));
  PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no field '%s'", md->path, field);
  PetscCheck(i0 >= 0 && i0 + n <= md->nsamples, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "'%s': samples %" PetscInt_FMT "..%" PetscInt_FMT " out of range (%" PetscInt_FMT " samples)", md->path, i0, i0 + n - 1, md->nsamples);
  PetscCall(PetscSNPrintf(name, sizeof(name), "fields/%s", field));
  dset   = H5Dopen2(md->fid, name, H5P_DEFAULT);
  fspace = H5Dget_space(dset);
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  mspace = H5Screate_simple(2, count, NULL);
  PetscCheck(H5Dread(dset, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, buf) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "'%s': cannot read /%s (corrupt file?)", md->path, name);
  H5Sclose(mspace);
  H5Sclose(fspace);
  H5Dclose(dset);
  for (PetscInt k = 0; k < n * md->nvert; k++) PetscCheck(isfinite(buf[k]), PETSC_COMM_SELF, PETSC_ERR_FP, "'%s': field %s of sample %" PetscInt_FMT " contains NaN/Inf (unfinished datagen, or a diverged model?)", md->path, field, i0 + k / md->nvert);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshDataReadCoords(PFMeshData *md, double *coords)
{
  PetscFunctionBegin;
  PetscCall(PFH5ReadArray(md->fid, md->path, "coords", H5T_NATIVE_DOUBLE, (size_t)md->nvert * 2, coords));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshDataClose(PFMeshData *md)
{
  PetscFunctionBegin;
  PetscCall(PFH5Close(&md->fid));
  PetscFunctionReturn(PETSC_SUCCESS);
}
