"""D-Adaptation (Defazio & Mishchenko 2023), optax.contrib.dadapt_adamw.

Adam-type (betas (0.9, 0.999)), so only ``base_optimizer="adam"`` is
accepted.  TunerStats.learning_rate is d_t·lr from the state before the
update.  It is approximate: D-Adapt-AdamW folds d·lr into its first-moment
EMA, so a step mixes the rates of recent steps.  Self-tuning ruleset.
"""

import optax
from optax import contrib

from edgeperf.submissions import api

SUPPORTED_BASE_OPTIMIZERS = ("adam",)


def make_tuner(*, learning_rate: float = 1.0, base_optimizer: str = "adam"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds D-Adaptation (AdamW form, no weight decay).

  Args:
    learning_rate: multiplier of d (1 by default).
    base_optimizer: must be ``adam``.
  """
  api.check_base_optimizer("dadapt", base_optimizer,
                           SUPPORTED_BASE_OPTIMIZERS)
  inner = contrib.dadapt_adamw(learning_rate=learning_rate)
  return api.expose_learning_rate(
      inner, lambda old, new: old.estim_lr * learning_rate)
