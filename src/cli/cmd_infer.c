/* physflow infer -model m.h5 -obs obs.h5 -n N -o post.h5
 * physflow infer -model m.h5 -obs_dir DIR -n N -o OUTDIR      (a campaign)
 *
 * Posterior samples of all fields from sparse noisy observations (issue 7)
 * with an unconditional mesh model guided by the observation likelihood
 * (and optionally the PDE residual) during sampling, -infer_type guidance
 * (include/physflow/inverse.h).  post.h5 is a samples file (eval and
 * ParaView read it) plus /posterior/<field>/{mean,std,q05,q95} and, when
 * the observation file holds the truth, the error of the posterior mean
 * and the coverage of the 90% band as attributes of /posterior.  The band
 * (q05, q95) is by default the predictive one (PFPosteriorBandLevel): the
 * order statistics a further exact draw falls between with probability
 * 0.9, not the N samples' own 5% and 95% quantiles, which hold only
 * 0.9 (N - 1)/(N + 1) of the posterior on average; -infer_band gaussian
 * is mean +- t std sqrt(1 + 1/N), exact for Gaussian draws at any N (the
 * default for -infer_gn_spread laplace: samples of the Laplace
 * approximation at the Gauss-Newton refined estimate, infer_refine.c).
 *
 * One observation: the N samples are split over the groups of ranks.  A
 * campaign: each group takes whole observations, the next one from a
 * shared counter (MPI_Fetch_and_op on world rank 0: dynamic load
 * balancing); finished results (written atomically) are skipped when the
 * campaign is rerun; an observation that fails is recorded in
 * OUTDIR/<name>.failed and the campaign goes on; OUTDIR/summary.csv and
 * summary.json list every observation. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <physflow/dataset.h>
#include <physflow/h5util.h>
#include <physflow/inverse.h>
#include <petsctao.h>
#include <physflow/log.h>
#include <physflow/meshdata.h>
#include <physflow/signals.h>
#include "cli.h"
#include "infer_given.h"
#include "infer_mcmc.h"
#include "infer_refine.h"

typedef struct {
  PFCLIMeshContext ctx;
  PFNet            net;
  PFFlow           flow;
  PFSampler        sampler;
  double           mean[PF_CLI_MAXFIELDS], std[PF_CLI_MAXFIELDS];
  PetscInt         n, seed, chunk;
  double           scale, wres;
  PetscBool        map;     /* -infer_type map: the TAO MAP estimate */
  PetscBool        kalman;  /* -infer_type kalman: the ensemble Kalman estimate of -cond_kalman_data (a baseline) */
  PetscBool        single;  /* map, kalman or -n 1: one estimate, no spread */
  PetscInt         band;    /* -infer_band: BAND_SAMPLE, BAND_PREDICTIVE (default; both order statistics) or BAND_GAUSSIAN (mean +- t std) */
  PetscBool        mcmc;    /* -infer_type mcmc: reference samples by pCN chains */
  PFCLIInferMCMC   mc;
  PFCLIInferRefine rf;      /* -infer_gn_steps: Gauss-Newton steps from the posterior mean */
  PetscBool        cond;    /* -infer_type conditional: a model trained with observation channels */
  PetscBool        noted;   /* the noise-mismatch note was printed */
  PetscBool        latent;  /* -infer_type latent: a state model and its predictor phi (-latent) */
  PFLatent         lt;      /* its inputs come first in ctx->fields, mean, std */
  PetscInt         map_its; /* its iterations and objective (last estimate) */
  double           map_J;
  double          *massnat; /* lumped vertex masses, natural order (group leaders) */
  /* -infer_type conditional of a model given one of its fields (e.g. Re) */
  double           given_range[2], given_sigma;
  PetscInt         given_grid;
  double           given_mean, given_std; /* of the last observation's gridded posterior */
} Infer;

enum { BAND_SAMPLE, BAND_PREDICTIVE, BAND_GAUSSIAN }; /* the order of -infer_band's names */

/* rank 0 of comm: the posterior summaries into the finished samples file
 * tmp, then tmp renamed to out (errors are returned) */
