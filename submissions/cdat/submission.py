"""CDAT: curvature-dynamics-aware tuning (Roulet et al. 2024, Eq. 8), on any
base direction.

η_t = σ · max(−∇f(w_t)ᵀu_t, 0) / (|u_tᵀ∇²f(w_t)u_t| + ε), numerator and
denominator optionally EMA-smoothed (β), the denominator by forward-over-
forward autodiff (``jvp``), an HVP, or the free one-step-late ``secant``,
optionally refreshed only every k steps.  See
:func:`edgeperf.submissions.cdat.scale_by_cdat`.

Search space: the full-batch grid of the paper's Fig. 5
(σ ∈ {1, 1.9375, 2, 2.0625, 2.5}) × the EMA grid β ∈ {0, 0.9, 0.99} of its
Fig. 20/21 (mini-batch runs there searched σ ∈ {0.4, 0.6, …, 2.8}).  ε = 0,
jvp denominator every step: the paper's setting.
"""

from edgeperf.submissions import api
from edgeperf.submissions.cdat import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, sigma: float = 2.0, beta: float = 0.0, eps: float = 0.0,
               estimator: str = "jvp", every_k: int = 1,
               refresh_warmup: int = transform.REFRESH_WARMUP,
               base_optimizer: str = "gd"
               ) -> api.Tuner:
  """Builds CDAT.

  Args:
    sigma: scale σ (1: quadratically greedy; 2: on edge).
    beta: EMA parameter of numerator and denominator.
    eps: ε added to the denominator.
    estimator: ``jvp``, ``hvp``, ``rev_rev`` or ``secant``.
    every_k: refresh period of an exact denominator.
    refresh_warmup: steps refreshed every step before amortisation starts
      (k > 1 or ``secant`` only).
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
  """
  return api.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_cdat(sigma, eps=eps, beta=beta, estimator=estimator,
                              every_k=every_k,
                              refresh_warmup=refresh_warmup))
