"""edgeperf-sweep: one process per trial, failures recorded, kill -9 resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from edgeperf import _jsonio
from edgeperf.harness import rundir
from edgeperf.harness.sweep import runs as sweep

MAX_STEPS = 20
KILLED_STEPS = 3000
"""Steps of each trial of the killed sweep: a worker that already holds the
program runs a 20-step trial in ~0.1 s, too fast to be caught half-done."""
WORKLOAD = "linreg_digits"


def _submission(folder, body, space=None):
  folder.mkdir()
  (folder / "submission.py").write_text(body)
  (folder / "search_space.json").write_text(json.dumps(space or {
      "ruleset": "external",
      "hyperparameters": {"learning_rate": {"value": 0.1}}}))
  return str(folder)


def _request(submissions, num_trials=1, num_studies=1):
  return sweep.SweepRequest(workloads=(WORKLOAD,),
                            submissions=tuple(submissions),
                            num_trials=num_trials, num_studies=num_studies,
                            seed=0, max_steps=MAX_STEPS, eval_every=10)


def _final_statuses(sweep_dir):
  plan = _jsonio.read_json(os.path.join(sweep_dir, "sweep.json"))
  out = {}
  for t in plan["trials"]:
    run_dir = os.path.join(sweep_dir, t["run_dir"])
    assert rundir.RunDir(run_dir).is_final(), t["id"]
    out[t["id"]] = rundir.RunDir(run_dir).status()
  return plan, out


@pytest.mark.slow
def test_failing_trials_are_recorded_and_the_rest_complete(tmp_path):
  raises = _submission(tmp_path / "raises", (
      "def make_tuner(*, learning_rate):\n"
      "  raise RuntimeError('boom: this tuner always fails')\n"))
  killed = _submission(tmp_path / "oom", (
      "import os, signal\n"
      "def make_tuner(*, learning_rate):\n"
      "  os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would\n"))
  sweep_dir = str(tmp_path / "sweep")
  request = _request(["constant", raises, killed], num_trials=1)
  outcomes = sweep.run_sweep(sweep_dir, request, jobs=2, progress=False)
  by_name = {o["name"]: o for o in outcomes}
  assert set(by_name) == {"constant", "raises", "oom"}
  assert by_name["constant"]["status"] in ("completed", "target_reached",
                                           "budget_exhausted")
  assert by_name["raises"]["status"] == "error"
  assert "boom: this tuner always fails" in by_name["raises"]["message"]
  assert by_name["oom"]["status"] == "error"
  assert "SIGKILL" in by_name["oom"]["message"]
  plan, statuses = _final_statuses(sweep_dir)
  assert len(plan["trials"]) == 3
  constant = next(t for t in plan["trials"] if t["name"] == "constant")
  steps = pd.read_csv(os.path.join(sweep_dir, constant["run_dir"],
                                   "steps.csv"))
  assert len(steps) <= MAX_STEPS and steps["step"].is_monotonic_increasing
  meta = _jsonio.read_json(os.path.join(sweep_dir, constant["run_dir"],
                                        "meta.json"))
  assert meta["seed"] == constant["seed"]
  assert meta["hparams"]["learning_rate"] == constant["hparams"][
      "learning_rate"]
  assert "error 2" in sweep.summarize(outcomes)
  if "JAX_COMPILATION_CACHE_DIR" not in os.environ:  # trials share a cache
    assert os.listdir(os.path.join(sweep_dir, sweep.COMPILATION_CACHE))

  # Started again: everything is done, nothing reruns.
  again = sweep.run_sweep(sweep_dir, request, jobs=2, progress=False)
  assert all(o["skipped"] for o in again)
  assert [o["status"] for o in again] == [o["status"] for o in outcomes]
  # A different request on the same directory is refused.
  with pytest.raises(sweep.SweepError, match="different sweep"):
    sweep.run_sweep(sweep_dir, _request(["constant"], num_trials=2),
                    progress=False)


def _processes_mentioning(text):
  pids = []
  for pid in os.listdir("/proc"):
    if not pid.isdigit():
      continue
    try:
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        if text.encode() in f.read():
          pids.append(int(pid))
    except OSError:
      pass
  return pids


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="kill -9 of the sweep relies on PR_SET_PDEATHSIG")
def test_killed_sweep_resumes_with_each_trial_exactly_once(tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  args = [sys.executable, "-m", "edgeperf.cli.sweep",
          f"--sweep_dir={sweep_dir}", f"--workloads={WORKLOAD}",
          "--submissions=constant", "--num_trials=3", "--num_studies=1",
          f"--max_steps={KILLED_STEPS}", "--eval_every=10", "--noprogress"]
  proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  plan_path = os.path.join(sweep_dir, "sweep.json")
  first = second = None
  deadline = time.time() + 300
  try:
    # Kill once trial 0 is done and trial 1 has started (half-done dir).
    while time.time() < deadline:
      if first is None and os.path.exists(plan_path):
        trials = _jsonio.read_json(plan_path)["trials"]
        first, second = (os.path.join(sweep_dir, t["run_dir"])
                         for t in trials[:2])
      if first and rundir.RunDir(first).is_final() and os.path.isdir(second):
        break
      assert proc.poll() is None, "sweep ended before it could be killed"
      time.sleep(0.05)
    else:
      pytest.fail("sweep made no progress in 300 s")
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
  assert not rundir.RunDir(second).is_final()
  first_meta = rundir.RunDir(first).meta()
  # The running trial's process died with the sweep (no orphan writing on).
  for _ in range(100):
    if not _processes_mentioning(sweep_dir):
      break
    time.sleep(0.05)
  assert not _processes_mentioning(sweep_dir)

  done = subprocess.run(args, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "3 trials" in done.stdout
  plan, statuses = _final_statuses(sweep_dir)
  assert len(statuses) == 3
  for t in plan["trials"]:
    run_dir = os.path.join(sweep_dir, t["run_dir"])
    assert statuses[t["id"]]["status"] != "error", statuses[t["id"]]
    assert not [f for f in os.listdir(run_dir) if f.endswith(".partial")]
    steps = pd.read_csv(os.path.join(run_dir, "steps.csv"))
    # One run's steps, each once: 0, 1, …, n−1.
    assert list(steps["step"]) == list(range(len(steps)))
  # The finished trial was not run again.
  assert rundir.RunDir(first).meta() == first_meta


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_rest_run_once(tmp_path):
  killed = _submission(tmp_path / "oom", (
      "import os, signal\n"
      "def make_tuner(*, learning_rate):\n"
      "  os.kill(os.getpid(), signal.SIGKILL)\n"))
  sweep_dir = str(tmp_path / "sweep")
  # One worker: the killed trial comes first, the two constant trials must
  # run on its replacement.
  outcomes = sweep.run_sweep(sweep_dir, _request([killed, "constant"],
                                                 num_trials=2),
                             jobs=1, progress=False)
  assert [o["name"] for o in outcomes] == ["oom", "constant", "constant"]
  assert outcomes[0]["status"] == "error"
  assert "SIGKILL" in outcomes[0]["message"]
  assert all(o["status"] != "error" for o in outcomes[1:])
  _, statuses = _final_statuses(sweep_dir)
  assert len(statuses) == 3
  assert len(sweep.fixed_costs(outcomes)) == 2


def test_a_bad_request_is_refused_before_anything_runs(tmp_path):
  sweep_dir = tmp_path / "sweep"
  bad = sweep.SweepRequest(workloads=(WORKLOAD, "nope"),
                           submissions=("constant",), num_trials=0,
                           num_studies=0, max_steps=0)
  with pytest.raises(sweep.SweepError) as info:
    sweep.run_sweep(str(sweep_dir), bad, progress=False)
  for what in ("unknown workload 'nope'", "num_trials must be an int >= 1",
               "num_studies must be an int >= 1",
               "max_steps must be an int >= 1"):
    assert what in str(info.value)
  assert not sweep_dir.exists()  # nothing was written
  proc = subprocess.run(
      [sys.executable, "-m", "edgeperf.cli.sweep",
       f"--sweep_dir={sweep_dir}", f"--workloads={WORKLOAD}",
       "--submissions=constant", "--num_trials=0", "--noprogress"],
      capture_output=True, text=True, timeout=120)
  assert proc.returncode == 1 and "Traceback" not in proc.stderr
  assert "num_trials must be an int >= 1, got 0" in proc.stderr


def test_a_different_sweep_names_what_differs(tmp_path):
  sweep_dir = str(tmp_path / "sweep")
  os.makedirs(sweep_dir)
  first = sweep.make_plan(_request(["constant"], num_trials=1))
  with open(os.path.join(sweep_dir, "sweep.json"), "w") as f:
    json.dump(sweep.plan_json(first), f)
  with pytest.raises(sweep.SweepError,
                     match=r"different sweep \(num_trials: 1 there, 2 now"):
    sweep.run_sweep(sweep_dir, _request(["constant"], num_trials=2),
                    progress=False)


@pytest.mark.slow
def test_retry_errors_reruns_failed_trials_and_keeps_the_old_ones(tmp_path):
  flaky = tmp_path / "flaky"
  marker = tmp_path / "fail-once"
  marker.write_text("x")
  _submission(flaky, (
      "import os, optax\n"
      "from edgeperf.submissions import api\n"
      "from edgeperf.submissions.constant import scale_by_constant_lr\n"
      "def make_tuner(*, learning_rate):\n"
      f"  if os.path.exists({str(marker)!r}):\n"
      "    raise RuntimeError('flaky: failed this time')\n"
      "  return optax.chain(api.base_direction('gd'),\n"
      "                     scale_by_constant_lr(learning_rate))\n"))
  sweep_dir = str(tmp_path / "sweep")
  request = _request([str(flaky)])
  (first,) = sweep.run_sweep(sweep_dir, request, progress=False)
  assert first["status"] == "error" and "flaky" in first["message"]
  marker.unlink()
  (same,) = sweep.run_sweep(sweep_dir, request, progress=False)
  assert same["skipped"] and same["status"] == "error"  # not retried
  (again,) = sweep.run_sweep(sweep_dir, request, progress=False,
                             retry_errors=True)
  assert not again["skipped"] and again["status"] != "error"
  run_dir = os.path.join(sweep_dir, again["run_dir"])
  kept = [d for d in os.listdir(os.path.dirname(run_dir))
          if d.startswith(os.path.basename(run_dir) + sweep.RETRIED_TAG)]
  assert len(kept) == 1  # the failed run was moved aside, not deleted
  assert rundir.RunDir(os.path.join(os.path.dirname(run_dir), kept[0])
                       ).status()["status"] == "error"


def test_a_trial_serialises_once_and_reads_back_the_same():
  from edgeperf.harness.sweep import trial as trial_lib  # pylint: disable=g-import-not-at-top
  t = trial_lib.Trial(workload="linreg_digits", submission="constant",
                      name="constant", ruleset="external", study=1, trial=2,
                      seed=7, hparams={"learning_rate": 0.1}, max_steps=5,
                      inject=False)
  row = json.loads(json.dumps(t.to_json()))
  assert row["id"] == "linreg_digits/constant/study_1/trial_2"
  assert row["run_dir"] == os.path.join("runs", "linreg_digits", "constant",
                                        "study_1", "trial_2")
  assert row["inject"] is False
  assert trial_lib.Trial.from_json(row) == t
  task = t.task("/sweeps/s")
  assert task.run_dir == os.path.join("/sweeps/s", t.run_dir)
  assert trial_lib.TrialTask.from_json(
      json.loads(json.dumps(task.to_json()))) == task
  with pytest.raises(ValueError, match="unknown field"):
    trial_lib.TrialTask.from_json(dict(task.to_json(), colour="red"))
  # Injected hyperparameters are the default, and then not written.
  assert "inject" not in dataclasses_replace(t, inject=True).to_json()


def dataclasses_replace(obj, **changes):
  import dataclasses  # pylint: disable=g-import-not-at-top
  return dataclasses.replace(obj, **changes)
