"""Scores trials and writes the leaderboard report (``edgeperf-score``,
``make bench``): ``leaderboard.md`` (this module is its one writer), the
PNG figures per division, ``trials.csv`` and ``times.csv``."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import pandas as pd

from edgeperf.submissions import loader
from edgeperf.scoring import leaderboard as leaderboard_lib
from edgeperf.scoring import markdown
from edgeperf.scoring import profiles
from edgeperf.scoring import references as references_lib
from edgeperf.scoring import trials as trials_lib


def figures(boards: Mapping[str, leaderboard_lib.Leaderboard],
            output_dir: str, *, metric: str,
            references: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
  """One performance-profile figure and one curves figure per workload for
  each division, its references emphasised; returns markdown.Plots."""
  from edgeperf.scoring import plots as plots_lib  # pylint: disable=g-import-not-at-top
  baselines = [references_lib.parse_reference(r)[0] for r in references]
  out: dict[str, list[tuple[str, str]]] = {}
  for division, lb in boards.items():
    tag = loader.slug(division) if division else "all"
    shown = out.setdefault(division, [])
    if not lb.profile.empty:
      name = f"performance_profiles_{tag}.png"
      plots_lib.plot_profiles(
          lb.profile, lb.scores, os.path.join(output_dir, name),
          metric_name=trials_lib.METRICS[metric][1], division=division,
          baselines=baselines)
      shown.append((f"{division}: performance profiles", name))
    for workload in sorted(lb.trials["workload"].dropna().unique()):
      name = f"curves_{tag}_{loader.slug(workload)}.png"
      if plots_lib.plot_curves(
          lb.trials, workload, os.path.join(output_dir, name), metric=metric,
          submissions=sorted(lb.trials["submission"].dropna().unique()),
          division=division, baselines=baselines):
        shown.append((f"{division}, {workload}: loss vs time", name))
  return out


def score_trials(trials: pd.DataFrame, output_dir: str, *,
                 metric: str = "time",
                 references: Sequence[str] = (
                     references_lib.DEFAULT_REFERENCES),
                 max_tau: float = profiles.MAX_TAU,
                 title: str = "edgeperf leaderboard", description: str = "",
                 plots: bool = True, sections: Sequence[str] = (),
                 notes: Sequence[str] = ()) -> str:
  """Scores a trials table (:func:`edgeperf.scoring.trials.load_trials`)
  division by division and writes everything; returns the markdown.

  ``sections``: more markdown placed after the divisions (the bench's
  spread over repeats); ``notes``: lines added to every division's notes.

  Raises:
    edgeperf.scoring.leaderboard.HardwareMismatchError: mixed hardware with a
      hardware-dependent metric.
  """
  boards = leaderboard_lib.build_divisions(
      trials, metric=metric, references=references, max_tau=max_tau)
  for lb in boards.values():
    lb.notes.extend(notes)
  os.makedirs(output_dir, exist_ok=True)
  shown = figures(boards, output_dir, metric=metric,
                  references=references) if plots else {}
  text = markdown.to_markdown(boards, title=title, plots=shown,
                              description=description, sections=sections)
  with open(os.path.join(output_dir, "leaderboard.md"), "w") as f:
    f.write(text + "\n")
  trials.to_csv(os.path.join(output_dir, "trials.csv"), index=False)
  times = [lb.times.assign(division=d).set_index("division", append=True)
           for d, lb in boards.items()]
  if times:
    pd.concat(times).to_csv(os.path.join(output_dir, "times.csv"))
  return text


def score_runs(paths: Sequence[str], output_dir: str, *,
               targets: Mapping[str, float] | None = None,
               **kwargs) -> str:
  """Loads the runs under ``paths`` once and :func:`score_trials` them."""
  trials = trials_lib.load_trials(paths, targets)
  notes = ["targets overridden for " + ", ".join(
      f"{w} ({v:.4g})" for w, v in sorted(targets.items()))] if targets else []
  return score_trials(trials, output_dir, notes=notes, **kwargs)
