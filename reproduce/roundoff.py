"""The roundoff replicate: a run's twin whose initial parameters differ in
the last bit.

At the edge of stability a float32 rounding alone changes a trajectory, so a
verdict that such a change flips is a property of one run, not of the tuner.
Another machine (another CPU's vector width, another summation order) is the
usual source of such a change; a cheap stand-in is the same seed with every
initial parameter w multiplied by (1 + ε·s), s = ±1 drawn per entry, ε =
:data:`REPLICATE_PERTURBATION` = 1e-7 (float32's unit roundoff is 2⁻²⁴ ≈
6e-8: each entry moves by one or two units in the last place).  Nothing
else changes: the data, the mini-batch order, the tuner and its
hyperparameters, the seed.  Zero entries (biases) stay zero.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from edgeperf.workloads import base

REPLICATE_PERTURBATION = 1e-7
"""Relative size of the replicate's change of each initial parameter."""


def perturb(params: Any, relative: float, key: jax.Array) -> Any:
  """Every floating-point leaf w of ``params`` as w·(1 + relative·s), with
  s = ±1 per entry drawn from ``key`` (Rademacher); other leaves as they
  are.

  Raises:
    ValueError: ``relative`` not in (0, 1e-3] (a replicate is a last-bit
      change, not another initialisation).
  """
  if not 0 < relative <= 1e-3:
    raise ValueError(f"a roundoff perturbation must be in (0, 1e-3], got "
                     f"{relative}")
  return _perturb(params, relative, key)


@functools.partial(jax.jit, static_argnums=1)
def _perturb(params: Any, relative: float, key: jax.Array) -> Any:
  """:func:`perturb`, compiled once per parameter structure (one program,
  not one dispatch per leaf)."""
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(key, max(1, len(leaves)))
  out = []
  for leaf, k in zip(leaves, keys):
    if jnp.issubdtype(leaf.dtype, jnp.inexact):
      sign = jax.random.rademacher(k, jnp.shape(leaf), dtype=leaf.dtype)
      leaf = leaf + leaf * (jnp.asarray(relative, leaf.dtype) * sign)
    out.append(leaf)
  return jax.tree.unflatten(treedef, out)


@dataclasses.dataclass(frozen=True, eq=False)
class PerturbedWorkload(base.Workload):
  """A workload whose :meth:`init` is the original's, perturbed by
  :func:`perturb` (the sign pattern drawn from the init key)."""

  perturbation: float = REPLICATE_PERTURBATION  # relative change of w_0
  original: base.Workload | None = None  # whose init (and its compiled
  # program: a deep net's initialisers compile slowly) is perturbed

  def init(self, rng: jax.Array) -> Any:
    """The original initial parameters, each × (1 ± ``perturbation``)."""
    params = (self.original.init(rng) if self.original is not None
              else super().init(rng))
    return perturb(params, self.perturbation,
                   jax.random.fold_in(rng, 0x7E7))


def perturbed(workload: base.Workload,
              relative: float = REPLICATE_PERTURBATION) -> PerturbedWorkload:
  """``workload`` with its initial parameters perturbed (everything else
  shared: the same data arrays, model and settings).

  Raises:
    ValueError: ``workload`` is not a plain :class:`~edgeperf.workloads.
      base.Workload`, or ``relative`` is out of range.
  """
  if type(workload) is not base.Workload:  # pylint: disable=unidiomatic-typecheck
    raise ValueError(f"cannot perturb a {type(workload).__name__}; expected "
                     "a Workload")
  if not 0 < relative <= 1e-3:
    raise ValueError(f"a roundoff perturbation must be in (0, 1e-3], got "
                     f"{relative}")
  fields = {f.name: getattr(workload, f.name)
            for f in dataclasses.fields(workload) if f.init}
  return PerturbedWorkload(**fields, perturbation=relative,
                           original=workload)
