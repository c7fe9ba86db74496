"""The run's step budget and how it is cut into chunks (:class:`RunPlan`).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator


from edgeperf import _checks
from edgeperf.harness import step as step_lib
from edgeperf.workloads import base


CHUNK_DATA_BYTES = 256 * 2**20
"""Most bytes of stacked mini-batches in one chunk: longer chunks are cut
(the prefetcher keeps a few chunks on the device)."""


@dataclasses.dataclass(frozen=True)
class RunPlan:
  """The run's step budget and how it is cut into chunks."""

  total: int  # step budget
  eval_every: int
  diag_every: int
  chunk_mode: str
  max_chunk: int | None = None  # most steps per chunk (mini-batch data)

  @classmethod
  def make(cls, workload: base.Workload, *, max_steps: int | None,
           eval_every: int | None, chunk_mode: str | None,
           diag_every: int) -> "RunPlan":
    total = workload.step_budget if max_steps is None else max_steps
    max_chunk = None
    if not workload.regime.is_full_batch:
      per_step = workload.regime.batch_size * sum(
          v[0].nbytes for v in workload.train.values())
      max_chunk = max(1, CHUNK_DATA_BYTES // max(per_step, 1))
    plan = cls(total=total, eval_every=(workload.eval_every if eval_every is None
                                       else eval_every),
               diag_every=diag_every, chunk_mode=chunk_mode or
               workload.chunk_mode, max_chunk=max_chunk)
    _checks.integer("max_steps", plan.total, low=1)
    _checks.integer("eval_every (steps between evaluations; omit it for "
                    "the workload's)", plan.eval_every, low=1)
    _checks.integer("diag_every", plan.diag_every, low=0)
    _checks.one_of("chunk_mode", plan.chunk_mode, step_lib.CHUNK_MODES)
    return plan

  def chunks(self) -> Iterator[tuple[int, int]]:
    """(start, end) of each chunk: ends at every multiple of eval_every and
    diag_every, and at the budget; none longer than ``max_chunk``."""
    ends = {self.total}
    for period in (self.eval_every, self.diag_every):
      if period > 0:
        ends.update(range(period, self.total, period))
    start = 0
    for end in sorted(ends):
      while self.max_chunk and end - start > self.max_chunk:
        yield start, start + self.max_chunk
        start += self.max_chunk
      yield start, end
      start = end

  def diagnoses(self, step: int) -> bool:
    return bool(self.diag_every) and (step % self.diag_every == 0 or
                                      step == self.total)
