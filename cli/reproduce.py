"""``edgeperf-reproduce`` (``make reproduce``): runs the experiment behind
each of the papers' findings F1–F8 and simulates the theory models M1–M4
(:mod:`edgeperf.reproduce`), then writes
``<output_dir>/findings.md`` (claim, setting, measured numbers, computed
verdict per finding), ``findings.json``, one figure per finding and the raw
run folders.

``--findings`` takes ids (``F1,F3,M2``) or groups (``all``, ``findings``,
``models``); ``--size`` is ``tiny`` (a smoke test), ``small`` (the CPU
settings), ``medium`` or ``paper`` (the paper's workloads, on TFDS data
from ``--data_dir``); ``--seeds`` replaces each finding's default seeds.
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
                    "ones its setting was chosen on).", flag_values=fv)
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
  flagparse.report_warnings(PROG)
  if fv.size == "paper":
    print(f"{PROG}: {experiments.SIZES['paper'].note}", file=sys.stderr)
  start = time.perf_counter()
  usage = resource.getrusage(resource.RUSAGE_SELF)
  cpu0 = usage.ru_utime + usage.ru_stime
  try:  # bad names and seeds are refused before anything runs
    outcomes = pipeline.reproduce(fv.findings, size=fv.size, seeds=seeds,
                                  output_dir=fv.output_dir, reuse=fv.reuse,
                                  data_dir=fv.data_dir)
  except (ValueError, datasets.DataUnavailableError) as e:
    flagparse.fail(PROG, str(e), 2)
  usage = resource.getrusage(resource.RUSAGE_SELF)
  command = " ".join([PROG] + [shlex.quote(a) for a in argv[1:]])
  path = report.write(
      outcomes, output_dir=fv.output_dir, size=fv.size, command=command,
      elapsed_s=time.perf_counter() - start,
      cpu_s=usage.ru_utime + usage.ru_stime - cpu0)
  print()
  for line in report.verdict_table(outcomes):
    print(line)
  print(f"\nwrote {path} ({(time.perf_counter() - start) / 60:.1f} min)")
  if any(o.error for o in outcomes):
    flagparse.fail(PROG, "some findings could not be judged: " + ", ".join(
        o.finding.id for o in outcomes if o.error))


if __name__ == "__main__":
  main(sys.argv)