static PetscErrorCode Summarise(Infer *inf, const PFObs *o, const char obsfile[], const char tmp[], const char out[], double seconds, double err[], double cov[])
{
  PFMeshData md;
  hid_t      fid, g;
  double    *X, *S;
  PetscInt   nf = inf->ctx.nfields, nv;

  PetscFunctionBegin;
  PetscCall(PFMeshDataOpen(tmp, &md));
  nv = md.nvert;
  PetscCall(PetscMalloc2((size_t)(inf->single ? 1 : inf->n) * nv, &X, 4 * (size_t)nv * nf, &S));
  for (PetscInt f = 0; f < nf; f++) {
    const double *truth = NULL;
    PetscBool     has;
    PetscCall(PFMeshDataHasField(&md, inf->ctx.fields[f], &has));
    PetscCall(PFMeshDataReadRows(&md, inf->ctx.fields[f], 0, inf->single ? 1 : inf->n, X));
    for (PetscInt k = 0; k < o->ntruth; k++)
      if (!strcmp(o->truthname[k], inf->ctx.fields[f]) && o->nvert == nv) truth = o->truth + (size_t)k * nv;
    double *Sf = S + 4 * (size_t)nv * f;
    if (inf->single) {
      /* one estimate: no spread, no band */
      for (PetscInt v = 0; v < nv; v++) {
        Sf[v] = Sf[2 * nv + v] = Sf[3 * nv + v] = X[v];
        Sf[nv + v] = 0;
      }
      err[f] = PFPosteriorEstimateError(nv, inf->massnat, X, truth);
      cov[f] = NAN;
    } else {
      PetscCall(PFPosteriorStats(inf->n, nv, X, inf->massnat, truth, PFPosteriorBandLevel(inf->n, 0.9, (PetscBool)(inf->band == BAND_PREDICTIVE)), Sf, Sf + nv, Sf + 2 * nv, Sf + 3 * nv, &err[f], &cov[f]));
      if (inf->band == BAND_GAUSSIAN) PetscCall(PFPosteriorGaussianBand(nv, Sf, Sf + nv, PFPosteriorGaussianMultiplier(inf->n, 0.9), truth, Sf + 2 * nv, Sf + 3 * nv, &cov[f]));
    }
    if (inf->rf.laplace) {
      /* the Laplace approximation's centre, not the samples' average (which
       * adds Monte Carlo error): its mean for the inputs, linear in the
       * latent variables; its state for the state fields */
      PetscCall(PetscArraycpy(Sf, inf->rf.est + (size_t)f * nv, nv));
      err[f] = PFPosteriorEstimateError(nv, inf->massnat, Sf, truth);
    }
  }
  PetscCall(PFMeshDataClose(&md));
  fid = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
  PetscCheck(fid >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot reopen '%s'", tmp);
  for (PetscInt f = 0; f < nf; f++) {
    const char *what[4] = {"mean", "std", "q05", "q95"};
    hsize_t     d[1]    = {(hsize_t)nv};
    for (int k = 0; k < 4; k++) {
      char name[160];
      PetscCall(PetscSNPrintf(name, sizeof(name), "posterior/%s/%s", inf->ctx.fields[f], what[k]));
      PetscCall(PFH5WriteArray(fid, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, d, S + 4 * (size_t)nv * f + (size_t)k * nv));
    }
  }
  g = H5Gopen2(fid, "posterior", H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write /posterior");
  PetscCall(PFH5WriteAttrString(g, "observations", obsfile));
  PetscCall(PFH5WriteAttrString(g, "infer_type", inf->map ? "map" : inf->kalman ? "kalman" : inf->mcmc ? "mcmc" : inf->cond ? "conditional" : inf->latent ? "latent" : "guidance"));
  if (inf->map) {
    PetscCall(PFH5WriteAttrInt(g, "map_iterations", inf->map_its));
    PetscCall(PFH5WriteAttrReal(g, "map_objective", inf->map_J));
  }
  if (inf->rf.steps > 0) {
    PetscCall(PFH5WriteAttrInt(g, "gn_steps", inf->rf.failed ? 0 : inf->rf.st.steps));
    PetscCall(PFH5WriteAttrInt(g, "gn_steps_asked", inf->rf.steps));
    PetscCall(PFH5WriteAttrReal(g, "gn_objective_start", inf->rf.failed ? NAN : inf->rf.st.J0));
    PetscCall(PFH5WriteAttrReal(g, "gn_objective", inf->rf.failed ? NAN : inf->rf.st.J));
    PetscCall(PFH5WriteAttrReal(g, "gn_moved_rms", inf->rf.failed ? NAN : inf->rf.moved));
    PetscCall(PFH5WriteAttrString(g, "gn_spread", inf->rf.laplace ? "laplace" : "network"));
  }
  if (inf->mcmc) {
    PetscCall(PFH5WriteAttrInt(g, "mcmc_chains", inf->mc.chains));
    PetscCall(PFH5WriteAttrInt(g, "mcmc_burn", inf->mc.p.burn));
    PetscCall(PFH5WriteAttrInt(g, "mcmc_thin", inf->mc.p.thin));
    PetscCall(PFH5WriteAttrReal(g, "mcmc_acceptance", inf->mc.acceptance));
    PetscCall(PFH5WriteAttrReal(g, "mcmc_beta", inf->mc.beta));
    PetscCall(PFH5WriteAttrString(g, "mcmc_proposal", inf->mc.laplace ? "laplace" : "pcn"));
  }
  PetscCall(PFH5WriteAttrString(g, "observed_field", o->field));
  PetscCall(PFH5WriteAttrInt(g, "nobs", o->nobs));
  PetscCall(PFH5WriteAttrReal(g, "sigma", o->sigma));
  PetscCall(PFH5WriteAttrReal(g, "infer_scale", inf->scale));
  PetscCall(PFH5WriteAttrReal(g, "infer_residual", inf->wres));
  PetscCall(PFH5WriteAttrReal(g, "seconds", seconds));
  if (!inf->single) {
    PetscCall(PFH5WriteAttrString(g, "band", inf->band == BAND_GAUSSIAN ? "gaussian" : inf->band == BAND_PREDICTIVE ? "predictive" : "sample"));
    if (inf->band == BAND_GAUSSIAN) PetscCall(PFH5WriteAttrReal(g, "band_multiplier", PFPosteriorGaussianMultiplier(inf->n, 0.9)));
    else PetscCall(PFH5WriteAttrReal(g, "band_level", PFPosteriorBandLevel(inf->n, 0.9, (PetscBool)(inf->band == BAND_PREDICTIVE))));
  }
  for (PetscInt f = 0; f < nf; f++) {
    char name[96];
    PetscCall(PetscSNPrintf(name, sizeof(name), "error_%s", inf->ctx.fields[f]));
    PetscCall(PFH5WriteAttrReal(g, name, err[f]));
    PetscCall(PetscSNPrintf(name, sizeof(name), "coverage_%s", inf->ctx.fields[f]));
    PetscCall(PFH5WriteAttrReal(g, name, cov[f]));
  }
  H5Gclose(g);
  PetscCheck(H5Fclose(fid) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot close '%s'", tmp);
  PetscCall(PFSyncRename(tmp, out, PETSC_TRUE));
  PetscCall(PetscFree2(X, S));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -infer_type conditional: nloc samples (global indices from lo) of the
 * model conditioned on the observations' encoding (PFObsEncode); on return
 * x holds their fields only, nf x nown per sample, normalised */
static PetscErrorCode SampleConditional(Infer *inf, MPI_Comm comm, const PFObs *o, PFObsOperator *H, PetscInt field, PetscInt lo, PetscInt nloc, pfreal *x)
{
  PFCLIMeshContext *ctx = &inf->ctx;
  PetscInt          nown, nf = ctx->nfields, F = nf + ctx->ncond, nfe;
  double           *yhat;
  pfreal           *mask, *val;

  PetscFunctionBegin;
  /* a group with no samples (-n below the group count) has no room for the
   * channels; its ranks skip together (everything below is collective on
   * the group only) */
  if (!nloc) PetscFunctionReturn(PETSC_SUCCESS);
  if (!inf->noted && fabs(log(o->sigma / ctx->cond_noise)) > log(2.0)) {
    /* the model's posterior is for its training noise */
    PetscCall(PetscPrintf(comm, "physflow infer: note: the observations' noise (%g) differs from the conditional model's training noise (%g): its posterior is for the latter\n", o->sigma, ctx->cond_noise));
    inf->noted = PETSC_TRUE;
  }
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCall(PetscMalloc3(o->nobs, &yhat, nown + 1, &mask, nown + 1, &val));
  for (PetscInt j = 0; j < o->nobs; j++) yhat[j] = (o->values[j] - inf->mean[field]) / inf->std[field];
  if (ctx->cond_voronoi) {
    double area;
    PetscCall(PFPhysicsGetDomainMeasure(ctx->phys, &area));
    PetscCall(PFObsEncodeVoronoi(o->nobs, o->coords, yhat, area, nown, ctx->graph->xy, mask, val));
  } else PetscCall(PFObsEncode(H, nown, yhat, mask, val));
  for (PetscInt j = 0; j < nloc; j++) {
    PetscCall(PetscArraycpy(x + ((size_t)j * F + nf) * nown, mask, nown));
    PetscCall(PetscArraycpy(x + ((size_t)j * F + nf + 1) * nown, val, nown));
  }
  if (ctx->cond_kalman) {
    /* with the training noise, as the model saw it */
    const PetscInt nk = ctx->cond_kalman_adjoint ? 2 * nf : nf;
    PetscCall(PFKalmanEstimate(&ctx->kalman, H, field, yhat, ctx->cond_noise / inf->std[field], x + (size_t)(nf + 2) * nown));
    if (ctx->cond_kalman_adjoint) PetscCall(PFKalmanAdjointSummary(&ctx->kalman, H, field, yhat, x + (size_t)(nf + 2) * nown, x + (size_t)(2 * nf + 2) * nown));
    for (PetscInt j = 1; j < nloc; j++) PetscCall(PetscArraycpy(x + ((size_t)j * F + nf + 2) * nown, x + (size_t)(nf + 2) * nown, (size_t)nk * nown));
  }
  PetscCall(PFFlowSample(inf->flow, inf->net, inf->sampler, (uint64_t)inf->seed, lo, nloc, x, &nfe));
  /* drop the channels: sample j's fields move to j nf nown (never forward) */
  for (PetscInt j = 1; j < nloc; j++) PetscCall(PetscArraymove(x + (size_t)j * nf * nown, x + (size_t)j * F * nown, nf * nown));
  PetscCall(PetscFree3(yhat, mask, val));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -infer_type latent: nloc samples of the state model guided by the
 * likelihood (pg), and the inputs predicted from them by phi; x [nloc][
 * inputs, state] (normalised).  Without fine-tuning, the augmented flow of
 * Tauberschmidt et al. (parameter velocity (phi(x1hat) - alpha)/(1 - t))
 * ends at alpha_1 = phi(x_1) for the Euler sampler, so phi is applied to
 * the sampled states directly. */
static PetscErrorCode SampleLatent(Infer *inf, PFPosteriorGuide *pg, PetscInt lo, PetscInt nloc, pfreal *x)
{
  const size_t ns = (size_t)inf->lt.nstate * inf->lt.nown, ni = (size_t)inf->lt.ninputs * inf->lt.nown;
  PetscInt     nfe;
  pfreal      *xs;

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(nloc * ns + 1, &xs));
  PetscCall(PFPosteriorGuideSetUp(pg));
  PetscCall(PFFlowSampleVelocity(inf->flow, inf->sampler, (uint64_t)inf->seed, lo, nloc, (PetscInt)ns, PFPosteriorGuideVelocity, pg, xs, &nfe));
  PetscCall(PFPosteriorGuideDestroy(pg));
  for (PetscInt j0 = 0; j0 < nloc; j0 += inf->lt.maxbatch) {
    PetscInt B = PetscMin(inf->lt.maxbatch, nloc - j0);
    PetscCall(PFLatentPredict(&inf->lt, B, xs + j0 * ns, inf->lt.dg));
    for (PetscInt b = 0; b < B; b++) {
      PetscCall(PetscArraycpy(x + (j0 + b) * (ni + ns), inf->lt.dg + b * ni, ni));
      PetscCall(PetscArraycpy(x + (j0 + b) * (ni + ns) + ni, xs + (j0 + b) * ns, ns));
    }
  }
  PetscCall(PetscFree(xs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One observation file -> out, on comm (the world, or one group in a
 * campaign) whose groups of ranks split the N samples */
static PetscErrorCode InferWithObs(Infer *, MPI_Comm, PetscInt, PetscInt, const PFObs *, const char[], const char[], double[], double[], PetscLogDouble, double *);

/* the observations are freed whatever the outcome (a campaign meets many
 * bad ones) */
static PetscErrorCode InferOne(Infer *inf, MPI_Comm comm, PetscInt gid, PetscInt G, const char obsfile[], const char out[], double err[], double cov[], double *seconds)
{
  PFObs          o;
  PetscLogDouble t0;
  PetscErrorCode ierr;

  PetscFunctionBegin;
  PetscCall(PetscTime(&t0));
  PetscCall(PFObsRead(comm, obsfile, &o));
  ierr = InferWithObs(inf, comm, gid, G, &o, obsfile, out, err, cov, t0, seconds);
  PetscCall(PFObsDestroy(&o));
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode InferWithObs(Infer *inf, MPI_Comm comm, PetscInt gid, PetscInt G, const PFObs *obs, const char obsfile[], const char out[], double err[], double cov[], PetscLogDouble t0, double *seconds)
{
  PFCLIMeshContext *ctx = &inf->ctx;
  const PFObs       o   = *obs;
  PFObsOperator     H;
  PFPosteriorGuide  pg;
  PFMesh            mesh;
  PetscInt          nown, field = -1, lo, hi, nfe, nf = ctx->nfields;
  PetscMPIInt       grank, rank;
  pfreal           *x;
  double           *rows[PF_CLI_MAXFIELDS];
  const char       *names[PF_CLI_MAXFIELDS];
  PetscInt         *idx;
  char              tmp[PETSC_MAX_PATH_LEN + 32];
  PetscLogDouble    t1;

  PetscFunctionBegin;
  field = PFCLIMeshFieldIndex(ctx, o.field);
  PetscCheck(field >= 0, comm, PETSC_ERR_ARG_WRONG, "'%s' observes field '%s', which the model does not generate", obsfile, o.field);
  PetscCheck(!inf->cond || ctx->nheld || !strcmp(o.field, ctx->cond_field), comm, PETSC_ERR_ARG_WRONG, "'%s' observes field '%s'; the conditional model was trained on sensors of '%s'", obsfile, o.field, ctx->cond_field);
  PetscCall(PFObsOperatorCreate(ctx->phys, o.nobs, o.coords, &H));
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, NULL));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  lo = (PetscInt)(((PetscInt64)gid * inf->n) / G);
  hi = (PetscInt)(((PetscInt64)(gid + 1) * inf->n) / G);
  /* one estimate, by the first group (-infer_gn_spread laplace: the
   * model's, the samples drawn around it after its refinement) */
  if (inf->single || inf->rf.laplace) lo = 0, hi = gid == 0 ? 1 : 0;
  if (inf->mcmc) PFCLIInferMCMCRows(&inf->mc, gid, G, &lo, &hi);
  PetscCall(PetscMemzero(&pg, sizeof(pg)));
  pg.net = inf->net, pg.phys = ctx->phys, pg.H = &H, pg.nf = nf, pg.nown = nown, pg.field = field;
  for (PetscInt f = 0; f < nf; f++) pg.mean[f] = inf->mean[f], pg.std[f] = inf->std[f];
  pg.y = o.values, pg.sigma = o.sigma, pg.scale = inf->scale, pg.wres = inf->wres;
  PetscCall(PetscMalloc1((size_t)(hi - lo) * (nf + ctx->ncond) * nown + 1, &x));
  if (inf->latent) {
    /* guidance acts on the state model: its fields follow the inputs */
    PetscInt ni = inf->lt.ninputs;
    PetscCheck(field >= ni, comm, PETSC_ERR_ARG_WRONG, "'%s' observes '%s', an input of the physics: latent inference observes the state fields", obsfile, o.field);
    pg.nf = nf - ni, pg.field = field - ni;
    for (PetscInt f = ni; f < nf; f++) pg.mean[f - ni] = inf->mean[f], pg.std[f - ni] = inf->std[f];
  }
  if (inf->cond && ctx->nheld) {
    PFCLIInferGiven ig = {ctx, inf->net, inf->flow, inf->sampler, inf->mean, inf->std, inf->seed, PFCLIMeshFieldIndex(ctx, ctx->held[0]), field, &o, &H, {inf->given_range[0], inf->given_range[1]}, inf->given_grid, inf->given_sigma, 0, 0};
    PetscCheck(field != ig.given, comm, PETSC_ERR_ARG_WRONG, "'%s' observes '%s', the model's given field: nothing to infer", obsfile, o.field);
    PetscCall(PFCLIInferGivenSample(&ig, comm, gid, G, lo, hi - lo, x));
    inf->given_mean = ig.post_mean, inf->given_std = ig.post_std;
  } else if (inf->cond) PetscCall(SampleConditional(inf, comm, &o, &H, field, lo, hi - lo, x));
  else if (inf->latent) PetscCall(SampleLatent(inf, &pg, lo, hi - lo, x));
  else if (inf->mcmc) PetscCall(PFCLIInferMCMCSample(&inf->mc, comm, gid, G, &o, &H, field, x));
  else if (inf->kalman) {
    if (hi > lo) {
      double *yhat;
      PetscCall(PetscMalloc1(o.nobs, &yhat));
      for (PetscInt j = 0; j < o.nobs; j++) yhat[j] = (o.values[j] - inf->mean[field]) / inf->std[field];
      PetscCall(PFKalmanEstimate(&ctx->kalman, &H, field, yhat, o.sigma / inf->std[field], x));
      PetscCall(PetscFree(yhat));
    }
  } else if (inf->map) {
    PetscScalar *xs;
    PetscCall(PetscMalloc1((size_t)nf * nown + 1, &xs));
    if (hi > lo) {
      PetscCall(PFMAPEstimate(ctx->phys, &H, field, o.values, o.sigma, xs, &inf->map_its, &inf->map_J, NULL));
      /* the writer below takes normalised states */
      for (PetscInt f = 0; f < nf; f++)
        for (PetscInt i = 0; i < nown; i++) x[f * nown + i] = (pfreal)((PetscRealPart(xs[f * nown + i]) - inf->mean[f]) / inf->std[f]);
    }
    PetscCall(PetscFree(xs));
    PetscCallMPI(MPI_Bcast(&inf->map_its, 1, MPIU_INT, 0, comm));
    PetscCallMPI(MPI_Bcast(&inf->map_J, 1, MPI_DOUBLE, 0, comm));
  } else {
    PetscCall(PFPosteriorGuideSetUp(&pg));
    PetscCall(PFFlowSampleVelocity(inf->flow, inf->sampler, (uint64_t)inf->seed, lo, hi - lo, nf * nown, PFPosteriorGuideVelocity, &pg, x, &nfe));
    PetscCall(PFPosteriorGuideDestroy(&pg));
  }
  /* physical units, natural order on the group leaders */
  for (PetscInt f = 0; f < nf; f++) names[f] = ctx->fields[f];
  PetscCall(PFCLIMeshGatherRows(ctx, hi - lo, NULL, x, inf->mean, inf->std, rows));
  PetscCall(PFCLIInferRefineRows(&inf->rf, ctx, comm, &o, &H, field, hi - lo, inf->single || inf->rf.laplace ? 1 : inf->n, rows));
  if (inf->rf.steps > 0 && inf->rf.failed && !inf->rf.laplace) PetscCall(PetscPrintf(comm, "physflow infer: note: '%s': the solve at the posterior mean failed; its samples are not Gauss-Newton refined\n", obsfile));
  if (inf->rf.laplace) {
    PetscErrorCode ierr = PFCLIInferLaplaceRows(&inf->rf, ctx, comm, gid, G, &o, &H, field, inf->n, inf->seed, &lo, &hi, rows);
    if (ierr) {
      for (PetscInt f = 0; f < nf; f++) PetscCall(PetscFree(rows[f]));
      PetscCall(PetscFree(x));
      PetscCall(PFObsOperatorDestroy(&H));
    }
    PetscCall(ierr);
  }
  PetscCall(PFObsOperatorDestroy(&H));
  PetscCall(PetscMalloc1(hi - lo + 1, &idx));
  for (PetscInt j = 0; j < hi - lo; j++) idx[j] = lo + j;
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.inprogress.h5", out));
  PetscCall(PetscLogEventBegin(PF_EVENT_IO, 0, 0, 0, 0));
  {
    /* a scratch file: Summarise completes it and renames it, synced, to out */
    PFDatasetLayout L = {inf->single ? 1 : inf->n, mesh->nvert, 2, mesh->ncells, mesh->nvpc, nf, names, 0, NULL, "samples", PETSC_TRUE};
    PFDatasetWriter w;
    PetscBool       complete;
    PetscCall(PFDatasetWriterCreate(comm, tmp, &L, mesh->coords, mesh->cells, PETSC_FALSE, &w));
    PetscCall(PFDatasetWriterSetAttrString(w, "mesh", mesh->source));
    PetscCall(PFDatasetWriterSetAttrString(w, "observations", obsfile));
    PetscCall(PFDatasetWriterSetAttrReal(w, "seed", (double)inf->seed));
    PetscCall(PFDatasetWriterWriteRows(w, grank == 0 ? hi - lo : 0, idx, (const double *const *)rows, NULL));
    PetscCall(PFDatasetWriterClose(&w, &complete));
    PetscCheck(complete, comm, PETSC_ERR_PLIB, "'%s' incomplete", tmp);
  }
  PetscCall(PetscLogEventEnd(PF_EVENT_IO, 0, 0, 0, 0));
  for (PetscInt f = 0; f < nf; f++) PetscCall(PetscFree(rows[f]));
  PetscCall(PetscFree(x));
  PetscCall(PetscFree(idx));
  PetscCall(PetscTime(&t1));
  *seconds = t1 - t0;
  {
    PetscErrorCode ierr = rank == 0 ? Summarise(inf, &o, obsfile, tmp, out, *seconds, err, cov) : PETSC_SUCCESS;
    PetscCall(PFBcastError(comm, ierr, "posterior summaries: "));
    PetscCallMPI(MPI_Bcast(err, (PetscMPIInt)nf, MPI_DOUBLE, 0, comm));
    PetscCallMPI(MPI_Bcast(cov, (PetscMPIInt)nf, MPI_DOUBLE, 0, comm));
  }
  {
    /* the XDMF of the final name (the scratch file had none; a stale one of
     * an interrupted older run is removed) */
    char xt[PETSC_MAX_PATH_LEN + 64], xo[PETSC_MAX_PATH_LEN + 64];
    size_t l;
    PetscCall(PetscSNPrintf(xt, sizeof(xt), "%s.inprogress.xmf", out));
    PetscCall(PetscStrncpy(xo, out, sizeof(xo)));
    PetscCall(PetscStrlen(xo, &l));
    if (l > 3 && !strcmp(xo + l - 3, ".h5")) xo[l - 3] = 0;
    PetscCall(PetscStrlcat(xo, ".xmf", sizeof(xo)));
    PetscErrorCode ierr = PETSC_SUCCESS;
    if (rank == 0) {
      unlink(xt);
      ierr = PFWriteXDMF(out, xo);
    }
    PetscCall(PFBcastError(comm, ierr, "the posterior's XDMF: "));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* rank 0: the *.h5 files of dir, sorted */
static int CompareNames(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static PetscErrorCode ListObservations(MPI_Comm comm, const char dir[], PetscInt *n, char (**names)[256])
{
  PetscMPIInt rank;
  PetscInt    cnt = 0, cap = 64;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc1(cap, names));
  if (rank == 0) {
    DIR           *d = opendir(dir);
    struct dirent *e;
    if (d) {
      while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".h5") || l >= 256) continue;
        if (cnt == cap) {
          char(*more)[256];
          PetscCall(PetscMalloc1(2 * cap, &more));
          PetscCall(PetscMemcpy(more, *names, sizeof(**names) * cap));
          PetscCall(PetscFree(*names));
          *names = more, cap *= 2;
        }
        PetscCall(PetscStrncpy((*names)[cnt++], e->d_name, 256));
      }
      closedir(d);
    } else cnt = -1;
    if (cnt > 0) qsort(*names, (size_t)cnt, sizeof(**names), CompareNames);
  }
  PetscCallMPI(MPI_Bcast(&cnt, 1, MPIU_INT, 0, comm));
  PetscCheck(cnt >= 0, comm, PETSC_ERR_FILE_OPEN, "cannot read the observation directory '%s'", dir);
  PetscCheck(cnt > 0, comm, PETSC_ERR_FILE_OPEN, "no observation files (*.h5) in '%s'", dir);
  if (rank && cnt > cap) {
    PetscCall(PetscFree(*names));
    PetscCall(PetscMalloc1(cnt, names));
  }
  PetscCallMPI(MPI_Bcast(*names, (PetscMPIInt)(256 * cnt), MPI_CHAR, 0, comm));
  *n = cnt;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void Stem(const char name[], char stem[], size_t len)
{
  PetscStrncpy(stem, name, len);
  size_t l = strlen(stem);
  if (l > 3 && !strcmp(stem + l - 3, ".h5")) stem[l - 3] = 0;
}

/* ", "key": v, JSON's null for a value that is not finite (a single
 * estimate's coverage): JSON has no NaN */
static void JSONMember(FILE *js, const char *prefix, const char *name, double v)
{
  if (isfinite(v)) fprintf(js, ", \"%s%s\": %.6g", prefix, name, v);
  else fprintf(js, ", \"%s%s\": null", prefix, name);
}

/* world rank 0: summary.csv and summary.json of the campaign */
static PetscErrorCode WriteSummary(Infer *inf, const char dir[], const char outdir[], PetscInt n, char (*names)[256])
{
  char  path[PETSC_MAX_PATH_LEN + 300], stem[256];
  FILE *csv, *js;
  PetscInt nf = inf->ctx.nfields, ndone = 0, nfail = 0;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/summary.csv", outdir));
  csv = fopen(path, "w");
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/summary.json", outdir));
  js = fopen(path, "w");
  PetscCheck(csv && js, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write the summary in '%s'", outdir);
  fprintf(csv, "observation,status,seconds");
  for (PetscInt f = 0; f < nf; f++) fprintf(csv, ",error_%s,coverage_%s", inf->ctx.fields[f], inf->ctx.fields[f]);
  fprintf(csv, ",message\n");
  fprintf(js, "{\"observations\": \"%s\", \"results\": [", dir);
  for (PetscInt k = 0; k < n; k++) {
    char   res[PETSC_MAX_PATH_LEN + 300], msg[512] = "";
    double v[2 * PF_CLI_MAXFIELDS + 1];
    int    ok = 0;
    Stem(names[k], stem, sizeof(stem));
    PetscCall(PetscSNPrintf(res, sizeof(res), "%s/%s_post.h5", outdir, stem));
    if (access(res, F_OK) == 0) {
      hid_t fid = H5Fopen(res, H5F_ACC_RDONLY, H5P_DEFAULT), g = fid >= 0 ? H5Gopen2(fid, "posterior", H5P_DEFAULT) : -1;
      if (g >= 0) {
        ok = 1;
        ok &= PFH5ReadAttrReal(g, "seconds", &v[0]) == PETSC_SUCCESS;
        for (PetscInt f = 0; f < nf; f++) {
          char a[96];
          PetscSNPrintf(a, sizeof(a), "error_%s", inf->ctx.fields[f]);
          ok &= PFH5ReadAttrReal(g, a, &v[1 + 2 * f]) == PETSC_SUCCESS;
          PetscSNPrintf(a, sizeof(a), "coverage_%s", inf->ctx.fields[f]);
          ok &= PFH5ReadAttrReal(g, a, &v[2 + 2 * f]) == PETSC_SUCCESS;
        }
        H5Gclose(g);
      }
      if (fid >= 0) H5Fclose(fid);
      if (!ok) PetscStrncpy(msg, "unreadable result", sizeof(msg));
    } else {
      FILE *ff;
      PetscCall(PetscSNPrintf(res, sizeof(res), "%s/%s.failed", outdir, stem));
      ff = fopen(res, "r");
      if (ff) {
        if (!fgets(msg, sizeof(msg), ff)) msg[0] = 0;
        fclose(ff);
        msg[strcspn(msg, "\n")] = 0;
      } else PetscStrncpy(msg, "not done", sizeof(msg));
    }
    for (char *c = msg; *c; c++)
      if (*c == '"' || *c == ',') *c = '\'';
    ndone += ok, nfail += !ok;
    fprintf(csv, "%s,%s", names[k], ok ? "ok" : "failed");
    fprintf(js, "%s\n  {\"observation\": \"%s\", \"status\": \"%s\"", k ? "," : "", names[k], ok ? "ok" : "failed");
    if (ok) {
      fprintf(csv, ",%.4f", v[0]);
      fprintf(js, ", \"seconds\": %.4f", v[0]);
      for (PetscInt f = 0; f < nf; f++) {
        fprintf(csv, ",%.6g,%.6g", v[1 + 2 * f], v[2 + 2 * f]);
        if (isfinite(v[1 + 2 * f])) JSONMember(js, "error_", inf->ctx.fields[f], v[1 + 2 * f]), JSONMember(js, "coverage_", inf->ctx.fields[f], v[2 + 2 * f]);
      }
      fprintf(csv, ",\n");
    } else {
      fprintf(csv, ",");
      for (PetscInt f = 0; f < nf; f++) fprintf(csv, ",,");
      fprintf(csv, ",%s\n", msg);
      fprintf(js, ", \"message\": \"%s\"", msg);
    }
    fprintf(js, "}");
  }
  fprintf(js, "\n], \"ok\": %" PetscInt_FMT ", \"failed\": %" PetscInt_FMT "}\n", ndone, nfail);
  fclose(csv);
  fclose(js);
  PetscCall(PetscPrintf(PETSC_COMM_SELF, "physflow infer: campaign summary: %" PetscInt_FMT " done, %" PetscInt_FMT " failed -> %s/summary.csv, summary.json\n", ndone, nfail, outdir));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The campaign: groups take observations from a shared counter */
static PetscErrorCode Campaign(Infer *inf, MPI_Comm world, const char dir[], const char outdir[])
{
  PFCLIMeshContext *ctx = &inf->ctx;
  char (*names)[256];
  PetscInt    n = 0, next = 0, ndone = 0, nskip = 0, nfail = 0, interrupted = 0;
  PetscMPIInt rank, grank;
  MPI_Win     win;
  PetscInt   *counter = NULL;
  PFSampler   gsampler, wsampler;

  PetscFunctionBegin;
  PetscCall(ListObservations(world, dir, &n, &names));
  {
    /* each group integrates its own observation: an adaptive sampler's
     * step control must reduce over the group, not the world */
    PFSamplerType st;
    PetscInt      steps;
    PetscCall(PFSamplerGetType(inf->sampler, &st));
    PetscCall(PFSamplerGetSteps(inf->sampler, &steps));
    PetscCall(PFSamplerCreate(ctx->gcomm, &gsampler));
    PetscCall(PFSamplerSetType(gsampler, st));
    PetscCall(PFSamplerSetSteps(gsampler, steps));
    PetscCall(PFSamplerSetFromOptions(gsampler));
    wsampler     = inf->sampler;
    inf->sampler = gsampler;
  }
  PetscCallMPI(MPI_Comm_rank(world, &rank));
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  if (rank == 0 && mkdir(outdir, 0755) && errno != EEXIST) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create '%s'", outdir);
  PetscCallMPI(MPI_Barrier(world));
  PetscCall(PetscPrintf(world, "physflow infer: campaign of %" PetscInt_FMT " observation files in %s on %" PetscInt_FMT " group(s) -> %s\n", n, dir, ctx->G, outdir));
  /* one group needs no shared counter (and a singleton Open MPI run, not
   * started by mpiexec, has no one-sided component to make one) */
  PetscCallMPI(MPI_Alloc_mem(sizeof(PetscInt), MPI_INFO_NULL, &counter));
  *counter = 0;
  if (ctx->G > 1) PetscCallMPI(MPI_Win_create(counter, rank == 0 ? sizeof(PetscInt) : 0, sizeof(PetscInt), MPI_INFO_NULL, world, &win));
  for (;;) {
    char      obs[PETSC_MAX_PATH_LEN + 300], res[PETSC_MAX_PATH_LEN + 300], failed[PETSC_MAX_PATH_LEN + 300], stem[256];
    PetscInt  one = 1, stop = 0;
    PetscBool skip = PETSC_FALSE;
    /* SIGTERM/USR1 (Slurm's warning): stop between observations; finished
     * results are kept, and a rerun continues with the rest */
    if (grank == 0) stop = PFSignalsReceived();
    PetscCallMPI(MPI_Bcast(&stop, 1, MPIU_INT, 0, ctx->gcomm));
    if (stop) {
      interrupted = 1;
      break;
    }
    if (grank == 0 && ctx->G > 1) {
      PetscCallMPI(MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win));
      PetscCallMPI(MPI_Fetch_and_op(&one, &next, MPIU_INT, 0, 0, MPI_SUM, win));
      PetscCallMPI(MPI_Win_unlock(0, win));
    } else if (grank == 0) next = (*counter)++;
    PetscCallMPI(MPI_Bcast(&next, 1, MPIU_INT, 0, ctx->gcomm));
    if (next >= n) break;
    Stem(names[next], stem, sizeof(stem));
    PetscCall(PetscSNPrintf(obs, sizeof(obs), "%s/%s", dir, names[next]));
    PetscCall(PetscSNPrintf(res, sizeof(res), "%s/%s_post.h5", outdir, stem));
    PetscCall(PetscSNPrintf(failed, sizeof(failed), "%s/%s.failed", outdir, stem));
    if (grank == 0) skip = (PetscBool)(access(res, F_OK) == 0);
    PetscCallMPI(MPI_Bcast(&skip, 1, MPIU_BOOL, 0, ctx->gcomm));
    if (skip) {
      nskip++;
      continue;
    }
    {
      double         err[PF_CLI_MAXFIELDS], cov[PF_CLI_MAXFIELDS], sec = 0;
      PetscErrorCode ierr = InferOne(inf, ctx->gcomm, 0, 1, obs, res, err, cov, &sec);
      if (ierr) {
        const char *text = NULL;
        char       *specific = NULL;
        PetscErrorMessage(ierr, &text, &specific);
        if (grank == 0) {
          FILE *f = fopen(failed, "w");
          if (f) {
            fprintf(f, "%s\n", specific && specific[0] ? specific : (text ? text : "error"));
            fclose(f);
          }
          printf("physflow infer: [group %d] %s FAILED: %s\n", (int)ctx->gid, names[next], specific && specific[0] ? specific : (text ? text : "error"));
          fflush(stdout);
        }
        nfail++;
      } else {
        if (grank == 0) {
          unlink(failed);
          printf("physflow infer: [group %d] %s: error %s %.4f, coverage %.3f, %.2f s\n", (int)ctx->gid, names[next], ctx->fields[0], err[0], cov[0], sec);
          fflush(stdout);
        }
        ndone++;
      }
    }
  }
  if (ctx->G > 1) PetscCallMPI(MPI_Win_free(&win));
  PetscCallMPI(MPI_Free_mem(counter));
  inf->sampler = wsampler;
  PetscCall(PFSamplerDestroy(&gsampler));
  {
    PetscInt c[4] = {grank == 0 ? ndone : 0, grank == 0 ? nskip : 0, grank == 0 ? nfail : 0, interrupted};
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, c, 4, MPIU_INT, MPI_SUM, world));
    PetscCall(PetscPrintf(world, "physflow infer: %" PetscInt_FMT " observations done now, %" PetscInt_FMT " finished before (skipped), %" PetscInt_FMT " failed\n", c[0], c[1], c[2]));
    if (c[3]) PetscCall(PetscPrintf(world, "physflow infer: interrupted by a signal: rerun the same command to finish the campaign\n"));
  }
  if (rank == 0) PetscCall(WriteSummary(inf, dir, outdir, n, names));
  PetscCallMPI(MPI_Barrier(world));
  PetscCall(PetscFree(names));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -infer_type latent: the predictor phi of the state model's missing
 * inputs; afterwards ctx->fields, mean and std are the physics' fields
 * (inputs, then the state) */
static PetscErrorCode LatentLoad(Infer *inf, const char path[], const char model[])
{
  PFCLIMeshContext  *ctx = &inf->ctx;
  PetscInt           nphys, nin;
  const char *const *names;
  double             imean[PF_CLI_MAXFIELDS], istd[PF_CLI_MAXFIELDS];

  PetscFunctionBegin;
  PetscCall(PFCLILatentRead(ctx, path, model, &inf->lt, imean, istd));
  PetscCall(PFPhysicsGetFields(ctx->phys, &nphys, &names, &nin));
  /* the output fields: inputs (phi's normalisation), then the state */
  for (PetscInt f = ctx->nfields - 1; f >= 0; f--) {
    PetscCall(PetscStrncpy(ctx->fields[nin + f], ctx->fields[f], sizeof(ctx->fields[0])));
    inf->mean[nin + f] = inf->mean[f], inf->std[nin + f] = inf->std[f];
  }
  for (PetscInt f = 0; f < nin; f++) {
    PetscCall(PetscStrncpy(ctx->fields[f], names[f], sizeof(ctx->fields[0])));
    inf->mean[f] = imean[f], inf->std[f] = istd[f];
  }
  ctx->nfields = nphys;
  PetscCall(PFLatentSetUp(&inf->lt, inf->chunk));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandInfer(MPI_Comm comm)
{
  Infer       inf;
  char        latent[PETSC_MAX_PATH_LEN] = "", model[PETSC_MAX_PATH_LEN] = "", obs[PETSC_MAX_PATH_LEN] = "", dir[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "posterior.h5", type[32] = "guidance", kdata[PETSC_MAX_PATH_LEN] = "";
  PetscBool   has_model, has_obs, has_dir, help, is_mesh = PETSC_FALSE, beta_set = PETSC_FALSE, band_set = PETSC_FALSE;
  PetscMPIInt grank;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&inf, sizeof(inf)));
  inf.n = 64, inf.scale = 1, inf.chunk = 16, inf.band = BAND_PREDICTIVE;
  PetscOptionsBegin(comm, NULL, "physflow infer: posterior samples of hidden fields from observations", "infer");
  PetscCall(PetscOptionsString("-model", "Mesh model (train / finetune output)", "infer", model, model, sizeof(model), &has_model));
  PetscCall(PetscOptionsString("-obs", "Observation file (physflow observe)", "infer", obs, obs, sizeof(obs), &has_obs));
  PetscCall(PetscOptionsString("-obs_dir", "Or a campaign: every *.h5 observation file of this directory", "infer", dir, dir, sizeof(dir), &has_dir));
  PetscCall(PetscOptionsString("-cond_kalman_data", "The Kalman ensemble (prior samples): of -infer_type kalman; or of a conditional model trained with -cond_kalman, if it moved (default: the path recorded in the model)", "infer", kdata, kdata, sizeof(kdata), NULL));
  PetscCall(PetscOptionsString("-infer_type", "guidance (an unconditional model guided by the likelihood), conditional (a model trained with -condition obs; or with -condition field, e.g. Re, and -cond_range: the given value's posterior on a grid), latent (a model of the state guided by the likelihood, its inputs from the predictor -latent), map (the PDE-constrained MAP estimate by TAO, a baseline; -map_tao_* options), kalman (the ensemble Kalman estimate from the prior samples of -cond_kalman_data, a linear baseline) or mcmc (reference samples of the exact posterior by pCN chains on the prior's latent variables, -mcmc_*: slow, a yardstick)", "infer", type, type, sizeof(type), NULL));
  inf.mc.p.burn = 2000, inf.mc.p.thin = 20, inf.mc.p.beta = 0.2, inf.mc.chains = 4, inf.mc.from_map = PETSC_TRUE;
  PetscCall(PetscOptionsInt("-mcmc_burn", "-infer_type mcmc: burn-in steps of each chain (the step size adapts during them)", "infer", inf.mc.p.burn, &inf.mc.p.burn, NULL));
  PetscCall(PetscOptionsInt("-mcmc_thin", "-infer_type mcmc: chain steps per kept sample", "infer", inf.mc.p.thin, &inf.mc.p.thin, NULL));
  PetscCall(PetscOptionsReal("-mcmc_beta", "-infer_type mcmc: initial pCN step in (0, 1] (default 0.2; with -mcmc_proposal laplace 1: its proposal is already posterior-sized)", "infer", inf.mc.p.beta, &inf.mc.p.beta, &beta_set));
  PetscCall(PetscOptionsInt("-mcmc_chains", "-infer_type mcmc: independent chains the samples are split over (whole chains per rank group)", "infer", inf.mc.chains, &inf.mc.chains, NULL));
  {
    const char *props[] = {"pcn", "laplace", "PFMCMCProposal", "PF_MCMC_PROPOSAL_", NULL};
    PetscEnum   pr      = (PetscEnum)inf.mc.laplace;
    PetscCall(PetscOptionsEnum("-mcmc_proposal", "-infer_type mcmc: pcn (steps sized to the prior) or laplace (generalised pCN around the Laplace approximation at the MAP: steps sized to the posterior; one adjoint solve per sensor, once per observation)", "infer", props, pr, &pr, NULL));
    inf.mc.laplace = (PetscBool)(pr == 1);
    if (inf.mc.laplace && !beta_set) inf.mc.p.beta = 1;
  }
  PetscCall(PetscOptionsBool("-mcmc_from_map", "-infer_type mcmc: start every chain at the MAP estimate (else at the prior mean)", "infer", inf.mc.from_map, &inf.mc.from_map, NULL));
  PetscCall(PetscOptionsString("-latent", "-infer_type latent: the predictor of the model's missing inputs (physflow latent)", "infer", latent, latent, sizeof(latent), NULL));
  PetscCall(PetscOptionsInt("-n", "Posterior samples per observation (1: one sample, written as a point estimate without spread or band, e.g. a conditional model's one-step mean)", "infer", inf.n, &inf.n, NULL));
  {
    const char *bands[] = {"sample", "predictive", "gaussian", "PFInferBand", "PF_INFER_BAND_", NULL};
    PetscEnum   b       = (PetscEnum)inf.band;
    PetscCall(PetscOptionsEnum("-infer_band", "The 90% band from N samples: predictive (the order statistics a further exact draw falls between with probability 0.9; N >= 19), sample (the samples' own 5% / 95% quantiles: 0.9 (N-1)/(N+1) on average) or gaussian (mean +- t_{N-1} std sqrt(1 + 1/N): exact for draws of a Gaussian at any N >= 2, e.g. a Laplace approximation's; the default with -infer_gn_spread laplace)", "infer", bands, b, &b, &band_set));
    inf.band = (PetscInt)b;
  }
  PetscCall(PetscOptionsInt("-seed", "Seed of the samples' noise", "infer", inf.seed, &inf.seed, NULL));
  PetscCall(PetscOptionsReal("-infer_scale", "Scale of the likelihood guidance (1: the first-order posterior drift)", "infer", inf.scale, &inf.scale, NULL));
  PetscCall(PetscOptionsReal("-infer_residual", "Weight w of the PDE residual term w |R|^2 / (2 |F|^2) in the guidance", "infer", inf.wres, &inf.wres, NULL));
  PetscCall(PetscOptionsInt("-infer_gn_steps", "Gauss-Newton steps of the MAP objective from the posterior mean (its logK projected onto the prior's latent map; one forward and k + 1 adjoint solves each for k sensors), the samples moved with the mean: the physics' correction of an amortised estimate (0: none)", "infer", inf.rf.steps, &inf.rf.steps, NULL));
  {
    const char *spreads[] = {"network", "laplace", "PFInferSpread", "PF_INFER_SPREAD_", NULL};
    PetscEnum   sp        = (PetscEnum)inf.rf.laplace;
    PetscCall(PetscOptionsEnum("-infer_gn_spread", "With -infer_gn_steps, the samples' spread: network (the model's samples moved with their refined mean) or laplace (the model sampled once for its estimate, -n samples drawn from the Gaussian (Laplace) approximation of the posterior at the refined estimate: inputs through the prior's latent map, each state solved for them (-infer_laplace_state); a Gaussian band by default)", "infer", spreads, sp, &sp, NULL));
    inf.rf.laplace = (PetscBool)(sp == 1);
  }
  /* Laplace samples are Gaussian in the latent variables (and the inputs,
   * linear in them): the Gaussian band holds at any -n */
  if (inf.rf.laplace && !band_set) inf.band = BAND_GAUSSIAN;
  {
    const char *states[] = {"solve", "linear", "PFLaplaceState", "PF_LAPLACE_STATE_", NULL};
    PetscEnum   ls       = (PetscEnum)inf.rf.laplace_linear;
    PetscCall(PetscOptionsEnum("-infer_laplace_state", "-infer_gn_spread laplace: each sample's state solved for its inputs (samples that obey the PDE) or linear (the linearised model's: one chord step with the estimate's factorised Jacobian; first order only)", "infer", states, ls, &ls, NULL));
    inf.rf.laplace_linear = (PetscBool)(ls == 1);
  }
  PetscCall(PetscOptionsInt("-sample_batch", "Samples per network evaluation", "infer", inf.chunk, &inf.chunk, NULL));
  {
    PetscInt  nr = 2;
    PetscBool set;
    inf.given_grid = 64;
    PetscCall(PetscOptionsRealArray("-cond_range", "-infer_type conditional, a model given one of its fields (e.g. Re): that value's uniform prior lo,hi", "infer", inf.given_range, &nr, &set));
    PetscCheck(!set || (nr == 2 && inf.given_range[0] <= inf.given_range[1] && isfinite(inf.given_range[0] + inf.given_range[1])), comm, PETSC_ERR_ARG_WRONG, "-cond_range takes lo,hi (finite, lo <= hi)");
    if (!set) inf.given_range[0] = inf.given_range[1] = NAN;
    PetscCall(PetscOptionsInt("-infer_grid", "-cond_range: grid points of the given value's posterior", "infer", inf.given_grid, &inf.given_grid, NULL));
    PetscCall(PetscOptionsReal("-infer_model_sigma", "-cond_range: the model's own error in the observed field, added to the noise in quadrature", "infer", inf.given_sigma, &inf.given_sigma, NULL));
    PetscCheck(inf.given_grid >= 2 && inf.given_sigma >= 0 && isfinite(inf.given_sigma), comm, PETSC_ERR_ARG_OUTOFRANGE, "-infer_grid must be >= 2 and -infer_model_sigma >= 0");
  }
  PetscCall(PetscOptionsString("-o", "Posterior file (a campaign: the output directory)", "infer", out, out, sizeof(out), NULL));
  PetscOptionsEnd();
  PetscCall(PFSamplerCreate(comm, &inf.sampler));
  PetscCall(PFSamplerSetType(inf.sampler, PFSAMPLERHEUN));
  PetscCall(PFSamplerSetSteps(inf.sampler, 10));
  PetscCall(PFSamplerSetFromOptions(inf.sampler));
  if (has_model) {
    PetscCall(PFCLIIsMeshModel(comm, model, &is_mesh));
    PetscCheck(is_mesh, comm, PETSC_ERR_ARG_WRONG, "'%s' is not a mesh (PDE field) model: infer needs fields on a mesh", model);
    {
      /* the MAP prior: the random field of the model's training data */
      char data[PETSC_MAX_PATH_LEN];
      PetscCall(PFCLIPeek(comm, model, "data", "file", NULL, data, sizeof(data)));
      if (data[0]) PetscCall(PFCLIFieldOptionsFromFile(comm, data));
    }
    PetscCall(PFCLIMeshSampleOptions(comm, model, &inf.ctx));
    inf.ctx.allow_condition       = (PetscBool)!strcmp(type, "conditional");
    inf.ctx.allow_field_condition = inf.ctx.allow_condition;
    PetscCall(PetscStrncpy(inf.ctx.cond_kalman_data, kdata, sizeof(inf.ctx.cond_kalman_data))); /* the context is created above */
  }
  if (!strcmp(type, "map") || !strcmp(type, "mcmc")) {
    /* TAO's options (-map_tao_*: also of the MAP the chains start at) are
     * read here, so that they count as used */
    Tao tao;
    PetscCall(TaoCreate(PETSC_COMM_SELF, &tao));
    PetscCall(TaoSetType(tao, TAOBLMVM));
    PetscCall(TaoSetOptionsPrefix(tao, "map_"));
    PetscCall(TaoSetFromOptions(tao));
    PetscCall(TaoDestroy(&tao)); /* the viewers TaoSolve reads at its end: PFCLIOptionsDone */
  }
  PetscCall(PFCLIOptionsDone(comm, "infer", &help));
  if (help) goto done;
  PetscCheck(has_model, comm, PETSC_ERR_ARG_WRONG, "give the model: -model m.h5");
  PetscCheck(has_obs != has_dir, comm, PETSC_ERR_ARG_WRONG, "give one observation file (-obs obs.h5) or a campaign directory (-obs_dir DIR)");
  inf.map    = (PetscBool)!strcmp(type, "map");
  inf.kalman = (PetscBool)!strcmp(type, "kalman");
  inf.single = (PetscBool)(!inf.rf.laplace && (inf.map || inf.kalman || inf.n == 1));
  inf.mcmc = (PetscBool)!strcmp(type, "mcmc");
  inf.cond   = (PetscBool)!strcmp(type, "conditional");
  inf.latent = (PetscBool)!strcmp(type, "latent");
  PetscCheck(inf.map || inf.kalman || inf.mcmc || inf.cond || inf.latent || !strcmp(type, "guidance"), comm, PETSC_ERR_SUP, "-infer_type '%s' is not implemented (available: guidance, conditional, latent, map, kalman, mcmc)", type);
  PetscCheck(!inf.kalman || inf.ctx.cond_kalman_data[0], comm, PETSC_ERR_ARG_WRONG, "-infer_type kalman needs the ensemble: -cond_kalman_data prior_samples.h5");
  PetscCheck(!inf.mcmc || (inf.mc.p.burn >= 0 && inf.mc.p.thin >= 1 && inf.mc.p.beta > 0 && inf.mc.p.beta <= 1 && inf.mc.chains >= 1 && inf.mc.chains <= inf.n), comm, PETSC_ERR_ARG_OUTOFRANGE, "-infer_type mcmc needs -mcmc_burn >= 0, -mcmc_thin >= 1, 0 < -mcmc_beta <= 1 and 1 <= -mcmc_chains <= -n");
  PetscCheck(!inf.mcmc || !inf.mc.laplace || inf.mc.from_map, comm, PETSC_ERR_ARG_INCOMP, "-mcmc_proposal laplace is centred at the MAP: it needs -mcmc_from_map (the default)");
  PetscCheck(!inf.latent || latent[0], comm, PETSC_ERR_ARG_WRONG, "-infer_type latent needs the predictor: -latent phi.h5 (physflow latent)");
  PetscCheck(!inf.latent || inf.wres == 0, comm, PETSC_ERR_SUP, "-infer_residual is not available with -infer_type latent (the state model alone has no residual)");
  PetscCheck(inf.rf.steps >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-infer_gn_steps must be >= 0");
  PetscCheck(!inf.rf.laplace || inf.rf.steps > 0, comm, PETSC_ERR_ARG_INCOMP, "-infer_gn_spread laplace draws around the Gauss-Newton refined estimate: give -infer_gn_steps 1 or more");
  PetscCheck(!inf.rf.laplace || inf.n >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-infer_gn_spread laplace: -n is the number of Laplace samples, at least 2");
  PetscCheck(!inf.rf.steps || !(inf.map || inf.mcmc), comm, PETSC_ERR_ARG_INCOMP, "-infer_gn_steps refines a generative or Kalman estimate; -infer_type %s already follows the MAP objective", type);
  PetscCheck(inf.n >= 1 && inf.chunk >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-n must be >= 1 (2 or more for posterior statistics) and -sample_batch >= 1");
  if (!inf.single && inf.band == BAND_PREDICTIVE && PFPosteriorBandLevel(inf.n, 0.9, PETSC_TRUE) == 0) PetscCall(PetscPrintf(comm, "note: with -n %" PetscInt_FMT " samples the 90%% band is their range, which holds only %.0f%% of the posterior on average (-n 19 or more for 90%%)\n", inf.n, 100.0 * (inf.n - 1) / (inf.n + 1)));
  PetscCheck(inf.scale >= 0 && inf.wres >= 0 && isfinite(inf.scale) && isfinite(inf.wres), comm, PETSC_ERR_ARG_OUTOFRANGE, "-infer_scale and -infer_residual must be >= 0");
  if (has_obs) PetscCall(PFCheckWritable(comm, out));
  PetscCall(PFCLIMeshModelLoad(&inf.ctx, model, PETSC_TRUE, &inf.net, &inf.flow, inf.mean, inf.std));
  if (inf.kalman && !inf.cond) inf.ctx.cond_kalman = -1; /* the baseline: every sample of the ensemble */
  if (inf.ctx.cond_kalman) {
    /* the model's Kalman input channels: the ensemble it was trained with (or the baseline's) */
    const char     *names[PF_CLI_MAXFIELDS];
    const PetscInt *nat;
    PetscInt        nown;
    PetscBool       exists;
    for (PetscInt f = 0; f < inf.ctx.nfields; f++) names[f] = inf.ctx.fields[f];
    PetscCall(PetscTestFile(inf.ctx.cond_kalman_data, 'r', &exists));
    PetscCheck(exists, comm, PETSC_ERR_FILE_OPEN, "the Kalman ensemble '%s' cannot be read (%s): give its dataset with -cond_kalman_data", inf.ctx.cond_kalman_data, inf.kalman ? "-infer_type kalman" : model);
    PetscCall(PFPhysicsGetVertexMap(inf.ctx.phys, &nown, &nat));
    PetscCall(PFKalmanCreate(inf.ctx.gcomm, inf.ctx.cond_kalman_data, inf.ctx.cond_kalman, inf.ctx.nfields, names, nown, nat, inf.mean, inf.std, &inf.ctx.kalman));
    if (inf.ctx.cond_kalman_adjoint) PetscCall(PFKalmanSetPhysics(&inf.ctx.kalman, inf.ctx.phys, names));
  }
  inf.mc.ctx = &inf.ctx, inf.mc.mean = inf.mean, inf.mc.std = inf.std, inf.mc.n = inf.n, inf.mc.seed = inf.seed;
  PetscCheck(!inf.cond || inf.ctx.ncond || inf.ctx.nheld, comm, PETSC_ERR_ARG_WRONG, "'%s' is not a conditional model: train one with -condition obs, or use -infer_type guidance", model);
  PetscCheck(!inf.ctx.nheld || inf.ctx.nheld == 1, comm, PETSC_ERR_SUP, "'%s' is given %" PetscInt_FMT " fields: inference of more than one given value is not built", model, inf.ctx.nheld);
  PetscCheck(!inf.ctx.nheld || isfinite(inf.given_range[0]), comm, PETSC_ERR_ARG_WRONG, "'%s' is conditioned on %s: give that value's prior range, -cond_range lo,hi", model, inf.ctx.held[0]);
  /* guidance and MAP need whole physics states; a conditional model
   * generates what it was trained on; latent: the state and its predictor */
  if (inf.latent) PetscCall(LatentLoad(&inf, latent, model));
  else if (!inf.cond) PetscCall(PFCLIMeshCheckAllFields(&inf.ctx, model, "infer"));
  if (inf.rf.steps) {
    PetscCheck(!inf.ctx.nheld, comm, PETSC_ERR_SUP, "-infer_gn_steps: not for a model given one of its fields ('%s' is given %s)", model, inf.ctx.held[0]);
    PetscCall(PFCLIMeshCheckAllFields(&inf.ctx, model, "-infer_gn_steps"));
  }
  if (inf.rf.steps || inf.map || inf.mcmc) {
    /* the latent prior is set up here, not in the first observation's time */
    PetscInt m;
    PetscCall(PFPhysicsGetLatentSize(inf.ctx.phys, &m));
    PetscCheck(m > 0, comm, PETSC_ERR_SUP, "%s needs a latent prior map of the inputs (Darcy: -darcy_field kl)", inf.rf.steps ? "-infer_gn_steps" : inf.map ? "-infer_type map" : "-infer_type mcmc");
  }
  {
    PFFlowType ft;
    PetscCall(PFFlowGetType(inf.flow, &ft));
    PetscCheck(!strcmp(ft, PFFLOWCFM) || !strcmp(ft, PFFLOWOTCFM), comm, PETSC_ERR_ARG_WRONG, "guided inference steers a flow-matching (cfm/otcfm) model; '%s' is '%s'", model, ft);
  }
  PetscCall(PFNetPlan(inf.net, inf.chunk));
  {
    PFMesh             mesh;
    const PetscScalar *mass;
    PetscCall(PFPhysicsGetMesh(inf.ctx.phys, &mesh));
    PetscCall(PFPhysicsGetVertexMass(inf.ctx.phys, &mass));
    PetscCallMPI(MPI_Comm_rank(inf.ctx.gcomm, &grank));
    PetscCall(PetscMalloc1(mesh->nvert, &inf.massnat));
    PetscCall(PFPhysicsGatherNatural(inf.ctx.phys, mass, grank == 0 ? inf.massnat : NULL));
  }
  if (has_dir) PetscCall(Campaign(&inf, comm, dir, out));
  else {
    double err[PF_CLI_MAXFIELDS], cov[PF_CLI_MAXFIELDS], sec;
    PetscCall(InferOne(&inf, comm, inf.ctx.gid, inf.ctx.G, obs, out, err, cov, &sec));
    if (inf.kalman) PetscCall(PetscPrintf(comm, "physflow infer: ensemble Kalman estimate (%" PetscInt_FMT " members) in %.2f s -> %s", inf.ctx.kalman.N, sec, out));
    else if (inf.map) PetscCall(PetscPrintf(comm, "physflow infer: MAP estimate (%" PetscInt_FMT " TAO iterations, objective %.4g) in %.2f s -> %s", inf.map_its, inf.map_J, sec, out));
    else PetscCall(PetscPrintf(comm, "physflow infer: %" PetscInt_FMT " %sposterior samples in %.2f s -> %s", inf.n, inf.cond ? "conditional " : "", sec, out));
    if (inf.cond && inf.ctx.nheld) PetscCall(PetscPrintf(comm, "; %s posterior (grid of %" PetscInt_FMT "): %.4g +- %.3g", inf.ctx.held[0], inf.given_grid, inf.given_mean, inf.given_std));
    if (inf.mcmc) PetscCall(PetscPrintf(comm, "; %" PetscInt_FMT " pCN chain(s), acceptance %.3f, step %.3g", inf.mc.chains, inf.mc.acceptance, inf.mc.beta));
    for (PetscInt f = 0; f < inf.ctx.nfields; f++)
      if (isfinite(err[f])) PetscCall(PetscPrintf(comm, "; %s: error of the %s %.4f, 90%% band coverage %.3f", inf.ctx.fields[f], inf.single ? "estimate" : "mean", err[f], cov[f]));
    PetscCall(PetscPrintf(comm, "\n"));
  }
done:
  PetscCall(PetscFree(inf.massnat));
  if (inf.lt.maxbatch) PetscCall(PFLatentDestroy(&inf.lt));
  PetscCall(PFNetDestroy(&inf.lt.phi));
  PetscCall(PFNetDestroy(&inf.net));
  PetscCall(PFFlowDestroy(&inf.flow));
  PetscCall(PFSamplerDestroy(&inf.sampler));
  PetscCall(PFCLIInferRefineDestroy(&inf.rf));
  if (is_mesh) PetscCall(PFCLIMeshContextDestroy(&inf.ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}
