"""Sweeps: tune submissions on workloads under a fixed ruleset
(``edgeperf-sweep``).

Runs every (workload × submission × study × trial) of a plan, each trial in
its own process (``python -m edgeperf.harness.cli.run`` = ``edgeperf-run``),
so a crash or an out-of-memory kills one trial only: it is recorded as
failed (``status.json`` with status ``error`` and the process's last output)
and the sweep goes on.

Rulesets (:mod:`edgeperf.harness.sampling`): external tuning draws
``--num_trials`` points per study from the submission's search space
(seeded scrambled Halton/Sobol, or the grid when the space is finite and
small enough), ``--num_studies`` studies with different seeds (AlgoPerf:
5 × 3); self-tuning submissions run one trial per study.

Sweep directory::

    <sweep_dir>/sweep.json                      the request and every trial
    <sweep_dir>/runs/<workload>/<submission>/study_<s>/trial_<t>/   run dirs
    <sweep_dir>/logs/<workload>__<submission>__s<s>_t<t>.log        output
    <sweep_dir>/.jax_cache/      JAX compilation cache shared by the trials

Idempotent: a trial whose run dir holds a final ``status.json`` is done and
skipped; any other run dir (a trial cut off half-way) is cleared and rerun.
A sweep killed at any moment (even ``kill -9``: each trial process is
killed with its parent, Linux ``PR_SET_PDEATHSIG``) and started again with
the same flags finishes with every trial recorded exactly once.  Starting it
with different flags on the same directory is refused.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from typing import Any, Iterator, Sequence

from edgeperf import _jsonio
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness import sampling
from edgeperf.submissions import loader
from edgeperf.submissions import search_space as search_space_lib

SWEEP_FILE = "sweep.json"
LOCK_FILE = ".sweep.lock"
FORMAT_VERSION = 1

# Runs edgeperf-run in a child that dies with its parent (PR_SET_PDEATHSIG =
# 1, SIGKILL = 9); argv[1] is the parent's pid, to close the race where the
# parent died before prctl ran.
_CHILD_BOOTSTRAP = (
    "import ctypes, os, runpy, sys\n"
    "try:\n"
    "  ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n"
    "except (AttributeError, OSError):\n"
    "  pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "  sys.exit(137)\n"
    "sys.argv = ['edgeperf-run'] + sys.argv[2:]\n"
    "runpy.run_module('edgeperf.harness.cli.run', run_name='__main__',"
    " alter_sys=True)\n")


class SweepError(ValueError):
  """A sweep that cannot start; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class SweepRequest:
  """What a sweep was asked to do (recorded in sweep.json)."""

  workloads: tuple[str, ...]
  submissions: tuple[str, ...]
  num_trials: int = 5
  num_studies: int = 3
  seed: int = 0
  sampler: str = "halton"
  size: str | None = None
  batch_size: int | None = None
  max_steps: int | None = None
  eval_every: int | None = None
  # (workload, max_steps) pairs overriding max_steps for those workloads.
  workload_max_steps: tuple[tuple[str, int], ...] = ()

  def to_json(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["workloads"] = list(self.workloads)
    out["submissions"] = list(self.submissions)
    out["workload_max_steps"] = dict(self.workload_max_steps)
    return out

  def max_steps_for(self, workload: str) -> int | None:
    """The step budget of a trial on ``workload``."""
    return dict(self.workload_max_steps).get(workload, self.max_steps)


def make_plan(request: SweepRequest) -> dict[str, Any]:
  """The sweep plan: the request and every trial, in run order.

  Each trial: ``{"id", "workload", "submission" (as given), "name",
  "ruleset", "study", "trial", "seed", "hparams", "run_dir" (relative to the
  sweep dir), "log"}``.

  Raises:
    SweepError: an unknown submission, a duplicate name, a malformed search
      space.
  """
  if not request.workloads or not request.submissions:
    raise SweepError("a sweep needs at least one workload and one submission")
  try:
    # Found without importing the submissions: an import that fails is a
    # trial failure, not a sweep failure.
    where = [loader.locate(s) for s in request.submissions]
    names = [w.name for w in where]
    if len(set(names)) != len(names):
      raise SweepError(f"submissions must have distinct names, got {names}")
    spaces = {sub: search_space_lib.load(w.search_space_path)
              for sub, w in zip(request.submissions, where)}
  except (loader.SubmissionError, search_space_lib.SearchSpaceError) as e:
    raise SweepError(str(e)) from e
  trials = []
  for workload in request.workloads:
    for sub, name in zip(request.submissions, names):
      space = spaces[sub]
      points = sampling.plan(space, num_trials=request.num_trials,
                             num_studies=request.num_studies,
                             seed=request.seed, method=request.sampler)
      for p in points:
        trial_id = f"{workload}/{name}/study_{p.study}/trial_{p.trial}"
        trials.append({
            "id": trial_id, "workload": workload, "submission": sub,
            "name": name, "ruleset": space.ruleset, "study": p.study,
            "trial": p.trial, "seed": p.seed, "hparams": p.hparams,
            "run_dir": os.path.join("runs", loader.slug(workload), name,
                                    f"study_{p.study}", f"trial_{p.trial}"),
            "log": os.path.join(
                "logs", f"{loader.slug(workload)}__{name}__s{p.study}_t{p.trial}"
                ".log"),
        })
  return {"format": FORMAT_VERSION, "request": request.to_json(),
          "trials": trials}


def _trial_command(trial: dict[str, Any], request: SweepRequest,
                   run_dir: str) -> list[str]:
  args = [f"--workload={trial['workload']}",
          f"--submission={trial['submission']}",
          f"--hparams={json.dumps(trial['hparams'], sort_keys=True)}",
          f"--seed={trial['seed']}", f"--output_dir={run_dir}",
          "--noprogress"]
  if request.size is not None:
    args.append(f"--size={request.size}")
  if request.batch_size is not None:
    args.append(f"--batch_size={request.batch_size}")
  max_steps = request.max_steps_for(trial["workload"])
  if max_steps is not None:
    args.append(f"--max_steps={max_steps}")
  if request.eval_every is not None:
    args.append(f"--eval_every={request.eval_every}")
  return [sys.executable, "-c", _CHILD_BOOTSTRAP, str(os.getpid())] + args


COMPILATION_CACHE = ".jax_cache"


def _trial_env(sweep_dir: str) -> dict[str, str]:
  """The trial's environment: this one plus a JAX compilation cache shared
  by the sweep's trials (``<sweep_dir>/.jax_cache``).

  Trials of one workload compile the same initialisation and evaluation
  programs (and the same step, for equal hyperparameters); the persistent
  cache turns those repeats into loads.  Compilation is outside the
  submission clock, so times-to-target are unaffected; ``compile_time_s``
  records what was actually compiled.  A cache dir set by the caller wins.
  """
  env = dict(os.environ)
  env.setdefault("JAX_COMPILATION_CACHE_DIR",
                 os.path.join(os.path.abspath(sweep_dir), COMPILATION_CACHE))
  env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
  return env


def _tail(path: str, lines: int = 20) -> str:
  try:
    with open(path, errors="replace") as f:
      return "".join(f.readlines()[-lines:]).strip()
  except OSError:
    return ""


class _Stop:
  """Stops a sweep: no new trials, running trial processes killed (their
  run dirs stay unfinished, so a resumed sweep reruns them)."""

  def __init__(self):
    self.event = threading.Event()
    self._lock = threading.Lock()
    self._procs: set[subprocess.Popen] = set()

  def register(self, proc: subprocess.Popen) -> None:
    with self._lock:
      self._procs.add(proc)
    if self.event.is_set():
      proc.kill()

  def unregister(self, proc: subprocess.Popen) -> None:
    with self._lock:
      self._procs.discard(proc)

  def stop(self) -> None:
    self.event.set()
    with self._lock:
      for proc in self._procs:
        with contextlib.suppress(OSError):
          proc.kill()


class Interrupted(Exception):
  """A trial stopped because its sweep was interrupted (not recorded)."""


def run_trial(sweep_dir: str, trial: dict[str, Any], request: SweepRequest,
              timeout_s: float | None = None,
              stop: _Stop | None = None) -> dict[str, Any]:
  """Runs one trial in its own process unless it is already done.

  The process gets its own session, so a Ctrl-C at the terminal reaches the
  sweep only; the sweep then kills it (``stop``) and leaves its run dir
  unfinished, to be rerun on resume.

  Returns:
    The trial's final ``status.json`` (written here, status ``error``, when
    the process died without writing one), plus ``"skipped": bool``.

  Raises:
    Interrupted: ``stop`` was set before or while the trial ran.
  """
  if stop is not None and stop.event.is_set():
    raise Interrupted(trial["id"])
  run_dir = os.path.join(sweep_dir, trial["run_dir"])
  folder = rundir_lib.RunDir(run_dir)
  if folder.is_final():
    return dict(folder.status(), skipped=True)
  if os.path.exists(run_dir):
    shutil.rmtree(run_dir)  # a trial cut off half-way: start it again
  os.makedirs(run_dir)
  log_path = os.path.join(sweep_dir, trial["log"])
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  command = _trial_command(trial, request, os.path.abspath(run_dir))
  timed_out = False
  with open(log_path, "w") as log:
    log.write("$ edgeperf-run " + " ".join(command[4:]) + "\n")
    log.flush()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            env=_trial_env(sweep_dir))
    if stop is not None:
      stop.register(proc)
    try:
      rc = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
      proc.kill()
      rc = proc.wait()
      timed_out = True
    except BaseException:
      proc.kill()
      proc.wait()
      raise
    finally:
      if stop is not None:
        stop.unregister(proc)
  if stop is not None and stop.event.is_set() and not folder.is_final():
    raise Interrupted(trial["id"])
  if folder.is_final() and not timed_out:
    return dict(folder.status(), skipped=False)
  if timed_out:
    why = f"trial timed out after {timeout_s} s and was killed"
  elif rc < 0:
    name = signal.Signals(-rc).name if -rc in signal.valid_signals() else rc
    why = (f"trial process killed by signal {name}"
           + (" (out of memory?)" if -rc == signal.SIGKILL else ""))
  else:
    why = f"trial process exited with code {rc} without a final status"
  previous = {}
  with contextlib.suppress(rundir_lib.RunDirError):
    previous = folder.status() or {}
  status = dict(previous, status="error",
                message=f"{why}; last output:\n{_tail(log_path)}",
                exit_code=rc, recorded_by="edgeperf-sweep")
  folder.write_status(status)
  return dict(status, skipped=False)


