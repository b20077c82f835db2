/* Distribution metrics of mesh fields against reference fields (issue 5):
 * per field, the relative errors of the pointwise mean and std fields
 * (mass-weighted L2 norms, normalised by the reference std field); the
 * two-point correlation function of a field (radially binned, over random
 * vertex pairs); and a sliced Wasserstein distance in field space (each
 * sample a vector of all fields, scaled by the reference per-field std). */
#include <math.h>
#include <physflow/fieldmetrics.h>
#include <physflow/metrics.h>
#include <physflow/rng.h>

static void MeanStd(PetscInt n, PetscInt nv, const double *X, double *mu, double *sd)
{
  for (PetscInt v = 0; v < nv; v++) {
    double s = 0, q = 0;
    for (PetscInt i = 0; i < n; i++) {
      s += X[(size_t)i * nv + v];
      q += X[(size_t)i * nv + v] * X[(size_t)i * nv + v];
    }
    mu[v] = s / n;
    sd[v] = sqrt(PetscMax(q / n - mu[v] * mu[v], 0.0));
  }
}

PetscErrorCode PFFieldMomentErrors(PetscInt ns, PetscInt nr, PetscInt nv, const double *S, const double *R, const double *w, double *mean_err, double *std_err)
{
  double *ms, *ss, *mr, *sr, dm = 0, ds = 0, nrm = 0;

  PetscFunctionBegin;
  PetscCheck(ns > 1 && nr > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "moment errors need at least 2 samples on each side");
  PetscCall(PetscMalloc4(nv, &ms, nv, &ss, nv, &mr, nv, &sr));
  MeanStd(ns, nv, S, ms, ss);
  MeanStd(nr, nv, R, mr, sr);
  for (PetscInt v = 0; v < nv; v++) {
    double wv = w ? w[v] : 1.0;
    dm += wv * (ms[v] - mr[v]) * (ms[v] - mr[v]);
    ds += wv * (ss[v] - sr[v]) * (ss[v] - sr[v]);
    nrm += wv * sr[v] * sr[v];
  }
  PetscCheck(nrm > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "the reference field does not vary: relative errors undefined");
  *mean_err = sqrt(dm / nrm);
  *std_err  = sqrt(ds / nrm);
  PetscCall(PetscFree4(ms, ss, mr, sr));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFieldCorrelation(PetscInt n, PetscInt nv, const double *X, const double *coords, PetscInt nbins, double rmax, PetscInt npairs, uint64_t seed, double *corr)
{
  double *mu, *sd, *cnt;

  PetscFunctionBegin;
  PetscCall(PetscMalloc3(nv, &mu, nv, &sd, nbins, &cnt));
  MeanStd(n, nv, X, mu, sd);
  for (PetscInt b = 0; b < nbins; b++) corr[b] = cnt[b] = 0;
  for (PetscInt p = 0; p < npairs; p++) {
    PFRNG    r;
    PetscInt a, c, bin;
    double   d, s = 0;
    PFRNGInit(&r, seed, PF_RNG_EVAL, (uint64_t)p, 7);
    a   = (PetscInt)PFRNGBelow(&r, (uint32_t)nv);
    c   = (PetscInt)PFRNGBelow(&r, (uint32_t)nv);
    d   = hypot(coords[2 * a] - coords[2 * c], coords[2 * a + 1] - coords[2 * c + 1]);
    bin = (PetscInt)(d / rmax * nbins);
    if (bin >= nbins || sd[a] <= 0 || sd[c] <= 0) continue;
    for (PetscInt i = 0; i < n; i++) s += (X[(size_t)i * nv + a] - mu[a]) * (X[(size_t)i * nv + c] - mu[c]);
    corr[bin] += s / (n * sd[a] * sd[c]);
    cnt[bin] += 1;
  }
  for (PetscInt b = 0; b < nbins; b++) corr[b] = cnt[b] > 0 ? corr[b] / cnt[b] : NAN;
  PetscCall(PetscFree3(mu, sd, cnt));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFieldSlicedWasserstein(PetscInt nf, PetscInt ns, PetscInt nr, PetscInt nv, const double *const *S, const double *const *R, PetscInt nproj, uint64_t seed, double *swd)
{
  double *a, *b;
  size_t  d = (size_t)nf * (size_t)nv;

  PetscFunctionBegin;
  PetscCall(PetscMalloc2((size_t)ns * d, &a, (size_t)nr * d, &b));
  for (PetscInt f = 0; f < nf; f++) {
    /* scale each field by the reference's overall std so fields of different
     * units weigh alike */
    double s = 0, q = 0, sd;
    for (size_t k = 0; k < (size_t)nr * nv; k++) {
      s += R[f][k];
      q += R[f][k] * R[f][k];
    }
    s /= (double)nr * nv;
    sd = sqrt(PetscMax(q / ((double)nr * nv) - s * s, 1e-300));
    for (PetscInt i = 0; i < ns; i++)
      for (PetscInt v = 0; v < nv; v++) a[(size_t)i * d + (size_t)f * nv + v] = S[f][(size_t)i * nv + v] / sd;
    for (PetscInt i = 0; i < nr; i++)
      for (PetscInt v = 0; v < nv; v++) b[(size_t)i * d + (size_t)f * nv + v] = R[f][(size_t)i * nv + v] / sd;
  }
  PetscCall(PFSlicedWasserstein((PetscInt)d, ns, a, nr, b, nproj, seed, swd));
  PetscCall(PetscFree2(a, b));
  PetscFunctionReturn(PETSC_SUCCESS);
}
