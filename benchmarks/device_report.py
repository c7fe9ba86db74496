"""The device check's report: Markdown and raw JSON of every finished part.

Tables reuse the benchmark modules' own renderers where they have one
(:func:`edgeperf.benchmarks.tuner_cost.markdown_table`,
:func:`edgeperf.benchmarks.render_profile.render`); the profile part's
pytest command is built here too (``make profile``'s, at device or tiny
rounds).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Sequence

from edgeperf import _jsonio
from edgeperf.benchmarks import device_parts
from edgeperf.benchmarks import render_profile
from edgeperf.benchmarks import tuner_cost

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository (the parts run there: the profile is a test file)."""
PROFILE_TEST = os.path.join(REPO, "tests", "benchmarks",
                            "test_denominator_cost.py")


def profile_args(tiny: bool, json_path: str) -> list[str]:
  """``make profile``'s pytest arguments, saving its JSON to ``json_path``."""
  sizes = device_parts.TINY if tiny else device_parts.DEVICE
  args = [PROFILE_TEST, "--benchmark-enable", "--benchmark-only", "-q",
          "-p", "no:cacheprovider", f"--benchmark-json={json_path}",
          f"--benchmark-min-rounds={sizes.profile_rounds}"]
  if sizes.profile_filter:
    args += ["-k", sizes.profile_filter, "--benchmark-max-time=0.01",
             "--benchmark-warmup=off"]
  return args


def run_profile(tiny: bool, json_path: str) -> None:
  """Runs the profile under pytest in this process (the device check's
  forked part: the modules are imported already).

  Raises:
    RuntimeError: pytest did not pass (its exit code).
  """
  import pytest  # pylint: disable=g-import-not-at-top  # only here
  os.chdir(REPO)  # the repository's pytest configuration
  code = pytest.main(profile_args(tiny, json_path))
  if code != 0:
    raise RuntimeError(f"the profile's pytest run exited with {int(code)}")


def profile_rows(part: Any) -> list[dict[str, Any]]:
  """The profile's pytest-benchmark JSON (its ``rows_path``, removed before
  the part starts) as one row; none if it was not written."""
  try:
    with open(part.rows_path) as f:
      data = json.load(f)
    render_profile.collect(data)  # holds profile benchmarks
  except (OSError, ValueError):
    return []
  return [data]


def _ms(seconds: float | None) -> str:
  return "–" if seconds is None else f"{1e3 * seconds:.3g}"


def _mib(analysis: dict[str, int] | None) -> str:
  return "–" if not analysis else f"{analysis['peak_bytes'] / 2**20:,.1f}"


def _demote(markdown: str) -> str:
  return re.sub(r"^(#+) ", r"#\1 ", markdown, flags=re.M)


def _profile(rows, tiny) -> list[str]:
  text = render_profile.render(rows[0], source="profile part")
  return [_demote(text)]


def _tuner_cost(rows, tiny) -> list[str]:
  results = {row["workload"]: row["results"] for row in rows}
  labels = set().union(*(r.keys() for r in results.values()))
  variants = [v for v in tuner_cost.VARIANTS if v[0] in labels]
  first = rows[0]
  return [f"Per-step time ÷ constant-lr step (median of {first['repeats']} "
          f"interleaved pairs, {first['steps']}-step chunks; ev = extra "
          "evaluations per step), `tuner_cost.measure_workload`.", "",
          tuner_cost.markdown_table(results, variants)]


