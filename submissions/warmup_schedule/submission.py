"""Prefixed schedules (Roulet et al. 2024, App. C.5): linear warm-up, then
constant, linear decay or cosine decay; initial and final rate 0.

Horizon H = round(horizon_fraction · num_steps) with horizon_fraction ∈
{1, 1/2, 1/4} (the paper's {N, N/2, N/4}); warm-up = round(warmup_fraction ·
H) steps, warmup_fraction ∈ {0.05, 0.1, 0.2}; after H the decaying shapes
stay at 0.  ``num_steps`` = N is the run's step budget, passed by the harness
(``Submission.build(..., num_steps=...)``).  The peak rate is searched on
the constant baseline's log-2 grid.
"""

import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions.warmup_schedule import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS


def make_tuner(*, peak_learning_rate: float, shape: str = "cosine",
               warmup_fraction: float = 0.1, horizon_fraction: float = 1.0,
               num_steps: int = 1000, base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds a warm-up schedule.

  Args:
    peak_learning_rate: rate at the end of the warm-up.
    shape: ``constant``, ``linear`` or ``cosine`` (after the warm-up).
    warmup_fraction: warm-up length as a fraction of the horizon.
    horizon_fraction: horizon as a fraction of ``num_steps``, in (0, 1].
    num_steps: N, the run's step budget.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam``.
  """
  _checks.integer("num_steps", num_steps, low=1)
  _checks.number("horizon_fraction", horizon_fraction, low=0.0, high=1.0,
                 low_open=True)
  _checks.number("warmup_fraction", warmup_fraction, low=0.0, high=1.0)
  horizon = max(1, round(horizon_fraction * num_steps))
  schedule = transform.warmup_schedule(
      shape, peak_learning_rate=peak_learning_rate,
      warmup_steps=round(warmup_fraction * horizon), horizon=horizon)
  return optax.chain(api.base_direction(base_optimizer),
                     transform.scale_by_learning_rate_schedule(schedule))
