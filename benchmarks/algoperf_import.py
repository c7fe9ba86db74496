"""Per-step time of an AlgoPerf submission through the import path ÷ the
same rule as a native edgeperf submission, side by side.

The rule is AdamW (Loshchilov & Hutter 2019; lr 1e-3, b1 0.9, b2 0.999,
decoupled weight decay 0): as the AlgoPerf-API submission
``tests/algoperf_submissions/adamw`` (one ``update_params`` call per step,
jitting its own step as AlgoPerf's reference submissions do), run by
:mod:`edgeperf.harness.owned_steps`; and as an optax transformation run
natively by :func:`edgeperf.harness.runner.run`, in the workload's chunk
mode (a compiled chunk of steps) and in ``loop`` mode (one jitted step per
Python call, the import path's structure).  Per round the three runs go one
after the other (interleaved), each from seed 0 for ``--steps`` steps; a
run's per-step time is the median of its clocked step times, step 0 left
out (the native runner spreads a chunk's time evenly over its steps).
Reported: the medians over rounds, and the median over rounds of each
round's ratio.

    python -m edgeperf.benchmarks.algoperf_import \
        --workloads=mlp_mnist,charlm_prose --steps=20 --rounds=3
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Sequence

from absl import flags
import numpy as np
import optax

from edgeperf import workloads
from edgeperf.cli import flagparse
from edgeperf.harness import owned_steps
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import runner
from edgeperf.submissions import loader

PROG = "algoperf_import"
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAMW = os.path.join(_REPO, "tests", "algoperf_submissions", "adamw")
HPARAMS = {"learning_rate": 1e-3, "one_minus_beta1": 0.1, "beta2": 0.999,
           "weight_decay": 0.0}


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", ["mlp_mnist", "charlm_prose"],
                    "Workloads to measure.", flag_values=fv)
  flags.DEFINE_integer("steps", 20, "Steps per run.", flag_values=fv)
  flags.DEFINE_integer("rounds", 3, "Interleaved rounds.", flag_values=fv)
  flags.DEFINE_string("submission", ADAMW, "The AlgoPerf AdamW submission.",
                      flag_values=fv)
  flags.DEFINE_string("json_out", None, "Also write the results here.",
                      flag_values=fv)


def per_step_seconds(result: runner.RunResult) -> float:
  """Median clocked seconds of a step, step 0 left out."""
  times = np.diff(np.concatenate([[0.0], result.steps["time_s"]]))
  return float(np.median(times[1:]))


def native_adamw() -> optax.GradientTransformationExtraArgs:
  return optax.with_extra_args_support(optax.adamw(
      HPARAMS["learning_rate"], b1=1 - HPARAMS["one_minus_beta1"],
      b2=HPARAMS["beta2"], eps=1e-8, weight_decay=HPARAMS["weight_decay"]))


def measure(name: str, steps: int, rounds: int, submission: str
            ) -> dict[str, object]:
  workload = workloads.get(name)
  imported = loader.load(submission).spec(HPARAMS)
  programs = programs_lib.ProgramCache()
  common = dict(seed=0, max_steps=steps, eval_every=steps, progress=False,
                stop_at_target=False, programs=programs)
  rows = []
  for _ in range(rounds):
    row = {}
    row["import"] = per_step_seconds(owned_steps.run(workload, imported,
                                                     **common))
    row["native"] = per_step_seconds(runner.run(workload, native_adamw(),
                                                **common))
    row["native_loop"] = per_step_seconds(runner.run(
        workload, native_adamw(), chunk_mode="loop", **common))
    rows.append(row)
    print(json.dumps({"workload": name, **row}), file=sys.stderr)
  med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
  return {
      "workload": name, "steps": steps, "rounds": rounds,
      "chunk_mode": workload.chunk_mode,
      "median_step_s": med,
      "import_over_native": statistics.median(
          r["import"] / r["native"] for r in rows),
      "import_over_native_loop": statistics.median(
          r["import"] / r["native_loop"] for r in rows),
  }


def main(argv: Sequence[str] | None = None) -> int:
  fv, _ = flagparse.parse(_define, argv, PROG)
  results = [measure(name, fv.steps, fv.rounds, fv.submission)
             for name in fv.workloads]
  for r in results:
    med = r["median_step_s"]
    print(f"{r['workload']:14s} import {1e3 * med['import']:8.2f} ms  "
          f"native ({r['chunk_mode']}) {1e3 * med['native']:8.2f} ms  "
          f"native (loop) {1e3 * med['native_loop']:8.2f} ms  "
          f"import/native {r['import_over_native']:.2f}  "
          f"import/native-loop {r['import_over_native_loop']:.2f}")
  if fv.json_out:
    with open(fv.json_out, "w") as f:
      json.dump(results, f, indent=2)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
