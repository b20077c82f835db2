/* The single-level residual mesh network (-net_type meshnet), the building
 * block of the mesh U-Net: on the distributed mesh of a PFMeshGraph,
 *
 *   h_0 = Conv_in(x)                                  fields -> C channels
 *   a   = Conv_1(SiLU(Norm_1(h))) + P_i temb(t)       (time: per-sample bias)
 *   h  <- h + Conv_2(SiLU(Norm_2(a)))                 D residual blocks
 *   v   = Conv_out(SiLU(Norm_out(h)))                 C -> fields
 *
 * Conv = identity + d/dx + d/dy + Laplacian mixed by learned matrices
 * (PFMeshConv); Norm = mass-weighted group norm over the whole mesh
 * (PFMeshNorm).  The time embedding's MLP runs redundantly on every rank;
 * every parameter gradient is this rank's partial sum, completed by the
 * trainer's single allreduce.
 *
 * Input/output layout (PFNet's): x[b][f*nown + i] (fields of the owned
 * vertices, the PFPhysics order); internally vertex-major [nown][B][C]. */
#include <math.h>
#include <physflow/h5util.h>
#include <physflow/meshconv.h>
#include <physflow/private/netimpl.h>

#define MESHNET_MAXDEPTH 16

typedef struct {
  /* options */
  PetscInt     width, depth, temb, groups, nfields;
  PFMeshGraph  graph;
  /* layers */
  PFMeshConv   in, out, c1[MESHNET_MAXDEPTH], c2[MESHNET_MAXDEPTH];
  size_t       o_in, o_out, o_c1[MESHNET_MAXDEPTH], o_c2[MESHNET_MAXDEPTH];
  size_t       o_n1[MESHNET_MAXDEPTH], o_n2[MESHNET_MAXDEPTH], o_nout, o_tW, o_tb, o_pW[MESHNET_MAXDEPTH], o_pb[MESHNET_MAXDEPTH];
  pfreal      *w;           /* vertex masses for the norms */
  /* workspace (per planned batch B) */
  pfreal *xin, *h[MESHNET_MAXDEPTH + 1];
  pfreal *n1[MESHNET_MAXDEPTH], *a1[MESHNET_MAXDEPTH], *z1[MESHNET_MAXDEPTH], *n2[MESHNET_MAXDEPTH], *a2[MESHNET_MAXDEPTH];
  pfreal *nout, *aout, *vout;
  pfreal *stats;            /* mean/rstd per norm: (2*depth+1) * 2 * B*G */
  pfreal *tembv, *tact, *tpre, *tproj, *dtacc; /* [B][E], [B][C], [B][C], [depth][B][C], [B][C] */
  pfreal *g0, *g1, *g2;     /* backward scratch [nown][B][C] */
  pfreal *convwork;
} PFNet_Mesh;

