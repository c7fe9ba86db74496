"""``edgeperf-plot``: the four-panel curvature figure of run folders (PNG).

Usage::

    edgeperf-plot RUN_DIR [RUN_DIR ...] [--out=fig.png] [--labels=a,b]

Panels: learning rate, sharpness λ_max (dotted: 2/η), η·λ_max against 2,
gradient norm (:mod:`edgeperf.reproduce.curvature_figure`).  Runs need
``diagnostics.csv`` (``edgeperf-run --diag_every=N``).
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from absl import flags

from edgeperf.cli import flagparse

PROG = "edgeperf-plot"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("out", None, "PNG path (default: "
                      "<first run>/curvature.png).", flag_values=fv)
  flags.DEFINE_list("labels", None, "Legend labels, one per run.",
                    flag_values=fv)
  flags.DEFINE_string("title", None, "Figure title.", flag_values=fv)
  flags.DEFINE_bool("raw", False, "Plot the plain sharpness even for "
                    "RMSProp/Adam.", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, run_dirs = flagparse.parse(_define, argv, PROG)
  if not run_dirs:
    flagparse.fail(PROG, "give at least one run directory", 2)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from edgeperf.reproduce import curvature_figure as figures  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import rundir  # pylint: disable=g-import-not-at-top
  out = fv.out or os.path.join(run_dirs[0], "curvature.png")
  try:
    path = figures.plot_runs(run_dirs, out, labels=fv.labels,
                             title=fv.title, raw=fv.raw)
  except (FileNotFoundError, ValueError, rundir.RunDirError) as e:
    flagparse.fail(PROG, f"error: {e}", 2)
  print(path)


if __name__ == "__main__":
  main(sys.argv)
