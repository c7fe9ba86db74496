"""The device check: every accelerator measurement in one unattended command.

``make device-check`` (``python -m edgeperf.benchmarks.device_check``) runs,
in order, the parts of :mod:`edgeperf.benchmarks.device_parts` — the machine
(``environment``), the jvp-denominator profile (``profile``), the tuner-cost
table (``tuner_cost``), the paper presets' constant and CDAT steps on
synthetic batches (``paper_steps``), the mini-batch pipeline ratio
(``pipeline``) and constant vs CDAT time to target (``time_to_target``) —
each in a forked process (this one has imported everything and initialised
no device; the fork needs no second import) under its own time limit
(:data:`DEVICE_LIMITS_S`), all under a total limit (``--total_s``, 8
minutes by default).  A part that
runs past its limit, or past what is left of the total, is stopped (SIGTERM
to its process group, then SIGKILL) and keeps every item it finished; a
part that fails is recorded with its last line and the next one runs.
After each part the report is rewritten, so whatever stops the command
leaves the parts finished so far on disk:

* ``docs/device-check-<device>.md``: the Markdown report (device, driver,
  jax version, date, commit, each part's status and tables);
* ``docs/device-check-<device>.json``: everything measured, raw (committed
  beside the report: ``results/`` is git-ignored scratch that ``make clean``
  deletes);
* ``results/device-check-work/``: each part's log and rows (scratch).

``--tiny`` runs the same parts at sizes a CPU finishes in under 2 minutes
(:data:`edgeperf.benchmarks.device_parts.TINY`; device name suffixed
``-tiny``), which is how the command is tested.

    python -m edgeperf.benchmarks.device_check              # on the device
    python -m edgeperf.benchmarks.device_check --tiny       # a CPU check
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from typing import Any, Callable, Sequence

from absl import flags

from edgeperf import _jsonio
from edgeperf.cli import flagparse

PARTS = ("environment", "profile", "tuner_cost", "paper_steps", "pipeline",
         "time_to_target")
DEVICE_LIMITS_S = {"environment": 30, "profile": 75, "tuner_cost": 100,
                   "paper_steps": 150, "pipeline": 30, "time_to_target": 80}
"""Seconds each part may run on the device (one H100): 465 s, so every part
gets its own limit within the 8-minute total (the driver's imports and one
stop included)."""
TINY_LIMITS_S = {"environment": 20, "profile": 45, "tuner_cost": 30,
                 "paper_steps": 45, "pipeline": 30, "time_to_target": 30}
"""Seconds each part may take at ``--tiny`` on a CPU (their sum is above
the total: on a busy machine the total stops the last parts)."""
DEVICE_TOTAL_S = 480.0
TINY_TOTAL_S = 115.0
MIN_PART_S = 3.0
"""A part is skipped when less than this is left of the total."""
KILL_GRACE_S = 5.0
"""Seconds between SIGTERM and SIGKILL of a stopped part."""
PROG = "device_check"


@dataclasses.dataclass(frozen=True)
class Part:
  """One part: the function that measures it, run in a forked copy of this
  process (which has imported everything and initialised no device), and
  where it writes."""

  name: str
  limit_s: float  # its own time limit
  rows_path: str  # JSON lines it appends, one per finished item
  log_path: str  # its stdout and stderr
  target: Callable[[], None]  # the measurement
  collect: Callable[["Part"], list[dict[str, Any]]] | None = None
  # reads the part's rows after it ends (default: the JSON lines)


@dataclasses.dataclass
class Outcome:
  """What became of one part."""

  name: str
  status: str  # done, timed_out, failed or skipped
  limit_s: float  # the limit it ran under (its own, or what was left)
  wall_s: float  # how long it ran
  rows: list[dict[str, Any]]  # every item it finished
  message: str = ""  # why it stopped, when it did not finish


def read_rows(path: str) -> list[dict[str, Any]]:
  """The complete JSON lines of ``path`` (a line cut by a kill is dropped)."""
  try:
    with open(path) as f:
      lines = f.read().split("\n")
  except FileNotFoundError:
    return []
  rows = []
  for line in lines:
    try:
      rows.append(json.loads(line))
    except ValueError:
      continue
  return rows


def _last_line(path: str) -> str:
  try:
    with open(path, errors="replace") as f:
      lines = [l.strip() for l in f.read().splitlines() if l.strip()]
  except FileNotFoundError:
    return ""
  return lines[-1] if lines else ""


def _forked(target: Callable[[], None], log_path: str) -> None:
  """The forked child: its own process group (so a stop reaches whatever
  it starts), output to the log, exit 0, or 1 with the error's line."""
  os.setsid()
  log = open(log_path, "a", buffering=1)  # pylint: disable=consider-using-with
  os.dup2(log.fileno(), 1)  # what native code writes, too
  os.dup2(log.fileno(), 2)
  sys.stdout = sys.stderr = log
  signal.signal(signal.SIGTERM, signal.SIG_DFL)
  try:
    target()
  except BaseException as e:  # pylint: disable=broad-except  # reported
    traceback.print_exc()
    print(f"{type(e).__name__}: {e}", flush=True)
    os._exit(1)  # pylint: disable=protected-access  # no parent cleanup
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(0)  # pylint: disable=protected-access


