"""Amortised CDAT: the paper's Eq. 8 at its refreshes (every 10 steps
after a warm-up of exact steps), free calibrated estimates in between."""

import jax
import numpy as np

from edgeperf.submissions import loader


def test_defaults_refresh_every_10_after_a_100_step_warmup():
  sub = loader.load("cdat_amortised")
  tx = sub.build(sub.resolve({"sigma": 2.0, "beta": 0.0}))
  assert (tx.every_k, tx.warmup) == (10, 100)
  assert dict(tx.refresh_cost) == {"jvp_evals": 2}


def test_refreshed_steps_are_exact_cdat(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  sub = loader.load("cdat_amortised")
  tx = sub.build(sub.resolve({"sigma": 2.0, "beta": 0.0, "every_k": 3,
                              "refresh_warmup": 2}))
  # The submission takes the gradient (its base direction makes u = −g).
  traj, _ = quad.run(tx, f, w, 8, direction=jax.grad(f))
  refreshed = [t for t, step in enumerate(traj) if step["info"]["jvp_evals"]]
  assert refreshed == [0, 1, 3, 6]
  for t in refreshed:  # σ = 2: η = 2‖u‖²/uᵀAu along u = −g
    u = -traj[t]["g"]
    np.testing.assert_allclose(traj[t]["step"], 2 * (u @ u) / (u @ a @ u) * u,
                               rtol=1e-10)
