#pragma once
/* physflow infer with a model conditioned on one of its own fields
 * (src/cli/infer_given.c): the posterior of that field's value on a grid,
 * then samples of the value and the flow. */
#include <physflow/obs.h>
#include "cli.h"

typedef struct {
  PFCLIMeshContext *ctx;
  PFNet             net;
  PFFlow            flow;
  PFSampler         sampler;
  const double     *mean, *std; /* the model's normalisation, per field */
  PetscInt          seed;
  PetscInt          given;       /* the given field's index */
  PetscInt          field;       /* the observed field's index */
  const PFObs      *obs;
  PFObsOperator    *H;
  double            range[2];    /* the given value's uniform prior */
  PetscInt          M;           /* grid points */
  double            model_sigma; /* the surrogate's error, added to the noise in quadrature */
  double            post_mean, post_std; /* out: of the gridded posterior */
} PFCLIInferGiven;

/* nloc posterior samples (global indices from lo) into x [nloc][F nown]
 * (normalised); collective on comm, whose G groups (this one: gid) split
 * the grid */
PetscErrorCode PFCLIInferGivenSample(PFCLIInferGiven *ig, MPI_Comm comm, PetscInt gid, PetscInt G, PetscInt lo, PetscInt nloc, pfreal *x);