static PetscErrorCode SetFromOptions_Mesh(PFNet net, PetscOptionItems *PetscOptionsObject)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscOptionsHeadBegin(PetscOptionsObject, "Mesh network options");
  PetscCall(PetscOptionsInt("-mesh_width", "Channels C", "PFNet", m->width, &m->width, NULL));
  PetscCall(PetscOptionsInt("-mesh_depth", "Residual blocks", "PFNet", m->depth, &m->depth, NULL));
  PetscCall(PetscOptionsInt("-mesh_groups", "Groups of the group norms", "PFNet", m->groups, &m->groups, NULL));
  PetscCall(PetscOptionsInt("-mesh_temb_dim", "Sinusoidal time-embedding features", "PFNet", m->temb, &m->temb, NULL));
  PetscOptionsHeadEnd();
  PetscCheck(m->width > 0 && m->depth >= 0 && m->depth <= MESHNET_MAXDEPTH, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_width must be > 0 and -mesh_depth in [0, %d]", MESHNET_MAXDEPTH);
  PetscCheck(m->groups > 0 && m->width % m->groups == 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_groups must divide -mesh_width");
  PetscCheck(m->temb >= 2 && m->temb % 2 == 0, net->comm, PETSC_ERR_ARG_OUTOFRANGE, "-mesh_temb_dim must be even");
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void InitConv(PFNet_Mesh *m, PFMeshConv *c, PetscInt Cin, PetscInt Cout)
{
  PetscMemzero(c, sizeof(*c));
  c->g        = m->graph;
  c->Cin      = Cin;
  c->Cout     = Cout;
  c->ng       = 3;
  c->kinds[0] = PF_MESHOP_DX;
  c->kinds[1] = PF_MESHOP_DY;
  c->kinds[2] = PF_MESHOP_LAP;
}

static PetscErrorCode AddConv(PFNet net, const char name[], PFMeshConv *c, size_t *off)
{
  char     nm[48];
  PetscInt K = (1 + c->ng) * c->Cin;

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.W", name));
  PetscCall(PFNetAddParam(net, nm, K, c->Cout, PF_INIT_FANIN_UNIFORM, K, off));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.b", name));
  PetscCall(PFNetAddParam(net, nm, 1, c->Cout, PF_INIT_FANIN_UNIFORM, K, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode AddNorm(PFNet net, const char name[], PetscInt C, size_t *off)
{
  char nm[48];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.gamma", name));
  PetscCall(PFNetAddParam(net, nm, 1, C, PF_INIT_ONES, 0, off));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.beta", name));
  PetscCall(PFNetAddParam(net, nm, 1, C, PF_INIT_ZEROS, 0, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode SetUp_Mesh(PFNet net)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  PetscInt    C = m->width;
  char        nm[48];

  PetscFunctionBegin;
  PetscCheck(m->graph, net->comm, PETSC_ERR_ORDER, "the mesh network needs its mesh: call PFNetMeshSetGraph before PFNetSetUp");
  PetscCheck(net->nin == m->nfields * m->graph->nown, net->comm, PETSC_ERR_ARG_SIZ, "input size %" PetscInt_FMT " is not fields (%" PetscInt_FMT ") x owned vertices (%" PetscInt_FMT ")", net->nin, m->nfields, m->graph->nown);
  InitConv(m, &m->in, m->nfields, C);
  InitConv(m, &m->out, C, m->nfields);
  PetscCall(AddConv(net, "in", &m->in, &m->o_in));
  PetscCall(PFNetAddParam(net, "time.W", m->temb, C, PF_INIT_FANIN_UNIFORM, m->temb, &m->o_tW));
  PetscCall(PFNetAddParam(net, "time.b", 1, C, PF_INIT_FANIN_UNIFORM, m->temb, &m->o_tb));
  for (PetscInt i = 0; i < m->depth; i++) {
    InitConv(m, &m->c1[i], C, C);
    InitConv(m, &m->c2[i], C, C);
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT ".norm1", i));
    PetscCall(AddNorm(net, nm, C, &m->o_n1[i]));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT ".conv1", i));
    PetscCall(AddConv(net, nm, &m->c1[i], &m->o_c1[i]));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT ".time.W", i));
    PetscCall(PFNetAddParam(net, nm, C, C, PF_INIT_FANIN_UNIFORM, C, &m->o_pW[i]));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT ".time.b", i));
    PetscCall(PFNetAddParam(net, nm, 1, C, PF_INIT_FANIN_UNIFORM, C, &m->o_pb[i]));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT ".norm2", i));
    PetscCall(AddNorm(net, nm, C, &m->o_n2[i]));
    PetscCall(PetscSNPrintf(nm, sizeof(nm), "block%" PetscInt_FMT ".conv2", i));
    PetscCall(AddConv(net, nm, &m->c2[i], &m->o_c2[i]));
  }
  PetscCall(AddNorm(net, "out.norm", C, &m->o_nout));
  PetscCall(AddConv(net, "out", &m->out, &m->o_out));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BindParams_Mesh(PFNet net)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PFMeshConvBindParams(&m->in, net->params + m->o_in, net->grads + m->o_in);
  PFMeshConvBindParams(&m->out, net->params + m->o_out, net->grads + m->o_out);
  for (PetscInt i = 0; i < m->depth; i++) {
    PFMeshConvBindParams(&m->c1[i], net->params + m->o_c1[i], net->grads + m->o_c1[i]);
    PFMeshConvBindParams(&m->c2[i], net->params + m->o_c2[i], net->grads + m->o_c2[i]);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static size_t ConvWork(PFNet_Mesh *m, PetscInt B)
{
  size_t s = PetscMax(PFMeshConvWorkspaceSize(&m->in, B), PFMeshConvWorkspaceSize(&m->out, B));
  for (PetscInt i = 0; i < m->depth; i++) s = PetscMax(s, PFMeshConvWorkspaceSize(&m->c1[i], B));
  return s;
}

/* Every conv keeps its Z for the backward, so each gets its own slice */
static PetscErrorCode WorkspaceSize_Mesh(PFNet net, PetscInt B, size_t *n)
{
  PFNet_Mesh *m  = (PFNet_Mesh *)net->data;
  size_t      V  = (size_t)m->graph->nown * B, C = m->width, G = m->groups;
  size_t      nc = 2 + 2 * (size_t)m->depth;

  PetscFunctionBegin;
  *n = V * m->nfields                            /* xin */
     + (m->depth + 1) * V * C                    /* h */
     + 5 * (size_t)m->depth * V * C              /* n1 a1 z1 n2 a2 */
     + 2 * V * C + V * m->nfields                /* nout aout vout */
     + (2 * (size_t)m->depth + 1) * 2 * B * G    /* stats */
     + (size_t)B * m->temb + 3 * (size_t)B * C + (size_t)m->depth * B * C /* time */
     + 3 * V * PetscMax(C, (size_t)m->nfields)   /* backward scratch */
     + nc * ConvWork(m, B);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode BindWorkspace_Mesh(PFNet net, PetscInt B)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  size_t      V = (size_t)m->graph->nown * B, C = m->width, G = m->groups, cw = ConvWork(m, B);
  pfreal     *w = net->work;

  PetscFunctionBegin;
#define TAKE(p, n) \
  do { \
    (p) = w; \
    w += (n); \
  } while (0)
  TAKE(m->xin, V * m->nfields);
  for (PetscInt i = 0; i <= m->depth; i++) TAKE(m->h[i], V * C);
  for (PetscInt i = 0; i < m->depth; i++) {
    TAKE(m->n1[i], V * C);
    TAKE(m->a1[i], V * C);
    TAKE(m->z1[i], V * C);
    TAKE(m->n2[i], V * C);
    TAKE(m->a2[i], V * C);
  }
  TAKE(m->nout, V * C);
  TAKE(m->aout, V * C);
  TAKE(m->vout, V * m->nfields);
  TAKE(m->stats, (2 * (size_t)m->depth + 1) * 2 * B * G);
  TAKE(m->tembv, (size_t)B * m->temb);
  TAKE(m->dtacc, (size_t)B * C);
  TAKE(m->tpre, (size_t)B * C);
  TAKE(m->tact, (size_t)B * C);
  TAKE(m->tproj, (size_t)m->depth * B * C);
  TAKE(m->g0, V * PetscMax(C, (size_t)m->nfields));
  TAKE(m->g1, V * PetscMax(C, (size_t)m->nfields));
  TAKE(m->g2, V * PetscMax(C, (size_t)m->nfields));
  PFMeshConvBindWorkspace(&m->in, B, w);
  w += cw;
  PFMeshConvBindWorkspace(&m->out, B, w);
  w += cw;
  for (PetscInt i = 0; i < m->depth; i++) {
    PFMeshConvBindWorkspace(&m->c1[i], B, w);
    w += cw;
    PFMeshConvBindWorkspace(&m->c2[i], B, w);
    w += cw;
  }
#undef TAKE
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* statistics slots of norm j (0..2 depth) */
#define MEAN(m, j, B) ((m)->stats + (size_t)(j) * 2 * (B) * (m)->groups)
#define RSTD(m, j, B) (MEAN(m, j, B) + (size_t)(B) * (m)->groups)

static PetscErrorCode Forward_Mesh(PFNet net, PetscInt B, const pfreal *x, const pfreal *t, pfreal *v)
{
  PFNet_Mesh    *m = (PFNet_Mesh *)net->data;
  const PetscInt n = m->graph->nown, C = m->width, F = m->nfields, G = m->groups;
  const size_t   V = (size_t)n * B;
  pfreal        *P = net->params;
  MPI_Comm       comm = m->graph->comm;

  PetscFunctionBegin;
  /* [b][f*n + i] -> [i][b][f] */
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < F; f++)
      for (PetscInt i = 0; i < n; i++) m->xin[((size_t)i * B + b) * F + f] = x[(size_t)b * F * n + (size_t)f * n + i];
  /* time: temb -> SiLU(dense) shared; per block a projection */
  PFTimeEmbedForward(B, m->temb, t, m->temb, m->tembv);
  PFDenseForward(B, m->temb, C, m->tembv, P + m->o_tW, P + m->o_tb, m->tpre);
  PFActivationForward(PF_ACT_SILU, B * C, m->tpre, m->tact);
  PetscCall(PFMeshConvForward(&m->in, B, m->xin, m->h[0]));
  for (PetscInt i = 0; i < m->depth; i++) {
    pfreal *tp = m->tproj + (size_t)i * B * C;
    PFDenseForward(B, C, C, m->tact, P + m->o_pW[i], P + m->o_pb[i], tp);
    PetscCall(PFMeshNormForward(comm, n, B, C, G, m->w, m->h[i], P + m->o_n1[i], P + m->o_n1[i] + C, m->n1[i], MEAN(m, 2 * i, B), RSTD(m, 2 * i, B)));
    PFActivationForward(PF_ACT_SILU, (PetscInt)(V * C), m->n1[i], m->a1[i]);
    PetscCall(PFMeshConvForward(&m->c1[i], B, m->a1[i], m->z1[i]));
    for (size_t r = 0; r < V; r++)
      for (PetscInt c = 0; c < C; c++) m->z1[i][r * C + c] += tp[(r % B) * C + c];
    PetscCall(PFMeshNormForward(comm, n, B, C, G, m->w, m->z1[i], P + m->o_n2[i], P + m->o_n2[i] + C, m->n2[i], MEAN(m, 2 * i + 1, B), RSTD(m, 2 * i + 1, B)));
    PFActivationForward(PF_ACT_SILU, (PetscInt)(V * C), m->n2[i], m->a2[i]);
    PetscCall(PFMeshConvForward(&m->c2[i], B, m->a2[i], m->h[i + 1]));
    for (size_t r = 0; r < V * C; r++) m->h[i + 1][r] += m->h[i][r];
  }
  PetscCall(PFMeshNormForward(comm, n, B, C, G, m->w, m->h[m->depth], P + m->o_nout, P + m->o_nout + C, m->nout, MEAN(m, 2 * m->depth, B), RSTD(m, 2 * m->depth, B)));
  PFActivationForward(PF_ACT_SILU, (PetscInt)(V * C), m->nout, m->aout);
  PetscCall(PFMeshConvForward(&m->out, B, m->aout, m->vout));
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < F; f++)
      for (PetscInt i = 0; i < n; i++) v[(size_t)b * F * n + (size_t)f * n + i] = m->vout[((size_t)i * B + b) * F + f];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Backward_Mesh(PFNet net, PetscInt B, const pfreal *dv, pfreal *dx)
{
  PFNet_Mesh    *m = (PFNet_Mesh *)net->data;
  const PetscInt n = m->graph->nown, C = m->width, F = m->nfields, G = m->groups;
  const size_t   V = (size_t)n * B;
  pfreal        *P = net->params, *Gr = net->grads, *dh = m->g0, *da = m->g1, *dz = m->g2;
  MPI_Comm       comm = m->graph->comm;

  PetscFunctionBegin;
  /* dv [b][f*n+i] -> vertex-major, into dz (as [V][F]) */
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < F; f++)
      for (PetscInt i = 0; i < n; i++) dz[((size_t)i * B + b) * F + f] = dv[(size_t)b * F * n + (size_t)f * n + i];
  PetscCall(PFMeshConvBackward(&m->out, B, dz, da));
  PFActivationBackward(PF_ACT_SILU, (PetscInt)(V * C), m->nout, da, 0, da);
  PetscCall(PFMeshNormBackward(comm, n, B, C, G, m->w, m->h[m->depth], P + m->o_nout, MEAN(m, 2 * m->depth, B), RSTD(m, 2 * m->depth, B), da, dh, Gr + m->o_nout, Gr + m->o_nout + C));
  /* d(tact): the time MLP's output feeds every block's projection */
  PetscCall(PetscArrayzero(m->dtacc, (size_t)B * C));
  for (PetscInt i = m->depth - 1; i >= 0; i--) {
    /* h_{i+1} = h_i + conv2(a2): dh flows to both */
    PetscCall(PFMeshConvBackward(&m->c2[i], B, dh, da));
    PFActivationBackward(PF_ACT_SILU, (PetscInt)(V * C), m->n2[i], da, 0, da);
    PetscCall(PFMeshNormBackward(comm, n, B, C, G, m->w, m->z1[i], P + m->o_n2[i], MEAN(m, 2 * i + 1, B), RSTD(m, 2 * i + 1, B), da, dz, Gr + m->o_n2[i], Gr + m->o_n2[i] + C));
    /* z1 = conv1(a1) + tproj: the projection's gradient sums over vertices */
    {
      pfreal *dtp = m->tproj + (size_t)i * B * C; /* forward values no longer needed */
      PetscCall(PetscArrayzero(dtp, (size_t)B * C));
      for (size_t r = 0; r < V; r++)
        for (PetscInt c = 0; c < C; c++) dtp[(r % B) * C + c] += dz[r * C + c];
      PFDenseBackward(B, C, C, m->tact, P + m->o_pW[i], dtp, 1, m->dtacc, Gr + m->o_pW[i], Gr + m->o_pb[i]);
    }
    PetscCall(PFMeshConvBackward(&m->c1[i], B, dz, da));
    PFActivationBackward(PF_ACT_SILU, (PetscInt)(V * C), m->n1[i], da, 0, da);
    PetscCall(PFMeshNormBackward(comm, n, B, C, G, m->w, m->h[i], P + m->o_n1[i], MEAN(m, 2 * i, B), RSTD(m, 2 * i, B), da, dz, Gr + m->o_n1[i], Gr + m->o_n1[i] + C));
    for (size_t r = 0; r < V * C; r++) dh[r] += dz[r];
  }
  /* the shared time MLP: its parameter gradients are partial sums too */
  PFActivationBackward(PF_ACT_SILU, B * C, m->tpre, m->dtacc, 0, m->dtacc);
  PFDenseBackward(B, m->temb, C, m->tembv, P + m->o_tW, m->dtacc, 0, NULL, Gr + m->o_tW, Gr + m->o_tb);
  PetscCall(PFMeshConvBackward(&m->in, B, dh, dx ? m->xin : NULL));
  if (dx)
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < F; f++)
        for (PetscInt i = 0; i < n; i++) dx[(size_t)b * F * n + (size_t)f * n + i] = m->xin[((size_t)i * B + b) * F + f];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode Flops_Mesh(PFNet net, double *flops)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  double      n = (double)m->graph->nown, C = (double)m->width, F = (double)m->nfields;

  PetscFunctionBegin;
  /* GEMM flops per sample (this rank's vertices): 4 stacked operators */
  *flops = 2.0 * n * (4 * F * C + 2 * m->depth * 4 * C * C + 4 * C * F);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode View_Mesh(PFNet net, PetscViewer viewer)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(viewer, "meshnet: %" PetscInt_FMT " fields, width %" PetscInt_FMT ", %" PetscInt_FMT " residual blocks, %" PetscInt_FMT " norm groups, operators I, d/dx, d/dy, Laplacian (h = %.4g)\n", m->nfields, m->width, m->depth, m->groups, m->graph ? m->graph->h : 0.0));
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
  PetscCall(PFH5WriteAttrInt(g, "nfields", m->nfields));
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
  PetscCheck(m->width > 0 && m->depth >= 0 && m->depth <= MESHNET_MAXDEPTH && m->groups > 0 && m->nfields > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "corrupt meshnet architecture in the model file");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* A mesh network from a model file, on the given (distributed) mesh graph */
