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
so a killed run never leaves a file that looks complete.  A new run never
overwrites what it cannot read: :meth:`RunDir.owned` moves such a folder
aside (:meth:`RunDir.quarantine`), and replaces only a run that stopped
before its first step (:meth:`RunDir.is_replaceable`).  JSON files encode
∞ as ``"inf"`` and NaN as ``null`` (:mod:`edgeperf._jsonio`); CSV floats are
written with ``repr`` (they round-trip exactly; ``nan``/``inf`` read back).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import logging
import os
import socket
import time
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from edgeperf import _jsonio

HPARAMS, META, STATUS = "hparams.json", "meta.json", "status.json"
RUNNING = "running"
ERROR, INTERRUPTED = "error", "interrupted"
FINAL_STATUSES = ("target_reached", "budget_exhausted", "completed",
                  "diverged", ERROR, INTERRUPTED)
"""Statuses of a finished run (``status.json``); anything else is unfinished."""
STOPPED_STATUSES = (ERROR, INTERRUPTED)
"""Final statuses of a run stopped before its end (a crash, or SIGINT /
SIGTERM): never scored as reaching the target."""
REPLACEABLE_NOTE = ("no step ran, so the next run into this folder replaces "
                    "this record")
"""Said in the message of a stopped run with no step (:meth:`RunDir.
is_replaceable`)."""
QUARANTINE_TAG = ".unreadable-"
"""A folder moved aside by :meth:`RunDir.quarantine` is named
``<run_dir>.unreadable-<UTC time>``."""

_log = logging.getLogger(__name__)

STEP_COLUMNS = ("step", "objective", "learning_rate", "time_s",
                "value_evals", "grad_evals", "jvp_evals", "hvp_evals")
EVAL_COLUMNS = ("step", "time_s", "train_objective", "train_data_loss",
                "train_accuracy", "eval_objective", "eval_data_loss",
                "eval_accuracy")
DIAGNOSTIC_COLUMNS = (
    "step", "objective", "learning_rate", "grad_norm", "sharpness",
    "sharpness_hvps", "eta_sharpness", "precond_sharpness",
    "eta_precond_sharpness", "uhu", "update_curvature", "alignment",
    "update_cosine", "qg_decrease", "edge_decrease")
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


