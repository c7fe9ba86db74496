"""DoG, "Distance over Gradients" (Ivgi et al. 2023), from optax.contrib.

η_t = max_{i≤t} ‖w_i − w_0‖ / sqrt(Σ_{i≤t} ‖u_i‖²) (r_ε = 1e-6·(1 + ‖w_0‖)
at the start), on the base direction u (GD: the paper's DoG; other bases
apply the same rule to their direction).  The rate applied is read from the
updated DoG state and exposed in TunerStats exactly.  Self-tuning ruleset:
nothing is searched.  No model averaging (the DoG authors recommend it).
"""

import jax.numpy as jnp
import optax
from optax import contrib

from edgeperf.submissions import api

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, init_step_scale: float = 1e-6, eps: float = 1e-8,
               base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds DoG.

  Args:
    init_step_scale: r_ε/(1 + ‖w_0‖), optax's "heuristic" initial distance.
    eps: ε in the denominator.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
  """
  inner = contrib._dog.scale_by_dog(("heuristic", init_step_scale), eps)  # pylint: disable=protected-access

  def rate(old, new):
    del old
    return new.max_dist / jnp.sqrt(new.sum_sq_norm_grads + eps)

  return optax.chain(api.base_direction(base_optimizer),
                     api.expose_learning_rate(inner, rate))
