"""Mechanic (Cutkosky, Defazio & Mehta 2023) through optax.contrib."""

import jax
import numpy as np

from edgeperf.submissions import loader


def test_mechanic_learns_a_growing_scale_on_a_quadratic(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = loader.load("mechanic").build({})
  traj, w_end = quad.run(tx, f, w, 20, direction=jax.grad(f))
  rates = [float(t["info"]["learning_rate"]) for t in traj]
  assert all(np.isfinite(r) and r >= 0 for r in rates)
  assert rates[-1] > 100 * rates[0]  # s starts at 1e-6 and grows
  assert float(f(w_end)) < float(f(w))  # and the objective went down
