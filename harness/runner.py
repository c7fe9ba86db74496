"""Runs one submission on one workload, timed, and records everything.

The timing rule: the clock covers submission work only — a chunk of jitted
steps, ended by ``block_until_ready``.  Compilation (ahead of time, once per
chunk shape) is timed separately; evaluation, diagnostics, batch assembly
and logging run outside the clock.  A chunk's time is spread evenly over its
steps, so ``steps.csv``'s ``time_s`` is the cumulative submission time at the
end of each step.  Chunks end at every evaluation and diagnostic step.

Before anything is allocated, the first chunk is compiled from abstract
shapes; XLA's memory analysis of it, with the data kept beside it, is
recorded in ``meta.json`` and a run that would not fit the device is
refused (:mod:`edgeperf.harness.memory`).  Mini-batches reach the device
through a background thread, a few chunks ahead
(:mod:`edgeperf.harness.pipeline`), so batch assembly never holds the step
up.  With several local devices the batch is split over them and the
parameters replicated (:mod:`edgeperf.harness.parallel`).

A run ends with one status (:func:`final_status`):
  * ``target_reached``: the train objective reached the workload's target
    (:mod:`edgeperf.harness.reach`); the run stops at the end of that chunk.
  * ``budget_exhausted``: step or time budget spent without the target.
  * ``completed``: ran ``max_steps`` on a workload with no target set.
  * ``diverged``: a NaN or ±inf objective before the target (the run stops).
  * ``error``: an exception (message and traceback recorded, then re-raised).
  * ``interrupted``: SIGINT or SIGTERM.  The run stops at the end of the
    chunk under way, makes its tables final and raises
    :class:`RunInterrupted`; a second signal stops it at once.

A run that stopped (error, interrupted) before its first step says so in its
message: the next run into its folder replaces it
(:meth:`edgeperf.harness.rundir.RunDir.is_replaceable`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, Iterator, Mapping

import jax
import numpy as np
import optax
import pandas as pd
import tqdm

from edgeperf import _checks
from edgeperf.harness import fingerprint
from edgeperf.harness import memory as memory_lib
from edgeperf.harness import memory_profile
from edgeperf.harness import parallel
from edgeperf.harness import pipeline
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import reach
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness import step as step_lib
from edgeperf.submissions import api
from edgeperf.workloads import base

DiagnosticsFn = Callable[[Any, Any, int], Mapping[str, float]]


def _now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(
      timespec="seconds")


# ---------------------------------------------------------------- status --

REPEAT_FIRST_CALL_S = 1.0
"""A program's first execution (just compiled, or loaded from the
compilation cache) pays a one-time cost: 30 ms on ``linreg_digits``, whose
50-step chunk then takes 8 ms.  A first call shorter than this is run again
from the same inputs and the repeat is clocked (its one-time cost would be
3 % or more of it); a longer one is kept, its one-time cost a small part."""


@dataclasses.dataclass
class RunStatus:
  """Where a run stands; written to ``status.json`` after every chunk."""

  status: str = rundir_lib.RUNNING
  message: str = ""
  steps_run: int = 0
  target_step: int | None = None
  target_time_s: float | None = None
  submission_time_s: float = 0.0
  compile_time_s: float = 0.0
  warmup_time_s: float = 0.0  # first executions run again (off the clock)
  eval_time_s: float = 0.0  # evaluations and diagnostics (off the clock)
  diag_time_s: float = 0.0  # the diagnostics' part of eval_time_s
  loop_wall_s: float | None = None
  diverged_at: int | None = None  # step of the first non-finite objective
  stopped_by_time: bool = False  # the time budget ended the run
  traceback: str | None = None

  def record(self, *, target: float | None, wall_time_s: float,
             final_objective: float | None) -> dict[str, Any]:
    """The ``status.json`` document."""
    out = {k: v for k, v in dataclasses.asdict(self).items()
           if k not in ("diverged_at", "stopped_by_time", "traceback")}
    if self.traceback is not None:
      out["traceback"] = self.traceback
    out.update(target_train_loss=target, wall_time_s=wall_time_s,
               final_objective=final_objective)
    if self.status in rundir_lib.FINAL_STATUSES:
      out["finished_at"] = _now()
    return out


def final_status(run: RunStatus, *, target: float | None, budget: int,
                 key: str) -> tuple[str, str]:
  """The status and message a finished run gets, from what happened.

  A reached target wins (a later divergence does not undo it); then a
  divergence; then the budget (steps or time) or, without a target,
  ``completed``.
  """
  if run.target_step is not None:
    then = ""
    if run.diverged_at is not None:
      then = f"; then non-finite objective at step {run.diverged_at}"
    return ("target_reached",
            f"target {target:.6g} reached at step {run.target_step}{then}")
  if run.diverged_at is not None:
    return "diverged", f"non-finite objective at step {run.diverged_at}"
  if run.stopped_by_time:
    return ("budget_exhausted" if target is not None else "completed",
            f"time budget spent after {run.steps_run} steps")
  if target is None:
    return "completed", (f"ran {run.steps_run} steps (no target set for "
                         f"{key})")
  return "budget_exhausted", (f"step budget {budget} spent without reaching "
                              f"target {target:.6g}")


class RunInterrupted(BaseException):
  """A run stopped by SIGINT or SIGTERM (recorded as ``interrupted``).

  A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
  Exception`` swallows the stop.
  """

  def __init__(self, signum: int, message: str = ""):
    self.signum = signum
    super().__init__(message or f"interrupted by {_signal_name(signum)}")


def _signal_name(signum: int) -> str:
  try:
    return signal.Signals(signum).name
  except ValueError:
    return f"signal {signum}"


class _StopSignals:
  """SIGINT and SIGTERM during a run, turned into a stop at a safe point.

  The first signal asks the loop to stop at its next chunk boundary
  (:meth:`check` raises :class:`RunInterrupted` there), so the tables and
  ``steps_run`` agree.  A second signal raises at once — but Python runs a
  handler only between bytecodes, so while a compiled chunk executes it
  would wait for the chunk.  With ``on_second``, a watcher thread woken by
  the signal itself (``signal.set_wakeup_fd``) calls ``on_second(signum)``
  at once instead (the command line records the run and exits there).
  Handlers are set only in the main thread and not for a signal that is
  ignored, and the previous ones come back on exit.
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self, on_second: Callable[[int], None] | None = None):
    self.signum: int | None = None
    self._previous: dict[int, Any] = {}
    self._on_second = on_second
    self._wakeup: tuple[int, int] | None = None
    self._previous_fd = -1

  def __enter__(self) -> "_StopSignals":
    if threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None):
          continue
        self._previous[signum] = previous
        signal.signal(signum, self._handle)
      if self._on_second is not None and self._previous:
        self._start_watcher()
    return self

  def __exit__(self, *exc_info) -> None:
    for signum, previous in self._previous.items():
      signal.signal(signum, previous)
    if self._wakeup is not None:
      signal.set_wakeup_fd(self._previous_fd)
      read_end, write_end = self._wakeup
      self._wakeup = None
      os.close(write_end)  # ends the watcher's read
      os.close(read_end)

  def _start_watcher(self) -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    self._wakeup = (read_end, write_end)
    self._previous_fd = signal.set_wakeup_fd(write_end,
                                             warn_on_full_buffer=False)
    caught = {int(s) for s in self._previous}

    def watch():
      seen = 0
      while True:
        try:
          data = os.read(read_end, 64)
        except OSError:
          return
        if not data:
          return
        for signum in data:
          if signum in caught:
            seen += 1
            if seen >= 2:
              self._on_second(signum)
              return

    threading.Thread(target=watch, name="edgeperf-stop-signals",
                     daemon=True).start()

  def _handle(self, signum: int, frame: Any) -> None:
    del frame
    if self.signum is not None and self._wakeup is None:
      raise RunInterrupted(signum)  # (with a watcher, it acts instead)
    self.signum = signum

  def check(self) -> None:
    """Raises :class:`RunInterrupted` if a stop was asked."""
    if self.signum is not None:
      raise RunInterrupted(self.signum)


