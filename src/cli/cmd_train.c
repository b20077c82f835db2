#include <physflow/constraint.h>
#include "cli.h"

/* physflow train (-toy moons | -data file.h5) [-resume ckpt.h5] [network, flow, training options]
 * A PDE dataset (-data darcy.h5) is trained domain-decomposed with
 * -net_type meshunet (or meshnet) on groups of -pf_group_size ranks,
 * optionally with the PDE residual in the loss (-constraint pbfm). */
PetscErrorCode PFCommandTrain(MPI_Comm comm)
{
  PFNet     net;
  PFFlow    flow;
  PFTrainer tr;
  PFData    data = NULL;
  PetscInt  toy  = PF_TOY_MOONS;
  char      datafile[PETSC_MAX_PATH_LEN] = "", resume[PETSC_MAX_PATH_LEN] = "";
  PetscBool help, has_toy, has_data, has_resume, view = PETSC_FALSE, interrupted, is_mesh = PETSC_FALSE;
  PFCLIMeshContext mctx;
  PFConstraint     constraint = NULL;
  PFConstraintType ctype;
  uint64_t  seed;

  PetscFunctionBegin;
  PetscOptionsBegin(comm, NULL, "physflow train: flow-matching training", "train");
  PetscCall(PetscOptionsEnum("-toy", "Train on a toy 2-D distribution (an endless stream)", "train", PFToyTypes, (PetscEnum)toy, (PetscEnum *)&toy, &has_toy));
  PetscCall(PetscOptionsString("-data", "Train on the /samples of this HDF5 dataset", "train", datafile, datafile, sizeof(datafile), &has_data));
  PetscCall(PetscOptionsString("-resume", "Continue from this checkpoint (same architecture options)", "train", resume, resume, sizeof(resume), &has_resume));
  PetscCall(PetscOptionsBool("-view", "Print the network, flow and trainer configuration", "train", view, &view, NULL));
  PetscOptionsEnd();
  /* PDE datasets: groups, the data's mesh and problem options */
  if (has_data) PetscCall(PFCLIIsMeshFile(comm, datafile, &is_mesh));
  if (is_mesh) PetscCall(PFCLIMeshContextCreate(comm, datafile, &mctx));
  PetscCall(PFNetCreate(comm, &net));
  PetscCall(PFNetSetFromOptions(net));
  PetscCall(PFFlowCreate(comm, &flow));
  PetscCall(PFFlowSetFromOptions(flow));
  PetscCall(PFTrainerCreate(comm, net, flow, NULL, &tr));
  PetscCall(PFTrainerSetFromOptions(tr));
  PetscCall(PFConstraintCreate(comm, &constraint));
  PetscCall(PFConstraintSetFromOptions(constraint));
  PetscCall(PFConstraintGetType(constraint, &ctype));
  PetscCall(PFCLIOptionsDone(comm, "train", &help));
  if (help) goto done;
  PetscCheck(has_toy != has_data, comm, PETSC_ERR_ARG_WRONG, "give exactly one data source: -toy moons|8gaussians|checkerboard or -data file.h5");

  PetscCall(PFTrainerGetSeed(tr, &seed));
  if (has_toy) PetscCall(PFDataCreateToy(comm, (PFToyType)toy, seed, &data));
  else if (is_mesh) PetscCall(PFCLIMeshTrainSetUp(&mctx, datafile, net, flow, tr, seed, &data));
  else PetscCall(PFDataCreateFromFile(comm, datafile, seed, &data));
  PetscCheck(ctype == PF_CONSTRAINT_NONE || is_mesh, comm, PETSC_ERR_ARG_WRONG, "-constraint %s needs PDE data (-data file.h5 made by physflow datagen -physics ...)", PFConstraintTypes[ctype]);
  if (ctype != PF_CONSTRAINT_NONE) {
    const double *mean, *std;
    PetscCall(PFDataGetNormalization(data, NULL, &mean, &std));
    PetscCall(PFConstraintSetPhysics(constraint, mctx.phys, mean, std));
    PetscCall(PFTrainerSetConstraint(tr, constraint));
  }
  PetscCall(PFTrainerSetData(tr, data));
  PetscCall(PFTrainerSetUp(tr));
  if (has_resume) PetscCall(PFTrainerLoadCheckpoint(tr, resume));
  if (view) {
    PetscCall(PFNetView(net, NULL));
    PetscCall(PFFlowView(flow, NULL));
    PetscCall(PFTrainerView(tr, NULL));
    PetscCall(PFConstraintView(constraint, PETSC_VIEWER_STDOUT_(comm)));
  }
  PetscCall(PFTrainerTrain(tr, &interrupted));
done:
  PetscCall(PFTrainerDestroy(&tr));
  PetscCall(PFConstraintDestroy(&constraint));
  PetscCall(PFDataDestroy(&data));
  PetscCall(PFFlowDestroy(&flow));
  PetscCall(PFNetDestroy(&net));
  if (is_mesh) PetscCall(PFCLIMeshContextDestroy(&mctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}
