#include <math.h>
#include <physflow/rng.h>

/* Philox4x32 round constants (Salmon et al. 2011, Table 2). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
  uint64_t p = (uint64_t)a * (uint64_t)b;
  *hi        = (uint32_t)(p >> 32);
  *lo        = (uint32_t)p;
}

void PFPhilox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(PHILOX_M0, c0, &hi0, &lo0);
    mulhilo(PHILOX_M1, c2, &hi1, &lo1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void PFRNGInit(PFRNG *r, uint64_t seed, PFRNGPurpose purpose, uint64_t a, uint32_t b)
{
  r->key[0]    = (uint32_t)seed;
  r->key[1]    = (uint32_t)(seed >> 32);
  r->ctr[0]    = 0; /* draw block counter */
  r->ctr[1]    = b;
  r->ctr[2]    = (uint32_t)a;
  r->ctr[3]    = ((uint32_t)purpose << 16) | (uint32_t)((a >> 32) & 0xFFFFu);
  r->navail    = 0;
  r->has_spare = 0;
  r->spare     = 0.0;
}

uint32_t PFRNGNextU32(PFRNG *r)
{
  if (r->navail == 0) {
    PFPhilox4x32(r->ctr, r->key, r->out);
    r->ctr[0]++;
    r->navail = 4;
  }
  return r->out[4 - r->navail--];
}

double PFRNGUniform(PFRNG *r)
{
  /* 53 random bits from two words, shifted by half an ulp so 0 never occurs */
  uint64_t hi = PFRNGNextU32(r) >> 5, lo = PFRNGNextU32(r) >> 6;
  double   u  = ((double)(hi * 67108864u + lo) + 0.5) / 9007199254740992.0;
  /* 2^53 - 1 + 0.5 is not a double and rounds (ties to even) up to 2^53, so
   * the all-ones draw would be exactly 1; map it to the largest double < 1 */
  return u < 1.0 ? u : 1.0 - 1.0 / 9007199254740992.0;
}

double PFRNGNormal(PFRNG *r)
{
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u1 = PFRNGUniform(r), u2 = PFRNGUniform(r);
  double rad = sqrt(-2.0 * log(u1)), ang = 2.0 * M_PI * u2;
  r->spare     = rad * sin(ang);
  r->has_spare = 1;
  return rad * cos(ang);
}

uint32_t PFRNGBelow(PFRNG *r, uint32_t n)
{
  /* Lemire's rejection keeps the draw exactly uniform */
  uint32_t threshold = (uint32_t)(-n) % n;
  for (;;) {
    uint64_t m = (uint64_t)PFRNGNextU32(r) * n;
    if ((uint32_t)m >= threshold) return (uint32_t)(m >> 32);
  }
}
