"""What every finding shares: the thresholds, the records, the run specs
and the setting F2–F6 share.

Thresholds shared by several findings (Roulet et al., 2024):

* **on par** (with a reference): last-5 loss at most :data:`ON_PAR` = 1.25 ×
  the reference's ("on par or better"), and at least 1/1.25 × when the
  claim says only "on par";
* **loses / stalls**: worse than on par (> 1.25 ×);
* **fails / diverges**: the objective became non-finite, or the run ended no
  lower than it started;
* **orders of magnitude**: at least :data:`ORDER` = 10 ×;
* **the tuned constant** is the best rate of a log-2 grid; a best rate on
  the grid's edge is reported as a failed check (the grid, not the rate,
  was tuned).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import measures as M
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size

ON_PAR = 1.25
ORDER = 10.0
fmt = M.fmt


def pct(fraction: float) -> str:
  """A fraction as a percentage for a report (``n/a`` when not a number)."""
  return f"{fmt(100 * fraction)} %" if math.isfinite(fraction) else "n/a"


class Judgement(NamedTuple):
  """What a finding's runs (or model trajectories) measured."""

  numbers: dict[str, Any]  # every number the checks read, and a few more
  checks: list[criteria.Check]  # the claim's clauses, tested
  key_number: str  # one line for the verdict table


class Finding(NamedTuple):
  """A finding: the claim, the runs behind it, how they are judged."""

  id: str  # F1..F8, M1..M4
  title: str  # a few words
  claim: str  # the claim of Roulet et al. (2024), in its words
  paper: str  # its figures or equations
  seeds: tuple[int, ...]  # default seeds; the setting was chosen on the first
  setting: Callable[[Size], str]  # the setting run, in words
  runs: Callable[[Size, int], tuple[RunSpec, ...]]  # its runs at a size, seed
  judge: Callable[[M.Runs, Size], Judgement]  # runs -> numbers and checks
  notes: str = ""  # deviations, and settings tried that did not show

  @property
  def is_model(self) -> bool:
    """A theory model: simulated, no runs, no seeds."""
    return self.id.startswith("M")


# ----------------------------------------------------------------- specs --

def constant(key: str, lr: float, base: str = "gd", **kw) -> RunSpec:
  return RunSpec(key, "constant", {"learning_rate": lr,
                                   "base_optimizer": base}, **kw)


def cdat(key: str, sigma: float, beta: float = 0.0, base: str = "gd",
          **kw) -> RunSpec:
  """CDAT through its submission: its defaults (jvp-of-jvp denominator,
  every step) plus σ, β and the base direction."""
  return RunSpec(key, "cdat", {"sigma": sigma, "beta": beta,
                               "base_optimizer": base}, **kw)


def grid_rates(runs: M.Runs, prefix: str) -> dict[str, float]:
  """Constant-rate runs named ``<prefix><rate>`` and their rates."""
  return {k: float(k[len(prefix):]) for k in runs if k.startswith(prefix)}


def best_constant(runs: M.Runs, prefix: str = "const_") -> M.Tuned:
  rates = grid_rates(runs, prefix)
  return M.tuned_constant(runs, rates, rates)


def interior_check(tuned: M.Tuned, grid: Sequence[float]) -> criteria.Check:
  return check("tuned_constant_interior",
               f"the best constant rate of the grid {list(grid)} is not on "
               "its edge (else the grid, not the rate, was tuned)",
               tuned.key, tuned.interior,
               over_seeds=criteria.EVERY_SEED,
               why="a comparison on a seed whose best rate sits on the grid's "
               "edge is against an untuned constant")


# The setting F2–F6 share: the paper's Fig. 1/3 model family at CPU scale.
BASE = dict(workload="mlp_mnist", seed=7, steps=600)
BASE_CONSTANTS = (0.2, 0.4, 0.8)
BASE_DIAG = 50  # F3's λ_max period on the shared runs
BASE_DIAG_KEYS = ("const_0.4", "cdat_s1", "cdat_s2")
BASE_MEASURE = ("sharpness", "update")


def base_setting(size: Size, extra: str) -> str:
  return (f"`{size.workload('mlp_mnist')}` {size.preset} (ReLU MLP, squared "
          "loss, full batch, "
          f"weight decay 1e-5), GD direction, "
          f"{experiments.scaled(BASE['steps'], size)} steps; constant rates "
          f"{list(BASE_CONSTANTS)}; {extra}")


def base(spec: RunSpec, size: Size, seed: int) -> RunSpec:
  """A run of the shared setting at ``size`` and ``seed`` (the same spec in
  every finding, so it runs once)."""
  diag = BASE_DIAG if spec.key in BASE_DIAG_KEYS else 0
  return spec._replace(
      workload=size.workload(BASE["workload"]), preset=size.preset,
      seed=seed,
      steps=experiments.scaled(BASE["steps"], size),
      diag_every=experiments.scaled(diag, size),
      measure=BASE_MEASURE if diag else ())


def base_constants(size: Size, seed: int) -> list[RunSpec]:
  return [base(constant(f"const_{lr:g}", lr), size, seed)
          for lr in BASE_CONSTANTS]


def base_cdat(sigma: float, size: Size, seed: int) -> RunSpec:
  return base(cdat(f"cdat_s{sigma:g}", sigma), size, seed)


def base_steps(size: Size) -> int:
  return experiments.scaled(BASE["steps"], size)
