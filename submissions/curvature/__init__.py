"""Curvature numerics: the one place where uᵀ∇²f u, HVPs, Lanczos and power
iteration are written.  Tuners, diagnostics and the measurement scripts all
use it.

Modules, one numerical idea each:

* :mod:`.directional` — the directional curvature uᵀ∇²f(w)u (forward-over-
  forward, forward-over-reverse, reverse-over-reverse, secant) and ∇²f(w)v.
* :mod:`.secant` — free curvature estimates from consecutive steps (value
  and gradient secants, a secant lower bound) between refreshes.
* :mod:`.operators` — the (optionally preconditioned) Hessian as a matvec on
  flat vectors.
* :mod:`.lanczos` — Lanczos tridiagonalisation and its top Ritz pair.
* :mod:`.power` — power iteration: one step, a fixed-count and a tolerance
  driver.
* :mod:`.eigen` — λ_max(∇²f(w)) from a solver: fixed cost (jittable, for
  tuners) or to a tolerance (with the eigenvector, for diagnostics).

Every function takes ``value_fn`` (params ↦ scalar objective), parameters
``w`` and tangents shaped like ``w``, or a matvec on flat vectors.
"""

from edgeperf.submissions.curvature.directional import ESTIMATORS
from edgeperf.submissions.curvature.directional import EVALS
from edgeperf.submissions.curvature.directional import ValueFn
from edgeperf.submissions.curvature.directional import hvp
from edgeperf.submissions.curvature.directional import uhu
from edgeperf.submissions.curvature.directional import uhu_hvp
from edgeperf.submissions.curvature.directional import uhu_jvp_of_jvp
from edgeperf.submissions.curvature.directional import uhu_rev_rev
from edgeperf.submissions.curvature.directional import uhu_secant
from edgeperf.submissions.curvature.directional import uhu_taylor
from edgeperf.submissions.curvature.eigen import METHODS
from edgeperf.submissions.curvature.eigen import top_eigenpair
from edgeperf.submissions.curvature.eigen import top_eigenvalue
from edgeperf.submissions.curvature.operators import hessian_operator

__all__ = [
    "ESTIMATORS", "EVALS", "METHODS", "ValueFn", "hessian_operator", "hvp",
    "top_eigenpair", "top_eigenvalue", "uhu", "uhu_hvp", "uhu_jvp_of_jvp",
    "uhu_rev_rev", "uhu_secant", "uhu_taylor",
]
