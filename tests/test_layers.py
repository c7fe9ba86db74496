"""Imports follow the folders' roles (each folder's ``__init__`` docstring
says what it owns and may import), and no module imports itself back
through others (no import cycle, counting imports inside functions).

    edgeperf (private helpers) ← workloads ← submissions ← harness
        ← scoring ← protocol
    harness ← reproduce;  everything ← cli ← benchmarks (scripts, flags
    parsed the cli's way)

Inside ``harness`` the timed run never imports ``harness.sweep``.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BASE = ("edgeperf", "workloads", "submissions", "harness")
ALLOWED = {
    "edgeperf": (),
    "workloads": ("edgeperf",),
    "submissions": ("edgeperf", "workloads"),
    "harness": ("edgeperf", "workloads", "submissions"),
    "scoring": _BASE,
    "protocol": _BASE + ("scoring",),
    "reproduce": _BASE,
    "interop": _BASE,
    "cli": _BASE + ("scoring", "protocol", "reproduce", "interop"),
    "benchmarks": _BASE + ("scoring", "protocol", "reproduce", "interop",
                           "cli"),
}
LAYERS = tuple(ALLOWED)


def _imports(path):
  """(line, imported module) for every ``edgeperf`` import in ``path``."""
  tree = ast.parse(open(path).read(), path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    else:
      continue
    for name in names:
      if name.split(".")[0] == "edgeperf":
        yield node.lineno, name


def _layer_of(name):
  parts = name.split(".")
  return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "edgeperf"


def _edgeperf_imports(path):
  for line, name in _imports(path):
    yield line, _layer_of(name)


def _modules():
  for layer in LAYERS:
    for folder, _, files in os.walk(os.path.join(ROOT, layer)):
      for name in files:
        if name.endswith(".py"):
          yield layer, os.path.join(folder, name)


def _module_name(path):
  rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
  rel = rel[:-len(".__init__")] if rel.endswith(".__init__") else rel
  return rel if rel.startswith("edgeperf") else "edgeperf." + rel


@pytest.mark.parametrize("layer,path", list(_modules()),
                         ids=lambda x: os.path.relpath(x, ROOT)
                         if isinstance(x, str) and os.sep in x else x)
def test_module_imports_only_what_its_folder_may(layer, path):
  for line, target in _edgeperf_imports(path):
    assert target == layer or target in ALLOWED[layer], (
        f"{os.path.relpath(path, ROOT)}:{line} imports edgeperf.{target} "
        f"from {layer}, which may import {ALLOWED[layer]}")


def test_the_timed_run_never_imports_the_sweep():
  for layer, path in _modules():
    if layer != "harness" or f"{os.sep}sweep{os.sep}" in path:
      continue
    for line, name in _imports(path):
      assert not name.startswith("edgeperf.harness.sweep"), (
          f"{os.path.relpath(path, ROOT)}:{line} imports {name}")


def _graph():
  modules = {_module_name(p): p for _, p in _modules()}
  graph = {}
  for name, path in modules.items():
    deps = set()
    for _, target in _imports(path):
      while target and target not in modules:  # a name inside a module
        target = target.rpartition(".")[0]
      if target and target != name:
        deps.add(target)
    graph[name] = deps
  return graph


def _cycle(graph):
  """One import cycle as a list of modules, or None."""
  state, stack = {}, []

  def visit(node):
    state[node] = "open"
    stack.append(node)
    for dep in sorted(graph.get(node, ())):
      if state.get(dep) == "open":
        return stack[stack.index(dep):] + [dep]
      if dep not in state:
        found = visit(dep)
        if found:
          return found
    state[node] = "done"
    stack.pop()
    return None

  for node in sorted(graph):
    if node not in state:
      found = visit(node)
      if found:
        return found
  return None


def test_no_import_cycle():
  graph = {n: {d for d in deps if not graph_is_package(n, d)}
           for n, deps in _graph().items()}
  cycle = _cycle(graph)
  assert cycle is None, " -> ".join(cycle)


def graph_is_package(module, dep):
  """A package's ``__init__`` re-exporting its own modules is no cycle."""
  return module.startswith(dep + ".")


def test_the_checks_can_fail(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("from edgeperf.scoring import leaderboard\n")
  assert list(_edgeperf_imports(str(bad))) == [(1, "scoring"),
                                                (1, "scoring")]
  assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert _cycle({"a": {"b"}, "b": set()}) is None
