"""The run directory: the one module that writes and reads a run's files.

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
so a killed run never leaves a file that looks complete.  JSON files encode
∞ as ``"inf"`` and NaN as ``null`` (:mod:`edgeperf._jsonio`); CSV floats are
written with ``repr`` (they round-trip exactly; ``nan``/``inf`` read back).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import os
import socket
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from edgeperf import _jsonio

HPARAMS, META, STATUS = "hparams.json", "meta.json", "status.json"
RUNNING = "running"
FINAL_STATUSES = ("target_reached", "budget_exhausted", "completed",
                  "diverged", "error")
"""Statuses of a finished run (``status.json``); anything else is unfinished."""

STEP_COLUMNS = ("step", "objective", "learning_rate", "time_s",
                "value_evals", "grad_evals", "jvp_evals", "hvp_evals")
EVAL_COLUMNS = ("step", "time_s", "train_objective", "train_data_loss",
                "train_accuracy", "eval_objective", "eval_data_loss",
                "eval_accuracy")
DIAGNOSTIC_COLUMNS = (
    "step", "objective", "learning_rate", "grad_norm", "sharpness",
    "sharpness_hvps", "eta_sharpness", "precond_sharpness",
    "eta_precond_sharpness", "uhu", "update_curvature", "alignment",
    "update_cosine")
TABLES = {"steps": STEP_COLUMNS, "evals": EVAL_COLUMNS,
          "diagnostics": DIAGNOSTIC_COLUMNS}
"""Every table of a run and its columns, in order."""

_STATUS_FLOATS = ("target_time_s", "submission_time_s", "compile_time_s",
                  "wall_time_s", "loop_wall_s", "final_objective",
                  "target_train_loss")


class RunDirError(ValueError):
  """A run directory that cannot be used as asked; the message names it."""


class RunDirBusy(RunDirError):
  """Another run holds the run directory."""


class RunDirFinished(RunDirError, FileExistsError):
  """The run directory already holds a finished run."""


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


class RunDir:
  """A run directory: its files, read and written only through here."""

  def __init__(self, path: str | os.PathLike[str]):
    self.path = os.fspath(path)

  def __repr__(self) -> str:
    return f"RunDir({self.path!r})"

  def file(self, name: str) -> str:
    return os.path.join(self.path, name)

  def table_path(self, table: str) -> str:
    if table not in TABLES:
      raise ValueError(f"unknown table {table!r}; a run has {list(TABLES)}")
    return self.file(f"{table}.csv")

  # ------------------------------------------------------------ reading --
  def _json(self, name: str) -> dict[str, Any] | None:
    path = self.file(name)
    try:
      data = _jsonio.read_json(path)
    except FileNotFoundError:
      return None
    except _jsonio.JsonFileError as e:
      raise RunDirError(str(e)) from None
    if not isinstance(data, dict):
      raise RunDirError(f"{path}: expected a JSON object, got "
                        f"{type(data).__name__}")
    return data

  def status(self) -> dict[str, Any] | None:
    """``status.json`` (∞ and NaN decoded to floats), or None if absent.

    Raises:
      RunDirError: the file exists but cannot be read (named).
    """
    status = self._json(STATUS)
    if status is not None:
      for key in _STATUS_FLOATS:
        if isinstance(status.get(key), str):
          status[key] = _jsonio.to_float(status[key])
    return status

  def meta(self) -> dict[str, Any] | None:
    """``meta.json``, or None if absent (RunDirError if unreadable)."""
    return self._json(META)

  def hparams(self) -> dict[str, Any] | None:
    """``hparams.json``, or None if absent (RunDirError if unreadable)."""
    return self._json(HPARAMS)

  def is_final(self) -> bool:
    """True when the run finished (a readable, final ``status.json``)."""
    try:
      status = self.status()
    except RunDirError:
      return False
    return status is not None and status.get("status") in FINAL_STATUSES

  def table(self, table: str, *, partial: bool = False) -> pd.DataFrame | None:
    """A table as a DataFrame, or None when the run has none.

    Args:
      table: ``steps``, ``evals`` or ``diagnostics``.
      partial: fall back to ``<table>.csv.partial`` (a run still going or
        cut off) when the final table is absent.

    Raises:
      RunDirError: the file exists but is not a readable CSV (named).
    """
    path = self.table_path(table)
    if partial and not os.path.exists(path):
      path += ".partial"
    if not os.path.exists(path):
      return None
    try:
      return pd.read_csv(path)
    except pd.errors.EmptyDataError:
      return pd.DataFrame(columns=list(TABLES[table]))
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
      raise RunDirError(f"{path}: not a readable CSV table ({e})") from None

  # ------------------------------------------------------------ writing --
  def write_json(self, name: str, data: Mapping[str, Any]) -> None:
    """Writes one of the run's JSON files atomically."""
    _jsonio.atomic_write_json(self.file(name), data)

  def write_status(self, status: Mapping[str, Any]) -> None:
    self.write_json(STATUS, status)

  def table_writer(self, table: str) -> TableWriter:
    """An append-only writer of ``table`` (see :class:`TableWriter`)."""
    return TableWriter(self.table_path(table), TABLES[table])

  @contextlib.contextmanager
  def owned(self) -> Iterator["RunDir"]:
    """Creates the folder and holds it for the ``with`` block.

    The hold is an exclusive ``flock`` on the folder itself, released by the
    kernel even when the process is killed; the holder writes its pid and
    host into ``status.json`` (:func:`owner`), so a refused second run can
    name it.

    Raises:
      RunDirBusy: another run holds the folder.
      RunDirFinished: the folder already holds a finished run.
    """
    os.makedirs(self.path, exist_ok=True)
    fd = os.open(self.path, os.O_RDONLY)
    try:
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        raise RunDirBusy(
            f"{self.path} is in use by another run ({self._holder()}); wait "
            "for it to finish or choose another output directory") from None
      if self.is_final():
        raise RunDirFinished(
            f"{self.path} already holds a finished run; choose another "
            "output directory or delete it")
      yield self
    finally:
      os.close(fd)

  def _holder(self) -> str:
    try:
      status = self.status() or {}
    except RunDirError:
      status = {}
    who = status.get("owner") or {}
    if not who:
      return "owner unknown"
    return (f"pid {who.get('pid')} on {who.get('host')}, started "
            f"{who.get('started_at')}")


def owner() -> dict[str, Any]:
  """Who is writing: this process's pid and host (recorded in
  ``status.json`` while a run holds its folder)."""
  return {"pid": os.getpid(), "host": socket.gethostname()}
