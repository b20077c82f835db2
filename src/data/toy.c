#include <math.h>
#include <physflow/data.h>
#include <physflow/rng.h>

const char *const PFToyTypes[] = {"moons", "8gaussians", "checkerboard", "PFToyType", "PF_TOY_", NULL};

void PFToySample(PFToyType type, uint64_t seed, uint64_t index, double x[2])
{
  PFRNG r;
  PFRNGInit(&r, seed, PF_RNG_TOY_DATA, index, (uint32_t)type);
  switch (type) {
  case PF_TOY_MOONS: {
    /* two interleaved half circles, noise 0.2, mapped by 3x - 1 (torchcfm) */
    double th = M_PI * PFRNGUniform(&r);
    int    lower = PFRNGNextU32(&r) & 1;
    double px = lower ? 1 - cos(th) : cos(th), py = lower ? 0.5 - sin(th) : sin(th);
    x[0] = 3 * (px + 0.2 * PFRNGNormal(&r)) - 1;
    x[1] = 3 * (py + 0.2 * PFRNGNormal(&r)) - 1;
  } break;
  case PF_TOY_8GAUSSIANS: {
    /* eight normals of variance 0.1 on a circle of radius 5 */
    int k = (int)PFRNGBelow(&r, 8);
    x[0]  = 5 * cos(2 * M_PI * k / 8) + sqrt(0.1) * PFRNGNormal(&r);
    x[1]  = 5 * sin(2 * M_PI * k / 8) + sqrt(0.1) * PFRNGNormal(&r);
  } break;
  case PF_TOY_CHECKERBOARD: {
    /* 4x4 checkerboard on [-4,4]^2 (FFJORD's toy) */
    double a = 4 * PFRNGUniform(&r) - 2;
    double b = PFRNGUniform(&r) - 2.0 * (double)(PFRNGNextU32(&r) & 1);
    b += fmod(floor(a) + 100, 2);
    x[0] = 2 * a;
    x[1] = 2 * b;
  } break;
  }
}
