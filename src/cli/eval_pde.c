/* physflow eval -physics darcy -samples s.h5: physics checks of mesh fields.
 * For every sample, the weak-form residual of the PDE the data claim to
 * satisfy, as ||R||/||F|| and as the mean absolute nodal residual; prints a
 * JSON summary (mean, median, max over samples). */
#include <stdlib.h>
#include <string.h>
#include <physflow/h5util.h>
#include <physflow/meshdata.h>
#include <physflow/physics.h>
#include "cli.h"

static int CompareDouble(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* per-sample [relative, meanabs] residuals of every sample in path (allocated) */
static PetscErrorCode ResidualStats(PFPhysics phys, const char path[], double **relp, PetscInt *ns)
{
  PFMeshData   md;
  PFMesh       mesh;
  PetscInt     nown, nf;
  const char *const *names;
  PetscScalar *x, *R;
  double      *row;
  PetscBool    has;

  PetscFunctionBegin;
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCall(PFPhysicsGetVertexMap(phys, &nown, NULL));
  PetscCall(PFPhysicsGetFields(phys, &nf, &names, NULL));
  PetscCall(PFMeshDataOpen(path, &md));
  PetscCheck(md.nvert == mesh->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "'%s' has fields on %" PetscInt_FMT " vertices but the mesh (%s) has %" PetscInt_FMT ": give the -mesh/-mesh_faces the data were made with", path, md.nvert, mesh->source, mesh->nvert);
  for (PetscInt f = 0; f < nf; f++) {
    PetscCall(PFMeshDataHasField(&md, names[f], &has));
    PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no field '%s' needed by the %s residual", path, names[f], "PDE");
  }
  *ns = md.nsamples;
  PetscCheck(md.nsamples > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no samples", path);
  PetscCall(PetscMalloc1(2 * md.nsamples, relp));
  double *rel = *relp;
  PetscCall(PetscMalloc3(nf * nown + 1, &x, nown + 1, &R, md.nvert, &row));
  for (PetscInt i = 0; i < md.nsamples; i++) {
    for (PetscInt f = 0; f < nf; f++) {
      PetscCall(PFMeshDataReadRows(&md, names[f], i, 1, row));
      PetscCall(PFPhysicsFromNatural(phys, row, x + f * nown));
    }
    PetscCall(PFPhysicsResidual(phys, 1, x, R));
    PetscCall(PFPhysicsResidualNorms(phys, R, &rel[2 * i], &rel[2 * i + 1]));
  }
  PetscCall(PetscFree3(x, R, row));
  PetscCall(PFMeshDataClose(&md));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode AppendStats(char *json, size_t len, const char name[], const double *v, PetscInt stride, PetscInt n)
{
  double *s, mean = 0;
  char    item[256];

  PetscFunctionBegin;
  PetscCall(PetscMalloc1(n, &s));
  for (PetscInt i = 0; i < n; i++) {
    s[i] = v[i * stride];
    mean += s[i] / n;
  }
  qsort(s, (size_t)n, sizeof(double), CompareDouble);
  PetscCall(PetscSNPrintf(item, sizeof(item), ", \"%s\": {\"mean\": %.6g, \"median\": %.6g, \"max\": %.6g}", name, mean, n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s[n - 1]));
  PetscCall(PetscStrlcat(json, item, len));
  PetscCall(PetscFree(s));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFEvalPDE(MPI_Comm comm, const char physics_type[], const char samples[], const char reference[], const char jsonpath[], PetscBool *help)
{
  PFPhysics   phys;
  PetscMPIInt rank;
  char        json[4096];
  double     *rel;
  PetscInt    ns;

  PetscFunctionBegin;
  PetscCall(PFCLIProblemOptionsFromFile(comm, samples));
  PetscCall(PFPhysicsCreate(comm, &phys));
  PetscCall(PFPhysicsSetType(phys, physics_type));
  PetscCall(PFPhysicsSetFromOptions(phys));
  PetscCall(PFCLIOptionsDone(comm, "eval", help));
  if (*help) goto done;
  PetscCheck(samples[0], comm, PETSC_ERR_ARG_WRONG, "give the fields to check: -samples file.h5");
  if (jsonpath[0]) PetscCall(PFCheckWritable(comm, jsonpath));
  PetscCall(PFPhysicsSetUp(phys));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(ResidualStats(phys, samples, &rel, &ns));
  PetscCall(PetscSNPrintf(json, sizeof(json), "{\"physics\": \"%s\", \"samples\": \"%s\", \"n_samples\": %" PetscInt_FMT, physics_type, samples, ns));
  PetscCall(AppendStats(json, sizeof(json), "residual_relative", rel, 2, ns));
  PetscCall(AppendStats(json, sizeof(json), "residual_meanabs", rel + 1, 2, ns));
  PetscCall(PetscFree(rel));
  if (reference[0]) {
    PetscInt nr;
    PetscCall(ResidualStats(phys, reference, &rel, &nr));
    PetscCall(PetscStrlcat(json, ", \"reference\": {", sizeof(json)));
    {
      char item[PETSC_MAX_PATH_LEN + 64];
      PetscCall(PetscSNPrintf(item, sizeof(item), "\"file\": \"%s\", \"n\": %" PetscInt_FMT, reference, nr));
      PetscCall(PetscStrlcat(json, item, sizeof(json)));
    }
    PetscCall(AppendStats(json, sizeof(json), "residual_relative", rel, 2, nr));
    PetscCall(PetscStrlcat(json, "}", sizeof(json)));
    PetscCall(PetscFree(rel));
  }
  PetscCall(PetscStrlcat(json, "}", sizeof(json)));
  PetscCall(PetscPrintf(comm, "%s\n", json));
  if (jsonpath[0] && rank == 0) {
    FILE *f = fopen(jsonpath, "w");
    PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot write '%s'", jsonpath);
    fprintf(f, "%s\n", json);
    fclose(f);
  }
done:
  PetscCall(PFPhysicsDestroy(&phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}
