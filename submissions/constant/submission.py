"""Constant learning rate on a base direction: the tuned baseline.

w_{t+1} = w_t + η u_t, with u_t from GD, momentum, RMSProp or Adam (optax
defaults, see :func:`edgeperf.submissions.api.base_direction`) and η fixed.
The search space is the log-2 grid around 1e-3 of Roulet et al. (2024),
App. C.5, widened upwards to {1e-3 · 2^i, i = −1..10} so that the best rate
is interior on every embedded workload (the grid must be wide enough that the
best value is not on its edge).
"""

import optax

from edgeperf.submissions import api
from edgeperf.submissions.constant import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, learning_rate: float,
               base_optimizer: str = "gd") -> optax.GradientTransformationExtraArgs:
  """Builds the constant-learning-rate tuner.

  Args:
    learning_rate: η > 0.
    base_optimizer: one of ``gd``, ``momentum``, ``rmsprop``, ``adam``.
  """
  return optax.chain(api.base_direction(base_optimizer),
                     transform.scale_by_constant_lr(learning_rate))
