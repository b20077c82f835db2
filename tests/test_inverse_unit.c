/* Unit checks of src/inverse (issue 7):
 *   - the observation operator: y . (H f) = (H^T y) . f (adjoint pair, over
 *     the ranks), and H reproduces a bilinear field exactly on the Q1 box;
 *   - the MAP objective's gradient (adjoint through the Darcy solve and the
 *     KL latent map): Taylor remainders at orders 1 and 2, for observations
 *     of p (pure Neumann: the zero-mean projection; and with Dirichlet
 *     sides) and of logK itself;
 *   - posterior statistics on known values (mean, std, 5%/95% quantiles,
 *     error and coverage);
 *   - the conditioning encoding (mask = H^T 1, value = H^T yhat) and random
 *     sensor operators (inside the mesh: H 1 = 1);
 *   - a flow's held (conditioning) components: training pairs keep them
 *     (x_t = x1, target 0), sampling keeps the caller's values;
 *   - the ensemble Kalman estimate (PFKalman): with almost no noise it
 *     reproduces the observations at the sensors (the ensemble spans more
 *     directions than there are sensors), with huge noise it is the
 *     ensemble mean, and the unobserved field moves with the observed one;
 *   - its adjoint summary (PFKalmanAdjointSummary): the state channel is
 *     the forward solve at the estimate's inputs, the gradient channel
 *     (sinh of it: a density) matches central differences of the sensor
 *     misfit;
 *   - the latent projection, the adjoint of many right-hand sides at one
 *     state against single solves, Gauss-Newton steps reaching TAO's MAP;
 *   - solves by a factorisation (-darcy_pc_type cholesky) against CG + GAMG.
 * Run on 1 and 2 ranks. */
#include <math.h>
#include <physflow.h>
#include <physflow/inverse.h>
#include <physflow/physics.h>
#include <physflow/h5util.h>
#include <physflow/kalman.h>

