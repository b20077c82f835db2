/* PFSlicedWasserstein and PFMMD.
 *
 * Checks, each printed with the measured numbers:
 *  - SWD of a set with itself is exactly 0, also with unequal sizes (a set
 *    against itself repeated twice has the same empirical law);
 *  - SWD between N(0,I) and N(mu,I) in 2-D (4000 points) is close to
 *    |mu|/sqrt(d): the mean over directions of the squared projected shift is
 *    |mu|^2/d;
 *  - SWD is symmetric and handles na != nb; same seed -> same value;
 *  - unbiased MMD^2 is ~0 for two samples of the same Gaussian and clearly
 *    positive for shifted ones; maxn truncates;
 *  - bad arguments return an error code. */
#include <math.h>
#include <physflow/compat.h>
#include <physflow/metrics.h>
#include <physflow/rng.h>

static int nfail = 0;

static void Report(PetscBool ok, const char *what)
{
  if (!ok) nfail++;
  printf("  [%s] %s\n", ok ? "ok" : "FAIL", what);
}

/* n points of N(shift, I) in R^d, from test stream 'stream' */
static PetscErrorCode Gaussian(PetscInt n, PetscInt d, const double *shift, uint64_t stream, double **x)
{
  PFRNG r;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n * d, x));
  PFRNGInit(&r, 77, PF_RNG_TEST, stream, 0);
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt k = 0; k < d; k++) (*x)[i * d + k] = PFRNGNormal(&r) + (shift ? shift[k] : 0.0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestSWD(void)
{
  const PetscInt d = 2, n = 4000, nsmall = 1500, nproj = 256;
  const double   mu[2] = {1.5, -2.0}, expect = 2.5 / sqrt(2.0);
  double        *x, *y, *ys, *x3, *xx, s, s2, sab, sba, sseed;
  char           msg[256];

  PetscFunctionBegin;
  printf("sliced Wasserstein-2 (d = %" PetscInt_FMT ", %" PetscInt_FMT " projections):\n", d, nproj);
  PetscCall(Gaussian(n, d, NULL, 1, &x));
  PetscCall(Gaussian(n, d, mu, 2, &y));
  PetscCall(Gaussian(nsmall, d, mu, 3, &ys));

  PetscCall(PFSlicedWasserstein(d, n, x, n, x, nproj, 5, &s));
  snprintf(msg, sizeof msg, "SWD(x, x) = %g (exactly 0)", s);
  Report((PetscBool)(s == 0.0), msg);

  /* x repeated twice: nb = 2 na, same empirical law, exercises the quantile grid */
  PetscCall(PetscMalloc1(2 * 500 * 3, &xx));
  PetscCall(Gaussian(500, 3, NULL, 4, &x3));
  PetscCall(PetscArraycpy(xx, x3, 500 * 3));
  PetscCall(PetscArraycpy(xx + 500 * 3, x3, 500 * 3));
  PetscCall(PFSlicedWasserstein(3, 500, x3, 1000, xx, 64, 5, &s));
  snprintf(msg, sizeof msg, "SWD(x, x repeated twice) in 3-D, 500 vs 1000 points = %g (exactly 0)", s);
  Report((PetscBool)(s == 0.0), msg);

  PetscCall(PFSlicedWasserstein(d, n, x, n, y, nproj, 5, &s));
  snprintf(msg, sizeof msg, "SWD(N(0,I), N(mu,I)), |mu| = 2.5, %" PetscInt_FMT " points each = %.4f, |mu|/sqrt(2) = %.4f, rel. err %.3f (< 0.1)", n, s, expect, fabs(s - expect) / expect);
  Report((PetscBool)(fabs(s - expect) < 0.1 * expect), msg);

  PetscCall(PFSlicedWasserstein(d, n, x, n, y, nproj, 5, &s2));
  PetscCall(PFSlicedWasserstein(d, n, x, n, y, nproj, 6, &sseed));
  snprintf(msg, sizeof msg, "same seed gives the same value (%.17g vs %.17g); seed 6 gives %.4f", s, s2, sseed);
  Report((PetscBool)(s == s2 && sseed != s), msg);

  PetscCall(PFSlicedWasserstein(d, n, x, nsmall, ys, nproj, 5, &sab));
  PetscCall(PFSlicedWasserstein(d, nsmall, ys, n, x, nproj, 5, &sba));
  snprintf(msg, sizeof msg, "na != nb (%" PetscInt_FMT " vs %" PetscInt_FMT "): SWD(a,b) = %.6f, SWD(b,a) = %.6f (equal), rel. err vs |mu|/sqrt(2) %.3f (< 0.1)", n, nsmall, sab, sba, fabs(sab - expect) / expect);
  Report((PetscBool)(sab == sba && fabs(sab - expect) < 0.1 * expect), msg);

  PetscCall(PetscFree(x));
  PetscCall(PetscFree(y));
  PetscCall(PetscFree(ys));
  PetscCall(PetscFree(x3));
  PetscCall(PetscFree(xx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestMMD(void)
{
  const PetscInt d = 2, n = 1000;
  const double   mu[2] = {1.0, 0.0};
  double        *x, *x2, *y, same, shifted, trunc, full, *dup;
  char           msg[256];

  PetscFunctionBegin;
  printf("MMD^2 (unbiased, Gaussian kernels at 0.5/1/2 x median distance):\n");
  PetscCall(Gaussian(n, d, NULL, 11, &x));
  PetscCall(Gaussian(n, d, NULL, 12, &x2));
  PetscCall(Gaussian(n, d, mu, 13, &y));

  PetscCall(PFMMD(d, n, x, n, x2, n, &same));
  snprintf(msg, sizeof msg, "two samples of N(0,I), %" PetscInt_FMT " points each: MMD^2 = %.3e (|.| < 0.01)", n, same);
  Report((PetscBool)(fabs(same) < 0.01), msg);

  PetscCall(PFMMD(d, n, x, n, y, n, &shifted));
  snprintf(msg, sizeof msg, "N(0,I) vs N((1,0),I): MMD^2 = %.4f (> 0.1 and > 10 x %.1e)", shifted, fabs(same));
  Report((PetscBool)(shifted > 0.1 && shifted > 10.0 * fabs(same)), msg);

  PetscCall(PFMMD(d, n, x, n, y, 300, &trunc));
  PetscCall(PFMMD(d, 300, x, 300, y, 300, &full));
  snprintf(msg, sizeof msg, "maxn = 300 uses the first 300 points: %.6f == %.6f", trunc, full);
  Report((PetscBool)(trunc == full), msg);

  PetscCall(PFMMD(d, n, y, n, x, n, &trunc));
  snprintf(msg, sizeof msg, "symmetric: MMD^2(y, x) = %.15f, MMD^2(x, y) = %.15f", trunc, shifted);
  Report((PetscBool)(fabs(trunc - shifted) <= 1e-12 * shifted), msg);

  /* all points identical: median and mean distances are 0; the laws are equal */
  PetscCall(PetscCalloc1(20 * d, &dup));
  PetscCall(PFMMD(d, 10, dup, 10, dup + 10 * d, 10, &same));
  snprintf(msg, sizeof msg, "all points identical: MMD^2 = %g (0)", same);
  Report((PetscBool)(same == 0.0), msg);

  PetscCall(PetscFree(x));
  PetscCall(PetscFree(x2));
  PetscCall(PetscFree(y));
  PetscCall(PetscFree(dup));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestBadArguments(void)
{
  double         x[8] = {0, 1, 2, 3, 4, 5, 6, 7}, out = -1.0;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  printf("bad arguments:\n");
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = PFSlicedWasserstein(0, 4, x, 4, x, 8, 1, &out);
  Report((PetscBool)(ierr != 0), "SWD with d = 0 returns an error code");
  ierr = PFSlicedWasserstein(2, 0, x, 4, x, 8, 1, &out);
  Report((PetscBool)(ierr != 0), "SWD with na = 0 returns an error code");
  ierr = PFSlicedWasserstein(2, 4, x, 4, x, 0, 1, &out);
  Report((PetscBool)(ierr != 0), "SWD with nproj = 0 returns an error code");
  ierr = PFMMD(-1, 4, x, 4, x, 4, &out);
  Report((PetscBool)(ierr != 0), "MMD with d = -1 returns an error code");
  ierr = PFMMD(2, 1, x, 4, x, 4, &out);
  Report((PetscBool)(ierr != 0), "MMD with na = 1 returns an error code");
  ierr = PFMMD(2, 4, x, 4, x, 1, &out);
  Report((PetscBool)(ierr != 0), "MMD with maxn = 1 returns an error code");
  x[5] = NAN;
  ierr = PFMMD(2, 4, x, 4, x, 4, &out);
  Report((PetscBool)(ierr != 0), "MMD with a NaN coordinate returns an error code");
  ierr = PFSlicedWasserstein(2, 4, x, 4, x, 8, 1, &out);
  Report((PetscBool)(ierr != 0), "SWD with a NaN coordinate returns an error code");
  PetscCall(PetscPopErrorHandler());
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, "PFSlicedWasserstein / PFMMD tests"));
  PetscCall(TestSWD());
  PetscCall(TestMMD());
  PetscCall(TestBadArguments());
  printf("%s: %d failure(s)\n", nfail ? "FAILED" : "PASSED", nfail);
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