PetscErrorCode PFNetMeshCreateFromH5(MPI_Comm comm, hid_t fid, const char path[], const char dataset[], PFMeshGraph graph, PFNet *net)
{
  PFNet_Mesh *m;
  PetscInt    nparams;
  hid_t       g;

  PetscFunctionBegin;
  PetscCall(PFNetCreate(comm, net));
  PetscCall(PFNetSetType(*net, PFNETMESH));
  g = H5Gopen2(fid, "arch", H5P_DEFAULT);
  PetscCheck(g >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no network (group /arch missing)", path);
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
  PetscCall(PetscFree(m->w));
  PetscCall(PetscFree(net->data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFNetMeshSetGraph(PFNet net, PFMeshGraph graph, PetscInt nfields)
{
  PFNet_Mesh *m = (PFNet_Mesh *)net->data;
  PetscBool   same;

  PetscFunctionBegin;
  PetscCall(PetscStrcmp(net->type, PFNETMESH, &same));
  PetscCheck(same, net->comm, PETSC_ERR_ARG_WRONG, "PFNetMeshSetGraph needs a '%s' network, not '%s'", PFNETMESH, net->type);
  m->graph   = graph;
  m->nfields = nfields;
  PetscCall(PetscFree(m->w));
  PetscCall(PetscMalloc1(graph->nown + 1, &m->w));
  /* the norms' weights: lumped masses (graph->minv holds their inverses) */
  for (PetscInt i = 0; i < graph->nown; i++) m->w[i] = (pfreal)1 / graph->minv[i];
  PetscCall(PFNetSetInputSize(net, nfields * graph->nown));
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
