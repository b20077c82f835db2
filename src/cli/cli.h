#pragma once
/* The physflow program: one function per command.  Each command reads all its
 * options first (so -help lists them with their defaults, and typos are caught
 * before any work), then calls PFCLIOptionsDone, then works. */
#include <physflow.h>
#include <physflow/guide.h>
#include <physflow/inverse.h>
#include <physflow/meshgraph.h>
#include <physflow/physics.h>
#include <physflow/private/netimpl.h>

typedef PetscErrorCode (*PFCommandFn)(MPI_Comm comm);

typedef struct {
  const char *name;
  PFCommandFn run;
  const char *summary;
} PFCommand;

/* After all options of a command have been read: with -help, returns
 * *help_only = TRUE (the command then returns without working); otherwise
 * fails with a clear message if any option given was not used (a typo).
 * Options PETSc reads only once a solver runs (an external factorisation
 * package's, e.g. -darcy_mat_mumps_icntl_14, read when the factor is
 * created; end-of-solve viewers, *_converged_reason, *_view*) are left to
 * PFCLIOptionsWarnUnused at the end of the command. */
PetscErrorCode PFCLIOptionsDone(MPI_Comm comm, const char cmd[], PetscBool *help_only);
/* At the end of a command that worked: a warning (rank 0, stderr) for each
 * option still unused, i.e. a late-read option whose solver never read it */
PetscErrorCode PFCLIOptionsWarnUnused(MPI_Comm comm, const char cmd[]);
/* -name value unless the user gave -name (defaults a command or a file
 * supplies: a model's architecture, a data file's problem) */
PetscErrorCode PFCLIDefaultOption(const char name[], const char value[]);

/* Network (EMA or raw weights) and flow of a model file */
PetscErrorCode PFCLILoadModel(MPI_Comm comm, const char path[], PetscBool use_ema, PFNet *net, PFFlow *flow);

/* The sampler recorded in a model file (/sampler: distilled students are
 * meant for one or two steps), unless -sampler / -sampler_steps are given */
PetscErrorCode PFCLIModelSamplerDefaults(MPI_Comm comm, const char path[], PFSampler sampler);
/* A 64-bit hash (16 hex digits) of a network's parameters, as stored in a
 * samples file's model_params_hash: which weights made the samples */
void           PFCLIParamsHash(size_t n, const pfreal *p, char hex[17]);
PetscErrorCode PFCLIModelParamsHash(MPI_Comm comm, const char path[], PetscBool use_ema, char hex[17]);

/* Straightness of the Euler sampler's paths (src/cli/straightness.c): a
 * velocity function (PFFlowSampleVelocity) that evaluates the net and
 * accumulates |v|^2; x0 [nloc n] is filled at the first call */
typedef struct {
  PFNet    net;
  PetscInt n, calls;
  pfreal  *tbuf, *x0; /* [planned batch of the net], [nloc n] */
  double   vsq;
} PFStraightness;
PetscErrorCode PFStraightnessVelocity(void *ctx, double t, PetscInt nloc, const pfreal *x, pfreal *v);
/* S relative to E|x1 - x0|^2 over all samples of comm (the world) */
PetscErrorCode PFStraightnessFinish(PFStraightness *s, MPI_Comm comm, PetscInt nloc, const pfreal *x1, double *S);

/* A guided model's guidance (its /guide record, written by physflow guide):
 * observable guidance (*obs, *s) or path guidance (pg->Y not NULL); neither
 * when the model has none.  n: values of a state on this rank; mesh models
 * give their physics and normalisation (else phys NULL). */
PetscErrorCode PFCLIGuideLoad(MPI_Comm comm, const char path[], PetscInt n, PFPhysics phys, const double mean[], const double std[], PFObservable *obs, PFGuideSchedule *s, PFPathGuide *pg);

PetscErrorCode PFCommandDatagen(MPI_Comm);

/* Mesh (PDE field) models: groups, physics, mesh graph */
#define PF_CLI_MAXFIELDS 8
/* sample -piddm_refine (src/cli/refine_obs.c) */
typedef struct {
  PetscInt steps, obs_index, obs_seed, nobs_fields;
  double   lr, lambda, prior, obs_weight, obs_fraction, obs_noise;
  char     obs_file[PETSC_MAX_PATH_LEN];
  char     obs_fields[8][64];
} PFCLIRefine;
PetscErrorCode PFCLIRefineOptions(MPI_Comm comm, PFCLIRefine *r);

