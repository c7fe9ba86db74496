"""Renders a saved denominator cost profile as a markdown table of ratios.

Reads a pytest-benchmark JSON written by ``tests/benchmarks`` (the newest one
under ``--storage``, or the path given as argument) and writes, per workload,
every
method's median time and XLA memory as ratios to the objective f and to
value_and_grad (one constant-learning-rate step):

    time ÷ f = median(method) / median(f)
    memory   = temp + output bytes of the compiled executable (what it
               allocates beyond its arguments; memory_analysis())
    total    = argument + output + temp − alias bytes

Usage::

    python -m edgeperf.benchmarks.render_profile          # newest run
    python -m edgeperf.benchmarks.render_profile RUN.json --output=docs/x.md
    python -m edgeperf.benchmarks.render_profile --note="busy machine"

The default output is ``docs/cost-profile-<platform>.md`` (platform of JAX's
first device: cpu, gpu, tpu).
"""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any, Sequence

from absl import flags

from edgeperf.cli import flagparse

MIB = 2.0**20
DENOMINATORS = ("jvp_of_jvp", "hvp", "rev_rev", "secant")
METHODS = ("f", "value_and_grad", *DENOMINATORS,
           *(f"fused_{d}" for d in DENOMINATORS),
           *(f"separate_{d}" for d in DENOMINATORS))
LABELS = {
    "f": "f (objective)",
    "value_and_grad": "value_and_grad",
    "jvp_of_jvp": "uᵀHu forward-over-forward (jvp of jvp)",
    "hvp": "uᵀHu forward-over-reverse (HVP, dot)",
    "rev_rev": "uᵀHu reverse-over-reverse",
    "secant": "secant (one extra f)",
}
for _d in DENOMINATORS:
  LABELS[f"fused_{_d}"] = f"value_and_grad + {_d}, fused (one jit)"
  LABELS[f"separate_{_d}"] = f"value_and_grad, then {_d} (two jits)"


def newest_json(storage: str) -> str:
  """The most recently written ``*.json`` under ``storage`` (recursive)."""
  paths = glob.glob(os.path.join(storage, "**", "*.json"), recursive=True)
  if not paths:
    raise FileNotFoundError(
        f"no saved benchmark JSON under {storage!r}; run `make profile` (or "
        "pytest tests/benchmarks --benchmark-enable --benchmark-autosave) "
        "first, or pass a JSON path")
  return max(paths, key=os.path.getmtime)


def _memory(extra: dict[str, Any]) -> tuple[float | None, float | None]:
  """(temp + output, argument + output + temp − alias) bytes, or Nones."""
  keys = ("temp_bytes", "output_bytes", "argument_bytes")
  if any(extra.get(k) is None for k in keys):
    return None, None
  working = extra["temp_bytes"] + extra["output_bytes"]
  total = working + extra["argument_bytes"] - (extra.get("alias_bytes") or 0)
  return float(working), float(total)


def _ratio(a: float | None, b: float | None) -> str:
  if a is None or not b:
    return "–"
  return f"{a / b:.2f}×"


def _mib(x: float | None) -> str:
  return "–" if x is None else f"{x / MIB:.2f}"


