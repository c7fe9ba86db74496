"""Multiplicative hypergradient descent (Roulet et al. 2024, Eq. 15)."""

import jax
import jax.numpy as jnp
import numpy as np

from edgeperf.submissions.hypergradient import scale_by_hypergradient


def test_hypergradient_matches_multiplicative_rule(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  eta0, beta = 0.05, 0.3
  tx = scale_by_hypergradient(eta0, beta=beta)
  traj, _ = quad.run(tx, f, w, 3)
  eta = eta0
  np.testing.assert_allclose(traj[0]["step"], eta0 * traj[0]["u"], rtol=1e-12)
  for prev, cur in zip(traj[:-1], traj[1:]):
    g_next = jax.grad(f)(prev["w"] + eta * prev["u"])  # ∇f(w_t + η_t u_t)
    cos = (g_next @ prev["u"]) / (jnp.linalg.norm(g_next) *
                                  jnp.linalg.norm(prev["u"]))
    eta = eta * (1 - beta * float(cos))
    np.testing.assert_allclose(cur["step"], eta * cur["u"], rtol=1e-10)
  assert eta > eta0  # GD on a convex quadratic keeps descending: η grows
