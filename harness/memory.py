"""How much device memory a run needs, from XLA, before anything is allocated.

XLA's ``Compiled.memory_analysis()`` gives, per device, the bytes of a
program's arguments, outputs and temporaries (and how many outputs alias
donated arguments).  A program compiled for ``jax.ShapeDtypeStruct``
arguments allocates nothing, so the runner compiles its first chunk from
abstract parameters and data, adds what else stays on the device (the
prefetched chunks, the evaluation sets), and refuses a run that would not
fit (:class:`InsufficientMemoryError`) before it initialises anything.

The limit: ``memory_stats()["bytes_limit"] − bytes_in_use`` on an
accelerator; on a CPU (no memory stats) the host's available RAM.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import jax
import numpy as np

HEADROOM = 0.9
"""The fraction of the device's free memory a run may plan to use."""


@dataclasses.dataclass(frozen=True)
class StepMemory:
  """XLA's memory analysis of one compiled program, bytes per device."""

  argument_bytes: int
  output_bytes: int
  temp_bytes: int
  alias_bytes: int
  generated_code_bytes: int

  @property
  def peak_bytes(self) -> int:
    """Arguments + outputs + temporaries − outputs aliasing arguments."""
    return (self.argument_bytes + self.output_bytes + self.temp_bytes
            - self.alias_bytes)

  def as_dict(self) -> dict[str, int]:
    return {**dataclasses.asdict(self), "peak_bytes": self.peak_bytes}


def of_compiled(compiled: Any) -> StepMemory | None:
  """The memory analysis of a ``jax.stages.Compiled`` (None when the
  backend gives none)."""
  try:
    stats = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except  # backend-dependent
    return None
  if isinstance(stats, (list, tuple)):
    stats = stats[0] if stats else None
  if stats is None:
    return None
  get = lambda name: int(getattr(stats, name, 0) or 0)
  return StepMemory(
      argument_bytes=get("argument_size_in_bytes"),
      output_bytes=get("output_size_in_bytes"),
      temp_bytes=get("temp_size_in_bytes"),
      alias_bytes=get("alias_size_in_bytes"),
      generated_code_bytes=get("generated_code_size_in_bytes"))


def largest(memories: list[StepMemory | None]) -> StepMemory | None:
  """The analysis with the largest peak (None if there is none)."""
  known = [m for m in memories if m is not None]
  return max(known, key=lambda m: m.peak_bytes) if known else None


def step_memory(fn: Callable[..., Any], *args: Any) -> StepMemory | None:
  """Compiles ``jax.jit(fn)`` for ``args`` (arrays or
  ``jax.ShapeDtypeStruct``s: nothing is allocated) and returns its memory
  analysis."""
  return of_compiled(jax.jit(fn).lower(*args).compile())


def array_bytes(tree: Any, num_devices: int = 1) -> int:
  """Bytes of ``tree``'s arrays per device, split ``num_devices`` ways."""
  total = sum(int(np.prod(np.shape(x))) * np.dtype(x.dtype).itemsize
              for x in jax.tree.leaves(tree))
  return -(-total // num_devices)


def _available_ram() -> int | None:
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  try:
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
  except (ValueError, OSError):
    return None


def device_limit(device: Any | None = None) -> tuple[int | None, str]:
  """``(bytes free on the device, where the number comes from)``; None
  when it cannot be known."""
  device = device or jax.local_devices()[0]
  try:
    stats = device.memory_stats()
  except Exception:  # pylint: disable=broad-except  # backend-dependent
    stats = None
  if stats and "bytes_limit" in stats:
    free = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return free, f"{device.device_kind} memory_stats (limit - in use)"
  return _available_ram(), "host RAM available (MemAvailable)"


class InsufficientMemoryError(MemoryError):
  """A run that would not fit the device; the message has the numbers."""


def human(n: int) -> str:
  """``n`` bytes in GiB (MiB below one GiB)."""
  if abs(n) >= 2**30:
    return f"{n / 2**30:.2f} GiB"
  return f"{n / 2**20:.1f} MiB"


@dataclasses.dataclass(frozen=True)
class Budget:
  """What a run will hold on each device, against what it may use."""

  program: StepMemory | None  # the largest compiled chunk
  resident_bytes: int  # arrays kept beside it (prefetch, evaluation sets)
  limit_bytes: int | None  # free device memory (None: unknown)
  limit_source: str  # where limit_bytes comes from
  headroom: float = HEADROOM

  @property
  def need_bytes(self) -> int | None:
    if self.program is None:
      return None
    return self.program.peak_bytes + self.resident_bytes

  @property
  def allowed_bytes(self) -> int | None:
    if self.limit_bytes is None:
      return None
    return int(self.limit_bytes * self.headroom)

  def fits(self) -> bool:
    """True unless both sides are known and the need is above the allowed."""
    need, allowed = self.need_bytes, self.allowed_bytes
    return need is None or allowed is None or need <= allowed

  def record(self) -> dict[str, Any]:
    """For ``meta.json``."""
    return {"program": None if self.program is None else
            self.program.as_dict(),
            "resident_bytes": self.resident_bytes,
            "need_bytes": self.need_bytes,
            "limit_bytes": self.limit_bytes,
            "limit_source": self.limit_source,
            "headroom": self.headroom, "fits": self.fits()}

  def check(self, what: str) -> None:
    """Raises :class:`InsufficientMemoryError` (one line, every number)
    unless the run fits."""
    if self.fits():
      return
    m = self.program
    parts = (f"arguments {human(m.argument_bytes)} + outputs "
             f"{human(m.output_bytes)} + temporaries {human(m.temp_bytes)}"
             f" - aliased {human(m.alias_bytes)}")
    raise InsufficientMemoryError(
        f"{what} needs {human(self.need_bytes)} per device (one chunk: "
        f"{parts}; prefetched batches and evaluation sets "
        f"{human(self.resident_bytes)}), but {human(self.allowed_bytes)} "
        f"may be used ({self.headroom:.0%} of {human(self.limit_bytes)} "
        f"free, from {self.limit_source}); refused before it started: use a "
        "smaller size preset, a smaller mini-batch or more devices")
