"""Cost profile of the CDAT denominator uᵀ∇²f(w)u (paper Eq. 8, App. C).

The paper estimates forward-over-forward at about 3× the memory and 3× the
compute of f (2× wall time on ImageNet); HVP studies put a Hessian-vector
product at 2–3× a gradient.  This suite times, per standard workload (small
preset, full training batch, u = −∇f(w)), every method of ``METHODS`` in
``conftest.py`` and stores XLA's ``memory_analysis()`` of its compiled
executable (temp, argument, output bytes) in ``benchmark.extra_info``.

``make profile`` runs it with ``--benchmark-enable`` in float32 and renders
the ratio table (``render_profile.py``).  With ``--benchmark-disable`` (the
default ``make test``) each benchmark calls its function once, in float64, as
a correctness test: the exact estimators agree to 1e-6, the fused and separate
paths return the same value, gradient and denominator as the standalone ones.
"""

from __future__ import annotations

import jax
import numpy as np


def _rel(a, b):
  a, b = float(a), float(b)
  return abs(a - b) / max(abs(b), 1e-300)


def _flat(tree):
  return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def test_denominator_cost(benchmark, profile_cache, profile_lib, workload_name,
                          profiled_method):
  name, method = workload_name, profiled_method
  x64 = benchmark.disabled  # correctness run: float64; profile: float32
  profile = profile_cache(name, x64=x64)
  device = jax.devices()[0]
  benchmark.group = name
  benchmark.name = f"{name}:{method}"
  memory = profile.memory(method)
  benchmark.extra_info.update({
      "workload": name, "size": profile.workload.size, "method": method,
      "num_examples": profile.workload.num_train,
      "num_params": int(sum(np.size(x)
                            for x in jax.tree.leaves(profile.params))),
      "dtype": str(jax.tree.leaves(profile.params)[0].dtype),
      "platform": device.platform, "device_kind": device.device_kind,
      "compile_s": (profile.compiled[method].compile_s
                    if method in profile.compiled else None),
      **memory,
  })

  assert benchmark.extra_info["dtype"] == ("float64" if x64 else "float32")

  result = benchmark(profile.thunk(method))

  assert all(np.all(np.isfinite(np.asarray(x)))
             for x in jax.tree.leaves(result)), method
  # float32 profiles only sanity-check; float64 is the correctness run.
  rtol = 1e-6 if x64 else 1e-3
  denominator = method.removeprefix("fused_").removeprefix("separate_")
  if denominator in profile_lib.EXACT:
    uhu = result if method == denominator else result[2]
    assert _rel(uhu, profile.uhu) < rtol, (method, float(uhu),
                                           float(profile.uhu))
  if method != denominator:  # fused_ / separate_: same value and gradient
    value, grad, uhu = result
    assert _rel(value, profile.value) < (1e-12 if x64 else 1e-5)
    np.testing.assert_allclose(_flat(grad), _flat(profile.grad),
                               rtol=1e-9 if x64 else 1e-4,
                               atol=1e-12 if x64 else 1e-6)
    if denominator == "secant" and x64:  # float32 secant: rounding-bound
      assert _rel(uhu, profile.compiled["secant"]()) < 1e-9
  if method == "value_and_grad":
    assert _rel(result[0], profile.compiled["f"]()) < rtol
  temp = memory["temp_bytes"]
  assert temp is None or temp >= 0
