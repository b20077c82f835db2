/* Endpoint fine-tuning of a Re-conditioned Navier-Stokes model in the
 * Newton-step error norm: the gradient with respect to the network's
 * parameters (back-propagation through 3 Heun steps of the sampler, the
 * Re field held, the exact gradient of |J^-1 R|_M at the samples) against
 * central differences along one parameter direction.  Also with the
 * squared residual (-constraint_norm l2), and with it the states' anchor
 * to a base sample (-endpoint_state_anchor).  Double-precision networks.
 * Then the Newton targets of -endpoint_newton (PFConstraintNewtonTarget):
 * repeated from a uniform flow, their error norms fall by 1e12 in 8 steps
 * (fast, though not quadratic: each step keeps only the vertex values of
 * the P2 update) and the held Re is copied.
 *   test_ns_endpoint -mesh dfg.msh   (1 or more ranks) */
#include <math.h>
#include <physflow.h>
#include "small_meshnet.h"
#include <physflow/physics.h>
#include <physflow/constraint.h>
#include <physflow/net.h>
#include <physflow/meshgraph.h>

/* the held Re field (normalised units) of trajectory b */
static PetscErrorCode FillRe(void *ctx, PetscInt it, PetscInt b, pfreal *x)
{
  const PetscInt nown = *(const PetscInt *)ctx;
  (void)it;
  for (PetscInt i = 0; i < nown; i++) x[i] = (pfreal)(0.2 + 0.1 * (double)b);
  return PETSC_SUCCESS;
}

