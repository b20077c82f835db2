#include <signal.h>
#include <string.h>
#include <physflow/signals.h>

static volatile sig_atomic_t pf_signal = 0;

static void OnSignal(int sig) { pf_signal = sig; }

PetscErrorCode PFSignalsInstall(void)
{
  struct sigaction sa;

  PetscFunctionBegin;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  PetscCheck(sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGUSR1, &sa, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS, "cannot install signal handlers");
  PetscFunctionReturn(PETSC_SUCCESS);
}

int PFSignalsReceived(void) { return (int)pf_signal; }
