"""Figures drawn from run folders: the papers' four-panel curvature figure.

Panels (Roulet et al. 2024, Fig. 3, 6, 12, 17), against the step:

1. learning rate η_t (log scale; from ``steps.csv``),
2. sharpness λ_max (log scale; dotted: 2/η_t, where GD's edge lies),
3. η_t·λ_max (linear; the edge of stability at 2, dashed),
4. gradient norm ‖∇f(w_t)‖ (log scale).

Panels 2–4 read ``diagnostics.csv`` (written by the runner when
``diag_every > 0``).  For RMSProp/Adam runs (a ``precond_sharpness`` column
with values) panels 2 and 3 show the preconditioned sharpness
λ_max(P^{-1/2}∇²f P^{-1/2}) instead (``raw=True`` forces the plain one).
A run still going is read from its ``*.csv.partial`` tables.  The command
line is ``edgeperf-plot`` (:mod:`edgeperf.cli.plot`).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import pandas as pd

from edgeperf.harness import rundir


def read_table(run_dir: str, name: str) -> pd.DataFrame:
  """A run's table (or its ``.partial`` while the run is going).

  Raises:
    FileNotFoundError: naming the run directory and the table.
    edgeperf.harness.rundir.RunDirError: the table cannot be read.
  """
  table = rundir.RunDir(run_dir).table(name, partial=True)
  if table is None:
    hint = (" (run with diag_every > 0 to record it)"
            if name == "diagnostics" else "")
    raise FileNotFoundError(f"{run_dir}: no {name}.csv{hint}")
  return table


def run_label(run_dir: str) -> str:
  """``<submission> <hparam>=<value> …`` from meta.json, else the folder
  name."""
  base = os.path.basename(os.path.normpath(run_dir))
  try:
    meta = rundir.RunDir(run_dir).meta()
  except rundir.RunDirError:
    meta = None
  if meta is None:
    return base
  name = (meta.get("submission") or {}).get("name") or base
  hparams = meta.get("hparams") or {}
  extras = [f"{k}={v}" for k, v in sorted(hparams.items())]
  return " ".join([name] + extras) if extras else name


def _curvature_columns(diag: pd.DataFrame, raw: bool) -> tuple[str, str, str]:
  """(sharpness column, η·sharpness column, label suffix)."""
  if (not raw and "precond_sharpness" in diag and
      np.isfinite(diag["precond_sharpness"].to_numpy(float)).any()):
    return "precond_sharpness", "eta_precond_sharpness", " (precond.)"
  return "sharpness", "eta_sharpness", ""


def plot_runs(run_dirs: Sequence[str], out_path: str, *,
              labels: Sequence[str] | None = None, title: str | None = None,
              raw: bool = False) -> str:
  """Draws the four-panel figure for ``run_dirs`` into ``out_path`` (PNG).

  Returns:
    ``out_path``.

  Raises:
    ValueError: no run directories, or a labels list of the wrong length.
    FileNotFoundError: a run without steps.csv or diagnostics.csv.
  """
  # The object-oriented Figure needs no pyplot state and no backend choice.
  import matplotlib  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  if not run_dirs:
    raise ValueError("give at least one run directory")
  if labels is not None and len(labels) != len(run_dirs):
    raise ValueError(f"{len(labels)} labels for {len(run_dirs)} runs")
  fig = Figure(figsize=(17, 3.8))
  axes = fig.subplots(1, 4)
  colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
  any_precond = False
  for i, run_dir in enumerate(run_dirs):
    color = colors[i % len(colors)]
    label = labels[i] if labels is not None else run_label(run_dir)
    steps = read_table(run_dir, "steps")
    diag = read_table(run_dir, "diagnostics")
    sharp, eta_sharp, suffix = _curvature_columns(diag, raw)
    any_precond |= bool(suffix)
    axes[0].plot(steps["step"], steps["learning_rate"], color=color,
                 label=label)
    axes[1].plot(diag["step"], diag[sharp], color=color, marker=".",
                 label=label + suffix)
    with np.errstate(divide="ignore"):
      edge = 2.0 / diag["learning_rate"].to_numpy(float)
    if not suffix:
      axes[1].plot(diag["step"], edge, color=color, linestyle=":",
                   linewidth=1)
    axes[2].plot(diag["step"], diag[eta_sharp], color=color, marker=".",
                 label=label + suffix)
    axes[3].plot(diag["step"], diag["grad_norm"], color=color, marker=".",
                 label=label)
  axes[2].axhline(2.0, color="black", linestyle="--", linewidth=1,
                  label="edge (2)")
  which = "preconditioned sharpness" if any_precond else "sharpness"
  titles = ("learning rate η", f"{which} λ_max  (dotted: 2/η)",
            "η · λ_max", "gradient norm ‖∇f‖")
  for ax, text, log in zip(axes, titles, (True, True, False, True)):
    ax.set_title(text)
    ax.set_xlabel("step")
    if log:
      ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
  axes[2].legend(fontsize=8)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  folder = os.path.dirname(os.path.abspath(out_path))
  os.makedirs(folder, exist_ok=True)
  fig.savefig(out_path, dpi=120)
  return out_path
