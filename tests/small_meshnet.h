#pragma once
/* The tests' small mesh network: width 4, 2 norm groups, 4 time features,
 * `depth` blocks (and `levels` U-Net levels unless 0: the options' value),
 * on graph g with nf fields, planned for B samples; weights from seed,
 * then every parameter shifted by 0.05 sin(phase + i) so the norms' gamma
 * and beta (which start at 1 and 0) get generic gradients. */
#include <math.h>
#include <physflow.h>
#include <physflow/meshgraph.h>

static inline PetscErrorCode TestSmallMeshNet(PFMeshGraph g, const char type[], PetscInt nf, const char depth[], const char levels[], PetscInt seed, double phase, PetscInt B, PFNet *net)
{
  size_t  np;
  pfreal *P, *Gr;

  PetscFunctionBegin;
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_width", "4"));
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_depth", depth));
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_groups", "2"));
  PetscCall(PetscOptionsSetValue(NULL, "-mesh_temb_dim", "4"));
  if (levels) PetscCall(PetscOptionsSetValue(NULL, "-mesh_levels", levels));
  PetscCall(PFNetCreate(PETSC_COMM_WORLD, net));
  PetscCall(PFNetSetType(*net, type));
  PetscCall(PFNetSetFromOptions(*net));
  PetscCall(PFNetMeshSetGraph(*net, g, nf));
  PetscCall(PFNetSetUp(*net));
  PetscCall(PFNetInitializeWeights(*net, seed));
  PetscCall(PFNetPlan(*net, B));
  PetscCall(PFNetGetParameters(*net, &np, &P, &Gr));
  for (size_t i = 0; i < np; i++) P[i] += (pfreal)(0.05 * sin(phase + (double)i));
  PetscFunctionReturn(PETSC_SUCCESS);
}
