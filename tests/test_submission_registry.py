"""Every shipped submission runs, on every embedded workload and base optimizer.

A few full-batch steps each, on a 32-example slice of the training set and a
shrunk model of the same family (one layer/width 16 for the transformer, one
4-channel conv layer for the CNN, one 16-unit hidden layer for the MLP), to
keep compilation and steps cheap: the objective stays finite and the learning rate
the tuner applied is logged (finite, not the NaN of a missing TunerStats).
"""

import dataclasses
import importlib

import jax
import numpy as np
import pytest

from edgeperf.harness import step as step_lib
from edgeperf.submissions import api
from edgeperf.submissions import loader
from edgeperf.workloads import models
from edgeperf.workloads import registry

STEPS = 3
NUM_EXAMPLES = 32
SUBMISSIONS = loader.available()


def _supported(name):
  module = importlib.import_module(f"edgeperf.submissions.{name}.submission")
  return tuple(getattr(module, "SUPPORTED_BASE_OPTIMIZERS",
                       api.BASE_OPTIMIZERS))


def _hparams(submission, base_optimizer):
  """The first point of the search space, on the given base optimizer."""
  hp = {h.name: (h.values[0] if h.is_finite else h.from_unit(0.5))
        for h in submission.search_space.hyperparameters}
  hp["base_optimizer"] = base_optimizer
  return hp


_WORKLOADS = {}


def _workload(name):
  if name not in _WORKLOADS:
    wl = registry.get(name)
    small = {k: v[:NUM_EXAMPLES] for k, v in wl.train.items()}
    model = wl.model
    if isinstance(model, models.CharTransformer):
      model = dataclasses.replace(model, d_model=16, num_heads=2,
                                  num_layers=1)
    elif isinstance(model, models.SmallCNN):
      model = dataclasses.replace(model, channels=(4,))
    elif isinstance(model, models.MLP):
      model = dataclasses.replace(model, hidden=(16,))
    wl = dataclasses.replace(wl, train=small, model=model)
    _WORKLOADS[name] = (wl, wl.init(jax.random.PRNGKey(0)),
                        wl.full_train_batch())
  return _WORKLOADS[name]


def _run(name, base_optimizer, workload_name):
  submission = loader.load(name)
  tx = submission.build(_hparams(submission, base_optimizer))
  wl, params, batch = _workload(workload_name)
  state = tx.init(params)
  structure = step_lib.segments(0, STEPS, step_lib.refresh_schedule(tx))
  chunk = step_lib.CompiledChunk(step_lib.make_train_step(wl, tx), "loop",
                                 STEPS, True, (params, state, batch),
                                 structure=structure)
  _, _, records = chunk(params, state, batch)
  objective = np.asarray(records["objective"])
  rate = np.asarray(records["learning_rate"])
  assert objective.shape == (STEPS,)
  assert np.all(np.isfinite(objective)), (name, workload_name, objective)
  assert np.all(np.isfinite(rate)), (name, workload_name, rate)
  assert np.all(rate >= 0), (name, workload_name, rate)
  for counter in api.EVAL_COUNTERS:
    assert np.all(np.asarray(records[counter]) >= 0)


def test_every_submission_declares_a_usable_search_space():
  expected = {"constant", "cdat", "qg", "armijo", "polyak", "hypergradient",
              "exact_sharpness", "warmup_schedule", "fractal_chebyshev", "dog",
              "prodigy", "mechanic", "dadapt", "schedule_free"}
  assert expected <= set(SUBMISSIONS)
  for name in SUBMISSIONS:
    submission = loader.load(name)
    supported = _supported(name)
    assert set(supported) <= set(api.BASE_OPTIMIZERS)
    submission.build(_hparams(submission, supported[0]))  # builds, no error
    if submission.search_space.ruleset == "self":
      assert all(h.is_fixed for h in submission.search_space.hyperparameters)


@pytest.mark.slow
@pytest.mark.parametrize("workload_name", registry.EMBEDDED)
@pytest.mark.parametrize("name", SUBMISSIONS)
def test_submission_runs_on_every_embedded_workload(name, workload_name):
  _run(name, _supported(name)[0], workload_name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBMISSIONS)
def test_submission_runs_on_every_supported_base_optimizer(name):
  for base_optimizer in _supported(name)[1:]:
    _run(name, base_optimizer, "linreg_digits")


def test_unsupported_base_optimizer_fails_clearly():
  for name in ("prodigy", "dadapt"):
    submission = loader.load(name)
    with pytest.raises(ValueError, match="adam"):
      submission.build(_hparams(submission, "gd"))
