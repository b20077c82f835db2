/* physflow <command> [options]: the command-line front end.
 *
 * The command word is taken off argv before PETSc sees the rest, so every
 * command gets the full PETSc options machinery (-options_file, -help,
 * -log_view, ...).  Errors are reported as one line, "physflow CMD: error:
 * ...", with a non-zero exit, instead of PETSc's traceback. */
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

static const PFCommand commands[] = {
  {"datagen", PFCommandDatagen, "generate a dataset (toy distributions; PDE solvers in situ)"},
  {"train", PFCommandTrain, "train a flow-matching model"},
  {"finetune", PFCommandFinetune, "physics-constrained fine-tuning of a pretrained model"},
  {"sample", PFCommandSample, "draw samples from a model"},
  {"observe", PFCommandObserve, "make sparse noisy observations of a known sample"},
  {"infer", PFCommandInfer, "posterior samples of hidden fields from observations"},
  {"latent", PFCommandLatent, "label-free latent parameter predictor of a state model"},
  {"distill", PFCommandDistill, "few-step / one-step students (reflow, PIDDM)"},
  {"guide", PFCommandGuide, "minimum-excess-work guidance of a pretrained model"},
  {"eval", PFCommandEval, "distribution metrics (and physics checks) of samples"},
  {"info", PFCommandInfo, "describe any physflow HDF5 file"},
};
static const size_t ncommands = sizeof(commands) / sizeof(commands[0]);

/* After an error: did every rank fail (a collective check, e.g. a bad
 * option), or only some (e.g. a file only rank 0 reads)?  The failing ranks
 * enter a barrier on a communicator reserved for this, and wait a moment:
 * if all arrive, the error is collective and rank 0 alone reports it and
 * everyone exits cleanly; otherwise this rank reports it and aborts the job
 * so no rank is left waiting in a collective. */
static int AllRanksFailed(MPI_Comm errcomm, double timeout)
{
  MPI_Request req;
  int         done = 0;
  double      t0   = MPI_Wtime();

  MPI_Ibarrier(errcomm, &req);
  while (!done && MPI_Wtime() - t0 < timeout) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (!done) usleep(1000);
  }
  return done;
}

static void Usage(FILE *f)
{
  fprintf(f, "usage: physflow <command> [options]    (physflow <command> -help lists a command's options)\n\ncommands:\n");
  for (size_t i = 0; i < ncommands; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nEvery command takes PETSc options: -options_file F, -log_view, -help.\n");
}

int main(int argc, char **argv)
{
  const PFCommand *cmd = NULL;
  PetscErrorCode   ierr;
  PetscMPIInt      size, rank;
  MPI_Comm         errcomm;
  char             help[256];

  if (argc < 2) {
    Usage(stderr);
    return 1;
  }
  if (!strcmp(argv[1], "-help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    Usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-version")) {
    printf("physflow %s (%s networks)\n", PF_VERSION, PF_REAL_NAME);
    return 0;
  }
  for (size_t i = 0; i < ncommands; i++)
    if (!strcmp(argv[1], commands[i].name)) cmd = &commands[i];
  if (!cmd) {
    fprintf(stderr, "physflow: unknown command '%s'\n", argv[1]);
    Usage(stderr);
    return 1;
  }
  /* drop the command word: PETSc parses the rest */
  for (int i = 1; i < argc - 1; i++) argv[i] = argv[i + 1];
  argc--;
  snprintf(help, sizeof(help), "physflow %s: %s\n", cmd->name, cmd->summary);
  /* an error inside PetscInitialize (e.g. a missing -options_file) would
   * print PETSc's multi-line traceback: silence it, report one line */
  PetscErrorPrintf = PetscErrorPrintfNone;
  ierr             = PetscInitialize(&argc, &argv, NULL, help);
  PetscErrorPrintf = PetscErrorPrintfDefault;
  if (ierr) {
    const char *text, *specific = NULL;
    PetscErrorMessage(ierr, &text, (char **)&specific);
    fprintf(stderr, "physflow %s: error: %s\n", cmd->name, specific && specific[0] ? specific : (text ? text : "PETSc initialization failed"));
    return 1;
  }
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL);
  /* a reader that closed the pipe (physflow ... | head) ends us quietly */
  signal(SIGPIPE, SIG_DFL);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_dup(PETSC_COMM_WORLD, &errcomm);
  ierr = PFInitializePackage();
  if (!ierr) ierr = PFSignalsInstall();
  if (!ierr) ierr = cmd->run(PETSC_COMM_WORLD);
  if (!ierr) ierr = PFCLIOptionsWarnUnused(PETSC_COMM_WORLD, cmd->name);
  if (ierr) {
    const char *text, *specific = NULL;
    int         collective = size == 1 || AllRanksFailed(errcomm, 2.0);
    PetscErrorMessage(ierr, &text, (char **)&specific);
    if (!collective || rank == 0) fprintf(stderr, "physflow %s: error: %s\n", cmd->name, specific && specific[0] ? specific : (text ? text : "unknown error"));
    fflush(stderr);
    if (!collective) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Comm_free(&errcomm);
    PetscFinalize();
    return 1;
  }
  MPI_Comm_free(&errcomm);
  ierr = PetscFinalize();
  return ierr ? 1 : 0;
}
