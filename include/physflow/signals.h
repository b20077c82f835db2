#pragma once
/* SIGTERM and SIGUSR1 (what Slurm sends before a time limit) only raise a
 * flag; long loops poll it at a safe point, write a checkpoint and exit. */
#include <physflow/compat.h>

PETSC_EXTERN PetscErrorCode PFSignalsInstall(void);
PETSC_EXTERN int            PFSignalsReceived(void); /* the signal number, or 0 */
