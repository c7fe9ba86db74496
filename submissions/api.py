"""The submission contract: what a tuner is, and how the harness reads it.

A submission is a folder holding ``submission.py`` and ``search_space.json``.
``submission.py`` defines one entry point::

    def make_tuner(**hparams) -> optax.GradientTransformationExtraArgs

and may define the evaluation hook (AlgoPerf's ``prepare_for_eval``)::

    def prepare_for_eval(opt_state, params) -> params

which gives the parameters to evaluate (schedule-free evaluates its average,
not the point it trains at).  Without it, the training parameters are
evaluated.

The transformation's ``update`` is called by the harness as::

    updates, state = tx.update(grad, state, params,
                               value=f(w_t), grad=grad, value_fn=f)

where ``value_fn`` is the training objective on the current batch (a pure
function of the parameters), so linesearches and curvature denominators can be
computed inside ``update``.  The harness applies ``updates`` with
``optax.apply_updates``: the transformation returns the full step
``η_t · u_t``, not the direction alone.

What a tuner applied and spent: its state holds exactly one
:class:`TunerStats` (anywhere in the pytree), with the learning rate of the
step and the extra evaluations it cost beyond the harness's one
value_and_grad.  :func:`step_info` is the one function that reads it; it
finds it by type and refuses a state holding two.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Union

import jax
import jax.numpy as jnp
import optax

from edgeperf import _checks

EVAL_COUNTERS = ("value_evals", "grad_evals", "jvp_evals", "hvp_evals")
"""Names of the per-step extra-evaluation counters of :class:`TunerStats`."""


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


def find_stats(state: Any) -> TunerStats | None:
  """The one :class:`TunerStats` in a state pytree (None if there is none).

  Raises:
    ValueError: the state holds more than one, naming where.
  """
  is_stats = lambda x: isinstance(x, TunerStats)
  leaves = jax.tree_util.tree_flatten_with_path(state, is_leaf=is_stats)[0]
  found = [(path, leaf) for path, leaf in leaves if is_stats(leaf)]
  if len(found) > 1:
    where = ", ".join("state" + jax.tree_util.keystr(p) for p, _ in found)
    raise ValueError(
        f"the tuner state holds {len(found)} TunerStats ({where}); exactly "
        "one must say what the step applied (a chain of two tuners? keep the "
        "stats in the last one)")
  return found[0][1] if found else None


def step_info(state: Any) -> dict[str, jax.Array]:
  """Reads the learning rate and extra-evaluation counts from a tuner state.

  Works inside ``jit``.  A state with no :class:`TunerStats` gives NaN for
  the rate and 0 for the counters.

  Returns:
    ``{"learning_rate": f32[], "value_evals": i32[], ...}`` for every name in
    :data:`EVAL_COUNTERS`.
  """
  found = find_stats(state)
  if found is None:
    found = tuner_stats(jnp.nan)
  info = {"learning_rate": jnp.asarray(found.learning_rate, jnp.float32)}
  for name in EVAL_COUNTERS:
    info[name] = jnp.asarray(getattr(found, name), jnp.int32)
  return info


# --------------------------------------------------------- base directions --

BASE_OPTIMIZERS = ("gd", "momentum", "rmsprop", "adam")
"""Base directions u_t every tuner composes with."""


def base_direction(name: str) -> optax.GradientTransformation:
  """The base optimizer direction u_t as an optax transformation.

  Maps the gradient g_t to u_t so that w_{t+1} = w_t + η_t u_t, with optax's
  default hyperparameters as in Roulet et al. (2024), App. C:

  * ``gd``: u = −g.
  * ``momentum``: u = −m, m_t = g_t + 0.9 m_{t−1} (optax.trace, decay 0.9).
  * ``rmsprop``: u = −g / (sqrt(ν_t) + ε), ν_t EMA of g² with decay 0.999.
  * ``adam``: u = −m̂ / (sqrt(ν̂) + ε), b1 = 0.9, b2 = 0.999.

  Raises:
    ValueError: an unknown name, listing the valid ones.
  """
  _checks.one_of("base optimizer", name, BASE_OPTIMIZERS)
  inner = {
      "gd": optax.identity,
      "momentum": lambda: optax.trace(decay=0.9),
      "rmsprop": lambda: optax.scale_by_rms(decay=0.999, eps=1e-8,
                                            eps_in_sqrt=False),
      "adam": lambda: optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8),
  }[name]()
  return optax.chain(inner, optax.scale(-1.0))


# ------------------------------------------------------ helpers for tuners --

def float_dtype(tree: Any) -> Any:
  """The widest floating dtype among a pytree's leaves (f32 if none is)."""
  dtypes = [jnp.asarray(x).dtype for x in jax.tree.leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]
  return jnp.result_type(*dtypes) if dtypes else jnp.float32


def safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
  """num / den where den > 0, else 0 (no NaN in either branch's gradient)."""
  ok = den > 0
  return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


class ExposedState(NamedTuple):
  """State of :func:`expose_learning_rate`."""

  stats: TunerStats  # learning_rate f32[] = the inner's effective rate
  inner: Any  # the wrapped optimizer's state


def expose_learning_rate(
    inner: optax.GradientTransformation,
    learning_rate_fn: Callable[[Any, Any], jax.Array],
) -> optax.GradientTransformationExtraArgs:
  """Wraps an optimizer so that the rate it applied lands in TunerStats.

  ``learning_rate_fn(old, new)`` gets the inner state before and after the
  update, so it can read whichever the inner applied (e.g. DoG's rate from
  the new state, Prodigy's d from the old one).  No extra evaluations.
  """
  inner = optax.with_extra_args_support(inner)

  def init(params):
    return ExposedState(stats=tuner_stats(0.0), inner=inner.init(params))

  def update(updates, state, params=None, **extra):
    new_updates, new_inner = inner.update(updates, state.inner, params,
                                          **extra)
    rate = learning_rate_fn(state.inner, new_inner)
    return new_updates, ExposedState(stats=tuner_stats(rate), inner=new_inner)

  return optax.GradientTransformationExtraArgs(init, update)


def keep_params(opt_state: Any, params: Any) -> Any:
  """The default evaluation hook: evaluate the training parameters."""
  del opt_state
  return params


PrepareForEval = Callable[[Any, Any], Any]
"""``(opt_state, params) -> params to evaluate`` (see the module docstring)."""


def check_base_optimizer(tuner: str, name: str,
                         supported: tuple[str, ...]) -> None:
  """Refuses a base direction a tuner does not support (its module's
  ``SUPPORTED_BASE_OPTIMIZERS``), e.g. Prodigy, which is Adam-based."""
  _checks.one_of("base optimizer", name, BASE_OPTIMIZERS)
  if name not in supported:
    raise ValueError(f"{tuner} supports base_optimizer {supported} only, got "
                     f"{name!r}")


# ------------------------------------------------------- curvature refresh --

RefreshFn = Callable[..., Any]
"""``refresh(state, params, *, updates, grad, value, value_fn) -> state``."""


class RefreshingTransformation(NamedTuple):
  """A tuner whose curvature estimate is refreshed every k steps.

  The harness calls ``refresh`` at steps 0, k, 2k, … (``every_k`` = k), or
  at step 0 only (``every_k`` = None), and at every step t < ``warmup``
  (the early transient, where curvature changes too fast for a stale or
  free estimate), just before that step's ``update``,
  with ``updates`` = the direction the transformation is about to receive
  at that step, ``grad`` = g_t, ``value`` = f(w_t) and ``value_fn`` = f on
  the step's batch.  ``update`` only reads what the last refresh stored.
  The schedule is static: within a chunk the harness runs a refresh, then k
  updates, with no per-step branch.  ``refresh_cost`` counts the extra
  evaluations one refresh spends (:data:`EVAL_COUNTERS` names); the harness
  adds them to the record of the step the refresh precedes.
  """

  init: Callable[[Any], Any]  # params -> state
  update: Callable[..., tuple[Any, Any]]  # as optax's, extra arguments on
  refresh: RefreshFn  # (state, params, *, updates, grad, value, value_fn)
  every_k: int | None  # refresh period k ≥ 1, or None: at step 0 only
  refresh_cost: Mapping[str, int]  # extra evaluations of one refresh
  warmup: int = 0  # refresh before every step t < warmup as well


