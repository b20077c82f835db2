/* meshnet_dump OUT.h5 [-mesh_faces N | -mesh FILE] [-net_type meshunet -mesh_levels L] [-mesh_width ..]
 *              [-mesh_depth ..] [-mesh_groups ..] [-mesh_temb_dim ..]
 *              [-batch B] [-seed S]
 *
 * Everything a PyTorch reference needs to re-evaluate the mesh network
 * (-net_type meshnet or meshunet) on the same weights, in NATURAL vertex order and
 * float64, written by rank 0 (any rank count gives the same data):
 *   /params [np]            flat parameters (identical on every rank)
 *   /grad_params [np]       d(sum v*dv)/dtheta, summed over the ranks
 *   /x, /dv, /v, /grad_x    [B][nfields][nvert]
 *   /t [B]
 *   /mass [nvert]           lumped vertex masses (the norms' weights)
 *   /coords [nvert][2]      vertex coordinates
 *   /ops/{dx,dy,lap}/{rows,cols,vals}   global COO of the scaled operators
 *                           A = M_L^{-1} E exactly as PFMeshGraphApply applies
 *                           them, extracted by applying them to unit vectors
 *   /param_views/{offset,rows,cols} [nviews], attribute "names" (newline-joined)
 *   /levels/<l>/ops/{dx,dy,lap}, /levels/<l>/P/{rows,cols,vals}, /levels/<l>/coords
 *                           (-net_type meshunet) level l's operators, the
 *                           prolongation from level l to level l-1 (rows:
 *                           level l-1 natural vertices) and the grid's
 *                           coordinates in its natural order
 *   root attributes: mesh_width, mesh_depth, mesh_groups, mesh_temb_dim,
 *   nfields, mesh_levels (also on /arch, the network's own record), nvert, batch,
 *   nparams, real ("float32"/"float64"), h, norm_eps, temb_scale
 * bench/torch_meshnet.py reference reads it (tests/test_torch_meshnet.sh). */
#include <math.h>
#include <physflow.h>
#include <physflow/mesh.h>
#include <physflow/meshgraph.h>
#include <physflow/meshlevels.h>
#include <physflow/private/netimpl.h>

#define NOPS 3

