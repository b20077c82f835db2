/* DFG benchmark 2D-1 (Schafer & Turek 1996: steady flow past a cylinder,
 * Re = 20): drag and lift coefficients and the pressure difference
 * p(0.15, 0.2) - p(0.25, 0.2) of the Taylor-Hood solver on a Gmsh mesh
 * (examples/meshes/dfg_cylinder.geo), with their errors against the
 * reference values (Nabh's and John's fine-grid values as quoted by the
 * benchmark's later FEATFLOW tables: c_D = 5.57953523384,
 * c_L = 0.010618948146, dp = 0.11752016697).
 *
 *   test_ns_dfg -mesh dfg.msh [-Re 20] [-cd_tol r -cl_tol r -dp_tol r]
 *
 * With -unsteady, benchmark 2D-2 (Re = 100, U_mean = 1: periodic vortex
 * shedding) from rest with BDF2 (-dt, -tfinal): the maximum drag and lift
 * over the last periods and the Strouhal number of the lift, against the
 * benchmark's intervals c_Dmax in [3.22, 3.24], c_Lmax in [0.99, 1.01],
 * St in [0.295, 0.305] (errors relative to their centres); -history FILE
 * writes t, c_D, c_L per step.
 *
 * With tolerances, exits 1 when a relative error exceeds them (the ctest
 * on a coarse mesh: a wrong sign, viscosity, boundary condition or force
 * formula is off by far more). */
#include <math.h>
#include <physflow.h>
#include <physflow/obs.h>
#include "../solvers/navierstokes/ns.h"

