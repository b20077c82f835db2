#include <petscviewer.h>
#include <math.h>
#include <physflow/log.h>
#include <physflow/sampler.h>

struct _p_PFSampler {
  MPI_Comm comm;
  char     type[16];
  PetscInt steps;
  double   atol, rtol;
  PetscInt max_steps; /* adaptive: give up after this many attempted steps */
  PetscBool final_euler; /* fixed-step: the last step is an Euler step (see IntegrateFixed) */
};

static const char *const PFSamplerTypes[] = {PFSAMPLEREULER, PFSAMPLERHEUN, PFSAMPLERRK4, PFSAMPLERDOPRI5, PFSAMPLERDDPM, PFSAMPLERDDIM};

PetscErrorCode PFSamplerCreate(MPI_Comm comm, PFSampler *s)
{
  PetscFunctionBegin;
  PetscCall(PFInitializePackage());
  PetscCall(PetscNew(s));
  (*s)->comm      = comm;
  (*s)->steps     = 20;
  (*s)->atol      = 1e-5;
  (*s)->rtol      = 1e-5;
  (*s)->max_steps = 100000;
  PetscCall(PetscStrncpy((*s)->type, PFSAMPLEREULER, sizeof((*s)->type)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerSetType(PFSampler s, PFSamplerType type)
{
  PetscBool known = PETSC_FALSE;

  PetscFunctionBegin;
  for (size_t i = 0; i < sizeof(PFSamplerTypes) / sizeof(PFSamplerTypes[0]); i++) {
    PetscBool same;
    PetscCall(PetscStrcmp(type, PFSamplerTypes[i], &same));
    known = (PetscBool)(known || same);
  }
  PetscCheck(known, s->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown sampler '%s' (available: euler, heun, rk4, dopri5; ddpm, ddim for vp models)", type);
  PetscCall(PetscStrncpy(s->type, type, sizeof(s->type)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerGetType(PFSampler s, PFSamplerType *type)
{
  PetscFunctionBegin;
  *type = s->type;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerSetSteps(PFSampler s, PetscInt steps)
{
  PetscFunctionBegin;
  PetscCheck(steps > 0, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_steps must be positive, got %" PetscInt_FMT, steps);
  s->steps = steps;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerGetSteps(PFSampler s, PetscInt *steps)
{
  PetscFunctionBegin;
  *steps = s->steps;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerSetFinalEuler(PFSampler s, PetscBool flg)
{
  PetscFunctionBegin;
  s->final_euler = flg;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerSetTolerances(PFSampler s, double atol, double rtol)
{
  PetscFunctionBegin;
  PetscCheck(atol > 0 && rtol >= 0, s->comm, PETSC_ERR_ARG_OUTOFRANGE, "sampler tolerances must be positive");
  s->atol = atol;
  s->rtol = rtol;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerSetFromOptions(PFSampler s)
{
  char      type[16];
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(type, s->type, sizeof(type)));
  PetscOptionsBegin(s->comm, NULL, "Sampler (ODE integrator) options", "PFSampler");
  PetscCall(PetscOptionsString("-sampler", "Integrator: euler, heun, rk4, dopri5 (flow models); ddpm, ddim (vp models)", "PFSamplerSetType", type, type, sizeof(type), &set));
  if (set) PetscCall(PFSamplerSetType(s, type));
  PetscCall(PetscOptionsInt("-sampler_steps", "Number of steps of fixed-step integrators", "PFSamplerSetSteps", s->steps, &s->steps, NULL));
  PetscCall(PetscOptionsBool("-sampler_final_euler", "Make the last step of heun/rk4 an Euler step (never evaluate the velocity at t = 1)", "PFSamplerSetFinalEuler", s->final_euler, &s->final_euler, NULL));
  PetscCall(PetscOptionsReal("-sampler_atol", "Absolute tolerance of dopri5", "PFSamplerSetTolerances", s->atol, &s->atol, NULL));
  PetscCall(PetscOptionsReal("-sampler_rtol", "Relative tolerance of dopri5", "PFSamplerSetTolerances", s->rtol, &s->rtol, NULL));
  PetscOptionsEnd();
  PetscCall(PFSamplerSetSteps(s, s->steps));
  PetscCall(PFSamplerSetTolerances(s, s->atol, s->rtol));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerView(PFSampler s, PetscViewer viewer)
{
  PetscBool adaptive;

  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(s->comm, &viewer));
  PetscCall(PetscStrcmp(s->type, PFSAMPLERDOPRI5, &adaptive));
  if (adaptive) PetscCall(PetscViewerASCIIPrintf(viewer, "PFSampler dopri5: atol %g rtol %g\n", s->atol, s->rtol));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "PFSampler %s: %" PetscInt_FMT " steps%s\n", s->type, s->steps, s->final_euler ? ", the last one Euler" : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerDestroy(PFSampler *s)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(*s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* y = x + h * sum_j a[j] k[j] */
static void Combine(size_t N, const pfreal *x, double h, int nk, const double *a, pfreal *const *k, pfreal *y)
{
  for (size_t i = 0; i < N; i++) {
    double acc = 0;
    for (int j = 0; j < nk; j++)
      if (a[j] != 0) acc += a[j] * (double)k[j][i];
    y[i] = (pfreal)((double)x[i] + h * acc);
  }
}

static PetscErrorCode IntegrateFixed(PFSampler s, PFVelocityFn fn, void *ctx, PetscInt nloc, size_t N, double t0, double t1, pfreal *x, PetscInt *nfe)
{
  PetscBool euler, heun, rk4;
  pfreal   *k[4], *y;
  double    h = (t1 - t0) / (double)s->steps;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(s->type, PFSAMPLEREULER, &euler));
  PetscCall(PetscStrcmp(s->type, PFSAMPLERHEUN, &heun));
  PetscCall(PetscStrcmp(s->type, PFSAMPLERRK4, &rk4));
  PetscCheck(euler || heun || rk4, s->comm, PETSC_ERR_ARG_WRONG, "sampler '%s' is not an ODE integrator", s->type);
  for (int j = 0; j < 4; j++) PetscCall(PetscMalloc1(N ? N : 1, &k[j]));
  PetscCall(PetscMalloc1(N ? N : 1, &y));
  for (PetscInt step = 0; step < s->steps; step++) {
    double t = t0 + step * h;
    PetscCall(fn(ctx, t, nloc, x, k[0]));
    /* -sampler_final_euler: near t = 1 the learnt velocity amplifies
     * vertex-scale content by ~1/(1 - t); an evaluation AT t = 1 on the
     * predictor's imperfect state puts that into the sample (Karras et al.
     * 2022 also end their Heun sampler with an Euler step) */
    if (euler || (s->final_euler && step == s->steps - 1)) {
      const double a[1] = {1};
      Combine(N, x, h, 1, a, k, x);
      *nfe += 1;
    } else if (heun) {
      const double a1[1] = {1}, a2[2] = {0.5, 0.5};
      Combine(N, x, h, 1, a1, k, y);
      PetscCall(fn(ctx, t + h, nloc, y, k[1]));
      Combine(N, x, h, 2, a2, k, x);
      *nfe += 2;
    } else {
      const double a2[1] = {0.5}, a3[2] = {0, 0.5}, a4[3] = {0, 0, 1}, b[4] = {1. / 6, 1. / 3, 1. / 3, 1. / 6};
      Combine(N, x, h, 1, a2, k, y);
      PetscCall(fn(ctx, t + 0.5 * h, nloc, y, k[1]));
      Combine(N, x, h, 2, a3, k, y);
      PetscCall(fn(ctx, t + 0.5 * h, nloc, y, k[2]));
      Combine(N, x, h, 3, a4, k, y);
      PetscCall(fn(ctx, t + h, nloc, y, k[3]));
      Combine(N, x, h, 4, b, k, x);
      *nfe += 4;
    }
  }
  for (int j = 0; j < 4; j++) PetscCall(PetscFree(k[j]));
  PetscCall(PetscFree(y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Dormand & Prince (1980) 5(4) pair; the 5th-order solution is propagated
 * (local extrapolation) and its last stage is the next step's first (FSAL). */
static const double DP_A[7][6] = {
  {0},
  {1. / 5},
  {3. / 40, 9. / 40},
  {44. / 45, -56. / 15, 32. / 9},
  {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
  {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
  {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84},
};
static const double DP_C[7] = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
/* difference between the 5th- and 4th-order weights: the error estimate */
static const double DP_E[7] = {71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200, 22. / 525, -1. / 40};

static PetscErrorCode IntegrateDopri5(PFSampler s, PFVelocityFn fn, void *ctx, PetscInt nloc, size_t N, double t0, double t1, pfreal *x, PetscInt *nfe)
{
  pfreal  *k[7], *y;
  double   t = t0, h = 0.05 * (t1 - t0), dir = t1 > t0 ? 1 : -1;
  PetscInt attempts = 0;

  PetscFunctionBegin;
  for (int j = 0; j < 7; j++) PetscCall(PetscMalloc1(N ? N : 1, &k[j]));
  PetscCall(PetscMalloc1(N ? N : 1, &y));
  PetscCall(fn(ctx, t, nloc, x, k[0]));
  *nfe += 1;
  while (dir * (t1 - t) > 1e-14 * fabs(t1 - t0)) {
    if (dir * (t + h - t1) > 0) h = t1 - t;
    for (int st = 1; st < 7; st++) {
      Combine(N, x, h, st, DP_A[st], k, y);
      PetscCall(fn(ctx, t + DP_C[st] * h, nloc, y, k[st]));
    }
    *nfe += 6;
    /* global RMS of the scaled error; one allreduce keeps ranks in step */
    double local[2] = {0, (double)N}, global[2];
    for (size_t i = 0; i < N; i++) {
      double e = 0;
      for (int j = 0; j < 7; j++)
        if (DP_E[j] != 0) e += DP_E[j] * (double)k[j][i];
      e *= h;
      double sc = s->atol + s->rtol * PetscMax(fabs((double)x[i]), fabs((double)y[i]));
      local[0] += (e / sc) * (e / sc);
    }
    PetscCallMPI(MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_SUM, s->comm));
    double err = global[1] > 0 ? sqrt(global[0] / global[1]) : 0;
    PetscCheck(isfinite(err), s->comm, PETSC_ERR_FP, "dopri5: non-finite error estimate at t = %g (the velocity field produced NaN/Inf)", t);
    if (err <= 1) {
      t += h;
      PetscCall(PetscArraycpy(x, y, N));
      pfreal *tmp = k[0];
      k[0]        = k[6];
      k[6]        = tmp;
    }
    double fac = err > 0 ? 0.9 * pow(err, -0.2) : 5;
    h *= PetscMin(5.0, PetscMax(0.2, fac));
    PetscCheck(++attempts < s->max_steps, s->comm, PETSC_ERR_CONV_FAILED, "dopri5: more than %" PetscInt_FMT " steps; loosen -sampler_atol/-sampler_rtol", s->max_steps);
  }
  for (int j = 0; j < 7; j++) PetscCall(PetscFree(k[j]));
  PetscCall(PetscFree(y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFSamplerIntegrate(PFSampler s, PFVelocityFn fn, void *ctx, PetscInt nloc, PetscInt n, double t0, double t1, pfreal *x, PetscInt *nfe)
{
  PetscBool adaptive;
  size_t    N = (size_t)nloc * (size_t)n;

  PetscFunctionBegin;
  *nfe = 0;
  PetscCall(PetscLogEventBegin(PF_EVENT_Sample, 0, 0, 0, 0));
  PetscCall(PetscStrcmp(s->type, PFSAMPLERDOPRI5, &adaptive));
  if (adaptive) PetscCall(IntegrateDopri5(s, fn, ctx, nloc, N, t0, t1, x, nfe));
  else PetscCall(IntegrateFixed(s, fn, ctx, nloc, N, t0, t1, x, nfe));
  PetscCall(PetscLogEventEnd(PF_EVENT_Sample, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
