"""The hardware fingerprint and software versions recorded with every run.

Scores are only comparable between runs with the same ``hardware_id``: a
hash of the accelerator backend, device kind and count, CPU model, core
count and machine architecture (WORKSPACE.md, "Fixed hardware").
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from typing import Any

import jax

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "pandas",
            "tensorflow-datasets", "edgeperf")
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cpu_model() -> str:
  """The CPU model name from /proc/cpuinfo (or platform's answer)."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.lower().startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def hardware_fingerprint() -> dict[str, Any]:
  """What the run's speed depends on: accelerator and CPU."""
  devices = jax.devices()
  return {
      "backend": jax.default_backend(),
      "device_kind": devices[0].device_kind,
      "device_count": len(devices),
      "cpu_model": cpu_model(),
      "cpu_count": os.cpu_count(),
      "machine": platform.machine(),
  }


def hardware_id(fingerprint: dict[str, Any]) -> str:
  """A 12-hex-digit hash of a hardware fingerprint."""
  blob = json.dumps(fingerprint, sort_keys=True).encode()
  return hashlib.sha256(blob).hexdigest()[:12]


def software_versions() -> dict[str, str]:
  versions = {"python": platform.python_version()}
  for name in PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = "not installed"
  return versions


@functools.cache
def git_commit() -> str | None:
  """The repository's commit (with ``-dirty`` if modified), or None."""
  try:
    commit = subprocess.run(
        ["git", "-C", _REPO_ROOT, "rev-parse", "HEAD"], capture_output=True,
        text=True, timeout=10, check=True).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", _REPO_ROOT, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=10, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return commit + ("-dirty" if dirty else "")
