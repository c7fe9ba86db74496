"""The external-tuning protocol at the workloads' full budgets (``make
tune``), and the file of tuned points it writes.

Protocol (AlgoPerf's external ruleset, Dahl et al. 2023, §4): for every
submission and embedded workload, ``num_studies`` studies of ``num_trials``
quasi-random points of the submission's search space (or its whole grid
where that is smaller: :func:`edgeperf.harness.sweep.sampling.study_points`),
each trial at the workload's full step budget against the stored target.
Self-tuning submissions run at their defaults (one trial per study).  A
search space whose grid has at most ``grid_limit`` points (default
``num_trials × num_studies``: AlgoPerf's trial budget) runs its whole grid
in each study instead — the paper's grids, where they are smaller.

A submission's tuned point on a workload is the hyperparameters of its
trial that reached the target in the fewest steps (ties: the shorter time);
when none did, the trial with the lowest final train objective.  Steps are
counted, not timed, so the choice does not depend on how loaded the machine
was while tuning.

``protocol/tuned_points.json`` (this module reads and writes it)::

    {"provenance": {"git_commit", "hardware_id", "hardware", "date",
                    "protocol": {...}, "summary"},
     "points": {"<workload>": {"<submission>": {"hparams": {...},
                "seed", "reached", "steps_to_target", "time_to_target",
                "final_objective", "trials"}}}}
"""

from __future__ import annotations

import datetime
import json
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from edgeperf import _jsonio
from edgeperf.harness import fingerprint
from edgeperf.harness.sweep import runs as sweep
from edgeperf.scoring import leaderboard

TUNED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "tuned_points.json")
SELECTION = ("fewest steps to the stored target (ties: shorter time); "
             "none reached: lowest final train objective")


class TunedPointsError(ValueError):
  """The tuned-points file is missing, unreadable or lacks an entry."""


def select_points(trials: pd.DataFrame) -> dict[str, dict[str, Any]]:
  """``{workload: {submission: point}}`` from a tuning sweep's trials table
  (:func:`edgeperf.scoring.leaderboard.load_trials`), by :data:`SELECTION`."""
  out: dict[str, dict[str, Any]] = {}
  for (workload, sub), group in trials.groupby(["workload", "submission"]):
    ok = group[group["status"] != "incomplete"]
    if ok.empty:
      continue
    reached = ok[np.isfinite(ok["steps_to_target"].astype(float))]
    if len(reached):
      best = reached.sort_values(["steps_to_target", "time_to_target"],
                                 kind="stable").iloc[0]
    else:
      final = ok["final_objective"].astype(float)
      best = ok.assign(_f=final.where(np.isfinite(final), math.inf)
                       ).sort_values("_f", kind="stable").iloc[0]
    out.setdefault(workload, {})[sub] = {
        "hparams": json.loads(best["hparams"]),
        "seed": int(best["seed"]),
        "reached": bool(best["reached"]),
        "steps_to_target": float(best["steps_to_target"]),
        "time_to_target": float(best["time_to_target"]),
        "final_objective": float(best["final_objective"]),
        "trials": int(len(group)),
    }
  return out


def provenance(protocol: Mapping[str, Any], summary: str) -> dict[str, Any]:
  """Where and how the points were tuned."""
  hw = fingerprint.hardware_fingerprint()
  return {"git_commit": fingerprint.git_commit(),
          "hardware_id": fingerprint.hardware_id(hw), "hardware": hw,
          "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
              timespec="seconds"),
          "protocol": dict(protocol), "summary": summary}


def write(points: Mapping[str, Any], prov: Mapping[str, Any],
          path: str = TUNED_FILE) -> None:
  _jsonio.atomic_write_json(path, {"provenance": dict(prov),
                                   "points": dict(points)})


def read(path: str = TUNED_FILE) -> dict[str, Any]:
  """The tuned-points file.

  Raises:
    TunedPointsError: missing or unreadable (naming the file and the fix).
  """
  try:
    data = _jsonio.read_json(path)
  except FileNotFoundError:
    raise TunedPointsError(f"{path}: no tuned points; run `make tune` "
                           "first") from None
  except _jsonio.JsonFileError as e:
    raise TunedPointsError(str(e)) from None
  if not isinstance(data, dict) or not isinstance(data.get("points"), dict):
    raise TunedPointsError(f"{path}: not a tuned-points file (no 'points' "
                           "mapping)")
  for workload, entries in data["points"].items():
    if not isinstance(entries, dict):
      raise TunedPointsError(f"{path}: points[{workload!r}] must map "
                             "submissions to tuned points")
    for sub, point in entries.items():
      if not (isinstance(point, dict) and isinstance(point.get("hparams"),
                                                      dict)):
        raise TunedPointsError(
            f"{path}: the tuned point of {sub} on {workload} has no "
            "'hparams' mapping; expected {\"hparams\": {...}, \"seed\": N}")
  return data


def run_tuning(sweep_dir: str, *, workloads: Sequence[str],
               submissions: Sequence[str], num_trials: int = 5,
               num_studies: int = 3, seed: int = 0, jobs: int = 1,
               workload_max_steps: Mapping[str, int] | None = None,
               grid_limit: int | None = None,
               timeout_s: float | None = None, executor=None,
               ray_address: str | None = None,
               path: str = TUNED_FILE,
               progress: bool = True) -> dict[str, Any]:
  """Runs (or resumes) the tuning sweep, selects and writes the points.

  ``workload_max_steps`` overrides the full step budget of some workloads
  (recorded in the provenance's protocol); ``grid_limit`` (default
  ``num_trials × num_studies``) is the largest grid run whole.
  """
  if grid_limit is None:
    grid_limit = num_trials * num_studies
  request = sweep.SweepRequest(
      workloads=tuple(workloads), submissions=tuple(submissions),
      num_trials=num_trials, num_studies=num_studies, seed=seed,
      workload_max_steps=tuple(sorted((workload_max_steps or {}).items())),
      grid_limit=grid_limit)
  outcomes = sweep.run_sweep(sweep_dir, request, jobs=jobs,
                             timeout_s=timeout_s, executor=executor,
                             ray_address=ray_address,
                             progress=progress)
  trials = leaderboard.load_trials([sweep_dir])
  points = select_points(trials)
  prov = provenance({
      "ruleset": "external (AlgoPerf); self-tuning at defaults",
      "num_trials": num_trials, "num_studies": num_studies, "seed": seed,
      "sampler": request.sampler, "grid_limit": grid_limit,
      "budgets": ("step budgets " + ", ".join(
          f"{w} {n}" for w, n in sorted(workload_max_steps.items()))
                  + " (others: full)" if workload_max_steps else
                  "each workload's full step budget") + "; stored targets",
      "selection": SELECTION}, sweep.summarize(outcomes))
  write(points, prov, path)
  return {"provenance": prov, "points": points}
