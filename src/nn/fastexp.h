#pragma once
/* exp(x) for float32 activations, written so that GCC vectorises the loops
 * that call it (libm's expf is a scalar call and dominated the non-GEMM time
 * of the MLP).  Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, and a
 * degree-6 Taylor polynomial for e^r (truncation error < 2e-8 relative), then
 * scaling by 2^n through the exponent bits.  Max relative error ~2 ulp. */
#include <stdint.h>
#include <string.h>

static inline float pf_fast_expf(float x)
{
  const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
  x         = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  /* round to nearest by the 1.5*2^23 trick: branch-free, so it vectorises */
  float n   = (x * 1.4426950408889634f + 12582912.0f) - 12582912.0f;
  float r   = (x - n * ln2_hi) - n * ln2_lo;
  float p   = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
  int32_t e = ((int32_t)n + 127) << 23;
  float   s;
  memcpy(&s, &e, sizeof(s));
  return p * s;
}
