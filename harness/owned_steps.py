"""The timed run of a submission that owns its step: AlgoPerf's
``update_params`` (MLCommons AlgoPerf, ``submission_runner.py``).

:func:`run` takes what :func:`edgeperf.harness.runner.run` takes and runs a
native tuner there; an AlgoPerf submission (an
:class:`~edgeperf.submissions.algoperf_api.load.AlgoPerfTuner`) runs here,
one ``update_params`` call per step, by edgeperf's timing rules:

  * the clock covers the submission's work only: ``data_selection`` (the
    batch it draws off the queue is put on the device beforehand, off the
    clock) and ``update_params``, each ended by ``block_until_ready`` on
    what it returned;
  * compilation is off the clock and recorded: the submission jits inside
    ``update_params``, so the seconds JAX reports spending on tracing,
    lowering and XLA compilation during the call (``jax.monitoring``
    events) are taken off that step's time and added to
    ``compile_time_s``;
  * the objective f(w_t) on the step's batch is computed off the clock
    before the call, on the parameters the previous call returned (the
    submission may donate them: nothing is read from them afterwards);
  * ``prepare_for_eval`` runs before every evaluation, on the clock: its
    ``(optimizer_state, params, model_state)`` is what training continues
    from, as in AlgoPerf, and the evaluation reads its parameters;
  * ``TrainingCompleteError`` ends the run after that step (whose update
    did not happen), with a final evaluation.

Step t's random key is ``fold_in(key(seed), t)`` split in four (data
selection, update, prepare-for-eval, spare), AlgoPerf's scheme.  The batch
of step t is the native run's (same seed, same order), so a submission that
computes the same update gives the same curve.  With several local devices
the parameters are replicated and the batch split over AlgoPerf's
``('batch',)`` mesh.  ``learning_rate`` is not known for such a submission
and is recorded as NaN, its counters as 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import time
import traceback
from typing import Any, Iterator, Mapping

import jax
import numpy as np

from edgeperf.harness import fingerprint
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import records
from edgeperf.harness import reach
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness import run_status
from edgeperf.harness import runner
from edgeperf.harness import step as step_lib
from edgeperf.harness import trainer as trainer_lib
from edgeperf.submissions import api
from edgeperf.submissions.algoperf_api import load as algoperf_load
from edgeperf.submissions.algoperf_api import workload as algoperf_workload
from edgeperf.submissions.algoperf_api.shim import jax_sharding_utils
from edgeperf.workloads import base

COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
                  "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")
"""``jax.monitoring`` duration events counted as compilation."""


def owns_steps(tuner: Any) -> bool:
  """Whether ``tuner`` (built, or a TunerSpec) is a step-owning
  submission, known without building it."""
  if isinstance(tuner, algoperf_load.AlgoPerfTuner):
    return True
  return bool(getattr(step_lib.as_spec(tuner).factory,
                      algoperf_load.OWNS_STEPS, False))


def run(workload: base.Workload, tuner: Any, **kwargs: Any
        ) -> runner.RunResult:
  """Runs any submission: a step-owning one here, others with
  :func:`edgeperf.harness.runner.run` (same arguments, same result; a
  failure while building the tuner is recorded in the run folder by both).

  Raises:
    ValueError: an argument a step-owning run cannot honour (diagnostics,
      which need the tuner's state; a chunk mode other than ``loop``).
  """
  if not owns_steps(tuner):
    return runner.run(workload, tuner, **kwargs)
  if kwargs.get("diag_every"):
    raise ValueError("diag_every: curvature diagnostics need an edgeperf "
                     "tuner's state; an AlgoPerf submission runs without "
                     "them (diag_every=0)")
  if kwargs.get("chunk_mode") not in (None, "loop"):
    raise ValueError(f"chunk_mode {kwargs['chunk_mode']!r}: an AlgoPerf "
                     "submission runs one update_params call per step "
                     "(chunk_mode 'loop')")
  plan = runner.RunPlan.make(workload, max_steps=kwargs.get("max_steps"),
                             eval_every=kwargs.get("eval_every"),
                             chunk_mode="loop", diag_every=0)
  run_dir = kwargs.get("run_dir")
  folder = None if run_dir is None else rundir_lib.RunDir(run_dir)
  holder: list[_OwnedRun] = []
  on_second = None
  if kwargs.get("exit_on_second_signal"):
    on_second = lambda signum: runner.exit_now(holder, signum)
  with run_status.StopSignals(on_second) as stop, (
      folder.owned() if folder else contextlib.nullcontext()):
    owned = _OwnedRun(workload, step_lib.as_spec(tuner), plan, folder=folder,
                      stop=stop, seed=kwargs.get("seed", 0),
                      programs=kwargs.get("programs") or
                      programs_lib.ProgramCache(),
                      stop_at_target=kwargs.get("stop_at_target", True),
                      worker=dict(kwargs.get("worker") or
                                  trainer_lib.this_process()))
    holder.append(owned)
    return owned.execute(hparams=dict(kwargs.get("hparams") or {}),
                         submission=dict(kwargs.get("submission") or {}))


class CompileClock:
  """Seconds JAX reports compiling (:data:`COMPILE_EVENTS`) while open."""

  def __init__(self):
    self.total = 0.0

  def _listen(self, event: str, duration: float, **kwargs: Any) -> None:
    del kwargs
    if event in COMPILE_EVENTS:
      self.total += duration

  def __enter__(self) -> "CompileClock":
    jax.monitoring.register_event_duration_secs_listener(self._listen)
    return self

  def __exit__(self, *exc_info: Any) -> None:
    jax.monitoring.unregister_event_duration_listener(self._listen)


def block(tree: Any) -> None:
  """Waits for every array in ``tree`` (other leaves, e.g. the update
  function an AlgoPerf optimizer state may carry, are skipped)."""
  jax.block_until_ready([x for x in jax.tree.leaves(tree)
                         if isinstance(x, jax.Array)])


@dataclasses.dataclass
class _State:
  """What the submission carries from step to step."""

  params: Any
  model_state: Any
  opt_state: Any


class _OwnedRun:
  """One run of an AlgoPerf submission: the per-step clocked loop."""

  def __init__(self, workload, spec: Any, plan: runner.RunPlan, *, folder,
               stop, seed, programs, stop_at_target, worker):
    self.workload, self.spec, self.plan = workload, spec, plan
    self.folder, self.stop, self.seed = folder, stop, seed
    self.programs, self.stop_at_target = programs, stop_at_target
    self.worker = worker
    self.full_batch = workload.regime.is_full_batch
    self.target = workload.target_train_loss
    self.status = runner.RunStatus()
    self.recorder = records.Recorder(folder)
    self.watch = reach.ReachWatch(
        self.target, reach.FULL_BATCH_WINDOW if self.full_batch else 1)
    self.several = len(jax.devices()) > 1
    self.rng = jax.random.PRNGKey(seed)
    self.clock = 0.0
    self.queue_s = 0.0  # time spent making batches inside the input queue
    self.complete_at: int | None = None
    self.wall_start = time.perf_counter()
    self.started_at = run_status.now()
    self.state: _State | None = None
    self.tuner: algoperf_load.AlgoPerfTuner | None = None
    self.view: algoperf_workload.AlgoPerfWorkload | None = None

  # -- placement ------------------------------------------------------------
  def _put_batch(self, arrays: Mapping[str, np.ndarray]) -> Any:
    """On the devices: split along the batch axis when its size is a
    multiple of the device count, else replicated (as a native run)."""
    size = len(next(iter(arrays.values())))
    if self.several and size % len(jax.devices()) == 0:
      return jax.device_put(dict(arrays),
                            jax_sharding_utils.get_batch_dim_sharding())
    return self._put_state(dict(arrays))

  def _put_state(self, tree: Any) -> Any:
    if self.several:
      return jax.device_put(tree, jax_sharding_utils.get_replicate_sharding())
    return tree

  def _input_queue(self) -> Iterator[Any]:
    """Step t's batch at the t-th draw (the native run's order); the time
    spent making batches is kept in ``queue_s`` (taken off the clock)."""
    if self.full_batch:
      tick = time.perf_counter()
      train = self._put_batch(self.workload.train)
      jax.block_until_ready(train)
      self.queue_s += time.perf_counter() - tick
      while True:
        yield train
    for start, end in self.plan.chunks():
      tick = time.perf_counter()
      stacked = self.workload.stacked_batches(self.seed, start, end - start)
      batches = [self._put_batch({k: v[i] for k, v in stacked.items()})
                 for i in range(end - start)]
      jax.block_until_ready(batches)
      self.queue_s += time.perf_counter() - tick
      yield from batches

  # -- the run ---------------------------------------------------------------
  def execute(self, *, hparams, submission) -> runner.RunResult:
    try:
      self._setup(hparams, submission)
      self._loop()
    except BaseException as e:
      status = self.status
      if isinstance(e, (runner.RunInterrupted, KeyboardInterrupt)):
        signum = getattr(e, "signum", signal.SIGINT)
        status.status = rundir_lib.INTERRUPTED
        status.message = f"interrupted after {status.steps_run} steps"
      else:
        status.status = rundir_lib.ERROR
        status.message = f"{type(e).__name__}: {e}"
        status.traceback = traceback.format_exc()
        signum = None
      del signum
      if status.steps_run == 0:
        status.message += f" ({rundir_lib.REPLACEABLE_NOTE})"
      with contextlib.suppress(Exception):
        self.recorder.close()
        self.write_status()
      raise
    self.recorder.close()
    self.write_status()
    return self._result()

  def write_status(self) -> None:
    if self.folder is None:
      return
    record = self.status.record(
        target=self.target, wall_time_s=time.perf_counter() - self.wall_start,
        final_objective=self.recorder.last_objective())
    record["owner"] = dict(rundir_lib.owner(), started_at=self.started_at)
    self.folder.write_status(record)

  def _setup(self, hparams, submission) -> None:
    self.tuner = tuner = self.spec.build()
    self.view = view = algoperf_workload.AlgoPerfWorkload(
        self.workload, tuner.spec, step_hint=self.plan.total)
    _, opt_rng, init_rng, self.rng = jax.random.split(self.rng, 4)
    del init_rng  # the parameters are the native run's (same seed)
    params = self._put_state(self.workload.init(jax.random.key(self.seed)))
    model_state = None
    tick = time.perf_counter()
    with CompileClock() as compiled:
      opt_state = tuner.module.init_optimizer_state(
          view, params, model_state, tuner.hyperparameters, opt_rng)
      block(opt_state)
    # off the clock, as a native tuner's init; what compiled is recorded
    self.status.warmup_time_s = time.perf_counter() - tick - compiled.total
    self.status.compile_time_s += compiled.total
    self.state = _State(params, model_state, opt_state)
    self.objective = jax.jit(self.workload.loss)
    self.eval_fn = self.programs.evaluation(self.workload)
    self.eval_sets = [self._pieces(self.workload.train),
                      self._pieces(self.workload.eval)]
    self.queue = self._input_queue()
    if self.folder is not None:
      self._write_meta(hparams, submission)

  def _pieces(self, arrays) -> list[tuple[int, Any]]:
    n = len(arrays["inputs"])
    return [(b - a, self._put_batch({k: v[a:b] for k, v in arrays.items()}))
            for a, b in trainer_lib.pieces(n)]

  def _write_meta(self, hparams, submission) -> None:
    hw = fingerprint.hardware_fingerprint()
    spec_name = getattr(self.tuner.spec, "__name__", "")
    self.folder.write_json(rundir_lib.HPARAMS, hparams)
    self.folder.write_json(rundir_lib.META, {
        "workload": self.workload.describe(),
        "submission": {**submission, "api": "algoperf"},
        "algoperf_spec": ("edgeperf shim" if spec_name.startswith("edgeperf")
                          else spec_name),
        "seed": self.seed, "hparams": hparams, "fingerprint": hw,
        "hardware_id": fingerprint.hardware_id(hw),
        "software": fingerprint.software_versions(),
        "git_commit": fingerprint.git_commit(),
        "data_parallel": ({"devices": len(jax.devices()), "axis": "batch"}
                          if self.several else None),
        "max_steps": self.plan.total, "eval_every": self.plan.eval_every,
        "chunk_mode": "loop", "diag_every": 0,
        "started_at": self.started_at, "reach_window": self.watch.window,
        "worker": self.worker,
    })
    self.write_status()

  def _add_clock(self, seconds: float) -> None:
    self.clock += seconds
    self.status.submission_time_s = self.clock

  def _keys(self, step: int) -> jax.Array:
    return jax.random.split(jax.random.fold_in(self.rng, step), 4)

  def _step(self, step: int) -> float:
    """Runs step ``step``; returns f(w_t) on its batch (off the clock)."""
    tuner, view, state = self.tuner, self.view, self.state
    select_rng, update_rng, _, _ = self._keys(step)
    select = tuner.entry("data_selection")
    tick, queued = time.perf_counter(), self.queue_s
    if select is None:
      batch = next(self.queue)
    else:
      batch = select(view, self.queue, state.opt_state, state.params,
                     state.model_state, tuner.hyperparameters, step,
                     select_rng)
      block(batch)
    self._add_clock(time.perf_counter() - tick - (self.queue_s - queued))
    objective = float(self.objective(state.params, batch))
    with CompileClock() as compiled:
      tick = time.perf_counter()
      try:
        out = tuner.module.update_params(
            workload=view, current_param_container=state.params,
            current_params_types=view.model_params_types,
            model_state=state.model_state,
            hyperparameters=tuner.hyperparameters, batch=batch,
            loss_type=view.loss_type, optimizer_state=state.opt_state,
            eval_results=self.eval_results, global_step=step,
            rng=update_rng)
        block(out)
        state.opt_state, state.params, state.model_state = out
      except tuner.training_complete_error:
        self.complete_at = step
      elapsed = time.perf_counter() - tick
    self.status.compile_time_s += compiled.total
    self._add_clock(max(elapsed - compiled.total, 0.0))
    return objective

  def _prepare_for_eval(self, step: int) -> None:
    hook = self.tuner.entry("prepare_for_eval")
    if hook is None:
      return
    state, view = self.state, self.view
    with CompileClock() as compiled:
      tick = time.perf_counter()
      out = hook(workload=view, current_param_container=state.params,
                 current_params_types=view.model_params_types,
                 model_state=state.model_state,
                 hyperparameters=self.tuner.hyperparameters,
                 loss_type=view.loss_type, optimizer_state=state.opt_state,
                 eval_results=self.eval_results, global_step=step,
                 rng=self._keys(max(step - 1, 0))[2])
      block(out)
      elapsed = time.perf_counter() - tick
    state.opt_state, state.params, state.model_state = out
    self.status.compile_time_s += compiled.total
    self._add_clock(max(elapsed - compiled.total, 0.0))

  def _evaluate(self, step: int) -> None:
    tick = time.perf_counter()
    row = {"step": step, "time_s": self.clock}
    for prefix, pieces in zip(("train", "eval"), self.eval_sets):
      metrics = trainer_lib.metrics(self.eval_fn, self.state.params,
                                    pieces)
      for name, value in metrics.items():
        row[f"{prefix}_{name}"] = value
    self.recorder.append("evals", [row])
    self.eval_results.append((step, row))
    if not self.full_batch and self.watch.extend(
        [row["train_objective"]]) is not None:
      self.status.target_step, self.status.target_time_s = step, self.clock
    self.status.eval_time_s += time.perf_counter() - tick

  def _loop(self) -> None:
    status, plan = self.status, self.plan
    self.eval_results: list[tuple[int, dict[str, float]]] = []
    self.stop.check()
    self._evaluate(0)
    loop_start, compiled_before = time.perf_counter(), status.compile_time_s
    for start, end in plan.chunks():
      self.stop.check()
      rows, finite = [], True
      for step in range(start, end):
        objective = self._step(step)
        rows.append(self._row(step, objective))
        status.steps_run = step + 1
        if self.full_batch:
          hit = self.watch.extend([objective])
          if hit is not None:
            status.target_step, status.target_time_s = hit, self.clock
        finite = math.isfinite(objective)
        if (not finite or self.complete_at is not None or
            self.clock >= self.workload.time_budget_s):
          break
      self.recorder.append("steps", rows)
      if not finite:
        status.diverged_at = status.steps_run - 1
        break
      self._prepare_for_eval(status.steps_run)
      self._evaluate(status.steps_run)
      self.write_status()
      if self.complete_at is not None:
        break
      if status.target_step is not None and self.stop_at_target:
        break
      if self.clock >= self.workload.time_budget_s:
        status.stopped_by_time = True
        break
    status.loop_wall_s = (time.perf_counter() - loop_start -
                          (status.compile_time_s - compiled_before))
    status.status, status.message = runner.final_status(
        status, target=self.target, budget=plan.total, key=self.workload.key)
    if self.complete_at is not None and status.target_step is None:
      status.message = (f"the submission ended training "
                         f"(TrainingCompleteError) at step {self.complete_at}"
                         f"; {status.message}")

  def _row(self, step: int, objective: float) -> dict[str, Any]:
    row = {"step": step, "objective": objective, "learning_rate": math.nan,
           "time_s": self.clock}
    row.update({name: 0 for name in api.EVAL_COUNTERS})
    return row

  def _result(self) -> runner.RunResult:
    s = self.status
    return runner.RunResult(
        status=s.status, message=s.message, steps_run=s.steps_run,
        target_step=s.target_step, target_time_s=s.target_time_s,
        submission_time_s=s.submission_time_s,
        compile_time_s=s.compile_time_s, eval_time_s=s.eval_time_s,
        wall_time_s=time.perf_counter() - self.wall_start,
        loop_wall_s=s.loop_wall_s or 0.0,
        steps=self.recorder.frame("steps"),
        evals=self.recorder.frame("evals"),
        diagnostics=self.recorder.frame("diagnostics"),
        run_dir=None if self.folder is None else self.folder.path)
