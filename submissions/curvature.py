"""Curvature primitives shared by tuners, diagnostics and cost profiles.

The one place where uᵀ∇²f(w)u and ∇²f(w)v are computed.  Every function takes
``value_fn`` (params ↦ scalar objective), parameters ``w`` and tangent
pytrees shaped like ``w``.

* :func:`uhu_jvp_of_jvp` — forward-over-forward: ∂(∂f(·)[u])(w)[u]
  (paper App. C; the CDAT denominator, Eq. 8).
* :func:`uhu_hvp` — forward-over-reverse: uᵀ(∇²f(w)u) via a jvp of ∇f.
* :func:`uhu_rev_rev` — reverse-over-reverse: ∇(wᵀ ↦ ∇f(w)ᵀu)ᵀu.
* :func:`uhu_secant` — the free secant estimate 2(f(w+ηu) − f(w) − η gᵀu)/η²,
  exact on quadratics.
* :func:`hvp` — ∇²f(w)v, forward-over-reverse.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

ValueFn = Callable[[Any], jax.Array]

ESTIMATORS = ("jvp", "hvp", "rev_rev")
"""Exact directional-curvature estimators, by name (see :func:`uhu`)."""


def uhu_jvp_of_jvp(value_fn: ValueFn, params: Any, u: Any) -> jax.Array:
  """uᵀ∇²f(w)u by forward-over-forward autodiff (a jvp of a jvp)."""

  def first_directional(w):
    return jax.jvp(value_fn, (w,), (u,))[1]

  return jax.jvp(first_directional, (params,), (u,))[1]


def hvp(value_fn: ValueFn, params: Any, v: Any) -> Any:
  """∇²f(w)v by forward-over-reverse autodiff (a jvp of the gradient)."""
  return jax.jvp(jax.grad(value_fn), (params,), (v,))[1]


def uhu_hvp(value_fn: ValueFn, params: Any, u: Any) -> jax.Array:
  """uᵀ∇²f(w)u as uᵀ(∇²f(w)u), the HVP by forward-over-reverse."""
  return optax.tree.vdot(u, hvp(value_fn, params, u))


def uhu_rev_rev(value_fn: ValueFn, params: Any, u: Any) -> jax.Array:
  """uᵀ∇²f(w)u by reverse-over-reverse: the gradient of w ↦ ∇f(w)ᵀu, dot u."""

  def grad_dot_u(w):
    return optax.tree.vdot(jax.grad(value_fn)(w), u)

  return optax.tree.vdot(jax.grad(grad_dot_u)(params), u)


def uhu(estimator: str, value_fn: ValueFn, params: Any, u: Any) -> jax.Array:
  """Dispatches to an exact estimator named in :data:`ESTIMATORS`."""
  if estimator == "jvp":
    return uhu_jvp_of_jvp(value_fn, params, u)
  if estimator == "hvp":
    return uhu_hvp(value_fn, params, u)
  if estimator == "rev_rev":
    return uhu_rev_rev(value_fn, params, u)
  raise ValueError(f"unknown curvature estimator {estimator!r}; expected one "
                   f"of {ESTIMATORS}")


def uhu_secant(value_next: jax.Array, value: jax.Array, grad_dot_u: jax.Array,
               step: jax.Array) -> jax.Array:
  """Secant estimate of uᵀ∇²f(w)u from f(w), f(w + ηu) and ∇f(w)ᵀu.

  From f(w + ηu) = f(w) + η gᵀu + ½η² uᵀHu + O(η³):

      uᵀHu ≈ 2 (f(w + ηu) − f(w) − η gᵀu) / η²,

  exact when f is quadratic.  Returns 0 where η = 0 (no information).
  """
  safe = jnp.where(step == 0, 1.0, step)
  estimate = 2.0 * (value_next - value - safe * grad_dot_u) / safe**2
  return jnp.where(step == 0, 0.0, estimate)
