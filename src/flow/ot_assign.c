/* Exact minimum-cost linear assignment (discrete optimal transport between two
 * equal-size uniform point sets), used by the OT-CFM minibatch coupling.
 *
 * Method: successive shortest augmenting paths with dual potentials (the
 * Hungarian method in the Jonker-Volgenant form).  Rows are inserted one at a
 * time; for each new row a Dijkstra search over reduced costs
 *   c[i][j] - u[i] - v[j]  (>= 0 while the duals stay feasible)
 * finds the cheapest alternating path to a free column, the duals are shifted
 * so that every matched edge keeps reduced cost zero, and the path is flipped.
 * Each search is O(n^2), so the whole solve is O(n^3) in the worst case and
 * much less on typical minibatch costs.
 *
 * Robustness choices:
 *  - The duals start from a row reduction followed by a column reduction, so
 *    every initial reduced cost is >= 0 *exactly* in floating point (a
 *    difference of a value and a smaller value never rounds below zero).  This
 *    also makes negative costs and rows of very different magnitudes harmless:
 *    each row is measured relative to its own minimum.
 *  - Every Dijkstra step settles one column, and only i-1 columns are matched
 *    when row i is inserted, so the search reaches a free column after at
 *    most i steps whatever round-off does to the reduced costs: the solver
 *    always terminates with a permutation.
 *  - Ties between equally short paths prefer a free column, which ends the
 *    search early; this matters for tie-heavy (e.g. integer) costs.
 *  - Non-finite costs are rejected up front: a NaN would silently break every
 *    comparison in the search. */
#include <math.h>
#include <physflow/ot.h>

PetscErrorCode PFOTAssign(PetscInt n, const double *cost, PetscInt *assign)
{
  double   *u, *v, *shortest;
  PetscInt *path, *row4col, *col4row, *remaining, *scanned;

  PetscFunctionBegin;
  PetscCheck(n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFOTAssign: the number of points n = %" PetscInt_FMT " must be positive", n);
  PetscCheck(cost, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFOTAssign: cost is NULL; pass an n x n row-major cost matrix");
  PetscCheck(assign, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "PFOTAssign: assign is NULL; pass an array of n entries");
  for (size_t k = 0; k < (size_t)n * (size_t)n; k++) {
    if (PetscUnlikely(!isfinite(cost[k])))
      SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "PFOTAssign: cost[%" PetscInt_FMT "][%" PetscInt_FMT "] = %g is not finite; costs must be finite real numbers", (PetscInt)(k / (size_t)n), (PetscInt)(k % (size_t)n), cost[k]);
  }
  if (n == 1) {
    assign[0] = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscCall(PetscMalloc1(n, &u));
  PetscCall(PetscMalloc1(n, &v));
  PetscCall(PetscMalloc1(n, &shortest));
  PetscCall(PetscMalloc1(n, &path));
  PetscCall(PetscMalloc1(n, &row4col));
  PetscCall(PetscMalloc1(n, &col4row));
  PetscCall(PetscMalloc1(n, &remaining));
  PetscCall(PetscMalloc1(n, &scanned));

  /* Feasible starting duals: u[i] = row minimum, v[j] = column minimum of the
   * row-reduced matrix.  Then c - u - v >= 0 everywhere, computed exactly. */
  for (PetscInt i = 0; i < n; i++) {
    const double *ci = cost + (size_t)i * (size_t)n;
    double        m  = ci[0];
    for (PetscInt j = 1; j < n; j++) m = PetscMin(m, ci[j]);
    u[i]       = m;
    col4row[i] = -1;
  }
  for (PetscInt j = 0; j < n; j++) {
    v[j]       = cost[j] - u[0];
    path[j]    = 0; /* here: the row attaining the column minimum */
    row4col[j] = -1;
  }
  for (PetscInt i = 1; i < n; i++) {
    const double *ci = cost + (size_t)i * (size_t)n;
    for (PetscInt j = 0; j < n; j++) {
      double t = ci[j] - u[i];
      if (t < v[j]) {
        v[j]    = t;
        path[j] = i;
      }
    }
  }
  /* Greedy start: an edge with zero reduced cost between a free row and a free
   * column can be matched right away without breaking optimality conditions.
   * On random costs this settles a large share of the rows for O(n) work. */
  for (PetscInt j = 0; j < n; j++) {
    PetscInt i = path[j];
    if (col4row[i] < 0) {
      col4row[i] = j;
      row4col[j] = i;
    }
  }

  for (PetscInt cur = 0; cur < n; cur++) {
    PetscInt i, sink = -1, nrem = n, nscan = 0;
    double   minval = 0.0;

    if (col4row[cur] >= 0) continue;
    for (PetscInt j = 0; j < n; j++) {
      shortest[j]  = INFINITY;
      remaining[j] = j;
    }
    /* Dijkstra from row cur.  remaining[0..nrem) are unsettled columns; the
     * settled ones are moved to the tail remaining[nrem..n). */
    i = cur;
    while (sink < 0) {
      const double *ci = cost + (size_t)i * (size_t)n;
      const double  ui = u[i];
      double        lowest = INFINITY;
      PetscInt      best = -1, j;

      scanned[nscan++] = i;
      for (PetscInt it = 0; it < nrem; it++) {
        double r;
        j = remaining[it];
        /* (c - u) first: that difference is what the reductions made exact */
        r = minval + ((ci[j] - ui) - v[j]);
        if (r < shortest[j]) {
          path[j]     = i;
          shortest[j] = r;
        }
        if (best < 0 || shortest[j] < lowest || (shortest[j] == lowest && row4col[j] < 0)) {
          lowest = shortest[j];
          best   = it;
        }
      }
      minval          = lowest;
      j               = remaining[best];
      remaining[best] = remaining[--nrem];
      remaining[nrem] = j;
      if (row4col[j] < 0) sink = j;
      else i = row4col[j];
    }

    /* Shift the duals of everything the search settled so that matched edges
     * (old ones and those on the new path) have zero reduced cost and all
     * reduced costs stay >= 0. */
    u[cur] += minval;
    for (PetscInt s = 1; s < nscan; s++) {
      PetscInt r = scanned[s];
      u[r] += minval - shortest[col4row[r]];
    }
    for (PetscInt t = nrem; t < n; t++) {
      PetscInt j = remaining[t];
      v[j] -= minval - shortest[j];
    }

    /* Flip the alternating path back from the free column to row cur. */
    for (PetscInt j = sink;;) {
      PetscInt r = path[j], prev = col4row[r];
      row4col[j] = r;
      col4row[r] = j;
      if (r == cur) break;
      j = prev;
    }
  }

  for (PetscInt r = 0; r < n; r++) assign[r] = col4row[r];

  PetscCall(PetscFree(u));
  PetscCall(PetscFree(v));
  PetscCall(PetscFree(shortest));
  PetscCall(PetscFree(path));
  PetscCall(PetscFree(row4col));
  PetscCall(PetscFree(col4row));
  PetscCall(PetscFree(remaining));
  PetscCall(PetscFree(scanned));
  PetscFunctionReturn(PETSC_SUCCESS);
}
