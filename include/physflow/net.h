#pragma once
/* PFNet: a velocity network v_theta(x, t) on per-sample state vectors.
 *
 * Lifecycle (PETSc style): PFNetCreate, PFNetSetType / PFNetSetFromOptions,
 * PFNetSetInputSize, PFNetSetUp, PFNetInitializeWeights, PFNetPlan (workspace
 * for a batch size), Forward/Backward..., PFNetDestroy.
 *
 * All parameters live in ONE contiguous pfreal buffer, with a table of named
 * views into it; the gradient buffer has the same layout.  So a checkpoint is
 * one dataset and data-parallel training needs one allreduce per step. */
#include <hdf5.h>
#include <physflow/compat.h>
#include <petscviewer.h>
#include <physflow/real.h>

typedef struct _p_PFNet *PFNet;

typedef const char *PFNetType;
#define PFNETMLP  "mlp"
#define PFNETMESH "meshnet"
#define PFNETMESHUNET "meshunet"

/* A named view into the flat parameter buffer */
typedef struct {
  char     name[48];
  size_t   offset;
  PetscInt rows, cols;
} PFParamView;

PETSC_EXTERN PetscErrorCode PFNetRegister(const char name[], PetscErrorCode (*create)(PFNet));
PETSC_EXTERN PetscErrorCode PFNetCreate(MPI_Comm comm, PFNet *net);
PETSC_EXTERN PetscErrorCode PFNetSetType(PFNet net, PFNetType type);
PETSC_EXTERN PetscErrorCode PFNetGetType(PFNet net, PFNetType *type);
PETSC_EXTERN PetscErrorCode PFNetSetInputSize(PFNet net, PetscInt nin);
PETSC_EXTERN PetscErrorCode PFNetGetInputSize(PFNet net, PetscInt *nin);
PETSC_EXTERN PetscErrorCode PFNetSetFromOptions(PFNet net);
PETSC_EXTERN PetscErrorCode PFNetSetUp(PFNet net);
PETSC_EXTERN PetscErrorCode PFNetInitializeWeights(PFNet net, uint64_t seed);
PETSC_EXTERN PetscErrorCode PFNetPlan(PFNet net, PetscInt maxbatch);
PETSC_EXTERN PetscErrorCode PFNetForward(PFNet net, PetscInt B, const pfreal *x, const pfreal *t, pfreal *v);
/* v = net(x, t) for nloc states at one time t, in chunks of the planned
 * batch (a sampler's velocity); tbuf: scratch of the planned batch size */
PETSC_EXTERN PetscErrorCode PFNetForwardAtTime(PFNet net, PetscInt nloc, const pfreal *x, double t, pfreal *tbuf, pfreal *v);
/* Accumulates dL/dtheta into the gradient buffer for the last Forward's
 * inputs; writes dL/dx into dx if it is not NULL. */
PETSC_EXTERN PetscErrorCode PFNetBackward(PFNet net, PetscInt B, const pfreal *dv, pfreal *dx);
/* Activation sets: a chain of forwards whose backwards come later in reverse
 * order (an unrolled sampler) keeps each forward's activations in a set of
 * its own instead of recomputing them.  Set 0 is the planned workspace (the
 * default); set k in [1, 64] is allocated on first use for B rows (grown
 * when a later call asks for more).  Forward and Backward use the selected
 * set; select 0 again before anything else evaluates the net. */
PETSC_EXTERN PetscErrorCode PFNetSelectActivations(PFNet net, PetscInt k, PetscInt B);
PETSC_EXTERN PetscErrorCode PFNetZeroGradient(PFNet net);
PETSC_EXTERN PetscErrorCode PFNetGetParameters(PFNet net, size_t *n, pfreal **params, pfreal **grads);
PETSC_EXTERN PetscErrorCode PFNetGetParamViews(PFNet net, PetscInt *nviews, const PFParamView **views);
/* GEMM flops of one sample's forward through the whole network (a mesh
 * network sums its ranks' shares: collective on the net's group) */
PETSC_EXTERN PetscErrorCode PFNetGetFlops(PFNet net, double *flops_per_sample_forward);
PETSC_EXTERN PetscErrorCode PFNetView(PFNet net, PetscViewer viewer);
PETSC_EXTERN PetscErrorCode PFNetDestroy(PFNet *net);

/* The mesh network works on the owned vertices of a distributed mesh;
 * its input size becomes nfields x owned vertices */
typedef struct _p_PFMeshGraph *PFMeshGraphRef;
PETSC_EXTERN PetscErrorCode PFNetMeshSetGraph(PFNet net, PFMeshGraphRef graph, PetscInt nfields);
typedef struct _p_PFMeshLevels *PFMeshLevelsRef;
PETSC_EXTERN PetscErrorCode PFNetMeshGetLevels(PFNet net, PFMeshLevelsRef *levels);
/* meshnet or meshunet */
PETSC_EXTERN PetscBool      PFNetIsMesh(PFNet net);
PETSC_EXTERN PetscErrorCode PFNetMeshCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], const char dataset[], PFMeshGraphRef graph, PFNet *net);

/* HDF5: architecture attributes on group /arch and the flat /params buffer */
PETSC_EXTERN PetscErrorCode PFNetWriteH5(PFNet net, hid_t fid);
PETSC_EXTERN PetscErrorCode PFNetCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], const char dataset[], PFNet *net);
