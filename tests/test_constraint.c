/* Physics in training (issue 6), double build:
 *  - ConFIG on known and random (conflicting) gradient pairs: the result
 *    has non-negative inner products with both, equal projections on the
 *    unit gradients, and the known closed forms;
 *  - the full PBFM residual loss (unrolled Euler estimate of x1 through a
 *    3-level mesh U-Net, de-normalisation, Darcy residual, L1) against
 *    central differences, for every parameter and for 1 and 3 unrolled
 *    steps;
 *  - adjoint matching's lean adjoint against central differences of the
 *    SDE rollout's residual;
 *  - the state losses (-constraint_norm l2 and error) against central
 *    differences, and the error norm's value on solver states: 0 on a
 *    solution, |delta|_M^2/|u0|_M^2 on a solution with p moved by delta.
 *  - endpoint fine-tuning's back-propagation through the Euler and Heun
 *    samplers (error norm + input anchor) against central differences;
 *  1 or more ranks.  -test_mesh FILE (e.g. a Gmsh mesh with
 *  -darcy_dirichlet) runs only the state-loss checks, on that mesh. */
#include <math.h>
#include <physflow.h>
#include "small_meshnet.h"
#include <physflow/constraint.h>
#include <physflow/inverse.h>
#include <physflow/meshgraph.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>

static int fail = 0;

static void Check(const char *what, double err, double tol)
{
  PetscPrintf(PETSC_COMM_WORLD, "  %-62s %.2e (tol %.0e) %s\n", what, err, tol, err <= tol ? "ok" : "FAIL");
  if (!(err <= tol)) fail = 1;
}

/* the held first field of trajectory b (ctx: the number of owned vertices) */
static PetscErrorCode FillHeldTest(void *ctx, PetscInt it, PetscInt b, pfreal *x)
{
  const PetscInt nown = *(const PetscInt *)ctx;
  for (PetscInt i = 0; i < nown; i++) x[i] = (pfreal)(0.3 + 0.1 * (double)(b + it));
  return PETSC_SUCCESS;
}

