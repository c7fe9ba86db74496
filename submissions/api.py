"""The submission contract: what a tuner is, and how the harness reads it.

A submission is a folder holding ``submission.py`` and ``search_space.json``.
``submission.py`` defines one entry point::

    def make_tuner(**hparams) -> optax.GradientTransformationExtraArgs

The transformation's ``update`` is called by the harness as::

    updates, state = tx.update(grad, state, params,
                               value=f(w_t), grad=grad, value_fn=f)

where ``value_fn`` is the training objective on the current batch (a pure
function of the parameters), so linesearches and curvature denominators can be
computed inside ``update``.  The harness applies ``updates`` with
``optax.apply_updates``: the transformation returns the full step
``η_t · u_t``, not the direction alone.

Convention for the learning rate (and the cost) a tuner applied: somewhere in
its state pytree a NamedTuple carries a field named ``learning_rate`` (f32[]).
The first such NamedTuple in depth-first order wins; the same NamedTuple may
also carry the counters of :data:`EVAL_COUNTERS` (i32[], extra objective /
gradient / jvp / hvp evaluations spent *this step* beyond the harness's one
value_and_grad).  :class:`TunerStats` is the ready-made carrier, and
:func:`step_info` is the one function that reads it.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

EVAL_COUNTERS = ("value_evals", "grad_evals", "jvp_evals", "hvp_evals")
"""Names of the per-step extra-evaluation counters a tuner may expose."""


class TunerStats(NamedTuple):
  """What a tuner applied and spent at its latest step (the harness reads it)."""

  learning_rate: jax.Array  # f32[], step size η_t applied this step
  value_evals: jax.Array  # i32[], extra objective evaluations this step
  grad_evals: jax.Array  # i32[], extra gradient evaluations this step
  jvp_evals: jax.Array  # i32[], jvp passes (a jvp-of-jvp counts 2) this step
  hvp_evals: jax.Array  # i32[], Hessian-vector products this step


def tuner_stats(learning_rate: Any = 0.0, *, value_evals: Any = 0,
                grad_evals: Any = 0, jvp_evals: Any = 0,
                hvp_evals: Any = 0) -> TunerStats:
  """Builds a :class:`TunerStats` with the right dtypes (f32 rate, i32 counts)."""
  i32 = lambda x: jnp.asarray(x, jnp.int32)
  return TunerStats(
      learning_rate=jnp.asarray(learning_rate, jnp.float32),
      value_evals=i32(value_evals), grad_evals=i32(grad_evals),
      jvp_evals=i32(jvp_evals), hvp_evals=i32(hvp_evals))


def _is_namedtuple(x: Any) -> bool:
  return isinstance(x, tuple) and hasattr(x, "_fields")


def find_in_state(state: Any, predicate: Callable[[Any], bool]) -> Any | None:
  """The first node of a state pytree satisfying ``predicate``, depth first.

  Children are visited in order (NamedTuples, tuples, lists) or by sorted key
  (dicts); a node that satisfies ``predicate`` is returned without looking
  inside it.  Returns None when no node does.
  """
  if predicate(state):
    return state
  if isinstance(state, dict):
    children = [state[k] for k in sorted(state)]
  elif isinstance(state, (tuple, list)):
    children = list(state)
  else:
    return None
  for child in children:
    found = find_in_state(child, predicate)
    if found is not None:
      return found
  return None


def _find_stats(state: Any) -> Any | None:
  """The first NamedTuple with a ``learning_rate`` field."""
  return find_in_state(
      state, lambda x: _is_namedtuple(x) and "learning_rate" in x._fields)


def step_info(state: Any) -> dict[str, jax.Array]:
  """Reads the learning rate and extra-evaluation counts from a tuner state.

  Works inside ``jit``.  A state with no ``learning_rate`` field gives NaN for
  the rate; a missing counter reads as 0.

  Returns:
    ``{"learning_rate": f32[], "value_evals": i32[], ...}`` for every name in
    :data:`EVAL_COUNTERS`.
  """
  found = _find_stats(state)
  info = {"learning_rate": jnp.asarray(jnp.nan, jnp.float32)}
  for name in EVAL_COUNTERS:
    info[name] = jnp.asarray(0, jnp.int32)
  if found is None:
    return info
  info["learning_rate"] = jnp.asarray(found.learning_rate, jnp.float32)
  for name in EVAL_COUNTERS:
    if name in found._fields:
      info[name] = jnp.asarray(getattr(found, name), jnp.int32)
  return info


BASE_OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
"""Base directions u_t every tuner composes with (PAPER.md, Vocabulary)."""


def base_direction(name: str) -> optax.GradientTransformation:
  """The base optimizer direction u_t as an optax transformation.

  Maps the gradient g_t to u_t so that w_{t+1} = w_t + η_t u_t:
    * ``gd``: u = −g.
    * ``momentum``: u = −m, m_t = g_t + 0.9 m_{t−1} (optax.trace, decay 0.9).
    * ``rmsprop``: u = −g / (sqrt(ν_t) + ε), ν_t EMA of g² with decay 0.999.
    * ``adam``: u = −m̂ / (sqrt(ν̂) + ε), b1 = 0.9, b2 = 0.999 (optax defaults).

  Args:
    name: one of :data:`BASE_OPTIMIZERS`.

  Raises:
    ValueError: for an unknown name, listing the valid ones.
  """
  if name == "gd":
    inner = optax.identity()
  elif name == "momentum":
    inner = optax.trace(decay=0.9)
  elif name == "rmsprop":
    inner = optax.scale_by_rms(decay=0.999, eps=1e-8, eps_in_sqrt=False)
  elif name == "adam":
    inner = optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8)
  else:
    raise ValueError(
        f"unknown base optimizer {name!r}; expected one of {BASE_OPTIMIZERS}")
  return optax.chain(inner, optax.scale(-1.0))


class ConstantLRState(NamedTuple):
  """State of :func:`scale_by_constant_lr`."""

  stats: TunerStats  # learning_rate f32[] = η, counters i32[] = 0


def scale_by_constant_lr(
    learning_rate: float) -> optax.GradientTransformationExtraArgs:
  """Multiplies the direction by a fixed η and exposes η in its state.

  Implements w_{t+1} = w_t + η u_t with η constant (PAPER.md tuner 8).
  """
  if not learning_rate > 0:
    raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")

  def init(params):
    del params
    return ConstantLRState(stats=tuner_stats(learning_rate))

  def update(updates, state, params=None, **extra):
    del params, extra
    updates = optax.tree.scale(learning_rate, updates)
    return updates, state

  return optax.GradientTransformationExtraArgs(init, update)


def eval_params(state: Any, params: Any) -> Any:
  """The parameters to evaluate: ``params``, or a schedule-free average.

  Schedule-free (optax.contrib.schedule_free) trains at the interpolated
  point y_t but returns the average x_t; when a ``ScheduleFreeState`` is in
  the tuner state, evaluation uses ``schedule_free_eval_params``.
  """
  from optax import contrib  # pylint: disable=g-import-not-at-top

  sf_state = find_in_state(
      state, lambda x: isinstance(x, contrib.ScheduleFreeState))
  if sf_state is None:
    return params
  return contrib.schedule_free_eval_params(sf_state, params)


ValueFn = Callable[[optax.Params], jax.Array]
