/* PFKL: Nystrom Karhunen-Loeve expansion of the exponential covariance.
 *
 * Checks, each printed with the measured numbers:
 *  1. 1-D, 200 points on [0,1] with trapezoid weights, ell = 0.1: the leading
 *     eigenvalues match the analytic eigenvalues of exp(-|x-y|/ell) on [0,1]
 *     to 1e-2 relative, and the modes are w-orthonormal to 1e-10;
 *  2. the modes computed on PETSC_COMM_WORLD (rank 0 + broadcast) equal, bit
 *     for bit, those computed on PETSC_COMM_SELF (meaningful on > 1 rank);
 *     NULL weights equal explicit weights 1/npts;
 *  3. the Darcy configuration: 64x64 vertices on the unit square, lumped
 *     (tensor trapezoid) weights, ell = 0.1, sigma2 = 1, 64 terms: prints
 *     lambda_1, lambda_64, the captured variance fraction and the setup time;
 *     the modes are w-orthonormal; over 2000 draws the empirical pointwise
 *     variance of g matches sum_k lambda_k phi_k(x)^2 within 10% at a few
 *     points; evaluation at an index subset equals the full evaluation;
 *  4. bad arguments return errors instead of computing nonsense.
 * Runs on any number of ranks. */
#include <math.h>
#include <physflow/kl.h>
#include <physflow/rng.h>

static int         nfail = 0;
static PetscMPIInt grank = 0;

static void Report(PetscBool ok, const char *what)
{
  if (!ok) nfail++;
  if (grank == 0) printf("  [%s] %s\n", ok ? "ok" : "FAIL", what);
}

/* Analytic eigenvalues of exp(-|x-y|/ell) on an interval of length 1.
 * Centred on [-1/2, 1/2] with c = 1/ell, the eigenfunctions are cos(omega x)
 * with omega tan(omega/2) = c (even) and sin(omega x) with
 * omega cot(omega/2) = -c (odd), and lambda = 2c / (c^2 + omega^2)
 * = 2 ell / (1 + ell^2 omega^2).  With theta = omega/2 the even roots lie in
 * (m pi, m pi + pi/2) and the odd ones in (m pi + pi/2, (m+1) pi), so the
 * roots alternate even, odd, even, ... in increasing order and lambda
 * decreases along them.  Each is bracketed by a sign change of
 *   even: 2 ell theta sin(theta) - cos(theta)
 *   odd:  sin(theta) + 2 ell theta cos(theta)
 * (the tangent equations multiplied by cos(theta), which removes the poles)
 * and found by bisection. */
static double IntervalRootFunction(int odd, double ell, double theta)
{
  return odd ? sin(theta) + 2.0 * ell * theta * cos(theta) : 2.0 * ell * theta * sin(theta) - cos(theta);
}

static double AnalyticEigenvalue(double ell, int k)
{
  const int m = k / 2, odd = k % 2;
  double    lo = odd ? m * M_PI + M_PI_2 : m * M_PI, hi = odd ? (m + 1) * M_PI : m * M_PI + M_PI_2;
  double    flo = IntervalRootFunction(odd, ell, lo), omega;

  for (int it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
    double mid = 0.5 * (lo + hi), fmid = IntervalRootFunction(odd, ell, mid);
    if ((fmid < 0) == (flo < 0)) lo = mid, flo = fmid;
    else hi = mid;
  }
  omega = lo + hi; /* 2 theta */
  return 2.0 * ell / (1.0 + ell * ell * omega * omega);
}

/* max_{k,l} |sum_i w_i phi_k(x_i) phi_l(x_i) - delta_kl| */
static double OrthonormalityError(PetscInt npts, PetscInt nterms, const double *w, const double *phi)
{
  double err = 0.0;
  for (PetscInt k = 0; k < nterms; k++)
    for (PetscInt l = k; l < nterms; l++) {
      double s = 0.0;
      for (PetscInt i = 0; i < npts; i++) s += w[i] * phi[i * nterms + k] * phi[i * nterms + l];
      err = fmax(err, fabs(s - (k == l ? 1.0 : 0.0)));
    }
  return err;
}

