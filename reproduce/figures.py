"""One figure per finding, drawn like the paper's, and the models' figures.

Object-oriented matplotlib (``matplotlib.figure.Figure``, no pyplot state).
Each ``figure_<id>`` takes the finding's runs, one mapping per seed
(:class:`~.experiments.RunTables` by key; none for the models), and a
title carrying the computed verdict, and returns a Figure; :func:`draw`
picks the function by id.  Every seed is drawn: a run's seeds share its
colour (the first seed solid, the others thinner and fainter), so the
figure shows the spread over seeds.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from edgeperf.reproduce.findings import f7 as f7_lib
from edgeperf.reproduce.findings import f8 as f8_lib
from edgeperf.reproduce import measures as M
from edgeperf.reproduce import theory

PANEL_TITLES = {
    "loss": "train loss f(w_t)", "lr": "learning rate η_t",
    "sharpness": "sharpness λ_max", "edge": "η·λ_max (edge: 2)",
    "grad_norm": "gradient norm ‖∇f‖", "cosine": "cos(Δ_t, Δ_{t+1})",
    "alignment": "|cos(u, v_max)|",
    "one_step": "one-step decrease: QG − on-edge (> 0: QG more)"}
_LOG_PANELS = ("loss", "lr", "sharpness", "grad_norm")


def _figure(ncols: int, title: str, nrows: int = 1, width: float = 4.0,
            height: float = 3.2):
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(width * ncols, height * nrows + 0.5),
               layout="constrained")
  axes = fig.subplots(nrows, ncols, squeeze=False)
  fig.suptitle(title)
  return fig, axes


def _series(run, panel: str, precond: bool) -> tuple[np.ndarray, np.ndarray]:
  if panel == "loss":
    return run.steps["step"].to_numpy(float), M.objective(run)
  if panel == "lr":
    return run.steps["step"].to_numpy(float), M.learning_rates(run)
  if panel == "one_step":
    st, qg = M.diagnostic(run, "qg_decrease")
    _, oe = M.diagnostic(run, "edge_decrease")
    return st, qg - oe
  column = {"sharpness": "precond_sharpness" if precond else "sharpness",
            "edge": "eta_precond_sharpness" if precond else "eta_sharpness",
            "grad_norm": "grad_norm", "cosine": "update_cosine",
            "alignment": "alignment"}[panel]
  # RMSProp's ν is ~0 at step 0: its preconditioned λ means nothing there.
  return M.diagnostic(run, column, after_start=precond and panel in (
      "sharpness", "edge"))


Seeds = Sequence[Mapping[str, Any]]  # the runs by key, one mapping per seed


def curves(seeds: Seeds, keys: Sequence[str],
           panels: Sequence[str], title: str, *,
           labels: Mapping[str, str] | None = None, precond: bool = False):
  """One panel per name of ``panels`` (:data:`PANEL_TITLES`), one curve per
  run of ``keys`` and seed (a run's seeds in one colour, the first seed
  solid and labelled); ``precond`` shows the preconditioned sharpness."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
  fig, axes = _figure(len(panels), title)
  axes = axes[0]
  for i, key in enumerate(keys):
    for s, runs in enumerate(seeds):
      run = runs[key]
      for ax, panel in zip(axes, panels):
        x, y = _series(run, panel, precond)
        if y.size == 0 or not np.isfinite(y).any():
          continue
        dense = panel in ("loss", "lr")
        ax.plot(x, y, color=colors[i % len(colors)],
                label=(labels or {}).get(key, key) if s == 0 else None,
                linewidth=1 if s == 0 else 0.6, alpha=1 if s == 0 else 0.5,
                marker=None if dense else ".")
  for ax, panel in zip(axes, panels):
    name = PANEL_TITLES[panel]
    if precond and panel in ("sharpness", "edge"):
      name += " (precond.)"
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    if panel in _LOG_PANELS and ax.lines:
      ax.set_yscale("log")
    if panel == "loss" and ax.lines:
      _clip_loss_axis(ax, [runs[k] for runs in seeds for k in keys])
    if panel == "edge":
      ax.axhline(2.0, color="black", linestyle="--", linewidth=1)
      top = max([2.5] + [float(np.nanmax(l.get_ydata())) for l in ax.lines
                         if np.isfinite(l.get_ydata()).any()])
      ax.set_ylim(0.0, min(top * 1.05, 12.0))
    if panel == "cosine":
      ax.axhline(-1.0, color="black", linestyle=":", linewidth=1)
      ax.set_ylim(-1.05, 1.05)
    if panel == "one_step":
      ax.set_yscale("symlog", linthresh=1e-6)
      ax.axhline(0.0, color="black", linewidth=1)
  axes[0].legend(fontsize=7)
  return fig


