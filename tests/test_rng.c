/* PFRNG: Philox4x32-10 known answers, distribution sanity, stream identity.
 *
 * Checks, each printed with the measured numbers:
 *  1. PFPhilox4x32 reproduces the known-answer vectors of the Random123
 *     distribution (kat_vectors, philox4x32 with 10 rounds);
 *  2. PFRNGUniform: mean and variance of 1e6 draws within 5 sigma of 1/2 and
 *     1/12, every draw strictly inside (0,1), and the extreme bit patterns
 *     (all-zero and all-one words) also map strictly inside (0,1);
 *  3. PFRNGNormal: mean 0, variance 1, kurtosis 3 and the two-sided tail
 *     P(|z| > 3) within 5 sigma over 1e6 draws;
 *  4. PFRNGBelow(n): chi-square uniformity for n = 2, 3, 7, 10, and for
 *     n = 3*2^30, where plain modulo (top third of the range half as likely)
 *     and multiply-shift without rejection (residue 0 mod 3 twice as likely)
 *     are both detectable; n = 1 always gives 0;
 *  5. streams that differ in seed (low or high word), purpose, a (low or
 *     high part) or b share none of their first 16 words; the same key gives
 *     the same stream, and re-initialising drops a pending Box-Muller spare. */
#include <math.h>
#include <physflow/compat.h>
#include <physflow/rng.h>

static int nfail = 0;

static void Report(PetscBool ok, const char *what)
{
  if (!ok) nfail++;
  printf("  [%s] %s\n", ok ? "ok" : "FAIL", what);
}

