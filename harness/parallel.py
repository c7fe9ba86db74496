"""Data parallelism over the local devices with ``jax.sharding``.

A 1-D :class:`jax.sharding.Mesh` over every local device, with one axis,
``data``.  Batches are split along their example axis over it; parameters
and tuner state are replicated.  ``jax.jit`` (GSPMD) partitions the step
from the shardings of its arguments: each device computes its share of the
per-example losses and gradients, and the batch mean becomes an all-reduce.
The objective is the same function as on one device; only the order of the
floating-point summation changes.

The runner uses it whenever more than one local device is present
(:func:`auto_plan`); the hardware fingerprint records the device count.
A batch whose size is not a multiple of the device count is replicated
instead of split (every device computes all of it: correct, not faster),
and ``meta.json`` says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(devices: Sequence[Any] | None = None) -> Mesh:
  """A 1-D mesh named ``data`` over ``devices`` (default: the local ones)."""
  devices = list(jax.local_devices() if devices is None else devices)
  if not devices:
    raise ValueError("no devices to build a mesh on")
  return Mesh(np.asarray(devices), (DATA_AXIS,))


@dataclasses.dataclass(frozen=True)
class DataParallel:
  """Where a data-parallel run puts its arrays on ``mesh``."""

  mesh: Mesh

  @property
  def num_devices(self) -> int:
    return self.mesh.size

  @property
  def replicated(self) -> NamedSharding:
    """Every device holds the whole array (parameters, tuner state)."""
    return NamedSharding(self.mesh, P())

  def split(self, axis: int) -> NamedSharding:
    """Axis ``axis`` split over ``data``: 0 for a batch ``[n, ...]``, 1 for
    stacked mini-batches ``[steps, b, ...]``."""
    return NamedSharding(self.mesh, P(*([None] * axis), DATA_AXIS))

  def divides(self, size: int) -> bool:
    return size % self.num_devices == 0

  def batch_sharding(self, size: int, axis: int = 0) -> NamedSharding:
    """Split along ``axis`` when ``size`` (the examples on that axis) is a
    multiple of the device count, else replicated."""
    return self.split(axis) if self.divides(size) else self.replicated

  def describe(self, batch: int) -> dict[str, Any]:
    """For ``meta.json``: devices, axis and whether a batch of ``batch``
    examples is split or replicated."""
    split = self.divides(batch)
    return {"devices": self.num_devices, "axis": DATA_AXIS,
            "batch": batch,
            "batch_placement": "split" if split else (
                f"replicated ({batch} is not a multiple of "
                f"{self.num_devices} devices)")}


def auto_plan(devices: Sequence[Any] | None = None) -> DataParallel | None:
  """A :class:`DataParallel` over the local devices when there are several,
  else None."""
  devices = list(jax.local_devices() if devices is None else devices)
  return DataParallel(make_mesh(devices)) if len(devices) > 1 else None


def abstract(tree: Any, sharding: Any = None) -> Any:
  """``jax.ShapeDtypeStruct``s of ``tree``'s leaves (arrays or structs),
  with ``sharding`` when given, else each leaf's own ``NamedSharding``.

  For compiling ahead of time without allocating anything.
  """
  def spec(x):
    own = getattr(x, "sharding", None)
    keep = sharding or (own if isinstance(own, NamedSharding) else None)
    return jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=keep)
  return jax.tree.map(spec, tree)


def drop_leading_axis(x: Any) -> jax.ShapeDtypeStruct:
  """The shape, dtype and sharding of ``x[0]`` (``x`` stacked on axis 0),
  without indexing: a split axis 1 becomes a split axis 0."""
  sharding = getattr(x, "sharding", None)
  if isinstance(sharding, NamedSharding):
    spec = tuple(sharding.spec)[1:]
    sharding = NamedSharding(sharding.mesh, P(*spec))
  else:
    sharding = None
  return jax.ShapeDtypeStruct(np.shape(x)[1:], x.dtype, sharding=sharding)
