#pragma once
/* PFConstraint: the PDE in training (issue 6), for any PFPhysics.
 *
 * -constraint pbfm (Baldan et al. 2025, "Flow matching meets PDEs", code
 * tum-pbs/PBFM): alongside the flow-matching loss, estimate the clean state
 * from the noisy training state x_t by unrolling n Euler steps of the
 * current network to t = 1 (with gradients), and penalise its PDE residual:
 *
 *   x_{k+1} = x_k + dt v(x_k, t + k dt),  dt = (1 - t)/n,  x_0 = x_t
 *   L_R = (1/B) sum_b t_b^p |R(denorm(x_n))|_1 / |F|_1
 *
 * (|F|_1 = |R(0)|_1, the residual of the zero state: a mesh-independent
 * scale; denorm undoes the model's per-field normalisation).  n grows over
 * training from 1 to -pbfm_unroll in equal stages.  The flow-matching and
 * residual gradients are formed separately and combined by ConFIG (Liu,
 * Chu & Thuerey 2024: a direction with equal, positive projections on both
 * unit gradients) or by a weighted sum (-constraint_combine config|sum).
 *
 * Back-propagation through the unroll keeps each step's activations in an
 * activation set of its own (PFNetSelectActivations; memory n sets of the
 * residual rows), or with -pbfm_keep_activations 0 recomputes each step's
 * forward so that memory does not grow with n.  -pbfm_batch k puts only k
 * evenly spaced rows of each batch in the residual loss: each unrolled step
 * costs a forward and a backward of its rows, so n steps on the whole batch
 * cost at least n times a plain step; on B/n rows about one. */
#include <physflow/net.h>
#include <physflow/physics.h>

typedef struct _p_PFConstraint *PFConstraint;

typedef enum {
  PF_CONSTRAINT_NONE    = 0,
  PF_CONSTRAINT_PBFM    = 1,
  PF_CONSTRAINT_ADJOINT = 2, /* fine-tuning only: adjoint matching (src/constraint/adjoint.c) */
  PF_CONSTRAINT_ENDPOINT = 3 /* fine-tuning only: the sampler's endpoint (src/constraint/endpoint.c) */
} PFConstraintType;
PETSC_EXTERN const char *const PFConstraintTypes[];

typedef enum {
  PF_COMBINE_CONFIG = 0,
  PF_COMBINE_SUM    = 1
} PFConstraintCombine;
PETSC_EXTERN const char *const PFConstraintCombines[];

PETSC_EXTERN PetscErrorCode PFConstraintCreate(MPI_Comm comm, PFConstraint *c);
PETSC_EXTERN PetscErrorCode PFConstraintSetFromOptions(PFConstraint c);
/* phys lives on the group communicator that shares a state (set up); mean,
 * std: the model's per-field normalisation (nfields values each, or NULL) */
PETSC_EXTERN PetscErrorCode PFConstraintSetPhysics(PFConstraint c, PFPhysics phys, const double mean[], const double std[]);
/* The size of a residual (-constraint_norm):
 *   l1    |R|_1 / |F|_1 (PBFM's);
 *   l2    |R|_2^2 / |F|_2^2;
 *   error |J_p^{-1} R|_M / |u0|_M: the mass-weighted L2 distance of the
 *         state to the solution with the same inputs (J_p the state
 *         Jacobian, PFPhysicsStateJacobianSolve; u0 the solution for zero
 *         inputs), i.e. the residual measured in the norm that makes it the
 *         re-solve error;
 *   error2 its square.
 * The Euclidean norms of the FE residual weight the finest mesh modes most
 * (R = A e, A ~ a Laplacian), so their gradients hardly move the smooth
 * error that the re-solve distance sees; the error norms cost two linear
 * solves per state. */
typedef enum {
  PF_NORM_L1     = 0,
  PF_NORM_L2     = 1,
  PF_NORM_ERROR  = 2,
  PF_NORM_ERROR2 = 3
} PFConstraintNorm;
PETSC_EXTERN const char *const PFConstraintNorms[];
/* Defaults of the command's use (norm, weight t^tpow), unless given as
 * -constraint_norm / -pbfm_tpow; call after PFConstraintSetFromOptions */
