/* Distribution metrics between two point clouds: sliced Wasserstein-2 and
 * kernel MMD.  Both are deterministic functions of their inputs and the seed,
 * so an evaluation report can be reproduced bit for bit. */
#include <math.h>
#include <physflow/metrics.h>
#include <physflow/rng.h>

static int CompareDouble(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* NaN would make the sorts and the median meaningless without any visible
 * failure, so refuse it (and infinities) with a message naming the point. */
static PetscErrorCode CheckFinite(const char *func, const char *name, PetscInt n, PetscInt d, const double *x)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt k = 0; k < d; k++)
      PetscCheck(isfinite(x[(size_t)i * (size_t)d + k]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "%s: %s[%" PetscInt_FMT "][%" PetscInt_FMT "] = %g is not finite", func, name, i, k, x[(size_t)i * (size_t)d + k]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* p[i] = <x_i, dir> for the n points of x */
static void Project(PetscInt n, PetscInt d, const double *x, const double *dir, double *p)
{
  for (PetscInt i = 0; i < n; i++) {
    const double *xi = x + (size_t)i * (size_t)d;
    double        s  = 0.0;
    for (PetscInt k = 0; k < d; k++) s += xi[k] * dir[k];
    p[i] = s;
  }
}

PetscErrorCode PFSlicedWasserstein(PetscInt d, PetscInt na, const double *a, PetscInt nb, const double *b, PetscInt nproj, uint64_t seed, double *swd)
{
  double  *dir, *pa, *pb, acc = 0.0;
  PetscInt M;

  PetscFunctionBegin;
  PetscCheck(d > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFSlicedWasserstein: dimension d = %" PetscInt_FMT " must be positive", d);
  PetscCheck(na > 0 && nb > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFSlicedWasserstein: both point sets need at least one point (na = %" PetscInt_FMT ", nb = %" PetscInt_FMT ")", na, nb);
  PetscCheck(nproj > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFSlicedWasserstein: the number of projections nproj = %" PetscInt_FMT " must be positive", nproj);
  PetscCheck(a && b && swd, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFSlicedWasserstein: a, b and swd must be non-NULL");
  PetscCall(CheckFinite("PFSlicedWasserstein", "a", na, d, a));
  PetscCall(CheckFinite("PFSlicedWasserstein", "b", nb, d, b));

  PetscCall(PetscMalloc1(d, &dir));
  PetscCall(PetscMalloc1(na, &pa));
  PetscCall(PetscMalloc1(nb, &pb));
  M = PetscMax(na, nb);
  for (PetscInt p = 0; p < nproj; p++) {
    PFRNG  r;
    double norm2 = 0.0, w2 = 0.0;

    /* Direction p is its own stream (a = p), so it does not depend on how
     * many projections are asked for: the first 100 directions of a
     * 1000-projection run are those of a 100-projection run. */
    PFRNGInit(&r, seed, PF_RNG_EVAL, (uint64_t)p, 0);
    while (norm2 == 0.0) { /* a zero vector has probability zero; redraw anyway */
      for (PetscInt k = 0; k < d; k++) {
        dir[k] = PFRNGNormal(&r);
        norm2 += dir[k] * dir[k];
      }
    }
    for (PetscInt k = 0; k < d; k++) dir[k] /= sqrt(norm2);

    Project(na, d, a, dir, pa);
    Project(nb, d, b, dir, pb);
    qsort(pa, (size_t)na, sizeof(double), CompareDouble);
    qsort(pb, (size_t)nb, sizeof(double), CompareDouble);

    /* W2^2 between the 1-D empirical laws = integral over q of the squared
     * difference of their quantile functions, evaluated at the M midpoints
     * q_k = (k+0.5)/M.  Quantile of sorted x[0..n) at q is x[floor(q n)];
     * floor((k+0.5) n / M) = floor((2k+1) n / (2M)) is computed in integers so
     * no rounding can shift an index, and for na == nb it is just k (plain
     * sorted matching).  64-bit because (2k+1) n can exceed 2^31. */
    for (PetscInt k = 0; k < M; k++) {
      int64_t num = 2 * (int64_t)k + 1, den = 2 * (int64_t)M;
      int64_t ia = PetscMin(num * na / den, (int64_t)na - 1);
      int64_t ib = PetscMin(num * nb / den, (int64_t)nb - 1);
      double  diff = pa[ia] - pb[ib];
      w2 += diff * diff;
    }
    acc += w2 / (double)M;
  }
  *swd = sqrt(acc / (double)nproj);
  PetscCall(PetscFree(dir));
  PetscCall(PetscFree(pa));
  PetscCall(PetscFree(pb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static inline double SquaredDistance(PetscInt d, const double *x, const double *y)
{
  double s = 0.0;
  for (PetscInt k = 0; k < d; k++) {
    double t = x[k] - y[k];
    s += t * t;
  }
  return s;
}

static inline void SwapDouble(double *x, size_t i, size_t j)
{
  double t = x[i];
  x[i]     = x[j];
  x[j]     = t;
}

/* Returns the k-th smallest of x[0..n) (0-based) and leaves x partitioned so
 * that x[0..k) <= x[k] <= x[k+1..n).  Quickselect with a median-of-three pivot
 * and a three-way partition: expected O(n), and many equal values (duplicated
 * points give many equal distances) cost nothing extra. */
static double SelectKth(double *x, size_t n, size_t k)
{
  size_t lo = 0, hi = n; /* the answer lies in x[lo..hi) */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2, lt, gt, i;
    double p;
    /* median of first, middle and last as the pivot */
    if (x[mid] < x[lo]) SwapDouble(x, mid, lo);
    if (x[hi - 1] < x[lo]) SwapDouble(x, hi - 1, lo);
    if (x[hi - 1] < x[mid]) SwapDouble(x, hi - 1, mid);
    p = x[mid];
    /* Dutch-flag partition: [lo,lt) < p, [lt,i) == p, (gt,hi) > p */
    lt = lo;
    gt = hi - 1;
    i  = lo;
    while (i <= gt) {
      if (x[i] < p) SwapDouble(x, lt++, i++);
      else if (x[i] > p) {
        SwapDouble(x, i, gt);
        if (gt == 0) break;
        gt--;
      } else i++;
    }
    if (k < lt) hi = lt;
    else if (k > gt) lo = gt + 1;
    else return p;
  }
  return x[k];
}

PetscErrorCode PFMMD(PetscInt d, PetscInt na, const double *a, PetscInt nb, const double *b, PetscInt maxn, double *mmd2)
{
  PetscInt m, n, N;
  size_t   npair, q = 0;
  double  *dist2, h, g, sxx = 0.0, syy = 0.0, sxy = 0.0;

  PetscFunctionBegin;
  PetscCheck(d > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFMMD: dimension d = %" PetscInt_FMT " must be positive", d);
  PetscCheck(na > 1 && nb > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFMMD: the unbiased estimator needs at least 2 points in each set (na = %" PetscInt_FMT ", nb = %" PetscInt_FMT ")", na, nb);
  PetscCheck(maxn > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFMMD: maxn = %" PetscInt_FMT " must be at least 2 (it caps the points used from each set)", maxn);
  PetscCheck(a && b && mmd2, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFMMD: a, b and mmd2 must be non-NULL");
  m = PetscMin(na, maxn);
  n = PetscMin(nb, maxn);
  N = m + n;
  PetscCall(CheckFinite("PFMMD", "a", m, d, a));
  PetscCall(CheckFinite("PFMMD", "b", n, d, b));

  /* Pooled sample z = (a[0..m), b[0..n)); bandwidth from the median of the
   * N(N-1)/2 pairwise distances.  Work on squared distances (same order) and
   * take square roots of the middle ones only. */
  npair = (size_t)N * (size_t)(N - 1) / 2;
  PetscCall(PetscMalloc1(npair, &dist2));
  for (PetscInt i = 0; i < N; i++) {
    const double *zi = i < m ? a + (size_t)i * d : b + (size_t)(i - m) * d;
    for (PetscInt j = i + 1; j < N; j++) {
      const double *zj = j < m ? a + (size_t)j * d : b + (size_t)(j - m) * d;
      dist2[q++]       = SquaredDistance(d, zi, zj);
    }
  }
  if (npair % 2) h = sqrt(SelectKth(dist2, npair, npair / 2));
  else {
    /* even count: mean of the two middle distances; the upper one is the
     * smallest entry above the selected lower one */
    double lower = SelectKth(dist2, npair, npair / 2 - 1), upper = dist2[npair / 2];
    for (size_t t = npair / 2 + 1; t < npair; t++) upper = PetscMin(upper, dist2[t]);
    h = 0.5 * (sqrt(lower) + sqrt(upper));
  }
  if (h == 0.0) {
    /* More than half the pairs coincide (heavily duplicated data): fall back
     * to the mean distance so the kernels still see the distinct points. */
    double s = 0.0;
    for (size_t t = 0; t < npair; t++) s += sqrt(dist2[t]);
    h = s / (double)npair;
  }
  PetscCall(PetscFree(dist2));
  if (h == 0.0) { /* every point is the same point: the two laws are equal */
    *mmd2 = 0.0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /* Kernel k(x,y) = sum over s in {0.5,1,2} of exp(-|x-y|^2 / (2 (s h)^2)).
   * The three exponents are 16, 4 and 1 times that of the widest kernel, so
   * one exp and three squarings give all of them. */
  g = 1.0 / (8.0 * h * h); /* widest kernel, s = 2 */
  for (PetscInt i = 0; i < N; i++) {
    const double *zi = i < m ? a + (size_t)i * d : b + (size_t)(i - m) * d;
    double        row = 0.0, rowx = 0.0;
    for (PetscInt j = i + 1; j < N; j++) {
      const double *zj = j < m ? a + (size_t)j * d : b + (size_t)(j - m) * d;
      double        e2 = exp(-g * SquaredDistance(d, zi, zj)), e1, e05;
      e1  = e2 * e2;
      e1  = e1 * e1;
      e05 = e1 * e1;
      e05 = e05 * e05;
      if (j < m || i >= m) row += e2 + e1 + e05;
      else rowx += e2 + e1 + e05;
    }
    /* per-row partial sums keep the big totals from swallowing small terms */
    if (i < m) {
      sxx += row;
      sxy += rowx;
    } else syy += row;
  }
  /* unbiased U-statistic: off-diagonal means within each set (each pair was
   * visited once, hence the 2) minus twice the cross mean */
  *mmd2 = 2.0 * sxx / ((double)m * (double)(m - 1)) + 2.0 * syy / ((double)n * (double)(n - 1)) - 2.0 * sxy / ((double)m * (double)n);
  PetscFunctionReturn(PETSC_SUCCESS);
}
