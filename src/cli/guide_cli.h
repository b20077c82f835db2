#pragma once
/* physflow guide: what its parts share (src/cli/cmd_guide.c: the command and
 * vector models; guide_mesh.c: mesh models; guide_io.c: the /guide record) */
#include <physflow/guide.h>
#include "cli.h"

typedef struct {
  char     observable[64];
  double   target, shift, sigma, gamma;
  PetscInt nbase, maxeval, seed, ft_steps, ntune;
  PetscBool has_target, has_shift, baseline;
  double    box[4], fraction;
  PetscInt  nguides;
  PFGuideScheduleType schedule;
  PFGuideDriftType    drift;
  /* mesh observables */
  double    region[4];
  PetscBool has_region;
  char      group[64];
  /* mesh path guidance: the subset is f >= threshold (or the base quantile) */
  double    threshold, quantile;
  PetscBool has_threshold, has_quantile;
  PetscBool path_tilt; /* -path_method tilt (mesh models) */
  double    clip;      /* -guide_clip */
} GuideOptions;

/* What the /guide record holds besides the options: observable guidance
 * (s) or path guidance (pg, with its paths Y [dims] as stored: natural
 * vertex order for mesh states); rec: observable {target, base mean, base
 * std, max-ent mean, guided mean, work}; path {base fraction, guided
 * fraction, threshold, 0, 0, work} */
typedef struct {
  const PFGuideSchedule *s;
  const PFPathGuide     *pg;
  const pfreal          *Y;
  PetscInt               dims[3];
  double                 rec[6];
} GuideRecord;

/* guided.h5 = a copy of the base model + /guide + /sampler, written under a
 * temporary name and renamed (rank 0 writes; collective) */
PetscErrorCode PFCLIGuideWrite(MPI_Comm comm, const char base[], const char out[], const GuideOptions *o, const GuideRecord *r, PFSampler sampler);
/* The naive baseline: the base model fine-tuned (finetune's options) on the
 * data file `data` for o->ft_steps steps */
PetscErrorCode PFCLIGuideFinetune(MPI_Comm comm, const char model[], const char data[], const char out[], const char what[], const GuideOptions *o);
/* idx[N]: the base samples resampled by the max-ent weights exp(-lambda f)
 * (keyed systematic resampling) */
PetscErrorCode PFCLIGuideResample(PetscInt N, const double *f, double lambda, PetscInt seed, PetscInt *idx);
/* Observable guidance toward the tilt lambda (tilted mean mw of the base
 * values of mean and variance var): tunes the schedule on ntl samples per
 * group from tlo and writes guided.h5 (o->target: the recorded target) */
typedef struct {
  MPI_Comm     world;
  PFFlow       flow;
  PFNet        net;
  PFSampler    sampler;
  PFObservable obs;
  PetscInt     tlo, ntl;
} GuideTuneSetting;
PetscErrorCode PFCLIGuideTuneWrite(const GuideTuneSetting *g, const char model[], const char out[], const GuideOptions *o, double lambda, double mean, double var, double mw);
/* Mesh models (src/cli/guide_mesh.c) */
PetscErrorCode PFCLIGuideMesh(MPI_Comm world, const char model[], const char out[], GuideOptions *o, PetscBool path, PFSampler sampler, PFCLIMeshContext *ctx);
