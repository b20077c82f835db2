/* physflow guide on a mesh (PDE field) model: minimum-excess-work guidance
 * of fields distributed over groups of ranks (include/physflow/guide.h).
 *
 * Layout as in physflow sample: groups of -pf_group_size ranks share the
 * mesh, groups draw different samples (sample i from noise keyed by (seed,
 * i)).  Observables are collective on a group; what every rank needs of
 * the base samples (their observable values, the guiding states) travels
 * as one world reduction of arrays that each group fills at its own
 * samples (zeros elsewhere, so the sum is exact). */
#include <math.h>
#include <physflow/dataset.h>
#include "guide_cli.h"

typedef struct {
  PFCLIMeshContext *ctx;
  MPI_Comm          world;
  PFNet             net;
  PFFlow            flow;
  PFSampler         sampler;
  PFObservable      obs;
  double            mean[PF_CLI_MAXFIELDS], std[PF_CLI_MAXFIELDS];
  PetscInt          nf, nown, n, nvert;
  PetscInt          lo, nloc;   /* this group's base samples */
  PetscInt          tlo, ntl;   /* and its tuning samples */
  PetscBool         leader;     /* rank 0 of the group */
  pfreal           *x;          /* [nloc n] base samples (normalised) */
  double           *fall;       /* [nbase] observable of every base sample */
} MeshGuide;

/* rows dest[k] <- this group's base sample src[k] (k < nrows), physical
 * units, written collectively to a samples file of N rows (the naive
 * baseline's training data) */
