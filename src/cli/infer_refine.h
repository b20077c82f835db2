#pragma once
/* physflow infer -infer_gn_steps (src/cli/infer_refine.c): Gauss-Newton
 * steps of the MAP objective from a generative posterior's mean, and the
 * samples moved with it (issue 7). */
#include <physflow/inverse.h>
#include <physflow/obs.h>
#include "cli.h"

typedef struct {
  PetscInt           steps;    /* -infer_refine_steps (0: off) */
  PFGaussNewtonStats st;       /* out: of the last observation */
  PetscBool          failed;   /* out: the solve at the mean failed (samples left as they were) */
  double             moved;    /* out: RMS of the mean's logK change (first input field) */
} PFCLIInferRefine;

/* rows[f] (natural order, physical units, nloc samples per group leader;
 * ntotal over comm): their mean's inputs projected onto the latent prior,
 * rf->steps Gauss-Newton steps from there (every group the same), and
 * every sample shifted by (the refined state - the mean), so that the
 * samples' mean is the refined state and their spread is the model's.
 * Collective on comm. */
PetscErrorCode PFCLIInferRefineRows(PFCLIInferRefine *rf, PFCLIMeshContext *ctx, MPI_Comm comm, const PFObs *o, PFObsOperator *H, PetscInt field, PetscInt nloc, PetscInt ntotal, double *rows[]);
