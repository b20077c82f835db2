/* The mesh networks: -net_type meshunet (a U-Net over the mesh hierarchy of
 * PFMeshLevels) and -net_type meshnet (its single-level special case).
 *
 *   h = Conv_in(x)                                    fields -> C channels
 *   for l = 0 .. L-1:      D residual blocks on level l;
 *                          if l < L-1: skip_l = h, h = R_l h   (restrict)
 *   for l = L-2 .. 0:      h = P_l h + skip_l                  (prolong, additive skip)
 *                          D residual blocks on level l
 *   v = Conv_out(SiLU(Norm_out(h)))                   C -> fields
 *
 * The residual blocks (meshblock.c) take the time through a per-block
 * projection of one shared time MLP, s = SiLU(temb(t) W + b), which runs
 * redundantly on every rank.  Every parameter gradient is this rank's
 * partial sum, completed by the trainer's single allreduce.  Level l's
 * blocks see 2^l times the data mesh's cell size, so L levels of D blocks
 * reach ~2^L times further than the single-level network at a cost of at
 * most 4/3 of its finest level.
 *
 * Input/output layout (PFNet's): x[b][f*nown + i] (fields of the owned
 * vertices, the PFPhysics order); internally vertex-major [nown][B][C].
 *
 * -mesh_geometry_features: h = Conv_in(x) + feat W_f, 3 static channels per
 * vertex embedded pointwise: whether it lies on the domain's boundary and
 * its position scaled to [-1, 1] over the mesh's bounding box (the
 * node-type and position inputs of mesh GNNs such as MeshGraphNets, Pfaff
 * et al. 2021).  Pointwise, not through Conv_in's operators: the Laplacian
 * of a position is zero up to rounding, whose partition-dependent noise
 * Adam would amplify into partition-dependent weights.  Without them a
 * boundary vertex differs from its neighbours only through the state, and
 * early in sampling the state is noise: Dirichlet values (no-slip on an
 * obstacle) must be inferred from the flow around them. */
#include <math.h>
#include <physflow/h5util.h>
#include <physflow/meshlevels.h>
#include <stdlib.h>
#include "meshblock.h"

#define MESHNET_MAXDEPTH  16
#define MESHNET_MAXBLOCKS (MESHNET_MAXDEPTH * (2 * PF_MESHLEVELS_MAX - 1))

typedef struct {
  /* options */
  PetscInt     width, depth, temb, groups, nfields, levels;
  PetscInt     level_faces[PF_MESHLEVELS_MAX][2]; /* from a model file; 0: derive from the mesh */
  PetscInt     nfeat;                             /* static input channels per vertex (0 or 3) */
  pfreal      *feat;                              /* [nown][nfeat] */
  PFMeshGraph  graph;
  PFMeshLevels lv;
  /* layers */
  PFMeshConv   in, out;
  size_t       o_in, o_out, o_nout, o_tW, o_tb, o_feat;
  PetscInt     nblocks;
  PFMeshBlock  blk[MESHNET_MAXBLOCKS]; /* down blocks of levels 0..L-1, then up blocks of L-2..0 */
  /* workspace (per planned batch B) */
  pfreal *xin, *h0, *nout, *aout, *vout, *outstats;
  pfreal *down[PF_MESHLEVELS_MAX], *up[PF_MESHLEVELS_MAX]; /* restricted input of level l+1, prolonged+skip of level l */
  const pfreal *skip[PF_MESHLEVELS_MAX];
  pfreal *tembv, *tact, *tpre, *dtacc; /* [B][E], [B][C] x 3 */
  pfreal *g[PF_MESHLEVELS_MAX][4];     /* backward scratch per level [nown_l][B][max(C,F)] */
} PFNet_Mesh;

static PetscBool IsUNet(PFNet net)
{
  PetscBool same;
  PetscStrcmp(net->type, PFNETMESHUNET, &same);
  return same;
}

