"""Device memory: XLA's memory analysis of a run's first chunk and of the
constant-lr and CDAT steps, recorded in meta.json, and the refusal of a run
that would not fit, before anything is allocated."""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from edgeperf.harness import memory
from edgeperf.harness import runner
from edgeperf.submissions import loader
from edgeperf.workloads import base
from edgeperf.workloads import paper_presets


def test_the_budget_adds_up_and_names_every_number():
  step = memory.StepMemory(argument_bytes=100 * 2**20, output_bytes=2**20,
                           temp_bytes=50 * 2**20, alias_bytes=2**20,
                           generated_code_bytes=0)
  assert step.peak_bytes == 150 * 2**20
  fits = memory.Budget(step, resident_bytes=10 * 2**20,
                       limit_bytes=200 * 2**20, limit_source="a test")
  assert fits.need_bytes == 160 * 2**20 and fits.fits()
  fits.check("workload x")  # no error
  tight = memory.Budget(step, resident_bytes=10 * 2**20,
                        limit_bytes=170 * 2**20, limit_source="a test")
  assert not tight.fits() and tight.record()["fits"] is False
  with pytest.raises(memory.InsufficientMemoryError) as info:
    tight.check("workload x/paper/full")
  text = str(info.value)
  assert "\n" not in text
  for part in ("workload x/paper/full needs 160.0 MiB per device",
               "arguments 100.0 MiB + outputs 1.0 MiB + temporaries 50.0 MiB"
               " - aliased 1.0 MiB", "evaluation sets 10.0 MiB",
               "but 153.0 MiB may be used (90% of 170.0 MiB free, from a "
               "test)", "refused before it started"):
    assert part in text, text
  unknown = memory.Budget(step, 0, limit_bytes=None, limit_source="?")
  assert unknown.fits()


def test_memory_analysis_of_abstract_shapes_allocates_nothing():
  big = jax.ShapeDtypeStruct((20_000, 20_000), np.float32)  # 1.6 GB each
  found = memory.step_memory(lambda x, y: (x @ y).sum(), big, big)
  assert found.argument_bytes == 2 * 20_000 * 20_000 * 4


def test_the_cpu_limit_is_the_available_ram():
  limit, source = memory.device_limit()
  assert limit > 2**20 and "RAM" in source


def test_a_paper_preset_is_refused_before_anything_is_allocated(tmp_path):
  # mlp256x3_mnist at paper size (8,192 MNIST images) on shapes only: every
  # example is a zero-stride view, so nothing was read or allocated.
  p = paper_presets.preset("mlp256x3_mnist", "paper")
  made = paper_presets.build("mlp256x3_mnist", "paper", None,
                             mini_batch=False,
                             data=paper_presets.abstract(p, mini_batch=False))
  workload = made.workload(name="mlp256x3_mnist", size="paper",
                           regime=base.FULL_BATCH)
  assert workload.train["inputs"].strides[0] == 0
  tx = loader.load("constant").build({"learning_rate": 0.1})
  with pytest.raises(memory.InsufficientMemoryError,
                     match="workload mlp256x3_mnist/paper/full needs"):
    runner.run(workload, tx, run_dir=str(tmp_path), chunk_mode="loop",
               memory_limit_bytes=16 * 2**20, progress=False)
  meta = json.loads((tmp_path / "meta.json").read_text())
  status = json.loads((tmp_path / "status.json").read_text())
  assert status["status"] == "error" and status["steps_run"] == 0
  assert "InsufficientMemoryError" in status["message"]
  assert not (tmp_path / "steps.csv").exists()
  record = meta["memory"]
  assert record["fits"] is False and record["limit_bytes"] == 16 * 2**20
  # The step holds the 8,192 images and the 335,114 parameters, at least.
  assert record["program"]["argument_bytes"] >= 4 * (8192 * 784 + 335_114)
  assert record["need_bytes"] > 0.9 * record["limit_bytes"]
  # The paper presets record one constant-lr and one CDAT step; in loop
  # mode the run's own program is the constant step.
  reference = meta["reference_memory"]
  assert reference["constant"] == record["program"]
  assert reference["cdat"]["temp_bytes"] > reference["constant"]["temp_bytes"]


def test_the_command_line_refusal_is_one_line(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "edgeperf.cli.run",
       "--workload=linreg_digits", "--submission=constant",
       '--hparams={"learning_rate": 0.1}', "--device_memory_gb=0.0001",
       f"--output_dir={tmp_path}", "--noprogress"],
      capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 1
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
  assert lines[0].startswith(
      "edgeperf-run: run failed: InsufficientMemoryError: workload "
      "linreg_digits/small/full needs ")
  assert "(90% of 0.1 MiB free, from the limit given to the run)" in lines[0]
  status = json.loads((tmp_path / "status.json").read_text())
  assert status["status"] == "error" and status["steps_run"] == 0
