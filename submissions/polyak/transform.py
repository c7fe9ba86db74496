"""The Polyak stepsize (Roulet et al. 2024, Eq. 14)."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from edgeperf import _checks
from edgeperf.submissions import api

NORMALIZERS = ("grad", "direction")


class PolyakState(NamedTuple):
  """State of :func:`scale_by_polyak`."""

  stats: api.TunerStats  # learning_rate f32[] = η_t; no extra evaluations


def scale_by_polyak(
    *, f_star: float = 0.0, max_learning_rate: float = 1.0,
    normalizer: str = "grad") -> optax.GradientTransformationExtraArgs:
  """Polyak stepsize (Eq. 14).

  η_t = min{(f(w_t) − f*) / ‖∇f(w_t)‖², η_max}, clipped below at 0 (for
  f(w_t) < f*) and η_max where ∇f = 0.  For GD (u = −g) this is the paper's
  rule.  ``normalizer="direction"`` uses −∇f(w_t)ᵀu_t instead of ‖∇f‖²
  (the step that zeroes the linear model f + η gᵀu − f*, equal to Eq. 14 for
  GD and scale-consistent for preconditioned directions; η = 0 when u is not
  a descent direction).

  Args:
    f_star: f* (0 in the paper: networks can fit the data).
    max_learning_rate: η_max > 0 (paper: {1, 100}).
    normalizer: ``grad`` (Eq. 14) or ``direction``.
  """
  _checks.positive("max_learning_rate", max_learning_rate)
  _checks.number("f_star", f_star)
  _checks.one_of("normalizer", normalizer, NORMALIZERS)

  def init(params):
    del params
    return PolyakState(stats=api.tuner_stats(0.0))

  def update(updates, state, params=None, *, value=None, grad=None, **extra):
    del params, extra, state
    _checks.required_extras("scale_by_polyak", value=value, grad=grad)
    dtype = api.float_dtype(updates)
    gap = jnp.asarray(value, dtype) - f_star
    if normalizer == "grad":
      den = optax.tree.vdot(grad, grad).astype(dtype)
      eta = jnp.where(den > 0, api.safe_div(gap, den), max_learning_rate)
    else:
      den = -optax.tree.vdot(grad, updates).astype(dtype)
      eta = api.safe_div(gap, den)
    eta = jnp.clip(eta, 0.0, max_learning_rate).astype(dtype)
    return optax.tree.scale(eta, updates), PolyakState(api.tuner_stats(eta))

  return optax.GradientTransformationExtraArgs(init, update)
