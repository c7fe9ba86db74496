"""Harness overhead: steps/s of the harness ÷ a bare jitted ``lax.scan`` loop.

For each workload, one run of the harness (its chunk mode, evaluation every
``eval_every`` steps, no target stop) and one bare loop — a hand-written
jitted ``lax.scan`` of the same step over the same number of steps in chunks
of the same length, nothing recorded — are measured alternately
(A B A B …) and the median ratio is printed.  Two rates are reported:

* ``clock``: steps ÷ the harness's submission clock (what time-to-target
  uses) against steps ÷ the bare loop's time;
* ``wall``: steps ÷ wall time of the harness's chunk loop, evaluation and
  logging included (compilation excluded from both sides).

Each measurement is sized to last about ``--min_seconds`` (tiny workloads
take thousands of steps), since shorter ones are mostly noise.

Goal (issue 2): clock ratio ≥ 0.97.

A second table times the harness in each chunk mode (``scan``,
``scan_unrolled``, ``loop``) per workload: the fastest is the workload's
``chunk_mode`` preset.

    python -m edgeperf.benchmarks.overhead --workloads=mlp_mnist --repeats=3
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Sequence

from absl import flags
import jax

from edgeperf import workloads
from edgeperf.harness import runner
from edgeperf.harness import step as step_lib
from edgeperf.cli import flagparse
from edgeperf.submissions import loader


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("workloads", list(workloads.EMBEDDED),
                    "Workloads to measure.", flag_values=fv)
  flags.DEFINE_integer("steps", 200, "Minimum steps per measurement.",
                       flag_values=fv)
  flags.DEFINE_float("min_seconds", 1.0, "Grow the step count until a bare "
                     "loop takes this.", flag_values=fv)
  flags.DEFINE_integer("repeats", 3, "Alternating repetitions.",
                       flag_values=fv)
  flags.DEFINE_float("learning_rate", 0.01, "Constant GD rate.",
                     flag_values=fv)
  flags.DEFINE_bool("compare_modes", True, "Also time the harness in every "
                    "chunk mode (how each workload's chunk_mode was "
                    "chosen).", flag_values=fv)


def bare_scan_seconds(workload, tx, steps: int, chunk: int) -> float:
  """Time of a bare jitted lax.scan loop of ``steps`` steps (compiled first)."""
  params = workload.init(jax.random.key(0))
  opt_state = tx.init(params)
  batch = workload.full_train_batch()
  step = step_lib.make_train_step(workload, tx)

  def chunk_fn(params, opt_state, batch):
    def body(carry, _):
      p, s, r = step(*carry, batch)
      return (p, s), r["objective"]
    return jax.lax.scan(body, (params, opt_state), None, length=chunk)

  compiled = jax.jit(chunk_fn).lower(params, opt_state, batch).compile()
  carry = (params, opt_state)
  start = time.perf_counter()
  for _ in range(steps // chunk):
    carry, _ = compiled(*carry, batch)
  jax.block_until_ready(carry)
  return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "overhead")
  constant = loader.load("constant")
  print("| workload | chunk mode | steps | harness steps/s (clock) | bare scan "
        "steps/s | clock ratio | wall ratio |")
  print("|---|---|---|---|---|---|---|")
  for name in fv.workloads:
    workload = workloads.get(name)
    tx = constant.build({"learning_rate": fv.learning_rate})
    chunk = workload.eval_every
    steps = max(chunk, fv.steps - fv.steps % chunk)
    while bare_scan_seconds(workload, tx, steps, chunk) < fv.min_seconds:
      steps *= 2
    clock_ratios, wall_ratios, harness_rates, bare_rates = [], [], [], []
    for _ in range(fv.repeats):
      result = runner.run(workload, tx, max_steps=steps,
                          stop_at_target=False, progress=False)
      bare = bare_scan_seconds(workload, tx, steps, chunk)
      loop_wall = result.loop_wall_s
      harness_rates.append(steps / result.submission_time_s)
      bare_rates.append(steps / bare)
      clock_ratios.append(bare / result.submission_time_s)
      wall_ratios.append(bare / loop_wall)
    print(f"| {name} | {workload.chunk_mode} | {steps} | "
          f"{statistics.median(harness_rates):.1f} | "
          f"{statistics.median(bare_rates):.1f} | "
          f"{statistics.median(clock_ratios):.3f} | "
          f"{statistics.median(wall_ratios):.3f} |", flush=True)
  if fv.compare_modes:
    modes = step_lib.CHUNK_MODES
    print("\n| workload | preset mode | " +
          " | ".join(f"{m} steps/s" for m in modes) + " |")
    print("|---|---|" + "---|" * len(modes))
    for name in fv.workloads:
      workload = workloads.get(name)
      tx = constant.build({"learning_rate": fv.learning_rate})
      steps = 2 * workload.eval_every
      rates = {m: [] for m in modes}
      for _ in range(fv.repeats):
        for mode in modes:  # interleaved: A B C A B C ...
          result = runner.run(workload, tx, max_steps=steps,
                              chunk_mode=mode, stop_at_target=False,
                              progress=False)
          rates[mode].append(steps / result.submission_time_s)
      print(f"| {name} | {workload.chunk_mode} | " + " | ".join(
          f"{statistics.median(rates[m]):.1f}" for m in modes) + " |",
            flush=True)


if __name__ == "__main__":
  main(sys.argv)
