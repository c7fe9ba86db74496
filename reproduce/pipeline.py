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
from edgeperf.reproduce import parallel

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


NONE, ADD, ONLY = "none", "add", "only"
REPLICATE_MODES = (NONE, ADD, ONLY)
"""``replicates``: none; one roundoff replicate per seed beside it (its
checks compared, :func:`~.criteria.over_seeds`); or the replicates only, in
place of the seeds (a whole reproduction on perturbed initialisations, to
compare with an unperturbed one)."""


class Outcome(NamedTuple):
  """A judged finding."""

  finding: findings_lib.Finding  # what was tested
  verdict: str  # over all seeds (criteria.judge_over_seeds); "" on error
  seeds: tuple[int, ...]  # seeds run (empty for a model)
  judgements: dict[Any, findings_lib.Judgement]  # by seed (None: model)
  verdicts: dict[Any, str]  # by seed
  run_dirs: dict[Any, dict[str, str]]  # seed -> run key -> folder
  cost: Cost | None  # None on error
  figure: str | None  # PNG path
  error: str | None = None  # why it could not be judged
  checks: tuple[criteria.SeedsCheck, ...] = ()  # each check over seeds
  unstable: tuple[str, ...] = ()  # checks a roundoff replicate flipped
  replicates: str = NONE  # REPLICATE_MODES: what the seeds' runs are
  replicate_judgements: dict[Any, findings_lib.Judgement] = {}  # by seed
  replicate_verdicts: dict[Any, str] = {}  # by seed
  replicate_run_dirs: dict[Any, dict[str, str]] = {}  # seed -> key -> folder


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


def finding_specs(finding: findings_lib.Finding, size: experiments.Size,
                  seed: int, replicate: bool) -> tuple[experiments.RunSpec, ...]:
  """The finding's runs at ``seed`` (their roundoff replicates if
  ``replicate``)."""
  specs = finding.runs(size, seed)
  return tuple(s.replicate() for s in specs) if replicate else specs


def _judge_seed(finding, session, size, seed, replicate):
  """(judgement, runs) of one seed or its replicate."""
  runs = {}
  if seed is not None:
    for spec in finding_specs(finding, size, seed, replicate):
      runs[spec.key] = session.run(spec, finding.id)
  return finding.judge(runs, size), runs


