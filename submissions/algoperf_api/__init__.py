"""AlgoPerf's JAX submission API (MLCommons AlgoPerf, Dahl et al. 2023,
"Benchmarking Neural Network Training Algorithms"), read by edgeperf.

An unmodified AlgoPerf submission (``init_optimizer_state``,
``update_params``, optional ``prepare_for_eval`` and ``data_selection``)
runs on an edgeperf workload through:

  * :mod:`.shim`: the ``algoperf.spec`` and ``algoperf.jax_sharding_utils``
    names submissions import, provided only while such a file is loaded and
    only when no real ``algoperf`` package is importable;
  * :mod:`.workload`: an edgeperf workload seen as an AlgoPerf workload
    (``step_hint``, ``param_shapes``, ``model_fn``, ``loss_fn``, ...);
  * :mod:`.load`: telling the APIs apart, loading the file, and its
    ``tuning_search_space.json`` in either AlgoPerf form.

The step-owning timed loop is :mod:`edgeperf.harness.owned_steps`.  This
package imports only ``edgeperf`` and ``edgeperf.workloads``.
"""