static PetscErrorCode SetFromOptions_Mesh(PFNet net, PetscOptionItems *PetscOptionsObject)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Mesh network options");
  PetscCall(PetscOptionsInt("-mesh_width", "Channels C", "PFNet", m->width, &m->width, NULL));
  PetscCall(PetscOptionsInt("-mesh_depth", "Residual blocks (per level and direction for meshunet)", "PFNet", m->depth, &m->depth, NULL));
  PetscCall(PetscOptionsInt("-mesh_groups", "Groups of the group norms", "PFNet", m->groups, &m->groups, NULL));
  PetscCall(PetscOptionsInt("-mesh_temb_dim", "Sinusoidal time-embedding features", "PFNet", m->temb, &m->temb, NULL));
  {
    PetscBool geo = (PetscBool)(m->nfeat > 0);
    PetscCall(PetscOptionsBool("-mesh_geometry_features", "Give the input layer each vertex's position and whether it is on the domain's boundary (3 static channels)", "PFNet", geo, &geo, NULL));
    m->nfeat = geo ? 3 : 0;
  }
  if (IsUNet(net)) {
    PetscInt  faces[2 * PF_MESHLEVELS_MAX], nf = 2 * PF_MESHLEVELS_MAX;
    PetscBool set;
    PetscCall(PetscOptionsInt("-mesh_levels", "U-Net levels (1 = the data mesh only)", "PFNet", m->levels, &m->levels, NULL));
    /* a model's recorded coarse grids (fine-tuning, resuming): the same network */
    PetscCall(PetscOptionsIntArray("-mesh_level_faces", "Cells per direction of the coarse levels, nx,ny for levels 1.. (default: from the mesh spacing)", "PFNet", faces, &nf, &set));
    if (set) {
      PetscCheck(nf == 2 * (m->levels - 1), net->comm, PETSC_ERR_ARG_WRONG, "-mesh_level_faces needs 2 values per coarse level (%" PetscInt_FMT "), got %" PetscInt_FMT, 2 * (m->levels - 1), nf);
      for (PetscInt l = 1; l < m->levels; l++)
        for (int d = 0; d < 2; d++) {
          PetscCheck(faces[2 * (l - 1) + d] >= 2, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_level_faces: at least 2 cells per direction");
          m->level_faces[l][d] = faces[2 * (l - 1) + d];
        }
    }
  }
  PetscOptionsHeadEnd();
  PetscCheck(m->width > 0 && m->depth >= 0 && m->depth <= MESHNET_MAXDEPTH, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_width must be > 0 and -mesh_depth in [0, %d]", MESHNET_MAXDEPTH);
  PetscCheck(m->groups > 0 && m->width % m->groups == 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_groups must divide -mesh_width");
  PetscCheck(m->temb >= 2 && m->temb % 2 == 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_temb_dim must be even");
  PetscCheck(m->levels >= 1 && m->levels <= PF_MESHLEVELS_MAX, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_levels must be in [1, %d]", PF_MESHLEVELS_MAX);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* the static channels: boundary flag, x and y scaled to [-1, 1] */
static PetscErrorCode SetUpFeatures(PFNet_Mesh *m)
{
  const PetscInt n = m->graph->nown;
  PetscInt      *bnd;

  PetscFunctionBegin;
  PetscCall(PetscFree(m->feat));
  if (!m->nfeat) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscMalloc1(n * m->nfeat + 1, &m->feat));
  PetscCall(PetscMalloc1(n + 1, &bnd));
  PetscCall(PFMeshGraphBoundaryVertices(m->graph, bnd));
  for (PetscInt i = 0; i < n; i++) {
    pfreal *f = m->feat + i * m->nfeat;
    f[0]      = (pfreal)bnd[i];
    for (int d = 0; d < 2; d++) f[1 + d] = (pfreal)(2 * (m->graph->xy[2 * i + d] - m->lv->lo[d]) / (m->lv->hi[d] - m->lv->lo[d]) - 1);
  }
  PetscCall(PetscFree(bnd));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SetUp_Mesh(PFNet net)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  PetscInt    C = m->width, L = m->levels;
  char        nm[48];

  PetscFunctionBegin;
  PetscCheck(m->graph, net->comm, PETSC_ERR_ORDER, "the mesh network needs its mesh: call PFNetMeshSetGraph before PFNetSetUp");
  PetscCheck(net->nin == m->nfields * m->graph->nown, net->comm, PETSC_ERR_ARG_SIZ, "input size %" PetscInt_FMT " is not fields (%" PetscInt_FMT ") x owned vertices (%" PetscInt_FMT ")", net->nin, m->nfields, m->graph->nown);
  PetscCall(PFMeshLevelsDestroy(&m->lv));
  /* a model file's recorded grids make it the same network wherever it is
   * loaded (older files: derived, as when it was trained) */
  PetscCall(PFMeshLevelsCreate(m->graph, L, m->level_faces[1][0] > 0 ? (const PetscInt(*)[2])m->level_faces : NULL, &m->lv));
  for (PetscInt l = 1; l < L; l++) {
    m->level_faces[l][0] = m->lv->faces[l][0];
    m->level_faces[l][1] = m->lv->faces[l][1];
  }
  PetscCall(SetUpFeatures(m));
  PFMeshConvInit(&m->in, m->graph, m->nfields, C);
  PFMeshConvInit(&m->out, m->graph, C, m->nfields);
  PetscCall(PFMeshConvAddParams(net, "in", &m->in, &m->o_in));
  if (m->nfeat) PetscCall(PFNetAddParam(net, "in.features", m->nfeat, C, PF_INIT_FANIN_UNIFORM, m->nfeat, &m->o_feat));
  PetscCall(PFNetAddParam(net, "time.W", m->temb, C, PF_INIT_FANIN_UNIFORM, m->temb, &m->o_tW));
  PetscCall(PFNetAddParam(net, "time.b", 1, C, PF_INIT_FANIN_UNIFORM, m->temb, &m->o_tb));
  m->nblocks = 0;
  /* the single-level network keeps its historical names block0, block1.. */
  for (PetscInt l = 0; l < L; l++)
    for (PetscInt i = 0; i < m->depth; i++) {
      if (L == 1) PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT, i));
      else PetscCall(PetscSNPrintf(nm, sizeof(nm), "down%" PetscInt_FMT ".block%" PetscInt_FMT, l, i));
      PetscCall(PFMeshBlockSetUp(net, &m->blk[m->nblocks++], nm, m->lv->graph[l], m->lv->w[l], C, m->groups));
    }
  for (PetscInt l = L - 2; l >= 0; l--)
    for (PetscInt i = 0; i < m->depth; i++) {
      PetscCall(PetscSNPrintf(nm, sizeof(nm), "up%" PetscInt_FMT ".block%" PetscInt_FMT, l, i));
      PetscCall(PFMeshBlockSetUp(net, &m->blk[m->nblocks++], nm, m->lv->graph[l], m->lv->w[l], C, m->groups));
    }
  PetscCall(PFMeshNormAddParams(net, "out.norm", C, &m->o_nout));
  PetscCall(PFMeshConvAddParams(net, "out", &m->out, &m->o_out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BindParams_Mesh(PFNet net)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PFMeshConvBindParams(&m->in, net->params + m->o_in, net->grads + m->o_in);
  PFMeshConvBindParams(&m->out, net->params + m->o_out, net->grads + m->o_out);
  for (PetscInt k = 0; k < m->nblocks; k++) PFMeshBlockBindParams(net, &m->blk[k]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static size_t LevelRows(PFNet_Mesh *m, PetscInt l, PetscInt B)
{
  return (size_t)m->lv->graph[l]->nown * B;
}

static PetscErrorCode WorkspaceSize_Mesh(PFNet net, PetscInt B, size_t *n)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  size_t      V = LevelRows(m, 0, B), C = m->width, F = m->nfields, CF = PetscMax(C, F);

  PetscFunctionBegin;
  *n = V * F + 3 * V * C + V * F               /* xin h0 nout aout vout */
     + 2 * (size_t)B * m->groups               /* out-norm stats */
     + (size_t)B * m->temb + 3 * (size_t)B * C /* time */
     + PFMeshConvWorkspaceSize(&m->in, B) + PFMeshConvWorkspaceSize(&m->out, B);
  for (PetscInt l = 0; l < m->levels; l++) *n += 4 * LevelRows(m, l, B) * CF;
  for (PetscInt l = 0; l + 1 < m->levels; l++) *n += (LevelRows(m, l + 1, B) + LevelRows(m, l, B)) * C; /* down, up */
  for (PetscInt k = 0; k < m->nblocks; k++) *n += PFMeshBlockWorkspaceSize(&m->blk[k], B);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BindWorkspace_Mesh(PFNet net, PetscInt B)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  size_t      V = LevelRows(m, 0, B), C = m->width, F = m->nfields, CF = PetscMax(C, F);
  pfreal     *w = net->work;

  PetscFunctionBegin;
#define TAKE(p, n) \
  do { \
    (p) = w; \
    w += (n); \
  } while (0)
  TAKE(m->xin, V * F);
  TAKE(m->h0, V * C);
  TAKE(m->nout, V * C);
  TAKE(m->aout, V * C);
  TAKE(m->vout, V * F);
  TAKE(m->outstats, 2 * (size_t)B * m->groups);
  TAKE(m->tembv, (size_t)B * m->temb);
  TAKE(m->dtacc, (size_t)B * C);
  TAKE(m->tpre, (size_t)B * C);
  TAKE(m->tact, (size_t)B * C);
  for (PetscInt l = 0; l < m->levels; l++)
    for (int k = 0; k < 4; k++) TAKE(m->g[l][k], LevelRows(m, l, B) * CF);
  for (PetscInt l = 0; l + 1 < m->levels; l++) {
    TAKE(m->down[l], LevelRows(m, l + 1, B) * C);
    TAKE(m->up[l], LevelRows(m, l, B) * C);
  }
#undef TAKE
  PFMeshConvBindWorkspace(&m->in, B, w);
  w += PFMeshConvWorkspaceSize(&m->in, B);
  PFMeshConvBindWorkspace(&m->out, B, w);
  w += PFMeshConvWorkspaceSize(&m->out, B);
  for (PetscInt k = 0; k < m->nblocks; k++) w = PFMeshBlockBindWorkspace(&m->blk[k], B, w);
  /* the blocks' saved inputs (their backward reads them) point into this
   * binding: the same walk as Forward_Mesh, so that a re-bound activation
   * set (PFNetSelectActivations) is consistent without a forward */
  {
    const pfreal *h = m->h0;
    PetscInt      k = 0;
    for (PetscInt l = 0; l < m->levels; l++) {
      for (PetscInt i = 0; i < m->depth; i++, k++) {
        m->blk[k].hin = h;
        h             = m->blk[k].hout;
      }
      if (l + 1 < m->levels) h = m->down[l];
    }
    for (PetscInt l = m->levels - 2; l >= 0; l--) {
      h = m->up[l];
      for (PetscInt i = 0; i < m->depth; i++, k++) {
        m->blk[k].hin = h;
        h             = m->blk[k].hout;
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* h0 += feat Wf: the static channels' pointwise embedding */
static void FeaturesForward(PFNet_Mesh *m, PetscInt B, const pfreal *Wf, pfreal *h0)
{
  const PetscInt n = m->graph->nown, C = m->width;

  for (PetscInt i = 0; i < n; i++) {
    const pfreal *f = m->feat + (size_t)i * m->nfeat;
    for (PetscInt b = 0; b < B; b++) {
      pfreal *h = h0 + ((size_t)i * B + b) * C;
      for (PetscInt k = 0; k < m->nfeat; k++)
        for (PetscInt c = 0; c < C; c++) h[c] += f[k] * Wf[k * C + c];
    }
  }
}

/* dWf += feat^T dh0 (this rank's vertices: a partial sum like every gradient) */
static void FeaturesBackward(PFNet_Mesh *m, PetscInt B, const pfreal *dh0, pfreal *dWf)
{
  const PetscInt n = m->graph->nown, C = m->width;

  for (PetscInt i = 0; i < n; i++) {
    const pfreal *f = m->feat + (size_t)i * m->nfeat;
    for (PetscInt b = 0; b < B; b++) {
      const pfreal *g = dh0 + ((size_t)i * B + b) * C;
      for (PetscInt k = 0; k < m->nfeat; k++)
        for (PetscInt c = 0; c < C; c++) dWf[k * C + c] += f[k] * g[c];
    }
  }
}

static PetscErrorCode Forward_Mesh(PFNet net, PetscInt B, const pfreal *x, const pfreal *t, pfreal *v)
{
  PFNet_Mesh    *m = (PFNet_Mesh *)net->data;
  const PetscInt n = m->graph->nown, C = m->width, F = m->nfields, D = m->depth, L = m->levels;
  const size_t   V = (size_t)n * B;
  const pfreal  *P = net->params, *h;
  PetscInt       k = 0;

  PetscFunctionBegin;
  PFMeshToVertexMajor(B, F, n, x, m->xin);
  /* time: temb -> SiLU(dense), shared by every block's projection */
  PFTimeEmbedForward(B, m->temb, t, m->temb, m->tembv);
  PFDenseForward(B, m->temb, C, m->tembv, P + m->o_tW, P + m->o_tb, m->tpre);
  PFActivationForward(PF_ACT_SILU, B * C, m->tpre, m->tact);
  PetscCall(PFMeshConvForward(&m->in, B, m->xin, m->h0));
  if (m->nfeat) FeaturesForward(m, B, P + m->o_feat, m->h0);
  h = m->h0;
  for (PetscInt l = 0; l < L; l++) {
    for (PetscInt i = 0; i < D; i++, k++) {
      PetscCall(PFMeshBlockForward(net, &m->blk[k], B, m->tact, h));
      h = m->blk[k].hout;
    }
    if (l + 1 < L) {
      m->skip[l] = h;
      PetscCall(PFMeshTransferRestrict(&m->lv->T[l], B * C, h, m->down[l]));
      h = m->down[l];
    }
  }
  for (PetscInt l = L - 2; l >= 0; l--) {
    const size_t Vl = LevelRows(m, l, B) * C;
    PetscCall(PFMeshTransferProlong(&m->lv->T[l], B * C, h, m->up[l]));
    for (size_t r = 0; r < Vl; r++) m->up[l][r] += m->skip[l][r];
    h = m->up[l];
    for (PetscInt i = 0; i < D; i++, k++) {
      PetscCall(PFMeshBlockForward(net, &m->blk[k], B, m->tact, h));
      h = m->blk[k].hout;
    }
  }
  PetscCall(PFMeshNormForward(m->graph->comm, n, B, C, m->groups, m->lv->w[0], h, P + m->o_nout, P + m->o_nout + C, m->nout, m->outstats, m->outstats + (size_t)B * m->groups));
  PFActivationForward(PF_ACT_SILU, (PetscInt)(V * C), m->nout, m->aout);
  PetscCall(PFMeshConvForward(&m->out, B, m->aout, m->vout));
  PFMeshFromVertexMajor(B, F, n, m->vout, v);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Backward_Mesh(PFNet net, PetscInt B, const pfreal *dv, pfreal *dx)
{
  PFNet_Mesh    *m = (PFNet_Mesh *)net->data;
  const PetscInt n = m->graph->nown, C = m->width, F = m->nfields, D = m->depth, L = m->levels;
  const size_t   V = (size_t)n * B;
  const pfreal  *P = net->params, *hlast;
  pfreal        *Gr = net->grads;
  PetscInt       k  = m->nblocks - 1;

  PetscFunctionBegin;
  /* the output layers; g[l][0] carries dL/dh on level l, g[l][1..2] are the
   * blocks' scratch, g[l][3] the skip's gradient */
  hlast = m->nblocks ? m->blk[m->nblocks - 1].hout : (L > 1 ? m->up[0] : m->h0);
  PFMeshToVertexMajor(B, F, n, dv, m->g[0][2]);
  PetscCall(PFMeshConvBackward(&m->out, B, m->aout, m->g[0][2], m->g[0][1]));
  PFActivationBackward(PF_ACT_SILU, (PetscInt)(V * C), m->nout, m->g[0][1], 0, m->g[0][1]);
  PetscCall(PFMeshNormBackward(m->graph->comm, n, B, C, m->groups, m->lv->w[0], hlast, P + m->o_nout, m->outstats, m->outstats + (size_t)B * m->groups, m->g[0][1], m->g[0][0], Gr + m->o_nout, Gr + m->o_nout + C));
  PetscCall(PetscArrayzero(m->dtacc, (size_t)B * C));
  /* the up path, finest level first (it ran last) */
  for (PetscInt l = 0; l + 1 < L; l++) {
    pfreal **g = m->g[l];
    for (PetscInt i = 0; i < D; i++, k--) PetscCall(PFMeshBlockBackward(net, &m->blk[k], B, m->tact, g[0], g[1], g[2], m->dtacc));
    /* up_l = P_l h_{l+1} + skip_l */
    PetscCall(PetscArraycpy(g[3], g[0], LevelRows(m, l, B) * C));
    PetscCall(PFMeshTransferProlongTranspose(&m->lv->T[l], B * C, g[0], m->g[l + 1][0]));
  }
  /* the down path, coarsest level first */
  for (PetscInt l = L - 1; l >= 0; l--) {
    pfreal **g = m->g[l];
    if (l + 1 < L) {
      const size_t Vl = LevelRows(m, l, B) * C;
      /* down_l = R_l skip_l, and skip_l also fed the up path */
      PetscCall(PFMeshTransferRestrictTranspose(&m->lv->T[l], B * C, m->g[l + 1][0], g[0]));
      for (size_t r = 0; r < Vl; r++) g[0][r] += g[3][r];
    }
    for (PetscInt i = 0; i < D; i++, k--) PetscCall(PFMeshBlockBackward(net, &m->blk[k], B, m->tact, g[0], g[1], g[2], m->dtacc));
  }
  /* the shared time MLP: its parameter gradients are partial sums too */
  PFActivationBackward(PF_ACT_SILU, B * C, m->tpre, m->dtacc, 0, m->dtacc);
  PFDenseBackward(B, m->temb, C, m->tembv, P + m->o_tW, m->dtacc, 0, NULL, Gr + m->o_tW, Gr + m->o_tb);
  if (m->nfeat) FeaturesBackward(m, B, m->g[0][0], Gr + m->o_feat);
  PetscCall(PFMeshConvBackward(&m->in, B, m->xin, m->g[0][0], dx ? m->xin : NULL));
  if (dx) PFMeshFromVertexMajor(B, F, n, m->xin, dx);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Flops_Mesh(PFNet net, double *flops)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  double      n = (double)m->graph->nown, C = (double)m->width, F = (double)m->nfields;

  PetscFunctionBegin;
  /* GEMM flops per sample, 4 stacked operators: this rank's vertices, then
   * summed over the ranks sharing the mesh, so the trainer's rate is the
   * whole network's on a mesh split as on a batch split (collective) */
  *flops = 2.0 * n * (4 * F * C + 4 * C * F + (double)m->nfeat * C);
  for (PetscInt k = 0; k < m->nblocks; k++) *flops += 2.0 * (double)m->blk[k].g->nown * 2 * 4 * C * C;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flops, 1, MPI_DOUBLE, MPI_SUM, m->graph->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode View_Mesh(PFNet net, PetscViewer viewer)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(viewer, "%s: %" PetscInt_FMT " fields, width %" PetscInt_FMT ", %" PetscInt_FMT " residual blocks%s, %" PetscInt_FMT " norm groups, operators I, d/dx, d/dy, Laplacian (h = %.4g)%s\n", net->type, m->nfields, m->width, m->depth, m->levels > 1 ? " per level and direction" : "", m->groups, m->graph ? m->graph->h : 0.0, m->nfeat ? ", geometry inputs (boundary flag, x, y) embedded pointwise" : ""));
  if (m->lv && m->levels > 1) {
    char line[256], part[48];
    PetscCall(PetscSNPrintf(line, sizeof(line), "  levels: the data mesh"));
    for (PetscInt l = 1; l < m->levels; l++) {
      PetscCall(PetscSNPrintf(part, sizeof(part), ", %" PetscInt_FMT "x%" PetscInt_FMT " grid", m->lv->faces[l][0], m->lv->faces[l][1]));
      PetscCall(PetscStrlcat(line, part, sizeof(line)));
    }
    PetscCall(PetscViewerASCIIPrintf(viewer, "%s over [%g,%g]x[%g,%g]\n", line, m->lv->lo[0], m->lv->hi[0], m->lv->lo[1], m->lv->hi[1]));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriteArch_Mesh(PFNet net, hid_t g)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscCall(PFH5WriteAttrInt(g, "mesh_width", m->width));
  PetscCall(PFH5WriteAttrInt(g, "mesh_depth", m->depth));
  PetscCall(PFH5WriteAttrInt(g, "mesh_groups", m->groups));
  PetscCall(PFH5WriteAttrInt(g, "mesh_temb_dim", m->temb));
  PetscCall(PFH5WriteAttrInt(g, "mesh_levels", m->levels));
  PetscCall(PFH5WriteAttrInt(g, "nfields", m->nfields));
  if (m->nfeat) PetscCall(PFH5WriteAttrInt(g, "mesh_features", m->nfeat));
  if (m->levels > 1) {
    /* the box levels' cells per direction: "nx ny nx ny ..." for levels 1.. */
    char list[256] = "", item[32];
    for (PetscInt l = 1; l < m->levels; l++) {
      PetscCall(PetscSNPrintf(item, sizeof(item), "%s%" PetscInt_FMT " %" PetscInt_FMT, l > 1 ? " " : "", m->lv->faces[l][0], m->lv->faces[l][1]));
      PetscCall(PetscStrlcat(list, item, sizeof(list)));
    }
    PetscCall(PFH5WriteAttrString(g, "mesh_level_faces", list));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ReadArch_Mesh(PFNet net, hid_t g)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscCall(PFH5ReadAttrInt(g, "mesh_width", &m->width));
  PetscCall(PFH5ReadAttrInt(g, "mesh_depth", &m->depth));
  PetscCall(PFH5ReadAttrInt(g, "mesh_groups", &m->groups));
  PetscCall(PFH5ReadAttrInt(g, "mesh_temb_dim", &m->temb));
  PetscCall(PFH5ReadAttrInt(g, "nfields", &m->nfields));
  m->levels = 1;
  m->nfeat  = 0; /* files from before -mesh_geometry_features */
  if (H5Aexists(g, "mesh_features") > 0) PetscCall(PFH5ReadAttrInt(g, "mesh_features", &m->nfeat));
  if (H5Aexists(g, "mesh_levels") > 0) PetscCall(PFH5ReadAttrInt(g, "mesh_levels", &m->levels));
  if (H5Aexists(g, "mesh_level_faces") > 0 && m->levels > 1 && m->levels <= PF_MESHLEVELS_MAX) {
    char  list[256], *p = list, *end;
    PetscCall(PFH5ReadAttrString(g, "mesh_level_faces", list, sizeof(list)));
    for (PetscInt l = 1; l < m->levels; l++)
      for (int d = 0; d < 2; d++) {
        long v = strtol(p, &end, 10);
        PetscCheck(end != p && v >= 2 && v < 1000000, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "corrupt mesh_level_faces '%s' in the model file", list);
        m->level_faces[l][d] = (PetscInt)v;
        p                    = end;
      }
  }
  PetscCheck(m->width > 0 && m->depth >= 0 && m->depth <= MESHNET_MAXDEPTH && m->groups > 0 && m->nfields > 0 && m->levels >= 1 && m->levels <= PF_MESHLEVELS_MAX && (m->nfeat == 0 || m->nfeat == 3), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "corrupt mesh network architecture in the model file");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A mesh network from a model file, on the given (distributed) mesh graph */
PetscErrorCode PFNetMeshCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], const char dataset[], PFMeshGraph graph, PFNet *net)
{
  PFNet_Mesh *m;
  PetscInt    nparams;
  char        type[64];
  PetscBool   isnet, isunet;
  hid_t       g;

  PetscFunctionBegin;
  g = H5Gopen2(fid, "arch", H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no network (group /arch missing)", path);
  PetscCall(PFH5ReadAttrString(g, "net_type", type, sizeof(type)));
  PetscCall(PetscStrcmp(type, PFNETMESH, &isnet));
  PetscCall(PetscStrcmp(type, PFNETMESHUNET, &isunet));
  PetscCheck(isnet || isunet, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds a '%s' network, not a mesh network", path, type);
  PetscCall(PFNetCreate(comm, net));
  PetscCall(PFNetSetType(*net, type));
  PetscCall(ReadArch_Mesh(*net, g));
  PetscCall(PFH5ReadAttrInt(g, "nparams", &nparams));
  H5Gclose(g);
  m = (PFNet_Mesh *)(*net)->data;
  PetscCall(PFNetMeshSetGraph(*net, graph, m->nfields));
  PetscCall(PFNetSetUp(*net));
  PetscCheck((size_t)nparams == (*net)->nparams, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': the architecture gives %zu parameters but the file says %" PetscInt_FMT, path, (*net)->nparams, nparams);
  PetscCall(PFH5ReadArray(fid, path, dataset, H5T_NATIVE_PFREAL, (*net)->nparams, (*net)->params));
  for (size_t i = 0; i < (*net)->nparams; i++) PetscCheck(isfinite((double)(*net)->params[i]), PETSC_COMM_SELF, PETSC_ERR_FP, "'%s': parameter %zu of '%s' is not finite (diverged training?)", path, i, dataset);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Destroy_Mesh(PFNet net)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscCall(PFMeshLevelsDestroy(&m->lv));
  PetscCall(PetscFree(m->feat));
  PetscCall(PetscFree(net->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool PFNetIsMesh(PFNet net)
{
  PetscBool a, b;
  PetscStrcmp(net->type, PFNETMESH, &a);
  PetscStrcmp(net->type, PFNETMESHUNET, &b);
  return (PetscBool)(a || b);
}

PetscErrorCode PFNetMeshSetGraph(PFNet net, PFMeshGraph graph, PetscInt nfields)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscCheck(PFNetIsMesh(net), net->comm, PETSC_ERR_ARG_WRONG, "PFNetMeshSetGraph needs a mesh network (%s or %s), not '%s'", PFNETMESH, PFNETMESHUNET, net->type);
  PetscCheck(!net->setupcalled, net->comm, PETSC_ERR_ORDER, "PFNetMeshSetGraph must come before PFNetSetUp");
  m->graph   = graph;
  m->nfields = nfields;
  PetscCall(PFNetSetInputSize(net, nfields * graph->nown));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetMeshGetLevels(PFNet net, PFMeshLevels *lv)
{
  PetscFunctionBegin;
  PetscCheck(PFNetIsMesh(net) && net->setupcalled, net->comm, PETSC_ERR_ORDER, "PFNetMeshGetLevels needs a mesh network after PFNetSetUp");
  *lv = ((PFNet_Mesh *)net->data)->lv;
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetCreate_Mesh(PFNet net)
{
  PFNet_Mesh *m;

  PetscFunctionBegin;
  PetscCall(PetscNew(&m));
  m->width                = 32;
  m->depth                = 2;
  m->groups               = 8;
  m->temb                 = 32;
  m->levels               = IsUNet(net) ? 3 : 1;
  net->data               = m;
  net->ops.setfromoptions = SetFromOptions_Mesh;
  net->ops.setup          = SetUp_Mesh;
  net->ops.bindparams     = BindParams_Mesh;
  net->ops.workspacesize  = WorkspaceSize_Mesh;
  net->ops.bindworkspace  = BindWorkspace_Mesh;
  net->ops.forward        = Forward_Mesh;
  net->ops.backward       = Backward_Mesh;
  net->ops.flops          = Flops_Mesh;
  net->ops.view           = View_Mesh;
  net->ops.writearch      = WriteArch_Mesh;
  net->ops.readarch       = ReadArch_Mesh;
  net->ops.destroy        = Destroy_Mesh;
  PetscFunctionReturn(PETSC_SUCCESS);
}
