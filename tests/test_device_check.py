"""The device check's time limits and report: each part stops at its own
limit or at what is left of the total, keeps every item it finished, and
the report holds what finished.  The limits are exercised on controlled
parts (functions that write rows and then run on), the report on the real
command at ``--tiny`` sizes with tiny limits."""

import json
import os
import subprocess
import sys
import time

import pytest

from edgeperf.benchmarks import device_check
from edgeperf.benchmarks import device_parts


def _writes_then(rows_path, items, then):
  """A part body: writes ``items`` rows, then ``then()``."""
  def body():
    for i in range(items):
      with open(rows_path, "a") as f:
        f.write(json.dumps({"item": i}) + "\n")
    then()
  return body


def _forever():
  while True:
    time.sleep(0.05)


def _part(tmp_path, name, items, then=lambda: None, limit_s=10.0):
  rows = str(tmp_path / f"{name}.jsonl")
  return device_check.Part(name, limit_s, rows, str(tmp_path / f"{name}.log"),
                           target=_writes_then(rows, items, then))


@pytest.fixture
def quick_stop(monkeypatch):
  monkeypatch.setattr(device_check, "KILL_GRACE_S", 0.2)
  monkeypatch.setattr(device_check, "MIN_PART_S", 0.2)


def test_a_part_past_its_limit_is_stopped_and_keeps_its_items(tmp_path,
                                                             quick_stop):
  part = _part(tmp_path, "slow", 2, _forever, limit_s=0.8)
  start = time.monotonic()
  outcome = device_check.run_part(part, part.limit_s)
  assert time.monotonic() - start < 0.8 + 0.2 + 1.0  # limit + stop + slack
  assert outcome.status == "timed_out"
  assert outcome.rows == [{"item": 0}, {"item": 1}]
  assert outcome.message == "stopped at its 0.8 s limit"


def test_a_part_that_ignores_sigterm_is_killed(tmp_path, quick_stop):
  import signal

  def stubborn():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _forever()

  part = _part(tmp_path, "stubborn", 1, stubborn, limit_s=0.5)
  start = time.monotonic()
  outcome = device_check.run_part(part, part.limit_s)
  assert time.monotonic() - start < 0.5 + 0.2 + 1.0
  assert outcome.status == "timed_out" and outcome.rows == [{"item": 0}]


def test_a_failing_part_is_recorded_and_the_next_runs(tmp_path, quick_stop):
  def crash():
    raise RuntimeError("out of device memory")

  parts = [_part(tmp_path, "bad", 1, crash), _part(tmp_path, "good", 3)]
  seen = []
  outcomes = device_check.run_parts(parts, 30.0,
                                    lambda o: seen.append(len(o)))
  assert [o.status for o in outcomes] == ["failed", "done"]
  assert outcomes[0].message == ("exit 1: RuntimeError: out of device "
                                 "memory")
  assert outcomes[0].rows == [{"item": 0}] and len(outcomes[1].rows) == 3
  assert seen == [1, 2]  # the report is rewritten after every part


def test_the_total_limit_stops_a_part_and_skips_the_rest(tmp_path,
                                                         quick_stop):
  parts = [_part(tmp_path, "first", 1),
           _part(tmp_path, "long", 2, _forever, limit_s=60.0),
           _part(tmp_path, "never", 1)]
  start = time.monotonic()
  outcomes = device_check.run_parts(parts, 1.5)
  assert time.monotonic() - start < 1.5 + 1.0  # within the total (+ slack)
  assert [o.status for o in outcomes] == ["done", "timed_out", "skipped"]
  assert outcomes[1].message == "stopped at the 1.5 s total limit"
  assert outcomes[1].rows == [{"item": 0}, {"item": 1}]  # kept
  assert outcomes[1].limit_s < 1.5  # what was left, not its own 60 s
  assert outcomes[2].rows == [] and "total limit" in outcomes[2].message


def test_bad_limits_are_one_line_errors(capsys):
  for argv, expected in (
      (["--limits=paper_steps"], "--limits entry 'paper_steps': expected "
       "part=seconds"),
      (["--limits=gpu=5"], "--limits entry 'gpu=5'"),
      (["--parts=profile,bench"], "--parts ['profile', 'bench']: expected "
       "names of"),
      (["--total_s=-1"], "--total_s must be > 0")):
    with pytest.raises(SystemExit) as e:
      device_check.main(["device_check", *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("device_check: ") and expected in err, err
    assert err.count("\n") == 1


def test_tiny_sizes_are_smaller_than_the_device_ones():
  tiny, device = device_parts.TINY, device_parts.DEVICE
  assert tiny.paper_size == "small" and device.paper_size == "paper"
  assert device.embedded_size == device.target_size == "large"
  assert device.paper_workloads == tuple(
      n for n in device.paper_workloads if n in device_parts.registry.PAPER)
  assert set(device.paper_workloads) == set(device_parts.registry.PAPER)
  assert device.paper_steps % 10 == 0 and tiny.paper_steps % 10 == 0  # k
  # On the device every part gets its own limit within the total.
  assert (sum(device_check.DEVICE_LIMITS_S.values())
          + device_check.KILL_GRACE_S <= device_check.DEVICE_TOTAL_S)


@pytest.mark.slow
def test_the_command_writes_what_finished_and_names_what_did_not(tmp_path):
  """The real command at --tiny: the environment finishes, paper_steps is
  stopped at a 1 s limit, the report and JSON say so."""
  md, js = tmp_path / "report.md", tmp_path / "raw.json"
  subprocess.run([
      sys.executable, "-m", "edgeperf.benchmarks.device_check", "--tiny",
      "--parts=paper_steps", "--limits=paper_steps=1", f"--output={md}",
      f"--json={js}", f"--work_dir={tmp_path / 'work'}"], check=True,
                 timeout=120)
  data = json.loads(js.read_text())
  assert [p["name"] for p in data["parts"]] == ["environment", "paper_steps"]
  env, paper = data["parts"]
  assert env["status"] == "done" and env["rows"][0]["backend"] == "cpu"
  assert paper["status"] == "timed_out" and paper["rows"] == []
  text = md.read_text()
  assert "# Device check: cpu (tiny sizes)" in text
  assert "| paper_steps | timed_out | 1 |" in text
  assert "Nothing finished (timed_out: stopped at its 1 s limit)" in text
  assert os.path.basename(js) in text  # the report links the raw JSON


@pytest.mark.slow
def test_a_preset_without_a_stored_target_gets_the_grid_procedures():
  """The time-to-target part's target where none is stored: the constant
  grid's best score at the step hint (protocol/targets.py), with its rate."""
  import dataclasses
  from edgeperf import workloads
  from edgeperf.harness import runner
  from edgeperf.protocol import targets
  from edgeperf.submissions import loader
  wl = dataclasses.replace(workloads.get("linreg_digits"),
                           target_train_loss=None, target_info=None,
                           step_hint=10)
  target, rate, source = device_parts.target_and_rate(wl)
  assert source.startswith("set here")
  constant = loader.load("constant")
  grid = [h for h in constant.search_space.hyperparameters
          if h.name == "learning_rate"][0].values
  assert rate in grid

  def score(lr):
    result = runner.run(wl, constant.spec({"learning_rate": lr,
                                           "base_optimizer": "gd"}),
                        max_steps=10, stop_at_target=False, progress=False)
    return targets.horizon_score(result.steps["objective"])

  assert score(rate) == pytest.approx(target, rel=1e-6)
  assert score(grid[0]) >= target  # the smallest rate does no better
