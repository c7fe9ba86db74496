"""Nothing lost (issue "Nothing lost, round two"): a folder the bench did
not make survives whatever else fails; bad input is refused in one line
before anything is touched."""

import hashlib
import json
import os

import pytest

from edgeperf.protocol import bench
from edgeperf.protocol import tuning
from edgeperf.cli import bench as bench_cli

WL = "linreg_digits"


def _snapshot(folder):
  """Every file under ``folder`` with its bytes' digest."""
  out = {}
  for root, _, files in os.walk(folder):
    for name in files:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, folder)] = hashlib.sha256(
            f.read()).hexdigest()
  return out


def _victim(tmp_path):
  victim = tmp_path / "victim"
  (victim / "runs").mkdir(parents=True)
  (victim / "notes.txt").write_text("precious\n")
  (victim / "runs" / "sweep.json").write_text('{"request": {"kind": "x"}}')
  return victim


def _refused(capsys, argv):
  with pytest.raises(SystemExit) as e:
    bench_cli.main(["edgeperf-bench", *argv, "--noprogress", "--jobs=1"])
  err = capsys.readouterr().err
  assert e.value.code != 0, err
  assert "Traceback" not in err
  return err


def _tuned(tmp_path, point):
  path = tmp_path / "tuned.json"
  path.write_text(json.dumps({"provenance": {}, "points": {
      WL: {"constant": point}}}))
  return str(path)


@pytest.mark.parametrize("case", ["no_tuned_file", "unknown_workload",
                                  "unknown_submission", "not_a_bench_sweep",
                                  "nofresh"])
def test_a_foreign_sweep_dir_survives_byte_for_byte(tmp_path, capsys, case):
  victim = _victim(tmp_path)
  before = _snapshot(victim)
  good = _tuned(tmp_path, {"hparams": {"learning_rate": 0.1}, "seed": 0})
  argv = {
      "no_tuned_file": [f"--workloads={WL}", "--submissions=constant",
                        f"--tuned_points={tmp_path / 'no_such_file.json'}"],
      "unknown_workload": ["--workloads=no_such_workload",
                           "--submissions=constant",
                           f"--tuned_points={good}"],
      "unknown_submission": [f"--workloads={WL}", "--submissions=nope",
                             f"--tuned_points={good}"],
      "not_a_bench_sweep": [f"--workloads={WL}", "--submissions=constant",
                            f"--tuned_points={good}"],
      "nofresh": [f"--workloads={WL}", "--submissions=constant",
                  f"--tuned_points={good}", "--nofresh"],
  }[case]
  err = _refused(capsys, [*argv, f"--output_dir={tmp_path / 'out'}",
                          f"--sweep_dir={victim}"])
  assert _snapshot(victim) == before, err
  if case in ("not_a_bench_sweep", "nofresh"):
    assert "not a bench sweep" in err and str(victim) in err


def test_only_a_marked_bench_sweep_is_deleted(tmp_path):
  mine = tmp_path / "mine"
  bench.prepare_dirs(str(tmp_path / "out"), str(mine), fresh=True)
  assert bench.is_bench_sweep(str(mine))
  (mine / "first").mkdir()
  (mine / "first" / "old.txt").write_text("old run")
  bench.prepare_dirs(str(tmp_path / "out"), str(mine), fresh=True)
  assert not (mine / "first").exists() and bench.is_bench_sweep(str(mine))
  # Resuming keeps what is there.
  (mine / "first").mkdir()
  bench.prepare_dirs(str(tmp_path / "out"), str(mine), fresh=False)
  assert (mine / "first").exists()
  # An empty folder is taken (and marked); a foreign one is refused.
  empty = tmp_path / "empty"
  empty.mkdir()
  bench.prepare_dirs(str(tmp_path / "out"), str(empty), fresh=True)
  assert bench.is_bench_sweep(str(empty))
  with pytest.raises(bench.BenchDirError, match="not a bench sweep"):
    bench.prepare_dirs(str(tmp_path / "out"), str(_victim(tmp_path)),
                       fresh=True)


