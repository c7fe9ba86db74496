"""Prodigy (Mishchenko & Defazio 2023), optax.contrib.prodigy, defaults.

An Adam-type method that estimates the distance to the solution d_t; it is
its own base optimizer (Adam moments, betas (0.9, 0.999)), so only
``base_optimizer="adam"`` is accepted.  TunerStats.learning_rate is d_t·lr,
the Adam-equivalent rate of the step (d_t read from the state before the
update, which is the one the step used; Adam's bias correction is not
included, as for a plain Adam learning rate).  Self-tuning ruleset.
"""

import optax
from optax import contrib

from edgeperf.submissions import api

SUPPORTED_BASE_OPTIMIZERS = ("adam",)


def make_tuner(*, learning_rate: float = 1.0, base_optimizer: str = "adam"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds Prodigy.

  Args:
    learning_rate: Prodigy's multiplier of d (1 by default).
    base_optimizer: must be ``adam`` (Prodigy is Adam-based).
  """
  api.check_base_optimizer("prodigy", base_optimizer,
                           SUPPORTED_BASE_OPTIMIZERS)
  inner = contrib.prodigy(learning_rate=learning_rate)
  return api.expose_learning_rate(
      inner, lambda old, new: old.estim_lr * learning_rate)
