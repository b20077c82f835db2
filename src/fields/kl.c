/* Karhunen-Loeve expansion of an exponential-covariance Gaussian random field
 * by the Nystrom method (see include/physflow/kl.h for the mathematics).
 *
 * The eigenproblem is dense (the exponential kernel has no compact support),
 * so it is solved once, on rank 0, with LAPACK's dsyevr restricted to the
 * nterms largest eigenpairs (range 'I').  The cost is dominated by the
 * reduction to tridiagonal form, (4/3) npts^3 flops; computing only a few
 * eigenvectors keeps the tridiagonal solve and back-transformation cheap. */
#include <math.h>
#include <cblas.h>
#include <physflow/kl.h>

/* PETSc 3.18's petscblaslapack.h wraps no ?syevr, so declare the Fortran
 * symbol (provided by OpenBLAS's bundled LAPACK).  The trailing size_t
 * arguments are the hidden lengths gfortran passes with character arguments;
 * passing them keeps the call correct whichever way LAPACK was compiled. */
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const PetscBLASInt *n, double *a, const PetscBLASInt *lda, const double *vl, const double *vu, const PetscBLASInt *il, const PetscBLASInt *iu, const double *abstol, PetscBLASInt *m, double *w, double *z, const PetscBLASInt *ldz, PetscBLASInt *isuppz, double *work, const PetscBLASInt *lwork, PetscBLASInt *iwork, const PetscBLASInt *liwork, PetscBLASInt *info, size_t ljobz, size_t lrange, size_t luplo);

struct _p_PFKL {
  PetscInt npts, nterms;
  double  *lambda; /* [nterms], descending */
  double  *sqlam;  /* sqrt(max(lambda, 0)): round-off can make a tiny trailing eigenvalue negative */
  double  *phi;    /* [npts][nterms]: the modes at one point are contiguous, so evaluating a
                      rank's own subset of points reads contiguous rows */
  double   trace;  /* sigma2 * sum(w), the total variance of the discretised field */
};

/* Rank 0's part of PFKLCreate: validate the point data, solve, and fill
 * lambda[nterms] and phi[npts*nterms].  Kept separate so that its error code
 * can be broadcast and every rank fails together instead of hanging. */
