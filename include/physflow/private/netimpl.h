#pragma once
#include <physflow/net.h>
#define PF_NET_MAXSETS 65

typedef enum {
  PF_INIT_FANIN_UNIFORM, /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's Linear default */
  PF_INIT_ONES,
  PF_INIT_ZEROS
} PFParamInit;

struct _PFNetOps {
  PetscErrorCode (*setfromoptions)(PFNet, PetscOptionItems *);
  PetscErrorCode (*setup)(PFNet);                  /* declare parameter views */
  PetscErrorCode (*bindparams)(PFNet);             /* point layers into the buffers */
  PetscErrorCode (*workspacesize)(PFNet, PetscInt, size_t *);
  PetscErrorCode (*bindworkspace)(PFNet, PetscInt);
  PetscErrorCode (*forward)(PFNet, PetscInt, const pfreal *, const pfreal *, pfreal *);
  PetscErrorCode (*backward)(PFNet, PetscInt, const pfreal *, pfreal *);
  PetscErrorCode (*flops)(PFNet, double *);
  PetscErrorCode (*view)(PFNet, PetscViewer);
  PetscErrorCode (*writearch)(PFNet, hid_t);
  PetscErrorCode (*readarch)(PFNet, hid_t);
  PetscErrorCode (*destroy)(PFNet);
};

struct _p_PFNet {
  MPI_Comm         comm;
  char             type[64];
  struct _PFNetOps ops;
  void            *data;
  PetscInt         nin;      /* per-sample state size */
  PetscBool        setupcalled;
  /* the flat buffers and their table */
  size_t       nparams;
  pfreal      *params, *grads;
  PFParamView *views;
  PFParamInit *inits;
  PetscInt    *fanin;
  PetscInt     nviews, maxviews;
  /* planned activations */
  PetscInt maxbatch;
  size_t   nwork;
  pfreal  *work;
  /* extra activation sets (PFNetSelectActivations): set k >= 1 holds
   * nxwork[k] values; bound = rows of the set the layers point into */
  pfreal  *xwork[PF_NET_MAXSETS];
  size_t   nxwork[PF_NET_MAXSETS];
  PetscInt bound;
};

/* Used by implementations' setup: declare the next parameter block */
PETSC_INTERN PetscErrorCode PFNetAddParam(PFNet net, const char name[], PetscInt rows, PetscInt cols, PFParamInit init, PetscInt fanin, size_t *offset);

PETSC_INTERN PetscErrorCode PFNetCreate_MLP(PFNet);
PETSC_INTERN PetscErrorCode PFNetCreate_Mesh(PFNet);
