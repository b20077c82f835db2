/* Finite-difference checks of every network backward, in both precisions.
 *
 * For each layer, L = sum(out * Rw) with Rw a fixed random tensor, so that
 * dL/dout = Rw is what the backward is fed.  Every analytic gradient is then
 * compared with central differences (L(p+h) - L(p-h)) / (2h), and the
 * reported metric per tensor is
 *     rel = max_i |fd_i - an_i| / max(max_i |an_i|, 1e-12).
 * Covered: dense (dX, dW, db), SiLU and GELU, GroupNorm with S > 1 and G > 1
 * and LayerNorm (dX, dgamma, dbeta), the time embedding (d/dt), the residual
 * block (dX and all parameters), and the whole MLP through the PFNet API for
 * both activations (every parameter tensor and dL/dx).  Besides the values,
 * the calling conventions the networks rely on are checked: parameter
 * gradients accumulate (+=), input gradients follow dX = beta dX + ...
 * (beta = 0 overwrites, even NaN), activation backward works in place, the
 * time embedding respects its row stride, and PFNetBackward accumulates.
 *
 * This file is compiled twice (test_nn_gradcheck_f64 against physflow_f64,
 * test_nn_gradcheck_f32 against physflow); see the tolerances below. */
#include <math.h>
#include <physflow/compat.h>
#include <physflow/net.h>
#include <physflow/nn.h>
#include <physflow/rng.h>

/* Step sizes and tolerances.
 *
 * Double: central differences have truncation error O(h^2) and round-off
 * O(eps |L| / h); h = 1e-5 (relative to max(1,|p|)) puts both near 1e-10,
 * so 1e-6 is a tolerance with four decades of headroom that still catches
 * any real mistake (the issue asks for < 1e-4).
 *
 * Float: the layers compute in float32 (eps = 1.2e-7) and every output that
 * enters L carries an O(eps |out|) rounding error, made larger by the GEMMs'
 * summation order and by normalisation (division by a standard deviation).
 * A difference quotient divides that noise by 2h, so h cannot be small; the
 * best h balances eps/h against the h^2 truncation term near eps^(1/3), i.e.
 * h ~ 1e-2 for O(1) inputs, where the attainable error is ~eps^(2/3) ~ 1e-5
 * per entry before amplification.  In practice that lands at 1e-4..1e-3, so
 * 2e-2 is the documented float tolerance.  It is still tight enough to be a
 * real test: a wrong sign, a dropped term or a factor of 2 gives O(1). */
#if defined(PF_NET_DOUBLE)
  #define H_REL 1e-5
  #define TOL   1e-6
#else
  #define H_REL 1e-2
  #define TOL   2e-2
#endif
#define TOL_ISSUE 1e-4
/* The time embedding's top frequency is PF_TEMB_SCALE = 1000 rad per unit t,
 * so a step in t moves its phase 1000 times further; scaling the step down by
 * 100 keeps the phase step at 10*H_REL (1e-4 rad in double, 0.1 in float). */
#define H_TIME (H_REL * 10.0 / PF_TEMB_SCALE)

static int    nfail = 0;
static double worst = 0.0; /* largest relative error over all tensors */
static PFRNG  rng;         /* the one PF_RNG_TEST stream for all random data */

static void Report(PetscBool ok, const char *what)
{
  if (!ok) nfail++;
  printf("  [%s] %s\n", ok ? "ok" : "FAIL", what);
}

static void FillNormal(PetscInt n, double scale, double shift, pfreal *a)
{
  for (PetscInt i = 0; i < n; i++) a[i] = (pfreal)(shift + scale * PFRNGNormal(&rng));
}

static void FillNaN(PetscInt n, pfreal *a)
{
  for (PetscInt i = 0; i < n; i++) a[i] = (pfreal)NAN;
}

