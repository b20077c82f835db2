#pragma once
/* Minimum-excess-work guidance of a pretrained flow (Kolloff et al. 2025,
 * "Minimum-excess-work guidance", arXiv 2505.13375; issue 10), src/guide.
 *
 * Observable guidance: a few observables f(x) of the generated states are
 * known to have other averages (experiments, a target).  The maximum-entropy
 * answer is the tilt p(x) ~ p_base(x) exp(-lambda f(x)) whose average
 * matches (lambda from reweighting base samples, PFMaxEntLambda).  The flow
 * is steered towards it at sampling time by an extra drift on the base
 * velocity,
 *
 *   v_g(x, t) = v(x, t) - alpha(t) lambda grad f(x1hat),  x1hat = x + (1 - t) v(x, t),
 *   alpha(t)  = a exp(-b (1 - t))  or  a (1 - t)^b            (PFGuideScheduleType)
 *
 * (the score-based drift of the paper, -alpha lambda grad f, enters the
 * flow-matching velocity through v = (x + (1 - t) s)/t; the factor (1-t)/t
 * is absorbed in the tuned schedule, see docs/design.md).  The excess work
 * of the added drift is W = int_0^1 E |dv|^2 dt (the time average over the
 * sampler's velocity evaluations of the batch mean of |dv|^2); the
 * schedule (a, b) minimises  task loss + gamma W  (Nelder-Mead on log a,
 * b, with the same noise for every candidate). */
#include <physflow/flow.h>
#include <physflow/net.h>
#include <physflow/physics.h>
#include <physflow/sampler.h>

/* Observables: plug-ins with a scalar value per state and its gradient.
 * A new one is a create function that sets the eval callback (and its
 * context) and is registered under a name. */
typedef struct _p_PFObservable *PFObservable;
/* f[b] = f(x_b) and, if grad is not NULL, grad[b n + i] = df/dx_i */
typedef PetscErrorCode (*PFObservableEvalFn)(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad);
struct _p_PFObservable {
  MPI_Comm           comm; /* mesh states: the group sharing the mesh (eval is collective on it) */
  char               name[64];
  PetscInt           n; /* values per state (on this rank) */
  PFObservableEvalFn eval;
  void              *ctx;
  PetscErrorCode (*destroy)(PFObservable);
  /* mesh states (PFObservableCreateMesh; phys NULL for vector states):
   * nfields vertex arrays of the physics' owned vertices, in normalised
   * units x = (physical - mean[f]) / std[f] */
  PFPhysics phys;
  PetscInt  nfields;
  double    mean[8], std[8];
  double    region[4]; /* xmin, xmax, ymin, ymax (region observables) */
  PetscBool has_region;
  char      group[64]; /* boundary group (flux observables) */
};
PETSC_EXTERN PetscErrorCode PFObservableRegister(const char name[], PetscErrorCode (*create)(PFObservable));
/* registers the built-in mesh observables (src/guide/observable_mesh.c) */
PETSC_EXTERN PetscErrorCode PFObservableRegisterMesh(void);
/* An observable of states of n values (built-in: x0, x1: a coordinate of
 * 2-D toy states) */
PETSC_EXTERN PetscErrorCode PFObservableCreate(MPI_Comm comm, const char name[], PetscInt n, PFObservable *obs);
/* The same with a region (NULL: none) for the observables that take one
 * (built in: box_distance, minus the Euclidean distance of the first two
 * values to the box xmin,xmax,ymin,ymax: 0 inside, so {f >= 0} is the box) */
PETSC_EXTERN PetscErrorCode PFObservableCreateWithRegion(MPI_Comm comm, const char name[], PetscInt n, const double region[], PFObservable *obs);
/* An observable of the mesh states of a PFPhysics (built in: mean_logK, the
 * area-weighted mean of the field logK over the region (whole domain when
 * region is NULL); boundary_flux, the outflow through the boundary group
 * `group` (PFPhysicsBoundaryFlux)); mean/std: the model's normalisation
 * of each field.  Collective on the physics' comm. */
PETSC_EXTERN PetscErrorCode PFObservableCreateMesh(const char name[], PFPhysics phys, const double mean[], const double std[], const double region[], const char group[], PFObservable *obs);
PETSC_EXTERN PetscErrorCode PFObservableEval(PFObservable obs, PetscInt B, const pfreal *x, double *f, pfreal *grad);
PETSC_EXTERN PetscErrorCode PFObservableDestroy(PFObservable *obs);
/* The registered names, comma-separated (for messages) */
PETSC_EXTERN PetscErrorCode PFObservableList(char list[], size_t len);

