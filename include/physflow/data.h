#pragma once
/* PFData: where training samples come from, addressed by global index so
 * that any partition of a batch over ranks sees the same samples.
 *   - a toy distribution (moons, 8gaussians, checkerboard): an endless stream,
 *     sample i drawn from the counter-based generator keyed by (seed, i);
 *   - an HDF5 file with /samples [N, d]: shuffled per epoch by a permutation
 *     keyed by (seed, epoch). */
#include <hdf5.h>
#include <physflow/compat.h>
#include <physflow/real.h>

typedef enum {
  PF_TOY_MOONS        = 0,
  PF_TOY_8GAUSSIANS   = 1,
  PF_TOY_CHECKERBOARD = 2
} PFToyType;
PETSC_EXTERN const char *const PFToyTypes[];

/* One 2-D toy sample; conventions follow torchcfm's toy datasets */
PETSC_EXTERN void PFToySample(PFToyType type, uint64_t seed, uint64_t index, double x[2]);

typedef struct _p_PFData *PFData;
PETSC_EXTERN PetscErrorCode PFDataCreateToy(MPI_Comm comm, PFToyType type, uint64_t seed, PFData *data);
PETSC_EXTERN PetscErrorCode PFDataCreateFromFile(MPI_Comm comm, const char path[], uint64_t seed, PFData *data);
/* Fields of a PDE dataset (/fields/<name>) at this rank's owned vertices
 * (natural indices ownnat), normalised per field; a sample is nfields blocks
 * of nown values.  comm: the ranks sharing the file (any). */
PETSC_EXTERN PetscErrorCode PFDataCreateMesh(MPI_Comm comm, const char path[], PetscInt nfields, const char *const fields[], PetscInt nown, const PetscInt ownnat[], uint64_t seed, PFData *data);
/* Replace the per-field normalisation (fine-tuning keeps the model's) */
PETSC_EXTERN PetscErrorCode PFDataSetNormalization(PFData data, const double mean[], const double std[]);
PETSC_EXTERN PetscErrorCode PFDataGetNormalization(PFData data, PetscInt *nfields, const double **mean, const double **std);
PETSC_EXTERN PetscErrorCode PFDataGetSampleSize(PFData data, PetscInt *n);
/* Mesh data: per field and vertex (natural order, [nfields, nvert]) the
 * value if it is the same in every sample (e.g. Dirichlet data), else NaN */
PETSC_EXTERN PetscErrorCode PFDataGetConstantValues(PFData data, PetscInt *nvert, const double **values);
/* The vertex values a model of these data holds fixed ([nfields, nvert],
 * NaN: generated; NULL: none), recorded by PFDataWriteH5 as /data/pinned */
PETSC_EXTERN PetscErrorCode PFDataSetPinnedValues(PFData data, const double values[]);
/* Conditioning channels of mesh data (a conditional model's inputs): each
 * sample becomes nfields + nchannels blocks of nown values; after a
 * sample's fields are read, fill(ctx, draw, fields, channels) writes its
 * channels (draw: the sample's global draw counter, unique per step and
 * batch slot, to key random conditions; collective over the ranks that
 * share the sample's mesh), and write(ctx, g) records the conditioning in
 * a model's /data group (rank 0 only).  nchannels 0: no channels, only
 * the record (a model conditioned on some of its own fields). */
typedef struct {
  PetscInt nchannels;
  PetscErrorCode (*fill)(void *ctx, uint64_t draw, const pfreal *fields, pfreal *channels);
  PetscErrorCode (*write)(void *ctx, hid_t group);
  void *ctx;
} PFDataConditioner;
PETSC_EXTERN PetscErrorCode PFDataSetConditioner(PFData data, const PFDataConditioner *cond);
/* Samples of global batch `step` (size Bg), local rows [gidx0, gidx0+nloc) */
PETSC_EXTERN PetscErrorCode PFDataGetBatch(PFData data, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, pfreal *x1);
/* The file rows of those samples (file data only): e.g. to pair each with
 * the noise it was generated from (distillation) */
PETSC_EXTERN PetscErrorCode PFDataGetBatchIndices(PFData data, PetscInt step, PetscInt Bg, PetscInt gidx0, PetscInt nloc, PetscInt rows[]);
PETSC_EXTERN PetscErrorCode PFDataWriteH5(PFData data, hid_t fid); /* describes the source in a model file */
PETSC_EXTERN PetscErrorCode PFDataDestroy(PFData *data);

/* Point-cloud files (/samples [n, d], float64) written by datagen -toy and by
 * sample for vector-valued models.  Rank 0 writes; x is the full array there. */
PETSC_EXTERN PetscErrorCode PFSamplesWrite(MPI_Comm comm, const char path[], const char kind[], PetscInt n, PetscInt d, const double *x, PetscInt nfe);
/* Every rank reads the whole array (allocated with PetscMalloc1) */
PETSC_EXTERN PetscErrorCode PFSamplesRead(const char path[], PetscInt *n, PetscInt *d, double **x);
