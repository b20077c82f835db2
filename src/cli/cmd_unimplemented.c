#include "cli.h"

/* Commands of the design that this version does not have yet: -help still
 * describes them (exit 0); running them says so (exit 1). */
static PetscErrorCode NotYet(MPI_Comm comm, const char cmd[], const char what[])
{
  PetscBool help;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, what, cmd);
  PetscOptionsEnd();
  PetscCall(PFCLIOptionsDone(comm, cmd, &help));
  if (help) {
    PetscCall(PetscPrintf(comm, "physflow %s: %s\n  (not implemented in physflow %s; see docs/design.md for the plan)\n", cmd, what, PF_VERSION));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  SETERRQ(comm, PETSC_ERR_SUP, "command '%s' (%s) is not implemented yet in physflow %s", cmd, what, PF_VERSION);
}

PetscErrorCode PFCommandInfer(MPI_Comm comm) { return NotYet(comm, "infer", "posterior samples of hidden fields from observations"); }