static PetscErrorCode TestConFIG(void)
{
  pfreal out[4];
  double maxneg = 0, maxproj = 0;

  PetscFunctionBegin;
  {
    const pfreal a[2] = {1, 0}, b[2] = {0, 1};
    PetscCall(PFConFIGCombine(MPI_COMM_SELF, 2, a, b, out));
    Check("ConFIG of orthogonal unit vectors is their sum", fabs(out[0] - 1) + fabs(out[1] - 1), 1e-12);
  }
  {
    const pfreal a[2] = {1, 0}, b[2] = {3, 0};
    PetscCall(PFConFIGCombine(MPI_COMM_SELF, 2, a, b, out));
    Check("ConFIG of parallel vectors is their sum", fabs(out[0] - 4) + fabs(out[1]), 1e-12);
  }
  {
    const pfreal a[2] = {1, 0}, b[2] = {-2, 0};
    PetscCall(PFConFIGCombine(MPI_COMM_SELF, 2, a, b, out));
    Check("ConFIG of opposed vectors is zero", fabs(out[0]) + fabs(out[1]), 1e-12);
  }
  for (int trial = 0; trial < 200; trial++) {
    pfreal a[4], b[4];
    double da = 0, db = 0, na = 0, nb = 0;
    PFRNG  r;
    PFRNGInit(&r, 3, PF_RNG_TEST, 7, (uint32_t)trial);
    for (int i = 0; i < 4; i++) {
      a[i] = (pfreal)PFRNGNormal(&r);
      b[i] = (pfreal)(PFRNGNormal(&r) - 0.8 * a[i]); /* often conflicting */
    }
    PetscCall(PFConFIGCombine(MPI_COMM_SELF, 4, a, b, out));
    for (int i = 0; i < 4; i++) {
      da += out[i] * a[i];
      db += out[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    maxneg  = PetscMax(maxneg, PetscMax(-da, -db));
    maxproj = PetscMax(maxproj, fabs(da / sqrt(na) - db / sqrt(nb)) / (fabs(da / sqrt(na)) + 1e-300));
  }
  Check("ConFIG, 200 random pairs: most negative g.g_i", PetscMax(maxneg, 0), 1e-12);
  Check("ConFIG, 200 random pairs: unequal unit projections (rel)", maxproj, 1e-10);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* L = (1/B) sum_b t_b |R(denorm(x1_hat_b))|_1 / |F|_1 and its gradient */
static PetscErrorCode Loss(PFConstraint c, PFNet net, PetscInt B, const pfreal *xt, const pfreal *t, pfreal *v, PetscInt nun, double *L)
{
  double loc;

  PetscFunctionBegin;
  PetscCall(PFNetForward(net, B, xt, t, v));
  PetscCall(PFConstraintResidualGradient(c, net, B, B, xt, t, v, nun, &loc, NULL));
  PetscCallMPI(MPI_Allreduce(&loc, L, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  *L /= B;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* sum over the group of the state loss of B normalised states */
static PetscErrorCode StateLoss(PFConstraint c, PetscInt B, const pfreal *x, pfreal *gx, double *L)
{
  double w[4] = {1, 1, 1, 1}, loc;

  PetscFunctionBegin;
  PetscCall(PFConstraintStateLoss(c, B, 1, x, w, &loc, gx));
  PetscCallMPI(MPI_Allreduce(&loc, L, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestStateLosses(PFPhysics ph, const double mean[2], const double std[2])
{
  PFConstraint       c;
  PetscInt           nown, n;
  const PetscInt    *nat;
  const PetscScalar *mass;
  const PetscInt     B = 2;
  PetscScalar       *xs, *u0;
  pfreal            *x, *gx, *dir;
  double             E0 = 0, dd = 0, h = 1e-6;
  char               what[96];

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ph, &nown, &nat));
  PetscCall(PFPhysicsGetVertexMass(ph, &mass));
  n = 2 * nown;
  PetscCall(PetscMalloc5((size_t)B * n, &xs, n, &u0, (size_t)B * n, &x, (size_t)B * n, &gx, (size_t)B * n, &dir));
  /* u0: the solution for zero inputs; two solver states; delta = sin field */
  PetscCall(PetscArrayzero(u0, n));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 1, 0, u0));
  for (PetscInt i = 0; i < nown; i++) E0 += PetscRealPart(mass[i] * u0[nown + i] * u0[nown + i]);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &E0, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  for (PetscInt b = 0; b < B; b++) {
    PetscCall(PFPhysicsDrawInputs(ph, 7, b, xs + b * n));
    PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 7, b, xs + b * n));
  }
  for (PetscInt i = 0; i < nown; i++) {
    PFRNG r;
    PFRNGInit(&r, 13, PF_RNG_TEST, 3, (uint32_t)nat[i]);
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < 2; f++) dir[b * n + f * nown + i] = (pfreal)PFRNGNormal(&r);
  }
  PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &c));
  PetscCall(PFConstraintSetPhysics(c, ph, mean, std));
  for (PetscInt norm = PF_NORM_L2; norm <= PF_NORM_ERROR2; norm++) {
    double L, Lp, Lm, an = 0;
    PetscCall(PFConstraintSetDefaultNorm(c, (PFConstraintNorm)norm, 0));
    /* a generic state: the solver states plus noise */
    for (PetscInt j = 0; j < B * n; j++) {
      PetscInt f = (j % n) / nown;
      x[j]       = (pfreal)((PetscRealPart(xs[j]) - mean[f]) / std[f] + 0.3 * dir[j]);
    }
    PetscCall(StateLoss(c, B, x, gx, &L));
    for (PetscInt j = 0; j < B * n; j++) an += (double)gx[j] * (double)dir[(j + nown) % (B * n)];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &an, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    for (PetscInt j = 0; j < B * n; j++) x[j] += (pfreal)h * dir[(j + nown) % (B * n)];
    PetscCall(StateLoss(c, B, x, gx, &Lp));
    for (PetscInt j = 0; j < B * n; j++) x[j] -= (pfreal)(2 * h) * dir[(j + nown) % (B * n)];
    PetscCall(StateLoss(c, B, x, gx, &Lm));
    PetscCall(PetscSNPrintf(what, sizeof(what), "state loss -constraint_norm %s: gradient vs FD (L = %.3e)", PFConstraintNorms[norm], L));
    Check(what, fabs((Lp - Lm) / (2 * h) - an) / PetscMax(fabs(an), 1e-12), 1e-6);
  }
  /* the squared error norm's value: 0 on the solutions, |delta - mean|_M^2 / E0 */
  {
    double L0, L1;
    for (PetscInt j = 0; j < B * n; j++) {
      PetscInt f = (j % n) / nown;
      x[j]       = (pfreal)((PetscRealPart(xs[j]) - mean[f]) / std[f]);
    }
    PetscCall(StateLoss(c, B, x, gx, &L0));
    for (PetscInt i = 0; i < nown; i++) {
      double delta = 0.01 * sin(3.0 * nat[i]) + 0.003;
      x[nown + i] += (pfreal)(delta / std[1]);
    }
    PetscCall(StateLoss(c, B, x, gx, &L1));
    /* the distance to the solver's solution: with Dirichlet data, or pure
     * Neumann with the solver's zero mean, all of delta is an error */
    for (PetscInt i = 0; i < nown; i++) {
      double delta = 0.01 * sin(3.0 * nat[i]) + 0.003;
      dd += PetscRealPart(mass[i]) * delta * delta;
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dd, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    Check("error norm of solver states (relative to |u0|_M^2 = 1)", L0 * 1, 1e-16);
    PetscCall(PetscSNPrintf(what, sizeof(what), "error norm of a solution + delta vs |delta|_M^2/|u0|_M^2 (%.3e)", dd / E0));
    Check(what, fabs(L1 - dd / E0) / (dd / E0), 1e-8);
  }
  PetscCall(PFConstraintDestroy(&c));
  PetscCall(PetscFree5(xs, u0, x, gx, dir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A state whose solve fails is left out of the error norms' loss: no error,
 * counted, zero gradient, and the other state's loss and gradient as if it
 * were alone.  The failure is made certain: K = 0 (logK = -800) gives a
 * zero matrix, on which CG breaks down at once (p^T A p = 0: indefinite);
 * Jacobi instead of GAMG, which would not set up on it. */
static PetscErrorCode TestFailedSolveLeftOut(const double mean[2], const double std[2])
{
  PFPhysics          ph;
  PFConstraint       c;
  PetscInt           nown, n, nfailed;
  const PetscInt    *nat;
  PetscScalar       *xs;
  pfreal            *x, *g2, *g1;
  double             L2, L1, gmax = 0, dg = 0, gfail = 0, w[2] = {1, 1};

  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_pc_type", "jacobi"));
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
  PetscCall(PFPhysicsSetType(ph, "darcy"));
  PetscCall(PFPhysicsSetFromOptions(ph));
  PetscCall(PFPhysicsSetUp(ph));
  PetscCall(PetscOptionsClearValue(NULL, "-darcy_pc_type"));
  PetscCall(PFPhysicsGetVertexMap(ph, &nown, &nat));
  n = 2 * nown;
  PetscCall(PetscMalloc4(n, &xs, 2 * n, &x, 2 * n, &g2, n, &g1));
  PetscCall(PFPhysicsDrawInputs(ph, 7, 0, xs));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 7, 0, xs));
  for (PetscInt i = 0; i < nown; i++) {
    x[i]            = (pfreal)((PetscRealPart(xs[i]) - mean[0]) / std[0]);
    x[nown + i]     = (pfreal)((PetscRealPart(xs[nown + i]) + 0.01 * sin(3.0 * nat[i]) - mean[1]) / std[1]);
    x[n + i]        = (pfreal)((-800 - mean[0]) / std[0]);
    x[n + nown + i] = 0;
  }
  PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &c));
  PetscCall(PFConstraintSetPhysics(c, ph, mean, std));
  PetscCall(PFConstraintSetDefaultNorm(c, PF_NORM_ERROR2, 0));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL)); /* the caught failure prints nothing */
  PetscCall(PFConstraintStateLoss(c, 2, 1, x, w, &L2, g2));
  PetscCall(PetscPopErrorHandler());
  PetscCall(PFConstraintGetFailedSolves(c, &nfailed));
  PetscCall(PFConstraintStateLoss(c, 1, 1, x, w, &L1, g1));
  for (PetscInt j = 0; j < n; j++) {
    gmax  = PetscMax(gmax, fabs((double)g1[j]));
    dg    = PetscMax(dg, fabs((double)(g2[j] - g1[j])));
    gfail = PetscMax(gfail, fabs((double)g2[n + j]));
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &L1, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &L2, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &gmax, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dg, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &gfail, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  Check("failed solve left out: states counted (want 1)", fabs((double)nfailed - 1), 0);
  Check("failed solve left out: the other state's loss as alone", fabs(L2 - L1) / PetscMax(L1, 1e-300), 1e-12);
  Check("failed solve left out: the other state's gradient as alone", dg / PetscMax(gmax, 1e-300), 1e-12);
  Check("failed solve left out: its own gradient", gfail, 0);
  PetscCall(PFConstraintDestroy(&c));
  PetscCall(PetscFree4(xs, x, g2, g1));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A model of p alone lifted to the physics' state [phi(p), p] by a
 * predictor phi (PFLatentLift): the lifted loss is the loss of the lifted
 * state, and its gradient (through phi's VJP) matches central differences,
 * for the l2 and error2 norms */
static PetscErrorCode TestLiftedStateLoss(PFPhysics ph, PFMeshGraph g, const double mean[2], const double std[2])
{
  const PetscInt     B = 2;
  PFConstraint       c, cf;
  PFLatent           lt;
  PetscInt           nown;
  const PetscInt    *nat;
  PetscScalar       *xs;
  pfreal            *xp, *full, *gp, *gf, *dir;
  double             h = 1e-6;
  char               what[96];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&lt, sizeof(lt)));
  PetscCall(PFPhysicsGetVertexMap(ph, &nown, &nat));
  PetscCall(TestSmallMeshNet(g, PFNETMESHUNET, 1, "1", "2", 9, 1.0, B, &lt.phi));
  lt.phys = ph, lt.ninputs = 1, lt.nstate = 1, lt.nown = nown;
  PetscCall(PFLatentSetUp(&lt, B));
  PetscCall(PetscMalloc6((size_t)2 * nown, &xs, (size_t)B * nown, &xp, (size_t)B * 2 * nown, &full, (size_t)B * nown, &gp, (size_t)B * 2 * nown, &gf, (size_t)B * nown, &dir));
  for (PetscInt b = 0; b < B; b++) {
    PetscCall(PFPhysicsDrawInputs(ph, 11, b, xs));
    PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 11, b, xs));
    for (PetscInt i = 0; i < nown; i++) {
      PFRNG r;
      PFRNGInit(&r, 17, PF_RNG_TEST, (uint64_t)b, (uint32_t)nat[i]);
      xp[b * nown + i]  = (pfreal)((PetscRealPart(xs[nown + i]) - mean[1]) / std[1] + 0.1 * PFRNGNormal(&r));
      dir[b * nown + i] = (pfreal)PFRNGNormal(&r);
    }
  }
  PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &c));
  PetscCall(PFConstraintSetPhysics(c, ph, mean, std));
  PetscCall(PFConstraintSetStateLift(c, 1, PFLatentLift, PFLatentLiftVJP, &lt));
  PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &cf));
  PetscCall(PFConstraintSetPhysics(cf, ph, mean, std));
  for (PetscInt norm = PF_NORM_L2; norm <= PF_NORM_ERROR2; norm += PF_NORM_ERROR2 - PF_NORM_L2) {
    double L, Lf, Lp, Lm, an = 0;
    PetscCall(PFConstraintSetDefaultNorm(c, (PFConstraintNorm)norm, 0));
    PetscCall(PFConstraintSetDefaultNorm(cf, (PFConstraintNorm)norm, 0));
    PetscCall(StateLoss(c, B, xp, gp, &L));
    PetscCall(PFLatentLift(&lt, B, xp, full));
    PetscCall(StateLoss(cf, B, full, gf, &Lf));
    PetscCall(PetscSNPrintf(what, sizeof(what), "lifted state loss %s: the loss of [phi(p), p]", PFConstraintNorms[norm]));
    Check(what, fabs(L - Lf) / PetscMax(fabs(Lf), 1e-300), 1e-12);
    for (PetscInt q = 0; q < B * nown; q++) an += (double)gp[q] * (double)dir[q];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &an, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    for (PetscInt q = 0; q < B * nown; q++) xp[q] += (pfreal)h * dir[q];
    PetscCall(StateLoss(c, B, xp, gp, &Lp));
    for (PetscInt q = 0; q < B * nown; q++) xp[q] -= (pfreal)(2 * h) * dir[q];
    PetscCall(StateLoss(c, B, xp, gp, &Lm));
    for (PetscInt q = 0; q < B * nown; q++) xp[q] += (pfreal)h * dir[q];
    PetscCall(PetscSNPrintf(what, sizeof(what), "lifted state loss %s: gradient through phi vs FD", PFConstraintNorms[norm]));
    Check(what, fabs((Lp - Lm) / (2 * h) - an) / PetscMax(fabs(an), 1e-12), 1e-6);
  }
  {
    /* adjoint matching of the p model against R([phi(X_1), X_1]): the lean
     * adjoint through a 1-field base network and the lift */
    PFNet     base;
    PetscInt *keys;
    double    an, fd;
    PetscCall(TestSmallMeshNet(g, PFNETMESHUNET, 1, "1", "2", 5, 2.0, B, &base));
    PetscCall(PetscOptionsSetValue(NULL, "-am_steps", "8"));
    PetscCall(PFConstraintSetFromOptions(c));
    PetscCall(PFConstraintSetDefaultNorm(c, PF_NORM_ERROR2, 0));
    PetscCall(PetscMalloc1(nown, &keys));
    for (PetscInt i = 0; i < nown; i++) keys[i] = nat[i];
    PetscCall(PFAdjointMatchingCheck(c, base, keys, B, 3, dir, 1e-6, &an, &fd));
    PetscCall(PetscSNPrintf(what, sizeof(what), "adjoint matching of a lifted p model: lean adjoint vs FD (%.4e)", an));
    Check(what, fabs(an - fd) / PetscMax(fabs(fd), 1e-12), 1e-5);
    PetscCall(PetscFree(keys));
    PetscCall(PFNetDestroy(&base));
  }
  PetscCall(PFConstraintDestroy(&c));
  PetscCall(PFConstraintDestroy(&cf));
  PetscCall(PFLatentDestroy(&lt));
  PetscCall(PFNetDestroy(&lt.phi));
  PetscCall(PetscFree6(xs, xp, full, gp, gf, dir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFPhysics    ph;
  PFMesh       mesh;
  PFMeshGraph  g;
  PFNet        net;
  PFConstraint c;
  PetscInt     B = 2, nown, n;
  const PetscInt *nat;
  const double mean[2] = {0.1, -0.02}, std[2] = {0.9, 0.08};
  pfreal       t[2] = {(pfreal)0.35, (pfreal)0.8}, *xt, *v, *P, *Gr, *G0;
  size_t       np;

  char         meshfile[PETSC_MAX_PATH_LEN] = "";
  PetscBool    only_states;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-test_mesh", meshfile, sizeof(meshfile), &only_states));
  if (!only_states) PetscCall(TestConFIG());
  PetscCall(PetscOptionsSetValue(NULL, only_states ? "-mesh" : "-mesh_faces", only_states ? meshfile : "6"));
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_kl_terms", "16")); /* the 7x7-vertex box has 49 */
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, &ph));
  PetscCall(PFPhysicsSetType(ph, "darcy"));
  PetscCall(PFPhysicsSetFromOptions(ph));
  PetscCall(PFPhysicsSetUp(ph));
  PetscCall(TestStateLosses(ph, mean, std));
  if (!only_states) PetscCall(TestFailedSolveLeftOut(mean, std));
  if (only_states) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
    PetscCall(PFPhysicsDestroy(&ph));
    PetscCall(PetscFinalize());
    return fail;
  }
  PetscCall(PFPhysicsGetMesh(ph, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ph, &nown, &nat));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  PetscCall(TestLiftedStateLoss(ph, g, mean, std));
  PetscCall(TestSmallMeshNet(g, PFNETMESHUNET, 2, "1", "2", 5, 2.0, B, &net));
  PetscCall(PFNetGetParameters(net, &np, &P, &Gr));
  PetscCheck(g->nown == nown, PETSC_COMM_WORLD, PETSC_ERR_PLIB, "graph and physics disagree on the owned vertices");
  n = 2 * nown;
  PetscCall(PetscMalloc3((size_t)B * n + 1, &xt, (size_t)B * n + 1, &v, np + 1, &G0));
  for (PetscInt i = 0; i < nown; i++) {
    PFRNG r;
    PFRNGInit(&r, 4, PF_RNG_TEST, 0, (uint32_t)nat[i]);
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < 2; f++) xt[b * n + f * nown + i] = (pfreal)PFRNGNormal(&r);
  }
  PetscCall(PFConstraintCreate(PETSC_COMM_WORLD, &c));
  PetscCall(PFConstraintSetPhysics(c, ph, mean, std));
  for (PetscInt nun = 1; nun <= 3; nun += 2) {
    double L, e = 0, gmax = 0;
    char   what[96];
    PetscCall(PFNetZeroGradient(net));
    PetscCall(Loss(c, net, B, xt, t, v, nun, &L));
    PetscCallMPI(MPI_Allreduce(Gr, G0, (PetscMPIInt)np, MPIU_PFREAL, MPI_SUM, PETSC_COMM_WORLD));
    for (size_t i = 0; i < np; i++) gmax = PetscMax(gmax, fabs((double)G0[i]));
    for (size_t i = 0; i < np; i++) {
      const double h = 1e-6, p0 = P[i];
      double       Lp, Lm, fd;
      P[i] = (pfreal)(p0 + h);
      PetscCall(Loss(c, net, B, xt, t, v, nun, &Lp));
      P[i] = (pfreal)(p0 - h);
      PetscCall(Loss(c, net, B, xt, t, v, nun, &Lm));
      P[i] = (pfreal)p0;
      fd   = (Lp - Lm) / (2 * h);
      e    = PetscMax(e, fabs(fd - (double)G0[i]) / PetscMax(1e-3 * gmax, fabs(fd)));
    }
    PetscCall(PetscSNPrintf(what, sizeof(what), "PBFM loss gradient, %d unrolled step(s), %zu params (L = %.4f)", (int)nun, np, L));
    Check(what, e, 1e-5);
    /* the input gradient (used by guidance), along a random direction */
    {
      pfreal *gx, *dir;
      double  loc, an = 0, Lp, Lm;
      const double h = 1e-6;
      PetscCall(PetscMalloc2((size_t)B * n, &gx, (size_t)B * n, &dir));
      PetscCall(PFNetForward(net, B, xt, t, v));
      PetscCall(PFConstraintResidualGradient(c, net, B, B, xt, t, v, nun, &loc, gx));
      for (PetscInt i = 0; i < nown; i++) {
        PFRNG r;
        PFRNGInit(&r, 9, PF_RNG_TEST, 1, (uint32_t)nat[i]);
        for (PetscInt b = 0; b < B; b++)
          for (PetscInt f = 0; f < 2; f++) dir[b * n + f * nown + i] = (pfreal)PFRNGNormal(&r);
      }
      for (PetscInt j = 0; j < B * n; j++) an += (double)gx[j] * (double)dir[j];
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &an, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
      for (PetscInt j = 0; j < B * n; j++) xt[j] += (pfreal)h * dir[j];
      PetscCall(Loss(c, net, B, xt, t, v, nun, &Lp));
      for (PetscInt j = 0; j < B * n; j++) xt[j] -= (pfreal)(2 * h) * dir[j];
      PetscCall(Loss(c, net, B, xt, t, v, nun, &Lm));
      for (PetscInt j = 0; j < B * n; j++) xt[j] += (pfreal)h * dir[j];
      PetscCall(PetscSNPrintf(what, sizeof(what), "  d(loss)/d(x_t) along a direction (%.4e)", an));
      Check(what, fabs((Lp - Lm) / (2 * h) - an) / PetscMax(fabs(an), 1e-12), 1e-5);
      PetscCall(PetscFree2(gx, dir));
    }
  }
  /* the unroll's backward with each step's activations kept (the default)
   * and with them recomputed (-pbfm_keep_activations 0): the same gradient */
  {
    double  L0, L1, e = 0, gmax = 0;
    pfreal *G1;
    PetscCall(PetscMalloc1(np + 1, &G1));
    PetscCall(PFNetZeroGradient(net));
    PetscCall(Loss(c, net, B, xt, t, v, 3, &L0));
    PetscCall(PetscArraycpy(G1, Gr, np));
    PetscCall(PetscOptionsSetValue(NULL, "-pbfm_keep_activations", "0"));
    PetscCall(PFConstraintSetFromOptions(c));
    PetscCall(PFNetZeroGradient(net));
    PetscCall(Loss(c, net, B, xt, t, v, 3, &L1));
    for (size_t i = 0; i < np; i++) {
      e    = PetscMax(e, fabs((double)(G1[i] - Gr[i])));
      gmax = PetscMax(gmax, fabs((double)G1[i]));
    }
    PetscCall(PetscOptionsClearValue(NULL, "-pbfm_keep_activations"));
    PetscCall(PFConstraintSetFromOptions(c));
    Check("PBFM, 3 steps: gradient with kept vs recomputed activations", e / gmax + fabs(L0 - L1), 1e-12);
    PetscCall(PetscFree(G1));
  }
  /* adjoint matching's lean adjoint = the pathwise gradient of R(X_1) when
   * the fine-tuned model is the base one (squared L2 residual, 8 SDE steps) */
  {
    PetscInt *keys;
    pfreal   *dir;
    double    an, fd;
    char      what[96];
    PetscCall(PetscOptionsSetValue(NULL, "-am_steps", "8"));
    PetscCall(PFConstraintSetFromOptions(c));
    PetscCall(PFConstraintSetDefaultNorm(c, PF_NORM_L2, 0));
    PetscCall(PetscMalloc2(n, &keys, (size_t)B * n, &dir));
    for (PetscInt f = 0; f < 2; f++)
      for (PetscInt i = 0; i < nown; i++) keys[f * nown + i] = nat[i] * 2 + f;
    for (PetscInt i = 0; i < nown; i++) {
      PFRNG r;
      PFRNGInit(&r, 11, PF_RNG_TEST, 2, (uint32_t)nat[i]);
      for (PetscInt b = 0; b < B; b++)
        for (PetscInt f = 0; f < 2; f++) dir[b * n + f * nown + i] = (pfreal)PFRNGNormal(&r);
    }
    PetscCall(PFAdjointMatchingCheck(c, net, keys, B, 3, dir, 1e-6, &an, &fd));
    PetscCall(PetscSNPrintf(what, sizeof(what), "adjoint matching: lean adjoint vs FD of R(X_1) (%.4e)", an));
    Check(what, fabs(an - fd) / PetscMax(fabs(fd), 1e-12), 1e-5);
    {
      /* the first field given (a conditional model): it stays at its value
       * along the trajectory and the adjoint of the rest is still exact */
      PetscBool *held;
      PetscCall(PetscMalloc1(n, &held));
      for (PetscInt j = 0; j < n; j++) held[j] = (PetscBool)(j < nown);
      for (PetscInt b = 0; b < B; b++)
        for (PetscInt i = 0; i < nown; i++) dir[b * n + i] = 0;
      PetscCall(PFConstraintSetHeld(c, held, FillHeldTest, &nown));
      PetscCall(PFAdjointMatchingCheck(c, net, keys, B, 3, dir, 1e-6, &an, &fd));
      PetscCall(PetscSNPrintf(what, sizeof(what), "adjoint matching, first field held: lean adjoint vs FD (%.4e)", an));
      Check(what, fabs(an - fd) / PetscMax(fabs(fd), 1e-12), 1e-5);
      PetscCall(PFConstraintSetHeld(c, NULL, NULL, NULL));
      PetscCall(PetscFree(held));
    }
    PetscCall(PetscFree2(keys, dir));
  }
  /* endpoint fine-tuning: back-propagation through 3 Euler / Heun steps of
   * the sampler, error norm and anchor, along a random parameter direction */
  for (PetscInt heun = 0; heun < 3; heun++) {
    /* heun = 2: Heun with the first field held (a conditional model) */
    pfreal    *x1b, *dir;
    double     an, fd;
    char       what[128];
    PetscBool *held = NULL;
    if (heun == 2) {
      PetscCall(PetscMalloc1(n, &held));
      for (PetscInt j = 0; j < n; j++) held[j] = (PetscBool)(j < nown);
    }
    PetscCall(PFConstraintSetHeld(c, held, held ? FillHeldTest : NULL, &nown));
    PetscCall(PetscOptionsSetValue(NULL, "-endpoint_steps", "3"));
    PetscCall(PetscOptionsSetValue(NULL, "-endpoint_sampler", heun ? "heun" : "euler"));
    PetscCall(PetscOptionsSetValue(NULL, "-constraint_norm", "error"));
    PetscCall(PFConstraintSetFromOptions(c));
    PetscCall(PetscMalloc2((size_t)B * n, &x1b, np, &dir));
    for (PetscInt i = 0; i < B * n; i++) x1b[i] = (pfreal)(0.5 * cos(0.3 * (double)nat[i % nown] + (double)(i / nown))) + xt[i] * (pfreal)0.1;
    for (size_t i = 0; i < np; i++) dir[i] = (pfreal)sin(1.0 + 0.7 * (double)i);
    PetscCall(PFEndpointCheck(c, net, B, xt, x1b, dir, 1e-6, &an, &fd));
    PetscCall(PetscSNPrintf(what, sizeof(what), "endpoint fine-tuning through 3 %s steps%s: gradient vs FD (%.4e)", heun ? "Heun" : "Euler", held ? ", first field held" : "", an));
    Check(what, fabs(an - fd) / PetscMax(fabs(fd), 1e-12), 1e-5);
    /* the FD check ran with each evaluation's activations kept (the
     * default); recomputing them in the backward gives the same gradient
     * to rounding (measured: Euler bit for bit, Heun 1e-16) */
    {
      double an0, fd0;
      PetscCall(PetscOptionsSetValue(NULL, "-endpoint_keep_activations", "0"));
      PetscCall(PFConstraintSetFromOptions(c));
      PetscCall(PFEndpointCheck(c, net, B, xt, x1b, dir, 1e-6, &an0, &fd0));
      PetscCall(PetscOptionsClearValue(NULL, "-endpoint_keep_activations"));
      PetscCall(PFConstraintSetFromOptions(c));
      PetscCall(PetscSNPrintf(what, sizeof(what), "endpoint, %s: gradient with kept vs recomputed activations", heun ? "Heun" : "Euler"));
      Check(what, fabs(an - an0) / PetscMax(fabs(an0), 1e-30), 1e-12);
    }
    PetscCall(PFConstraintSetHeld(c, NULL, NULL, NULL));
    PetscCall(PetscFree(held));
    PetscCall(PetscFree2(x1b, dir));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PetscFree3(xt, v, G0));
  PetscCall(PFConstraintDestroy(&c));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(PetscFinalize());
  return fail;
}
