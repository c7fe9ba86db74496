"""The Ray executor: a sweep's trials on Ray actors, on this machine or a
cluster (Moritz et al. 2018, "Ray: a distributed framework for emerging AI
applications").

Each worker is a Ray actor that asks Ray for its resources (``num_cpus`` =
the cores it owns, ``num_gpus`` on GPU nodes), so Ray places the workers.
An actor wraps the same :class:`edgeperf.harness.sweep.worker.Worker` as a local
worker process: it loads each workload once and keeps compiled programs
between trials.

Storage: workers write each trial's run folder straight into the sweep
folder, so the sweep folder must be on a filesystem every node mounts at
the same path (on one machine it trivially is).  The driver keeps the
sweep's guarantees: it owns the plan and the lock, records a trial whose
actor died (node lost, out of memory, a process exit) as ``error`` with
Ray's reason, replaces the actor, and a driver killed and re-run with the
same command resumes from the sweep folder.

With no address, ``ray.init()`` starts a local Ray on this machine (and
stops it when the sweep ends); its workers are then pinned to disjoint
cores like the local executor's.  With an address (``auto`` or
``host:port``) the sweep joins a running cluster (``ray start``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Mapping, Sequence

from edgeperf import _checks
from edgeperf.harness.sweep import local as executor_lib
from edgeperf.harness.sweep import trial as trial_lib
from edgeperf.harness.sweep import worker as worker_lib

EXTRA = "pip install 'edgeperf[ray]'"
# Environment variables a trial's process inherits from the driver's trial
# environment (compilation cache, XLA and thread settings).
_ENV_PREFIXES = ("JAX_", "XLA_", "EDGEPERF_", "TF_", "OMP_", "MKL_",
                 "OPENBLAS_")


class MissingExtraError(ValueError):
  """Ray is not installed."""


def _import_ray():
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise MissingExtraError(
        f"the ray executor needs Ray, an optional extra: {EXTRA}") from None
  return ray


class TrialActor:
  """One worker on a Ray node (created by Ray as an actor)."""

  def __init__(self, cores: Sequence[int] | None):
    if cores:
      os.environ[worker_lib.CORES_ENV] = ",".join(map(str, cores))
    self._worker = worker_lib.Worker(worker_lib.pin_to_cores(), "ray")

  def run_trial(self, task: Mapping[str, Any]) -> dict[str, Any]:
    """One trial: its task and outcome cross to and from Ray as JSON."""
    return self._worker.run_trial(
        trial_lib.TrialTask.from_json(task)).to_json()


class _Slot:
  """One actor and the trial it is running."""

  def __init__(self, actor: Any):
    self.actor = actor  # the Ray actor handle
    self.task: Mapping[str, Any] | None = None  # its current trial
    self.ref: Any = None  # the ObjectRef of that trial's answer
    self.deadline: float | None = None  # monotonic time limit, if any


class RayExecutor:
  """Trials on Ray actors, one persistent worker per actor."""

  name = "ray"

  def __init__(self, *, workers: int = 1, address: str | None = None,
               cores_per_worker: int | None = None, gpus_per_worker: float = 0,
               timeout_s: float | None = None,
               env: Mapping[str, str] | None = None):
    self.ray = _import_ray()
    _checks.integer("workers", workers, low=1)
    if cores_per_worker is not None:
      _checks.integer("cores_per_worker", cores_per_worker, low=1)
    _checks.non_negative("gpus_per_worker", gpus_per_worker)
    if timeout_s is not None:
      _checks.positive("trial timeout", timeout_s)
    self.address = address or None
    self.workers, self.timeout_s = workers, timeout_s
    self.gpus_per_worker = gpus_per_worker
    # A local Ray: disjoint cores per worker, as the local executor does.
    self.groups = (None if self.address else
                   executor_lib.core_groups(workers, cores_per_worker))
    self.cores_per_worker = (len(self.groups[0]) if self.groups else
                             cores_per_worker or 1)
    env = dict(os.environ if env is None else env)
    self.env_vars = {k: v for k, v in env.items()
                     if k.startswith(_ENV_PREFIXES)}
    threads = str(self.cores_per_worker)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS"):
      self.env_vars[name] = threads
    self.env_vars.pop(worker_lib.CORES_ENV, None)

  def _connect(self) -> bool:
    """Starts or joins Ray; True when this call started it."""
    if self.ray.is_initialized():
      return False
    kwargs = dict(include_dashboard=False, log_to_driver=False,
                  logging_level=logging.WARNING)
    if self.address:
      self.ray.init(address=self.address, **kwargs)
    else:
      self.ray.init(address="local", num_cpus=sum(map(len, self.groups)),
                    **kwargs)
    return True

  def _actor(self, index: int) -> Any:
    remote = self.ray.remote(TrialActor).options(
        num_cpus=self.cores_per_worker, num_gpus=self.gpus_per_worker,
        max_restarts=0, runtime_env={"env_vars": self.env_vars})
    return remote.remote(self.groups[index] if self.groups else None)

  def run(self, tasks: Sequence[executor_lib.Task], done: executor_lib.Done,
          stop: threading.Event) -> None:
    started = self._connect()
    slots = [_Slot(self._actor(i)) for i in range(min(self.workers,
                                                      len(tasks)))]
    pending = executor_lib.TaskQueue(tasks)
    try:
      while (len(pending) or any(s.task for s in slots)) and not stop.is_set():
        for i, slot in enumerate(slots):
          task = pending.take(i) if slot.task is None else None
          if task is not None:
            self._start(slot, task)
        self._collect(slots, done, pending)
    finally:
      for slot in slots:
        self._kill(slot)
      if started:
        self.ray.shutdown()

  def _start(self, slot: _Slot, task: executor_lib.Task) -> None:
    slot.task, slot.ref = task, slot.actor.run_trial.remote(task.to_json())
    slot.deadline = (None if self.timeout_s is None else
                     time.monotonic() + self.timeout_s)

  def _collect(self, slots: list[_Slot], done: executor_lib.Done,
               pending: executor_lib.TaskQueue) -> None:
    """Waits up to 0.2 s for answers; reports finished and timed-out
    trials."""
    busy = [s for s in slots if s.task is not None]
    ready, _ = self.ray.wait([s.ref for s in busy], num_returns=1,
                             timeout=0.2)
    ready = set(ready)
    now = time.monotonic()
    for i, slot in enumerate(slots):
      if slot.task is None:
        continue
      if slot.ref in ready:
        task, answer = slot.task, self._answer(slot)
      elif slot.deadline is not None and now >= slot.deadline:
        task = slot.task
        answer = self._failure(task, executor_lib.crash_reason(
            None, self.timeout_s))
      else:
        continue
      if answer.crashed:
        self._kill(slot)
        slots[i] = _Slot(self._actor(i))  # replaced
        pending.forget(i)
      else:
        slot.task = slot.ref = slot.deadline = None
      done(task, answer)

  def _answer(self, slot: _Slot) -> trial_lib.TrialOutcome:
    try:
      return trial_lib.TrialOutcome.from_json(self.ray.get(slot.ref))
    except self.ray.exceptions.RayError as e:
      first = str(e).strip().splitlines()
      return self._failure(slot.task, f"trial's Ray actor failed "
                           f"({type(e).__name__}): "
                           f"{' '.join(first[:3]) if first else ''}")

  @staticmethod
  def _failure(task: trial_lib.TrialTask, why: str
               ) -> trial_lib.TrialOutcome:
    return trial_lib.TrialOutcome(
        id=task.id, status="error", crashed=True, message=(
            f"{why}; last output:\n{executor_lib.tail(task.log)}"))

  def _kill(self, slot: _Slot) -> None:
    try:
      self.ray.kill(slot.actor, no_restart=True)
    except Exception:  # pylint: disable=broad-except  # already gone
      pass
    slot.task = slot.ref = slot.deadline = None
