#include "meshblock.h"

void PFMeshConvInit(PFMeshConv *c, PFMeshGraph g, PetscInt Cin, PetscInt Cout)
{
  PetscMemzero(c, sizeof(*c));
  c->g        = g;
  c->Cin      = Cin;
  c->Cout     = Cout;
  c->ng       = 3;
  c->kinds[0] = PF_MESHOP_DX;
  c->kinds[1] = PF_MESHOP_DY;
  c->kinds[2] = PF_MESHOP_LAP;
}

PetscErrorCode PFMeshConvAddParams(PFNet net, const char name[], PFMeshConv *c, size_t *off)
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

PetscErrorCode PFMeshNormAddParams(PFNet net, const char name[], PetscInt C, size_t *off)
{
  char nm[48];

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.gamma", name));
  PetscCall(PFNetAddParam(net, nm, 1, C, PF_INIT_ONES, 0, off));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.beta", name));
  PetscCall(PFNetAddParam(net, nm, 1, C, PF_INIT_ZEROS, 0, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshBlockSetUp(PFNet net, PFMeshBlock *b, const char prefix[], PFMeshGraph g, const pfreal *w, PetscInt C, PetscInt G)
{
  char nm[48];

  PetscFunctionBegin;
  PetscCall(PetscMemzero(b, sizeof(*b)));
  b->g = g;
  b->w = w;
  b->C = C;
  b->G = G;
  PFMeshConvInit(&b->c1, g, C, C);
  PFMeshConvInit(&b->c2, g, C, C);
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.norm1", prefix));
  PetscCall(PFMeshNormAddParams(net, nm, C, &b->o_n1));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.conv1", prefix));
  PetscCall(PFMeshConvAddParams(net, nm, &b->c1, &b->o_c1));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.time.W", prefix));
  PetscCall(PFNetAddParam(net, nm, C, C, PF_INIT_FANIN_UNIFORM, C, &b->o_pW));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.time.b", prefix));
  PetscCall(PFNetAddParam(net, nm, 1, C, PF_INIT_FANIN_UNIFORM, C, &b->o_pb));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.norm2", prefix));
  PetscCall(PFMeshNormAddParams(net, nm, C, &b->o_n2));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s.conv2", prefix));
  PetscCall(PFMeshConvAddParams(net, nm, &b->c2, &b->o_c2));
  PetscFunctionReturn(PETSC_SUCCESS);
}

void PFMeshBlockBindParams(PFNet net, PFMeshBlock *b)
{
  PFMeshConvBindParams(&b->c1, net->params + b->o_c1, net->grads + b->o_c1);
  PFMeshConvBindParams(&b->c2, net->params + b->o_c2, net->grads + b->o_c2);
}

size_t PFMeshBlockWorkspaceSize(const PFMeshBlock *b, PetscInt B)
{
  size_t V = (size_t)b->g->nown * B, C = b->C;
  return 6 * V * C + 4 * (size_t)B * b->G + (size_t)B * C + PFMeshConvWorkspaceSize(&b->c1, B) + PFMeshConvWorkspaceSize(&b->c2, B);
}

pfreal *PFMeshBlockBindWorkspace(PFMeshBlock *b, PetscInt B, pfreal *w)
{
  size_t V = (size_t)b->g->nown * B, C = b->C;
  pfreal **acts[6] = {&b->n1, &b->a1, &b->z1, &b->n2, &b->a2, &b->hout};

  for (int k = 0; k < 6; k++) {
    *acts[k] = w;
    w += V * C;
  }
  b->stats = w;
  w += 4 * (size_t)B * b->G;
  b->tproj = w;
  w += (size_t)B * C;
  PFMeshConvBindWorkspace(&b->c1, B, w);
  w += PFMeshConvWorkspaceSize(&b->c1, B);
  PFMeshConvBindWorkspace(&b->c2, B, w);
  w += PFMeshConvWorkspaceSize(&b->c2, B);
  return w;
}

PetscErrorCode PFMeshBlockForward(PFNet net, PFMeshBlock *b, PetscInt B, const pfreal *s, const pfreal *hin)
{
  const PetscInt n = b->g->nown, C = b->C, G = b->G;
  const size_t   V = (size_t)n * B, BG = (size_t)B * G;
  const pfreal  *P = net->params;

  PetscFunctionBegin;
  b->hin = hin;
  PFDenseForward(B, C, C, s, P + b->o_pW, P + b->o_pb, b->tproj);
  PetscCall(PFMeshNormForward(b->g->comm, n, B, C, G, b->w, hin, P + b->o_n1, P + b->o_n1 + C, b->n1, b->stats, b->stats + BG));
  PFActivationForward(PF_ACT_SILU, (PetscInt)(V * C), b->n1, b->a1);
  PetscCall(PFMeshConvForward(&b->c1, B, b->a1, b->z1));
  for (size_t r = 0; r < V; r++)
    for (PetscInt c = 0; c < C; c++) b->z1[r * C + c] += b->tproj[(r % B) * C + c];
  PetscCall(PFMeshNormForward(b->g->comm, n, B, C, G, b->w, b->z1, P + b->o_n2, P + b->o_n2 + C, b->n2, b->stats + 2 * BG, b->stats + 3 * BG));
  PFActivationForward(PF_ACT_SILU, (PetscInt)(V * C), b->n2, b->a2);
  PetscCall(PFMeshConvForward(&b->c2, B, b->a2, b->hout));
  for (size_t r = 0; r < V * C; r++) b->hout[r] += hin[r];
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFMeshBlockBackward(PFNet net, PFMeshBlock *b, PetscInt B, const pfreal *s, pfreal *dh, pfreal *da, pfreal *dz, pfreal *ds)
{
  const PetscInt n = b->g->nown, C = b->C, G = b->G;
  const size_t   V = (size_t)n * B, BG = (size_t)B * G;
  const pfreal  *P  = net->params;
  pfreal        *Gr = net->grads, *dtp = b->tproj; /* the forward projection is no longer needed */

  PetscFunctionBegin;
  /* hout = hin + conv2(a2): dh flows to both */
  PetscCall(PFMeshConvBackward(&b->c2, B, b->a2, dh, da));
  PFActivationBackward(PF_ACT_SILU, (PetscInt)(V * C), b->n2, da, 0, da);
  PetscCall(PFMeshNormBackward(b->g->comm, n, B, C, G, b->w, b->z1, P + b->o_n2, b->stats + 2 * BG, b->stats + 3 * BG, da, dz, Gr + b->o_n2, Gr + b->o_n2 + C));
  /* z1 = conv1(a1) + tproj: the projection's gradient sums over vertices */
  PetscCall(PetscArrayzero(dtp, (size_t)B * C));
  for (size_t r = 0; r < V; r++)
    for (PetscInt c = 0; c < C; c++) dtp[(r % B) * C + c] += dz[r * C + c];
  PFDenseBackward(B, C, C, s, P + b->o_pW, dtp, 1, ds, Gr + b->o_pW, Gr + b->o_pb);
  PetscCall(PFMeshConvBackward(&b->c1, B, b->a1, dz, da));
  PFActivationBackward(PF_ACT_SILU, (PetscInt)(V * C), b->n1, da, 0, da);
  PetscCall(PFMeshNormBackward(b->g->comm, n, B, C, G, b->w, b->hin, P + b->o_n1, b->stats, b->stats + BG, da, dz, Gr + b->o_n1, Gr + b->o_n1 + C));
  for (size_t r = 0; r < V * C; r++) dh[r] += dz[r];
  PetscFunctionReturn(PETSC_SUCCESS);
}
