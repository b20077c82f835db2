#include <math.h>
#include <physflow/h5util.h>
#include <physflow/log.h>
#include <physflow/ot.h>
#include <physflow/private/flowimpl.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>

PetscErrorCode PFFlowCreate(MPI_Comm comm, PFFlow *flow)
{
  PetscFunctionBegin;
  PetscCall(PFInitializePackage());
  PetscCall(PetscNew(flow));
  (*flow)->comm      = comm;
  (*flow)->sigma_min = 0.0;
  (*flow)->vp_T      = 1000;
  (*flow)->vp_beta0  = 1e-4;
  (*flow)->vp_beta1  = 2e-2;
  PetscCall(PetscStrncpy((*flow)->type, PFFLOWCFM, sizeof((*flow)->type)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowSetType(PFFlow flow, PFFlowType type)
{
  PetscBool cfm, ot, vp;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(type, PFFLOWCFM, &cfm));
  PetscCall(PetscStrcmp(type, PFFLOWOTCFM, &ot));
  PetscCall(PetscStrcmp(type, PFFLOWVP, &vp));
  PetscCheck(cfm || ot || vp, flow->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown flow type '%s' (available: cfm, otcfm, vp)", type);
  PetscCall(PetscStrncpy(flow->type, type, sizeof(flow->type)));
  if (vp) PetscCall(PFFlowVPSetUp(flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowGetType(PFFlow flow, PFFlowType *type)
{
  PetscFunctionBegin;
  *type = flow->type;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowSetFromOptions(PFFlow flow)
{
  char      type[16];
  PetscBool set;

  PetscFunctionBegin;
  PetscCall(PetscStrncpy(type, flow->type, sizeof(type)));
  PetscOptionsBegin(flow->comm, NULL, "Flow (probability path) options", "PFFlow");
  PetscCall(PetscOptionsString("-flow_type", "Probability path: cfm, otcfm, vp (DDPM baseline)", "PFFlowSetType", type, type, sizeof(type), &set));
  PetscCall(PetscOptionsReal("-flow_sigma_min", "Noise left at t = 1 on the OT path", "PFFlow", flow->sigma_min, &flow->sigma_min, NULL));
  PetscCall(PetscOptionsInt("-vp_timesteps", "DDPM diffusion steps T", "PFFlow", flow->vp_T, &flow->vp_T, NULL));
  PetscCall(PetscOptionsReal("-flow_t0_fraction", "Training: share of the rows at t = 0 exactly, where x0 + v is E[x1 | conditions], the one-step posterior mean of a conditional model (else t ~ U(0,1))", "PFFlow", flow->t0_fraction, &flow->t0_fraction, NULL));
  PetscOptionsEnd();
  PetscCheck(flow->t0_fraction >= 0 && flow->t0_fraction < 1, flow->comm, PETSC_ERR_ARG_OUTOFRANGE, "-flow_t0_fraction must be in [0,1), got %g", flow->t0_fraction);
  PetscCheck(flow->sigma_min >= 0 && flow->sigma_min < 1, flow->comm, PETSC_ERR_ARG_OUTOFRANGE, "-flow_sigma_min must be in [0,1), got %g", flow->sigma_min);
  PetscCheck(flow->vp_T >= 2, flow->comm, PETSC_ERR_ARG_OUTOFRANGE, "-vp_timesteps must be >= 2");
  PetscCall(PFFlowSetType(flow, type));
  {
    PetscBool vp;
    PetscCall(PetscStrcmp(flow->type, PFFLOWVP, &vp));
    PetscCheck(!(vp && flow->t0_fraction > 0), flow->comm, PETSC_ERR_ARG_INCOMP, "-flow_t0_fraction is for the straight paths (cfm, otcfm), not vp");
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowView(PFFlow flow, PetscViewer viewer)
{
  PetscBool vp;

  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(flow->comm, &viewer));
  PetscCall(PetscStrcmp(flow->type, PFFLOWVP, &vp));
  if (vp) PetscCall(PetscViewerASCIIPrintf(viewer, "PFFlow vp: T = %" PetscInt_FMT ", linear betas %g..%g, epsilon prediction\n", flow->vp_T, flow->vp_beta0, flow->vp_beta1));
  else PetscCall(PetscViewerASCIIPrintf(viewer, "PFFlow %s: OT path, sigma_min %g\n", flow->type, flow->sigma_min));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowDestroy(PFFlow *flow)
{
  PetscFunctionBegin;
  if (!*flow) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*flow)->vp_alphabar));
  PetscCall(PetscFree((*flow)->keys));
  PetscCall(PetscFree((*flow)->held));
  PetscCall(PetscFree((*flow)->pinval));
  PetscCall(PetscFree(*flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFFlowNoise(PFFlow flow, uint64_t seed, int purpose, uint64_t a, PetscInt n, pfreal *z)
{
  PFRNG r;
  if (flow && flow->keys && flow->nkeys == n) {
    for (PetscInt i = 0; i < n; i++) {
      PFRNGInit(&r, seed, (PFRNGPurpose)purpose, a, (uint32_t)flow->keys[i]);
      z[i] = (pfreal)PFRNGNormal(&r);
    }
    return;
  }
  PFRNGInit(&r, seed, (PFRNGPurpose)purpose, a, 0);
  for (PetscInt i = 0; i < n; i++) z[i] = (pfreal)PFRNGNormal(&r);
}

PetscErrorCode PFFlowSetComponentKeys(PFFlow flow, PetscInt n, const PetscInt keys[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(flow->keys));
  PetscCall(PetscMalloc1(n + 1, &flow->keys));
  PetscCall(PetscArraycpy(flow->keys, keys, n));
  flow->nkeys = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowSetHeldComponents(PFFlow flow, PetscInt n, const PetscBool held[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(flow->held));
  PetscCall(PetscFree(flow->pinval));
  flow->nheld = 0;
  if (!held) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(n + 1, &flow->held));
  PetscCall(PetscArraycpy(flow->held, held, n));
  flow->nheld = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowSetPinnedValues(PFFlow flow, PetscInt n, const pfreal values[])
{
  PetscFunctionBegin;
  PetscCall(PetscFree(flow->pinval));
  if (!values) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(flow->held && flow->nheld == n, flow->comm, PETSC_ERR_ORDER, "pinned values need the held components of states of %" PetscInt_FMT " components set first", n);
  PetscCall(PetscMalloc1(n + 1, &flow->pinval));
  for (PetscInt d = 0; d < n; d++) {
    PetscCheck(!isfinite((double)values[d]) || flow->held[d], flow->comm, PETSC_ERR_ARG_WRONG, "pinned component %" PetscInt_FMT " is not held", d);
    flow->pinval[d] = values[d];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* is component d of an n-component state held? */
static inline PetscBool Held(PFFlow flow, PetscInt n, PetscInt d) { return (PetscBool)(flow->held && flow->nheld == n && flow->held[d]); }

static PetscErrorCode CheckHeld(PFFlow flow, PetscInt n)
{
  PetscFunctionBegin;
  PetscCheck(!flow->held || flow->nheld == n, flow->comm, PETSC_ERR_ARG_SIZ, "conditioning channels set for states of %" PetscInt_FMT " components, used with %" PetscInt_FMT, flow->nheld, n);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* noise into the generated components of nloc states (held ones keep x's
 * values, pinned ones take theirs) */
static void SampleNoise(PFFlow flow, uint64_t seed, PetscInt gidx0, PetscInt nloc, PetscInt n, pfreal *x, pfreal *z)
{
  for (PetscInt j = 0; j < nloc; j++) {
    if (!flow->held) {
      PFFlowNoise(flow, seed, PF_RNG_SAMPLE_X0, (uint64_t)(gidx0 + j), n, x + j * n);
      continue;
    }
    PFFlowNoise(flow, seed, PF_RNG_SAMPLE_X0, (uint64_t)(gidx0 + j), n, z);
    for (PetscInt d = 0; d < n; d++)
      if (!flow->held[d]) x[j * n + d] = z[d];
      else if (flow->pinval && isfinite((double)flow->pinval[d])) x[j * n + d] = flow->pinval[d];
  }
}

static void ZeroHeld(PFFlow flow, PetscInt nloc, PetscInt n, pfreal *v)
{
  if (!flow->held) return;
  for (PetscInt j = 0; j < nloc; j++)
    for (PetscInt d = 0; d < n; d++)
      if (flow->held[d]) v[j * n + d] = 0;
}

/* t ~ U(0, 1), or t = 0 with probability t0_fraction (the second draw of
 * the row's stream, so a fraction of 0 leaves every other time as it was) */
static double FlowTime(uint64_t seed, PetscInt step, PetscInt j, double t0_fraction)
{
  PFRNG  r;
  double t;
  PFRNGInit(&r, seed, PF_RNG_FLOW_TIME, (uint64_t)step, (uint32_t)j);
  t = PFRNGUniform(&r);
  if (t0_fraction > 0 && PFRNGUniform(&r) < t0_fraction) t = 0;
  return t;
}

/* OT-CFM: all ranks gather the global batch of data and redraw the global
 * batch of noise (both keyed by global index), solve the same assignment, and
 * keep their own rows.  Exact and partition-independent; the O(Bg^3)
 * assignment is cheap for the batch sizes of vector-valued problems. */
static PetscErrorCode OTPairNoise(PFFlow flow, uint64_t seed, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt n, const pfreal *x1, pfreal *x0loc)
{
  PetscMPIInt size, nl = (PetscMPIInt)(nloc * n), *counts, *displs;
  pfreal     *x1g, *x0g;
  double     *cost;
  PetscInt   *assign, *inv;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_size(flow->comm, &size));
  PetscCall(PetscMalloc4(Bg * n, &x1g, Bg * n, &x0g, Bg * Bg, &cost, Bg, &assign));
  PetscCall(PetscMalloc3(size, &counts, size, &displs, Bg, &inv));
  PetscCallMPI(MPI_Allgather(&nl, 1, MPI_INT, counts, 1, MPI_INT, flow->comm));
  displs[0] = 0;
  for (PetscMPIInt r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
  PetscCheck(displs[size - 1] + counts[size - 1] == Bg * n, flow->comm, PETSC_ERR_PLIB, "otcfm: local batches do not add up to the global batch");
  PetscCallMPI(MPI_Allgatherv(x1, nl, MPIU_PFREAL, x1g, counts, displs, MPIU_PFREAL, flow->comm));
  for (PetscInt j = 0; j < Bg; j++) PFFlowNoise(flow, seed, PF_RNG_FLOW_X0, (uint64_t)step * (uint64_t)Bg + (uint64_t)j, n, x0g + j * n);
  /* cost[i][j] = |x0_i - x1_j|^2 */
  for (PetscInt i = 0; i < Bg; i++)
    for (PetscInt j = 0; j < Bg; j++) {
      double c = 0;
      for (PetscInt d = 0; d < n; d++) {
        double e = (double)x0g[i * n + d] - (double)x1g[j * n + d];
        c += e * e;
      }
      cost[i * Bg + j] = c;
    }
  PetscCall(PFOTAssign(Bg, cost, assign));
  for (PetscInt i = 0; i < Bg; i++) inv[assign[i]] = i;
  for (PetscInt j = 0; j < nloc; j++) PetscCall(PetscArraycpy(x0loc + j * n, x0g + inv[gidx0 + j] * n, n));
  PetscCall(PetscFree4(x1g, x0g, cost, assign));
  PetscCall(PetscFree3(counts, displs, inv));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Points on the straight path from x0 (held in target on entry) to x1 at
 * random times (t_fixed < 0) or at t_fixed, and the path's velocity */
static void PathPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt gidx0, PetscInt nloc, PetscInt n, const pfreal *x1, double t_fixed, pfreal *xt, pfreal *t, pfreal *target)
{
  double s = flow->sigma_min;

  for (PetscInt j = 0; j < nloc; j++) {
    double tj = t_fixed >= 0 ? t_fixed : FlowTime(seed, step, gidx0 + j, flow->t0_fraction);
    t[j]      = (pfreal)tj;
    for (PetscInt d = 0; d < n; d++) {
      double x0 = (double)target[j * n + d], x1d = (double)x1[j * n + d];
      if (Held(flow, n, d)) {
        /* a conditioning input: the same at every t, nothing to generate */
        xt[j * n + d] = x1[j * n + d], target[j * n + d] = 0;
        continue;
      }
      xt[j * n + d]     = (pfreal)((1 - (1 - s) * tj) * x0 + tj * x1d);
      target[j * n + d] = (pfreal)(x1d - (1 - s) * x0);
    }
  }
}

PetscErrorCode PFFlowTrainingPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt n, const pfreal *x1, pfreal *xt, pfreal *t, pfreal *target)
{
  PetscBool vp, ot;

  PetscFunctionBegin;
  PetscCall(CheckHeld(flow, n));
  PetscCall(PetscStrcmp(flow->type, PFFLOWVP, &vp));
  PetscCheck(!(vp && flow->held), flow->comm, PETSC_ERR_SUP, "conditioning channels need a cfm flow, not vp");
  if (vp) {
    PetscCall(PFFlowVPTrainingPairs(flow, seed, step, Bg, gidx0, nloc, n, x1, xt, t, target));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscStrcmp(flow->type, PFFLOWOTCFM, &ot));
  PetscCheck(!(ot && flow->held), flow->comm, PETSC_ERR_SUP, "conditioning channels need a cfm flow, not otcfm");
  PetscCheck(!(ot && flow->keys), flow->comm, PETSC_ERR_SUP, "otcfm couples whole states of a batch; it is not available for fields distributed over a mesh (use cfm)");
  /* x0 goes into target's storage first, then is overwritten in place */
  if (ot) PetscCall(OTPairNoise(flow, seed, step, Bg, gidx0, nloc, n, x1, target));
  else
    for (PetscInt j = 0; j < nloc; j++) PFFlowNoise(flow, seed, PF_RNG_FLOW_X0, (uint64_t)step * (uint64_t)Bg + (uint64_t)(gidx0 + j), n, target + j * n);
  PathPairs(flow, seed, step, gidx0, nloc, n, x1, -1, xt, t, target);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowCoupledPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt gidx0, PetscInt nloc, PetscInt n, uint64_t noise_seed, const PetscInt rows[], const pfreal *x1, double t_fixed, pfreal *xt, pfreal *t, pfreal *target)
{
  PetscBool vp, ot;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(flow->type, PFFLOWVP, &vp));
  PetscCall(PetscStrcmp(flow->type, PFFLOWOTCFM, &ot));
  PetscCheck(!vp && !ot, flow->comm, PETSC_ERR_SUP, "coupled (noise, sample) pairs need a cfm flow, not '%s'", flow->type);
  PetscCheck(t_fixed <= 1, flow->comm, PETSC_ERR_ARG_OUTOFRANGE, "fixed training time %g beyond 1", t_fixed);
  PetscCheck(!flow->held, flow->comm, PETSC_ERR_SUP, "coupled pairs (distillation) of a model with held components (given fields, pinned values, conditioning channels) are not supported");
  /* the noise sample rows[j] was generated from, as PFFlowSample draws it */
  for (PetscInt j = 0; j < nloc; j++) PFFlowNoise(flow, noise_seed, PF_RNG_SAMPLE_X0, (uint64_t)rows[j], n, target + j * n);
  PathPairs(flow, seed, step, gidx0, nloc, n, x1, t_fixed, xt, t, target);
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PFFlow       flow;
  PFNet        net;
  PetscInt     n, maxbatch;
  pfreal      *tbuf;
  PFVelocityFn fn; /* a given velocity (PFFlowSampleVelocity) */
  void        *fnctx;
} VelocityCtx;

/* v(x, t) for many states, in chunks of the network's planned batch (or
 * the given velocity); conditioning channels do not move */
static PetscErrorCode NetVelocity(void *vctx, double t, PetscInt nloc, const pfreal *x, pfreal *v)
{
  VelocityCtx *ctx = (VelocityCtx *)vctx;

  PetscFunctionBegin;
  if (ctx->fn) PetscCall(ctx->fn(ctx->fnctx, t, nloc, x, v));
  else PetscCall(PFNetForwardAtTime(ctx->net, nloc, x, t, ctx->tbuf, v));
  ZeroHeld(ctx->flow, nloc, ctx->n, v);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowSample(PFFlow flow, PFNet net, PFSampler sampler, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, PetscInt *nfe)
{
  PetscBool     vp, odesampler;
  PFSamplerType stype;
  VelocityCtx   ctx;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(flow->type, PFFLOWVP, &vp));
  PetscCheck(!(vp && flow->held), flow->comm, PETSC_ERR_SUP, "conditioning channels need a cfm flow, not vp");
  if (vp) {
    PetscCall(PFFlowVPSample(flow, net, sampler, seed, gidx0, nloc, x, nfe));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PFSamplerGetType(sampler, &stype));
  PetscCall(PetscStrcmp(stype, PFSAMPLERDDPM, &odesampler));
  if (!odesampler) PetscCall(PetscStrcmp(stype, PFSAMPLERDDIM, &odesampler));
  PetscCheck(!odesampler, flow->comm, PETSC_ERR_ARG_INCOMP, "sampler '%s' is for vp models; this is a '%s' flow model: use -sampler euler|heun|rk4|dopri5", stype, flow->type);
  PetscCall(PetscMemzero(&ctx, sizeof(ctx)));
  PetscCall(PFNetGetInputSize(net, &ctx.n));
  PetscCall(CheckHeld(flow, ctx.n));
  ctx.flow     = flow;
  ctx.net      = net;
  ctx.maxbatch = net->maxbatch;
  PetscCheck(ctx.maxbatch > 0, flow->comm, PETSC_ERR_ORDER, "call PFNetPlan before sampling");
  PetscCall(PetscMalloc1(PetscMax(ctx.maxbatch, ctx.n), &ctx.tbuf));
  SampleNoise(flow, seed, gidx0, nloc, ctx.n, x, ctx.tbuf);
  PetscCall(PFSamplerIntegrate(sampler, NetVelocity, &ctx, nloc, ctx.n, 0.0, 1.0, x, nfe));
  PetscCall(PetscFree(ctx.tbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowSampleVelocity(PFFlow flow, PFSampler sampler, uint64_t seed, PetscInt gidx0, PetscInt nloc, PetscInt n, PFVelocityFn fn, void *ctx, pfreal *x, PetscInt *nfe)
{
  PetscBool vp;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(flow->type, PFFLOWVP, &vp));
  PetscCheck(!vp, flow->comm, PETSC_ERR_SUP, "guided sampling needs a flow-matching model (cfm/otcfm), not '%s'", flow->type);
  PetscCall(CheckHeld(flow, n));
  {
    /* the given velocity, held components kept still (a no-op without them) */
    VelocityCtx w = {.flow = flow, .n = n, .fn = fn, .fnctx = ctx};
    pfreal     *z = NULL;
    if (flow->held) PetscCall(PetscMalloc1(n, &z));
    SampleNoise(flow, seed, gidx0, nloc, n, x, z);
    PetscCall(PetscFree(z));
    PetscCall(PFSamplerIntegrate(sampler, NetVelocity, &w, nloc, n, 0.0, 1.0, x, nfe));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowWriteH5(PFFlow flow, hid_t fid)
{
  hid_t g;

  PetscFunctionBegin;
  g = H5Gcreate2(fid, "flow", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create group /flow");
  PetscCall(PFH5WriteAttrString(g, "flow_type", flow->type));
  PetscCall(PFH5WriteAttrReal(g, "sigma_min", flow->sigma_min));
  PetscCall(PFH5WriteAttrInt(g, "vp_timesteps", flow->vp_T));
  PetscCall(PFH5WriteAttrReal(g, "vp_beta0", flow->vp_beta0));
  PetscCall(PFH5WriteAttrReal(g, "vp_beta1", flow->vp_beta1));
  H5Gclose(g);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], PFFlow *flow)
{
  char  type[16];
  hid_t g;

  PetscFunctionBegin;
  PetscCheck(H5Lexists(fid, "flow", H5P_DEFAULT) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no flow description (group /flow missing)", path);
  g = H5Gopen2(fid, "flow", H5P_DEFAULT);
  PetscCall(PFFlowCreate(comm, flow));
  PetscCall(PFH5ReadAttrString(g, "flow_type", type, sizeof(type)));
  PetscCall(PFH5ReadAttrReal(g, "sigma_min", &(*flow)->sigma_min));
  PetscCall(PFH5ReadAttrInt(g, "vp_timesteps", &(*flow)->vp_T));
  PetscCall(PFH5ReadAttrReal(g, "vp_beta0", &(*flow)->vp_beta0));
  PetscCall(PFH5ReadAttrReal(g, "vp_beta1", &(*flow)->vp_beta1));
  H5Gclose(g);
  PetscCall(PFFlowSetType(*flow, type));
  PetscFunctionReturn(PETSC_SUCCESS);
}
