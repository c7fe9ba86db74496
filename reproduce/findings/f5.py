"""F5: the exact-sharpness rule η = σ/λ_max needs σ > 2.

Roulet et al. (2024); the thresholds shared by every finding are in
:mod:`.common`.
"""

from __future__ import annotations

import math

from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import measures as M
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size
from edgeperf.reproduce.findings.common import (
    BASE_CONSTANTS, Finding, Judgement, ON_PAR, base, base_constants,
    base_setting, best_constant, constant, fmt, interior_check)


F5_SIGMAS = (2.0, 2.5, 3.0)
F5_EVERY_K = 10
F5_DIAG = 100


def _runs(size: Size, seed: int) -> tuple[RunSpec, ...]:
  diag = dict(diag_every=experiments.scaled(F5_DIAG, size),
              measure=("sharpness", "update"))
  exact = [base(RunSpec(f"exact_s{s:g}", "exact_sharpness",
                         {"sigma": s, "every_k": F5_EVERY_K,
                          "base_optimizer": "gd"}), size, seed)._replace(
                              **diag) for s in F5_SIGMAS]
  return (*exact, *base_constants(size, seed))


def _judge(runs: M.Runs, size: Size) -> Judgement:
  tuned = best_constant(runs)
  exact = {s: f"exact_s{s:g}" for s in F5_SIGMAS}
  s = {sig: M.last5(runs[k]) for sig, k in exact.items()}
  best = min(F5_SIGMAS, key=lambda sig: s[sig])
  _, align = M.diagnostic(runs[exact[2.0]], "alignment")
  _, curv = M.diagnostic(runs[exact[2.0]], "update_curvature")
  _, lam = M.diagnostic(runs[exact[2.0]], "sharpness")
  numbers = {"last5": {k: M.last5(r) for k, r in runs.items()},
             "tuned_constant": tuned.key, "tuned_constant_last5": tuned.score,
             "best_sigma": best,
             "sigma2_alignment_median": M.median(align),
             "sigma2_curvature_along_u_over_lambda_median":
                 M.median(curv / lam) if lam.size else math.nan}
  checks = [
      check("sigma2_poor",
            f"η = 2/λ_max: last-5 > {ON_PAR} × the tuned constant's",
            f"{fmt(s[2.0])} ({fmt(criteria.ratio(s[2.0], tuned.score))}×)",
            s[2.0] > ON_PAR * tuned.score, headline=True,
            over_seeds=criteria.MOST_SEEDS,
            why="a comparison of typical runs, so the median seed"),
      check("best_sigma_above_2",
            f"the best σ of {list(F5_SIGMAS)} by last-5 is above 2",
            f"σ = {best:g}", best > 2.0, headline=True,
            over_seeds=criteria.MOST_SEEDS,
            why="the σ a user would pick from typical runs, so the median seed"),
      check("larger_sigma_on_par_or_better",
            f"the best σ's last-5 ≤ {ON_PAR} × the tuned constant's",
            f"{fmt(s[best])} ({fmt(criteria.ratio(s[best], tuned.score))}×)",
            s[best] <= ON_PAR * tuned.score,
            over_seeds=criteria.MOST_SEEDS,
            why="\"on par\" is about the typical run, so the median seed"),
      check("update_poorly_aligned",
            "along σ=2: median |cos(u, v_max)| < 0.5 (u is not the top "
            f"eigenvector; every {F5_DIAG} steps)",
            fmt(numbers["sigma2_alignment_median"]),
            numbers["sigma2_alignment_median"] < 0.5,
            over_seeds=criteria.MOST_SEEDS,
            why="a level of the typical run, so the median seed"),
      interior_check(tuned, BASE_CONSTANTS),
  ]
  key = ("last-5: " + ", ".join(f"σ={sig:g} {fmt(s[sig])}" for sig in F5_SIGMAS)
         + f"; tuned constant {fmt(tuned.score)}; |cos(u, v_max)| "
         f"{fmt(numbers['sigma2_alignment_median'])}")
  return Judgement(numbers, checks, key)


F5 = Finding(
    "F5", "the exact-sharpness rule needs σ > 2",
    "The exact-sharpness rule η = σ/λ_max needs σ ≈ 3, not 2 — it ignores the "
    "alignment of u with the top eigenvector.", "Fig. 15", (7, 8, 9),
    lambda size: base_setting(
        size, f"exact-sharpness η = σ/λ_max, σ ∈ {list(F5_SIGMAS)}, λ_max by "
        f"Lanczos (the submission's 20 HVPs) every {F5_EVERY_K} steps (its "
        f"default); alignment every {experiments.scaled(F5_DIAG, size)} "
        "steps"),
    _runs, _judge)
