"""``edgeperf-run`` end to end, in a subprocess (as a sweep calls it)."""

import json
import subprocess
import sys

import pandas as pd


def _run(*args):
  return subprocess.run(
      [sys.executable, "-m", "edgeperf.harness.cli.run", *args],
      capture_output=True, text=True, timeout=300)


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
