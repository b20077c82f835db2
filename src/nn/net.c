#include <math.h>
#include <physflow/h5util.h>
#include <physflow/log.h>
#include <physflow/private/netimpl.h>
#include <physflow/rng.h>

static PetscFunctionList PFNetList              = NULL;
static PetscBool         PFNetRegisterAllCalled = PETSC_FALSE;

PetscErrorCode PFNetRegister(const char name[], PetscErrorCode (*create)(PFNet))
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListAdd(&PFNetList, name, create));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PFNetFinalizePackage(void)
{
  PetscFunctionBegin;
  PetscCall(PetscFunctionListDestroy(&PFNetList));
  PFNetRegisterAllCalled = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode PFNetRegisterAll(void)
{
  PetscFunctionBegin;
  if (PFNetRegisterAllCalled) PetscFunctionReturn(PETSC_SUCCESS);
  PFNetRegisterAllCalled = PETSC_TRUE;
  PetscCall(PetscRegisterFinalize(PFNetFinalizePackage));
  PetscCall(PFNetRegister(PFNETMLP, PFNetCreate_MLP));
  PetscCall(PFNetRegister(PFNETMESH, PFNetCreate_Mesh));
  PetscCall(PFNetRegister(PFNETMESHUNET, PFNetCreate_Mesh));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetCreate(MPI_Comm comm, PFNet *net)
{
  PetscFunctionBegin;
  PetscCall(PFInitializePackage());
  PetscCall(PFNetRegisterAll());
  PetscCall(PetscNew(net));
  (*net)->comm = comm;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetSetType(PFNet net, PFNetType type)
{
  PetscErrorCode (*create)(PFNet);
  PetscBool same;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(net->type, type, &same));
  if (same) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(!net->setupcalled, net->comm, PETSC_ERR_ORDER, "cannot change the network type after PFNetSetUp");
  PetscCall(PetscFunctionListFind(PFNetList, type, &create));
  PetscCheck(create, net->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown network type '%s' (available: mlp, meshnet, meshunet)", type);
  if (net->ops.destroy) PetscCall(net->ops.destroy(net));
  PetscCall(PetscMemzero(&net->ops, sizeof(net->ops)));
  net->data = NULL;
  PetscCall(PetscStrncpy(net->type, type, sizeof(net->type)));
  PetscCall(create(net));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetGetType(PFNet net, PFNetType *type)
{
  PetscFunctionBegin;
  *type = net->type;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetSetInputSize(PFNet net, PetscInt nin)
{
  PetscFunctionBegin;
  PetscCheck(nin > 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "network input size must be positive, got %" PetscInt_FMT, nin);
  net->nin = nin;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetGetInputSize(PFNet net, PetscInt *nin)
{
  PetscFunctionBegin;
  *nin = net->nin;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetSetFromOptions(PFNet net)
{
  char      type[64] = PFNETMLP;
  PetscBool set;

  PetscFunctionBegin;
  if (net->type[0]) PetscCall(PetscStrncpy(type, net->type, sizeof(type)));
  PetscOptionsBegin(net->comm, NULL, "Network options", "PFNet");
  PetscCall(PetscOptionsFList("-net_type", "Network architecture", "PFNetSetType", PFNetList, type, type, sizeof(type), &set));
  PetscCall(PFNetSetType(net, type));
  if (net->ops.setfromoptions) PetscCall(net->ops.setfromoptions(net, PetscOptionsObject));
  PetscOptionsEnd();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetAddParam(PFNet net, const char name[], PetscInt rows, PetscInt cols, PFParamInit init, PetscInt fanin, size_t *offset)
{
  PetscFunctionBegin;
  if (net->nviews == net->maxviews) {
    PetscInt n = net->maxviews ? 2 * net->maxviews : 32;
    PetscCall(PetscRealloc(sizeof(PFParamView) * n, &net->views));
    PetscCall(PetscRealloc(sizeof(PFParamInit) * n, &net->inits));
    PetscCall(PetscRealloc(sizeof(PetscInt) * n, &net->fanin));
    net->maxviews = n;
  }
  PFParamView *v = &net->views[net->nviews];
  PetscCall(PetscStrncpy(v->name, name, sizeof(v->name)));
  v->offset                 = net->nparams;
  v->rows                   = rows;
  v->cols                   = cols;
  net->inits[net->nviews]   = init;
  net->fanin[net->nviews++] = fanin;
  if (offset) *offset = net->nparams;
  net->nparams += (size_t)rows * (size_t)cols;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetSetUp(PFNet net)
{
  PetscFunctionBegin;
  if (net->setupcalled) PetscFunctionReturn(PETSC_SUCCESS);
  if (!net->type[0]) PetscCall(PFNetSetType(net, PFNETMLP));
  PetscCheck(net->nin > 0, net->comm, PETSC_ERR_ORDER, "call PFNetSetInputSize before PFNetSetUp");
  net->nparams = 0;
  net->nviews  = 0;
  PetscCall(net->ops.setup(net));
  PetscCall(PetscCalloc1(net->nparams, &net->params));
  PetscCall(PetscCalloc1(net->nparams, &net->grads));
  PetscCall(net->ops.bindparams(net));
  net->setupcalled = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetInitializeWeights(PFNet net, uint64_t seed)
{
  PetscFunctionBegin;
  PetscCheck(net->setupcalled, net->comm, PETSC_ERR_ORDER, "call PFNetSetUp first");
  /* each parameter has its own counter-based stream (view, element), so
   * the initial weights do not depend on the order layers are visited */
  for (PetscInt iv = 0; iv < net->nviews; iv++) {
    const PFParamView *v = &net->views[iv];
    pfreal            *p = net->params + v->offset;
    PetscInt           n = v->rows * v->cols;
    double             bound = 1.0 / sqrt((double)(net->fanin[iv] > 0 ? net->fanin[iv] : 1));
    for (PetscInt i = 0; i < n; i++) {
      switch (net->inits[iv]) {
      case PF_INIT_ONES:
        p[i] = 1;
        break;
      case PF_INIT_ZEROS:
        p[i] = 0;
        break;
      case PF_INIT_FANIN_UNIFORM: {
        PFRNG r;
        PFRNGInit(&r, seed, PF_RNG_WEIGHT_INIT, (uint64_t)iv, (uint32_t)i);
        p[i] = (pfreal)(bound * (2.0 * PFRNGUniform(&r) - 1.0));
      } break;
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetPlan(PFNet net, PetscInt maxbatch)
{
  size_t n;

  PetscFunctionBegin;
  PetscCheck(net->setupcalled, net->comm, PETSC_ERR_ORDER, "call PFNetSetUp first");
  PetscCheck(maxbatch > 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "batch size must be positive");
  if (maxbatch <= net->maxbatch) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(net->ops.workspacesize(net, maxbatch, &n));
  PetscCall(PetscFree(net->work));
  PetscCall(PetscCalloc1(n, &net->work));
  net->nwork    = n;
  net->maxbatch = maxbatch;
  net->bound    = maxbatch;
  PetscCall(net->ops.bindworkspace(net, maxbatch));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetSelectActivations(PFNet net, PetscInt k, PetscInt B)
{
  pfreal *planned = net->work;

  PetscFunctionBegin;
  PetscCheck(net->maxbatch > 0, net->comm, PETSC_ERR_ORDER, "call PFNetPlan first");
  PetscCheck(k >= 0 && k < PF_NET_MAXSETS, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "activation set %" PetscInt_FMT " out of range [0, %d]", k, PF_NET_MAXSETS - 1);
  if (k == 0) {
    net->bound = net->maxbatch;
    PetscCall(net->ops.bindworkspace(net, net->maxbatch));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCheck(B > 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "an activation set needs a positive batch");
  {
    size_t n;
    PetscCall(net->ops.workspacesize(net, B, &n));
    if (n > net->nxwork[k]) {
      PetscCall(PetscFree(net->xwork[k]));
      PetscCall(PetscCalloc1(n, &net->xwork[k]));
      net->nxwork[k] = n;
    }
  }
  /* the implementations bind into net->work: point it at the set for the
   * call (the layers keep pointing there until the next selection) */
  net->work  = net->xwork[k];
  net->bound = B;
  PetscCall(net->ops.bindworkspace(net, B));
  net->work = planned;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetForward(PFNet net, PetscInt B, const pfreal *x, const pfreal *t, pfreal *v)
{
  PetscFunctionBegin;
  PetscCheck(B <= net->bound, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "batch %" PetscInt_FMT " exceeds the %s %" PetscInt_FMT "; call PFNetPlan", B, net->bound == net->maxbatch ? "planned" : "selected activation set's", net->bound);
  PetscCall(PetscLogEventBegin(PF_EVENT_Forward, 0, 0, 0, 0));
  PetscCall(net->ops.forward(net, B, x, t, v));
  PetscCall(PetscLogEventEnd(PF_EVENT_Forward, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetForwardAtTime(PFNet net, PetscInt nloc, const pfreal *x, double t, pfreal *tbuf, pfreal *v)
{
  const size_t n = (size_t)net->nin;

  PetscFunctionBegin;
  PetscCheck(net->maxbatch > 0, net->comm, PETSC_ERR_ORDER, "call PFNetPlan before evaluating the net");
  for (PetscInt j = 0; j < PetscMin(net->maxbatch, nloc); j++) tbuf[j] = (pfreal)t;
  for (PetscInt b0 = 0; b0 < nloc; b0 += net->maxbatch) PetscCall(PFNetForward(net, PetscMin(net->maxbatch, nloc - b0), x + (size_t)b0 * n, tbuf, v + (size_t)b0 * n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetBackward(PFNet net, PetscInt B, const pfreal *dv, pfreal *dx)
{
  PetscFunctionBegin;
  PetscCall(PetscLogEventBegin(PF_EVENT_Backward, 0, 0, 0, 0));
  PetscCall(net->ops.backward(net, B, dv, dx));
  PetscCall(PetscLogEventEnd(PF_EVENT_Backward, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetZeroGradient(PFNet net)
{
  PetscFunctionBegin;
  PetscCall(PetscArrayzero(net->grads, net->nparams));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetGetParameters(PFNet net, size_t *n, pfreal **params, pfreal **grads)
{
  PetscFunctionBegin;
  if (n) *n = net->nparams;
  if (params) *params = net->params;
  if (grads) *grads = net->grads;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetGetParamViews(PFNet net, PetscInt *nviews, const PFParamView **views)
{
  PetscFunctionBegin;
  *nviews = net->nviews;
  *views  = net->views;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetGetFlops(PFNet net, double *flops)
{
  PetscFunctionBegin;
  *flops = 0;
  if (net->ops.flops) PetscCall(net->ops.flops(net, flops));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetView(PFNet net, PetscViewer viewer)
{
  PetscFunctionBegin;
  if (!viewer) PetscCall(PetscViewerASCIIGetStdout(net->comm, &viewer));
  PetscCall(PetscViewerASCIIPrintf(viewer, "PFNet %s: input size %" PetscInt_FMT ", %zu parameters (%s)\n", net->type, net->nin, net->nparams, PF_REAL_NAME));
  if (net->ops.view) {
    PetscCall(PetscViewerASCIIPushTab(viewer));
    PetscCall(net->ops.view(net, viewer));
    PetscCall(PetscViewerASCIIPopTab(viewer));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetDestroy(PFNet *net)
{
  PetscFunctionBegin;
  if (!*net) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*net)->ops.destroy) PetscCall((*net)->ops.destroy(*net));
  PetscCall(PetscFree((*net)->params));
  PetscCall(PetscFree((*net)->grads));
  PetscCall(PetscFree((*net)->views));
  PetscCall(PetscFree((*net)->inits));
  PetscCall(PetscFree((*net)->fanin));
  PetscCall(PetscFree((*net)->work));
  for (PetscInt k = 0; k < PF_NET_MAXSETS; k++) PetscCall(PetscFree((*net)->xwork[k]));
  PetscCall(PetscFree(*net));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetWriteH5(PFNet net, hid_t fid)
{
  hid_t   g;
  hsize_t dims[1] = {net->nparams};

  PetscFunctionBegin;
  g = H5Gcreate2(fid, "arch", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create group /arch");
  PetscCall(PFH5WriteAttrString(g, "net_type", net->type));
  PetscCall(PFH5WriteAttrInt(g, "nin", net->nin));
  PetscCall(PFH5WriteAttrInt(g, "nparams", (PetscInt)net->nparams));
  if (net->ops.writearch) PetscCall(net->ops.writearch(net, g));
  H5Gclose(g);
  PetscCall(PFH5WriteArray(fid, "params", H5T_NATIVE_PFREAL, H5T_IEEE_F32LE, 1, dims, net->params));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], const char dataset[], PFNet *net)
{
  char     type[64];
  PetscInt nin, nparams;
  hid_t    g;

  PetscFunctionBegin;
  PetscCheck(H5Lexists(fid, "arch", H5P_DEFAULT) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no network (group /arch missing)", path);
  g = H5Gopen2(fid, "arch", H5P_DEFAULT);
  PetscCall(PFH5ReadAttrString(g, "net_type", type, sizeof(type)));
  PetscCall(PFH5ReadAttrInt(g, "nin", &nin));
  PetscCall(PFH5ReadAttrInt(g, "nparams", &nparams));
  PetscCall(PFNetCreate(comm, net));
  PetscCall(PFNetSetType(*net, type));
  PetscCall(PFNetSetInputSize(*net, nin));
  if ((*net)->ops.readarch) PetscCall((*net)->ops.readarch(*net, g));
  H5Gclose(g);
  PetscCall(PFNetSetUp(*net));
  PetscCheck((size_t)nparams == (*net)->nparams, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': architecture gives %zu parameters but the file says %" PetscInt_FMT, path, (*net)->nparams, nparams);
  PetscCall(PFH5ReadArray(fid, path, dataset, H5T_NATIVE_PFREAL, (*net)->nparams, (*net)->params));
  for (size_t i = 0; i < (*net)->nparams; i++) PetscCheck(isfinite((double)(*net)->params[i]), PETSC_COMM_SELF, PETSC_ERR_FP, "'%s': parameter %zu of '%s' is not finite (diverged training?)", path, i, dataset);
  PetscFunctionReturn(PETSC_SUCCESS);
}