static int fail = 0;
static PetscErrorCode Expect(PetscBool ok, const char what[], double value)
{
  PetscFunctionBegin;
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s %s: %.6e\n", ok ? "ok  " : "FAIL", what, value));
  if (!ok) fail = 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode MakePhysics(PetscBool dirichlet, PFPhysics *ph)
{
  PetscFunctionBegin;
  PetscCall(PetscOptionsClearValue(NULL, "-darcy_dirichlet"));
  PetscCall(PetscOptionsClearValue(NULL, "-darcy_dirichlet_value"));
  if (dirichlet) {
    PetscCall(PetscOptionsSetValue(NULL, "-darcy_dirichlet", "4,2"));
    PetscCall(PetscOptionsSetValue(NULL, "-darcy_dirichlet_value", "1,0"));
  }
  PetscCall(PFPhysicsCreate(PETSC_COMM_WORLD, ph));
  PetscCall(PFPhysicsSetFromOptions(*ph));
  PetscCall(PFPhysicsSetUp(*ph));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* sensor positions keyed by j: the same on every rank count */
static void Sensors(PetscInt nobs, double *c)
{
  for (PetscInt j = 0; j < nobs; j++) {
    PFRNG r;
    PFRNGInit(&r, 3, PF_RNG_TEST, 1, (uint32_t)j);
    c[2 * j] = PFRNGUniform(&r), c[2 * j + 1] = PFRNGUniform(&r);
  }
}

static PetscErrorCode TaylorMAP(PFPhysics ph, PFObsOperator *H, PetscInt field, const char what[])
{
  PetscInt     m, n, nf;
  double      *xi, *d, *g, *xe, *y, J0, r1[4], r2[4], dd = 0;
  PetscScalar *x;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(ph, &m));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, NULL));
  PetscCall(PFPhysicsGetFields(ph, &nf, NULL, NULL));
  PetscCall(PetscMalloc5(m, &xi, m, &d, m, &g, m, &xe, H->nobs, &y));
  PetscCall(PetscMalloc1(nf * n, &x));
  for (PetscInt k = 0; k < m; k++) {
    PFRNG r;
    PFRNGInit(&r, 5, PF_RNG_TEST, 2, (uint32_t)k);
    xi[k] = 0.7 * PFRNGNormal(&r), d[k] = PFRNGNormal(&r);
  }
  for (PetscInt j = 0; j < H->nobs; j++) y[j] = 0.3 * sin(1.0 + j);
  PetscCall(PFMAPObjective(ph, H, field, y, 0.05, xi, x, &J0, g));
  for (PetscInt k = 0; k < m; k++) dd += g[k] * d[k];
  for (int e = 0; e < 4; e++) {
    double eps = 1e-2 / pow(2, e), Je;
    for (PetscInt k = 0; k < m; k++) xe[k] = xi[k] + eps * d[k];
    PetscCall(PFMAPObjective(ph, H, field, y, 0.05, xe, x, &Je, NULL));
    r1[e] = fabs(Je - J0), r2[e] = fabs(Je - J0 - eps * dd);
  }
  {
    char   label[128];
    double o1 = log2(r1[2] / r1[3]), o2 = log2(r2[2] / r2[3]);
    PetscCall(PetscSNPrintf(label, sizeof(label), "MAP gradient, %s: order of the plain remainder", what));
    PetscCall(Expect((PetscBool)(fabs(o1 - 1) < 0.1), label, o1));
    PetscCall(PetscSNPrintf(label, sizeof(label), "MAP gradient, %s: order of the corrected remainder", what));
    PetscCall(Expect((PetscBool)(fabs(o2 - 2) < 0.2 || r2[3] < 1e-9 * r1[3]), label, o2));
  }
  PetscCall(PetscFree5(xi, d, g, xe, y));
  PetscCall(PetscFree(x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The latent projection inverts the latent map on its range; the
 * many-right-hand-side adjoint (a direct factorisation) equals single
 * adjoint solves (CG + GAMG); Gauss-Newton steps from the prior mean reach
 * TAO's MAP (observing logK, a linear-Gaussian problem: in one step). */
static PetscErrorCode GaussNewtonChecks(PFPhysics ph, PFObsOperator *H, PetscInt field, const char what[])
{
  PetscInt           m, n, nf, K = 3;
  double            *xi, *xi2, *y, *xmap, Jmap, dx = 0, nx = 0;
  PetscScalar       *x, *gp, *g1, *gK;
  PetscInt           its;
  PFGaussNewtonStats st;
  char               label[160];

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(ph, &m));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, NULL));
  PetscCall(PFPhysicsGetFields(ph, &nf, NULL, NULL));
  PetscCall(PetscMalloc4(m, &xi, m, &xi2, H->nobs, &y, m, &xmap));
  PetscCall(PetscMalloc4(nf * n, &x, K * n, &gp, K * nf * n, &g1, K * nf * n, &gK));
  for (PetscInt k = 0; k < m; k++) {
    PFRNG r;
    PFRNGInit(&r, 9, PF_RNG_TEST, 3, (uint32_t)k);
    xi[k] = PFRNGNormal(&r);
  }
  PetscCall(PFPhysicsInputsFromLatent(ph, xi, x));
  PetscCall(PFPhysicsLatentFromInputs(ph, x, xi2));
  for (PetscInt k = 0; k < m; k++) dx = PetscMax(dx, fabs(xi2[k] - xi[k]));
  PetscCall(PetscSNPrintf(label, sizeof(label), "latent projection of latent inputs, %s: max |xi' - xi|", what));
  PetscCall(Expect((PetscBool)(dx < 1e-10), label, dx));
  /* the state at xi, K gradients of p */
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 0, 0, x));
  for (PetscInt q = 0; q < K; q++) {
    double e[12];
    for (PetscInt j = 0; j < H->nobs; j++) e[j] = cos(1.0 + q + 0.7 * j);
    PetscCall(PetscArrayzero(gp + q * n, n));
    PetscCall(PFObsOperatorApplyTransposeAdd(H, e, gp + q * n));
    PetscCall(PFPhysicsStateAdjoint(ph, x, gp + q * n, g1 + q * nf * n));
  }
  PetscCall(PFPhysicsStateAdjointMany(ph, x, K, gp, gK));
  dx = nx = 0;
  for (PetscInt q = 0; q < K * nf * n; q++) dx = PetscMax(dx, PetscAbsScalar(gK[q] - g1[q])), nx = PetscMax(nx, PetscAbsScalar(g1[q]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dx, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nx, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(PetscSNPrintf(label, sizeof(label), "adjoint of %" PetscInt_FMT " right-hand sides at once, %s: max difference / max", K, what));
  PetscCall(Expect((PetscBool)(dx < 1e-8 * nx), label, dx / nx));
  /* data from the field at 0.8 xi, observed with noise 0.02 */
  for (PetscInt k = 0; k < m; k++) xi2[k] = 0.8 * xi[k];
  {
    double r[12], phi;
    PetscCall(PetscArrayzero(y, H->nobs));
    PetscCall(PFObsMisfit(ph, H, field, y, 1, xi2, x, r, &phi)); /* y = 0: r = H x_f */
    for (PetscInt j = 0; j < H->nobs; j++) y[j] = r[j] + 0.02 * sin(3.0 * j);
  }
  PetscCall(PFMAPEstimate(ph, H, field, y, 0.02, x, &its, &Jmap, xmap));
  for (PetscInt k = 0; k < m; k++) xi2[k] = 0;
  PetscCall(PFMAPGaussNewton(ph, H, field, y, 0.02, field == 0 ? 1 : 6, xi2, x, &st, NULL));
  dx = nx = 0;
  for (PetscInt k = 0; k < m; k++) dx += PetscSqr(xi2[k] - xmap[k]), nx += PetscSqr(xmap[k]);
  PetscCall(PetscSNPrintf(label, sizeof(label), "Gauss-Newton from the prior mean, %s: %" PetscInt_FMT " steps, J %.4g -> %.6g (TAO MAP %.6g); |xi - xi_MAP| / |xi_MAP|", what, st.steps, st.J0, st.J, Jmap));
  PetscCall(Expect((PetscBool)(st.J < st.J0 && st.J <= Jmap * (1 + 1e-6) && sqrt(dx / nx) < 1e-3), label, sqrt(dx / nx)));
  PetscCall(PetscFree4(xi, xi2, y, xmap));
  PetscCall(PetscFree4(x, gp, g1, gK));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The state-Jacobian solve of many right-hand sides (one factorisation)
 * equals single solves (CG + GAMG), non-transposed, with right-hand sides
 * that are residuals of random states (nonzero Dirichlet rows); the
 * Laplace samples (PFLaplaceSamples) at the Gauss-Newton estimate of data
 * observed with noise 0.02: their latent variables, whitened by the
 * Laplace factor, are standard normal (mean and variance over 400 draws);
 * the linear variant's states are the chord step, a first-order
 * approximation of the solution; the default's are the solver's. */
static PetscErrorCode LaplaceChecks(PFPhysics ph, PFObsOperator *H, PetscInt field, const char what[])
{
  const PetscInt     K = 3, N = 400;
  PetscInt           m, n, nf;
  double            *xi, *y, *L, *w, *mean, *var, d, nx, dm = 0, dv = 0;
  PetscScalar       *x, *X, *R, *y1, *yK, *xe;
  PFGaussNewtonStats st;
  char               label[200];

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetLatentSize(ph, &m));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, NULL));
  PetscCall(PFPhysicsGetFields(ph, &nf, NULL, NULL));
  PetscCall(PetscMalloc6(m, &xi, H->nobs, &y, (size_t)m * m, &L, m, &w, m, &mean, m, &var));
  PetscCall(PetscMalloc6(nf * n, &x, (size_t)N * nf * n, &X, K * n, &R, K * n, &y1, K * n, &yK, nf * n, &xe));
  for (PetscInt k = 0; k < m; k++) xi[k] = 0.7 * sin(1.3 * k + 0.2);
  PetscCall(PFPhysicsInputsFromLatent(ph, xi, x));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 0, 0, x));
  for (PetscInt q = 0; q < K; q++) {
    PetscCall(PetscArraycpy(X + (size_t)q * nf * n, x, nf * n));
    for (PetscInt i = 0; i < n; i++) X[((size_t)q * nf + 1) * n + i] += 0.1 * cos(0.37 * i + q);
  }
  PetscCall(PFPhysicsResidual(ph, K, X, R));
  for (PetscInt q = 0; q < K; q++) PetscCall(PFPhysicsStateJacobianSolve(ph, 1, x, PETSC_FALSE, R + q * n, y1 + q * n));
  PetscCall(PFPhysicsStateJacobianSolveMany(ph, x, K, PETSC_FALSE, R, yK));
  d = nx = 0;
  for (PetscInt q = 0; q < K * n; q++) d = PetscMax(d, PetscAbsScalar(yK[q] - y1[q])), nx = PetscMax(nx, PetscAbsScalar(y1[q]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &d, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nx, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(PetscSNPrintf(label, sizeof(label), "J_p^-1 of %" PetscInt_FMT " right-hand sides at once, %s: max difference / max", K, what));
  PetscCall(Expect((PetscBool)(d < 1e-8 * nx), label, d / nx));
  /* data from the field at xi, the Gauss-Newton estimate from the prior mean */
  {
    double r[12], phi;
    PetscCall(PetscArrayzero(y, H->nobs));
    PetscCall(PFObsMisfit(ph, H, field, y, 1, xi, x, r, &phi));
    for (PetscInt j = 0; j < H->nobs; j++) y[j] = r[j] + 0.02 * sin(3.0 * j);
  }
  for (PetscInt k = 0; k < m; k++) xi[k] = 0;
  PetscCall(PFMAPGaussNewton(ph, H, field, y, 0.02, 6, xi, x, &st, NULL));
  PetscCall(PFLaplaceSamples(ph, H, field, 0.02, xi, x, NULL, PETSC_TRUE, 5, 0, N, X));
  PetscCall(PFMCMCLaplaceFactor(ph, H, field, 0.02, x, L));
  PetscCall(PetscArrayzero(mean, m));
  PetscCall(PetscArrayzero(var, m));
  for (PetscInt j = 0; j < N; j++) {
    PetscCall(PFPhysicsLatentFromInputs(ph, X + (size_t)j * nf * n, w));
    /* L^T (xi_j - xi) */
    for (PetscInt a = 0; a < m; a++) {
      double s = 0;
      for (PetscInt c = a; c < m; c++) s += L[c * m + a] * (w[c] - xi[c]);
      mean[a] += s / N, var[a] += s * s / N;
    }
  }
  for (PetscInt a = 0; a < m; a++) dm = PetscMax(dm, fabs(mean[a]) * sqrt((double)N)), dv = PetscMax(dv, fabs(var[a] - mean[a] * mean[a] - 1));
  PetscCall(PetscSNPrintf(label, sizeof(label), "Laplace samples, %s: whitened latent variables, max |mean| in standard errors", what));
  PetscCall(Expect((PetscBool)(dm < 4), label, dm));
  PetscCall(PetscSNPrintf(label, sizeof(label), "Laplace samples, %s: whitened latent variables, max |variance - 1| (400 draws)", what));
  PetscCall(Expect((PetscBool)(dv < 0.3), label, dv));
  {
    /* linear: sample 0's state is the chord step p - J_p^-1 R([inputs_0, p]) */
    PetscScalar *X0 = X + 0;
    double       c2[2] = {0, 0}, t[3];
    PetscCall(PetscArraycpy(xe, X0, n));
    PetscCall(PetscArraycpy(xe + n, x + n, n));
    PetscCall(PFPhysicsResidual(ph, 1, xe, R));
    PetscCall(PFPhysicsStateJacobianSolve(ph, 1, x, PETSC_FALSE, R, y1));
    for (PetscInt i = 0; i < n; i++) c2[0] += PetscSqr(PetscRealPart(X0[n + i] - (x[n + i] - y1[i]))), c2[1] += PetscSqr(PetscRealPart(X0[n + i]));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, c2, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(PetscSNPrintf(label, sizeof(label), "Laplace samples, %s, linear: the chord step's state (relative)", what));
    PetscCall(Expect((PetscBool)(sqrt(c2[0] / c2[1]) < 1e-8), label, sqrt(c2[0] / c2[1])));
    /* which is first order: its error against the solution shrinks with
     * the inputs' change (eps = 1, 0.1, 0.01 of sample 0's) */
    for (PetscInt e = 0; e < 3; e++) {
      double eps = pow(0.1, (double)e), a2[2] = {0, 0};
      for (PetscInt i = 0; i < n; i++) xe[i] = x[i] + eps * (X0[i] - x[i]), xe[n + i] = x[n + i];
      PetscCall(PFPhysicsResidual(ph, 1, xe, R));
      PetscCall(PFPhysicsStateJacobianSolveMany(ph, x, 1, PETSC_FALSE, R, y1));
      PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 0, 0, xe));
      for (PetscInt i = 0; i < n; i++) a2[0] += PetscSqr(PetscRealPart(x[n + i] - y1[i] - xe[n + i])), a2[1] += PetscSqr(PetscRealPart(xe[n + i] - x[n + i]));
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, a2, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
      t[e] = sqrt(a2[0] / a2[1]);
    }
    PetscCall(PetscSNPrintf(label, sizeof(label), "Laplace samples, %s, linear: |linearised - solved| / |solved - estimate| at 1, 0.1, 0.01 x the change: %.3g %.3g; want first order", what, t[0], t[1]));
    PetscCall(Expect((PetscBool)(t[2] < 0.15 * t[1] && t[1] < 0.15 * t[0]), label, t[2]));
    /* the default: the same draws, each state solved */
    PetscCall(PFLaplaceSamples(ph, H, field, 0.02, xi, x, NULL, PETSC_FALSE, 5, 0, 1, xe));
    c2[0] = c2[1] = 0;
    for (PetscInt i = 0; i < n; i++) c2[0] += PetscSqr(PetscRealPart(xe[i] - X0[i])), c2[1] += PetscSqr(PetscRealPart(X0[i]));
    PetscCall(PetscArraycpy(y1, xe + n, n));
    PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 0, 0, xe));
    for (PetscInt i = 0; i < n; i++) c2[0] += PetscSqr(PetscRealPart(xe[n + i] - y1[i]));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, c2, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(PetscSNPrintf(label, sizeof(label), "Laplace samples, %s, solved: the linear run's inputs, the solver's state", what));
    PetscCall(Expect((PetscBool)(sqrt(c2[0] / c2[1]) < 1e-10), label, sqrt(c2[0] / c2[1])));
  }
  PetscCall(PetscFree6(xi, y, L, w, mean, var));
  PetscCall(PetscFree6(x, X, R, y1, yK, xe));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -darcy_ksp_type preonly -darcy_pc_type cholesky: every solve by a
 * factorisation (the singular pure Neumann operator pinned at one dof)
 * gives the state and the adjoint of the default CG + GAMG */
