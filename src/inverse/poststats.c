/* Posterior summaries (include/physflow/inverse.h) */
#include <math.h>
#include <stdlib.h>
#include <physflow/inverse.h>

static int CompareDouble(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* a column of a few dozen samples: insertion sort beats qsort's
 * callbacks (the campaigns summarise thousands of columns per observation) */
static void SortColumn(double *c, PetscInt N)
{
  if (N > 64) {
    qsort(c, (size_t)N, sizeof(double), CompareDouble);
    return;
  }
  for (PetscInt i = 1; i < N; i++) {
    double   t = c[i];
    PetscInt j = i;
    for (; j > 0 && c[j - 1] > t; j--) c[j] = c[j - 1];
    c[j] = t;
  }
}

static double Quantile(const double *s, PetscInt N, double q)
{
  double   u = q * (double)(N - 1);
  PetscInt k = (PetscInt)floor(u);
  if (k >= N - 1) return s[N - 1];
  return s[k] + (u - (double)k) * (s[k + 1] - s[k]);
}

double PFPosteriorBandLevel(PetscInt N, double mass, PetscBool predictive)
{
  double u;

  if (!predictive || N < 2) return 0.5 * (1 - mass);
  u = 0.5 * (double)(N + 1) * (1 - mass);
  return u <= 1 ? 0 : (u - 1) / (double)(N - 1);
}

double PFPosteriorEstimateError(PetscInt nv, const double *m, const double *est, const double *truth)
{
  double e2 = 0, t2 = 0;

  if (!truth) return NAN;
  for (PetscInt v = 0; v < nv; v++) {
    e2 += m[v] * (est[v] - truth[v]) * (est[v] - truth[v]);
    t2 += m[v] * truth[v] * truth[v];
  }
  return sqrt(e2 / PetscMax(t2, 1e-300));
}

PetscErrorCode PFPosteriorStats(PetscInt N, PetscInt nv, const double *X, const double *m, const double *truth, double lo, double *mean, double *std, double *qlo, double *qhi, double *err, double *cov)
{
  double *col, in = 0;

  PetscFunctionBegin;
  PetscCheck(N >= 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "posterior statistics need at least 2 samples");
  PetscCheck(lo >= 0 && lo < 0.5, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "band level %g outside [0, 0.5)", lo);
  PetscCall(PetscMalloc1(N, &col));
  for (PetscInt v = 0; v < nv; v++) {
    double s = 0, ss = 0;
    for (PetscInt i = 0; i < N; i++) {
      col[i] = X[(size_t)i * nv + v];
      s += col[i];
    }
    mean[v] = s / N;
    for (PetscInt i = 0; i < N; i++) ss += (col[i] - mean[v]) * (col[i] - mean[v]);
    std[v] = sqrt(ss / (N - 1));
    SortColumn(col, N);
    qlo[v] = Quantile(col, N, lo);
    qhi[v] = Quantile(col, N, 1 - lo);
    if (truth) in += (truth[v] >= qlo[v] && truth[v] <= qhi[v]) ? 1 : 0;
  }
  *err = PFPosteriorEstimateError(nv, m, mean, truth);
  *cov = truth ? in / nv : NAN;
  PetscCall(PetscFree(col));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* P(|T| <= t) for Student's t with nu degrees of freedom, by the finite
 * series for integer nu (Abramowitz & Stegun 26.7.3 and 26.7.4), theta =
 * atan(t / sqrt(nu)) */
static double StudentCentral(double t, PetscInt nu)
{
  const double th = atan(t / sqrt((double)nu)), c = cos(th), sn = sin(th);
  double       term, sum;

  if (nu % 2 == 0) {
    term = sum = 1;
    for (PetscInt k = 2; k <= nu - 2; k += 2) term *= c * c * (k - 1) / k, sum += term;
    return sn * sum;
  }
  if (nu == 1) return 2 * th / PETSC_PI;
  term = sum = c;
  for (PetscInt k = 3; k <= nu - 2; k += 2) term *= c * c * (k - 1) / k, sum += term;
  return 2 / PETSC_PI * (th + sn * sum);
}

double PFPosteriorGaussianMultiplier(PetscInt N, double mass)
{
  double lo = 0, hi = 1e4;

  if (N < 2 || !(mass > 0 && mass < 1)) return NAN;
  /* t with P(|T_{N-1}| <= t) = mass, by bisection (monotone in t) */
  for (int it = 0; it < 200 && hi - lo > 1e-13 * hi; it++) {
    const double mid = 0.5 * (lo + hi);
    if (StudentCentral(mid, N - 1) < mass) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi) * sqrt(1 + 1.0 / N);
}

PetscErrorCode PFPosteriorGaussianBand(PetscInt nv, const double *mean, const double *std, double mult, const double *truth, double *qlo, double *qhi, double *cov)
{
  double in = 0;

  PetscFunctionBegin;
  PetscCheck(mult > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "band multiplier %g must be positive", mult);
  for (PetscInt v = 0; v < nv; v++) {
    qlo[v] = mean[v] - mult * std[v];
    qhi[v] = mean[v] + mult * std[v];
    if (truth) in += (truth[v] >= qlo[v] && truth[v] <= qhi[v]) ? 1 : 0;
  }
  *cov = truth ? in / nv : NAN;
  PetscFunctionReturn(PETSC_SUCCESS);
}
