"""Schedule-free (Defazio et al. 2024) and its evaluation hook."""

import jax
import numpy as np
from optax import contrib

from edgeperf.submissions import api
from edgeperf.submissions import loader


def test_schedule_free_evaluates_its_average(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  sub = loader.load("schedule_free")
  tx = sub.build({"learning_rate": 0.05, "b1": 0.9})
  traj, y = quad.run(tx, f, w, 5, direction=jax.grad(f))
  state = traj[-1]["state"]
  x = sub.prepare_for_eval(state, y)
  sf = api.find_in_state(state, lambda s: isinstance(s,
                                                     contrib.ScheduleFreeState))
  # The training point interpolates the z-sequence and the average x:
  # y = (1 − b1) z + b1 x.
  np.testing.assert_allclose(0.1 * sf.z + 0.9 * x, y, rtol=1e-10)
  assert not np.allclose(x, y)  # so evaluation is not at y
  # A submission without the hook evaluates its training parameters.
  assert loader.load("constant").prepare_for_eval(state, y) is y


def test_the_adam_variant_is_optaxs_schedule_free_adamw(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  ours = loader.load("schedule_free").build(
      {"learning_rate": 0.05, "b1": 0.9, "base_optimizer": "adam"})
  theirs = contrib.schedule_free_adamw(0.05, b1=0.9, weight_decay=0.0)
  traj, y = quad.run(ours, f, w, 6, direction=jax.grad(f))
  state_t = theirs.init(w)
  y_t = w
  for _ in range(6):
    u, state_t = theirs.update(jax.grad(f)(y_t), state_t, y_t)
    y_t = y_t + u
  np.testing.assert_allclose(y, y_t, rtol=1e-6, atol=1e-12)
