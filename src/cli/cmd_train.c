#include <string.h>
#include <physflow/constraint.h>
#include <physflow/h5util.h>
#include "cli.h"

/* The architecture options of a model file (its /arch and /flow records),
 * set unless the user gave them, so the network built from the options is
 * the model's (fine-tuning) */
static PetscErrorCode ModelArchOptions(MPI_Comm comm, const char path[])
{
  static const char *ints[] = {"mesh_width", "mesh_depth", "mesh_groups", "mesh_temb_dim", "mesh_levels", "mlp_width", "mlp_depth", "mlp_temb_dim"};
  char        opts[1024] = "";
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    hid_t fid, g;
    char  v[64], item[128];
    PetscCall(PFH5OpenRead(path, &fid));
    PetscCall(PFH5CheckKind(fid, path, "model"));
    g = H5Gopen2(fid, "arch", H5P_DEFAULT);
    PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no network (group /arch missing)", path);
    PetscCall(PFH5ReadAttrString(g, "net_type", v, sizeof(v)));
    PetscCall(PetscSNPrintf(item, sizeof(item), "-net_type %s", v));
    PetscCall(PetscStrlcat(opts, item, sizeof(opts)));
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
      PetscInt iv;
      if (H5Aexists(g, ints[k]) <= 0) continue;
      PetscCall(PFH5ReadAttrInt(g, ints[k], &iv));
      PetscCall(PetscSNPrintf(item, sizeof(item), " -%s %" PetscInt_FMT, ints[k], iv));
      PetscCall(PetscStrlcat(opts, item, sizeof(opts)));
    }
    if (H5Aexists(g, "mesh_level_faces") > 0) {
      /* the coarse grids the model was trained with ("nx ny nx ny ...") */
      PetscCall(PFH5ReadAttrString(g, "mesh_level_faces", v, sizeof(v)));
      for (char *c = v; *c; c++)
        if (*c == ' ') *c = ',';
      PetscCall(PetscSNPrintf(item, sizeof(item), " -mesh_level_faces %s", v));
      PetscCall(PetscStrlcat(opts, item, sizeof(opts)));
    }
    if (H5Aexists(g, "mesh_features") > 0) {
      PetscInt nf;
      PetscCall(PFH5ReadAttrInt(g, "mesh_features", &nf));
      if (nf > 0) PetscCall(PetscStrlcat(opts, " -mesh_geometry_features true", sizeof(opts)));
    }
    if (H5Aexists(g, "mlp_act") > 0) {
      PetscCall(PFH5ReadAttrString(g, "mlp_act", v, sizeof(v)));
      PetscCall(PetscSNPrintf(item, sizeof(item), " -mlp_act %s", v));
      PetscCall(PetscStrlcat(opts, item, sizeof(opts)));
    }
    H5Gclose(g);
    g = H5Gopen2(fid, "flow", H5P_DEFAULT);
    if (g >= 0) {
      PetscCall(PFH5ReadAttrString(g, "flow_type", v, sizeof(v)));
      PetscCall(PetscSNPrintf(item, sizeof(item), " -flow_type %s", v));
      PetscCall(PetscStrlcat(opts, item, sizeof(opts)));
      H5Gclose(g);
    }
    PetscCall(PFH5Close(&fid));
  }
  PetscCallMPI(MPI_Bcast(opts, sizeof(opts), MPI_CHAR, 0, comm));
  for (char *name = strtok(opts, " "); name; name = strtok(NULL, " ")) PetscCall(PFCLIDefaultOption(name, strtok(NULL, " ")));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* physflow train (-toy moons | -data file.h5) [-resume ckpt.h5] [network, flow, training options]
 * A PDE dataset (-data darcy.h5) is trained domain-decomposed with
 * -net_type meshunet (or meshnet) on groups of -pf_group_size ranks,
 * optionally with the PDE residual in the loss (-constraint pbfm). */
