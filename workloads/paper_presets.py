"""The paper's workloads: its models on its data, at ``paper`` and ``small``
size.

Roulet, Agarwala, Grill, Swirszcz, Blondel & Pedregosa, "Stepping on the
Edge: Curvature Aware Learning Rate Tuners" (2024), App. C: CIFAR-10 (pixels
in [0, 1], not standardised; full batch = a 4,096-example subset of the train
split, mini-batch = all 50,000, evaluated on the 10,000 test examples), MNIST
(a subset of 8,192), Imagenette (1,024 examples, 224×224 crops) and Tiny
Shakespeare (character level, full batch = 2,048 blocks of 64); squared loss
or cross-entropy; weight decay 1e-5 (the :class:`~edgeperf.workloads.base.
Workload` default).  Models: :mod:`edgeperf.workloads.paper_models`.

``paper`` is the protocol above; ``small`` keeps each architecture at a
width and depth that trains on a CPU (``paper_models``'s ``small`` size) on
fewer examples.  Subsets are the first N examples of a split: TFDS shuffles
examples when it prepares a dataset, so these are a fixed pseudo-random
subset.  Data come from a prepared TFDS ``data_dir``
(:mod:`edgeperf.workloads.datasets`); nothing is downloaded.

No targets are stored for these presets: a run without one ends
``completed`` (``edgeperf-set-targets --workloads=... --size=...``, with
``TFDS_DATA_DIR`` pointing at the data, sets them on the machine that will
be scored).

Data sources (:data:`DATA_SOURCES`): ``tfds`` (the paper's data) or
``synthetic`` (:func:`synthetic`: random examples of the right shapes and
dtypes, for measuring what a step costs on a machine without the data; a
workload built on them is marked ``synthetic`` and every run that scores or
sets a target refuses it, :func:`edgeperf.workloads.base.require_real_data`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from edgeperf import _checks
from edgeperf.workloads import base
from edgeperf.workloads import datasets
from edgeperf.workloads import paper_models

SIZES = ("small", "paper")
DATA_SOURCES = ("tfds", "synthetic")
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}
"""How the paper models' ``init`` is compiled (see ``Workload.init``)."""


class Preset(NamedTuple):
  """One paper workload at one size (what :func:`build` makes)."""

  arch: str  # architecture in paper_models
  model_size: str  # paper_models size: ``paper`` or ``small``
  dataset: str  # cifar10, mnist, imagenette or tiny_shakespeare
  loss_type: str  # squared or cross_entropy
  chunk_mode: str  # the harness's chunk mode (loop for conv nets)
  num_train: int  # training examples (blocks) in the full-batch regime
  num_train_mini: int | None  # the same in mini-batch (None: the split)
  num_eval: int  # held-out examples (blocks)
  image: int | None  # crop side (imagenette), else None
  step_budget: int  # most steps of a run
  time_budget_s: float  # most clocked seconds of a run
  eval_every: int  # steps between evaluations


# name: (architecture, dataset, loss, chunk mode).  Losses as the paper
# uses them: squared for the ResNet34 and the MNIST MLP, cross-entropy
# elsewhere.  Conv nets chain steps in a Python loop (a conv gradient in
# lax.scan is slow on CPU).
_WORKLOADS = {
    "resnet34_cifar10": ("resnet34", "cifar10", "squared", "loop"),
    "resnet50_cifar10": ("resnet50", "cifar10", "cross_entropy", "loop"),
    "mixer_ti8_cifar10": ("mixer_ti8", "cifar10", "cross_entropy", "scan"),
    "vit_ti32_cifar10": ("vit_ti32", "cifar10", "cross_entropy", "scan"),
    "vit_ti32_imagenette": ("vit_ti32", "imagenette", "cross_entropy",
                            "scan"),
    "nanolm_tinyshakespeare": ("nanolm", "tiny_shakespeare", "cross_entropy",
                               "scan"),
    "mlp256x3_mnist": ("mlp_256x3", "mnist", "squared", "scan"),
    "mlp1024_cifar10": ("mlp_1024", "cifar10", "cross_entropy", "scan"),
}
NAMES = tuple(_WORKLOADS)

