#include <math.h>
#include "transfer.h"

/* barycentric coordinates of p in triangle (a, b, c) */
static void Barycentric(const double *a, const double *b, const double *c, const double *p, double l[3])
{
  double det = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1]);
  l[0]       = ((b[1] - c[1]) * (p[0] - c[0]) + (c[0] - b[0]) * (p[1] - c[1])) / det;
  l[1]       = ((c[1] - a[1]) * (p[0] - c[0]) + (a[0] - c[0]) * (p[1] - c[1])) / det;
  l[2]       = 1 - l[0] - l[1];
}

PetscErrorCode PFTransferCreate(PetscInt nvert, const double *X, PetscInt ncells, PetscInt nvpc, const PetscInt *cells, PetscInt n, const double *P, PFTransfer *t)
{
  PetscInt  ntri = ncells * (nvpc - 2), nb, *count, *start, *items;
  PetscInt *tri;
  double    lo[2] = {PETSC_MAX_REAL, PETSC_MAX_REAL}, hi[2] = {PETSC_MIN_REAL, PETSC_MIN_REAL}, hx, hy;

  PetscFunctionBegin;
  t->n = n;
  PetscCall(PetscMalloc2(3 * n, &t->idx, 3 * n, &t->w));
  PetscCall(PetscMalloc1(3 * ntri, &tri));
  for (PetscInt c = 0; c < ncells; c++)
    for (PetscInt k = 0; k < nvpc - 2; k++) {
      PetscInt *T = tri + 3 * (c * (nvpc - 2) + k);
      T[0]        = cells[c * nvpc];
      T[1]        = cells[c * nvpc + k + 1];
      T[2]        = cells[c * nvpc + k + 2];
    }
  for (PetscInt v = 0; v < nvert; v++)
    for (PetscInt d = 0; d < 2; d++) {
      lo[d] = PetscMin(lo[d], X[2 * v + d]);
      hi[d] = PetscMax(hi[d], X[2 * v + d]);
    }
  /* about two triangles per bucket */
  nb = (PetscInt)PetscMax(1, sqrt((double)ntri / 2));
  hx = (hi[0] - lo[0]) / nb * (1 + 1e-12) + 1e-300;
  hy = (hi[1] - lo[1]) / nb * (1 + 1e-12) + 1e-300;
  PetscCall(PetscCalloc2(nb * nb + 1, &count, nb * nb + 1, &start));
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      for (PetscInt b = 0; b < nb * nb; b++) start[b + 1] = start[b] + count[b];
      PetscCall(PetscMalloc1(start[nb * nb] + 1, &items));
      PetscCall(PetscArrayzero(count, nb * nb));
    }
    for (PetscInt k = 0; k < ntri; k++) {
      double bl[2] = {PETSC_MAX_REAL, PETSC_MAX_REAL}, bh[2] = {PETSC_MIN_REAL, PETSC_MIN_REAL};
      for (int j = 0; j < 3; j++)
        for (int d = 0; d < 2; d++) {
          bl[d] = PetscMin(bl[d], X[2 * tri[3 * k + j] + d]);
          bh[d] = PetscMax(bh[d], X[2 * tri[3 * k + j] + d]);
        }
      for (PetscInt j = (PetscInt)((bl[1] - lo[1]) / hy); j <= PetscMin(nb - 1, (PetscInt)((bh[1] - lo[1]) / hy)); j++)
        for (PetscInt i = (PetscInt)((bl[0] - lo[0]) / hx); i <= PetscMin(nb - 1, (PetscInt)((bh[0] - lo[0]) / hx)); i++) {
          if (pass == 1) items[start[j * nb + i] + count[j * nb + i]] = k;
          count[j * nb + i]++;
        }
    }
  }
  for (PetscInt q = 0; q < n; q++) {
    const double *p = P + 2 * q;
    PetscInt      i = PetscMin(nb - 1, PetscMax(0, (PetscInt)((p[0] - lo[0]) / hx))), j = PetscMin(nb - 1, PetscMax(0, (PetscInt)((p[1] - lo[1]) / hy)));
    PetscInt      best = -1;
    double        bestout = PETSC_MAX_REAL, bl[3] = {0, 0, 0};
    /* search the point's bucket, then widen the ring until a cell contains
     * it or the whole grid has been seen (points outside the mesh) */
    for (PetscInt r = 0; r < nb && bestout > 1e-12; r++) {
      for (PetscInt jj = PetscMax(0, j - r); jj <= PetscMin(nb - 1, j + r); jj++)
        for (PetscInt ii = PetscMax(0, i - r); ii <= PetscMin(nb - 1, i + r); ii++) {
          if (PetscMax(PetscAbsInt(ii - i), PetscAbsInt(jj - j)) != r) continue;
          for (PetscInt s = start[jj * nb + ii]; s < start[jj * nb + ii + 1]; s++) {
            PetscInt k = items[s];
            double   l[3], out = 0;
            Barycentric(X + 2 * tri[3 * k], X + 2 * tri[3 * k + 1], X + 2 * tri[3 * k + 2], p, l);
            for (int m = 0; m < 3; m++) out += l[m] < 0 ? -l[m] : 0;
            if (out < bestout) {
              bestout = out;
              best    = k;
              bl[0]   = l[0];
              bl[1]   = l[1];
              bl[2]   = l[2];
            }
          }
        }
      if (best >= 0 && r >= 1 && bestout < 1e-12) break;
    }
    PetscCheck(best >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "point location failed");
    /* clamp to the cell (only matters outside the source mesh) */
    double sum = 0;
    for (int m = 0; m < 3; m++) {
      bl[m] = PetscMax(0, bl[m]);
      sum += bl[m];
    }
    for (int m = 0; m < 3; m++) {
      t->idx[3 * q + m] = tri[3 * best + m];
      t->w[3 * q + m]   = bl[m] / sum;
    }
  }
  PetscCall(PetscFree(items));
  PetscCall(PetscFree2(count, start));
  PetscCall(PetscFree(tri));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFTransferApply(const PFTransfer *t, const double *src, double *dst)
{
  for (PetscInt q = 0; q < t->n; q++) dst[q] = t->w[3 * q] * src[t->idx[3 * q]] + t->w[3 * q + 1] * src[t->idx[3 * q + 1]] + t->w[3 * q + 2] * src[t->idx[3 * q + 2]];
}

PetscErrorCode PFTransferDestroy(PFTransfer *t)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(t->idx, t->w));
  PetscFunctionReturn(PETSC_SUCCESS);
}
