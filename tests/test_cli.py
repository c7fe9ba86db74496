"""``edgeperf-run`` end to end, in a subprocess (as a sweep calls it)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from edgeperf.harness import rundir

COMMAND = [sys.executable, "-m", "edgeperf.cli.run"]
LINREG = ("--workload=linreg_digits", "--submission=constant",
          "--noprogress")


def _run(*args, env=None):
  return subprocess.run([*COMMAND, *args], capture_output=True, text=True,
                        timeout=300, env=env)


def _one_clear_line(proc):
  """The only stderr line of a refused command (no traceback), exit 1."""
  assert proc.returncode == 1, proc.stderr
  assert "Traceback" not in proc.stderr, proc.stderr
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1, proc.stderr
  return lines[0]


def test_cli_run_writes_a_complete_run(tmp_path):
  out = tmp_path / "run"
  proc = _run("--workload=linreg_digits", "--submission=constant",
              '--hparams={"learning_rate": 0.1}', "--seed=1",
              f"--output_dir={out}", "--max_steps=20", "--eval_every=10",
              "--noprogress")
  assert proc.returncode == 0, proc.stderr
  summary = json.loads(proc.stdout.strip().splitlines()[-1])
  status = json.load(open(out / "status.json"))
  assert summary["status"] == status["status"]
  assert status["steps_run"] == len(pd.read_csv(out / "steps.csv"))
  assert json.load(open(out / "hparams.json")) == {
      "learning_rate": 0.1, "base_optimizer": "gd"}


def test_cli_bad_hyperparameter_is_an_error_with_status(tmp_path):
  out = tmp_path / "run"
  proc = _run("--workload=linreg_digits", "--submission=constant",
              '--hparams={"learning_rate": 0.1, "sigma": 2}',
              f"--output_dir={out}", "--noprogress")
  assert proc.returncode == 1
  assert "unknown hyperparameter(s) ['sigma']" in proc.stderr
  assert json.load(open(out / "status.json"))["status"] == "error"


def test_cli_missing_flags(tmp_path):
  proc = _run("--workload=linreg_digits")
  assert proc.returncode == 2 and "--submission" in proc.stderr


def test_cli_a_mistyped_command_is_replaced_by_the_corrected_one(tmp_path):
  out = tmp_path / "run"
  proc = _run("--workload=linreg_digit", "--submission=constant",
              '--hparams={"learning_rate": 0.1}', f"--output_dir={out}",
              "--noprogress")
  assert "unknown workload 'linreg_digit'" in _one_clear_line(proc)
  status = json.load(open(out / "status.json"))
  assert status["status"] == "error" and status["steps_run"] == 0
  assert rundir.REPLACEABLE_NOTE in status["message"]
  proc = _run(*LINREG, '--hparams={"learning_rate": 0.1}',
              f"--output_dir={out}", "--max_steps=20")
  assert proc.returncode == 0, proc.stderr
  assert json.load(open(out / "status.json"))["steps_run"] == 20
  assert len(pd.read_csv(out / "steps.csv")) == 20


def test_cli_wrong_type_hyperparameters_are_one_line_and_touch_nothing(
    tmp_path, snapshot):
  out = tmp_path / "run"
  assert _run(*LINREG, '--hparams={"learning_rate": 0.1}',
              f"--output_dir={out}", "--max_steps=20").returncode == 0
  before = snapshot(out)
  for value in ('"fast"', '"0.1"', "[0.1]"):
    proc = _run(*LINREG, f'--hparams={{"learning_rate": {value}}}',
                f"--output_dir={out}", "--max_steps=20")
    line = _one_clear_line(proc)
    assert line.startswith("edgeperf-run: learning_rate must be a number, "
                           f"got {json.loads(value)!r} (its values in ")
    assert "constant/search_space.json" in line
    assert snapshot(out) == before  # the finished run is untouched


@pytest.mark.parametrize("data_dir", [None, "nowhere"])
def test_cli_tfds_without_prepared_data_is_one_true_line(tmp_path, data_dir):
  env = dict(os.environ, TFDS_DATA_DIR=str(tmp_path / "tensorflow_datasets"))
  flags = [f"--data_dir={tmp_path / data_dir}"] if data_dir else []
  proc = _run("--workload=mlp_mnist_tfds", "--submission=constant",
              '--hparams={"learning_rate": 0.1}', *flags,
              f"--output_dir={tmp_path / 'run'}", "--noprogress", env=env)
  line = _one_clear_line(proc)
  missing = str(tmp_path / (data_dir or "tensorflow_datasets"))
  assert f"data_dir {missing!r}" in line and "does not exist" in line
  assert "already prepared" not in line


def test_cli_moves_aside_a_run_it_cannot_read(tmp_path, snapshot, steps_csv):
  out = tmp_path / "run"
  out.mkdir()
  (out / "steps.csv").write_text(steps_csv(100))
  (out / "status.json").write_text('{"status": "budget_exha')  # truncated
  before = snapshot(out)
  proc = _run(*LINREG, '--hparams={"learning_rate": 0.1}',
              f"--output_dir={out}", "--max_steps=50")
  assert proc.returncode == 0, proc.stderr
  (moved,) = [p for p in tmp_path.iterdir() if p != out]
  assert moved.name.startswith("run.unreadable-")
  assert snapshot(moved) == before  # the 100-row table is kept, intact
  assert (f"edgeperf-run: {out / 'status.json'}: not valid JSON" in
          proc.stderr and f"moved aside, untouched, to {moved}" in
          proc.stderr)
  assert len(pd.read_csv(out / "steps.csv")) == 50


SLOW = """
import os
import time

