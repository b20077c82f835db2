/* Verification of the Darcy discretisation by a manufactured solution:
 *   p = cos(pi x) cos(pi y)      (zero normal flux on the unit square, zero mean)
 *   g = log K = 0.5 sin(pi x) sin(2 pi y) + 0.3 x
 *   f = -div(K grad p)           (computed analytically)
 * solved with the fast tensor assembly and the same KSP as datagen, on three
 * refinements of the Q1 box.  The lumped-mass L2 error must fall at second
 * order (observed order > 1.8), and the residual of the discrete solution
 * must be at solver tolerance. */
#include <math.h>
#include <physflow.h>
#include "../solvers/darcy/operator.h"

static double G(double x, double y) { return 0.5 * sin(M_PI * x) * sin(2 * M_PI * y) + 0.3 * x; }
static double P(double x, double y) { return cos(M_PI * x) * cos(M_PI * y); }

static PetscErrorCode MMSForcing(const PetscReal X[], void *ctx, double *f)
{
  double x = X[0], y = X[1], K = exp(G(x, y));
  double gx = 0.5 * M_PI * cos(M_PI * x) * sin(2 * M_PI * y) + 0.3, gy = M_PI * sin(M_PI * x) * cos(2 * M_PI * y);
  double px = -M_PI * sin(M_PI * x) * cos(M_PI * y), py = -M_PI * cos(M_PI * x) * sin(M_PI * y);
  double lap = -2 * M_PI * M_PI * P(x, y);
  /* -div(K grad p) = -K (grad g . grad p + lap p) */
  (void)ctx;
  *f = -K * (gx * px + gy * py + lap);
  return PETSC_SUCCESS;
}

int main(int argc, char **argv)
{
  PetscInt faces[3] = {16, 32, 64};
  double   err[3], h[3];
  int      fail = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PFInitializePackage());
  for (int l = 0; l < 3; l++) {
    PFMesh       mesh;
    PFDarcyOp    op;
    KSP          ksp;
    PC           pc;
    Vec          sol;
    PetscScalar *g, *R, ms, mp;
    double       loc = 0, glob, rloc = 0, rglob;
    PetscCall(PFMeshCreate(PETSC_COMM_WORLD, NULL, faces[l], &mesh));
    PetscCall(PFDarcyOpCreate(mesh, 1, MMSForcing, NULL, &op));
    PetscCall(PetscMalloc2(op.nown, &g, op.nown, &R));
    for (PetscInt i = 0; i < op.nown; i++) g[i] = G(op.owncoords[2 * i], op.owncoords[2 * i + 1]);
    PetscCall(PFDarcyOpLocalK(&op, g, op.l0));
    {
      const PetscScalar *Kl;
      PetscCall(VecGetArrayRead(op.l0, &Kl));
      PetscCall(PFDarcyOpAssemble(&op, Kl));
      PetscCall(VecRestoreArrayRead(op.l0, &Kl));
    }
    PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
    PetscCall(KSPSetType(ksp, KSPCG));
    PetscCall(KSPGetPC(ksp, &pc));
    PetscCall(PCSetType(pc, PCGAMG));
    PetscCall(KSPSetTolerances(ksp, 1e-12, 1e-50, PETSC_DEFAULT, 2000));
    PetscCall(KSPSetOperators(ksp, op.A, op.A));
    PetscCall(VecDuplicate(op.F, &sol));
    PetscCall(KSPSolve(ksp, op.F, sol));
    PetscCall(VecDot(sol, op.mass, &mp));
    PetscCall(VecSum(op.mass, &ms));
    PetscCall(VecShift(sol, -mp / ms));
    {
      const PetscScalar *s, *m;
      PetscCall(VecGetArrayRead(sol, &s));
      PetscCall(VecGetArrayRead(op.mass, &m));
      for (PetscInt i = 0; i < op.nown; i++) {
        double e = s[i] - P(op.owncoords[2 * i], op.owncoords[2 * i + 1]);
        loc += m[i] * e * e;
      }
      PetscCall(PFDarcyOpResidual(&op, g, s, R));
      for (PetscInt i = 0; i < op.nown; i++) rloc += R[i] * R[i];
      PetscCall(VecRestoreArrayRead(sol, &s));
      PetscCall(VecRestoreArrayRead(op.mass, &m));
    }
    PetscCallMPI(MPI_Allreduce(&loc, &glob, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    PetscCallMPI(MPI_Allreduce(&rloc, &rglob, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    err[l] = sqrt(glob);
    h[l]   = 1.0 / faces[l];
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "h = 1/%-3" PetscInt_FMT "  L2 error %.4e  relative residual of the discrete solution %.2e\n", faces[l], err[l], sqrt(rglob) / op.fnorm));
    if (sqrt(rglob) / op.fnorm > 1e-8) fail = 1;
    PetscCall(VecDestroy(&sol));
    PetscCall(KSPDestroy(&ksp));
    PetscCall(PetscFree2(g, R));
    PetscCall(PFDarcyOpDestroy(&op));
    PetscCall(PFMeshDestroy(&mesh));
  }
  for (int l = 1; l < 3; l++) {
    double order = log(err[l - 1] / err[l]) / log(h[l - 1] / h[l]);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "observed order %d -> %d: %.3f\n", l - 1, l, order));
    if (order < 1.8) fail = 1;
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS: second-order L2 convergence"));
  PetscCall(PetscFinalize());
  return fail;
}
