"""Quadratically greedy rule (Roulet et al. 2024, Eq. 3): CDAT with σ = 1.

η_t = −∇f(w_t)ᵀu_t / (u_tᵀ∇²f(w_t)u_t), the exact minimiser of the
quadratic model q(η) = f + η∇fᵀu + ½η²uᵀ∇²fu along u_t (0 for an ascent
direction).  Shares :func:`edgeperf.submissions.cdat.scale_by_cdat`.
No search: the rule has no free parameter in the paper (β, ε, estimator and
k are exposed for completeness, fixed at the paper's 0, 0, jvp, 1).
"""

from edgeperf.submissions import api
from edgeperf.submissions.cdat import transform as cdat_transform
from edgeperf.submissions.qg import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, beta: float = 0.0, eps: float = 0.0, estimator: str = "jvp",
               every_k: int = 1,
               refresh_warmup: int = cdat_transform.REFRESH_WARMUP,
               base_optimizer: str = "gd"
               ) -> api.Tuner:
  """Builds the quadratically greedy tuner (the arguments are CDAT's)."""
  return api.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_quadratically_greedy(
          eps=eps, beta=beta, estimator=estimator, every_k=every_k,
          refresh_warmup=refresh_warmup))