import jax
import optax

from edgeperf.submissions.constant import submission as constant


def _sleep():
  if os.environ.get("SLOW_MARK"):  # tells a test a step is under way
    open(os.environ["SLOW_MARK"], "w").close()
  time.sleep(float(os.environ.get("SLOW_STEP_S", "0.02")))


def make_tuner(*, learning_rate: float):
  def update(updates, state, params=None, **extra):
    jax.debug.callback(_sleep)
    return updates, state

  slow = optax.GradientTransformationExtraArgs(
      lambda params: optax.EmptyState(), update)
  return optax.chain(slow, constant.make_tuner(learning_rate=learning_rate))
"""


def _slow_submission(tmp_path):
  """A submission folder whose every step sleeps (:data:`SLOW`)."""
  sub = tmp_path / "slow"
  sub.mkdir()
  (sub / "submission.py").write_text(textwrap.dedent(SLOW))
  (sub / "search_space.json").write_text(
      '{"hyperparameters": {"learning_rate": {"values": [0.1]}}}')
  return sub


@pytest.mark.usefixtures("stop_signals_catchable")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_mid_run_records_interrupted(tmp_path, signum):
  sub = _slow_submission(tmp_path)
  out = tmp_path / "run"
  proc = subprocess.Popen(
      [*COMMAND, "--workload=linreg_digits", f"--submission={sub}",
       '--hparams={"learning_rate": 0.1}', f"--output_dir={out}",
       "--max_steps=200", "--eval_every=10", "--noprogress"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  folder = rundir.RunDir(out)
  deadline = time.monotonic() + 240
  while (folder.status() or {}).get("steps_run", 0) < 20:  # mid-run
    assert proc.poll() is None and time.monotonic() < deadline, (
        proc.communicate())
    time.sleep(0.05)
  started = {name: (out / name).read_bytes()
             for name in ("hparams.json", "meta.json", "steps.csv.partial")}
  proc.send_signal(signum)
  _, stderr = proc.communicate(timeout=120)
  name = signal.Signals(signum).name
  assert proc.returncode == 128 + signum, stderr
  assert f"interrupted by {name}" in stderr and "Traceback" not in stderr
  status = folder.status()
  assert status["status"] == "interrupted"
  assert status["message"].startswith(f"interrupted by {name} after ")
  # Tables final, holding every step done, nothing written before altered.
  assert not [p for p in os.listdir(out) if p.endswith(".partial")]
  steps = (out / "steps.csv").read_bytes()
  assert steps.startswith(started.pop("steps.csv.partial"))
  assert len(pd.read_csv(out / "steps.csv")) == status["steps_run"] < 200
  assert all((out / n).read_bytes() == b for n, b in started.items())


@pytest.mark.usefixtures("stop_signals_catchable")
def test_cli_a_second_signal_stops_at_once(tmp_path):
  """Mid-chunk (each step sleeps 0.3 s, chunks of 50 steps: 15 s), the
  first SIGTERM waits for the chunk's end; the second ends the run at once,
  recorded as interrupted."""
  sub = _slow_submission(tmp_path)
  out = tmp_path / "run"
  proc = subprocess.Popen(
      [*COMMAND, "--workload=linreg_digits", f"--submission={sub}",
       '--hparams={"learning_rate": 0.1}', f"--output_dir={out}",
       "--max_steps=100", "--eval_every=50", "--chunk_mode=loop",
       "--noprogress"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, SLOW_STEP_S="0.3",
               SLOW_MARK=str(tmp_path / "stepping")))
  folder = rundir.RunDir(out)
  deadline = time.monotonic() + 240
  while not (tmp_path / "stepping").exists():  # inside the first chunk
    assert proc.poll() is None and time.monotonic() < deadline, (
        proc.communicate())
    time.sleep(0.05)
  proc.send_signal(signal.SIGTERM)
  time.sleep(0.5)
  assert proc.poll() is None  # the first signal waits for the chunk's end
  sent = time.monotonic()
  proc.send_signal(signal.SIGTERM)
  _, stderr = proc.communicate(timeout=120)
  assert time.monotonic() - sent < 5, stderr  # not the 15 s chunk
  assert proc.returncode == 128 + signal.SIGTERM, stderr
  assert "interrupted by a second SIGTERM" in stderr
  assert "Traceback" not in stderr
  status = folder.status()
  assert status["status"] == "interrupted"
  assert status["message"].startswith("interrupted by a second SIGTERM")


@pytest.mark.parametrize("value", ["0", "-3"])
def test_cli_eval_every_below_one_is_refused_like_the_sweep(tmp_path, value):
  out = tmp_path / "run"
  proc = _run(*LINREG, f"--output_dir={out}", f"--eval_every={value}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert "--eval_every must be an int >= 1" in proc.stderr
  assert not out.exists()
  sweep = subprocess.run(
      [sys.executable, "-m", "edgeperf.cli.sweep",
       "--workloads=linreg_digits", "--submissions=constant",
       f"--sweep_dir={tmp_path / 'sw'}", f"--eval_every={value}",
       "--noprogress"], capture_output=True, text=True, timeout=300)
  assert sweep.returncode != 0 and "eval_every must be an int >= 1" in (
      sweep.stderr)


def test_cli_output_dir_that_is_a_file_is_refused(tmp_path):
  path = tmp_path / "a_file"
  path.write_text("keep me")
  proc = _run(*LINREG, f"--output_dir={path}",
              '--hparams={"learning_rate": "fast"}')
  assert "a file, not a folder" in _one_clear_line(proc)
  assert path.read_text() == "keep me"