def _clip_loss_axis(ax, runs) -> None:
  """A diverging run must not swamp the loss axis: from half the lowest
  finite loss to twice the highest starting loss."""
  finite = np.concatenate([o[np.isfinite(o) & (o > 0)]
                           for o in (M.objective(r) for r in runs)])
  starts = [M.initial(r) for r in runs if len(r.steps)]
  if finite.size and starts:
    ax.set_ylim(0.5 * float(finite.min()), 2.0 * max(starts))


def _keys(seeds: Seeds, prefix: str) -> list[str]:
  return sorted((k for k in seeds[0] if k.startswith(prefix)),
                key=lambda k: (len(k), k))


def figure_f1(seeds: Seeds, title: str):
  keys = ["qg", "armijo"] + _keys(seeds, "const_")
  return curves(seeds, keys, ("loss", "lr", "sharpness", "edge", "grad_norm"),
                title, labels={"qg": "QG (CDAT σ=1)"}, precond=True)


def figure_f2(seeds: Seeds, title: str):
  keys = _keys(seeds, "cdat_") + _keys(seeds, "const_")
  return curves(seeds, keys, ("loss", "lr"), title)


def figure_f3(seeds: Seeds, title: str):
  return curves(seeds, ["cdat_s2", "cdat_s1", "const_0.4"],
                ("loss", "lr", "sharpness", "edge", "cosine"), title)


def figure_f4(seeds: Seeds, title: str):
  keys = ["polyak", "cdat_s2.0625"] + _keys(seeds, "hyper_") + _keys(
      seeds, "const_")
  return curves(seeds, keys, ("loss", "lr", "sharpness"), title)


def figure_f5(seeds: Seeds, title: str):
  keys = _keys(seeds, "exact_") + _keys(seeds, "const_")
  return curves(seeds, keys, ("loss", "lr", "edge", "alignment"), title)


def figure_f6(seeds: Seeds, title: str):
  return curves(seeds, ["qg", "on_edge"], ("loss", "lr", "one_step"), title,
                labels={"qg": "QG (σ=1)", "on_edge": "on edge (σ=2)"})


def figure_f7(seeds: Seeds, title: str):
  F = f7_lib
  fig, axes = _figure(len(F.F7_BATCHES), title)
  for ax, batch in zip(axes[0], F.F7_BATCHES):
    for b, (beta, style) in enumerate(zip(F.F7_BETAS, ("--", "-"))):
      for s, runs in enumerate(seeds):
        vals = [M.final_train_objective(runs[F.f7_key(batch, sig, beta)])
                for sig in F.F7_SIGMAS]
        ax.plot(F.F7_SIGMAS, [v if np.isfinite(v) else np.nan for v in vals],
                style, marker="o", color=f"C{b}",
                alpha=1 if s == 0 else 0.5,
                label=f"β = {beta:g}" if s == 0 else None)
    ax.set_yscale("log")
    ax.set_title(f"batch {batch}: final train loss", fontsize=10)
    ax.set_xlabel("σ")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
  return fig


def figure_f8(seeds: Seeds, title: str,
              gains: Sequence[Mapping[str, float]] = ()):
  F = f8_lib
  fig, axes = _figure(3, title)
  groups = (("width", F.F8_WIDTHS, "width (2 layers)"),
            ("depth", F.F8_DEPTHS, f"depth (width {F.F8_DEPTH_WIDTH})"),
            ("wd", F.F8_WEIGHT_DECAYS, "weight decay"))
  del seeds
  gains = list(gains) or [{}]
  for ax, (prefix, values, xlabel) in zip(axes[0], groups):
    names = [f"{prefix}{v:g}" for v in values]
    ticks = [f"{v:g}" for v in values]
    ax.bar(ticks, [M.median([g.get(n, np.nan) for g in gains])
                   for n in names], color="C1", alpha=0.6,
           label="median over seeds")
    for s, g in enumerate(gains):  # every seed's gain
      ax.plot(ticks, [g.get(n, np.nan) for n in names], "o", color="black",
              markersize=3, label="each seed" if s == 0 else None)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("gain (> 1: CDAT better)")
  axes[0][0].legend(fontsize=7)
  return fig


# ---------------------------------------------------------------- models --

def _model_panels(trajs: Sequence[tuple[theory.Trajectory, str, str]],
                  title: str, *, steps: int | None = None,
                  log_steps: bool = False):
  """η, λ and y = ηλ − 2 of each (trajectory, label, color)."""
  fig, axes = _figure(3, title)
  _model_row(axes[0], trajs, steps=steps, log_steps=log_steps)
  return fig, axes[0]


