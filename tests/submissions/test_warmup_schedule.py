"""Prefixed warm-up schedules (Roulet et al. 2024, App. C.5)."""

import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.submissions import api
from edgeperf.submissions.warmup_schedule import SHAPES
from edgeperf.submissions.warmup_schedule import (
    scale_by_learning_rate_schedule)
from edgeperf.submissions.warmup_schedule import warmup_schedule


@pytest.mark.parametrize("shape", SHAPES)
def test_warmup_schedule_shapes(shape):
  s = warmup_schedule(shape, peak_learning_rate=2.0, warmup_steps=10,
                      horizon=100)
  np.testing.assert_allclose(float(s(0)), 0.0, atol=1e-12)
  np.testing.assert_allclose(float(s(5)), 1.0, rtol=1e-6)
  np.testing.assert_allclose(float(s(10)), 2.0, rtol=1e-6)
  mid = {"constant": 2.0, "linear": 1.0, "cosine": 1.0}[shape]
  np.testing.assert_allclose(float(s(55)), mid, rtol=1e-6)
  end = 2.0 if shape == "constant" else 0.0
  np.testing.assert_allclose(float(s(100)), end, atol=1e-6)
  np.testing.assert_allclose(float(s(500)), end, atol=1e-6)


def test_schedule_transform_exposes_rate():
  sched = warmup_schedule("linear", peak_learning_rate=1.0, warmup_steps=4,
                          horizon=8)
  tx = scale_by_learning_rate_schedule(sched)
  w = jnp.ones(3)
  state = tx.init(w)
  for t in range(6):
    step, state = tx.update(w, state, w)
    np.testing.assert_allclose(step, float(sched(t)) * w, rtol=1e-6)
    np.testing.assert_allclose(api.step_info(state)["learning_rate"],
                               float(sched(t)), rtol=1e-6)
