"""Runs one submission on one workload, timed, and records everything.

The clock covers submission work only: the chunk of jitted steps, ended by
``block_until_ready``.  Compilation (ahead of time, per chunk length) is
timed separately; evaluation, diagnostics, batch assembly and logging run
outside the clock.  Within a chunk the chunk's time is spread evenly over
its steps, so ``steps.csv``'s ``time_s`` is the cumulative submission time at
the end of each step.

A run ends with one status (``status.json``):
  * ``target_reached``: the train objective reached the workload's target
    (sticky: the run stops at the end of that chunk).  In full batch the
    per-step objective f(w_t) is checked; in mini-batch, the full train
    objective at each evaluation.
  * ``budget_exhausted``: step or time budget spent without the target.
  * ``completed``: ran ``max_steps`` on a workload with no target set.
  * ``diverged``: a NaN or ±inf objective (the run stops there).
  * ``error``: an exception (message and traceback recorded, then re-raised).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import time
import traceback
from typing import Any, Callable, Mapping

import jax
import numpy as np
import optax
import pandas as pd
import tqdm

from edgeperf.harness import fingerprint
from edgeperf.harness import records
from edgeperf.harness import step as step_lib
from edgeperf.submissions import api
from edgeperf.workloads import base

DiagnosticsFn = Callable[[Any, Any, int], Mapping[str, float]]


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
  wall_time_s: float
  loop_wall_s: float  # the chunk loop (evals, logging in; compilation out)
  steps: pd.DataFrame
  evals: pd.DataFrame
  diagnostics: pd.DataFrame
  run_dir: str | None = None

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


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(
      timespec="seconds")


def step_flops(step: step_lib.StepFn, params: Any, opt_state: Any,
               batch: Any) -> float | None:
  """FLOPs of one step from XLA's cost analysis of the lowered HLO, if static."""
  try:
    analysis = jax.jit(step).lower(params, opt_state, batch).cost_analysis()
  except Exception:  # pylint: disable=broad-except  # backend-dependent
    return None
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  if not analysis or "flops" not in analysis:
    return None
  flops = float(analysis["flops"])
  return flops if flops > 0 else None


