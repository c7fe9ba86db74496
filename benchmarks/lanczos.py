"""Lanczos vs power iteration: Hessian-vector products to reach λ_max.

Prints, side by side, how many HVPs each solver of
:mod:`edgeperf.submissions.curvature` needs before its estimate of λ_max is
within 1e-3 relative error of the reference, and where each solver's own
stopping rule fires (Lanczos: Ritz residual ≤ 1e-3·|θ|; power iteration, the
paper's rule: relative change ≤ 1e-3, up to 1000 iterations) and its error
there.  Problems:

* ``quadratic``: ½wᵀAw with a spectrum shaped like a network Hessian's
  (10 outliers, the top two 3% apart, above a bulk in [−0.2, 1]); the
  reference is the exact λ_max.
* ``mlp_mnist`` at initialisation and after GD steps (default: 300 steps of
  η = 0.08, which reaches the edge of stability, where the top eigenvalues
  crowd); the reference is 120-step Lanczos in float64.

Usage::

    python -m edgeperf.benchmarks.lanczos \
        [--problems=quadratic,mlp_init,mlp_trained]
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Sequence

from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from edgeperf.cli import flagparse
from edgeperf.submissions import curvature
from edgeperf.submissions.curvature import lanczos
from edgeperf.submissions.curvature import power

TOL = 1e-3


def _first_within(history: np.ndarray, reference: float,
                  tol: float = TOL) -> int | None:
  """1-based index of the first estimate within tol relative error."""
  err = np.abs(history - reference) / abs(reference)
  hit = np.flatnonzero(err <= tol)
  return int(hit[0]) + 1 if hit.size else None


def lanczos_history(matvec, v0, num_iters: int
                    ) -> tuple[np.ndarray, np.ndarray]:
  """Top Ritz value and its residual bound after each of ``num_iters`` steps."""

  @jax.jit
  def history(v):
    result = lanczos.lanczos_fixed(matvec, v, num_iters)
    pairs = jax.vmap(lambda k: lanczos.top_ritz(
        lanczos.truncate(result, k)))(jnp.arange(1, num_iters + 1))
    return pairs.value, pairs.residual, result.num_steps

  values, residuals, steps = history(v0)
  steps = int(steps)
  return (np.asarray(values, np.float64)[:steps],
          np.asarray(residuals, np.float64)[:steps])


def power_history(matvec, v0, num_iters: int) -> np.ndarray:
  """Rayleigh quotient λ_k = v_kᵀAv_k after each of ``num_iters`` steps."""
  run = jax.jit(lambda v: power.power_fixed(matvec, v, num_iters)[1])
  return np.asarray(run(v0), np.float64)


def compare(name: str, matvec: Callable, v0: jax.Array, reference: float,
            *, lanczos_iters: int = 60, power_iters: int = 1000
            ) -> dict[str, Any]:
  """Runs both solvers on one operator and returns a result row."""
  start = time.perf_counter()
  lan, lan_res = lanczos_history(matvec, v0, lanczos_iters)
  pw = power_history(matvec, v0, power_iters)
  stop_l = np.flatnonzero(lan_res <= TOL * np.abs(lan))
  stop_l = int(stop_l[0]) + 1 if stop_l.size else len(lan)
  rel = np.abs(np.diff(pw)) <= TOL * np.abs(pw[1:])
  stop_p = int(np.flatnonzero(rel)[0]) + 2 if rel.any() else len(pw)
  return {
      "problem": name, "lambda_max": reference,
      "lanczos_hvps_1e-3": _first_within(lan, reference),
      "power_hvps_1e-3": _first_within(pw, reference),
      "lanczos_stop_hvps": stop_l,
      "lanczos_stop_err": abs(lan[stop_l - 1] - reference) / abs(reference),
      "power_stop_hvps": stop_p,
      "power_stop_err": abs(pw[stop_p - 1] - reference) / abs(reference),
      "seconds": time.perf_counter() - start}


def quadratic_problem(n: int = 2000, seed: int = 0):
  """A dense quadratic with a network-like spectrum; returns (matvec, v0, λ)."""
  rng = np.random.default_rng(seed)
  outliers = np.array([20.0, 19.4, 15.0, 12.0, 10.0, 8.0, 6.5, 5.0, 4.0, 3.0])
  bulk = rng.uniform(0.0, 1.0, n - 10) ** 2 * 1.2 - 0.2
  eigs = np.concatenate([outliers, bulk])
  q, _ = np.linalg.qr(rng.normal(size=(n, n)))
  a = jnp.asarray((q * eigs) @ q.T, jnp.float32)
  v0 = jax.random.normal(jax.random.PRNGKey(seed), (n,), jnp.float32)
  return (lambda v: a @ v), v0, float(eigs.max())


def mlp_problem(train_steps: int, eta: float, seed: int = 0):
  """mlp_mnist's objective after ``train_steps`` GD steps of size ``eta``;
  returns (matvec, v0, reference λ_max from float64 Lanczos)."""
  from edgeperf.workloads import registry  # pylint: disable=g-import-not-at-top
  workload = registry.get("mlp_mnist")
  batch = workload.full_train_batch()
  params = workload.init(jax.random.key(seed))

  def f(p, data):
    return workload.loss(p, data)

  @jax.jit
  def train(p):
    def body(p, _):
      g = jax.grad(f)(p, batch)
      return jax.tree.map(lambda w, d: w - eta * d, p, g), None
    return jax.lax.scan(body, p, None, length=train_steps)[0]

  if train_steps:
    params = train(params)
  matvec, dim, _ = curvature.hessian_operator(lambda p: f(p, batch), params)
  v0 = jax.random.normal(jax.random.PRNGKey(seed + 1), (dim,), jnp.float32)
  with jax.enable_x64(True):
    p64 = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), params)
    b64 = {"inputs": jnp.asarray(batch["inputs"], jnp.float64),
           "targets": batch["targets"]}
    reference = float(jax.jit(lambda p: curvature.top_eigenvalue(
        lambda q: f(q, b64), p, num_iters=120,
        key=jax.random.PRNGKey(seed + 2)))(p64))
  return matvec, v0, reference


def format_table(rows: Sequence[dict[str, Any]]) -> str:
  head = (f"{'problem':<24}{'lambda_max':>11}  {'HVPs to 1e-3 rel. err':^23}"
          f"  {'own stop: HVPs (rel. err)':^36}")
  sub = (f"{'':<24}{'':>11}  {'Lanczos':>10} {'power':>10}   "
         f"{'Lanczos':>16} {'power':>18}")
  lines = [head, sub]
  fmt = lambda x: "never" if x is None else str(x)
  for r in rows:
    lines.append(
        f"{r['problem']:<24}{r['lambda_max']:>11.5g}  "
        f"{fmt(r['lanczos_hvps_1e-3']):>10} {fmt(r['power_hvps_1e-3']):>10}   "
        f"{r['lanczos_stop_hvps']:>6} ({r['lanczos_stop_err']:.1e}) "
        f"{r['power_stop_hvps']:>8} ({r['power_stop_err']:.1e})")
  return "\n".join(lines)


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_list("problems", ["quadratic", "mlp_init", "mlp_trained"],
                    "Subset of quadratic, mlp_init, mlp_trained.",
                    flag_values=fv)
  flags.DEFINE_integer("train_steps", 300, "GD steps before the mlp_trained "
                       "measurement.", flag_values=fv)
  flags.DEFINE_float("eta", 0.08, "GD step size for mlp_trained.",
                     flag_values=fv)
  flags.DEFINE_integer("power_iters", 1000, "Power iterations.",
                       flag_values=fv)
  flags.DEFINE_integer("lanczos_iters", 60, "Lanczos iterations.",
                       flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "lanczos")
  problems = {
      "quadratic": ("quadratic n=2000", quadratic_problem),
      "mlp_init": ("mlp_mnist init", lambda: mlp_problem(0, fv.eta)),
      "mlp_trained": (f"mlp_mnist {fv.train_steps} GD@{fv.eta:g}",
                      lambda: mlp_problem(fv.train_steps, fv.eta)),
  }
  unknown = sorted(set(fv.problems) - set(problems))
  if unknown:
    flagparse.fail("lanczos", f"unknown problem(s) {unknown}; expected "
                   f"{sorted(problems)}", 2)
  rows = []
  for name in fv.problems:
    label, make = problems[name]
    rows.append(compare(label, *make(), lanczos_iters=fv.lanczos_iters,
                        power_iters=fv.power_iters))
    print(format_table(rows[-1:]).splitlines()[-1], flush=True)
  print()
  print(format_table(rows))


if __name__ == "__main__":
  main(sys.argv)
