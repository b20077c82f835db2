/* The weak (reaction) boundary flux of PFPhysicsBoundaryFlux and of the
 * mesh observables of src/guide/observable_mesh.c, on a box with p = 1 on
 * the left side (Face Sets 4) and p = 0 on the right (2):
 *   - homogeneous K = 1 without sources: p = 1 - x exactly (P1/Q1 is exact
 *     for a linear p), so the outflow through the right side is exactly 1
 *     and through the left side exactly -1;
 *   - a random field with the corner sources (net source 0): outflow right
 *     + outflow left = 0 to solver tolerance, and right > 0;
 *   - the gradient of the flux and of mean_logK over a region: Taylor
 *     remainders at order 1 and (flux: quadratic in logK, linear in p) 2;
 *     mean_logK is linear: the corrected remainder is round-off;
 *   - boundary_flux (the flux of the solution for the state's logK, its
 *     gradient through the adjoint) equals boundary_flux_state at a solver
 *     state, and its Taylor remainders fall at orders 1 and 2.
 * Rank-independent (keyed draws); run on 1 and 2 ranks. */
#include <math.h>
#include <physflow.h>
#include <physflow/guide.h>
#include <physflow/physics.h>

static int fail = 0;
static PetscErrorCode Expect(PetscBool ok, const char what[], double value)
{
  PetscFunctionBegin;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s %s: %.6e\n", ok ? "ok  " : "FAIL", what, value));
  if (!ok) fail = 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Setup(const char source[], PFPhysics *ph)
{
  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_source", source));
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, ph));
  PetscCall(PFPhysicsSetFromOptions(*ph));
  PetscCall(PFPhysicsSetUp(*ph));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Taylor test of an observable along dx: returns the orders of the plain
 * and the corrected remainders (last pair), and the corrected remainder
 * relative to the plain one */
