"""Quadratically greedy rule (paper Eq. 3): CDAT with σ = 1.

η_t = −∇f(w_t)ᵀu_t / (u_tᵀ∇²f(w_t)u_t), the exact minimiser of the
quadratic model q(η) = f + η∇fᵀu + ½η²uᵀ∇²fu along u_t (0 for an ascent
direction).  Shares :func:`edgeperf.submissions.transforms.scale_by_cdat`.
No search: the rule has no free parameter in the paper (β, ε, estimator and
k are exposed for completeness, fixed at the paper's 0, 0, jvp, 1).
"""

import optax

from edgeperf.submissions import api
from edgeperf.submissions import transforms

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, beta: float = 0.0, eps: float = 0.0, estimator: str = "jvp",
               every_k: int = 1, base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds the quadratically greedy tuner (see :mod:`..cdat` for the args)."""
  return optax.chain(
      api.base_direction(base_optimizer),
      transforms.scale_by_quadratically_greedy(
          eps=eps, beta=beta, estimator=estimator, every_k=every_k))
