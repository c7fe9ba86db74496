"""Sweeps: tune submissions on workloads under a fixed ruleset
(``edgeperf-sweep``).

Runs every (workload × submission × study × trial) of a plan on an executor
(:mod:`edgeperf.harness.sweep.local`; by default persistent local worker
processes, each on its own cores, that load a workload once and reuse
compiled programs across trials).  A crash or an out-of-memory kill takes
one worker and its trial only: the trial is recorded as failed
(``status.json`` with status ``error`` and its last output), the worker is
replaced and the sweep goes on.

Rulesets (:mod:`edgeperf.harness.sweep.sampling`): external tuning draws
``--num_trials`` points per study from the submission's search space
(seeded scrambled Halton/Sobol, or the grid when the space is finite and
small enough), ``--num_studies`` studies with different seeds (AlgoPerf:
5 × 3); self-tuning submissions run one trial per study.

Sweep directory::

    <sweep_dir>/sweep.json                      the request and every trial
    <sweep_dir>/runs/<workload>/<submission>/study_<s>/trial_<t>/   run dirs
    <sweep_dir>/logs/<workload>__<submission>__s<s>_t<t>.log        output
    <sweep_dir>/logs/worker_<i>.log   each worker's output between trials
    <sweep_dir>/.jax_cache/      JAX compilation cache shared by the workers

Idempotent: a trial whose run dir holds a final ``status.json`` is done and
skipped; any other run dir (a trial cut off half-way) is cleared and rerun.
A sweep killed at any moment (even ``kill -9``: each worker is killed
with its parent, Linux ``PR_SET_PDEATHSIG``) and started again with
the same flags finishes with every trial recorded exactly once.  Starting it
with different flags on the same directory is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import statistics
import threading
from typing import Any, Iterator, Mapping, Sequence

from edgeperf import _checks
from edgeperf import _jsonio
from edgeperf.harness.sweep import executors
from edgeperf.harness.sweep import local as executor_lib
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness.sweep import sampling
from edgeperf.submissions import loader
from edgeperf.submissions import search_space as search_space_lib

SWEEP_FILE = "sweep.json"
RETRIED_TAG = ".retried-"
LOCK_FILE = ".sweep.lock"
FORMAT_VERSION = 2

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
  # A finite space with at most this many points runs its whole grid in
  # each study (None: at most num_trials; sampling.study_points).
  grid_limit: int | None = None

  def to_json(self) -> dict[str, Any]:
    out = dataclasses.asdict(self)
    out["workloads"] = list(self.workloads)
    out["submissions"] = list(self.submissions)
    out["workload_max_steps"] = dict(self.workload_max_steps)
    return out

  def max_steps_for(self, workload: str) -> int | None:
    """The step budget of a trial on ``workload``."""
    return dict(self.workload_max_steps).get(workload, self.max_steps)

  def check(self) -> None:
    """Validates the whole request before anything runs.

    Raises:
      SweepError: naming every setting that is wrong and what is expected.
    """
    from edgeperf.workloads import registry  # pylint: disable=g-import-not-at-top
    problems = []

    def check(fn, *args, **kwargs):
      try:
        fn(*args, **kwargs)
      except ValueError as e:
        problems.append(str(e))

    if not self.workloads or not self.submissions:
      problems.append("a sweep needs at least one workload and one "
                      "submission")
    for w in self.workloads:
      check(_checks.one_of, "workload", w, registry.names())
    check(_checks.integer, "num_trials", self.num_trials, low=1)
    check(_checks.integer, "num_studies", self.num_studies, low=1)
    check(_checks.integer, "seed", self.seed)
    check(_checks.one_of, "sampler", self.sampler, sampling.METHODS)
    if self.grid_limit is not None:
      check(_checks.integer, "grid_limit", self.grid_limit, low=1)
    if self.size is not None:
      for w in self.workloads:
        if w in registry.names():
          check(_checks.one_of, f"size for {w}", self.size,
                registry.sizes(w))
    for name in ("batch_size", "max_steps", "eval_every"):
      if getattr(self, name) is not None:
        check(_checks.integer, name, getattr(self, name), low=1)
    for w, steps in self.workload_max_steps:
      if w not in self.workloads:
        problems.append(f"workload_max_steps names {w!r}, which is not one "
                        f"of the sweep's workloads {list(self.workloads)}")
      check(_checks.integer, f"workload_max_steps[{w}]", steps, low=1)
    if problems:
      raise SweepError("; ".join(problems))


def make_plan(request: SweepRequest) -> dict[str, Any]:
  """The sweep plan: the request and every trial, in run order.

  Each trial (:func:`trial_entry`): ``{"id", "workload", "submission" (as
  given), "name", "ruleset", "study", "trial", "seed", "hparams", "size",
  "batch_size", "max_steps", "eval_every", "run_dir" (relative to the
  sweep dir), "log"}``.

  Raises:
    SweepError: an unknown submission, a duplicate name, a malformed search
      space.
  """
  request.check()
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
                             seed=request.seed, method=request.sampler,
                             grid_limit=request.grid_limit)
      trials += [trial_entry(
          workload=workload, submission=sub, name=name,
          ruleset=space.ruleset, study=p.study, trial=p.trial, seed=p.seed,
          hparams=p.hparams, size=request.size,
          batch_size=request.batch_size,
          max_steps=request.max_steps_for(workload),
          eval_every=request.eval_every) for p in points]
  return {"format": FORMAT_VERSION, "request": request.to_json(),
          "trials": trials}


def trial_entry(*, workload: str, submission: str, name: str, ruleset: str,
                study: int, trial: int, seed: int, hparams: Mapping[str, Any],
                size: str | None = None, batch_size: int | None = None,
                max_steps: int | None = None,
                eval_every: int | None = None,
                inject: bool = True) -> dict[str, Any]:
  """One trial of a plan, with where its run folder and log go.

  ``inject=False`` (recorded only then) bakes every hyperparameter into the
  trial's programs: for a trial that shares its program with no other (the
  bench), injecting them as values saves no compilation and costs the
  tracing that decides which can be injected.
  """
  slug = loader.slug(workload)
  extra = {} if inject else {"inject": False}
  return {**extra,
      "id": f"{workload}/{name}/study_{study}/trial_{trial}",
      "workload": workload, "submission": submission, "name": name,
      "ruleset": ruleset, "study": study, "trial": trial, "seed": seed,
      "hparams": dict(hparams), "size": size, "batch_size": batch_size,
      "max_steps": max_steps, "eval_every": eval_every,
      "run_dir": os.path.join("runs", slug, name, f"study_{study}",
                              f"trial_{trial}"),
      "log": os.path.join("logs", f"{slug}__{name}__s{study}_t{trial}.log"),
  }


COMPILATION_CACHE = ".jax_cache"


def _trial_env(sweep_dir: str, cache_dir: str | None = None
               ) -> dict[str, str]:
  """The trial's environment: this one plus a JAX compilation cache shared
  by the sweep's trials (``cache_dir``, default ``<sweep_dir>/.jax_cache``).

  Trials of one workload compile the same initialisation and evaluation
  programs (and the same step, for equal hyperparameters); the persistent
  cache turns those repeats into loads.  Compilation is outside the
  submission clock, so times-to-target are unaffected; ``compile_time_s``
  records what was actually compiled.  A cache dir set by the caller wins.
  """
  env = dict(os.environ)
  env.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.abspath(
      cache_dir or os.path.join(sweep_dir, COMPILATION_CACHE)))
  env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
  return env


def trial_task(sweep_dir: str, trial: Mapping[str, Any]) -> dict[str, Any]:
  """What a worker needs to run one trial of the plan (absolute paths)."""
  task = {k: trial[k] for k in (
      "id", "workload", "size", "batch_size", "submission", "hparams",
      "seed", "max_steps", "eval_every") + tuple(
          k for k in ("inject", "targets_file", "untimed") if k in trial)}
  task["run_dir"] = os.path.abspath(os.path.join(sweep_dir, trial["run_dir"]))
  task["log"] = os.path.abspath(os.path.join(sweep_dir, trial["log"]))
  return task


def record_crash(task: Mapping[str, Any], outcome: Mapping[str, Any]) -> None:
  """Gives a trial whose process died a final ``error`` status (with what
  the executor saw), keeping what its run folder already said."""
  folder = rundir_lib.RunDir(task["run_dir"])
  os.makedirs(folder.path, exist_ok=True)
  previous = {}
  with contextlib.suppress(rundir_lib.RunDirError):
    previous = folder.status() or {}
  folder.write_status(dict(previous, status="error",
                           message=outcome["message"],
                           exit_code=outcome.get("exit_code"),
                           recorded_by="edgeperf-sweep"))


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
    # A setting added since the sweep began reads as unset (None) there.
    before, after = old.get("request") or {}, new["request"]
    if any(before.get(k) != after.get(k) for k in set(before) | set(after)):
      differ = "; ".join(
          f"{k}: {before.get(k)!r} there, {after.get(k)!r} now"
          for k in sorted(set(before) | set(after))
          if before.get(k) != after.get(k))
      raise SweepError(
          f"{path} holds a different sweep ({differ}): use the same flags to "
          "resume, or another --sweep_dir")
    if old.get("trials") != new["trials"]:
      raise SweepError(
          f"{path}: same flags but different trials (a search_space.json "
          "changed since the sweep started?); use another --sweep_dir")
    return
  _jsonio.atomic_write_json(path, plan)


def run_sweep(sweep_dir: str, request: SweepRequest, **kwargs: Any
              ) -> list[dict[str, Any]]:
  """Runs (or resumes) the sweep of ``request`` (:func:`run_plan`)."""
  return run_plan(sweep_dir, make_plan(request), **kwargs)


def run_plan(sweep_dir: str, plan: Mapping[str, Any], *, jobs: int = 1,
             timeout_s: float | None = None, progress: bool = True,
             executor: executor_lib.Executor | str | None = None,
             ray_address: str | None = None,
             retry_errors: bool = False,
             compilation_cache: str | None = None) -> list[dict[str, Any]]:
  """Runs (or resumes) a plan; returns one outcome per trial, plan order.

  Each outcome: the trial's plan entry plus ``status``, ``message``,
  ``skipped`` (already done before this call) and, for trials run now, the
  worker's timings (``wall_s``, ``submission_s``, ``eval_s``).

  Args:
    jobs: workers (each on its own cores) of the executor named by
      ``executor``.
    timeout_s: per-trial wall-time limit of the executor named.
    executor: where trials run: an executor, or the name of one
      (:data:`edgeperf.harness.sweep.executors.EXECUTORS`; default ``local``).
    ray_address: the Ray cluster of the ``ray`` executor (``auto``,
      ``host:port``; None: a local Ray started for this sweep).
    retry_errors: run again the trials that ended in ``error``; their old
      run folders are moved aside (``<run_dir>.retried-<time>``), not lost.
    compilation_cache: the JAX compilation cache of the executor named
      (default ``<sweep_dir>/.jax_cache``); sweeps that share one load each
      other's programs.
  """
  import tqdm  # pylint: disable=g-import-not-at-top

  if executor is None or isinstance(executor, str):
    try:
      executor = executors.make_executor(
          executor or "local", workers=jobs, timeout_s=timeout_s,
          env=_trial_env(sweep_dir, compilation_cache),
          log_dir=os.path.join(sweep_dir, "logs"),
          address=ray_address)
    except ValueError as e:
      raise SweepError(str(e)) from None
  os.makedirs(sweep_dir, exist_ok=True)
  with _locked(sweep_dir):
    _load_or_write_plan(sweep_dir, plan)
    trials = plan["trials"]
    outcomes: list[dict[str, Any] | None] = [None] * len(trials)
    tasks, index = [], {}
    for i, trial in enumerate(trials):
      folder = rundir_lib.RunDir(os.path.join(sweep_dir, trial["run_dir"]))
      status = folder.status() if folder.is_final() else None
      if status is not None and not _reruns(status, retry_errors):
        outcomes[i] = dict(trial, status=status.get("status"),
                           message=status.get("message", ""), skipped=True)
        continue
      _clear(folder, status)
      task = trial_task(sweep_dir, trial)
      os.makedirs(os.path.dirname(task["log"]), exist_ok=True)
      with open(task["log"], "w") as log:
        log.write(f"# trial {trial['id']} on the {executor.name} "
                  f"executor: {json.dumps(task, sort_keys=True)}\n")
      tasks.append(task)
      index[task["id"]] = i
    failed = sum(o["status"] == "error" for o in outcomes if o)
    bar = tqdm.tqdm(total=len(trials), initial=len(trials) - len(tasks),
                    desc="sweep", unit="trial", disable=not progress,
                    dynamic_ncols=True)
    bar.set_postfix(failed=failed)
    lock = threading.Lock()

    def done(task: Mapping[str, Any], outcome: Mapping[str, Any]) -> None:
      nonlocal failed
      if outcome.get("crashed"):
        record_crash(task, outcome)
      with lock:
        i = index[task["id"]]
        outcomes[i] = dict(trials[i], skipped=False, **{
            k: v for k, v in outcome.items() if k not in ("id", "crashed")})
        failed += outcome.get("status") == "error"
        bar.update(1)
        bar.set_postfix(failed=failed)

    stop = threading.Event()
    try:
      executor.run(tasks, done, stop)
    except BaseException:
      # Ctrl-C (or a bug): start nothing new, kill what runs; the killed
      # trials stay unfinished and rerun when the sweep is resumed.
      stop.set()
      raise
    finally:
      bar.close()
  return outcomes  # type: ignore[return-value]


def _reruns(status: Mapping[str, Any], retry_errors: bool) -> bool:
  """Whether a finished trial runs again: interrupted ones always (a
  scheduler stopped them), failed ones when asked."""
  return (status.get("status") == rundir_lib.INTERRUPTED or
          (retry_errors and status.get("status") == rundir_lib.ERROR))


def _clear(folder: rundir_lib.RunDir,
           status: Mapping[str, Any] | None) -> None:
  """Frees a trial's folder for its next run without losing a result:
  a stopped or unreadable run is moved aside; only a run cut off half-way
  (``.partial`` tables, nothing complete) is deleted."""
  if not os.path.exists(folder.path):
    return
  if status is not None:
    folder.quarantine(RETRIED_TAG)
  elif folder.unreadable() is not None:
    folder.quarantine()
  else:
    shutil.rmtree(folder.path)


def fixed_costs(outcomes: Sequence[dict[str, Any]]) -> list[float]:
  """Per trial run now: wall time − submission time − evaluation time (s),
  the fixed cost of a trial (process, loading, compilation, files)."""
  return [o["wall_s"] - o["submission_s"] - o["eval_s"] for o in outcomes
          if not o.get("skipped") and "submission_s" in o]


def summarize(outcomes: Sequence[dict[str, Any]]) -> str:
  """One line per status with its count, then the failed trials."""
  counts: dict[str, int] = {}
  for o in outcomes:
    counts[o["status"]] = counts.get(o["status"], 0) + 1
  lines = [f"{len(outcomes)} trials: " + ", ".join(
      f"{k} {v}" for k, v in sorted(counts.items()))]
  costs = fixed_costs(outcomes)
  if costs:
    lines.append(f"fixed cost per trial (wall − submission − evaluation): "
                 f"median {statistics.median(costs):.2f} s over "
                 f"{len(costs)} trials run now")
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
