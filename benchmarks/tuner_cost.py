"""Per-step cost of every tuner relative to a constant-learning-rate step.

For each workload (full batch, the harness's step and chunk mode) every tuner
variant is timed side by side with the constant-lr reference: for each
repeat and each variant, one chunk of the reference then one chunk of the
variant (A B A B …).  Each variant first runs one untimed chunk from the
initial parameters (compilation, step-0 bootstraps such as the secant's jvp or
the Chebyshev M estimate); every timed chunk then restarts from that warm
(params, state), so a chunk of ``--steps`` (a multiple of k) pays exactly
its share of every-k refreshes.  A tuner with a refresh warm-up (every step
refreshed for its first steps) is timed in its steady schedule
(:func:`steady_start`); its warm-up costs a fixed number of refreshes.  The reported
number is the median over repeats of time(variant)/time(reference).
Compilation happens before the clock.  Printed as a markdown table, with the
mean extra evaluations per step the tuner reported (TunerStats counters).

Goals: CDAT with its curvature refreshed every k = 10 steps ≤ 1.05×, every
k = 100 steps ≤ 1.01×; exact sharpness every 10 steps with 20 HVPs ≤ 3×;
the edge controller (its curvature refreshed every 10 steps) no more than
CDAT k = 10 on the same workload (issue 26; the two rows are side by side,
each timed against the same reference).
Use ``--steps=100`` (a multiple of every k) for the k = 100 row.

Usage::

    python -m edgeperf.benchmarks.tuner_cost \
        --workloads=linreg_digits,mlp_mnist --repeats=7 --steps=100
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, Callable, Mapping, Sequence

from absl import flags
import jax
import numpy as np

from edgeperf.harness import step as step_lib
from edgeperf.cli import flagparse
from edgeperf.submissions import api
from edgeperf.submissions import loader
from edgeperf.workloads import base
from edgeperf.workloads import registry

REFERENCE = ("constant", "constant", {"learning_rate": 1e-3})

VARIANTS: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    # (label, submission, hparams, goal)
    ("cdat jvp k=1", "cdat", dict(sigma=2.0, estimator="jvp", every_k=1),
     "report"),
    ("cdat taylor k=1", "cdat", dict(sigma=2.0, estimator="taylor",
                                     every_k=1), "report"),
    ("cdat hvp k=1", "cdat", dict(sigma=2.0, estimator="hvp", every_k=1), ""),
    ("cdat jvp k=10", "cdat", dict(sigma=2.0, estimator="jvp", every_k=10),
     "≤ 1.05"),
    ("edge controller k=10", "edge_controller",
     dict(set_point=2.0, ki=0.5, every_k=10, base_optimizer="gd"),
     "≤ cdat jvp k=10"),
    ("cdat jvp k=100", "cdat", dict(sigma=2.0, estimator="jvp",
                                    every_k=100), "≤ 1.01"),
    ("cdat secant", "cdat", dict(sigma=2.0, estimator="secant"), "report"),
    ("qg", "qg", {}, ""),
    ("armijo c₊=4", "armijo", dict(c=1e-4, c_plus=4.0, c_minus=0.8), ""),
    ("polyak", "polyak", dict(max_learning_rate=1.0), ""),
    ("hypergradient", "hypergradient", dict(learning_rate=1e-3, beta=1e-2),
     ""),
    ("exact sharpness k=10", "exact_sharpness",
     dict(sigma=3.0, every_k=10, num_iters=20), "≤ 3"),
    ("warm-up cosine", "warmup_schedule",
     dict(peak_learning_rate=1e-3, shape="cosine"), ""),
    ("fractal chebyshev", "fractal_chebyshev",
     dict(horizon=64, min_curvature_ratio=1e-2), ""),
    ("dog", "dog", {}, ""),
    ("prodigy", "prodigy", {}, ""),
    ("mechanic", "mechanic", {}, ""),
    ("dadapt", "dadapt", {}, ""),
    ("schedule-free", "schedule_free", dict(learning_rate=1e-3), ""),
)


def build(submission: str, hparams: dict[str, Any],
          unroll_loops: bool | None = None):
  sub = loader.load(submission)
  merged = {h.name: (h.values[0] if h.is_finite else h.from_unit(0.5))
            for h in sub.search_space.hyperparameters}
  merged.update(hparams)
  return sub.build(merged, unroll_loops=unroll_loops)


def _timed(chunk, params, state, batch) -> tuple[float, Any]:
  start = time.perf_counter()
  out = chunk(params, state, batch)
  jax.block_until_ready(out)
  return time.perf_counter() - start, out[2]


def steady_start(tx: Any) -> int:
  """The first step of the steady refresh schedule: past a refreshing
  tuner's warm-up (every step refreshed), at a multiple of its period, so a
  timed chunk pays exactly its share of every-k refreshes; past step 0 for
  a tuner that refreshes there only (the fractal Chebyshev schedule's M).
  What the warm-up or step 0 costs is a fixed number of refreshes, reported
  apart."""
  if not api.is_refreshing(tx):
    return 0
  if tx.every_k is None:  # one refresh at step 0 (or a warm-up) only
    return max(tx.warmup, 1)
  return -(-tx.warmup // tx.every_k) * tx.every_k


def measure_workload(workload_name: str, variants: Sequence[tuple], *,
                     repeats: int, steps: int, size: str = "small"
                     ) -> dict[str, dict[str, float]]:
  """Median cost ratios (and mean extra evaluations) of ``variants`` on
  ``workload_name`` at preset ``size``."""
  wl = registry.get(workload_name, size=size)
  builders = {label: (lambda s=submission, h=hparams:
                      build(s, h, wl.unroll_inner_loops))
              for label, submission, hparams, _ in variants}
  return measure_transforms(wl, builders, repeats=repeats, steps=steps)


def measure_transforms(wl: base.Workload,
                       builders: Mapping[str, Callable[[], Any]], *,
                       repeats: int, steps: int
                       ) -> dict[str, dict[str, float]]:
  """Median cost ratios (and mean extra evaluations) of the tuners built by
  ``builders`` (label -> a function returning the tuner) on the workload
  ``wl`` (from :func:`edgeperf.workloads.registry.get`), each timed in
  interleaved pairs against the constant-lr reference.  A builder that
  raises ``ValueError`` (e.g. an estimator with no rule for f) gets a NaN
  ratio and the error.

  Each result also holds ``step_s`` and ``reference_step_s`` (median
  seconds per step of the variant and of the reference over its pairs),
  ``memory`` and ``reference_memory`` (XLA's memory analysis of the
  compiled chunk, :class:`~edgeperf.harness.step.CompiledChunk`, as a
  dict, or None) and ``compile_s``."""
  # A typed key (the same parameters as PRNGKey(0)): the paper presets'
  # init is compiled ahead of time for one.
  params = wl.init(jax.random.key(0))
  batch = wl.full_train_batch()

  def compile_chunk(tx):
    state = tx.init(params)
    structure = step_lib.segments(steady_start(tx), steps,
                                  step_lib.refresh_schedule(tx))
    chunk = step_lib.CompiledChunk(step_lib.make_train_step(wl, tx),
                                   wl.chunk_mode, steps, True,
                                   (params, state, batch), structure=structure)
    return chunk, state

  ref_chunk, ref_state = compile_chunk(build(REFERENCE[1], REFERENCE[2]))
  compiled, failed = {}, {}
  for label, make in builders.items():
    try:
      compiled[label] = compile_chunk(make())
    except ValueError as e:  # e.g. an estimator with no rule for f
      failed[label] = {"ratio": float("nan"), "evals": float("nan"),
                       "error": str(e)}
  def warm(chunk, state):
    out = chunk(params, state, batch)
    jax.block_until_ready(out)
    return chunk, out[0], out[1]

  ref_chunk, ref_params, ref_state = warm(ref_chunk, ref_state)
  compiled = {label: warm(*c) for label, c in compiled.items()}
  ratios: dict[str, list[float]] = {label: [] for label in compiled}
  times: dict[str, list[tuple[float, float]]] = {label: [] for label in
                                                 compiled}
  evals: dict[str, float] = {}
  for _ in range(repeats):
    for label, (chunk, start, state) in compiled.items():
      t_ref, _ = _timed(ref_chunk, ref_params, ref_state, batch)
      t_var, records = _timed(chunk, start, state, batch)
      ratios[label].append(t_var / t_ref)
      times[label].append((t_var, t_ref))
      evals[label] = float(sum(
          np.mean(np.asarray(records[k])) for k in api.EVAL_COUNTERS))

  def analysis(chunk):
    return None if chunk.memory is None else chunk.memory.as_dict()

  out = {label: {
      "ratio": statistics.median(r), "evals": evals[label],
      "step_s": statistics.median(t for t, _ in times[label]) / steps,
      "reference_step_s": statistics.median(t for _, t in times[label])
                          / steps,
      "memory": analysis(compiled[label][0]),
      "reference_memory": analysis(ref_chunk),
      "compile_s": compiled[label][0].compile_s}
         for label, r in ratios.items()}
  return {**out, **failed}


def markdown_table(results: dict[str, dict[str, dict[str, float]]],
                   variants: Sequence[tuple]) -> str:
  """Rows: tuners; columns: workloads (ratio, and extra evals per step)."""
  names = list(results)
  lines = ["| tuner | goal | " + " | ".join(names) + " |",
           "|---|---|" + "---|" * len(names)]
  for label, _, _, goal in variants:
    cells = []
    for name in names:
      r = results[name][label]
      cells.append("cannot run" if "error" in r else
                   f"{r['ratio']:.2f}× ({r['evals']:.1f} ev)")
    lines.append(f"| {label} | {goal} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def define_timing_flags(fv: flags.FlagValues) -> None:
  """``--workloads``, ``--repeats``, ``--steps`` (shared by the scripts that
  time per-step costs with :func:`measure_transforms`)."""
  flags.DEFINE_list("workloads", list(registry.EMBEDDED), "Workload names.",
                    flag_values=fv)
  flags.DEFINE_integer("repeats", 7, "A/B pairs per variant (median of "
                       "ratios).", flag_values=fv)
  flags.DEFINE_integer("steps", 100, "Steps per timed chunk (a multiple of "
                       "every k).", flag_values=fv)


def check_timing_flags(fv: flags.FlagValues, prog: str) -> None:
  if fv.repeats < 1 or fv.steps < 1:
    flagparse.fail(prog, "--repeats and --steps must be >= 1", 2)


def _define(fv: flags.FlagValues) -> None:
  define_timing_flags(fv)
  flags.DEFINE_list("tuners", [], "Variant labels (default: all).",
                    flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "tuner_cost")
  check_timing_flags(fv, "tuner_cost")
  variants = VARIANTS
  if fv.tuners:
    known = {v[0] for v in VARIANTS}
    unknown = sorted(set(fv.tuners) - known)
    if unknown:
      flagparse.fail("tuner_cost", f"unknown tuners {unknown}; known: "
                     f"{sorted(known)}", 2)
    variants = tuple(v for v in VARIANTS if v[0] in fv.tuners)
  results = {}
  for i, name in enumerate(fv.workloads, 1):
    start = time.perf_counter()
    print(f"tuner_cost: {name} ({i}/{len(fv.workloads)}): compiling and "
          f"timing {len(variants)} tuners...", file=sys.stderr, flush=True)
    results[name] = measure_workload(name, variants, repeats=fv.repeats,
                                     steps=fv.steps)
    print(f"tuner_cost: {name} done in {time.perf_counter() - start:.0f} s",
          file=sys.stderr, flush=True)
  print(f"Per-step time ÷ constant-lr step (median of {fv.repeats} "
        f"interleaved pairs, {fv.steps}-step chunks; ev = extra "
        "evaluations per step the tuner reported)\n")
  print(markdown_table(results, variants))


if __name__ == "__main__":
  main(sys.argv)
