/* Maximum-entropy reweighting (include/physflow/guide.h): the exponential
 * tilt of an empirical distribution that matches a target mean. */
#include <math.h>
#include <physflow/guide.h>

/* weighted mean and variance under w_i ~ exp(-lambda f_i), stably */
static void Moments(PetscInt N, const double f[], double lambda, double *mean, double *var, double *logz)
{
  double mx = -INFINITY, z = 0, s = 0, q = 0;
  for (PetscInt i = 0; i < N; i++) mx = PetscMax(mx, -lambda * f[i]);
  for (PetscInt i = 0; i < N; i++) {
    double w = exp(-lambda * f[i] - mx);
    z += w, s += w * f[i], q += w * f[i] * f[i];
  }
  *mean = s / z;
  *var  = PetscMax(q / z - *mean * *mean, 0.0);
  *logz = mx + log(z / (double)N);
}

PetscErrorCode PFMaxEntLambda(PetscInt N, const double f[], double target, double sigma, double *lambda, double *mean_w)
{
  double l = 0, mean, var, logz, fmin = INFINITY, fmax = -INFINITY;

  PetscFunctionBegin;
  PetscCheck(N > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "max-ent reweighting needs more than one sample");
  for (PetscInt i = 0; i < N; i++) {
    PetscCheck(isfinite(f[i]), PETSC_COMM_SELF, PETSC_ERR_FP, "observable of base sample %" PetscInt_FMT " is not finite", i);
    fmin = PetscMin(fmin, f[i]), fmax = PetscMax(fmax, f[i]);
  }
  PetscCheck(sigma > 0 || (target > fmin && target < fmax), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "target %g lies outside the base samples' range [%g, %g]: no reweighting reaches it (give -observable_sigma, or more base samples)", target, fmin, fmax);
  /* Newton on the dual G(l) = log Z(l) + l target + sigma^2 l^2/2:
   * G' = target - E_l f + sigma^2 l, G'' = Var_l f + sigma^2 (convex),
   * halving the step until G decreases */
  for (int it = 0; it < 200; it++) {
    double g, h, G0, step;
    Moments(N, f, l, &mean, &var, &logz);
    G0 = logz + l * target + 0.5 * sigma * sigma * l * l;
    g  = target - mean + sigma * sigma * l;
    h  = var + sigma * sigma;
    if (fabs(g) <= 1e-12 * (1 + fabs(target))) break;
    PetscCheck(h > 0, PETSC_COMM_SELF, PETSC_ERR_CONV_FAILED, "max-ent reweighting: the weights collapsed on one sample (target too far from the base samples)");
    step = -g / h;
    for (int k = 0; k < 60; k++) {
      double m2, v2, lz2, G1;
      Moments(N, f, l + step, &m2, &v2, &lz2);
      G1 = lz2 + (l + step) * target + 0.5 * sigma * sigma * (l + step) * (l + step);
      if (G1 <= G0 + 1e-14 * fabs(G0)) break;
      step *= 0.5;
    }
    l += step;
  }
  Moments(N, f, l, &mean, &var, &logz);
  *lambda = l;
  *mean_w = mean;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFGuideMoments(PetscInt N, const double f[], double *mean, double *var)
{
  double m = 0, v = 0;
  for (PetscInt i = 0; i < N; i++) m += f[i] / N;
  for (PetscInt i = 0; i < N; i++) v += (f[i] - m) * (f[i] - m) / (N - 1);
  *mean = m, *var = v;
}

/* the reweighted fraction of f >= thr under w ~ exp(-lambda f), and the mean */
static void Fraction(PetscInt N, const double f[], double lambda, double thr, double *frac, double *mean)
{
  double mx = -INFINITY, z = 0, s = 0, in = 0;
  for (PetscInt i = 0; i < N; i++) mx = PetscMax(mx, -lambda * f[i]);
  for (PetscInt i = 0; i < N; i++) {
    double w = exp(-lambda * f[i] - mx);
    z += w, s += w * f[i], in += f[i] >= thr ? w : 0;
  }
  *frac = in / z;
  *mean = s / z;
}

PetscErrorCode PFMaxEntLambdaFraction(PetscInt N, const double f[], double thr, double F, double *lambda, double *mean_w)
{
  double m, v, sd, lo = 0, hi = 1, frac, mean;

  PetscFunctionBegin;
  PetscCheck(N > 1 && F > 0 && F < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "max-ent fraction: need N > 1 and 0 < F < 1");
  for (PetscInt i = 0; i < N; i++) PetscCheck(isfinite(f[i]), PETSC_COMM_SELF, PETSC_ERR_FP, "observable of base sample %" PetscInt_FMT " is not finite", i);
  PFGuideMoments(N, f, &m, &v);
  sd = v > 0 ? sqrt(v) : 1;
  /* -lambda sd in [0, hi]: the fraction grows with it; double hi until
   * the fraction is reached, then bisect */
  for (int k = 0; k < 60; k++) {
    Fraction(N, f, -hi / sd, thr, &frac, &mean);
    if (frac >= F) break;
    hi *= 2;
  }
  PetscCheck(frac >= F, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "no tilt of the base samples puts %g of them above %g (none above it?)", F, thr);
  for (int k = 0; k < 100; k++) {
    double mid = 0.5 * (lo + hi);
    Fraction(N, f, -mid / sd, thr, &frac, &mean);
    if (frac < F) lo = mid;
    else hi = mid;
  }
  Fraction(N, f, -hi / sd, thr, &frac, &mean);
  *lambda = -hi / sd;
  *mean_w = mean;
  PetscFunctionReturn(PETSC_SUCCESS);
}
