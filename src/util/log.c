#include <physflow/h5util.h>
#include <physflow/log.h>

PetscLogEvent PF_EVENT_Forward, PF_EVENT_Backward, PF_EVENT_Allreduce, PF_EVENT_IO, PF_EVENT_Solve, PF_EVENT_Optimizer, PF_EVENT_Sample, PF_EVENT_Refine, PF_EVENT_Laplace;
PetscClassId  PF_CLASSID;

static PetscBool pf_package_initialized = PETSC_FALSE;

static PetscErrorCode PFFinalizePackage(void)
{
  PetscFunctionBegin;
  pf_package_initialized = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFInitializePackage(void)
{
  PetscFunctionBegin;
  if (pf_package_initialized) PetscFunctionReturn(PETSC_SUCCESS);
  pf_package_initialized = PETSC_TRUE;
  PetscCall(PetscRegisterFinalize(PFFinalizePackage));
  PetscCall(PetscClassIdRegister("physflow", &PF_CLASSID));
  PetscCall(PetscLogEventRegister("PFNetForward", PF_CLASSID, &PF_EVENT_Forward));
  PetscCall(PetscLogEventRegister("PFNetBackward", PF_CLASSID, &PF_EVENT_Backward));
  PetscCall(PetscLogEventRegister("PFAllreduce", PF_CLASSID, &PF_EVENT_Allreduce));
  PetscCall(PetscLogEventRegister("PFOptimizer", PF_CLASSID, &PF_EVENT_Optimizer));
  PetscCall(PetscLogEventRegister("PFIO", PF_CLASSID, &PF_EVENT_IO));
  PetscCall(PetscLogEventRegister("PFSolve", PF_CLASSID, &PF_EVENT_Solve));
  PetscCall(PetscLogEventRegister("PFGaussNewton", PF_CLASSID, &PF_EVENT_Refine));
  PetscCall(PetscLogEventRegister("PFLaplaceSample", PF_CLASSID, &PF_EVENT_Laplace));
  PetscCall(PetscLogEventRegister("PFSample", PF_CLASSID, &PF_EVENT_Sample));
  PetscCall(PFH5Initialize());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFBcastError(MPI_Comm comm, PetscErrorCode ierr, const char what[])
{
  char        msg[1024] = "";
  PetscMPIInt rank;
  int         code = (int)ierr;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && ierr) {
    const char *text = NULL;
    char       *specific = NULL;
    PetscErrorMessage(ierr, &text, &specific);
    PetscCall(PetscStrncpy(msg, specific && specific[0] ? specific : (text ? text : "unknown error"), sizeof(msg)));
  }
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, 0, comm));
  if (!code) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Bcast(msg, sizeof(msg), MPI_CHAR, 0, comm));
  SETERRQ(comm, (PetscErrorCode)code, "%s%s", what, msg);
}
