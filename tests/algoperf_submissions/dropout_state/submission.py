"""Plain SGD that splits its rng for dropout, passes dropout_rate to
model_fn and keeps a step counter in model_state (AlgoPerf JAX API)."""

import jax
import jax.numpy as jnp

from algoperf import spec


def init_optimizer_state(workload, model_params, model_state,
                         hyperparameters, rng):
  del workload, model_params, model_state, hyperparameters, rng
  return {"count": jnp.zeros((), jnp.int32)}


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type,
                  optimizer_state, eval_results, global_step, rng,
                  train_state=None):
  del current_params_types, loss_type, eval_results, train_state
  dropout_rng, _ = jax.random.split(rng)
  seen = 0 if model_state is None else model_state["seen"]

  def loss(p):
    logits, _ = workload.model_fn(
        p, batch, model_state, spec.ForwardPassMode.TRAIN, dropout_rng,
        update_batch_norm=True, dropout_rate=hyperparameters.dropout_rate)
    out = workload.loss_fn(batch["targets"], logits, None, 0.0)
    return out["summed"] / out["n_valid_examples"]

  grad = jax.jit(jax.grad(loss))(current_param_container)
  params = jax.tree.map(lambda w, g: w - hyperparameters.learning_rate * g,
                        current_param_container, grad)
  opt_state = {"count": optimizer_state["count"] + 1}
  assert int(seen) == global_step, (seen, global_step)
  return opt_state, params, {"seen": jnp.asarray(seen + 1)}


def get_batch_size(workload_name):
  del workload_name
  return 128


def data_selection(workload, input_queue, optimizer_state,
                   current_param_container, model_state, hyperparameters,
                   global_step, rng):
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
