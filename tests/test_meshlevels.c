/* The U-Net's mesh hierarchy (PFMeshLevels) on the box or a Gmsh mesh
 * (-test_mesh FILE), any number of ranks:
 *   - every level's weights sum to the domain area (the partition of unity
 *     carries the fine masses down exactly);
 *   - prolongation reproduces linear functions of the coarse coordinates;
 *   - restriction of a constant is that constant wherever the coarse weight
 *     is positive, and 0 outside the domain;
 *   - the transposes are adjoint: <P x, y> = <x, P^T y>, <R x, y> = <x, R^T y>
 *     (global dot products, rows of F = 3 values). */
#include <math.h>
#include <physflow/meshlevels.h>
#include <physflow/rng.h>

static double Dot(MPI_Comm comm, size_t n, const pfreal *a, const pfreal *b)
{
  double loc = 0, g;
  for (size_t i = 0; i < n; i++) loc += (double)a[i] * (double)b[i];
  MPI_Allreduce(&loc, &g, 1, MPI_DOUBLE, MPI_SUM, comm);
  return g;
}

static void Fill(PFMeshGraph g, PetscInt F, uint32_t key, pfreal *x)
{
  for (PetscInt i = 0; i < g->nown; i++) {
    PFRNG r;
    PFRNGInit(&r, 5, PF_RNG_TEST, key, (uint32_t)g->ownnat[i]);
    for (PetscInt f = 0; f < F; f++) x[(size_t)i * F + f] = (pfreal)PFRNGNormal(&r);
  }
}

int main(int argc, char **argv)
{
  PFMesh       mesh;
  PFMeshGraph  g;
  PFMeshLevels lv;
  char         file[PETSC_MAX_PATH_LEN] = "";
  PetscInt     faces = 16, L = 3, F = 3;
  double       e_area = 0, e_lin = 0, e_const = 0, e_adjP = 0, e_adjR = 0, area0 = 0;
  int          fail   = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-test_mesh", file, sizeof(file), NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-test_faces", &faces, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-mesh_levels", &L, NULL));
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, file, faces, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  PetscCall(PFMeshLevelsCreate(g, L, NULL, &lv));
  for (PetscInt i = 0; i < g->nown; i++) area0 += lv->w[0][i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &area0, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s, %" PetscInt_FMT " levels:", mesh->source, L));
  for (PetscInt l = 1; l < L; l++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %" PetscInt_FMT "x%" PetscInt_FMT, lv->faces[l][0], lv->faces[l][1]));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, " on [%.3g,%.3g]x[%.3g,%.3g]\n", lv->lo[0], lv->hi[0], lv->lo[1], lv->hi[1]));
  for (PetscInt l = 0; l + 1 < L; l++) {
    PFMeshTransfer *T  = &lv->T[l];
    PFMeshGraph     gf = lv->graph[l], gc = lv->graph[l + 1];
    pfreal         *xf, *yf, *xc, *yc;
    double          area = 0;
    PetscCall(PetscMalloc4((size_t)gf->nown * F + 1, &xf, (size_t)gf->nown * F + 1, &yf, (size_t)gc->nown * F + 1, &xc, (size_t)gc->nown * F + 1, &yc));
    for (PetscInt j = 0; j < gc->nown; j++) area += lv->w[l + 1][j];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &area, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    e_area = PetscMax(e_area, fabs(area - area0) / area0);
    /* linear functions 1, x, y of the coarse coordinates */
    for (PetscInt j = 0; j < gc->nown; j++) {
      xc[3 * j]     = 1;
      xc[3 * j + 1] = (pfreal)gc->xy[2 * j];
      xc[3 * j + 2] = (pfreal)(2 * gc->xy[2 * j + 1] - gc->xy[2 * j]);
    }
    PetscCall(PFMeshTransferProlong(T, 3, xc, yf));
    for (PetscInt i = 0; i < gf->nown; i++) {
      e_lin = PetscMax(e_lin, fabs((double)yf[3 * i] - 1));
      e_lin = PetscMax(e_lin, fabs((double)yf[3 * i + 1] - gf->xy[2 * i]));
      e_lin = PetscMax(e_lin, fabs((double)yf[3 * i + 2] - (2 * gf->xy[2 * i + 1] - gf->xy[2 * i])));
    }
    for (size_t i = 0; i < (size_t)gf->nown * F; i++) xf[i] = (pfreal)2.5;
    PetscCall(PFMeshTransferRestrict(T, F, xf, yc));
    for (PetscInt j = 0; j < gc->nown; j++)
      for (PetscInt f = 0; f < F; f++) e_const = PetscMax(e_const, fabs((double)yc[3 * j + f] - (lv->w[l + 1][j] > 0 ? 2.5 : 0)));
    /* adjoints */
    Fill(gf, F, 1, xf);
    Fill(gc, F, 2, xc);
    PetscCall(PFMeshTransferProlong(T, F, xc, yf));
    PetscCall(PFMeshTransferProlongTranspose(T, F, xf, yc));
    {
      double a = Dot(PETSC_COMM_WORLD, (size_t)gf->nown * F, yf, xf), b = Dot(PETSC_COMM_WORLD, (size_t)gc->nown * F, xc, yc);
      e_adjP   = PetscMax(e_adjP, fabs(a - b) / fabs(a));
    }
    PetscCall(PFMeshTransferRestrict(T, F, xf, yc));
    PetscCall(PFMeshTransferRestrictTranspose(T, F, xc, yf));
    {
      double a = Dot(PETSC_COMM_WORLD, (size_t)gc->nown * F, yc, xc), b = Dot(PETSC_COMM_WORLD, (size_t)gf->nown * F, xf, yf);
      e_adjR   = PetscMax(e_adjR, fabs(a - b) / fabs(a));
    }
    PetscCall(PetscFree4(xf, yf, xc, yc));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "level weights vs area %.2e, P(linear) %.2e, R(const) %.2e, adjoint P %.2e, R %.2e\n", e_area, e_lin, e_const, e_adjP, e_adjR));
  /* float (pfreal) arithmetic: 1e-5 relative */
  if (e_area > 1e-5 || e_lin > 1e-5 || e_const > 1e-5 || e_adjP > 1e-5 || e_adjR > 1e-5) fail = 1;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PFMeshLevelsDestroy(&lv));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFMeshDestroy(&mesh));
  PetscCall(PetscFinalize());
  return fail;
}