static PetscErrorCode KLComputeModes(PetscInt npts, PetscInt dim, const double *coords, const double *w, double ell, double sigma2, PetscInt nterms, double *lambda, double *phi, double *trace)
{
  const size_t  n = (size_t)npts;
  double       *sqw, *A, *ev, *Z, *work, wq, sumw = 0.0;
  PetscBLASInt  bn, bil, biu, bm = 0, lwork = -1, liwork = -1, iwq, *isuppz, *iwork, info = 0;
  const double  zero = 0.0;
  PetscLogDouble t0, t1;
  double         captured = 0.0;

  PetscFunctionBegin;
  PetscCheck(coords, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLCreate: coords is NULL on rank 0; pass the [npts, dim] row-major point coordinates");
  for (size_t k = 0; k < n * (size_t)dim; k++)
    PetscCheck(isfinite(coords[k]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: coords[%zu][%zu] = %g is not finite", k / (size_t)dim, k % (size_t)dim, coords[k]);
  if (w) {
    for (PetscInt i = 0; i < npts; i++)
      PetscCheck(w[i] > 0.0 && isfinite(w[i]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: quadrature weight w[%" PetscInt_FMT "] = %g must be positive and finite", i, w[i]);
  }
  PetscCall(PetscBLASIntCast(npts, &bn));
  PetscCall(PetscBLASIntCast(npts - nterms + 1, &bil));
  biu = bn;

  PetscCall(PetscTime(&t0));
  PetscCall(PetscMalloc1(n, &sqw));
  for (size_t i = 0; i < n; i++) {
    double wi = w ? w[i] : 1.0 / (double)npts;
    sqw[i]    = sqrt(wi);
    sumw += wi;
  }
  *trace = sigma2 * sumw;

  /* A = W^{1/2} C W^{1/2}, column-major as LAPACK wants it; only the lower
   * triangle is referenced (uplo 'L'), so only it is filled: column j holds
   * rows i >= j, which is the contiguous inner loop. */
  PetscCall(PetscMalloc1(n * n, &A));
  for (size_t j = 0; j < n; j++) {
    const double *xj = coords + j * (size_t)dim;
    double       *Aj = A + j * n;
    for (size_t i = j; i < n; i++) {
      const double *xi = coords + i * (size_t)dim;
      double        d2 = 0.0;
      for (PetscInt c = 0; c < dim; c++) d2 += (xi[c] - xj[c]) * (xi[c] - xj[c]);
      Aj[i] = sigma2 * exp(-sqrt(d2) / ell) * sqw[i] * sqw[j];
    }
  }

  PetscCall(PetscMalloc1(n, &ev));
  PetscCall(PetscMalloc1(n * (size_t)nterms, &Z));
  PetscCall(PetscMalloc1(2 * (size_t)nterms, &isuppz));
  /* workspace query; abstol 0 lets LAPACK use its default eps*|T| tolerance */
  dsyevr_("V", "I", "L", &bn, A, &bn, &zero, &zero, &bil, &biu, &zero, &bm, ev, Z, &bn, isuppz, &wq, &lwork, &iwq, &liwork, &info, 1, 1, 1);
  PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "PFKLCreate: LAPACK dsyevr workspace query failed with info = %d", (int)info);
  lwork  = (PetscBLASInt)wq;
  liwork = iwq;
  PetscCall(PetscMalloc1((size_t)lwork, &work));
  PetscCall(PetscMalloc1((size_t)liwork, &iwork));
  {
    /* One BLAS thread: the blocked reductions then run in the same order
     * whatever the process's thread count, so the modes are bitwise
     * reproducible.  That matters because the square's covariance has
     * degenerate eigenvalues, whose eigenvectors any round-off can rotate. */
    int nth = openblas_get_num_threads();
    openblas_set_num_threads(1);
    dsyevr_("V", "I", "L", &bn, A, &bn, &zero, &zero, &bil, &biu, &zero, &bm, ev, Z, &bn, isuppz, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
    openblas_set_num_threads(nth);
  }
  PetscCall(PetscFree(work));
  PetscCall(PetscFree(iwork));
  PetscCall(PetscFree(isuppz));
  PetscCall(PetscFree(A));
  if (info != 0 || bm != (PetscBLASInt)nterms) {
    PetscCall(PetscFree(ev));
    PetscCall(PetscFree(Z));
    PetscCall(PetscFree(sqw));
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "PFKLCreate: LAPACK dsyevr failed on the %" PetscInt_FMT "-point covariance (info = %d, %d of %" PetscInt_FMT " eigenpairs found)", npts, (int)info, (int)bm, nterms);
  }

  /* LAPACK returns ascending eigenvalues; store descending, and map the
   * Euclidean-orthonormal u_k to phi_k = W^{-1/2} u_k, which is then
   * w-orthonormal without any further normalisation. */
  for (PetscInt k = 0; k < nterms; k++) {
    const double *u    = Z + (size_t)(nterms - 1 - k) * n;
    size_t        imax = 0;
    double        sign;

    lambda[k] = ev[nterms - 1 - k];
    captured += lambda[k];
    /* eigenvectors are only defined up to sign; fixing it makes the field of
     * a given xi independent of LAPACK's internal choices */
    for (size_t i = 1; i < n; i++)
      if (fabs(u[i] / sqw[i]) > fabs(u[imax] / sqw[imax])) imax = i;
    sign = u[imax] < 0.0 ? -1.0 : 1.0;
    for (size_t i = 0; i < n; i++) phi[i * (size_t)nterms + (size_t)k] = sign * u[i] / sqw[i];
  }
  PetscCall(PetscFree(ev));
  PetscCall(PetscFree(Z));
  PetscCall(PetscFree(sqw));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscInfo(NULL, "KL: %" PetscInt_FMT " points, %" PetscInt_FMT " terms, ell %g: lambda_1 = %g, lambda_%" PetscInt_FMT " = %g, %.4f of the variance, %.2f s\n", npts, nterms, ell, lambda[0], nterms, lambda[nterms - 1], captured / *trace, (double)(t1 - t0)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLCreate(MPI_Comm comm, PetscInt npts, PetscInt dim, const double *coords, const double *w, double ell, double sigma2, PetscInt nterms, PFKL *kl)
{
  PFKL           k;
  PetscMPIInt    rank, count;
  PetscInt       sz[6], szmax[6];
  PetscErrorCode ierr = PETSC_SUCCESS;

  PetscFunctionBegin;
  PetscCheck(kl, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLCreate: the output pointer kl is NULL");
  *kl = NULL;
  PetscCheck(npts > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: the number of points npts = %" PetscInt_FMT " must be positive", npts);
  PetscCheck(dim > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: the dimension dim = %" PetscInt_FMT " must be positive", dim);
  PetscCheck(nterms >= 1 && nterms <= npts, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: the number of KL terms nterms = %" PetscInt_FMT " must be in [1, npts = %" PetscInt_FMT "]", nterms, npts);
  PetscCheck(ell > 0.0 && isfinite(ell), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: the correlation length ell = %g must be positive and finite", ell);
  PetscCheck(sigma2 > 0.0 && isfinite(sigma2), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLCreate: the variance sigma2 = %g must be positive and finite", sigma2);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));

  /* the broadcast buffers are sized from the local arguments, so sizes that
   * differ between ranks would corrupt memory; catch that collectively */
  sz[0] = npts, sz[1] = dim, sz[2] = nterms, sz[3] = -npts, sz[4] = -dim, sz[5] = -nterms;
  PetscCall(MPIU_Allreduce(sz, szmax, 6, MPIU_INT, MPI_MAX, comm));
  PetscCheck(szmax[0] == -szmax[3] && szmax[1] == -szmax[4] && szmax[2] == -szmax[5], comm, PETSC_ERR_ARG_INCOMP, "PFKLCreate: npts, dim and nterms must be the same on every rank (here %" PetscInt_FMT ", %" PetscInt_FMT ", %" PetscInt_FMT ")", npts, dim, nterms);
  PetscCheck((size_t)npts * (size_t)nterms <= (size_t)PETSC_MPI_INT_MAX, comm, PETSC_ERR_SUP, "PFKLCreate: %" PetscInt_FMT " points x %" PetscInt_FMT " terms exceed one MPI broadcast", npts, nterms);
  count = (PetscMPIInt)((size_t)npts * (size_t)nterms);

  PetscCall(PetscNew(&k));
  k->npts   = npts;
  k->nterms = nterms;
  PetscCall(PetscMalloc1(nterms, &k->lambda));
  PetscCall(PetscMalloc1(nterms, &k->sqlam));
  PetscCall(PetscMalloc1((size_t)npts * (size_t)nterms, &k->phi));

  if (rank == 0) ierr = KLComputeModes(npts, dim, coords, w, ell, sigma2, nterms, k->lambda, k->phi, &k->trace);
  PetscCallMPI(MPI_Bcast(&ierr, 1, MPI_INT, 0, comm));
  if (ierr) {
    PetscCall(PetscFree(k->lambda));
    PetscCall(PetscFree(k->sqlam));
    PetscCall(PetscFree(k->phi));
    PetscCall(PetscFree(k));
    /* rank 0 has the specific message; the others say where to look */
    if (rank == 0) PetscCall(ierr);
    SETERRQ(PETSC_COMM_SELF, ierr, "PFKLCreate: rank 0 could not compute the KL modes (error %d); see its error message", (int)ierr);
  }
  PetscCallMPI(MPI_Bcast(k->lambda, (PetscMPIInt)nterms, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(&k->trace, 1, MPI_DOUBLE, 0, comm));
  PetscCallMPI(MPI_Bcast(k->phi, count, MPI_DOUBLE, 0, comm));
  for (PetscInt j = 0; j < nterms; j++) k->sqlam[j] = sqrt(PetscMax(k->lambda[j], 0.0));
  *kl = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLGetSizes(PFKL kl, PetscInt *npts, PetscInt *nterms)
{
  PetscFunctionBegin;
  PetscCheck(kl, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetSizes: kl is NULL; create it with PFKLCreate()");
  if (npts) *npts = kl->npts;
  if (nterms) *nterms = kl->nterms;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLGetEigenvalues(PFKL kl, const double **lambda)
{
  PetscFunctionBegin;
  PetscCheck(kl, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetEigenvalues: kl is NULL; create it with PFKLCreate()");
  PetscCheck(lambda, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetEigenvalues: the output pointer lambda is NULL");
  *lambda = kl->lambda;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLGetModes(PFKL kl, const double **phi)
{
  PetscFunctionBegin;
  PetscCheck(kl, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetModes: kl is NULL; create it with PFKLCreate()");
  PetscCheck(phi, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetModes: the output pointer phi is NULL");
  *phi = kl->phi;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLEvaluate(PFKL kl, const double *xi, PetscInt n, const PetscInt *idx, double *g)
{
  PetscFunctionBegin;
  PetscCheck(kl, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLEvaluate: kl is NULL; create it with PFKLCreate()");
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLEvaluate: the number of points n = %" PetscInt_FMT " must be non-negative", n);
  PetscCheck(idx || n == kl->npts, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "PFKLEvaluate: without idx all %" PetscInt_FMT " points are evaluated, but n = %" PetscInt_FMT, kl->npts, n);
  PetscCheck(xi || n == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLEvaluate: xi is NULL; pass the %" PetscInt_FMT " KL coefficients", kl->nterms);
  PetscCheck(g || n == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLEvaluate: the output g is NULL");
  for (PetscInt i = 0; i < n; i++) {
    const PetscInt j = idx ? idx[i] : i;
    const double  *p;
    double         s = 0.0;

    PetscCheck(j >= 0 && j < kl->npts, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFKLEvaluate: idx[%" PetscInt_FMT "] = %" PetscInt_FMT " is not a point index in [0, %" PetscInt_FMT ")", i, j, kl->npts);
    p = kl->phi + (size_t)j * (size_t)kl->nterms;
    for (PetscInt k = 0; k < kl->nterms; k++) s += kl->sqlam[k] * xi[k] * p[k];
    g[i] = s;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLGetVarianceFraction(PFKL kl, double *frac)
{
  double s = 0.0;

  PetscFunctionBegin;
  PetscCheck(kl, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetVarianceFraction: kl is NULL; create it with PFKLCreate()");
  PetscCheck(frac, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFKLGetVarianceFraction: the output frac is NULL");
  for (PetscInt k = 0; k < kl->nterms; k++) s += kl->lambda[k];
  *frac = s / kl->trace;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFKLDestroy(PFKL *kl)
{
  PetscFunctionBegin;
  if (!kl || !*kl) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*kl)->lambda));
  PetscCall(PetscFree((*kl)->sqlam));
  PetscCall(PetscFree((*kl)->phi));
  PetscCall(PetscFree(*kl));
  PetscFunctionReturn(PETSC_SUCCESS);
}
