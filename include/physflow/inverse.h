#pragma once
/* Posterior sampling from sparse noisy observations with an unconditional
 * flow model (issue 7, -infer_type guidance; src/inverse/posterior.c).
 *
 * The observations y = H x_f + noise (sigma) of one field f give the
 * likelihood L(x) = |H x_f - y|^2 / (2 sigma^2); an optional PDE term adds
 * w |R(x)|^2 / (2 |F|^2).  The base velocity is steered by the score of the
 * likelihood at the x1 estimate, converted to the velocity as in the
 * observable guidance (include/physflow/guide.h, docs/design.md):
 *   v_g = v - s ((1 - t)/(t + 0.05)) J^T grad L(x1hat),  x1hat = x + (1 - t) v,
 * J = d x1hat / dx (one network backward), s = -infer_scale (1: the
 * first-order posterior drift), with sigma^2 in L inflated by the x1
 * estimate's variance r_t^2 = std_f^2 (1 - t)^2 / (t^2 + (1 - t)^2) (the
 * PiGDM correction, Song et al. 2023; it keeps the drift's stiffness
 * within the sampler's stability for small sigma).  States are the model's normalised mesh
 * states; the group of ranks sharing the mesh evaluates it collectively. */
#include <physflow/net.h>
#include <physflow/obs.h>
#include <physflow/kalman.h>

typedef struct {
  PFNet          net;
  PFPhysics      phys;
  PFObsOperator *H;
  PetscInt       nf, nown, field; /* fields per state, owned vertices, observed field */
  double         mean[8], std[8]; /* the model's normalisation */
  const double  *y;               /* [H->nobs] */
  double         sigma, scale, wres;
  /* work, sized by PFPosteriorGuideSetUp */
  PetscInt     maxbatch;
  pfreal      *tbuf, *x1, *g, *jt;
  PetscScalar *xp, *gp, *R, *gr;
  double      *hy, fnorm;
} PFPosteriorGuide;
PETSC_EXTERN PetscErrorCode PFPosteriorGuideSetUp(PFPosteriorGuide *pg);
PETSC_EXTERN PetscErrorCode PFPosteriorGuideVelocity(void *ctx, double t, PetscInt nloc, const pfreal *x, pfreal *v);
PETSC_EXTERN PetscErrorCode PFPosteriorGuideDestroy(PFPosteriorGuide *pg);

/* Posterior summaries of N samples of one field (X [N, nv], natural order):
 * per-vertex mean, std and the band [q_lo, q_hi] between the quantiles at
 * levels lo and 1 - lo (linear interpolation between order statistics);
 * with the truth (may be NULL) and lumped vertex masses m, the relative L2
 * error of the mean sqrt(sum m (mean - truth)^2 / sum m truth^2) and the
 * coverage (fraction of vertices whose truth lies in the band). */
PETSC_EXTERN PetscErrorCode PFPosteriorStats(PetscInt N, PetscInt nv, const double *X, const double *m, const double *truth, double lo, double *mean, double *std, double *qlo, double *qhi, double *err, double *cov);

/* The relative L2 error of an estimate, sqrt(sum m (est - truth)^2 /
 * sum m truth^2) with lumped vertex masses m (NaN without a truth): the
 * err of PFPosteriorStats, and of a point estimate. */
PETSC_EXTERN double PFPosteriorEstimateError(PetscInt nv, const double *m, const double *est, const double *truth);

/* The lower level lo of a band meant to hold the fraction `mass` of the
 * posterior, estimated from N samples.  sample: lo = (1 - mass) / 2, the
 * samples' own quantiles.  predictive: the order statistics whose band a
 * further draw from the same distribution (the truth, if the sampler is
 * exact) falls into with probability `mass`: for exchangeable draws
 * P(X_(i) <= Y <= X_(j)) = (j - i) / (N + 1), so the band runs from
 * position u = (N + 1)(1 - mass)/2 to N + 1 - u, lo = (u - 1)/(N - 1).
 * The samples' own 5-95% quantiles hold 0.9 (N - 1)/(N + 1) of it on
 * average (84.5% for N = 32): their coverage is low even for an exact
 * sampler.  Below N = 2/(1 - mass) - 1 (19 for 90%) the predictive band
 * is the samples' range (lo = 0), which holds less than `mass`. */
