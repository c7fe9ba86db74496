"""The re-runnable procedure behind every stored target (``make targets``).

Procedure (for one workload preset)::

    for η in the constant submission's log-2 grid {1e-3 · 2^i, i = −1..10}:
        run the constant rate on the division's base direction u (GD:
        u = −g; Adam: u = −m̂/(√ν̂ + ε); ...) from seed 0 for step_hint
        steps (no early stop)
        score(η) = mean train objective of the last 5 iterates before the
                   step hint (Roulet et al. 2024, App. C: runs are compared
                   by their average train loss over the last 5 iterates);
                   mini-batch: full train objective at step_hint
    target = min_η score(η)

Every division (base direction, :mod:`edgeperf.protocol.divisions`) has its
own targets, set by its own constant rate with this procedure at the same
step hint: the ``gd`` division's in ``workloads/targets.json``, another
division's in ``workloads/targets_<division>.json`` (:func:`targets_path`;
the same format, each entry naming its ``base_optimizer``).  In every
division the tuned constant therefore reaches the target at about the step
hint: the race is equally demanding in each.

The result goes under ``name/size/regime`` with the best η, the whole grid's scores, the date, the hardware fingerprint and
the code commit (:mod:`edgeperf.workloads.targets_file` owns that file).  A
best η on the edge of the grid is flagged: the grid must be wide enough that
the best value is interior.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
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

LAST_ITERATES = 5


def procedure(base_optimizer: str = "gd") -> str:
  """The procedure's one-line description, as stored with each target."""
  direction = "GD" if base_optimizer == "gd" else f"base_optimizer {base_optimizer}"
  return ("min over the constant submission's log-2 learning-rate grid "
          f"({direction}, seed 0) of the mean train objective over the last 5 "
          "iterates before step_hint (full batch) or the full train "
          "objective at step_hint (mini-batch)")


PROCEDURE = procedure("gd")


def targets_path(division: str = "gd") -> str:
  """Where the ``division``'s targets are stored: ``workloads/targets.json``
  for ``gd`` (the targets every older run was timed against), else
  ``workloads/targets_<division>.json`` beside it."""
  if division == "gd":
    return targets_file_lib.TARGETS_FILE
  return os.path.join(os.path.dirname(targets_file_lib.TARGETS_FILE),
                      f"targets_{division}.json")


def horizon_score(objective: Sequence[float],
                  last: int = LAST_ITERATES) -> float:
  """A run's score at its horizon: the mean train objective of its last
  ``last`` iterates (Roulet et al. 2024, App. C select runs by the average
  train loss over the last 5 iterates).  The one rule behind stored and
  bench targets."""
  return float(np.mean(np.asarray(objective, np.float64)[-last:]))


def untimed(workload):
  """``workload`` without its time budget: the procedure counts steps (to
  the step hint), so a loaded machine must not cut a run short (a run
  stopped by the clock would be scored at an earlier step)."""
  return dataclasses.replace(workload, time_budget_s=math.inf)


def grid_scores(workload, *, seed: int = 0, base_optimizer: str = "gd",
                progress: bool = True) -> dict[float, float]:
  """Score of every learning rate of the constant grid (inf if diverged),
  each run to the step hint whatever the time it takes.

  Raises:
    edgeperf.workloads.base.SyntheticDataError: synthetic data (a target
      on random examples means nothing).
    RuntimeError: a run that neither diverged nor reached the step hint.
  """
  base.require_real_data(workload, "setting a target")
  workload = untimed(workload)
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
    elif result.steps_run < workload.step_hint:
      raise RuntimeError(
          f"{workload.key}: the constant rate {lr:g} ({base_optimizer}) "
          f"stopped at step {result.steps_run}, before the step hint "
          f"{workload.step_hint} ({result.status}: {result.message})")
    elif workload.regime.is_full_batch:
      scores[lr] = horizon_score(result.steps["objective"])
    else:
      scores[lr] = float(result.evals["train_objective"].iloc[-1])
    if progress:
      print(f"  {workload.key}: lr={lr:g} -> {scores[lr]:.6g}",
            file=sys.stderr)
  return scores


def set_target(name: str, *, size: str = "small",
               batch_size: int | None = None, base_optimizer: str = "gd",
               progress: bool = True) -> dict[str, Any]:
  """Runs the procedure for one preset on one base direction and returns
  its targets entry.

  The entry carries ``key`` (``name/size/regime``), which the caller pops.
  """
  workload = registry.get(name, size=size, batch_size=batch_size)
  scores = grid_scores(workload, base_optimizer=base_optimizer,
                       progress=progress)
  finite = {lr: s for lr, s in scores.items() if math.isfinite(s)}
  if not finite:
    raise RuntimeError(f"{workload.key}: every learning rate diverged")
  best_lr = min(finite, key=finite.get)
  lrs = sorted(scores)
  hw = fingerprint.hardware_fingerprint()
  extra = {} if base_optimizer == "gd" else {"base_optimizer": base_optimizer}
  return {
      "key": workload.key, **extra,
      "target_train_loss": finite[best_lr],
      "best_learning_rate": best_lr,
      "best_on_grid_edge": best_lr in (lrs[0], lrs[-1]),
      "grid_scores": {repr(lr): s for lr, s in sorted(scores.items())},
      "step_hint": workload.step_hint,
      "procedure": procedure(base_optimizer),
      "set_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "hardware": hw,
      "hardware_id": fingerprint.hardware_id(hw),
      "git_commit": fingerprint.git_commit(),
  }


def set_targets(names: Sequence[str], *, size: str = "small",
                batch_size: int | None = None, division: str = "gd",
                targets_file: str | None = None,
                progress: bool = True) -> Iterator[dict[str, Any]]:
  """Runs the procedure for each workload on the ``division``'s direction
  and stores each entry as it comes (in ``targets_file``, default
  :func:`targets_path`).

  Yields:
    Each stored entry, with its ``key``.
  """
  targets_file = targets_file or targets_path(division)
  for name in names:
    if progress:
      print(f"setting the {division} target for {name} ({size})",
            file=sys.stderr)
    entry = set_target(name, size=size, batch_size=batch_size,
                       base_optimizer=division, progress=progress)
    key = entry.pop("key")
    targets_file_lib.store({key: entry}, targets_file)
    yield dict(entry, key=key)
