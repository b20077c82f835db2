/* The MLP velocity network (-net_type mlp), for vector-valued states such as
 * the 2-D toy distributions:
 *
 *   z   = [x, temb(t)]                      temb: sinusoidal, E features
 *   h_0 = z W_in + b_in                     width W
 *   h_i = h_{i-1} + act(LN(h_{i-1})) W_i + b_i,   i = 1..D  (pre-norm residual)
 *   v   = act(LN_out(h_D)) W_out + b_out
 *
 * bench/torch_mlp.py is the same network in PyTorch, parameter for parameter. */
#include <physflow/h5util.h>
#include <physflow/nn.h>
#include <physflow/private/netimpl.h>

typedef struct {
  PetscInt     width, depth, temb;
  PFActivation act;
  /* parameter offsets */
  size_t      o_Win, o_bin, o_gout, o_bout_ln, o_Wout, o_bout;
  PFResBlock *blocks;
  size_t     *o_block; /* offset of each block's parameter run */
  /* workspace views */
  pfreal *z, **h, *ln, *acted, *mean, *rstd; /* forward */
  pfreal *dh, *dh2, *tmp, *dz;               /* backward */
} PFNet_MLP;

static PetscErrorCode SetFromOptions_MLP(PFNet net, PetscOptionItems *PetscOptionsObject)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "MLP network options");
  PetscCall(PetscOptionsInt("-mlp_width", "Hidden width W", "PFNet", mlp->width, &mlp->width, NULL));
  PetscCall(PetscOptionsInt("-mlp_depth", "Number of residual blocks D", "PFNet", mlp->depth, &mlp->depth, NULL));
  PetscCall(PetscOptionsInt("-mlp_temb_dim", "Sinusoidal time-embedding features E (even)", "PFNet", mlp->temb, &mlp->temb, NULL));
  PetscCall(PetscOptionsEnum("-mlp_act", "Activation", "PFNet", PFActivations, (PetscEnum)mlp->act, (PetscEnum *)&mlp->act, NULL));
  PetscOptionsHeadEnd();
  PetscCheck(mlp->width > 0 && mlp->depth >= 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mlp_width must be > 0 and -mlp_depth >= 0 (got %" PetscInt_FMT ", %" PetscInt_FMT ")", mlp->width, mlp->depth);
  PetscCheck(mlp->temb >= 2 && mlp->temb % 2 == 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mlp_temb_dim must be even and >= 2, got %" PetscInt_FMT, mlp->temb);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SetUp_MLP(PFNet net)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  PetscInt   W = mlp->width, nz = net->nin + mlp->temb;
  char       name[48];

  PetscFunctionBegin;
  PetscCall(PFNetAddParam(net, "in.W", nz, W, PF_INIT_FANIN_UNIFORM, nz, &mlp->o_Win));
  PetscCall(PFNetAddParam(net, "in.b", 1, W, PF_INIT_FANIN_UNIFORM, nz, &mlp->o_bin));
  PetscCall(PetscFree(mlp->blocks));
  PetscCall(PetscFree(mlp->o_block));
  PetscCall(PetscCalloc1(mlp->depth, &mlp->blocks));
  PetscCall(PetscCalloc1(mlp->depth, &mlp->o_block));
  for (PetscInt i = 0; i < mlp->depth; i++) {
    PFResBlock *blk = &mlp->blocks[i];
    size_t      off;
    blk->S   = 1;
    blk->C   = W;
    blk->G   = 1;
    blk->act = mlp->act;
    /* the block reads its parameters as one run: gamma, beta, W, b */
    PetscCall(PetscSNPrintf(name, sizeof(name), "block%" PetscInt_FMT ".gamma", i));
    PetscCall(PFNetAddParam(net, name, 1, W, PF_INIT_ONES, 0, &off));
    PetscCall(PetscSNPrintf(name, sizeof(name), "block%" PetscInt_FMT ".beta", i));
    PetscCall(PFNetAddParam(net, name, 1, W, PF_INIT_ZEROS, 0, NULL));
    PetscCall(PetscSNPrintf(name, sizeof(name), "block%" PetscInt_FMT ".W", i));
    PetscCall(PFNetAddParam(net, name, W, W, PF_INIT_FANIN_UNIFORM, W, NULL));
    PetscCall(PetscSNPrintf(name, sizeof(name), "block%" PetscInt_FMT ".b", i));
    PetscCall(PFNetAddParam(net, name, 1, W, PF_INIT_FANIN_UNIFORM, W, NULL));
    mlp->o_block[i] = off;
  }
  PetscCall(PFNetAddParam(net, "out.gamma", 1, W, PF_INIT_ONES, 0, &mlp->o_gout));
  PetscCall(PFNetAddParam(net, "out.beta", 1, W, PF_INIT_ZEROS, 0, &mlp->o_bout_ln));
  PetscCall(PFNetAddParam(net, "out.W", W, net->nin, PF_INIT_FANIN_UNIFORM, W, &mlp->o_Wout));
  PetscCall(PFNetAddParam(net, "out.b", 1, net->nin, PF_INIT_FANIN_UNIFORM, W, &mlp->o_bout));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BindParams_MLP(PFNet net)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;

  PetscFunctionBegin;
  for (PetscInt i = 0; i < mlp->depth; i++) PFResBlockBindParams(&mlp->blocks[i], net->params + mlp->o_block[i], net->grads + mlp->o_block[i]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WorkspaceSize_MLP(PFNet net, PetscInt B, size_t *n)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  PetscInt   W = mlp->width, nz = net->nin + mlp->temb;
  size_t     s = 0;

  PetscFunctionBegin;
  s += (size_t)B * nz;                      /* z */
  s += (size_t)(mlp->depth + 1) * B * W;    /* h_0..h_D */
  for (PetscInt i = 0; i < mlp->depth; i++) s += (size_t)PFResBlockWorkspaceSize(&mlp->blocks[i], B);
  s += 2 * (size_t)B * W + 2 * (size_t)B;   /* output LN + act, stats */
  s += 3 * (size_t)B * W + (size_t)B * nz;  /* backward: dh, dh2, tmp, dz */
  *n = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BindWorkspace_MLP(PFNet net, PetscInt B)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  PetscInt   W = mlp->width, nz = net->nin + mlp->temb;
  pfreal    *w = net->work;

  PetscFunctionBegin;
  mlp->z = w;
  w += (size_t)B * nz;
  PetscCall(PetscFree(mlp->h));
  PetscCall(PetscMalloc1(mlp->depth + 1, &mlp->h));
  for (PetscInt i = 0; i <= mlp->depth; i++) {
    mlp->h[i] = w;
    w += (size_t)B * W;
  }
  for (PetscInt i = 0; i < mlp->depth; i++) {
    PFResBlockBindWorkspace(&mlp->blocks[i], B, w);
    w += PFResBlockWorkspaceSize(&mlp->blocks[i], B);
  }
  mlp->ln    = w;
  mlp->acted = w + (size_t)B * W;
  mlp->mean  = w + 2 * (size_t)B * W;
  mlp->rstd  = mlp->mean + B;
  w += 2 * (size_t)B * W + 2 * (size_t)B;
  mlp->dh  = w;
  mlp->dh2 = w + (size_t)B * W;
  mlp->tmp = w + 2 * (size_t)B * W;
  mlp->dz  = w + 3 * (size_t)B * W;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Forward_MLP(PFNet net, PetscInt B, const pfreal *x, const pfreal *t, pfreal *v)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  PetscInt   W = mlp->width, nin = net->nin, nz = nin + mlp->temb;
  pfreal    *P = net->params;

  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++) PetscCall(PetscArraycpy(mlp->z + b * nz, x + b * nin, nin));
  PFTimeEmbedForward(B, mlp->temb, t, nz, mlp->z + nin);
  PFDenseForward(B, nz, W, mlp->z, P + mlp->o_Win, P + mlp->o_bin, mlp->h[0]);
  for (PetscInt i = 0; i < mlp->depth; i++) PFResBlockForward(&mlp->blocks[i], B, mlp->h[i], mlp->h[i + 1]);
  PFLayerNormForward(B, W, mlp->h[mlp->depth], P + mlp->o_gout, P + mlp->o_bout_ln, mlp->ln, mlp->mean, mlp->rstd);
  PFActivationForward(mlp->act, B * W, mlp->ln, mlp->acted);
  PFDenseForward(B, W, nin, mlp->acted, P + mlp->o_Wout, P + mlp->o_bout, v);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Backward_MLP(PFNet net, PetscInt B, const pfreal *dv, pfreal *dx)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  PetscInt   W = mlp->width, nin = net->nin, nz = nin + mlp->temb;
  pfreal    *P = net->params, *G = net->grads, *dh = mlp->dh, *dh2 = mlp->dh2;

  PetscFunctionBegin;
  PFDenseBackward(B, W, nin, mlp->acted, P + mlp->o_Wout, dv, 0, mlp->tmp, G + mlp->o_Wout, G + mlp->o_bout);
  PFActivationBackward(mlp->act, B * W, mlp->ln, mlp->tmp, 0, mlp->tmp);
  PFLayerNormBackward(B, W, mlp->h[mlp->depth], P + mlp->o_gout, mlp->mean, mlp->rstd, mlp->tmp, 0, dh, G + mlp->o_gout, G + mlp->o_bout_ln);
  for (PetscInt i = mlp->depth - 1; i >= 0; i--) {
    PFResBlockBackward(&mlp->blocks[i], B, mlp->h[i], dh, mlp->tmp, dh2);
    pfreal *s = dh;
    dh        = dh2;
    dh2       = s;
  }
  PFDenseBackward(B, nz, W, mlp->z, P + mlp->o_Win, dh, 0, dx ? mlp->dz : NULL, G + mlp->o_Win, G + mlp->o_bin);
  if (dx)
    for (PetscInt b = 0; b < B; b++) PetscCall(PetscArraycpy(dx + b * nin, mlp->dz + b * nz, nin));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Flops_MLP(PFNet net, double *flops)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  double     W = (double)mlp->width, nz = (double)(net->nin + mlp->temb);

  PetscFunctionBegin;
  *flops = 2.0 * (nz * W + (double)mlp->depth * W * W + W * (double)net->nin);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode View_MLP(PFNet net, PetscViewer viewer)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(viewer, "mlp: width %" PetscInt_FMT ", depth %" PetscInt_FMT ", time embedding %" PetscInt_FMT ", activation %s\n", mlp->width, mlp->depth, mlp->temb, PFActivations[mlp->act]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriteArch_MLP(PFNet net, hid_t g)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;

  PetscFunctionBegin;
  PetscCall(PFH5WriteAttrInt(g, "mlp_width", mlp->width));
  PetscCall(PFH5WriteAttrInt(g, "mlp_depth", mlp->depth));
  PetscCall(PFH5WriteAttrInt(g, "mlp_temb_dim", mlp->temb));
  PetscCall(PFH5WriteAttrString(g, "mlp_act", PFActivations[mlp->act]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ReadArch_MLP(PFNet net, hid_t g)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;
  char       act[16];
  PetscBool  found;

  PetscFunctionBegin;
  PetscCall(PFH5ReadAttrInt(g, "mlp_width", &mlp->width));
  PetscCall(PFH5ReadAttrInt(g, "mlp_depth", &mlp->depth));
  PetscCall(PFH5ReadAttrInt(g, "mlp_temb_dim", &mlp->temb));
  PetscCall(PFH5ReadAttrString(g, "mlp_act", act, sizeof(act)));
  PetscCall(PetscEnumFind(PFActivations, act, (PetscEnum *)&mlp->act, &found));
  PetscCheck(found, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "unknown activation '%s' in model file", act);
  PetscCheck(mlp->width > 0 && mlp->depth >= 0 && mlp->temb >= 2, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "corrupt mlp architecture in model file");
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy_MLP(PFNet net)
{
  PFNet_MLP *mlp = (PFNet_MLP *)net->data;

  PetscFunctionBegin;
  PetscCall(PetscFree(mlp->blocks));
  PetscCall(PetscFree(mlp->o_block));
  PetscCall(PetscFree(mlp->h));
  PetscCall(PetscFree(net->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetCreate_MLP(PFNet net)
{
  PFNet_MLP *mlp;

  PetscFunctionBegin;
  PetscCall(PetscNew(&mlp));
  mlp->width              = 128;
  mlp->depth              = 3;
  mlp->temb               = 64;
  mlp->act                = PF_ACT_SILU;
  net->data               = mlp;
  net->ops.setfromoptions = SetFromOptions_MLP;
  net->ops.setup          = SetUp_MLP;
  net->ops.bindparams     = BindParams_MLP;
  net->ops.workspacesize  = WorkspaceSize_MLP;
  net->ops.bindworkspace  = BindWorkspace_MLP;
  net->ops.forward        = Forward_MLP;
  net->ops.backward       = Backward_MLP;
  net->ops.flops          = Flops_MLP;
  net->ops.view           = View_MLP;
  net->ops.writearch      = WriteArch_MLP;
  net->ops.readarch       = ReadArch_MLP;
  net->ops.destroy        = Destroy_MLP;
  PetscFunctionReturn(PETSC_SUCCESS);
}
