"""The edge controller on any base direction: a PI law on log η that holds
the edge ratio r_t = η_{t−1}·u_tᵀ∇²f u_t/(−g_tᵀu_t) (η·uᵀHu/uᵀPu for a
preconditioned step u = −P⁻¹g) at a set point, with the curvature exact
every k = 10 steps (after a 100-step warm-up of exact steps) and the free
calibrated secant estimate in between.  See
:func:`edgeperf.submissions.edge_controller.scale_by_edge_controller`.

The closed-loop design answers the conclusion of Roulet et al. (2024):
CDAT (their Eq. 8) is the law's deadbeat member (k_i = 1, k_p = 0); the
shipped gains integrate the two-step mean of the error (k_p = −k_i/2),
which ignores the period-2 oscillation at the edge.

Search space (12 points): set point r* ∈ {1, 2, 2.5} (the greedy step,
the edge, and above it: the σ values where CDAT's tuned points fall on the
embedded workloads, of the paper's Fig. 5 grid) × k_i ∈ {0.25, 0.5} with
k_p = −k_i/2 × base direction ∈ {gd, adam}.
"""

from edgeperf.submissions import api
from edgeperf.submissions.edge_controller import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, set_point: float = 2.0, ki: float = 0.5,
               kp: float | None = None,
               max_log_change: float = transform.MAX_LOG_CHANGE,
               every_k: int = transform.EVERY_K,
               refresh_warmup: int = transform.REFRESH_WARMUP,
               base_optimizer: str = "gd") -> api.Tuner:
  """Builds the edge controller.

  Args:
    set_point: the edge ratio r* held (2: the edge).
    ki: integral gain k_i.
    kp: proportional gain k_p; None: −k_i/2 (the two-step mean, which has
      zero gain on the period-2 edge oscillation).
    max_log_change: largest |Δ log η| per step.
    every_k: refresh period of the exact curvature.
    refresh_warmup: steps refreshed every step before the period applies.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
  """
  return api.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_edge_controller(
          set_point, ki=ki, kp=-ki / 2 if kp is None else kp,
          max_log_change=max_log_change, every_k=every_k,
          refresh_warmup=refresh_warmup))
