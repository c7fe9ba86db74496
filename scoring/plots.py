"""Leaderboard figures (PNG): performance profiles and loss-vs-time curves.

The caller picks the matplotlib backend (``cli_score.main`` selects Agg);
nothing here touches global state at import time.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from edgeperf.harness import rundir
from edgeperf.scoring import leaderboard as leaderboard_lib


def _pyplot():
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def _styles(names: Sequence[str]) -> dict[str, dict[str, object]]:
  """A distinct colour/line style per submission (stable by position)."""
  plt = _pyplot()
  colors = plt.get_cmap("tab20").colors
  dashes = ["-", "--", "-.", ":"]
  return {n: {"color": colors[i % len(colors)],
              "linestyle": dashes[(i // len(colors)) % len(dashes)]}
          for i, n in enumerate(names)}


def plot_profiles(profile: pd.DataFrame, scores: pd.Series, path: str, *,
                  metric_name: str = "time to target") -> str:
  """ρ_s(τ) per submission as steps over τ ∈ [1, τ_max]; writes ``path``."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(8, 5))
  styles = _styles(list(scores.index))
  taus = profile.columns.to_numpy(dtype=float)
  for sub in scores.index:
    ax.step(taus, profile.loc[sub].to_numpy(dtype=float), where="post",
            label=f"{sub} ({scores[sub]:.3f})", linewidth=1.6, **styles[sub])
  ax.set_xlim(taus.min(), taus.max())
  ax.set_ylim(-0.02, 1.02)
  ax.set_xlabel(f"τ (ratio to the best {metric_name})")
  ax.set_ylabel("ρ(τ): fraction of workloads within τ of the best")
  ax.set_title("Performance profiles (score = area / (τ_max − 1))")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7, loc="lower right", ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path


def _curve(run_dir: str, regime: str | None) -> pd.DataFrame | None:
  """(time_s, objective) of a run: per step in full batch, else evals."""
  table, col = (("evals", "train_objective") if regime == "mini_batch" else
                ("steps", "objective"))
  df = rundir.RunDir(run_dir).table(table)
  if df is None or df.empty or col not in df:
    return None
  return pd.DataFrame({"time_s": df["time_s"], "step": df["step"],
                       "objective": df[col]})


def plot_curves(trials: pd.DataFrame, workload: str, path: str, *,
                metric: str = "time",
                submissions: Sequence[str] | None = None) -> str | None:
  """Train objective vs submission time (vs step for a hardware-independent
  ``metric``) of every submission's best trial on ``workload`` (log scale),
  with the target as a dashed line."""
  plt = _pyplot()
  rows = trials[trials["workload"] == workload]
  if rows.empty:
    return None
  best = leaderboard_lib.best_trials(rows, metric)
  names = list(submissions) if submissions is not None else sorted(
      best["submission"].unique())
  styles = _styles(names)
  fig, ax = plt.subplots(figsize=(8, 5))
  plotted = 0
  for sub in names:
    pick = best[best["submission"] == sub]
    if pick.empty:
      continue
    r = pick.iloc[0]
    curve = _curve(r["run_dir"], r["regime"])
    if curve is None:
      continue
    y = curve["objective"].to_numpy(dtype=float)
    y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
    x = curve["time_s"] if metric == "time" else curve["step"]
    ax.plot(x, y, label=sub, linewidth=1.3, **styles[sub])
    plotted += 1
  target = rows["target"].dropna()
  if len(target) and math.isfinite(float(target.iloc[0])):
    ax.axhline(float(target.iloc[0]), color="k", linestyle="--",
               linewidth=1, label="target")
  ax.set_yscale("log")
  # Hardware-independent leaderboards may mix machines: plot against steps.
  ax.set_xlabel("submission time (s)" if metric == "time" else "step")
  ax.set_ylabel("train objective")
  ax.set_title(f"{workload}: best trial of each submission")
  ax.grid(alpha=0.3, which="both")
  if plotted:
    ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
