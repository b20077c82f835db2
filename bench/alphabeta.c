/* alpha-beta of this machine's MPI (bench/scaling.sh): ping-pong between
 * ranks 0 and 1 (alpha = half the round trip of 8 bytes, beta from the
 * largest message) and MPI_Allreduce(SUM) of float buffers over all ranks.
 * Prints one JSON line. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static double pingpong(int rank, char *buf, int n, int reps)
{
  double t0;
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  for (int r = 0; r < reps; r++) {
    if (rank == 0) {
      MPI_Send(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
    }
  }
  return (MPI_Wtime() - t0) / (2.0 * reps); /* one way */
}

static double allreduce(float *x, int n, int reps)
{
  double t0;
  MPI_Barrier(MPI_COMM_WORLD);
  t0 = MPI_Wtime();
  for (int r = 0; r < reps; r++) MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  return (MPI_Wtime() - t0) / reps;
}

int main(int argc, char **argv)
{
  int    rank, size, big = 4 << 20;
  char  *buf;
  float *x;
  double a, b, r8, rbig;

  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  buf = calloc((size_t)big, 1);
  x   = calloc((size_t)big / 4, sizeof(float));
  pingpong(rank, buf, 8, 100); /* warm-up */
  a = pingpong(rank, buf, 8, 2000);
  b = (pingpong(rank, buf, big, 20) - a) / big;
  allreduce(x, 2, 100);
  r8   = allreduce(x, 2, 2000);
  rbig = allreduce(x, big / 4, 10);
  if (rank == 0) printf("{\"ranks\": %d, \"alpha_s\": %.3e, \"beta_s_per_byte\": %.3e, \"allreduce_8B_s\": %.3e, \"allreduce_4MB_s\": %.3e}\n", size, a, b, r8, rbig);
  free(buf);
  free(x);
  MPI_Finalize();
  return 0;
}