int main(int argc, char **argv)
{
  PFPhysics         ph;
  PFMesh            mesh;
  PFMeshGraph       g;
  PFNet             net;
  PFConstraint      c;
  PetscInt          nown, n;
  const PetscInt   *nat, B = 2, nf = 4;
  const double      mean[4] = {40, 0.15, 0, 0.05}, std[4] = {10, 0.1, 0.05, 0.05};
  const char *const norms[3] = {"error", "l2", "l2"}, *const state_anchor[3] = {"0", "0", "0.5"};
  size_t            np;
  pfreal           *P, *Gr, *xt, *x1b, *dir;
  PetscBool        *held;
  int               fail = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
  PetscCall(PFPhysicsSetType(ph, "ns"));
  PetscCall(PFPhysicsSetFromOptions(ph));
  PetscCall(PFPhysicsSetUp(ph));
  PetscCall(PFPhysicsGetMesh(ph, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ph, &nown, &nat));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  PetscCall(PetscOptionsSetValue(NULL, "-endpoint_steps", "3"));
  PetscCall(PetscOptionsSetValue(NULL, "-endpoint_sampler", "heun"));
  PetscCall(TestSmallMeshNet(g, PFNETMESHUNET, nf, "1", "2", 5, 2.0, B, &net));
  PetscCall(PFNetGetParameters(net, &np, &P, &Gr));
  n = nf * nown;
  PetscCall(PetscMalloc4(n, &held, (size_t)B * n, &xt, (size_t)B * n, &x1b, np, &dir));
  for (PetscInt j = 0; j < n; j++) held[j] = (PetscBool)(j < nown);
  /* starting noise keyed by natural vertex: the same on any number of ranks */
  for (PetscInt i = 0; i < B * n; i++) {
    PFRNG r;
    PFRNGInit(&r, 3, PF_RNG_TEST, (uint64_t)(i / nown), (uint32_t)nat[i % nown]);
    xt[i]  = (pfreal)PFRNGNormal(&r);
    x1b[i] = 0;
  }
  for (size_t i = 0; i < np; i++) dir[i] = (pfreal)sin(1.0 + 0.7 * (double)i);
  for (int k = 0; k < 3; k++) {
    double an, fd, rel;
    PetscCall(PetscOptionsSetValue(NULL, "-constraint_norm", norms[k]));
    PetscCall(PetscOptionsSetValue(NULL, "-endpoint_state_anchor", state_anchor[k]));
    PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &c));
    PetscCall(PFConstraintSetPhysics(c, ph, mean, std));
    PetscCall(PFConstraintSetFromOptions(c));
    PetscCall(PFConstraintSetHeld(c, held, FillRe, &nown));
    PetscCall(PFEndpointCheck(c, net, B, xt, x1b, dir, 2.5e-6, &an, &fd));
    rel = fabs(an - fd) / PetscMax(fabs(fd), 1e-12);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  endpoint gradient, -constraint_norm %-5s -endpoint_state_anchor %-3s Re held: %.8e vs FD %.8e, rel %.2e (tol 1e-5) %s\n", norms[k], state_anchor[k], an, fd, rel, rel <= 1e-5 ? "ok" : "FAIL"));
    if (!(rel <= 1e-5)) fail = 1;
    PetscCall(PFConstraintDestroy(&c));
  }
  {
    /* Newton targets from the uniform flow u = 0.15, v = 0, p = 0.05 (zero in
     * normalised units) at the held Re of trajectory b: the steps' error
     * norms must fall to ~0, the Re entries stay */
    double  esq[2][8];
    pfreal *x = xt, *y = x1b;
    PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &c));
    PetscCall(PFConstraintSetPhysics(c, ph, mean, std));
    for (PetscInt b = 0; b < B; b++) {
      PetscCall(FillRe(&nown, 0, b, x + (size_t)b * n));
      for (PetscInt j = nown; j < n; j++) x[(size_t)b * n + j] = 0;
    }
    for (int k = 0; k < 8; k++) {
      double tmp[2];
      pfreal *sw;
      PetscCall(PFConstraintNewtonTarget(c, B, x, y, tmp));
      esq[0][k] = tmp[0], esq[1][k] = tmp[1];
      for (PetscInt b = 0; b < B; b++)
        for (PetscInt i = 0; i < nown; i++)
          if (y[(size_t)b * n + i] != x[(size_t)b * n + i]) fail = 1;
      sw = x, x = y, y = sw;
    }
    {
      /* the damped solver from the same flows, 7 steps: its steps are full
       * ones here (each lowers the norm), so it lands on the same states */
      double e0[2], e7[2];
      for (PetscInt b = 0; b < B; b++) {
        PetscCall(FillRe(&nown, 0, b, y + (size_t)b * n));
        for (PetscInt j = nown; j < n; j++) y[(size_t)b * n + j] = 0;
      }
      PetscCall(PFConstraintNewtonSolve(c, B, y, 7, x, e0, e7));
      for (PetscInt b = 0; b < B; b++) {
        const PetscBool ok = (PetscBool)(fabs(e0[b] - esq[b][0]) <= 1e-10 * esq[b][0] && fabs(e7[b] - esq[b][7]) <= 1e-3 * esq[b][7] + 1e-20);
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  damped Newton solve, state %" PetscInt_FMT ": squared error norm %.3e -> %.3e after 7 steps (the undamped steps' %.3e -> %.3e) %s\n", b, e0[b], e7[b], esq[b][0], esq[b][7], ok ? "ok" : "FAIL"));
        if (!ok) fail = 1;
      }
    }
    for (PetscInt b = 0; b < B; b++) {
      const PetscBool ok = (PetscBool)(esq[b][7] < 1e-12 * esq[b][0] && esq[b][0] > 0);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  Newton targets, state %" PetscInt_FMT ": squared error norm of steps 1..8: %.2e %.2e %.2e %.2e %.2e %.2e %.2e %.2e (want the last < 1e-12 x the first) %s\n", b, esq[b][0], esq[b][1], esq[b][2], esq[b][3], esq[b][4], esq[b][5], esq[b][6], esq[b][7], ok ? "ok" : "FAIL"));
      if (!ok) fail = 1;
    }
    PetscCall(PFConstraintDestroy(&c));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PetscFree4(held, xt, x1b, dir));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(PetscFinalize());
  return fail;
}