/* after PFConstraintSetPhysics: the error norms fall back to l2 for physics without a state solve */
PETSC_EXTERN PetscErrorCode PFConstraintSetDefaultNorm(PFConstraint c, PFConstraintNorm norm, double tpow);
PETSC_EXTERN PetscErrorCode PFConstraintGetType(PFConstraint c, PFConstraintType *type);
PETSC_EXTERN PetscErrorCode PFConstraintGetCombine(PFConstraint c, PFConstraintCombine *combine, double *weight);
/* Whether row j of a global batch of Bg enters the residual loss
 * (-pbfm_batch k: k rows evenly spaced; default all) */
PETSC_EXTERN PetscBool      PFConstraintResidualRow(PFConstraint c, PetscInt j, PetscInt Bg);
/* Unrolled steps at training step `step` of `total` */
PETSC_EXTERN PetscInt       PFConstraintUnrollSteps(PFConstraint c, PetscInt step, PetscInt total);
/* The residual loss of this rank's B training states (x_t, t, and v0 = the
 * network's velocity at them, from the flow-matching forward): accumulates
 * its gradient (scaled by 1/Bg, the global batch) into the net's gradient
 * buffer and returns this rank's partial sum of sum_b t_b^p |R_b|_1/|F|_1
 * (its own vertices only: summing over the group gives the loss).  The
 * net's activations are overwritten.  Collective on the physics' comm. */
PETSC_EXTERN PetscErrorCode PFConstraintResidualGradient(PFConstraint c, PFNet net, PetscInt B, PetscInt Bg, const pfreal *xt, const pfreal *t, const pfreal *v0, PetscInt nunroll, double *lsum, pfreal *dxt);
/* (dxt, if not NULL, receives d(loss)/d(x_t) [B][n].) */
/* The residual loss of B (normalised) states x with per-state weights w[b]:
 * lsum = this rank's part of sum_b w_b |R(denorm x_b)| (L1 or squared L2,
 * relative), gx = d(lsum / Bg)/dx.  Collective on the physics' comm. */
PETSC_EXTERN PetscErrorCode PFConstraintStateLoss(PFConstraint c, PetscInt B, PetscInt Bg, const pfreal *x, const double w[], double *lsum, pfreal *gx);
/* A model of some of the physics' fields (e.g. the state p alone, whose
 * inputs a predictor supplies): lift(ctx, B, x, full) maps its B
 * normalised states [B][nfields nown] to the physics' [B][n] (in the
 * constraint's normalisation), vjp(ctx, B, gfull, gx) pulls a gradient
 * back (called right after lift with the same states).  PFConstraintStateLoss
 * then takes and returns model states; the fine-tuning methods that only
 * call it (adjoint matching) work on such models unchanged. */
typedef PetscErrorCode (*PFStateLiftFn)(void *ctx, PetscInt B, const pfreal *x, pfreal *full);
typedef PetscErrorCode (*PFStateLiftVJPFn)(void *ctx, PetscInt B, const pfreal *gfull, pfreal *gx);
PETSC_EXTERN PetscErrorCode PFConstraintSetStateLift(PFConstraint c, PetscInt nfields, PFStateLiftFn lift, PFStateLiftVJPFn vjp, void *ctx);
/* How many states the error norms (-constraint_norm error|error2) have left
 * out so far because their solve failed (a generated field the solver cannot
 * take: zero loss and gradient for that state in that step) */
PETSC_EXTERN PetscErrorCode PFConstraintGetFailedSolves(PFConstraint c, PetscInt *n);

/* Inference-time physics guidance (-guidance dps, after DPS, Chung et al.
 * 2023, and PIDM's sampling-time residual): the sampler integrates the
 * guided velocity  v(x,t) - s grad_x L(x + (1-t) v(x,t)),  L the per-sample
 * residual loss above of the one-step x1 estimate, the gradient through the
 * network and the residual VJP.  ctx for PFGuidedVelocity (a PFVelocityFn). */
