#include <string.h>
#include "cli.h"

/* An option PETSc reads only when a solver first needs it: the options of
 * external factorisation packages (MatGetFactor reads them when the factor
 * is created, at the first solve) and the viewers a solve reads at its end.
 * name has no leading dash and may carry any object prefix. */
static PetscBool ReadLate(const char name[])
{
  static const char *const packages[] = {"mat_mumps_", "mat_superlu", "mat_strumpack_", "mat_cholmod_", "mat_umfpack_", "mat_pastix_", "mat_mkl_"};
  const size_t             l          = strlen(name);

  for (size_t k = 0; k < sizeof(packages) / sizeof(packages[0]); k++)
    if (strstr(name, packages[k])) return PETSC_TRUE;
  if (strstr(name, "_view_") || (l >= 5 && !strcmp(name + l - 5, "_view"))) return PETSC_TRUE;
  if (l >= 16 && !strcmp(name + l - 16, "converged_reason")) return PETSC_TRUE;
  return PETSC_FALSE;
}

PetscErrorCode PFCLIOptionsDone(MPI_Comm comm, const char cmd[], PetscBool *help_only)
{
  PetscInt  N, nbad = 0;
  char    **names, **values;
  char      list[1024] = "";
  PetscBool help;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  *help_only = help;
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  /* PETSc's unused-option warning, promoted to an error: a misspelt option
   * must not silently fall back to its default in a long run */
  PetscCall(PetscOptionsLeftGet(NULL, &N, &names, &values));
  for (PetscInt i = 0; i < N; i++) {
    if (ReadLate(names[i])) continue;
    if (nbad < 8) {
      PetscCall(PetscStrlcat(list, nbad ? ", -" : "-", sizeof(list)));
      PetscCall(PetscStrlcat(list, names[i], sizeof(list)));
    }
    nbad++;
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &N, &names, &values));
  PetscCheck(!nbad, comm, PETSC_ERR_ARG_WRONG, "unknown option%s for 'physflow %s': %s (see 'physflow %s -help')", nbad > 1 ? "s" : "", cmd, list, cmd);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIOptionsWarnUnused(MPI_Comm comm, const char cmd[])
{
  PetscInt  N;
  char    **names, **values;
  PetscBool help;

  PetscFunctionBegin;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscOptionsLeftGet(NULL, &N, &names, &values));
  for (PetscInt i = 0; i < N; i++) PetscCall(PetscFPrintf(comm, PETSC_STDERR, "physflow %s: warning: option -%s was not used (no solver of this run read it)\n", cmd, names[i]));
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
