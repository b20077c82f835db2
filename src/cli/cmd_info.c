#include <string.h>
#include "cli.h"

static herr_t PrintAttr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *ctx)
{
  hid_t       attr = H5Aopen(loc, name, H5P_DEFAULT), type = H5Aget_type(attr);
  const char *indent = (const char *)ctx;
  (void)ainfo;
  if (!strcmp(name, "options")) {
    /* long; printed last by the caller */
  } else if (H5Tget_class(type) == H5T_STRING) {
    char buf[512] = "";
    if (PFH5ReadAttrString(loc, name, buf, sizeof(buf)) == PETSC_SUCCESS) printf("%s%s = %s\n", indent, name, buf);
  } else if (H5Tget_class(type) == H5T_INTEGER) {
    long long v = 0;
    H5Aread(attr, H5T_NATIVE_LLONG, &v);
    printf("%s%s = %lld\n", indent, name, v);
  } else if (H5Tget_class(type) == H5T_FLOAT) {
    double v = 0;
    H5Aread(attr, H5T_NATIVE_DOUBLE, &v);
    printf("%s%s = %g\n", indent, name, v);
  }
  H5Tclose(type);
  H5Aclose(attr);
  return 0;
}

static herr_t PrintObject(hid_t loc, const char *name, const H5O_info_t *info, void *ctx)
{
  (void)ctx;
  if (!strcmp(name, ".")) return 0;
  if (info->type == H5O_TYPE_DATASET) {
    hid_t   d = H5Dopen2(loc, name, H5P_DEFAULT), s = H5Dget_space(d);
    hsize_t dims[8];
    int     r = H5Sget_simple_extent_dims(s, dims, NULL);
    printf("  /%s [", name);
    for (int i = 0; i < r; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    printf("]\n");
    H5Sclose(s);
    H5Dclose(d);
  } else if (info->type == H5O_TYPE_GROUP) {
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    printf("  /%s/\n", name);
    H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, NULL, PrintAttr, (void *)"      ");
    H5Gclose(g);
  }
  return 0;
}

/* physflow info FILE: what is in any physflow HDF5 file */
PetscErrorCode PFCommandInfo(MPI_Comm comm)
{
  char        file[PETSC_MAX_PATH_LEN] = "";
  PetscBool   help, has_file;
  PetscMPIInt rank;
  int         argc;
  char      **args;

  PetscFunctionBegin;
  /* the file may be given as the first positional argument */
  PetscCall(PetscGetArgs(&argc, &args));
  if (argc > 1 && args[1][0] != '-') PetscCall(PetscStrncpy(file, args[1], sizeof(file)));
  PetscOptionsBegin(comm, NULL, "physflow info FILE: describe a physflow HDF5 file", "info");
  PetscCall(PetscOptionsString("-file", "File to describe (or give it as the first argument)", "info", file, file, sizeof(file), &has_file));
  PetscOptionsEnd();
  PetscCall(PFCLIOptionsDone(comm, "info", &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(file[0], comm, PETSC_ERR_ARG_WRONG, "usage: physflow info FILE");
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    hid_t     fid;
    PetscBool has;
    PetscCall(PFH5OpenRead(file, &fid));
    printf("%s:\n", file);
    H5Aiterate2(fid, H5_INDEX_NAME, H5_ITER_INC, NULL, PrintAttr, (void *)"  ");
    H5Ovisit2(fid, H5_INDEX_NAME, H5_ITER_INC, PrintObject, NULL, H5O_INFO_BASIC);
    PetscCall(PFH5HasDataset(fid, "history/loss", &has));
    if (has) {
      hsize_t dims[1];
      PetscCall(PFH5GetDims(fid, file, "history/loss", 1, dims));
      if (dims[0] > 0) {
        double *loss;
        PetscCall(PetscMalloc1(dims[0], &loss));
        PetscCall(PFH5ReadArray(fid, file, "history/loss", H5T_NATIVE_DOUBLE, dims[0], loss));
        printf("  training: %llu steps, first loss %.5f, last loss %.5f\n", (unsigned long long)dims[0], loss[0], loss[dims[0] - 1]);
        PetscCall(PetscFree(loss));
      }
    }
    PetscCall(PFH5HasAttr(fid, "options", &has));
    if (has) {
      char opts[8192];
      if (PFH5ReadAttrString(fid, "options", opts, sizeof(opts)) == PETSC_SUCCESS) printf("  options: %s\n", opts);
    }
    PetscCall(PFH5Close(&fid));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
