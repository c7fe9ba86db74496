"""Polyak stepsize (Roulet et al. 2024, Eq. 14):
η = min{(f(w) − f*)/‖∇f(w)‖², η_max}.

f* = 0 (networks can fit the data), η_max ∈ {1, 100} as in the paper.  For a
preconditioned base direction, ``normalizer="direction"`` divides by −∇fᵀu
instead (identical for GD).  See
:func:`edgeperf.submissions.polyak.scale_by_polyak`.
"""

import optax

from edgeperf.submissions import api
from edgeperf.submissions.polyak import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, max_learning_rate: float = 1.0, f_star: float = 0.0,
               normalizer: str = "grad", base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds the Polyak-stepsize tuner.

  Args:
    max_learning_rate: η_max.
    f_star: the optimal value f*.
    normalizer: ``grad`` (Eq. 14) or ``direction``.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
  """
  return optax.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_polyak(f_star=f_star,
                                max_learning_rate=max_learning_rate,
                                normalizer=normalizer))
