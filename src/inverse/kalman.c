/* The ensemble Kalman (linear minimum-mean-square-error) estimate of every
 * field from sparse noisy sensors of one of them, an input channel set of
 * conditional models (train -condition obs -cond_kalman N; issue 7).
 *
 * Why: the conditional U-Net fed only the sensors' Voronoi encoding has to
 * learn the whole inversion, a global map from 16-64 point values to
 * fields; at 64x64 its posterior mean of logK was 9-11% worse than the TAO
 * MAP. The best LINEAR estimator of the fields from the sensor values,
 * computed from an ensemble of prior samples,
 *   x_lin = m + C_xy (C_yy + s^2 I)^-1 (y - H m_f),
 *   C_xy = A^T Y / (N-1), C_yy = Y^T Y / (N-1), Y = A_f H^T,
 * (A: the ensemble's anomalies; Evensen 1994's ensemble Kalman analysis of
 * the mean) is within 1-3% of the MAP's error on the same campaigns and
 * costs two small dense products per sensor set, no PDE solve.  Given it as
 * input, the network's job shrinks to the nonlinear correction and the
 * spread.  Amortised inference with physics-derived summary inputs is the
 * idea of Orozco et al. 2023 (adjoint-based summaries for conditional
 * normalising flows); this is its linear-Gaussian, solve-free variant.
 *
 * Units: the model's normalised units ((x - mean_f) / std_f), so the sensor
 * noise is s = sigma / std_f.  Distributed like the fields: each rank of the
 * mesh holds the member values of its owned vertices (A stored [vertex][member]);
 * Y is summed over the ranks. */
#include <math.h>
#include <physflow/dense.h>
#include <physflow/kalman.h>
#include <physflow/meshdata.h>

