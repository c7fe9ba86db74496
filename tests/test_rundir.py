"""The run folder: its owner, its encoding, and errors that name the file."""

import logging
import math
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

from edgeperf.harness import rundir


def test_status_round_trips_infinity(tmp_path):
  folder = rundir.RunDir(tmp_path)
  folder.write_status({"status": "diverged", "final_objective": math.inf,
                       "target_time_s": None})
  raw = (tmp_path / "status.json").read_text()
  assert '"inf"' in raw and "Infinity" not in raw  # strict JSON
  status = folder.status()
  assert status["final_objective"] == math.inf and folder.is_final()


def test_unreadable_files_are_named(tmp_path):
  (tmp_path / "status.json").write_text('{"status": "runn')
  folder = rundir.RunDir(tmp_path)
  with pytest.raises(rundir.RunDirError, match=r"status\.json.*truncated"):
    folder.status()
  assert not folder.is_final()
  assert folder.table("steps") is None


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path):
  folder = rundir.RunDir(tmp_path / "run")
  with folder.owned():
    folder.write_status({"status": "running", "owner": dict(
        rundir.owner(), started_at="now")})
    # Another process (a second edgeperf-run, say) tries the same folder.
    code = textwrap.dedent(f"""
        from edgeperf.harness import rundir
        try:
          with rundir.RunDir({str(folder.path)!r}).owned():
            print("got it")
        except rundir.RunDirBusy as e:
          print("refused:", e)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, timeout=60).stdout
    assert out.startswith("refused:"), out
    assert f"pid {os.getpid()}" in out
  with folder.owned():  # released: the same process may take it again
    pass


def test_a_finished_run_is_never_overwritten(tmp_path):
  folder = rundir.RunDir(tmp_path)
  folder.write_status({"status": "completed"})
  with pytest.raises(FileExistsError, match="already holds a finished run"):
    with folder.owned():
      pass


@pytest.mark.parametrize("state", ["error", "interrupted"])
def test_a_run_stopped_before_its_first_step_is_replaced(
    tmp_path, state, snapshot):
  folder = rundir.RunDir(tmp_path)
  (tmp_path / "notes.txt").write_text("mine")
  folder.write_json(rundir.HPARAMS, {"learning_rate": 0.1})
  folder.write_status({"status": state, "steps_run": 0,
                       "message": f"bad ({rundir.REPLACEABLE_NOTE})"})
  assert folder.is_final() and folder.is_replaceable()
  with folder.owned():
    # The stopped run's files are gone; what is not a run file stays.
    assert snapshot(tmp_path) == {"notes.txt": b"mine"}


@pytest.mark.parametrize("status,files", [
    ({"status": "error", "steps_run": 3}, {"steps.csv": 3}),
    ({"status": "error", "steps_run": 0}, {"evals.csv.partial": "step\n",
                                           "steps.csv.partial": "step\n"}),
    ({"status": "diverged", "steps_run": 0}, {}),
])
def test_a_run_that_took_steps_or_ended_otherwise_is_kept(
    tmp_path, status, files, snapshot, steps_csv):
  folder = rundir.RunDir(tmp_path)
  folder.write_status(status)
  for name, text in files.items():  # an int: a steps table of that many rows
    (tmp_path / name).write_text(
        steps_csv(text) if isinstance(text, int) else text)
  before = snapshot(tmp_path)
  assert not folder.is_replaceable()
  with pytest.raises(rundir.RunDirFinished, match="already holds a finished"):
    with folder.owned():
      pass
  assert snapshot(tmp_path) == before


@pytest.mark.parametrize("status,reason", [
    ('{"status": "runn', r"status\.json: not valid JSON.*truncated"),
    ("", r"status\.json: empty"),
    (None, r"steps\.csv holds a complete table but .*status\.json is "
     "missing"),
    ('{"status": "running", "steps_run": 50}',
     r"steps\.csv holds a complete table but .*status\.json says 'running'"),
])
def test_a_run_that_cannot_be_read_is_moved_aside_untouched(
    tmp_path, caplog, status, reason, snapshot, steps_csv):
  run = tmp_path / "run"
  run.mkdir()
  (run / "steps.csv").write_text(steps_csv(100))
  (run / "meta.json").write_text('{"seed": 0}')
  if status is not None:
    (run / "status.json").write_text(status)
  before = snapshot(run)
  folder = rundir.RunDir(run)
  assert re.search(reason, folder.unreadable())
  with caplog.at_level(logging.WARNING, logger="edgeperf"):
    with folder.owned():
      assert list(run.iterdir()) == []  # a fresh folder for the new run
      folder.write_status({"status": "running"})
  (moved,) = [p for p in tmp_path.iterdir() if p.name != "run"]
  assert moved.name.startswith("run" + rundir.QUARANTINE_TAG)
  assert snapshot(moved) == before  # nothing lost or altered
  (warning,) = caplog.messages
  assert re.search(reason, warning) and str(moved) in warning


def test_a_run_cut_off_with_partial_tables_is_started_again(
    tmp_path, steps_csv):
  folder = rundir.RunDir(tmp_path / "run")
  with folder.owned():
    folder.write_status({"status": "running", "steps_run": 10})
    (tmp_path / "run" / "steps.csv.partial").write_text(steps_csv(10))
  assert folder.unreadable() is None and not folder.is_final()
  with folder.owned():
    pass
  assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing moved


def test_quarantine_moves_aside_and_refuses_a_held_folder(tmp_path, snapshot):
  run = tmp_path / "run"
  folder = rundir.RunDir(run)
  with folder.owned():
    with pytest.raises(rundir.RunDirBusy, match="in use by another run"):
      folder.quarantine()
  (run / "status.json").write_text("{")
  before = snapshot(run)
  first = folder.quarantine()
  run.mkdir()
  (run / "status.json").write_text("{")
  second = folder.quarantine()  # same second: a distinct name
  assert first != second and not run.exists()
  for moved in (first, second):
    assert os.path.basename(moved).startswith("run.unreadable-")
    assert snapshot(pathlib.Path(moved)) == before


def test_a_truncated_table_is_named(tmp_path, steps_csv):
  (tmp_path / "steps.csv").write_text(steps_csv(5)[:-7])
  with pytest.raises(rundir.RunDirError,
                     match=r"steps\.csv: its last line is cut off"):
    rundir.RunDir(tmp_path).table("steps")
