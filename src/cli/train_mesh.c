/* Wiring of the domain-decomposed mesh models (train and sample on PDE
 * datasets): MPI_COMM_WORLD = G groups x P ranks (-pf_group_size P, default
 * all ranks in one group); each group distributes the data's mesh over its
 * ranks (PFPhysics), the mesh network works on the owned vertices, groups
 * take different samples of each batch, and one allreduce over the world
 * sums the gradient. */
#include <physflow/meshgraph.h>
#include "cli.h"

PetscErrorCode PFCLIMeshContextCreate(MPI_Comm world, const char datafile[], PFCLIMeshContext *ctx)
{
  PetscMPIInt wrank, wsize;
  PetscInt    P;
  char       *names[PF_CLI_MAXFIELDS];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(ctx, sizeof(*ctx)));
  PetscCallMPI(MPI_Comm_rank(world, &wrank));
  PetscCallMPI(MPI_Comm_size(world, &wsize));
  P            = wsize;
  ctx->nfields = PF_CLI_MAXFIELDS;
  PetscOptionsBegin(world, NULL, "Mesh (PDE field) models", "train");
  PetscCall(PetscOptionsInt("-pf_group_size", "Ranks per group (domain decomposition); groups split the batch", "train", P, &P, NULL));
  PetscCall(PetscOptionsStringArray("-fields", "Fields of the dataset to model (default: all of the physics)", "train", names, &ctx->nfields, NULL));
  PetscOptionsEnd();
  PetscCheck(P >= 1 && wsize % P == 0, world, PETSC_ERR_ARG_INCOMP, "-pf_group_size %" PetscInt_FMT " must divide the number of ranks (%d)", P, wsize);
  for (PetscInt f = 0; f < ctx->nfields; f++) {
    PetscCall(PetscStrncpy(ctx->fields[f], names[f], sizeof(ctx->fields[f])));
    PetscCall(PetscFree(names[f]));
  }
  ctx->G   = wsize / P;
  ctx->gid = wrank / P;
  PetscCallMPI(MPI_Comm_split(world, (PetscMPIInt)ctx->gid, wrank, &ctx->gcomm));
  if (datafile && datafile[0]) PetscCall(PFCLIProblemOptionsFromFile(world, datafile));
  PetscCall(PFPhysicsCreate(ctx->gcomm, &ctx->phys));
  PetscCall(PFPhysicsSetFromOptions(ctx->phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshContextSetUp(PFCLIMeshContext *ctx)
{
  PFMesh mesh;

  PetscFunctionBegin;
  PetscCall(PFPhysicsSetUp(ctx->phys));
  PetscCall(PFPhysicsGetMesh(ctx->phys, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &ctx->graph));
  if (ctx->nfields == 0) {
    const char *const *names;
    PetscCall(PFPhysicsGetFields(ctx->phys, &ctx->nfields, &names, NULL));
    for (PetscInt f = 0; f < ctx->nfields; f++) PetscCall(PetscStrncpy(ctx->fields[f], names[f], sizeof(ctx->fields[f])));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshContextDestroy(PFCLIMeshContext *ctx)
{
  PetscFunctionBegin;
  PetscCall(PFMeshGraphDestroy(&ctx->graph));
  PetscCall(PFPhysicsDestroy(&ctx->phys));
  if (ctx->gcomm != MPI_COMM_NULL && ctx->gcomm) PetscCallMPI(MPI_Comm_free(&ctx->gcomm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* keys and loss weights of the local components (field f, owned vertex i) */
PetscErrorCode PFCLIMeshFlowSetUp(PFCLIMeshContext *ctx, PFFlow flow)
{
  PetscInt        n, *keys;
  const PetscInt *nat;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &n, &nat));
  PetscCall(PetscMalloc1(ctx->nfields * n + 1, &keys));
  for (PetscInt f = 0; f < ctx->nfields; f++)
    for (PetscInt i = 0; i < n; i++) keys[f * n + i] = nat[i] * ctx->nfields + f;
  PetscCall(PFFlowSetComponentKeys(flow, ctx->nfields * n, keys));
  PetscCall(PetscFree(keys));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCLIMeshTrainSetUp(PFCLIMeshContext *ctx, const char datafile[], PFNet net, PFFlow flow, PFTrainer tr, uint64_t seed, PFData *data)
{
  PetscInt           n;
  const PetscInt    *nat;
  const PetscScalar *mass;
  const char        *names[PF_CLI_MAXFIELDS];
  pfreal            *w;
  double             loc = 0, M;

  PetscFunctionBegin;
  PetscCheck(PFNetIsMesh(net), ctx->gcomm, PETSC_ERR_ARG_WRONG, "'%s' holds fields on a mesh: train them with -net_type %s or %s (not %s)", datafile, PFNETMESHUNET, PFNETMESH, net->type);
  PetscCall(PFCLIMeshContextSetUp(ctx));
  PetscCall(PFPhysicsGetVertexMap(ctx->phys, &n, &nat));
  PetscCall(PFPhysicsGetVertexMass(ctx->phys, &mass));
  for (PetscInt f = 0; f < ctx->nfields; f++) names[f] = ctx->fields[f];
  PetscCall(PFDataCreateMesh(ctx->gcomm, datafile, ctx->nfields, names, n, nat, seed, data));
  PetscCall(PFNetMeshSetGraph(net, ctx->graph, ctx->nfields));
  PetscCall(PFCLIMeshFlowSetUp(ctx, flow));
  /* the loss is the mass-weighted mean over the domain and the fields: an
   * integral, independent of the mesh */
  for (PetscInt i = 0; i < n; i++) loc += PetscRealPart(mass[i]);
  PetscCallMPI(MPI_Allreduce(&loc, &M, 1, MPI_DOUBLE, MPI_SUM, ctx->gcomm));
  {
    /* per-field factors: fine-tuning on low-fidelity data trusts its inputs
     * (exact) more than its states (a coarse solve), e.g. 1,0.1 */
    PetscReal fw[PF_CLI_MAXFIELDS];
    PetscCheck(!ctx->nfm_weights || ctx->nfm_weights == ctx->nfields, ctx->gcomm, PETSC_ERR_ARG_WRONG, "-fm_field_weights needs %" PetscInt_FMT " values (one per field), got %" PetscInt_FMT, ctx->nfields, ctx->nfm_weights);
    for (PetscInt f = 0; f < ctx->nfields; f++) {
      fw[f] = ctx->nfm_weights ? ctx->fm_weights[f] : 1;
      PetscCheck(fw[f] >= 0 && PetscIsNormalReal(fw[f] + 1), ctx->gcomm, PETSC_ERR_ARG_OUTOFRANGE, "-fm_field_weights must be finite and >= 0");
    }
    PetscCall(PetscMalloc1(ctx->nfields * n + 1, &w));
    for (PetscInt f = 0; f < ctx->nfields; f++)
      for (PetscInt i = 0; i < n; i++) w[f * n + i] = (pfreal)(fw[f] * PetscRealPart(mass[i]) / (M * ctx->nfields));
  }
  PetscCall(PFTrainerSetDomain(tr, ctx->G, ctx->gid, w));
  PetscCall(PetscFree(w));
  PetscFunctionReturn(PETSC_SUCCESS);
}
