"""Gradient descent whose evaluated point is the running average of its
iterates (Polyak & Juditsky 1992), swapped in by prepare_for_eval."""

import jax

from algoperf import spec


def init_optimizer_state(workload, model_params, model_state,
                         hyperparameters, rng):
  del workload, model_state, hyperparameters, rng
  return {"average": jax.tree.map(lambda x: x + 0.0, model_params),
          "count": 1.0}


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type,
                  optimizer_state, eval_results, global_step, rng,
                  train_state=None):
  del current_params_types, loss_type, eval_results, global_step, rng
  del train_state

  def loss(p):
    logits, _ = workload.model_fn(p, batch, model_state,
                                  spec.ForwardPassMode.TRAIN, None, False)
    out = workload.loss_fn(batch["targets"], logits)
    return out["summed"] / out["n_valid_examples"]

  grad = jax.grad(loss)(current_param_container)
  params = jax.tree.map(lambda w, g: w - hyperparameters.learning_rate * g,
                        current_param_container, grad)
  count = optimizer_state["count"] + 1.0
  average = jax.tree.map(lambda a, w: a + (w - a) / count,
                         optimizer_state["average"], params)
  return {"average": average, "count": count}, params, model_state


def prepare_for_eval(workload, current_param_container, current_params_types,
                     model_state, hyperparameters, loss_type,
                     optimizer_state, eval_results, global_step, rng):
  del workload, current_param_container, current_params_types
  del hyperparameters, loss_type, eval_results, global_step, rng
  return optimizer_state, optimizer_state["average"], model_state


def get_batch_size(workload_name):
  del workload_name
  return 128


def data_selection(workload, input_queue, optimizer_state,
                   current_param_container, model_state, hyperparameters,
                   global_step, rng):
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
