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

A run ends with one status (:func:`~.run_status.final_status`):
  * ``target_reached``: the train objective reached the workload's target
    (:mod:`edgeperf.harness.reach`); the run stops at the end of that chunk.
  * ``budget_exhausted``: step or time budget spent without the target.
  * ``completed``: ran ``max_steps`` on a workload with no target set.
  * ``diverged``: a NaN or ±inf objective before the target (the run stops).
  * ``error``: an exception (message and traceback recorded, then re-raised).
  * ``interrupted``: SIGINT or SIGTERM.  The run stops at the end of the
    chunk under way, makes its tables final and raises
    :class:`~edgeperf.harness.run_status.RunInterrupted`; a second signal stops it at once on the
    command line (``exit_on_second_signal``), else when the compiled chunk
    under way returns.

A run that stopped (error, interrupted) before its first step says so in its
message: the next run into its folder replaces it
(:meth:`edgeperf.harness.rundir.RunDir.is_replaceable`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from typing import Any, Callable, Mapping

import numpy as np
import tqdm

from edgeperf.harness import fingerprint
from edgeperf.harness import memory as memory_lib
from edgeperf.harness import memory_profile
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import reach
from edgeperf.harness import records
from edgeperf.harness.records import RunResult
from edgeperf.harness.run_plan import RunPlan
from edgeperf.harness import run_status
from edgeperf.harness.run_status import RunInterrupted, RunStatus, final_status
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness import trainer as trainer_lib
from edgeperf.submissions import api
from edgeperf.workloads import base

DiagnosticsFn = Callable[[Any, Any, int], Mapping[str, float]]


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
      :class:`~edgeperf.harness.run_status.RunInterrupted` when the chunk returns.

  Returns:
    A :class:`~edgeperf.harness.records.RunResult`.  An exception inside the run is recorded as status
    ``error`` and re-raised.

  Raises:
    edgeperf.harness.run_status.RunInterrupted: SIGINT or SIGTERM stopped
      the run (recorded as
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
    on_second = lambda signum: exit_now(holder, signum)
  with run_status.StopSignals(on_second) as stop, (
      folder.owned() if folder else contextlib.nullcontext()):
    the_run = _Run(workload, tuner, plan, seed=seed, folder=folder,
                   programs=programs or programs_lib.ProgramCache(),
                   worker=dict(worker or trainer_lib.this_process()),
                   diagnostics_fn=diagnostics_fn,
                   prepare_for_eval=prepare_for_eval,
                   stop_at_target=stop_at_target, progress=progress,
                   stop=stop, memory_limit_bytes=memory_limit_bytes)
    holder.append(the_run)
    return the_run.execute(hparams=dict(hparams or {}),
                           submission=dict(submission or {}))


def exit_now(holder: list[Any], signum: int) -> None:
  """A second stop signal on a command line: records the run (``holder``'s
  one entry, with ``status`` and ``write_status()``) as interrupted (the steps of the chunk under way are lost) and ends the
  process at once."""
  message = f"interrupted by a second {run_status.signal_name(signum)}"
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
               stop_at_target, progress, stop: run_status.StopSignals,
               memory_limit_bytes: int | None = None):
    self.workload, self.tuner, self.plan = workload, tuner, plan
    self.seed, self.programs, self.worker = seed, programs, worker
    self.folder, self.stop = folder, stop
    self.diagnostics_fn = diagnostics_fn
    self.prepare_for_eval = prepare_for_eval
    self.stop_at_target, self.progress = stop_at_target, progress
    self.target = workload.target_train_loss
    self.status = RunStatus()
    self.recorder = records.Recorder(folder)
    self.memory_limit_bytes = memory_limit_bytes
    self.trainer: trainer_lib.Trainer | None = None
    self.wall_start = time.perf_counter()
    self.started_at = run_status.now()
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
        status.message = (f"interrupted by {run_status.signal_name(signum)} "
                          f"after "
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
    self.trainer = trainer_lib.Trainer(workload, self.tuner, self.seed,
                                       self.plan, self.programs)
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
        "step_flops": trainer_lib.step_flops(trainer.step_fn,
                                             trainer.abstract_params,
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
      for name, value in trainer_lib.metrics(self.eval_fn, at, pieces).items():
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
    self.recorder.append("steps",
                         trainer_lib.step_rows(start, recs, times, keep))
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