static PetscErrorCode DirectSolverChecks(PFPhysics ph, PetscBool dirichlet, const char what[])
{
  PFPhysics    pd;
  PetscInt     m, n, n2, nf;
  double      *xi, d[2] = {0, 0}, nrm[2] = {0, 0};
  PetscScalar *x1, *x2, *b, *g1, *g2;
  char         label[128];

  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_ksp_type", "preonly"));
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_pc_type", "cholesky"));
  PetscCall(MakePhysics(dirichlet, &pd));
  PetscCall(PetscOptionsClearValue(NULL, "-darcy_ksp_type"));
  PetscCall(PetscOptionsClearValue(NULL, "-darcy_pc_type"));
  PetscCall(PFPhysicsGetLatentSize(ph, &m));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, NULL));
  PetscCall(PFPhysicsGetVertexMap(pd, &n2, NULL)); /* its partition may differ */
  PetscCall(PFPhysicsGetFields(ph, &nf, NULL, NULL));
  PetscCall(PetscMalloc1(m, &xi));
  PetscCall(PetscMalloc5(nf * n, &x1, nf * n2, &x2, PetscMax(n, n2), &b, nf * n, &g1, nf * n2, &g2));
  for (PetscInt k = 0; k < m; k++) xi[k] = cos(0.9 * k + 0.3);
  PetscCall(PFPhysicsInputsFromLatent(ph, xi, x1));
  PetscCall(PFPhysicsInputsFromLatent(pd, xi, x2));
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 0, 0, x1));
  PetscCall(PFPhysicsSolve(pd, PF_FIDELITY_HIGH, 0, 0, x2));
  {
    /* the same gradient in each physics' own vertex order */
    const PetscInt *nat1, *nat2;
    PetscCall(PFPhysicsGetVertexMap(ph, NULL, &nat1));
    for (PetscInt i = 0; i < n; i++) b[i] = sin(0.37 * nat1[i]);
    PetscCall(PFPhysicsStateAdjoint(ph, x1, b, g1));
    PetscCall(PFPhysicsGetVertexMap(pd, NULL, &nat2));
    for (PetscInt i = 0; i < n2; i++) b[i] = sin(0.37 * nat2[i]);
    PetscCall(PFPhysicsStateAdjoint(pd, x2, b, g2));
  }
  {
    /* in natural order: the two physics may partition the mesh differently */
    PFMesh      mesh;
    PetscMPIInt rank;
    double     *nat;
    PetscCall(PFPhysicsGetMesh(ph, &mesh));
    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    PetscCall(PetscMalloc1(4 * (size_t)mesh->nvert, &nat));
    for (PetscInt f = 0; f < nf; f++) {
      const PetscScalar *own[4] = {x1 + f * n, x2 + f * n2, g1 + f * n, g2 + f * n2};
      PetscCall(PFPhysicsGatherNatural(ph, own[0], rank ? NULL : nat));
      PetscCall(PFPhysicsGatherNatural(pd, own[1], rank ? NULL : nat + mesh->nvert));
      PetscCall(PFPhysicsGatherNatural(ph, own[2], rank ? NULL : nat + 2 * mesh->nvert));
      PetscCall(PFPhysicsGatherNatural(pd, own[3], rank ? NULL : nat + 3 * mesh->nvert));
      for (PetscInt v = 0; !rank && v < mesh->nvert; v++)
        for (int c = 0; c < 2; c++) {
          const double a = nat[2 * c * mesh->nvert + v], e = nat[(2 * c + 1) * mesh->nvert + v];
          d[c] = PetscMax(d[c], fabs(a - e)), nrm[c] = PetscMax(nrm[c], fabs(a));
        }
    }
    PetscCall(PetscFree(nat));
    PetscCallMPI(MPI_Bcast(d, 2, MPI_DOUBLE, 0, PETSC_COMM_WORLD));
    PetscCallMPI(MPI_Bcast(nrm, 2, MPI_DOUBLE, 0, PETSC_COMM_WORLD));
  }
  PetscCall(PetscSNPrintf(label, sizeof(label), "direct solver vs CG + GAMG, %s: state, max difference / max", what));
  PetscCall(Expect((PetscBool)(d[0] < 1e-9 * nrm[0]), label, d[0] / nrm[0]));
  PetscCall(PetscSNPrintf(label, sizeof(label), "direct solver vs CG + GAMG, %s: adjoint, max difference / max", what));
  PetscCall(Expect((PetscBool)(d[1] < 1e-9 * nrm[1]), label, d[1] / nrm[1]));
  PetscCall(PetscFree(xi));
  PetscCall(PetscFree5(x1, x2, b, g1, g2));
  PetscCall(PFPhysicsDestroy(&pd));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode UnitVelocity(void *ctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  PetscInt n = *(PetscInt *)ctx;
  (void)t, (void)x;
  for (PetscInt k = 0; k < nloc * n; k++) v[k] = 1;
  return PETSC_SUCCESS;
}

