"""Armijo backtracking linesearch (Roulet et al. 2024, Eq. 1, App. C).

Accept η if f(w + ηu) ≤ (1 + δ) f(w) + c η ∇f(w)ᵀu; start at
min(c₊ η_{t−1}, 1), shrink by c₋: η_t = max{c₋^k η_{t,0} : criterion}.
See :func:`edgeperf.submissions.armijo.scale_by_armijo`.

Search space: the paper's grid c ∈ {0, 1e-4, 0.5}, c₊ ∈ {4, +∞},
c₋ ∈ {0.8, 0.9}, δ ∈ {0, 1e-3}.  The paper tries δ = 1e-3 only with c = 0; a
cartesian search space cannot express that, so this grid is a superset
(24 points instead of 16).  c₊ = +∞ is written ``"inf"`` (JSON has no
infinity).  At most 100 backtracking steps per step (the paper: until
accepted in full batch, 30 in mini-batch; set ``max_backtracking_steps``).
"""

import optax

from edgeperf import _checks
from edgeperf.submissions import api
from edgeperf.submissions.armijo import transform

SUPPORTED_BASE_OPTIMIZERS = api.BASE_OPTIMIZERS
_INFINITY = ("inf", "+inf", "infinity")


def make_tuner(*, c: float = 1e-4, delta: float = 0.0,
               c_plus: float | str = "inf", c_minus: float = 0.8,
               max_backtracking_steps: int = 100,
               base_optimizer: str = "gd"
               ) -> optax.GradientTransformationExtraArgs:
  """Builds the Armijo linesearch tuner.

  Args:
    c: slope coefficient of the criterion.
    delta: relative slack δ.
    c_plus: increase factor c₊ (a number, or ``"inf"``: start at 1 each step).
    c_minus: decrease factor c₋ ∈ (0, 1).
    max_backtracking_steps: most shrinks per step.
    base_optimizer: ``gd``, ``momentum``, ``rmsprop`` or ``adam`` (the
      criterion assumes a descent direction: GD, RMSProp).
  """
  if isinstance(c_plus, str):
    if c_plus.strip().lower() not in _INFINITY:
      raise ValueError(f"c_plus must be a number or 'inf', got {_checks.shown(c_plus)}")
    c_plus = float("inf")
  return optax.chain(
      api.base_direction(base_optimizer),
      transform.scale_by_armijo(
          c=c, delta=delta, c_plus=c_plus, c_minus=c_minus,
          max_backtracking_steps=max_backtracking_steps))