PETSC_EXTERN double PFPosteriorBandLevel(PetscInt N, double mass, PetscBool predictive);

/* The Gaussian predictive band from N samples: mean +- mult std with mult
 * = t_{N-1} sqrt(1 + 1/N), t_{N-1} the Student-t quantile with P(|T| <= t)
 * = mass.  For independent draws of a Gaussian a further draw falls in it
 * with probability exactly `mass` for every N >= 2, where the order
 * statistics need N >= 19 for 90%: the band for few samples of a near-
 * Gaussian posterior (a Laplace approximation's).  PFPosteriorGaussianBand
 * writes it from PFPosteriorStats' mean and std (the sample mean and std),
 * and the coverage of the truth (may be NULL). */
PETSC_EXTERN double         PFPosteriorGaussianMultiplier(PetscInt N, double mass);
PETSC_EXTERN PetscErrorCode PFPosteriorGaussianBand(PetscInt nv, const double *mean, const double *std, double mult, const double *truth, double *qlo, double *qhi, double *cov);

/* MAP estimate by PDE-constrained optimisation (the baseline of issue 7):
 * minimise over the latent prior variables xi (PFPhysicsGetLatentSize;
 * Darcy: the KL coefficients of logK, standard normal a priori)
 *   J(xi) = |H x_f(xi) - y|^2 / (2 sigma^2) + |xi|^2 / 2,
 * x(xi) the inputs from xi and the state solved for them; the gradient by
 * the adjoint (one transposed state-Jacobian solve per evaluation), TAO
 * (default blmvm with |xi_k| <= 6; options prefix map_; a trial point
 * whose solve fails has J = inf).  x [nf nown]: on return the MAP
 * state (physical units); *its, *J: TAO's iterations and final objective.
 * Collective on the physics' comm. */
/* The forward half of the MAP objective below and of the pCN chains'
 * misfit (PFMCMCChain): the inputs from xi[m], the state solved for
 * them (x [nf nown], physical units), the scaled residuals of the
 * observations r[nobs] = (H x_field - y) / sigma and the misfit
 * phi = |r|^2 / 2.  A failed solve returns PETSC_ERR_NOT_CONVERGED to the
 * caller (a trial point outside the solver's domain). */
PETSC_EXTERN PetscErrorCode PFObsMisfit(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const double xi[], PetscScalar *x, double r[], double *phi);
/* PFObsMisfit as a trial point's value: a failed solve as phi = inf, and
 * the group's first rank's phi on every rank (so that the ranks of a
 * group, each running the same small optimisation or chain, stay in step) */
PETSC_EXTERN PetscErrorCode PFObsMisfitShared(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const double xi[], PetscScalar *x, double r[], double *phi);
/* The backward half: gx [nf nown] = d(r . H x_field)/dx for all fields
 * when x (physical units) is the PDE solution for its inputs, i.e. the
 * misfit's gradient for dJ/d(H x_field) = r; for a state field it goes
 * through the PDE (one adjoint solve) into the input fields.  b: work
 * [nown].  Collective on the physics' comm. */
PETSC_EXTERN PetscErrorCode PFObsMisfitGradient(PFPhysics phys, PFObsOperator *H, PetscInt field, const PetscScalar *x, const double r[], PetscScalar *b, PetscScalar *gx);
/* J at xi[m] and its gradient gxi[m] (may be NULL); x: work [nf nown],
 * on return the state at xi */
PETSC_EXTERN PetscErrorCode PFMAPObjective(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const double xi[], PetscScalar *x, double *J, double gxi[]);
/* xi: if not NULL, receives the estimate's latent variables [m] */
PETSC_EXTERN PetscErrorCode PFMAPEstimate(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, PetscScalar *x, PetscInt *its, double *J, double xi[]);

/* Gauss-Newton steps on the MAP objective J from xi[m] (in: the start,
 * e.g. an amortised estimate's PFPhysicsLatentFromInputs; out: the last
 * accepted point): each solves (I + G^T G / sigma^2) delta = -grad J
 * (G = d(H x_f)/dxi: one adjoint solve per observation, the factor of
 * PFMCMCLaplaceFactor) and halves the step until J decreases (at most 4
 * times, else it stops).  x [nf nown]: on return the state at xi
 * (physical units).  A failed solve at the start returns
 * PETSC_ERR_NOT_CONVERGED.  Lout (optional, [m][m], steps >= 1): the
 * factor of the last linearisation, for a Laplace approximation at the
 * result (PFLaplaceSamples).  Collective on the physics' comm; every rank
 * takes the group's first rank's steps. */
