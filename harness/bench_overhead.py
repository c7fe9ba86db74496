"""Harness overhead: steps/s of the harness ÷ a bare jitted ``lax.scan`` loop.

For each workload, one run of the harness (its chunk mode, evaluation every
``eval_every`` steps, no target stop) and one bare loop — a hand-written
jitted ``lax.scan`` of the same step over the same number of steps in chunks
of the same length, nothing recorded — are measured alternately
(A B A B …) and the median ratio is printed.  Two rates are reported:

* ``clock``: steps ÷ the harness's submission clock (what time-to-target
  uses) against steps ÷ the bare loop's time;
* ``wall``: steps ÷ wall time of the whole harness loop, evaluation and
  logging included (compilation excluded from both sides).

Goal (issue 2): clock ratio ≥ 0.97.

    python -m edgeperf.harness.bench_overhead --workloads=mlp_mnist --repeats=3
"""

from __future__ import annotations

import statistics
import time

from absl import app
from absl import flags
import jax

from edgeperf import workloads
from edgeperf.harness import runner
from edgeperf.harness import step as step_lib
from edgeperf.submissions import loader

_WORKLOADS = flags.DEFINE_list("workloads", list(workloads.EMBEDDED),
                               "Workloads to measure.")
_STEPS = flags.DEFINE_integer("steps", 200, "Steps per measurement.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Alternating repetitions.")
_LR = flags.DEFINE_float("learning_rate", 0.01, "Constant GD rate.")


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


def main(argv: list[str]) -> None:
  del argv
  constant = loader.load("constant")
  print("| workload | chunk mode | harness steps/s (clock) | bare scan "
        "steps/s | clock ratio | wall ratio |")
  print("|---|---|---|---|---|---|")
  for name in _WORKLOADS.value:
    workload = workloads.get(name)
    tx = constant.build({"learning_rate": _LR.value})
    steps = _STEPS.value - _STEPS.value % workload.eval_every
    clock_ratios, wall_ratios, harness_rates, bare_rates = [], [], [], []
    for _ in range(_REPEATS.value):
      result = runner.run(workload, tx, max_steps=steps,
                          stop_at_target=False, progress=False)
      bare = bare_scan_seconds(workload, tx, steps, workload.eval_every)
      loop_wall = result.wall_time_s - result.compile_time_s
      harness_rates.append(steps / result.submission_time_s)
      bare_rates.append(steps / bare)
      clock_ratios.append(bare / result.submission_time_s)
      wall_ratios.append(bare / loop_wall)
    print(f"| {name} | {workload.chunk_mode} | "
          f"{statistics.median(harness_rates):.1f} | "
          f"{statistics.median(bare_rates):.1f} | "
          f"{statistics.median(clock_ratios):.3f} | "
          f"{statistics.median(wall_ratios):.3f} |", flush=True)


if __name__ == "__main__":
  app.run(main)
