"""Fractal Chebyshev schedule (Agarwal, Goel & Zhang 2021).

Step sizes 1/γ_i, γ_i = (M+m)/2 + (M−m)/2·cos((2i−1)π/(2T)), in the fractal
order σ_T, repeated every T steps.  M = λ_max(∇²f(w_0)) by 20 Lanczos HVPs
at step 0 unless ``max_curvature`` is given; m = ``min_curvature_ratio``·M.
The papers give no grid for this tuner on networks; the search space here
(T ∈ {16, 64, 256}, m/M ∈ {1e-1, 1e-2, 1e-3}) is this benchmark's choice.
See :func:`edgeperf.submissions.fractal_chebyshev.scale_by_fractal_chebyshev`.
"""

from edgeperf.submissions import api
from edgeperf.submissions.fractal_chebyshev import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, horizon: int = 64, min_curvature_ratio: float = 1e-2,
               max_curvature: float | None = None, order: str = "fractal",
               num_iters: int = 20, seed: int = 0, base_optimizer: str = "gd",
               unroll_loops: bool = False) -> api.Tuner:
  """Builds the fractal Chebyshev schedule.

  Args:
    horizon: T, a power of 2.
    min_curvature_ratio: m/M.
    max_curvature: M, or None to estimate it at the first step.
    order: ``fractal``, ``increasing`` or ``decreasing``.
    num_iters: Lanczos HVPs of the step-0 estimate of M.
    seed: its start-vector seed.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
    unroll_loops: set by the harness from the workload
      (:data:`edgeperf.submissions.loader.UNROLL`): unroll the Lanczos loop.
  """
  return api.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_fractal_chebyshev(
          horizon, min_curvature_ratio=min_curvature_ratio,
          max_curvature=max_curvature, order=order, num_iters=num_iters,
          seed=seed, unroll=unroll_loops))
