"""Prodigy (Mishchenko & Defazio 2023) through optax.contrib."""

import jax
import numpy as np
import pytest

from edgeperf.submissions import loader


def test_prodigy_distance_estimate_never_decreases(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = loader.load("prodigy").build({})
  traj, _ = quad.run(tx, f, w, 8, direction=jax.grad(f))
  rates = [float(t["info"]["learning_rate"]) for t in traj]
  assert all(r > 0 and np.isfinite(r) for r in rates)
  # d_{t+1} = max(d_t, d̂_{t+1}): the rate d·lr is non-decreasing.
  assert all(b >= a for a, b in zip(rates, rates[1:]))
  assert rates[-1] > rates[0]  # it grew from its tiny initial d


def test_prodigy_is_adam_based():
  with pytest.raises(ValueError, match="adam"):
    loader.load("prodigy").build({"base_optimizer": "gd"})
