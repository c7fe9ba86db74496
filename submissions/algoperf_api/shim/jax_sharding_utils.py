"""``algoperf.jax_sharding_utils`` as submissions use it: shardings over a
one-axis mesh named ``batch`` of every device (batch split, or replicated)."""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec

AXIS = "batch"


def _mesh() -> jax.sharding.Mesh:
  return jax.sharding.Mesh(jax.devices(), (AXIS,))


def get_replicate_sharding() -> NamedSharding:
  """Every device holds the whole array."""
  return NamedSharding(_mesh(), PartitionSpec())


def get_batch_dim_sharding() -> NamedSharding:
  """The leading (batch) axis split over the devices."""
  return NamedSharding(_mesh(), PartitionSpec(AXIS))


def shard_along_batch_dim(tree: Any) -> Any:
  """Puts every leaf on the devices, split along its leading axis."""
  return jax.device_put(tree, get_batch_dim_sharding())


def replicate(tree: Any) -> Any:
  """Puts every leaf, whole, on every device."""
  return jax.device_put(tree, get_replicate_sharding())


def display_shard_info(x: jax.Array) -> None:
  """Prints where each shard of ``x`` lives."""
  for shard in x.addressable_shards:
    print(f"shard.device: {shard.device}, index: {shard.index}, "
          f"replica_id: {shard.replica_id}.")
