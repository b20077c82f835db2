#pragma once
/* physflow infer -infer_gn_steps (src/cli/infer_refine.c): Gauss-Newton
 * steps of the MAP objective from a generative posterior's mean, and the
 * samples moved with it (issue 7). */
#include <physflow/inverse.h>
#include <physflow/obs.h>
#include "cli.h"

typedef struct {
  PetscInt           steps;    /* -infer_gn_steps (0: off) */
  PetscBool          laplace;  /* -infer_gn_spread laplace: the samples drawn from the Laplace approximation at the refined estimate */
  PetscBool          laplace_linear; /* -infer_laplace_state linear: their states linearised (else solved) */
  PFGaussNewtonStats st;       /* out: of the last observation */
  PetscBool          failed;   /* out: the solve at the mean failed (samples left as they were) */
  double             moved;    /* out: RMS of the mean's logK change (first input field) */
  double            *xi;       /* the refined estimate's latent variables and state (owned, physical units) */
  PetscScalar       *x;
  double            *L;        /* the factor of its last Gauss-Newton linearisation */
  double            *est;      /* the refined estimate [nf][nvert] (natural order, group leaders) */
} PFCLIInferRefine;

/* rows[f] (natural order, physical units, nloc samples per group leader;
 * ntotal over comm): their mean's inputs projected onto the latent prior,
 * rf->steps Gauss-Newton steps from there (every group the same), and
 * every sample shifted by (the refined state - the mean), so that the
 * samples' mean is the refined state and their spread is the model's.
 * Collective on comm. */
PetscErrorCode PFCLIInferRefineRows(PFCLIInferRefine *rf, PFCLIMeshContext *ctx, MPI_Comm comm, const PFObs *o, PFObsOperator *H, PetscInt field, PetscInt nloc, PetscInt ntotal, double *rows[]);

/* -infer_gn_spread laplace, after PFCLIInferRefineRows of the model's one
 * estimate: rows[f] replaced by this group's share [*lo, *hi) of N samples
 * of the Laplace approximation at the refined estimate (PFLaplaceSamples;
 * natural order on the group leaders).  The refinement must have
 * succeeded (else PETSC_ERR_NOT_CONVERGED: nothing to draw around).
 * Collective on comm. */
PetscErrorCode PFCLIInferLaplaceRows(PFCLIInferRefine *rf, PFCLIMeshContext *ctx, MPI_Comm comm, PetscInt gid, PetscInt G, const PFObs *o, PFObsOperator *H, PetscInt field, PetscInt N, PetscInt seed, PetscInt *lo, PetscInt *hi, double *rows[]);
PetscErrorCode PFCLIInferRefineDestroy(PFCLIInferRefine *rf);
