/* Gradient check of the mesh convolution Y = sum_k (A_k X) W_k + b on a
 * distributed mesh (double build), for the weights, the bias and the input:
 * central differences of L = sum(Y * R) (a global sum) against the backward,
 * which runs the transposed operators and the reverse halo reduction.  Run on
 * 1 and 2 ranks: an input entry is perturbed on the rank that owns it.
 * The same for the distributed, mass-weighted group normalisation. */
#include <math.h>
#include <physflow.h>
#include <physflow/meshconv.h>

static PetscErrorCode Loss(PFMeshConv *c, PetscInt B, const pfreal *X, const pfreal *R, pfreal *Y, double *L)
{
  double loc = 0;
  PetscFunctionBegin;
  PetscCall(PFMeshConvForward(c, B, X, Y));
  for (PetscInt i = 0; i < c->g->nown * B * c->Cout; i++) loc += (double)Y[i] * (double)R[i];
  PetscCallMPI(MPI_Allreduce(&loc, L, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFMesh      mesh;
  PFMeshGraph g;
  PFMeshConv  c;
  PetscInt    B = 2, np, nown;
  pfreal     *P, *G, *X, *dX, *Y, *R, *work;
  double      maxerr = 0;
  const double h = 1e-6;
  int         fail = 0;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PFInitializePackage());
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, NULL, 6, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  nown = g->nown;
  PetscCall(PetscMemzero(&c, sizeof(c)));
  c.g        = g;
  c.Cin      = 3;
  c.Cout     = 2;
  c.ng       = 3;
  c.kinds[0] = PF_MESHOP_DX;
  c.kinds[1] = PF_MESHOP_DY;
  c.kinds[2] = PF_MESHOP_LAP;
  np         = PFMeshConvNumParams(&c);
  PetscCall(PetscCalloc2(np, &P, np, &G));
  PetscCall(PetscMalloc4(nown * B * c.Cin + 1, &X, nown * B * c.Cin + 1, &dX, nown * B * c.Cout + 1, &Y, nown * B * c.Cout + 1, &R));
  PetscCall(PetscMalloc1(PFMeshConvWorkspaceSize(&c, B) + 1, &work));
  PFMeshConvBindParams(&c, P, G);
  PFMeshConvBindWorkspace(&c, B, work);
  {
    PFRNG r;
    PFRNGInit(&r, 3, PF_RNG_TEST, 0, 0); /* same weights on every rank */
    for (PetscInt i = 0; i < np; i++) P[i] = (pfreal)(0.5 * PFRNGNormal(&r));
  }
  for (PetscInt v = 0; v < nown; v++) {
    PFRNG r;
    PFRNGInit(&r, 4, PF_RNG_TEST, 1, (uint32_t)g->ownnat[v]);
    for (PetscInt i = 0; i < B * c.Cin; i++) X[v * B * c.Cin + i] = (pfreal)PFRNGNormal(&r);
    for (PetscInt i = 0; i < B * c.Cout; i++) R[v * B * c.Cout + i] = (pfreal)PFRNGNormal(&r);
  }
  {
    double L;
    PetscCall(Loss(&c, B, X, R, Y, &L));
    PetscCall(PFMeshConvBackward(&c, B, X, R, dX)); /* dL/dY = R */
    /* each rank holds its vertices' share of the weight gradient; the
     * trainer's allreduce of the flat gradient sums them */
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, G, (PetscMPIInt)np, MPIU_PFREAL, MPI_SUM, PETSC_COMM_WORLD));
  }
  /* parameters: all of them (small layer) */
  for (PetscInt i = 0; i < np; i++) {
    double Lp, Lm, fd, p0 = P[i];
    P[i] = (pfreal)(p0 + h);
    PetscCall(Loss(&c, B, X, R, Y, &Lp));
    P[i] = (pfreal)(p0 - h);
    PetscCall(Loss(&c, B, X, R, Y, &Lm));
    P[i]   = (pfreal)p0;
    fd     = (Lp - Lm) / (2 * h);
    maxerr = PetscMax(maxerr, fabs(fd - G[i]) / PetscMax(1.0, fabs(fd)));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "weights and bias: max relative error %.2e over %" PetscInt_FMT " parameters\n", maxerr, np));
  if (maxerr > 1e-6) fail = 1;
  /* inputs: every (natural vertex, component) entry, perturbed by its owner */
  maxerr = 0;
  for (PetscInt vn = 0; vn < mesh->nvert; vn++)
    for (PetscInt j = 0; j < B * c.Cin; j += 2) {
      PetscInt own = -1;
      double   Lp, Lm, an = 0, fd;
      for (PetscInt v = 0; v < nown; v++)
        if (g->ownnat[v] == vn) own = v;
      pfreal x0 = own >= 0 ? X[own * B * c.Cin + j] : 0;
      if (own >= 0) X[own * B * c.Cin + j] = (pfreal)(x0 + h);
      PetscCall(Loss(&c, B, X, R, Y, &Lp));
      if (own >= 0) X[own * B * c.Cin + j] = (pfreal)(x0 - h);
      PetscCall(Loss(&c, B, X, R, Y, &Lm));
      if (own >= 0) {
        X[own * B * c.Cin + j] = x0;
        an                     = dX[own * B * c.Cin + j];
      }
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &an, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
      fd     = (Lp - Lm) / (2 * h);
      maxerr = PetscMax(maxerr, fabs(fd - an) / PetscMax(1.0, fabs(fd)));
    }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "inputs (all vertices, incl. partition boundaries): max relative error %.2e\n", maxerr));
  if (maxerr > 1e-6) fail = 1;
  {
    /* group normalisation with mass weights: C = 4 channels, 2 groups */
    const PetscInt C = 4, Gr = 2, n = nown * B * C;
    pfreal        *Xn, *Yn, *Rn, *dXn, *gam, *bet, *dgam, *dbet, *mu, *rs, *w;
    double         e_par = 0, e_in = 0;
    PetscCall(PetscMalloc5(n + 1, &Xn, n + 1, &Yn, n + 1, &Rn, n + 1, &dXn, nown + 1, &w));
    PetscCall(PetscCalloc6(C, &gam, C, &bet, C, &dgam, C, &dbet, B * Gr, &mu, B * Gr, &rs));
    for (PetscInt cc = 0; cc < C; cc++) {
      gam[cc] = (pfreal)(1.0 + 0.1 * cc);
      bet[cc] = (pfreal)(0.05 * cc);
    }
    for (PetscInt v = 0; v < nown; v++) {
      PFRNG r;
      PFRNGInit(&r, 8, PF_RNG_TEST, 2, (uint32_t)g->ownnat[v]);
      w[v] = (pfreal)(0.5 + PFRNGUniform(&r));
      for (PetscInt i = 0; i < B * C; i++) {
        Xn[v * B * C + i] = (pfreal)(PFRNGNormal(&r) + 0.3 * i);
        Rn[v * B * C + i] = (pfreal)PFRNGNormal(&r);
      }
    }
#define NORMLOSS(L) \
  do { \
    double loc_ = 0; \
    PetscCall(PFMeshNormForward(PETSC_COMM_WORLD, nown, B, C, Gr, w, Xn, gam, bet, Yn, mu, rs)); \
    for (PetscInt i_ = 0; i_ < n; i_++) loc_ += (double)Yn[i_] * (double)Rn[i_]; \
    PetscCallMPI(MPI_Allreduce(&loc_, &(L), 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD)); \
  } while (0)
    double L0;
    NORMLOSS(L0);
    PetscCall(PFMeshNormBackward(PETSC_COMM_WORLD, nown, B, C, Gr, w, Xn, gam, mu, rs, Rn, dXn, dgam, dbet));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, dgam, (PetscMPIInt)C, MPIU_PFREAL, MPI_SUM, PETSC_COMM_WORLD));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, dbet, (PetscMPIInt)C, MPIU_PFREAL, MPI_SUM, PETSC_COMM_WORLD));
    for (PetscInt cc = 0; cc < 2 * C; cc++) {
      pfreal *p  = cc < C ? &gam[cc] : &bet[cc - C];
      double  p0 = *p, Lp, Lm;
      *p         = (pfreal)(p0 + h);
      NORMLOSS(Lp);
      *p = (pfreal)(p0 - h);
      NORMLOSS(Lm);
      *p    = (pfreal)p0;
      e_par = PetscMax(e_par, fabs((Lp - Lm) / (2 * h) - (cc < C ? dgam[cc] : dbet[cc - C])) / PetscMax(1.0, fabs((Lp - Lm) / (2 * h))));
    }
    for (PetscInt vn = 0; vn < mesh->nvert; vn += 3)
      for (PetscInt j = 0; j < B * C; j += 3) {
        PetscInt own = -1;
        double   Lp, Lm, an = 0;
        for (PetscInt v = 0; v < nown; v++)
          if (g->ownnat[v] == vn) own = v;
        pfreal x0 = own >= 0 ? Xn[own * B * C + j] : 0;
        if (own >= 0) Xn[own * B * C + j] = (pfreal)(x0 + h);
        NORMLOSS(Lp);
        if (own >= 0) Xn[own * B * C + j] = (pfreal)(x0 - h);
        NORMLOSS(Lm);
        if (own >= 0) {
          Xn[own * B * C + j] = x0;
          an                  = dXn[own * B * C + j];
        }
        PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &an, 1, MPI_DOUBLE, MPI_SUM, PETSC_COMM_WORLD));
        e_in = PetscMax(e_in, fabs((Lp - Lm) / (2 * h) - an) / PetscMax(1.0, fabs((Lp - Lm) / (2 * h))));
      }
#undef NORMLOSS
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "mass-weighted group norm: max relative error %.2e (gamma, beta), %.2e (inputs)\n", e_par, e_in));
    if (e_par > 1e-6 || e_in > 1e-6) fail = 1;
    PetscCall(PetscFree5(Xn, Yn, Rn, dXn, w));
    PetscCall(PetscFree6(gam, bet, dgam, dbet, mu, rs));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "%s\n", fail ? "FAIL" : "PASS"));
  PetscCall(PetscFree(work));
  PetscCall(PetscFree4(X, dX, Y, R));
  PetscCall(PetscFree2(P, G));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFMeshDestroy(&mesh));
  PetscCall(PetscFinalize());
  return fail;
}
