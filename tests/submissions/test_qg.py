"""The quadratically greedy rule (Roulet et al. 2024, Eq. 3): the exact line
minimiser along u on a quadratic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions.qg import scale_by_quadratically_greedy


def test_qg_lands_on_exact_minimiser_along_direction(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  u = jnp.asarray(np.random.default_rng(1).normal(size=quad.N))
  u = jnp.where(jax.grad(f)(w) @ u > 0, -u, u)  # a descent direction
  tx = scale_by_quadratically_greedy()
  step, _ = quad.call(tx, tx.init(w), w, u, f)
  eta = -(jax.grad(f)(w) @ u) / (u @ a @ u)
  np.testing.assert_allclose(step, eta * u, rtol=1e-12)
  # Minimiser along u: the directional derivative vanishes at w + ηu.
  np.testing.assert_allclose(jax.grad(f)(w + step) @ u, 0.0, atol=1e-10)


def test_qg_refuses_a_sigma():
  with pytest.raises(ValueError, match="sigma = 1"):
    scale_by_quadratically_greedy(sigma=2.0)
