"""AdamW (Loshchilov & Hutter 2019) through optax, AlgoPerf JAX API."""

import jax
import jax.numpy as jnp
import optax

from algoperf import spec


def _optimizer(hyperparameters):
  return optax.adamw(learning_rate=hyperparameters.learning_rate,
                     b1=1.0 - hyperparameters.one_minus_beta1,
                     b2=hyperparameters.beta2, eps=1e-8,
                     weight_decay=hyperparameters.weight_decay)


def init_optimizer_state(workload, model_params, model_state,
                         hyperparameters, rng):
  del model_params, model_state, rng
  zeros = jax.tree.map(lambda s: jnp.zeros(s.shape_tuple),
                       workload.param_shapes)
  return _optimizer(hyperparameters).init(zeros)


def _train_step(workload, hyperparameters, opt_state, params, model_state,
                batch, rng):
  def loss(p):
    logits, new_state = workload.model_fn(
        p, batch, model_state, spec.ForwardPassMode.TRAIN, rng,
        update_batch_norm=True, dropout_rate=0.0)
    out = workload.loss_fn(batch["targets"], logits, batch.get("weights"),
                           label_smoothing=0.0)
    return out["summed"] / out["n_valid_examples"], new_state

  (_, new_state), grad = jax.value_and_grad(loss, has_aux=True)(params)
  updates, opt_state = _optimizer(hyperparameters).update(grad, opt_state,
                                                          params)
  return opt_state, optax.apply_updates(params, updates), new_state


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type,
                  optimizer_state, eval_results, global_step, rng,
                  train_state=None):
  del current_params_types, loss_type, eval_results, global_step
  del train_state
  step = jax.jit(_train_step, static_argnums=(0, 1), donate_argnums=(2, 3))
  return step(workload, hyperparameters, optimizer_state,
              current_param_container, model_state, batch, rng)


def get_batch_size(workload_name):
  del workload_name
  return 128


def data_selection(workload, input_queue, optimizer_state,
                   current_param_container, model_state, hyperparameters,
                   global_step, rng):
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
