/* ConFIG, the two-gradient closed form (Liu, Chu & Thuerey 2024,
 * "ConFIG: Towards Conflict-free Training of Physics Informed Neural
 * Networks"): the conflict-free direction of m gradients is the unit vector
 * u with equal projections on the unit gradients, [U(g_i)]^T u = const; for
 * two gradients it is the normalised sum of the unit gradients.  The length
 * is the sum of the gradients' projections on it. */
#include <math.h>
#include <physflow/constraint.h>

PetscErrorCode PFConFIGCombine(MPI_Comm comm, size_t n, const pfreal *g1, const pfreal *g2, pfreal *out)
{
  double loc[3] = {0, 0, 0}, s[3], n1, n2, a, b, nu, proj;

  PetscFunctionBegin;
  for (size_t i = 0; i < n; i++) {
    loc[0] += (double)g1[i] * (double)g1[i];
    loc[1] += (double)g2[i] * (double)g2[i];
    loc[2] += (double)g1[i] * (double)g2[i];
  }
  PetscCallMPI(MPI_Allreduce(loc, s, 3, MPI_DOUBLE, MPI_SUM, comm));
  n1 = sqrt(s[0]);
  n2 = sqrt(s[1]);
  if (n1 == 0 || n2 == 0) { /* one loss is flat: follow the other */
    for (size_t i = 0; i < n; i++) out[i] = g1[i] + g2[i];
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* u = (g1/n1 + g2/n2) / nu, |g1/n1 + g2/n2|^2 = 2 + 2 cos */
  a  = 1 / n1;
  b  = 1 / n2;
  nu = sqrt(PetscMax(0.0, 2 + 2 * s[2] / (n1 * n2)));
  if (nu < 1e-12) { /* exactly opposed: no direction decreases both */
    for (size_t i = 0; i < n; i++) out[i] = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* (g1 + g2) . u = (n1 + n2)(1 + cos) / nu */
  proj = (n1 + n2) * (1 + s[2] / (n1 * n2)) / nu;
  for (size_t i = 0; i < n; i++) out[i] = (pfreal)(proj * (a * (double)g1[i] + b * (double)g2[i]) / nu);
  PetscFunctionReturn(PETSC_SUCCESS);
}
