"""The Polyak stepsize (Roulet et al. 2024, Eq. 14) against its formula."""

import jax
import numpy as np
import pytest

from edgeperf.submissions.polyak import scale_by_polyak


@pytest.mark.parametrize("eta_max", [1.0, 1e-3])
def test_polyak_matches_formula(quad, eta_max):
  a, b, w = quad.quadratic()
  f = lambda x: 0.5 * x @ a @ x  # f ≥ 0 = f*
  tx = scale_by_polyak(max_learning_rate=eta_max)
  g = jax.grad(f)(w)
  step, state = quad.call(tx, tx.init(w), w, -g, f)
  eta = min(float(f(w) / (g @ g)), eta_max)
  np.testing.assert_allclose(step, -eta * g, rtol=1e-12)
  np.testing.assert_allclose(float(state.stats.learning_rate), eta,
                             rtol=1e-6)


def test_polyak_direction_normalizer_equals_grad_for_gd(quad):
  a, b, w = quad.quadratic()
  f = lambda x: 0.5 * x @ a @ x
  g = jax.grad(f)(w)
  steps = []
  for norm in ("grad", "direction"):
    tx = scale_by_polyak(max_learning_rate=10.0, normalizer=norm)
    steps.append(quad.call(tx, tx.init(w), w, -g, f)[0])
  np.testing.assert_allclose(steps[0], steps[1], rtol=1e-12)