/* natural-order double copy on rank 0 of a pfreal array over owned vertices */
static PetscErrorCode Gather(PFMeshGraph g, PetscInt nvert, const pfreal *own, PetscInt stride, PetscScalar *buf, double *nat)
{
  PetscFunctionBegin;
  for (PetscInt i = 0; i < g->nown; i++) buf[i] = (PetscScalar)own[(size_t)i * stride];
  PetscCall(PFGatherNatural(g->comm, g->nown, g->ownnat, nvert, buf, nat));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* [B][F*nown] (owned) -> [B][F][nvert] (natural) on rank 0 */
static PetscErrorCode GatherField(PFMeshGraph g, PetscInt nvert, PetscInt B, PetscInt F, const pfreal *a, PetscScalar *buf, double *nat)
{
  PetscFunctionBegin;
  for (PetscInt b = 0; b < B; b++)
    for (PetscInt f = 0; f < F; f++) PetscCall(Gather(g, nvert, a + (size_t)b * F * g->nown + (size_t)f * g->nown, 1, buf, nat + ((size_t)b * F + f) * nvert));
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  PetscInt n, max;
  long long *r, *c;
  double    *v;
} COO;

static PetscErrorCode COOAdd(COO *a, long long r, long long c, double v)
{
  PetscFunctionBegin;
  if (a->n == a->max) {
    a->max = a->max ? 2 * a->max : 256;
    PetscCall(PetscRealloc(sizeof(long long) * a->max, &a->r));
    PetscCall(PetscRealloc(sizeof(long long) * a->max, &a->c));
    PetscCall(PetscRealloc(sizeof(double) * a->max, &a->v));
  }
  a->r[a->n] = r;
  a->c[a->n] = c;
  a->v[a->n] = v;
  a->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef PetscErrorCode (*ApplyFn)(void *ctx, PetscInt Fb, const pfreal *X, pfreal *Y);

static PetscErrorCode ApplyGraph(void *ctx, PetscInt Fb, const pfreal *X, pfreal *Y)
{
  const PFMeshOpKind kinds[NOPS] = {PF_MESHOP_DX, PF_MESHOP_DY, PF_MESHOP_LAP};
  PetscFunctionBegin;
  PetscCall(PFMeshGraphApply((PFMeshGraph)ctx, NOPS, kinds, Fb, X, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ApplyProlong(void *ctx, PetscInt Fb, const pfreal *X, pfreal *Y)
{
  PetscFunctionBegin;
  PetscCall(PFMeshTransferProlong((PFMeshTransfer *)ctx, Fb, X, Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* nk linear maps from the vertices of graph `in` to those of graph `out`,
 * applied to batches of unit vectors e_j (natural j); every rank keeps the
 * nonzeros of its owned rows (natural numbers), then rank 0 gathers */
static PetscErrorCode ExtractLinear(PFMeshGraph in, PFMeshGraph out, PetscInt ncols, PetscInt nk, ApplyFn apply, void *ctx, COO ops[])
{
  const PetscInt Fb = 64;
  pfreal        *X, *Y;
  PetscMPIInt    rank, size;

  PetscFunctionBegin;
  PetscCallMPI(MPI_Comm_rank(in->comm, &rank));
  PetscCallMPI(MPI_Comm_size(in->comm, &size));
  PetscCall(PetscMalloc2((size_t)in->nown * Fb + 1, &X, (size_t)out->nown * nk * Fb + 1, &Y));
  for (PetscInt j0 = 0; j0 < ncols; j0 += Fb) {
    for (size_t i = 0; i < (size_t)in->nown * Fb; i++) X[i] = 0;
    for (PetscInt i = 0; i < in->nown; i++)
      if (in->ownnat[i] >= j0 && in->ownnat[i] < j0 + Fb) X[(size_t)i * Fb + (in->ownnat[i] - j0)] = 1;
    PetscCall(apply(ctx, Fb, X, Y));
    for (PetscInt i = 0; i < out->nown; i++)
      for (PetscInt k = 0; k < nk; k++)
        for (PetscInt j = 0; j < Fb && j0 + j < ncols; j++) {
          const pfreal a = Y[((size_t)i * nk + k) * Fb + j];
          if (a != 0) PetscCall(COOAdd(&ops[k], out->ownnat[i], j0 + j, (double)a));
        }
  }
  PetscCall(PetscFree2(X, Y));
  /* gather to rank 0 */
  for (PetscInt k = 0; k < nk; k++) {
    PetscMPIInt n = (PetscMPIInt)ops[k].n, *counts = NULL, *displs = NULL, tot = 0;
    long long  *r = NULL, *c = NULL;
    double     *v = NULL;
    if (rank == 0) PetscCall(PetscMalloc2(size, &counts, size, &displs));
    PetscCallMPI(MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, in->comm));
    if (rank == 0) {
      for (PetscMPIInt p = 0; p < size; p++) {
        displs[p] = tot;
        tot += counts[p];
      }
      /* separate blocks: they are freed one by one */
      PetscCall(PetscMalloc1(tot + 1, &r));
      PetscCall(PetscMalloc1(tot + 1, &c));
      PetscCall(PetscMalloc1(tot + 1, &v));
    }
    PetscCallMPI(MPI_Gatherv(ops[k].r, n, MPI_LONG_LONG, r, counts, displs, MPI_LONG_LONG, 0, in->comm));
    PetscCallMPI(MPI_Gatherv(ops[k].c, n, MPI_LONG_LONG, c, counts, displs, MPI_LONG_LONG, 0, in->comm));
    PetscCallMPI(MPI_Gatherv(ops[k].v, n, MPI_DOUBLE, v, counts, displs, MPI_DOUBLE, 0, in->comm));
    PetscCall(PetscFree(ops[k].r));
    PetscCall(PetscFree(ops[k].c));
    PetscCall(PetscFree(ops[k].v));
    ops[k].n = ops[k].max = 0;
    if (rank == 0) {
      ops[k].r = r;
      ops[k].c = c;
      ops[k].v = v;
      ops[k].n = ops[k].max = tot;
      PetscCall(PetscFree2(counts, displs));
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}


static PetscErrorCode WriteCOO(hid_t fid, const char prefix[], COO *a)
{
  char    nm[96];
  hsize_t d1[1] = {(hsize_t)a->n};

  PetscFunctionBegin;
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s/rows", prefix));
  PetscCall(PFH5WriteArray(fid, nm, H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, d1, a->r));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s/cols", prefix));
  PetscCall(PFH5WriteArray(fid, nm, H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, d1, a->c));
  PetscCall(PetscSNPrintf(nm, sizeof(nm), "%s/vals", prefix));
  PetscCall(PFH5WriteArray(fid, nm, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 1, d1, a->v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode FreeCOO(PetscInt n, COO a[])
{
  PetscFunctionBegin;
  for (PetscInt k = 0; k < n; k++) {
    PetscCall(PetscFree(a[k].r));
    PetscCall(PetscFree(a[k].c));
    PetscCall(PetscFree(a[k].v));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode WriteD(hid_t fid, const char name[], int rank, const hsize_t dims[], const double *data)
{
  PetscFunctionBegin;
  PetscCall(PFH5WriteArray(fid, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, rank, dims, data));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PFMesh             mesh;
  PFMeshGraph        g;
  PFNet              net;
  PetscInt           faces = 6, B = 3, F = 2, nin, nvert, nviews;
  PetscInt           seed = 7;
  char               meshfile[PETSC_MAX_PATH_LEN] = "";
  PetscBool          flg;
  PetscMPIInt        rank;
  size_t             np;
  pfreal            *P, *Gr, *x, *dv, *v, *dx, *t, *w;
  PetscScalar       *buf;
  double            *nat, *dparams, *dt;
  const PFParamView *views;
  COO                ops[NOPS], levops[PF_MESHLEVELS_MAX][NOPS], levP[PF_MESHLEVELS_MAX];
  PFMeshLevels       lv;
  char               type[64] = PFNETMESH;

  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCheck(argc >= 2 && argv[1][0] != '-', PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "usage: meshnet_dump OUT.h5 [-mesh_faces N | -mesh FILE] [-net_type meshnet|meshunet] [-mesh_levels L] [-mesh_width C] [-mesh_depth D] [-mesh_groups G] [-mesh_temb_dim E] [-batch B] [-seed S]");
  PetscCall(PFInitializePackage());
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-mesh_faces", &faces, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-mesh", meshfile, sizeof(meshfile), &flg));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-batch", &B, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-seed", &seed, NULL));
  PetscCheck(B >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-batch must be >= 1");
  PetscCall(PFMeshCreate(PETSC_COMM_WORLD, meshfile[0] ? meshfile : NULL, faces, &mesh));
  PetscCall(PFMeshGraphCreate(mesh, &g));
  nvert = mesh->nvert;

  PetscCall(PFNetCreate(PETSC_COMM_WORLD, &net));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-net_type", type, sizeof(type), NULL));
  PetscCall(PFNetSetType(net, type));
  PetscCall(PFNetSetFromOptions(net));
  PetscCall(PFNetMeshSetGraph(net, g, F));
  PetscCall(PFNetSetUp(net));
  PetscCall(PFNetInitializeWeights(net, (uint64_t)seed));
  PetscCall(PFNetPlan(net, B));
  PetscCall(PFNetGetParameters(net, &np, &P, &Gr));
  /* generic weights: norms start at gamma = 1, beta = 0 */
  for (size_t i = 0; i < np; i++) P[i] += (pfreal)(0.05 * sin(1.0 + (double)i));

  /* data keyed by natural vertex (and sample for t): rank-count independent */
  nin = net->nin;
  PetscCall(PetscMalloc6((size_t)B * nin + 1, &x, (size_t)B * nin + 1, &dv, (size_t)B * nin + 1, &v, (size_t)B * nin + 1, &dx, B, &t, g->nown + 1, &w));
  for (PetscInt i = 0; i < g->nown; i++) {
    PFRNG r;
    PFRNGInit(&r, (uint64_t)seed, PF_RNG_TEST, 0, (uint32_t)g->ownnat[i]);
    for (PetscInt b = 0; b < B; b++)
      for (PetscInt f = 0; f < F; f++) {
        x[(size_t)b * nin + (size_t)f * g->nown + i]  = (pfreal)PFRNGNormal(&r);
        dv[(size_t)b * nin + (size_t)f * g->nown + i] = (pfreal)PFRNGNormal(&r);
      }
  }
  for (PetscInt b = 0; b < B; b++) {
    PFRNG r;
    PFRNGInit(&r, (uint64_t)seed, PF_RNG_TEST, 1, (uint32_t)b);
    t[b] = (pfreal)PFRNGUniform(&r);
  }
  PetscCall(PFNetZeroGradient(net));
  PetscCall(PFNetForward(net, B, x, t, v));
  PetscCall(PFNetBackward(net, B, dv, dx));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, Gr, (PetscMPIInt)np, MPIU_PFREAL, MPI_SUM, PETSC_COMM_WORLD));

  PetscCall(PetscMemzero(ops, sizeof(ops)));
  PetscCall(ExtractLinear(g, g, nvert, NOPS, ApplyGraph, g, ops));
  /* the U-Net's coarser levels: their operators and the prolongations */
  PetscCall(PFNetMeshGetLevels(net, &lv));
  PetscCall(PetscMemzero(levops, sizeof(levops)));
  PetscCall(PetscMemzero(levP, sizeof(levP)));
  for (PetscInt l = 1; l < lv->nlevels; l++) {
    PetscCall(ExtractLinear(lv->graph[l], lv->graph[l], lv->mesh[l]->nvert, NOPS, ApplyGraph, lv->graph[l], levops[l]));
    PetscCall(ExtractLinear(lv->graph[l], lv->graph[l - 1], lv->mesh[l]->nvert, 1, ApplyProlong, &lv->T[l - 1], &levP[l]));
  }
  /* the norms' weights exactly as the network forms them */
  for (PetscInt i = 0; i < g->nown; i++) w[i] = (pfreal)1 / g->minv[i];

  PetscCall(PetscMalloc4(g->nown + 1, &buf, (size_t)B * F * nvert + 1, &nat, np + 1, &dparams, B, &dt));
  {
    PFH5Temp tmp;
    hsize_t  d3[3] = {(hsize_t)B, (hsize_t)F, (hsize_t)nvert}, d1[1];
    hid_t    fid = -1;
    if (rank == 0) {
      PetscCall(PFH5CreateTemp(argv[1], &tmp));
      fid = tmp.fid;
      {
        /* the network's own architecture record (as in a model file's /arch),
         * copied to the root attributes for convenience */
        const char *keys[] = {"mesh_width", "mesh_depth", "mesh_groups", "mesh_temb_dim", "nfields", "mesh_levels"};
        hid_t       ga     = H5Gcreate2(fid, "arch", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        PetscCheck(ga >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot create group /arch");
        PetscCall(PFH5WriteAttrString(ga, "net_type", net->type));
        PetscCall(PFH5WriteAttrInt(ga, "nin", net->nin));
        PetscCall(net->ops.writearch(net, ga));
        for (int k = 0; k < 6; k++) {
          PetscInt val;
          PetscCall(PFH5ReadAttrInt(ga, keys[k], &val));
          PetscCall(PFH5WriteAttrInt(fid, keys[k], val));
        }
        H5Gclose(ga);
      }
      PetscCall(PFH5WriteAttrInt(fid, "nvert", nvert));
      PetscCall(PFH5WriteAttrInt(fid, "batch", B));
      PetscCall(PFH5WriteAttrInt(fid, "nparams", (PetscInt)np));
      PetscCall(PFH5WriteAttrString(fid, "real", PF_REAL_NAME));
      PetscCall(PFH5WriteAttrReal(fid, "h", g->h));
      PetscCall(PFH5WriteAttrReal(fid, "norm_eps", PF_NORM_EPS));
      PetscCall(PFH5WriteAttrReal(fid, "temb_scale", PF_TEMB_SCALE));
      d1[0] = np;
      for (size_t i = 0; i < np; i++) dparams[i] = (double)P[i];
      PetscCall(WriteD(fid, "params", 1, d1, dparams));
      for (size_t i = 0; i < np; i++) dparams[i] = (double)Gr[i];
      PetscCall(WriteD(fid, "grad_params", 1, d1, dparams));
      d1[0] = (hsize_t)B;
      for (PetscInt b = 0; b < B; b++) dt[b] = (double)t[b];
      PetscCall(WriteD(fid, "t", 1, d1, dt));
    }
#define FIELD(name, arr) \
  do { \
    PetscCall(GatherField(g, nvert, B, F, arr, buf, nat)); \
    if (rank == 0) PetscCall(WriteD(fid, name, 3, d3, nat)); \
  } while (0)
    FIELD("x", x);
    FIELD("dv", dv);
    FIELD("v", v);
    FIELD("grad_x", dx);
#undef FIELD
    PetscCall(Gather(g, nvert, w, 1, buf, nat));
    if (rank == 0) {
      const char *opn[NOPS] = {"dx", "dy", "lap"};
      char        nm[64];
      size_t      len = 1;
      char       *names;
      long long  *iv;
      d1[0] = (hsize_t)nvert;
      PetscCall(WriteD(fid, "mass", 1, d1, nat));
      if (mesh->coords) {
        hsize_t d2[2] = {(hsize_t)nvert, (hsize_t)mesh->dim};
        PetscCall(WriteD(fid, "coords", 2, d2, mesh->coords));
      }
      for (PetscInt k = 0; k < NOPS; k++) {
        PetscCall(PetscSNPrintf(nm, sizeof(nm), "ops/%s", opn[k]));
        PetscCall(WriteCOO(fid, nm, &ops[k]));
      }
      for (PetscInt l = 1; l < lv->nlevels; l++) {
        hsize_t d2[2] = {(hsize_t)lv->mesh[l]->nvert, 2};
        for (PetscInt k = 0; k < NOPS; k++) {
          PetscCall(PetscSNPrintf(nm, sizeof(nm), "levels/%" PetscInt_FMT "/ops/%s", l, opn[k]));
          PetscCall(WriteCOO(fid, nm, &levops[l][k]));
        }
        PetscCall(PetscSNPrintf(nm, sizeof(nm), "levels/%" PetscInt_FMT "/P", l));
        PetscCall(WriteCOO(fid, nm, &levP[l]));
        PetscCall(PetscSNPrintf(nm, sizeof(nm), "levels/%" PetscInt_FMT "/coords", l));
        PetscCall(WriteD(fid, nm, 2, d2, lv->mesh[l]->coords));
      }
      PetscCall(PFNetGetParamViews(net, &nviews, &views));
      for (PetscInt i = 0; i < nviews; i++) len += strlen(views[i].name) + 1;
      PetscCall(PetscCalloc1(len, &names));
      PetscCall(PetscMalloc1(3 * (size_t)nviews + 1, &iv));
      for (PetscInt i = 0; i < nviews; i++) {
        if (i) PetscCall(PetscStrlcat(names, "\n", len));
        PetscCall(PetscStrlcat(names, views[i].name, len));
        iv[i]              = (long long)views[i].offset;
        iv[nviews + i]     = (long long)views[i].rows;
        iv[2 * nviews + i] = (long long)views[i].cols;
      }
      d1[0] = (hsize_t)nviews;
      PetscCall(PFH5WriteArray(fid, "param_views/offset", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, d1, iv));
      PetscCall(PFH5WriteArray(fid, "param_views/rows", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, d1, iv + nviews));
      PetscCall(PFH5WriteArray(fid, "param_views/cols", H5T_NATIVE_LLONG, H5T_STD_I64LE, 1, d1, iv + 2 * nviews));
      {
        hid_t gv = H5Gopen2(fid, "param_views", H5P_DEFAULT);
        PetscCall(PFH5WriteAttrString(gv, "names", names));
        H5Gclose(gv);
      }
      PetscCall(PetscFree(names));
      PetscCall(PetscFree(iv));
      PetscCall(PFH5CommitTemp(&tmp));
    }
  }
  PetscCall(FreeCOO(NOPS, ops));
  for (PetscInt l = 1; l < lv->nlevels; l++) {
    PetscCall(FreeCOO(NOPS, levops[l]));
    PetscCall(FreeCOO(1, &levP[l]));
  }
  PetscCall(PetscFree4(buf, nat, dparams, dt));
  PetscCall(PetscFree6(x, dv, v, dx, t, w));
  PetscCall(PFNetDestroy(&net));
  PetscCall(PFMeshGraphDestroy(&g));
  PetscCall(PFMeshDestroy(&mesh));
  PetscCall(PetscFinalize());
  return 0;
}
