"""Edge of stability on a real embedded workload, through the runner.

Constant-η GD on a small MLP (32-32-32 ReLU, squared loss) fitted to the
first 256 MNIST digits of ``mlp_mnist``: with η = 0.08 the sharpness starts
near 13 (η·λ ≈ 1), rises progressively to 2/η = 25 and then hovers at
η·λ_max ≈ 2 while the loss keeps falling (Cohen et al.,
2021).  Measured here: λ 12.95 → 24.1 by step 125, η·λ in [1.81, 1.93]
from step 75 to 250.
"""

import dataclasses

import numpy as np

from edgeperf.harness import runner
from edgeperf.submissions import loader
from edgeperf.workloads import models
from edgeperf.workloads import registry

ETA = 0.08


def test_constant_gd_sharpens_to_the_edge():
  base = registry.get("mlp_mnist")
  workload = dataclasses.replace(
      base, model=models.MLP((32, 32, 32), 10),
      train={k: v[:256] for k, v in base.train.items()},
      eval={k: v[:256] for k, v in base.eval.items()},
      target_train_loss=None, chunk_mode="scan")
  tx = loader.load("constant").build({"learning_rate": ETA})
  result = runner.run(workload, tx, seed=0, max_steps=250, eval_every=250,
                      diag_every=25, progress=False)
  diag = result.diagnostics
  assert list(diag["step"]) == list(range(0, 251, 25))
  lam = diag["sharpness"].to_numpy()
  edge = diag["eta_sharpness"].to_numpy()
  np.testing.assert_allclose(edge, ETA * lam, rtol=1e-5)
  np.testing.assert_allclose(diag["learning_rate"], ETA, rtol=1e-6)
  # Starts well below the edge, sharpens by a clear factor, reaches it.
  assert edge[0] < 1.2, edge
  assert lam.max() > 1.6 * lam[0], lam
  assert edge.max() > 1.8, edge
  # ...and stays there, without diverging: once at 1.8, η·λ stays in
  # [1.5, 2.5] and the loss keeps decreasing.
  first = int(np.argmax(edge > 1.8))
  assert np.all((edge[first:] > 1.5) & (edge[first:] < 2.5)), edge
  objective = diag["objective"].to_numpy()
  assert objective[-1] < 0.5 * objective[first], objective
