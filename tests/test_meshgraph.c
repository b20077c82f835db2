/* The mesh network's sparse operators (PFMeshGraph) on a distributed mesh:
 *  - exactness: DX(x) = h and DY(x) = 0 everywhere, AVG(1) = 1, and
 *    LAP(x^2) = 2 h^2 at interior vertices of the uniform box;
 *  - adjoint: <Y, A X> = <A^T Y, X> for the four operators at once;
 *  - partition independence: the result gathered in natural order equals the
 *    serial (one-rank) result on rank 0;
 *  - the owned order is the PFPhysics field order (same natural indices).
 * Run on 1, 2 and 4 ranks; box and a Gmsh-like unstructured mesh if given
 * with -mesh. */
#include <math.h>
#include <physflow.h>
#include <physflow/meshgraph.h>
#include <physflow/physics.h>

static PetscErrorCode Coords(PFMesh mesh, PFMeshGraph g, double *xy)
{
  double *all;
  PetscFunctionBegin;
  PetscCall(PetscMalloc1(2 * mesh->nvert, &all));
  PetscMPIInt rank;
  PetscCallMPI(MPI_Comm_rank(mesh->comm, &rank));
  if (rank == 0) PetscCall(PetscArraycpy(all, mesh->coords, 2 * mesh->nvert));
  PetscCallMPI(MPI_Bcast(all, (PetscMPIInt)(2 * mesh->nvert), MPI_DOUBLE, 0, mesh->comm));
  for (PetscInt i = 0; i < g->nown; i++) {
    xy[2 * i]     = all[2 * g->ownnat[i]];
    xy[2 * i + 1] = all[2 * g->ownnat[i] + 1];
  }
  PetscCall(PetscFree(all));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the four operators of natural-keyed random rows, gathered on rank 0 */
static PetscErrorCode ApplyNatural(PFMesh mesh, PFMeshGraph g, PetscInt F, double *nat)
{
  const PFMeshOpKind kinds[4] = {PF_MESHOP_DX, PF_MESHOP_DY, PF_MESHOP_LAP, PF_MESHOP_AVG};
  pfreal            *X, *Y;
  PetscScalar       *col;
  double            *tmp = NULL;
  PetscMPIInt        rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(mesh->comm, &rank));
  PetscCall(PetscMalloc3(g->nown * F + 1, &X, g->nown * 4 * F + 1, &Y, g->nown + 1, &col));
  if (rank == 0) PetscCall(PetscMalloc1(mesh->nvert, &tmp));
  for (PetscInt i = 0; i < g->nown; i++) {
    PFRNG r;
    PFRNGInit(&r, 5, PF_RNG_TEST, 0, (uint32_t)g->ownnat[i]);
    for (PetscInt f = 0; f < F; f++) X[i * F + f] = (pfreal)PFRNGNormal(&r);
  }
  PetscCall(PFMeshGraphApply(g, 4, kinds, F, X, Y));
  for (PetscInt c = 0; c < 4 * F; c++) {
    for (PetscInt i = 0; i < g->nown; i++) col[i] = Y[i * 4 * F + c];
    PetscCall(PFGatherNatural(mesh->comm, g->nown, g->ownnat, mesh->nvert, col, tmp));
    if (rank == 0)
      for (PetscInt v = 0; v < mesh->nvert; v++) nat[v * 4 * F + c] = tmp[v];
  }
  PetscCall(PetscFree3(X, Y, col));
  PetscCall(PetscFree(tmp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFMesh             mesh;
  PFMeshGraph        g;
  char               file[PETSC_MAX_PATH_LEN] = "";
  PetscInt           faces = 12, F = 3;
  PetscMPIInt        rank, size;
  int                fail = 0;
  const PFMeshOpKind kinds[4] = {PF_MESHOP_DX, PF_MESHOP_DY, PF_MESHOP_LAP, PF_MESHOP_AVG};

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PFInitializePackage());
  PetscCall(PetscOptionsGetString(NULL, NULL, "-mesh", file, sizeof(file), NULL));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, file, faces, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  {
    /* exactness on polynomials */
    pfreal *X, *Y;
    double *xy, e_dx = 0, e_dy = 0, e_avg = 0, e_lap = 0, loc[4], glob[4];
    PetscCall(PetscMalloc3(g->nown * 2 + 1, &X, g->nown * 8 + 1, &Y, 2 * g->nown + 1, &xy));
    PetscCall(Coords(mesh, g, xy));
    for (PetscInt i = 0; i < g->nown; i++) {
      X[2 * i]     = (pfreal)xy[2 * i];                  /* x   */
      X[2 * i + 1] = (pfreal)(xy[2 * i] * xy[2 * i]);    /* x^2 */
    }
    PetscCall(PFMeshGraphApply(g, 4, kinds, 2, X, Y));
    for (PetscInt i = 0; i < g->nown; i++) {
      const pfreal *y = Y + 8 * i; /* [DX x, DX x^2, DY x, DY x^2, LAP x, LAP x^2, AVG x, AVG x^2] */
      e_dx = PetscMax(e_dx, fabs(y[0] - g->h));
      e_dy = PetscMax(e_dy, fabs((double)y[2]));
      /* mass smoothing reproduces linears only on symmetric (box) stencils */
      if (!file[0]) e_avg = PetscMax(e_avg, fabs(y[6] - xy[2 * i]) * (xy[2 * i] > 1e-9 && xy[2 * i] < 1 - 1e-9 ? 1 : 0));
      if (!file[0] && xy[2 * i] > 1e-9 && xy[2 * i] < 1 - 1e-9 && xy[2 * i + 1] > 1e-9 && xy[2 * i + 1] < 1 - 1e-9) e_lap = PetscMax(e_lap, fabs(y[5] - 2 * g->h * g->h));
    }
    loc[0] = e_dx;
    loc[1] = e_dy;
    loc[2] = e_avg;
    loc[3] = e_lap;
    PetscCallMPI(MPI_Allreduce(loc, glob, 4, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "h = %.4f; max errors: DX(x) - h %.2e, DY(x) %.2e, AVG(x) - x (interior) %.2e, LAP(x^2) - 2h^2 (interior) %.2e\n", g->h, glob[0], glob[1], glob[2], glob[3]));
    if (glob[0] > 1e-5 || glob[1] > 1e-5 || glob[2] > 1e-5 || glob[3] > 1e-5) fail = 1;
    PetscCall(PetscFree3(X, Y, xy));
  }
  {
    /* adjoint test with all four operators at once */
    pfreal *X, *Y, *AX, *ATY;
    double  loc[2] = {0, 0}, glob[2];
    PetscCall(PetscMalloc4(g->nown * F + 1, &X, g->nown * 4 * F + 1, &Y, g->nown * 4 * F + 1, &AX, g->nown * F + 1, &ATY));
    for (PetscInt i = 0; i < g->nown; i++) {
      PFRNG r;
      PFRNGInit(&r, 7, PF_RNG_TEST, 1, (uint32_t)g->ownnat[i]);
      for (PetscInt f = 0; f < F; f++) X[i * F + f] = (pfreal)PFRNGNormal(&r);
      for (PetscInt f = 0; f < 4 * F; f++) Y[i * 4 * F + f] = (pfreal)PFRNGNormal(&r);
    }
    PetscCall(PFMeshGraphApply(g, 4, kinds, F, X, AX));
    PetscCall(PFMeshGraphApplyTranspose(g, 4, kinds, F, Y, 0, ATY));
    for (PetscInt i = 0; i < g->nown * 4 * F; i++) loc[0] += (double)Y[i] * (double)AX[i];
    for (PetscInt i = 0; i < g->nown * F; i++) loc[1] += (double)ATY[i] * (double)X[i];
    PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    double rel = fabs(glob[0] - glob[1]) / fabs(glob[0]);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "adjoint: <Y, AX> = %.10e, <A^T Y, X> = %.10e, relative difference %.2e\n", glob[0], glob[1], rel));
    if (rel > 1e-5) fail = 1;
    PetscCall(PetscFree4(X, Y, AX, ATY));
  }
  {
    /* partition independence: compare with a serial graph on rank 0 */
    double *par = NULL, *ser = NULL;
    if (rank == 0) PetscCall(PetscMalloc2(mesh->nvert * 4 * F, &par, mesh->nvert * 4 * F, &ser));
    PetscCall(ApplyNatural(mesh, g, F, par));
    if (rank == 0) {
      PFMesh      m1;
      PFMeshGraph g1;
      double      maxd = 0, maxv = 0;
      PetscCall(PFMeshCreate(PETSC_COMM_SELF, file, faces, &m1));
      PetscCall(PFMeshGraphCreate(m1, &g1));
      PetscCall(ApplyNatural(m1, g1, F, ser));
      for (PetscInt i = 0; i < mesh->nvert * 4 * F; i++) {
        maxd = PetscMax(maxd, fabs(par[i] - ser[i]));
        maxv = PetscMax(maxv, fabs(ser[i]));
      }
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "%d rank(s) vs serial: max difference %.2e (max value %.2e)\n", size, maxd, maxv));
      if (maxd > 1e-5 * maxv) fail = 1;
      PetscCall(PFMeshGraphDestroy(&g1));
      PetscCall(PFMeshDestroy(&m1));
      PetscCall(PetscFree2(par, ser));
    }
    PetscCallMPI(MPI_Bcast(&fail, 1, MPI_INT, 0, PETSC_COMM_WORLD));
  }
  {
    /* a graph built on the physics' own (distributed) mesh sees fields in
     * the physics' order, so network inputs need no permutation */
    PFPhysics       ph;
    PFMesh          pm;
    PFMeshGraph     pg;
    PetscInt        n;
    const PetscInt *nat;
    PetscInt        bad = 0, gbad;
    if (file[0]) PetscCall(PetscOptionsSetValue(NULL, "-mesh", file));
    else PetscCall(PetscOptionsSetValue(NULL, "-mesh_faces", "12"));
    PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
    PetscCall(PFPhysicsSetFromOptions(ph));
    PetscCall(PFPhysicsSetUp(ph));
    PetscCall(PFPhysicsGetMesh(ph, &pm));
    PetscCall(PFMeshGraphCreate(pm, &pg));
    PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
    if (n != pg->nown) bad = 1;
    else
      for (PetscInt i = 0; i < n; i++) bad += nat[i] != pg->ownnat[i];
    PetscCallMPI(MPI_Allreduce(&bad, &gbad, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "owned order of PFPhysics and a PFMeshGraph on its mesh: %s\n", gbad ? "DIFFERENT" : "identical"));
    if (gbad) fail = 1;
    PetscCall(PFMeshGraphDestroy(&pg));
    PetscCall(PFPhysicsDestroy(&ph));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFMeshDestroy(&mesh));
  PetscCall(PetscFinalize());
  return fail;
}
