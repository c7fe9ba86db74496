"""Executors by name: where a sweep's trials run.

``local`` (:mod:`edgeperf.harness.sweep.local`: persistent worker processes
on this machine) or ``ray`` (:mod:`edgeperf.harness.sweep.ray_actors`: Ray
actors, imported only when asked for).
"""

from __future__ import annotations

from typing import Mapping

from edgeperf import _checks
from edgeperf.harness.sweep import local

EXECUTORS = ("local", "ray")


def make_executor(name: str, *, workers: int = 1,
                  timeout_s: float | None = None,
                  env: Mapping[str, str] | None = None, log_dir: str = ".",
                  address: str | None = None,
                  cores_per_worker: int | None = None,
                  gpus_per_worker: float = 0) -> local.Executor:
  """The executor called ``name``: ``local`` (:class:`~edgeperf.harness.sweep.local.LocalExecutor`) or
  ``ray`` (:class:`edgeperf.harness.sweep.ray_actors.RayExecutor`, joining the
  Ray cluster at ``address``, or a local Ray when it is None).

  Raises:
    ValueError: an unknown name, bad settings, an address given to the
      local executor, or Ray not installed (naming the extra to install).
  """
  _checks.one_of("executor", name, EXECUTORS)
  if name == "local":
    if address:
      raise ValueError(f"a Ray address ({address!r}) needs the ray "
                       "executor (--executor=ray)")
    return local.LocalExecutor(workers=workers, cores_per_worker=cores_per_worker,
                         timeout_s=timeout_s, env=env, log_dir=log_dir)
  from edgeperf.harness.sweep import ray_actors  # pylint: disable=g-import-not-at-top
  return ray_actors.RayExecutor(
      workers=workers, address=address, cores_per_worker=cores_per_worker,
      gpus_per_worker=gpus_per_worker, timeout_s=timeout_s, env=env)
