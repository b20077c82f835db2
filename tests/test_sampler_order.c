/* PFSampler: convergence order, NFE accounting and type checking.
 *
 * The velocity field has a known solution in each component of a 2-vector
 * state:
 *     dx0/dt = x0 cos(t)    ->  x0(t) = x0(0) exp(sin t)
 *     dx1/dt = -2 t x1      ->  x1(t) = x1(0) exp(-t^2)
 * Both depend on t explicitly, so a stage evaluated at the wrong time shows
 * up as lost order.  A batch of 4 states is integrated from t = 0 to 1 and
 * the error is the max over all components.
 *
 * Checks, each printed with the measured numbers:
 *  1. euler, heun, rk4 with N = 8, 16, 32, 64 steps: the observed order
 *     log2(err(N)/err(2N)) of the last pair lies in [0.8, 1.2], [1.8, 2.2],
 *     [3.7, 4.3]; built in double so rk4's 1e-9 errors at N = 64 are far
 *     above round-off (in float they would be at it);
 *  2. NFE = N, 2N, 4N, and equals the number of velocity calls counted here;
 *  3. dopri5 with atol = rtol = 1e-8 reaches error < 1e-6, and its NFE is
 *     1 + 6 * (attempted steps) (FSAL) and matches the counted calls;
 *  3b. heun with a final Euler step: order 2, NFE 2N - 1, never at t = 1;
 *  4. PFSamplerSetType rejects an unknown name with PETSC_ERR_ARG_UNKNOWN_TYPE
 *     and leaves the type unchanged; a vp-only type cannot integrate an ODE. */
#include <math.h>
#include <physflow/compat.h>
#include <physflow/sampler.h>

#define NLOC 4 /* states in the batch */
#define NDIM 2 /* components per state */

static int nfail = 0;

static void Report(PetscBool ok, const char *what)
{
  if (!ok) nfail++;
  printf("  [%s] %s\n", ok ? "ok" : "FAIL", what);
}

typedef struct {
  PetscInt ncalls; /* velocity evaluations seen, to cross-check the NFE */
  double   tmax;   /* the latest time the velocity was evaluated at */
} FieldCtx;

static PetscErrorCode Velocity(void *vctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  FieldCtx *ctx = (FieldCtx *)vctx;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < nloc; i++) {
    v[i * NDIM + 0] = (pfreal)((double)x[i * NDIM + 0] * cos(t));
    v[i * NDIM + 1] = (pfreal)(-2.0 * t * (double)x[i * NDIM + 1]);
  }
  ctx->ncalls++;
  ctx->tmax = PetscMax(ctx->tmax, t);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static const double X0[NLOC][NDIM] = {
  {1.0,  1.0 },
  {-0.5, 2.0 },
  {2.0,  -1.5},
  {0.25, 0.75}
};

/* Integrates 0 -> 1 with the configured sampler; returns the max error
 * against the exact solution, the NFE and the counted velocity calls. */