/* sum a*b accumulated in double, so the loss itself adds no float round-off */
static double Dot(PetscInt n, const pfreal *a, const pfreal *b)
{
  double s = 0.0;
  for (PetscInt i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

static double MaxAbs(PetscInt n, const pfreal *a)
{
  double m = 0.0;
  for (PetscInt i = 0; i < n; i++) m = PetscMax(m, fabs((double)a[i]));
  return m;
}

/* max|a - (b + c*d)|, NaN-propagating (a NaN anywhere makes it infinite) */
static double MaxDiff(PetscInt n, const pfreal *a, const pfreal *b, double c, const pfreal *d)
{
  double m = 0.0;
  for (PetscInt i = 0; i < n; i++) {
    double e = fabs((double)a[i] - (double)b[i] - (d ? c * (double)d[i] : 0.0));
    m        = isfinite(e) ? PetscMax(m, e) : INFINITY;
  }
  return m;
}

/* a - b, elementwise: the part of an accumulated gradient this call added */
static void Sub(PetscInt n, const pfreal *a, const pfreal *b, pfreal *c)
{
  for (PetscInt i = 0; i < n; i++) c[i] = a[i] - b[i];
}

typedef double (*LossFn)(void *ctx);

/* Central difference of loss() in *p.  The step actually taken is measured
 * after rounding p +- h to pfreal, so float steps carry no representation
 * error into the quotient. */
static double CentralDifference(LossFn loss, void *ctx, pfreal *p, double h)
{
  const pfreal v = *p, vp = (pfreal)((double)v + h), vm = (pfreal)((double)v - h);
  double       lp, lm;

  *p = vp;
  lp = loss(ctx);
  *p = vm;
  lm = loss(ctx);
  *p = v;
  return (lp - lm) / ((double)vp - (double)vm);
}

/* Compares an[] = dL/dp with central differences over the n entries of p (or
 * over maxcheck of them drawn at random for big tensors), prints the relative
 * error and fails it against TOL. */
static void CheckTensor(const char *what, LossFn loss, void *ctx, PetscInt n, pfreal *p, const pfreal *an, PetscInt maxcheck, double h)
{
  const PetscInt m = n > maxcheck ? maxcheck : n;
  double         maxdiff = 0.0, maxan = 0.0, rel;
  char           msg[256];

  for (PetscInt k = 0; k < m; k++) {
    PetscInt i  = m == n ? k : (PetscInt)PFRNGBelow(&rng, (uint32_t)n);
    double   fd = CentralDifference(loss, ctx, &p[i], h * PetscMax(1.0, fabs((double)p[i])));
    double   e  = fabs(fd - (double)an[i]);
    maxdiff     = isfinite(e) ? PetscMax(maxdiff, e) : INFINITY;
    maxan       = PetscMax(maxan, fabs((double)an[i]));
  }
  rel   = maxdiff / PetscMax(maxan, 1e-12);
  worst = PetscMax(worst, rel);
  snprintf(msg, sizeof msg, "%-26s rel err %.2e  (max|grad| %.2e, %" PetscInt_FMT "/%" PetscInt_FMT " entries, tol %.0e)", what, rel, maxan, m, n, TOL);
  Report((PetscBool)(rel < TOL), msg);
}

/* Tolerance for comparing two analytic results that should agree to
 * round-off (e.g. beta = 0.5 against beta = 0 plus the prior content). */
static double RoundoffTol(double scale)
{
  return 64.0 * PF_REAL_EPS * PetscMax(scale, 1.0);
}

/* ---------------------------------------------------------------- dense --- */
typedef struct {
  PetscInt R, in, out;
  pfreal  *X, *W, *b, *Y, *Rw;
} DenseCtx;

static double DenseLoss(void *vctx)
{
  DenseCtx *c = (DenseCtx *)vctx;
  PFDenseForward(c->R, c->in, c->out, c->X, c->W, c->b, c->Y);
  return Dot(c->R * c->out, c->Y, c->Rw);
}

static PetscErrorCode TestDense(void)
{
  DenseCtx c = {5, 4, 3, NULL, NULL, NULL, NULL, NULL};
  pfreal  *dX, *dX0, *dW, *dW0, *db, *db0, *gW, *gb, *gX;
  char     msg[256];
  double   d;

  PetscFunctionBegin;
  printf("dense (R=%" PetscInt_FMT ", in=%" PetscInt_FMT ", out=%" PetscInt_FMT "):\n", c.R, c.in, c.out);
  PetscCall(PetscMalloc5(c.R * c.in, &c.X, c.in * c.out, &c.W, c.out, &c.b, c.R * c.out, &c.Y, c.R * c.out, &c.Rw));
  PetscCall(PetscMalloc5(c.R * c.in, &dX, c.R * c.in, &dX0, c.in * c.out, &dW, c.in * c.out, &dW0, c.out, &db));
  PetscCall(PetscMalloc4(c.out, &db0, c.in * c.out, &gW, c.out, &gb, c.R * c.in, &gX));
  FillNormal(c.R * c.in, 1.0, 0.0, c.X);
  FillNormal(c.in * c.out, 0.5, 0.0, c.W);
  FillNormal(c.out, 0.5, 0.0, c.b);
  FillNormal(c.R * c.out, 1.0, 0.0, c.Rw);
  /* prior gradient content: parameter gradients must be added to it */
  FillNormal(c.R * c.in, 1.0, 0.0, dX0);
  FillNormal(c.in * c.out, 1.0, 0.0, dW0);
  FillNormal(c.out, 1.0, 0.0, db0);

  /* beta = 0 overwrites dX (a NaN there must not survive) */
  FillNaN(c.R * c.in, dX);
  PetscCall(PetscArraycpy(dW, dW0, c.in * c.out));
  PetscCall(PetscArraycpy(db, db0, c.out));
  PFDenseBackward(c.R, c.in, c.out, c.X, c.W, c.Rw, 0, dX, dW, db);
  PetscCall(PetscArraycpy(gX, dX, c.R * c.in));
  Sub(c.in * c.out, dW, dW0, gW);
  Sub(c.out, db, db0, gb);
  CheckTensor("dense dX (beta=0)", DenseLoss, &c, c.R * c.in, c.X, gX, 1000, H_REL);
  CheckTensor("dense dW (accumulated)", DenseLoss, &c, c.in * c.out, c.W, gW, 1000, H_REL);
  CheckTensor("dense db (accumulated)", DenseLoss, &c, c.out, c.b, gb, 1000, H_REL);

  /* beta = 0.5: dX = 0.5 dX0 + dY W^T */
  PetscCall(PetscArraycpy(dX, dX0, c.R * c.in));
  PFDenseBackward(c.R, c.in, c.out, c.X, c.W, c.Rw, 0.5, dX, dW, db);
  d = MaxDiff(c.R * c.in, dX, gX, 0.5, dX0);
  snprintf(msg, sizeof msg, "dense beta=0.5: max|dX - (0.5 dX0 + contribution)| = %.2e", d);
  Report((PetscBool)(d <= RoundoffTol(MaxAbs(c.R * c.in, dX))), msg);
  /* the parameter gradients now hold prior + 2 contributions */
  d = PetscMax(MaxDiff(c.in * c.out, dW, dW0, 2.0, gW), MaxDiff(c.out, db, db0, 2.0, gb));
  snprintf(msg, sizeof msg, "dense second backward accumulates again: max deviation %.2e", d);
  Report((PetscBool)(d <= RoundoffTol(MaxAbs(c.in * c.out, dW))), msg);
  /* dX = NULL (first layer, input gradient not wanted) still gives dW, db */
  PetscCall(PetscArraycpy(dW, dW0, c.in * c.out));
  PetscCall(PetscArraycpy(db, db0, c.out));
  PFDenseBackward(c.R, c.in, c.out, c.X, c.W, c.Rw, 0, NULL, dW, db);
  d = PetscMax(MaxDiff(c.in * c.out, dW, dW0, 1.0, gW), MaxDiff(c.out, db, db0, 1.0, gb));
  snprintf(msg, sizeof msg, "dense dX=NULL: parameter gradients unchanged (max deviation %.2e)", d);
  Report((PetscBool)(d <= RoundoffTol(MaxAbs(c.in * c.out, dW))), msg);

  PetscCall(PetscFree5(c.X, c.W, c.b, c.Y, c.Rw));
  PetscCall(PetscFree5(dX, dX0, dW, dW0, db));
  PetscCall(PetscFree4(db0, gW, gb, gX));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---------------------------------------------------------- activations --- */
typedef struct {
  PFActivation act;
  PetscInt     n;
  pfreal      *X, *Y, *Rw;
} ActCtx;

static double ActLoss(void *vctx)
{
  ActCtx *c = (ActCtx *)vctx;
  PFActivationForward(c->act, c->n, c->X, c->Y);
  return Dot(c->n, c->Y, c->Rw);
}

static PetscErrorCode TestActivation(PFActivation act)
{
  ActCtx  c = {act, 48, NULL, NULL, NULL};
  pfreal *dX, *dX0, *buf;
  char    what[64], msg[256];
  double  d;

  PetscFunctionBegin;
  printf("activation %s (n=%" PetscInt_FMT "):\n", PFActivations[act], c.n);
  PetscCall(PetscMalloc6(c.n, &c.X, c.n, &c.Y, c.n, &c.Rw, c.n, &dX, c.n, &dX0, c.n, &buf));
  /* spread 3 covers both tails and the curved middle of SiLU and GELU */
  FillNormal(c.n, 3.0, 0.0, c.X);
  FillNormal(c.n, 1.0, 0.0, c.Rw);
  FillNormal(c.n, 1.0, 0.0, dX0);
  FillNaN(c.n, dX);
  PFActivationBackward(act, c.n, c.X, c.Rw, 0, dX);
  snprintf(what, sizeof what, "%s dX (beta=0)", PFActivations[act]);
  CheckTensor(what, ActLoss, &c, c.n, c.X, dX, 1000, H_REL);
  /* beta = 1 adds to what is there (a residual branch) */
  PetscCall(PetscArraycpy(buf, dX0, c.n));
  PFActivationBackward(act, c.n, c.X, c.Rw, 1, buf);
  d = MaxDiff(c.n, buf, dX, 1.0, dX0);
  snprintf(msg, sizeof msg, "%s beta=1 accumulates: max deviation %.2e", PFActivations[act], d);
  Report((PetscBool)(d <= RoundoffTol(MaxAbs(c.n, buf))), msg);
  /* in place (dX == dY), as the MLP and the residual block call it */
  PetscCall(PetscArraycpy(buf, c.Rw, c.n));
  PFActivationBackward(act, c.n, c.X, buf, 0, buf);
  d = MaxDiff(c.n, buf, dX, 0.0, NULL);
  snprintf(msg, sizeof msg, "%s in place (dX == dY) matches: max deviation %.2e", PFActivations[act], d);
  Report((PetscBool)(d == 0.0), msg);
  PetscCall(PetscFree6(c.X, c.Y, c.Rw, dX, dX0, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------- group and layer norm --- */
typedef struct {
  PetscInt  B, S, C, G;
  PetscBool layer; /* call the PFLayerNorm* entry points (S = G = 1) */
  pfreal   *X, *gamma, *beta, *Y, *mean, *rstd, *Rw;
} NormCtx;

static double NormLoss(void *vctx)
{
  NormCtx *c = (NormCtx *)vctx;
  if (c->layer) PFLayerNormForward(c->B, c->C, c->X, c->gamma, c->beta, c->Y, c->mean, c->rstd);
  else PFGroupNormForward(c->B, c->S, c->C, c->G, c->X, c->gamma, c->beta, c->Y, c->mean, c->rstd);
  return Dot(c->B * c->S * c->C, c->Y, c->Rw);
}

static void NormBackward(NormCtx *c, pfreal beta, pfreal *dX, pfreal *dgamma, pfreal *dbeta)
{
  if (c->layer) PFLayerNormBackward(c->B, c->C, c->X, c->gamma, c->mean, c->rstd, c->Rw, beta, dX, dgamma, dbeta);
  else PFGroupNormBackward(c->B, c->S, c->C, c->G, c->X, c->gamma, c->mean, c->rstd, c->Rw, beta, dX, dgamma, dbeta);
}

static PetscErrorCode TestNorm(PetscInt B, PetscInt S, PetscInt C, PetscInt G, PetscBool layer)
{
  NormCtx        c = {B, S, C, G, layer, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  const PetscInt n = B * S * C;
  const char    *name = layer ? "layernorm" : "groupnorm";
  pfreal        *dX, *dX0, *dg, *dg0, *db, *db0, *gg, *gb, *buf;
  char           what[64], msg[256];
  double         d;

  PetscFunctionBegin;
  printf("%s (B=%" PetscInt_FMT ", S=%" PetscInt_FMT ", C=%" PetscInt_FMT ", G=%" PetscInt_FMT "):\n", name, B, S, C, G);
  PetscCall(PetscMalloc7(n, &c.X, C, &c.gamma, C, &c.beta, n, &c.Y, B * G, &c.mean, B * G, &c.rstd, n, &c.Rw));
  PetscCall(PetscMalloc5(n, &dX, n, &dX0, C, &dg, C, &dg0, C, &db));
  PetscCall(PetscMalloc4(C, &db0, C, &gg, C, &gb, n, &buf));
  /* an offset mean and non-unit spread, so the statistics matter; random
   * gamma/beta so that a mix-up of the two cannot cancel out */
  FillNormal(n, 2.0, 0.7, c.X);
  FillNormal(C, 0.5, 1.0, c.gamma);
  FillNormal(C, 0.5, 0.0, c.beta);
  FillNormal(n, 1.0, 0.0, c.Rw);
  FillNormal(n, 1.0, 0.0, dX0);
  FillNormal(C, 1.0, 0.0, dg0);
  FillNormal(C, 1.0, 0.0, db0);

  (void)NormLoss(&c); /* the backward reads the forward's mean and rstd */
  FillNaN(n, dX);
  PetscCall(PetscArraycpy(dg, dg0, C));
  PetscCall(PetscArraycpy(db, db0, C));
  NormBackward(&c, 0, dX, dg, db);
  Sub(C, dg, dg0, gg);
  Sub(C, db, db0, gb);
  PetscCall(PetscArraycpy(buf, dX, n)); /* dX is reused below */
  snprintf(what, sizeof what, "%s dX (beta=0)", name);
  CheckTensor(what, NormLoss, &c, n, c.X, buf, 1000, H_REL);
  snprintf(what, sizeof what, "%s dgamma (accumulated)", name);
  CheckTensor(what, NormLoss, &c, C, c.gamma, gg, 1000, H_REL);
  snprintf(what, sizeof what, "%s dbeta (accumulated)", name);
  CheckTensor(what, NormLoss, &c, C, c.beta, gb, 1000, H_REL);

  /* beta = 1 (the residual block's skip path) and dX = NULL (parameters only) */
  (void)NormLoss(&c);
  PetscCall(PetscArraycpy(dX, dX0, n));
  PetscCall(PetscArraycpy(dg, dg0, C));
  PetscCall(PetscArraycpy(db, db0, C));
  NormBackward(&c, 1, dX, dg, db);
  d = MaxDiff(n, dX, buf, 1.0, dX0);
  snprintf(msg, sizeof msg, "%s beta=1 accumulates into dX: max deviation %.2e", name, d);
  Report((PetscBool)(d <= RoundoffTol(MaxAbs(n, dX))), msg);
  PetscCall(PetscArraycpy(dg, dg0, C));
  PetscCall(PetscArraycpy(db, db0, C));
  NormBackward(&c, 0, NULL, dg, db);
  d = PetscMax(MaxDiff(C, dg, dg0, 1.0, gg), MaxDiff(C, db, db0, 1.0, gb));
  snprintf(msg, sizeof msg, "%s dX=NULL: dgamma, dbeta unchanged (max deviation %.2e)", name, d);
  Report((PetscBool)(d <= RoundoffTol(PetscMax(MaxAbs(C, dg), MaxAbs(C, db)))), msg);

  PetscCall(PetscFree7(c.X, c.gamma, c.beta, c.Y, c.mean, c.rstd, c.Rw));
  PetscCall(PetscFree5(dX, dX0, dg, dg0, db));
  PetscCall(PetscFree4(db0, gg, gb, buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------- time embedding --- */
typedef struct {
  PetscInt B, E, ldo;
  pfreal  *t, *out, *Rw;
} TembCtx;

static double TembLoss(void *vctx)
{
  TembCtx *c = (TembCtx *)vctx;
  double   s = 0.0;
  PFTimeEmbedForward(c->B, c->E, c->t, c->ldo, c->out);
  for (PetscInt b = 0; b < c->B; b++) s += Dot(c->E, c->out + b * c->ldo, c->Rw + b * c->ldo);
  return s;
}

static PetscErrorCode TestTimeEmbed(void)
{
  /* ldo > E as in the MLP, where the embedding sits inside the rows of z */
  TembCtx  c = {5, 8, 11, NULL, NULL, NULL};
  pfreal  *dt;
  PetscInt clobbered = 0;
  char     msg[256];

  PetscFunctionBegin;
  printf("time embedding (B=%" PetscInt_FMT ", E=%" PetscInt_FMT ", ldo=%" PetscInt_FMT "):\n", c.B, c.E, c.ldo);
  PetscCall(PetscMalloc4(c.B, &c.t, c.B * c.ldo, &c.out, c.B * c.ldo, &c.Rw, c.B, &dt));
  /* t in [0,1], including both ends */
  c.t[0] = 0;
  c.t[1] = 1;
  for (PetscInt b = 2; b < c.B; b++) c.t[b] = (pfreal)PFRNGUniform(&rng);
  FillNormal(c.B * c.ldo, 1.0, 0.0, c.Rw);
  /* the columns past E belong to someone else; the forward must not touch them */
  for (PetscInt i = 0; i < c.B * c.ldo; i++) c.out[i] = (pfreal)-7.0;
  (void)TembLoss(&c);
  for (PetscInt b = 0; b < c.B; b++)
    for (PetscInt k = c.E; k < c.ldo; k++) clobbered += c.out[b * c.ldo + k] != (pfreal)-7.0;
  snprintf(msg, sizeof msg, "forward leaves the %" PetscInt_FMT " padding columns of each row alone (%" PetscInt_FMT " overwritten)", c.ldo - c.E, clobbered);
  Report((PetscBool)(clobbered == 0), msg);
  PFTimeEmbedBackward(c.B, c.E, c.t, c.ldo, c.Rw, dt);
  CheckTensor("temb d/dt", TembLoss, &c, c.B, c.t, dt, 1000, H_TIME);
  PetscCall(PetscFree4(c.t, c.out, c.Rw, dt));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------- residual block --- */
typedef struct {
  PFResBlock blk;
  PetscInt   B;
  pfreal    *X, *Y, *Rw;
} ResCtx;

static double ResLoss(void *vctx)
{
  ResCtx *c = (ResCtx *)vctx;
  PFResBlockForward(&c->blk, c->B, c->X, c->Y);
  return Dot(c->B * c->blk.S * c->blk.C, c->Y, c->Rw);
}

static PetscErrorCode TestResBlock(PFActivation act)
{
  ResCtx   c;
  PetscInt np, nw, n, C = 6;
  pfreal  *P, *Gd, *G0, *gan, *work, *tmp, *dX;
  char     what[64];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&c, sizeof(c)));
  c.B       = 3;
  c.blk.S   = 2;
  c.blk.C   = C;
  c.blk.G   = 2;
  c.blk.act = act;
  n         = c.B * c.blk.S * C;
  np        = PFResBlockNumParams(C);
  nw        = PFResBlockWorkspaceSize(&c.blk, c.B);
  printf("residual block %s (B=%" PetscInt_FMT ", S=%" PetscInt_FMT ", C=%" PetscInt_FMT ", G=%" PetscInt_FMT ", %" PetscInt_FMT " params):\n", PFActivations[act], c.B, c.blk.S, C, c.blk.G, np);
  PetscCall(PetscMalloc4(np, &P, np, &Gd, np, &G0, np, &gan));
  PetscCall(PetscMalloc6(nw, &work, n, &tmp, n, &dX, n, &c.X, n, &c.Y, n, &c.Rw));
  PFResBlockBindParams(&c.blk, P, Gd);
  PFResBlockBindWorkspace(&c.blk, c.B, work);
  FillNormal(C, 0.3, 1.0, c.blk.gamma);
  FillNormal(C, 0.3, 0.0, c.blk.beta);
  FillNormal(C * C, 1.0 / PetscSqrtReal((PetscReal)C), 0.0, c.blk.W);
  FillNormal(C, 0.3, 0.0, c.blk.b);
  FillNormal(n, 1.5, 0.3, c.X);
  FillNormal(n, 1.0, 0.0, c.Rw);
  FillNormal(np, 1.0, 0.0, G0);
  PetscCall(PetscArraycpy(Gd, G0, np));

  (void)ResLoss(&c);
  FillNaN(n, dX); /* overwritten, per the contract */
  PFResBlockBackward(&c.blk, c.B, c.X, c.Rw, tmp, dX);
  Sub(np, Gd, G0, gan);
  snprintf(what, sizeof what, "resblock(%s) dX", PFActivations[act]);
  CheckTensor(what, ResLoss, &c, n, c.X, dX, 1000, H_REL);
  snprintf(what, sizeof what, "resblock(%s) dgamma", PFActivations[act]);
  CheckTensor(what, ResLoss, &c, C, c.blk.gamma, gan + (c.blk.dgamma - Gd), 1000, H_REL);
  snprintf(what, sizeof what, "resblock(%s) dbeta", PFActivations[act]);
  CheckTensor(what, ResLoss, &c, C, c.blk.beta, gan + (c.blk.dbeta - Gd), 1000, H_REL);
  snprintf(what, sizeof what, "resblock(%s) dW", PFActivations[act]);
  CheckTensor(what, ResLoss, &c, C * C, c.blk.W, gan + (c.blk.dW - Gd), 1000, H_REL);
  snprintf(what, sizeof what, "resblock(%s) db", PFActivations[act]);
  CheckTensor(what, ResLoss, &c, C, c.blk.b, gan + (c.blk.db - Gd), 1000, H_REL);

  PetscCall(PetscFree4(P, Gd, G0, gan));
  PetscCall(PetscFree6(work, tmp, dX, c.X, c.Y, c.Rw));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ------------------------------------------------------ MLP via PFNet --- */
typedef struct {
  PFNet    net;
  PetscInt B, nin;
  pfreal  *x, *t, *v, *Rw;
} NetCtx;

static double NetLoss(void *vctx)
{
  NetCtx *c = (NetCtx *)vctx;
  PetscCallAbort(PETSC_COMM_SELF, PFNetForward(c->net, c->B, c->x, c->t, c->v));
  return Dot(c->B * c->nin, c->v, c->Rw);
}

/* Builds a small MLP with the given activation through the options database
 * (as the CLI does), checks every parameter tensor and dL/dx, and returns
 * the loss at the base point (so the caller can see the activation took). */
static PetscErrorCode TestMLP(const char *act, double *L0)
{
  NetCtx             c;
  size_t             np;
  pfreal            *P, *G, *gan, *dx, *dx2;
  const PFParamView *views;
  PetscInt           nviews;
  char               what[96], msg[256];
  double             d;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&c, sizeof(c)));
  c.B   = 4;
  c.nin = 3;
  PetscCall(PetscOptionsSetValue(NULL, "-mlp_act", act));
  PetscCall(PetscOptionsSetValue(NULL, "-mlp_width", "12"));
  PetscCall(PetscOptionsSetValue(NULL, "-mlp_depth", "2"));
  PetscCall(PetscOptionsSetValue(NULL, "-mlp_temb_dim", "8"));
  PetscCall(PFNetCreate(PETSC_COMM_WORLD, &c.net));
  PetscCall(PFNetSetType(c.net, PFNETMLP));
  PetscCall(PFNetSetFromOptions(c.net));
  PetscCall(PFNetSetInputSize(c.net, c.nin));
  PetscCall(PFNetSetUp(c.net));
  PetscCall(PFNetInitializeWeights(c.net, 2024));
  PetscCall(PFNetPlan(c.net, c.B));
  /* leave no options behind for the next network */
  PetscCall(PetscOptionsClearValue(NULL, "-mlp_act"));
  PetscCall(PetscOptionsClearValue(NULL, "-mlp_width"));
  PetscCall(PetscOptionsClearValue(NULL, "-mlp_depth"));
  PetscCall(PetscOptionsClearValue(NULL, "-mlp_temb_dim"));
  PetscCall(PFNetGetParameters(c.net, &np, &P, &G));
  PetscCall(PFNetGetParamViews(c.net, &nviews, &views));
  printf("MLP via PFNet, -mlp_act %s (width 12, depth 2, temb 8, nin %" PetscInt_FMT ", B %" PetscInt_FMT ", %zu params):\n", act, c.nin, c.B, np);
  /* the initialisation has gamma = 1 and beta = 0 exactly; perturb every
   * parameter so that no gradient is checked at a special point */
  FillNormal((PetscInt)np, 0.2, 0.0, G); /* G as scratch, zeroed below */
  for (size_t i = 0; i < np; i++) P[i] += G[i];
  PetscCall(PetscMalloc6(c.B * c.nin, &c.x, c.B, &c.t, c.B * c.nin, &c.v, c.B * c.nin, &c.Rw, np, &gan, c.B * c.nin, &dx));
  PetscCall(PetscMalloc1(c.B * c.nin, &dx2));
  FillNormal(c.B * c.nin, 1.0, 0.0, c.x);
  for (PetscInt b = 0; b < c.B; b++) c.t[b] = (pfreal)PFRNGUniform(&rng);
  FillNormal(c.B * c.nin, 1.0, 0.0, c.Rw);

  *L0 = NetLoss(&c);
  PetscCall(PFNetZeroGradient(c.net));
  PetscCall(PFNetBackward(c.net, c.B, c.Rw, dx));
  PetscCall(PetscArraycpy(gan, G, np));
  for (PetscInt iv = 0; iv < nviews; iv++) {
    snprintf(what, sizeof what, "mlp(%s) %s", act, views[iv].name);
    CheckTensor(what, NetLoss, &c, views[iv].rows * views[iv].cols, P + views[iv].offset, gan + views[iv].offset, 200, H_REL);
  }
  snprintf(what, sizeof what, "mlp(%s) dL/dx", act);
  CheckTensor(what, NetLoss, &c, c.B * c.nin, c.x, dx, 1000, H_REL);

  /* a second backward of the same forward adds the same gradient again
   * (micro-batch accumulation); with dx = NULL it must still do so */
  (void)NetLoss(&c);
  PetscCall(PFNetBackward(c.net, c.B, c.Rw, NULL));
  d = MaxDiff((PetscInt)np, G, gan, 1.0, gan);
  snprintf(msg, sizeof msg, "mlp(%s) PFNetBackward accumulates (dx=NULL): max|G - 2 G1| = %.2e", act, d);
  Report((PetscBool)(d <= RoundoffTol(2 * MaxAbs((PetscInt)np, gan))), msg);
  FillNaN(c.B * c.nin, dx2);
  PetscCall(PFNetBackward(c.net, c.B, c.Rw, dx2));
  d = MaxDiff(c.B * c.nin, dx2, dx, 0.0, NULL);
  snprintf(msg, sizeof msg, "mlp(%s) dx is overwritten, not accumulated: max deviation %.2e", act, d);
  Report((PetscBool)(d <= RoundoffTol(MaxAbs(c.B * c.nin, dx))), msg);

  PetscCall(PetscFree6(c.x, c.t, c.v, c.Rw, gan, dx));
  PetscCall(PetscFree(dx2));
  PetscCall(PFNetDestroy(&c.net));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  double L_silu, L_gelu;
  char   msg[256];

  PetscCall(PetscInitialize(&argc, &argv, NULL, "Finite-difference gradient checks of the network layers"));
  PFRNGInit(&rng, 20240601, PF_RNG_TEST, 0, 0);
  printf("gradient checks in %s: h = %.0e (x max(1,|p|)), h_t = %.0e, tolerance %.0e\n", PF_REAL_NAME, H_REL, H_TIME, TOL);
  PetscCall(TestDense());
  PetscCall(TestActivation(PF_ACT_SILU));
  PetscCall(TestActivation(PF_ACT_GELU));
  PetscCall(TestNorm(2, 3, 6, 2, PETSC_FALSE));
  PetscCall(TestNorm(3, 2, 6, 3, PETSC_FALSE));
  PetscCall(TestNorm(4, 1, 5, 1, PETSC_TRUE));
  PetscCall(TestTimeEmbed());
  PetscCall(TestResBlock(PF_ACT_SILU));
  PetscCall(TestResBlock(PF_ACT_GELU));
  PetscCall(TestMLP("silu", &L_silu));
  PetscCall(TestMLP("gelu", &L_gelu));
  snprintf(msg, sizeof msg, "-mlp_act took effect: same weights, loss %.6f (silu) vs %.6f (gelu)", L_silu, L_gelu);
  Report((PetscBool)(L_silu != L_gelu), msg);
#if defined(PF_NET_DOUBLE)
  snprintf(msg, sizeof msg, "largest relative error over all tensors %.2e < %.0e (issue requirement)", worst, TOL_ISSUE);
  Report((PetscBool)(worst < TOL_ISSUE), msg);
#else
  printf("largest relative error over all tensors %.2e (float32; tolerance %.0e)\n", worst, TOL);
#endif
  printf("%s: %d failure(s)\n", nfail ? "FAILED" : "PASSED", nfail);
  PetscCall(PetscFinalize());
  return nfail ? 1 : 0;
}
