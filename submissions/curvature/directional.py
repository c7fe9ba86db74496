"""Directional curvature uᵀ∇²f(w)u and Hessian-vector products ∇²f(w)v.

* :func:`uhu_jvp_of_jvp` — forward-over-forward: ∂(∂f(·)[u])(w)[u], the CDAT
  denominator of Roulet et al. (2024), Eq. 8 and App. C.
* :func:`uhu_hvp` — forward-over-reverse: uᵀ(∇²f(w)u) via a jvp of ∇f.
* :func:`uhu_rev_rev` — reverse-over-reverse: ∇(w ↦ ∇f(w)ᵀu)ᵀu.
* :func:`uhu_taylor` — Taylor mode (``jax.experimental.jet``): the second
  coefficient of t ↦ f(w + tu) in one second-order forward pass
  (Bettencourt, Johnson & Duvenaud 2019).
* :func:`uhu_secant` — the free secant estimate 2(f(w+ηu) − f(w) − η gᵀu)/η²,
  exact on quadratics.
* :func:`hvp` — ∇²f(w)v, forward-over-reverse.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
from jax.experimental import jet
import jax.numpy as jnp
import optax

from edgeperf import _checks

ValueFn = Callable[[Any], jax.Array]
"""A scalar objective of the parameters, f: params ↦ f32[]."""

ESTIMATORS = ("jvp", "hvp", "rev_rev", "taylor")
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


def uhu_taylor(value_fn: ValueFn, params: Any, u: Any) -> jax.Array:
  """uᵀ∇²f(w)u in Taylor mode: with w(t) = w + tu, jet propagates
  (f, f', f'') along t in one pass; f''(0) = uᵀ∇²f(w)u.

  Raises:
    ValueError: jet has no rule for an operation of f (measured: ReLU
      networks, whose activation has a custom derivative).
  """
  leaves, treedef = jax.tree.flatten(params)
  directions = jax.tree.leaves(u)

  def flat_value(*xs):
    return value_fn(jax.tree.unflatten(treedef, xs))

  series = tuple((d, jnp.zeros_like(d)) for d in directions)
  try:
    _, (_, second) = jet.jet(flat_value, tuple(leaves), series)
  except (jax.errors.UnexpectedTracerError, NotImplementedError) as e:
    raise ValueError(
        "the 'taylor' curvature estimator cannot differentiate this "
        "objective: jax.experimental.jet has no rule for one of its "
        "operations (e.g. ReLU's custom derivative); use 'jvp' "
        f"({type(e).__name__})") from None
  return second


_EXACT = {"jvp": uhu_jvp_of_jvp, "hvp": uhu_hvp, "rev_rev": uhu_rev_rev,
          "taylor": uhu_taylor}

EVALS = {"jvp": {"jvp_evals": 2}, "hvp": {"hvp_evals": 1},
         "rev_rev": {"hvp_evals": 1}, "taylor": {"jvp_evals": 2}}
"""What one call of each estimator costs, in the harness's evaluation
counters (a second-order Taylor pass counts as the two forward passes of a
jvp-of-jvp)."""


def uhu(estimator: str, value_fn: ValueFn, params: Any, u: Any) -> jax.Array:
  """Dispatches to an exact estimator named in :data:`ESTIMATORS`."""
  _checks.one_of("curvature estimator", estimator, ESTIMATORS)
  return _EXACT[estimator](value_fn, params, u)


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