static PetscErrorCode Solve(PFSampler s, double *err, PetscInt *nfe, PetscInt *ncalls)
{
  pfreal   x[NLOC * NDIM];
  FieldCtx ctx = {0};

  PetscFunctionBegin;
  for (PetscInt i = 0; i < NLOC; i++)
    for (PetscInt k = 0; k < NDIM; k++) x[i * NDIM + k] = (pfreal)X0[i][k];
  PetscCall(PFSamplerIntegrate(s, Velocity, &ctx, NLOC, NDIM, 0.0, 1.0, x, nfe));
  *err = 0.0;
  for (PetscInt i = 0; i < NLOC; i++) {
    double e0 = fabs((double)x[i * NDIM + 0] - X0[i][0] * exp(sin(1.0)));
    double e1 = fabs((double)x[i * NDIM + 1] - X0[i][1] * exp(-1.0));
    *err      = PetscMax(*err, PetscMax(e0, e1));
  }
  *ncalls = ctx.ncalls;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestOrder(PFSampler s, const char *type, double order, double slack, PetscInt stages)
{
  const PetscInt Ns[4] = {8, 16, 32, 64};
  double         err[4], p = 0.0;
  PetscInt       nfe, ncalls;
  PetscBool      nfe_ok = PETSC_TRUE;
  char           msg[256];

  PetscFunctionBegin;
  printf("%s (nominal order %g):\n", type, order);
  PetscCall(PFSamplerSetType(s, type));
  for (int j = 0; j < 4; j++) {
    PetscCall(PFSamplerSetSteps(s, Ns[j]));
    PetscCall(Solve(s, &err[j], &nfe, &ncalls));
    if (nfe != stages * Ns[j] || ncalls != nfe) nfe_ok = PETSC_FALSE;
    printf("    N = %3" PetscInt_FMT "  err %.3e  NFE %4" PetscInt_FMT " (counted %4" PetscInt_FMT ")", Ns[j], err[j], nfe, ncalls);
    if (j > 0) {
      p = log2(err[j - 1] / err[j]);
      printf("  order %.3f", p);
    }
    printf("\n");
  }
  snprintf(msg, sizeof msg, "%s observed order %.3f (N=32 -> 64) in [%.1f, %.1f]", type, p, order - slack, order + slack);
  Report((PetscBool)(fabs(p - order) <= slack), msg);
  snprintf(msg, sizeof msg, "%s NFE = %" PetscInt_FMT " N for every N, equal to the counted velocity calls", type, stages);
  Report(nfe_ok, msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestDopri5(PFSampler s)
{
  double   err;
  PetscInt nfe, ncalls;
  char     msg[256];

  PetscFunctionBegin;
  printf("dopri5 (atol = rtol = 1e-8):\n");
  PetscCall(PFSamplerSetType(s, PFSAMPLERDOPRI5));
  PetscCall(PFSamplerSetTolerances(s, 1e-8, 1e-8));
  PetscCall(Solve(s, &err, &nfe, &ncalls));
  snprintf(msg, sizeof msg, "dopri5 error %.3e < 1e-6 with NFE %" PetscInt_FMT, err, nfe);
  Report((PetscBool)(err < 1e-6), msg);
  /* one initial evaluation, then six per attempted step (the seventh stage
   * is the next step's first) */
  snprintf(msg, sizeof msg, "dopri5 NFE %" PetscInt_FMT " = 1 + 6 x %" PetscInt_FMT " attempted steps, equal to the %" PetscInt_FMT " counted calls", nfe, (nfe - 1) / 6, ncalls);
  Report((PetscBool)(nfe == ncalls && nfe > 1 && (nfe - 1) % 6 == 0), msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestBadType(PFSampler s)
{
  PetscErrorCode ierr;
  PFSamplerType  type;
  PetscBool      same;
  double         err;
  PetscInt       nfe, ncalls;
  char           msg[256];

  PetscFunctionBegin;
  printf("type checking:\n");
  PetscCall(PFSamplerSetType(s, PFSAMPLERRK4));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PFSamplerSetType(s, "rk5");
  PetscCall(PetscPopErrorHandler());
  snprintf(msg, sizeof msg, "PFSamplerSetType(\"rk5\") returns error %d (PETSC_ERR_ARG_UNKNOWN_TYPE = %d)", (int)ierr, (int)PETSC_ERR_ARG_UNKNOWN_TYPE);
  Report((PetscBool)(ierr == PETSC_ERR_ARG_UNKNOWN_TYPE), msg);
  PetscCall(PFSamplerGetType(s, &type));
  PetscCall(PetscStrcmp(type, PFSAMPLERRK4, &same));
  snprintf(msg, sizeof msg, "the type stays '%s' after the rejected call", type);
  Report(same, msg);
  /* ddpm is a valid name but not an ODE integrator */
  PetscCall(PFSamplerSetType(s, PFSAMPLERDDPM));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = Solve(s, &err, &nfe, &ncalls);
  PetscCall(PetscPopErrorHandler());
  snprintf(msg, sizeof msg, "PFSamplerIntegrate with type ddpm returns an error code (%d)", (int)ierr);
  Report((PetscBool)(ierr != 0), msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* heun with -sampler_final_euler: still second order (one O(h^2) local
 * error at the end), 2N - 1 evaluations, none at t = 1 */
static PetscErrorCode TestFinalEuler(PFSampler s)
{
  const PetscInt Ns[2] = {32, 64};
  double         err[2], p;
  PetscBool      ok = PETSC_TRUE;
  char           msg[256];

  PetscFunctionBegin;
  printf("heun, last step Euler:\n");
  PetscCall(PFSamplerSetType(s, PFSAMPLERHEUN));
  PetscCall(PFSamplerSetFinalEuler(s, PETSC_TRUE));
  for (int j = 0; j < 2; j++) {
    pfreal   x[NLOC * NDIM];
    FieldCtx ctx = {0, -1};
    PetscInt nfe = 0;
    PetscCall(PFSamplerSetSteps(s, Ns[j]));
    for (PetscInt i = 0; i < NLOC; i++)
      for (PetscInt k = 0; k < NDIM; k++) x[i * NDIM + k] = (pfreal)X0[i][k];
    PetscCall(PFSamplerIntegrate(s, Velocity, &ctx, NLOC, NDIM, 0.0, 1.0, x, &nfe));
    err[j] = 0;
    for (PetscInt i = 0; i < NLOC; i++) err[j] = PetscMax(err[j], PetscMax(fabs((double)x[i * NDIM] - X0[i][0] * exp(sin(1.0))), fabs((double)x[i * NDIM + 1] - X0[i][1] * exp(-1.0))));
    printf("    N = %3" PetscInt_FMT "  err %.3e  NFE %4" PetscInt_FMT " (counted %4" PetscInt_FMT ")  latest t %.6f\n", Ns[j], err[j], nfe, ctx.ncalls, ctx.tmax);
    if (nfe != 2 * Ns[j] - 1 || ctx.ncalls != nfe || ctx.tmax > 1 - 1.0 / Ns[j] + 1e-12) ok = PETSC_FALSE;
  }
  p = log2(err[0] / err[1]);
  snprintf(msg, sizeof msg, "heun + final Euler observed order %.3f in [1.8, 2.2]", p);
  Report((PetscBool)(fabs(p - 2) <= 0.2), msg);
  Report(ok, "heun + final Euler: NFE = 2N - 1 (counted), no evaluation after t = 1 - h");
  PetscCall(PFSamplerSetFinalEuler(s, PETSC_FALSE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFSampler s;

  PetscCall(PetscInitialize(&argc, &argv, NULL, "PFSampler order and NFE tests"));
  PetscCall(PFSamplerCreate(PETSC_COMM_WORLD, &s));
  PetscCall(TestOrder(s, PFSAMPLEREULER, 1.0, 0.2, 1));
  PetscCall(TestOrder(s, PFSAMPLERHEUN, 2.0, 0.2, 2));
  PetscCall(TestOrder(s, PFSAMPLERRK4, 4.0, 0.3, 4));
  PetscCall(TestFinalEuler(s));
  PetscCall(TestDopri5(s));
  PetscCall(TestBadType(s));
  PetscCall(PFSamplerDestroy(&s));
  printf("%s: %d failure(s)\n", nfail ? "FAILED" : "PASSED", nfail);
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