def _last_line_cut(path: str) -> bool:
  """True when a non-empty file does not end with a newline (every table
  row is written whole, newline included)."""
  with open(path, "rb") as f:
    f.seek(0, os.SEEK_END)
    if f.tell() == 0:
      return False
    f.seek(-1, os.SEEK_END)
    return f.read(1) != b"\n"


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
      RunDirError: the file exists but is not a readable CSV, or (a final
        table) its last line is cut off; the message names it.
    """
    path = self.table_path(table)
    if partial and not os.path.exists(path):
      path += ".partial"
    if not os.path.exists(path):
      return None
    if not path.endswith(".partial") and _last_line_cut(path):
      raise RunDirError(f"{path}: its last line is cut off; the file is "
                        "truncated")
    try:
      return pd.read_csv(path)
    except pd.errors.EmptyDataError:
      return pd.DataFrame(columns=list(TABLES[table]))
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
      raise RunDirError(f"{path}: not a readable CSV table ({e})") from None

  def _has_steps(self) -> bool:
    path = self.table_path("steps")
    return os.path.exists(path) or os.path.exists(path + ".partial")

  def is_replaceable(self) -> bool:
    """True when the folder holds only a run stopped before its first step.

    That is a readable ``status.json`` saying ``error`` or ``interrupted``
    with ``steps_run`` 0, and no steps table: a mistyped command (unknown
    hyperparameter, workload, size...) or a run stopped while compiling.
    :meth:`owned` replaces such a run; :meth:`is_final` still counts it
    finished (a sweep reads why its trial failed).
    """
    try:
      status = self.status()
    except RunDirError:
      return False
    return (status is not None and status.get("status") in STOPPED_STATUSES
            and status.get("steps_run") == 0 and not self._has_steps())

  def unreadable(self) -> str | None:
    """Why the folder holds a run that cannot be read, or None.

    A run cannot be read when its ``status.json`` is not readable JSON, or
    when it holds a complete ``steps.csv`` but no final status (missing or
    still ``running``: cut off between the two renames, or a status lost).
    Such a folder is never overwritten: see :meth:`quarantine`.
    """
    try:
      status = self.status()
    except RunDirError as e:
      return str(e)
    if os.path.exists(self.table_path("steps")) and (
        status is None or status.get("status") not in FINAL_STATUSES):
      said = ("is missing" if status is None else
              f"says {status.get('status')!r}")
      return (f"{self.table_path('steps')} holds a complete table but "
              f"{self.file(STATUS)} {said}")
    return None

  # ------------------------------------------------------------ writing --
  def write_json(self, name: str, data: Mapping[str, Any]) -> None:
    """Writes one of the run's JSON files atomically."""
    _jsonio.atomic_write_json(self.file(name), data)

  def write_status(self, status: Mapping[str, Any]) -> None:
    self.write_json(STATUS, status)

  def table_writer(self, table: str) -> TableWriter:
    """An append-only writer of ``table`` (see :class:`TableWriter`)."""
    return TableWriter(self.table_path(table), TABLES[table])

  def quarantine(self, tag: str = QUARANTINE_TAG) -> str:
    """Moves the folder aside, untouched, and returns where it went.

    The new name is ``<path><tag><UTC time>`` (``-2``, ``-3``... if taken;
    ``tag`` is ``.unreadable-`` by default), beside the folder; ``path`` is
    then free for a new run.  For a folder whose run cannot be read
    (:meth:`unreadable`; :meth:`owned` does it itself), or a failed run a
    sweep retries.  Do not call it inside :meth:`owned`.

    Raises:
      RunDirBusy: a run holds the folder.
    """
    fd = self._lock()
    try:
      return self._move_aside(tag)
    finally:
      os.close(fd)

  @contextlib.contextmanager
  def owned(self) -> Iterator["RunDir"]:
    """Creates the folder and holds it for the ``with`` block.

    The hold is an exclusive ``flock`` on the folder itself, released by the
    kernel even when the process is killed; the holder writes its pid and
    host into ``status.json`` (:func:`owner`), so a refused second run can
    name it.  A run that stopped before its first step
    (:meth:`is_replaceable`) is deleted; a run that cannot be read
    (:meth:`unreadable`) is moved aside (:meth:`quarantine`), with a warning
    on the ``edgeperf`` logger naming both folders.  A run cut off with
    ``.partial`` tables is started again.

    Raises:
      RunDirBusy: another run holds the folder.
      RunDirFinished: the folder already holds a finished run.
    """
    os.makedirs(self.path, exist_ok=True)
    fd = self._lock()
    try:
      if self.is_final():
        if not self.is_replaceable():
          raise RunDirFinished(
              f"{self.path} already holds a finished run; choose another "
              "output directory or delete it")
        self._remove_run_files()
      else:
        why = self.unreadable()
        if why is not None:
          moved = self._move_aside()
          os.close(fd)
          fd = None
          os.makedirs(self.path)
          fd = self._lock()
          _log.warning("%s; the run there was moved aside, untouched, to %s",
                       why, moved)
      yield self
    finally:
      if fd is not None:
        os.close(fd)

  def _lock(self) -> int:
    """An open descriptor of the folder holding its exclusive flock."""
    fd = os.open(self.path, os.O_RDONLY)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      raise RunDirBusy(
          f"{self.path} is in use by another run ({self._holder()}); wait "
          "for it to finish or choose another output directory") from None
    return fd

  def _move_aside(self, tag: str = QUARANTINE_TAG) -> str:
    base = (os.path.normpath(self.path) + tag +
            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
    target, n = base, 1
    while os.path.lexists(target):
      n += 1
      target = f"{base}-{n}"
    os.rename(self.path, target)
    return target

  def _remove_run_files(self) -> None:
    """Deletes the files a run writes (nothing else in the folder)."""
    paths = [self.file(name) for name in (HPARAMS, META, STATUS)]
    for table in TABLES:
      paths += [self.table_path(table), self.table_path(table) + ".partial"]
    for path in paths:
      with contextlib.suppress(FileNotFoundError):
        os.unlink(path)

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