/* states of 4 components, the last 2 held */
static PetscErrorCode HeldComponents(void)
{
  PFFlow    flow;
  PFSampler s;
  PetscBool held[4] = {PETSC_FALSE, PETSC_FALSE, PETSC_TRUE, PETSC_TRUE};
  pfreal    x1[8] = {1, 2, 3, 4, 5, 6, 7, 8}, xt[8], t[2], u[8], x[8];
  PetscInt  n = 4, nfe;
  double    bad = 0;

  PetscFunctionBegin;
  PetscCall(PFFlowCreate(PETSC_COMM_SELF, &flow));
  PetscCall(PFFlowSetHeldComponents(flow, 4, held));
  PetscCall(PFFlowTrainingPairs(flow, 1, 0, 2, 0, 2, 4, x1, xt, t, u));
  for (PetscInt j = 0; j < 2; j++)
    for (PetscInt d = 2; d < 4; d++) bad = PetscMax(bad, fabs((double)(xt[4 * j + d] - x1[4 * j + d])) + fabs((double)u[4 * j + d]));
  PetscCall(Expect((PetscBool)(bad == 0), "held components in training pairs: |x_t - x1| + |target|", bad));
  PetscCall(PFSamplerCreate(PETSC_COMM_SELF, &s));
  PetscCall(PFSamplerSetType(s, PFSAMPLERHEUN));
  PetscCall(PFSamplerSetSteps(s, 4));
  for (PetscInt k = 0; k < 8; k++) x[k] = 100;
  PetscCall(PFFlowSampleVelocity(flow, s, 3, 0, 2, 4, UnitVelocity, &n, x, &nfe));
  bad = 0;
  for (PetscInt j = 0; j < 2; j++)
    for (PetscInt d = 0; d < 4; d++) bad = PetscMax(bad, d < 2 ? (double)(x[4 * j + d] == 100) : fabs((double)x[4 * j + d] - 100));
  PetscCall(Expect((PetscBool)(bad == 0), "held components in sampling: kept (others moved)", bad));
  PetscCall(PFSamplerDestroy(&s));
  PetscCall(PFFlowDestroy(&flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* an ensemble of N smooth two-field states (natural order) in a dataset
 * file: logK = sum_q a_q phi_q, p = sum_q a_q psi_q (a_q random) */
static PetscErrorCode WriteEnsemble(PFPhysics ph, const char path[], PetscInt N)
{
  PFMesh      mesh;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PFPhysicsGetMesh(ph, &mesh));
  if (rank == 0) {
    const PetscInt nv = mesh->nvert;
    double        *K, *P;
    hsize_t        d[2] = {(hsize_t)N, (hsize_t)nv}, dc[2] = {(hsize_t)nv, 2};
    hid_t          fid;
    PetscCall(PetscMalloc2((size_t)N * nv, &K, (size_t)N * nv, &P));
    for (PetscInt s = 0; s < N; s++) {
      double a[16];
      for (int q = 0; q < 16; q++) {
        PFRNG r;
        PFRNGInit(&r, 9, PF_RNG_TEST, 7, (uint32_t)(16 * s + q));
        a[q] = PFRNGNormal(&r) / (1 + q);
      }
      for (PetscInt i = 0; i < nv; i++) {
        const double x = mesh->coords[2 * i], y = mesh->coords[2 * i + 1];
        K[s * nv + i] = P[s * nv + i] = 0;
        for (int q = 0; q < 16; q++) {
          K[s * nv + i] += a[q] * cos(M_PI * (q % 4) * x) * cos(M_PI * (q / 4) * y);
          P[s * nv + i] += 0.1 * a[q] * sin(M_PI * (1 + q % 4) * x) * cos(M_PI * (q / 4) * y);
        }
      }
    }
    fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create %s", path);
    H5Gclose(H5Gcreate2(fid, "fields", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    PetscCall(PFH5WriteArray(fid, "coords", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, dc, mesh->coords));
    PetscCall(PFH5WriteArray(fid, "fields/logK", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, d, K));
    PetscCall(PFH5WriteArray(fid, "fields/p", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, d, P));
    H5Fclose(fid);
    PetscCall(PetscFree2(K, P));
  }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the normalised sensor misfit |H p^(x) - y|^2 / 2 of the solve at the
 * normalised inputs xin (+ eps d), and the normalised state p^ */
static PetscErrorCode Misfit(PFPhysics ph, PFObsOperator *H, const double mean[], const double sd[], const pfreal *xin, const double *d, double eps, const double y[], PetscScalar *X, double *J)
{
  PetscInt n;
  double   hx[12];

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ph, &n, NULL));
  for (PetscInt i = 0; i < n; i++) X[i] = ((double)xin[i] + eps * d[i]) * sd[0] + mean[0];
  PetscCall(PFPhysicsSolve(ph, PF_FIDELITY_HIGH, 0, 0, X));
  for (PetscInt i = 0; i < n; i++) X[n + i] = (X[n + i] - mean[1]) / sd[1];
  PetscCall(PFObsOperatorApply(H, X + n, hx));
  *J = 0;
  for (PetscInt j = 0; j < H->nobs; j++) *J += 0.5 * (hx[j] - y[j]) * (hx[j] - y[j]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode AdjointSummaryChecks(PFPhysics ph, PFObsOperator *H, PFKalman *k, const char *const fields[], const double mean[], const double sd[], const double y[])
{
  PetscInt           n;
  const PetscInt    *nat;
  const PetscScalar *mass;
  pfreal            *x, *s;
  PetscScalar       *X;
  double            *d, Jp, Jm, dJ = 0, dstate = 0;
  const double       eps = 1e-4;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(PFPhysicsGetVertexMass(ph, &mass));
  PetscCall(PetscMalloc4(2 * n + 1, &x, 2 * n + 1, &s, 2 * n + 1, &X, n + 1, &d));
  PetscCall(PFKalmanSetPhysics(k, ph, fields));
  PetscCall(PFKalmanEstimate(k, H, 1, y, 0.1, x));
  PetscCall(PFKalmanAdjointSummary(k, H, 1, y, x, s));
  /* a direction d keyed by the natural index */
  for (PetscInt i = 0; i < n; i++) d[i] = sin(1.0 + 0.37 * nat[i]);
  /* the state channel: the solve at the estimate's inputs */
  PetscCall(Misfit(ph, H, mean, sd, x, d, 0, y, X, &Jp));
  for (PetscInt i = 0; i < n; i++) dstate = PetscMax(dstate, fabs((double)s[n + i] - PetscRealPart(X[n + i])));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dstate, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(Expect((PetscBool)(dstate < 1e-5), "adjoint summary: max |state channel - solve at the estimate's inputs|", dstate));
  /* the gradient channel: sum_i sinh(s_i) mass_i d_i = dJ/d eps */
  for (PetscInt i = 0; i < n; i++) dJ += sinh((double)s[i]) * PetscRealPart(mass[i]) * d[i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dJ, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscCall(Misfit(ph, H, mean, sd, x, d, eps, y, X, &Jp));
  PetscCall(Misfit(ph, H, mean, sd, x, d, -eps, y, X, &Jm));
  {
    const double fd = (Jp - Jm) / (2 * eps), rel = fabs(dJ - fd) / fabs(fd);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "     adjoint summary: directional derivative %.8e, central difference %.8e\n", dJ, fd));
    PetscCall(Expect((PetscBool)(rel < 1e-4 && fabs(fd) > 1e-8), "adjoint summary: gradient channel vs central difference, relative", rel));
  }
  PetscCall(PetscFree4(x, s, X, d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode KalmanChecks(PFPhysics ph, PFObsOperator *H)
{
  const char *const fields[2] = {"logK", "p"};
  const double      mean[2] = {0.1, -0.2}, sd[2] = {2, 0.5};
  const char        path[]  = "test_inverse_unit_ensemble.h5";
  PFKalman          k;
  PetscInt          n, nobs = H->nobs;
  const PetscInt   *nat;
  double            y[12], hx[12], dev = 0, dmean = 0, moved = 0;
  pfreal           *x;
  PetscScalar      *f;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(WriteEnsemble(ph, path, 40));
  PetscCall(PFKalmanCreate(PETSC_COMM_WORLD, path, 40, 2, fields, n, nat, mean, sd, &k));
  PetscCall(PetscMalloc2(2 * n + 1, &x, n + 1, &f));
  for (PetscInt j = 0; j < nobs; j++) y[j] = 0.4 * sin(2.0 * j);
  /* noise 1e-6: the estimate of p passes through the observations */
  PetscCall(PFKalmanEstimate(&k, H, 1, y, 1e-6, x));
  for (PetscInt i = 0; i < n; i++) f[i] = (PetscScalar)x[n + i];
  PetscCall(PFObsOperatorApply(H, f, hx));
  for (PetscInt j = 0; j < nobs; j++) dev = PetscMax(dev, fabs(hx[j] - y[j]));
  for (PetscInt i = 0; i < n; i++) moved = PetscMax(moved, fabs((double)x[i] - k.m[i]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &moved, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(Expect((PetscBool)(dev < 1e-4), "Kalman, noise 1e-6: max |H x_p - y|", dev));
  PetscCall(Expect((PetscBool)(moved > 1e-2), "Kalman: the unobserved logK moves (max |x - m|)", moved));
  /* noise 1e6: the ensemble mean */
  PetscCall(PFKalmanEstimate(&k, H, 1, y, 1e6, x));
  for (PetscInt i = 0; i < 2 * n; i++) dmean = PetscMax(dmean, fabs((double)x[i] - k.m[i]));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &dmean, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  PetscCall(Expect((PetscBool)(dmean < 1e-6), "Kalman, noise 1e6: max |x - ensemble mean|", dmean));
  PetscCall(AdjointSummaryChecks(ph, H, &k, fields, mean, sd, y));
  PetscCall(PetscFree2(x, f));
  PetscCall(PFKalmanDestroy(&k));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -flow_t0_fraction 0.5: about half of the training rows at t = 0, every
 * other row at the time it has without the option (the fraction's draw
 * comes after the time's in the row's stream) */
static PetscErrorCode T0Fraction(void)
{
  const PetscInt B = 4000;
  PFFlow         flow[2];
  pfreal        *x1, *xt, *t[2], *u;
  PetscInt       zeros = 0;
  double         moved = 0;

  PetscFunctionBegin;
  PetscCall(PetscMalloc5(B, &x1, B, &xt, B, &t[0], B, &t[1], B, &u));
  for (PetscInt j = 0; j < B; j++) x1[j] = 1;
  for (int k = 0; k < 2; k++) {
    PetscCall(PFFlowCreate(PETSC_COMM_SELF, &flow[k]));
    if (k) PetscCall(PetscOptionsSetValue(NULL, "-flow_t0_fraction", "0.5"));
    PetscCall(PFFlowSetFromOptions(flow[k]));
    if (k) PetscCall(PetscOptionsClearValue(NULL, "-flow_t0_fraction"));
    PetscCall(PFFlowTrainingPairs(flow[k], 5, 3, B, 0, B, 1, x1, xt, t[k], u));
    PetscCall(PFFlowDestroy(&flow[k]));
  }
  for (PetscInt j = 0; j < B; j++) {
    if (t[1][j] == 0) zeros++;
    else moved = PetscMax(moved, fabs((double)(t[1][j] - t[0][j])));
  }
  PetscCall(Expect((PetscBool)(fabs(zeros / (double)B - 0.5) < 0.03), "-flow_t0_fraction 0.5: share of rows at t = 0 - 0.5", zeros / (double)B - 0.5));
  PetscCall(Expect((PetscBool)(moved == 0), "-flow_t0_fraction: the other rows' times unchanged", moved));
  PetscCall(PetscFree5(x1, xt, t[0], t[1], u));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The 90% band from N = 32 exact samples: the truth drawn from the same
 * distribution as the samples, independently at each of nv vertices.
 * Uniform draws: the coverage of a band between interpolated order
 * statistics is then exactly linear in their positions (with normal
 * tails the interpolation adds ~0.01).  The samples' own 5-95% quantiles
 * cover 0.9 (N-1)/(N+1) = 0.845 on average, the predictive band 0.9
 * (standard error of either ~0.002 here). */
static PetscErrorCode BandCoverage(void)
{
  const PetscInt N = 32, nv = 40000;
  double        *X, *m, *t, *S, err, cov[2];

  PetscFunctionBegin;
  PetscCall(PetscMalloc4((size_t)N * nv, &X, nv, &m, nv, &t, 4 * (size_t)nv, &S));
  for (PetscInt v = 0; v < nv; v++) {
    PFRNG r;
    PFRNGInit(&r, 11, PF_RNG_TEST, 9, (uint32_t)v);
    for (PetscInt i = 0; i < N; i++) X[(size_t)i * nv + v] = PFRNGUniform(&r);
    t[v] = PFRNGUniform(&r), m[v] = 1;
  }
  for (int pred = 0; pred < 2; pred++) PetscCall(PFPosteriorStats(N, nv, X, m, t, PFPosteriorBandLevel(N, 0.9, (PetscBool)pred), S, S + nv, S + 2 * nv, S + 3 * nv, &err, &cov[pred]));
  PetscCall(Expect((PetscBool)(fabs(cov[0] - 0.9 * (N - 1) / (N + 1)) < 0.01), "band of the samples' 5-95% quantiles: coverage - 0.845", cov[0] - 0.9 * (N - 1) / (N + 1)));
  PetscCall(Expect((PetscBool)(fabs(cov[1] - 0.9) < 0.01), "predictive band: coverage - 0.9", cov[1] - 0.9));
  PetscCall(Expect((PetscBool)(PFPosteriorBandLevel(10, 0.9, PETSC_TRUE) == 0 && fabs(PFPosteriorBandLevel(39, 0.9, PETSC_TRUE) - 1.0 / 38) < 1e-15), "band levels for N = 10 (0: the range) and 39 (1/38)", PFPosteriorBandLevel(39, 0.9, PETSC_TRUE) - 1.0 / 38));
  {
    /* the Gaussian band: Student-t quantiles (tables: t_{0.95} with 1, 2, 7,
     * 31 degrees of freedom), and its coverage of a further draw from 8
     * normal draws (40000 columns) */
    const PetscInt nus[4] = {1, 2, 7, 31};
    const double   tq[4]  = {6.313752, 2.919986, 1.894579, 1.695519};
    double         dt     = 0, covg;
    for (int i = 0; i < 4; i++) dt = PetscMax(dt, fabs(PFPosteriorGaussianMultiplier(nus[i] + 1, 0.9) / sqrt(1 + 1.0 / (nus[i] + 1)) - tq[i]));
    PetscCall(Expect((PetscBool)(dt < 2e-6), "Student-t 95% quantiles for 1, 2, 7, 31 degrees of freedom: max error", dt));
    for (PetscInt v = 0; v < nv; v++) {
      PFRNG r;
      PFRNGInit(&r, 12, PF_RNG_TEST, 9, (uint32_t)v);
      for (PetscInt i = 0; i < 8; i++) X[(size_t)i * nv + v] = PFRNGNormal(&r);
      t[v] = PFRNGNormal(&r);
    }
    PetscCall(PFPosteriorStats(8, nv, X, m, t, 0.05, S, S + nv, S + 2 * nv, S + 3 * nv, &err, &covg));
    PetscCall(PFPosteriorGaussianBand(nv, S, S + nv, PFPosteriorGaussianMultiplier(8, 0.9), t, S + 2 * nv, S + 3 * nv, &covg));
    PetscCall(Expect((PetscBool)(fabs(covg - 0.9) < 0.01), "Gaussian band from 8 normal draws: coverage - 0.9", covg - 0.9));
  }
  PetscCall(PetscFree4(X, m, t, S));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFPhysics       ph;
  PFObsOperator   H;
  PetscInt        n, nobs = 12;
  const PetscInt *nat;
  double          c[24];

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_faces", "12"));
  PetscCall(PetscOptionsSetValue(NULL, "-darcy_kl_terms", "12"));
  Sensors(nobs, c);

  /* the observation operator */
  PetscCall(MakePhysics(PETSC_FALSE, &ph));
  PetscCall(PFPhysicsGetVertexMap(ph, &n, &nat));
  PetscCall(PFObsOperatorCreate(ph, nobs, c, &H));
  {
    PetscScalar *f, *g;
    double       y[12], Hf[12], lhs = 0, rhs = 0, err = 0;
    PFMesh       mesh;
    double      *xy;
    PetscMPIInt  rank;
    PetscCall(PFPhysicsGetMesh(ph, &mesh));
    PetscCall(PetscMalloc3(n, &f, n, &g, 2 * mesh->nvert, &xy));
    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    if (rank == 0) PetscCall(PetscArraycpy(xy, mesh->coords, 2 * mesh->nvert));
    PetscCallMPI(MPI_Bcast(xy, (PetscMPIInt)(2 * mesh->nvert), MPI_DOUBLE, 0, PETSC_COMM_WORLD));
    /* a bilinear field a + b x + c y + d x y is reproduced exactly by Q1 */
    for (PetscInt i = 0; i < n; i++) {
      const double *p = xy + 2 * nat[i];
      f[i]            = 0.3 + 1.1 * p[0] - 0.7 * p[1] + 2.0 * p[0] * p[1];
      g[i]            = 0;
    }
    PetscCall(PFObsOperatorApply(&H, f, Hf));
    for (PetscInt j = 0; j < nobs; j++) err = PetscMax(err, fabs(Hf[j] - (0.3 + 1.1 * c[2 * j] - 0.7 * c[2 * j + 1] + 2.0 * c[2 * j] * c[2 * j + 1])));
    PetscCall(Expect((PetscBool)(err < 1e-12), "H of a bilinear field: max error", err));
    for (PetscInt j = 0; j < nobs; j++) y[j] = cos(0.3 * j), lhs += y[j] * Hf[j];
    PetscCall(PFObsOperatorApplyTransposeAdd(&H, y, g));
    for (PetscInt i = 0; i < n; i++) rhs += PetscRealPart(g[i] * f[i]);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &rhs, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
    PetscCall(Expect((PetscBool)(fabs(lhs - rhs) < 1e-12 * fabs(lhs)), "y.(H f) - (H^T y).f", lhs - rhs));
    {
      /* the encoding: sum mask = nobs, value . f = y . (H f) */
      pfreal *mask, *val;
      double  s[2] = {0, 0};
      PetscCall(PetscMalloc2(n + 1, &mask, n + 1, &val));
      PetscCall(PFObsEncode(&H, n, y, mask, val));
      for (PetscInt i = 0; i < n; i++) s[0] += (double)mask[i], s[1] += (double)val[i] * PetscRealPart(f[i]);
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
      PetscCall(Expect((PetscBool)(fabs(s[0] - nobs) < 1e-5), "encoding: sum of the mask - sensors", s[0] - nobs));
      PetscCall(Expect((PetscBool)(fabs(s[1] - lhs) < 1e-5 * fabs(lhs)), "encoding: value.f - y.(H f)", s[1] - lhs));
      PetscCall(PetscFree2(mask, val));
    }
    {
      /* random sensors: inside the mesh, interpolation weights summing to 1 */
      PFObsOperator R;
      double        one[40], dev = 0;
      for (PetscInt i = 0; i < n; i++) f[i] = 1;
      PetscCall(PFObsOperatorCreateRandom(ph, 5, PF_RNG_TEST, 2, 40, NULL, &R));
      PetscCall(PFObsOperatorApply(&R, f, one));
      for (PetscInt j = 0; j < 40; j++) dev = PetscMax(dev, fabs(one[j] - 1));
      PetscCall(Expect((PetscBool)(dev < 1e-12), "random sensors: max |H 1 - 1|", dev));
      PetscCall(PFObsOperatorDestroy(&R));
    }
    PetscCall(PetscFree3(f, g, xy));
  }
  /* the MAP gradient: p observed (pure Neumann), logK observed */
  PetscCall(TaylorMAP(ph, &H, 1, "p, pure Neumann"));
  PetscCall(TaylorMAP(ph, &H, 0, "logK"));
  PetscCall(GaussNewtonChecks(ph, &H, 1, "p, pure Neumann"));
  PetscCall(LaplaceChecks(ph, &H, 1, "p, pure Neumann"));
  PetscCall(GaussNewtonChecks(ph, &H, 0, "logK"));
  PetscCall(DirectSolverChecks(ph, PETSC_FALSE, "pure Neumann"));
  PetscCall(KalmanChecks(ph, &H));
  PetscCall(PFObsOperatorDestroy(&H));
  PetscCall(PFPhysicsDestroy(&ph));
  PetscCall(MakePhysics(PETSC_TRUE, &ph));
  PetscCall(PFObsOperatorCreate(ph, nobs, c, &H));
  PetscCall(TaylorMAP(ph, &H, 1, "p, Dirichlet sides"));
  PetscCall(GaussNewtonChecks(ph, &H, 1, "p, Dirichlet sides"));
  PetscCall(LaplaceChecks(ph, &H, 1, "p, Dirichlet sides"));
  PetscCall(DirectSolverChecks(ph, PETSC_TRUE, "Dirichlet sides"));
  PetscCall(PFObsOperatorDestroy(&H));
  PetscCall(PFPhysicsDestroy(&ph));

  /* posterior statistics: 5 samples 0..4 at 2 vertices (the second
   * shifted by 10), truth 2 and 20 */
  {
    double X[10], m[2] = {1, 1}, t[2] = {2, 20}, mean[2], sd[2], q05[2], q95[2], err, cov;
    for (int i = 0; i < 5; i++) X[2 * i] = i, X[2 * i + 1] = i + 10;
    PetscCall(PFPosteriorStats(5, 2, X, m, t, 0.05, mean, sd, q05, q95, &err, &cov));
    PetscCall(Expect((PetscBool)(fabs(mean[0] - 2) < 1e-14 && fabs(mean[1] - 12) < 1e-14), "posterior mean - (2, 12)", fabs(mean[0] - 2) + fabs(mean[1] - 12)));
    PetscCall(Expect((PetscBool)(fabs(sd[0] - sqrt(2.5)) < 1e-14), "posterior std - sqrt(2.5)", sd[0] - sqrt(2.5)));
    PetscCall(Expect((PetscBool)(fabs(q05[0] - 0.2) < 1e-14 && fabs(q95[0] - 3.8) < 1e-14), "quantiles - (0.2, 3.8)", fabs(q05[0] - 0.2) + fabs(q95[0] - 3.8)));
    PetscCall(Expect((PetscBool)(fabs(err - 8 / sqrt(404.0)) < 1e-14), "relative error - 8/sqrt(404)", err - 8 / sqrt(404.0)));
    PetscCall(Expect((PetscBool)(fabs(cov - 0.5) < 1e-14), "coverage - 1/2", cov - 0.5));
  }
  PetscCall(BandCoverage());
  PetscCall(T0Fraction());
  PetscCall(HeldComponents());
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PetscFinalize());
  return fail;
}
