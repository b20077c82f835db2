/* Verification of the Darcy discretisation by a manufactured solution:
 *   p = cos(pi x) cos(pi y)      (zero normal flux on the unit square, zero mean)
 *   g = log K = 0.5 sin(pi x) sin(2 pi y) + 0.3 x
 *   f = -div(K grad p)           (computed analytically)
 * solved with the fast tensor assembly and the same KSP as datagen, on three
 * refinements of the unit square in quadrilaterals (the box) and triangles
 * (a structured Gmsh file written here).
 *
 * -order 1 (default): P1/Q1.  The lumped-mass L2 error at the vertices must
 * fall at second order (observed order > 1.8), and the residual of the
 * discrete solution must be at solver tolerance.
 *
 * -order 2: P2/Q2, with log K set exactly at every node (vertices, edge
 * midpoints, Q2 cell centres), so that the solve's K = exp(g_h), g_h the
 * P2/Q2 interpolant of log K, and the discretisation is third order.  The lumped L2 error at the vertices
 * (P1/Q1 vertex masses, as physflow's fields) must fall at third order
 * (observed > 2.7), and the P2 residual of the full P2 dof vector must be at
 * solver tolerance.  On the coarsest mesh, the VJP of the P2 residual is
 * checked in p (exact: R is linear in p) and in log K at every node (the
 * Taylor remainder falls at order 2).  Printed for information, not checked: the P1/Q1
 * residual of the P2 vertex values (the physics' residual of P2 data, at
 * discretisation-error level), and the error of the physics' own path, where
 * only vertex log K is known and the other nodes take its P1/Q1 interpolant
 * (an O(h^2) error in K, so second order). */
#include <math.h>
#include <stdio.h>
#include <unistd.h>
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

/* The unit square in n x n squares, each cut into two counter-clockwise
 * triangles, as a Gmsh 2.2 ASCII file: PFMesh builds triangle meshes only from
 * files, and this test must not need gmsh */
