"""``edgeperf-set-targets`` (``make targets``): re-derives stored targets.

Runs the procedure of :mod:`edgeperf.protocol.targets` for each workload on
one division's base direction (``--division``, default ``gd``) and rewrites
its entry of that division's targets file (``workloads/targets.json`` for
``gd``, ``workloads/targets_<division>.json`` for another).
"""

from __future__ import annotations

import json
import sys
from typing import Sequence

from absl import flags

from edgeperf.protocol import divisions
from edgeperf.protocol import targets
from edgeperf.cli import flagparse
from edgeperf.workloads import registry

PROG = "edgeperf-set-targets"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", None, "Workloads to (re)set (default: every "
                    "embedded one).", flag_values=fv)
  flags.DEFINE_string("size", "small", "Preset size.", flag_values=fv)
  flags.DEFINE_integer("batch_size", None, "Mini-batch size (default: full "
                       "batch).", flag_values=fv)
  flags.DEFINE_enum("division", "gd", list(divisions.DIRECTIONS),
                    "Whose targets: the base direction the constant rate "
                    "runs on (gd: workloads/targets.json; another: "
                    "workloads/targets_<division>.json).", flag_values=fv)
  flags.DEFINE_string("targets_file", None, "Where targets are stored "
                      "(default: the division's file).", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  names = fv.workloads or list(registry.EMBEDDED)
  for entry in targets.set_targets(names, size=fv.size,
                                   batch_size=fv.batch_size,
                                   division=fv.division,
                                   targets_file=fv.targets_file):
    flag = "  (best lr on the grid edge!)" if entry["best_on_grid_edge"] else ""
    print(json.dumps({"workload": entry["key"],
                      "target_train_loss": entry["target_train_loss"],
                      "best_learning_rate": entry["best_learning_rate"]})
          + flag)


if __name__ == "__main__":
  main(sys.argv)