# ------------------------------------------------------------------ plan --

CHUNK_DATA_BYTES = 256 * 2**20
"""Most bytes of stacked mini-batches in one chunk: longer chunks are cut
(the prefetcher keeps a few chunks on the device)."""


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """The run's step budget and how it is cut into chunks."""

  total: int  # step budget
  eval_every: int
  diag_every: int
  chunk_mode: str
  max_chunk: int | None = None  # most steps per chunk (mini-batch data)

  @classmethod
  def make(cls, workload: base.Workload, *, max_steps: int | None,
           eval_every: int | None, chunk_mode: str | None,
           diag_every: int) -> "RunPlan":
    total = workload.step_budget if max_steps is None else max_steps
    max_chunk = None
    if not workload.regime.is_full_batch:
      per_step = workload.regime.batch_size * sum(
          v[0].nbytes for v in workload.train.values())
      max_chunk = max(1, CHUNK_DATA_BYTES // max(per_step, 1))
    plan = cls(total=total, eval_every=(workload.eval_every if eval_every is None
                                       else eval_every),
               diag_every=diag_every, chunk_mode=chunk_mode or
               workload.chunk_mode, max_chunk=max_chunk)
    _checks.integer("max_steps", plan.total, low=1)
    _checks.integer("eval_every (steps between evaluations; omit it for "
                    "the workload's)", plan.eval_every, low=1)
    _checks.integer("diag_every", plan.diag_every, low=0)
    _checks.one_of("chunk_mode", plan.chunk_mode, step_lib.CHUNK_MODES)
    return plan

  def chunks(self) -> Iterator[tuple[int, int]]:
    """(start, end) of each chunk: ends at every multiple of eval_every and
    diag_every, and at the budget; none longer than ``max_chunk``."""
    ends = {self.total}
    for period in (self.eval_every, self.diag_every):
      if period > 0:
        ends.update(range(period, self.total, period))
    start = 0
    for end in sorted(ends):
      while self.max_chunk and end - start > self.max_chunk:
        yield start, start + self.max_chunk
        start += self.max_chunk
      yield start, end
      start = end

  def diagnoses(self, step: int) -> bool:
    return bool(self.diag_every) and (step % self.diag_every == 0 or
                                      step == self.total)


# -------------------------------------------------------------- training --

EVAL_PIECE = 4096
"""Most examples evaluated in one call (but a full training batch is
evaluated whole); larger sets are evaluated in near-equal pieces and the
metrics averaged, weighted by piece size."""


def _pieces(n: int) -> list[tuple[int, int]]:
  """(start, end) of near-equal pieces of ``n`` examples (≤ EVAL_PIECE)."""
  count = -(-n // EVAL_PIECE)
  bounds = np.linspace(0, n, count + 1).round().astype(int)
  return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


class _Trainer:
  """Parameters, tuner state, data placement and compiled chunks of one run.

  Built from abstract shapes first (nothing allocated): the tuner is
  resolved and the first chunk compiled, so :meth:`budget` can refuse a run
  that would not fit the device; :meth:`start` then initialises the
  parameters and puts the data on the devices (split over them when
  :func:`~edgeperf.harness.parallel.auto_plan` finds several).
  """

  def __init__(self, workload: base.Workload, tuner: Any, seed: int,
               plan: RunPlan, programs: programs_lib.ProgramCache):
    self.workload, self.seed, self.mode = workload, seed, plan.chunk_mode
    self.programs = programs
    self.full_batch = workload.regime.is_full_batch
    self.chunks = list(plan.chunks())
    self.dp = parallel.auto_plan()
    self.batch = (workload.num_train if self.full_batch else
                  workload.regime.batch_size)
    replicated = None if self.dp is None else self.dp.replicated
    spec = step_lib.as_spec(tuner)
    self.tx = spec.build()
    self.abstract_params = parallel.abstract(workload.param_shapes(),
                                             replicated)
    self.abstract_opt_state = parallel.abstract(
        jax.eval_shape(self.tx.init, self.abstract_params), replicated)
    self.spec = programs.resolve(workload, spec, self.abstract_params,
                                 self.abstract_opt_state, self.one_batch())
    self.hp = programs_lib.values(self.spec)
    if self.dp is not None:
      self.hp = jax.device_put(self.hp, replicated)
    self.step_fn = programs.step(workload, self.spec)
    self.refreshes = step_lib.refresh_schedule(self.tx)
    self.compile_s = 0.0
    self.warmup_s = 0.0  # repeated first executions, off the clock
    self.step_s = 0.0  # seconds a step took in the last chunk
    self.params = self.opt_state = None
    self._train = None
    self._prefetch: pipeline.ChunkPrefetcher | None = None

  # -- shapes and placement ------------------------------------------------
  def _sharding(self, size: int, axis: int = 0) -> Any:
    return None if self.dp is None else self.dp.batch_sharding(size, axis)

  def abstract_data(self, length: int) -> Any:
    """The shapes (and shardings) of a chunk's data."""
    if self.full_batch:
      return parallel.abstract(self.workload.train,
                               self._sharding(self.batch))
    return {k: jax.ShapeDtypeStruct(
        (length, self.batch) + v.shape[1:], v.dtype,
        sharding=self._sharding(self.batch, 1))
            for k, v in self.workload.train.items()}

  def one_batch(self) -> Any:
    """One step's batch, abstract."""
    return memory_profile.abstract_batch(self.workload, self.dp)

  def data_parallel(self) -> dict[str, Any] | None:
    """For ``meta.json``: the data-parallel placement (None: one device)."""
    return None if self.dp is None else self.dp.describe(self.batch)

  # -- memory --------------------------------------------------------------
  def eval_sets(self) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """The train and held-out sets as (size, device batch) pieces.  Full
    batch: the train set is the training batch itself, whole (a forward
    pass needs less memory than the step that fits)."""
    out = []
    for arrays in self._eval_arrays():
      n = len(arrays["inputs"])
      out.append([(b - a, jax.device_put(
          {k: v[a:b] for k, v in arrays.items()}, self._sharding(b - a)))
                  for a, b in _pieces(n)])
    if self.full_batch:
      return [(self.batch, self._train)], out[0]
    return out[0], out[1]

  def _eval_arrays(self) -> list[Any]:
    """The host sets evaluation puts on the device."""
    if self.full_batch:
      return [self.workload.eval]
    return [self.workload.train, self.workload.eval]

  def _resident_bytes(self) -> int:
    """Bytes per device kept beside the chunk program: the prefetched
    chunks (mini-batch) and the evaluation sets."""
    devices = 1 if self.dp is None else self.dp.num_devices
    total = sum(memory_lib.array_bytes(arrays, devices)
                for arrays in self._eval_arrays())
    if not self.full_batch:
      longest = max(end - start for start, end in self.chunks)
      total += pipeline.DEPTH * memory_lib.array_bytes(
          self.abstract_data(longest), devices)
    return total

  def budget(self, limit: tuple[int | None, str] | None
             ) -> memory_lib.Budget:
    """Compiles the first chunk from abstract shapes and returns what the
    run will hold on each device against the free memory (``limit``:
    ``(bytes, source)``, default
    :func:`~edgeperf.harness.memory.device_limit`)."""
    start, end = self.chunks[0]
    chunk = self._compiled(start, end - start, self.abstract_params,
                           self.abstract_opt_state,
                           self.abstract_data(end - start))
    limit_bytes, source = limit or memory_lib.device_limit()
    return memory_lib.Budget(program=chunk.memory,
                             resident_bytes=self._resident_bytes(),
                             limit_bytes=limit_bytes, limit_source=source)

  # -- the run -------------------------------------------------------------
  def start(self) -> None:
    """Initialises parameters and tuner state and puts the data on the
    devices (full batch: once; mini-batch: the prefetch thread starts)."""
    params = self.workload.init(jax.random.key(self.seed))
    opt_state = self.tx.init(params)
    if self.dp is not None:
      params, opt_state = jax.device_put((params, opt_state),
                                         self.dp.replicated)
    self.params, self.opt_state = params, opt_state
    if self.full_batch:
      self._train = jax.device_put(dict(self.workload.train),
                                   self._sharding(self.batch))
    else:
      self._prefetch = pipeline.ChunkPrefetcher(
          self.workload, self.seed, [e - s for s, e in self.chunks],
          sharding=self._sharding(self.batch, 1))

  def close(self) -> None:
    if self._prefetch is not None:
      self._prefetch.close()

  def _compiled(self, start: int, length: int, *args: Any
                ) -> step_lib.CompiledChunk:
    structure = step_lib.segments(start, length, self.refreshes)
    chunk, fresh = self.programs.chunk(
        self.workload, self.spec, self.mode, structure, self.full_batch,
        lambda: step_lib.CompiledChunk(
            self.step_fn, self.mode, length, self.full_batch,
            (*args, self.hp), structure=structure))
    if fresh:
      self.compile_s += chunk.compile_s
    return chunk

  def run_chunk(self, start: int, end: int, remaining_s: float = math.inf
                ) -> tuple[dict[str, Any], float]:
    """Runs steps [start, end); returns their records (host numpy) and the
    clocked seconds.  In ``loop`` mode a chunk that the last step time says
    would outlast ``remaining_s`` (the time budget left) stops at the first
    step past it, so fewer records may come back."""
    length = end - start
    data = (self._train if self.full_batch else
            self._prefetch.take(start, length))
    chunk = self._compiled(start, length, self.params, self.opt_state, data)
    deadline = (remaining_s if self.mode == "loop" and
                self.step_s * length > remaining_s else None)
    out, elapsed = self._timed(chunk, data, deadline)
    if not chunk.warm:
      chunk.warm = True
      if elapsed < REPEAT_FIRST_CALL_S:  # its one-time cost off the clock:
        self.warmup_s += elapsed  # run it again from the same inputs
        out, elapsed = self._timed(chunk, data, deadline)
    self.params, self.opt_state, recs = out
    recs = jax.device_get(recs)
    self.step_s = elapsed / max(len(recs["objective"]), 1)
    return recs, elapsed

  def _timed(self, chunk: step_lib.CompiledChunk, data: Any,
             deadline_s: float | None = None
             ) -> tuple[tuple[Any, Any, Any], float]:
    """One clocked call from the current (params, state), which it leaves
    untouched (nothing is donated)."""
    tick = time.perf_counter()
    out = chunk(self.params, self.opt_state, data, self.hp, deadline_s)
    jax.block_until_ready(out)
    return out, time.perf_counter() - tick


def _metrics(fn: Callable[..., Mapping[str, Any]], params: Any,
             pieces: list[tuple[int, Any]]) -> dict[str, float]:
  """``fn``'s metrics (means over examples) over a set given in pieces:
  the piece means averaged, weighted by piece size."""
  if len(pieces) == 1:
    return {k: float(v) for k, v in fn(params, pieces[0][1]).items()}
  total = sum(n for n, _ in pieces)
  sums: dict[str, float] = {}
  for n, batch in pieces:
    for k, v in fn(params, batch).items():
      sums[k] = sums.get(k, 0.0) + n * float(v)
  return {k: v / total for k, v in sums.items()}


def _this_process() -> dict[str, Any]:
  cores = (sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else list(range(os.cpu_count() or 1)))
  return {"executor": "in-process", "cores": cores, "pid": os.getpid()}


def step_flops(step: step_lib.StepFn, params: Any, opt_state: Any,
               batch: Any, hp: Any = None) -> float | None:
  """FLOPs of one step from XLA's cost analysis of the lowered HLO, if static."""
  try:
    analysis = jax.jit(step).lower(params, opt_state, batch,
                                   hp or {}).cost_analysis()
  except Exception:  # pylint: disable=broad-except  # backend-dependent
    return None
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0] if analysis else None
  if not analysis or "flops" not in analysis:
    return None
  flops = float(analysis["flops"])
  return flops if flops > 0 else None


def _step_rows(start: int, recs: Mapping[str, Any], times: np.ndarray,
               keep: int) -> list[dict[str, Any]]:
  rows = []
  for i in range(keep):
    row = {"step": start + i, "objective": float(recs["objective"][i]),
           "learning_rate": float(recs["learning_rate"][i]),
           "time_s": float(times[i])}
    row.update({name: int(recs[name][i]) for name in api.EVAL_COUNTERS})
    rows.append(row)
  return rows


# -------------------------------------------------------------- records --

class _Recorder:
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


# ------------------------------------------------------------------- run --

def run(workload: base.Workload,
        tuner: Any,
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
        prepare_for_eval: api.PrepareForEval = api.keep_params,
        stop_at_target: bool = True,
        progress: bool = True,
        programs: programs_lib.ProgramCache | None = None,
        worker: Mapping[str, Any] | None = None,
        memory_limit_bytes: int | None = None,
        exit_on_second_signal: bool = False) -> RunResult:
  """Trains ``workload`` with a tuner from ``seed`` and records the run.

  Args:
    workload: the workload (owns data, objective, target and budgets).
    tuner: the tuner as returned by a submission's ``make_tuner``, or its
      :class:`~edgeperf.submissions.loader.TunerSpec` (``Submission.spec``),
      whose float hyperparameters then enter the compiled programs as values.
    seed: PRNG seed of the initial parameters and of mini-batch order.
    run_dir: folder to write the run to (created and locked for the run;
      must not hold a finished run).  None keeps everything in memory.
    hparams: recorded in ``hparams.json``.
    submission: ``{"name", "path"}`` recorded in ``meta.json``.
    max_steps: step budget (default: the workload's ``step_budget``).
    eval_every: steps between evaluations (default: the workload's).
    chunk_mode: ``scan``, ``scan_unrolled`` or ``loop`` (default: the
      workload's measured-fastest mode).
    diag_every: run curvature diagnostics every this many steps (0: never).
    diagnostics_fn: ``(params, opt_state, step) -> row``; default
      :func:`edgeperf.harness.diagnostics.make_diagnostics_fn`.
    prepare_for_eval: the submission's evaluation hook
      ``(opt_state, params) -> params to evaluate``.
    stop_at_target: stop once the target is reached (off when setting
      targets: the run then goes to ``max_steps``).
    progress: show a progress bar (step, loss, lr) on stderr.
    programs: compiled programs kept across runs (a worker running many
      trials passes its own); default: a fresh cache.
    worker: who ran it (executor, cores it owned), recorded in
      ``meta.json``; default: this process and every core it may use.
    memory_limit_bytes: the device memory the run may plan on (default:
      what the device has free,
      :func:`edgeperf.harness.memory.device_limit`).
    exit_on_second_signal: for a command line: a second SIGINT/SIGTERM
      records the run as ``interrupted`` and ends the process at once
      (exit status 128 + signal), without waiting for the compiled chunk
      under way (whose steps are lost).  Off, a second signal raises
      :class:`RunInterrupted` when the chunk returns.

  Returns:
    A :class:`RunResult`.  An exception inside the run is recorded as status
    ``error`` and re-raised.

  Raises:
    RunInterrupted: SIGINT or SIGTERM stopped the run (recorded as
      ``interrupted``, tables final).
    edgeperf.harness.memory.InsufficientMemoryError: the run would not fit
      the device (XLA's memory analysis of its first chunk, compiled before
      anything is allocated); recorded as ``error`` with 0 steps.
    edgeperf.workloads.base.SyntheticDataError: the workload's data are
      synthetic (cost measurement only); nothing is written.
  """
  base.require_real_data(workload, "a harness run (it scores)")
  plan = RunPlan.make(workload, max_steps=max_steps, eval_every=eval_every,
                      chunk_mode=chunk_mode, diag_every=diag_every)
  folder = None if run_dir is None else rundir_lib.RunDir(run_dir)
  holder: list[_Run] = []
  on_second = None
  if exit_on_second_signal:
    on_second = lambda signum: _exit_now(holder, signum)
  with _StopSignals(on_second) as stop, (
      folder.owned() if folder else contextlib.nullcontext()):
    the_run = _Run(workload, tuner, plan, seed=seed, folder=folder,
                   programs=programs or programs_lib.ProgramCache(),
                   worker=dict(worker or _this_process()),
                   diagnostics_fn=diagnostics_fn,
                   prepare_for_eval=prepare_for_eval,
                   stop_at_target=stop_at_target, progress=progress,
                   stop=stop, memory_limit_bytes=memory_limit_bytes)
    holder.append(the_run)
    return the_run.execute(hparams=dict(hparams or {}),
                           submission=dict(submission or {}))


def _exit_now(holder: list["_Run"], signum: int) -> None:
  """A second stop signal on a command line: records the run as
  interrupted (the steps of the chunk under way are lost) and ends the
  process at once."""
  message = f"interrupted by a second {_signal_name(signum)}"
  if holder:
    status = holder[0].status
    status.status = rundir_lib.INTERRUPTED
    message += (f" after {status.steps_run} steps (stopped at once: the "
                "chunk under way is lost)")
    status.message = message
    try:
      holder[0].write_status()
    except Exception:  # pylint: disable=broad-except  # exiting regardless
      pass
  sys.stderr.write(f"{message}\n")
  sys.stderr.flush()
  os._exit(128 + signum)  # pylint: disable=protected-access


class _Run:
  """One run: the clocked loop over chunks, and what it records."""

  def __init__(self, workload, tuner, plan: RunPlan, *, seed, folder,
               programs, worker, diagnostics_fn, prepare_for_eval,
               stop_at_target, progress, stop: _StopSignals,
               memory_limit_bytes: int | None = None):
    self.workload, self.tuner, self.plan = workload, tuner, plan
    self.seed, self.programs, self.worker = seed, programs, worker
    self.folder, self.stop = folder, stop
    self.diagnostics_fn = diagnostics_fn
    self.prepare_for_eval = prepare_for_eval
    self.stop_at_target, self.progress = stop_at_target, progress
    self.target = workload.target_train_loss
    self.status = RunStatus()
    self.recorder = _Recorder(folder)
    self.memory_limit_bytes = memory_limit_bytes
    self.trainer: _Trainer | None = None
    self.wall_start = time.perf_counter()
    self.started_at = _now()
    self.started_unix = time.time()
    self.clock = 0.0

  def write_status(self) -> None:
    if self.folder is not None:
      record = self.status.record(
          target=self.target,
          wall_time_s=time.perf_counter() - self.wall_start,
          final_objective=self.recorder.last_objective())
      record["owner"] = dict(rundir_lib.owner(), started_at=self.started_at,
                             started_unix=self.started_unix)
      if self.status.status in rundir_lib.FINAL_STATUSES:
        record["finished_unix"] = time.time()
      self.folder.write_status(record)

  def execute(self, *, hparams, submission) -> RunResult:
    try:
      self._setup(hparams, submission)
      self._loop()
      self.trainer.close()
    except BaseException as e:
      if self.trainer is not None:
        self.trainer.close()
      status = self.status
      if isinstance(e, (RunInterrupted, KeyboardInterrupt)):
        signum = getattr(e, "signum", signal.SIGINT)
        status.status = rundir_lib.INTERRUPTED
        status.message = (f"interrupted by {_signal_name(signum)} after "
                          f"{status.steps_run} steps")
      else:
        status.status = rundir_lib.ERROR
        status.message = f"{type(e).__name__}: {e}"
        status.traceback = traceback.format_exc()
      if status.steps_run == 0:
        status.message += f" ({rundir_lib.REPLACEABLE_NOTE})"
      try:
        self.recorder.close()
        self.write_status()
      except Exception:  # pylint: disable=broad-except
        pass
      raise
    self.recorder.close()
    self.write_status()
    return self._result()

  # -- the parts of a run -------------------------------------------------
  def _setup(self, hparams, submission) -> None:
    workload = self.workload
    self.trainer = _Trainer(workload, self.tuner, self.seed, self.plan,
                            self.programs)
    limit = (None if self.memory_limit_bytes is None else
             (self.memory_limit_bytes, "the limit given to the run"))
    budget = self.trainer.budget(limit)
    # Full batch: the per-step objective; mini-batch: evaluations.
    self.watch = reach.ReachWatch(
        self.target, reach.FULL_BATCH_WINDOW if self.trainer.full_batch else 1)
    if self.folder is not None:
      self._write_meta(hparams, submission, budget)
    budget.check(f"workload {workload.key}")
    self.trainer.start()
    self.eval_fn = self.programs.evaluation(workload)
    self.eval_data = self.trainer.eval_sets()
    if self.plan.diag_every and self.diagnostics_fn is None:
      from edgeperf.harness import diagnostics  # pylint: disable=g-import-not-at-top
      self.diagnostics_fn = diagnostics.make_diagnostics_fn(
          workload, self.trainer.tx, seed=self.seed)

  def _write_meta(self, hparams, submission,
                  budget: memory_lib.Budget) -> None:
    workload, trainer = self.workload, self.trainer
    hw = fingerprint.hardware_fingerprint()
    reference = None
    if workload.reference_memory:
      reference = memory_profile.reference_memory(workload, trainer.dp)
    self.folder.write_json(rundir_lib.HPARAMS, hparams)
    self.folder.write_json(rundir_lib.META, {
        "workload": workload.describe(), "submission": submission,
        "seed": self.seed, "hparams": hparams, "fingerprint": hw,
        "hardware_id": fingerprint.hardware_id(hw),
        "software": fingerprint.software_versions(),
        "git_commit": fingerprint.git_commit(),
        "step_flops": step_flops(trainer.step_fn, trainer.abstract_params,
                                 trainer.abstract_opt_state,
                                 trainer.one_batch(), trainer.hp),
        "memory": budget.record(), "reference_memory": reference,
        "data_parallel": trainer.data_parallel(),
        "injected_hparams": sorted(trainer.spec.dynamic),
        "max_steps": self.plan.total, "eval_every": self.plan.eval_every,
        "chunk_mode": self.plan.chunk_mode,
        "diag_every": self.plan.diag_every, "started_at": self.started_at,
        "reach_window": self.watch.window, "worker": self.worker,
    })
    self.write_status()

  def _evaluate(self, step: int) -> None:
    tick = time.perf_counter()
    self._evaluate_now(step)
    self.status.eval_time_s += time.perf_counter() - tick

  def _evaluate_now(self, step: int) -> None:
    trainer = self.trainer
    at = self.prepare_for_eval(trainer.opt_state, trainer.params)
    row = {"step": step, "time_s": self.clock}
    for prefix, pieces in zip(("train", "eval"), self.eval_data):
      for name, value in _metrics(self.eval_fn, at, pieces).items():
        row[f"{prefix}_{name}"] = value
    self.recorder.append("evals", [row])
    if not trainer.full_batch and self.watch.extend(
        [row["train_objective"]]) is not None:
      self.status.target_step, self.status.target_time_s = step, self.clock

  def _diagnose(self, step: int) -> None:
    if self.plan.diagnoses(step):
      tick = time.perf_counter()
      self.recorder.append("diagnostics", [dict(self.diagnostics_fn(
          self.trainer.params, self.trainer.opt_state, step))])
      elapsed = time.perf_counter() - tick
      self.status.eval_time_s += elapsed
      self.status.diag_time_s += elapsed

  def _record_chunk(self, start: int, recs, elapsed: float) -> bool:
    """Appends a chunk's steps; False when the objective diverged in it."""
    objective = np.asarray(recs["objective"], np.float64)
    length = len(objective)
    times = self.clock + elapsed * np.arange(1, length + 1) / length
    self.clock += elapsed
    bad = np.flatnonzero(~np.isfinite(objective))
    keep = length if bad.size == 0 else int(bad[0]) + 1
    self.recorder.append("steps", _step_rows(start, recs, times, keep))
    status = self.status
    status.submission_time_s = float(times[keep - 1])
    status.steps_run = start + keep
    if self.trainer.full_batch:
      hit = self.watch.extend(objective[:keep])
      if hit is not None:
        status.target_step, status.target_time_s = hit, float(
            times[hit - start])
    if bad.size:
      status.diverged_at = start + keep - 1
    return bad.size == 0

  def _loop(self) -> None:
    status, plan = self.status, self.plan
    self.stop.check()
    self._evaluate(0)
    self._diagnose(0)
    loop_start = time.perf_counter()
    # compilation before the loop (the memory budget's first chunk) is not
    # part of the loop's wall time: only what the loop itself compiled or
    # ran twice comes off it
    compiled_before = self.trainer.compile_s
    warmed_before = self.trainer.warmup_s
    with tqdm.tqdm(total=plan.total, desc=self.workload.name, unit="step",
                   disable=not self.progress, leave=False,
                   dynamic_ncols=True) as bar:
      for start, end in plan.chunks():
        self.stop.check()  # between chunks: tables and status agree
        recs, elapsed = self.trainer.run_chunk(
            start, end, self.workload.time_budget_s - self.clock)
        finite = self._record_chunk(start, recs, elapsed)
        end = start + len(recs["objective"])  # cut short by the time budget
        status.compile_time_s = self.trainer.compile_s
        status.warmup_time_s = self.trainer.warmup_s
        bar.update(status.steps_run - start)
        bar.set_postfix(
            loss=f"{self.recorder.last_objective():.4g}",
            lr=f"{self.recorder.rows['steps'][-1]['learning_rate']:.3g}")
        if not finite:
          break
        self._evaluate(end)
        self._diagnose(end)
        self.write_status()
        if status.target_step is not None and self.stop_at_target:
          break
        if self.clock >= self.workload.time_budget_s:
          status.stopped_by_time = True
          break
    status.loop_wall_s = (
        time.perf_counter() - loop_start
        - (self.trainer.compile_s - compiled_before)
        - (self.trainer.warmup_s - warmed_before))
    status.status, status.message = final_status(
        status, target=self.target, budget=plan.total, key=self.workload.key)

  def _result(self) -> RunResult:
    s = self.status
    return RunResult(
        status=s.status, message=s.message, steps_run=s.steps_run,
        target_step=s.target_step, target_time_s=s.target_time_s,
        submission_time_s=s.submission_time_s,
        compile_time_s=s.compile_time_s, eval_time_s=s.eval_time_s,
        diag_time_s=s.diag_time_s,
        wall_time_s=time.perf_counter() - self.wall_start,
        loop_wall_s=s.loop_wall_s,
        steps=self.recorder.frame("steps"),
        evals=self.recorder.frame("evals"),
        diagnostics=self.recorder.frame("diagnostics"),
        run_dir=None if self.folder is None else self.folder.path)