def collect(data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
  """``workload ↦ method ↦ {median_s, working, total, extra}``."""
  rows: dict[str, dict[str, dict[str, Any]]] = {}
  for bench in data.get("benchmarks", []):
    extra = bench.get("extra_info", {})
    workload, method = extra.get("workload"), extra.get("method")
    if workload is None or method is None:
      continue  # a benchmark of some other suite
    working, total = _memory(extra)
    rows.setdefault(workload, {})[method] = {
        "median_s": bench["stats"]["median"], "rounds": bench["stats"]["rounds"],
        "working": working, "total": total, "extra": extra}
  if not rows:
    raise ValueError("the JSON holds no denominator cost benchmarks "
                     "(extra_info with 'workload' and 'method')")
  return rows


def platform_of(data: dict[str, Any]) -> str:
  """JAX platform of the run (``cpu``, ``gpu``, ``tpu``)."""
  jax_info = data.get("machine_info", {}).get("jax", {})
  if jax_info.get("platform"):
    return jax_info["platform"]
  for bench in data.get("benchmarks", []):
    if bench.get("extra_info", {}).get("platform"):
      return bench["extra_info"]["platform"]
  return "unknown"


def render(data: dict[str, Any], source: str = "",
           note: str | None = None) -> str:
  """The markdown page of one saved run."""
  rows = collect(data)
  machine = data.get("machine_info", {})
  jax_info = machine.get("jax", {})
  first = next(iter(next(iter(rows.values())).values()))["extra"]
  device = jax_info.get("device_kind") or first.get("device_kind", "unknown")
  platform = platform_of(data)
  cpu = machine.get("cpu", {})
  cpu_name = cpu.get("brand_raw") or machine.get("processor") or "unknown CPU"
  cores = cpu.get("count")
  date = (data.get("datetime") or "")[:10] or "unknown date"
  commit = data.get("commit_info", {})

  where = platform if device.lower() == platform.lower() else (
      f"{platform} — {device}")
  out = [f"# Denominator cost profile: {where}, CPU {cpu_name}"
         f"{f' ({cores} cores)' if cores else ''}, {date}", ""]
  out.append(
      "Cost of the CDAT denominator uᵀ∇²f(w)u (paper Eq. 8, App. C) per "
      "standard workload (small preset, full training batch, u = −∇f(w), "
      f"{first.get('dtype', 'float32')}), as ratios to the objective f and to "
      "value_and_grad (v&g: one constant-learning-rate step).  Time: median of "
      "jitted, warmed-up calls, `block_until_ready` inside the clock.  "
      "Memory: XLA `memory_analysis()` of the compiled executable; "
      "*working* = temp + output bytes (what it allocates beyond its "
      "arguments), *total* = argument + output + temp − alias.  "
      "*separate*: value_and_grad then the denominator as two jitted calls "
      "(working memory: the larger temp, outputs added).  The paper puts "
      "forward-over-forward at about 3× the memory and compute of f.")
  out.append("")
  meta = [f"jax {jax_info.get('version', '?')}",
          f"python {machine.get('python_version', '?')}",
          f"pytest-benchmark {data.get('version', '?')}"]
  if commit.get("id"):
    meta.append(f"commit {commit['id'][:10]}"
                f"{' (uncommitted changes)' if commit.get('dirty') else ''}")
  out.append(f"Generated by `python -m edgeperf.benchmarks.render_profile` from "
             f"`{source or 'a saved run'}` ({', '.join(meta)}).")
  if note:
    out += ["", f"**Note:** {note}"]
  out.append("")

  # Summary across workloads.
  out += ["## Summary (time ratios, median)", "",
          "| workload | jvp-of-jvp ÷ f | jvp-of-jvp ÷ v&g | HVP ÷ v&g | "
          "rev-rev ÷ v&g | secant ÷ f | v&g + jvp-of-jvp fused ÷ v&g | "
          "separate ÷ v&g | jvp-of-jvp working mem ÷ f |",
          "|---|---|---|---|---|---|---|---|---|"]
  for workload, methods in rows.items():
    def t(m, methods=methods):
      return methods.get(m, {}).get("median_s")

    def w(m, methods=methods):
      return methods.get(m, {}).get("working")
    out.append(
        f"| {workload} | {_ratio(t('jvp_of_jvp'), t('f'))} | "
        f"{_ratio(t('jvp_of_jvp'), t('value_and_grad'))} | "
        f"{_ratio(t('hvp'), t('value_and_grad'))} | "
        f"{_ratio(t('rev_rev'), t('value_and_grad'))} | "
        f"{_ratio(t('secant'), t('f'))} | "
        f"{_ratio(t('fused_jvp_of_jvp'), t('value_and_grad'))} | "
        f"{_ratio(t('separate_jvp_of_jvp'), t('value_and_grad'))} | "
        f"{_ratio(w('jvp_of_jvp'), w('f'))} |")
  out.append("")

  for workload, methods in rows.items():
    ref = methods.get("f", {})
    vg = methods.get("value_and_grad", {})
    extra = ref.get("extra", first)
    out += [f"## {workload}", "",
            f"{extra.get('num_params', '?')} parameters, "
            f"{extra.get('num_examples', '?')} examples, "
            f"{extra.get('dtype', '?')}; f: "
            f"{_fmt_ms(ref.get('median_s'))} ms, value_and_grad: "
            f"{_fmt_ms(vg.get('median_s'))} ms.", "",
            "| method | median ms | time ÷ f | time ÷ v&g | working MiB | "
            "÷ f | ÷ v&g | total MiB | ÷ f | ÷ v&g | rounds | compile s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    order = [m for m in METHODS if m in methods]
    order += sorted(m for m in methods if m not in METHODS)
    for method in order:
      row = methods[method]
      compile_s = row["extra"].get("compile_s")
      out.append(
          f"| {LABELS.get(method, method)} | {_fmt_ms(row['median_s'])} | "
          f"{_ratio(row['median_s'], ref.get('median_s'))} | "
          f"{_ratio(row['median_s'], vg.get('median_s'))} | "
          f"{_mib(row['working'])} | "
          f"{_ratio(row['working'], ref.get('working'))} | "
          f"{_ratio(row['working'], vg.get('working'))} | "
          f"{_mib(row['total'])} | "
          f"{_ratio(row['total'], ref.get('total'))} | "
          f"{_ratio(row['total'], vg.get('total'))} | {row['rounds']} | "
          f"{'–' if compile_s is None else f'{compile_s:.2f}'} |")
    out.append("")
  return "\n".join(out)


def _fmt_ms(seconds: float | None) -> str:
  if seconds is None:
    return "–"
  ms = 1e3 * seconds
  return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def _define(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("storage", ".benchmarks", "pytest-benchmark storage "
                      "folder.", flag_values=fv)
  flags.DEFINE_string("output", None, "Markdown file (default "
                      "docs/cost-profile-<platform>.md).", flag_values=fv)
  flags.DEFINE_string("note", None, "A line added under the heading, e.g. "
                      "about machine load.", flag_values=fv)


def main(argv: Sequence[str] | None = None) -> None:
  fv, paths = flagparse.parse(_define, argv, "render_profile")
  if len(paths) > 1:
    flagparse.fail("render_profile", f"give at most one JSON, got {paths}", 2)
  path = paths[0] if paths else newest_json(fv.storage)
  with open(path) as f:
    data = json.load(f)
  output = fv.output or os.path.join("docs",
                                     f"cost-profile-{platform_of(data)}.md")
  text = render(data, source=os.path.relpath(path), note=fv.note)
  os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
  with open(output, "w") as f:
    f.write(text)
  print(f"wrote {output} from {path}")


if __name__ == "__main__":
  main(sys.argv)
