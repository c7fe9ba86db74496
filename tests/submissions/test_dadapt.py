"""D-Adaptation (Defazio & Mishchenko 2023) through optax.contrib."""

import jax
import numpy as np
import pytest

from edgeperf.submissions import loader


def test_dadapt_distance_estimate_never_decreases(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = loader.load("dadapt").build({})
  traj, _ = quad.run(tx, f, w, 8, direction=jax.grad(f))
  rates = [float(t["info"]["learning_rate"]) for t in traj]
  assert all(r > 0 and np.isfinite(r) for r in rates)
  assert all(b >= a for a, b in zip(rates, rates[1:]))  # d is a running max


def test_dadapt_is_adam_based():
  with pytest.raises(ValueError, match="adam"):
    loader.load("dadapt").build({"base_optimizer": "momentum"})
