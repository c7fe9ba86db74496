"""The run folder: its owner, its encoding, and errors that name the file."""

import math
import os
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


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(
    tmp_path):
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
