"""Hypergradient descent, multiplicative form (Roulet et al. 2024, Eq. 15).

η_{t+1} = η_t (1 − β cos(∇f(w_t + η_t u_t), u_t)), no extra evaluation (the
gradient at w_{t+1} is the next step's).  β ∈ {1e-3, 1e-2, 1e-1, 1} (App.
C.5, Fig. 13); the initial rate η_0 is searched on the constant baseline's
log-2 grid (the paper does not state it).  See
:func:`edgeperf.submissions.hypergradient.scale_by_hypergradient`.
"""

import optax

from edgeperf.submissions import api
from edgeperf.submissions.hypergradient import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, learning_rate: float, beta: float = 1e-2,
               base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds hypergradient descent.

  Args:
    learning_rate: initial rate η_0.
    beta: hyper learning rate β.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
  """
  return optax.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_hypergradient(learning_rate, beta=beta))
