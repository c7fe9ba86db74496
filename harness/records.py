"""The run directory: atomic JSON files and append-only tables.

Layout (WORKSPACE.md, "Run directory")::

    <run_dir>/hparams.json       hyperparameters
    <run_dir>/meta.json          workload, submission, seed, fingerprint
    <run_dir>/steps.csv          one row per step
    <run_dir>/evals.csv          one row per evaluation
    <run_dir>/diagnostics.csv    one row per diagnostic step (if diag_every)
    <run_dir>/status.json        outcome; written last

While a run is going its tables are ``<table>.csv.partial`` (appended once
per chunk, never rewritten) and ``status.json`` says ``running``.  At the end
each table is renamed into place and ``status.json`` is replaced atomically,
so a killed run never leaves a file that looks complete.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

FINAL_STATUSES = ("target_reached", "budget_exhausted", "completed",
                  "diverged", "error")
STATUSES = ("running",) + FINAL_STATUSES

STEP_COLUMNS = ("step", "objective", "learning_rate", "time_s",
                "value_evals", "grad_evals", "jvp_evals", "hvp_evals")
EVAL_COLUMNS = ("step", "time_s", "train_objective", "train_data_loss",
                "train_accuracy", "eval_objective", "eval_data_loss",
                "eval_accuracy")


def _jsonable(value: Any) -> Any:
  """Converts numpy scalars/arrays and non-finite floats for strict JSON."""
  if isinstance(value, Mapping):
    return {str(k): _jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, np.ndarray):
    return _jsonable(value.tolist())
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float) and not math.isfinite(value):
    return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
  return value


def atomic_write_json(path: str, data: Mapping[str, Any]) -> None:
  """Writes JSON to a temporary file in the same folder, then renames it."""
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-",
                             suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(_jsonable(data), f, indent=2, sort_keys=True)
      f.write("\n")
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def read_json(path: str) -> dict[str, Any]:
  with open(path) as f:
    return json.load(f)


class TableWriter:
  """Append-only CSV: rows go to ``<name>.partial``; :meth:`close` renames."""

  def __init__(self, path: str, columns: Sequence[str]):
    self.path, self.columns = path, tuple(columns)
    self.partial = path + ".partial"
    self._file = open(self.partial, "w", newline="")
    self._writer = csv.writer(self._file)
    self._writer.writerow(self.columns)
    self._file.flush()

  def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
    """Appends rows (mappings with every column) and flushes."""
    for row in rows:
      self._writer.writerow([_format(row[c]) for c in self.columns])
    self._file.flush()

  def close(self) -> None:
    """Flushes to disk and renames the table into place."""
    if self._file.closed:
      return
    self._file.flush()
    os.fsync(self._file.fileno())
    self._file.close()
    os.replace(self.partial, self.path)


def _format(value: Any) -> Any:
  if isinstance(value, np.generic):
    value = value.item()
  if isinstance(value, float):
    return repr(value)  # round-trips exactly; 'nan'/'inf' read by pandas
  return value


def is_final(run_dir: str) -> bool:
  """True when ``run_dir`` holds a finished run (a final status.json)."""
  path = os.path.join(run_dir, "status.json")
  if not os.path.exists(path):
    return False
  try:
    return read_json(path).get("status") in FINAL_STATUSES
  except (OSError, json.JSONDecodeError):
    return False