def _model_row(row, trajs: Sequence[tuple[theory.Trajectory, str, str]], *,
               steps: int | None, log_steps: bool) -> None:
  """Draws η, λ and y = ηλ − 2 of each (trajectory, label, color) on a row
  of three panels."""
  for traj, label, color in trajs:
    n = len(traj.eta) if steps is None else steps
    for ax, values in zip(row, (traj.eta, traj.lam, traj.y)):
      ax.plot(np.arange(n), values[:n], color=color, label=label,
              linewidth=0.9)
  for ax, name in zip(row, ("learning rate η", "sharpness λ",
                            "y = ηλ − 2 (edge: 0)")):
    ax.set_title(name, fontsize=10)
    ax.set_xlabel("step")
    ax.grid(True, alpha=0.3)
    if log_steps:
      ax.set_xscale("symlog", linthresh=100)
  row[2].axhline(0.0, color="black", linestyle="--", linewidth=1)
  row[0].legend(fontsize=7)


def figure_m1(seeds: Seeds, title: str):
  del seeds
  prm = theory.FIG4_CONSTANT
  fig, _ = _model_panels(
      [(theory.constant_model(prm), "semi-implicit (default)", "C0"),
       (theory.constant_model(prm._replace(semi_implicit=False)),
        "Eq. 4 as printed (blows up)", "C3")], title, steps=600)
  return fig


def figure_m2(seeds: Seeds, title: str):
  del seeds
  fig, axes = _model_panels([(theory.tuner_model(), "η·λ = 1.9", "C1")],
                            title)
  axes[1].set_yscale("log")
  return fig


def _figure_fig9(title: str):
  fig, axes = _model_panels(
      [(theory.cdat_model(theory.FIG9._replace(sigma=s)), f"σ = {s:g}", c)
       for s, c in zip(theory.FIG9_SIGMAS, ("C1", "C0"))], title,
      log_steps=True)
  axes[2].set_yscale("symlog", linthresh=1e-3)
  return fig


def figure_m3(seeds: Seeds, title: str):
  del seeds
  return _figure_fig9(title)


figure_m4 = figure_m3


def figure_theory(title: str = "The papers' models: Fig. 4 (Eqs. 4, 6) and "
                  "Fig. 9 (Eqs. 9–10)"):
  """Fig. 4 and Fig. 9 models on one figure (η, λ, y by row pair)."""
  fig, axes = _figure(3, title, nrows=2)
  rows = ((
      [(theory.constant_model(), "constant η = 1 (Eq. 4)", "C0"),
       (theory.tuner_model(), "tuner η·λ = 1.9 (Eq. 6)", "C1")], False, 600),
          ([(theory.cdat_model(theory.FIG9._replace(sigma=s)),
             f"CDAT σ = {s:g} (Eqs. 9–10)", c)
            for s, c in zip(theory.FIG9_SIGMAS, ("C2", "C3"))], True, None))
  for row, (trajs, log_steps, steps) in zip(axes, rows):
    _model_row(row, trajs, steps=steps, log_steps=log_steps)
  axes[0][1].set_yscale("log")
  axes[1][2].set_yscale("symlog", linthresh=1e-3)
  return fig


def figure_m5(runs, title: str):
  """The edge controller's model (M5) against CDAT's (M3, σ = 2)."""
  del runs
  fig, axes = _model_panels(
      [(theory.cdat_model(), "CDAT σ = 2 (M3)", "C0"),
       (theory.controller_model(), "edge controller k_i = "
        f"{theory.CONTROLLER.ki:g}, k_p = {theory.CONTROLLER.kp:g} (M5)",
        "C2")], title, log_steps=True)
  axes[2].set_yscale("symlog", linthresh=1e-3)
  return fig


FIGURES: dict[str, Callable[..., Any]] = {
    "F1": figure_f1, "F2": figure_f2, "F3": figure_f3, "F4": figure_f4,
    "F5": figure_f5, "F6": figure_f6, "F7": figure_f7, "F8": figure_f8,
    "M1": figure_m1, "M2": figure_m2, "M3": figure_m3, "M4": figure_m4,
    "M5": figure_m5}


def draw(finding_id: str, seeds: Seeds, title: str,
         numbers: Sequence[Mapping[str, Any]]):
  """The finding's figure from every seed's runs (F8 reads its gains from
  each seed's ``numbers``)."""
  if finding_id == "F8":
    return figure_f8(seeds, title, [n.get("gain", {}) for n in numbers])
  return FIGURES[finding_id](seeds, title)
