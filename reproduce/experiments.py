"""The runs behind the findings: what one is, the sizes, and how it is run.

A :class:`RunSpec` says everything that determines a run's numbers.  A
:class:`Session` runs specs through the suite's own harness — workloads from
:mod:`edgeperf.workloads.registry`, tuners from the submission loader
(:mod:`edgeperf.submissions.loader`, with each submission's own defaults
plus the hyperparameters the finding sets), :func:`edgeperf.harness.runner.
run` into run folders (:mod:`edgeperf.harness.rundir`) — and reads them
back as :class:`RunTables`.  Curvature diagnostics run every
``diag_every`` steps outside the submission clock; the runner records their
time apart (``diag_time_s`` in ``status.json``), so what measuring costs is
reported and never charged to a tuner.

A run lives in ``<output_dir>/<finding>/<key>-s<seed>-<hash>``; the hash is
of the spec, so a folder is reused only for the very same run.  A run two
findings share is run once per session and copied into the second
finding's folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
from typing import Any, Callable, Mapping, NamedTuple

import pandas as pd

from edgeperf.harness import diagnostics as diagnostics_lib
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import rundir as rundir_lib
from edgeperf.harness import runner
from edgeperf.reproduce import roundoff
from edgeperf.submissions import loader
from edgeperf.workloads import base
from edgeperf.workloads import models
from edgeperf.workloads import registry

LANCZOS_MAX_ITERS = 30
"""HVP cap of one sharpness diagnostic.  Lanczos stops at its 1e-3 residual
after 12–19 HVPs on these models; the harness default (100) preallocates a
basis 3× larger for nothing."""


PAPER_WORKLOADS = {"mlp_mnist": "mlp256x3_mnist",
                   "charlm_prose": "nanolm_tinyshakespeare"}
"""The paper's workload (:mod:`edgeperf.workloads.paper_presets`) each CPU
setting stands for at ``--size=paper``: the MLP 256-256-256 on MNIST of its
MLP sweeps (squared loss), and NanoLM on Tiny Shakespeare."""


class Size(NamedTuple):
  """A ``--size``: which workload presets, and how long the runs are."""

  name: str  # the flag value
  preset: str  # the workload preset size every finding runs at
  step_scale: float  # multiplies each finding's steps and periods
  note: str  # what it means, said in findings.md
  workloads: Mapping[str, str] = {}  # setting's workload -> the one run
  seeds: int = 3  # how many of each finding's default seeds it runs

  def workload(self, name: str) -> str:
    """The workload a finding set on ``name`` runs at this size."""
    return self.workloads.get(name, name)


SIZES = {
    "tiny": Size("tiny", "small", 0.04, "smoke test only: the small presets "
                 "for 1/25 of the steps; the verdicts are computed but "
                 "mean nothing at this length", seeds=1),
    "small": Size("small", "small", 1.0, "the CPU presets (`size=small`), "
                  "the settings the findings were chosen at"),
    "medium": Size("medium", "medium", 1.0, "the `medium` presets (more data, "
                   "wider or deeper models), same steps as small"),
    "paper": Size("paper", "paper", 1.0, "the paper's workloads at their "
                  "paper presets, read through TFDS from `--data_dir`: "
                  "`mlp_mnist` settings run on `mlp256x3_mnist` (MLP "
                  "256-256-256, MNIST, squared loss) and `charlm_prose` "
                  "settings on `nanolm_tinyshakespeare` (NanoLM), with the "
                  "small size's steps and rates (rates chosen on the CPU "
                  "presets: a grid's best rate on its edge shows as a "
                  "failed check); one seed by default (hours per run on a "
                  "CPU)", PAPER_WORKLOADS, seeds=1),
}


def get_size(name: str) -> Size:
  """The :class:`Size` called ``name``.

  Raises:
    ValueError: an unknown size, naming the known ones.
  """
  if name not in SIZES:
    raise ValueError(f"unknown size {name!r}; expected one of {list(SIZES)}")
  return SIZES[name]


def scaled(n: int, size: Size) -> int:
  """A step count or period at ``size`` (at least 1; 0 stays 0)."""
  return 0 if n == 0 else max(1, int(round(n * size.step_scale)))


class RunSpec(NamedTuple):
  """One training run of a finding."""

  key: str  # its name inside the finding, e.g. "cdat_s2"
  submission: str  # a shipped submission (constant, cdat, ...)
  hparams: Mapping[str, Any]  # the finding's hyperparameters (the rest: defaults)
  workload: str = "mlp_mnist"  # registry name
  preset: str = "small"  # workload preset size
  batch_size: int | None = None  # None: full batch
  weight_decay: float = 1e-5  # of the objective
  hidden: tuple[int, ...] | None = None  # MLP widths replacing the preset's
  steps: int = 600  # steps run (the target is lifted: every run goes the distance)
  seed: int = 0  # initialisation and batch order
  diag_every: int = 0  # diagnostics period (0: none)
  measure: tuple[str, ...] = ()  # diagnostic groups (harness.diagnostics.MEASUREMENTS)
  eval_every: int | None = None  # evaluation period (None: the workload's)
  perturb: float = 0.0  # relative change of w_0 (> 0: a roundoff replicate)

  def identity(self) -> dict[str, Any]:
    """Everything that determines the run's numbers (all but ``key``;
    ``perturb`` only when set, so an unperturbed run keeps its hash)."""
    out = self._asdict()
    out.pop("key")
    if not self.perturb:
      out.pop("perturb")
    out["hparams"] = dict(sorted(self.hparams.items()))
    out["hidden"] = None if self.hidden is None else list(self.hidden)
    out["measure"] = list(self.measure)
    return out

  @property
  def folder(self) -> str:
    """``<key>-s<seed>-<10 hex digits of the identity's hash>`` (``-s<seed>r``
    for a roundoff replicate)."""
    text = json.dumps(self.identity(), sort_keys=True, default=str)
    digest = hashlib.sha1(text.encode()).hexdigest()[:10]
    replicate = "r" if self.perturb else ""
    return loader.slug(f"{self.key}-s{self.seed}{replicate}-{digest}")

  def replicate(self) -> "RunSpec":
    """This run's roundoff replicate (:mod:`.roundoff`): the same spec, its
    initial parameters perturbed by a relative
    :data:`~.roundoff.REPLICATE_PERTURBATION`."""
    return self._replace(perturb=roundoff.REPLICATE_PERTURBATION)


class RunTables(NamedTuple):
  """A finished run read back from its folder."""

  path: str  # the run folder
  status: Mapping[str, Any]  # status.json
  steps: pd.DataFrame  # steps.csv
  evals: pd.DataFrame  # evals.csv
  diagnostics: pd.DataFrame  # diagnostics.csv (empty without diagnostics)


def load_run(path: str) -> RunTables:
  """Reads a finished run folder through :class:`~edgeperf.harness.rundir.
  RunDir`.

  Raises:
    ValueError: the folder holds no finished run, or a file cannot be read.
  """
  folder = rundir_lib.RunDir(path)
  status = folder.status()
  if status is None or status.get("status") not in rundir_lib.FINAL_STATUSES:
    raise ValueError(f"{path}: no finished run there")

  def table(name: str) -> pd.DataFrame:
    frame = folder.table(name)
    return (pd.DataFrame(columns=list(rundir_lib.TABLES[name]))
            if frame is None else frame)

  return RunTables(path, status, table("steps"), table("evals"),
                   table("diagnostics"))


class Session:
  """Runs of one reproduction: the workloads built once each, compiled
  programs shared (runs differing only in a float hyperparameter reuse one
  compilation), and every run done so far.

  Args:
    output_dir: where ``<finding>/<run folder>`` go.
    reuse: take a finished folder of the same spec as it is (else a
      finding's folder is expected fresh: the caller empties it).
    log: one line per run (None: quiet).
    data_dir: the TFDS data directory of the paper's workloads (None:
      TFDS's default, ``$TFDS_DATA_DIR``).
  """

  def __init__(self, output_dir: str, *, reuse: bool = False,
               log: Callable[[str], None] | None = print,
               data_dir: str | None = None):
    self.output_dir, self.reuse, self.log = output_dir, reuse, log
    self.data_dir = data_dir  # TFDS data of the paper's workloads
    self.programs = programs_lib.ProgramCache()
    self._workloads: dict[tuple, base.Workload] = {}
    self._done: dict[str, str] = {}  # spec identity -> its run folder
    self._failed: dict[str, str] = {}  # spec identity -> why it failed

  def adopt(self, spec: RunSpec, path: str, error: str | None = None) -> None:
    """Takes a run made elsewhere (a worker process, :mod:`.parallel`):
    finished in ``path``, or failed with ``error``."""
    identity = json.dumps(spec.identity(), sort_keys=True, default=str)
    if error is None:
      self._done[identity] = path
    else:
      self._failed[identity] = error

  def workload(self, spec: RunSpec) -> base.Workload:
    """The spec's workload, target and time budget lifted (built once; a
    replicate's shares the original's data)."""
    key = (spec.workload, spec.preset, spec.batch_size, spec.weight_decay,
           spec.hidden, spec.perturb)
    if spec.perturb:
      if key not in self._workloads:
        self._workloads[key] = roundoff.perturbed(
            self.workload(spec._replace(perturb=0.0)), spec.perturb)
      return self._workloads[key]
    if key not in self._workloads:
      wl = registry.get(spec.workload, size=spec.preset,
                        batch_size=spec.batch_size,
                        weight_decay=spec.weight_decay,
                        data_dir=self.data_dir)
      if spec.hidden is not None:
        wl = dataclasses.replace(
            wl, model=models.MLP(tuple(spec.hidden), wl.num_classes),
            description=f"MLP {tuple(spec.hidden)} ReLU (reproduction "
            f"variant of {wl.name})")
      self._workloads[key] = dataclasses.replace(
          wl, target_train_loss=None, target_info=None,
          time_budget_s=math.inf)
    return self._workloads[key]

  def run(self, spec: RunSpec, finding: str) -> RunTables:
    """The finished run of ``spec`` in ``<output_dir>/<finding>/``: reused,
    copied from another finding of this session, or run now.

    Raises:
      ValueError: a bad spec (unknown workload, submission, hyperparameter).
      Exception: whatever the run raised (recorded as ``error`` in its
        folder by the runner).
    """
    path = os.path.join(self.output_dir, finding, spec.folder)
    identity = json.dumps(spec.identity(), sort_keys=True, default=str)
    if identity in self._failed:
      raise RuntimeError(f"run {spec.key} (seed {spec.seed}) failed: "
                         f"{self._failed[identity]}")
    done = self._done.get(identity)
    if rundir_lib.RunDir(path).is_final() and (self.reuse or done == path):
      self._done.setdefault(identity, path)
      return load_run(path)
    if done is not None and done != path:
      if os.path.isdir(path):
        shutil.rmtree(path)
      shutil.copytree(done, path)
      return load_run(path)
    if os.path.isdir(path):
      shutil.rmtree(path)  # an unfinished or stale run: start it again
    self._execute(spec, path)
    self._done[identity] = path
    tables = load_run(path)
    if self.log:
      s = tables.status
      name = f"{spec.key} s{spec.seed}{'r' if spec.perturb else ''}"
      self.log(f"  {finding} {name:<26} {s['status']:<16} "
               f"steps {s['steps_run']:>5}  tuner {s['submission_time_s']:6.1f}s"
               f"  diagnostics {s.get('diag_time_s', 0.0):6.1f}s  wall "
               f"{s['wall_time_s']:6.1f}s")
    return tables

  def _execute(self, spec: RunSpec, path: str) -> None:
    workload = self.workload(spec)
    submission = loader.load(spec.submission)
    hparams = submission.resolve(dict(spec.hparams), num_steps=spec.steps,
                                 unroll_loops=workload.unroll_inner_loops)
    tuner = submission.spec(hparams)
    diagnostics_fn = None
    if spec.diag_every:
      diagnostics_fn = diagnostics_lib.make_diagnostics_fn(
          workload, tuner.build(), seed=spec.seed,
          max_iters=LANCZOS_MAX_ITERS,
          measure=spec.measure or tuple(diagnostics_lib.MEASUREMENTS))
    runner.run(workload, tuner, seed=spec.seed, run_dir=path,
               hparams=hparams,
               submission={"name": submission.name, "path": submission.path},
               max_steps=spec.steps, eval_every=spec.eval_every,
               diag_every=spec.diag_every, diagnostics_fn=diagnostics_fn,
               prepare_for_eval=submission.prepare_for_eval,
               stop_at_target=False, progress=False, programs=self.programs)
