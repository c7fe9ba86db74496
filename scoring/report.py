"""Scores runs and writes the leaderboard report: ``leaderboard.md``, the
PNG figures, ``trials.csv`` and ``times.csv`` (``edgeperf-score``)."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from edgeperf.submissions import loader
from edgeperf.scoring import leaderboard as leaderboard_lib
from edgeperf.scoring import profiles


def score_runs(paths: Sequence[str], output_dir: str, *,
               metric: str = "time",
               references: Sequence[str] = leaderboard_lib.DEFAULT_REFERENCES,
               max_tau: float = profiles.MAX_TAU,
               title: str = "edgeperf leaderboard", description: str = "",
               plots: bool = True,
               targets: Mapping[str, float] | None = None) -> str:
  """Loads, scores and writes everything; returns the markdown.

  Raises:
    edgeperf.scoring.leaderboard.HardwareMismatchError: mixed hardware with a
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
      name = f"curves_{loader.slug(workload)}.png"
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
