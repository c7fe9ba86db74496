"""CDAT (Roulet et al. 2024, Eq. 8) with its curvature refreshed every
k = 10 steps, after a 100-step warm-up of exact steps; in between, the free
end-point curvature calibrated by the refreshes
(:func:`edgeperf.submissions.curvature.secant.calibrated_quotient`).  The
paper suggests amortising the estimate over intervals (its Sec. 6, as
Sophia does); this is that tuner, beside the paper's every-step ``cdat``,
so the leaderboard shows what amortisation buys.

Search space: ``cdat``'s (σ ∈ {1, 1.9375, 2, 2.0625, 2.5} × β ∈
{0, 0.9, 0.99}), k = 10.
"""

from edgeperf.submissions import api
from edgeperf.submissions.cdat import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, sigma: float = 2.0, beta: float = 0.0, eps: float = 0.0,
               every_k: int = 10,
               refresh_warmup: int = transform.REFRESH_WARMUP,
               base_optimizer: str = "gd") -> api.Tuner:
  """Builds amortised CDAT (the arguments are ``cdat``'s)."""
  return api.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_cdat(sigma, eps=eps, beta=beta, estimator="jvp",
                              every_k=every_k,
                              refresh_warmup=refresh_warmup))
