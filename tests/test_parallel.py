"""Data parallelism: the runner on 4 simulated CPU devices (a subprocess with
``--xla_force_host_platform_device_count=4``) gives the 1-device loss curve,
full batch and mini-batch, and records the placement."""

import inspect
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from edgeperf.harness import parallel
from edgeperf.harness import runner
from edgeperf.submissions import loader

# float32: only the order of the batch sums (the gradient all-reduce)
# differs between 1 and 4 devices.
RTOL = 1e-5
REGIMES = {"full": dict(batch_size=None, chunk_mode="scan"),
           "mini": dict(batch_size=256, chunk_mode="loop")}
STEPS, EVAL_EVERY, LR = 6, 3, 0.1



def make_workload(batch_size):
  """``mlp_mnist`` (1,024 real digits: 256 per device) with a narrow MLP."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from edgeperf import workloads  # pylint: disable=g-import-not-at-top
  from edgeperf.workloads import models  # pylint: disable=g-import-not-at-top
  return dataclasses.replace(
      workloads.get("mlp_mnist", batch_size=batch_size),
      model=models.MLP((64,), 10),
      init_compiler_options={"xla_backend_optimization_level": 0})


_SCRIPT = inspect.getsource(make_workload) + textwrap.dedent("""
    import json, sys
    import jax
    from edgeperf.harness import parallel, rundir, runner
    from edgeperf.submissions import loader

    assert jax.local_device_count() == 4, jax.devices()
    regimes, steps, eval_every, lr, out_dir = json.loads(sys.argv[1])
    tx = loader.load("constant").build({"learning_rate": lr})
    out = {"odd_batch": parallel.auto_plan().describe(30)}
    for name, regime in regimes.items():
      workload = make_workload(regime["batch_size"])
      folder = f"{out_dir}/{name}"
      result = runner.run(workload, tx, max_steps=steps,
                          eval_every=eval_every, run_dir=folder,
                          chunk_mode=regime["chunk_mode"], progress=False)
      out[name] = {"objective": result.steps["objective"].tolist(),
                   "train_objective": result.evals["train_objective"]
                   .tolist(), "meta": rundir.RunDir(folder).meta()}
    print("RESULT" + json.dumps(out))
""")


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                      " --xla_force_host_platform_device_count=4").strip()
  args = json.dumps([REGIMES, STEPS, EVAL_EVERY, LR,
                     str(tmp_path_factory.mktemp("four"))])
  proc = subprocess.run([sys.executable, "-c", _SCRIPT, args], env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
  return json.loads(line[len("RESULT"):])


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
  assert jax.local_device_count() == 1
  tx = loader.load("constant").build({"learning_rate": LR})
  out = {}
  for name, regime in REGIMES.items():
    folder = tmp_path_factory.mktemp("one") / name
    result = runner.run(make_workload(regime["batch_size"]), tx,
                        max_steps=STEPS, eval_every=EVAL_EVERY,
                        run_dir=str(folder), chunk_mode=regime["chunk_mode"],
                        progress=False)
    out[name] = {"objective": result.steps["objective"].tolist(),
                 "train_objective": result.evals["train_objective"].tolist(),
                 "meta": json.loads((folder / "meta.json").read_text())}
  return out


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_four_devices_give_the_one_device_curve(four_devices, one_device,
                                                regime):
  one, four = one_device[regime], four_devices[regime]
  assert len(one["objective"]) == STEPS
  assert one["objective"][-1] < one["objective"][0]  # it trains
  np.testing.assert_allclose(four["objective"], one["objective"], rtol=RTOL)
  np.testing.assert_allclose(four["train_objective"], one["train_objective"],
                             rtol=RTOL)


@pytest.mark.parametrize("regime", sorted(REGIMES))
def test_the_placement_is_recorded(four_devices, one_device, regime):
  one, four = one_device[regime]["meta"], four_devices[regime]["meta"]
  assert one["fingerprint"]["device_count"] == 1
  assert one["data_parallel"] is None
  assert four["fingerprint"]["device_count"] == 4
  assert four["hardware_id"] != one["hardware_id"]
  batch = REGIMES[regime]["batch_size"] or 1024
  assert four["data_parallel"] == {"devices": 4, "axis": "data",
                                   "batch": batch, "batch_placement": "split"}
  # Per device: a quarter of the batch, the parameters whole.
  args_one = one["memory"]["program"]["argument_bytes"]
  args_four = four["memory"]["program"]["argument_bytes"]
  assert args_four < args_one


def test_a_batch_the_devices_do_not_divide_is_replicated(four_devices):
  assert four_devices["odd_batch"]["batch_placement"] == (
      "replicated (30 is not a multiple of 4 devices)")


def test_one_device_gets_no_plan():
  assert parallel.auto_plan() is None
  assert parallel.auto_plan([jax.devices()[0]]) is None
