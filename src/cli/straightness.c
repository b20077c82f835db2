/* Path straightness of a model's sampling ODE (Liu, Gong & Liu 2023,
 * rectified flow): S = int_0^1 E |(x1 - x0) - v(x_t, t)|^2 dt, zero when
 * every path is a straight line, so that one Euler step is exact.  For the
 * K-step Euler sampler sum_k v_k / K = x1 - x0 exactly, so
 *   S_K = E[ (1/K) sum_k |v_k|^2 - |x1 - x0|^2 ]
 * is accumulated during sampling; it is reported relative to E|x1 - x0|^2
 * (normalised units, all components). */
#include <physflow/private/netimpl.h>
#include "cli.h"

PetscErrorCode PFStraightnessVelocity(void *vctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  PFStraightness *s = (PFStraightness *)vctx;

  PetscFunctionBegin;
  if (s->calls == 0) PetscCall(PetscArraycpy(s->x0, x, (size_t)nloc * s->n)); /* t = 0: the noise */
  s->calls++;
  PetscCall(PFNetForwardAtTime(s->net, nloc, x, t, s->tbuf, v));
  for (size_t q = 0; q < (size_t)nloc * s->n; q++) s->vsq += (double)v[q] * (double)v[q];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFStraightnessFinish(PFStraightness *s, MPI_Comm comm, PetscInt nloc, const pfreal *x1, double *S)
{
  double sums[2] = {s->vsq / (double)PetscMax(s->calls, 1), 0};

  PetscFunctionBegin;
  for (size_t q = 0; q < (size_t)nloc * s->n; q++) {
    double d = (double)x1[q] - (double)s->x0[q];
    sums[1] += d * d;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, comm));
  *S = sums[1] > 0 ? (sums[0] - sums[1]) / sums[1] : 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
