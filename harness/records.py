"""What a run records: its tables, in memory and in the run folder
(:class:`Recorder`), and what it returns (:class:`RunResult`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd

from edgeperf.harness import rundir as rundir_lib


class Recorder:
  """Keeps the run's tables in memory and, with a run folder, on disk."""

  def __init__(self, run_dir: rundir_lib.RunDir | None):
    self.run_dir = run_dir
    self.rows: dict[str, list[dict[str, Any]]] = {
        t: [] for t in rundir_lib.TABLES}
    self._writers: dict[str, rundir_lib.TableWriter] = {}

  def append(self, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
      return
    self.rows[table].extend(rows)
    if self.run_dir is None:
      return
    if table not in self._writers:
      self._writers[table] = self.run_dir.table_writer(table)
    self._writers[table].append(rows)

  def close(self) -> None:
    for writer in self._writers.values():
      writer.close()

  def frame(self, table: str) -> pd.DataFrame:
    return pd.DataFrame(self.rows[table],
                        columns=list(rundir_lib.TABLES[table]))

  def last_objective(self) -> float | None:
    steps = self.rows["steps"]
    return steps[-1]["objective"] if steps else None


@dataclasses.dataclass
class RunResult:
  """What a run produced; tables are also in ``run_dir`` when one is given."""

  status: str
  message: str
  steps_run: int
  target_step: int | None
  target_time_s: float | None
  submission_time_s: float
  compile_time_s: float
  eval_time_s: float
  wall_time_s: float
  loop_wall_s: float  # the chunk loop (evals, logging in; compilation out)
  steps: pd.DataFrame
  evals: pd.DataFrame
  diagnostics: pd.DataFrame
  run_dir: str | None = None
  diag_time_s: float = 0.0  # the diagnostics' part of eval_time_s

  def summary(self) -> dict[str, Any]:
    last = self.steps["objective"].iloc[-1] if len(self.steps) else math.nan
    return {
        "status": self.status, "message": self.message,
        "steps_run": self.steps_run, "target_step": self.target_step,
        "target_time_s": self.target_time_s,
        "submission_time_s": self.submission_time_s,
        "compile_time_s": self.compile_time_s,
        "wall_time_s": self.wall_time_s, "final_objective": float(last),
    }
