/* Taylor test of the Darcy residual's vector-Jacobian product in BOTH fields.
 * With f(x) = v . R(x) and gx = J(x)^T v from PFPhysicsResidualVJP, along a
 * random direction dx:
 *   |f(x + e dx) - f(x)|               falls at order 1,
 *   |f(x + e dx) - f(x) - e gx . dx|   falls at order 2.
 * Checked for perturbations of logK alone, p alone and both. */
#include <math.h>
#include <physflow.h>
#include <physflow/physics.h>

static PetscErrorCode VDotR(PFPhysics ph, PetscInt n, const PetscScalar *x, const PetscScalar *v, PetscScalar *R, double *f)
{
  double loc = 0;
  PetscFunctionBegin;
  PetscCall(PFPhysicsResidual(ph, 1, x, R));
  for (PetscInt i = 0; i < n; i++) loc += v[i] * R[i];
  PetscCallMPI(MPI_Allreduce(&loc, f, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFPhysics          ph;
  PetscInt           n;
  const PetscInt    *nat;
  PetscScalar       *x, *xe, *dx, *v, *R, *gx;
  int                fail = 0;
  const char *const  what[3] = {"logK", "p", "both"};

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_faces", "16"));
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
  PetscCall(PFPhysicsSetFromOptions(ph));
  PetscCall(PFPhysicsSetUp(ph));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(PetscMalloc6(2 * n, &x, 2 * n, &xe, 2 * n, &dx, n, &v, n, &R, 2 * n, &gx));
  /* a solver state, then a generic (non-solution) state: p perturbed */
  PetscCall(PFPhysicsDrawInputs(ph, 3, 0, x));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 3, 0, x));
  for (PetscInt i = 0; i < n; i++) {
    PFRNG r;
    PFRNGInit(&r, 11, PF_RNG_TEST, 0, (uint32_t)nat[i]); /* keyed by natural vertex: rank-invariant */
    x[n + i] += 0.1 * PFRNGNormal(&r);
    v[i]      = PFRNGNormal(&r);
    dx[i]     = PFRNGNormal(&r);
    dx[n + i] = PFRNGNormal(&r);
  }
  PetscCall(PFPhysicsResidualVJP(ph, 1, x, v, gx));
  for (int mode = 0; mode < 3; mode++) {
    double f0, e[4], r1[4], r2[4], dd = 0, ddg;
    PetscCall(VDotR(ph, n, x, v, R, &f0));
    for (PetscInt i = 0; i < n; i++) {
      if (mode != 1) dd += gx[i] * dx[i];
      if (mode != 0) dd += gx[n + i] * dx[n + i];
    }
    PetscCallMPI(MPI_Allreduce(&dd, &ddg, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    for (int k = 0; k < 4; k++) {
      double fe;
      e[k] = 1e-2 / pow(2, k);
      for (PetscInt i = 0; i < n; i++) {
        xe[i]     = x[i] + (mode != 1 ? e[k] * dx[i] : 0);
        xe[n + i] = x[n + i] + (mode != 0 ? e[k] * dx[n + i] : 0);
      }
      PetscCall(VDotR(ph, n, xe, v, R, &fe));
      r1[k] = fabs(fe - f0);
      r2[k] = fabs(fe - f0 - e[k] * ddg);
    }
    for (int k = 1; k < 4; k++) {
      double o1 = log2(r1[k - 1] / r1[k]), o2 = log2(r2[k - 1] / r2[k]);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "[%s] eps %.2e  first-order remainder %.3e (order %.2f)  corrected %.3e (order %.2f)\n", what[mode], e[k], r1[k], o1, r2[k], o2));
      if (fabs(o1 - 1) > 0.1) fail = 1;
      /* R is linear in p: the corrected remainder is round-off there */
      if (mode == 1) {
        if (r2[k] > 1e-9 * r1[k]) fail = 1;
      } else if (fabs(o2 - 2) > 0.15) fail = 1;
    }
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS: Taylor remainders fall at orders 1 and 2"));
  PetscCall(PetscFree6(x, xe, dx, v, R, gx));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(PetscFinalize());
  return fail;
}
