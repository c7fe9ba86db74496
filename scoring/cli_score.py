"""``edgeperf-score``: score runs and write the leaderboard (markdown + PNG).

Example::

    edgeperf-score --runs=results/sweep --output_dir=results

Writes to ``--output_dir``: ``leaderboard.md`` (score, per-workload
time-to-target and speed-ups, failed trials), ``performance_profiles.png``,
``curves_<workload>.png`` (loss vs time of every submission's best trial),
``trials.csv`` (one row per trial) and ``times.csv`` (t_{s,w}).

Runs from different hardware fingerprints are refused (exit status 2) unless
``--hardware_independent`` is given, which scores steps, FLOPs or
evaluations to target instead of time (``--metric``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Mapping, Sequence

from edgeperf.scoring import leaderboard as leaderboard_lib
from edgeperf.scoring import profiles


def _slug(text: str) -> str:
  return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def score_runs(paths: Sequence[str], output_dir: str, *,
               metric: str = "time",
               references: Sequence[str] = leaderboard_lib.DEFAULT_REFERENCES,
               max_tau: float = profiles.MAX_TAU,
               title: str = "edgeperf leaderboard", description: str = "",
               plots: bool = True,
               targets: Mapping[str, float] | None = None) -> str:
  """Loads, scores and writes everything; returns the markdown.

  Raises:
    leaderboard_lib.HardwareMismatchError: mixed hardware with a
      hardware-dependent metric.
  """
  trials = leaderboard_lib.load_trials(paths, targets)
  lb = leaderboard_lib.build(trials, metric=metric, references=references,
                             max_tau=max_tau)
  if targets:
    lb.notes.append("targets overridden for " + ", ".join(
        f"{w} ({v:.4g})" for w, v in sorted(targets.items())))
  os.makedirs(output_dir, exist_ok=True)
  figures = []
  if plots:
    from edgeperf.scoring import plots as plots_lib  # pylint: disable=g-import-not-at-top
    if not lb.profile.empty:
      plots_lib.plot_profiles(
          lb.profile, lb.scores,
          os.path.join(output_dir, "performance_profiles.png"),
          metric_name=leaderboard_lib.METRICS[metric][1])
      figures.append(("performance profiles", "performance_profiles.png"))
    for workload in sorted(trials["workload"].dropna().unique()):
      name = f"curves_{_slug(workload)}.png"
      if plots_lib.plot_curves(trials, workload,
                               os.path.join(output_dir, name), metric=metric,
                               submissions=sorted(
                                   trials["submission"].dropna().unique())):
        figures.append((f"{workload}: loss vs time", name))
  text = leaderboard_lib.to_markdown(lb, title=title, plots=figures,
                                     description=description)
  with open(os.path.join(output_dir, "leaderboard.md"), "w") as f:
    f.write(text + "\n")
  trials.to_csv(os.path.join(output_dir, "trials.csv"), index=False)
  lb.times.to_csv(os.path.join(output_dir, "times.csv"))
  return text


def main(argv: Sequence[str] | None = None) -> None:
  """Entry point of ``edgeperf-score`` (absl flags, read only here)."""
  from absl import flags  # pylint: disable=g-import-not-at-top

  from edgeperf.harness import cli_flags  # pylint: disable=g-import-not-at-top
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")

  fv = flags.FlagValues()
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
  flags.DEFINE_list("references", list(leaderboard_lib.DEFAULT_REFERENCES),
                    "Reference submissions for speed-ups: name or "
                    "name[key=value,...] (a subset of its trials).",
                    flag_values=fv)
  flags.DEFINE_float("max_tau", profiles.MAX_TAU, "Upper end of τ.",
                     flag_values=fv)
  flags.DEFINE_string("title", "edgeperf leaderboard", "Markdown title.",
                      flag_values=fv)
  flags.DEFINE_string("targets", None, "JSON file {workload: target train "
                      "objective} overriding the runs' stored targets.",
                      flag_values=fv)
  flags.DEFINE_bool("plots", True, "Write the PNG figures.", flag_values=fv)
  flags.DEFINE_bool("print", True, "Print the leaderboard.", flag_values=fv)
  cli_flags.parse(fv, argv, "edgeperf-score")
  if not fv.runs:
    sys.exit("edgeperf-score: --runs is required (sweep or run dirs)")
  metric = fv.metric or ("evals" if fv.hardware_independent else "time")
  if fv.hardware_independent and metric not in (
      leaderboard_lib.HARDWARE_INDEPENDENT):
    sys.exit(f"edgeperf-score: --hardware_independent needs --metric in "
             f"{list(leaderboard_lib.HARDWARE_INDEPENDENT)}, got {metric!r}")
  targets = None
  if fv.targets:
    try:
      with open(fv.targets) as f:
        targets = json.load(f)
      if not isinstance(targets, dict) or not all(
          isinstance(v, (int, float)) for v in targets.values()):
        raise ValueError("expected an object {workload: number}")
    except (OSError, ValueError) as e:
      sys.exit(f"edgeperf-score: --targets={fv.targets}: {e}")
  try:
    text = score_runs(fv.runs, fv.output_dir, metric=metric,
                      references=fv.references, max_tau=fv.max_tau,
                      title=fv.title, plots=fv.plots, targets=targets)
  except leaderboard_lib.HardwareMismatchError as e:
    print(f"edgeperf-score: {e}", file=sys.stderr)
    sys.exit(2)
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"edgeperf-score: {e}")
  if fv.print:
    print(text)
  print(f"wrote {os.path.join(fv.output_dir, 'leaderboard.md')}",
        file=sys.stderr)


if __name__ == "__main__":
  main()
