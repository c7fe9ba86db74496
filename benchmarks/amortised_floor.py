"""Where amortised CDAT's per-step floor comes from.

Between curvature refreshes CDAT (Roulet et al. 2024, Eq. 8) still needs,
every step, its numerator n_t = max(−g_tᵀu_t, 0), ‖u_t‖², and for the free
Hermite–Krylov quotient (``edgeperf.submissions.curvature.secant``) the
previous gradient and direction kept in its state and two cross products.
This times each ingredient alone against the constant-lr step, on the GD
direction, in the same interleaved A/B pairs as ``make tuner-cost``
(:func:`edgeperf.benchmarks.tuner_cost.measure_transforms`):

* ``constant again``: the reference against itself (the noise);
* ``+ gᵀu, ‖u‖²``: the two inner products every CDAT step computes;
* ``+ g, u kept``: the same, with g_{t−1} and u_{t−1} carried in the state;
* ``+ cross products``: and g_tᵀu_{t−1}, g_{t−1}ᵀu_t;
* ``cdat secant``: CDAT with the free quotient every step (the full floor).

The probes' step size is the reference's 1e-3 whatever the products are
(they only keep them alive), so every variant follows the same trajectory.

Usage::

    python -m edgeperf.benchmarks.amortised_floor \\
        --workloads=linreg_digits,mlp_mnist,cnn_digits,charlm_prose --repeats=7
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax

from edgeperf.cli import flagparse
from edgeperf.benchmarks import tuner_cost
from edgeperf.submissions import api
from edgeperf.submissions.cdat import transform
from edgeperf.workloads import registry

LEARNING_RATE = 1e-3  # tuner_cost.REFERENCE's rate


class ProbeState(NamedTuple):
  """State of :func:`probe`."""

  stats: api.TunerStats  # learning_rate f[] (always LEARNING_RATE)
  grad: Any  # g_{t−1} (None unless kept)
  direction: Any  # u_{t−1} (None unless kept)


def probe(*, keep: bool, cross: bool) -> optax.GradientTransformationExtraArgs:
  """A constant step that also computes CDAT's per-step inner products
  (gᵀu, ‖u‖²), optionally keeping g and u for the next step (``keep``) and
  computing the secant's cross products with them (``cross``)."""

  def init(params):
    zeros = jax.tree.map(jnp.zeros_like, params) if keep else None
    return ProbeState(api.tuner_stats(0.0), zeros, zeros)

  def update(updates, state, params=None, *, grad=None, **extra):
    del params, extra
    products = [optax.tree.vdot(grad, updates),
                optax.tree.vdot(updates, updates)]
    if cross:
      products += [optax.tree.vdot(grad, state.direction),
                   optax.tree.vdot(state.grad, updates)]
    alive = jnp.all(jnp.isfinite(jnp.stack(products)))
    eta = jnp.where(alive, LEARNING_RATE, 0.0)
    new = ProbeState(api.tuner_stats(eta), grad if keep else None,
                     updates if keep else None)
    return optax.tree.scale(eta, updates), new

  return optax.GradientTransformationExtraArgs(init, update)


def _gd(tx):
  return api.chain(api.base_direction("gd"), tx)


BUILDERS = {
    "constant again": lambda: tuner_cost.build(*tuner_cost.REFERENCE[1:]),
    "+ gᵀu, ‖u‖²": lambda: _gd(probe(keep=False, cross=False)),
    "+ g, u kept": lambda: _gd(probe(keep=True, cross=False)),
    "+ cross products": lambda: _gd(probe(keep=True, cross=True)),
    "cdat secant": lambda: _gd(transform.scale_by_cdat(2.0,
                                                       estimator="secant")),
}


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(tuner_cost.define_timing_flags, argv,
                          "amortised_floor")
  tuner_cost.check_timing_flags(fv, "amortised_floor")
  results = {}
  for name in fv.workloads:
    results[name] = tuner_cost.measure_transforms(
        registry.get(name), BUILDERS, repeats=fv.repeats, steps=fv.steps)
    print(f"{name}: " + ", ".join(
        f"{k} {v['ratio']:.3f}×" for k, v in results[name].items()),
          file=sys.stderr, flush=True)
  print(f"Per-step time ÷ constant-lr step (median of {fv.repeats} "
        f"interleaved pairs, {fv.steps}-step chunks)\n")
  names = list(results)
  print("| per-step work | " + " | ".join(names) + " |")
  print("|---|" + "---|" * len(names))
  for label in BUILDERS:
    print(f"| {label} | " + " | ".join(
        f"{results[n][label]['ratio']:.3f}×" for n in names) + " |")


if __name__ == "__main__":
  main(sys.argv)
