#include "cli.h"

PetscErrorCode PFCLIOptionsDone(MPI_Comm comm, const char cmd[], PetscBool *help_only)
{
  PetscInt  N;
  char    **names, **values;
  PetscBool help;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  *help_only = help;
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  /* PETSc's unused-option warning, promoted to an error: a misspelt option
   * must not silently fall back to its default in a long run */
  PetscCall(PetscOptionsLeftGet(NULL, &N, &names, &values));
  if (N > 0) {
    char list[1024] = "";
    for (PetscInt i = 0; i < N && i < 8; i++) {
      PetscCall(PetscStrlcat(list, i ? ", -" : "-", sizeof(list)));
      PetscCall(PetscStrlcat(list, names[i], sizeof(list)));
    }
    PetscCall(PetscOptionsLeftRestore(NULL, &N, &names, &values));
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "unknown option%s for 'physflow %s': %s (see 'physflow %s -help')", N > 1 ? "s" : "", cmd, list, cmd);
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &N, &names, &values));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIDefaultOption(const char name[], const char value[])
{
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasName(NULL, NULL, name, &set));
  if (!set) PetscCall(PetscOptionsSetValue(NULL, name, value));
  PetscFunctionReturn(PETSC_SUCCESS);
}