# dataset: size: (full-batch train, mini-batch train (None: the whole
# split), eval), in examples (blocks for Tiny Shakespeare).
_DATA = {
    "cifar10": {"paper": (4096, None, 10_000), "small": (512, 4096, 1000)},
    "mnist": {"paper": (8192, None, 10_000), "small": (1024, 8192, 1000)},
    "imagenette": {"paper": (1024, 1024, 1024), "small": (256, 256, 256)},
    "tiny_shakespeare": {"paper": (2048, None, 256),
                         "small": (128, 1024, 128)},
}
_SPLITS = {"cifar10": ("train", "test"), "mnist": ("train", "test"),
           "imagenette": ("train", "validation"),
           "tiny_shakespeare": ("train", "validation")}
_IMAGENETTE_SIDE = {"paper": 224, "small": 96}
_HOURS = 3600.0


def preset(name: str, size: str) -> Preset:
  """The recipe of ``name`` at ``size`` (no data read).

  Horizons: the paper's N = 16,384 steps (8,192 for NanoLM) at ``paper``
  size; 1,000 steps or 10 minutes at ``small``.
  """
  _checks.one_of("paper workload", name, NAMES)
  _checks.one_of(f"size of {name}", size, SIZES)
  arch, dataset, loss_type, chunk_mode = _WORKLOADS[name]
  num_train, num_train_mini, num_eval = _DATA[dataset][size]
  paper = size == "paper"
  return Preset(
      arch=arch, model_size=size, dataset=dataset, loss_type=loss_type,
      chunk_mode=chunk_mode, num_train=num_train,
      num_train_mini=num_train_mini, num_eval=num_eval,
      image=_IMAGENETTE_SIDE[size] if dataset == "imagenette" else None,
      step_budget=(8192 if arch == "nanolm" else 16_384) if paper else 1000,
      time_budget_s=48 * _HOURS if paper else 600.0,
      eval_every=500 if paper else 50)


def _require(arrays: datasets.Arrays, n: int | None, dataset: str,
             split: str) -> datasets.Arrays:
  got = len(arrays["inputs"])
  if n is not None and got < n:
    raise datasets.DataUnavailableError(
        f"TFDS {dataset}/{split} has {got} examples; the preset needs {n}")
  return arrays


def _text_blocks(p: Preset, num_train: int | None, data_dir: str | None
                 ) -> tuple[datasets.Arrays, datasets.Arrays, int]:
  """Tiny Shakespeare: consecutive blocks of the train text (targets the
  same shifted by one); eval blocks from the validation text; the
  vocabulary is the sorted characters of both."""
  block = paper_models.config(p.arch, p.model_size)["context"]
  train_split, eval_split = _SPLITS[p.dataset]
  text = datasets.tfds_text("tiny_shakespeare", train_split, data_dir)
  held_out = datasets.tfds_text("tiny_shakespeare", eval_split, data_dir)
  vocab = datasets.char_vocabulary(text + held_out)
  available = (len(text) - 1) // block
  if num_train is None:
    num_train = available
  for split, got, need, what in ((train_split, text, num_train, "train"),
                                 (eval_split, held_out, p.num_eval, "eval")):
    if (len(got) - 1) // block < need:
      raise datasets.DataUnavailableError(
          f"TFDS tiny_shakespeare/{split} has {len(got):,} characters; the "
          f"preset needs {need} {what} blocks of {block} "
          f"({need * block + 1:,} characters)")
  train = datasets.char_blocks(text, vocab, block, num_train)
  evals = datasets.char_blocks(held_out, vocab, block, p.num_eval)
  return train, evals, len(vocab)


def load(p: Preset, data_dir: str | None, *, mini_batch: bool
         ) -> tuple[datasets.Arrays, datasets.Arrays, int]:
  """``(train, eval, num_classes)`` of a preset, read from TFDS.

  Raises:
    DataUnavailableError: the data are not prepared in ``data_dir``, or a
      split is shorter than the preset needs.
  """
  num_train = p.num_train_mini if mini_batch else p.num_train
  if p.dataset == "tiny_shakespeare":
    return _text_blocks(p, num_train, data_dir)
  train_split, eval_split = _SPLITS[p.dataset]
  if p.dataset == "imagenette":
    train = datasets.tfds_imagenette(train_split, data_dir, num_train,
                                     crop=p.image)
    evals = datasets.tfds_imagenette(eval_split, data_dir, p.num_eval,
                                     crop=p.image)
  else:
    train = datasets.tfds_images(p.dataset, train_split, data_dir, num_train)
    evals = datasets.tfds_images(p.dataset, eval_split, data_dir, p.num_eval)
  return (_require(train, num_train, p.dataset, train_split),
          _require(evals, p.num_eval, p.dataset, eval_split), 10)