typedef struct {
  double   J0, J;              /* the objective at the start and at the end */
  PetscInt steps;              /* accepted steps */
} PFGaussNewtonStats;
PETSC_EXTERN PetscErrorCode PFMAPGaussNewton(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, PetscInt steps, double xi[], PetscScalar *x, PFGaussNewtonStats *st, double *Lout);

/* Samples lo .. lo + nloc - 1 of the Laplace approximation of the
 * posterior at the estimate xi whose state is x (physical units; e.g. the
 * end of PFMAPGaussNewton): the latent variables drawn from
 * N(xi, (I + G^T G / sigma^2)^-1) (L: its factor, e.g. PFMAPGaussNewton's
 * Lout; NULL: computed at x, PFMCMCLaplaceFactor), the
 * inputs through the latent map, the state solved for them (linear:
 * linearised about x, one solve with J_p(x) each, one factorisation for
 * all; src/inverse/laplace.c says when that is not enough).  X [nloc][nf nown].  Random numbers: (seed, global sample
 * index), so the samples do not depend on the ranks.  One state field with
 * a residual per vertex (Darcy).  Collective on the physics' comm. */
PETSC_EXTERN PetscErrorCode PFLaplaceSamples(PFPhysics phys, PFObsOperator *H, PetscInt field, double sigma, const double xi[], const PetscScalar *x, const double *L, PetscBool linear, uint64_t seed, PetscInt lo, PetscInt nloc, PetscScalar *X);

/* Reference posterior by MCMC (src/inverse/mcmc.c): a preconditioned
 * Crank-Nicolson chain on the latent prior variables xi, whose target is
 * exp(-J(xi)) with J the MAP objective above (exact up to the discretisation
 * and the chain's length; one state solve per step, no gradient).  The
 * chain starts at xi0 (NULL: the prior mean), adapts its step beta during
 * the burn-in towards 25% acceptance, then keeps every thin-th state:
 * X [rows][nf nown] (physical units).  Random numbers: (seed, chain).
 * L (NULL: pCN; else the factor of PFMCMCLaplaceFactor at xi0, the MAP):
 * generalised pCN (Rudolf & Sprungk 2018), the same AR(1) proposal around
 * the Laplace approximation N(xi0, Gamma): its steps are sized to the
 * posterior instead of the prior, and the acceptance corrects for the
 * difference between the posterior and its Laplace approximation.
 * Collective on the physics' comm. */
typedef struct {
  PetscInt burn, thin;
  double   beta; /* initial step in (0, 1] */
} PFMCMCParams;
typedef struct {
  double acceptance, beta; /* after the burn-in */
} PFMCMCStats;
/* The Laplace approximation at the MAP xi0 whose state is x0 (physical
 * units): L [m][m], the lower Cholesky factor of Gamma^-1 = I + G^T G /
 * sigma^2, G = d(H x_f)/dxi (one adjoint solve per observation), the
 * group's first rank's on every rank.  Once per observation: every chain
 * of it shares it. */
PETSC_EXTERN PetscErrorCode PFMCMCLaplaceFactor(PFPhysics phys, PFObsOperator *H, PetscInt field, double sigma, const PetscScalar *x0, double *L);
PETSC_EXTERN PetscErrorCode PFMCMCChain(PFPhysics phys, PFObsOperator *H, PetscInt field, const double y[], double sigma, const PFMCMCParams *p, const double xi0[], const double L[], uint64_t seed, PetscInt chain, PetscInt rows, PetscScalar *X, PFMCMCStats *st);

/* Training a conditional model (-condition obs): every training sample
 * gets a random sensor set of one field -- k sensors, k uniform in
 * [nobs_min, nobs_max], uniformly random positions in the mesh, values
 * H x_f plus Gaussian noise of std `noise` (field units), all keyed by
 * (seed, the sample's draw) -- encoded as the two conditioning channels of
 * PFObsEncodeVoronoi (voronoi) or PFObsEncode.  fill/write are a PFDataConditioner's (data.h).  The field's
 * normalisation mean/std must be those of the data (set before training). */
