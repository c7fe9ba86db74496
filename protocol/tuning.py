"""The external-tuning protocol (``make tune``), division by division, and
the file of tuned points it writes.

Protocol (AlgoPerf's external ruleset, Dahl et al. 2023, §4): for every
division (base direction, :mod:`edgeperf.protocol.divisions`), every
submission that declares the division's direction and every embedded
workload, ``num_studies`` studies of ``num_trials`` quasi-random points of
the submission's search space with ``base_optimizer`` fixed to the
division's direction (or its whole grid where that is smaller:
:func:`edgeperf.harness.sweep.sampling.study_points`), each trial against
the division's own stored targets (:func:`edgeperf.protocol.targets.
targets_path`).  Self-tuning submissions run at their defaults (one trial
per study).  A search space whose grid has at most ``grid_limit`` points
(default ``num_trials × num_studies``: AlgoPerf's trial budget) runs its
whole grid in each study instead — the paper's grids, where they are
smaller.  Step budgets: each workload's full budget, or ``budget_factor`` ×
its step hint (the bench's budget: a schedule's horizon is then the
budget it is benched with).

A submission's tuned point on a workload is the hyperparameters of its
trial that reached the target in the fewest steps (ties: the shorter time);
when none did, the trial with the lowest final train objective.  Steps are
counted, not timed, so the choice does not depend on how loaded the machine
was while tuning; for the same reason tuning trials have a step budget and
no time budget (``untimed``: a loaded machine would otherwise cut a trial
short before its step budget).

``protocol/tuned_points.json`` (this module reads and writes it)::

    {"format": 2,
     "divisions": {"<division>": {
         "tunings": [{"git_commit", "hardware_id", "hardware", "date",
                      "protocol": {...}, "summary", "submissions",
                      "workloads"}, ...],
         "points": {"<workload>": {"<submission>": {"hparams": {...},
                    "seed", "reached", "steps_to_target", "time_to_target",
                    "final_objective", "trials", "tuned_by"}}}}}}

``tuned_by`` is the index of the tuning (in ``tunings``) that chose the
point: a later tuning of some pairs replaces only their points.  A file of
the first format (``{"provenance", "points"}``) reads as the ``gd``
division.
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
from edgeperf.harness.sweep import trial as trial_lib
from edgeperf.harness.sweep import sampling
from edgeperf.protocol import divisions as divisions_lib
from edgeperf.protocol import targets as targets_lib
from edgeperf.scoring import trials as trials_lib
from edgeperf.submissions import loader
from edgeperf.submissions import search_space as search_space_lib
from edgeperf.workloads import registry

TUNED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "tuned_points.json")
FORMAT = 2
SELECTION = ("fewest steps to the stored target (ties: shorter time); "
             "none reached: lowest final train objective")


class TunedPointsError(ValueError):
  """The tuned-points file is missing, unreadable or lacks an entry."""


def select_points(trials: pd.DataFrame) -> dict[str, dict[str, Any]]:
  """``{workload: {submission: point}}`` from one division's tuning trials
  (:func:`edgeperf.scoring.trials.load_trials`), by :data:`SELECTION`."""
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


def _normalise(data: Any, path: str) -> dict[str, Any]:
  """The file as format 2 (a format-1 file is the ``gd`` division)."""
  if not isinstance(data, dict):
    raise TunedPointsError(f"{path}: not a tuned-points file")
  if "divisions" not in data:
    if not isinstance(data.get("points"), dict):
      raise TunedPointsError(f"{path}: not a tuned-points file (no "
                             "'divisions' or 'points' mapping)")
    prov = dict(data.get("provenance") or {})
    prov.setdefault("submissions", sorted(
        {s for subs in data["points"].values() if isinstance(subs, dict)
         for s in subs}))
    points = {w: ({s: dict(p, tuned_by=0) if isinstance(p, dict) else p
                   for s, p in subs.items()} if isinstance(subs, dict)
                  else subs)
              for w, subs in data["points"].items()}
    data = {"format": FORMAT,
            "divisions": {"gd": {"tunings": [prov], "points": points}}}
  if not isinstance(data["divisions"], dict):
    raise TunedPointsError(f"{path}: 'divisions' must map divisions to "
                           "their tunings and points")
  return data


def _check(data: Mapping[str, Any], path: str) -> None:
  for division, block in data["divisions"].items():
    if not (isinstance(block, dict) and isinstance(block.get("points"),
                                                   dict)):
      raise TunedPointsError(f"{path}: division {division!r} has no "
                             "'points' mapping")
    for workload, entries in block["points"].items():
      if not isinstance(entries, dict):
        raise TunedPointsError(f"{path}: points[{workload!r}] must map "
                               "submissions to tuned points")
      for sub, point in entries.items():
        if not (isinstance(point, dict) and isinstance(point.get("hparams"),
                                                        dict)):
          where = "" if division == "gd" else f" in division {division}"
          raise TunedPointsError(
              f"{path}: the tuned point of {sub} on {workload}{where} has "
              "no 'hparams' mapping; expected {\"hparams\": {...}, "
              "\"seed\": N}")


def read(path: str = TUNED_FILE) -> dict[str, Any]:
  """The tuned-points file, as format 2.

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
  data = _normalise(data, path)
  _check(data, path)
  return data


