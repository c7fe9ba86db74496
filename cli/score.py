"""``edgeperf-score``: score runs and write the leaderboard (markdown + PNG).

Example::

    edgeperf-score --runs=results/sweep --output_dir=results

Writes to ``--output_dir``: ``leaderboard.md`` (one section per division,
i.e. base direction: score, per-workload time-to-target and speed-ups
against that division's references; failed trials),
``performance_profiles_<division>.png``, ``curves_<division>_<workload>.png``
(loss vs time of every entry's best trial), ``trials.csv`` (one row per
trial) and ``times.csv`` (t_{s,w}, per division).  A run's division is the
one its sweep recorded, else its ``base_optimizer`` hyperparameter.

A trial with a file that cannot be read is not scored: it is named on
stderr and listed under "Unreadable trials"; the rest is scored.

Runs from different hardware fingerprints are refused (exit status 2) unless
``--hardware_independent`` is given, which scores steps, FLOPs or
evaluations to target instead of time (``--metric``).
"""

from __future__ import annotations

import sys
from typing import Sequence

from absl import flags

from edgeperf import _jsonio
from edgeperf.cli import flagparse
from edgeperf.scoring import leaderboard as leaderboard_lib
from edgeperf.scoring import profiles
from edgeperf.scoring import references

PROG = "edgeperf-score"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("runs", None, "Sweep dirs, run dirs or folders of them.",
                    flag_values=fv)
  flags.DEFINE_string("output_dir", "results", "Where leaderboard.md and "
                      "the PNGs go.", flag_values=fv)
  flags.DEFINE_enum("metric", None, list(leaderboard_lib.METRICS),
                    "What to score to target: time (default), or the "
                    "hardware-independent steps, flops, evals (default with "
                    "--hardware_independent).", flag_values=fv)
  flags.DEFINE_bool("hardware_independent", False, "Score only "
                    "hardware-independent metrics (allows runs from "
                    "different hardware).", flag_values=fv)
  flags.DEFINE_list("references", list(references.DEFAULT_REFERENCES),
                    "Reference submissions for speed-ups, within each "
                    "division: name or name[key=value,...] (a subset of its "
                    "trials).", flag_values=fv)
  flags.DEFINE_float("max_tau", profiles.MAX_TAU, "Upper end of τ.",
                     flag_values=fv)
  flags.DEFINE_string("title", "edgeperf leaderboard", "Markdown title.",
                      flag_values=fv)
  flags.DEFINE_string("targets", None, "JSON file {workload: target train "
                      "objective} overriding the runs' stored targets.",
                      flag_values=fv)
  flags.DEFINE_bool("plots", True, "Write the PNG figures.", flag_values=fv)
  flags.DEFINE_bool("print", True, "Print the leaderboard.", flag_values=fv)


def _read_targets(path: str) -> dict[str, float]:
  targets = _jsonio.read_json(path)
  if not isinstance(targets, dict) or not all(
      isinstance(v, (int, float)) for v in targets.values()):
    raise ValueError(f"{path}: expected an object {{workload: number}}")
  return targets


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, PROG)
  flagparse.report_warnings(PROG)
  if not fv.runs:
    flagparse.fail(PROG, "--runs is required (sweep or run dirs)", 2)
  metric = fv.metric or ("evals" if fv.hardware_independent else "time")
  if fv.hardware_independent and metric not in (
      leaderboard_lib.HARDWARE_INDEPENDENT):
    flagparse.fail(PROG, "--hardware_independent needs --metric in "
                   f"{list(leaderboard_lib.HARDWARE_INDEPENDENT)}, got "
                   f"{metric!r}", 2)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from edgeperf.scoring import report  # pylint: disable=g-import-not-at-top
  try:
    targets = _read_targets(fv.targets) if fv.targets else None
    text = report.score_runs(fv.runs, fv.output_dir, metric=metric,
                             references=fv.references, max_tau=fv.max_tau,
                             title=fv.title, plots=fv.plots, targets=targets)
  except leaderboard_lib.HardwareMismatchError as e:
    flagparse.fail(PROG, str(e), 2)
  except (ValueError, OSError) as e:
    flagparse.fail(PROG, str(e))
  if fv.print:
    print(text)
  print(f"wrote {fv.output_dir}/leaderboard.md", file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv)
