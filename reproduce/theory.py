"""The papers' simplified models of the joint dynamics of η and sharpness.

Pure numpy, no network.  Each ``*_model`` function iterates one model of
Roulet, Agarwala, Grill, Swirszcz, Blondel & Pedregosa (2024), "Stepping on
the Edge: Curvature Aware Learning Rate Tuners" (equation numbers are that
paper's) and returns a :class:`Trajectory` indexed by the step t = 0..T.

* Eq. 4 (the self-stabilisation model of Damian, Nichani & Lee, 2022), in
  the top eigendirection: ``x_{t+1} = (1 − η_t λ_t) x_t``,
  ``λ_{t+1} = η_t (a − b x_t²) + λ_t``.
* Eq. 5, the same in ``p = x²`` and ``y = ηλ − 2`` (y = 0 is the edge):
  ``p_{t+1} = (1 + y_t)² p_t``,
  ``y_{t+1} = η_{t+1}[η_t(a − b p_t)] + (η_{t+1}/η_t) y_t + 2[η_{t+1}/η_t − 1]``.
* Eq. 6, classical tuners: ``η_t = 2(1 − ε)/λ_t``.
* Eqs. 9–10, CDAT with a second, fixed eigenvalue ν:
  ``η_{t+1} = σ (λ_t² p_t + ν² g_t) / (λ_t³ p_t + ν³ g_t)``,
  ``g_{t+1} = (1 − η_t ν)² g_t``, ``p_{t+1} = (1 + y_t)² p_t``, y from Eq. 5.

Where the paper is silent or its printed form misbehaves, we chose:

1. **Eq. 4 with explicit Euler is numerically unstable** with the Fig. 4
   constants (a = 3e-2, b = 3e-1, η = 1): its fixed point (λ = 2/η,
   x² = a/b) has Jacobian determinant 1 + 2aη² > 1 in (log x², y), an
   unstable spiral, and the trajectory blows up within a few hundred steps.
   The default is therefore the **semi-implicit** order, λ updated from the
   new x (``λ_{t+1} = η(a − b x_{t+1}²) + λ_t``, determinant exactly 1),
   which gives the bounded oscillation Fig. 4 shows.  ``semi_implicit=False``
   keeps the literal order (:func:`constant_fixed_point_growth`).
2. **ε of Eq. 6.**  Eq. 6 as printed gives η·λ = 2(1 − ε); the caption of
   Fig. 4 ("ηλ = 1.9") and App. B ("fixed y = −0.1") put the tuner at
   η·λ = 1.9, which is the default (:data:`FIG4_TUNER`); ``eps=`` applies
   Eq. 6 literally.
3. **Fig. 9's initial values.**  g₀ = 4 (one symbol is lost in the paper's
   text); η₀ is Eq. 9 applied to the initial state, which puts the model
   on the edge at t = 0.  Horizon 20,000 steps: σ = 2's λ levels off only
   after ~10,000.
4. Initial values the paper does not give: Fig. 4 constant η starts at
   λ₀ = 1.8 (below the edge 2/η = 2), x₀ = 0.1; the tuner model at x₀ = 1.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

_HUGE = 1e100  # a state beyond this has blown up: the rest is NaN


class ConstantParams(NamedTuple):
  """Eq. 4 with a constant learning rate (Fig. 4, App. B)."""

  a: float = 3e-2  # sharpening rate
  b: float = 3e-1  # strength of the self-stabilising feedback
  eta: float = 1.0  # the constant learning rate (edge at λ = 2/η)
  lam0: float = 1.8  # λ₀, not given in the paper: below the edge
  x0: float = 0.1  # x₀, not given in the paper
  steps: int = 3000  # horizon T
  semi_implicit: bool = True  # λ_{t+1} from x_{t+1} (module docstring, 1)


class TunerParams(NamedTuple):
  """Eq. 4 under the classical-tuner rule of Eq. 6 (Fig. 4)."""

  a: float = 1.0  # sharpening rate
  b: float = 0.5  # feedback strength
  lam0: float = 1.0  # λ₀
  x0: float = 1.0  # x₀, not given in the paper
  eta_lambda: float = 1.9  # η_t·λ_t the rule keeps (y = −0.1)
  steps: int = 600  # horizon T


class CdatParams(NamedTuple):
  """Eqs. 5, 9, 10: CDAT with a second eigenvalue (Fig. 9, App. B)."""

  a: float = 5e-2  # sharpening rate
  b: float = 1e-1  # feedback strength
  nu: float = 0.1  # the second (fixed) eigenvalue ν
  lam0: float = 18.0  # λ₀
  p0: float = 0.05  # p₀ = x₀², weight along the top eigenvector
  g0: float = 4.0  # g₀, weight along ν's eigenvector
  sigma: float = 2.0  # CDAT's scale σ
  steps: int = 20000  # horizon T


FIG4_CONSTANT = ConstantParams()
FIG4_TUNER = TunerParams()
FIG9 = CdatParams()
FIG9_SIGMAS = (2.0, 1.9)


class Trajectory(NamedTuple):
  """A simulated trajectory: one entry per step t = 0..T (NaN after a
  blow-up, and where the model does not track the quantity)."""

  eta: np.ndarray  # η_t
  lam: np.ndarray  # λ_t, the sharpness
  y: np.ndarray  # y_t = η_t λ_t − 2
  p: np.ndarray  # p_t = x_t², weight along the top eigenvector
  x: np.ndarray  # x_t (Eq. 4 only)
  g: np.ndarray  # g_t, weight along ν's eigenvector (Eqs. 9–10 only)


def _nans(steps: int) -> np.ndarray:
  return np.full(steps + 1, np.nan)


def _blown_up(*values: float) -> bool:
  return not all(np.isfinite(v) and abs(v) < _HUGE for v in values)


EtaRule = Callable[[int, float, float], float]
"""``(t, λ_t, x_t) -> η_t`` for :func:`eq4_model`."""


def eq4_model(eta_rule: EtaRule, *, a: float, b: float, lam0: float,
              x0: float, steps: int, semi_implicit: bool = False
              ) -> Trajectory:
  """Iterates Eq. 4 with η_t = ``eta_rule(t, λ_t, x_t)``.

  ``semi_implicit`` updates λ from x_{t+1} instead of x_t (module
  docstring, 1).  After a blow-up (|state| ≥ 1e100 or non-finite) the rest
  of the trajectory is NaN.
  """
  x, lam, eta = _nans(steps), _nans(steps), _nans(steps)
  x[0], lam[0] = x0, lam0
  with np.errstate(over="ignore", invalid="ignore"):
    for t in range(steps + 1):
      eta[t] = eta_rule(t, lam[t], x[t])
      if t == steps:
        break
      x[t + 1] = (1.0 - eta[t] * lam[t]) * x[t]
      x_fb = x[t + 1] if semi_implicit else x[t]
      lam[t + 1] = eta[t] * (a - b * x_fb ** 2) + lam[t]
      if _blown_up(x[t + 1], lam[t + 1]):
        x[t + 1] = lam[t + 1] = np.nan
        break
    return Trajectory(eta=eta, lam=lam, y=eta * lam - 2.0, p=x ** 2, x=x,
                      g=_nans(steps))


Eq5Rule = Callable[[int, float, float, float], float]
"""``(t, λ_{t+1}, p, η_t) -> η_{t+1}`` for :func:`eq5_model`."""


def eq5_model(eta_rule: Eq5Rule, *, a: float, b: float, lam0: float,
              p0: float, eta0: float, steps: int,
              semi_implicit: bool = False) -> Trajectory:
  """Iterates Eq. 5, η_{t+1} = ``eta_rule(t, λ_{t+1}, p, η_t)``.

  λ_{t+1} = η_t(a − b p) + λ_t does not depend on η_{t+1}, so the rule may
  read it; ``p`` is p_t (p_{t+1} with ``semi_implicit``, matching
  :func:`eq4_model`).  λ_t is recovered as (y_t + 2)/η_t.
  """
  eta, y, p = _nans(steps), _nans(steps), _nans(steps)
  eta[0], p[0], y[0] = eta0, p0, eta0 * lam0 - 2.0
  with np.errstate(over="ignore", invalid="ignore"):
    for t in range(steps):
      p[t + 1] = (1.0 + y[t]) ** 2 * p[t]
      p_fb = p[t + 1] if semi_implicit else p[t]
      lam_next = eta[t] * (a - b * p_fb) + (y[t] + 2.0) / eta[t]
      eta[t + 1] = eta_rule(t, lam_next, p_fb, eta[t])
      r = eta[t + 1] / eta[t]
      y[t + 1] = eta[t + 1] * eta[t] * (a - b * p_fb) + r * y[t] + 2.0 * (
          r - 1.0)
      if _blown_up(p[t + 1], y[t + 1]):
        p[t + 1] = y[t + 1] = np.nan
        break
    return Trajectory(eta=eta, lam=(y + 2.0) / eta, y=y, p=p, x=_nans(steps),
                      g=_nans(steps))


def constant_model(params: ConstantParams = FIG4_CONSTANT) -> Trajectory:
  """Eq. 4 with a constant η (Fig. 4): λ rises to 2/η, then y = ηλ − 2
  oscillates around 0 (in the default semi-implicit order)."""
  return eq4_model(lambda t, lam, x: params.eta, a=params.a, b=params.b,
                   lam0=params.lam0, x0=params.x0, steps=params.steps,
                   semi_implicit=params.semi_implicit)


def constant_model_eq5(params: ConstantParams = FIG4_CONSTANT) -> Trajectory:
  """The constant-η model iterated in Eq. 5's variables (the same
  trajectory as :func:`constant_model`, step for step)."""
  return eq5_model(lambda t, lam, p, eta: params.eta, a=params.a, b=params.b,
                   lam0=params.lam0, p0=params.x0 ** 2, eta0=params.eta,
                   steps=params.steps, semi_implicit=params.semi_implicit)


def constant_fixed_point_growth(params: ConstantParams = FIG4_CONSTANT
                                ) -> float:
  """|det| of the constant-η map's Jacobian at its fixed point.

  In (q = log x², y) the explicit map is q' = q + 2 log|1 + y|,
  y' = y + η²(a − b e^q); at y = 0, e^q = a/b its Jacobian has determinant
  1 + 2aη² (an unstable spiral when > 1).  The semi-implicit map's is 1.
  """
  a, eta = params.a, params.eta
  jac = np.array([[1.0, 2.0], [-a * eta ** 2, 1.0]])
  if params.semi_implicit:  # y' reads q' = q + 2y
    jac[1, 1] = 1.0 - 2.0 * a * eta ** 2
  return float(abs(np.linalg.det(jac)))


def tuner_eta_lambda(params: TunerParams = FIG4_TUNER,
                     eps: float | None = None) -> float:
  """η·λ the Eq. 6 rule keeps: 2(1 − ε) when ``eps`` is given, else
  ``params.eta_lambda``."""
  return params.eta_lambda if eps is None else 2.0 * (1.0 - eps)


def tuner_model(params: TunerParams = FIG4_TUNER,
                eps: float | None = None) -> Trajectory:
  """Eq. 4 under Eq. 6, η_t = (η·λ)/λ_t: the edge is undershot (y < 0),
  |x| decays geometrically, the feedback −b x² vanishes, λ grows without
  bound and η falls."""
  prod = tuner_eta_lambda(params, eps)
  return eq4_model(lambda t, lam, x: prod / lam, a=params.a, b=params.b,
                   lam0=params.lam0, x0=params.x0, steps=params.steps)


def cdat_eta(sigma: float, lam: float, p: float, nu: float, g: float
             ) -> float:
  """Eq. 9: η = σ (λ² p + ν² g) / (λ³ p + ν³ g), CDAT's rate on a
  quadratic with eigenvalues λ, ν and weights p, g."""
  return sigma * (lam ** 2 * p + nu ** 2 * g) / (lam ** 3 * p + nu ** 3 * g)


def cdat_model(params: CdatParams = FIG9) -> Trajectory:
  """Eqs. 5, 9, 10 (Fig. 9); all right-hand sides at step t:

  η_{t+1} from Eq. 9, g_{t+1} = (1 − η_t ν)² g_t, p_{t+1} = (1 + y_t)² p_t,
  y_{t+1} from Eq. 5, λ_{t+1} = (y_{t+1} + 2)/η_{t+1}; η₀ from Eq. 9.
  """
  a, b, nu, n, sigma = params.a, params.b, params.nu, params.steps, params.sigma
  eta, lam, p, g, y = (_nans(n) for _ in range(5))
  lam[0], p[0], g[0] = params.lam0, params.p0, params.g0
  eta[0] = cdat_eta(sigma, lam[0], p[0], nu, g[0])
  y[0] = eta[0] * lam[0] - 2.0
  with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    for t in range(n):
      eta[t + 1] = cdat_eta(sigma, lam[t], p[t], nu, g[t])
      g[t + 1] = (1.0 - eta[t] * nu) ** 2 * g[t]
      p[t + 1] = (1.0 + y[t]) ** 2 * p[t]
      r = eta[t + 1] / eta[t]
      y[t + 1] = eta[t + 1] * eta[t] * (a - b * p[t]) + r * y[t] + 2.0 * (
          r - 1.0)
      lam[t + 1] = (y[t + 1] + 2.0) / eta[t + 1]
      if _blown_up(eta[t + 1], g[t + 1], p[t + 1], y[t + 1]):
        break
  return Trajectory(eta=eta, lam=lam, y=y, p=p, x=_nans(n), g=g)


# ------------------------------------------------- closed loop (model M5) --

class ControllerParams(NamedTuple):
  """Eqs. 5, 10 with the edge controller in place of Eq. 9 (model M5)."""

  cdat: CdatParams = CdatParams()  # a, b, ν, λ₀, p₀, g₀, horizon (Fig. 9)
  set_point: float = 2.0  # r*, the edge ratio held
  ki: float = 0.5  # integral gain k_i
  kp: float = -0.25  # proportional gain k_p (−k_i/2: the two-step mean)


CONTROLLER = ControllerParams()


def rayleigh(lam: float, p: float, nu: float, g: float) -> float:
  """uᵀHu/‖u‖² along the gradient of the two-eigenvalue quadratic, the
  curvature CDAT divides by (Eq. 9 is σ over it)."""
  return (lam ** 3 * p + nu ** 3 * g) / (lam ** 2 * p + nu ** 2 * g)


def controller_eta(prm: ControllerParams, eta: float, rho: float,
                   prev_error: float) -> tuple[float, float]:
  """(η_{t+1}, e_t): the PI law on log η, e_t = log(η_t ρ_t / r*),
  log η_{t+1} = log η_t − k_i e_t − k_p (e_t − e_{t−1}).  k_i = 1, k_p = 0
  gives η_{t+1} = r*/ρ_t: Eq. 9 with σ = r*."""
  error = np.log(eta * rho / prm.set_point)
  return (eta * np.exp(-prm.ki * error - prm.kp * (error - prev_error)),
          error)


def controller_model(prm: ControllerParams = CONTROLLER) -> Trajectory:
  """Eqs. 5, 10 under the controller, timed as :func:`cdat_model`: η_{t+1}
  from the state at t, η₀ from Eq. 9 with σ = r* (the loop starts on its
  set point, e_{−1} = 0)."""
  c = prm.cdat
  n = c.steps
  eta, lam, p, g, y = (_nans(n) for _ in range(5))
  lam[0], p[0], g[0] = c.lam0, c.p0, c.g0
  eta[0] = cdat_eta(prm.set_point, lam[0], p[0], c.nu, g[0])
  y[0] = eta[0] * lam[0] - 2.0
  error = 0.0
  with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    for t in range(n):
      eta[t + 1], error = controller_eta(
          prm, eta[t], rayleigh(lam[t], p[t], c.nu, g[t]), error)
      g[t + 1] = (1.0 - eta[t] * c.nu) ** 2 * g[t]
      p[t + 1] = (1.0 + y[t]) ** 2 * p[t]
      r = eta[t + 1] / eta[t]
      y[t + 1] = eta[t + 1] * eta[t] * (c.a - c.b * p[t]) + r * y[t] + 2.0 * (
          r - 1.0)
      lam[t + 1] = (y[t + 1] + 2.0) / eta[t + 1]
      if _blown_up(eta[t + 1], g[t + 1], p[t + 1], y[t + 1]):
        break
  return Trajectory(eta=eta, lam=lam, y=y, p=p, x=_nans(n), g=g)


def _controller_map(prm: ControllerParams, s: np.ndarray) -> np.ndarray:
  """One step of :func:`controller_model` in s = (log η, log λ, log p, g,
  e_{t−1}) (λ_{t+1} = λ_t + η_t(a − b p_t), Eq. 4, as Eq. 5 implies)."""
  c = prm.cdat
  eta, lam, p, g, prev_error = np.exp(s[0]), np.exp(s[1]), np.exp(s[2]), s[3], s[4]
  eta_next, error = controller_eta(prm, eta, rayleigh(lam, p, c.nu, g),
                                   prev_error)
  return np.array([np.log(eta_next), np.log(lam + eta * (c.a - c.b * p)),
                   s[2] + 2.0 * np.log(abs(eta * lam - 1.0)),
                   (1.0 - eta * c.nu) ** 2 * g, error])


def controller_jacobian(prm: ControllerParams, lam: float,
                        h: float = 1e-6) -> np.ndarray:
  """The Jacobian of the closed loop at its fixed point of sharpness λ*
  (η = 2/λ*, p = a/b, g = 0, e = 0; r* = 2), by central differences.

  Its eigenvalues: 1, along the line of fixed points (every λ* is one);
  (1 − 2ν/λ*)², the second eigendirection dying out; and the roots of
  (μ − α)μ(μ − 1) − k_p(μ − 1) + 4cμ with α = 1 − k_i − k_p and
  c = 2a/λ*² (:func:`controller_poles`).
  """
  c = prm.cdat
  s0 = np.array([np.log(2.0 / lam), np.log(lam), np.log(c.a / c.b), 0.0,
                 0.0])
  jac = np.empty((5, 5))
  for j in range(5):
    d = np.zeros(5)
    d[j] = h
    jac[:, j] = (_controller_map(prm, s0 + d) - _controller_map(prm, s0 - d)
                 ) / (2 * h)
  return jac


def controller_poles(prm: ControllerParams, lam: float) -> np.ndarray:
  """The closed loop's eigenvalues transverse to its line of fixed points,
  in closed form: those of [[1 − k_i − k_p, k_p, −c], [1, 0, 0],
  [4, 0, 1]] in (e_t, e_{t−1}, log p), c = 2a/λ*², and (1 − 2ν/λ*)²."""
  c = 2.0 * prm.cdat.a / lam ** 2
  block = np.array([[1.0 - prm.ki - prm.kp, prm.kp, -c], [1.0, 0.0, 0.0],
                    [4.0, 0.0, 1.0]])
  return np.concatenate([np.linalg.eigvals(block),
                         [(1.0 - 2.0 * prm.cdat.nu / lam) ** 2]])


def levels_off_at(lam: np.ndarray, tol: float = 0.01) -> int | None:
  """The first step from which λ stays within ``tol`` (relative) of its
  final value (None if the trajectory blew up)."""
  if not np.all(np.isfinite(lam)):
    return None
  outside = np.flatnonzero(np.abs(lam / lam[-1] - 1.0) > tol)
  return 0 if outside.size == 0 else int(outside[-1]) + 1