@contextlib.contextmanager
def _locked(sweep_dir: str) -> Iterator[None]:
  """Holds an exclusive lock on the sweep dir (released even by kill -9)."""
  fd = os.open(os.path.join(sweep_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
      raise SweepError(f"{sweep_dir} is in use by another edgeperf-sweep; "
                       "wait for it or use another --sweep_dir") from e
    yield
  finally:
    os.close(fd)


def _load_or_write_plan(sweep_dir: str, plan: dict[str, Any]) -> None:
  path = os.path.join(sweep_dir, SWEEP_FILE)
  if os.path.exists(path):
    old = _jsonio.read_json(path)
    # Compare through JSON so tuples/lists and floats match what is stored.
    new = json.loads(json.dumps(_jsonio.to_jsonable(plan)))
    if old.get("request") != new["request"]:
      raise SweepError(
          f"{path} holds a different sweep (request {old.get('request')}); "
          f"this one asks {new['request']}: use the same flags to resume, or "
          "another --sweep_dir")
    if old.get("trials") != new["trials"]:
      raise SweepError(
          f"{path}: same flags but different trials (a search_space.json "
          "changed since the sweep started?); use another --sweep_dir")
    return
  _jsonio.atomic_write_json(path, plan)


def run_sweep(sweep_dir: str, request: SweepRequest, *, jobs: int = 1,
              timeout_s: float | None = None,
              progress: bool = True) -> list[dict[str, Any]]:
  """Runs (or resumes) a sweep; returns one outcome per trial, plan order.

  Each outcome: the trial's plan entry plus ``status``, ``message`` and
  ``skipped`` (already done before this call).
  """
  import tqdm  # pylint: disable=g-import-not-at-top

  if jobs < 1:
    raise SweepError(f"--jobs must be >= 1, got {jobs}")
  plan = make_plan(request)
  os.makedirs(sweep_dir, exist_ok=True)
  with _locked(sweep_dir):
    _load_or_write_plan(sweep_dir, plan)
    trials = plan["trials"]
    outcomes: list[dict[str, Any] | None] = [None] * len(trials)
    todo = []
    for i, trial in enumerate(trials):
      folder = rundir_lib.RunDir(os.path.join(sweep_dir, trial["run_dir"]))
      if folder.is_final():
        status = folder.status()
        outcomes[i] = dict(trial, status=status.get("status"),
                           message=status.get("message", ""), skipped=True)
      else:
        todo.append(i)
    failed = sum(o["status"] == "error" for o in outcomes if o)
    bar = tqdm.tqdm(total=len(trials), initial=len(trials) - len(todo),
                    desc="sweep", unit="trial", disable=not progress,
                    dynamic_ncols=True)
    bar.set_postfix(failed=failed)

    def finish(i: int, result: dict[str, Any]) -> None:
      nonlocal failed
      outcomes[i] = dict(trials[i], status=result.get("status"),
                         message=result.get("message", ""),
                         skipped=result.get("skipped", False))
      failed += result.get("status") == "error"
      bar.update(1)
      bar.set_postfix(failed=failed)

    stop = _Stop()
    pool = concurrent.futures.ThreadPoolExecutor(jobs)
    try:
      futures = {pool.submit(run_trial, sweep_dir, trials[i], request,
                             timeout_s, stop): i for i in todo}
      for future in concurrent.futures.as_completed(futures):
        finish(futures[future], future.result())
    except BaseException:
      # Ctrl-C (or a bug): start nothing new, kill what runs; the killed
      # trials stay unfinished and rerun when the sweep is resumed.
      stop.stop()
      raise
    finally:
      pool.shutdown(wait=True, cancel_futures=True)
      bar.close()
  return outcomes  # type: ignore[return-value]


def summarize(outcomes: Sequence[dict[str, Any]]) -> str:
  """One line per status with its count, then the failed trials."""
  counts: dict[str, int] = {}
  for o in outcomes:
    counts[o["status"]] = counts.get(o["status"], 0) + 1
  lines = [f"{len(outcomes)} trials: " + ", ".join(
      f"{k} {v}" for k, v in sorted(counts.items()))]
  for o in outcomes:
    if o["status"] == "error":
      first = (o.get("message") or "").splitlines()[:1]
      lines.append(f"  failed {o['id']}: {first[0] if first else ''}")
  return "\n".join(lines)


def parse_workload_max_steps(
    items: Sequence[str]) -> tuple[tuple[str, int], ...]:
  """``["mlp_mnist=200", ...]`` → ``(("mlp_mnist", 200), ...)``."""
  out = []
  for item in items:
    name, _, value = item.partition("=")
    try:
      steps = int(value)
    except ValueError:
      steps = 0
    if not name or steps <= 0:
      raise SweepError(f"--workload_max_steps entry {item!r}: expected "
                       "workload=positive_int")
    out.append((name.strip(), steps))
  return tuple(out)