/* Maximum-entropy reweighting of N base values f: the lambda of
 * w_i ~ exp(-lambda f_i) whose weighted mean is target (sigma = 0), or, with
 * a Gaussian uncertainty sigma of the target, the minimiser of the dual
 * log mean_i exp(-lambda f_i) + lambda target + sigma^2 lambda^2 / 2.
 * Newton on the convex dual; *mean_w: the weighted mean reached.  Fails if
 * the target lies outside the range the samples can reweight to. */
PETSC_EXTERN PetscErrorCode PFMaxEntLambda(PetscInt N, const double f[], double target, double sigma, double *lambda, double *mean_w);

/* mean and (unbiased) variance of N values */
PETSC_EXTERN void PFGuideMoments(PetscInt N, const double f[], double *mean, double *var);
/* The tilt exp(-lambda f) (lambda <= 0) under which the fraction F of the
 * reweighted base values lies at or above thr (bisection; the fraction
 * grows with -lambda); *mean_w: the tilted mean of f.  A tilt in f keeps
 * the distribution within each level set of f: inside {f >= thr} the
 * tilted distribution is the base one reweighted by f alone (tilted path
 * guidance, -path_method tilt). */
PETSC_EXTERN PetscErrorCode PFMaxEntLambdaFraction(PetscInt N, const double f[], double thr, double F, double *lambda, double *mean_w);

/* alpha(t): exp  a exp(-b (1 - t))  (the paper's family; b < 0 is
 *                strongest near the noise),
 *            power a (1 - t)^b, b >= 0 (vanishes at the data end, as the
 *                exact tilt's drift -lambda Cov[x1 | x_t] grad f / (1 - t)
 *                does for a linear f: the posterior covariance shrinks
 *                like (1 - t)^2) */
typedef enum {
  PF_GUIDE_EXP   = 0,
  PF_GUIDE_POWER = 1
} PFGuideScheduleType;
PETSC_EXTERN const char *const PFGuideScheduleTypes[];
/* The drift's direction:
 *   x1hat    -lambda grad f(x1hat), x1hat = x + (1 - t) v (the paper's form at
 *            the x1 estimate);
 *   tweedie  -lambda ((1 - t)/(t + 0.05)) J^T grad f(x1hat), J = d x1hat/dx:
 *            the first-order drift of the exact tilt, whose velocity change
 *            is Cov[x1 | x_t] lambda grad f / (1 - t), with
 *            Cov[x1 | x_t] = (1 - t)^2 / t J for the straight path (Tweedie's
 *            formula); one network backward per evaluation.  It weighs the
 *            modes of a mixture early and hardly moves samples within a
 *            mode late, as the tilt does. */
typedef enum {
  PF_GUIDE_X1HAT   = 0,
  PF_GUIDE_TWEEDIE = 1
} PFGuideDriftType;
PETSC_EXTERN const char *const PFGuideDriftTypes[];
typedef struct {
  double              lambda, a, b;
  PFGuideScheduleType kind;
  PFGuideDriftType    drift;
  double              clip; /* > 0: |dv| <= clip |v| per state (a nonlinear observable's gradient at a poor early x1
                             * estimate can be huge: e.g. a flux grows like exp(logK)); 0: none */
} PFGuideSchedule;
/* b within its family's range */
PETSC_EXTERN double PFGuideClampB(PFGuideScheduleType kind, double b);
PETSC_EXTERN double PFGuideAlpha(const PFGuideSchedule *s, double t);

/* Guided sampling of nloc samples (global indices gidx0..) with the base
 * model (net, flow: PFFlowSample's noise) and the guidance; *work: the
 * excess work, mean over all samples of world (mesh states: groups of
 * obs->comm share the samples, which count once). */
PETSC_EXTERN PetscErrorCode PFGuideSample(PFFlow flow, PFNet net, PFSampler sampler, PFObservable obs, const PFGuideSchedule *s, MPI_Comm world, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, double *work, PetscInt *nfe);
/* *count = nloc on the rank that counts this rank's samples in sums over
 * the world (every rank for vector states, a group's first rank for mesh
 * states), else 0 */