static PetscErrorCode TriangleMesh(PetscInt n, PFMesh *mesh)
{
  char        name[PETSC_MAX_PATH_LEN];
  PetscMPIInt rank;
  int         pid = (int)getpid();

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  /* rank 0's pid in the name: concurrent ctest runs do not share the file */
  PetscCallMPI(MPI_Bcast(&pid, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  PetscCall(PetscSNPrintf(name, sizeof(name), "darcy_mms_tri_%" PetscInt_FMT "_%d.msh", n, pid));
  if (rank == 0) {
    FILE *f = fopen(name, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write %s", name);
    fprintf(f, "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n%d\n", (int)((n + 1) * (n + 1)));
    for (PetscInt j = 0; j <= n; j++)
      for (PetscInt i = 0; i <= n; i++) fprintf(f, "%d %.17g %.17g 0\n", (int)(j * (n + 1) + i + 1), (double)i / n, (double)j / n);
    fprintf(f, "$EndNodes\n$Elements\n%d\n", (int)(2 * n * n));
    for (PetscInt j = 0, e = 1; j < n; j++)
      for (PetscInt i = 0; i < n; i++) {
        int a = (int)(j * (n + 1) + i + 1), b = a + 1, c = b + (int)(n + 1), d = a + (int)(n + 1);
        fprintf(f, "%d 2 2 1 1 %d %d %d\n", (int)e++, a, b, c);
        fprintf(f, "%d 2 2 1 1 %d %d %d\n", (int)e++, a, c, d);
      }
    fprintf(f, "$EndElements\n");
    PetscCheck(!fclose(f), PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write %s", name);
  }
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, name, 0, mesh));
  if (rank == 0) remove(name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SumSquares(PetscInt n, const PetscScalar *a, const PetscScalar *w, double *s)
{
  double loc = 0;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++) loc += (w ? PetscRealPart(w[i]) : 1.0) * PetscRealPart(a[i] * a[i]);
  PetscCallMPI(MPI_Allreduce(&loc, s, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The VJP in each field, with f = v . R.  R is linear in p, so f(p + dp) -
 * f(p) must equal (J_p^T v) . dp to round-off (relative error perr); in g,
 * the Taylor remainder f(g + e dg) - f(g) - e (J_g^T v) . dg must fall at
 * order 2 (rate) */
static PetscErrorCode CheckVJP(PFDarcyOp *op, const PetscScalar *g, const PetscScalar *p, double *perr, double *rate)
{
  const PetscInt n = op->nown;
  PetscScalar   *work, *dg, *dp, *v, *gg, *gp, *ge, *x, *R;
  double         f[4], rem[2], dot[2];

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(8 * n + 1, &work));
  dg = work, dp = dg + n, v = dp + n, gg = v + n, gp = gg + n, ge = gp + n, x = ge + n, R = x + n;
  for (PetscInt i = 0; i < n; i++) {
    /* directions from the node coordinates: the same on any number of ranks */
    double cx = op->owncoords[2 * i], cy = op->owncoords[2 * i + 1];
    dg[i] = sin(7 * cx + 3 * cy);
    dp[i] = cos(5 * cx - 2 * cy);
    v[i]  = sin(3 * cx) * cos(4 * cy) + 0.1;
  }
  PetscCall(PFDarcyOpVJP(op, g, p, v, gg, gp));
  {
    double loc[2] = {0, 0};
    for (PetscInt i = 0; i < n; i++) {
      loc[0] += PetscRealPart(gg[i] * dg[i]);
      loc[1] += PetscRealPart(gp[i] * dp[i]);
    }
    PetscCallMPI(MPI_Allreduce(loc, dot, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  }
  /* f at (g, p), (g, p + dp), (g + e dg, p) for e = 1e-3, 5e-4 */
  for (int k = 0; k < 4; k++) {
    const double e   = k < 2 ? 0 : 1e-3 / (1 << (k - 2));
    double       loc = 0;
    for (PetscInt i = 0; i < n; i++) {
      x[i]  = k == 1 ? p[i] + dp[i] : p[i];
      ge[i] = g[i] + e * dg[i];
    }
    PetscCall(PFDarcyOpResidual(op, ge, x, R));
    for (PetscInt i = 0; i < n; i++) loc += PetscRealPart(v[i] * R[i]);
    PetscCallMPI(MPI_Allreduce(&loc, &f[k], 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    if (k >= 2) rem[k - 2] = fabs(f[k] - f[0] - e * dot[0]);
  }
  *perr = fabs(f[1] - f[0] - dot[1]) / fabs(dot[1]);
  *rate = log2(rem[0] / rem[1]);
  PetscCall(PetscFree(work));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  const PetscInt faces[3] = {16, 32, 64};
  PetscInt       order    = 1;
  int            fail     = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PFInitializePackage());
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-order", &order, NULL));
  PetscCheck(order == 1 || order == 2, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-order must be 1 or 2");
  for (int simplex = 0; simplex < 2; simplex++) {
    double err[3], errv[3], h[3];
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s%" PetscInt_FMT " on %s\n", simplex ? "P" : "Q", order, simplex ? "triangles" : "quadrilaterals"));
    for (int l = 0; l < 3; l++) {
      PFMesh             mesh;
      PFDarcyOp          op1, op2, *op;
      KSP                ksp;
      PC                 pc;
      Vec                sol, K;
      PetscScalar       *g, *gv, *pv, *e, *R, *R1;
      const PetscScalar *s, *m;
      PetscInt           nv, its;
      double             e2, r2, r12;
      if (simplex) PetscCall(TriangleMesh(faces[l], &mesh));
      else PetscCall(PFMeshCreate(PETSC_COMM_WORLD, NULL, faces[l], &mesh));
      /* op1 gives the vertex layout and lumped masses physflow's fields use */
      PetscCall(PFDarcyOpCreate(mesh, 1, MMSForcing, NULL, &op1));
      op = &op1;
      if (order == 2) {
        PetscCall(PFDarcyOpCreate(mesh, 2, MMSForcing, NULL, &op2));
        op = &op2;
      }
      nv = op1.nown;
      PetscCheck(op->nvown == nv, PETSC_COMM_SELF, PETSC_ERR_PLIB, "operators disagree on the owned vertices");
      for (PetscInt i = 0; i < nv; i++) PetscCheck(op->ownnat[i] == op1.ownnat[i], PETSC_COMM_SELF, PETSC_ERR_PLIB, "operators order the owned vertices differently");
      PetscCall(PetscMalloc6(op->nown, &g, nv, &gv, nv, &pv, nv, &e, op->nown, &R, nv, &R1));
      for (PetscInt i = 0; i < op->nown; i++) g[i] = G(op->owncoords[2 * i], op->owncoords[2 * i + 1]);
      PetscCall(KSPCreate(PETSC_COMM_WORLD, &ksp));
      PetscCall(KSPSetType(ksp, KSPCG));
      PetscCall(KSPGetPC(ksp, &pc));
      PetscCall(PCSetType(pc, PCGAMG));
      PetscCall(KSPSetTolerances(ksp, 1e-12, 1e-50, PETSC_DEFAULT, 2000));
      PetscCall(VecDuplicate(op->F, &sol));
      PetscCall(DMGetLocalVector(op->dm, &K));
      PetscCall(PFDarcyOpLocalCoef(op, g, K));
      PetscCall(PFDarcyOpSolveCoef(op, ksp, K, sol, &its));
      PetscCall(VecGetArrayRead(sol, &s));
      PetscCall(VecGetArrayRead(op1.mass, &m));
      PetscCall(PFDarcyOpVertexValues(op, s, pv));
      for (PetscInt i = 0; i < nv; i++) e[i] = pv[i] - P(op1.owncoords[2 * i], op1.owncoords[2 * i + 1]);
      PetscCall(SumSquares(nv, e, m, &e2));
      /* the residual of the discrete solution, all dofs of the solved operator */
      PetscCall(PFDarcyOpResidual(op, g, s, R));
      PetscCall(SumSquares(op->nown, R, NULL, &r2));
      err[l] = sqrt(e2);
      h[l]   = 1.0 / faces[l];
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  h = 1/%-3" PetscInt_FMT "  L2 error at the vertices %.4e  relative residual of the discrete solution %.2e (%" PetscInt_FMT " its)\n", faces[l], err[l], sqrt(r2) / op->fnorm, its));
      if (!(sqrt(r2) / op->fnorm < 1e-8)) fail = 1;
      if (order == 2 && l == 0) {
        double perr = 1, rate = 0;
        PetscCall(CheckVJP(op, g, s, &perr, &rate));
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "           VJP of the P2 residual: in p relative error %.1e, in log K Taylor remainder order %.3f\n", perr, rate));
        if (!(perr < 1e-8 && rate > 1.8 && rate < 2.2)) fail = 1;
      }
      PetscCall(VecRestoreArrayRead(sol, &s));
      if (order == 2) {
        /* information: the P1/Q1 residual of the P2 vertex values, and the
         * physics' path (vertex log K only) */
        for (PetscInt i = 0; i < nv; i++) gv[i] = G(op1.owncoords[2 * i], op1.owncoords[2 * i + 1]);
        PetscCall(PFDarcyOpResidual(&op1, gv, pv, R1));
        PetscCall(SumSquares(nv, R1, NULL, &r12));
        PetscCall(PFDarcyOpSolve(op, ksp, gv, sol, &its));
        PetscCall(VecGetArrayRead(sol, &s));
        PetscCall(PFDarcyOpVertexValues(op, s, pv));
        PetscCall(VecRestoreArrayRead(sol, &s));
        for (PetscInt i = 0; i < nv; i++) e[i] = pv[i] - P(op1.owncoords[2 * i], op1.owncoords[2 * i + 1]);
        PetscCall(SumSquares(nv, e, m, &e2));
        errv[l] = sqrt(e2);
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "           P1 residual of the P2 vertex values %.2e; log K from the vertices only: L2 error %.4e\n", sqrt(r12) / op1.fnorm, errv[l]));
      }
      PetscCall(VecRestoreArrayRead(op1.mass, &m));
      PetscCall(DMRestoreLocalVector(op->dm, &K));
      PetscCall(VecDestroy(&sol));
      PetscCall(KSPDestroy(&ksp));
      PetscCall(PetscFree6(g, gv, pv, e, R, R1));
      if (order == 2) PetscCall(PFDarcyOpDestroy(&op2));
      PetscCall(PFDarcyOpDestroy(&op1));
      PetscCall(PFMeshDestroy(&mesh));
    }
    for (int l = 1; l < 3; l++) {
      double rate = log(err[l - 1] / err[l]) / log(h[l - 1] / h[l]);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  observed order %d -> %d: %.3f", l - 1, l, rate));
      if (order == 2) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  (log K from the vertices only: %.3f)", log(errv[l - 1] / errv[l]) / log(h[l - 1] / h[l])));
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\n"));
      if (!(rate > (order == 1 ? 1.8 : 2.7))) fail = 1;
    }
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : (order == 1 ? "PASS: second-order L2 convergence" : "PASS: third-order L2 convergence")));
  PetscCall(PetscFinalize());
  return fail;
}
