/* PFConstraint: PBFM's residual loss through the unrolled x1 estimate
 * (see include/physflow/constraint.h). */
#include <math.h>
#include <physflow/constraint.h>
#include <physflow/private/netimpl.h>
#include <physflow/private/physicsimpl.h>
#include <physflow/meshgraph.h>

const char *const PFConstraintTypes[]    = {"none", "pbfm", "adjoint", "endpoint", "PFConstraintType", "PF_CONSTRAINT_", NULL};
const char *const PFConstraintCombines[] = {"config", "sum", "PFConstraintCombine", "PF_COMBINE_", NULL};
const char *const PFConstraintNorms[]    = {"l1", "l2", "error", "error2", "PFConstraintNorm", "PF_NORM_", NULL};

#define PF_CONSTRAINT_MAXUNROLL 64

struct _p_PFConstraint {
  MPI_Comm            comm;
  PFPhysics           phys;
  PFConstraintType    type;
  PFConstraintCombine combine;
  PetscInt            unroll;      /* final number of unrolled steps */
  PetscBool           grow;        /* grow 1 -> unroll over training */
  PetscInt            rbatch;      /* samples of the global batch in the residual loss (0: all) */
  PetscBool           keep;        /* keep each unrolled step's activations (else recompute them) */
  double              tpow, weight;
  PFAdjointParams     am;
  PFEndpointParams    ep;
  const PetscBool    *held;    /* fine-tuning: given components (caller's array) */
  PFHeldFill          fill;
  void               *fillctx;
  PetscInt            nfields, ninputs, nown, n, nres;
  PetscBool           rank0;       /* rank 0 of the physics' comm */
  double             *mean, *std;
  double              F1, F2, E0;  /* |R(0)|_1, |R(0)|_2^2, |J_p^{-1} R(0)|_M^2 (Newton: scale |domain|) */
  PetscBool           newton;      /* the error norms by the physics' Newton step (nonlinear state) */
  PetscBool           newton_gn;   /* ... with the Gauss-Newton gradient 2 M e (else exact) */
  PFConstraintNorm    norm;
  /* optional anchor of the input fields (endpoint fine-tuning) */
  const pfreal       *anchor;
  double              anchor_w, anchor_sum, Mtot;
  PetscBool           norm_set, tpow_set; /* given on the command line */
  /* work, grown to the largest batch seen */
  PetscInt     maxB, maxK; /* work sized for this batch and unroll */
  double      *wb;
  pfreal      *X, *s, *dt, *v, *g, *dx; /* X: (unroll+1) states */
  PetscScalar *xs, *R, *vr, *gx, *e; /* e: error-norm work [B][nown] */
  double      *cm;                   /* [B] error norms: gradient coefficient of the state's mean */
  PetscInt     nfailed;              /* error norms: states skipped because their solve failed */
  /* optional lift of a model state to the physics' state (PFConstraintSetStateLift) */
  PFStateLiftFn    lift;
  PFStateLiftVJPFn liftvjp;
  void            *liftctx;
  PetscInt         maxBl;        /* work size */
  pfreal          *xl, *gl;      /* [maxBl][n] lifted states, their gradient */
};