PetscErrorCode PFCLITrainRun(MPI_Comm comm, PFCLITrainSpec *spec)
{
  const PetscBool finetune = spec->finetune;
  PFNet     net;
  PFFlow    flow;
  PFTrainer tr;
  PFData    data = NULL;
  PetscInt  toy  = PF_TOY_MOONS;
  char      datafile[PETSC_MAX_PATH_LEN] = "", resume[PETSC_MAX_PATH_LEN] = "";
  PetscBool help, has_toy, has_data, has_resume, view = PETSC_FALSE, interrupted = PETSC_FALSE, is_mesh = PETSC_FALSE;
  PFCLIMeshContext mctx;
  PFConstraint     constraint = NULL;
  PFConstraintType ctype;
  uint64_t  seed;

  char      pretrained[PETSC_MAX_PATH_LEN] = "", latent[PETSC_MAX_PATH_LEN] = "";
  PFLatent  lt;
  PetscBool has_pre = PETSC_FALSE, init_ema = PETSC_TRUE, has_fmw = PETSC_FALSE, pin_ft = PETSC_FALSE;
  PetscReal fmw[PF_CLI_MAXFIELDS];
  PetscInt  nfmw = 0, ftbatch = 16;
  const char *cmd = spec->cmd;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&lt, sizeof(lt)));
  if (finetune) {
    /* fine-tuning: the model's architecture, the physics constraint on, and
     * by default the data the model was trained on */
    PetscOptionsBegin(comm, NULL, "physflow finetune: physics-constrained fine-tuning of a pretrained model", "finetune");
    PetscCall(PetscOptionsString("-model", "Pretrained model (written by train)", "finetune", pretrained, pretrained, sizeof(pretrained), &has_pre));
    PetscCall(PetscOptionsBool("-use_ema", "Start from the model's EMA weights (else its raw weights)", "finetune", init_ema, &init_ema, NULL));
    PetscCall(PetscOptionsString("-latent", "-constraint adjoint of a model of the state alone (train -fields p): the predictor of its inputs (physflow latent), frozen; the residual is that of [phi(x), x], its gradient through phi (the joint generation of Tauberschmidt et al. 2025)", "finetune", latent, latent, sizeof(latent), NULL));
    PetscCall(PetscOptionsBool("-pin_constant", "Hold the vertex values that are the same in every sample of the data (the Dirichlet boundary data) from now on, if the model does not already: the fine-tuned model has them exactly", "finetune", pin_ft, &pin_ft, NULL));
    PetscOptionsEnd();
    if (has_pre) {
      PetscBool set;
      char      file[PETSC_MAX_PATH_LEN];
      PetscCall(PFCLIPeek(comm, pretrained, ".", NULL, &set, NULL, 0));
      PetscCheck(set, comm, PETSC_ERR_FILE_OPEN, "cannot read model '%s': no such file or not HDF5", pretrained);
      PetscCall(ModelArchOptions(comm, pretrained));
      PetscCall(PFCLIPeek(comm, pretrained, "data", "file", NULL, file, sizeof(file)));
      if (file[0]) PetscCall(PFCLIDefaultOption("-data", file));
      /* the model's fields (a model of some of the data's fields, e.g. p) */
      PetscCall(PFCLIPeek(comm, pretrained, "data", "fields", NULL, file, sizeof(file)));
      if (file[0]) PetscCall(PFCLIDefaultOption("-fields", file));
      PetscCall(PFCLIDefaultOption("-constraint", "pbfm"));
      PetscCall(PFCLIDefaultOption("-lr", "2e-4"));
    }
  }
  PetscOptionsBegin(comm, NULL, finetune ? "physflow finetune: data options" : "physflow train: flow-matching training", cmd);
  PetscCall(PetscOptionsEnum("-toy", "Train on a toy 2-D distribution (an endless stream)", cmd, PFToyTypes, (PetscEnum)toy, (PetscEnum *)&toy, &has_toy));
  PetscCall(PetscOptionsString("-data", finetune ? "Fine-tune on the /samples of this dataset (default: the model's training data)" : "Train on the /samples of this HDF5 dataset", cmd, datafile, datafile, sizeof(datafile), &has_data));
  PetscCall(PetscOptionsString("-resume", "Continue from this checkpoint (same architecture options)", cmd, resume, resume, sizeof(resume), &has_resume));
  PetscCall(PetscOptionsBool("-view", "Print the network, flow and trainer configuration", cmd, view, &view, NULL));
  nfmw = PF_CLI_MAXFIELDS;
  for (PetscInt f = 0; f < nfmw; f++) fmw[f] = 1;
  PetscCall(PetscOptionsRealArray("-fm_field_weights", "PDE data: per-field factors of the flow-matching loss, e.g. 1,0.1 to trust a low-fidelity dataset's inputs more than its states", cmd, fmw, &nfmw, &has_fmw));
  PetscOptionsEnd();
  if (!has_fmw) nfmw = 0;
  /* PDE datasets: groups, the data's mesh and problem options */
  if (has_data) {
    PetscBool readable;
    PetscCall(PFCLIPeek(comm, datafile, ".", NULL, &readable, NULL, 0));
    /* finetune defaults to the model's training data, recorded as given
     * (perhaps relative to another directory) */
    PetscCheck(readable, comm, PETSC_ERR_FILE_OPEN, "cannot read the data '%s': no such file or not HDF5%s", datafile, finetune ? " (finetune uses the model's training data unless given -data file.h5)" : "");
    PetscCall(PFCLIIsMeshFile(comm, datafile, &is_mesh));
  }
  PetscCall(PetscMemzero(&mctx, sizeof(mctx)));
  if (is_mesh) {
    PetscCall(PFCLIMeshContextCreate(comm, datafile, &mctx));
    mctx.nfm_weights = nfmw;
    for (PetscInt f = 0; f < nfmw; f++) mctx.fm_weights[f] = fmw[f];
  }
  if (!finetune && !spec->coupled) {
    /* conditional models are trained from scratch (their options are listed
     * under -help whatever the data) */
    PetscCall(PFCLIMeshConditionOptions(comm, &mctx));
  }
  if (finetune && has_pre) {
    char cond[16];
    PetscCall(PFCLIPeek(comm, pretrained, "data", "condition", NULL, cond, sizeof(cond)));
    PetscCheck(!cond[0] || !strcmp(cond, "field"), comm, PETSC_ERR_SUP, "'%s' is conditioned on observations: fine-tuning such models is not supported yet", pretrained);
    /* conditioned on its own fields (e.g. Re): the fine-tuning holds them */
    if (!strcmp(cond, "field")) PetscCall(PFCLIMeshFinetuneHeldOptions(&mctx, comm, pretrained));
    /* its pinned vertex values stay pinned; -pin_constant pins a model that
     * has none (PFCLIMeshTrainSetUp: the model's pins first) */
    PetscCall(PetscStrncpy(mctx.pin_model, pretrained, sizeof(mctx.pin_model)));
    mctx.pin_constant = pin_ft;
  }
  PetscCheck(!nfmw || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-fm_field_weights applies to PDE data (-data file.h5 made by physflow datagen -physics ...)");
  PetscCall(PFNetCreate(comm, &net));
  PetscCall(PFNetSetFromOptions(net));
  PetscCall(PFFlowCreate(comm, &flow));
  PetscCall(PFFlowSetFromOptions(flow));
  PetscCall(PFTrainerCreate(comm, net, flow, NULL, &tr));
  PetscCall(PFTrainerSetFromOptions(tr));
  PetscCall(PFConstraintCreate(comm, &constraint));
  PetscCall(PFConstraintSetFromOptions(constraint));
  PetscCall(PFConstraintGetType(constraint, &ctype));
  PetscCall(PFCLIOptionsDone(comm, cmd, &help));
  if (help) goto done;
  PetscCheck(!finetune || has_pre, comm, PETSC_ERR_ARG_WRONG, "give the pretrained model: -model pretrained.h5");
  PetscCheck(has_toy != has_data, comm, PETSC_ERR_ARG_WRONG, "give exactly one data source: -toy moons|8gaussians|checkerboard or -data file.h5");
  PetscCheck(!mctx.ncond || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-condition obs needs PDE data (-data file.h5 made by physflow datagen -physics ...)");
  PetscCheck(!mctx.pin_constant || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-pin_constant needs PDE data (-data file.h5 made by physflow datagen -physics ...)");

  PetscCall(PFTrainerGetSeed(tr, &seed));
  if (has_toy) PetscCall(PFDataCreateToy(comm, (PFToyType)toy, seed, &data));
  else if (is_mesh) PetscCall(PFCLIMeshTrainSetUp(&mctx, datafile, net, flow, tr, seed, &data));
  else PetscCall(PFDataCreateFromFile(comm, datafile, seed, &data));
  PetscCheck(!finetune || is_mesh || ctype == PF_CONSTRAINT_NONE, comm, PETSC_ERR_ARG_WRONG, "finetune with a physics constraint needs a model of PDE fields and its data (-data file.h5 made by physflow datagen -physics ...); vector data: -constraint none");
  PetscCheck(ctype == PF_CONSTRAINT_NONE || !mctx.ncond, comm, PETSC_ERR_SUP, "-constraint with -condition obs is not supported yet (train the conditional model with flow matching alone)");
  PetscCheck(ctype == PF_CONSTRAINT_NONE || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-constraint %s needs PDE data (-data file.h5 made by physflow datagen -physics ...)", PFConstraintTypes[ctype]);
  if (finetune && is_mesh) {
    /* the model's normalisation, not the fine-tuning data's */
    double   mean[PF_CLI_MAXFIELDS], std[PF_CLI_MAXFIELDS];
    PetscInt nf;
    hid_t    fid;
    PetscCall(PFDataGetNormalization(data, &nf, NULL, NULL));
    PetscCall(PFH5OpenRead(pretrained, &fid));
    PetscCall(PFH5ReadArray(fid, pretrained, "data/mean", H5T_NATIVE_DOUBLE, (size_t)nf, mean));
    PetscCall(PFH5ReadArray(fid, pretrained, "data/std", H5T_NATIVE_DOUBLE, (size_t)nf, std));
    PetscCall(PFH5Close(&fid));
    PetscCall(PFDataSetNormalization(data, mean, std));
    PetscCall(PFCLIMeshFlowSetUp(&mctx, flow, mean, std)); /* pinned values in the model's units */
  }
  PetscCheck((ctype != PF_CONSTRAINT_ADJOINT && ctype != PF_CONSTRAINT_ENDPOINT) || finetune, comm, PETSC_ERR_ARG_WRONG, "-constraint %s fine-tunes a pretrained model: use physflow finetune -model pre.h5 -constraint %s", PFConstraintTypes[ctype], PFConstraintTypes[ctype]);
  PetscCheck(!latent[0] || ctype == PF_CONSTRAINT_ADJOINT, comm, PETSC_ERR_SUP, "-latent goes with -constraint adjoint (the other methods of a model of the state alone are not built)");
  /* the fine-tuning loops' global batch (adjoint matching, endpoint) */
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-batch_size", &ftbatch, NULL));
  if (latent[0]) {
    /* the physics' state of the model's states: [phi(x), x], phi frozen */
    double        imean[PF_CLI_MAXFIELDS], istd[PF_CLI_MAXFIELDS], fmean[PF_CLI_MAXFIELDS], fstd[PF_CLI_MAXFIELDS];
    const double *mean, *std;
    PetscCall(PFCLILatentRead(&mctx, latent, pretrained, &lt, imean, istd));
    PetscCall(PFDataGetNormalization(data, NULL, &mean, &std));
    for (PetscInt f = 0; f < lt.ninputs; f++) fmean[f] = imean[f], fstd[f] = istd[f];
    for (PetscInt f = 0; f < lt.nstate; f++) fmean[lt.ninputs + f] = mean[f], fstd[lt.ninputs + f] = std[f];
    PetscCall(PFConstraintSetPhysics(constraint, mctx.phys, fmean, fstd));
    PetscCall(PFLatentSetUp(&lt, PetscMax(ftbatch, 1)));
    PetscCall(PFConstraintSetStateLift(constraint, lt.nstate, PFLatentLift, PFLatentLiftVJP, &lt));
  } else if (ctype != PF_CONSTRAINT_NONE) {
    const double *mean, *std;
    PetscInt      nphys;
    PetscCall(PFPhysicsGetFields(mctx.phys, &nphys, NULL, NULL));
    PetscCheck(mctx.nfields == nphys, comm, PETSC_ERR_ARG_WRONG, "'%s' models %" PetscInt_FMT " of the physics' %" PetscInt_FMT " fields: -constraint %s needs them all, or (finetune -constraint adjoint) the predictor of the missing inputs, -latent phi.h5", finetune ? pretrained : datafile, mctx.nfields, nphys, PFConstraintTypes[ctype]);
    PetscCall(PFDataGetNormalization(data, NULL, &mean, &std));
    PetscCall(PFConstraintSetPhysics(constraint, mctx.phys, mean, std));
    if (ctype == PF_CONSTRAINT_PBFM) PetscCall(PFTrainerSetConstraint(tr, constraint));
    PetscCheck(!mctx.nheld || !finetune || ctype == PF_CONSTRAINT_ADJOINT || ctype == PF_CONSTRAINT_ENDPOINT, comm, PETSC_ERR_SUP, "'%s' is conditioned on %s: fine-tune it with -constraint adjoint or endpoint (-constraint %s does not hold given fields)", pretrained, mctx.held[0], PFConstraintTypes[ctype]);
    /* PBFM's x1 estimate integrates the network's velocity everywhere */
    PetscCheck(ctype != PF_CONSTRAINT_PBFM || !(mctx.nheld || mctx.pinval), comm, PETSC_ERR_SUP, "-constraint pbfm does not hold given fields or pinned values: train with flow matching alone (-constraint none), then fine-tune with -constraint endpoint or adjoint");
    if (finetune) PetscCall(PFCLIMeshFinetuneHeldSetUp(&mctx, constraint, mean, std, seed));
  }
  PetscCall(PFTrainerSetData(tr, data));
  if (spec->coupled) PetscCall(PFTrainerSetCoupling(tr, spec->noise_seed, spec->t_fixed));
  if (spec->sampler_steps > 0) PetscCall(PFTrainerSetSampler(tr, spec->sampler_type, spec->sampler_steps));
  PetscCall(PFTrainerSetUp(tr));
  if (finetune) PetscCall(PFTrainerInitFromModel(tr, pretrained, init_ema));
  if (has_resume) PetscCall(PFTrainerLoadCheckpoint(tr, resume));
  if (view) {
    PetscCall(PFNetView(net, NULL));
    PetscCall(PFFlowView(flow, NULL));
    PetscCall(PFTrainerView(tr, NULL));
    PetscCall(PFConstraintView(constraint, PETSC_VIEWER_STDOUT_(comm)));
  }
  if (ctype == PF_CONSTRAINT_ADJOINT || ctype == PF_CONSTRAINT_ENDPOINT) {
    /* adjoint matching / endpoint: their own loops against the frozen pretrained model */
    PFNet           base;
    PetscInt        n, Bg = ftbatch, F = mctx.nfields;
    const PetscInt *nat;
    PetscInt       *keys;
    double          lr = 2e-4;
    hid_t           fid;
    char            out[PETSC_MAX_PATH_LEN] = "model.h5";
    PetscCall(PetscOptionsGetReal(NULL, NULL, "-lr", &lr, NULL));
    PetscCall(PetscOptionsGetString(NULL, NULL, "-o", out, sizeof(out), NULL));
    PetscCall(PFH5OpenRead(pretrained, &fid));
    PetscCall(PFNetMeshCreateFromH5(mctx.gcomm, fid, pretrained, init_ema ? "ema" : "params", mctx.graph, &base));
    PetscCall(PFH5Close(&fid));
    PetscCall(PFPhysicsGetVertexMap(mctx.phys, &n, &nat));
    PetscCall(PetscMalloc1(F * n + 1, &keys));
    for (PetscInt f = 0; f < F; f++)
      for (PetscInt i = 0; i < n; i++) keys[f * n + i] = nat[i] * F + f;
    if (ctype == PF_CONSTRAINT_ADJOINT) {
      PetscCall(PFConstraintSetDefaultNorm(constraint, PF_NORM_L2, 0));
      PetscCall(PFAdjointMatchingRun(constraint, comm, mctx.G, mctx.gid, base, net, keys, Bg, lr, seed));
    } else {
      PetscCall(PFConstraintSetDefaultNorm(constraint, PF_NORM_ERROR, 0));
      PetscCall(PFEndpointFinetuneRun(constraint, comm, mctx.G, mctx.gid, base, net, keys, Bg, tr, seed));
    }
    PetscCall(PetscFree(keys));
    PetscCall(PFNetDestroy(&base));
    PetscCall(PFTrainerSyncEMA(tr));
    PetscCall(PFTrainerSaveCheckpoint(tr, out));
    PetscCall(PetscPrintf(comm, "physflow finetune: wrote %s\n", out));
  } else PetscCall(PFTrainerTrain(tr, &interrupted));
  spec->interrupted = interrupted;
done:
  spec->help = help;
  PetscCall(PFTrainerDestroy(&tr));
  PetscCall(PFConstraintDestroy(&constraint));
  if (lt.phi) {
    PetscCall(PFLatentDestroy(&lt));
    PetscCall(PFNetDestroy(&lt.phi));
  }
  PetscCall(PFDataDestroy(&data));
  PetscCall(PFFlowDestroy(&flow));
  PetscCall(PFNetDestroy(&net));
  if (is_mesh) PetscCall(PFCLIMeshContextDestroy(&mctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandTrain(MPI_Comm comm)
{
  PFCLITrainSpec spec = {.cmd = "train"};

  PetscFunctionBegin;
  PetscCall(PFCLITrainRun(comm, &spec));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* physflow finetune -model pre.h5 [-data lowfi.h5] [-constraint pbfm] -o tuned.h5 [training options] */
PetscErrorCode PFCommandFinetune(MPI_Comm comm)
{
  PFCLITrainSpec spec = {.cmd = "finetune", .finetune = PETSC_TRUE};

  PetscFunctionBegin;
  PetscCall(PFCLITrainRun(comm, &spec));
  PetscFunctionReturn(PETSC_SUCCESS);
}
