"""The few ``algoperf.*`` modules AlgoPerf JAX submissions import, written
for edgeperf (``spec`` without torch, ``jax_sharding_utils``).

Registered as ``algoperf`` in ``sys.modules`` only while an AlgoPerf
submission file is being loaded, and only when no real ``algoperf`` package
is importable (:func:`edgeperf.submissions.algoperf_api.load.algoperf_names`);
importing edgeperf never registers anything.
"""

from edgeperf.submissions.algoperf_api.shim import jax_sharding_utils
from edgeperf.submissions.algoperf_api.shim import spec

PROVIDED = ("spec", "jax_sharding_utils")
"""The ``algoperf`` submodules this shim provides."""

__all__ = ["jax_sharding_utils", "spec", "PROVIDED"]
