"""The workload contract: a workload object owns its model, data, objective,
target and budgets (AlgoPerf's good idea, without global state).

Objective (Roulet et al. 2024, Sec. 2 and App. C)::

    f(w) = L(w; batch) + (weight_decay / 2) · ‖w‖²

with L the mean over examples (and positions, for language models) of either
the squared loss ½‖onehot(y) − ŷ‖² or the cross-entropy −log softmax(ŷ)_y.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from edgeperf import _checks

LOSS_TYPES = ("squared", "cross_entropy")
REGIMES = ("full_batch", "mini_batch")

Batch = Mapping[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Regime:
  """``full_batch``: every step sees the whole train set; ``mini_batch``:
  batches of ``batch_size`` drawn without replacement, reshuffled per epoch."""

  kind: str
  batch_size: int | None = None

  def __post_init__(self):
    if self.kind == "full_batch" and self.batch_size is not None:
      raise ValueError("a full_batch regime takes no batch_size")
    if self.kind == "mini_batch" and not (
        isinstance(self.batch_size, int) and self.batch_size > 0):
      raise ValueError(
          f"a mini_batch regime needs a positive int batch_size, got "
          f"{self.batch_size!r}")
    _checks.one_of("regime kind", self.kind, REGIMES)

  @property
  def is_full_batch(self) -> bool:
    return self.kind == "full_batch"

  @property
  def label(self) -> str:
    """``full`` or ``b<batch_size>``: the regime's part of a target key."""
    return "full" if self.is_full_batch else f"b{self.batch_size}"


FULL_BATCH = Regime("full_batch")


class SyntheticDataError(ValueError):
  """A run that scores or sets a target was given synthetic data."""


def require_real_data(workload: "Workload", what: str) -> None:
  """Refuses ``workload`` for ``what`` (e.g. ``a harness run``) when its
  data are synthetic: a loss on random examples scores nothing.

  Raises:
    SyntheticDataError: one line naming the workload and what to use.
  """
  if workload.synthetic:
    raise SyntheticDataError(
        f"{workload.key}: synthetic data are for cost measurement only; "
        f"{what} needs the real data (data_source='tfds')")


@dataclasses.dataclass(frozen=True, eq=False)
class Preset:
  """What a registered preset fixes of a :class:`Workload` (everything but
  its name, size, regime, objective's weight decay and target); both the
  embedded and the paper presets build one."""

  model: nn.Module  # the flax module
  loss_type: str  # ``squared`` or ``cross_entropy``
  num_classes: int  # classes (vocabulary size for language models)
  train: Mapping[str, np.ndarray]  # ``{"inputs", "targets"}``
  eval: Mapping[str, np.ndarray]  # held-out arrays, same keys
  step_hint: int  # where the tuned constant's loss defines the target
  step_budget: int  # most steps of a run
  time_budget_s: float  # most submission seconds of a run
  chunk_mode: str = "scan"  # how steps are chained between evaluations
  eval_every: int = 50  # default steps between evaluations
  description: str = ""  # one line for listings
  init_compiler_options: Mapping[str, Any] | None = None  # for model.init
  reference_memory: bool = False  # record one step's XLA memory

  def workload(self, *, name: str, size: str, regime: "Regime",
               **objective: Any) -> "Workload":
    """The workload of this preset (``objective``: ``weight_decay``,
    ``target_train_loss``, ``target_info``, ``synthetic``)."""
    fields = {f.name: getattr(self, f.name)
              for f in dataclasses.fields(self)}
    return Workload(name=name, size=size, regime=regime, **fields,
                    **objective)


