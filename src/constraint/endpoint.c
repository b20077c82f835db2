/* Endpoint fine-tuning (see include/physflow/constraint.h): the residual of
 * the fine-tuned model's own Euler samples, differentiated through the
 * sampler, with the input fields anchored to the base model's sample for
 * the same noise. */
#include <physflow/constraint.h>
#include <physflow/optim.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>
#include <physflow/signals.h>
#include <math.h>

/* Euler from t = 0 to 1 in K steps, no gradients */
static PetscErrorCode EulerEndpoint(PFNet net, PetscInt B, PetscInt n, PetscInt K, const pfreal *x0, pfreal *tb, pfreal *v, pfreal *x)
{
  const size_t N = (size_t)B * n;

  PetscFunctionBegin;
  PetscCall(PetscArraycpy(x, x0, N));
  for (PetscInt k = 0; k < K; k++) {
    for (PetscInt b = 0; b < B; b++) tb[b] = (pfreal)((double)k / (double)K);
    PetscCall(PFNetForward(net, B, x, tb, v));
    for (size_t q = 0; q < N; q++) x[q] += v[q] / (pfreal)K;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFEndpointFinetuneRun(PFConstraint c, MPI_Comm world, PetscInt G, PetscInt gid, PFNet base, PFNet ft, const PetscInt keys[], PetscInt Bg, double lr, uint64_t seed)
{
  PFEndpointParams p;
  PetscInt         lo, hi, B, n = ft->nin;
  size_t           N, np = ft->nparams;
  pfreal          *x0, *x1b, *v, *tb, *m, *vv, *red;
  PFAdamWParams    adam = {0.9, 0.999, 1e-8, 0.0};

  PetscFunctionBegin;
  PetscCall(PFConstraintGetEndpointParams(c, &p));
  lo = (PetscInt)(((PetscInt64)gid * Bg) / G);
  hi = (PetscInt)(((PetscInt64)(gid + 1) * Bg) / G);
  B  = hi - lo;
  PetscCheck(B >= 1, world, PETSC_ERR_ARG_OUTOFRANGE, "-batch_size %" PetscInt_FMT " must be at least the number of groups", Bg);
  N = (size_t)B * n;
  PetscCall(PFNetPlan(base, B));
  PetscCall(PFNetPlan(ft, B));
  PetscCall(PetscMalloc4(N, &x0, N, &x1b, N, &v, B, &tb));
  PetscCall(PetscCalloc3(np, &m, np, &vv, np + 3, &red));
  PetscCall(PetscPrintf(world, "physflow finetune: endpoint fine-tuning, %" PetscInt_FMT " iterations of %" PetscInt_FMT " samples x %" PetscInt_FMT " Euler steps, anchor %g (sample the result with -sampler euler -sampler_steps %" PetscInt_FMT ")\n", p.iters, Bg, p.steps, p.anchor, p.steps));
  for (PetscInt it = 0; it < p.iters; it++) {
    double  lloc = 0, aloc;
    pfreal *P, *Gr;
    /* noise keyed by (iteration, global sample, component): partition-independent */
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt j = 0; j < n; j++) {
        PFRNG r;
        PFRNGInit(&r, seed, PF_RNG_SAMPLE_X0, (uint64_t)it * 1000003u + (uint64_t)(lo + b), (uint32_t)keys[j]);
        x0[(size_t)b * n + j] = (pfreal)PFRNGNormal(&r);
      }
    PetscCall(EulerEndpoint(base, B, n, p.steps, x0, tb, v, x1b));
    PetscCall(PFNetZeroGradient(ft));
    PetscCall(PFNetGetParameters(ft, NULL, &P, &Gr));
    for (PetscInt b = 0; b < B; b++) tb[b] = 0;
    PetscCall(PFNetForward(ft, B, x0, tb, v));
    PetscCall(PFConstraintSetAnchor(c, x1b, p.anchor, NULL));
    PetscCall(PFConstraintResidualGradient(c, ft, B, Bg, x0, tb, v, p.steps, &lloc, NULL));
    PetscCall(PFConstraintSetAnchor(c, NULL, 0, &aloc));
    /* one allreduce over the world (gradient, residual part, anchor part);
     * the losses are sums over the group's vertices, counted once */
    PetscCall(PetscArraycpy(red, Gr, np));
    red[np]     = (pfreal)((lloc - aloc) / (double)Bg);
    red[np + 1] = (pfreal)(aloc / (double)Bg);
    red[np + 2] = (pfreal)(PFSignalsReceived() ? 1 : 0);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, red, (PetscMPIInt)(np + 3), MPIU_PFREAL, MPI_SUM, world));
    PetscCall(PetscArraycpy(Gr, red, np));
    /* cosine decay: the late iterations average out the batch noise */
    PFAdamWStep(np, &adam, lr * 0.5 * (1 + cos(M_PI * (double)it / (double)p.iters)), it + 1, P, Gr, m, vv);
    if (it == 0 || (it + 1) % 10 == 0 || it + 1 == p.iters)
      PetscCall(PetscPrintf(world, "  iteration %4" PetscInt_FMT "/%" PetscInt_FMT "  residual of the samples %.4e  anchor %.4e\n", it + 1, p.iters, (double)red[np], (double)red[np + 1]));
    if (red[np + 2] > 0) {
      /* SIGTERM/SIGUSR1: keep what is done (the caller writes the model) */
      PetscCall(PetscPrintf(world, "physflow finetune: signal received: stopping after %" PetscInt_FMT " of %" PetscInt_FMT " iterations\n", it + 1, p.iters));
      break;
    }
  }
  PetscCall(PetscFree4(x0, x1b, v, tb));
  PetscCall(PetscFree3(m, vv, red));
  PetscFunctionReturn(PETSC_SUCCESS);
}
