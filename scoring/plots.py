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


BASELINE_STYLES = (
    {"color": "black", "linestyle": "-", "linewidth": 3.0, "zorder": 5},
    {"color": "0.45", "linestyle": "--", "linewidth": 3.0, "zorder": 4},
)
"""The references' lines (the tuned constant, then the tuned schedule):
thick, black and grey, drawn over the others."""
_LINESTYLES = ("-", "--", "-.", ":")


def styles(names: Sequence[str], baselines: Sequence[str] = ()
           ) -> dict[str, dict[str, object]]:
  """A line style per entry that a reader can tell apart: the i-th entry
  that is not a baseline gets tab10 colour i mod 10 and line style i mod 4
  (no two of 20 entries share both); ``baselines`` get
  :data:`BASELINE_STYLES`."""
  plt = _pyplot()
  colors = plt.get_cmap("tab10").colors
  out: dict[str, dict[str, object]] = {}
  base = [b for b in baselines if b in names]
  for b, style in zip(base, BASELINE_STYLES):
    out[b] = dict(style)
  others = [n for n in names if n not in out]
  for i, n in enumerate(others):
    out[n] = {"color": colors[i % len(colors)],
              "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
              "linewidth": 1.5, "zorder": 3}
  return out


def plot_profiles(profile: pd.DataFrame, scores: pd.Series, path: str, *,
                  metric_name: str = "time to target", division: str = "",
                  baselines: Sequence[str] = ()) -> str:
  """ρ_s(τ) per entry of one division as steps over τ ∈ [1, τ_max]
  (``baselines`` emphasised); writes ``path``."""
  plt = _pyplot()
  fig, ax = plt.subplots(figsize=(8, 5))
  style = styles(list(scores.index), baselines)
  taus = profile.columns.to_numpy(dtype=float)
  for sub in scores.index:
    ax.step(taus, profile.loc[sub].to_numpy(dtype=float), where="post",
            label=f"{sub} ({scores[sub]:.3f})", **style[sub])
  ax.set_xlim(taus.min(), taus.max())
  ax.set_ylim(-0.02, 1.02)
  ax.set_xlabel(f"τ (ratio to the best {metric_name})")
  ax.set_ylabel("ρ(τ): fraction of workloads within τ of the best")
  where = f"division {division}: " if division else ""
  ax.set_title(f"{where}performance profiles (score = area / (τ_max − 1))")
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
                submissions: Sequence[str] | None = None, division: str = "",
                baselines: Sequence[str] = ()) -> str | None:
  """Train objective vs submission time (vs step for a hardware-independent
  ``metric``) of every entry's best trial on ``workload`` (log scale; the
  trials of one division), ``baselines`` emphasised, with the target as a
  dotted line."""
  plt = _pyplot()
  rows = trials[trials["workload"] == workload]
  if rows.empty:
    return None
  best = leaderboard_lib.best_trials(rows, metric)
  names = list(submissions) if submissions is not None else sorted(
      best["submission"].unique())
  style = styles(names, baselines)
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
    ax.plot(x, y, label=sub, **style[sub])
    plotted += 1
  target = rows["target"].dropna()
  if len(target) and math.isfinite(float(target.iloc[0])):
    ax.axhline(float(target.iloc[0]), color="red", linestyle=":",
               linewidth=1.2, label="target")
  ax.set_yscale("log")
  # Hardware-independent leaderboards may mix machines: plot against steps.
  ax.set_xlabel("submission time (s)" if metric == "time" else "step")
  ax.set_ylabel("train objective")
  where = f"division {division}, " if division else ""
  ax.set_title(f"{where}{workload}: best trial of each entry")
  ax.grid(alpha=0.3, which="both")
  if plotted:
    ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return path
