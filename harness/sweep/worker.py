"""A trial worker: one process that loads each workload once and runs many
trials, reusing compiled programs between them (:mod:`.programs`).

Started by an executor (:mod:`edgeperf.harness.sweep.local`) as::

    python -m edgeperf.harness.sweep.worker <parent pid> <worker log>

It reads one trial task per line on stdin (a :class:`~edgeperf.harness.
sweep.trial.TrialTask` as JSON, see :meth:`Worker.run_trial`) and
answers one JSON line per trial on the stdout it was given; everything else
it prints goes to stderr (during a trial: that trial's log).  It dies with
its parent (Linux ``PR_SET_PDEATHSIG``), so a sweep killed with ``kill -9``
leaves no worker writing on.  ``EDGEPERF_CORES`` (comma-separated CPU ids)
pins it to its cores before JAX starts, so its XLA thread pool has those
cores and no others.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import math
import os
import sys
import time
import traceback
from typing import Any, Iterator

from edgeperf.harness.sweep import trial as trial_lib

CORES_ENV = "EDGEPERF_CORES"


def _die_with_parent(parent_pid: int) -> None:
  try:
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, KILL
  except (AttributeError, OSError):
    pass
  if os.getppid() != parent_pid:
    sys.exit(137)  # the parent died before prctl ran


def pin_to_cores() -> list[int]:
  """Pins this process to ``$EDGEPERF_CORES`` (if set); returns its cores."""
  cores = os.environ.get(CORES_ENV)
  if cores and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
  if hasattr(os, "sched_getaffinity"):
    return sorted(os.sched_getaffinity(0))
  return list(range(os.cpu_count() or 1))


@contextlib.contextmanager
def _output_to(path: str | None) -> Iterator[None]:
  """Sends fd 1 and 2 to ``path`` (appended) for the block."""
  if path is None:
    yield
    return
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  saved = os.dup(2)
  with open(path, "a") as log:
    os.dup2(log.fileno(), 2)
    try:
      yield
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)


class Worker:
  """What a worker keeps between trials: workloads, submissions, programs."""

  def __init__(self, cores: list[int], executor: str = "local"):
    from edgeperf.harness import programs  # pylint: disable=g-import-not-at-top
    self.cores, self.executor = cores, executor
    self.programs = programs.ProgramCache()
    self._workloads: dict[tuple, Any] = {}
    self._submissions: dict[str, Any] = {}

  def workload(self, task: trial_lib.TrialTask) -> Any:
    from edgeperf.workloads import registry  # pylint: disable=g-import-not-at-top
    key = (task.workload, task.size or "small", task.batch_size,
           task.data_dir, task.targets_file, task.untimed)
    if key not in self._workloads:
      extra = {"targets_path": key[4]} if key[4] else {}
      workload = registry.get(key[0], size=key[1], batch_size=key[2],
                              data_dir=key[3], **extra)
      if key[5]:  # a step budget only (the tuning protocol)
        workload = dataclasses.replace(workload, time_budget_s=math.inf)
      self._workloads[key] = workload
    return self._workloads[key]

  def submission(self, name: str) -> Any:
    from edgeperf.submissions import loader  # pylint: disable=g-import-not-at-top
    if name not in self._submissions:
      self._submissions[name] = loader.load(name)
    return self._submissions[name]

  def run_trial(self, task: trial_lib.TrialTask) -> trial_lib.TrialOutcome:
    """Runs one trial into ``task.run_dir``; returns its outcome.

    The outcome: the final ``status``, ``message``, and ``wall_s`` (the
    whole trial in this worker), ``submission_s`` and ``eval_s`` (its
    clocked and evaluation time), from which the fixed cost per trial is
    ``wall_s − submission_s − eval_s``.  ``task.inject`` False bakes every
    hyperparameter into the programs; ``task.targets_file`` is the stored
    targets to race against (a division's); ``task.untimed`` lifts the
    time budget (the step budget alone: the tuning protocol).
    """
    from edgeperf.harness import owned_steps  # pylint: disable=g-import-not-at-top
    from edgeperf.harness import rundir  # pylint: disable=g-import-not-at-top
    start = time.perf_counter()
    with _output_to(task.log):
      try:
        workload = self.workload(task)
        submission = self.submission(task.submission)
        spec = submission.spec(
            task.hparams, num_steps=task.max_steps or workload.step_budget,
            unroll_loops=workload.unroll_inner_loops)
        if not task.inject:  # every value baked in
          spec = spec.with_static(spec.dynamic)
      except Exception as e:  # pylint: disable=broad-except  # user code
        message = f"{type(e).__name__}: {e}"
        print(f"trial setup failed: {message}", file=sys.stderr)
        folder = rundir.RunDir(task.run_dir)
        os.makedirs(folder.path, exist_ok=True)
        folder.write_status({"status": "error", "message": message,
                             "steps_run": 0})
        return trial_lib.TrialOutcome(id=task.id, status="error",
                                      message=message,
                                      wall_s=time.perf_counter() - start)
      try:
        result = owned_steps.run(
            workload, spec, seed=task.seed, run_dir=task.run_dir,
            hparams={**spec.static, **spec.dynamic},
            submission={"name": submission.name, "path": submission.path},
            max_steps=task.max_steps, eval_every=task.eval_every,
            prepare_for_eval=submission.prepare_for_eval, progress=False,
            programs=self.programs,
            worker={"executor": self.executor, "cores": self.cores,
                    "pid": os.getpid()})
      except Exception as e:  # pylint: disable=broad-except  # recorded
        traceback.print_exc()
        return trial_lib.TrialOutcome(id=task.id, status="error",
                                      message=f"{type(e).__name__}: {e}",
                                      wall_s=time.perf_counter() - start)
    return trial_lib.TrialOutcome(
        id=task.id, status=result.status, message=result.message,
        wall_s=time.perf_counter() - start,
        submission_s=result.submission_time_s, eval_s=result.eval_time_s)


def serve(tasks, answers, worker: Worker) -> None:
  """Runs each JSON line of ``tasks``; writes one JSON line per answer."""
  for line in tasks:
    if not line.strip():
      continue
    answer = worker.run_trial(trial_lib.TrialTask.from_json(json.loads(line)))
    answers.write(json.dumps(answer.to_json()) + "\n")
    answers.flush()


def main(argv: list[str]) -> None:
  _die_with_parent(int(argv[1]))
  cores = pin_to_cores()
  answers = os.fdopen(os.dup(1), "w")  # the protocol keeps the real stdout
  os.dup2(2, 1)  # anything else printed goes to the log
  serve(sys.stdin, answers, Worker(cores, os.environ.get(
      "EDGEPERF_EXECUTOR", "local")))


if __name__ == "__main__":
  main(sys.argv)
