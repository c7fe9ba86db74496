"""The constant learning rate: w_{t+1} = w_t + η u_t, η in its state."""

import numpy as np
import pytest

from edgeperf.submissions import api
from edgeperf.submissions.constant import scale_by_constant_lr


def test_constant_scales_the_direction_and_reports_eta(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  traj, _ = quad.run(scale_by_constant_lr(0.1), f, w, 3)
  for t in traj:
    np.testing.assert_allclose(t["step"], 0.1 * t["u"], rtol=1e-12)
    assert float(t["info"]["learning_rate"]) == pytest.approx(0.1)
    assert all(int(t["info"][c]) == 0 for c in api.EVAL_COUNTERS)


@pytest.mark.parametrize("bad", [0.0, -1.0, "0.1", float("nan")])
def test_constant_refuses_a_bad_rate(bad):
  with pytest.raises(ValueError, match="learning_rate must be a number > 0"):
    scale_by_constant_lr(bad)
