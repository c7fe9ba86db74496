"""The mini-batch input pipeline: steps/s fed by it ÷ steps/s on a batch
already on the device.

The runner's mini-batch path (:mod:`edgeperf.harness.pipeline`) assembles
each chunk's batches on the host and moves them to the device in a
background thread, a few chunks ahead.  Its cost is the rate it sustains
against the ceiling, the same compiled chunk run on one device-resident
chunk of batches reused (no input work at all).  Variants, interleaved per
repeat (A B C A B C …; the reference machine is noisy) and reported as the
median of per-repeat ratios to ``resident``:

* ``resident``: the same device chunk every time (the ceiling);
* ``pipeline``: :class:`~edgeperf.harness.pipeline.ChunkPrefetcher`;
* ``inline``: gather + ``device_put`` between chunks on the main thread;
* ``grain`` (``--grain``, when grain is importable): the same chunks
  through a grain ``MapDataset`` with its own thread prefetch.

Each variant's clock covers its loop of chunks (wall time, ended by
``block_until_ready``); a run's pipeline starts before its chunk loop, so
each variant gets the same 0.3 s head start before its clock.  Workload:
``mlp_mnist`` (the 5,000 embedded MNIST digits) in the mini-batch regime,
constant-lr GD, ``lax.scan`` chunks.  Goal (issue 13): ≥ 0.95 on a GPU.

    python -m edgeperf.benchmarks.pipeline --repeats=15
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any, Callable, Iterator, Sequence

from absl import flags
import jax

from edgeperf import workloads
from edgeperf.harness import pipeline
from edgeperf.harness import step as step_lib
from edgeperf.cli import flagparse
from edgeperf.submissions import loader


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_integer("batch_size", 128, "Mini-batch size.", flag_values=fv)
  flags.DEFINE_string("size", "small", "mlp_mnist size (small: 1,024 "
                      "examples, MLP 256-256).", flag_values=fv)
  flags.DEFINE_integer("chunk", 50, "Steps per chunk.", flag_values=fv)
  flags.DEFINE_integer("chunks", 8, "Chunks per measurement.",
                       flag_values=fv)
  flags.DEFINE_integer("repeats", 15, "Interleaved repetitions.",
                       flag_values=fv)
  flags.DEFINE_bool("grain", False, "Also measure a grain pipeline.",
                    flag_values=fv)


def _grain_chunks(workload, seed: int, lengths: Sequence[int]
                  ) -> Iterator[tuple[int, int, Any]]:
  """The same chunks through grain's MapDataset and thread prefetch."""
  import grain  # pylint: disable=g-import-not-at-top
  starts = [sum(lengths[:i]) for i in range(len(lengths))]

  def make(i):
    data = jax.device_put(pipeline.gather_chunk(workload, seed, starts[i],
                                                lengths[i]))
    jax.block_until_ready(data)
    return starts[i], lengths[i], data

  return iter(grain.MapDataset.range(len(lengths)).map(make)
              .to_iter_dataset(grain.ReadOptions(
                  num_threads=1, prefetch_buffer_size=pipeline.DEPTH)))


def measure(*, batch_size: int, size: str, chunk: int, chunks: int,
            repeats: int, use_grain: bool) -> dict[str, Any]:
  """Steps/s of each variant (medians) and their ratios to ``resident``."""
  workload = workloads.get("mlp_mnist", size=size, batch_size=batch_size)
  tx = loader.load("constant").build({"learning_rate": 0.05})
  params = workload.init(jax.random.key(0))
  opt_state = tx.init(params)
  resident = jax.device_put(pipeline.gather_chunk(workload, 0, 0, chunk))
  compiled = step_lib.CompiledChunk(
      step_lib.make_train_step(workload, tx), "scan", chunk, False,
      (params, opt_state, resident))
  lengths = [chunk] * chunks

  def rate(batches: Iterator[tuple[int, int, Any]]) -> float:
    time.sleep(0.3)  # a run starts its pipeline before its chunk loop
    p, s = params, opt_state
    tick = time.perf_counter()
    try:
      for _, _, data in batches:
        p, s, _ = compiled(p, s, data)
      jax.block_until_ready(p)
    finally:
      getattr(batches, "close", lambda: None)()
    return chunk * chunks / (time.perf_counter() - tick)

  def inline(seed: int) -> Iterator[tuple[int, int, Any]]:
    for i in range(chunks):
      yield i * chunk, chunk, jax.device_put(
          pipeline.gather_chunk(workload, seed, i * chunk, chunk))

  variants: dict[str, Callable[[int], Iterator]] = {
      "resident": lambda seed: iter([(0, chunk, resident)] * chunks),
      "pipeline": lambda seed: pipeline.ChunkPrefetcher(workload, seed,
                                                        lengths),
      "inline": inline,
  }
  if use_grain:
    variants["grain"] = lambda seed: _grain_chunks(workload, seed, lengths)
  for make in variants.values():  # warm-up
    rate(make(99))
  rates: dict[str, list[float]] = {name: [] for name in variants}
  for r in range(repeats):
    for name, make in variants.items():
      rates[name].append(rate(make(r)))
  result: dict[str, Any] = {
      f"steps_per_s_{name}": round(statistics.median(v), 1)
      for name, v in rates.items()}
  for name in variants:
    if name != "resident":
      result[f"ratio_{name}"] = round(statistics.median(
          a / b for a, b in zip(rates[name], rates["resident"])), 3)
  result.update(workload=workload.key, chunk=chunk, chunks=chunks,
                repeats=repeats, backend=jax.default_backend(),
                device=jax.devices()[0].device_kind,
                device_count=jax.device_count())
  return result


def main(argv: Sequence[str] | None = None) -> None:
  fv, _ = flagparse.parse(_define, argv, "pipeline")
  print(json.dumps(measure(batch_size=fv.batch_size, size=fv.size,
                           chunk=fv.chunk, chunks=fv.chunks,
                           repeats=fv.repeats, use_grain=fv.grain)))


if __name__ == "__main__":
  main(sys.argv)
