"""The ``submission.py`` an export writes (:mod:`.algoperf_export`), as a
``string.Template``: ``$NAME``, ``$PACKAGE``, ``$ENTRY`` (the vendored
module defining ``make_tuner``), ``$HORIZON``, ``$WEIGHT_DECAY``,
``$DEFAULT_WD`` and ``$FIXED`` are filled in."""

TEMPLATE = '''"""AlgoPerf JAX submission: the edgeperf tuner ``$NAME``, exported.

``update_params`` runs one step as edgeperf does: f(w) = L(w; batch) +
(wd/2)·||w||^2 with L from ``workload.model_fn`` and ``workload.loss_fn``
(wd: the ``$WEIGHT_DECAY`` hyperparameter), its gradient, then the
tuner's update, which also receives f's value, its gradient and f itself
(line searches and curvature estimates evaluate it), and its curvature
refresh on the tuner's schedule.  The tuner's code is vendored in
``$PACKAGE/``; nothing is imported from edgeperf.
"""

import importlib
import importlib.util
import os
import sys

import jax
import jax.numpy as jnp
import optax

from algoperf import spec

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = "$PACKAGE"
_HORIZON = $HORIZON  # make_tuner's schedule-horizon argument, if any
_WEIGHT_DECAY = $WEIGHT_DECAY
_DEFAULT_WEIGHT_DECAY = $DEFAULT_WD
_FIXED = $FIXED  # a self-tuning submission's fixed hyperparameters


def _vendored(module):
  """Imports ``module`` of the vendored package, registered under its name
  (replacing one of that name from another folder)."""
  here = os.path.join(_HERE, _PACKAGE)
  if list(getattr(sys.modules.get(_PACKAGE), "__path__", [])) != [here]:
    for name in [m for m in sys.modules if m.split(".")[0] == _PACKAGE]:
      del sys.modules[name]
    location = importlib.util.spec_from_file_location(
        _PACKAGE, os.path.join(_HERE, _PACKAGE, "__init__.py"),
        submodule_search_locations=[here])
    package = importlib.util.module_from_spec(location)
    sys.modules[_PACKAGE] = package
    location.loader.exec_module(package)
  return importlib.import_module(module)


_tuner = _vendored("$ENTRY")
_api = _vendored(_PACKAGE + ".submissions.api")


class _Step:
  """One tuner's jitted step on one workload (hashable by identity)."""

  def __init__(self, workload, tx, weight_decay):
    self.workload, self.tx, self.weight_decay = workload, tx, weight_decay
    self.refreshing = _api.is_refreshing(tx)
    # nothing donated: a tuner state may hold the same array twice
    self.jitted = jax.jit(self.step, static_argnums=(5,))

  def objective(self, params, batch, model_state, rng):
    logits, _ = self.workload.model_fn(
        params, batch, model_state, spec.ForwardPassMode.TRAIN, rng,
        update_batch_norm=False, dropout_rate=0.0)
    out = self.workload.loss_fn(batch["targets"], logits,
                                batch.get("weights"), 0.0)
    squares = sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(params))
    return (out["summed"] / out["n_valid_examples"] +
            0.5 * self.weight_decay * squares)

  def step(self, params, opt_state, batch, model_state, rng, refresh):
    def value_fn(p):
      return self.objective(p, batch, model_state, rng)

    value, grad = jax.value_and_grad(value_fn)(params)
    updates, opt_state = _api.update_with_refresh(
        self.tx, grad, opt_state, params, refresh=refresh, value=value,
        grad=grad, value_fn=value_fn)
    return optax.apply_updates(params, updates), opt_state

  def refreshes(self, step):
    return self.refreshing and _api.refreshes_at(self.tx.every_k, step,
                                                 self.tx.warmup)


def _build(workload, hyperparameters):
  values = (dict(_FIXED) if hyperparameters is None
            else dict(hyperparameters._asdict()))
  weight_decay = float(values.pop(_WEIGHT_DECAY, _DEFAULT_WEIGHT_DECAY))
  if _HORIZON is not None and _HORIZON not in values:
    values[_HORIZON] = int(workload.step_hint)
  tx = _tuner.make_tuner(**values)
  if not (isinstance(tx, optax.GradientTransformationExtraArgs) or
          _api.is_refreshing(tx)):
    tx = optax.with_extra_args_support(tx)
  return _Step(workload, tx, weight_decay)


def init_optimizer_state(workload, model_params, model_state,
                         hyperparameters, rng):
  """``(tuner state, step)``."""
  del model_state, rng
  step = _build(workload, hyperparameters)
  return step.tx.init(model_params), step


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type,
                  optimizer_state, eval_results, global_step, rng,
                  train_state=None):
  """One edgeperf step; returns (optimizer_state, params, model_state)."""
  del workload, current_params_types, hyperparameters, loss_type
  del eval_results, train_state
  opt_state, step = optimizer_state
  params, opt_state = step.jitted(current_param_container, opt_state, batch,
                                  model_state, rng,
                                  bool(step.refreshes(global_step)))
  return (opt_state, step), params, model_state


def get_batch_size(workload_name):
  """edgeperf's tuners set no batch size: AlgoPerf's baseline sizes."""
  return _BATCH_SIZES.get(workload_name, 128)


_BATCH_SIZES = {"criteo1tb": 262_144, "fastmri": 32, "imagenet_resnet": 1024,
                "imagenet_vit": 1024, "librispeech_conformer": 256,
                "librispeech_deepspeech": 256, "ogbg": 512, "wmt": 128,
                "mnist": 16, "cifar": 32}


def data_selection(workload, input_queue, optimizer_state,
                   current_param_container, model_state, hyperparameters,
                   global_step, rng):
  """The next batch of the queue."""
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
'''
