"""DoG (Ivgi et al. 2023) through optax.contrib, with the applied rate
exposed in TunerStats."""

import jax
import jax.numpy as jnp
import numpy as np
from optax import contrib

from edgeperf.submissions import api
from edgeperf.submissions import loader


def test_expose_learning_rate_reports_dogs_applied_rate(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  inner = contrib._dog.scale_by_dog(("heuristic", 1e-2))  # pylint: disable=protected-access
  tx = api.expose_learning_rate(
      inner, lambda old, new: new.max_dist / jnp.sqrt(
          new.sum_sq_norm_grads + 1e-8))
  traj, _ = quad.run(tx, f, w, 3)
  for t in traj:
    eta = float(t["step"][0] / t["u"][0])
    np.testing.assert_allclose(float(t["info"]["learning_rate"]), eta,
                               rtol=1e-5)


def test_dog_submission_step_is_its_reported_rate_times_u(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  tx = loader.load("dog").build({"init_step_scale": 1e-2})
  # The submission maps the gradient to its direction itself (gd: −g).
  traj, _ = quad.run(tx, f, w, 3, direction=jax.grad(f))
  for t in traj:
    np.testing.assert_allclose(
        t["step"], -float(t["info"]["learning_rate"]) * t["g"], rtol=1e-5)
