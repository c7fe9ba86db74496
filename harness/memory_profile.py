"""What one step costs in device memory: the constant-lr step against CDAT's.

CDAT (Roulet et al. 2024, Eq. 8) adds the directional curvature uᵀ∇²f u,
computed forward-over-forward (a jvp of a jvp) on the step's batch.  XLA's
memory analysis of one compiled step of each, from abstract shapes (nothing
allocated), says what that costs at a given model and batch size.  Recorded
in ``meta.json`` for the paper presets (``Workload.reference_memory``) and
tabled for every paper preset by ``python -m
edgeperf.benchmarks.paper_memory``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax

from edgeperf.harness import memory
from edgeperf.harness import parallel
from edgeperf.harness import step as step_lib
from edgeperf.submissions import loader
from edgeperf.workloads import base

REFERENCES = {
    "constant": ("constant", {"learning_rate": 1e-3}),
    "cdat": ("cdat", {"sigma": 2.0, "beta": 0.0}),  # jvp-of-jvp, every step
}
"""Name: (shipped submission, hyperparameters) of each reference step."""


def abstract_batch(workload: base.Workload,
                   plan: parallel.DataParallel | None = None) -> Any:
  """One step's batch as ``jax.ShapeDtypeStruct``s: the full train set
  (full batch) or one mini-batch, split over ``plan``'s devices."""
  n = (workload.num_train if workload.regime.is_full_batch else
       workload.regime.batch_size)
  sharding = None if plan is None else plan.batch_sharding(n)
  return {k: jax.ShapeDtypeStruct((n,) + v.shape[1:], v.dtype,
                                  sharding=sharding)
          for k, v in workload.train.items()}


def tuner_step_memory(workload: base.Workload, tx: Any,
                      plan: parallel.DataParallel | None = None
                      ) -> memory.StepMemory | None:
  """XLA's memory analysis of one harness step of ``tx`` on ``workload``
  (compiled for abstract shapes: nothing allocated).  A refreshing tuner's
  step is its first one, which refreshes (CDAT's uᵀ∇²f u is computed there;
  with ``every_k = 1`` every step is one)."""
  replicated = None if plan is None else plan.replicated
  params = parallel.abstract(workload.param_shapes(), replicated)
  opt_state = parallel.abstract(jax.eval_shape(tx.init, params), replicated)
  step = functools.partial(step_lib.make_train_step(workload, tx),
                           refresh=step_lib.refresh_schedule(tx)(0))
  return memory.step_memory(step, params, opt_state,
                            abstract_batch(workload, plan))


def reference_tuners() -> dict[str, Any]:
  """The constant-lr and CDAT tuners, built from the shipped submissions."""
  return {name: loader.load(submission).build(hparams)
          for name, (submission, hparams) in REFERENCES.items()}


def reference_memory(workload: base.Workload,
                     plan: parallel.DataParallel | None = None
                     ) -> dict[str, dict[str, int] | None]:
  """``{"constant": analysis, "cdat": analysis}`` of one step each."""
  out = {}
  for name, tx in reference_tuners().items():
    found = tuner_step_memory(workload, tx, plan)
    out[name] = None if found is None else found.as_dict()
  return out
