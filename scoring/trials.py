"""Loads run directories into the trials table.

A *trial* is one run directory (read through
:class:`edgeperf.harness.rundir.RunDir`); sweeps (``edgeperf-sweep``,
the bench, the tuning protocol) add the study and trial indices, and the
division, through their ``sweep.json``.  :func:`load_trials` gives one row
per trial with its time-, steps- and cost-to-target
(:mod:`edgeperf.scoring.time_to_target`).
"""

from __future__ import annotations

import json
import logging
import math
import os
from typing import Any, Iterable, Mapping

import pandas as pd

from edgeperf import _jsonio
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness.sweep import runs as sweep_lib
from edgeperf.scoring import time_to_target as ttt

_log = logging.getLogger(__name__)

METRICS = {
    "time": ("time_to_target", "time to target (s)"),
    "steps": ("steps_to_target", "steps to target"),
    "flops": ("flops_to_target", "FLOPs to target"),
    "evals": ("evals_to_target", "evaluations to target"),
}
"""What can be scored: the trials table's column and its name."""
HARDWARE_INDEPENDENT = ("steps", "flops", "evals")


def _is_run_dir(path: str) -> bool:
  folder = rundir_lib.RunDir(path)
  return any(os.path.exists(folder.file(f))
             for f in (rundir_lib.STATUS, rundir_lib.META))


def find_runs(paths: Iterable[str]) -> list[dict[str, Any]]:
  """Every trial under ``paths`` (sweep dirs, run dirs, or folders of them).

  Returns:
    Entries ``{"run_dir", "workload", "submission", "study", "trial",
    "seed", "hparams", "division"}``; all but the first two are None where
    no sweep.json says them (meta.json fills them in :func:`load_trials`).
  """
  entries: list[dict[str, Any]] = []
  seen: set[str] = set()

  def add(entry: dict[str, Any]) -> None:
    key = os.path.realpath(entry["run_dir"])
    if key not in seen:
      seen.add(key)
      entries.append(entry)

  def visit(path: str) -> None:
    sweep_file = os.path.join(path, sweep_lib.SWEEP_FILE)
    if os.path.exists(sweep_file):
      for t in sweep_lib.read_plan(sweep_file)["trials"]:
        add({"run_dir": os.path.join(path, t.run_dir),
             "workload": t.workload, "submission": t.name,
             "study": t.study, "trial": t.trial, "seed": t.seed,
             "hparams": t.hparams, "division": t.division})
      return
    if _is_run_dir(path):
      add({"run_dir": path, "workload": None, "submission": None,
           "study": None, "trial": None, "seed": None, "hparams": None,
           "division": None})
      return
    for child in sorted(os.listdir(path)):
      full = os.path.join(path, child)
      if os.path.isdir(full) and not child.startswith("."):
        visit(full)

  for path in paths:
    if not os.path.isdir(path):
      raise FileNotFoundError(f"{path}: not a directory of runs or a sweep")
    visit(path)
  return entries


def workload_label(workload: Mapping[str, Any]) -> str:
  """``name`` for the small full-batch preset, else name/size/regime."""
  name = workload.get("name", "?")
  size = workload.get("size") or "small"
  bs = workload.get("batch_size")
  if size == "small" and not bs:
    return name
  return f"{name}/{size}/" + (f"b{bs}" if bs else "full")


INCOMPLETE, UNREADABLE = "incomplete", "unreadable"
UNSCORED = (INCOMPLETE, UNREADABLE)
"""Trial statuses that are not scored: no final status yet, or a file that
cannot be read."""
_CONTENT_ERRORS = (ValueError, KeyError, TypeError, AttributeError,
                   IndexError)
"""What reading a trial with a malformed file raises (RunDirError is a
ValueError)."""


_COLUMNS = ("workload", "submission", "division", "study", "trial", "seed", "hparams",
            "status", "message", "failed", "hardware_id", "device", "regime",
            "target", "step_flops", "steps_run", "final_objective",
            "submission_time_s", "cores", "started_unix", "finished_unix",
            "reached", "time_to_target",
            "steps_to_target", "flops_to_target", "evals_to_target",
            "run_dir")
"""The trials table's columns, in order (:func:`load_trials`)."""


UNDECLARED = "undeclared"
"""The division of a run that names no base direction."""


def division_of(entry: Mapping[str, Any], hparams: Mapping[str, Any]) -> str:
  """A trial's division: the one its sweep ran it in, else the base
  direction its hyperparameters name, else :data:`UNDECLARED`."""
  return str(entry.get("division") or hparams.get("base_optimizer")
             or UNDECLARED)