def _abstract_split(p: Preset, n: int) -> datasets.Arrays:
  if p.dataset == "tiny_shakespeare":
    block = paper_models.config(p.arch, p.model_size)["context"]
    example, dtype, target = (block,), np.int32, (block,)
  else:
    side = p.image or {"cifar10": 32, "mnist": 28}[p.dataset]
    channels = 1 if p.dataset == "mnist" else 3
    example, dtype, target = (side, side, channels), np.float32, ()
  return {"inputs": np.broadcast_to(np.zeros(example, dtype), (n,) + example),
          "targets": np.broadcast_to(np.zeros(target, np.int32),
                                     (n,) + target)}


# The full splits, for shapes when no data is read (mini-batch presets that
# take a whole split).
_SPLIT_SIZES = {"cifar10": 50_000, "mnist": 60_000, "imagenette": 9469,
                "tiny_shakespeare": 1_003_854}


def abstract(p: Preset, *, mini_batch: bool, vocab_size: int = 65
             ) -> tuple[datasets.Arrays, datasets.Arrays, int]:
  """:func:`load`'s shapes without reading anything: every example is a
  zero-stride view of one zero example (no memory).  For memory checks
  before the data exist; ``vocab_size``: Tiny Shakespeare has 65 symbols.
  """
  num_train = p.num_train_mini if mini_batch else p.num_train
  if num_train is None:
    num_train = _SPLIT_SIZES[p.dataset]
    if p.dataset == "tiny_shakespeare":
      num_train = (num_train - 1) // paper_models.config(
          p.arch, p.model_size)["context"]
  classes = vocab_size if p.dataset == "tiny_shakespeare" else 10
  return (_abstract_split(p, num_train), _abstract_split(p, p.num_eval),
          classes)


def synthetic(p: Preset, *, mini_batch: bool, seed: int = 0,
              vocab_size: int = 65
              ) -> tuple[datasets.Arrays, datasets.Arrays, int]:
  """:func:`abstract`'s shapes filled with random examples (seeded, so the
  same every time): pixels uniform in [0, 1), labels and characters
  uniform over the classes.  For cost measurement only: a loss on them
  means nothing.  ``vocab_size``: Tiny Shakespeare's 65 symbols."""
  rng = np.random.default_rng(seed)
  train, evals, classes = abstract(p, mini_batch=mini_batch,
                                   vocab_size=vocab_size)

  def fill(split: datasets.Arrays) -> datasets.Arrays:
    inputs, targets = split["inputs"], split["targets"]
    if inputs.dtype == np.int32:  # character blocks
      drawn = rng.integers(0, classes, inputs.shape, np.int32)
    else:
      drawn = rng.random(inputs.shape, np.float32)
    return {"inputs": drawn,
            "targets": rng.integers(0, classes, targets.shape, np.int32)}

  return fill(train), fill(evals), classes


def build(name: str, size: str, data_dir: str | None, *, mini_batch: bool,
          data: tuple[datasets.Arrays, datasets.Arrays, int] | None = None
          ) -> base.Preset:
  """The registry's preset of a paper workload.

  Args:
    name: one of :data:`NAMES`.
    size: ``paper`` or ``small``.
    data_dir: the TFDS data directory.
    mini_batch: the regime (the paper's mini-batch presets take the whole
      train split).
    data: ``(train, eval, num_classes)`` to use instead of reading TFDS
      (e.g. :func:`abstract`).
  """
  p = preset(name, size)
  train, evals, num_classes = data or load(p, data_dir,
                                           mini_batch=mini_batch)
  model = paper_models.build(p.arch, p.model_size, num_classes=num_classes)
  return base.Preset(
      model=model, loss_type=p.loss_type, num_classes=num_classes,
      train=train, eval=evals, step_hint=p.step_budget // 2,
      step_budget=p.step_budget, time_budget_s=p.time_budget_s,
      chunk_mode=p.chunk_mode, eval_every=p.eval_every,
      init_compiler_options=INIT_COMPILER_OPTIONS,
      reference_memory=size == "paper",
      description=(f"{p.arch} ({size}) on {len(train['inputs']):,} "
                   f"{p.dataset} examples, {p.loss_type} loss"))
