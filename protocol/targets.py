"""The re-runnable procedure behind every stored target (``make targets``).

Procedure (for one workload preset)::

    for η in the constant submission's log-2 grid {1e-3 · 2^i, i = −1..10}:
        run constant-lr GD from seed 0 for step_hint steps (no early stop)
        score(η) = mean train objective of the last 5 iterates before the
                   step hint (Roulet et al. 2024, App. C: runs are compared
                   by their average train loss over the last 5 iterates);
                   mini-batch: full train objective at step_hint
    target = min_η score(η)

The result goes to ``workloads/targets.json`` under ``name/size/regime`` with
the best η, the whole grid's scores, the date, the hardware fingerprint and
the code commit (:mod:`edgeperf.workloads.targets_file` owns that file).  A
best η on the edge of the grid is flagged: the grid must be wide enough that
the best value is interior.
"""

from __future__ import annotations

import datetime
import math
import sys
from typing import Any, Iterator, Sequence

import numpy as np

from edgeperf.harness import fingerprint
from edgeperf.harness import programs
from edgeperf.harness import runner
from edgeperf.submissions import loader
from edgeperf.workloads import base
from edgeperf.workloads import registry
from edgeperf.workloads import targets_file as targets_file_lib

PROCEDURE = ("min over the constant submission's log-2 learning-rate grid "
             "(GD, seed 0) of the mean train objective over the last 5 "
             "iterates before step_hint (full batch) or the full train "
             "objective at step_hint (mini-batch)")
LAST_ITERATES = 5


def horizon_score(objective: Sequence[float],
                  last: int = LAST_ITERATES) -> float:
  """A run's score at its horizon: the mean train objective of its last
  ``last`` iterates (Roulet et al. 2024, App. C select runs by the average
  train loss over the last 5 iterates).  The one rule behind stored and
  bench targets."""
  return float(np.mean(np.asarray(objective, np.float64)[-last:]))


def grid_scores(workload, *, seed: int = 0, base_optimizer: str = "gd",
                progress: bool = True) -> dict[float, float]:
  """Score of every learning rate of the constant grid (inf if diverged).

  Raises:
    edgeperf.workloads.base.SyntheticDataError: synthetic data (a target
      on random examples means nothing).
  """
  base.require_real_data(workload, "setting a target")
  constant = loader.load("constant")
  lrs = [h for h in constant.search_space.hyperparameters
         if h.name == "learning_rate"][0].values
  scores = {}
  cache = programs.ProgramCache()  # one compilation for the whole grid
  for lr in lrs:
    spec = constant.spec({"learning_rate": lr,
                          "base_optimizer": base_optimizer})
    result = runner.run(workload, spec, seed=seed,
                        max_steps=workload.step_hint, stop_at_target=False,
                        progress=False, programs=cache)
    if result.status == "diverged":
      scores[lr] = math.inf
    elif workload.regime.is_full_batch:
      scores[lr] = horizon_score(result.steps["objective"])
    else:
      scores[lr] = float(result.evals["train_objective"].iloc[-1])
    if progress:
      print(f"  {workload.key}: lr={lr:g} -> {scores[lr]:.6g}",
            file=sys.stderr)
  return scores


def set_target(name: str, *, size: str = "small",
               batch_size: int | None = None,
               progress: bool = True) -> dict[str, Any]:
  """Runs the procedure for one preset and returns its targets.json entry.

  The entry carries ``key`` (``name/size/regime``), which the caller pops.
  """
  workload = registry.get(name, size=size, batch_size=batch_size)
  scores = grid_scores(workload, progress=progress)
  finite = {lr: s for lr, s in scores.items() if math.isfinite(s)}
  if not finite:
    raise RuntimeError(f"{workload.key}: every learning rate diverged")
  best_lr = min(finite, key=finite.get)
  lrs = sorted(scores)
  hw = fingerprint.hardware_fingerprint()
  return {
      "key": workload.key,
      "target_train_loss": finite[best_lr],
      "best_learning_rate": best_lr,
      "best_on_grid_edge": best_lr in (lrs[0], lrs[-1]),
      "grid_scores": {repr(lr): s for lr, s in sorted(scores.items())},
      "step_hint": workload.step_hint,
      "procedure": PROCEDURE,
      "set_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "hardware": hw,
      "hardware_id": fingerprint.hardware_id(hw),
      "git_commit": fingerprint.git_commit(),
  }


def set_targets(names: Sequence[str], *, size: str = "small",
                batch_size: int | None = None,
                targets_file: str = targets_file_lib.TARGETS_FILE,
                progress: bool = True) -> Iterator[dict[str, Any]]:
  """Runs the procedure for each workload and stores each entry as it comes.

  Yields:
    Each stored entry, with its ``key``.
  """
  for name in names:
    if progress:
      print(f"setting target for {name} ({size})", file=sys.stderr)
    entry = set_target(name, size=size, batch_size=batch_size,
                       progress=progress)
    key = entry.pop("key")
    targets_file_lib.store({key: entry}, targets_file)
    yield dict(entry, key=key)