def _read_trial(entry: dict[str, Any],
                targets: Mapping[str, float] | None) -> dict[str, Any]:
  """The trial's row from its files and ``entry`` (raises if unreadable)."""
  folder = rundir_lib.RunDir(entry["run_dir"])
  meta = folder.meta() or {}
  status = folder.status() or {}
  workload = meta.get("workload") or {}
  state = status.get("status")
  if state not in rundir_lib.FINAL_STATUSES:
    state = INCOMPLETE  # no run yet, or a run cut off: not scored
  target = workload.get("target_train_loss", status.get("target_train_loss"))
  target = None if target is None else _jsonio.to_float(target)
  label = workload_label(workload) if workload else entry.get("workload")
  if targets and label in targets:
    target = float(targets[label])
  result = ttt.trial_to_target(
      folder.table("steps"), target, status=state,
      evals=folder.table("evals"),
      mini_batch=workload.get("regime") == "mini_batch",
      step_flops=meta.get("step_flops"),
      window=int(meta.get("reach_window", 1)))
  if state == INCOMPLETE:
    result = {k: math.nan for k in result}
    result["reached"] = False
  fp = meta.get("fingerprint") or {}
  hparams = entry.get("hparams")
  if hparams is None:
    hparams = meta.get("hparams") or {}
  return {
      "workload": label,
      "division": division_of(entry, hparams),
      "submission": entry.get("submission") or (
          meta.get("submission") or {}).get("name"),
      "seed": entry["seed"] if entry.get("seed") is not None else meta.get(
          "seed"),
      "hparams": json.dumps(hparams, sort_keys=True),
      "status": state,
      "message": status.get("message", ""),
      "hardware_id": meta.get("hardware_id"),
      "device": (f"{fp.get('device_kind', '?')} ×{fp.get('device_count', '?')}"
                 f", {fp.get('cpu_model', '?')} ({fp.get('cpu_count', '?')} "
                 "cores)") if fp else None,
      "regime": workload.get("regime"),
      "target": math.nan if target is None else target,
      "step_flops": _jsonio.to_float(meta.get("step_flops")),
      "steps_run": status.get("steps_run"),
      "final_objective": _jsonio.to_float(status.get("final_objective")),
      "submission_time_s": _jsonio.to_float(status.get("submission_time_s")),
      "cores": ",".join(map(str, (meta.get("worker") or {}).get("cores", ())))
               or None,
      "started_unix": _jsonio.to_float(
          (status.get("owner") or {}).get("started_unix")),
      "finished_unix": _jsonio.to_float(status.get("finished_unix")),
      **result,
  }


def load_trial(entry: dict[str, Any],
               targets: Mapping[str, float] | None = None) -> dict[str, Any]:
  """One row of the trials table from a run dir (see :func:`load_trials`).

  A trial with a file that cannot be read (truncated, corrupt, or not what
  a run writes) gets status ``unreadable`` and, as its message, what is
  wrong with which file (also logged as a warning); it is not scored.
  """
  try:
    row = _read_trial(entry, targets)
  except _CONTENT_ERRORS as e:
    why = str(e) if isinstance(e, rundir_lib.RunDirError) else (
        f"{entry['run_dir']}: a file does not hold what a run writes "
        f"({type(e).__name__}: {e})")
    _log.warning("unreadable trial, not scored: %s", why)
    row = {"workload": entry.get("workload"),
           "submission": entry.get("submission"), "seed": entry.get("seed"),
           "division": division_of(entry, entry.get("hparams") or {}),
           "hparams": json.dumps(entry.get("hparams") or {}, sort_keys=True),
           "status": UNREADABLE, "message": why, "reached": False}
  row.update(study=entry["study"] if entry.get("study") is not None else 0,
             trial=entry.get("trial"), run_dir=entry["run_dir"],
             failed=row["status"] in rundir_lib.STOPPED_STATUSES)
  return {c: row.get(c, math.nan) for c in _COLUMNS}


def _is_a_run(row: Mapping[str, Any]) -> bool:
  """Whether a row comes from a run: it names its workload, or its folder
  holds a status.json (an unreadable run is still listed); a folder that
  merely holds some file called meta.json is not a run."""
  workload = row.get("workload")
  if isinstance(workload, str) and workload:
    return True
  folder = rundir_lib.RunDir(row["run_dir"])
  return os.path.exists(folder.file(rundir_lib.STATUS))


def load_trials(paths: Iterable[str],
                targets: Mapping[str, float] | None = None) -> pd.DataFrame:
  """One row per trial found under ``paths``.

  ``targets`` (``{workload label: target train objective}``) overrides the
  target recorded in the runs' meta.json for those workloads (the
  time-to-target is computed from the steps table, so any target works).

  Columns: workload, submission, division (:func:`division_of`), study,
  trial, seed, hparams (JSON), status
  (a final status, ``incomplete`` or ``unreadable``), message (for an
  unreadable trial: the file and what is wrong), failed (status error or
  interrupted),
  hardware_id, device, regime, target, step_flops, steps_run,
  final_objective, submission_time_s, reached, time_to_target,
  steps_to_target, flops_to_target, evals_to_target, run_dir.  Trials of a
  submission on a workload without sweep indices are numbered in path order
  (study 0).
  """
  paths = list(paths)
  rows = [row for row in (load_trial(e, targets) for e in find_runs(paths))
          if _is_a_run(row)]
  if not rows:
    raise ValueError(f"no runs found under {list(paths)} (a run folder "
                     "holds the status.json and meta.json that edgeperf-run "
                     "writes)")
  df = pd.DataFrame(rows)
  missing = df["trial"].isna()
  if missing.any():
    numbers = df[missing].groupby(["workload", "submission"],
                                  dropna=False).cumcount()
    df.loc[missing, "trial"] = numbers
  df["trial"] = df["trial"].astype(int)
  df["study"] = df["study"].astype(int)
  return df