typedef struct _p_PFMeshGraph *PFMeshGraphGuidanceRef;
typedef struct {
  PFConstraint           c;
  PFNet                  net;
  double                 scale;
  PetscInt               maxbatch, n;
  pfreal                *tbuf, *g; /* [maxbatch], [maxbatch * n] */
  /* optional low-pass of the guidance gradient: nsmooth applications of the
   * mesh's consistent-mass smoother M_L^{-1} M (graph of the state's mesh) */
  PFMeshGraphGuidanceRef graph;
  PetscInt               nsmooth;
  pfreal                *w1, *w2;  /* [maxbatch * n] vertex-major work */
} PFGuidance;
PETSC_EXTERN PetscErrorCode PFGuidedVelocity(void *ctx, double t, PetscInt nloc, const pfreal *x, pfreal *v);
/* Adjoint matching (-constraint adjoint, finetune only): Domingo-Enrich et
 * al. 2024 on the flow, as in Tauberschmidt et al. 2025 (PCFT).  Fine-tune
 * so samples follow p_base(x) exp(-lambda R(x)), R the squared relative L2
 * residual:
 *   memoryless SDE of the current model on a grid denser near t = 1,
 *     eta = (1-t+e)/(t+e), sigma^2 = 2 (1-kappa) eta, c = sigma^2/(2 eta),
 *     b = v + c (v - x/(t+h)),  dX = b dt + sigma dB (last step: dX = v dt);
 *   lean adjoint backwards from a(1) = lambda grad R(X_1) through the FROZEN
 *     base network: a_i = a_{i+1} + h a_{i+1}^T db_base/dx (X_i);
 *   loss  sum_{i in S} |(b_ft - b_base)(X_i)/sigma_i + sigma_i a_i|^2, each
 *     term clipped, S = a random subset of the first 80% of the steps plus
 *     all of the last 20%. */
typedef struct {
  PetscInt steps, subset, iters;
  double   lambda, kappa, clip, tail;
} PFAdjointParams;
PETSC_EXTERN PetscErrorCode PFConstraintGetComm(PFConstraint c, MPI_Comm *comm);
PETSC_EXTERN PetscErrorCode PFConstraintGetAdjointParams(PFConstraint c, PFAdjointParams *p);
/* Fine-tuning (adjoint matching, endpoint) of a model conditioned on some
 * of its own fields (e.g. Re): held[n] marks the components given, not
 * generated (NULL: none); they keep their initial values along the
 * trajectories (no drift, no noise), get no adjoint and no loss;
 * fill(ctx, it, b, x) writes the held components of the initial state x[n]
 * of trajectory b (global index) of iteration it (it = -1: the endpoint
 * fine-tuning's fixed validation batch).  held is the caller's. */
typedef PetscErrorCode (*PFHeldFill)(void *ctx, PetscInt it, PetscInt b, pfreal *x);
PETSC_EXTERN PetscErrorCode PFConstraintSetHeld(PFConstraint c, const PetscBool held[], PFHeldFill fill, void *ctx);
PETSC_EXTERN PetscErrorCode PFConstraintGetHeld(PFConstraint c, const PetscBool **held, PFHeldFill *fill, void **ctx);
/* zero the held components of B states x[B][n] (held may be NULL: nothing) */
PETSC_EXTERN void PFHeldZero(const PetscBool held[], PetscInt B, PetscInt n, pfreal *x);
/* Runs the fine-tuning of ft (initialised to base) on this group's share of
 * B samples per iteration; keys[n]: global component keys of the owned
 * state (noise is keyed by them, so the result does not depend on the
 * partition); one allreduce over world per iteration; lr for AdamW. */
PETSC_EXTERN PetscErrorCode PFAdjointMatchingRun(PFConstraint c, MPI_Comm world, PetscInt G, PetscInt gid, PFNet base, PFNet ft, const PetscInt keys[], PetscInt B, double lr, uint64_t seed);

