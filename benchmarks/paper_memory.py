"""Device memory of one constant-lr and one CDAT step on every paper preset.

For each paper workload (:mod:`edgeperf.workloads.paper_presets`) at the
sizes asked, XLA's memory analysis of one harness step of the constant-lr
tuner and of CDAT (σ = 2, jvp-of-jvp denominator every step), compiled for
abstract shapes: no data are read and nothing is allocated, so it runs on
any machine, with or without the TFDS data.  Per device, with the local
devices (data parallel when there are several).  A preset "fits" when its
CDAT step plus its data stay under 90% of this device's free memory (the
runner's refusal rule, :mod:`edgeperf.harness.memory`).

    python -m edgeperf.benchmarks.paper_memory --sizes=paper \\
        --output=docs/paper-memory-cpu.md
"""

from __future__ import annotations

import datetime
import sys
import time
from typing import Sequence

from absl import flags
import jax

from edgeperf.harness import memory
from edgeperf.harness import memory_profile
from edgeperf.harness import parallel
from edgeperf.cli import flagparse
from edgeperf.workloads import base
from edgeperf.workloads import paper_presets


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("sizes", ["paper"], "Preset sizes.", flag_values=fv)
  flags.DEFINE_list("workloads", list(paper_presets.NAMES), "Paper "
                    "workloads.", flag_values=fv)
  flags.DEFINE_integer("batch_size", None, "Mini-batch size (default: full "
                       "batch).", flag_values=fv)
  flags.DEFINE_string("output", None, "Markdown file to write (default: "
                      "print only).", flag_values=fv)


def _mib(n: int) -> str:
  return f"{n / 2**20:,.0f}"


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "paper_memory")
  plan = parallel.auto_plan()
  limit, source = memory.device_limit()
  allowed = None if limit is None else int(memory.HEADROOM * limit)
  tuners = memory_profile.reference_tuners()
  regime = (base.FULL_BATCH if fv.batch_size is None else
            base.Regime("mini_batch", fv.batch_size))
  command = " ".join(["python -m edgeperf.benchmarks.paper_memory",
                      *(argv[1:] if argv else [])])
  lines = [
      f"Measured {datetime.date.today()} with `{command}` on "
      f"{jax.device_count()} × {jax.devices()[0].device_kind} "
      f"({jax.default_backend()}); free: {memory.human(limit)} ({source}). "
      "MiB per device; peak = arguments + outputs + temporaries − aliased.",
      "",
      "| preset | constant: args | temps | peak | CDAT: temps | peak | "
      "CDAT ÷ constant peak | data resident | fits | compile s |",
      "|---|---|---|---|---|---|---|---|---|---|"]
  print("\n".join(lines), flush=True)
  for size in fv.sizes:
    for name in fv.workloads:
      p = paper_presets.preset(name, size)
      data = paper_presets.abstract(p, mini_batch=not regime.is_full_batch)
      workload = paper_presets.build(
          name, size, None, mini_batch=not regime.is_full_batch,
          data=data).workload(name=name, size=size, regime=regime)
      tick = time.perf_counter()
      found = {k: memory_profile.tuner_step_memory(workload, tx, plan)
               for k, tx in tuners.items()}
      seconds = time.perf_counter() - tick
      const, cdat = found["constant"], found["cdat"]
      devices = 1 if plan is None else plan.num_devices
      resident = memory.array_bytes(workload.eval, devices)
      if not regime.is_full_batch:
        resident += memory.array_bytes(workload.train, devices)
      need = cdat.peak_bytes + resident
      fits = "?" if allowed is None else ("yes" if need <= allowed else
                                          "**no**")
      line = (f"| {workload.key} | {_mib(const.argument_bytes)} | "
              f"{_mib(const.temp_bytes)} | {_mib(const.peak_bytes)} | "
              f"{_mib(cdat.temp_bytes)} | {_mib(cdat.peak_bytes)} | "
              f"{cdat.peak_bytes / const.peak_bytes:.2f} | "
              f"{_mib(resident)} | {fits} | {seconds:.0f} |")
      lines.append(line)
      print(line, flush=True)
  if fv.output:
    with open(fv.output, "w") as f:
      f.write("# Device memory of one step on the paper presets\n\n")
      f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
  main(sys.argv)
