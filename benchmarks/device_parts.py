"""The measurements of the device check, one function per part.

Each part reuses a benchmark module's own functions and hands every finished
item (a workload, a preset) to ``emit`` as soon as it is measured, so a part
stopped at its time limit keeps what it finished
(:mod:`edgeperf.benchmarks.device_check` runs each part in its own process).

Parts:

* ``profile``: the jvp-denominator cost profile (``make profile``:
  ``tests/benchmarks/test_denominator_cost.py`` under pytest-benchmark,
  rendered by :mod:`~edgeperf.benchmarks.render_profile`); run by the
  driver as a pytest process, not here.
* ``tuner_cost``: every tuner's per-step time ÷ the constant-lr step
  (:func:`edgeperf.benchmarks.tuner_cost.measure_workload`) on the embedded
  workloads at :attr:`Sizes.embedded_size`.
* ``paper_steps``: seconds per step and XLA memory of the constant-lr step
  and of CDAT (σ = 2, jvp-of-jvp, refreshed every k = 1 and k = 10 steps,
  timed in its steady schedule) on the paper presets, full batch, on
  synthetic batches of the presets' shapes
  (:func:`edgeperf.workloads.paper_presets.synthetic`).
* ``pipeline``: the mini-batch input pipeline's steps/s ÷ a device-resident
  batch's (:func:`edgeperf.benchmarks.pipeline.measure`).
* ``time_to_target``: constant-lr vs CDAT harness runs to a target on the
  embedded workloads: the constant at the rate that set the target (stored,
  or set here by the target procedure), CDAT at its tuned points
  (``protocol/tuned_points.json``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from edgeperf.benchmarks import pipeline
from edgeperf.benchmarks import tuner_cost
from edgeperf.harness import programs
from edgeperf.harness import runner
from edgeperf.protocol import targets
from edgeperf.protocol import tuning
from edgeperf.submissions import loader
from edgeperf.workloads import registry

Emit = Callable[[dict[str, Any]], None]


def _progress(part: str, item: str) -> None:
  """One line on stdout (the part's log) as an item starts."""
  print(f"{part}: measuring {item}", flush=True)


@dataclasses.dataclass(frozen=True)
class Sizes:
  """What each part measures, at device or tiny (CPU test) sizes."""

  # profile: pytest -k filter (None: every embedded workload), min rounds.
  profile_filter: str | None
  profile_rounds: int
  # tuner_cost: workloads, their preset, tuner labels (None: all), repeats
  # and steps per timed chunk.
  tuner_cost_workloads: tuple[str, ...]
  embedded_size: str
  tuner_cost_tuners: tuple[str, ...] | None
  tuner_cost_repeats: int
  tuner_cost_steps: int
  # paper_steps: presets (in order), their size, repeats, steps per chunk
  # (a multiple of 10, CDAT's k).
  paper_workloads: tuple[str, ...]
  paper_size: str
  paper_repeats: int
  paper_steps: int
  # pipeline: chunk length, chunks per measurement, repeats.
  pipeline_chunk: int
  pipeline_chunks: int
  pipeline_repeats: int
  # time_to_target: workloads and their preset.
  target_workloads: tuple[str, ...]
  target_size: str


# Cheapest presets first within each part: a part cut at its limit keeps
# the most rows.  The paper's flagship (ResNet34 on CIFAR-10) comes second.
DEVICE = Sizes(
    profile_filter=None, profile_rounds=10,
    tuner_cost_workloads=("linreg_digits", "mlp_mnist", "cnn_digits",
                          "charlm_prose"),
    embedded_size="large", tuner_cost_tuners=None, tuner_cost_repeats=5,
    tuner_cost_steps=100,
    paper_workloads=("mlp256x3_mnist", "resnet34_cifar10", "vit_ti32_cifar10",
                     "nanolm_tinyshakespeare", "mixer_ti8_cifar10",
                     "mlp1024_cifar10", "resnet50_cifar10",
                     "vit_ti32_imagenette"),
    paper_size="paper", paper_repeats=3, paper_steps=10,
    pipeline_chunk=50, pipeline_chunks=8, pipeline_repeats=7,
    target_workloads=("linreg_digits", "mlp_mnist", "cnn_digits",
                      "charlm_prose"),
    target_size="large")

TINY = Sizes(
    profile_filter="linreg_digits and (f or value_and_grad or fused_jvp)",
    profile_rounds=1,
    tuner_cost_workloads=("linreg_digits",), embedded_size="small",
    tuner_cost_tuners=("cdat jvp k=10",),
    tuner_cost_repeats=1, tuner_cost_steps=10,
    paper_workloads=("mlp256x3_mnist",), paper_size="small",
    paper_repeats=1, paper_steps=10,
    pipeline_chunk=10, pipeline_chunks=2, pipeline_repeats=1,
    target_workloads=("linreg_digits",), target_size="small")

CDAT_STEPS = {  # label: CDAT hyperparameters (σ = 2, jvp-of-jvp)
    "cdat k=1": dict(sigma=2.0, estimator="jvp", every_k=1),
    "cdat k=10": dict(sigma=2.0, estimator="jvp", every_k=10),
}


def tuner_cost_part(sizes: Sizes, emit: Emit) -> None:
  """The tuner-cost table, one workload at a time."""
  variants = tuple(v for v in tuner_cost.VARIANTS
                   if sizes.tuner_cost_tuners is None
                   or v[0] in sizes.tuner_cost_tuners)
  for name in sizes.tuner_cost_workloads:
    _progress("tuner_cost", f"{name}/{sizes.embedded_size}")
    results = tuner_cost.measure_workload(
        name, variants, repeats=sizes.tuner_cost_repeats,
        steps=sizes.tuner_cost_steps, size=sizes.embedded_size)
    emit({"workload": f"{name}/{sizes.embedded_size}/full",
          "repeats": sizes.tuner_cost_repeats,
          "steps": sizes.tuner_cost_steps,
          "goals": {v[0]: v[3] for v in variants}, "results": results})


def paper_steps_part(sizes: Sizes, emit: Emit) -> None:
  """Constant-lr and CDAT steps on each paper preset (synthetic data)."""
  for name in sizes.paper_workloads:
    _progress("paper_steps", f"{name}/{sizes.paper_size}")
    wl = registry.get(name, size=sizes.paper_size, data_source="synthetic")
    builders = {label: (lambda h=hparams: tuner_cost.build(
        "cdat", h, wl.unroll_inner_loops))
                for label, hparams in CDAT_STEPS.items()}
    results = tuner_cost.measure_transforms(
        wl, builders, repeats=sizes.paper_repeats, steps=sizes.paper_steps)
    emit({"workload": wl.key, "description": wl.description,
          "num_train": wl.num_train, "chunk_mode": wl.chunk_mode,
          "repeats": sizes.paper_repeats, "steps": sizes.paper_steps,
          "results": results})


def pipeline_part(sizes: Sizes, emit: Emit) -> None:
  """The mini-batch pipeline ratio (``make pipeline``'s measurement)."""
  emit(pipeline.measure(batch_size=128, size="small",
                        chunk=sizes.pipeline_chunk,
                        chunks=sizes.pipeline_chunks,
                        repeats=sizes.pipeline_repeats, use_grain=False))


TUNED = ("cdat", "cdat_amortised")
"""Timed to target at their tuned points (where the workload has one)."""


def target_and_rate(wl) -> tuple[float | None, float | None, str]:
  """``(target, constant rate that set it, where it came from)``: the
  stored target of the preset, or else one set here by the stored targets'
  own procedure (:func:`edgeperf.protocol.targets.grid_scores`: the best
  constant rate's mean objective over its last 5 iterates before the step
  hint, seed 0) — rates tuned on a smaller preset can diverge on a larger
  one.  ``(None, None, why)`` when every rate of the grid diverged."""
  info = wl.target_info or {}
  if wl.target_train_loss is not None and "best_learning_rate" in info:
    return (wl.target_train_loss, float(info["best_learning_rate"]),
            "stored (workloads/targets.json)")
  scores = targets.grid_scores(wl, progress=False)
  finite = {lr: s for lr, s in scores.items() if math.isfinite(s)}
  if not finite:
    return None, None, "none: every rate of the constant grid diverged"
  best = min(finite, key=finite.get)
  return (finite[best], best, "set here: the constant grid's best "
          "(protocol/targets.py)")


def time_to_target_part(sizes: Sizes, emit: Emit) -> None:
  """Constant-lr (at the rate that set the target, seed 0) vs CDAT (at its
  tuned points) time to target, harness runs."""
  points = tuning.points_of(tuning.read(), "gd")
  for name in sizes.target_workloads:
    _progress("time_to_target", f"{name}/{sizes.target_size}")
    wl = registry.get(name, size=sizes.target_size)
    target, rate, source = target_and_rate(wl)
    if target is None:
      emit({"workload": wl.key, "target": None, "target_source": source,
            "runs": {}})
      continue
    points_here = {"constant": {"hparams": {"learning_rate": rate,
                                            "base_optimizer": "gd"},
                                "seed": 0}}
    points_here.update({s: points[name][s] for s in TUNED
                        if s in points.get(name, {})})
    scored = dataclasses.replace(wl, target_train_loss=target,
                                 target_info={"source": source})
    cache, runs = programs.ProgramCache(), {}
    for sub, point in points_here.items():
      spec = loader.load(sub).spec(point["hparams"],
                                   num_steps=wl.step_budget,
                                   unroll_loops=wl.unroll_inner_loops)
      result = runner.run(scored, spec, seed=int(point["seed"]),
                          progress=False, programs=cache)
      runs[sub] = {**result.summary(), "hparams": point["hparams"],
                   "seed": int(point["seed"])}
    emit({"workload": wl.key, "target": target, "target_source": source,
          "runs": runs})


PARTS: dict[str, Callable[[Sizes, Emit], None]] = {
    "tuner_cost": tuner_cost_part,
    "paper_steps": paper_steps_part,
    "pipeline": pipeline_part,
    "time_to_target": time_to_target_part,
}
"""The parts :mod:`edgeperf.benchmarks.device_check` runs in forks."""