@dataclasses.dataclass(frozen=True, eq=False)
class Workload:
  """A standard workload. Construct through
  :func:`edgeperf.workloads.registry.get`.

  Attributes:
    name: registry name, e.g. ``mlp_mnist``.
    size: preset name (``small`` is the CPU default; ``medium``, ``large``).
    regime: full batch or mini-batch.
    model: the flax module; ``model.apply(params, inputs)`` gives outputs.
    loss_type: ``squared`` (on one-hot labels) or ``cross_entropy``.
    num_classes: number of classes (vocabulary size for language models).
    train: training arrays ``{"inputs", "targets"}``.
    eval: held-out arrays, same keys.
    weight_decay: coefficient of (1/2)‖w‖² in the objective (1e-5 default).
    target_train_loss: the train objective that counts as reached (None: no
      target set for this preset, see ``edgeperf-set-targets``).
    target_info: where the target came from (date, hardware, procedure).
    step_hint: the step at which the tuned constant baseline's loss defines
      the target.
    step_budget: maximum number of steps of a run.
    time_budget_s: maximum cumulative submission time of a run, seconds.
    chunk_mode: how the harness chains steps between evaluations
      (``scan``, ``scan_unrolled`` or ``loop``, the fastest measured here;
      the harness checks it).
    eval_every: default number of steps between evaluations.
    description: one line for listings.
    init_compiler_options: XLA options for compiling ``model.init`` (None:
      the defaults).  The paper presets pass
      ``{"xla_backend_optimization_level": 0}``: the random initialisers of
      a deep net compile slowly under the default
      ``jax_threefry_partitionable`` (13–23 s for the small ResNet34 on a
      2-core CPU, 2.6 s at level 0), and ``init`` runs once per run.
    synthetic: the data are random examples of the right shapes
      (:func:`edgeperf.workloads.paper_presets.synthetic`): the workload
      measures what a step costs and nothing else; every run that scores or
      sets a target refuses it (:func:`require_real_data`).
    reference_memory: record in ``meta.json`` XLA's memory analysis of one
      constant-lr and one CDAT (jvp-of-jvp) step on this workload, whatever
      the run's tuner (the paper presets: what curvature costs in memory).
  """

  name: str
  size: str
  regime: Regime
  model: nn.Module
  loss_type: str
  num_classes: int
  train: Mapping[str, np.ndarray]
  eval: Mapping[str, np.ndarray]
  step_hint: int
  step_budget: int
  time_budget_s: float
  weight_decay: float = 1e-5
  target_train_loss: float | None = None
  target_info: Mapping[str, Any] | None = None
  chunk_mode: str = "scan"
  eval_every: int = 50
  description: str = ""
  init_compiler_options: Mapping[str, Any] | None = None
  reference_memory: bool = False
  synthetic: bool = False

  def __post_init__(self):
    _checks.one_of(f"{self.name} loss_type", self.loss_type, LOSS_TYPES)
    n = self.num_train
    if not self.regime.is_full_batch and self.regime.batch_size > n:
      raise ValueError(f"{self.name}: batch_size {self.regime.batch_size} "
                       f"exceeds the {n} training examples")

  # ---------------------------------------------------------------- model --
  @property
  def num_train(self) -> int:
    return len(self.train["inputs"])

  @property
  def unroll_inner_loops(self) -> bool:
    """Whether a tuner should unroll a fixed inner loop (Lanczos HVPs):
    the workload runs its steps in a Python loop (``chunk_mode`` ``loop``)
    because its gradients are slow inside a compiled loop here (conv nets
    on a CPU), and so are a tuner's.  The harness passes it to a
    ``make_tuner`` that takes ``unroll_loops``."""
    return self.chunk_mode == "loop"

  @property
  def key(self) -> str:
    """``name/size/regime``: the key of this preset's stored target."""
    return f"{self.name}/{self.size}/{self.regime.label}"

  def init(self, rng: jax.Array) -> Any:
    """Initial parameters (flax variables) from a PRNG key."""
    return self._init_program(rng, jnp.asarray(self.train["inputs"][:1]))

  @functools.cached_property
  def _init_program(self) -> Any:
    """``model.init``, jitted (eager flax init dispatches and compiles op
    by op), compiled once per workload object."""
    init = jax.jit(self.model.init)
    if not self.init_compiler_options:
      return init
    sample = jax.ShapeDtypeStruct((1,) + self.train["inputs"].shape[1:],
                                  self.train["inputs"].dtype)
    return init.lower(jax.random.key(0), sample).compile(
        compiler_options=dict(self.init_compiler_options))

  def param_shapes(self) -> Any:
    """Shapes and dtypes of the parameters (``jax.ShapeDtypeStruct``s),
    from ``jax.eval_shape``: nothing is compiled or allocated."""
    sample = jax.ShapeDtypeStruct((1,) + self.train["inputs"].shape[1:],
                                  self.train["inputs"].dtype)
    return jax.eval_shape(self.model.init, jax.random.key(0), sample)

  def data_loss(self, params: Any, batch: Batch) -> jax.Array:
    """Mean squared or cross-entropy loss L(w; batch), no weight decay."""
    outputs = self.model.apply(params, batch["inputs"])
    labels = batch["targets"]
    if self.loss_type == "squared":
      onehot = jax.nn.one_hot(labels, self.num_classes, dtype=outputs.dtype)
      per_example = 0.5 * jnp.sum((outputs - onehot) ** 2, axis=-1)
    else:
      per_example = optax.softmax_cross_entropy_with_integer_labels(
          outputs, labels)
    return jnp.mean(per_example)

  def loss(self, params: Any, batch: Batch) -> jax.Array:
    """The training objective f(w) = L(w; batch) + (wd/2)‖w‖²."""
    penalty = 0.5 * self.weight_decay * optax.tree.norm(params, squared=True)
    return self.data_loss(params, batch) + penalty

  def metrics(self, params: Any, batch: Batch) -> dict[str, jax.Array]:
    """Objective, data loss and accuracy (argmax, per position for LMs)."""
    outputs = self.model.apply(params, batch["inputs"])
    accuracy = jnp.mean(jnp.argmax(outputs, -1) == batch["targets"])
    return {"objective": self.loss(params, batch),
            "data_loss": self.data_loss(params, batch),
            "accuracy": accuracy}

  # ----------------------------------------------------------------- data --
  def full_train_batch(self) -> dict[str, jax.Array]:
    """The whole training set as one batch (device arrays)."""
    return {k: jnp.asarray(v) for k, v in self.train.items()}

  def eval_batch(self) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v) for k, v in self.eval.items()}

  def batch_indices(self, seed: int, start: int, count: int) -> np.ndarray:
    """Example indices of mini-batch steps [start, start + count).

    Epoch e uses the permutation of ``np.random.default_rng([seed, e])``;
    the incomplete last batch of an epoch is dropped.  Same seed and step →
    same batch, whatever the chunking.

    Returns:
      int array [count, batch_size].
    """
    if self.regime.is_full_batch:
      raise ValueError(f"{self.name}: batch_indices is for mini_batch regimes")
    b = self.regime.batch_size
    per_epoch = self.num_train // b
    rows = np.empty((count, b), np.int64)
    step = start
    while step < start + count:  # one slice per epoch touched
      epoch, pos = divmod(step, per_epoch)
      take = min(per_epoch - pos, start + count - step)
      perm = np.random.default_rng([seed, epoch]).permutation(self.num_train)
      batches = perm[:per_epoch * b].reshape(per_epoch, b)
      rows[step - start:step - start + take] = batches[pos:pos + take]
      step += take
    return rows

  def stacked_batches(self, seed: int, start: int,
                      count: int) -> dict[str, np.ndarray]:
    """Mini-batches of steps [start, start + count) stacked on axis 0."""
    idx = self.batch_indices(seed, start, count)
    return {k: v[idx] for k, v in self.train.items()}

  def describe(self) -> dict[str, Any]:
    """A JSON-able summary (recorded in every run's meta.json)."""
    return {
        "name": self.name, "size": self.size, "regime": self.regime.kind,
        "batch_size": self.regime.batch_size, "loss_type": self.loss_type,
        "num_train": self.num_train, "num_eval": len(self.eval["inputs"]),
        "weight_decay": self.weight_decay,
        "target_train_loss": self.target_train_loss,
        "target_info": dict(self.target_info or {}),
        "step_hint": self.step_hint, "step_budget": self.step_budget,
        "time_budget_s": self.time_budget_s, "chunk_mode": self.chunk_mode,
        "eval_every": self.eval_every, "description": self.description,
    }
