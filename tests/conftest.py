"""Shared fixtures: workloads are built once per test session (data loading
takes seconds), and run folders live in pytest's tmp_path."""

import functools

import pytest

from edgeperf import workloads


@functools.cache
def _cached_workload(name: str, size: str = "small", batch_size=None):
  return workloads.get(name, size=size, batch_size=batch_size)


@pytest.fixture(scope="session")
def get_workload():
  """``get_workload(name, size="small", batch_size=None)``, cached."""
  return _cached_workload
