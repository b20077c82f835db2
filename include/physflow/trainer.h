#pragma once
/* PFTrainer: flow-matching training with AdamW, EMA, warm-up + cosine LR,
 * gradient clipping, data parallelism and atomic checkpoints.
 *
 * Data parallel: the global batch of -batch_size samples is split over the
 * ranks of the communicator by contiguous ranges; each rank's gradient is a
 * partial sum scaled by 1/Bg, and ONE MPI_Allreduce of the flat gradient
 * buffer (with the loss and a stop flag appended) per step makes every rank's
 * parameters identical.  Randomness is keyed by (seed, step, global sample), so
 * the loss history does not depend on the number of ranks.
 *
 * The output file (-o) is both the model and the checkpoint: /params, /ema,
 * /adam/m, /adam/v, /step, /rng, /history/loss, and /arch, /flow, /data. */
#include <physflow/data.h>
#include <physflow/flow.h>
#include <physflow/net.h>
#include <physflow/optim.h>

typedef struct _p_PFTrainer *PFTrainer;

PETSC_EXTERN PetscErrorCode PFTrainerCreate(MPI_Comm comm, PFNet net, PFFlow flow, PFData data, PFTrainer *tr);
PETSC_EXTERN PetscErrorCode PFTrainerSetData(PFTrainer tr, PFData data);
/* Domain-decomposed states: the ranks form G groups; group gid takes its
 * share of every global batch, and each of its ranks holds the owned part of
 * each state (the net's input).  weights[n] are the loss weights of the local
 * components (e.g. lumped vertex masses / (fields x domain measure)). */
PETSC_EXTERN PetscErrorCode PFTrainerSetDomain(PFTrainer tr, PetscInt G, PetscInt gid, const pfreal weights[]);
PETSC_EXTERN PetscErrorCode PFTrainerSetFromOptions(PFTrainer tr);
/* Physics in training (PFConstraint, e.g. -constraint pbfm); a constraint of
 * type none is ignored.  The trainer does not own it. */
typedef struct _p_PFConstraint *PFConstraintRef;
PETSC_EXTERN PetscErrorCode PFTrainerSetConstraint(PFTrainer tr, PFConstraintRef c);
/* Train on a fixed coupling instead of fresh noise (distillation, reflow):
 * the data are samples a model generated with PFFlowSample's noise of seed
 * noise_seed, each paired with its own noise (PFFlowCoupledPairs); t_fixed
 * >= 0 trains at that time only (0: the one-step map noise -> sample) */
PETSC_EXTERN PetscErrorCode PFTrainerSetCoupling(PFTrainer tr, uint64_t noise_seed, double t_fixed);
/* Record in the model file (/sampler) the sampler the model is meant for;
 * physflow sample uses it unless -sampler / -sampler_steps are given */
PETSC_EXTERN PetscErrorCode PFTrainerSetSampler(PFTrainer tr, const char type[], PetscInt steps);
PETSC_EXTERN PetscErrorCode PFTrainerGetSeed(PFTrainer tr, uint64_t *seed);
PETSC_EXTERN PetscErrorCode PFTrainerSetUp(PFTrainer tr);
/* Restore parameters, EMA, Adam moments, step and history from a checkpoint */
PETSC_EXTERN PetscErrorCode PFTrainerLoadCheckpoint(PFTrainer tr, const char path[]);
/* Fine-tuning: start from a model's weights (EMA or raw; fresh optimiser
 * state, step 0); the network must have the model's architecture */
PETSC_EXTERN PetscErrorCode PFTrainerInitFromModel(PFTrainer tr, const char path[], PetscBool use_ema);
/* EMA := current parameters (after an external optimisation of the net) */
PETSC_EXTERN PetscErrorCode PFTrainerSyncEMA(PFTrainer tr);
/* Runs steps until -train_steps, or until SIGTERM/SIGUSR1 (then *interrupted) */
PETSC_EXTERN PetscErrorCode PFTrainerTrain(PFTrainer tr, PetscBool *interrupted);
PETSC_EXTERN PetscErrorCode PFTrainerSaveCheckpoint(PFTrainer tr, const char path[]);
PETSC_EXTERN PetscErrorCode PFTrainerGetStep(PFTrainer tr, PetscInt *step);
/* For optimisation loops outside PFTrainerTrain (finetune -constraint
 * endpoint): the trainer's AdamW state, so that its checkpoint holds the
 * loop's state and -resume continues it bitwise.  m, v: the AdamW moments
 * [nparams]; history: the loss per step [train_steps + 1]; the loop reports
 * its progress with PFTrainerSetStep and takes its learning rates from
 * PFTrainerGetLearningRate. */
PETSC_EXTERN PetscErrorCode PFTrainerGetLoopState(PFTrainer tr, PetscInt *train_steps, PetscInt *step, PFAdamWParams *adam, pfreal **m, pfreal **v, double **history);
PETSC_EXTERN PetscErrorCode PFTrainerSetStep(PFTrainer tr, PetscInt step);
/* the learning rate of (0-based) step s under the trainer's schedule
 * (-lr, -lr_schedule, -lr_warmup, -lr_min_factor, -lr_schedule_steps), after
 * PFTrainerSetUp: for loops that run in the trainer's state (endpoint
 * fine-tuning) */
PETSC_EXTERN PetscErrorCode PFTrainerGetLearningRate(PFTrainer tr, PetscInt s, double *lr);
PETSC_EXTERN PetscErrorCode PFTrainerGetHistory(PFTrainer tr, PetscInt *n, const double **loss);
PETSC_EXTERN PetscErrorCode PFTrainerView(PFTrainer tr, PetscViewer viewer);
PETSC_EXTERN PetscErrorCode PFTrainerDestroy(PFTrainer *tr);