Tuner = Union[optax.GradientTransformation,
              optax.GradientTransformationExtraArgs,
              RefreshingTransformation]
"""What ``make_tuner`` returns: an optax transformation (its ``update`` may
take the extra arguments ``value``, ``grad``, ``value_fn``) or a
:class:`RefreshingTransformation`."""


def update_with_refresh(tx: Any, updates: Any, state: Any, params: Any, *,
                        refresh: bool, **extra: Any) -> tuple[Any, Any]:
  """One call of a tuner: its refresh first (where ``refresh`` and ``tx``
  has one, on the same ``updates`` and extra arguments), then its update."""
  if refresh and is_refreshing(tx):
    state = tx.refresh(state, params, updates=updates, **extra)
  return tx.update(updates, state, params, **extra)


def check_every_k(every_k: Any) -> None:
  """A refresh period is an int ≥ 1 (or None: at step 0 only)."""
  if every_k is not None:
    _checks.integer("every_k (the refresh period)", every_k, low=1)


def check_warmup(warmup: Any) -> None:
  """A refresh warm-up is an int ≥ 0 (steps refreshed before every step)."""
  _checks.integer("refresh warmup (steps refreshed every step)", warmup,
                  low=0)


def with_refresh(tx: optax.GradientTransformationExtraArgs,
                 refresh: RefreshFn, *, every_k: int | None,
                 cost: Mapping[str, int] | None = None, warmup: int = 0
                 ) -> RefreshingTransformation:
  """Adds a curvature refresh to a transformation (see
  :class:`RefreshingTransformation`)."""
  check_every_k(every_k)
  check_warmup(warmup)
  cost = dict(cost or {})
  for name, count in cost.items():
    _checks.one_of("evaluation counter", name, EVAL_COUNTERS)
    _checks.integer(f"refresh cost {name}", count, low=0)
  tx = optax.with_extra_args_support(tx)
  return RefreshingTransformation(tx.init, tx.update, refresh, every_k, cost,
                                  warmup)


def is_refreshing(tx: Any) -> bool:
  return isinstance(tx, RefreshingTransformation)


def refreshes_at(every_k: int | None, step: int, warmup: int = 0) -> bool:
  """Whether a transformation refreshing every ``every_k`` steps (and at
  every step before ``warmup``) refreshes before step ``step``."""
  if step < warmup:
    return True
  return step == 0 if every_k is None else step % every_k == 0


def chain(*transforms: Any) -> Any:
  """``optax.chain`` that also composes curvature refreshes.

  Without a :class:`RefreshingTransformation` among ``transforms`` this is
  ``optax.chain``.  Otherwise the result refreshes every element that has a
  refresh, each with ``updates`` = the direction entering that element at
  this step (the earlier elements' updates applied to the gradient, their
  new states discarded: the step's own update recomputes them).  Refreshing
  elements must share one period.
  """
  refreshing = [i for i, t in enumerate(transforms) if is_refreshing(t)]
  plain = optax.chain(*(optax.GradientTransformationExtraArgs(t.init, t.update)
                        if is_refreshing(t) else t for t in transforms))
  if not refreshing:
    return plain
  periods = {(transforms[i].every_k, transforms[i].warmup)
             for i in refreshing}
  if len(periods) > 1:
    raise ValueError(f"chained refreshes must share one schedule, got "
                     f"(every_k, warmup) {sorted(periods, key=str)}")
  cost: dict[str, int] = {}
  for i in refreshing:
    for name, count in transforms[i].refresh_cost.items():
      cost[name] = cost.get(name, 0) + count
  elements = [optax.with_extra_args_support(
      optax.GradientTransformationExtraArgs(t.init, t.update)
      if is_refreshing(t) else t) for t in transforms]

  def refresh(state, params, *, updates, **extra):
    new_state = list(state)
    for i, element in enumerate(elements):
      if i in refreshing:
        new_state[i] = transforms[i].refresh(state[i], params,
                                             updates=updates, **extra)
      if i < refreshing[-1]:
        updates, _ = element.update(updates, state[i], params, **extra)
    return tuple(new_state)

  every_k, warmup = periods.pop()
  return RefreshingTransformation(plain.init, plain.update, refresh,
                                  every_k, cost, warmup)
