"""Imports form layers with no cycle between top-level folders:
edgeperf (the private helpers at the namespace root) ← workloads ←
submissions ← harness ← scoring.  A module may import its own layer and the
ones below, never one above."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("edgeperf", "workloads", "submissions", "harness", "scoring")


def _edgeperf_imports(path):
  tree = ast.parse(open(path).read(), path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    else:
      continue
    for name in names:
      parts = name.split(".")
      if parts[0] == "edgeperf":
        yield node.lineno, parts[1] if len(parts) > 1 else ""


def _modules():
  for layer in LAYERS:
    for folder, _, files in os.walk(os.path.join(ROOT, layer)):
      for name in files:
        if name.endswith(".py"):
          yield layer, os.path.join(folder, name)


@pytest.mark.parametrize("layer,path", list(_modules()),
                         ids=lambda x: os.path.relpath(x, ROOT)
                         if isinstance(x, str) and os.sep in x else x)
def test_module_imports_only_its_layer_and_below(layer, path):
  level = LAYERS.index(layer)
  for line, target in _edgeperf_imports(path):
    target_layer = target if target in LAYERS else "edgeperf"
    assert LAYERS.index(target_layer) <= level, (
        f"{os.path.relpath(path, ROOT)}:{line} imports edgeperf.{target} "
        f"from the {layer} layer")


def test_the_check_can_fail(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("from edgeperf.scoring import leaderboard\n")
  assert list(_edgeperf_imports(str(bad))) == [(1, "scoring"),
                                                (1, "scoring")]