PetscErrorCode PFKalmanCreate(MPI_Comm comm, const char path[], PetscInt N, PetscInt nf, const char *const fields[], PetscInt nown, const PetscInt ownnat[], const double mean[], const double std[], PFKalman *k)
{
  PFMeshData md;
  double    *row;
  const size_t W = (size_t)nf * nown;

  const PetscInt block = 256; /* rows per HDF5 read */

  PetscFunctionBegin;
  PetscCall(PetscMemzero(k, sizeof(*k)));
  k->nf = nf, k->nown = nown;
  PetscCall(PFMeshDataOpen(path, &md));
  for (PetscInt f = 0; f < nf; f++) {
    PetscBool has;
    PetscCall(PFMeshDataHasField(&md, fields[f], &has));
    PetscCheck(has, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' (the Kalman ensemble) has no field '%s'", path, fields[f]);
  }
  if (N <= 0) N = md.nsamples;
  PetscCheck(N >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "the Kalman ensemble needs at least 2 samples (got %" PetscInt_FMT ")", N);
  PetscCheck(md.nsamples >= N, comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds %" PetscInt_FMT " samples; the Kalman ensemble wants %" PetscInt_FMT, path, md.nsamples, N);
  k->N = N;
  PetscCall(PetscMalloc2((size_t)N * W + 1, &k->A, W + 1, &k->m));
  PetscCall(PetscMalloc2(nf, &k->mean, nf, &k->std));
  PetscCall(PetscArraycpy(k->mean, mean, nf));
  PetscCall(PetscArraycpy(k->std, std, nf));
  PetscCall(PetscMalloc1((size_t)PetscMin(block, N) * md.nvert, &row));
  /* the ensemble mean (double) and the anomalies, stored in the network's
   * precision by vertex ([W][N]) so a sensor's vertices are contiguous
   * member vectors */
  PetscCall(PetscArrayzero(k->m, W));
  for (PetscInt f = 0; f < nf; f++)
    for (PetscInt n0 = 0; n0 < N; n0 += block) {
      const PetscInt nb = PetscMin(block, N - n0);
      PetscCall(PFMeshDataReadRows(&md, fields[f], n0, nb, row));
      for (PetscInt b = 0; b < nb; b++)
        for (PetscInt i = 0; i < nown; i++) {
          const double v = (row[(size_t)b * md.nvert + ownnat[i]] - mean[f]) / std[f];
          k->m[(size_t)f * nown + i] += v / N;
          k->A[((size_t)f * nown + i) * N + n0 + b] = (pfreal)v;
        }
    }
  /* the anomalies (the normalised values are O(1), as are the anomalies:
   * rounding the values first loses nothing of note) */
  for (size_t j = 0; j < W; j++)
    for (PetscInt n = 0; n < N; n++) k->A[j * N + n] = (pfreal)((double)k->A[j * N + n] - k->m[j]);
  PetscCall(PetscFree(row));
  PetscCall(PFMeshDataClose(&md));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKalmanEstimate(PFKalman *k, PFObsOperator *H, PetscInt field, const double y[], double s, pfreal *out)
{
  const PetscInt N = k->N, K = H->nobs;
  const size_t   W = (size_t)k->nf * k->nown;
  double        *Y, *C, *w, *z, *hm, *x;

  PetscFunctionBegin;
  PetscCall(PetscMalloc6((size_t)N * K, &Y, (size_t)K * K, &C, K, &w, N, &z, K, &hm, W + 1, &x));
  /* Y^T = H A_f^T ([K][N]) and H m_f, both summed over the ranks sharing the mesh */
  PetscCall(PetscArrayzero(Y, (size_t)N * K));
  PetscCall(PetscArrayzero(hm, K));
  for (PetscInt e = 0; e < H->nent; e++) {
    const size_t  col = (size_t)field * k->nown + H->vert[e];
    const pfreal *a   = k->A + col * N;
    double       *y   = Y + (size_t)H->obs[e] * N;
    hm[H->obs[e]] += H->w[e] * k->m[col];
    for (PetscInt n = 0; n < N; n++) y[n] += H->w[e] * a[n];
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, Y, (PetscMPIInt)(N * K), MPI_DOUBLE, MPI_SUM, H->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hm, (PetscMPIInt)K, MPI_DOUBLE, MPI_SUM, H->comm));
  /* (C_yy + s^2 I) w = y - H m_f; every rank solves the same small system */
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)K, (int)N, 1.0 / (N - 1), Y, (int)N, 0.0, C, (int)K);
  for (PetscInt j = 0; j < K; j++) C[j * K + j] += s * s, w[j] = y[j] - hm[j];
  PetscCall(PFCholeskyFactor(K, C)); /* SPD by the s^2 I term */
  PFCholeskySolveLower(K, C, w);
  PFCholeskySolveUpper(K, C, w);
  /* x_lin = m + A^T (Y w) / (N-1) */
  cblas_dgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, 1.0 / (N - 1), Y, (int)N, w, 1, 0.0, z, 1);
  /* x = m + A z: memory-bound (A is W x N: 135 MB at 64x64 with 4000
   * members in single precision), accumulated in double */
  for (size_t j = 0; j < W; j++) {
    const pfreal *aj = k->A + j * N;
    double        s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    PetscInt      n  = 0;
    for (; n + 4 <= N; n += 4) s0 += aj[n] * z[n], s1 += aj[n + 1] * z[n + 1], s2 += aj[n + 2] * z[n + 2], s3 += aj[n + 3] * z[n + 3];
    for (; n < N; n++) s0 += aj[n] * z[n];
    x[j] = k->m[j] + ((s0 + s1) + (s2 + s3));
  }
  for (size_t j = 0; j < W; j++) out[j] = (pfreal)x[j];
  PetscCall(PetscFree6(Y, C, w, z, hm, x));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKalmanDestroy(PFKalman *k)
{
  PetscFunctionBegin;
  PetscCall(PetscFree2(k->A, k->m));
  PetscCall(PetscFree2(k->mean, k->std));
  PetscCall(PetscFree3(k->X, k->g, k->b));
  PetscCall(PetscFree(k->r));
  k->N = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
