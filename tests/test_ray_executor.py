"""The Ray executor: the sweep's guarantees on a local Ray (small sweeps)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from edgeperf import _jsonio
from edgeperf.harness.sweep import executors
from edgeperf.harness import rundir
from edgeperf.harness.sweep import runs as sweep

MAX_STEPS = 20
WORKLOAD = "linreg_digits"


def _submission(folder, body):
  folder.mkdir()
  (folder / "submission.py").write_text(body)
  (folder / "search_space.json").write_text(
      '{"ruleset": "external", "hyperparameters": '
      '{"learning_rate": {"value": 0.1}}}')
  return str(folder)


def _args(sweep_dir, submissions, num_trials):
  return [sys.executable, "-m", "edgeperf.cli.sweep",
          f"--sweep_dir={sweep_dir}", f"--workloads={WORKLOAD}",
          f"--submissions={','.join(submissions)}",
          f"--num_trials={num_trials}", "--num_studies=1",
          f"--max_steps={MAX_STEPS}", "--eval_every=10", "--noprogress",
          "--executor=ray", "--jobs=2"]


def _statuses(sweep_dir):
  plan = _jsonio.read_json(os.path.join(sweep_dir, "sweep.json"))
  out = {}
  for t in plan["trials"]:
    folder = rundir.RunDir(os.path.join(sweep_dir, t["run_dir"]))
    assert folder.is_final(), t["id"]
    out[t["id"]] = (t, folder.status(), folder.meta())
  return out


def test_missing_extra_names_it(monkeypatch, tmp_path):
  monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
  with pytest.raises(ValueError, match=r"edgeperf\[ray\]"):
    executors.make_executor("ray")
  request = sweep.SweepRequest(workloads=(WORKLOAD,),
                               submissions=("constant",), num_trials=1,
                               num_studies=1, seed=0, max_steps=MAX_STEPS)
  with pytest.raises(sweep.SweepError, match=r"edgeperf\[ray\]"):
    sweep.run_sweep(str(tmp_path / "sweep"), request, executor="ray",
                    progress=False)
  assert not os.path.exists(tmp_path / "sweep")  # refused before anything
  with pytest.raises(ValueError, match="--executor=ray"):
    executors.make_executor("local", address="auto")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="kills the driver with SIGKILL")
def test_ray_sweep_killed_driver_resumes_and_failures_are_recorded(tmp_path):
  pytest.importorskip("ray")
  raises = _submission(tmp_path / "raises", (
      "def make_tuner(*, learning_rate):\n"
      "  raise RuntimeError('boom: this tuner always fails')\n"))
  exits = _submission(tmp_path / "exits", (
      "import os\n"
      "def make_tuner(*, learning_rate):\n"
      "  os._exit(3)  # the trial's process dies\n"))
  sweep_dir = str(tmp_path / "sweep")
  # 4 constant trials + one that raises + one whose process exits = 6.
  args = _args(sweep_dir, ["constant", raises, exits], 4)
  proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  plan_path = os.path.join(sweep_dir, "sweep.json")
  deadline = time.time() + 300
  try:  # Kill the driver once a first trial is final.
    while time.time() < deadline:
      if os.path.exists(plan_path):
        trials = _jsonio.read_json(plan_path)["trials"]
        final = [t for t in trials if rundir.RunDir(
            os.path.join(sweep_dir, t["run_dir"])).is_final()]
        if final:
          break
      assert proc.poll() is None, "sweep ended before it could be killed"
      time.sleep(0.05)
    else:
      pytest.fail("the Ray sweep made no progress in 300 s")
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  before = {t["id"]: rundir.RunDir(os.path.join(sweep_dir, t["run_dir"]))
            .meta() for t in final}
  assert len(before) < 6

  done = subprocess.run(args, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  assert "6 trials" in done.stdout
  statuses = _statuses(sweep_dir)
  assert len(statuses) == 6
  by_name = {}
  for trial, status, meta in statuses.values():
    by_name.setdefault(trial["name"], []).append(status)
    if trial["id"] in before:  # finished before the kill: not run again
      assert meta == before[trial["id"]]
  assert all(s["status"] in ("target_reached", "budget_exhausted",
                             "diverged") for s in by_name["constant"])
  assert by_name["raises"][0]["status"] == "error"
  assert "boom" in by_name["raises"][0]["message"]
  assert by_name["exits"][0]["status"] == "error"
  assert "Ray actor" in by_name["exits"][0]["message"]
  for trial, status, meta in statuses.values():
    if trial["name"] == "constant":
      assert meta["worker"]["executor"] == "ray"
