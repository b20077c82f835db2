#pragma once
/* Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
 *
 * Every random number in physflow is addressed by (seed, purpose, a, b) and a
 * draw counter, never by MPI rank or call order.  That is what makes training,
 * datagen and sampling give the same answers on any number of ranks: the noise
 * of sample 17 at step 300 is the same whichever rank happens to own it. */
#include <stdint.h>

/* What a stream is used for; part of the counter so purposes never collide. */
typedef enum {
  PF_RNG_WEIGHT_INIT = 1,
  PF_RNG_TOY_DATA    = 2,
  PF_RNG_FLOW_X0     = 3,
  PF_RNG_FLOW_TIME   = 4,
  PF_RNG_SHUFFLE     = 5,
  PF_RNG_SAMPLE_X0   = 6,
  PF_RNG_SAMPLE_SDE  = 7,
  PF_RNG_EVAL        = 8,
  PF_RNG_TEST        = 9,
  PF_RNG_PDE_INPUT   = 10, /* random coefficients of a PDE sample */
  PF_RNG_PDE_NOISE   = 11, /* observational noise added to solutions */
  PF_RNG_OBS         = 12, /* which entries are observed, and their noise */
  PF_RNG_COND        = 13, /* random conditions of a conditional model's training samples */
  PF_RNG_MCMC        = 14, /* proposals and acceptances of a reference MCMC chain */
  PF_RNG_LAPLACE     = 15  /* draws of a Laplace approximation of a posterior */
} PFRNGPurpose;

typedef struct {
  uint32_t key[2];
  uint32_t ctr[4];
  uint32_t out[4];
  int      navail; /* unread words left in out[] */
  int      has_spare;
  double   spare;  /* second Box-Muller normal */
} PFRNG;

/* Stream for (seed, purpose, a, b); a is a 48-bit index (e.g. a sample or
 * step), b a 32-bit index (e.g. a global vertex or component). */
void     PFRNGInit(PFRNG *r, uint64_t seed, PFRNGPurpose purpose, uint64_t a, uint32_t b);
uint32_t PFRNGNextU32(PFRNG *r);
double   PFRNGUniform(PFRNG *r);    /* uniform in the open interval (0,1) */
double   PFRNGNormal(PFRNG *r);     /* standard normal (Box-Muller) */
uint32_t PFRNGBelow(PFRNG *r, uint32_t n); /* uniform integer in [0,n), unbiased */
void     PFPhilox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
