"""SGD with linear warmup then cosine decay over workload.step_hint steps
(AlgoPerf JAX API); the schedule reads the step from the optimizer state."""

import jax
import optax

from algoperf import spec


def _schedule(step_hint, hyperparameters):
  warmup = max(int(hyperparameters.warmup_factor * step_hint), 1)
  return optax.join_schedules(
      [optax.linear_schedule(0.0, hyperparameters.learning_rate, warmup),
       optax.cosine_decay_schedule(hyperparameters.learning_rate,
                                   max(step_hint - warmup, 1))],
      [warmup])


def init_optimizer_state(workload, model_params, model_state,
                         hyperparameters, rng):
  del model_state, rng
  tx = optax.sgd(_schedule(workload.step_hint, hyperparameters))
  return tx.init(model_params), tx.update


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type,
                  optimizer_state, eval_results, global_step, rng,
                  train_state=None):
  del current_params_types, loss_type, eval_results, global_step, rng
  del hyperparameters, train_state
  opt_state, update_fn = optimizer_state

  def step(opt_state, params):
    def loss(p):
      logits, _ = workload.model_fn(p, batch, model_state,
                                    spec.ForwardPassMode.TRAIN, None, False)
      out = workload.loss_fn(batch["targets"], logits)
      return out["summed"] / out["n_valid_examples"]

    updates, opt_state = update_fn(jax.grad(loss)(params), opt_state)
    return opt_state, optax.apply_updates(params, updates)

  opt_state, params = jax.jit(step)(opt_state, current_param_container)
  return (opt_state, update_fn), params, model_state


def get_batch_size(workload_name):
  del workload_name
  return 128


def data_selection(workload, input_queue, optimizer_state,
                   current_param_container, model_state, hyperparameters,
                   global_step, rng):
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
