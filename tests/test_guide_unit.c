/* Pieces of the guidance (src/guide) against closed forms:
 *   - max-ent reweighting: f in {0, 1} equally often, target 0.75: the tilt
 *     exp(-lambda f) must weigh 1 three times as much as 0, lambda = -ln 3;
 *     with an uncertainty sigma the dual's optimum satisfies
 *     target - E_w f + sigma^2 lambda = 0;
 *   - Nelder-Mead finds the minimum of a shifted quadratic in 3 dimensions;
 *   - the built-in observables x0/x1 and their gradients; an unknown name
 *     fails; a registered plug-in is found. */
#include <math.h>
#include <physflow/guide.h>

static PetscErrorCode Quadratic(void *ctx, const double th[], double *J)
{
  (void)ctx;
  *J = pow(th[0] - 1, 2) + 2 * pow(th[1] + 2, 2) + 0.5 * pow(th[2] - 0.5, 2) + 3;
  return PETSC_SUCCESS;
}

static PetscErrorCode SumEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *g)
{
  for (PetscInt b = 0; b < B; b++) {
    f[b] = 0;
    for (PetscInt i = 0; i < obs->n; i++) {
      f[b] += x[b * obs->n + i];
      if (g) g[b * obs->n + i] = 1;
    }
  }
  return PETSC_SUCCESS;
}
static PetscErrorCode CreateSum(PFObservable obs)
{
  obs->eval = SumEval;
  return PETSC_SUCCESS;
}

int main(int argc, char **argv)
{
  int    fails = 0;
  double f[1000], lambda, mw;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  for (int i = 0; i < 1000; i++) f[i] = i % 2;
  PetscCall(PFMaxEntLambda(1000, f, 0.75, 0, &lambda, &mw));
  if (fabs(lambda + log(3.0)) > 1e-9 || fabs(mw - 0.75) > 1e-9) fails++;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "maxent: lambda %.12f (want %.12f), weighted mean %.12f\n", lambda, -log(3.0), mw));
  {
    /* with sigma: E_w f = p(lambda) = 1/(1 + exp(lambda)); check the optimality condition */
    double sigma = 0.5, p;
    PetscCall(PFMaxEntLambda(1000, f, 0.75, sigma, &lambda, &mw));
    p = 1 / (1 + exp(lambda));
    if (fabs(0.75 - p + sigma * sigma * lambda) > 1e-9 || fabs(mw - p) > 1e-12 || !(mw < 0.75 && mw > 0.5)) fails++;
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "maxent with sigma 0.5: lambda %.6f, weighted mean %.6f (between 0.5 and the target)\n", lambda, mw));
  }
  {
    double th[3] = {0, 0, 0}, step[3] = {1, 1, 1}, J;
    PetscCall(PFNelderMead(PETSC_COMM_WORLD, 3, th, step, Quadratic, NULL, 400, &J));
    if (fabs(th[0] - 1) > 1e-2 || fabs(th[1] + 2) > 1e-2 || fabs(th[2] - 0.5) > 1e-2 || fabs(J - 3) > 1e-4) fails++;
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Nelder-Mead: (%.4f, %.4f, %.4f), J %.6f (want (1, -2, 0.5), 3)\n", th[0], th[1], th[2], J));
  }
  {
    PFObservable obs;
    pfreal       x[4] = {1, 2, 3, 4}, g[4];
    double       v[2];
    PetscCall(PFObservableCreate(PETSC_COMM_WORLD, "x1", 2, &obs));
    PetscCall(PFObservableEval(obs, 2, x, v, g));
    if (v[0] != 2 || v[1] != 4 || g[0] != 0 || g[1] != 1 || g[2] != 0 || g[3] != 1) fails++;
    PetscCall(PFObservableDestroy(&obs));
    PetscCall(PFObservableRegister("sum", CreateSum));
    PetscCall(PFObservableCreate(PETSC_COMM_WORLD, "sum", 2, &obs));
    PetscCall(PFObservableEval(obs, 2, x, v, NULL));
    if (v[0] != 3 || v[1] != 7) fails++;
    PetscCall(PFObservableDestroy(&obs));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "observables: x1 and a registered plug-in evaluate\n"));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_guide_unit: %s\n", fails ? "FAILED" : "passed"));
  PetscCall(PetscFinalize());
  return fails ? 1 : 0;
}
