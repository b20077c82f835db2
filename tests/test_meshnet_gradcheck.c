/* Gradient check of the whole mesh network (double build) on a distributed
 * mesh: every parameter (its gradient being the allreduced sum of the
 * ranks' partial sums, as the trainer forms it) and the inputs, against
 * central differences of the global loss L = sum(v * R).  1 and 2 ranks. */
#include <math.h>
#include <physflow.h>
#include "small_meshnet.h"
#include <physflow/meshgraph.h>
#include <physflow/private/netimpl.h>

static PetscErrorCode Loss(PFNet net, PetscInt B, const pfreal *x, const pfreal *t, const pfreal *R, pfreal *v, double *L)
{
  double loc = 0;
  PetscFunctionBegin;
  PetscCall(PFNetForward(net, B, x, t, v));
  for (PetscInt i = 0; i < B * net->nin; i++) loc += (double)v[i] * (double)R[i];
  PetscCallMPI(MPI_Allreduce(&loc, L, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFMesh      mesh;
  PFMeshGraph g;
  PFNet       net;
  PetscInt    B = 2, F = 2, nin;
  size_t      np;
  pfreal     *P, *Gr, *x, *dx, *v, *R, t[2] = {0.3, 0.8};
  double      L, e_par = 0, e_in = 0;
  const double h = 1e-6;
  int         fail = 0;
  char     type[64] = PFNETMESH, file[PETSC_MAX_PATH_LEN] = "";
  PetscInt faces    = 5;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  /* -test_net_type meshunet -mesh_levels L: the U-Net; -test_mesh FILE: a Gmsh mesh */
  PetscCall(PetscOptionsGetString(NULL, NULL, "-test_net_type", type, sizeof(type), NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-test_mesh", file, sizeof(file), NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-test_faces", &faces, NULL));
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, file, faces, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  {
    /* the boundary vertices (-mesh_geometry_features' flag channel): their
     * global count must not depend on the partition (-test_boundary_vertices N) */
    PetscInt *flag, cnt = 0, expect = -1;
    PetscCall(PetscOptionsGetInt(NULL, NULL, "-test_boundary_vertices", &expect, NULL));
    PetscCall(PetscMalloc1(g->nown + 1, &flag));
    PetscCall(PFMeshGraphBoundaryVertices(g, flag));
    for (PetscInt i = 0; i < g->nown; i++) cnt += flag[i];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &cnt, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "boundary vertices: %" PetscInt_FMT "%s\n", cnt, expect < 0 ? "" : (cnt == expect ? " (as expected)" : " (WRONG)")));
    if (expect >= 0 && cnt != expect) fail = 1;
    PetscCall(PetscFree(flag));
  }
  /* -mesh_levels from the command line */
  PetscCall(TestSmallMeshNet(g, type, F, "2", NULL, 11, 1.0, B, &net));
  PetscCall(PFNetGetParameters(net, &np, &P, &Gr));
  nin = net->nin;
  PetscCall(PetscMalloc4(B * nin + 1, &x, B * nin + 1, &dx, B * nin + 1, &v, B * nin + 1, &R));
  for (PetscInt i = 0; i < g->nown; i++) {
    PFRNG r;
    PFRNGInit(&r, 2, PF_RNG_TEST, 0, (uint32_t)g->ownnat[i]);
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < F; f++) {
        x[b * nin + f * g->nown + i] = (pfreal)PFRNGNormal(&r);
        R[b * nin + f * g->nown + i] = (pfreal)PFRNGNormal(&r);
      }
  }
  PetscCall(Loss(net, B, x, t, R, v, &L));
  PetscCall(PFNetZeroGradient(net));
  PetscCall(PFNetBackward(net, B, R, dx));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, Gr, (PetscMPIInt)np, MPIU_PFREAL, MPI_SUM, PETSC_COMM_WORLD));
  for (size_t i = 0; i < np; i++) {
    double Lp, Lm, p0 = P[i], fd;
    P[i] = (pfreal)(p0 + h);
    PetscCall(Loss(net, B, x, t, R, v, &Lp));
    P[i] = (pfreal)(p0 - h);
    PetscCall(Loss(net, B, x, t, R, v, &Lm));
    P[i]  = (pfreal)p0;
    fd    = (Lp - Lm) / (2 * h);
    e_par = PetscMax(e_par, fabs(fd - Gr[i]) / PetscMax(1e-2, fabs(fd)));
  }
  for (PetscInt vn = 0; vn < mesh->nvert; vn += 2)
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < F; f++) {
        PetscInt own = -1;
        double   Lp, Lm, an = 0, fd;
        for (PetscInt i = 0; i < g->nown; i++)
          if (g->ownnat[i] == vn) own = b * nin + f * g->nown + i;
        pfreal x0 = own >= 0 ? x[own] : 0;
        if (own >= 0) x[own] = (pfreal)(x0 + h);
        PetscCall(Loss(net, B, x, t, R, v, &Lp));
        if (own >= 0) x[own] = (pfreal)(x0 - h);
        PetscCall(Loss(net, B, x, t, R, v, &Lm));
        if (own >= 0) {
          x[own] = x0;
          an     = dx[own];
        }
        PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &an, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
        fd   = (Lp - Lm) / (2 * h);
        e_in = PetscMax(e_in, fabs(fd - an) / PetscMax(1e-2, fabs(fd)));
      }
  PetscCall(PFNetView(net, NULL));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "whole mesh network: max relative gradient error %.2e over %zu parameters, %.2e over inputs\n", e_par, np, e_in));
  /* the bar for the double build is 1e-4; central differences with
   * h = 1e-6 typically land near 1e-7 here */
  if (e_par > 1e-5 || e_in > 1e-5) fail = 1;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PetscFree4(x, dx, v, R));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFMeshDestroy(&mesh));
  PetscCall(PetscFinalize());
  return fail;
}
