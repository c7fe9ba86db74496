"""Runs the findings: for each, its runs per seed, the judgement, the
verdict, the cost and the figure.

Cost is kept in three parts that are never mixed: the tuners' clocked time
(``submission_time_s``, what a tuner is charged), the diagnostics' time
(``diag_time_s``: Lanczos λ_max and the rest, measured outside the clock)
and the rest of each run (compilation, evaluations).  The process CPU
seconds of each finding are measured too, as the cost on a busy machine.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
import traceback
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import figures
from edgeperf.reproduce import findings as findings_lib

Log = Callable[[str], None] | None


class Cost(NamedTuple):
  """What a finding cost, seconds."""

  tuner_s: float  # the tuners' clocked time, summed over distinct runs
  diagnostics_s: float  # diagnostics outside the clock (compilation included)
  compile_s: float  # the training steps' compilation
  other_s: float  # the rest of the runs' wall: evaluations, logging, setup
  runs_wall_s: float  # the runs' wall time, summed
  elapsed_s: float  # this finding's wall time in this process
  cpu_s: float  # this process's CPU time (user + system) for the finding
  runs: int  # distinct runs


class Outcome(NamedTuple):
  """A judged finding."""

  finding: findings_lib.Finding  # what was tested
  verdict: str  # over all seeds (criteria.combine); "" on error
  seeds: tuple[int, ...]  # seeds run (empty for a model)
  judgements: dict[Any, findings_lib.Judgement]  # by seed (None: model)
  verdicts: dict[Any, str]  # by seed
  run_dirs: dict[Any, dict[str, str]]  # seed -> run key -> folder
  cost: Cost | None  # None on error
  figure: str | None  # PNG path
  error: str | None = None  # why it could not be judged


def _cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def _cost(runs: Sequence[experiments.RunTables], elapsed: float,
          cpu: float) -> Cost:
  unique = {r.path: r.status for r in runs}
  key = lambda s, name: float(s.get(name) or 0.0)
  tuner = sum(key(s, "submission_time_s") for s in unique.values())
  diag = sum(key(s, "diag_time_s") for s in unique.values())
  comp = sum(key(s, "compile_time_s") for s in unique.values())
  wall = sum(key(s, "wall_time_s") for s in unique.values())
  return Cost(tuner, diag, comp, max(0.0, wall - tuner - diag - comp), wall,
              elapsed, cpu, len(unique))


def prepare(output_dir: str, selected: Sequence[findings_lib.Finding], *,
            reuse: bool) -> None:
  """Creates ``output_dir``; without ``reuse``, empties the selected
  findings' folders (their runs are made afresh)."""
  os.makedirs(output_dir, exist_ok=True)
  if reuse:
    return
  for finding in selected:
    folder = os.path.join(output_dir, finding.id)
    if os.path.isdir(folder):
      shutil.rmtree(folder)


def run_finding(finding: findings_lib.Finding, session: experiments.Session,
                size: experiments.Size, seeds: Sequence[int] | None, *,
                log: Log = print) -> Outcome:
  """Runs (or reuses) the finding's runs for every seed, judges each seed
  and draws the figure (of the first seed) to ``<output_dir>/<id>.png``.

  An exception in a run or a judge is caught and returned as the outcome's
  ``error``; the other findings go on.
  """
  seeds = () if finding.is_model else tuple(seeds or finding.seeds)
  start, cpu0 = time.perf_counter(), _cpu_seconds()
  if log:
    log(f"{finding.id}: {finding.claim}")
  judgements, verdicts, run_dirs, tables = {}, {}, {}, []
  try:
    for seed in seeds or (None,):
      runs = {}
      if seed is not None:
        for spec in finding.runs(size, seed):
          runs[spec.key] = session.run(spec, finding.id)
      tables += runs.values()
      judgements[seed] = finding.judge(runs, size)
      verdicts[seed] = criteria.verdict(judgements[seed].checks)
      run_dirs[seed] = {k: r.path for k, r in runs.items()}
      if seed == (seeds or (None,))[0]:
        first_runs = runs
    verdict = criteria.combine(list(verdicts.values()))
    first = (seeds or (None,))[0]
    title = (f"{finding.id} ({finding.paper}): {verdict}" +
             (f" — seed {first}" if len(seeds) > 1 else ""))
    fig_path = os.path.join(session.output_dir, f"{finding.id}.png")
    figures.draw(finding.id, first_runs, f"{title} — {finding.title}",
                 judgements[first].numbers).savefig(fig_path, dpi=90)
  except Exception as e:  # pylint: disable=broad-except  # reported, not fatal
    if log:
      log(f"{finding.id}: could not be judged: {type(e).__name__}: {e}")
      log(traceback.format_exc(limit=4))
    return Outcome(finding, "", seeds, judgements, verdicts, run_dirs, None,
                   None, f"{type(e).__name__}: {e}")
  cost = _cost(tables, time.perf_counter() - start, _cpu_seconds() - cpu0)
  if log:
    log(f"{finding.id}: {verdict} ({sum(c.passed for j in judgements.values() for c in j.checks)}"
        f"/{sum(len(j.checks) for j in judgements.values())} checks; "
        f"{cost.elapsed_s:.0f} s, {cost.cpu_s:.0f} CPU-s)")
  return Outcome(finding, verdict, seeds, judgements, verdicts, run_dirs,
                 cost, fig_path)


def reproduce(names: Sequence[str], *, size: str = "small",
              seeds: Sequence[int] | None = None,
              output_dir: str = os.path.join("results", "reproduction"),
              reuse: bool = False, log: Log = print,
              data_dir: str | None = None) -> list[Outcome]:
  """Runs and judges the findings named (ids or groups, see
  :func:`~.findings.select`) into ``output_dir``; ``data_dir``: the TFDS
  data of the paper's workloads (``size="paper"``).

  Raises:
    ValueError: an unknown finding or size, or a negative seed.
    edgeperf.workloads.datasets.DataUnavailableError: a workload's data
      is missing (the paper's TFDS datasets at ``size="paper"``).
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  selected = findings_lib.select(names)
  the_size = experiments.get_size(size)
  if seeds is not None:
    seeds = [int(s) for s in seeds]
    if not seeds or any(s < 0 for s in seeds):
      raise ValueError(f"seeds must be integers >= 0, got {seeds}")
  session = experiments.Session(output_dir, reuse=reuse, log=log,
                                data_dir=data_dir)
  for finding in selected:  # every workload loads (its data is there)
    if not finding.is_model:  # before anything runs or is emptied
      for spec in finding.runs(the_size, (seeds or finding.seeds)[0]):
        session.workload(spec)
  prepare(output_dir, selected, reuse=reuse)
  return [run_finding(f, session, the_size, seeds, log=log)
          for f in selected]


def by_id(outcomes: Sequence[Outcome]) -> Mapping[str, Outcome]:
  return {o.finding.id: o for o in outcomes}
