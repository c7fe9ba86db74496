"""``edgeperf-export-algoperf``: an edgeperf submission as a self-contained
AlgoPerf JAX submission folder.

Usage::

    edgeperf-export-algoperf --submission=cdat --output_dir=DIR
    edgeperf-export-algoperf --submission=path/to/folder --output_dir=DIR

Writes ``DIR/submission.py``, ``DIR/tuning_search_space.json`` and the
tuner's code vendored in ``DIR/_tuner_<name>/`` (nothing imports edgeperf),
then prints the files as JSON.  A tuner that cannot run under AlgoPerf's
pins is refused with the reason (:mod:`edgeperf.interop.algoperf_export`).
"""

from __future__ import annotations

import json
import sys
from typing import Sequence

from absl import flags

from edgeperf.cli import flagparse

PROG = "edgeperf-export-algoperf"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("submission", None, "Shipped submission name or path.",
                      flag_values=fv)
  flags.DEFINE_string("output_dir", None, "Folder to write (new, empty, or "
                      "an earlier export).", flag_values=fv)
  flags.DEFINE_float("weight_decay", 1e-5, "wd of the objective f = L + "
                     "(wd/2)||w||^2 the tuner sees (edgeperf's workloads: "
                     "1e-5).", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> int:
  """Runs the command; returns the exit status."""
  fv, rest = flagparse.parse(_define, argv, PROG)
  if rest:
    print(f"{PROG}: unexpected arguments {rest}", file=sys.stderr)
    return 2
  missing = [f"--{n}" for n in ("submission", "output_dir")
             if fv[n].value is None]
  if missing:
    print(f"{PROG}: missing required flag(s) {missing}", file=sys.stderr)
    return 2
  from edgeperf.interop import algoperf_export  # pylint: disable=g-import-not-at-top
  try:
    out = algoperf_export.export(fv.submission, fv.output_dir,
                                 weight_decay=fv.weight_decay)
  except (ValueError, OSError) as e:
    print(f"{PROG}: {e}", file=sys.stderr)
    return 1
  print(json.dumps({"output_dir": out.folder, "package": out.package,
                    "files": list(out.files)}))
  return 0


def run() -> None:
  """Console-script entry point."""
  sys.exit(main())


if __name__ == "__main__":
  run()
