#pragma once
/* The physflow program: one function per command.  Each command reads all its
 * options first (so -help lists them with their defaults, and typos are caught
 * before any work), then calls PFCLIOptionsDone, then works. */
#include <physflow.h>

typedef PetscErrorCode (*PFCommandFn)(MPI_Comm comm);

typedef struct {
  const char *name;
  PFCommandFn run;
  const char *summary;
} PFCommand;

/* After all options of a command have been read: with -help, returns
 * *help_only = TRUE (the command then returns without working); otherwise
 * fails with a clear message if any option given was not used (a typo). */
PetscErrorCode PFCLIOptionsDone(MPI_Comm comm, const char cmd[], PetscBool *help_only);

/* Network (EMA or raw weights) and flow of a model file */
PetscErrorCode PFCLILoadModel(MPI_Comm comm, const char path[], PetscBool use_ema, PFNet *net, PFFlow *flow);

PetscErrorCode PFCommandDatagen(MPI_Comm);
PetscErrorCode PFDatagenPDE(MPI_Comm world, const char physics_type[], PetscInt n, PetscInt seed, const char out[], PetscBool resume, PetscInt group_size, PetscInt fidelity, PetscInt write_every, PetscBool *help);
PetscErrorCode PFCommandTrain(MPI_Comm);
PetscErrorCode PFCommandSample(MPI_Comm);
PetscErrorCode PFCommandEval(MPI_Comm);
PetscErrorCode PFEvalPDE(MPI_Comm comm, const char physics_type[], const char samples[], const char reference[], const char jsonpath[], PetscBool *help);
PetscErrorCode PFCommandInfo(MPI_Comm);
PetscErrorCode PFCommandFinetune(MPI_Comm);
PetscErrorCode PFCommandObserve(MPI_Comm);
PetscErrorCode PFCommandInfer(MPI_Comm);
PetscErrorCode PFCommandDistill(MPI_Comm);
PetscErrorCode PFCommandGuide(MPI_Comm);