static PetscErrorCode TestInterval(void)
{
  const PetscInt n = 200, nterms = 8, ncheck = 6;
  const double   ell = 0.1, h = 1.0 / (n - 1);
  double        *x, *w, worst = 0.0, orth, diff = 0.0;
  const double  *lam, *phi, *lamself, *phiself;
  PFKL           kl, klself;
  char           msg[256];

  PetscFunctionBegin;
  if (grank == 0) printf("1-D interval [0,1], %" PetscInt_FMT " points, trapezoid weights, ell = %g:\n", n, ell);
  PetscCall(PetscMalloc1(n, &x));
  PetscCall(PetscMalloc1(n, &w));
  for (PetscInt i = 0; i < n; i++) {
    x[i] = i * h;
    w[i] = (i == 0 || i == n - 1) ? 0.5 * h : h;
  }
  PetscCall(PFKLCreate(PETSC_COMM_WORLD, n, 1, x, w, ell, 1.0, nterms, &kl));
  PetscCall(PFKLGetEigenvalues(kl, &lam));
  PetscCall(PFKLGetModes(kl, &phi));
  for (int k = 0; k < ncheck; k++) {
    double exact = AnalyticEigenvalue(ell, k), rel = fabs(lam[k] - exact) / exact;
    worst = fmax(worst, rel);
    if (grank == 0) printf("    lambda_%d = %.6f, analytic %.6f, relative error %.2e\n", k + 1, lam[k], exact, rel);
  }
  snprintf(msg, sizeof msg, "first %d eigenvalues match the analytic ones: worst relative error %.2e (< 1e-2)", (int)ncheck, worst);
  Report((PetscBool)(worst < 1e-2), msg);
  orth = OrthonormalityError(n, nterms, w, phi);
  snprintf(msg, sizeof msg, "modes are w-orthonormal: max |Phi^T W Phi - I| = %.2e (< 1e-10)", orth);
  Report((PetscBool)(orth < 1e-10), msg);

  /* every rank must end up with rank 0's result; a rank-local solve is the
   * reference (on one rank this checks that the solve is deterministic) */
  PetscCall(PFKLCreate(PETSC_COMM_SELF, n, 1, x, w, ell, 1.0, nterms, &klself));
  PetscCall(PFKLGetEigenvalues(klself, &lamself));
  PetscCall(PFKLGetModes(klself, &phiself));
  for (PetscInt k = 0; k < nterms; k++) diff = fmax(diff, fabs(lam[k] - lamself[k]));
  for (PetscInt i = 0; i < n * nterms; i++) diff = fmax(diff, fabs(phi[i] - phiself[i]));
  PetscCall(MPIU_Allreduce(MPI_IN_PLACE, &diff, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  snprintf(msg, sizeof msg, "broadcast modes equal a local solve on every rank: max difference %.1e", diff);
  Report((PetscBool)(diff == 0.0), msg);
  PetscCall(PFKLDestroy(&klself));

  /* NULL weights mean 1/npts each */
  for (PetscInt i = 0; i < n; i++) w[i] = 1.0 / n;
  PetscCall(PFKLCreate(PETSC_COMM_WORLD, n, 1, x, w, ell, 1.0, nterms, &klself));
  PetscCall(PFKLDestroy(&kl));
  PetscCall(PFKLCreate(PETSC_COMM_WORLD, n, 1, x, NULL, ell, 1.0, nterms, &kl));
  PetscCall(PFKLGetEigenvalues(kl, &lam));
  PetscCall(PFKLGetEigenvalues(klself, &lamself));
  diff = 0.0;
  for (PetscInt k = 0; k < nterms; k++) diff = fmax(diff, fabs(lam[k] - lamself[k]));
  snprintf(msg, sizeof msg, "w = NULL gives the eigenvalues of w = 1/npts: max difference %.1e", diff);
  Report((PetscBool)(diff == 0.0), msg);
  PetscCall(PFKLDestroy(&klself));
  PetscCall(PFKLDestroy(&kl));
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestSquare(void)
{
  const PetscInt m = 64, n = m * m, nterms = 64, ndraw = 2000;
  const double   ell = 0.1, sigma2 = 1.0, h = 1.0 / (m - 1);
  /* corner, edge midpoint, centre and two interior points, as (ix, iy) */
  const PetscInt probe[5][2] = {
    {0,  0 },
    {31, 0 },
    {31, 31},
    {10, 50},
    {63, 40}
  };
  const PetscInt np = 5;
  PetscInt       pidx[5], sub[100], nsub = 0, sizes[2];
  double        *x, *w, *xi, *gfull, gsub[100], gp[5], sum2[5] = {0}, frac, orth, diff = 0.0;
  const double  *lam, *phi;
  PFKL           kl;
  PetscLogDouble t0, t1;
  char           msg[256];

  PetscFunctionBegin;
  if (grank == 0) printf("Unit square, %" PetscInt_FMT "x%" PetscInt_FMT " vertices, lumped weights, ell = %g, sigma2 = %g, %" PetscInt_FMT " terms:\n", m, m, ell, sigma2, nterms);
  PetscCall(PetscMalloc1(2 * n, &x));
  PetscCall(PetscMalloc1(n, &w));
  PetscCall(PetscMalloc1(nterms, &xi));
  PetscCall(PetscMalloc1(n, &gfull));
  for (PetscInt iy = 0; iy < m; iy++)
    for (PetscInt ix = 0; ix < m; ix++) {
      PetscInt i   = iy * m + ix;
      x[2 * i]     = ix * h;
      x[2 * i + 1] = iy * h;
      /* lumped P1 (= tensor trapezoid) mass: halved on each boundary side */
      w[i] = h * h * ((ix == 0 || ix == m - 1) ? 0.5 : 1.0) * ((iy == 0 || iy == m - 1) ? 0.5 : 1.0);
    }
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscTime(&t0));
  PetscCall(PFKLCreate(PETSC_COMM_WORLD, n, 2, x, w, ell, sigma2, nterms, &kl));
  PetscCall(PetscTime(&t1));
  PetscCall(PFKLGetSizes(kl, &sizes[0], &sizes[1]));
  PetscCall(PFKLGetEigenvalues(kl, &lam));
  PetscCall(PFKLGetModes(kl, &phi));
  PetscCall(PFKLGetVarianceFraction(kl, &frac));
  if (grank == 0) printf("    lambda_1 = %.6f, lambda_2 = %.6f, lambda_3 = %.6f, lambda_%" PetscInt_FMT " = %.6f; captured variance fraction %.4f; PFKLCreate %.2f s\n", lam[0], lam[1], lam[2], nterms, lam[nterms - 1], frac, (double)(t1 - t0));
  Report((PetscBool)(sizes[0] == n && sizes[1] == nterms), "PFKLGetSizes returns (npts, nterms)");
  {
    PetscBool desc = PETSC_TRUE;
    for (PetscInt k = 1; k < nterms; k++) desc = (PetscBool)(desc && lam[k] <= lam[k - 1]);
    snprintf(msg, sizeof msg, "eigenvalues are positive and descending (lambda_1 = %.4f > ... > lambda_%d = %.4f)", lam[0], (int)nterms, lam[nterms - 1]);
    Report((PetscBool)(desc && lam[nterms - 1] > 0.0), msg);
  }
  snprintf(msg, sizeof msg, "captured variance fraction %.4f is in (0, 1)", frac);
  Report((PetscBool)(frac > 0.0 && frac < 1.0), msg);
  /* the 4096-point dense eigensolve is the datagen's setup cost; ~10 s is
   * the budget on one core, with headroom here for a loaded test machine */
  snprintf(msg, sizeof msg, "4096-point setup takes %.2f s (budget ~10 s on one core; fail above 30 s)", (double)(t1 - t0));
  Report((PetscBool)(t1 - t0 < 30.0), msg);
  orth = OrthonormalityError(n, nterms, w, phi);
  snprintf(msg, sizeof msg, "modes are w-orthonormal: max |Phi^T W Phi - I| = %.2e (< 1e-10)", orth);
  Report((PetscBool)(orth < 1e-10), msg);

  /* empirical E[g^2] (the mean is known to be zero) against the truncated
   * KL variance; 2000 draws give a relative standard error of
   * sqrt(2/2000) = 3.2%, so 10% is a 3-sigma band */
  for (PetscInt p = 0; p < np; p++) pidx[p] = probe[p][1] * m + probe[p][0];
  for (PetscInt d = 0; d < ndraw; d++) {
    PFRNG r;
    PFRNGInit(&r, 20240611, PF_RNG_TEST, (uint64_t)d, 0);
    for (PetscInt k = 0; k < nterms; k++) xi[k] = PFRNGNormal(&r);
    PetscCall(PFKLEvaluate(kl, xi, np, pidx, gp));
    for (PetscInt p = 0; p < np; p++) sum2[p] += gp[p] * gp[p];
  }
  for (PetscInt p = 0; p < np; p++) {
    double pred = 0.0, emp = sum2[p] / ndraw, rel;
    for (PetscInt k = 0; k < nterms; k++) pred += lam[k] * phi[pidx[p] * nterms + k] * phi[pidx[p] * nterms + k];
    rel = fabs(emp - pred) / pred;
    snprintf(msg, sizeof msg, "point (%.3f, %.3f): empirical variance %.4f vs KL %.4f (sigma2 = %g), relative difference %.3f (< 0.1)", x[2 * pidx[p]], x[2 * pidx[p] + 1], emp, pred, sigma2, rel);
    Report((PetscBool)(rel < 0.1), msg);
  }

  /* a subset with a stride, in reverse order and with a repeat, as a rank's
   * own vertices might be */
  for (PetscInt i = n - 1; i >= 0; i -= 41) sub[nsub++] = i;
  sub[nsub++] = sub[0];
  PetscCall(PFKLEvaluate(kl, xi, n, NULL, gfull));
  PetscCall(PFKLEvaluate(kl, xi, nsub, sub, gsub));
  for (PetscInt i = 0; i < nsub; i++) diff = fmax(diff, fabs(gsub[i] - gfull[sub[i]]));
  snprintf(msg, sizeof msg, "evaluation at %d indexed points equals the full evaluation there: max difference %.1e", (int)nsub, diff);
  Report((PetscBool)(diff == 0.0), msg);

  PetscCall(PFKLDestroy(&kl));
  Report((PetscBool)(kl == NULL), "PFKLDestroy sets the handle to NULL");
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(w));
  PetscCall(PetscFree(xi));
  PetscCall(PetscFree(gfull));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestBadArguments(void)
{
  double         x[4] = {0.0, 0.25, 0.5, 1.0}, w[4] = {0.125, 0.25, 0.375, 0.25}, xi[2] = {1.0, -1.0}, g[4], frac;
  PetscInt       idx[2] = {1, 4};
  PFKL           kl = NULL, ok;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  if (grank == 0) printf("Bad arguments:\n");
  PetscCall(PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 1.0, 2, &ok));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PFKLCreate(PETSC_COMM_WORLD, 0, 1, x, w, 0.5, 1.0, 1, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "npts = 0 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 0, x, w, 0.5, 1.0, 1, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "dim = 0 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 1.0, 0, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "nterms = 0 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 1.0, 5, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "nterms = 5 > npts = 4 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.0, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "ell = 0 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, -0.1, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "ell < 0 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 0.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "sigma2 = 0 returns an error");
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, NAN, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "ell = NaN returns an error");
  /* data errors are found on rank 0 and must stop every rank */
  w[2] = 0.0;
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "a zero weight returns an error on every rank");
  w[2] = -0.375;
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "a negative weight returns an error on every rank");
  w[2] = 0.375;
  x[1] = NAN;
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, x, w, 0.5, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "a NaN coordinate returns an error on every rank");
  x[1] = 0.25;
  ierr = PFKLCreate(PETSC_COMM_WORLD, 4, 1, NULL, w, 0.5, 1.0, 2, &kl);
  Report((PetscBool)(ierr != 0 && !kl), "coords = NULL returns an error on every rank");
  ierr = PFKLEvaluate(ok, xi, 2, idx, g);
  Report((PetscBool)(ierr != 0), "PFKLEvaluate with idx = 4 out of [0, 4) returns an error");
  ierr = PFKLEvaluate(ok, xi, 3, NULL, g);
  Report((PetscBool)(ierr != 0), "PFKLEvaluate without idx and n = 3 != npts returns an error");
  ierr = PFKLEvaluate(ok, NULL, 4, NULL, g);
  Report((PetscBool)(ierr != 0), "PFKLEvaluate with xi = NULL returns an error");
  ierr = PFKLGetVarianceFraction(NULL, &frac);
  Report((PetscBool)(ierr != 0), "PFKLGetVarianceFraction(NULL) returns an error");
  PetscCall(PetscPopErrorHandler());
  PetscCall(PFKLDestroy(&ok));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, "PFKL tests"));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &grank));
  PetscCall(TestInterval());
  PetscCall(TestSquare());
  PetscCall(TestBadArguments());
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &nfail, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD));
  if (grank == 0) printf("%s: %d failure(s)\n", nfail ? "FAILED" : "PASSED", nfail);
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