static PetscErrorCode Taylor(PFObservable obs, PetscInt n, const pfreal *x, const pfreal *dx, double *o1, double *o2, double *rel)
{
  pfreal *g, *xe;
  double  f0, dd = 0, r1[4], r2[4];

  PetscFunctionBegin;
  PetscCall(PetscMalloc2(n, &g, n, &xe));
  PetscCall(PFObservableEval(obs, 1, x, &f0, g));
  for (PetscInt i = 0; i < n; i++) dd += (double)g[i] * (double)dx[i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dd, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  for (int k = 0; k < 4; k++) {
    double e = 1e-2 / pow(2, k), fe;
    for (PetscInt i = 0; i < n; i++) xe[i] = x[i] + (pfreal)e * dx[i];
    PetscCall(PFObservableEval(obs, 1, xe, &fe, NULL));
    r1[k] = fabs(fe - f0);
    r2[k] = fabs(fe - f0 - e * dd);
  }
  *o1  = log2(r1[2] / r1[3]);
  *o2  = log2(r2[2] / r2[3]);
  *rel = r2[3] / r1[3];
  PetscCall(PetscFree2(g, xe));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFPhysics       ph;
  PetscInt        n;
  const PetscInt *nat;
  PetscScalar    *x;
  double          Q[2];

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_faces", "16"));
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_dirichlet", "4,2"));
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_dirichlet_value", "1,0"));

  /* 1. homogeneous medium, no sources: exactly 1 through the right side */
  PetscCall(Setup("0", &ph));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(PetscMalloc1(2 * n, &x));
  for (PetscInt i = 0; i < n; i++) x[i] = 0;
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 1, 0, x));
  PetscCall(PFPhysicsBoundaryFlux(ph, "2", 1, x, &Q[0], NULL));
  PetscCall(PFPhysicsBoundaryFlux(ph, "4", 1, x, &Q[1], NULL));
  PetscCall(Expect((PetscBool)(fabs(Q[0] - 1) < 1e-9), "K = 1: outflow through the right side - 1", Q[0] - 1));
  PetscCall(Expect((PetscBool)(fabs(Q[1] + 1) < 1e-9), "K = 1: outflow through the left side + 1", Q[1] + 1));
  PetscCall(PetscFree(x));
  PetscCall(PFPhysicsDestroy(&ph));

  /* 2. a random field with the corner sources */
  PetscCall(Setup("10", &ph));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(PetscMalloc1(2 * n, &x));
  PetscCall(PFPhysicsDrawInputs(ph, 5, 0, x));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 5, 0, x));
  PetscCall(PFPhysicsBoundaryFlux(ph, "2", 1, x, &Q[0], NULL));
  PetscCall(PFPhysicsBoundaryFlux(ph, "4", 1, x, &Q[1], NULL));
  PetscCall(Expect((PetscBool)(Q[0] > 0.05), "random K: outflow through the right side", Q[0]));
  PetscCall(Expect((PetscBool)(fabs(Q[0] + Q[1]) < 1e-8 * fabs(Q[0])), "random K: right + left outflow (net source 0)", Q[0] + Q[1]));

  /* 3. gradients of the observables at a perturbed (non-solution) state, in
   * normalised units (mean, std as a model would have them) */
  {
    const double mean[2] = {0.1, 0.4}, std[2] = {1.2, 0.3}, region[4] = {0.25, 0.75, 0.0, 0.5};
    pfreal      *xs, *dx;
    PFObservable flux, mk;
    double       o1, o2, rel, f;
    PetscCall(PetscMalloc2(2 * n, &xs, 2 * n, &dx));
    for (PetscInt i = 0; i < n; i++) {
      PFRNG r;
      PFRNGInit(&r, 7, PF_RNG_TEST, 0, (uint32_t)nat[i]);
      xs[i]     = (pfreal)((x[i] - mean[0]) / std[0]);
      xs[n + i] = (pfreal)((x[n + i] - mean[1]) / std[1] + 0.1 * PFRNGNormal(&r));
      dx[i]     = (pfreal)PFRNGNormal(&r);
      dx[n + i] = (pfreal)PFRNGNormal(&r);
    }
    PetscCall(PFObservableCreateMesh("boundary_flux_state", ph, mean, std, NULL, "2", &flux));
    PetscCall(Taylor(flux, 2 * n, xs, dx, &o1, &o2, &rel));
    PetscCall(Expect((PetscBool)(fabs(o1 - 1) < 0.1), "boundary_flux_state: order of the plain remainder", o1));
    PetscCall(Expect((PetscBool)(fabs(o2 - 2) < 0.2), "boundary_flux_state: order of the gradient-corrected remainder", o2));
    {
      PFObservable sol;
      pfreal      *xe;
      double       fs, fe;
      PetscCall(PFObservableCreateMesh("boundary_flux", ph, mean, std, NULL, "2", &sol));
      PetscCall(Taylor(sol, 2 * n, xs, dx, &o1, &o2, &rel));
      PetscCall(Expect((PetscBool)(fabs(o1 - 1) < 0.1), "boundary_flux (solved): order of the plain remainder", o1));
      PetscCall(Expect((PetscBool)(fabs(o2 - 2) < 0.2), "boundary_flux (solved): order of the gradient-corrected remainder", o2));
      /* at the solver state (p unperturbed) the two fluxes agree */
      PetscCall(PetscMalloc1(2 * n, &xe));
      for (PetscInt i = 0; i < n; i++) xe[i] = xs[i], xe[n + i] = (pfreal)((x[n + i] - mean[1]) / std[1]);
      PetscCall(PFObservableEval(sol, 1, xe, &fs, NULL));
      PetscCall(PFObservableEval(flux, 1, xe, &fe, NULL));
      PetscCall(Expect((PetscBool)(fabs(fs - fe) < 1e-5 * fabs(fe)), "solved flux - state flux at a solver state", fs - fe));
      PetscCall(PetscFree(xe));
      PetscCall(PFObservableDestroy(&sol));
    }
    PetscCall(PFObservableCreateMesh("mean_logK", ph, mean, std, region, NULL, &mk));
    PetscCall(Taylor(mk, 2 * n, xs, dx, &o1, &o2, &rel));
    PetscCall(Expect((PetscBool)(rel < 1e-3), "mean_logK (linear, single-precision states): corrected / plain remainder", rel));
    /* the region's mean of a constant field is that constant */
    for (PetscInt i = 0; i < n; i++) xs[i] = (pfreal)((2.5 - mean[0]) / std[0]);
    PetscCall(PFObservableEval(mk, 1, xs, &f, NULL));
    PetscCall(Expect((PetscBool)(fabs(f - 2.5) < 1e-5), "mean_logK of logK = 2.5, minus 2.5", f - 2.5));
    PetscCall(PFObservableDestroy(&flux));
    PetscCall(PFObservableDestroy(&mk));
    PetscCall(PetscFree2(xs, dx));
  }
  PetscCall(PetscFree(x));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PetscFinalize());
  return fail;
}
