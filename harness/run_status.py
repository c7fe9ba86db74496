"""Where a run stands (``status.json``), the status a finished run gets
(:func:`final_status`), and what stops a run: SIGINT and SIGTERM turned into
:class:`RunInterrupted` at a safe point (:class:`StopSignals`).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import signal
import threading
from typing import Any, Callable


from edgeperf.harness import rundir as rundir_lib


def now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(
      timespec="seconds")


@dataclasses.dataclass
class RunStatus:
  """Where a run stands; written to ``status.json`` after every chunk."""

  status: str = rundir_lib.RUNNING
  message: str = ""
  steps_run: int = 0
  target_step: int | None = None
  target_time_s: float | None = None
  submission_time_s: float = 0.0
  compile_time_s: float = 0.0
  warmup_time_s: float = 0.0  # first executions run again (off the clock)
  eval_time_s: float = 0.0  # evaluations and diagnostics (off the clock)
  diag_time_s: float = 0.0  # the diagnostics' part of eval_time_s
  loop_wall_s: float | None = None
  diverged_at: int | None = None  # step of the first non-finite objective
  stopped_by_time: bool = False  # the time budget ended the run
  traceback: str | None = None

  def record(self, *, target: float | None, wall_time_s: float,
             final_objective: float | None) -> dict[str, Any]:
    """The ``status.json`` document."""
    out = {k: v for k, v in dataclasses.asdict(self).items()
           if k not in ("diverged_at", "stopped_by_time", "traceback")}
    if self.traceback is not None:
      out["traceback"] = self.traceback
    out.update(target_train_loss=target, wall_time_s=wall_time_s,
               final_objective=final_objective)
    if self.status in rundir_lib.FINAL_STATUSES:
      out["finished_at"] = now()
    return out


def final_status(run: RunStatus, *, target: float | None, budget: int,
                 key: str) -> tuple[str, str]:
  """The status and message a finished run gets, from what happened.

  A reached target wins (a later divergence does not undo it); then a
  divergence; then the budget (steps or time) or, without a target,
  ``completed``.
  """
  if run.target_step is not None:
    then = ""
    if run.diverged_at is not None:
      then = f"; then non-finite objective at step {run.diverged_at}"
    return ("target_reached",
            f"target {target:.6g} reached at step {run.target_step}{then}")
  if run.diverged_at is not None:
    return "diverged", f"non-finite objective at step {run.diverged_at}"
  if run.stopped_by_time:
    return ("budget_exhausted" if target is not None else "completed",
            f"time budget spent after {run.steps_run} steps")
  if target is None:
    return "completed", (f"ran {run.steps_run} steps (no target set for "
                         f"{key})")
  return "budget_exhausted", (f"step budget {budget} spent without reaching "
                              f"target {target:.6g}")


class RunInterrupted(BaseException):
  """A run stopped by SIGINT or SIGTERM (recorded as ``interrupted``).

  A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
  Exception`` swallows the stop.
  """

  def __init__(self, signum: int, message: str = ""):
    self.signum = signum
    super().__init__(message or f"interrupted by {signal_name(signum)}")


def signal_name(signum: int) -> str:
  try:
    return signal.Signals(signum).name
  except ValueError:
    return f"signal {signum}"


class StopSignals:
  """SIGINT and SIGTERM during a run, turned into a stop at a safe point.

  The first signal asks the loop to stop at its next chunk boundary
  (:meth:`check` raises :class:`RunInterrupted` there), so the tables and
  ``steps_run`` agree.  A second signal raises at once — but Python runs a
  handler only between bytecodes, so while a compiled chunk executes it
  would wait for the chunk.  With ``on_second``, a watcher thread woken by
  the signal itself (``signal.set_wakeup_fd``) calls ``on_second(signum)``
  at once instead (the command line records the run and exits there).
  Handlers are set only in the main thread and not for a signal that is
  ignored, and the previous ones come back on exit.
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self, on_second: Callable[[int], None] | None = None):
    self.signum: int | None = None
    self._previous: dict[int, Any] = {}
    self._on_second = on_second
    self._wakeup: tuple[int, int] | None = None
    self._previous_fd = -1

  def __enter__(self) -> "StopSignals":
    if threading.current_thread() is threading.main_thread():
      for signum in self.SIGNALS:
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_IGN, None):
          continue
        self._previous[signum] = previous
        signal.signal(signum, self._handle)
      if self._on_second is not None and self._previous:
        self._start_watcher()
    return self

  def __exit__(self, *exc_info) -> None:
    for signum, previous in self._previous.items():
      signal.signal(signum, previous)
    if self._wakeup is not None:
      signal.set_wakeup_fd(self._previous_fd)
      read_end, write_end = self._wakeup
      self._wakeup = None
      os.close(write_end)  # ends the watcher's read
      os.close(read_end)

  def _start_watcher(self) -> None:
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    self._wakeup = (read_end, write_end)
    self._previous_fd = signal.set_wakeup_fd(write_end,
                                             warn_on_full_buffer=False)
    caught = {int(s) for s in self._previous}

    def watch():
      seen = 0
      while True:
        try:
          data = os.read(read_end, 64)
        except OSError:
          return
        if not data:
          return
        for signum in data:
          if signum in caught:
            seen += 1
            if seen >= 2:
              self._on_second(signum)
              return

    threading.Thread(target=watch, name="edgeperf-stop-signals",
                     daemon=True).start()

  def _handle(self, signum: int, frame: Any) -> None:
    del frame
    if self.signum is not None and self._wakeup is None:
      raise RunInterrupted(signum)  # (with a watcher, it acts instead)
    self.signum = signum

  def check(self) -> None:
    """Raises :class:`RunInterrupted` if a stop was asked."""
    if self.signum is not None:
      raise RunInterrupted(self.signum)