def points_of(data: Mapping[str, Any], division: str
              ) -> dict[str, dict[str, Any]]:
  """``{workload: {submission: point}}`` of one division (empty if the
  division was never tuned)."""
  return (data["divisions"].get(division) or {}).get("points", {})


def tunings_of(data: Mapping[str, Any], division: str) -> list[dict]:
  """The tunings (provenances) behind a division's points."""
  return list((data["divisions"].get(division) or {}).get("tunings", []))


def write(points: Mapping[str, Any], prov: Mapping[str, Any],
          path: str = TUNED_FILE, division: str = "gd") -> None:
  """Stores one tuning of ``division``: its points replace those of the
  same (workload, submission) pairs; every other point, of this division or
  another, is kept with its own provenance; a tuning no point comes from
  any more is dropped."""
  try:
    data = read(path)
  except TunedPointsError:
    if os.path.exists(path):
      raise
    data = {"format": FORMAT, "divisions": {}}
  block = data["divisions"].setdefault(division, {"tunings": [],
                                                  "points": {}})
  prov = dict(prov)
  prov.setdefault("submissions", sorted({s for subs in points.values()
                                         for s in subs}))
  prov.setdefault("workloads", sorted(points))
  block["tunings"].append(prov)
  new = len(block["tunings"]) - 1
  for workload, subs in points.items():
    for sub, point in subs.items():
      block["points"].setdefault(workload, {})[sub] = dict(point,
                                                           tuned_by=new)
  used = sorted({p.get("tuned_by", 0) for subs in block["points"].values()
                 for p in subs.values()})
  renumber = {old: i for i, old in enumerate(used)}
  block["tunings"] = [block["tunings"][i] for i in used]
  for subs in block["points"].values():
    for p in subs.values():
      p["tuned_by"] = renumber[p.get("tuned_by", 0)]
  data["format"] = FORMAT
  _jsonio.atomic_write_json(path, data)


def budgets(workloads: Sequence[str], budget_factor: float | None
            ) -> dict[str, int]:
  """Each workload's step budget: ``budget_factor`` × its step hint
  (rounded up, at least the hint), or {} for the full budgets."""
  if not budget_factor:
    return {}
  out = {}
  for w in workloads:
    hint = registry.get(w).step_hint
    out[w] = max(hint, int(math.ceil(budget_factor * hint)))
  return out