/* Test of the lean adjoint: with the fine-tuned model equal to the base and
 * the noise path fixed, a(0) is the exact gradient of R(X_1) (lambda = 1)
 * w.r.t. X_0 of the discretised SDE: an = <a(0), dir>, fd its central
 * difference with step h */
PETSC_EXTERN PetscErrorCode PFAdjointMatchingCheck(PFConstraint c, PFNet base, const PetscInt keys[], PetscInt B, uint64_t seed, const pfreal *dir, double h, double *an, double *fd);

/* Anchor the input fields of the states given to PFConstraintStateLoss (and
 * so of the unrolled estimate) to anchor[B][n] (normalised, same layout):
 * the loss gains weight |x_in - anchor_in|_M^2/|domain| per state (and the
 * state fields the same with the endpoint's -endpoint_state_anchor).  NULL
 * removes it.  *last (if not NULL) receives this rank's anchor part of the
 * losses since the previous call. */
PETSC_EXTERN PetscErrorCode PFConstraintSetAnchor(PFConstraint c, const pfreal *anchor, double weight, double *last);

/* Newton targets of B states (normalised units, as the network sees
 * them): xt = x - e with e the physics' Newton step of the state fields at
 * the states' inputs (x - e is one Newton update towards the solution);
 * the input fields are copied.  esq[b] (optional): |e_b|_M^2 over the
 * error norm's scale, summed over the group (the squared error norm).
 * Only for a physics with a Newton step (ns). */
PETSC_EXTERN PetscErrorCode PFConstraintNewtonTarget(PFConstraint c, PetscInt B, const pfreal *x, pfreal *xt, double esq[]);
/* w[n] (one state's components): the weights of the squared error norm
 * in normalised units, m_i std_f^2 / E0 on the state fields, 0 on the
 * inputs, so that sum_q w_q d_q^2 = |d|_M^2 / E0 in physical units */
PETSC_EXTERN PetscErrorCode PFConstraintErrorNormWeights(PFConstraint c, pfreal w[]);
/* steps damped Newton steps from each of B states x (normalised units) to
 * xt: each step is the Newton target's, halved until the error norm falls
 * (at most 6 halvings; if none falls, the state stays and its iteration
 * ends), so the error norm of xt is never above that of x.  esq0[b], esq[b]
 * (optional): the squared error norm of x and of xt (one Newton step more
 * than the steps taken).  States one by one: steps + 1 Newton steps each,
 * more when a step is halved. */
PETSC_EXTERN PetscErrorCode PFConstraintNewtonSolve(PFConstraint c, PetscInt B, const pfreal *x, PetscInt steps, pfreal *xt, double esq0[], double esq[]);

/* Endpoint fine-tuning (-constraint endpoint, finetune only): the PDE on
 * what the sampler produces.  For noise x0, the fine-tuned model's sample
 * x1 = E_K(x0) (K Heun or Euler steps from t = 0: the sampler it is then
 * used with) is penalised by the residual (-constraint_norm, default error) and
 * its input fields are anchored to the frozen base model's endpoint for the
 * same noise, so the inputs' distribution stays the base's sample by sample
 * while the state is made consistent with them:
 *   L = (1/B) sum_b [ R(E_K(x0_b)) + beta |E_K(x0_b)_in - E_K^base(x0_b)_in|_M^2/|D|
 *                    + gamma |E_K(x0_b)_st - E_K^base(x0_b)_st|_M^2/|D| ]
 * (gamma = -endpoint_state_anchor, default 0: a trust region around the base
 * model's flows where the residual leaves the state loosely constrained)
 * differentiated through the K steps (recomputing each network evaluation's
 * forward before its backward), as
 * in DRaFT (Clark et al. 2024, direct reward fine-tuning through the
 * sampler) with the anchor in place of its KL-free drift.
 *
 * -endpoint_newton k: Newton targets instead (physics with a Newton step,
 * ns).  The sample x1 = E_K(x0) is moved k Newton steps of the PDE towards
 * its solution, x* = N^k(x1) (inputs held), and the network regresses the
 * straight path from the noise to it, the flow-matching loss of the pair
 * (x0, x*) at -endpoint_newton_t random times t:
 *   L = (1/B) sum_b mean_t |v(x_t, t) - (x*_b - x0_b)|^2,  x_t = (1-t) x0_b + t x*_b
 * (x* held fixed): a Gauss-Newton step on the error norm taken in sample
 * space, fitted by the network's own training loss (one evaluation per
 * time, no back-propagation through the sampler), as reflow fits its
 * teacher's pairs (Liu et al. 2023).  -endpoint_newton_fit sampler: the
 * velocities at the sampler's own states s_j (the 2K Heun evaluations)
 * regress their current values shifted by the target's offset,
 *   L = (1/B) sum_b mean_j |v(s_j, t_j) - sg(v(s_j, t_j)) - (x*_b - x1_b)|^2,
 * which moves the endpoint by x* - x1 to first order (the Heun weights sum
 * to 1) without asking the paths to straighten. */