class _Child:
  """A part running in a forked process (its own process group)."""

  def __init__(self, part: Part):
    self._process = multiprocessing.get_context("fork").Process(
        target=_forked, args=(part.target, part.log_path))
    self._process.start()
    self.pid = self._process.pid

  def wait(self, timeout: float | None) -> int | None:
    """The exit status, or None if still running after ``timeout``."""
    self._process.join(timeout)
    return self._process.exitcode

  def stop(self) -> None:
    """SIGTERM to the part's process group, SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S),
                      (signal.SIGKILL, None)):
      try:
        os.killpg(self.pid, sig)
      except ProcessLookupError:  # stopped before its setsid
        try:
          os.kill(self.pid, sig)
        except ProcessLookupError:
          pass
      if self.wait(wait) is not None:
        return


def run_part(part: Part, limit_s: float) -> Outcome:
  """Runs ``part`` for at most ``limit_s`` seconds (plus the stop)."""
  for path in (part.rows_path, part.log_path):
    if os.path.exists(path):
      os.remove(path)
  start = time.monotonic()
  child = _Child(part)
  rc = child.wait(limit_s)
  if rc is None:
    child.stop()
  wall = time.monotonic() - start
  rows = (part.collect or (lambda p: read_rows(p.rows_path)))(part)
  if rc is None:
    return Outcome(part.name, "timed_out", limit_s, wall, rows,
                   f"stopped at its {limit_s:.3g} s limit")
  if rc != 0:
    return Outcome(part.name, "failed", limit_s, wall, rows,
                   f"exit {rc}: {_last_line(part.log_path)}")
  return Outcome(part.name, "done", limit_s, wall, rows)


def run_parts(parts: Sequence[Part], total_s: float,
              after_each: Callable[[list[Outcome]], None] = lambda o: None,
              start: float | None = None) -> list[Outcome]:
  """Runs ``parts`` in order, each under ``min(its limit, what is left of
  total_s)`` less the time a stop may take (:data:`KILL_GRACE_S`), so the
  whole ends within ``total_s`` of ``start`` (a ``time.monotonic()``;
  default: now); a part with under :data:`MIN_PART_S` left is skipped.
  ``after_each(outcomes so far)`` runs after every part (the report)."""
  start = time.monotonic() if start is None else start
  outcomes = []
  for part in parts:
    left = total_s - (time.monotonic() - start) - KILL_GRACE_S
    if left < MIN_PART_S:
      outcome = Outcome(part.name, "skipped", 0.0, 0.0, [],
                        f"the {total_s:.3g} s total limit was reached")
    else:
      limit = min(part.limit_s, left)
      outcome = run_part(part, limit)
      if outcome.status == "timed_out" and limit < part.limit_s:
        outcome.message = f"stopped at the {total_s:.3g} s total limit"
    outcomes.append(outcome)
    after_each(outcomes)
  return outcomes


# ------------------------------------------------------------- one part --

def environment() -> dict[str, Any]:
  """The device, its driver, and the software and commit measured."""
  import jax  # pylint: disable=g-import-not-at-top
  from edgeperf.harness import fingerprint  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  try:
    driver = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
         "--format=csv,noheader"], capture_output=True, text=True,
        timeout=20, check=True).stdout.strip().splitlines()
  except (OSError, subprocess.SubprocessError):
    driver = []
  return {
      "device_kind": devices[0].device_kind, "device_count": len(devices),
      "backend": jax.default_backend(),
      "nvidia_smi": driver or "no NVIDIA driver (nvidia-smi not found)",
      "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
      "software": fingerprint.software_versions(),
      "jaxlib": getattr(__import__("jaxlib"), "__version__", "?"),
      "cpu": fingerprint.cpu_model(), "cpu_count": os.cpu_count(),
      "commit": fingerprint.git_commit(),
      "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds")}


def _run_one(name: str, tiny: bool, rows_path: str) -> None:
  """The child side: measures part ``name``, appending each item to
  ``rows_path`` as one JSON line the moment it is measured."""
  from edgeperf.benchmarks import device_parts  # pylint: disable=g-import-not-at-top

  start = time.monotonic()

  def emit(row: dict[str, Any]) -> None:
    with open(rows_path, "a") as f:
      f.write(json.dumps(_jsonio.to_jsonable(row)) + "\n")
      f.flush()
      os.fsync(f.fileno())
    print(f"{name}: item written at {time.monotonic() - start:.1f} s",
          flush=True)

  if name == "environment":
    emit(environment())
  else:
    sizes = device_parts.TINY if tiny else device_parts.DEVICE
    device_parts.PARTS[name](sizes, emit)


# ---------------------------------------------------------------- driver --

def slug(env_rows: list[dict[str, Any]], tiny: bool) -> str:
  """``nvidia-h100-80gb-hbm3`` (``-x<n>`` for n devices, ``-tiny``)."""
  if not env_rows:
    base = "unknown-device"
  else:
    env = env_rows[0]
    base = re.sub(r"[^a-z0-9]+", "-", env["device_kind"].lower()).strip("-")
    if env["device_count"] > 1:
      base += f"-x{env['device_count']}"
  return base + ("-tiny" if tiny else "")


def make_parts(names: Sequence[str], limits: dict[str, float], *, tiny: bool,
               work_dir: str) -> list[Part]:
  """The :class:`Part` of each name, each a forked function (``profile``
  runs pytest in its fork)."""
  from edgeperf.benchmarks import device_report  # pylint: disable=g-import-not-at-top
  out = []
  for name in names:
    rows = os.path.join(work_dir, f"{name}.jsonl")
    log = os.path.join(work_dir, f"{name}.log")
    if name == "profile":  # rows: pytest-benchmark's JSON
      rows = os.path.join(work_dir, "profile.json")
      out.append(Part(name, limits[name], rows, log,
                      target=functools.partial(device_report.run_profile,
                                               tiny, rows),
                      collect=device_report.profile_rows))
    else:
      out.append(Part(name, limits[name], rows, log, target=functools.partial(
          _run_one, name, tiny, rows)))
  return out


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_bool("tiny", False, "CPU sizes: the whole command in under "
                    "2 minutes (the test of the command).", flag_values=fv)
  flags.DEFINE_list("parts", list(PARTS), "Parts to run, in this order "
                    f"(of {', '.join(PARTS)}).", flag_values=fv)
  flags.DEFINE_list("limits", [], "Per-part limits overriding the defaults, "
                    "as part=seconds (e.g. paper_steps=200).", flag_values=fv)
  flags.DEFINE_float("total_s", None, f"Total limit in seconds (default "
                     f"{DEVICE_TOTAL_S:.0f}, {TINY_TOTAL_S:.0f} with "
                     "--tiny).", flag_values=fv)
  flags.DEFINE_string("output", None, "Markdown report (default "
                      "docs/device-check-<device>.md).", flag_values=fv)
  flags.DEFINE_string("json", None, "Raw JSON (default "
                      "docs/device-check-<device>.json).", flag_values=fv)
  flags.DEFINE_string("work_dir", "results/device-check-work", "Scratch "
                      "folder of the parts' logs and rows.", flag_values=fv)


def _limits(fv: flags.FlagValues) -> dict[str, float]:
  limits = dict(TINY_LIMITS_S if fv.tiny else DEVICE_LIMITS_S)
  for item in fv.limits:
    name, _, seconds = item.partition("=")
    try:
      value = float(seconds)
    except ValueError:
      value = -1.0
    if name not in PARTS or value <= 0:
      flagparse.fail(PROG, f"--limits entry {item!r}: expected part=seconds "
                     f"with a part of {list(PARTS)} and seconds > 0", 2)
    limits[name] = value
  return limits


def main(argv: Sequence[str] | None = None) -> None:
  start = time.monotonic()  # the total limit counts the imports below
  fv, _ = flagparse.parse(_define, argv, PROG)
  unknown = [p for p in fv.parts if p not in PARTS]
  if unknown or not fv.parts:
    flagparse.fail(PROG, f"--parts {fv.parts}: expected names of "
                   f"{list(PARTS)}", 2)
  total = fv.total_s or (TINY_TOTAL_S if fv.tiny else DEVICE_TOTAL_S)
  if total <= 0:
    flagparse.fail(PROG, f"--total_s must be > 0, got {total}", 2)
  # Imported once here, before any device is initialised: every forked
  # part starts with them loaded.
  from edgeperf.benchmarks import device_parts  # pylint: disable=g-import-not-at-top,unused-import
  from edgeperf.benchmarks import device_report  # pylint: disable=g-import-not-at-top
  work_dir = os.path.abspath(fv.work_dir)  # the parts run in the repository
  os.makedirs(work_dir, exist_ok=True)
  names = ["environment"] + [p for p in fv.parts if p != "environment"]
  parts = make_parts(names, _limits(fv), tiny=fv.tiny, work_dir=work_dir)
  command = " ".join(["python -m edgeperf.benchmarks.device_check",
                      *(list(argv or sys.argv)[1:])])
  written: dict[str, str] = {}

  def write(outcomes: list[Outcome]) -> None:
    written.update(device_report.write(
        outcomes, tiny=fv.tiny, total_s=total, command=command,
        wall_s=time.monotonic() - start, output=fv.output,
        json_path=fv.json, slug=slug(outcomes[0].rows, fv.tiny)))
    last = outcomes[-1]
    print(f"{PROG}: {last.name}: {last.status} in {last.wall_s:.0f} s "
          f"({len(last.rows)} items){': ' + last.message if last.message else ''}",
          file=sys.stderr, flush=True)

  outcomes = run_parts(parts, total, write, start=start)
  print(f"{PROG}: {sum(o.status == 'done' for o in outcomes)}/"
        f"{len(outcomes)} parts done in {time.monotonic() - start:.0f} s; "
        f"wrote {written['markdown']} and {written['json']}",
        file=sys.stderr)


if __name__ == "__main__":
  main(sys.argv)
