/* physflow latent -model state_model.h5 [-samples s.h5] [-n N] -o phi.h5
 *
 * The latent parameter predictor of Tauberschmidt et al. 2025 (issue 7,
 * -infer_type latent): for a model that generates only the state fields
 * of a physics (e.g. p of Darcy, trained with -fields p), a mesh network
 * phi maps a generated state to the inputs it lacks (logK), trained with
 * no labels at all: minimise the residual of (phi(x), x) over samples x
 * of the model (-constraint_norm, default error2: the squared re-solve
 * distance, which weighs the smooth error instead of the finest mesh
 * modes, see include/physflow/constraint.h).  The samples come from
 * -samples (a samples file of the model) or are generated into it first
 * (-n, the model's sampler).  Groups of ranks split each batch (one
 * allreduce of the gradient per step), AdamW with cosine decay.  The
 * result (kind "latent") holds phi's network, the normalisation of its
 * inputs and outputs, and its loss history; written atomically. */
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <physflow/h5util.h>
#include <physflow/log.h>
#include <physflow/meshdata.h>
#include <physflow/optim.h>
#include <physflow/signals.h>
#include "cli.h"

typedef struct {
  PFCLIMeshContext ctx;
  PFLatent         lt;
  PetscInt         nstate, ninputs, steps, Bg, seed;
  double           lr, smean[PF_CLI_MAXFIELDS], sstd[PF_CLI_MAXFIELDS];
  char             model[PETSC_MAX_PATH_LEN], samples[PETSC_MAX_PATH_LEN];
  const char      *inputs[PF_CLI_MAXFIELDS];
  const char      *state[PF_CLI_MAXFIELDS];
  double          *history;
  /* -eval_data: per-sample relative L2 error of phi(state) against the
   * true inputs of labelled (solver) samples */
  char             eval_data[PETSC_MAX_PATH_LEN];
  PetscInt         neval;
  double          *eval_err;
} Latent;

