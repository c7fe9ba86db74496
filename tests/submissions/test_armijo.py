"""Armijo backtracking (Roulet et al. 2024, Eq. 1, App. C): the accepted step
meets the criterion and is the largest on its grid."""

import math

import numpy as np

from edgeperf.submissions.armijo import scale_by_armijo


def test_armijo_step_satisfies_criterion_and_is_largest_on_grid(quad):
  a, b, w = quad.quadratic(scale=30.0)  # curvature up to 120: must backtrack
  f = quad.objective(a, b)
  c, delta, c_minus = 0.5, 1e-3, 0.8
  tx = scale_by_armijo(c=c, delta=delta, c_plus=4.0, c_minus=c_minus)
  traj, _ = quad.run(tx, f, w, 4)
  prev_eta = None
  for t in traj:
    eta = float(t["step"][0] / t["u"][0])
    # The rate the tuner reports is the step it returned.
    np.testing.assert_allclose(float(t["info"]["learning_rate"]), eta,
                               rtol=1e-6)
    guess = 1.0 if prev_eta is None else min(4.0 * prev_eta, 1.0)
    k = int(round(math.log(eta / guess) / math.log(c_minus)))
    np.testing.assert_allclose(eta, guess * c_minus**k, rtol=1e-9)
    assert int(t["info"]["value_evals"]) == k + 1

    def holds(e, t=t):
      return f(t["w"] + e * t["u"]) <= (1 + delta) * f(t["w"]) + c * e * (
          t["g"] @ t["u"])

    assert holds(eta)
    for j in range(k):  # every larger grid point fails
      assert not holds(guess * c_minus**j)
    prev_eta = eta
  assert int(traj[0]["info"]["value_evals"]) > 1  # it did backtrack


def test_armijo_c_plus_inf_restarts_at_one_and_caps_backtracking(quad):
  a, b, w = quad.quadratic(scale=30.0)
  f = quad.objective(a, b)
  tx = scale_by_armijo(c=0.5, c_plus=math.inf, c_minus=0.5,
                       max_backtracking_steps=2)
  traj, _ = quad.run(tx, f, w, 2)
  for t in traj:  # the needed η < 1/4 is off the capped grid {1, ½, ¼}
    assert int(t["info"]["value_evals"]) == 3
    np.testing.assert_allclose(t["step"], 0.25 * t["u"], rtol=1e-12)
  assert not bool(traj[0]["state"].accepted)
