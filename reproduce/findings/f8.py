"""F8: CDAT's gains against width, depth and weight decay.

Roulet et al. (2024); the thresholds shared by every finding are in
:mod:`.common`.
"""

from __future__ import annotations

from typing import Any

from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import measures as M
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size
from edgeperf.reproduce.findings.common import (
    Finding, Judgement, best_constant, cdat, constant, fmt)


F8_SETTING = dict(workload="mlp_mnist", seed=0, steps=300)
F8_WIDTHS = (32, 128, 512)
F8_DEPTHS = (1, 2, 4)
F8_DEPTH_WIDTH = 128
F8_WEIGHT_DECAYS = (1e-5, 1e-2)
F8_CONSTANTS = (0.1, 0.2, 0.4, 0.8)


def _f8_variants() -> dict[str, dict[str, Any]]:
  out: dict[str, dict[str, Any]] = {}
  for w in F8_WIDTHS:
    out[f"width{w}"] = {"hidden": (w, w)}
  for d in F8_DEPTHS:
    out[f"depth{d}"] = {"hidden": (F8_DEPTH_WIDTH,) * d}
  for wd in F8_WEIGHT_DECAYS:
    out[f"wd{wd:g}"] = {"hidden": (F8_DEPTH_WIDTH,) * 2, "weight_decay": wd}
  return out


def _runs(size: Size, seed: int) -> tuple[RunSpec, ...]:
  runs = []
  for name, extra in _f8_variants().items():
    kw = dict(workload=size.workload(F8_SETTING["workload"]),
              preset=size.preset, seed=seed,
              steps=experiments.scaled(F8_SETTING["steps"], size), **extra)
    runs.append(cdat(f"{name}_cdat", 2.0, **kw))
    runs += [constant(f"{name}_const_{lr:g}", lr, **kw)
             for lr in F8_CONSTANTS]
  return tuple(runs)


def _judge(runs: M.Runs, size: Size) -> Judgement:
  gains, detail, interior = {}, {}, {}
  for name in _f8_variants():
    tuned = best_constant(runs, f"{name}_const_")
    cdat = M.last5(runs[f"{name}_cdat"])
    gains[name] = criteria.ratio(tuned.score, cdat)
    interior[name] = tuned.interior
    detail[name] = {"tuned_constant": tuned.key, "tuned_last5": tuned.score,
                    "cdat_last5": cdat, "gain": gains[name]}
  w = [gains[f"width{x}"] for x in F8_WIDTHS]
  d = [gains[f"depth{x}"] for x in F8_DEPTHS]
  wd = [gains[f"wd{x:g}"] for x in F8_WEIGHT_DECAYS]
  seq = lambda xs: " → ".join(fmt(x) for x in xs)
  checks = [
      check("gain_grows_with_width",
            f"gain (tuned constant's last-5 ÷ CDAT σ=2's) at width "
            f"{F8_WIDTHS[-1]} > at width {F8_WIDTHS[0]} (2 hidden layers)",
            seq(w), w[-1] > w[0],
            over_seeds=criteria.MOST_SEEDS,
            why="a trend of the typical gain, so the median seed"),
      check("gain_grows_with_depth",
            f"gain at depth {F8_DEPTHS[-1]} > at depth {F8_DEPTHS[0]} "
            f"(width {F8_DEPTH_WIDTH})", seq(d), d[-1] > d[0],
            over_seeds=criteria.MOST_SEEDS,
            why="a trend of the typical gain, so the median seed"),
      check("gain_fades_with_weight_decay",
            f"gain at weight decay {F8_WEIGHT_DECAYS[-1]:g} < at "
            f"{F8_WEIGHT_DECAYS[0]:g}", seq(wd), wd[-1] < wd[0],
            over_seeds=criteria.MOST_SEEDS,
            why="a trend of the typical gain, so the median seed"),
      check("tuned_constants_interior",
            f"every variant's best rate of {list(F8_CONSTANTS)} is not on the "
            "grid's edge",
            ", ".join(k for k, ok in interior.items() if not ok) or "all",
            all(interior.values()),
            over_seeds=criteria.EVERY_SEED,
            why="a comparison on a seed whose best rate sits on the grid's "
            "edge is against an untuned constant"),
  ]
  key = (f"gain by width {seq(w)}, by depth {seq(d)}, by weight decay "
         f"{seq(wd)}")
  return Judgement({"gain": gains, "detail": detail}, checks, key)


F8 = Finding(
    "F8", "gains vs width, depth, weight decay",
    "CDAT gains grow with width and depth, fade with large weight decay.",
    "Fig. 18", (0, 1, 2),
    lambda size: (
        f"MNIST MLP variants (the `{size.workload('mlp_mnist')}` "
        f"{size.preset} data, squared "
        f"loss, GD, full batch, {experiments.scaled(F8_SETTING['steps'], size)}"
        f" steps): widths {list(F8_WIDTHS)} (2 layers), depths "
        f"{list(F8_DEPTHS)} (width {F8_DEPTH_WIDTH}), weight decay "
        f"{list(F8_WEIGHT_DECAYS)}; CDAT σ=2 vs constant rates "
        f"{list(F8_CONSTANTS)}; gain = tuned constant's last-5 ÷ CDAT's"),
    _runs, _judge)
