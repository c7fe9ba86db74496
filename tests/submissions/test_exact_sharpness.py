"""The exact-sharpness rule η = σ/λ_max (Roulet et al. 2024, Eq. 16)."""

import numpy as np

from edgeperf.submissions.exact_sharpness import scale_by_exact_sharpness


def test_exact_sharpness_is_sigma_over_lambda_max_refreshed_every_k(quad):
  a, b, w = quad.quadratic()
  f = quad.objective(a, b)
  lam = float(np.linalg.eigvalsh(np.asarray(a))[-1])
  tx = scale_by_exact_sharpness(3.0, every_k=2, num_iters=quad.N)
  traj, _ = quad.run(tx, f, w, 3)
  for t in traj:
    np.testing.assert_allclose(t["step"], 3.0 / lam * t["u"], rtol=1e-6)
  assert [int(t["info"]["hvp_evals"]) for t in traj] == [quad.N, 0, quad.N]
