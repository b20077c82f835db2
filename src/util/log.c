#include <physflow/h5util.h>
#include <physflow/log.h>

PetscLogEvent PF_EVENT_Forward, PF_EVENT_Backward, PF_EVENT_Allreduce, PF_EVENT_IO, PF_EVENT_Solve, PF_EVENT_Optimizer, PF_EVENT_Sample;
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
  PetscCall(PetscLogEventRegister("PFSample", PF_CLASSID, &PF_EVENT_Sample));
  PetscCall(PFH5Initialize());
  PetscFunctionReturn(PETSC_SUCCESS);
}