/* rank 0: the predictor file, atomically */
static PetscErrorCode WriteLatent(Latent *L, const char path[], PetscInt done)
{
  PFH5Temp t;
  hid_t    g;
  hsize_t  dn[1] = {(hsize_t)L->ninputs}, ds[1] = {(hsize_t)L->nstate}, dh[1] = {(hsize_t)done};
  double   zero[PF_CLI_MAXFIELDS], one[PF_CLI_MAXFIELDS];
  char     list[1024] = "";

  PetscFunctionBegin;
  for (PetscInt f = 0; f < L->ninputs; f++) {
    zero[f] = 0, one[f] = 1;
    PetscCall(PetscStrlcat(list, f ? "," : "", sizeof(list)));
    PetscCall(PetscStrlcat(list, L->inputs[f], sizeof(list)));
  }
  PetscCall(PFH5CreateTemp(path, &t));
  PetscCall(PFH5WriteStandardAttrs(t.fid, "latent"));
  PetscCall(PFNetWriteH5(L->lt.phi, t.fid));
  g = H5Gcreate2(t.fid, "latent", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create /latent in '%s'", path);
  PetscCall(PFH5WriteAttrString(g, "model", L->model));
  PetscCall(PFH5WriteAttrString(g, "samples", L->samples));
  PetscCall(PFH5WriteAttrString(g, "inputs", list));
  PetscCall(PFH5WriteAttrInt(g, "train_steps", done));
  H5Gclose(g);
  /* phi's outputs are the inputs normalised by their prior's scale (the
   * random fields have zero mean and unit-order std), its inputs the state
   * normalised as in the model */
  PetscCall(PFH5WriteArray(t.fid, "latent/input_mean", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dn, zero));
  PetscCall(PFH5WriteArray(t.fid, "latent/input_std", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dn, one));
  PetscCall(PFH5WriteArray(t.fid, "latent/state_mean", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, ds, L->smean));
  PetscCall(PFH5WriteArray(t.fid, "latent/state_std", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, ds, L->sstd));
  if (done > 0) PetscCall(PFH5WriteArray(t.fid, "history/loss", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, dh, L->history));
  if (L->neval) {
    hsize_t de[1] = {(hsize_t)L->neval};
    PetscCall(PFH5WriteArray(t.fid, "latent/eval_error", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, de, L->eval_err));
    g = H5Gopen2(t.fid, "latent", H5P_DEFAULT);
    PetscCall(PFH5WriteAttrString(g, "eval_data", L->eval_data));
    H5Gclose(g);
  }
  PetscCall(PFH5CommitTemp(&t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The training loop: groups split each batch of Bg states */
static PetscErrorCode TrainLatent(Latent *L, MPI_Comm world, PFData data, PetscInt *done)
{
  PFCLIMeshContext *ctx = &L->ctx;
  PFAdamWParams     adam = {0.9, 0.999, 1e-8, 0.01};
  const PetscInt    lo = (PetscInt)(((PetscInt64)ctx->gid * L->Bg) / ctx->G), hi = (PetscInt)(((PetscInt64)(ctx->gid + 1) * L->Bg) / ctx->G);
  size_t            np;
  pfreal           *P, *Gr, *m, *v, *red, *xs;
  PetscLogDouble    t0, t1;

  PetscFunctionBegin;
  PetscCall(PFNetGetParameters(L->lt.phi, &np, &P, &Gr));
  PetscCall(PetscCalloc3(np, &m, np, &v, np + 3, &red));
  PetscCall(PetscMalloc1((size_t)(hi - lo) * L->nstate * L->lt.nown + 1, &xs));
  PetscCall(PetscTime(&t0));
  *done = 0;
  for (PetscInt it = 0; it < L->steps; it++) {
    double lsum = 0;
    PetscCall(PFDataGetBatch(data, it, L->Bg, lo, hi - lo, xs));
    PetscCall(PFNetZeroGradient(L->lt.phi));
    PetscCall(PFLatentLossGradient(&L->lt, hi - lo, L->Bg, xs, &lsum));
    /* one allreduce over the world: gradient, loss (summed over each
     * group's vertices: group rank 0 counts it), stop flag, the states
     * left out so far because their solve failed (each group's count) */
    {
      PetscMPIInt grank;
      PetscInt    nfailed;
      PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
      PetscCall(PFConstraintGetFailedSolves(L->lt.c, &nfailed));
      PetscCall(PetscArraycpy(red, Gr, np));
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &lsum, 1, MPI_DOUBLE, MPI_SUM, ctx->gcomm));
      red[np]     = (pfreal)(grank == 0 ? lsum / (double)L->Bg : 0);
      red[np + 1] = (pfreal)(PFSignalsReceived() ? 1 : 0);
      red[np + 2] = (pfreal)(grank == 0 ? nfailed : 0);
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, red, (PetscMPIInt)(np + 3), MPIU_PFREAL, MPI_SUM, world));
    PetscCheck(isfinite((double)red[np]), world, PETSC_ERR_FP, "latent training diverged at step %" PetscInt_FMT ": lower -lr", it + 1);
    PetscCall(PetscArraycpy(Gr, red, np));
    PFAdamWStep(np, &adam, L->lr * 0.5 * (1 + cos(M_PI * (double)it / (double)L->steps)), it + 1, P, Gr, m, v);
    L->history[it] = (double)red[np];
    *done          = it + 1;
    if (it == 0 || (it + 1) % PetscMax(1, L->steps / 20) == 0 || it + 1 == L->steps) {
      PetscCall(PetscTime(&t1));
      PetscCall(PetscPrintf(world, "  step %5" PetscInt_FMT "/%" PetscInt_FMT "  residual of (phi(x), x) %.4e  %.1f s", it + 1, L->steps, (double)red[np], t1 - t0));
      if (red[np + 2] > 0) PetscCall(PetscPrintf(world, "  (%.0f state(s) left out so far: their solve failed)", (double)red[np + 2]));
      PetscCall(PetscPrintf(world, "\n"));
    }
    if (red[np + 1] > 0) {
      PetscCall(PetscPrintf(world, "physflow latent: signal received: stopping after %" PetscInt_FMT " of %" PetscInt_FMT " steps (the predictor so far is written)\n", it + 1, L->steps));
      break;
    }
  }
  PetscCall(PetscFree3(m, v, red));
  PetscCall(PetscFree(xs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int CompareDouble(const void *a, const void *b) { return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b); }

/* -eval_data: the groups take the first neval samples in turn; each rank
 * reads its owned vertices of the rows */
static PetscErrorCode EvaluateLatent(Latent *L, MPI_Comm world)
{
  PFCLIMeshContext  *ctx = &L->ctx;
  PFMeshData         md;
  PetscInt           nown, ni = L->ninputs, ns = L->nstate;
  const PetscInt    *nat;
  const PetscScalar *mass;
  double            *row, *sorted;
  pfreal            *xs;
  PetscMPIInt        grank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(ctx->gcomm, &grank));
  PetscCall(PFMeshDataOpen(L->eval_data, &md));
  for (PetscInt f = 0; f < ni + ns; f++) {
    PetscBool has;
    PetscCall(PFMeshDataHasField(&md, f < ni ? L->inputs[f] : L->state[f - ni], &has)); /* (sets nsamples) */
    PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "-eval_data '%s' has no field '%s'", L->eval_data, f < ni ? L->inputs[f] : L->state[f - ni]);
  }
  {
    PFMesh mesh;
    PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
    PetscCheck(md.nvert == mesh->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "-eval_data '%s' has %" PetscInt_FMT " vertices, the model's mesh %" PetscInt_FMT, L->eval_data, md.nvert, mesh->nvert);
  }
  PetscCheck(md.nsamples > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "-eval_data '%s' holds no samples", L->eval_data);
  if (md.nsamples < L->neval) L->neval = md.nsamples;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &nown, &nat));
  PetscCall(PFPhysicsGetVertexMass(ctx->phys, &mass));
  PetscCall(PetscMalloc3(md.nvert, &row, (size_t)(ni + ns) * nown + 1, &xs, L->neval + 1, &sorted));
  PetscCall(PetscCalloc1(L->neval + 1, &L->eval_err));
  for (PetscInt j = ctx->gid; j < L->neval; j += ctx->G) {
    double s[2] = {0, 0};
    for (PetscInt f = 0; f < ns; f++) {
      PetscCall(PFMeshDataReadRows(&md, L->state[f], j, 1, row));
      for (PetscInt i = 0; i < nown; i++) xs[f * nown + i] = (pfreal)((row[nat[i]] - L->smean[f]) / L->sstd[f]);
    }
    PetscCall(PFLatentPredict(&L->lt, 1, xs, L->lt.dg));
    for (PetscInt f = 0; f < ni; f++) {
      PetscCall(PFMeshDataReadRows(&md, L->inputs[f], j, 1, row));
      for (PetscInt i = 0; i < nown; i++) {
        double t = row[nat[i]], e = (double)L->lt.dg[f * nown + i] - t; /* phi's outputs: mean 0, std 1 */
        s[0] += PetscRealPart(mass[i]) * e * e, s[1] += PetscRealPart(mass[i]) * t * t;
      }
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s, 2, MPI_DOUBLE, MPI_SUM, ctx->gcomm));
    if (grank == 0) L->eval_err[j] = sqrt(s[0] / PetscMax(s[1], 1e-300));
  }
  PetscCall(PFMeshDataClose(&md));
  /* each value from its group's rank 0 */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, L->eval_err, (PetscMPIInt)L->neval, MPI_DOUBLE, MPI_SUM, world));
  PetscCall(PetscArraycpy(sorted, L->eval_err, L->neval));
  qsort(sorted, (size_t)L->neval, sizeof(double), CompareDouble);
  {
    double m = 0;
    for (PetscInt j = 0; j < L->neval; j++) m += sorted[j] / (double)L->neval;
    PetscCall(PetscPrintf(world, "physflow latent: phi(%s) against the true %s of %" PetscInt_FMT " samples of %s: relative L2 error mean %.4f, median %.4f, min %.4f, max %.4f (predicting the prior mean: 1)\n", L->state[0], L->inputs[0], L->neval, L->eval_data, m, sorted[L->neval / 2], sorted[0], sorted[L->neval - 1]));
  }
  PetscCall(PetscFree3(row, xs, sorted));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandLatent(MPI_Comm comm)
{
  Latent           L;
  char             out[PETSC_MAX_PATH_LEN] = "latent.h5";
  PetscInt         nsamples = 1024, chunk = 16, done = 0;
  PetscBool        has_model, has_samples, help, is_mesh = PETSC_FALSE;
  PFSampler        sampler = NULL;
  PFData           data    = NULL;
  PetscMPIInt      rank;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&L, sizeof(L)));
  L.steps = 1000, L.Bg = 16, L.lr = 1e-3, L.seed = 0, L.lt.prior = 0.01;
  PetscOptionsBegin(comm, NULL, "physflow latent: the label-free latent parameter predictor of a state model", "latent");
  PetscCall(PetscOptionsString("-model", "Model of the state fields only (train -fields p)", "latent", L.model, L.model, sizeof(L.model), &has_model));
  PetscCall(PetscOptionsString("-samples", "Samples of the model to train on (generated first if the file does not exist; default <o>_samples.h5)", "latent", L.samples, L.samples, sizeof(L.samples), &has_samples));
  PetscCall(PetscOptionsInt("-n", "Samples to generate when -samples does not exist", "latent", nsamples, &nsamples, NULL));
  PetscCall(PetscOptionsInt("-sample_batch", "Samples per network evaluation when generating", "latent", chunk, &chunk, NULL));
  PetscCall(PetscOptionsInt("-train_steps", "Optimisation steps", "latent", L.steps, &L.steps, NULL));
  PetscCall(PetscOptionsInt("-batch_size", "States per step (split over the groups)", "latent", L.Bg, &L.Bg, NULL));
  PetscCall(PetscOptionsReal("-lr", "AdamW learning rate (cosine decay; weight decay 0.01)", "latent", L.lr, &L.lr, NULL));
  PetscCall(PetscOptionsReal("-latent_prior", "Weight w of the Gaussian prior term w |phi(x)|_M^2/|domain| (picks the smallest inputs where the state does not determine them)", "latent", L.lt.prior, &L.lt.prior, NULL));
  PetscCall(PetscOptionsInt("-seed", "Seed of the weights, the shuffles and generated samples", "latent", L.seed, &L.seed, NULL));
  PetscCall(PetscOptionsString("-eval_data", "Labelled samples (datagen output) to report phi's per-sample error against the true inputs", "latent", L.eval_data, L.eval_data, sizeof(L.eval_data), NULL));
  L.neval = 64;
  PetscCall(PetscOptionsInt("-eval_n", "Samples of -eval_data to evaluate", "latent", L.neval, &L.neval, NULL));
  PetscCall(PetscOptionsString("-o", "Output: the predictor (kind latent)", "latent", out, out, sizeof(out), NULL));
  PetscOptionsEnd();
  PetscCall(PFCLIDefaultOption("-net_type", PFNETMESHUNET));
  PetscCall(PFNetCreate(comm, &L.lt.phi));
  PetscCall(PFNetSetFromOptions(L.lt.phi));
  PetscCall(PFConstraintCreate(comm, &L.lt.c));
  PetscCall(PFConstraintSetFromOptions(L.lt.c));
  PetscCall(PFSamplerCreate(comm, &sampler));
  PetscCall(PFSamplerSetType(sampler, PFSAMPLERHEUN));
  PetscCall(PFSamplerSetSteps(sampler, 10));
  if (has_model) {
    PetscCall(PFCLIIsMeshModel(comm, L.model, &is_mesh));
    PetscCheck(is_mesh, comm, PETSC_ERR_ARG_WRONG, "'%s' is not a mesh (PDE field) model", L.model);
    PetscCall(PFCLIModelSamplerDefaults(comm, L.model, sampler));
    PetscCall(PFCLIMeshSampleOptions(comm, L.model, &L.ctx));
  }
  PetscCall(PFSamplerSetFromOptions(sampler));
  PetscCall(PFCLIOptionsDone(comm, "latent", &help));
  if (help) goto done;
  PetscCheck(has_model, comm, PETSC_ERR_ARG_WRONG, "give the state model: -model p_model.h5");
  PetscCheck(L.steps >= 1 && L.Bg >= 1 && nsamples >= 1 && chunk >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_steps, -batch_size, -n and -sample_batch must be positive");
  PetscCheck(L.lr > 0 && isfinite(L.lr), comm, PETSC_ERR_ARG_OUTOFRANGE, "-lr must be positive");
  PetscCheck(L.lt.prior >= 0 && isfinite(L.lt.prior), comm, PETSC_ERR_ARG_OUTOFRANGE, "-latent_prior must be >= 0");
  PetscCheck(L.neval >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-eval_n must be positive");
  if (L.eval_data[0]) {
    PetscBool ok;
    PetscCall(PFCLIIsMeshFile(comm, L.eval_data, &ok));
    PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "cannot read -eval_data '%s' as mesh fields: missing, not HDF5, or not a physflow dataset", L.eval_data);
  }
  PetscCheck(L.Bg >= L.ctx.G, comm, PETSC_ERR_ARG_OUTOFRANGE, "-batch_size %" PetscInt_FMT " must be at least the number of groups (%" PetscInt_FMT ")", L.Bg, L.ctx.G);
  PetscCall(PFCheckWritable(comm, out));
  if (!has_samples) {
    size_t l;
    PetscCall(PetscStrncpy(L.samples, out, sizeof(L.samples)));
    PetscCall(PetscStrlen(L.samples, &l));
    if (l > 3 && !strcmp(L.samples + l - 3, ".h5")) L.samples[l - 3] = 0;
    PetscCall(PetscStrlcat(L.samples, "_samples.h5", sizeof(L.samples)));
  }
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  {
    PetscBool exists = (PetscBool)(rank == 0 && access(L.samples, F_OK) == 0);
    PetscCallMPI(MPI_Bcast(&exists, 1, MPIU_BOOL, 0, comm));
    if (!exists) {
      /* the model's samples, on a context of their own (PFCLIMeshSample sets one up) */
      PFCLIMeshContext sctx;
      PetscCall(PetscPrintf(comm, "physflow latent: generating %" PetscInt_FMT " samples of %s -> %s\n", nsamples, L.model, L.samples));
      PetscCall(PFCLIMeshSampleOptions(comm, L.model, &sctx));
      PetscCall(PFCLIMeshSample(&sctx, comm, L.model, nsamples, L.seed, PETSC_TRUE, chunk, sampler, L.samples));
      PetscCall(PFCLIMeshContextDestroy(&sctx));
    }
  }
  {
    /* the model's fields must be the physics' state fields, in its order */
    PFNet              net;
    PFFlow             flow;
    PetscInt           nphys, nin, n;
    const char *const *names;
    const PetscInt    *nat;
    const char        *state[PF_CLI_MAXFIELDS];
    double             mean[2 * PF_CLI_MAXFIELDS], std[2 * PF_CLI_MAXFIELDS];
    PetscCall(PFCLIMeshModelLoad(&L.ctx, L.model, PETSC_TRUE, &net, &flow, L.smean, L.sstd));
    PetscCall(PFNetDestroy(&net));
    PetscCall(PFFlowDestroy(&flow));
    PetscCall(PFPhysicsGetFields(L.ctx.phys, &nphys, &names, &nin));
    L.nstate = L.ctx.nfields, L.ninputs = nin;
    PetscCheck(L.nstate == nphys - nin, comm, PETSC_ERR_ARG_WRONG, "'%s' generates %" PetscInt_FMT " field(s); the latent predictor needs a model of the physics' state fields only (%" PetscInt_FMT ", e.g. train -fields %s)", L.model, L.nstate, nphys - nin, names[nin]);
    for (PetscInt f = 0; f < L.nstate; f++) {
      PetscCheck(!strcmp(L.ctx.fields[f], names[nin + f]), comm, PETSC_ERR_ARG_WRONG, "'%s' generates '%s' where the physics' state field '%s' is expected", L.model, L.ctx.fields[f], names[nin + f]);
      state[f] = L.state[f] = L.ctx.fields[f];
    }
    for (PetscInt f = 0; f < nin; f++) L.inputs[f] = names[f], mean[f] = 0, std[f] = 1;
    for (PetscInt f = 0; f < L.nstate; f++) mean[nin + f] = L.smean[f], std[nin + f] = L.sstd[f];
    PetscCall(PFPhysicsGetVertexMap(L.ctx.phys, &n, &nat));
    PetscCall(PFDataCreateMesh(L.ctx.gcomm, L.samples, L.nstate, state, n, nat, (uint64_t)L.seed, &data));
    PetscCall(PFDataSetNormalization(data, L.smean, L.sstd));
    PetscCall(PFConstraintSetPhysics(L.lt.c, L.ctx.phys, mean, std));
    PetscCall(PFConstraintSetDefaultNorm(L.lt.c, PF_NORM_ERROR2, 0));
    L.lt.ninputs = nin, L.lt.nstate = L.nstate, L.lt.nown = n, L.lt.phys = L.ctx.phys;
  }
  PetscCall(PFNetMeshSetGraph(L.lt.phi, L.ctx.graph, L.nstate));
  PetscCall(PFNetSetUp(L.lt.phi));
  PetscCall(PFNetInitializeWeights(L.lt.phi, (uint64_t)L.seed));
  PetscCall(PFLatentSetUp(&L.lt, PetscMax(1, ((L.Bg + L.ctx.G - 1) / L.ctx.G))));
  PetscCall(PetscMalloc1(L.steps, &L.history));
  PetscCall(PetscPrintf(comm, "physflow latent: phi: %s -> %s of %s, %" PetscInt_FMT " steps of %" PetscInt_FMT " samples of %s on %" PetscInt_FMT " group(s)\n", L.ctx.fields[0], L.inputs[0], L.model, L.steps, L.Bg, L.samples, L.ctx.G));
  PetscCall(TrainLatent(&L, comm, data, &done));
  if (L.eval_data[0]) PetscCall(EvaluateLatent(&L, comm));
  else L.neval = 0;
  {
    PetscErrorCode ierr = rank == 0 ? WriteLatent(&L, out, done) : PETSC_SUCCESS;
    PetscCall(PFBcastError(comm, ierr, "writing the predictor: "));
  }
  PetscCall(PetscPrintf(comm, "physflow latent: wrote %s\n", out));
done:
  PetscCall(PetscFree(L.history));
  PetscCall(PetscFree(L.eval_err));
  if (L.lt.maxbatch) PetscCall(PFLatentDestroy(&L.lt));
  PetscCall(PFDataDestroy(&data));
  PetscCall(PFSamplerDestroy(&sampler));
  PetscCall(PFConstraintDestroy(&L.lt.c));
  PetscCall(PFNetDestroy(&L.lt.phi));
  if (is_mesh) PetscCall(PFCLIMeshContextDestroy(&L.ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}