typedef struct {
  PFPhysics phys;
  PetscInt  field, nown;     /* observed field: its index among the sample's fields */
  char      fieldname[64];
  PetscInt  nobs_min, nobs_max;
  double    noise, mean, std;
  uint64_t  seed;
  PetscBool voronoi;         /* the Voronoi encoding (else the point one) */
  const double *xy;          /* voronoi: [nown][2] owned vertex coordinates */
  double    area;            /* voronoi: the domain's area */
  PFKalman    *kalman;       /* not NULL: the Kalman estimate's channels follow the encoding's two */
  const char  *kalman_data;  /* its ensemble's dataset (recorded in the model) */
  PetscBool    kalman_adjoint; /* and the adjoint summary's channels after them (PFKalmanAdjointSummary) */
  PetscScalar *f;            /* work [nown] */
  double      *y, *xyobs;    /* work [nobs_max], [2 nobs_max] */
} PFObsConditioner;
PETSC_EXTERN PetscErrorCode PFObsConditionerSetUp(PFObsConditioner *oc);
PETSC_EXTERN PetscErrorCode PFObsConditionerFill(void *ctx, uint64_t draw, const pfreal *fields, pfreal *channels);
PETSC_EXTERN PetscErrorCode PFObsConditionerWrite(void *ctx, hid_t group);
PETSC_EXTERN PetscErrorCode PFObsConditionerDestroy(PFObsConditioner *oc);

/* The latent parameter predictor of Tauberschmidt et al. 2025 (arXiv
 * 2508.09156; -infer_type latent) for a model that generates only the
 * state fields (e.g. p): a mesh network phi maps a state to the physics
 * inputs it lacks (logK), trained WITHOUT labels by minimising the PDE
 * residual of (phi(x), x) over samples x of the base model (the
 * constraint's norm; the re-solve distance by default).  Both are
 * normalised: the state by the base model's normalisation, the inputs by
 * in_mean/in_std.  phi is the velocity-network type evaluated at t = 1.
 * The residual alone does not determine the inputs where the state is
 * uninformative (Darcy: K where grad p ~ 0), so an optional Gaussian prior
 * term w |phi(x)|_M^2 / |domain| picks the smallest inputs consistent with
 * the state.
 * The physics' fields are its inputs (first ninputs) then the state. */
#include <physflow/constraint.h>
typedef struct {
  PFNet        phi;
  PFConstraint c;     /* set to the physics with the full [inputs, state] normalisation */
  PFPhysics    phys;  /* (the prior term's vertex masses) */
  double       prior; /* w: + w |phi(x)|_M^2 / |domain| per state (normalised units) */
  PetscInt     ninputs, nstate, nown, maxbatch;
  pfreal      *tbuf, *x, *gx, *dg; /* work */
  double      *one, Mtot;
} PFLatent;
PETSC_EXTERN PetscErrorCode PFLatentSetUp(PFLatent *lt, PetscInt maxbatch);
/* inputs [B][ninputs nown] = phi(state [B][nstate nown]), B <= maxbatch */
PETSC_EXTERN PetscErrorCode PFLatentPredict(PFLatent *lt, PetscInt B, const pfreal *state, pfreal *inputs);
/* The residual loss of (phi(x), x) for B states (this rank's part of the
 * sum over states, lsum) and its parameter gradient, scaled by 1/Bg,
 * accumulated in phi.  Collective on the physics' comm. */
PETSC_EXTERN PetscErrorCode PFLatentLossGradient(PFLatent *lt, PetscInt B, PetscInt Bg, const pfreal *state, double *lsum);
/* The lift of a state model's states to the physics' [phi(x), x] and its
 * VJP through phi (PFConstraintSetStateLift; ctx a set-up PFLatent, B <=
 * maxbatch): physics fine-tuning of the state model with phi frozen, the
 * joint (x, alpha = phi(x)) generation of Tauberschmidt et al. 2025 */
PETSC_EXTERN PetscErrorCode PFLatentLift(void *ctx, PetscInt B, const pfreal *state, pfreal *full);
PETSC_EXTERN PetscErrorCode PFLatentLiftVJP(void *ctx, PetscInt B, const pfreal *gfull, pfreal *gstate);
PETSC_EXTERN PetscErrorCode PFLatentDestroy(PFLatent *lt);