def _paper_steps(rows, tiny) -> list[str]:
  labels = list(device_parts.CDAT_STEPS)
  head = ["preset", "examples", "constant ms/step", "constant peak MiB"]
  for label in labels:
    head += [f"{label} ms/step", "÷ constant", f"{label} peak MiB",
             "÷ constant"]
  lines = ["Full batch, synthetic data of the presets' shapes; median of "
           f"{rows[0]['repeats']} interleaved pairs of {rows[0]['steps']}-step "
           "chunks (CDAT σ = 2, jvp-of-jvp, in its steady schedule); peak = "
           "XLA's memory analysis of the compiled chunk (arguments + outputs "
           "+ temporaries − aliased).", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for row in rows:
    results = row["results"]
    ref = next(iter(results.values()))
    cells = [row["workload"], f"{row['num_train']:,}",
             _ms(ref.get("reference_step_s")),
             _mib(ref.get("reference_memory"))]
    for label in labels:
      r = results[label]
      if "error" in r:
        cells += ["cannot run"] * 4
        continue
      mem, ref_mem = r.get("memory"), r.get("reference_memory")
      cells += [_ms(r["step_s"]), f"{r['ratio']:.2f}×", _mib(mem),
                "–" if not (mem and ref_mem) else
                f"{mem['peak_bytes'] / ref_mem['peak_bytes']:.2f}×"]
    lines.append("| " + " | ".join(cells) + " |")
  return lines


def _pipeline(rows, tiny) -> list[str]:
  r = rows[0]
  return [f"`{r['workload']}`, {r['chunks']} chunks of {r['chunk']} steps, "
          f"{r['repeats']} interleaved repeats: steps/s resident "
          f"{r['steps_per_s_resident']}, pipeline "
          f"{r['steps_per_s_pipeline']}, inline {r['steps_per_s_inline']}; "
          f"**pipeline ÷ resident = {r['ratio_pipeline']}** (goal ≥ 0.95), "
          f"inline ÷ resident = {r['ratio_inline']}."]


def _time_to_target(rows, tiny) -> list[str]:
  subs = [s for s in ("constant", "cdat", "cdat_amortised")
          if any(s in row["runs"] for row in rows)]
  head = ["workload", "target", "target from"]
  for sub in subs:
    head += [f"{sub}: status", "steps", "time to target s"]
  head += ["constant ÷ cdat time"]
  lines = ["Harness runs (`runner.run`): `constant` at the rate that set "
           "the target (seed 0), `cdat` and `cdat_amortised` at their tuned "
           "points (`protocol/tuned_points.json`, tuned on the `small` "
           "presets) with their tuned seeds.", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for row in rows:
    target = row["target"]
    cells = [row["workload"], "–" if target is None else f"{target:.6g}",
             row["target_source"]]
    for sub in subs:
      r = row["runs"].get(sub, {})
      cells += [r.get("status", "–"), str(r.get("target_step", "–")),
                "–" if r.get("target_time_s") is None else
                f"{r['target_time_s']:.3g}"]
    a = row["runs"].get("constant", {}).get("target_time_s")
    b = row["runs"].get("cdat", {}).get("target_time_s")
    cells.append(f"{a / b:.2f}×" if a and b else "–")
    lines.append("| " + " | ".join(cells) + " |")
  return lines


SECTIONS = {
    "profile": ("jvp-denominator cost profile (`make profile`)", _profile),
    "tuner_cost": ("Tuner cost (`make tuner-cost`)", _tuner_cost),
    "paper_steps": ("Constant and CDAT steps on the paper presets",
                    _paper_steps),
    "pipeline": ("Mini-batch input pipeline (`make pipeline`)", _pipeline),
    "time_to_target": ("Constant vs CDAT time to target", _time_to_target),
}


def _environment(env: dict[str, Any] | None) -> list[str]:
  if not env:
    return ["The environment part did not finish: device unknown."]
  sw = env["software"]
  smi = env["nvidia_smi"]
  return [
      f"- device: {env['device_count']} × {env['device_kind']} "
      f"({env['backend']})",
      f"- driver (nvidia-smi: name, driver, memory): "
      f"{'; '.join(smi) if isinstance(smi, list) else smi}",
      f"- jax {sw.get('jax', '?')}, jaxlib {env['jaxlib']}, flax "
      f"{sw.get('flax', '?')}, optax {sw.get('optax', '?')}, python "
      f"{sw.get('python', '?')}",
      f"- host CPU: {env['cpu']} ({env['cpu_count']} cores)",
      f"- date: {env['date_utc']}; commit {env['commit']}"]


def markdown(outcomes: Sequence[Any], *, tiny: bool, total_s: float,
             command: str, wall_s: float, json_name: str) -> str:
  """The report page of the parts run so far."""
  env_rows = next((o.rows for o in outcomes if o.name == "environment"), [])
  env = env_rows[0] if env_rows else None
  device = env["device_kind"] if env else "unknown device"
  out = [f"# Device check: {device}{' (tiny sizes)' if tiny else ''}", ""]
  if tiny:
    out += ["**Tiny sizes** (`--tiny`): a check that the command works, "
            "not a measurement of interest.", ""]
  out += _environment(env) + [
      "", f"Command: `{command}`; total limit {total_s:.0f} s, ran "
      f"{wall_s:.0f} s.  Raw results: [{json_name}]({json_name}).", "",
      "| part | status | limit s | ran s | items | note |",
      "|---|---|---|---|---|---|"]
  for o in outcomes:
    out.append(f"| {o.name} | {o.status} | {o.limit_s:.0f} | {o.wall_s:.0f} "
               f"| {len(o.rows)} | {o.message} |")
  for o in outcomes:
    if o.name not in SECTIONS:
      continue
    title, render = SECTIONS[o.name]
    out += ["", f"## {title}", ""]
    if not o.rows:
      out.append(f"Nothing finished ({o.status}"
                 f"{': ' + o.message if o.message else ''}).")
      continue
    if o.status != "done":
      out += [f"Partial ({o.status}: {o.message}): the items below "
              "finished.", ""]
    try:
      out += render(o.rows, tiny)
    except (KeyError, TypeError, ValueError, IndexError) as e:
      out.append(f"Could not render the rows ({type(e).__name__}: {e}); "
                 "they are in the raw JSON.")
  return "\n".join(out) + "\n"


def write(outcomes: Sequence[Any], *, tiny: bool, total_s: float,
          command: str, wall_s: float, output: str | None,
          json_path: str | None, slug: str) -> dict[str, str]:
  """Writes the Markdown report and the raw JSON; returns their paths."""
  output = output or os.path.join("docs", f"device-check-{slug}.md")
  json_path = json_path or os.path.join("docs", f"device-check-{slug}.json")
  for path in (output, json_path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  json_name = os.path.relpath(json_path, os.path.dirname(output) or ".")
  _jsonio.atomic_write_json(json_path, {
      "command": command, "tiny": tiny, "total_s": total_s,
      "wall_s": wall_s,
      "parts": [{"name": o.name, "status": o.status, "limit_s": o.limit_s,
                 "wall_s": o.wall_s, "message": o.message, "rows": o.rows}
                for o in outcomes]})
  text = markdown(outcomes, tiny=tiny, total_s=total_s, command=command,
                  wall_s=wall_s, json_name=json_name)
  with open(output, "w") as f:
    f.write(text)
  return {"markdown": output, "json": json_path}
