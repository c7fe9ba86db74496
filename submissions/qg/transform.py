"""The quadratically greedy rule (Roulet et al. 2024, Eq. 3): CDAT, σ = 1."""

from __future__ import annotations

from typing import Any

from edgeperf.submissions import api
from edgeperf.submissions.cdat import scale_by_cdat


def scale_by_quadratically_greedy(
    **kwargs: Any) -> api.RefreshingTransformation:
  """η_t = −∇f(w_t)ᵀu_t / (u_tᵀ∇²f(w_t)u_t), the minimiser of the quadratic
  model q(η) = f + η gᵀu + ½η² uᵀHu along u_t (clipped at 0 for ascent
  directions, as CDAT does).

  It is :func:`edgeperf.submissions.cdat.scale_by_cdat` with σ = 1; the
  keyword arguments other than σ are CDAT's.
  """
  if "sigma" in kwargs:
    raise ValueError("the quadratically greedy rule fixes sigma = 1; use "
                     "scale_by_cdat for other scales")
  return scale_by_cdat(1.0, **kwargs)
