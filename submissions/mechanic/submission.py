"""Mechanic (Cutkosky, Defazio & Mehta 2023), optax.contrib.mechanize.

Learns a scale s_t of the base direction: w_{t+1} = w_t + s_t u_t (up to
Mechanic's own correction toward w_0 through its accumulated offset), with
the base direction u from GD, momentum, RMSProp or Adam at unit rate.
TunerStats.learning_rate is Σ_β s_{t,β}, the scale applied this step (read
from the updated state).  optax defaults (weight decay 0.01 inside Mechanic,
s_init 1e-6, 6 betas).  Self-tuning ruleset.
"""

import jax.numpy as jnp
import optax
from optax import contrib

from edgeperf.submissions import api

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds Mechanic around the base direction (``gd``, ``momentum``,
  ``rmsprop`` or ``adam``)."""
  inner = contrib.mechanize(api.base_direction(base_optimizer))
  return api.expose_learning_rate(
      inner, lambda old, new: jnp.sum(new.s))
