"""Open a physflow XDMF file in ParaView (headless) and check what it shows.

    pvpython --no-mpi tests/pv_check_xdmf.py FILE.xmf NPOINTS FIELD1,FIELD2,... NSTEPS

Checks, with ParaView's XDMF (version 2) reader, that the file has NSTEPS time
steps, and that the first and the last step each have NPOINTS points, exactly
the point arrays FIELD1,... and finite values in them.  Exit status: 0 all
good, 1 a mismatch (printed), 2 bad arguments, 77 ParaView's Python modules
are not available (ctest SKIP_RETURN_CODE).

Why XDMFReader and not OpenDataFile: for .xmf files OpenDataFile picks
Xdmf3ReaderS, and the Xdmf3 readers of ParaView 5.11 skip every attribute
given as a HyperSlab DataItem ("Skipping unrecognized array type [None]": VTK
asks the array type before reading the hyperslab), leaving a mesh without
fields.  The legacy XDMF reader reads them.  Reading needs no display; only
rendering would (Debian's ParaView segfaults without an X display even with
--force-offscreen-rendering).
"""
import math
import sys

try:
    from paraview import simple
except ImportError as e:  # pvpython missing or a plain python3 without paraview
    print(f"pv_check_xdmf: ParaView's Python modules are not available ({e}); skipping")
    sys.exit(77)


def main(argv):
    if len(argv) != 5:
        print(__doc__)
        return 2
    path, npoints, fields, nsteps = argv[1], int(argv[2]), argv[3].split(","), int(argv[4])
    problems = []

    reader = simple.XDMFReader(FileNames=[path])
    reader.UpdatePipelineInformation()
    times = reader.TimestepValues
    # a single step comes back as a bare number (or nothing), several as a list
    if times is None or isinstance(times, (int, float)):
        times = [] if times is None else [times]
    times = list(times)
    if len(times) != nsteps and not (nsteps == 1 and len(times) == 0):
        problems.append(f"{len(times)} time steps, expected {nsteps}")

    steps = [times[0], times[-1]] if times else [None]
    for t in steps:
        if t is None:
            reader.UpdatePipeline()
        else:
            reader.UpdatePipeline(t)
        info = reader.GetDataInformation()
        where = "the only step" if t is None else f"time {t:g}"
        if info.GetNumberOfPoints() != npoints:
            problems.append(f"{where}: {info.GetNumberOfPoints()} points, expected {npoints}")
        names = sorted(reader.PointData.keys())
        if names != sorted(fields):
            problems.append(f"{where}: point arrays {names}, expected {sorted(fields)}")
        for name in names:
            lo, hi = reader.PointData[name].GetRange()
            if not (math.isfinite(lo) and math.isfinite(hi)):
                problems.append(f"{where}: field {name} has non-finite values (range {lo}, {hi})")

    if problems:
        print(f"pv_check_xdmf: {path} (XDMFReader):")
        for p in problems:
            print("  " + p)
        return 1
    print(f"pv_check_xdmf: {path}: {len(times)} steps, {npoints} points, fields {','.join(fields)}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
