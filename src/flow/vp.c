/* The VP / DDPM baseline (Ho et al. 2020): the comparison the flow-matching
 * claims are measured against.  Discrete steps k = 1..T with linear betas;
 * the network predicts the noise eps from (x_k, k/T).  Sampling uses a
 * respaced subsequence of S steps (Nichol & Dhariwal 2021): ancestral
 * (-sampler ddpm) or deterministic DDIM (Song et al. 2021, -sampler ddim). */
#include <math.h>
#include <physflow/private/flowimpl.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>

PetscErrorCode PFFlowVPSetUp(PFFlow flow)
{
  PetscFunctionBegin;
  PetscCall(PetscFree(flow->vp_alphabar));
  PetscCall(PetscMalloc1(flow->vp_T + 1, &flow->vp_alphabar));
  flow->vp_alphabar[0] = 1.0;
  for (PetscInt k = 1; k <= flow->vp_T; k++) {
    double beta            = flow->vp_beta0 + (flow->vp_beta1 - flow->vp_beta0) * (double)(k - 1) / (double)(flow->vp_T - 1);
    flow->vp_alphabar[k] = flow->vp_alphabar[k - 1] * (1.0 - beta);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowVPTrainingPairs(PFFlow flow, uint64_t seed, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt n, const pfreal *x1, pfreal *xt, pfreal *t, pfreal *target)
{
  PetscFunctionBegin;
  for (PetscInt j = 0; j < nloc; j++) {
    PFRNG r;
    PFRNGInit(&r, seed, PF_RNG_FLOW_TIME, (uint64_t)step, (uint32_t)(gidx0 + j));
    PetscInt k  = 1 + (PetscInt)PFRNGBelow(&r, (uint32_t)flow->vp_T);
    double   ab = flow->vp_alphabar[k];
    t[j]        = (pfreal)((double)k / (double)flow->vp_T);
    PFFlowNoise(flow, seed, PF_RNG_FLOW_X0, (uint64_t)step * (uint64_t)Bg + (uint64_t)(gidx0 + j), n, target + j * n);
    for (PetscInt d = 0; d < n; d++) xt[j * n + d] = (pfreal)(sqrt(ab) * (double)x1[j * n + d] + sqrt(1 - ab) * (double)target[j * n + d]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFFlowVPSample(PFFlow flow, PFNet net, PFSampler sampler, uint64_t seed, PetscInt gidx0, PetscInt nloc, pfreal *x, PetscInt *nfe)
{
  PFSamplerType stype;
  PetscBool     ddpm, ddim;
  PetscInt      S, n, maxb = net->maxbatch;
  pfreal       *eps, *tbuf;

  PetscFunctionBegin;
  PetscCall(PFSamplerGetType(sampler, &stype));
  PetscCall(PetscStrcmp(stype, PFSAMPLERDDPM, &ddpm));
  PetscCall(PetscStrcmp(stype, PFSAMPLERDDIM, &ddim));
  PetscCheck(ddpm || ddim, flow->comm, PETSC_ERR_ARG_INCOMP, "a vp (DDPM) model needs -sampler ddpm or ddim, not '%s'", stype);
  PetscCall(PFSamplerGetSteps(sampler, &S));
  PetscCheck(S <= flow->vp_T, flow->comm, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_steps %" PetscInt_FMT " exceeds the %" PetscInt_FMT " diffusion steps of the model", S, flow->vp_T);
  PetscCall(PFNetGetInputSize(net, &n));
  PetscCall(PetscMalloc2((size_t)nloc * n, &eps, maxb, &tbuf));
  for (PetscInt j = 0; j < nloc; j++) PFFlowNoise(flow, seed, PF_RNG_SAMPLE_X0, (uint64_t)(gidx0 + j), n, x + j * n);
  *nfe = 0;
  for (PetscInt i = 0; i < S; i++) {
    /* respaced steps k_i = round(T (S - i) / S): T, ..., T/S, then 0 */
    PetscInt k   = (PetscInt)llround((double)flow->vp_T * (double)(S - i) / (double)S);
    PetscInt kp  = (PetscInt)llround((double)flow->vp_T * (double)(S - i - 1) / (double)S);
    double   ab  = flow->vp_alphabar[k], abp = flow->vp_alphabar[kp];
    double   bet = 1 - ab / abp; /* effective beta of the respaced step */
    PetscCall(PFNetForwardAtTime(net, nloc, x, (double)k / (double)flow->vp_T, tbuf, eps));
    *nfe += 1;
    for (PetscInt j = 0; j < nloc; j++) {
      PFRNG r;
      PFRNGInit(&r, seed, PF_RNG_SAMPLE_SDE, (uint64_t)(gidx0 + j), (uint32_t)i);
      for (PetscInt d = 0; d < n; d++) {
        /* distributed states: each component's noise from its own key */
        if (flow->keys && flow->nkeys == n) PFRNGInit(&r, seed, PF_RNG_SAMPLE_SDE, ((uint64_t)(gidx0 + j) << 16) + (uint64_t)i, (uint32_t)flow->keys[d]);
        double xi = (double)x[j * n + d], e = (double)eps[j * n + d];
        double x0 = (xi - sqrt(1 - ab) * e) / sqrt(ab);
        double xn;
        if (ddim) xn = sqrt(abp) * x0 + sqrt(1 - abp) * e;
        else {
          /* posterior q(x_{k'} | x_k, x0) of the respaced chain */
          double mean = sqrt(abp) * bet / (1 - ab) * x0 + sqrt(1 - bet) * (1 - abp) / (1 - ab) * xi;
          double var  = (1 - abp) / (1 - ab) * bet;
          xn          = mean + (kp > 0 ? sqrt(var) * PFRNGNormal(&r) : 0.0);
        }
        x[j * n + d] = (pfreal)xn;
      }
    }
  }
  PetscCall(PetscFree2(eps, tbuf));
  PetscFunctionReturn(PETSC_SUCCESS);
}
