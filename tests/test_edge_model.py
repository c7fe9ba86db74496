"""The edge controller's closed loop on the paper's model (M5): Eqs. 5, 10
with the PI law on log η in place of Eq. 9 (Roulet et al. 2024)."""

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from edgeperf.reproduce import criteria
from edgeperf.reproduce import figures
from edgeperf.reproduce import findings
from edgeperf.reproduce import theory
from edgeperf.submissions.edge_controller import stable_gains

SHORT = theory.CONTROLLER._replace(
    cdat=theory.FIG9._replace(steps=3000))


def test_deadbeat_gains_are_cdats_model():
  """k_i = 1, k_p = 0: η_{t+1} = r*/ρ_t, Eq. 9 with σ = r*, step for step."""
  prm = SHORT._replace(ki=1.0, kp=0.0)
  np.testing.assert_allclose(theory.controller_model(prm).eta,
                             theory.cdat_model(SHORT.cdat).eta, rtol=1e-12)


@pytest.mark.parametrize("lam", [15.0, 23.0, 40.0])
@pytest.mark.parametrize("ki,kp", [(0.5, -0.25), (0.25, -0.125),
                                   (1.0, 0.0), (1.5, 0.1)])
def test_jacobian_is_the_closed_form_with_one_neutral_eigenvalue(lam, ki, kp):
  prm = theory.CONTROLLER._replace(ki=ki, kp=kp)
  numeric = np.linalg.eigvals(theory.controller_jacobian(prm, lam))
  neutral = int(np.argmin(np.abs(numeric - 1.0)))
  assert abs(numeric[neutral] - 1.0) < 1e-6  # the line of fixed points
  np.testing.assert_allclose(
      np.sort_complex(np.delete(numeric, neutral)),
      np.sort_complex(theory.controller_poles(prm, lam)), atol=1e-6)


def test_stability_region_on_the_model_is_the_laws():
  """For c = 2a/λ*² small, the loop is locally stable exactly where the
  law's own poles are (Jury's triangle), and its slow pole is 1 − 4c/k_i
  to first order."""
  lam = 23.0
  c = 2 * theory.FIG9.a / lam ** 2
  for ki, kp in itertools.product(np.linspace(0.1, 2.4, 12),
                                  np.linspace(-1.2, 1.2, 13)):
    radius = max(abs(theory.controller_poles(
        theory.CONTROLLER._replace(ki=ki, kp=kp), lam)))
    law = max(abs(np.roots([1.0, -(1 - ki - kp), -kp])))
    if abs(law - 1) > 0.02:
      assert (radius < 1) == stable_gains(ki, kp), (ki, kp, radius)
  for ki in (0.25, 0.5, 1.0):
    poles = theory.controller_poles(
        theory.CONTROLLER._replace(ki=ki, kp=-ki / 2), lam)
    slow = poles[np.argmin(np.abs(poles[:3] - 1.0))]
    assert slow.real == pytest.approx(1 - 4 * c / ki, rel=0, abs=4 * c * 0.05)


def test_shipped_gains_settle_on_the_edge_and_stop_sharpening():
  m = theory.controller_model()
  assert criteria.settles_in(m.y, -0.02, 0.02)
  assert criteria.stabilises(m.lam)
  # y → 0 with λ* inside the fixed point's stable region
  poles = theory.controller_poles(theory.CONTROLLER, float(m.lam[-1]))
  assert max(abs(poles)) < 1


def test_m5_verdict_is_computed_and_shows():
  j = findings.FINDINGS["M5"].judge({}, None)
  assert all(c.passed for c in j.checks), j.checks
  assert j.numbers["lam_final"] < j.numbers["lam_final_m3"]
  assert j.numbers["levels_off_at"] < j.numbers["levels_off_at_m3"]


def test_m5_figure_draws():
  fig = figures.draw("M5", {}, "M5", {})
  assert len(fig.axes) == 3
