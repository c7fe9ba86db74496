"""The theory models M1–M4 (Roulet et al., 2024, Eqs. 4, 6, 9–10; Figs. 4
and 9) and M5, the edge controller's closed loop, simulated by :mod:`edgeperf.reproduce.theory`, with their checks.
A model has no runs and no seeds."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from edgeperf.reproduce import criteria
from edgeperf.reproduce import measures as M
from edgeperf.reproduce import theory
from edgeperf.reproduce.criteria import check
from edgeperf.reproduce.experiments import RunSpec, Size
from edgeperf.reproduce.findings.common import Finding, Judgement, fmt

def _check(*args: Any, **kwargs: Any) -> Any:
  """A model's check: a model is one deterministic trajectory, so every
  check holds over its single "seed"."""
  return check(*args, over_seeds=criteria.EVERY_SEED,
               why="a model: one deterministic trajectory", **kwargs)


def _no_runs(size: Size, seed: int) -> tuple[RunSpec, ...]:
  del size, seed
  return ()


Y_NEAR_EDGE = (-0.02, 0.02)
"""y = ηλ − 2 counts as "near 0" inside this band."""


def _m1_judge(runs: M.Runs, size: Size) -> Judgement:
  del runs, size
  prm = theory.FIG4_CONSTANT
  c = theory.constant_model(prm)
  literal = theory.constant_model(prm._replace(semi_implicit=False))
  bad = np.flatnonzero(~np.isfinite(literal.lam))
  t_y, t_lam = criteria.tail(c.y), criteria.tail(c.lam)
  numbers = {"y_tail_mean": float(np.mean(t_y)),
             "y_tail_crossings": criteria.sign_crossings(t_y),
             "lam_tail_mean": float(np.mean(t_lam)),
             "edge_2_over_eta": 2 / prm.eta,
             "literal_order_blows_up_at": int(bad[0]) if bad.size else None,
             "literal_fixed_point_det": theory.constant_fixed_point_growth(
                 prm._replace(semi_implicit=False))}
  checks = [
      _check("y_oscillates_around_0",
            "over the last half: ≥ 10 sign changes of y and |mean y| ≤ 0.05",
            f"{numbers['y_tail_crossings']} changes, mean "
            f"{fmt(numbers['y_tail_mean'])}", criteria.oscillates_around(c.y),
            headline=True),
      _check("lambda_stabilises",
            "λ over the last half: the means of its two quarters within 2 % "
            "and its range within 50 % of its mean",
            f"mean {fmt(numbers['lam_tail_mean'])} (2/η = 2)",
            criteria.stabilises(c.lam), headline=True),
  ]
  key = (f"y crosses 0 {numbers['y_tail_crossings']}× (mean "
         f"{fmt(numbers['y_tail_mean'])}); λ → {fmt(numbers['lam_tail_mean'])}")
  return Judgement(numbers, checks, key)


M1 = Finding(
    "M1", "Eq. 4, constant η", "Constant η: y oscillates around 0 and λ "
    "stabilises (at the edge 2/η).", "Eq. 4, Fig. 4", (),
    lambda size: (f"Eq. 4, a = {theory.FIG4_CONSTANT.a:g}, b = "
                  f"{theory.FIG4_CONSTANT.b:g}, η = {theory.FIG4_CONSTANT.eta:g}"
                  f", λ₀ = {theory.FIG4_CONSTANT.lam0:g}, x₀ = "
                  f"{theory.FIG4_CONSTANT.x0:g}, "
                  f"{theory.FIG4_CONSTANT.steps} steps, semi-implicit order"),
    _no_runs, _m1_judge,
    notes="Eq. 4 iterated as printed (explicit Euler: λ_{t+1} from x_t) is "
    "numerically unstable with these constants: its fixed point has "
    "Jacobian determinant 1 + 2aη² > 1 and the trajectory blows up (the "
    "step is in the numbers). The default integrator is semi-implicit (λ "
    "from x_{t+1}, determinant 1), which gives Fig. 4's bounded oscillation.")


def _m2_judge(runs: M.Runs, size: Size) -> Judgement:
  del runs, size
  m = theory.tuner_model()
  numbers = {"lam0": float(m.lam[0]), "lam_final": float(m.lam[-1]),
             "eta0": float(m.eta[0]), "eta_final": float(m.eta[-1]),
             "y": float(np.median(m.y))}
  checks = [
      _check("lambda_grows_without_bound",
            "λ ends ≥ 3 × λ₀, never decreases over its last quarter and "
            "still gains ≥ 5 % there", f"{fmt(m.lam[0])} → {fmt(m.lam[-1])}",
            criteria.grows_without_bound(m.lam), headline=True),
      _check("eta_falls", "η ends ≤ η₀ / 3 and never exceeds η₀ in the "
            "second half", f"{fmt(m.eta[0])} → {fmt(m.eta[-1])}",
            criteria.decays(m.eta), headline=True),
  ]
  key = (f"λ {fmt(m.lam[0])} → {fmt(m.lam[-1])}, η {fmt(m.eta[0])} → "
         f"{fmt(m.eta[-1])} in {theory.FIG4_TUNER.steps} steps")
  return Judgement(numbers, checks, key)


M2 = Finding(
    "M2", "Eq. 6, classical tuners", "η = 2(1 − ε)/λ keeps y < 0: λ grows "
    "without bound and η falls.", "Eq. 6, Fig. 4", (),
    lambda size: (f"Eq. 4 under Eq. 6 with η·λ = "
                  f"{theory.FIG4_TUNER.eta_lambda:g}, a = "
                  f"{theory.FIG4_TUNER.a:g}, b = {theory.FIG4_TUNER.b:g}, λ₀ = "
                  f"{theory.FIG4_TUNER.lam0:g}, x₀ = {theory.FIG4_TUNER.x0:g},"
                  f" {theory.FIG4_TUNER.steps} steps"),
    _no_runs, _m2_judge,
    notes="ε: Eq. 6 as printed gives η·λ = 2(1 − ε); the model is run at "
    "η·λ = 1.9, the value of Fig. 4's caption and App. B (y = −0.1), i.e. "
    "ε = 0.05 in Eq. 6's form.")


def _cdat_numbers(sigma: float) -> tuple[theory.Trajectory, dict[str, Any]]:
  m = theory.cdat_model(theory.FIG9._replace(sigma=sigma))
  half = criteria.tail(m.lam)
  return m, {"lam0": float(m.lam[0]), "lam_final": float(m.lam[-1]),
             "lam_second_half_gain": float(half[-1] / half[0] - 1.0),
             "y_tail_mean": float(np.mean(criteria.tail(m.y))),
             "y_final": float(m.y[-1]), "eta_final": float(m.eta[-1])}


def _m3_judge(runs: M.Runs, size: Size) -> Judgement:
  del runs, size
  m, n = _cdat_numbers(2.0)
  checks = [
      _check("y_settles_near_0",
            f"every y of the last half in {list(Y_NEAR_EDGE)}",
            fmt(n["y_tail_mean"]), criteria.settles_in(m.y, *Y_NEAR_EDGE),
            headline=True),
      _check("lambda_stabilises",
            "λ over the last half: its quarters' means within 2 %, range "
            "within 50 %", f"{fmt(n['lam0'])} → {fmt(n['lam_final'])}",
            criteria.stabilises(m.lam), headline=True),
  ]
  key = f"y → {fmt(n['y_final'])}; λ {fmt(n['lam0'])} → {fmt(n['lam_final'])}"
  return Judgement(n, checks, key)


def _m4_judge(runs: M.Runs, size: Size) -> Judgement:
  del runs, size
  sigma = theory.FIG9_SIGMAS[1]
  m, n = _cdat_numbers(sigma)
  checks = [
      _check("lambda_grows_slowly",
            "λ over the last half rises by 1 %–100 % and its second quarter "
            "is above its first (neither levelled off nor running away)",
            f"+{fmt(100 * n['lam_second_half_gain'])} % over the last half",
            criteria.grows_slowly(m.lam), headline=True),
      _check("y_settles_small_negative",
            f"every y of the last half in [−(2 − σ), −1e-4] = "
            f"[{-(2 - sigma):g}, −1e-4]", fmt(n["y_tail_mean"]),
            criteria.settles_in(m.y, -(2.0 - sigma), -1e-4), headline=True),
  ]
  key = (f"λ {fmt(n['lam0'])} → {fmt(n['lam_final'])} (+"
         f"{fmt(100 * n['lam_second_half_gain'])} % over the last half); y → "
         f"{fmt(n['y_final'])}")
  return Judgement(n, checks, key)


def _fig9_setting(sigma: float) -> Callable[[Size], str]:
  f = theory.FIG9
  return lambda size: (
      f"Eqs. 5, 9, 10, σ = {sigma:g}, a = {f.a:g}, b = {f.b:g}, ν = {f.nu:g}, "
      f"λ₀ = {f.lam0:g}, p₀ = {f.p0:g}, g₀ = {f.g0:g}, η₀ from Eq. 9, "
      f"{f.steps} steps")


_FIG9_NOTE = ("g₀ = 4 reads a symbol the paper's text lost; η₀ is Eq. 9 on "
              "the initial state (the model starts on the edge).")

M3 = Finding("M3", "Eqs. 9–10, CDAT σ = 2", "CDAT σ = 2: y settles near 0 "
             "and λ stabilises.", "Eqs. 9–10, Fig. 9", (), _fig9_setting(2.0),
             _no_runs, _m3_judge, notes=_FIG9_NOTE)
M4 = Finding("M4", "Eqs. 9–10, CDAT σ = 1.9", "σ slightly below 2: λ grows "
             "slowly while y settles at a small negative value.",
             "Eqs. 9–10, Fig. 9", (), _fig9_setting(1.9), _no_runs,
             _m4_judge, notes=_FIG9_NOTE)


def _m5_judge(runs: M.Runs, size: Size) -> Judgement:
  """The edge controller's closed loop (model M5) beside CDAT's (M3)."""
  del runs, size
  prm = theory.CONTROLLER
  m, m3 = theory.controller_model(prm), theory.cdat_model()
  lam_star = float(m.lam[-1])
  numeric = np.linalg.eigvals(theory.controller_jacobian(prm, lam_star))
  neutral = int(np.argmin(np.abs(numeric - 1.0)))
  transverse = np.delete(numeric, neutral)
  closed = theory.controller_poles(prm, lam_star)
  match = float(np.max(np.abs(np.sort_complex(transverse)
                              - np.sort_complex(closed))))
  deadbeat = theory.controller_model(prm._replace(ki=1.0, kp=0.0))
  t5, t3 = theory.levels_off_at(m.lam), theory.levels_off_at(m3.lam)
  n = {"ki": prm.ki, "kp": prm.kp, "lam0": float(m.lam[0]),
       "lam_final": lam_star, "lam_final_m3": float(m3.lam[-1]),
       "y_tail_mean": float(np.mean(criteria.tail(m.y))),
       "spectral_radius_transverse": float(np.max(np.abs(transverse))),
       "neutral_eigenvalue": float(abs(numeric[neutral])),
       "jacobian_vs_closed_form": match,
       "levels_off_at": t5, "levels_off_at_m3": t3,
       "deadbeat_vs_m3": float(np.nanmax(np.abs(deadbeat.eta - m3.eta)))}
  checks = [
      _check("y_settles_near_0", f"every y of the last half in "
            f"{list(Y_NEAR_EDGE)}", fmt(n["y_tail_mean"]),
            criteria.settles_in(m.y, *Y_NEAR_EDGE), headline=True),
      _check("lambda_stabilises", "λ over the last half: its quarters' "
            "means within 2 %, range within 50 %",
            f"{fmt(n['lam0'])} → {fmt(lam_star)}",
            criteria.stabilises(m.lam), headline=True),
      _check("locally_stable", "at the fixed point (η = 2/λ*, p = a/b, "
            "g = 0), every Jacobian eigenvalue but the line of fixed "
            "points' 1 has modulus < 1, and the numerical Jacobian's agree "
            "with the closed form to 1e-6",
            f"max |μ| {fmt(n['spectral_radius_transverse'])}, |Δ| "
            f"{fmt(match)}", n["spectral_radius_transverse"] < 1.0
            and match < 1e-6, headline=True),
      _check("levels_off_before_m3", "λ stays within 1 % of its final "
            "value from an earlier step than CDAT's model M3",
            f"step {t5} vs {t3}", t5 is not None and t3 is not None
            and t5 < t3),
      _check("deadbeat_gains_are_m3", "k_i = 1, k_p = 0 reproduces M3's η "
            "to 1e-12", fmt(n["deadbeat_vs_m3"]),
            n["deadbeat_vs_m3"] < 1e-12),
  ]
  key = (f"y → {fmt(float(m.y[-1]))}; λ {fmt(n['lam0'])} → {fmt(lam_star)} "
         f"(M3: {fmt(n['lam_final_m3'])}), level from step {t5} (M3: {t3});"
         f" max |μ| {fmt(n['spectral_radius_transverse'])}")
  return Judgement(n, checks, key)


def _m5_setting(size: Size) -> str:
  del size
  c, f = theory.CONTROLLER, theory.CONTROLLER.cdat
  return (f"Eqs. 5, 10 with the PI law on log η (set point "
          f"{c.set_point:g}, k_i = {c.ki:g}, k_p = {c.kp:g}) in place of "
          f"Eq. 9, a = {f.a:g}, b = {f.b:g}, ν = {f.nu:g}, λ₀ = {f.lam0:g}, "
          f"p₀ = {f.p0:g}, g₀ = {f.g0:g}, η₀ from Eq. 9, {f.steps} steps")


M5 = Finding("M5", "Eqs. 5, 10, edge controller", "State feedback (the "
             "paper's Sec. 7): the PI law on log η holding η·uᵀHu/‖u‖² at "
             "2 settles y near 0, stabilises λ, and its fixed point is "
             "locally asymptotically stable.", "Eqs. 5, 9–10, Sec. 7", (),
             _m5_setting, _no_runs, _m5_judge,
             notes="Not a claim of the paper: the model of the edge "
             "controller this suite ships, timed as M3 (η_{t+1} from the "
             "state at t). " + _FIG9_NOTE)