class _Recorder:
  """Collects rows in memory and, with a run directory, appends to disk."""

  def __init__(self, run_dir: str | None):
    self.run_dir = run_dir
    self.rows: dict[str, list[dict[str, Any]]] = {
        "steps": [], "evals": [], "diagnostics": []}
    self._writers: dict[str, records.TableWriter] = {}
    self._columns = {"steps": records.STEP_COLUMNS,
                     "evals": records.EVAL_COLUMNS}

  def append(self, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
      return
    self.rows[table].extend(rows)
    if self.run_dir is None:
      return
    if table not in self._writers:
      columns = self._columns.get(table) or tuple(rows[0])
      self._columns[table] = columns
      self._writers[table] = records.TableWriter(
          os.path.join(self.run_dir, f"{table}.csv"), columns)
    self._writers[table].append(rows)

  def close(self) -> None:
    for writer in self._writers.values():
      writer.close()

  def frame(self, table: str) -> pd.DataFrame:
    columns = self._columns.get(table)
    return pd.DataFrame(self.rows[table], columns=columns)


def _boundaries(total: int, every: tuple[int, ...]) -> list[int]:
  """Chunk ends: every multiple of each positive period, and ``total``."""
  ends = {total}
  for period in every:
    if period > 0:
      ends.update(range(period, total, period))
  return sorted(ends)


def run(workload: base.Workload,
        tx: optax.GradientTransformationExtraArgs,
        *,
        seed: int = 0,
        run_dir: str | None = None,
        hparams: Mapping[str, Any] | None = None,
        submission: Mapping[str, Any] | None = None,
        max_steps: int | None = None,
        eval_every: int | None = None,
        chunk_mode: str | None = None,
        diag_every: int = 0,
        diagnostics_fn: DiagnosticsFn | None = None,
        stop_at_target: bool = True,
        progress: bool = True) -> RunResult:
  """Trains ``workload`` with ``tx`` from ``seed`` and records the run.

  Args:
    workload: the workload (owns data, objective, target and budgets).
    tx: the tuner, as returned by a submission's ``make_tuner``.
    seed: PRNG seed of the initial parameters and of mini-batch order.
    run_dir: folder to write the run to (created; must not hold a finished
      run).  None keeps everything in memory.
    hparams: recorded in ``hparams.json``.
    submission: ``{"name", "path"}`` recorded in ``meta.json``.
    max_steps: step budget (default: the workload's ``step_budget``).
    eval_every: steps between evaluations (default: the workload's).
    chunk_mode: ``scan``, ``scan_unrolled`` or ``loop`` (default: the
      workload's measured-fastest mode).
    diag_every: run curvature diagnostics every this many steps (0: never).
    diagnostics_fn: ``(params, opt_state, step) -> row``; default
      :func:`edgeperf.harness.diagnostics.make_diagnostics_fn`.
    stop_at_target: stop once the target is reached (off when setting
      targets: the run then goes to ``max_steps``).
    progress: show a progress bar (step, loss, lr) on stderr.

  Returns:
    A :class:`RunResult`.  An exception inside the run is recorded as status
    ``error`` and re-raised.
  """
  total = int(max_steps if max_steps is not None else workload.step_budget)
  eval_every = int(eval_every or workload.eval_every)
  mode = chunk_mode or workload.chunk_mode
  if total <= 0 or eval_every <= 0 or diag_every < 0:
    raise ValueError(
        f"max_steps ({total}) and eval_every ({eval_every}) must be > 0 and "
        f"diag_every ({diag_every}) >= 0")
  if mode not in base.CHUNK_MODES:
    raise ValueError(f"chunk_mode must be one of {base.CHUNK_MODES}, got "
                     f"{mode!r}")
  target = workload.target_train_loss
  wall_start = time.perf_counter()
  if run_dir is not None:
    if records.is_final(run_dir):
      raise FileExistsError(
          f"{run_dir} already holds a finished run; choose another "
          "output directory or delete it")
    os.makedirs(run_dir, exist_ok=True)
  recorder = _Recorder(run_dir)
  state = {"status": "running", "message": "", "steps_run": 0,
           "target_step": None, "target_time_s": None,
           "submission_time_s": 0.0, "compile_time_s": 0.0}

  def write_status(final: bool) -> None:
    if run_dir is None:
      return
    status = dict(state, target_train_loss=target,
                  wall_time_s=time.perf_counter() - wall_start)
    steps = recorder.rows["steps"]
    status["final_objective"] = steps[-1]["objective"] if steps else None
    if final:
      status["finished_at"] = _now()
    records.atomic_write_json(os.path.join(run_dir, "status.json"), status)

  try:
    params = workload.init(jax.random.key(seed))
    opt_state = tx.init(params)
    train_step = step_lib.make_train_step(workload, tx)
    full_batch = workload.regime.is_full_batch
    train_data = workload.full_train_batch() if full_batch else None
    example = (train_data if full_batch else jax.tree.map(
        jax.numpy.asarray, workload.stacked_batches(seed, 0, 1)))
    one_batch = example if full_batch else jax.tree.map(lambda x: x[0],
                                                        example)
    if run_dir is not None:
      hw = fingerprint.hardware_fingerprint()
      records.atomic_write_json(os.path.join(run_dir, "hparams.json"),
                                dict(hparams or {}))
      records.atomic_write_json(os.path.join(run_dir, "meta.json"), {
          "workload": workload.describe(),
          "submission": dict(submission or {}),
          "seed": seed, "hparams": dict(hparams or {}),
          "fingerprint": hw, "hardware_id": fingerprint.hardware_id(hw),
          "software": fingerprint.software_versions(),
          "git_commit": fingerprint.git_commit(),
          "step_flops": step_flops(train_step, params, opt_state, one_batch),
          "max_steps": total, "eval_every": eval_every, "chunk_mode": mode,
          "diag_every": diag_every, "started_at": _now(),
      })
      write_status(final=False)

    eval_fn = jax.jit(workload.metrics)
    eval_train = workload.full_train_batch()
    eval_held = workload.eval_batch()
    if diag_every and diagnostics_fn is None:
      from edgeperf.harness import diagnostics  # pylint: disable=g-import-not-at-top
      diagnostics_fn = diagnostics.make_diagnostics_fn(workload, tx,
                                                       seed=seed)

    def evaluate(at_step: int, time_s: float) -> None:
      at = api.eval_params(opt_state, params)  # schedule-free: its average
      train_m = eval_fn(at, eval_train)
      held_m = eval_fn(at, eval_held)
      row = {"step": at_step, "time_s": time_s}
      for prefix, metrics in (("train", train_m), ("eval", held_m)):
        for name, value in metrics.items():
          row[f"{prefix}_{name}"] = float(value)
      recorder.append("evals", [row])

    compiled: dict[int, step_lib.CompiledChunk] = {}
    clock = 0.0
    evaluate(0, 0.0)
    if diag_every:
      recorder.append("diagnostics",
                      [dict(diagnostics_fn(params, opt_state, 0))])
    bar = tqdm.tqdm(total=total, desc=f"{workload.name}", unit="step",
                    disable=not progress, leave=False, dynamic_ncols=True)
    start = 0
    loop_start = time.perf_counter()
    for end in _boundaries(total, (eval_every, diag_every)):
      length = end - start
      if full_batch:
        data = train_data
      else:
        data = jax.tree.map(jax.numpy.asarray,
                            workload.stacked_batches(seed, start, length))
      if length not in compiled:
        compiled[length] = step_lib.CompiledChunk(
            train_step, mode, length, full_batch, (params, opt_state, data))
        state["compile_time_s"] += compiled[length].compile_s
      tick = time.perf_counter()
      params, opt_state, recs = compiled[length](params, opt_state, data)
      jax.block_until_ready((params, opt_state, recs))
      elapsed = time.perf_counter() - tick
      recs = jax.device_get(recs)
      objective = np.asarray(recs["objective"], np.float64)
      times = clock + elapsed * np.arange(1, length + 1) / length
      clock += elapsed
      bad = np.flatnonzero(~np.isfinite(objective))
      keep = length if bad.size == 0 else int(bad[0]) + 1
      rows = []
      for i in range(keep):
        row = {"step": start + i, "objective": float(objective[i]),
               "time_s": float(times[i])}
        row["learning_rate"] = float(recs["learning_rate"][i])
        for name in api.EVAL_COUNTERS:
          row[name] = int(recs[name][i])
        rows.append(row)
      recorder.append("steps", rows)
      state["submission_time_s"] = float(times[keep - 1])
      state["steps_run"] = start + keep
      bar.update(keep)
      bar.set_postfix(loss=f"{objective[keep - 1]:.4g}",
                      lr=f"{float(recs['learning_rate'][keep - 1]):.3g}")
      if target is not None and state["target_step"] is None and full_batch:
        hit = np.flatnonzero(objective[:keep] <= target)
        if hit.size:  # sticky: a later divergence does not undo it
          state["target_step"] = start + int(hit[0])
          state["target_time_s"] = float(times[hit[0]])
      if bad.size:
        state["message"] = (f"non-finite objective {objective[keep - 1]} at "
                            f"step {start + keep - 1}")
        if state["target_step"] is None:
          state["status"] = "diverged"
        break
      evaluate(end, clock)
      if (target is not None and state["target_step"] is None and
          not full_batch):
        train_objective = recorder.rows["evals"][-1]["train_objective"]
        if train_objective <= target:
          state["target_step"], state["target_time_s"] = end, clock
      if diag_every and (end % diag_every == 0 or end == total):
        recorder.append("diagnostics",
                        [dict(diagnostics_fn(params, opt_state, end))])
      write_status(final=False)
      start = end
      if state["target_step"] is not None and stop_at_target:
        break
      if clock >= workload.time_budget_s:
        state["message"] = (f"time budget {workload.time_budget_s} s spent "
                            f"after {end} steps")
        break
    bar.close()
    state["loop_wall_s"] = (time.perf_counter() - loop_start -
                            state["compile_time_s"])
    if state["status"] == "running":
      if state["target_step"] is not None:
        state["status"] = "target_reached"
        state["message"] = (f"target {target:.6g} reached at step "
                            f"{state['target_step']}" +
                            (f"; then {state['message']}"
                             if state["message"] else ""))
      elif target is None:
        state["status"] = "completed"
        state["message"] = (state["message"] or
                            f"ran {state['steps_run']} steps (no target set "
                            f"for {workload.key})")
      else:
        state["status"] = "budget_exhausted"
        state["message"] = (state["message"] or
                            f"step budget {total} spent without reaching "
                            f"target {target:.6g}")
    recorder.close()
    write_status(final=True)
  except BaseException as e:
    state["status"] = "error"
    state["message"] = f"{type(e).__name__}: {e}"
    state["traceback"] = traceback.format_exc()
    try:
      recorder.close()
      write_status(final=True)
    except Exception:  # pylint: disable=broad-except
      pass
    raise
  return RunResult(
      status=state["status"], message=state["message"],
      steps_run=state["steps_run"], target_step=state["target_step"],
      target_time_s=state["target_time_s"],
      submission_time_s=state["submission_time_s"],
      compile_time_s=state["compile_time_s"],
      wall_time_s=time.perf_counter() - wall_start,
      loop_wall_s=state["loop_wall_s"],
      steps=recorder.frame("steps"), evals=recorder.frame("evals"),
      diagnostics=recorder.frame("diagnostics"), run_dir=run_dir)
