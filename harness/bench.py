"""``edgeperf-bench``: the tuned constant baseline on every embedded workload.

Runs constant-lr GD at each workload's stored best learning rate (the one
that set its target, ``workloads/targets.json``) and prints a markdown table
of steps- and time-to-target.  Runs go to ``--output_dir`` (default
``results/baseline``); a finished run is reused, not rerun.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from edgeperf import workloads
from edgeperf.harness import records
from edgeperf.harness import runner
from edgeperf.submissions import loader

_OUTPUT_DIR = flags.DEFINE_string("output_dir", "results/baseline",
                                  "Folder of the baseline runs.")
_WORKLOADS = flags.DEFINE_list("workloads", list(workloads.EMBEDDED),
                               "Workloads to run.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed.")


def _fmt(value, spec: str) -> str:
  return "∞" if value is None else format(value, spec)


def main(argv: list[str]) -> int:
  del argv
  constant = loader.load("constant")
  rows = []
  for name in _WORKLOADS.value:
    workload = workloads.get(name)
    if workload.target_train_loss is None:
      print(f"{workload.key}: no target set; run edgeperf-set-targets",
            file=sys.stderr)
      continue
    lr = workload.target_info["best_learning_rate"]
    hparams = {"learning_rate": lr, "base_optimizer": "gd"}
    run_dir = os.path.join(_OUTPUT_DIR.value, name, f"seed{_SEED.value}")
    if not records.is_final(run_dir):
      runner.run(workload, constant.build(hparams), seed=_SEED.value,
                 run_dir=run_dir, hparams=hparams,
                 submission={"name": constant.name, "path": constant.path})
    status = records.read_json(os.path.join(run_dir, "status.json"))
    rows.append((name, lr, workload.target_train_loss, status))
  print("\n| workload | lr | target train loss | status | steps to target "
        "| time to target (s) | compile (s) |")
  print("|---|---|---|---|---|---|---|")
  for name, lr, target, status in rows:
    print(f"| {name} | {lr:g} | {target:.4g} | {status['status']} | "
          f"{_fmt(status.get('target_step'), 'd')} | "
          f"{_fmt(status.get('target_time_s'), '.2f')} | "
          f"{status['compile_time_s']:.2f} |")
  return 0


def run() -> None:
  app.run(main)


if __name__ == "__main__":
  run()