def test_a_bench_sweep_from_before_the_mark_is_recognised(tmp_path):
  old = tmp_path / "old"
  (old / "first").mkdir(parents=True)
  (old / "first" / "sweep.json").write_text(
      json.dumps({"request": {"kind": "bench"}, "trials": []}))
  assert bench.is_bench_sweep(str(old))
  (old / "first" / "sweep.json").write_text(
      json.dumps({"request": {"workloads": []}, "trials": []}))
  assert not bench.is_bench_sweep(str(old))


@pytest.mark.parametrize("which", ["output_dir", "sweep_dir"])
def test_a_regular_file_for_a_folder_is_refused(tmp_path, capsys, which):
  good = _tuned(tmp_path, {"hparams": {"learning_rate": 0.1}, "seed": 0})
  path = tmp_path / "a_file"
  path.write_text("keep me")
  dirs = {"output_dir": tmp_path / "out", "sweep_dir": tmp_path / "sw"}
  dirs[which] = path
  err = _refused(capsys, [f"--workloads={WL}", "--submissions=constant",
                          f"--tuned_points={good}",
                          f"--output_dir={dirs['output_dir']}",
                          f"--sweep_dir={dirs['sweep_dir']}"])
  assert f"--{which}" in err and "a file, not a folder" in err
  assert path.read_text() == "keep me"


def test_a_tuned_point_without_hparams_is_named(tmp_path, capsys):
  tuned = _tuned(tmp_path, {"seed": 0})
  with pytest.raises(tuning.TunedPointsError, match="constant on "
                     "linreg_digits has no 'hparams'"):
    tuning.read(tuned)
  err = _refused(capsys, [f"--workloads={WL}", "--submissions=constant",
                          f"--tuned_points={tuned}",
                          f"--output_dir={tmp_path / 'out'}"])
  assert "no 'hparams'" in err and not (tmp_path / "out").exists()


def test_score_on_a_folder_of_unrelated_files_finds_no_runs(tmp_path,
                                                             capsys):
  from edgeperf.cli import score as score_cli  # pylint: disable=g-import-not-at-top
  junk = tmp_path / "junk"
  (junk / "sub").mkdir(parents=True)
  (junk / "sub" / "meta.json").write_text('{"title": "my notes"}')
  (junk / "readme.txt").write_text("hello")
  with pytest.raises(SystemExit) as e:
    score_cli.main(["edgeperf-score", f"--runs={junk}",
                    f"--output_dir={tmp_path / 'out'}", "--noplots"])
  err = capsys.readouterr().err
  assert e.value.code != 0 and "no runs found" in err
  assert "nan" not in err and "Traceback" not in err


def test_a_huge_value_is_cut_short_in_the_message():
  from edgeperf import _checks  # pylint: disable=g-import-not-at-top
  huge = "x" * 1_000_000
  with pytest.raises(ValueError) as e:
    _checks.positive("learning_rate", huge)
  assert len(str(e.value)) < 200 and "1,000,002 characters" in str(e.value)
  assert _checks.shown(0.1) == "0.1"


def test_errored_reference_trial_is_told_apart_from_a_missed_target():
  import pandas as pd  # pylint: disable=g-import-not-at-top
  row = dict(workload=WL, submission="constant", study=0, reached=False,
             division="gd",
             target=1.0, final_objective=float("nan"), run_dir="/r")
  errored = pd.DataFrame([dict(row, status="error", failed=True,
                               message="ValueError: learning_rate must be "
                               "a number > 0, got 'fast'")])
  with pytest.raises(bench.ReferenceFailedError) as e:
    bench.check_reference(errored)
  assert "learning_rate must be" in str(e.value)
  assert "/r/status.json" in str(e.value) and "stale" not in str(e.value)
  missed = pd.DataFrame([dict(row, status="budget_exhausted", failed=False,
                              message="", final_objective=2.0)])
  with pytest.raises(bench.StaleTargetsError, match="stale"):
    bench.check_reference(missed)
