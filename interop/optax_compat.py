"""What an exported tuner needs from optax beyond optax 0.2.2, AlgoPerf's pin.

Copied verbatim into every exported AlgoPerf submission (it imports nothing
from edgeperf).  Where the installed optax has the function it is used;
otherwise the fallback here computes the same thing:

  * ``optax.tree`` (absent from 0.2.2): ``scale``, ``add_scale``, ``vdot``,
    ``norm``, ``zeros_like`` — the tree algebra of the tuners' transforms;
  * ``scale_by_rms(..., eps_in_sqrt=False)`` (0.2.2's ``scale_by_rms`` has
    no ``eps_in_sqrt``: it always adds ε inside the square root).

The export rewrites ``optax.tree.X`` and ``optax.scale_by_rms`` in the
vendored code to these names (:data:`TREE_FUNCTIONS`).
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp
import optax

TREE_FUNCTIONS = ("scale", "add_scale", "vdot", "norm", "zeros_like")
"""The ``optax.tree`` functions provided here."""


def _scale(scalar: Any, tree: Any) -> Any:
  return jax.tree.map(lambda x: scalar * x, tree)


def _add_scale(tree_x: Any, scalar: Any, tree_y: Any) -> Any:
  scalar = jnp.asarray(scalar)
  return jax.tree.map(lambda x, y: (x + scalar * y).astype(x.dtype), tree_x,
                      tree_y)


def _vdot(tree_x: Any, tree_y: Any) -> Any:
  total = 0
  for x, y in zip(jax.tree.leaves(tree_x), jax.tree.leaves(tree_y)):
    total = total + jnp.vdot(jnp.asarray(x), jnp.asarray(y),
                             precision=jax.lax.Precision.HIGHEST)
  return total


def _norm(tree: Any, ord: Any = None, squared: bool = False) -> Any:  # pylint: disable=redefined-builtin
  if ord not in (None, 2):
    raise NotImplementedError(f"norm ord={ord!r}: only the 2-norm is vendored")
  total = 0
  for x in jax.tree.leaves(tree):
    total = total + jnp.sum(jnp.square(jnp.real(x)) + jnp.square(jnp.imag(x)))
  total = jnp.asarray(total)
  return total if squared else jnp.sqrt(total)


def _zeros_like(tree: Any, dtype: Any = None) -> Any:
  return jax.tree.map(lambda x: jnp.zeros_like(x, dtype=dtype), tree)


FALLBACKS = {"scale": _scale, "add_scale": _add_scale, "vdot": _vdot,
             "norm": _norm, "zeros_like": _zeros_like}
_TREE = getattr(optax, "tree", None)
scale = getattr(_TREE, "scale", _scale)
add_scale = getattr(_TREE, "add_scale", _add_scale)
vdot = getattr(_TREE, "vdot", _vdot)
norm = getattr(_TREE, "norm", _norm)
zeros_like = getattr(_TREE, "zeros_like", _zeros_like)


def rms_fallback(decay: float = 0.9, eps: float = 1e-8,
                 initial_scale: float = 0.0) -> optax.GradientTransformation:
  """u = g / (sqrt(ν_t) + ε), ν_t the EMA of g² (Tieleman & Hinton 2012),
  ε outside the square root."""

  def init(params):
    return optax.ScaleByRmsState(nu=jax.tree.map(
        lambda p: jnp.full_like(p, initial_scale), params))

  def update(updates, state, params=None):
    del params
    nu = jax.tree.map(lambda n, g: decay * n + (1 - decay) * jnp.square(g),
                      state.nu, updates)
    out = jax.tree.map(lambda g, n: g / (jnp.sqrt(n) + eps), updates, nu)
    return out, optax.ScaleByRmsState(nu=nu)

  return optax.GradientTransformation(init, update)


def scale_by_rms(decay: float = 0.9, eps: float = 1e-8,
                 initial_scale: float = 0.0, eps_in_sqrt: bool = True,
                 **kwargs: Any) -> optax.GradientTransformation:
  """``optax.scale_by_rms``, with ``eps_in_sqrt=False`` on optax 0.2.2."""
  if "eps_in_sqrt" in inspect.signature(optax.scale_by_rms).parameters:
    return optax.scale_by_rms(decay=decay, eps=eps,
                              initial_scale=initial_scale,
                              eps_in_sqrt=eps_in_sqrt, **kwargs)
  if eps_in_sqrt:
    return optax.scale_by_rms(decay=decay, eps=eps,
                              initial_scale=initial_scale, **kwargs)
  return rms_fallback(decay, eps, initial_scale)
