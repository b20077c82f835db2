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
