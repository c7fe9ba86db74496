"""The standard workloads, by name, with CPU-sized presets and a size knob.

Embedded (offline) workloads, the default leaderboard:
  * ``linreg_digits``: linear least squares on the 8×8 digits (a convex
    quadratic, where classical tuners work: paper Fig. 2).
  * ``mlp_mnist``: ReLU MLP on real MNIST digits, full batch, squared loss
    (the setting of Fig. 1/3).
  * ``cnn_digits``: small conv net, no batch norm, on the 8×8 digits, full
    batch, cross-entropy.
  * ``charlm_prose``: character transformer LM on English prose, full batch of
    64-character blocks, cross-entropy.

TFDS workloads (the paper's datasets; need a prepared ``data_dir``):
  ``mlp_mnist_tfds``, ``cnn_cifar10_tfds``, ``charlm_tinyshakespeare_tfds``.

Sizes: ``small`` (CPU preset, a run to target in ≤ 60 s on 2 cores),
``medium`` and ``large`` (more data and width; no stored targets until
``edgeperf-set-targets`` is run for them).

Time budgets of the embedded ``small`` presets: at least τ_max = 4 times
the tuned constant rate's time to target on the reference CPU (a slower
run cannot score: the performance profile ends at 4× the fastest, and the
fastest is no slower than the constant), rounded up to a multiple of 15 s,
and at least 30 s: 30 s (constant 0.06 s, 3.9 s, 5.3 s on ``linreg_digits``,
``cnn_digits``, ``mlp_mnist``), 45 s on ``charlm_prose`` (constant 10.0 s).

The paper's workloads (:data:`PAPER`,
:mod:`edgeperf.workloads.paper_presets`): its models on its TFDS data,
sizes ``small`` and ``paper``; their data depend on the regime (the
mini-batch presets take the whole train split).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from edgeperf import _checks
from edgeperf.workloads import base
from edgeperf.workloads import datasets
from edgeperf.workloads import models
from edgeperf.workloads import paper_presets
from edgeperf.workloads import targets_file

SIZES = ("small", "medium", "large")
_DATA_SEED = 0  # fixed shuffle of the embedded data: the split never changes
SMALL_TIME_BUDGET_S = 30.0  # the embedded presets' (module docstring)
CHARLM_TIME_BUDGET_S = 45.0


def _split(arrays: datasets.Arrays, num_train: int,
           num_eval: int) -> tuple[datasets.Arrays, datasets.Arrays]:
  n = len(arrays["inputs"])
  if num_train + num_eval > n:
    raise ValueError(f"asked for {num_train} + {num_eval} examples of {n}")
  train = {k: v[:num_train] for k, v in arrays.items()}
  evals = {k: v[num_train:num_train + num_eval] for k, v in arrays.items()}
  return train, evals


def _time_budget(size: str, small: float = SMALL_TIME_BUDGET_S) -> float:
  """An embedded preset's time budget (module docstring); larger sizes
  keep 60 s."""
  return small if size == "small" else 60.0


def _pick(size: str, presets: dict[str, Any]) -> Any:
  _checks.one_of("size", size, sorted(presets))
  return presets[size]


# --------------------------------------------------------------- presets ---

def _linreg_digits(size: str, data_dir: str | None) -> base.Preset:
  del data_dir
  _pick(size, {s: None for s in SIZES})
  if size == "small":
    data = datasets.shuffled(datasets.digits_8x8(), _DATA_SEED)
    train, evals = _split(data, 1437, 360)
  else:  # more and larger images: MNIST (784 features)
    data = datasets.shuffled(datasets.mnist_5k(), _DATA_SEED)
    train, evals = _split(data, 2048 if size == "medium" else 4000, 1000)
  return base.Preset(model=models.Linear(10), loss_type="squared", num_classes=10,
              train=train, eval=evals, step_hint=200, step_budget=1000,
              time_budget_s=_time_budget(size), chunk_mode="scan",
              eval_every=50,
              description="linear least squares (convex quadratic), digits")


def _mlp_mnist(size: str, data_dir: str | None) -> base.Preset:
  del data_dir
  num_train, hidden = _pick(size, {"small": (1024, (256, 256)),
                                   "medium": (2048, (256, 256, 256)),
                                   "large": (4000, (512, 512, 512))})
  data = datasets.shuffled(datasets.mnist_5k(), _DATA_SEED)
  train, evals = _split(data, num_train, 1000)
  return base.Preset(model=models.MLP(hidden, 10), loss_type="squared",
              num_classes=10, train=train, eval=evals, step_hint=400,
              step_budget=2000, time_budget_s=_time_budget(size),
              chunk_mode="scan",
              eval_every=50,
              description=f"MLP {hidden} ReLU on real MNIST, squared loss")


def _cnn_digits(size: str, data_dir: str | None) -> base.Preset:
  del data_dir
  channels = _pick(size, {"small": (8, 16), "medium": (16, 32),
                          "large": (32, 64)})
  data = datasets.shuffled(datasets.digits_8x8(), _DATA_SEED)
  train, evals = _split(data, 1437, 360)
  return base.Preset(model=models.SmallCNN(channels, 10), loss_type="cross_entropy",
              num_classes=10, train=train, eval=evals, step_hint=300,
              step_budget=1500, time_budget_s=_time_budget(size),
              chunk_mode="loop",
              eval_every=50,
              description=f"conv net {channels} (no batch norm), 8x8 digits")


def _charlm(text: str, size: str, description: str) -> base.Preset:
  num_blocks, d_model, layers = _pick(size, {"small": (32, 64, 2),
                                             "medium": (512, 128, 4),
                                             "large": (2048, 128, 6)})
  block_len, num_eval = 64, 128
  vocab = datasets.char_vocabulary(text)
  train = datasets.char_blocks(text, vocab, block_len, num_blocks)
  evals = datasets.char_blocks(text, vocab, block_len, num_eval,
                               offset_blocks=num_blocks)
  model = models.CharTransformer(vocab_size=len(vocab), d_model=d_model,
                                 num_heads=4, num_layers=layers,
                                 max_len=block_len)
  return base.Preset(model=model, loss_type="cross_entropy", num_classes=len(vocab),
              train=train, eval=evals, step_hint=200, step_budget=1000,
              time_budget_s=_time_budget(size, CHARLM_TIME_BUDGET_S),
              chunk_mode="scan", eval_every=50,
              description=f"char transformer d={d_model} x{layers}, "
              + description)


def _charlm_prose(size: str, data_dir: str | None) -> base.Preset:
  del data_dir
  return _charlm(datasets.english_prose(), size, "English prose (pydoc)")


def _mlp_mnist_tfds(size: str, data_dir: str | None) -> base.Preset:
  num_train, hidden = _pick(size, {"small": (1024, (256, 256)),
                                   "medium": (8192, (256, 256, 256)),
                                   "large": (8192, (1024,))})
  train = datasets.tfds_images("mnist", "train", data_dir, limit=num_train)
  evals = datasets.tfds_images("mnist", "test", data_dir, limit=1000)
  return base.Preset(model=models.MLP(hidden, 10), loss_type="squared",
              num_classes=10, train=train, eval=evals, step_hint=400,
              step_budget=2000, time_budget_s=600.0, chunk_mode="scan",
              eval_every=50, description=f"MLP {hidden} on TFDS mnist")


def _cnn_cifar10_tfds(size: str, data_dir: str | None) -> base.Preset:
  num_train, channels = _pick(size, {"small": (512, (16, 32)),
                                     "medium": (4096, (32, 32, 32)),
                                     "large": (4096, (64, 128, 256))})
  train = datasets.tfds_images("cifar10", "train", data_dir, limit=num_train)
  evals = datasets.tfds_images("cifar10", "test", data_dir, limit=1000)
  return base.Preset(model=models.SmallCNN(channels, 10, head="global_pool"),
              loss_type="cross_entropy",
              num_classes=10, train=train, eval=evals, step_hint=300,
              step_budget=1500, time_budget_s=600.0, chunk_mode="loop",
              eval_every=50, description=f"conv net {channels} on cifar10")


def _charlm_tinyshakespeare_tfds(size: str,
                                 data_dir: str | None) -> base.Preset:
  text = datasets.tfds_text("tiny_shakespeare", "train", data_dir)
  return _charlm(text, size, "Tiny Shakespeare (TFDS)")


EMBEDDED = ("linreg_digits", "mlp_mnist", "cnn_digits", "charlm_prose")
"""The workloads on data shipped with installed packages (offline)."""
TFDS = ("mlp_mnist_tfds", "cnn_cifar10_tfds", "charlm_tinyshakespeare_tfds")
"""The embedded models on the paper's datasets, read from a TFDS data_dir."""
PAPER = paper_presets.NAMES
"""The paper's workloads: its models on its TFDS data."""

