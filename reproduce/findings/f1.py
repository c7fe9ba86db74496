"""F1: classical tuners (Armijo, QG) beat a constant rate at first, then stall.

Roulet et al. (2024); the thresholds shared by every finding are in
:mod:`.common`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import measures as M
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size
from edgeperf.reproduce.findings.common import (
    Finding, Judgement, ON_PAR, ORDER, base, best_constant, cdat, constant,
    fmt, interior_check)


F1_SETTING = dict(workload="charlm_prose", seed=3, steps=200)
F1_BASE = "rmsprop"
F1_CONSTANTS = (7.5e-4, 1.5e-3, 3e-3)
F1_DIAG = 50
F1_TUNERS = {"qg": "QG (CDAT σ=1)", "armijo": "Armijo"}


def _runs(size: Size, seed: int) -> tuple[RunSpec, ...]:
  kw = dict(workload=size.workload(F1_SETTING["workload"]),
            preset=size.preset, seed=seed,
            steps=experiments.scaled(F1_SETTING["steps"], size))
  diag = dict(diag_every=experiments.scaled(F1_DIAG, size),
              measure=("precond",))
  return (cdat("qg", 1.0, base=F1_BASE, **kw, **diag),
          RunSpec("armijo", "armijo", {"c": 1e-4, "c_plus": 4.0,
                                       "c_minus": 0.8, "delta": 0.0,
                                       "base_optimizer": F1_BASE},
                  **kw, **diag),
          *[constant(f"const_{lr:g}", lr, base=F1_BASE, **kw)
            for lr in F1_CONSTANTS])


def _judge(runs: M.Runs, size: Size) -> Judgement:
  n = experiments.scaled(F1_SETTING["steps"], size)
  early = max(1, n // 8)
  tuned = best_constant(runs)
  const = runs[tuned.key]
  numbers: dict[str, Any] = {
      "tuned_constant": tuned.key, "tuned_constant_last5": tuned.score,
      f"tuned_constant_loss_at_{early}": M.loss_at(const, early)}
  checks = [interior_check(tuned, F1_CONSTANTS)]
  for key, name in F1_TUNERS.items():
    run = runs[key]
    eta = M.learning_rates(run)
    peak = int(np.nanargmax(eta))
    st, lam = M.diagnostic(run, "precond_sharpness", after_start=True)
    est, edge = M.diagnostic(run, "eta_precond_sharpness", after_start=True)
    _, gn = M.diagnostic(run, "grad_norm")
    half = len(lam) // 2
    m = {"last5": M.last5(run), f"loss_at_{early}": M.loss_at(run, early),
         "eta_peak": float(eta[peak]), "eta_peak_step": peak,
         "eta_final": float(eta[-1]),
         "eta_fall": criteria.ratio(float(eta[peak]), float(eta[-1])),
         "precond_sharpness": dict(zip(st.astype(int).tolist(),
                                       lam.tolist())),
         "eta_precond_sharpness": dict(zip(est.astype(int).tolist(),
                                           edge.tolist())),
         "edge_second_half_median": M.median(M.second_half(est, edge, n)),
         "grad_norm_rise": criteria.ratio(float(np.nanmax(gn)), float(gn[0]))
                           if gn.size else math.nan}
    numbers[key] = m
    rising = (lam.size >= 2 and lam[-1] > lam[0] and
              np.nanmax(lam[half:]) > np.nanmax(lam[:half]))
    checks += [
        check(f"{key}_wins_early",
              f"{name}: loss at step N/8 = {early} below the tuned "
              "constant's at that step (beats it at first)",
              f"{fmt(m[f'loss_at_{early}'])} vs "
              f"{fmt(numbers[f'tuned_constant_loss_at_{early}'])}",
              m[f"loss_at_{early}"] <
              numbers[f"tuned_constant_loss_at_{early}"],
              over_seeds=criteria.MOST_SEEDS,
              why="a claim about the typical run (beats it at first), so the "
              "median seed"),
        check(f"{key}_stalls",
              f"{name}: last-5 loss > {ON_PAR} × the tuned constant's "
              "(stalls: loses long-term)",
              f"{fmt(m['last5'])} = {fmt(criteria.ratio(m['last5'], tuned.score))} ×",
              m["last5"] > ON_PAR * tuned.score, headline=True,
              over_seeds=criteria.MOST_SEEDS,
              why="a claim about the typical run, so the median seed"),
        check(f"{key}_rate_collapses",
              f"{name}: η falls ≥ {ORDER:g}× from its peak to the end "
              "(orders of magnitude)", f"{fmt(m['eta_fall'])}×",
              m["eta_fall"] >= ORDER, headline=True,
              over_seeds=criteria.MOST_SEEDS,
              why="a claim about the typical run's rate, so the median seed"),
        check(f"{key}_sharpness_keeps_rising",
              f"{name}: preconditioned λ_max (every {F1_DIAG} steps, from "
              "the first measurement after step 0) ends above where it "
              "started and reaches a new high in the second half",
              " → ".join(fmt(v) for v in lam), rising,
              over_seeds=criteria.MOST_SEEDS,
              why="a trend of the typical run, so the median seed"),
        check(f"{key}_just_below_edge",
              f"{name}: median η·λ_max (preconditioned) over the second "
              "half in [1.5, 2) (undershoots the edge, just below 2)",
              fmt(m["edge_second_half_median"]),
              1.5 <= m["edge_second_half_median"] < 2.0,
              over_seeds=criteria.MOST_SEEDS,
              why="a level of the typical run, so the median seed"),
        check(f"{key}_grad_norm_under_10x",
              f"{name}: max ‖∇f‖ / ‖∇f(w_0)‖ < 10",
              f"{fmt(m['grad_norm_rise'])}×", m["grad_norm_rise"] < 10,
              over_seeds=criteria.EVERY_SEED,
              why="a bound (grows less than 10×) must hold on every run"),
    ]
  key = (f"η falls {fmt(numbers['qg']['eta_fall'])}× (QG), "
         f"{fmt(numbers['armijo']['eta_fall'])}× (Armijo); last-5 "
         f"{fmt(numbers['qg']['last5'])} / {fmt(numbers['armijo']['last5'])}"
         f" vs tuned constant {fmt(tuned.score)}")
  return Judgement(numbers, checks, key)


F1 = Finding(
    "F1", "classical tuners stall",
    "Armijo and QG beat a constant rate at first, then stall: their "
    "learning rate falls by orders of magnitude while sharpness keeps "
    "rising; η·λ_max stays just below 2 (they undershoot the edge). "
    "Gradient norm grows less than 10×.", "Fig. 1, 3, 12", (3, 4, 5),
    lambda size: (
        f"`{size.workload('charlm_prose')}` {size.preset} (char "
        "transformer, cross-entropy, full "
        f"batch), RMSProp direction, "
        f"{experiments.scaled(F1_SETTING['steps'], size)} steps; QG (CDAT "
        "σ=1) and Armijo (c=1e-4, c₊=4, c₋=0.8, δ=0); constant rates "
        f"{list(F1_CONSTANTS)}; preconditioned λ_max every "
        f"{experiments.scaled(F1_DIAG, size)} steps on the tuners"),
    _runs, _judge,
    notes="On small MLPs (GD) at 600–1000 steps F1 does not show: Armijo "
    "ties or wins there, its rate held by its cap of 1, and QG's rate does "
    "not collapse. The char transformer with an RMSProp direction is the "
    "setting where the rates collapse within a few hundred steps. Also "
    "tried on the char transformer (seed 3, 200 steps): with the GD "
    "direction QG beats the best constant (η = 0.5) up to step 50 (2.36 vs "
    "2.52) but then blows up (15.0 at step 100) instead of stalling, and "
    "Armijo ends at 2.36 vs 1.16; with the Adam direction QG does not stall "
    "at all (0.041 at step 200). On the 64-block preset the grid [7.5e-4, "
    "1.5e-3, 3e-3] had its best rate on its lower edge and was moved down "
    "one step; on the 32-block preset (since 2026-12-07) [3.75e-4, 7.5e-4, "
    "1.5e-3] had it on its upper edge (1.5e-3), so the grid is back at "
    "[7.5e-4, 1.5e-3, 3e-3].")
