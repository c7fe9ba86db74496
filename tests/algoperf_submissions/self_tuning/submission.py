"""Self-tuning (AlgoPerf's ruleset with no search space): hyperparameters
is None, and the submission fixes its own rate, 0.1 · 0.5^(t // 2)."""

import jax


def init_optimizer_state(workload, model_params, model_state,
                         hyperparameters, rng):
  del workload, model_params, model_state, rng
  assert hyperparameters is None
  return ()


def update_params(workload, current_param_container, current_params_types,
                  model_state, hyperparameters, batch, loss_type,
                  optimizer_state, eval_results, global_step, rng,
                  train_state=None):
  del current_params_types, loss_type, eval_results, rng, train_state
  assert hyperparameters is None
  rate = 0.1 * 0.5 ** (global_step // 2)

  def loss(p):
    logits, _ = workload.model_fn(p, batch, model_state, None, None, False)
    out = workload.loss_fn(batch["targets"], logits)
    return out["summed"] / out["n_valid_examples"]

  grad = jax.grad(loss)(current_param_container)
  return optimizer_state, jax.tree.map(lambda w, g: w - rate * g,
                                       current_param_container,
                                       grad), model_state


def get_batch_size(workload_name):
  del workload_name
  return 128


def data_selection(workload, input_queue, optimizer_state,
                   current_param_container, model_state, hyperparameters,
                   global_step, rng):
  del workload, optimizer_state, current_param_container, model_state
  del hyperparameters, global_step, rng
  return next(input_queue)
