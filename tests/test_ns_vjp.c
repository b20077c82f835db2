/* Taylor test of the Navier-Stokes residual of vertex states and its VJP
 * (solvers/navierstokes/nsresidual.c, PFPhysics "ns"): with f(x) = v . R(x)
 * and gx = J(x)^T v, along random directions dx of the Re field alone, of
 * (u, v, p) alone and of all fields,
 *   |f(x + e dx) - f(x)|              falls at order 1,
 *   |f(x + e dx) - f(x) - e gx . dx|  falls at order 2
 * (R is quadratic in the velocity, affine in nu = U D / Re: nonlinear in
 * Re).  Also: the solver's own state has a residual far below the zero
 * state's (its Dirichlet rows at the vertices are exact).  And the Newton
 * step e(x) (PFPhysicsNewtonStep, the error norm's distance): for x the
 * solver's state plus a perturbation d of (u, v, p), e(x) - e(x*) recovers
 * d, Newton's update x - e brings the residual back to the solver state's
 * level, and the gradient of q(x) = |e(x)|_M^2 passes the same Taylor test.
 *   test_ns_vjp -mesh dfg.msh   (1 or more ranks) */
#include <math.h>
#include <physflow.h>
#include <physflow/physics.h>

static PetscErrorCode VDotR(PFPhysics ph, PetscInt nres, const PetscScalar *x, const PetscScalar *v, PetscScalar *R, double *f)
{
  double loc = 0;
  PetscFunctionBegin;
  PetscCall(PFPhysicsResidual(ph, 1, x, R));
  for (PetscInt i = 0; i < nres; i++) loc += PetscRealPart(v[i] * R[i]);
  PetscCallMPI(MPI_Allreduce(&loc, f, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* q = |e(x)|_M^2 over the ns state values, and its gradient g (optional) */
static PetscErrorCode NewtonSize(PFPhysics ph, PetscInt n, PetscInt ns, const PetscScalar *mass, const PetscScalar *x, PetscScalar *e, PetscScalar *g, double *q)
{
  double loc = 0;

  PetscFunctionBegin;
  PetscCall(PFPhysicsNewtonStep(ph, 1, x, e, g, NULL));
  for (PetscInt k = 0; k < ns; k++) loc += PetscRealPart(mass[k % n] * e[k] * PetscConj(e[k]));
  PetscCallMPI(MPI_Allreduce(&loc, q, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* x: the solver's state (Re, u, v, p); work R [nres] */
static PetscErrorCode CheckNewtonStep(PFPhysics ph, PetscInt n, PetscInt nf, const PetscInt nat[], const PetscScalar *x, PetscScalar *R, int *fail)
{
  const PetscInt     ns = (nf - 1) * n;
  PetscScalar       *xp, *d, *e0, *e1;
  const PetscScalar *mass;
  double             loc[2] = {0, 0}, glob[2], rel0, relp, relu, scale;

  PetscFunctionBegin;
  PetscCall(PetscMalloc4(nf * n, &xp, ns, &d, ns, &e0, ns, &e1));
  PetscCall(PFPhysicsGetVertexMass(ph, &mass));
  PetscCall(PFPhysicsNewtonStep(ph, 1, x, e0, NULL, &scale));
  for (PetscInt q = 0; q < nf * n; q++) xp[q] = x[q];
  for (PetscInt q = 0; q < ns; q++) {
    PFRNG r;
    PFRNGInit(&r, 13, PF_RNG_TEST, (uint64_t)(q / n), (uint32_t)nat[q % n]);
    d[q] = 0.01 * PFRNGNormal(&r);
    xp[n + q] += d[q];
  }
  PetscCall(PFPhysicsNewtonStep(ph, 1, xp, e1, NULL, NULL));
  for (PetscInt q = 0; q < ns; q++) {
    double m = PetscRealPart(mass[q % n]), r = PetscRealPart(e1[q] - e0[q] - d[q]);
    loc[0] += m * r * r, loc[1] += m * PetscRealPart(d[q] * d[q]);
  }
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Newton step: |e(x* + d) - e(x*) - d|_M / |d|_M = %.3e (want < 0.05; scale %.3g)\n", sqrt(glob[0] / glob[1]), scale));
  if (!(sqrt(glob[0] / glob[1]) < 0.05)) *fail = 1;
  /* Newton's update from the perturbed state */
  PetscCall(PFPhysicsResidual(ph, 1, x, R));
  PetscCall(PFPhysicsResidualNorms(ph, R, &rel0, NULL));
  PetscCall(PFPhysicsResidual(ph, 1, xp, R));
  PetscCall(PFPhysicsResidualNorms(ph, R, &relp, NULL));
  for (PetscInt q = 0; q < ns; q++) xp[n + q] -= e1[q];
  PetscCall(PFPhysicsResidual(ph, 1, xp, R));
  PetscCall(PFPhysicsResidualNorms(ph, R, &relu, NULL));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "Newton update: |R|/|R(0)| perturbed %.3e -> updated %.3e (solver state %.3e; want updated < 2x solver)\n", relp, relu, rel0));
  if (!(relu < 2 * rel0 && relp > 5 * rel0)) *fail = 1;
  /* Taylor test of grad q, q = |e|_M^2, at the perturbed state, along d */
  for (PetscInt q = 0; q < ns; q++) xp[n + q] += e1[q];
  {
    PetscScalar *g, *xe;
    double       q0, gd = 0, r1[4], r2[4];
    PetscCall(PetscMalloc2(nf * n, &g, nf * n, &xe));
    PetscCall(NewtonSize(ph, n, ns, mass, xp, e1, g, &q0));
    for (PetscInt q = 0; q < ns; q++) gd += PetscRealPart(g[n + q] * d[q]);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &gd, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    for (int k = 0; k < 4; k++) {
      double eps = 0.25 / pow(2, k), qe;
      for (PetscInt q = 0; q < nf * n; q++) xe[q] = xp[q] + (q >= n ? eps * d[q - n] : 0);
      PetscCall(NewtonSize(ph, n, ns, mass, xe, e1, NULL, &qe));
      r1[k] = fabs(qe - q0), r2[k] = fabs(qe - q0 - eps * gd);
      if (k) {
        double o1 = log2(r1[k - 1] / r1[k]), o2 = log2(r2[k - 1] / r2[k]);
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "[Newton |e|_M^2] eps %.2e  first-order remainder %.3e (order %.2f)  corrected %.3e (order %.2f)\n", eps, r1[k], o1, r2[k], o2));
        if (fabs(o1 - 1) > 0.1 || fabs(o2 - 2) > 0.2) *fail = 1;
      }
    }
    PetscCall(PetscFree2(g, xe));
  }
  PetscCall(PetscFree4(xp, d, e0, e1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFPhysics         ph;
  PetscInt          n, nres, nf;
  const PetscInt   *nat;
  PetscScalar      *x, *xe, *dx, *v, *R, *gx;
  PetscMPIInt       rank;
  int               fail = 0;
  const char *const what[3] = {"Re", "u,v,p", "all"};

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
  PetscCall(PFPhysicsSetType(ph, "ns"));
  PetscCall(PFPhysicsSetFromOptions(ph));
  PetscCall(PFPhysicsSetUp(ph));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(PFPhysicsGetResidualSize(ph, &nres));
  PetscCall(PFPhysicsGetFields(ph, &nf, NULL, NULL));
  PetscCall(PetscMalloc6(nf * n, &x, nf * n, &xe, nf * n, &dx, nres + 1, &v, nres + 1, &R, nf * n, &gx));
  /* the solver's state: residual against the zero state's */
  PetscCall(PFPhysicsDrawInputs(ph, 3, 0, x));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 3, 0, x));
  {
    double rel;
    PetscCall(PFPhysicsResidual(ph, 1, x, R));
    PetscCall(PFPhysicsResidualNorms(ph, R, &rel, NULL));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "solver state: |R| / |R(0)| = %.3e (want < 0.05)\n", rel));
    if (!(rel < 0.05)) fail = 1;
  }
  {
    /* a snapshot (-ns_unsteady) has no steady Newton step */
    PetscBool unsteady = PETSC_FALSE;
    PetscCall(PetscOptionsGetBool(NULL, NULL, "-ns_unsteady", &unsteady, NULL));
    if (!unsteady) PetscCall(CheckNewtonStep(ph, n, nf, nat, x, R, &fail));
  }
  /* a generic state near it; directions keyed by natural vertex */
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt i = 0; i < n; i++) {
      PFRNG r;
      PFRNGInit(&r, 11, PF_RNG_TEST, (uint64_t)f, (uint32_t)nat[i]);
      if (f > 0) x[f * n + i] += 0.02 * PFRNGNormal(&r);
      dx[f * n + i] = f == 0 ? 2 * PFRNGNormal(&r) : 0.1 * PFRNGNormal(&r);
    }
  for (PetscInt k = 0; k < nres; k++) {
    PFRNG r;
    PFRNGInit(&r, 12, PF_RNG_TEST, (uint64_t)rank, (uint32_t)k);
    v[k] = PFRNGNormal(&r);
  }
  PetscCall(PFPhysicsResidualVJP(ph, 1, x, v, gx));
  for (int mode = 0; mode < 3; mode++) {
    double f0, e[4], r1[4], r2[4], dd = 0, ddg;
    PetscCall(VDotR(ph, nres, x, v, R, &f0));
    for (PetscInt q = 0; q < nf * n; q++) {
      PetscBool on = (PetscBool)(mode == 2 || (mode == 0) == (q < n));
      if (on) dd += PetscRealPart(gx[q] * dx[q]);
    }
    PetscCallMPI(MPI_Allreduce(&dd, &ddg, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    for (int k = 0; k < 4; k++) {
      double fe;
      e[k] = 1e-2 / pow(2, k);
      for (PetscInt q = 0; q < nf * n; q++) {
        PetscBool on = (PetscBool)(mode == 2 || (mode == 0) == (q < n));
        xe[q]        = x[q] + (on ? e[k] * dx[q] : 0);
      }
      PetscCall(VDotR(ph, nres, xe, v, R, &fe));
      r1[k] = fabs(fe - f0);
      r2[k] = fabs(fe - f0 - e[k] * ddg);
    }
    for (int k = 1; k < 4; k++) {
      double o1 = log2(r1[k - 1] / r1[k]), o2 = log2(r2[k - 1] / r2[k]);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "[%s] eps %.2e  first-order remainder %.3e (order %.2f)  corrected %.3e (order %.2f)\n", what[mode], e[k], r1[k], o1, r2[k], o2));
      /* a residual linear along dx (a snapshot's: continuity and boundary
       * rows) leaves a corrected remainder at roundoff, whose order is noise */
      PetscBool exact = (PetscBool)(r2[k] <= 1e-10 * r1[k] || (r1[k] == 0 && r2[k] == 0));
      if (!exact && (fabs(o1 - 1) > 0.1 || fabs(o2 - 2) > 0.2)) fail = 1;
    }
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS: Taylor remainders fall at orders 1 and 2 (or the corrected one is at roundoff: linear)"));
  PetscCall(PetscFree6(x, xe, dx, v, R, gx));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(PetscFinalize());
  return fail;
}
