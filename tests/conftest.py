"""Shared fixtures: workloads are built once per test session (data loading
takes seconds), and run folders live in pytest's tmp_path."""

import functools
import signal

import pytest

from edgeperf import workloads
from edgeperf.harness import rundir


@functools.cache
def _cached_workload(name: str, size: str = "small", batch_size=None):
  return workloads.get(name, size=size, batch_size=batch_size)


@pytest.fixture(scope="session")
def get_workload():
  """``get_workload(name, size="small", batch_size=None)``, cached."""
  return _cached_workload


def _snapshot(folder):
  """{file name: bytes} of every file in ``folder``."""
  return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _steps_csv(rows):
  """A complete ``steps.csv`` of ``rows`` made-up steps, as text."""
  lines = [",".join(rundir.STEP_COLUMNS)]
  lines += [f"{i},{1.0 / (i + 1)!r},0.1,{0.01 * (i + 1)!r},0,0,0,0"
            for i in range(rows)]
  return "\n".join(lines) + "\n"


@pytest.fixture
def snapshot():
  """``snapshot(folder)``: {file name: bytes} of the files in ``folder``, to
  check that nothing was lost or altered."""
  return _snapshot


@pytest.fixture
def steps_csv():
  """``steps_csv(rows)``: the text of a complete ``steps.csv``."""
  return _steps_csv


@pytest.fixture
def stop_signals_catchable():
  """SIGINT handled as Python's default (KeyboardInterrupt) for the test,
  in this process and in the processes it starts: a shell that runs the
  suite in the background (``make test &``, nohup) ignores SIGINT, and the
  harness rightly leaves an ignored signal ignored."""
  previous = signal.getsignal(signal.SIGINT)
  if previous == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
  yield
  signal.signal(signal.SIGINT, previous)
