"""The papers' findings F1–F8 and theory models M1–M5, one module each
(:mod:`.f1` … :mod:`.f8`, the models in :mod:`.models`): each finding's
setting, its runs, its measured numbers and the checks its verdict is
computed from, together.

Claims are those of Roulet, Agarwala, Grill, Swirszcz, Blondel & Pedregosa
(2024), "Stepping on the Edge: Curvature Aware Learning Rate Tuners" (figure
and equation numbers are that paper's).  Every check's criterion and
threshold is written next to its finding, from the words of the claim, and
was fixed before the committed reproduction ran; the verdict rule is
:func:`edgeperf.reproduce.criteria.verdict`.  The thresholds several
findings share (*on par*, *orders of magnitude*, the tuned constant) and the
setting F2–F6 share are in :mod:`.common`.

Settings (workloads, rates, steps) were chosen by measurement so that the
findings can show at CPU scale; each finding's ``notes`` (printed in the
report) list what else was tried.
"""

from __future__ import annotations

from typing import Sequence

from edgeperf.reproduce.findings import f1, f2, f3, f4, f5, f6, f7, f8
from edgeperf.reproduce.findings import models
from edgeperf.reproduce.findings.common import Finding, Judgement

FINDINGS = {f.id: f for f in (f1.F1, f2.F2, f3.F3, f4.F4, f5.F5, f6.F6,
                              f7.F7, f8.F8, models.M1, models.M2,
                              models.M3, models.M4, models.M5)}
"""Every finding and model, by id, in report order."""

GROUPS = {"all": tuple(FINDINGS), "findings": tuple(
    k for k in FINDINGS if k.startswith("F")), "models": tuple(
        k for k in FINDINGS if k.startswith("M"))}
"""Names ``--findings`` accepts besides the ids."""


def select(names: Sequence[str]) -> list[Finding]:
  """The findings named (ids or :data:`GROUPS`), in report order, once each.

  Raises:
    ValueError: an unknown name, naming the known ones.
  """
  wanted: set[str] = set()
  for name in names:
    key = name.strip()
    if key in GROUPS:
      wanted.update(GROUPS[key])
    elif key.upper() in FINDINGS:
      wanted.add(key.upper())
    else:
      raise ValueError(f"unknown finding {name!r}; expected ids of "
                       f"{list(FINDINGS)} or {list(GROUPS)}")
  if not wanted:
    raise ValueError("no finding selected")
  return [f for k, f in FINDINGS.items() if k in wanted]
