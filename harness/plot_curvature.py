"""The papers' four-panel curvature figure for one or several runs (PNG).

Panels (Roulet et al. 2024, Fig. 3, 6, 12, 17), against the step:

1. learning rate η_t (log scale; from ``steps.csv``),
2. sharpness λ_max (log scale; dotted: 2/η_t, where GD's edge lies),
3. η_t·λ_max (linear; the edge of stability at 2, dashed),
4. gradient norm ‖∇f(w_t)‖ (log scale).

Panels 2–4 read ``diagnostics.csv`` (written by the runner when
``diag_every > 0``).  For RMSProp/Adam runs (a ``precond_sharpness`` column
with values) panels 2 and 3 show the preconditioned sharpness
λ_max(P^{-1/2}∇²f P^{-1/2}) instead; pass ``--raw`` to force the plain one.
A run still going is read from its ``*.csv.partial`` tables.

Usage::

    edgeperf-plot RUN_DIR [RUN_DIR ...] [--out fig.png] [--labels a,b]
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Sequence

import numpy as np
import pandas as pd


def read_table(run_dir: str, name: str) -> pd.DataFrame:
  """``<run_dir>/<name>.csv`` (or its ``.partial`` while running).

  Raises:
    FileNotFoundError: naming the run directory and the table.
  """
  for path in (os.path.join(run_dir, f"{name}.csv"),
               os.path.join(run_dir, f"{name}.csv.partial")):
    if os.path.exists(path):
      return pd.read_csv(path)
  hint = (" (run with diag_every > 0 to record it)"
          if name == "diagnostics" else "")
  raise FileNotFoundError(f"{run_dir}: no {name}.csv{hint}")


def run_label(run_dir: str) -> str:
  """``<submission> η=<lr>`` from hparams/meta, else the folder name."""
  base = os.path.basename(os.path.normpath(run_dir))
  try:
    with open(os.path.join(run_dir, "meta.json")) as f:
      meta = json.load(f)
  except (OSError, ValueError):
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


def main(argv: Sequence[str] | None = None) -> None:
  """``edgeperf-plot``: draws the curvature figure of run directories."""
  parser = argparse.ArgumentParser(
      description="Four-panel curvature figure (learning rate, sharpness, "
      "η·λ_max vs 2, gradient norm) of one or several runs, as PNG.")
  parser.add_argument("run_dirs", nargs="+", help="run directories")
  parser.add_argument("--out", default=None,
                      help="PNG path (default: <first run>/curvature.png)")
  parser.add_argument("--labels", default=None,
                      help="comma-separated legend labels, one per run")
  parser.add_argument("--title", default=None)
  parser.add_argument("--raw", action="store_true",
                      help="plot the plain sharpness even for RMSProp/Adam")
  args = parser.parse_args(argv)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  out = args.out or os.path.join(args.run_dirs[0], "curvature.png")
  labels = args.labels.split(",") if args.labels else None
  try:
    path = plot_runs(args.run_dirs, out, labels=labels, title=args.title,
                     raw=args.raw)
  except (FileNotFoundError, ValueError) as e:
    parser.exit(2, f"edgeperf-plot: error: {e}\n")
  print(path)


if __name__ == "__main__":
  main()