def run_finding(finding: findings_lib.Finding, session: experiments.Session,
                size: experiments.Size, seeds: Sequence[int] | None, *,
                replicates: str = NONE, log: Log = print) -> Outcome:
  """Runs (or reuses) the finding's runs for every seed (and replicate),
  judges each, aggregates each check over the seeds with its rule and
  draws the figure, every seed's curves, to ``<output_dir>/<id>.png``.

  An exception in a run or a judge is caught and returned as the outcome's
  ``error``; the other findings go on.
  """
  seeds = () if finding.is_model else tuple(
      seeds or finding.seeds[:size.seeds])
  start, cpu0 = time.perf_counter(), _cpu_seconds()
  if log:
    log(f"{finding.id}: {finding.claim}")
  judgements, verdicts, run_dirs, tables = {}, {}, {}, []
  rep_j, rep_v, rep_dirs, runs_by_seed = {}, {}, {}, []
  try:
    for seed in seeds or (None,):
      j, runs = _judge_seed(finding, session, size, seed, replicates == ONLY)
      judgements[seed], verdicts[seed] = j, criteria.verdict(j.checks)
      run_dirs[seed] = {k: r.path for k, r in runs.items()}
      tables += runs.values()
      runs_by_seed.append(runs)
      if replicates == ADD and seed is not None:
        j, runs = _judge_seed(finding, session, size, seed, True)
        rep_j[seed], rep_v[seed] = j, criteria.verdict(j.checks)
        rep_dirs[seed] = {k: r.path for k, r in runs.items()}
        tables += runs.values()
    checks = tuple(criteria.over_seeds(
        {s: j.checks for s, j in judgements.items()},
        {s: j.checks for s, j in rep_j.items()}))
    verdict, unstable = criteria.judge_over_seeds(checks)
    title = f"{finding.id} ({finding.paper}): {verdict}" + (
        f" — seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else "")
    fig_path = os.path.join(session.output_dir, f"{finding.id}.png")
    figures.draw(finding.id, runs_by_seed, f"{title} — {finding.title}",
                 [j.numbers for j in judgements.values()]).savefig(
                     fig_path, dpi=90)
  except Exception as e:  # pylint: disable=broad-except  # reported, not fatal
    if log:
      log(f"{finding.id}: could not be judged: {type(e).__name__}: {e}")
      log(traceback.format_exc(limit=4))
    return Outcome(finding, "", seeds, judgements, verdicts, run_dirs, None,
                   None, f"{type(e).__name__}: {e}", replicates=replicates)
  cost = _cost(tables, time.perf_counter() - start, _cpu_seconds() - cpu0)
  if log:
    log(f"{finding.id}: {verdict} ({sum(c.passed for c in checks)}/"
        f"{len(checks)} checks over {max(1, len(seeds))} seed(s)"
        + (f"; unstable: {', '.join(unstable)}" if unstable else "") + ")")
  return Outcome(finding, verdict, seeds, judgements, verdicts, run_dirs,
                 cost, fig_path, None, checks, unstable, replicates, rep_j,
                 rep_v, rep_dirs)


def _check_seeds(seeds: Sequence[int] | None) -> list[int] | None:
  if seeds is None:
    return None
  seeds = [int(s) for s in seeds]
  if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
    raise ValueError(f"seeds must be distinct integers >= 0, got {seeds}")
  return seeds


def reproduce(names: Sequence[str], *, size: str = "small",
              seeds: Sequence[int] | None = None,
              output_dir: str = os.path.join("results", "reproduction"),
              reuse: bool = False, log: Log = print,
              data_dir: str | None = None, replicates: str = NONE,
              workers: int = 1) -> list[Outcome]:
  """Runs and judges the findings named (ids or groups, see
  :func:`~.findings.select`) into ``output_dir``; ``data_dir``: the TFDS
  data of the paper's workloads (``size="paper"``); ``replicates``: one of
  :data:`REPLICATE_MODES`; ``workers``: processes running the distinct runs
  (:mod:`.parallel`), the findings then judged from their folders.

  Raises:
    ValueError: an unknown finding, size or replicate mode, a negative or
      repeated seed, ``workers`` < 1.
    edgeperf.workloads.datasets.DataUnavailableError: a workload's data
      is missing (the paper's TFDS datasets at ``size="paper"``).
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  selected = findings_lib.select(names)
  the_size = experiments.get_size(size)
  seeds = _check_seeds(seeds)
  if replicates not in REPLICATE_MODES:
    raise ValueError(f"replicates must be one of {REPLICATE_MODES}, got "
                     f"{replicates!r}")
  if workers < 1:
    raise ValueError(f"workers must be >= 1, got {workers}")
  session = experiments.Session(output_dir, reuse=reuse, log=log,
                                data_dir=data_dir)
  pairs = []
  for finding in selected:  # every workload loads (its data is there)
    if finding.is_model:  # before anything runs or is emptied
      continue
    for i, seed in enumerate(seeds or finding.seeds[:the_size.seeds]):
      for rep in {NONE: (False,), ADD: (False, True), ONLY: (True,)}[
          replicates]:
        for spec in finding_specs(finding, the_size, seed, rep):
          if i == 0:
            session.workload(spec._replace(perturb=0.0))
          pairs.append((finding.id, spec))
  prepare(output_dir, selected, reuse=reuse)
  if workers > 1:
    specs = {parallel.identity(spec): spec for _, spec in pairs}
    for done in parallel.run_all(
        parallel.distinct(pairs), output_dir=output_dir, reuse=reuse,
        data_dir=data_dir, workers=workers, log=log).values():
      session.adopt(specs[done.identity], done.path, done.error)
  return [run_finding(f, session, the_size, seeds, replicates=replicates,
                      log=log) for f in selected]


def by_id(outcomes: Sequence[Outcome]) -> Mapping[str, Outcome]:
  return {o.finding.id: o for o in outcomes}