int main(int argc, char **argv)
{
  PFMesh         mesh;
  PFNS          *ns;
  char           file[PETSC_MAX_PATH_LEN] = "";
  double         Re = 20, cd, cl, dp = NAN, tol[3] = {-1, -1, -1};
  const double   ref[3] = {5.57953523384, 0.010618948146, 0.11752016697};
  PetscInt       nown, *ownnat;
  PetscScalar   *uvp;
  PetscMPIInt    rank;
  PetscLogDouble t0, t1;
  int            bad = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-mesh", file, sizeof(file), NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-Re", &Re, NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-cd_tol", &tol[0], NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-cl_tol", &tol[1], NULL));
  PetscCall(PetscOptionsGetReal(NULL, NULL, "-dp_tol", &tol[2], NULL));
  PetscCheck(file[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "give the mesh: -mesh dfg.msh");
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, file, 0, &mesh));
  PetscCall(PFNSCreate(mesh, &ns));
  {
    PetscBool unsteady = PETSC_FALSE;
    PetscCall(PetscOptionsGetBool(NULL, NULL, "-unsteady", &unsteady, NULL));
    if (unsteady) {
      double   dt = 0.005, tfinal = 8, *t, *hcd, *hcl, St, cdm, clm, tol_st = -1;
      PetscInt n, periods = 4;
      char     hist[PETSC_MAX_PATH_LEN] = "";
      PetscCall(PetscOptionsGetReal(NULL, NULL, "-dt", &dt, NULL));
      PetscCall(PetscOptionsGetReal(NULL, NULL, "-tfinal", &tfinal, NULL));
      PetscCall(PetscOptionsGetReal(NULL, NULL, "-st_tol", &tol_st, NULL));
      PetscCall(PetscOptionsGetInt(NULL, NULL, "-periods", &periods, NULL));
      PetscCall(PetscOptionsGetString(NULL, NULL, "-history", hist, sizeof(hist), NULL));
      PetscCall(PetscTime(&t0));
      PetscCall(PFNSSolveUnsteady(ns, Re, dt, tfinal, &n, &t, &hcd, &hcl));
      PetscCall(PetscTime(&t1));
      PetscCall(PFNSStrouhal(ns, n + 1, t, hcd, hcl, periods, &St, &cdm, &clm));
      if (hist[0] && rank == 0) {
        FILE *f = fopen(hist, "w");
        PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", hist);
        for (PetscInt k = 0; k <= n; k++) fprintf(f, "%.6f %.8f %.8f\n", t[k], hcd[k], hcl[k]);
        fclose(f);
      }
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "DFG 2D-2 at Re = %g (U_mean %g) on %s: %" PetscInt_FMT " BDF2 steps of %g to t = %g, %.1f s\n", Re, ns->U_mean, file, n, dt, tfinal, t1 - t0));
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  c_Dmax %.5f  benchmark [3.22, 3.24]  relative error %.3e\n  c_Lmax %.5f  benchmark [0.99, 1.01]  relative error %.3e\n  St     %.5f  benchmark [0.295, 0.305]  relative error %.3e%s\n", cdm, fabs(cdm - 3.23) / 3.23, clm, fabs(clm - 1.0), St,
                            fabs(St - 0.3) / 0.3, tol_st >= 0 && !(fabs(St - 0.3) / 0.3 <= tol_st) ? "  FAIL" : ""));
      if (tol_st >= 0 && !(fabs(St - 0.3) / 0.3 <= tol_st)) bad = 1;
      PetscCall(PetscFree3(t, hcd, hcl));
      PetscCall(PFNSDestroy(&ns));
      PetscCall(PFMeshDestroy(&mesh));
      PetscCall(PetscFinalize());
      return bad;
    }
  }
  PetscCall(PetscTime(&t0));
  PetscCall(PFNSSolveSteady(ns, Re));
  PetscCall(PetscTime(&t1));
  PetscCall(PFNSForces(ns, &cd, &cl));
  /* the pressure difference from the vertex values (P1 pressure: exact
   * interpolation) on rank 0's serial mesh */
  PetscCall(PFNSGetOwnedVertices(ns, &nown, &ownnat));
  PetscCall(PetscMalloc1(3 * nown + 1, &uvp));
  PetscCall(PFNSVertexValues(ns, nown, uvp));
  {
    double *p = NULL;
    if (rank == 0) PetscCall(PetscMalloc1(mesh->nvert, &p));
    PetscCall(PFGatherNatural(PETSC_COMM_WORLD, nown, ownnat, mesh->nvert, uvp + 2 * nown, p));
    if (rank == 0) {
      const double xa[2] = {0.15, 0.2}, xb[2] = {0.25, 0.2};
      double       v[2];
      for (int k = 0; k < 2; k++) {
        PetscInt c;
        double   w[4];
        PetscCall(PFObsLocate(mesh, k ? xb : xa, &c, w));
        PetscCheck(c >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "(%g, %g) is not in the mesh", k ? xb[0] : xa[0], k ? xb[1] : xa[1]);
        v[k] = 0;
        for (PetscInt j = 0; j < mesh->nvpc; j++) v[k] += w[j] * p[mesh->cells[c * mesh->nvpc + j]];
      }
      dp = v[0] - v[1];
      PetscCall(PetscFree(p));
    }
    PetscCallMPI(MPI_Bcast(&dp, 1, MPI_DOUBLE, 0, PETSC_COMM_WORLD));
  }
  {
    const double val[3] = {cd, cl, dp};
    const char  *name[3] = {"c_D", "c_L", "dp "};
    PetscInt     ndof;
    PetscCall(VecGetSize(ns->u, &ndof));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "DFG 2D-1 at Re = %g on %s: %" PetscInt_FMT " vertices, %" PetscInt_FMT " unknowns, %" PetscInt_FMT " Newton iterations (%" PetscInt_FMT " continuation steps), %.2f s\n", Re, file, mesh->nvert, ndof, ns->newton_its, ns->continuation_steps, t1 - t0));
    for (int k = 0; k < 3; k++) {
      double rel = fabs(val[k] - ref[k]) / fabs(ref[k]);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %s %.8f  reference %.8f  relative error %.3e%s\n", name[k], val[k], ref[k], rel, tol[k] >= 0 && !(rel <= tol[k]) ? "  FAIL" : ""));
      if (tol[k] >= 0 && !(rel <= tol[k])) bad = 1;
    }
  }
  PetscCall(PetscFree(uvp));
  PetscCall(PetscFree(ownnat));
  PetscCall(PFNSDestroy(&ns));
  PetscCall(PFMeshDestroy(&mesh));
  PetscCall(PetscFinalize());
  return bad;
}