static PetscErrorCode TestKnownAnswers(void)
{
  /* Random123 kat_vectors: counter, key, expected output */
  static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
  };

  PetscFunctionBegin;
  printf("Philox4x32-10 known answers:\n");
  for (int v = 0; v < 3; v++) {
    uint32_t out[4];
    char     msg[256];
    PFPhilox4x32(&kat[v][0], &kat[v][4], out);
    snprintf(msg, sizeof msg, "ctr %08x %08x %08x %08x key %08x %08x -> %08x %08x %08x %08x (expected %08x %08x %08x %08x)", kat[v][0], kat[v][1], kat[v][2], kat[v][3], kat[v][4], kat[v][5], out[0], out[1], out[2], out[3], kat[v][6], kat[v][7], kat[v][8], kat[v][9]);
    Report((PetscBool)(out[0] == kat[v][6] && out[1] == kat[v][7] && out[2] == kat[v][8] && out[3] == kat[v][9]), msg);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestUniform(void)
{
  const PetscInt n = 1000000;
  PFRNG          r;
  double         s = 0, s2 = 0, umin = 1, umax = 0, mean, var, sd_mean, sd_var, u;
  char           msg[256];

  PetscFunctionBegin;
  printf("PFRNGUniform, %" PetscInt_FMT " draws:\n", n);
  PFRNGInit(&r, 12345, PF_RNG_TEST, 1, 0);
  for (PetscInt i = 0; i < n; i++) {
    u = PFRNGUniform(&r);
    s += u;
    s2 += (u - 0.5) * (u - 0.5);
    umin = PetscMin(umin, u);
    umax = PetscMax(umax, u);
  }
  mean = s / n;
  var  = s2 / n - (mean - 0.5) * (mean - 0.5);
  /* sd of the mean: sqrt(1/12 / n); of the variance: sqrt((1/80 - 1/144) / n) */
  sd_mean = sqrt(1.0 / 12.0 / n);
  sd_var  = sqrt((1.0 / 80.0 - 1.0 / 144.0) / n);
  snprintf(msg, sizeof msg, "mean %.6f, |mean - 1/2| = %.2f sigma (< 5)", mean, fabs(mean - 0.5) / sd_mean);
  Report((PetscBool)(fabs(mean - 0.5) < 5 * sd_mean), msg);
  snprintf(msg, sizeof msg, "variance %.6f, |var - 1/12| = %.2f sigma (< 5)", var, fabs(var - 1.0 / 12.0) / sd_var);
  Report((PetscBool)(fabs(var - 1.0 / 12.0) < 5 * sd_var), msg);
  snprintf(msg, sizeof msg, "all draws in (0,1): min %.3e, 1 - max %.3e", umin, 1.0 - umax);
  Report((PetscBool)(umin > 0.0 && umax < 1.0), msg);
  /* The extreme words, fed in through the buffer of unread words: they are
   * drawn with probability 2^-53 each, so sampling would never reach them. */
  r.navail = 2;
  r.out[2] = r.out[3] = 0xffffffffu;
  u        = PFRNGUniform(&r);
  snprintf(msg, sizeof msg, "largest possible draw (all-one words) %.17g < 1", u);
  Report((PetscBool)(u < 1.0), msg);
  r.navail = 2;
  r.out[2] = r.out[3] = 0;
  u        = PFRNGUniform(&r);
  snprintf(msg, sizeof msg, "smallest possible draw (all-zero words) %.3e > 0", u);
  Report((PetscBool)(u > 0.0), msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestNormal(void)
{
  const PetscInt n = 1000000;
  const double   ptail = 0.0026997960632601866; /* P(|z| > 3) = erfc(3/sqrt 2) */
  PFRNG          r;
  double         m1 = 0, m2 = 0, m4 = 0, mean, var, kurt, tail;
  PetscInt       ntail = 0;
  char           msg[256];

  PetscFunctionBegin;
  printf("PFRNGNormal, %" PetscInt_FMT " draws:\n", n);
  PFRNGInit(&r, 12345, PF_RNG_TEST, 2, 0);
  for (PetscInt i = 0; i < n; i++) {
    double z = PFRNGNormal(&r);
    m1 += z;
    m2 += z * z;
    m4 += z * z * z * z;
    ntail += fabs(z) > 3.0;
  }
  mean = m1 / n;
  var  = m2 / n - mean * mean;
  kurt = (m4 / n) / ((m2 / n) * (m2 / n));
  tail = (double)ntail / n;
  /* standard errors: 1/sqrt(n), sqrt(2/n), sqrt(24/n), sqrt(p(1-p)/n) */
  snprintf(msg, sizeof msg, "mean %.5f = %.2f sigma (< 5)", mean, fabs(mean) / sqrt(1.0 / n));
  Report((PetscBool)(fabs(mean) < 5 * sqrt(1.0 / n)), msg);
  snprintf(msg, sizeof msg, "variance %.5f, |var - 1| = %.2f sigma (< 5)", var, fabs(var - 1) / sqrt(2.0 / n));
  Report((PetscBool)(fabs(var - 1) < 5 * sqrt(2.0 / n)), msg);
  snprintf(msg, sizeof msg, "kurtosis %.4f, |k - 3| = %.2f sigma (< 5)", kurt, fabs(kurt - 3) / sqrt(24.0 / n));
  Report((PetscBool)(fabs(kurt - 3) < 5 * sqrt(24.0 / n)), msg);
  snprintf(msg, sizeof msg, "P(|z| > 3) = %.5f vs %.5f, %.2f sigma (< 5)", tail, ptail, fabs(tail - ptail) / sqrt(ptail * (1 - ptail) / n));
  Report((PetscBool)(fabs(tail - ptail) < 5 * sqrt(ptail * (1 - ptail) / n)), msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Upper critical value of chi-square with k degrees of freedom at ~5 sigma
 * (one-sided p ~ 3e-7), by the Wilson-Hilferty cube approximation. */
static double ChiSquareCritical(double k)
{
  double c = 1.0 - 2.0 / (9.0 * k) + 5.0 * sqrt(2.0 / (9.0 * k));
  return k * c * c * c;
}

static double ChiSquare(PetscInt nbins, const PetscInt *count, PetscInt ndraws)
{
  double e = (double)ndraws / nbins, x2 = 0;
  for (PetscInt i = 0; i < nbins; i++) x2 += ((double)count[i] - e) * ((double)count[i] - e) / e;
  return x2;
}

static PetscErrorCode TestBelow(void)
{
  const uint32_t ns[4] = {2, 3, 7, 10};
  const uint32_t big   = 3u << 30; /* 2^32 mod big = 2^30: a large rejection zone */
  const PetscInt ndraw = 200000;
  PFRNG          r;
  PetscInt       count[10], third[3] = {0, 0, 0}, res[3] = {0, 0, 0}, bad = 0;
  char           msg[256];
  double         x2;

  PetscFunctionBegin;
  printf("PFRNGBelow, %" PetscInt_FMT " draws per n:\n", ndraw);
  for (int j = 0; j < 4; j++) {
    PFRNGInit(&r, 12345, PF_RNG_TEST, 3, (uint32_t)j);
    for (uint32_t i = 0; i < ns[j]; i++) count[i] = 0;
    bad = 0;
    for (PetscInt i = 0; i < ndraw; i++) {
      uint32_t v = PFRNGBelow(&r, ns[j]);
      if (v >= ns[j]) bad++;
      else count[v]++;
    }
    x2 = ChiSquare(ns[j], count, ndraw);
    snprintf(msg, sizeof msg, "n = %2u: chi2 %.2f with %u dof (critical %.1f), %" PetscInt_FMT " out of range", ns[j], x2, ns[j] - 1, ChiSquareCritical(ns[j] - 1), bad);
    Report((PetscBool)(bad == 0 && x2 < ChiSquareCritical(ns[j] - 1)), msg);
  }
  PFRNGInit(&r, 12345, PF_RNG_TEST, 3, 100);
  bad = 0;
  for (PetscInt i = 0; i < ndraw; i++) {
    uint32_t v = PFRNGBelow(&r, big);
    if (v >= big) bad++;
    else {
      third[v >> 30]++;
      res[v % 3]++;
    }
  }
  x2 = ChiSquare(3, third, ndraw);
  snprintf(msg, sizeof msg, "n = 3*2^30: thirds of the range %.4f %.4f %.4f, chi2 %.2f (critical %.1f), %" PetscInt_FMT " out of range", (double)third[0] / ndraw, (double)third[1] / ndraw, (double)third[2] / ndraw, x2, ChiSquareCritical(2), bad);
  Report((PetscBool)(bad == 0 && x2 < ChiSquareCritical(2)), msg);
  x2 = ChiSquare(3, res, ndraw);
  snprintf(msg, sizeof msg, "n = 3*2^30: residues mod 3 %.4f %.4f %.4f, chi2 %.2f (critical %.1f)", (double)res[0] / ndraw, (double)res[1] / ndraw, (double)res[2] / ndraw, x2, ChiSquareCritical(2));
  Report((PetscBool)(x2 < ChiSquareCritical(2)), msg);
  bad = 0;
  for (PetscInt i = 0; i < 1000; i++) bad += PFRNGBelow(&r, 1) != 0;
  snprintf(msg, sizeof msg, "n = 1 always gives 0 (%" PetscInt_FMT " of 1000 did not)", bad);
  Report((PetscBool)(bad == 0), msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode TestStreams(void)
{
  /* base stream, then one field changed at a time */
  struct {
    const char  *what;
    uint64_t     seed;
    PFRNGPurpose purpose;
    uint64_t     a;
    uint32_t     b;
  } st[7] = {
    {"base",         7,                       PF_RNG_TEST,      5,                       3},
    {"seed",         8,                       PF_RNG_TEST,      5,                       3},
    {"seed high",    7 + ((uint64_t)1 << 32), PF_RNG_TEST,      5,                       3},
    {"purpose",      7,                       PF_RNG_TOY_DATA,  5,                       3},
    {"a",            7,                       PF_RNG_TEST,      6,                       3},
    {"a high",       7,                       PF_RNG_TEST,      5 + ((uint64_t)1 << 32), 3},
    {"b",            7,                       PF_RNG_TEST,      5,                       4},
  };
  uint32_t w[7][16];
  PFRNG    r1, r2;
  PetscInt same = 0, differ = 0;
  char     msg[256];

  PetscFunctionBegin;
  printf("streams:\n");
  for (int s = 0; s < 7; s++) {
    PFRNGInit(&r1, st[s].seed, st[s].purpose, st[s].a, st[s].b);
    for (int k = 0; k < 16; k++) w[s][k] = PFRNGNextU32(&r1);
  }
  for (int s = 0; s < 7; s++)
    for (int q = s + 1; q < 7; q++) {
      PetscInt eq = 0;
      for (int k = 0; k < 16; k++) eq += w[s][k] == w[q][k];
      if (eq) {
        snprintf(msg, sizeof msg, "streams '%s' and '%s' share %" PetscInt_FMT " of their first 16 words", st[s].what, st[q].what, eq);
        Report(PETSC_FALSE, msg);
        same++;
      }
    }
  snprintf(msg, sizeof msg, "7 streams (base; seed, seed high word, purpose, a, a high part, b changed): %" PetscInt_FMT " of 21 pairs share a word", same);
  Report((PetscBool)(same == 0), msg);

  /* same key: identical mixed sequences, bit for bit */
  PFRNGInit(&r1, 99, PF_RNG_EVAL, 123456789012ull, 42);
  PFRNGInit(&r2, 99, PF_RNG_EVAL, 123456789012ull, 42);
  for (PetscInt i = 0; i < 10000; i++) {
    switch (i % 4) {
    case 0:
      differ += PFRNGNextU32(&r1) != PFRNGNextU32(&r2);
      break;
    case 1:
      differ += PFRNGUniform(&r1) != PFRNGUniform(&r2);
      break;
    case 2:
      differ += PFRNGNormal(&r1) != PFRNGNormal(&r2);
      break;
    default:
      differ += PFRNGBelow(&r1, 1000) != PFRNGBelow(&r2, 1000);
    }
  }
  snprintf(msg, sizeof msg, "same (seed, purpose, a, b): %" PetscInt_FMT " of 10000 mixed draws differ", differ);
  Report((PetscBool)(differ == 0), msg);

  /* re-initialising must not hand out the previous stream's spare normal */
  {
    double z_fresh, z_again;
    PFRNGInit(&r1, 5, PF_RNG_TEST, 9, 9);
    z_fresh = PFRNGNormal(&r1);
    PFRNGInit(&r2, 5, PF_RNG_TEST, 8, 8);
    (void)PFRNGNormal(&r2); /* leaves a spare pending */
    PFRNGInit(&r2, 5, PF_RNG_TEST, 9, 9);
    z_again = PFRNGNormal(&r2);
    snprintf(msg, sizeof msg, "re-init resets the Box-Muller spare: first normal %.6f vs fresh %.6f", z_again, z_fresh);
    Report((PetscBool)(z_again == z_fresh), msg);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscCall(PetscInitialize(&argc, &argv, NULL, "PFRNG tests"));
  PetscCall(TestKnownAnswers());
  PetscCall(TestUniform());
  PetscCall(TestNormal());
  PetscCall(TestBelow());
  PetscCall(TestStreams());
  printf("%s: %d failure(s)\n", nfail ? "FAILED" : "PASSED", nfail);
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