def plan(*, divisions: Sequence[str], workloads: Sequence[str],
         submissions: Sequence[str], num_trials: int, num_studies: int,
         seed: int, grid_limit: int, max_steps: Mapping[str, int],
         search_spaces: Mapping[str, str] | None = None,
         sampler: str = "halton") -> dict[str, Any]:
  """The tuning sweep's plan over every division: each routed submission's
  space with its direction fixed to the division's.

  ``search_spaces``: ``{submission: search_space.json path}`` replacing a
  submission's own (an opt-in space such as
  ``submissions/warmup_schedule/search_space_shapes.json``).

  Raises:
    divisions_lib.DivisionError: a submission that declares no direction.
    sweep.SweepError: a malformed search space.
  """
  routed = divisions_lib.route(submissions, divisions)
  trials = []
  for division, entries in routed.items():
    path = targets_lib.targets_path(division)
    for workload in workloads:
      for entry in entries:
        where = loader.locate(entry.submission)
        space_path = (search_spaces or {}).get(entry.name,
                                               where.search_space_path)
        try:
          space = search_space_lib.load(space_path)
        except search_space_lib.SearchSpaceError as e:
          raise sweep.SweepError(str(e)) from None
        space = divisions_lib.space_for(space, division)
        for p in sampling.plan(space, num_trials=num_trials,
                               num_studies=num_studies, seed=seed,
                               method=sampler, grid_limit=grid_limit):
          trial = trial_lib.Trial(
              workload=workload, submission=entry.submission,
              name=entry.name, ruleset=space.ruleset, study=p.study,
              trial=p.trial, seed=p.seed, hparams=p.hparams,
              max_steps=max_steps.get(workload), untimed=True)
          trials.append(divisions_lib.entry_in(
              trial, division, None if division == "gd" else path))
  return {"format": sweep.FORMAT_VERSION,
          "request": {"kind": "tune", "divisions": list(divisions),
                      "workloads": list(workloads),
                      "submissions": list(submissions),
                      "num_trials": num_trials, "num_studies": num_studies,
                      "seed": seed, "sampler": sampler,
                      "grid_limit": grid_limit,
                      "workload_max_steps": dict(max_steps),
                      "search_spaces": dict(search_spaces or {})},
          "trials": trials}


def run_tuning(sweep_dir: str, *, workloads: Sequence[str],
               submissions: Sequence[str],
               divisions: Sequence[str] = divisions_lib.DEFAULT,
               num_trials: int = 5, num_studies: int = 3, seed: int = 0,
               jobs: int = 1,
               workload_max_steps: Mapping[str, int] | None = None,
               budget_factor: float | None = None,
               grid_limit: int | None = None,
               search_spaces: Mapping[str, str] | None = None,
               timeout_s: float | None = None, executor=None,
               ray_address: str | None = None,
               path: str = TUNED_FILE,
               progress: bool = True) -> dict[str, Any]:
  """Runs (or resumes) the tuning sweep of every division, selects the
  points and stores each division's (:func:`write`).

  Budgets: ``workload_max_steps`` ({workload: steps}) wins, then
  ``budget_factor`` × the step hint (:func:`budgets`), else each workload's
  full step budget; all recorded in the provenance's protocol.
  ``grid_limit`` (default ``num_trials × num_studies``) is the largest
  grid run whole.

  Returns:
    ``{division: {"provenance", "points"}}`` of this tuning.
  """
  if grid_limit is None:
    grid_limit = num_trials * num_studies
  max_steps = {**budgets(workloads, budget_factor),
               **(workload_max_steps or {})}
  the_plan = plan(divisions=divisions, workloads=workloads,
                  submissions=submissions, num_trials=num_trials,
                  num_studies=num_studies, seed=seed, grid_limit=grid_limit,
                  max_steps=max_steps, search_spaces=search_spaces)
  outcomes = sweep.run_plan(sweep_dir, the_plan, jobs=jobs,
                            timeout_s=timeout_s, executor=executor,
                            ray_address=ray_address, progress=progress)
  trials = trials_lib.load_trials([sweep_dir])
  done = {}
  for division in divisions_lib.check(divisions):
    mine = [o for o in outcomes if o.get("division") == division]
    points = select_points(trials[trials["division"] == division])
    if not points:
      continue
    prov = provenance({
        "ruleset": "external (AlgoPerf); self-tuning at defaults",
        "division": division,
        "num_trials": num_trials, "num_studies": num_studies, "seed": seed,
        "sampler": "halton", "grid_limit": grid_limit,
        "budgets": ("step budgets " + ", ".join(
            f"{w} {n}" for w, n in sorted(max_steps.items()))
                    + (" (others: full)" if set(max_steps) < set(workloads)
                       else "") if max_steps else
                    "each workload's full step budget")
                   + f"; the {division} division's stored targets",
        "search_spaces": dict(search_spaces or {}),
        "selection": SELECTION}, sweep.summarize(mine) if mine else "")
    write(points, prov, path, division=division)
    done[division] = {"provenance": prov, "points": points}
  return done