typedef struct {
  MPI_Comm    gcomm;
  PetscInt    G, gid;
  PFPhysics   phys;
  PFMeshGraph graph;
  PetscInt    nfields;
  char        fields[PF_CLI_MAXFIELDS][64];
  double      guidance_scale; /* sampling: > 0 for -guidance dps */
  double      guidance_tpow;  /* its weight t^p */
  PetscInt    guidance_smooth; /* low-pass applications on its gradient */
  PetscBool   straightness;   /* sampling: report the Euler paths' straightness */
  PetscInt    newton_polish;  /* sampling: Newton steps of the physics applied to each sample (0: none) */
  PFCLIRefine refine;         /* sampling: PIDDM noise refinement (steps 0: off) */
  PetscReal   fm_weights[PF_CLI_MAXFIELDS]; /* training: per-field factors of the flow-matching loss */
  PetscInt    nfm_weights;                  /* 0: all 1 */
  /* a conditional model (train -condition obs): two conditioning channels
   * (PFObsEncode) follow the fields in every state */
  PetscInt          ncond;           /* conditioning channels, 0: none */
  char              cond_field[64];  /* the observed field */
  PetscInt          cond_nobs[2];    /* training: sensor counts, min and max */
  double            cond_noise;      /* training: observation noise std */
  PetscBool         cond_voronoi;    /* the Voronoi encoding (else point) */
  PetscBool         allow_condition; /* the command handles conditional models */
  PFObsConditioner *oc;              /* training: the random sensor sets */
  PetscInt          cond_kalman;     /* > 0: also the ensemble Kalman estimate of every field (PFKalman, N members) */
  char              cond_kalman_data[PETSC_MAX_PATH_LEN]; /* its ensemble's dataset */
  PetscBool         cond_kalman_adjoint; /* and the adjoint summary at that estimate (PFKalmanAdjointSummary) */
  PFKalman          kalman;
  /* a model conditioned on some of its own fields (train -condition field
   * -cond_fields Re): they are held, not generated */
  PetscInt  nheld;
  char      held[PF_CLI_MAXFIELDS][64];
  PetscBool allow_field_condition;   /* sample: the held fields' values come from -cond_value / -cond_data */
  PetscReal cond_value[PF_CLI_MAXFIELDS];
  PetscInt  ncond_value;
  char      cond_data[PETSC_MAX_PATH_LEN];
  /* finetune of such a model: the given fields' values are drawn uniformly
   * in [cond_range[2k], cond_range[2k+1]] (physical units) */
  PetscReal  cond_range[2 * PF_CLI_MAXFIELDS];
  PetscInt   ncond_range;
  PetscBool *heldmask;                /* [F n] owned components */
  /* pinned vertex values (train -pin_constant): a field's value at a vertex
   * that is the same in every training sample (Dirichlet data) is held
   * there, not generated; recorded in the model as /data/pinned */
  PetscBool  pin_constant;
  char       pin_model[PETSC_MAX_PATH_LEN]; /* finetune: the pretrained model whose pins to keep */
  double    *pin_phys;                /* [nfields, nvert] natural order, physical units, NaN: generated; NULL: none */
  pfreal    *pinval;                  /* [F n] owned components, normalised (PFCLIMeshFlowSetUp) */
  double     held_mean[PF_CLI_MAXFIELDS], held_std[PF_CLI_MAXFIELDS];
  PetscInt   held_index[PF_CLI_MAXFIELDS];
  uint64_t   held_seed;
} PFCLIMeshContext;
/* train: -condition obs [-cond_field p -cond_nobs 16,64 -cond_noise 0.01]
 *        -condition field -cond_fields Re */
PetscErrorCode PFCLIMeshConditionOptions(MPI_Comm comm, PFCLIMeshContext *ctx);
PetscErrorCode PFCLIMeshContextCreate(MPI_Comm world, const char datafile[], PFCLIMeshContext *ctx);
/* the index of the field name among ctx's modelled fields, -1 if absent */
PetscInt PFCLIMeshFieldIndex(const PFCLIMeshContext *ctx, const char name[]);
/* finetune of a model conditioned on its own fields: the given fields
 * (from the model) and -cond_range lo,hi per field */
PetscErrorCode PFCLIMeshFinetuneHeldOptions(PFCLIMeshContext *ctx, MPI_Comm comm, const char model[]);
/* after PFCLIMeshTrainSetUp: the held components and their random values
 * for the adjoint-matching trajectories of c (mean/std: the model's) */
PetscErrorCode PFCLIMeshFinetuneHeldSetUp(PFCLIMeshContext *ctx, PFConstraint c, const double mean[], const double std[], uint64_t seed);
/* The predictor phi of a state model's missing inputs (physflow latent):
 * checks that ctx's model generates exactly the physics' state fields,
 * reads phi (on ctx's graph) and its inputs' normalisation, sets lt's sizes
 * and physics (PFLatentSetUp is the caller's) */
PetscErrorCode PFCLILatentRead(PFCLIMeshContext *ctx, const char path[], const char model[], PFLatent *lt, double imean[], double istd[]);
PetscErrorCode PFCLIMeshContextSetUp(PFCLIMeshContext *ctx);
PetscErrorCode PFCLIMeshContextDestroy(PFCLIMeshContext *ctx);
/* noise keys, held and pinned components (mean/std: the model's normalisation) */
PetscErrorCode PFCLIMeshFlowSetUp(PFCLIMeshContext *ctx, PFFlow flow, const double mean[], const double std[]);
/* a model's pinned vertex values (/data/pinned of the open model file fid) into ctx->pin_phys, if it has them */
PetscErrorCode PFCLIMeshReadPinned(PFCLIMeshContext *ctx, hid_t fid, const char model[]);
PetscErrorCode PFCLIIsMeshModel(MPI_Comm comm, const char path[], PetscBool *mesh);
PetscErrorCode PFCLIMeshSampleOptions(MPI_Comm world, const char model[], PFCLIMeshContext *ctx);
/* Sets up ctx and loads a mesh model on its group: network (EMA or raw
 * weights), flow, the field names (ctx->fields) and normalisation */
