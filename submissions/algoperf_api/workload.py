"""An edgeperf workload seen as an AlgoPerf JAX workload.

AlgoPerf's reference submissions read ``step_hint`` and ``param_shapes``
(leaves with ``.shape_tuple``), call ``model_fn(params, batch, model_state,
mode, rng, update_batch_norm, dropout_rate=...) -> (logits, model_state)``
and ``loss_fn(label_batch, logits_batch, mask_batch, label_smoothing) ->
{"summed", "n_valid_examples", "per_example"}``, and log through
``metrics_logger`` (MLCommons AlgoPerf, ``algoperf/spec.py``).

Objective.  edgeperf's target is defined on f(w) = L(w; batch) +
(wd/2)‖w‖² (Roulet et al. 2024, Sec. 2), L the mean squared or
cross-entropy loss over examples (and positions).  ``loss_fn`` gives L
without the penalty — AlgoPerf leaves regularisation to the submission —
so ``summed / n_valid_examples`` is L (label smoothing 0) and the run
records f, the same objective as a native run.  ``label_smoothing``
smooths the one-hot targets of both losses; it changes what the submission
trains on, never the recorded objective.  The models have no dropout and no
batch normalisation: ``dropout_rate`` is accepted and has no effect, and
``model_state`` is None and comes back unchanged.

The parameters are the workload's flax variables, exactly as a native
submission sees them, so the same seed gives the same initial point.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import optax

from edgeperf.workloads import base


class AlgoPerfWorkload:
  """AlgoPerf's workload members over an edgeperf :class:`~edgeperf.
  workloads.base.Workload` (see the module docstring).  Hashable by
  identity: submissions pass it to ``jax.jit`` as a static argument."""

  def __init__(self, workload: base.Workload, spec: Any, *,
               step_hint: int | None = None):
    self.workload = workload
    self.spec = spec  # the algoperf.spec module the submission imported
    self.metrics_logger = None
    self._step_hint = step_hint

  # -- what submissions read -----------------------------------------------
  @property
  def step_hint(self) -> int:
    """The run's step budget (default the workload's ``step_budget``):
    AlgoPerf stops an externally tuned run at ``step_hint`` steps, and
    schedules take it as their horizon, as a native ``make_tuner`` takes
    ``num_steps``."""
    return (self.workload.step_budget if self._step_hint is None
            else self._step_hint)

  @functools.cached_property
  def param_shapes(self) -> Any:
    """The parameters' shapes as ``spec.ShapeTuple`` leaves."""
    return jax.tree.map(lambda s: self.spec.ShapeTuple(s.shape),
                        self.workload.param_shapes())

  @functools.cached_property
  def model_params_types(self) -> Any:
    """``spec.ParameterType`` per parameter, from its name and rank."""
    types = self.spec.ParameterType

    def kind(path, shape):
      name = jax.tree_util.keystr(path).lower()
      if "bias" in name:
        return types.BIAS
      if "embed" in name:
        return types.EMBEDDING
      if "scale" in name:
        return types.LAYER_NORM_SCALE
      return types.CONV_WEIGHT if len(shape.shape_tuple) > 2 else types.WEIGHT

    return jax.tree_util.tree_map_with_path(kind, self.param_shapes)

  @property
  def loss_type(self) -> Any:
    return (self.spec.LossType.MEAN_SQUARED_ERROR
            if self.workload.loss_type == "squared"
            else self.spec.LossType.SOFTMAX_CROSS_ENTROPY)

  @property
  def num_train_examples(self) -> int:
    return self.workload.num_train

  @property
  def num_eval_train_examples(self) -> int:
    return self.workload.num_train

  @property
  def num_validation_examples(self) -> int:
    return len(self.workload.eval["inputs"])

  @property
  def num_test_examples(self) -> None:
    return None

  @property
  def eval_batch_size(self) -> int:
    return self.workload.num_train

  @property
  def max_allowed_runtime_sec(self) -> float:
    return self.workload.time_budget_s

  @property
  def target_metric_name(self) -> str:
    return "objective"

  def attach_metrics_logger(self, metrics_logger: Any) -> None:
    self.metrics_logger = metrics_logger

  def is_output_params(self, param_key: str) -> bool:
    del param_key
    return False

  # -- what submissions call -----------------------------------------------
  def init_model_fn(self, rng: jax.Array) -> tuple[Any, None]:
    """``(initial parameters, model_state=None)``."""
    return self.workload.init(rng), None

  def model_fn(self, params: Any, augmented_and_preprocessed_input_batch:
               Mapping[str, jax.Array], model_state: Any, mode: Any,
               rng: Any, update_batch_norm: bool,
               dropout_rate: float = 0.0) -> tuple[jax.Array, Any]:
    """``(outputs, model_state)``; mode, rng, batch-norm update and
    dropout rate have no effect on these models."""
    del mode, rng, update_batch_norm, dropout_rate
    inputs = augmented_and_preprocessed_input_batch["inputs"]
    return self.workload.model.apply(params, inputs), model_state

  def loss_fn(self, label_batch: jax.Array, logits_batch: jax.Array,
              mask_batch: jax.Array | None = None,
              label_smoothing: float = 0.0) -> dict[str, jax.Array]:
    """The data loss per example (per position for language models),
    summed, and the number of valid ones; no weight decay."""
    onehot = jax.nn.one_hot(label_batch, self.workload.num_classes,
                            dtype=logits_batch.dtype)
    targets = optax.smooth_labels(onehot, label_smoothing)
    if self.workload.loss_type == "squared":
      per_example = 0.5 * jnp.sum((logits_batch - targets) ** 2, axis=-1)
    else:
      per_example = -jnp.sum(targets * jax.nn.log_softmax(logits_batch),
                             axis=-1)
    if mask_batch is None:
      n_valid = jnp.asarray(per_example.size, per_example.dtype)
    else:
      mask = jnp.broadcast_to(
          jnp.reshape(mask_batch, mask_batch.shape + (1,) *
                      (per_example.ndim - mask_batch.ndim)),
          per_example.shape).astype(per_example.dtype)
      per_example = per_example * mask
      n_valid = jnp.sum(mask)
    return {"summed": jnp.sum(per_example), "n_valid_examples": n_valid,
            "per_example": per_example}

  def __repr__(self) -> str:
    return f"AlgoPerfWorkload({self.workload.key})"
