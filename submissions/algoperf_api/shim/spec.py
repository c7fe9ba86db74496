"""``algoperf.spec`` as JAX submissions use it, without torch.

The names a submission reads at import time or calls: the enums
(``LossType``, ``ForwardPassMode``, ``ParameterType``), ``ShapeTuple`` (the
leaves of ``workload.param_shapes``), ``TrainingCompleteError``, the type
aliases of its signatures, and ``Workload`` (a base for annotations; the
workload a submission receives is
:class:`edgeperf.submissions.algoperf_api.workload.AlgoPerfWorkload`).
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Dict, Tuple


class LossType(enum.Enum):
  SOFTMAX_CROSS_ENTROPY = 0
  SIGMOID_CROSS_ENTROPY = 1
  MEAN_SQUARED_ERROR = 2
  CTC_LOSS = 3
  MEAN_ABSOLUTE_ERROR = 4


class ForwardPassMode(enum.Enum):
  TRAIN = 0
  EVAL = 1


class ParameterType(enum.Enum):
  WEIGHT = 0
  BIAS = 1
  CONV_WEIGHT = 2
  BATCH_NORM_SCALE = 3
  BATCH_NORM_BIAS = 4
  LAYER_NORM_SCALE = 5
  LAYER_NORM_BIAS = 6
  EMBEDDING = 7
  ATTENTION_Q = 8
  ATTENTION_K = 9
  ATTENTION_V = 10
  ATTENTION_OUT = 11
  ATTENTION_QKV = 12
  ATTENTION_KV = 13
  ATTENTION_BIAS = 14


class ShapeTuple:
  """A parameter's shape, kept whole as one pytree leaf (``.shape_tuple``)."""

  def __init__(self, shape_tuple: Tuple[int, ...]):
    self.shape_tuple = tuple(shape_tuple)

  def __repr__(self) -> str:
    return f"ShapeTuple({self.shape_tuple})"

  def __eq__(self, other: Any) -> bool:
    return getattr(other, "shape_tuple", None) == self.shape_tuple

  def __hash__(self) -> int:
    return hash(self.shape_tuple)


class TrainingCompleteError(Exception):
  """Raised by ``update_params`` to end training (the run stops there)."""


class Workload:
  """Base class for annotations; see the module docstring."""

  metrics_logger = None


Tensor = Any
Shape = Any
ParameterShapeTree = Dict[str, Any]
ParameterKey = str
ParameterContainer = Any
ParameterTypeTree = Dict[str, Any]
RandomState = Any
OptimizerState = Any
Hyperparameters = Any
Timing = int
Steps = int
ModelAuxiliaryState = Any
ModelInitState = Tuple[ParameterContainer, ModelAuxiliaryState]
UpdateReturn = Tuple[OptimizerState, ParameterContainer, ModelAuxiliaryState]
InitOptimizerFn = Callable[..., OptimizerState]
UpdateParamsFn = Callable[..., UpdateReturn]
PrepareForEvalFn = Callable[..., UpdateReturn]
DataSelectionFn = Callable[..., Dict[str, Tensor]]