static PetscErrorCode WriteRows(MeshGuide *m, const char path[], const char model[], PetscInt N, PetscInt nrows, const PetscInt *dest, const PetscInt *src)
{
  PFMesh          mesh;
  PFDatasetWriter w;
  const char     *names[PF_CLI_MAXFIELDS];
  double         *rows[PF_CLI_MAXFIELDS];
  PetscBool       complete;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(m->ctx->phys, &mesh));
  for (PetscInt f = 0; f < m->nf; f++) names[f] = m->ctx->fields[f];
  PetscCall(PFCLIMeshGatherRows(m->ctx, nrows, src, m->x, m->mean, m->std, rows));
  {
    PFDatasetLayout L = {N, mesh->nvert, 2, mesh->ncells, mesh->nvpc, m->nf, names, 0, NULL, "samples", PETSC_FALSE};
    PetscCall(PFDatasetWriterCreate(m->world, path, &L, mesh->coords, mesh->cells, PETSC_FALSE, &w));
    PetscCall(PFDatasetWriterSetAttrString(w, "mesh", mesh->source));
    PetscCall(PFDatasetWriterSetAttrString(w, "model", model));
    PetscCall(PFDatasetWriterWriteRows(w, m->leader ? nrows : 0, dest, (const double *const *)rows, NULL));
    PetscCall(PFDatasetWriterClose(&w, &complete));
    PetscCheck(complete, m->world, PETSC_ERR_PLIB, "'%s' incomplete", path);
  }
  for (PetscInt f = 0; f < m->nf; f++) PetscCall(PetscFree(rows[f]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the naive baseline: fine-tune on the base samples pick[N] (global indices) */
static PetscErrorCode Baseline(MeshGuide *m, const char model[], const char out[], const char what[], PetscInt N, const PetscInt *pick, const GuideOptions *o)
{
  char      data[PETSC_MAX_PATH_LEN + 32];
  PetscInt *dest, *src, nrows = 0;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(data, sizeof(data), "%s.%s.h5", out, what));
  PetscCall(PetscMalloc2(N, &dest, N, &src));
  for (PetscInt k = 0; k < N; k++)
    if (pick[k] >= m->lo && pick[k] < m->lo + m->nloc) dest[nrows] = k, src[nrows++] = pick[k] - m->lo;
  PetscCall(WriteRows(m, data, model, N, nrows, dest, src));
  PetscCall(PetscFree2(dest, src));
  PetscCall(PFCLIGuideFinetune(m->world, model, data, out, what, o));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Tune the schedule of observable guidance toward the tilt lambda (or
 * write the naive baseline) */
static PetscErrorCode GuideTilt(MeshGuide *m, const char model[], const char out[], GuideOptions *o, double lambda, double mean, double var, double mw)
{
  PetscFunctionBegin;
  if (o->baseline) {
    PetscInt *idx;
    PetscCall(PetscMalloc1(o->nbase, &idx));
    PetscCall(PFCLIGuideResample(o->nbase, m->fall, lambda, o->seed, idx));
    PetscCall(Baseline(m, model, out, "reweighted", o->nbase, idx, o));
    PetscCall(PetscFree(idx));
  } else {
    GuideTuneSetting g = {m->world, m->flow, m->net, m->sampler, m->obs, m->tlo, m->ntl};
    PetscCall(PFCLIGuideTuneWrite(&g, model, out, o, lambda, mean, var, mw));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int CompareDouble(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* the states (owned parts, normalised) of the base samples pick[M] on every
 * rank: each group gathers its own to natural order, one world sum */
static PetscErrorCode GatherStates(MeshGuide *m, PetscInt M, const PetscInt *pick, pfreal *g)
{
  double      *nat;
  PetscScalar *col;
  const size_t S = (size_t)m->nf * m->nvert;

  PetscFunctionBegin;
  PetscCall(PetscCalloc1((size_t)M * S, &nat));
  PetscCall(PetscMalloc1(m->nown + 1, &col));
  for (PetscInt j = 0; j < M; j++) {
    if (pick[j] < m->lo || pick[j] >= m->lo + m->nloc) continue;
    for (PetscInt f = 0; f < m->nf; f++) {
      for (PetscInt i = 0; i < m->nown; i++) col[i] = (double)m->x[((size_t)(pick[j] - m->lo) * m->nf + f) * m->nown + i];
      PetscCall(PFPhysicsGatherNatural(m->ctx->phys, col, m->leader ? nat + j * S + (size_t)f * m->nvert : NULL));
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, nat, (PetscMPIInt)(M * S), MPI_DOUBLE, MPI_SUM, m->world));
  for (PetscInt j = 0; j < M; j++)
    for (PetscInt f = 0; f < m->nf; f++) {
      PetscCall(PFPhysicsFromNatural(m->ctx->phys, nat + j * S + (size_t)f * m->nvert, col));
      for (PetscInt i = 0; i < m->nown; i++) g[((size_t)j * m->nf + f) * m->nown + i] = (pfreal)PetscRealPart(col[i]);
    }
  PetscCall(PetscFree(col));
  PetscCall(PetscFree(nat));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Observable(MeshGuide *m, const char model[], const char out[], GuideOptions *o)
{
  double mean, var, lambda, mw;

  PetscFunctionBegin;
  PFGuideMoments(o->nbase, m->fall, &mean, &var);
  if (o->has_shift) o->target = mean + o->shift * sqrt(var);
  PetscCall(PFMaxEntLambda(o->nbase, m->fall, o->target, o->sigma, &lambda, &mw));
  PetscCall(PetscPrintf(m->world, "physflow guide: observable %s of %" PetscInt_FMT " base samples: mean %.5g, std %.5g; target %.5g; max-ent tilt exp(-lambda f), lambda = %.5g, reweighted mean %.5g\n", o->observable, o->nbase, mean, sqrt(var), o->target, lambda, mw));
  PetscCall(GuideTilt(m, model, out, o, lambda, mean, var, mw));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Tilted path guidance: the tilt exp(-lambda f) of the base distribution
 * (lambda < 0) that puts the fraction F of its mass in {f >= thr}, by
 * bisection on the reweighted base samples, then observable guidance
 * toward it.  A tilt in f leaves the distribution within each level set of
 * f as the base model has it, so inside the subset the fields keep the
 * base model's variety (the KDE of a few guides in a high-dimensional
 * field space pulls samples onto the guides) */
static PetscErrorCode PathTilt(MeshGuide *m, const char model[], const char out[], GuideOptions *o, double thr)
{
  double mean, var, lambda, mw;

  PetscFunctionBegin;
  PFGuideMoments(o->nbase, m->fall, &mean, &var);
  PetscCall(PFMaxEntLambdaFraction(o->nbase, m->fall, thr, o->fraction, &lambda, &mw));
  o->target = mw;
  PetscCall(PetscPrintf(m->world, "physflow guide: tilted path guidance: exp(-lambda f) with lambda = %.5g puts %.1f%% of the reweighted base samples in the subset; its mean of %s is %.5g (base %.5g)\n", lambda, 100 * o->fraction, o->observable, mw, mean));
  PetscCall(GuideTilt(m, model, out, o, lambda, mean, var, mw));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Path(MeshGuide *m, const char model[], const char out[], GuideOptions *o)
{
  PetscInt *pick, M = 0, tot = 0, K;
  double    thr = o->threshold;

  PetscFunctionBegin;
  if (o->has_quantile) {
    double *sorted;
    PetscCall(PetscMalloc1(o->nbase, &sorted));
    PetscCall(PetscArraycpy(sorted, m->fall, o->nbase));
    qsort(sorted, (size_t)o->nbase, sizeof(double), CompareDouble);
    thr = sorted[PetscMin(o->nbase - 1, (PetscInt)floor(o->quantile * o->nbase))];
    PetscCall(PetscFree(sorted));
  }
  PetscCall(PetscMalloc1(o->nbase, &pick));
  for (PetscInt i = 0; i < o->nbase; i++)
    if (m->fall[i] >= thr) {
      tot++;
      if (M < o->nguides) pick[M++] = i;
    }
  PetscCall(PetscPrintf(m->world, "physflow guide: %s >= %.5g holds %" PetscInt_FMT " of %" PetscInt_FMT " base samples (%.2f%%); %" PetscInt_FMT " guide\n", o->observable, thr, tot, o->nbase, 100.0 * tot / o->nbase, M));
  PetscCheck(M >= 2, m->world, PETSC_ERR_ARG_OUTOFRANGE, "the subset holds %" PetscInt_FMT " of the %" PetscInt_FMT " base samples: too rare to guide; draw more (-guide_samples) or lower the threshold", M, o->nbase);
  o->target = (double)tot / o->nbase;
  if (o->baseline) PetscCall(Baseline(m, model, out, "guides", M, pick, o));
  else if (o->path_tilt) PetscCall(PathTilt(m, model, out, o, thr));
  else {
    PFPathTuneParams tp = {{0, 0, 0, 0}, o->gamma, o->fraction, o->maxeval, m->obs, thr};
    PFPathGuide      pg = {0};
    MPI_Comm         gcomm;
    pfreal          *g, *Ynat;
    double           frac, work;
    PetscCall(PetscMalloc1((size_t)M * m->n + 1, &g));
    PetscCall(GatherStates(m, M, pick, g));
    PetscCall(PFSamplerGetSteps(m->sampler, &K));
    {
      PFMesh mesh;
      PetscCall(PFPhysicsGetMesh(m->ctx->phys, &mesh));
      gcomm = mesh->comm;
    }
    PetscCall(PFPathGuideBuild(m->net, gcomm, PetscMax(K, 10), M, g, &pg));
    pg.a = 1, pg.b = o->schedule == PF_GUIDE_POWER ? 1 : 0, pg.h0 = 0.3, pg.kind = o->schedule;
    PetscCall(PetscPrintf(m->world, "physflow guide: tuning alpha(t) = %s and the bandwidth h0 on reaching %g of the samples in the subset + %g x excess work\n", o->schedule == PF_GUIDE_POWER ? "a (1 - t)^b" : "a exp(-b (1 - t))", o->fraction, o->gamma));
    PetscCall(PFPathGuideTune(m->flow, m->net, m->sampler, &tp, m->world, (uint64_t)o->seed, m->tlo, m->ntl, &pg, &frac, &work));
    PetscCall(PetscPrintf(m->world, "physflow guide: a = %.5g, b = %.5g, h0 = %.4g: %.1f%% of the guided samples in the subset (base %.2f%%), excess work %.4e -> %s\n", pg.a, pg.b, pg.h0, 100 * frac, 100 * o->target, work, out));
    {
      /* the paths in natural vertex order (the first group's, on world rank 0) */
      const size_t S = (size_t)m->nf * m->nvert;
      PetscScalar *col;
      double      *nat;
      PetscCall(PetscMalloc3((size_t)(pg.K + 1) * M * S, &Ynat, m->nown + 1, &col, m->nvert, &nat));
      for (PetscInt q = 0; q < (pg.K + 1) * M; q++)
        for (PetscInt f = 0; f < m->nf; f++) {
          for (PetscInt i = 0; i < m->nown; i++) col[i] = (double)pg.Y[((size_t)q * m->nf + f) * m->nown + i];
          PetscCall(PFPhysicsGatherNatural(m->ctx->phys, col, m->leader ? nat : NULL));
          if (m->leader)
            for (PetscInt i = 0; i < m->nvert; i++) Ynat[q * S + (size_t)f * m->nvert + i] = (pfreal)nat[i];
        }
      {
        GuideRecord r = {NULL, &pg, Ynat, {pg.K + 1, M, (PetscInt)S}, {o->target, frac, thr, 0, 0, work}};
        PetscCall(PFCLIGuideWrite(m->world, model, out, o, &r, m->sampler));
      }
      PetscCall(PetscFree3(Ynat, col, nat));
    }
    PetscCall(PFPathGuideDestroy(&pg));
    PetscCall(PetscFree(g));
  }
  PetscCall(PetscFree(pick));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIGuideMesh(MPI_Comm world, const char model[], const char out[], GuideOptions *o, PetscBool path, PFSampler sampler, PFCLIMeshContext *ctx)
{
  MeshGuide   m = {.ctx = ctx, .world = world, .sampler = sampler};
  PFMesh      mesh;
  PetscMPIInt grank;
  PetscInt    nfe;
  double     *f;

  PetscFunctionBegin;
  PetscCall(PFCLIMeshModelLoad(ctx, model, PETSC_TRUE, &m.net, &m.flow, m.mean, m.std));
  PetscCall(PFCLIMeshCheckAllFields(ctx, model, "guidance"));
  {
    PFFlowType ft;
    PetscCall(PFFlowGetType(m.flow, &ft));
    PetscCheck(!strcmp(ft, PFFLOWCFM) || !strcmp(ft, PFFLOWOTCFM), world, PETSC_ERR_ARG_WRONG, "guidance steers a flow-matching (cfm/otcfm) model; '%s' is '%s'", model, ft);
  }
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &m.nown, NULL));
  m.nf    = ctx->nfields;
  m.n     = m.nf * m.nown;
  m.nvert = mesh->nvert;
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  m.leader = (PetscBool)(grank == 0);
  m.lo     = (PetscInt)(((PetscInt64)ctx->gid * o->nbase) / ctx->G);
  m.nloc   = (PetscInt)(((PetscInt64)(ctx->gid + 1) * o->nbase) / ctx->G) - m.lo;
  {
    const PetscInt nt = PetscMin(o->ntune, o->nbase);
    m.tlo             = (PetscInt)(((PetscInt64)ctx->gid * nt) / ctx->G);
    m.ntl             = (PetscInt)(((PetscInt64)(ctx->gid + 1) * nt) / ctx->G) - m.tlo;
  }
  PetscCall(PFObservableCreateMesh(o->observable, ctx->phys, m.mean, m.std, o->has_region ? o->region : NULL, o->group[0] ? o->group : NULL, &m.obs));
  PetscCall(PFNetPlan(m.net, PetscMax(1, PetscMin(16, m.nloc))));
  PetscCall(PetscMalloc3((size_t)m.nloc * m.n + 1, &m.x, o->nbase, &m.fall, m.nloc + 1, &f));
  PetscCall(PetscPrintf(world, "physflow guide: %" PetscInt_FMT " base samples of %s on %" PetscInt_FMT " group(s)\n", o->nbase, model, ctx->G));
  PetscCall(PFFlowSample(m.flow, m.net, sampler, (uint64_t)o->seed, m.lo, m.nloc, m.x, &nfe));
  PetscCall(PFObservableEval(m.obs, m.nloc, m.x, f, NULL));
  PetscCall(PetscArrayzero(m.fall, o->nbase));
  if (m.leader)
    for (PetscInt j = 0; j < m.nloc; j++) m.fall[m.lo + j] = f[j];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, m.fall, (PetscMPIInt)o->nbase, MPI_DOUBLE, MPI_SUM, world));
  for (PetscInt i = 0; i < o->nbase; i++) PetscCheck(isfinite(m.fall[i]), world, PETSC_ERR_FP, "observable %s of base sample %" PetscInt_FMT " is not finite", o->observable, i);
  if (path) PetscCall(Path(&m, model, out, o));
  else PetscCall(Observable(&m, model, out, o));
  PetscCall(PetscFree3(m.x, m.fall, f));
  PetscCall(PFObservableDestroy(&m.obs));
  PetscCall(PFNetDestroy(&m.net));
  PetscCall(PFFlowDestroy(&m.flow));
  PetscFunctionReturn(PETSC_SUCCESS);
}
