/* physflow observe -data test.h5 -index i -field p -nobs k -noise s -seed S -o obs_i.h5
 *
 * Synthetic sparse noisy observations of a held-out solver sample with
 * known truth (issue 7): k sensor positions drawn uniformly over the mesh
 * (rejection from the bounding box, so L-shapes and holes work), the
 * field's FE interpolant there plus Gaussian noise of std s, keyed by
 * (seed, index, sensor): the same file on any rank count.  The file also
 * holds the sample's full fields (/truth) for errors against the truth. */
#include <math.h>
#include <physflow/log.h>
#include <physflow/meshdata.h>
#include <physflow/obs.h>
#include <physflow/rng.h>
#include "cli.h"

/* rank 0: the sensors and their values (errors are returned) */
static PetscErrorCode MakeObservations(PFMesh mesh, const char data[], PetscInt index, const char field[], PetscInt nobs, double noise, PetscInt seed, PFObs *o)
{
  PFMeshData md;
  double    *f = NULL, *w;
  PetscInt  *vidx;
  PFRNG     *streams;
  PetscBool  has;

  PetscFunctionBegin;
  PetscCall(PFMeshDataOpen(data, &md));
  PetscCheck(md.nvert == mesh->nvert, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "'%s' has %" PetscInt_FMT " vertices, its mesh %" PetscInt_FMT, data, md.nvert, mesh->nvert);
  PetscCall(PFMeshDataHasField(&md, field, &has)); /* (also sets nsamples) */
  PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "'%s' has no field '%s'", data, field);
  PetscCheck(index >= 0 && index < md.nsamples, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-index %" PetscInt_FMT " is not a sample of '%s' (it has %" PetscInt_FMT ")", index, data, md.nsamples);
  /* the truth: every field of the sample */
  {
    H5G_info_t info;
    hid_t      g = H5Gopen2(md.fid, "fields", H5P_DEFAULT);
    PetscCheck(g >= 0 && H5Gget_info(g, &info) >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has no /fields", data);
    o->ntruth = PetscMin((PetscInt)info.nlinks, 8);
    o->nvert  = md.nvert;
    PetscCall(PetscMalloc1((size_t)o->ntruth * md.nvert, &o->truth));
    for (PetscInt k = 0; k < o->ntruth; k++) {
      PetscCheck(H5Lget_name_by_idx(g, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, (hsize_t)k, o->truthname[k], sizeof(o->truthname[k]), H5P_DEFAULT) > 0 ||
                   H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)k, o->truthname[k], sizeof(o->truthname[k]), H5P_DEFAULT) > 0,
                 PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s': unreadable /fields", data);
      PetscCall(PFMeshDataReadRows(&md, o->truthname[k], index, 1, o->truth + (size_t)k * md.nvert));
      if (!strcmp(o->truthname[k], field)) f = o->truth + (size_t)k * md.nvert;
    }
    H5Gclose(g);
  }
  PetscCall(PFMeshDataClose(&md));
  PetscCheck(f, PETSC_COMM_SELF, PETSC_ERR_PLIB, "field '%s' not read", field);
  o->nobs  = nobs;
  o->sigma = noise;
  PetscCall(PetscStrncpy(o->field, field, sizeof(o->field)));
  PetscCall(PetscMalloc2(2 * nobs, &o->coords, nobs, &o->values));
  PetscCall(PetscMalloc3(4 * nobs, &vidx, 4 * nobs, &w, nobs, &streams));
  PetscCall(PFObsDrawPositions(mesh, (uint64_t)seed, PF_RNG_OBS, (uint64_t)index, nobs, o->coords, vidx, w, streams));
  for (PetscInt j = 0; j < nobs; j++) {
    double y = 0;
    for (PetscInt k = 0; k < 4; k++)
      if (vidx[4 * j + k] >= 0) y += w[4 * j + k] * f[vidx[4 * j + k]];
    /* the noise continues the sensor's stream */
    o->values[j] = y + noise * PFRNGNormal(&streams[j]);
  }
  PetscCall(PetscFree3(vidx, w, streams));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode PFCommandObserve(MPI_Comm comm)
{
  char        data[PETSC_MAX_PATH_LEN] = "", out[PETSC_MAX_PATH_LEN] = "obs.h5", field[64] = "p", physics[32] = "darcy";
  PetscInt    index = 0, nobs = 16, seed = 0;
  double      noise = 0.01;
  PetscBool   has_data, help, mesh_file;
  PFPhysics   phys = NULL;
  PFMesh      mesh;
  PFObs       o;
  PetscMPIInt rank;

  PetscFunctionBegin;
  PetscCall(PetscMemzero(&o, sizeof(o)));
  PetscOptionsBegin(comm, NULL, "physflow observe: synthetic sparse noisy observations of a known sample", "observe");
  PetscCall(PetscOptionsString("-data", "Dataset (datagen output) holding the sample", "observe", data, data, sizeof(data), &has_data));
  PetscCall(PetscOptionsInt("-index", "Sample of the dataset to observe", "observe", index, &index, NULL));
  PetscCall(PetscOptionsString("-field", "Observed field", "observe", field, field, sizeof(field), NULL));
  PetscCall(PetscOptionsInt("-nobs", "Number of sensors (random positions on the mesh)", "observe", nobs, &nobs, NULL));
  PetscCall(PetscOptionsReal("-noise", "Std of the Gaussian observation noise (field units)", "observe", noise, &noise, NULL));
  PetscCall(PetscOptionsInt("-seed", "Seed of the sensor positions and noise", "observe", seed, &seed, NULL));
  PetscCall(PetscOptionsString("-physics", "Physics of the data (its mesh and problem options)", "observe", physics, physics, sizeof(physics), NULL));
  PetscCall(PetscOptionsString("-o", "Observation file", "observe", out, out, sizeof(out), NULL));
  PetscOptionsEnd();
  if (has_data) {
    PetscCall(PFCLIIsMeshFile(comm, data, &mesh_file));
    PetscCheck(mesh_file, comm, PETSC_ERR_FILE_OPEN, "cannot read '%s' as mesh fields: missing, not HDF5, or not a physflow dataset", data);
    PetscCall(PFCLIProblemOptionsFromFile(comm, data));
  }
  PetscCall(PFPhysicsCreate(comm, &phys));
  PetscCall(PFPhysicsSetType(phys, physics));
  PetscCall(PFPhysicsSetFromOptions(phys));
  PetscCall(PFCLIOptionsDone(comm, "observe", &help));
  if (help) goto done;
  PetscCheck(has_data, comm, PETSC_ERR_ARG_WRONG, "give the dataset to observe: -data test.h5");
  PetscCheck(nobs > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-nobs must be positive");
  PetscCheck(noise > 0 && isfinite(noise), comm, PETSC_ERR_ARG_OUTOFRANGE, "-noise must be positive (the likelihood's sigma; use a small value for nearly exact data)");
  PetscCall(PFCheckWritable(comm, out));
  PetscCall(PFPhysicsSetUp(phys));
  PetscCall(PFPhysicsGetMesh(phys, &mesh));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  {
    PetscErrorCode ierr = rank == 0 ? MakeObservations(mesh, data, index, field, nobs, noise, seed, &o) : PETSC_SUCCESS;
    PetscCall(PFBcastError(comm, ierr, ""));
  }
  PetscCall(PFObsWrite(comm, out, &o, data, index, seed, mesh->source));
  PetscCall(PetscPrintf(comm, "physflow observe: %" PetscInt_FMT " noisy (sigma %g) values of %s of sample %" PetscInt_FMT " of %s -> %s\n", nobs, noise, field, index, data, out));
done:
  PetscCall(PFObsDestroy(&o));
  PetscCall(PFPhysicsDestroy(&phys));
  PetscFunctionReturn(PETSC_SUCCESS);
}
