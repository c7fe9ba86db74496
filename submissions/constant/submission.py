"""Constant learning rate on a base direction: the tuned baseline (PAPER.md 8).

w_{t+1} = w_t + η u_t, with u_t from GD, momentum, RMSProp or Adam (optax
defaults, see :func:`edgeperf.submissions.api.base_direction`) and η fixed.
The search space is the paper's log-2 grid around 1e-3, widened upwards to
{1e-3 · 2^i, i = −1..10} so that the best rate is interior on every embedded
workload (PAPER.md 8: "the grid must be wide enough that the best value is
interior").
"""

import optax

from edgeperf.submissions import api


def make_tuner(*, learning_rate: float,
               base_optimizer: str = "gd") -> optax.GradientTransformationExtraArgs:
  """Builds the constant-learning-rate tuner.

  Args:
    learning_rate: η > 0.
    base_optimizer: one of ``gd``, ``momentum``, ``rmsprop``, ``adam``.
  """
  return optax.chain(api.base_direction(base_optimizer),
                     api.scale_by_constant_lr(learning_rate))
