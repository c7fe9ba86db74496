"""F6: greedy (QG) steps decrease more per step yet lose long-term.

Roulet et al. (2024); the thresholds shared by every finding are in
:mod:`.common`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeperf.reproduce import experiments
from edgeperf.reproduce import criteria
from edgeperf.reproduce import measures as M
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size
from edgeperf.reproduce.findings.common import (
    Finding, Judgement, ON_PAR, base, base_setting, cdat, fmt, pct)


F6_DIAG = 5


def _runs(size: Size, seed: int) -> tuple[RunSpec, ...]:
  diag = dict(diag_every=experiments.scaled(F6_DIAG, size),
              measure=("one_step",))
  return (base(cdat("qg", 1.0), size, seed)._replace(**diag),
          base(cdat("on_edge", 2.0), size, seed)._replace(**diag))


def _judge(runs: M.Runs, size: Size) -> Judgement:
  numbers: dict[str, Any] = {}
  for key, run in runs.items():
    _, qg = M.diagnostic(run, "qg_decrease")
    _, oe = M.diagnostic(run, "edge_decrease")
    _, f0 = M.diagnostic(run, "objective")
    gap = (qg - oe)[:-1]  # the last row is after the last step: no step taken
    numbers[key] = {
        "measured_steps": int(gap.size),
        "fraction_qg_larger": float(np.mean(gap > 0)) if gap.size else math.nan,
        "gap_median": M.median(gap),
        "gap_over_objective_median": M.median(gap / np.abs(f0[:-1])),
        "last5": M.last5(run)}
  qg, oe = numbers["qg"], numbers["on_edge"]
  checks = [
      check("qg_larger_decrease_along_qg",
            f"along QG's run (every {F6_DIAG} steps): one QG step decreases f "
            "more than one σ=2 step from the same point at ≥ 95 % of the "
            "measured steps", f"{pct(qg['fraction_qg_larger'])} of "
            f"{qg['measured_steps']} measured steps",
            qg["fraction_qg_larger"] >= 0.95, headline=True,
            over_seeds=criteria.EVERY_SEED,
            why="the claim says *at every step*: it must hold on every run"),
      check("qg_larger_decrease_along_edge",
            "the same along σ=2's run", f"{pct(oe['fraction_qg_larger'])} of "
            f"{oe['measured_steps']} measured steps",
            oe["fraction_qg_larger"] >= 0.95, headline=True,
            over_seeds=criteria.EVERY_SEED,
            why="the claim says *at every step*: it must hold on every run"),
      check("qg_loses_long_term",
            f"QG last-5 > {ON_PAR} × σ=2's", f"{fmt(qg['last5'])} vs "
            f"{fmt(oe['last5'])}", qg["last5"] > ON_PAR * oe["last5"],
            headline=True,
            over_seeds=criteria.MOST_SEEDS,
            why="a comparison of typical runs, so the median seed"),
  ]
  key = (f"QG's step decreases more at {pct(qg['fraction_qg_larger'])} "
         f"(along QG) / {pct(oe['fraction_qg_larger'])} (along σ=2) of the "
         "measured steps; last-5 QG "
         f"{fmt(qg['last5'])} vs σ=2 {fmt(oe['last5'])}")
  return Judgement(numbers, checks, key)


F6 = Finding(
    "F6", "greedy steps lose long-term",
    "QG gives a larger one-step decrease than σ = 2 at every step, yet loses "
    "long-term.", "Fig. 16", (7, 8, 9),
    lambda size: base_setting(
        size, "CDAT σ=1 (QG) and σ=2; every "
        f"{experiments.scaled(F6_DIAG, size)} steps, along each run, the "
        "decreases f(w) − f(w + ηu) of one QG step (η_qg, jvp curvature) and "
        "of one on-edge step (2η_qg)"),
    _runs, _judge)