/* rows[f] (allocated; group leaders: [nrows, nvert] natural order,
 * physical units) of the states x[pick[j]] (pick NULL: x[j]), normalised
 * mesh states of this group; collective on the group */
PetscErrorCode PFCLIMeshGatherRows(PFCLIMeshContext *ctx, PetscInt nrows, const PetscInt pick[], const pfreal *x, const double mean[], const double std[], double *rows[]);
/* Guidance and inference work on whole physics states: the model must
 * generate the physics' fields in its order (not a -fields subset) */
PetscErrorCode PFCLIMeshCheckAllFields(PFCLIMeshContext *ctx, const char model[], const char what[]);
PetscErrorCode PFCLIMeshModelLoad(PFCLIMeshContext *ctx, const char model[], PetscBool use_ema, PFNet *net, PFFlow *flow, double mean[], double std[]);
PetscErrorCode PFCLIMeshSample(PFCLIMeshContext *ctx, MPI_Comm world, const char model[], PetscInt n, PetscInt seed, PetscBool use_ema, PetscInt chunk, PFSampler sampler, const char out[]);
/* the refined samples of a one-step student: this group's nloc samples
 * from global index lo, in chunks; x [nloc n] (normalised units) */
PetscErrorCode PFCLIRefineSample(PFCLIMeshContext *ctx, PFNet net, PFFlow flow, const PFCLIRefine *r, const double mean[], const double std[], uint64_t seed, PetscInt lo, PetscInt nloc, PetscInt chunk, pfreal *x);
PetscErrorCode PFCLIMeshTrainSetUp(PFCLIMeshContext *ctx, const char datafile[], PFNet net, PFFlow flow, PFTrainer tr, uint64_t seed, PFData *data);
PetscErrorCode PFDatagenPDE(MPI_Comm world, const char physics_type[], PetscInt n, PetscInt seed, const char out[], PetscBool resume, PetscInt group_size, PetscInt fidelity, PetscInt write_every, PetscBool *help);
/* train / finetune / distill: flow-matching training of a network, from
 * scratch or from a model (-model, with its architecture and normalisation),
 * optionally on a fixed (noise, sample) coupling (distill) */
typedef struct {
  const char *cmd;
  PetscBool   finetune;      /* start from -model */
  PetscBool   coupled;       /* the data are samples of noise seed noise_seed */
  uint64_t    noise_seed;
  double      t_fixed;       /* < 0: random times */
  const char *sampler_type;  /* recorded in the output when sampler_steps > 0 */
  PetscInt    sampler_steps;
  PetscBool   interrupted, help; /* out */
} PFCLITrainSpec;
PetscErrorCode PFCLITrainRun(MPI_Comm comm, PFCLITrainSpec *spec);
PetscErrorCode PFCommandTrain(MPI_Comm);
PetscErrorCode PFCommandSample(MPI_Comm);
PetscErrorCode PFCommandEval(MPI_Comm);
/* Take the problem options (mesh, source, boundary groups) a data file was
 * made with from its attributes, unless the user gave them */
PetscErrorCode PFCLIProblemOptionsFromFile(MPI_Comm comm, const char path[]);
/* The random-field options (the inputs' prior) a data file was made with,
 * unless the user gave them */
PetscErrorCode PFCLIFieldOptionsFromFile(MPI_Comm comm, const char path[]);
/* Does path hold mesh fields (a PDE dataset or samples)? (collective) */
PetscErrorCode PFCLIIsMeshFile(MPI_Comm comm, const char path[], PetscBool *mesh);
/* Rank 0 looks into an HDF5 file without failing and broadcasts what it saw:
 * whether object obj ("." = the root) exists and, if name is given, that
 * object's string attribute ("" when the file, object or attribute is missing) */
PetscErrorCode PFCLIPeek(MPI_Comm comm, const char path[], const char obj[], const char name[], PetscBool *exists, char value[], size_t len);
/* -mesh_faces N for "box NxN", -mesh FILE otherwise (a mesh attribute's value),
 * unless -mesh or -mesh_faces is set already */
PetscErrorCode PFCLISetMeshOption(const char mesh[]);
PetscErrorCode PFEvalPDE(MPI_Comm comm, const char physics_type[], const char samples[], const char reference[], const char jsonpath[], PetscBool *help);
PetscErrorCode PFCommandInfo(MPI_Comm);
PetscErrorCode PFCommandFinetune(MPI_Comm);
PetscErrorCode PFCommandObserve(MPI_Comm);
PetscErrorCode PFCommandInfer(MPI_Comm);
PetscErrorCode PFCommandDistill(MPI_Comm);
PetscErrorCode PFCommandLatent(MPI_Comm);
PetscErrorCode PFCommandGuide(MPI_Comm);
