"""Exact-sharpness rule (Roulet et al. 2024, Eq. 16): η = σ / λ_max(∇²f(w_t)).

λ_max from a fixed number of Lanczos HVPs
(:func:`edgeperf.submissions.curvature.top_eigenvalue`), refreshed every k
steps.  σ searched in {1.5, 2, 2.5, 3} (Fig. 15: σ = 2 performs poorly, σ = 3
can beat a tuned constant rate).  The paper recomputes λ_max every step;
k = 10 with 20 Lanczos iterations is fixed here to keep CPU runs affordable
(set ``every_k`` to 1 for the paper's rule).  The Hessian is ∇²f, not the
preconditioned one, so for RMSProp/Adam this is not the relevant sharpness.
"""

from edgeperf.submissions import api
from edgeperf.submissions.exact_sharpness import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, sigma: float = 3.0, every_k: int = 10, num_iters: int = 20,
               method: str = "lanczos", seed: int = 0,
               base_optimizer: str = "gd", unroll_loops: bool = False
               ) -> api.Tuner:
  """Builds the exact-sharpness tuner.

  Args:
    sigma: σ in η = σ/λ_max.
    every_k: refresh period of λ_max.
    num_iters: HVPs per refresh.
    method: ``lanczos`` or ``power``.
    seed: seed of the eigen-solver's start vectors.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
    unroll_loops: set by the harness from the workload
      (:data:`edgeperf.submissions.loader.UNROLL`): unroll the Lanczos loop.
  """
  return api.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_exact_sharpness(
          sigma, every_k=every_k, num_iters=num_iters, method=method,
          seed=seed, unroll=unroll_loops))
