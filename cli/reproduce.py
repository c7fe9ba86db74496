"""``edgeperf-reproduce`` (``make reproduce``): runs the experiment behind
each of the papers' findings F1–F8 and simulates the theory models M1–M4
(:mod:`edgeperf.reproduce`), then writes
``<output_dir>/findings.md`` (claim, setting, measured numbers, computed
verdict per finding), ``findings.json``, one figure per finding and the raw
run folders.

``--findings`` takes ids (``F1,F3,M2``) or groups (``all``, ``findings``,
``models``); ``--size`` is ``tiny`` (a smoke test), ``small`` (the CPU
settings), ``medium`` or ``paper`` (the paper's workloads, on TFDS data
from ``--data_dir``); ``--seeds`` replaces each finding's default seeds
(3 at ``--size=small``; ``--seeds=0`` is a quick single-seed pass).
``--replicates`` adds a roundoff replicate per seed (initial parameters
perturbed by a relative 1e-7) and marks the checks it flips *unstable*;
``--replicates_only`` runs the replicates in place of the seeds, and
``--compare_with`` counts the verdicts and checks that differ from another
reproduction's ``findings.json``.  ``--workers`` processes run the distinct
runs (shared runs once).
"""

from __future__ import annotations

import os
import resource
import shlex
import sys
import time
from typing import Sequence

from absl import flags

from edgeperf.cli import flagparse
from edgeperf.reproduce import experiments
from edgeperf.reproduce import findings as findings_lib
from edgeperf.reproduce import pipeline
from edgeperf.reproduce import report
from edgeperf.workloads import datasets

PROG = "edgeperf-reproduce"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("findings", ["all"], "Findings and models to run: ids "
                    f"({', '.join(findings_lib.FINDINGS)}) or groups "
                    f"({', '.join(findings_lib.GROUPS)}).", flag_values=fv)
  flags.DEFINE_enum("size", "small", list(experiments.SIZES), "Workload size "
                    "and run length (tiny: a smoke test; paper: the paper's "
                    "workloads, TFDS data from --data_dir).", flag_values=fv)
  flags.DEFINE_string("data_dir", None, "TFDS data directory of the paper's "
                      "workloads (--size=paper; default: TFDS's, "
                      "$TFDS_DATA_DIR).", flag_values=fv)
  flags.DEFINE_list("seeds", None, "Seeds (default: each finding's own, the "
                    "first the one its setting was chosen on; 3 at "
                    "--size=small, 1 at tiny and paper). --seeds=0: a quick "
                    "single-seed pass.", flag_values=fv)
  flags.DEFINE_bool("replicates", False, "Add a roundoff replicate per seed "
                    "(initial parameters perturbed by a relative 1e-7); a "
                    "check it flips is unstable and the finding cannot be "
                    "'shows'.", flag_values=fv)
  flags.DEFINE_bool("replicates_only", False, "Run only the replicates, in "
                    "place of the seeds (with --compare_with: how many "
                    "verdicts a last-bit change flips).", flag_values=fv)
  flags.DEFINE_string("compare_with", None, "A findings.json of another "
                      "reproduction: findings.md counts the verdicts and "
                      "checks that differ from it.", flag_values=fv)
  flags.DEFINE_integer("workers", 2, "Worker processes running the distinct "
                       "runs (1: all in this process).", flag_values=fv)
  flags.DEFINE_string("output_dir", os.path.join("results", "reproduction"),
                      "Where findings.md, the figures and the run folders "
                      "go.", flag_values=fv)
  flags.DEFINE_bool("reuse", False, "Reuse finished run folders of the very "
                    "same runs (else the selected findings run afresh).",
                    flag_values=fv)


def _seeds(values: Sequence[str] | None) -> list[int] | None:
  if values is None:
    return None
  try:
    return [int(v) for v in values]
  except ValueError:
    flagparse.fail(PROG, f"--seeds must be integers >= 0, got "
                   f"{','.join(values)}", 2)


def main(argv: Sequence[str] | None = None) -> None:
  argv = list(sys.argv if argv is None else argv)
  fv, _ = flagparse.parse(_define, argv, PROG)
  seeds = _seeds(fv.seeds)
  if fv.replicates and fv.replicates_only:
    flagparse.fail(PROG, "--replicates and --replicates_only exclude each "
                   "other: choose one", 2)
  if fv.workers < 1:
    flagparse.fail(PROG, f"--workers must be >= 1, got {fv.workers}", 2)
  if fv.compare_with and not os.path.isfile(fv.compare_with):
    flagparse.fail(PROG, f"--compare_with: no file {fv.compare_with} (expected "
                   "the findings.json of another reproduction)", 2)
  replicates = (pipeline.ONLY if fv.replicates_only else
                pipeline.ADD if fv.replicates else pipeline.NONE)
  flagparse.report_warnings(PROG)
  if fv.size == "paper":
    print(f"{PROG}: {experiments.SIZES['paper'].note}", file=sys.stderr)
  start = time.perf_counter()
  usage = resource.getrusage(resource.RUSAGE_SELF)
  cpu0 = usage.ru_utime + usage.ru_stime
  try:  # bad names and seeds are refused before anything runs
    outcomes = pipeline.reproduce(fv.findings, size=fv.size, seeds=seeds,
                                  output_dir=fv.output_dir, reuse=fv.reuse,
                                  data_dir=fv.data_dir, replicates=replicates,
                                  workers=fv.workers)
  except (ValueError, datasets.DataUnavailableError) as e:
    flagparse.fail(PROG, str(e), 2)
  usage = resource.getrusage(resource.RUSAGE_SELF)
  command = " ".join([PROG] + [shlex.quote(a) for a in argv[1:]])
  try:
    path, compared = report.write(
        outcomes, output_dir=fv.output_dir, size=fv.size, command=command,
        elapsed_s=time.perf_counter() - start,
        cpu_s=usage.ru_utime + usage.ru_stime - cpu0,
        compare_with=fv.compare_with)
  except ValueError as e:  # an unreadable --compare_with
    flagparse.fail(PROG, str(e), 2)
  print()
  for line in report.verdict_table(outcomes):
    print(line)
  if compared:
    print(f"\ncompared with {fv.compare_with}: {compared}")
  print(f"\nwrote {path} ({(time.perf_counter() - start) / 60:.1f} min)")
  if any(o.error for o in outcomes):
    flagparse.fail(PROG, "some findings could not be judged: " + ", ".join(
        o.finding.id for o in outcomes if o.error))


if __name__ == "__main__":
  main(sys.argv)
