"""The hardware fingerprint and software versions recorded with every run.

Scores are only comparable between runs with the same ``hardware_id``: a
hash of the accelerator backend, device kind and count, CPU model (its
name, family and model numbers, and its widest vector extension), core
count and machine architecture (WORKSPACE.md, "Fixed hardware").  Two
virtual machines both named "AMD EPYC", one with AVX-512 and one without,
compute differently (their float32 roundoff differs, so they generate other
code): the name alone does not tell them apart.
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


VECTOR_EXTENSIONS = ("avx512f", "avx2", "avx", "sse4_2", "asimd", "sve")
"""Vector extensions, widest first; the fingerprint names the first the CPU
has."""


def _cpuinfo(path: str) -> dict[str, str]:
  """The first processor's fields in a cpuinfo file (empty if unreadable)."""
  fields: dict[str, str] = {}
  try:
    with open(path) as f:
      for line in f:
        if not line.strip():
          break
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
  except OSError:
    pass
  return fields


def cpu_details(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
  """The CPU's family/model numbers and widest vector extension."""
  info = _cpuinfo(cpuinfo)
  flags = set((info.get("flags") or info.get("features") or "").split())
  vector = next((v for v in VECTOR_EXTENSIONS if v in flags), "unknown")
  return {"cpu_family_model": f"{info.get('cpu family', '?')}/"
                              f"{info.get('model', '?')}",
          "cpu_vector": vector}


def hardware_fingerprint() -> dict[str, Any]:
  """What the run's speed depends on: accelerator and CPU."""
  devices = jax.devices()
  return {
      "backend": jax.default_backend(),
      "device_kind": devices[0].device_kind,
      "device_count": len(devices),
      "cpu_model": cpu_model(),
      **cpu_details(),
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
