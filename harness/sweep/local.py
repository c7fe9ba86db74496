"""Where a sweep's trials run: the executor interface and the local one.

An executor takes trial tasks (JSON-able dicts, see
:meth:`edgeperf.harness.sweep.worker.Worker.run_trial`) and reports one outcome
per task through a callback, as they finish, in any order.  The sweep folder
stays the single source of truth: the trial writes its run folder; when the
process running it dies, the executor reports an ``error`` outcome with
``crashed`` set and the reason, and the sweep records it.

:class:`LocalExecutor` runs persistent worker processes on this machine.
Each owns its cores (CPU affinity set before JAX starts, so XLA's thread
pool has those cores only), loads each workload once and reuses compiled
programs between trials; :class:`TaskQueue` hands each worker the trials
its compiled programs serve (program affinity), so a search compiles once
per worker, not once per trial.  A worker that crashes, is killed or outlives a
trial's time limit has its trial reported as an error and is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Mapping, NamedTuple, Protocol, Sequence

from edgeperf import _checks
from edgeperf.harness.sweep import trial as trial_lib

Task = trial_lib.TrialTask
Outcome = trial_lib.TrialOutcome
Done = Callable[[Task, Outcome], None]


class Executor(Protocol):
  """Runs trial tasks; ``run`` returns when every task has an outcome or
  ``stop`` is set (then unfinished tasks get none)."""

  name: str

  def run(self, tasks: Sequence[Task], done: Done,
          stop: threading.Event) -> None:
    ...


def tail(path: str | None, lines: int = 20) -> str:
  """The last lines of a log file ('' when there is none)."""
  if not path:
    return ""
  try:
    with open(path, errors="replace") as f:
      return "".join(f.readlines()[-lines:]).strip()
  except OSError:
    return ""


def core_groups(workers: int, cores_per_worker: int | None,
                available: Sequence[int] | None = None) -> list[list[int]]:
  """Disjoint groups of cores, one per worker.

  Raises:
    ValueError: more cores asked for than this process may use.
  """
  if available is None:
    available = (sorted(os.sched_getaffinity(0))
                 if hasattr(os, "sched_getaffinity")
                 else list(range(os.cpu_count() or 1)))
  _checks.integer("workers", workers, low=1)
  per = cores_per_worker or max(1, len(available) // workers)
  _checks.integer("cores_per_worker", per, low=1)
  if workers * per > len(available):
    raise ValueError(
        f"{workers} worker(s) × {per} core(s) need {workers * per} cores; "
        f"this process may use {len(available)} ({list(available)})")
  return [list(available[i * per:(i + 1) * per]) for i in range(workers)]


def program_key(task: Task) -> tuple:
  """What a worker's compiled programs for ``task`` depend on, as far as an
  executor can tell: the workload preset and the submission (most
  hyperparameters enter the programs as values, see
  :mod:`edgeperf.harness.programs`)."""
  return task.program_key


class TaskQueue:
  """Pending tasks, handed out with program affinity.  Thread-safe.

  Worker ``w`` is given, by preference: a task with the program key of its
  last task (its compiled programs serve it, nothing is compiled); else one
  whose key no other worker holds (two workers do not both compile one
  program); else the first pending task.  A sweep's plan lists a
  submission's trials together, so each worker works through whole
  searches.
  """

  def __init__(self, tasks: Sequence[Task]):
    self._pending = list(tasks)
    self._held: dict[int, tuple] = {}  # worker -> key of its last task
    self._lock = threading.Lock()

  def __len__(self) -> int:
    with self._lock:
      return len(self._pending)

  def take(self, worker: int) -> Task | None:
    """The next task for ``worker`` (None when none is left)."""
    with self._lock:
      if not self._pending:
        return None
      keys = [program_key(t) for t in self._pending]
      mine = self._held.get(worker)
      others = {k for w, k in self._held.items() if w != worker}
      pick = next((i for i, k in enumerate(keys) if k == mine), None)
      if pick is None:
        pick = next((i for i, k in enumerate(keys) if k not in others), 0)
      self._held[worker] = keys[pick]
      return self._pending.pop(pick)

  def forget(self, worker: int) -> None:
    """``worker`` was replaced: its compiled programs are gone."""
    with self._lock:
      self._held.pop(worker, None)


def crash_reason(returncode: int | None, timed_out: float | None) -> str:
  if timed_out is not None:
    return f"trial timed out after {timed_out:g} s and was killed"
  if returncode is None:
    return "trial worker stopped answering"
  if returncode < 0:
    sig = -returncode
    name = (signal.Signals(sig).name if sig in signal.valid_signals() else
            str(sig))
    return (f"trial process killed by signal {name}"
            + (" (out of memory?)" if sig == signal.SIGKILL else ""))
  return f"trial process exited with code {returncode} without a result"


class _TimedOut(NamedTuple):
  """A trial that ran past its wall-time limit."""
  seconds: float


class _WorkerProcess:
  """One worker process and the pipe to it."""

  def __init__(self, cores: list[int], env: Mapping[str, str], log: str):
    env = dict(env)
    env["EDGEPERF_CORES"] = ",".join(map(str, cores))
    env["EDGEPERF_EXECUTOR"] = "local"
    threads = str(len(cores))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS"):
      env[name] = threads
    os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
    self.log = log
    with open(log, "a") as err:
      self.proc = subprocess.Popen(
          [sys.executable, "-m", "edgeperf.harness.sweep.worker", str(os.getpid()),
           log], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
          env=env, text=True, start_new_session=True)

  def ask(self, task: Task, timeout_s: float | None,
          stop: threading.Event) -> Outcome | _TimedOut | None:
    """Sends a task and waits for its answer (None: the worker died, timed
    out or the sweep stopped; the worker is then killed)."""
    try:
      self.proc.stdin.write(json.dumps(task.to_json()) + "\n")
      self.proc.stdin.flush()
    except (BrokenPipeError, OSError):
      self.kill()
      return None
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not stop.is_set():
      wait = 0.2 if deadline is None else min(
          0.2, max(deadline - time.monotonic(), 0.0))
      ready, _, _ = select.select([self.proc.stdout], [], [], wait)
      if ready:
        line = self.proc.stdout.readline()
        if not line:
          break  # EOF: the worker died
        return trial_lib.TrialOutcome.from_json(json.loads(line))
      if deadline is not None and time.monotonic() >= deadline:
        self.kill()
        return _TimedOut(timeout_s)
    self.kill()
    return None

  def kill(self) -> int | None:
    with contextlib.suppress(OSError):
      self.proc.kill()
    return self.proc.wait()

  def close(self) -> None:
    with contextlib.suppress(OSError):
      self.proc.stdin.close()
    try:
      self.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
      self.kill()


class LocalExecutor:
  """Persistent worker processes on this machine, each on its own cores."""

  name = "local"

  def __init__(self, *, workers: int = 1, cores_per_worker: int | None = None,
               timeout_s: float | None = None,
               env: Mapping[str, str] | None = None, log_dir: str = "."):
    self.groups = core_groups(workers, cores_per_worker)
    if timeout_s is not None:
      _checks.positive("trial timeout", timeout_s)
    self.timeout_s = timeout_s
    self.env = dict(os.environ if env is None else env)
    self.log_dir = log_dir

  def run(self, tasks: Sequence[Task], done: Done,
          stop: threading.Event) -> None:
    pending = TaskQueue(tasks)
    threads = [threading.Thread(target=self._serve, daemon=True,
                                args=(i, cores, pending, done, stop))
               for i, cores in enumerate(self.groups)]
    for t in threads:
      t.start()
    for t in threads:
      while t.is_alive():
        t.join(0.2)

  def _serve(self, index: int, cores: list[int], pending: TaskQueue,
             done: Done, stop: threading.Event) -> None:
    log = os.path.join(self.log_dir, f"worker_{index}.log")
    worker = None
    try:
      while not stop.is_set():
        task = pending.take(index)
        if task is None:
          return
        if worker is None:
          worker = _WorkerProcess(cores, self.env, log)
        answer = worker.ask(task, self.timeout_s, stop)
        if stop.is_set():
          return
        if answer is None or isinstance(answer, _TimedOut):
          rc = worker.kill()
          why = crash_reason(rc, answer.seconds if answer else None)
          worker = None  # replaced at the next task
          pending.forget(index)
          done(task, trial_lib.TrialOutcome(
              id=task.id, status="error", crashed=True, exit_code=rc,
              message=f"{why}; last output:\n{tail(task.log) or tail(log)}"))
        else:
          done(task, answer)
    finally:
      if worker is not None:
        if stop.is_set():
          worker.kill()
        else:
          worker.close()
