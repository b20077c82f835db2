#pragma once
/* physflow infer -infer_type mcmc (src/cli/infer_mcmc.c): reference
 * posterior samples by pCN chains on the physics' latent prior, the
 * Bayes-exact yardstick of the generative methods (slow: one state solve
 * per chain step). */
#include <physflow/inverse.h>
#include <physflow/obs.h>
#include "cli.h"

typedef struct {
  PFCLIMeshContext *ctx;
  const double     *mean, *std; /* the model's normalisation, per field */
  PFMCMCParams      p;
  PetscInt          chains;     /* the samples are split over this many chains */
  PetscBool         from_map;   /* each chain starts at the MAP estimate (else the prior mean) */
  PetscBool         laplace;    /* -mcmc_proposal laplace: around the Laplace approximation at the MAP */
  PetscInt          n, seed;    /* samples in all; chain c's random numbers: (seed, c) */
  double            acceptance, beta; /* out: means over the chains (after the burn-in) */
} PFCLIInferMCMC;

/* The rows [*lo, *hi) of the n samples that group gid of G computes: whole
 * chains, chain c holding rows [c n / C, (c+1) n / C), so that the samples
 * do not depend on the group layout */
void PFCLIInferMCMCRows(const PFCLIInferMCMC *mc, PetscInt gid, PetscInt G, PetscInt *lo, PetscInt *hi);
/* this group's rows into x [hi - lo][F nown] (normalised); collective on
 * comm, whose groups run their chains */
PetscErrorCode PFCLIInferMCMCSample(PFCLIInferMCMC *mc, MPI_Comm comm, PetscInt gid, PetscInt G, const PFObs *o, PFObsOperator *H, PetscInt field, pfreal *x);