typedef struct {
  PetscInt  steps;
  double    anchor;
  double    state_anchor; /* the states' anchor weight (0: none) */
  PetscBool heun; /* the sampler: Heun (else Euler) */
  PetscBool keep; /* keep each network evaluation's activations for the backward (else recompute them) */
  char      train_only[256]; /* comma-separated prefixes of the trained parameter views ("": all) */
  PetscInt  nprobe;          /* -endpoint_probe: step sizes to try on the first batch (0: none) */
  PetscBool gd;              /* -endpoint_update gd: steps along the (momentum) gradient of RMS lr, not AdamW */
  double    probe[8];
  PetscInt  newton;          /* -endpoint_newton k > 0: regress Newton targets (k steps from the sample) instead of back-propagating through the sampler */
  PetscInt  newton_t;        /* ... flow-matching times drawn per sample and iteration (fit straight) */
  PetscBool newton_sampler;  /* ... fit the sampler's own states' velocities shifted by x* - x1 (else the straight path) */
  PetscBool newton_physical; /* ... the fit's distance in the error norm's physical units (else the mean over normalised components) */
} PFEndpointParams;
PETSC_EXTERN PetscErrorCode PFConstraintGetEndpointParams(PFConstraint c, PFEndpointParams *p);
/* Test of the sampler's back-propagation: the gradient of the loss above
 * (anchor x1b in place of the base model's samples) w.r.t. the parameters
 * of ft along dir (an), against central differences of the loss with step
 * h (fd); B samples of noise x0 */
PETSC_EXTERN PetscErrorCode PFEndpointCheck(PFConstraint c, PFNet ft, PetscInt B, const pfreal *x0, const pfreal *x1b, const pfreal *dir, double h, double *an, double *fd);
/* Runs the trainer's remaining steps (-train_steps iterations, AdamW with
 * -lr under cosine decay, in the trainer's optimiser state so that its
 * checkpoint resumes bitwise); stops early on SIGTERM/SIGUSR1 */
typedef struct _p_PFTrainer *PFTrainerEndpointRef;
PETSC_EXTERN PetscErrorCode PFEndpointFinetuneRun(PFConstraint c, MPI_Comm world, PetscInt G, PetscInt gid, PFNet base, PFNet ft, const PetscInt keys[], PetscInt B, PFTrainerEndpointRef tr, uint64_t seed);

PETSC_EXTERN PetscErrorCode PFConstraintView(PFConstraint c, PetscViewer viewer);
PETSC_EXTERN PetscErrorCode PFConstraintDestroy(PFConstraint *c);

/* ConFIG for two gradients (global vectors split over comm: the dot products
 * are allreduced; comm may be MPI_COMM_SELF for replicated vectors):
 * g = (g1.u + g2.u) u,  u = (g1/|g1| + g2/|g2|) / |g1/|g1| + g2/|g2||,
 * so g.g1 >= 0 and g.g2 >= 0, with equal projections on the unit gradients. */
PETSC_EXTERN PetscErrorCode PFConFIGCombine(MPI_Comm comm, size_t n, const pfreal *g1, const pfreal *g2, pfreal *out);
