"""Runs a reproduction's distinct runs once each, in parallel workers.

The findings are independent, and several share runs (F2–F6 share the MLP
setting's constant-rate and CDAT runs); seeds and roundoff replicates
multiply the runs.  :func:`run_all` takes every (finding, run) pair of a
reproduction, keeps one per distinct run (the first finding that asks for
it owns its folder; the others get a copy, :class:`~.experiments.Session`),
groups the runs whose compiled programs are the same (workload, submission,
diagnostics: runs differing in a float hyperparameter, a seed or a
replicate's perturbation share one compilation) and hands the groups,
longest first, to worker processes.  Each worker owns its cores (CPU
affinity set before JAX starts, as the sweep's local executor does) and
runs its groups through its own :class:`~.experiments.Session`.

This module imports no JAX at import time: a worker sets its affinity
before anything compiles.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import threading
import time
import traceback
from typing import Any, Callable, Mapping, NamedTuple, Sequence

Log = Callable[[str], None] | None


class Job(NamedTuple):
  """One distinct run and the finding whose folder it goes to."""

  finding: str  # the finding that owns the run folder
  spec: Any  # experiments.RunSpec


class Done(NamedTuple):
  """A job's result: its folder, or why it failed."""

  identity: str  # the spec's identity (JSON)
  path: str  # its run folder
  error: str | None  # None: finished


def identity(spec: Any) -> str:
  """The spec's identity as the key the session uses."""
  return json.dumps(spec.identity(), sort_keys=True, default=str)


def distinct(pairs: Sequence[tuple[str, Any]]) -> list[Job]:
  """One :class:`Job` per distinct run of ``(finding, spec)`` pairs, owned
  by the first finding that asks for it, in order."""
  jobs: dict[str, Job] = {}
  for finding, spec in pairs:
    jobs.setdefault(identity(spec), Job(finding, spec))
  return list(jobs.values())


def program_group(spec: Any) -> tuple:
  """What a run's compiled programs depend on: everything but the seed,
  the perturbation and the float hyperparameters' values."""
  return (spec.workload, spec.preset, spec.batch_size, spec.weight_decay,
          spec.hidden, spec.submission, tuple(sorted(spec.hparams)),
          spec.diag_every, spec.measure, spec.steps, spec.eval_every)


def _cost(group: Sequence[Job]) -> float:
  return sum(j.spec.steps * (2 if j.spec.diag_every else 1) for j in group)


def groups(jobs: Sequence[Job], at_least: int = 1) -> list[list[Job]]:
  """The jobs by :func:`program_group`, the longest group (steps × runs,
  diagnostics counted double) first; while there are fewer than
  ``at_least`` groups, the longest is split in two (every worker busy
  costs a compilation more)."""
  by: dict[tuple, list[Job]] = {}
  for job in jobs:
    by.setdefault(program_group(job.spec), []).append(job)
  out = sorted(by.values(), key=_cost, reverse=True)
  while out and len(out) < at_least and len(out[0]) > 1:
    first = out.pop(0)
    out = sorted(out + [first[::2], first[1::2]], key=_cost, reverse=True)
  return out


def _run_group(output_dir: str, reuse: bool, data_dir: str | None,
               jobs: Sequence[Job], quiet: bool) -> list[Done]:
  """Runs one group in a fresh session (in a worker or in-process)."""
  from edgeperf.reproduce import experiments  # pylint: disable=g-import-not-at-top
  session = experiments.Session(output_dir, reuse=reuse,
                                log=None if quiet else _print,
                                data_dir=data_dir)
  out = []
  for job in jobs:
    path = os.path.join(output_dir, job.finding, job.spec.folder)
    try:
      session.run(job.spec, job.finding)
      out.append(Done(identity(job.spec), path, None))
    except Exception as e:  # pylint: disable=broad-except  # recorded, not fatal
      out.append(Done(identity(job.spec), path,
                      f"{type(e).__name__}: {e}\n"
                      f"{traceback.format_exc(limit=3)}"))
  return out


def _print(line: str) -> None:
  print(line, flush=True)


def _init_worker(cores_queue: Any) -> None:
  """Worker initialiser: this process's cores, before JAX starts; and a
  watch that ends the worker when the reproduction's process is gone
  (killed, interrupted), so no worker outlives it."""
  cores = cores_queue.get()
  if cores and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, cores)
  parent = os.getppid()

  def watch() -> None:
    while os.getppid() == parent:
      time.sleep(1.0)
    os._exit(1)  # pylint: disable=protected-access  # the parent is gone

  threading.Thread(target=watch, daemon=True).start()


def core_groups(workers: int) -> list[list[int]]:
  """One disjoint group of this process's cores per worker (empty groups,
  no pinning, when there are fewer cores than workers)."""
  available = (sorted(os.sched_getaffinity(0))
               if hasattr(os, "sched_getaffinity")
               else list(range(os.cpu_count() or 1)))
  per = len(available) // workers
  if per == 0:
    return [[] for _ in range(workers)]
  return [available[i * per:(i + 1) * per] for i in range(workers)]


def run_all(jobs: Sequence[Job], *, output_dir: str, reuse: bool = False,
            data_dir: str | None = None, workers: int = 1,
            log: Log = print) -> Mapping[str, Done]:
  """Runs every job; returns spec identity → :class:`Done`.

  ``workers`` ≤ 1 (or a single group) runs in this process; more start that
  many spawned worker processes, each pinned to its share of the cores.
  A run that raises is reported in its :class:`Done` and the others go on.

  Raises:
    ValueError: ``workers`` < 1.
  """
  if workers < 1:
    raise ValueError(f"workers must be >= 1, got {workers}")
  todo = groups(jobs, at_least=workers)
  quiet = log is None
  results: dict[str, Done] = {}
  if workers == 1 or len(todo) <= 1:
    for group in todo:
      for done in _run_group(output_dir, reuse, data_dir, group, quiet):
        results[done.identity] = done
    return results
  workers = min(workers, len(todo))
  ctx = multiprocessing.get_context("spawn")
  cores = ctx.Queue()
  for group_cores in core_groups(workers):
    cores.put(group_cores)
  if log:
    log(f"{len(jobs)} distinct runs in {len(todo)} program groups on "
        f"{workers} workers")
  with concurrent.futures.ProcessPoolExecutor(
      workers, mp_context=ctx, initializer=_init_worker,
      initargs=(cores,)) as pool:
    futures = {pool.submit(_run_group, output_dir, reuse, data_dir, group,
                           quiet): group for group in todo}
    for future in concurrent.futures.as_completed(futures):
      group = futures[future]
      try:
        done_list = future.result()
      except Exception as e:  # pylint: disable=broad-except  # a dead worker
        done_list = [Done(identity(j.spec),
                          os.path.join(output_dir, j.finding, j.spec.folder),
                          f"worker failed: {type(e).__name__}: {e}")
                     for j in group]
      for done in done_list:
        results[done.identity] = done
  return results
