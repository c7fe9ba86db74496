"""F2: CDAT on the edge (σ = 2) against a tuned constant rate, σ's neighbours.

Roulet et al. (2024); the thresholds shared by every finding are in
:mod:`.common`.
"""

from __future__ import annotations

import numpy as np

from edgeperf.reproduce import criteria
from edgeperf.reproduce import measures as M
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size
from edgeperf.reproduce.findings.common import (
    BASE_CONSTANTS, Finding, Judgement, ON_PAR, base_cdat, base_constants,
    base_setting, best_constant, constant, fmt, interior_check)


F2_SIGMAS = (1.0, 2.0, 2.0625, 2.5)


def _runs(size: Size, seed: int) -> tuple[RunSpec, ...]:
  return (*base_constants(size, seed),
          *[base_cdat(s, size, seed) for s in F2_SIGMAS])


def warmup(eta: np.ndarray) -> dict[str, float]:
  """η₀; the median of η over the last quarter; the relative IQR of η over
  the last quarter; and the change of its median from the second-to-last
  eighth to the last eighth (relative)."""
  n = len(eta)
  last_q = eta[n - max(1, n // 4):]
  e8 = max(1, n // 8)
  med = float(np.nanmedian(last_q))
  q75, q25 = np.nanpercentile(last_q, [75, 25])
  return {"eta0": float(eta[0]), "tail_median": med,
          "tail_rel_iqr": float((q75 - q25) / med),
          "tail_drift": float(np.nanmedian(eta[n - e8:]) /
                              np.nanmedian(eta[n - 2 * e8:n - e8]) - 1.0)}


def _judge(runs: M.Runs, size: Size) -> Judgement:
  tuned = best_constant(runs)
  s = {sig: M.last5(runs[f"cdat_s{sig:g}"]) for sig in F2_SIGMAS}
  w = warmup(M.learning_rates(runs["cdat_s2"]))
  numbers = {"last5": {k: M.last5(r) for k, r in runs.items()},
             "tuned_constant": tuned.key, "tuned_constant_last5": tuned.score,
             "sigma2_warmup": w}
  checks = [
      check("sigma2_on_par_or_better",
            f"CDAT σ=2 last-5 ≤ {ON_PAR} × the tuned constant's",
            f"{fmt(s[2.0])} vs {fmt(tuned.score)} "
            f"({fmt(criteria.ratio(s[2.0], tuned.score))}×)",
            s[2.0] <= ON_PAR * tuned.score, headline=True,
            over_seeds=criteria.MOST_SEEDS,
            why="\"on par\" is about the typical run, so the median seed"),
      check("sigma2_beats_sigma1", "σ=2 last-5 < σ=1 last-5",
            f"{fmt(s[2.0])} vs {fmt(s[1.0])}", s[2.0] < s[1.0],
            headline=True,
            over_seeds=criteria.EVERY_SEED,
            why="the claim says *always* better"),
      check("sigma2.0625_better_still", "σ=2.0625 last-5 < σ=2 last-5",
            f"{fmt(s[2.0625])} vs {fmt(s[2.0])}", s[2.0625] < s[2.0],
            over_seeds=criteria.MOST_SEEDS,
            why="a comparison of typical runs, so the median seed"),
      check("sigma2.5_diverges",
            "σ=2.5 fails: non-finite objective, or ends no lower than it "
            "started", f"last-5 {fmt(s[2.5])}",
            M.fails(runs["cdat_s2.5"]),
            over_seeds=criteria.EVERY_SEED,
            why="a divergence of the rule, not of one initialisation: every "
            "seed"),
      check("automatic_warmup",
            "σ=2's η over the last quarter has a median ≥ 2 × η₀ (the rate "
            "rises early)", f"η₀ {fmt(w['eta0'])} → {fmt(w['tail_median'])}",
            w["tail_median"] >= 2 * w["eta0"],
            over_seeds=criteria.MOST_SEEDS,
            why="a shape of the typical run's rate, so the median seed"),
      check("rate_then_stabilises",
            "σ=2's η over the last quarter: relative IQR ≤ 0.25 and its "
            "median moves ≤ 10 % between the last two eighths",
            f"IQR {fmt(w['tail_rel_iqr'])}, drift {fmt(w['tail_drift'])}",
            w["tail_rel_iqr"] <= 0.25 and abs(w["tail_drift"]) <= 0.1,
            over_seeds=criteria.MOST_SEEDS,
            why="a shape of the typical run's rate, so the median seed"),
      interior_check(tuned, BASE_CONSTANTS),
  ]
  key = (f"last-5: σ=2 {fmt(s[2.0])}, tuned constant {fmt(tuned.score)}, "
         f"σ=1 {fmt(s[1.0])}, σ=2.0625 {fmt(s[2.0625])}")
  return Judgement(numbers, checks, key)


F2 = Finding(
    "F2", "CDAT on the edge vs a tuned constant",
    "CDAT with σ = 2 is on par with or better than a tuned constant rate and "
    "always better than σ = 1; σ = 2.0625 is better still except on the "
    "Mixer; σ = 2.5 diverges. σ near 2 produces an automatic warm-up: the "
    "learning rate rises early, then stabilises.", "Fig. 5", (7, 8, 9),
    lambda size: base_setting(size, "CDAT σ ∈ {1, 2, 2.0625, 2.5}, β = 0 "
                               "(jvp-of-jvp denominator every step)"),
    _runs, _judge,
    notes="σ = 2.0625 is worse than σ = 2 on this MLP at every seed and "
    "horizon tried: last-5 at 600 steps 0.0237 vs 0.0092 (seed 0), 0.0201 "
    "vs 0.0106 (1), 0.0216 vs 0.0095 (2), 0.0255 vs 0.0102 (3), 0.0232 vs "
    "0.0099 (7); seed 0 at 1000 steps 0.0824 vs 0.0044 and at 1500 steps "
    "0.0288 vs 0.0033; the `medium` preset at 600 steps 0.0389 vs 0.0153. "
    "At this scale the MLP behaves like the paper's Mixer exception. On "
    "`cnn_digits` (seed 0, 400 steps) σ = 2.0625 is better (0.0190 vs "
    "0.0320), but there σ = 2.5 does not diverge (0.0023, the best run) and "
    "σ = 2's rate falls from 4.48 to 0.37 instead of warming up, so the "
    "finding's other clauses fail there.")
