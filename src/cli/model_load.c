#include "cli.h"

PetscErrorCode PFCLILoadModel(MPI_Comm comm, const char path[], PetscBool use_ema, PFNet *net, PFFlow *flow)
{
  hid_t fid;

  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  PetscCall(PFH5OpenRead(path, &fid));
  PetscCall(PFH5CheckKind(fid, path, "model"));
  PetscCall(PFNetCreateFromH5(comm, fid, path, use_ema ? "ema" : "params", net));
  PetscCall(PFFlowCreateFromH5(comm, fid, path, flow));
  PetscCall(PFH5Close(&fid));
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIModelSamplerDefaults(MPI_Comm comm, const char path[], PFSampler sampler)
{
  char        type[16] = "";
  PetscInt    steps    = 0;
  PetscMPIInt rank;
  PetscBool   set;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && H5Fis_hdf5(path) > 0) {
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid >= 0) {
      if (H5Lexists(fid, "sampler", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(fid, "sampler", H5P_DEFAULT);
        /* a malformed record is ignored: the options' sampler stays */
        if (H5Aexists(g, "type") <= 0 || H5Aexists(g, "steps") <= 0 || PFH5ReadAttrString(g, "type", type, sizeof(type)) || PFH5ReadAttrInt(g, "steps", &steps)) steps = 0;
        H5Gclose(g);
      }
      H5Fclose(fid);
    }
  }
  PetscCallMPI(MPI_Bcast(type, sizeof(type), MPI_CHAR, 0, comm));
  PetscCallMPI(MPI_Bcast(&steps, 1, MPIU_INT, 0, comm));
  if (steps <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscOptionsHasName(NULL, NULL, "-sampler", &set));
  if (!set) PetscCall(PFSamplerSetType(sampler, type));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-sampler_steps", &set));
  if (!set) PetscCall(PFSamplerSetSteps(sampler, steps));
  PetscCall(PetscInfo(NULL, "'%s' is meant for %s with %" PetscInt_FMT " steps\n", path, type, steps));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* FNV-1a over the bytes of a parameter array: identifies the network a
 * samples file came from (the teacher's pairs cache) */
void PFCLIParamsHash(size_t n, const pfreal *p, char hex[17])
{
  const unsigned char *b = (const unsigned char *)p;
  uint64_t             h = 1469598103934665603ULL;
  for (size_t i = 0; i < n * sizeof(pfreal); i++) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  snprintf(hex, 17, "%016llx", (unsigned long long)h);
}

PetscErrorCode PFCLIModelParamsHash(MPI_Comm comm, const char path[], PetscBool use_ema, char hex[17])
{
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  hex[0] = 0;
  if (rank == 0) {
    hid_t    fid, g;
    PetscInt np;
    pfreal  *p;
    PetscCall(PFH5OpenRead(path, &fid));
    g = H5Gopen2(fid, "arch", H5P_DEFAULT);
    PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no network (group /arch missing)", path);
    PetscCall(PFH5ReadAttrInt(g, "nparams", &np));
    H5Gclose(g);
    PetscCall(PetscMalloc1(np + 1, &p));
    PetscCall(PFH5ReadArray(fid, path, use_ema ? "ema" : "params", H5T_NATIVE_PFREAL, (size_t)np, p));
    PetscCall(PFH5Close(&fid));
    PFCLIParamsHash((size_t)np, p, hex);
    PetscCall(PetscFree(p));
  }
  PetscCallMPI(MPI_Bcast(hex, 17, MPI_CHAR, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
