"""A fixed learning rate: w_{t+1} = w_t + η u_t (the tuned baseline)."""

from __future__ import annotations

from typing import NamedTuple

import optax

from edgeperf import _checks
from edgeperf.submissions import api


class ConstantLRState(NamedTuple):
  """State of :func:`scale_by_constant_lr`."""

  stats: api.TunerStats  # learning_rate f32[] = η; counters i32[] = 0


def scale_by_constant_lr(
    learning_rate: float) -> optax.GradientTransformationExtraArgs:
  """Multiplies the direction by a fixed η > 0 and exposes η in its state."""
  _checks.positive("learning_rate", learning_rate)

  def init(params):
    del params
    return ConstantLRState(stats=api.tuner_stats(learning_rate))

  def update(updates, state, params=None, **extra):
    del params, extra
    return optax.tree.scale(learning_rate, updates), state

  return optax.GradientTransformationExtraArgs(init, update)
