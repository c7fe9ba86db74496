"""Schedule-free (Defazio et al. 2024), optax.contrib.schedule_free.

z_{t+1} = z_t + γ u_t(y_t) on the base direction, x_{t+1} the weighted
average of the z's (weights ∝ γ²), gradients taken at y_t = (1 − b1) z_t +
b1 x_t.  The harness's parameters are y; evaluation is at the average x
(:func:`prepare_for_eval`, the submission's evaluation hook).
TunerStats.learning_rate is γ, the rate of the z-steps.

Schedule-free removes the schedule, not the learning rate: γ is searched on
the constant baseline's log-2 grid (ruleset ``external``), b1 = 0.9.

The two variants optax ships, one per division: ``gd`` is
``schedule_free_sgd`` (u = −g); ``adam`` is ``schedule_free_adamw``
(Defazio et al. 2024, Alg. 1, weight decay 0: the objective carries its
own): Adam's direction with its momentum replaced by the interpolation,
i.e. u = −g/(√ν̂ + ε) with ν̂ the bias-corrected EMA of g² (0.999).
"""

from typing import Any

import optax
from optax import contrib

from edgeperf.submissions import api
from edgeperf.submissions.constant import scale_by_constant_lr

SUPPORTED_BASE_OPTIMIZERS = ("gd", "adam")


def direction(base_optimizer: str) -> optax.GradientTransformation:
  """u_t of the variant: −g (``gd``), or schedule_free_adamw's Adam without
  momentum (``adam``; optax.contrib.schedule_free_adamw's scale_by_rms with
  bias correction, ε outside the root)."""
  api.check_base_optimizer("schedule_free", base_optimizer,
                           SUPPORTED_BASE_OPTIMIZERS)
  if base_optimizer == "gd":
    return api.base_direction("gd")
  return optax.chain(optax.scale_by_rms(decay=0.999, eps=1e-8,
                                        eps_in_sqrt=False,
                                        bias_correction=True),
                     optax.scale(-1.0))


def make_tuner(*, learning_rate: float, b1: float = 0.9,
               base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds schedule-free on a base direction.

  Args:
    learning_rate: γ.
    b1: interpolation/averaging parameter β₁.
    base_optimizer: ``gd`` (schedule_free_sgd) or ``adam``
      (schedule_free_adamw).
  """
  base = optax.chain(direction(base_optimizer),
                     scale_by_constant_lr(learning_rate))
  return contrib.schedule_free(base, learning_rate=learning_rate, b1=b1)


def prepare_for_eval(opt_state: Any, params: Any) -> Any:
  """The evaluation hook: the average x_t, not the training point y_t."""
  sf_state = api.find_in_state(
      opt_state, lambda x: isinstance(x, contrib.ScheduleFreeState))
  return contrib.schedule_free_eval_params(sf_state, params)