PETSC_EXTERN PetscErrorCode PFGuideSampleCount(PFObservable obs, PetscInt nloc, double *count);

/* Tunes s->a, s->b (s->lambda given): minimises
 *   (mean f(guided) - target)^2 / var + gamma W
 * over nloc samples per rank (noise seed fixed), Nelder-Mead with at most
 * maxeval evaluations; prints its progress on comm. */
typedef struct {
  double   target, var, gamma;
  PetscInt maxeval;
} PFGuideTuneParams;
PETSC_EXTERN PetscErrorCode PFGuideTune(PFFlow flow, PFNet net, PFSampler sampler, PFObservable obs, MPI_Comm world, const PFGuideTuneParams *tp, uint64_t seed, PetscInt gidx0, PetscInt nloc, PFGuideSchedule *s, double *mean, double *work);

/* Nelder-Mead on d <= 8 parameters from th (start; on return the best),
 * initial simplex steps step[d], at most maxeval objective evaluations */
typedef PetscErrorCode (*PFGuideObjectiveFn)(void *ctx, const double th[], double *J);
PETSC_EXTERN PetscErrorCode PFNelderMead(MPI_Comm comm, PetscInt d, double th[], const double step[], PFGuideObjectiveFn fn, void *ctx, PetscInt maxeval, double *Jbest);

/* Path guidance: concentrate the samples on a subset of state space (a
 * rare region) while staying close to the base distribution there.  M
 * guiding samples from the subset are pushed back along the base flow
 * (their positions y_j(t_k) at t_k = k/K); while sampling, the drift
 *   dv = alpha(t) grad_x log sum_j N(x; y_j(t), h(t)^2 I),
 *   alpha(t) = a exp(-b (1 - t)) or a (1 - t)^b (kind),
 *   h(t) = sqrt((t h0)^2 + (1 - t)^2)
 * (a kernel density estimate of where the guided paths run; h(t) the
 * spread a point of the subset of width h0 has at time t on the straight
 * path) pulls the states towards them; (a, b, h0) are tuned against
 * max(0, log F - log(fraction inside))^2 + gamma W: reach the target
 * fraction F with the least work (more push than needed squeezes the
 * samples onto the guides). */
typedef struct {
  PetscInt M, n, K;
  pfreal  *Y; /* [(K+1) M n], positions at t_k = k/K (this rank's values of each state) */
  double   a, b, h0;
  PFGuideScheduleType kind; /* alpha(t): exp (default) or power, as PFGuideAlpha */
  MPI_Comm gcomm; /* mesh states: the ranks sharing a state (distances are sums over them); else MPI_COMM_SELF */
} PFPathGuide;
/* the M guiding states x1 [M n] pushed back with K Heun steps of the base
 * net (gcomm: the ranks sharing a mesh state, else MPI_COMM_SELF) */
PETSC_EXTERN PetscErrorCode PFPathGuideBuild(PFNet net, MPI_Comm gcomm, PetscInt K, PetscInt M, const pfreal *x1, PFPathGuide *pg);
PETSC_EXTERN PetscErrorCode PFPathGuideSample(PFFlow flow, PFNet net, PFSampler sampler, const PFPathGuide *pg, MPI_Comm comm, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, double *work, PetscInt *nfe);
/* in[b] = 1 if state b lies in the box [lo0, hi0] x [lo1, hi1] of its first two values */
PETSC_EXTERN void           PFPathRegionInside(const double box[4], PetscInt n, PetscInt B, const pfreal *x, PetscInt *in);
/* the subset: the box (obs NULL), or the states whose observable is at
 * least threshold */
typedef struct {
  double       box[4], gamma, fraction;
  PetscInt     maxeval;
  PFObservable obs;
  double       threshold;
} PFPathTuneParams;
/* in[b] = 1 if state b lies in the subset of tp (collective on obs->comm for an observable) */
PETSC_EXTERN PetscErrorCode PFPathInside(const PFPathTuneParams *tp, PetscInt n, PetscInt B, const pfreal *x, PetscInt *in);
PETSC_EXTERN PetscErrorCode PFPathGuideTune(PFFlow flow, PFNet net, PFSampler sampler, const PFPathTuneParams *tp, MPI_Comm comm, uint64_t seed, PetscInt gidx0, PetscInt nloc, PFPathGuide *pg, double *frac, double *work);
PETSC_EXTERN PetscErrorCode PFPathGuideDestroy(PFPathGuide *pg);