_PRESETS: dict[str, Callable[[str, str | None], base.Preset]] = {
    "linreg_digits": _linreg_digits,
    "mlp_mnist": _mlp_mnist,
    "cnn_digits": _cnn_digits,
    "charlm_prose": _charlm_prose,
    "mlp_mnist_tfds": _mlp_mnist_tfds,
    "cnn_cifar10_tfds": _cnn_cifar10_tfds,
    "charlm_tinyshakespeare_tfds": _charlm_tinyshakespeare_tfds,
}


def names() -> tuple[str, ...]:
  """Every registered workload name (embedded first)."""
  return EMBEDDED + TFDS + PAPER


def sizes(name: str) -> tuple[str, ...]:
  """The size presets of workload ``name``."""
  _checks.one_of("workload", name, names())
  return paper_presets.SIZES if name in PAPER else SIZES


def get(name: str, *, size: str = "small", batch_size: int | None = None,
        data_dir: str | None = None, weight_decay: float = 1e-5,
        targets_path: str = targets_file.TARGETS_FILE,
        data_source: str = "tfds") -> base.Workload:
  """Builds a workload preset.

  Args:
    name: one of :func:`names`.
    size: one of :func:`sizes` of ``name``: ``small`` (CPU default),
      ``medium`` or ``large``; ``small`` or ``paper`` for :data:`PAPER`.
    batch_size: None for the full-batch regime, else mini-batches of this size.
    data_dir: TFDS data directory (TFDS workloads only).
    weight_decay: coefficient of (1/2)‖w‖² (1e-5 as in the paper).
    targets_path: where stored targets are read from.
    data_source: ``tfds`` (the data the preset names) or, for the paper
      presets only, ``synthetic``: random examples of the right shapes
      (:func:`edgeperf.workloads.paper_presets.synthetic`), for cost
      measurement; the workload is marked ``synthetic``, has no target, and
      every run that scores or sets a target refuses it.

  Raises:
    ValueError: unknown name, size or data source; synthetic data for a
      workload that is not a paper preset; bad batch size.
    edgeperf.workloads.datasets.DataUnavailableError: TFDS data missing.
  """
  _checks.one_of("size", size, sizes(name))
  _checks.one_of("data source", data_source, paper_presets.DATA_SOURCES)
  synthetic = data_source == "synthetic"
  if synthetic and name not in PAPER:
    raise ValueError(f"synthetic data are for the paper presets "
                     f"{list(PAPER)}; {name} has its own data")
  regime = (base.FULL_BATCH if batch_size is None else
            base.Regime("mini_batch", batch_size))
  if name in PAPER:
    mini_batch = batch_size is not None
    data = (paper_presets.synthetic(paper_presets.preset(name, size),
                                    mini_batch=mini_batch)
            if synthetic else None)
    preset = paper_presets.build(name, size, data_dir,
                                 mini_batch=mini_batch, data=data)
  else:
    preset = _PRESETS[name](size, data_dir)
  if synthetic:
    preset = dataclasses.replace(
        preset, description=preset.description +
        " (synthetic data: cost measurement only)")
  key = f"{name}/{size}/{regime.label}"
  stored = None if synthetic else targets_file.load(targets_path).get(key)
  target = None if stored is None else float(stored["target_train_loss"])
  if weight_decay != 1e-5 and stored is not None:
    target, stored = None, None  # a target is only valid for its objective
  return preset.workload(name=name, size=size, regime=regime,
                         weight_decay=weight_decay, target_train_loss=target,
                         target_info=stored, synthetic=synthetic)
