"""Prefixed warm-up schedules (Roulet et al. 2024, App. C.5) as a tuner."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api

SHAPES = ("constant", "linear", "cosine")


def warmup_schedule(shape: str, *, peak_learning_rate: float,
                    warmup_steps: int, horizon: int) -> optax.Schedule:
  """Linear warm-up from 0 to the peak over ``warmup_steps``, then:

  * ``constant``: the peak for ever;
  * ``linear``: linear decay to 0 at step ``horizon``, then 0;
  * ``cosine``: cosine decay to 0 at step ``horizon``, then 0.
  """
  _checks.one_of("shape", shape, SHAPES)
  _checks.positive("peak_learning_rate", peak_learning_rate)
  _checks.integer("warmup_steps", warmup_steps, low=0)
  _checks.integer("horizon", horizon, low=1)
  if warmup_steps > horizon:
    raise ValueError(f"warmup_steps ({warmup_steps}) exceeds the horizon "
                     f"({horizon})")
  if shape == "cosine":
    return optax.warmup_cosine_decay_schedule(
        0.0, peak_learning_rate, warmup_steps, horizon, end_value=0.0)
  warm = optax.linear_schedule(0.0, peak_learning_rate, max(warmup_steps, 1))
  if shape == "constant":
    after = optax.constant_schedule(peak_learning_rate)
  else:
    after = optax.linear_schedule(peak_learning_rate, 0.0,
                                  max(horizon - warmup_steps, 1))
  if warmup_steps == 0:
    return after
  return optax.join_schedules([warm, after], [warmup_steps])


class ScheduleState(NamedTuple):
  """State of :func:`scale_by_learning_rate_schedule`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t = schedule(t)
  count: jax.Array  # i32[], steps taken


def scale_by_learning_rate_schedule(
    schedule: optax.Schedule) -> optax.GradientTransformationExtraArgs:
  """w_{t+1} = w_t + schedule(t) u_t, the rate exposed in TunerStats."""
  if not callable(schedule):
    raise ValueError(f"schedule must be callable step -> rate, got "
                     f"{_checks.shown(schedule)}")

  def init(params):
    del params
    return ScheduleState(stats=api.tuner_stats(schedule(0)),
                         count=jnp.asarray(0, jnp.int32))

  def update(updates, state, params=None, **extra):
    del params, extra
    eta = jnp.asarray(schedule(state.count), api.float_dtype(updates))
    return optax.tree.scale(eta, updates), ScheduleState(
        stats=api.tuner_stats(eta), count=state.count + 1)

  return optax.GradientTransformationExtraArgs(init, update)