PetscErrorCode PFConstraintCreate(MPI_Comm comm, PFConstraint *cp)
{
  PFConstraint c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->comm    = comm;
  c->type    = PF_CONSTRAINT_NONE;
  c->combine = PF_COMBINE_CONFIG;
  c->unroll  = 4;
  c->grow    = PETSC_TRUE;
  c->keep    = PETSC_TRUE;
  c->tpow    = 1;
  c->weight  = 1;
  c->am.steps  = 40;
  c->am.subset = 10;
  c->am.iters  = 20;
  c->am.lambda = 1;
  c->am.kappa  = 0.9;
  c->am.clip   = 1e4;
  c->am.tail   = 0.8;
  c->ep.steps  = 10;
  c->ep.anchor = 10;
  c->ep.heun   = PETSC_TRUE;
  c->ep.keep   = PETSC_TRUE;
  c->ep.newton_t = 4;
  *cp        = c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintSetPhysics(PFConstraint c, PFPhysics phys, const double mean[], const double std[])
{
  const char *const *names;
  PetscScalar       *zero, *R;
  double             loc[2] = {0, 0}, glob[2];

  PetscFunctionBegin;
  c->phys = phys;
  c->comm = phys->comm;
  {
    PetscMPIInt r;
    PetscCallMPI(MPI_Comm_rank(c->comm, &r));
    c->rank0 = r == 0 ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscCall(PFPhysicsGetFields(phys, &c->nfields, &names, &c->ninputs));
  PetscCall(PFPhysicsGetVertexMap(phys, &c->nown, NULL));
  PetscCall(PFPhysicsGetResidualSize(phys, &c->nres));
  c->n = c->nfields * c->nown;
  PetscCall(PetscFree2(c->mean, c->std));
  PetscCall(PetscMalloc2(c->nfields, &c->mean, c->nfields, &c->std));
  for (PetscInt f = 0; f < c->nfields; f++) {
    c->mean[f] = mean ? mean[f] : 0;
    c->std[f]  = std ? std[f] : 1;
  }
  /* the residual's scale: that of the zero state (for Darcy, the forcing) */
  PetscCall(PetscCalloc2(c->n + 1, &zero, PetscMax(c->nres, c->nown) + 1, &R));
  PetscCall(PFPhysicsResidual(phys, 1, zero, R));
  for (PetscInt i = 0; i < c->nres; i++) {
    loc[0] += PetscAbsScalar(R[i]);
    loc[1] += PetscRealPart(R[i] * PetscConj(R[i]));
  }
  PetscCallMPI(MPI_Allreduce(loc, glob, 2, MPI_DOUBLE, MPI_SUM, c->comm));
  c->F1 = glob[0];
  c->F2 = glob[1];
  PetscCheck(c->F1 > 0, c->comm, PETSC_ERR_ARG_WRONG, "the residual of the zero state vanishes: no scale for the residual loss");
  PetscCall(PFPhysicsGetDomainMeasure(phys, &c->Mtot));
  c->E0 = 0;
  if (phys->ops.jacobiansolve && c->nres == c->nown) {
    /* the error norm's scale: |u0|_M^2, u0 the solution for the zero inputs */
    PetscScalar *u;
    double       e0 = 0;
    PetscCall(PetscMalloc1(c->nown + 1, &u));
    PetscCall(PFPhysicsStateJacobianSolve(phys, 1, zero, PETSC_FALSE, R, u));
    for (PetscInt i = 0; i < c->nown; i++) e0 += PetscRealPart(phys->mass[i] * u[i] * PetscConj(u[i]));
    PetscCallMPI(MPI_Allreduce(&e0, &c->E0, 1, MPI_DOUBLE, MPI_SUM, c->comm));
    PetscCall(PetscFree(u));
  }
  PetscCall(PFPhysicsHasNewtonStep(phys, &c->newton));
  if (c->newton) {
    /* a nonlinear physics (ns): the error is its Newton step */
    double scale;
    PetscCall(PFPhysicsNewtonStep(phys, 0, NULL, NULL, NULL, &scale));
    c->E0 = scale * c->Mtot;
  }
  PetscCall(PetscFree2(zero, R));
  c->maxB = 0;
  c->maxK = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A two-valued enum option stored as a PetscBool: names[0] is false,
 * names[1] true (names ends as PetscOptionsEnum wants it); called between
 * PetscOptionsBegin/End, whose PetscOptionsObject it takes */
static PetscErrorCode BoolEnumOption(PetscOptionItems *PetscOptionsObject, const char opt[], const char text[], const char *const names[], PetscBool *v)
{
  PetscEnum e = (PetscEnum)*v;

  PetscFunctionBegin;
  PetscCall(PetscOptionsEnum(opt, text, "PFConstraint", names, e, &e, NULL));
  *v = e ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintSetFromOptions(PFConstraint c)
{
  PetscBool set;

  PetscFunctionBegin;
  PetscOptionsBegin(c->comm, NULL, "Physics constraint options", "PFConstraint");
  PetscCall(PetscOptionsEnum("-constraint", "Physics in training: none or pbfm (train, finetune); adjoint or endpoint (finetune)", "PFConstraint", PFConstraintTypes, (PetscEnum)c->type, (PetscEnum *)&c->type, NULL));
  PetscCall(PetscOptionsInt("-pbfm_unroll", "Euler steps of the x1 estimate at the end of training (grows from 1)", "PFConstraint", c->unroll, &c->unroll, NULL));
  PetscCall(PetscOptionsBool("-pbfm_unroll_grow", "Grow the unrolled steps from 1 to -pbfm_unroll over training (else always -pbfm_unroll)", "PFConstraint", c->grow, &c->grow, NULL));
  PetscCall(PetscOptionsInt("-pbfm_batch", "Samples of each global batch whose unrolled residual enters the loss, evenly spaced in the batch (0: all of them; fewer trade gradient noise for the unroll's cost)", "PFConstraint", c->rbatch, &c->rbatch, NULL));
  PetscCall(PetscOptionsBool("-pbfm_keep_activations", "Keep every unrolled step's network activations for the backward pass (memory: one activation set of the residual rows per step); else recompute each step's forward (memory flat in the steps)", "PFConstraint", c->keep, &c->keep, NULL));
  PetscCall(PetscOptionsReal("-pbfm_tpow", "Residual weight t^p", "PFConstraint", c->tpow, &c->tpow, &c->tpow_set));
  PetscCall(PetscOptionsBool("-constraint_newton_gauss", "Error norm of a nonlinear physics (ns): the Gauss-Newton gradient 2 M e (J frozen: the gradient of the distance to the solution, to first order) instead of the exact gradient of |J^-1 R|_M^2", "PFConstraint", c->newton_gn, &c->newton_gn, NULL));
  PetscCall(PetscOptionsEnum("-constraint_norm", "Size of the residual: l1 (PBFM's |R|_1/|F|_1), l2 (|R|_2^2/|F|_2^2), error (|J_p^-1 R|_M/|u0|_M, the distance to the solution) or error2 (its square); default l1 for pbfm, l2 for adjoint and guidance, error for endpoint", "PFConstraint", PFConstraintNorms, (PetscEnum)c->norm, (PetscEnum *)&c->norm, &c->norm_set));
  PetscCall(PetscOptionsEnum("-constraint_combine", "Combine the flow-matching and residual gradients: config or sum", "PFConstraint", PFConstraintCombines, (PetscEnum)c->combine, (PetscEnum *)&c->combine, NULL));
  PetscCall(PetscOptionsReal("-constraint_weight", "Weight of the residual gradient with -constraint_combine sum", "PFConstraint", c->weight, &c->weight, NULL));
  PetscCall(PetscOptionsInt("-am_steps", "Adjoint matching: SDE steps per trajectory", "PFConstraint", c->am.steps, &c->am.steps, NULL));
  PetscCall(PetscOptionsInt("-am_subset", "Adjoint matching: random steps from the first 80% in the loss", "PFConstraint", c->am.subset, &c->am.subset, NULL));
  PetscCall(PetscOptionsInt("-am_iters", "Adjoint matching: gradient steps (each on fresh trajectories)", "PFConstraint", c->am.iters, &c->am.iters, NULL));
  PetscCall(PetscOptionsReal("-am_lambda", "Adjoint matching: lambda of the tilt exp(-lambda R)", "PFConstraint", c->am.lambda, &c->am.lambda, NULL));
  PetscCall(PetscOptionsReal("-am_kappa", "Adjoint matching: noise reduction kappa of the memoryless schedule", "PFConstraint", c->am.kappa, &c->am.kappa, NULL));
  PetscCall(PetscOptionsReal("-am_clip", "Adjoint matching: per-term loss clip", "PFConstraint", c->am.clip, &c->am.clip, NULL));
  {
    const char *const names[] = {"euler", "heun", "PFEndpointSampler", "PF_", NULL};
    PetscCall(BoolEnumOption(PetscOptionsObject, "-endpoint_sampler", "Endpoint fine-tuning: the sampler it differentiates (then sample with it)", names, &c->ep.heun));
  }
  PetscCall(PetscOptionsInt("-endpoint_steps", "Endpoint fine-tuning: steps of the sampler it differentiates (then sample with -sampler_steps the same)", "PFConstraint", c->ep.steps, &c->ep.steps, NULL));
  PetscCall(PetscOptionsBool("-endpoint_keep_activations", "Endpoint fine-tuning: keep every network evaluation's activations for the backward through the sampler (memory: one activation set of the group's batch per evaluation, 2 x -endpoint_steps for Heun; at most 65 evaluations); else recompute each evaluation's forward (memory flat in the steps)", "PFConstraint", c->ep.keep, &c->ep.keep, NULL));
  PetscCall(PetscOptionsString("-endpoint_train_only", "Endpoint fine-tuning: train only the parameter views whose names start with one of these comma-separated prefixes (e.g. out,up0: the finest level's decoder); the rest stay frozen", "PFConstraint", c->ep.train_only, c->ep.train_only, sizeof(c->ep.train_only), NULL));
  PetscCall(PetscOptionsReal("-endpoint_anchor", "Endpoint fine-tuning: weight of the inputs' anchor to the base model's samples", "PFConstraint", c->ep.anchor, &c->ep.anchor, NULL));
  PetscCall(PetscOptionsReal("-endpoint_state_anchor", "Endpoint fine-tuning: weight of the states' (flow fields') anchor to the base model's samples, a trust region where the residual's rows leave the state loosely constrained (0: none)", "PFConstraint", c->ep.state_anchor, &c->ep.state_anchor, NULL));
  {
    const char *const names[] = {"adamw", "gd", "PFEndpointUpdate", "PF_", NULL};
    PetscCall(BoolEnumOption(PetscOptionsObject, "-endpoint_update", "Endpoint fine-tuning: the parameter update, adamw (the trainer's) or gd (the momentum gradient scaled to an RMS of -lr per parameter: a step along the gradient of a fixed length, for losses whose gradient sits in few, stiff parameters)", names, &c->ep.gd));
  }
  PetscCall(PetscOptionsInt("-endpoint_newton", "Endpoint fine-tuning: k > 0 regresses Newton targets (k Newton steps of the PDE from each sample; ns) by the flow-matching loss on (noise, target) pairs instead of back-propagating the residual through the sampler (0)", "PFConstraint", c->ep.newton, &c->ep.newton, NULL));
  {
    const char *const names[] = {"normalised", "physical", "PFEndpointNewtonMetric", "PF_", NULL};
    PetscCall(BoolEnumOption(PetscOptionsObject, "-endpoint_newton_metric", "Endpoint fine-tuning with -endpoint_newton: the fit's squared distance, normalised (mean over the components in the network's units) or physical (|.|_M^2 of the fields over the error norm's scale: the squared error norm)", names, &c->ep.newton_physical));
  }
  PetscCall(PetscOptionsInt("-endpoint_newton_t", "Endpoint fine-tuning with -endpoint_newton: flow-matching times per sample and iteration", "PFConstraint", c->ep.newton_t, &c->ep.newton_t, NULL));
  {
    const char *const names[] = {"straight", "sampler", "PFEndpointNewtonFit", "PF_", NULL};
    PetscCall(BoolEnumOption(PetscOptionsObject, "-endpoint_newton_fit", "Endpoint fine-tuning with -endpoint_newton: fit the straight path from the noise to the target (flow matching on the pair) or the sampler's own velocities shifted by the target's offset", names, &c->ep.newton_sampler));
  }
  c->ep.nprobe = 8;
  PetscCall(PetscOptionsRealArray("-endpoint_probe", "Endpoint fine-tuning: before the first update, the first batch's loss after a step of each of these sizes along -sign(gradient) (Adam's first step) and along the gradient scaled to that RMS, printed (a step-size diagnostic)", "PFConstraint", c->ep.probe, &c->ep.nprobe, &set));
  if (!set) c->ep.nprobe = 0;
  PetscOptionsEnd();
  for (PetscInt k = 0; k < c->ep.nprobe; k++) PetscCheck(c->ep.probe[k] > 0 && PetscIsNormalReal(c->ep.probe[k]), c->comm, PETSC_ERR_ARG_OUTOFRANGE, "-endpoint_probe step sizes must be positive");
  PetscCheck(c->am.steps >= 4 && c->am.steps <= 4096 && c->am.subset >= 0 && c->am.iters >= 1 && c->am.lambda >= 0 && c->am.kappa >= 0 && c->am.kappa < 1 && c->am.clip > 0, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "adjoint matching needs 4 <= -am_steps <= 4096 (the noise keys), -am_subset >= 0, -am_iters >= 1, -am_lambda >= 0, 0 <= -am_kappa < 1, -am_clip > 0");
  PetscCheck(c->ep.newton >= 0 && c->ep.newton <= 20 && c->ep.newton_t >= 1, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "-endpoint_newton must be in [0, 20] and -endpoint_newton_t >= 1");
  PetscCheck(c->ep.steps >= 1 && c->ep.steps <= PF_CONSTRAINT_MAXUNROLL && c->ep.anchor >= 0 && c->ep.state_anchor >= 0, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "endpoint fine-tuning needs 1 <= -endpoint_steps <= %d and -endpoint_anchor, -endpoint_state_anchor >= 0", PF_CONSTRAINT_MAXUNROLL);
  PetscCheck(c->unroll >= 1 && c->unroll <= PF_CONSTRAINT_MAXUNROLL, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "-pbfm_unroll must be in [1, %d]", PF_CONSTRAINT_MAXUNROLL);
  PetscCheck(c->rbatch >= 0, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "-pbfm_batch must be >= 0 (0: the whole batch)");
  PetscCheck(c->tpow >= 0, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "-pbfm_tpow must be >= 0");
  PetscCheck(c->weight >= 0, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "-constraint_weight must be >= 0");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintGetType(PFConstraint c, PFConstraintType *type)
{
  PetscFunctionBegin;
  *type = c ? c->type : PF_CONSTRAINT_NONE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintGetComm(PFConstraint c, MPI_Comm *comm)
{
  PetscFunctionBegin;
  *comm = c->comm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintGetAdjointParams(PFConstraint c, PFAdjointParams *p)
{
  PetscFunctionBegin;
  *p = c->am;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintSetHeld(PFConstraint c, const PetscBool held[], PFHeldFill fill, void *ctx)
{
  PetscFunctionBegin;
  PetscCheck(!held || fill, c->comm, PETSC_ERR_ARG_NULL, "held components need a fill function");
  c->held    = held;
  c->fill    = fill;
  c->fillctx = ctx;
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFHeldZero(const PetscBool held[], PetscInt B, PetscInt n, pfreal *x)
{
  if (!held) return;
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt j = 0; j < n; j++)
      if (held[j]) x[(size_t)b * n + j] = 0;
}

PetscErrorCode PFConstraintGetHeld(PFConstraint c, const PetscBool **held, PFHeldFill *fill, void **ctx)
{
  PetscFunctionBegin;
  if (held) *held = c->held;
  if (fill) *fill = c->fill;
  if (ctx) *ctx = c->fillctx;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintGetEndpointParams(PFConstraint c, PFEndpointParams *p)
{
  PetscFunctionBegin;
  *p = c->ep;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintGetCombine(PFConstraint c, PFConstraintCombine *combine, double *weight)
{
  PetscFunctionBegin;
  if (combine) *combine = c->combine;
  if (weight) *weight = c->weight;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool PFConstraintResidualRow(PFConstraint c, PetscInt j, PetscInt Bg)
{
  /* row j is chosen when floor(j k / Bg) steps up at it: k rows spread
   * evenly over the batch, the same rows whatever the group layout */
  const PetscInt64 k = (c->rbatch <= 0 || c->rbatch >= Bg) ? Bg : c->rbatch;
  return (PetscBool)(((PetscInt64)(j + 1) * k) / Bg > ((PetscInt64)j * k) / Bg);
}

PetscInt PFConstraintUnrollSteps(PFConstraint c, PetscInt step, PetscInt total)
{
  /* equal stages: 1 step in the first 1/unroll of training, ... */
  if (total <= 0 || !c->grow) return c->unroll;
  return PetscMin(c->unroll, 1 + (PetscInt)(((PetscInt64)c->unroll * step) / total));
}

static PetscErrorCode EnsureWork(PFConstraint c, PetscInt B, PetscInt K)
{
  size_t N;

  PetscFunctionBegin;
  if (B <= c->maxB && K <= c->maxK) PetscFunctionReturn(PETSC_SUCCESS);
  B = PetscMax(B, c->maxB);
  K = PetscMax(K, c->maxK);
  N = (size_t)B * c->n;
  PetscCall(PetscFree6(c->X, c->s, c->dt, c->v, c->g, c->dx));
  PetscCall(PetscFree5(c->xs, c->R, c->vr, c->gx, c->e));
  PetscCall(PetscFree2(c->wb, c->cm));
  PetscCall(PetscMalloc2(B, &c->wb, B, &c->cm));
  PetscCall(PetscMalloc6((size_t)(K + 1) * N, &c->X, (size_t)B * (K + 1), &c->s, B, &c->dt, N, &c->v, N, &c->g, N, &c->dx));
  PetscCall(PetscMalloc5(N, &c->xs, (size_t)B * PetscMax(c->nres, c->nown), &c->R, (size_t)B * PetscMax(c->nres, c->nown), &c->vr, N, &c->gx, (size_t)B * (c->nfields - c->ninputs) * c->nown, &c->e));
  c->maxB = B;
  c->maxK = K;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One state's error-norm loss, s its squared error (sl: this rank's share,
 * sg: the whole, needed by the square root): adds this rank's share of the
 * loss to lsum, returns d(loss)/d(s) */
static double ErrorNormTerm(PFConstraint c, double w, double sl, double sg, double *lsum)
{
  if (c->norm == PF_NORM_ERROR) {
    double r = sqrt(sg);
    *lsum += sg > 0 ? w * r * sl / sg : 0; /* this rank's share of w sqrt(s) */
    return sg > 0 ? w / (2 * r) : 0;
  }
  *lsum += w * sl;
  return w;
}

/* The error norms of a nonlinear physics (ns): e = the Newton step of the
 * state fields (x - e is Newton's update), s = |e|_M^2 / E0 over all state
 * fields, its exact gradient from the physics (for ns: one factorisation,
 * a solve and a transposed solve per state).  The gradient is taken at
 * fixed inputs, so they must be held (given) in fine-tuning.
 * -constraint_newton_gauss: the Gauss-Newton gradient 2 M e / E0 instead (J
 * frozen), the gradient of the distance to the solution |x - x*|_M^2 / E0
 * to first order (x - e ~ x*): wrong for |e|^2 along rough directions, where
 * the convection term's Jacobian changes like 1/h, but free of the rough
 * minimisers of |J^-1 R| that the exact gradient can lead to. */
static PetscErrorCode NewtonErrorLoss(PFConstraint c, PetscInt B, PetscInt Bg, const double w[], double *lsum)
{
  const PetscInt     n = c->n, nown = c->nown, nin = c->ninputs, ns = (c->nfields - nin) * nown;
  const PetscScalar *mass;
  double            *sl, *sg;

  PetscFunctionBegin;
  for (PetscInt j = 0; j < nin * nown; j++)
    PetscCheck(c->held && c->held[j], c->comm, PETSC_ERR_SUP, "-constraint_norm %s of physics %s: the Newton step's gradient covers the flow fields only, so the input fields must be given (fine-tune a conditional model with -cond_range), or use -constraint_norm l2", PFConstraintNorms[c->norm], c->phys->type);
  PetscCall(PFPhysicsGetVertexMass(c->phys, &mass));
  PetscCall(PFPhysicsNewtonStep(c->phys, B, c->xs, c->e, c->newton_gn ? NULL : c->gx, NULL));
  PetscCall(PetscCalloc2(B, &sl, B, &sg));
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt q = 0; q < ns; q++) {
      const PetscScalar eq = c->e[(size_t)b * ns + q];
      sl[b] += PetscRealPart(mass[q % nown] * eq * PetscConj(eq)) / c->E0;
    }
  if (c->norm == PF_NORM_ERROR) PetscCallMPI(MPI_Allreduce(sl, sg, (PetscMPIInt)B, MPI_DOUBLE, MPI_SUM, c->comm));
  for (PetscInt b = 0; b < B; b++) {
    const double scale = ErrorNormTerm(c, w[b], sl[b], sg[b], lsum);
    if (c->newton_gn) {
      for (PetscInt q = 0; q < nin * nown; q++) c->gx[(size_t)b * n + q] = 0;
      for (PetscInt q = 0; q < ns; q++) c->gx[(size_t)b * n + (size_t)nin * nown + q] = 2 * mass[q % nown] * c->e[(size_t)b * ns + q];
    }
    for (PetscInt q = 0; q < n; q++) c->gx[(size_t)b * n + q] *= scale / (c->E0 * (double)Bg);
  }
  PetscCall(PetscFree2(sl, sg));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The error norms: e = J_p^{-1} R (the distance to the solution with the
 * same inputs, exactly for a PDE linear in the state), s = |e|_M^2 / E0, loss
 * w s (error2) or w sqrt(s) (error).  With u = x_p - e the solution,
 * R(x_in, u) = 0 for every x_in, so de/dx = J_p^{-1} J(x_in, u) and the
 * gradient is J(x_in, u)^T z with z = J_p^{-T} (ds/de-scaled M e): two solves
 * and one VJP per state. */
static PetscErrorCode ErrorNormLoss(PFConstraint c, PetscInt B, PetscInt Bg, const double w[], double *lsum)
{
  const PetscInt     n = c->n, nown = c->nown, nin = c->ninputs;
  const PetscScalar *mass;
  const PetscBool    gauge = c->phys->state_mean_zero;
  double            *sl, *sg, *pm;
  PetscBool         *ok;

  PetscFunctionBegin;
  PetscCheck(c->E0 > 0, c->comm, PETSC_ERR_SUP, "-constraint_norm %s needs a physics with a state Jacobian solve and a nonzero solution for zero inputs", PFConstraintNorms[c->norm]);
  PetscCheck(c->nfields - nin == 1, c->comm, PETSC_ERR_SUP, "-constraint_norm %s is implemented for one state field after the inputs", PFConstraintNorms[c->norm]);
  PetscCall(PFPhysicsGetVertexMass(c->phys, &mass));
  PetscCall(PetscCalloc4(2 * B, &sl, 2 * B, &sg, B, &pm, B, &ok));
  /* one state at a time: a state whose solve fails (a wild generated field,
   * e.g. a predictor's output early in its training; the solve's outcome is
   * collective on the group) is left out of this step, weight 0, instead of
   * ending the run; PFConstraintGetFailedSolves counts them */
  for (PetscInt b = 0; b < B; b++) {
    PetscErrorCode ierr = PFPhysicsStateJacobianSolve(c->phys, 1, c->xs + (size_t)b * n, PETSC_FALSE, c->R + (size_t)b * nown, c->e + (size_t)b * nown);
    ok[b]               = (PetscBool)!ierr;
    if (ierr == PETSC_ERR_NOT_CONVERGED) {
      PetscCall(PetscArrayzero(c->e + (size_t)b * nown, nown));
      c->nfailed++;
    } else PetscCall(ierr);
  }
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt i = 0; i < nown; i++) {
      size_t q = (size_t)b * nown + i;
      sl[b] += PetscRealPart(mass[i] * c->e[q] * PetscConj(c->e[q])) / c->E0;
      sl[B + b] += PetscRealPart(mass[i] * c->xs[(size_t)b * n + (size_t)nin * nown + i]);
    }
  /* the square root needs each state's whole sum, the gauge the state's mean */
  if (c->norm == PF_NORM_ERROR || gauge) PetscCallMPI(MPI_Allreduce(sl, sg, (PetscMPIInt)(2 * B), MPI_DOUBLE, MPI_SUM, c->comm));
  if (gauge)
    /* J_p^{-1} R is the error without its constant, which the solver fixes by
     * zero mean: the distance to the solver's solution adds the state's mean
     * pm, |e + pm|_M^2 = |e|_M^2 + pm^2 |D| (e has zero mean) */
    for (PetscInt b = 0; b < B; b++) {
      pm[b] = sg[B + b] / c->Mtot;
      sl[b] += (c->rank0 ? pm[b] * pm[b] * c->Mtot / c->E0 : 0);
      sg[b] += pm[b] * pm[b] * c->Mtot / c->E0;
    }
  for (PetscInt b = 0; b < B; b++) {
    const double scale = ErrorNormTerm(c, ok[b] ? w[b] : 0, sl[b], sg[b], lsum); /* d(loss_b)/d(s_b) */
    /* d(pm^2 |D| / E0)/dp_i = 2 pm m_i / E0, added to the state's gradient after the VJP */
    c->cm[b] = gauge ? 2 * scale * pm[b] / (c->E0 * (double)Bg) : 0;
    for (PetscInt i = 0; i < nown; i++) {
      size_t q = (size_t)b * nown + i;
      c->R[q]  = 2 * scale / (c->E0 * (double)Bg) * mass[i] * c->e[q];
      /* the solution with the same inputs, where the VJP is taken */
      c->xs[(size_t)b * n + (size_t)nin * nown + i] -= c->e[q];
    }
  }
  for (PetscInt b = 0; b < B; b++) {
    if (ok[b]) PetscCall(PFPhysicsStateJacobianSolve(c->phys, 1, c->xs + (size_t)b * n, PETSC_TRUE, c->R + (size_t)b * nown, c->vr + (size_t)b * nown));
    else PetscCall(PetscArrayzero(c->vr + (size_t)b * nown, nown)); /* no gradient from a skipped state */
  }
  PetscCall(PetscFree4(sl, sg, pm, ok));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintGetFailedSolves(PFConstraint c, PetscInt *n)
{
  PetscFunctionBegin;
  *n = c->nfailed;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode StateLossFull(PFConstraint, PetscInt, PetscInt, const pfreal *, const double[], double *, pfreal *);

PetscErrorCode PFConstraintStateLoss(PFConstraint c, PetscInt B, PetscInt Bg, const pfreal *x, const double w[], double *lsum, pfreal *gx)
{
  PetscFunctionBegin;
  if (!c->lift) {
    PetscCall(StateLossFull(c, B, Bg, x, w, lsum, gx));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(c->phys, c->comm, PETSC_ERR_ORDER, "PFConstraintSetPhysics must come first");
  if (B > c->maxBl) {
    PetscCall(PetscFree2(c->xl, c->gl));
    PetscCall(PetscMalloc2((size_t)B * c->n, &c->xl, (size_t)B * c->n, &c->gl));
    c->maxBl = B;
  }
  /* the model's states lifted to the physics' (e.g. [phi(x), x]), the loss
   * there, its gradient pulled back through the lift */
  PetscCall(c->lift(c->liftctx, B, x, c->xl));
  PetscCall(StateLossFull(c, B, Bg, c->xl, w, lsum, c->gl));
  PetscCall(c->liftvjp(c->liftctx, B, c->gl, gx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintSetStateLift(PFConstraint c, PetscInt nfields, PFStateLiftFn lift, PFStateLiftVJPFn vjp, void *ctx)
{
  PetscFunctionBegin;
  PetscCheck(c->phys, c->comm, PETSC_ERR_ORDER, "PFConstraintSetPhysics must come first");
  PetscCheck(nfields >= 1 && nfields < c->nfields, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "a lifted model has fewer fields (%" PetscInt_FMT ") than the physics (%" PetscInt_FMT ")", nfields, c->nfields);
  PetscCheck(c->type == PF_CONSTRAINT_ADJOINT || c->type == PF_CONSTRAINT_NONE, c->comm, PETSC_ERR_SUP, "-constraint %s of a model of the state alone (with a predictor of the inputs) is not built: use -constraint adjoint", PFConstraintTypes[c->type]);
  c->lift = lift, c->liftvjp = vjp, c->liftctx = ctx;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode StateLossFull(PFConstraint c, PetscInt B, PetscInt Bg, const pfreal *x, const double w[], double *lsum, pfreal *gx)
{
  const PetscInt  n = c->n, nown = c->nown;
  const PetscBool errnorm = (PetscBool)(c->norm == PF_NORM_ERROR || c->norm == PF_NORM_ERROR2);

  PetscFunctionBegin;
  PetscCheck(c->phys, c->comm, PETSC_ERR_ORDER, "PFConstraintSetPhysics must come first");
  PetscCall(EnsureWork(c, PetscMax(B, 1), 1));
  *lsum = 0;
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < c->nfields; f++)
      for (PetscInt i = 0; i < nown; i++) {
        size_t j  = (size_t)b * n + (size_t)f * nown + i;
        c->xs[j] = c->mean[f] + c->std[f] * (double)x[j];
      }
  if (errnorm && c->newton) PetscCall(NewtonErrorLoss(c, B, Bg, w, lsum)); /* sets c->gx */
  else {
    PetscCall(PFPhysicsResidual(c->phys, B, c->xs, c->R));
    if (errnorm) PetscCall(ErrorNormLoss(c, B, Bg, w, lsum));
    else
      for (PetscInt b = 0; b < B; b++) {
        double wb = w[b] / (c->norm == PF_NORM_L2 ? c->F2 : c->F1);
        for (PetscInt i = 0; i < c->nres; i++) {
          double r = PetscRealPart(c->R[(size_t)b * c->nres + i]);
          if (c->norm == PF_NORM_L2) {
            *lsum += wb * r * r;
            c->vr[(size_t)b * c->nres + i] = 2 * wb / (double)Bg * r;
          } else {
            *lsum += wb * fabs(r);
            c->vr[(size_t)b * c->nres + i] = wb / (double)Bg * (r > 0 ? 1 : (r < 0 ? -1 : 0));
          }
        }
      }
    PetscCall(PFPhysicsResidualVJP(c->phys, B, c->xs, c->vr, c->gx));
    if (errnorm && c->phys->state_mean_zero) {
      const PetscScalar *mass;
      PetscCall(PFPhysicsGetVertexMass(c->phys, &mass));
      for (PetscInt b = 0; b < B; b++)
        for (PetscInt i = 0; i < nown; i++) c->gx[(size_t)b * n + (size_t)c->ninputs * nown + i] += c->cm[b] * mass[i];
    }
  }
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < c->nfields; f++)
      for (PetscInt i = 0; i < nown; i++) {
        size_t j = (size_t)b * n + (size_t)f * nown + i;
        gx[j]    = (pfreal)(c->std[f] * PetscRealPart(c->gx[j]));
      }
  if (c->anchor) {
    /* anchor_w |x_in - anchor|_M^2 / |domain| per state (normalised units),
     * and the states' fields with the endpoint's state-anchor weight */
    const PetscScalar *mass;
    double             a = 0;
    PetscCall(PFPhysicsGetVertexMass(c->phys, &mass));
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < c->nfields; f++) {
        const double wf = f < c->ninputs ? c->anchor_w : c->ep.state_anchor;
        if (wf == 0) continue;
        for (PetscInt i = 0; i < nown; i++) {
          size_t j = (size_t)b * n + (size_t)f * nown + i;
          double d = (double)x[j] - (double)c->anchor[j], m = PetscRealPart(mass[i]) / c->Mtot;
          a += wf * m * d * d;
          gx[j] += (pfreal)(2 * wf * m * d / (double)Bg);
        }
      }
    *lsum += a;
    c->anchor_sum += a;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintNewtonTarget(PFConstraint c, PetscInt B, const pfreal *x, pfreal *xt, double esq[])
{
  const PetscInt     n = c->n, nown = c->nown, nin = c->ninputs, ns = (c->nfields - nin) * nown;
  const PetscScalar *mass;

  PetscFunctionBegin;
  PetscCheck(c->phys, c->comm, PETSC_ERR_ORDER, "PFConstraintSetPhysics must come first");
  PetscCheck(c->newton, c->comm, PETSC_ERR_SUP, "Newton targets need a physics with a Newton step of its state (ns); physics %s has none", c->phys->type);
  PetscCall(EnsureWork(c, PetscMax(B, 1), 1));
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < c->nfields; f++)
      for (PetscInt i = 0; i < nown; i++) {
        size_t j  = (size_t)b * n + (size_t)f * nown + i;
        c->xs[j] = c->mean[f] + c->std[f] * (double)x[j];
      }
  PetscCall(PFPhysicsNewtonStep(c->phys, B, c->xs, c->e, NULL, NULL));
  PetscCall(PFPhysicsGetVertexMass(c->phys, &mass));
  for (PetscInt b = 0; b < B; b++) {
    double s = 0;
    for (PetscInt q = 0; q < nin * nown; q++) xt[(size_t)b * n + q] = x[(size_t)b * n + q];
    for (PetscInt q = 0; q < ns; q++) {
      const PetscInt    f  = nin + q / nown;
      const PetscScalar eq = c->e[(size_t)b * ns + q];
      const size_t      j  = (size_t)b * n + (size_t)nin * nown + q;
      xt[j] = (pfreal)((double)x[j] - PetscRealPart(eq) / c->std[f]);
      s += PetscRealPart(mass[q % nown] * eq * PetscConj(eq)) / c->E0;
    }
    if (esq) esq[b] = s;
  }
  if (esq) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, esq, (PetscMPIInt)B, MPI_DOUBLE, MPI_SUM, c->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintErrorNormWeights(PFConstraint c, pfreal w[])
{
  const PetscScalar *mass;

  PetscFunctionBegin;
  PetscCheck(c->phys && c->E0 > 0, c->comm, PETSC_ERR_ORDER, "the error norm's weights need the physics (and its scale) first");
  PetscCall(PFPhysicsGetVertexMass(c->phys, &mass));
  for (PetscInt f = 0; f < c->nfields; f++)
    for (PetscInt i = 0; i < c->nown; i++) w[(size_t)f * c->nown + i] = f < c->ninputs ? 0 : (pfreal)(PetscRealPart(mass[i]) * c->std[f] * c->std[f] / c->E0);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintNewtonSolve(PFConstraint c, PetscInt B, const pfreal *x, PetscInt steps, pfreal *xt, double esq0[], double esq[])
{
  const size_t n = (size_t)c->n;
  pfreal      *y, *cand, *ycand;

  PetscFunctionBegin;
  PetscCheck(steps >= 0, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "Newton steps must be >= 0");
  PetscCall(PetscMalloc3(n, &y, n, &cand, n, &ycand));
  for (PetscInt b = 0; b < B; b++) {
    pfreal *xb = xt + (size_t)b * n;
    double  ecur;
    PetscCall(PetscArraycpy(xb, x + (size_t)b * n, n));
    PetscCall(PFConstraintNewtonTarget(c, 1, xb, y, &ecur));
    if (esq0) esq0[b] = ecur;
    for (PetscInt k = 0; k < steps; k++) {
      /* backtracking on the error norm: a full step from far away (a poor
       * sample) can overshoot; after 6 halvings without a decrease the
       * state is left where it is (far from a solution the Newton step
       * need not lower |J^-1 R|) */
      double    ecand = 0;
      PetscBool ok    = PETSC_FALSE;
      for (double alpha = 1; alpha >= 1.0 / 64 && !ok; alpha /= 2) {
        for (size_t q = 0; q < n; q++) cand[q] = xb[q] + (pfreal)alpha * (y[q] - xb[q]);
        PetscCall(PFConstraintNewtonTarget(c, 1, cand, ycand, &ecand));
        ok = (PetscBool)(isfinite(ecand) && ecand < ecur);
      }
      if (!ok) break;
      PetscCall(PetscArraycpy(xb, cand, n));
      PetscCall(PetscArraycpy(y, ycand, n));
      ecur = ecand;
    }
    if (esq) esq[b] = ecur;
  }
  PetscCall(PetscFree3(y, cand, ycand));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintResidualGradient(PFConstraint c, PFNet net, PetscInt B, PetscInt Bg, const pfreal *xt, const pfreal *t, const pfreal *v0, PetscInt nun, double *lsum, pfreal *dxt)
{
  const PetscInt n = c->n;
  const size_t   N = (size_t)B * n;

  PetscFunctionBegin;
  *lsum = 0;
  PetscCheck(c->phys, c->comm, PETSC_ERR_ORDER, "PFConstraintSetPhysics must come first");
  PetscCheck(nun >= 1 && nun <= PF_CONSTRAINT_MAXUNROLL, c->comm, PETSC_ERR_ARG_OUTOFRANGE, "unroll steps %" PetscInt_FMT " out of range", nun);
  PetscCall(EnsureWork(c, PetscMax(B, 1), nun));
  /* forward: x_{k+1} = x_k + dt v(x_k, t + k dt), keeping every x_k */
  PetscCall(PetscArraycpy(c->X, xt, N));
  for (PetscInt b = 0; b < B; b++) {
    c->dt[b] = (1 - t[b]) / (pfreal)nun;
    c->s[b]  = t[b];
  }
  for (PetscInt k = 0; k < nun; k++) {
    const pfreal *xk = c->X + (size_t)k * N, *vk = v0;
    pfreal       *xn = c->X + (size_t)(k + 1) * N, *sk = c->s + (size_t)k * B;
    if (k > 0) {
      for (PetscInt b = 0; b < B; b++) sk[b] = t[b] + (pfreal)k * c->dt[b];
      if (c->keep) PetscCall(PFNetSelectActivations(net, k, B));
      PetscCall(PFNetForward(net, B, xk, sk, c->v));
      vk = c->v;
    }
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt i = 0; i < n; i++) xn[(size_t)b * n + i] = xk[(size_t)b * n + i] + c->dt[b] * vk[(size_t)b * n + i];
  }
  /* the residual of the estimate and d(loss)/d(estimate) */
  for (PetscInt b = 0; b < B; b++) c->wb[b] = pow((double)t[b], c->tpow);
  PetscCall(PFConstraintStateLoss(c, B, Bg, c->X + (size_t)nun * N, c->wb, lsum, c->g));
  /* backward through the unroll, last step first: g = dL/dx_{k+1};
   * dL/dx_k = g + J_v^T (dt g), dL/dtheta += (dv/dtheta)^T (dt g).  Step
   * k >= 1 finds its activations in set k (-pbfm_keep_activations) or
   * recomputes them, except the last step, whose activations are the
   * network's current ones; step 0's forward was the flow-matching one
   * (whose backward has used its activations) and is recomputed. */
  for (PetscInt k = nun - 1; k >= 0; k--) {
    const pfreal *xk = c->X + (size_t)k * N;
    if (c->keep) PetscCall(PFNetSelectActivations(net, k, B));
    if (k == 0 || (!c->keep && k < nun - 1)) PetscCall(PFNetForward(net, B, xk, c->s + (size_t)k * B, c->v));
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt i = 0; i < n; i++) c->v[(size_t)b * n + i] = c->dt[b] * c->g[(size_t)b * n + i];
    PetscCall(PFNetBackward(net, B, c->v, c->dx));
    for (size_t j = 0; j < N; j++) c->g[j] += c->dx[j];
  }
  /* (the loop ends in set 0, the planned workspace) */
  if (dxt) PetscCall(PetscArraycpy(dxt, c->g, N));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintView(PFConstraint c, PetscViewer viewer)
{
  PetscFunctionBegin;
  switch (c->type) {
  case PF_CONSTRAINT_NONE:
    break;
  case PF_CONSTRAINT_PBFM:
    PetscCall(PetscViewerASCIIPrintf(viewer, "constraint pbfm: %s residual of the x1 estimate unrolled %s%" PetscInt_FMT " Euler steps, weight t^%g, gradients combined by %s%s\n", PFConstraintNorms[c->norm], c->grow ? "1 -> " : "", c->unroll, c->tpow, PFConstraintCombines[c->combine], c->combine == PF_COMBINE_SUM ? " (weighted)" : " (ConFIG)"));
    if (c->rbatch > 0) PetscCall(PetscViewerASCIIPrintf(viewer, "  residual loss on %" PetscInt_FMT " samples of each batch (-pbfm_batch)\n", c->rbatch));
    break;
  case PF_CONSTRAINT_ADJOINT:
    PetscCall(PetscViewerASCIIPrintf(viewer, "constraint adjoint: adjoint matching, %" PetscInt_FMT " iterations x %" PetscInt_FMT " SDE steps, lambda %g, kappa %g\n", c->am.iters, c->am.steps, c->am.lambda, c->am.kappa));
    break;
  case PF_CONSTRAINT_ENDPOINT:
    if (c->ep.newton) PetscCall(PetscViewerASCIIPrintf(viewer, "constraint endpoint: Newton targets (%" PetscInt_FMT " steps) of the %" PetscInt_FMT "-step %s sampler's samples, fitted %s\n", c->ep.newton, c->ep.steps, c->ep.heun ? "Heun" : "Euler", c->ep.newton_sampler ? "at the sampler's states" : "by flow matching on the straight path"));
    else PetscCall(PetscViewerASCIIPrintf(viewer, "constraint endpoint: residual of the %" PetscInt_FMT "-step %s sampler's samples, inputs anchored with weight %g, states with %g\n", c->ep.steps, c->ep.heun ? "Heun" : "Euler", c->ep.anchor, c->ep.state_anchor));
    break;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintDestroy(PFConstraint *c)
{
  PetscFunctionBegin;
  if (!*c) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree6((*c)->X, (*c)->s, (*c)->dt, (*c)->v, (*c)->g, (*c)->dx));
  PetscCall(PetscFree5((*c)->xs, (*c)->R, (*c)->vr, (*c)->gx, (*c)->e));
  PetscCall(PetscFree2((*c)->wb, (*c)->cm));
  PetscCall(PetscFree2((*c)->xl, (*c)->gl));
  PetscCall(PetscFree2((*c)->mean, (*c)->std));
  PetscCall(PetscFree(*c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The guided velocity v - s grad_x L(x + (1-t) v(x, t)) for the sampler */
PetscErrorCode PFGuidedVelocity(void *vctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  PFGuidance *gd = (PFGuidance *)vctx;
  double      lsum;

  PetscFunctionBegin;
  for (PetscInt b0 = 0; b0 < nloc; b0 += gd->maxbatch) {
    PetscInt      nb = PetscMin(gd->maxbatch, nloc - b0);
    const pfreal *xb = x + (size_t)b0 * gd->n;
    pfreal       *vb = v + (size_t)b0 * gd->n;
    for (PetscInt j = 0; j < nb; j++) gd->tbuf[j] = (pfreal)t;
    PetscCall(PFNetForward(gd->net, nb, xb, gd->tbuf, vb));
    /* per-sample loss (Bg = 1); the parameter gradients it accumulates are ignored */
    PetscCall(PFConstraintResidualGradient(gd->c, gd->net, nb, 1, xb, gd->tbuf, vb, 1, &lsum, gd->g));
    if (gd->graph && gd->nsmooth > 0) {
      /* low-pass: the residual's gradient is dominated by the finest modes */
      PFMeshGraph        gr   = (PFMeshGraph)gd->graph;
      const PFMeshOpKind avg  = PF_MESHOP_AVG;
      const PetscInt     nown = gr->nown, nf = gd->n / nown;
      pfreal            *in = gd->w1, *out = gd->w2, *tmp;
      PFMeshToVertexMajor(nb, nf, nown, gd->g, in);
      for (PetscInt k = 0; k < gd->nsmooth; k++) {
        PetscCall(PFMeshGraphApply(gr, 1, &avg, nb * nf, in, out));
        tmp = in;
        in  = out;
        out = tmp;
      }
      PFMeshFromVertexMajor(nb, nf, nown, in, gd->g);
    }
    for (size_t j = 0; j < (size_t)nb * gd->n; j++) vb[j] -= (pfreal)gd->scale * gd->g[j];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintSetDefaultNorm(PFConstraint c, PFConstraintNorm norm, double tpow)
{
  PetscFunctionBegin;
  /* the error norms need a state solve (Darcy) or a Newton step (ns);
   * other physics fall back to the squared residual */
  if (!c->norm_set) c->norm = (norm == PF_NORM_ERROR || norm == PF_NORM_ERROR2) && c->E0 <= 0 ? PF_NORM_L2 : norm;
  if (!c->tpow_set) c->tpow = tpow;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFConstraintSetAnchor(PFConstraint c, const pfreal *anchor, double weight, double *last)
{
  PetscFunctionBegin;
  if (last) *last = c->anchor_sum;
  c->anchor     = anchor;
  c->anchor_w   = weight;
  c->anchor_sum = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}
