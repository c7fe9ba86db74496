"""edgeperf submissions exported as AlgoPerf submissions: self-contained,
and the round trip (export, then import the export here) gives the native
loss curve to float32 roundoff."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from edgeperf.harness import owned_steps
from edgeperf.harness import programs as programs_lib
from edgeperf.harness import runner
from edgeperf.interop import algoperf_export
from edgeperf.interop import optax_compat
from edgeperf.submissions import loader
from edgeperf.submissions import search_space as search_space_lib
from edgeperf.submissions.algoperf_api import load as algoperf_load

EXTERNAL = [n for n in loader.available()
            if loader.load(n).search_space.ruleset == "external"]
REFUSED = {"schedule_free": "optax.contrib.schedule_free",
           "dog": "optax.contrib._dog"}
"""Shipped submissions the export refuses, with what they need."""
STEPS = 3
_PROGRAMS = programs_lib.ProgramCache()  # evaluation compiled once


def _point(sub):
  space = sub.search_space
  if space.is_finite:
    return next(iter(space.grid()))
  return {h.name: h.from_unit(0.5) for h in space.hyperparameters}


@pytest.mark.slow
@pytest.mark.parametrize("name", EXTERNAL)
def test_round_trip_gives_the_native_curve(name, tmp_path, get_workload):
  folder = str(tmp_path / name)
  if name in REFUSED:
    with pytest.raises(algoperf_export.ExportError,
                       match=REFUSED[name].replace(".", r"\.")):
      algoperf_export.export(name, folder)
    return
  workload = get_workload("mlp_mnist")
  sub = loader.load(name)
  hp = _point(sub)
  native = runner.run(workload, sub.spec(hp, num_steps=STEPS), seed=0,
                      max_steps=STEPS, eval_every=STEPS, progress=False,
                      programs=_PROGRAMS)
  algoperf_export.export(name, folder)
  imported = loader.load(folder)
  assert algoperf_load.is_algoperf(os.path.join(folder, "submission.py"))
  result = owned_steps.run(workload, imported.spec(hp), seed=0,
                           max_steps=STEPS, eval_every=STEPS, progress=False,
                           programs=_PROGRAMS)
  np.testing.assert_allclose(result.steps["objective"],
                             native.steps["objective"], rtol=1e-5)
  np.testing.assert_allclose(result.evals["train_objective"],
                             native.evals["train_objective"], rtol=1e-5)


def test_every_refusal_is_a_shipped_submission_needing_newer_optax(tmp_path):
  for name, needs in REFUSED.items():
    with pytest.raises(algoperf_export.ExportError) as e:
      algoperf_export.export(name, str(tmp_path / name))
    assert "\n" not in str(e.value) and needs in str(e.value)
    assert "optax 0.2.2" in str(e.value)
    assert not os.path.exists(tmp_path / name)  # nothing written


_BLOCKER = '''
import importlib.abc, sys
class _NoEdgeperf(importlib.abc.MetaPathFinder):
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] == "edgeperf":
      raise ImportError("the export imported " + name)
sys.meta_path.insert(0, _NoEdgeperf())
for name in [m for m in sys.modules if m.split(".")[0] == "edgeperf"]:
  del sys.modules[name]
'''

_STANDALONE = '''
import collections, enum, importlib.util, json, sys, types
import jax, jax.numpy as jnp
spec = types.ModuleType("algoperf.spec")
spec.ForwardPassMode = enum.Enum("ForwardPassMode", "TRAIN EVAL")
package = types.ModuleType("algoperf"); package.spec = spec
sys.modules.update({"algoperf": package, "algoperf.spec": spec})
folder = sys.argv[1]
loc = importlib.util.spec_from_file_location("exported", folder + "/submission.py")
sub = importlib.util.module_from_spec(loc); loc.loader.exec_module(sub)

class Workload:  # a least-squares model, AlgoPerf's members
  step_hint = 10
  def model_fn(self, params, batch, model_state, mode, rng, update_batch_norm,
               dropout_rate=0.0):
    return batch["inputs"] @ params["w"], model_state
  def loss_fn(self, label_batch, logits_batch, mask_batch=None,
              label_smoothing=0.0):
    per = 0.5 * jnp.sum((logits_batch - label_batch) ** 2, axis=-1)
    return {"summed": per.sum(), "n_valid_examples": per.size,
            "per_example": per}

space = json.load(open(folder + "/tuning_search_space.json"))
point = {k: v["feasible_points"][0] for k, v in space.items()}
hp = collections.namedtuple("Hyperparameters", list(point))(**point)
w = Workload()
params = {"w": jnp.zeros((3, 2))}
batch = {"inputs": jnp.eye(3), "targets": jnp.ones((3, 2))}
state = sub.init_optimizer_state(w, params, None, hp, jax.random.PRNGKey(0))
losses = []
for t in range(3):
  logits, _ = w.model_fn(params, batch, None, None, None, False)
  losses.append(float(w.loss_fn(batch["targets"], logits)["summed"]))
  state, params, _ = sub.update_params(w, params, None, None, hp, batch,
                                       None, state, [], t,
                                       jax.random.PRNGKey(t))
print(json.dumps(losses))
print(sorted(m for m in sys.modules if m.split(".")[0] == "edgeperf"))
'''


def test_an_export_imports_nothing_from_edgeperf(tmp_path):
  folder = str(tmp_path / "cdat")
  algoperf_export.export("cdat", folder)
  assert algoperf_export.edgeperf_imports(folder) == []
  out = subprocess.run(
      [sys.executable, "-c", _BLOCKER + _STANDALONE, folder],
      capture_output=True, text=True, timeout=300, cwd=str(tmp_path),
      check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  losses_line, modules_line = out.stdout.strip().splitlines()[-2:]
  losses = json.loads(losses_line)
  assert modules_line == "[]"
  assert losses[0] == pytest.approx(3.0)  # ½·‖0 − 1‖² over 3×2 entries
  assert losses[2] < losses[1] < losses[0]  # CDAT descends


def test_the_check_finds_an_edgeperf_import(tmp_path):
  (tmp_path / "a.py").write_text("import os\nfrom edgeperf import x\n")
  assert algoperf_export.edgeperf_imports(str(tmp_path)) == [
      "a.py:2 edgeperf"]


def test_search_space_translation_keeps_every_value(tmp_path):
  space = search_space_lib.parse({"ruleset": "external", "hyperparameters": {
      "lr": {"log2_grid": {"base": 0.5, "exponents": [-1, 1]}},
      "beta": {"min": 1e-3, "max": 0.1, "scale": "log"},
      "mode": {"value": "gd"}}})
  out = algoperf_export.algoperf_space(space, 1e-5)
  assert out["lr"] == {"feasible_points": [0.25, 0.5, 1.0]}
  assert out["beta"] == {"min": 1e-3, "max": 0.1, "scaling": "log"}
  assert out["mode"] == {"feasible_points": ["gd"]}
  path = tmp_path / "tuning_search_space.json"
  path.write_text(json.dumps(out))
  back = algoperf_load.read_search_space(str(path)).space
  by_name = {h.name: h for h in back.hyperparameters}
  assert by_name["lr"].values == (0.25, 0.5, 1.0)
  assert (by_name["beta"].low, by_name["beta"].scale) == (1e-3, "log")
  assert by_name[algoperf_export.WEIGHT_DECAY].values == (1e-5,)


def test_optax_compat_fallbacks_match_optax():
  rng = np.random.default_rng(0)
  a = {"x": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
       "y": jnp.asarray(rng.normal(size=5), jnp.float32)}
  b = jax.tree.map(lambda v: v * 0.5 + 1.0, a)
  fb = optax_compat.FALLBACKS
  pairs = [(fb["scale"](2.5, a), optax.tree.scale(2.5, a)),
           (fb["add_scale"](a, 0.3, b), optax.tree.add_scale(a, 0.3, b)),
           (fb["vdot"](a, b), optax.tree.vdot(a, b)),
           (fb["norm"](a), optax.tree.norm(a)),
           (fb["norm"](a, squared=True), optax.tree.norm(a, squared=True)),
           (fb["zeros_like"](a), optax.tree.zeros_like(a))]
  for ours, theirs in pairs:
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6),
                 ours, theirs)
  ours, theirs = optax_compat.rms_fallback(0.999, 1e-8), optax.scale_by_rms(
      0.999, 1e-8, eps_in_sqrt=False)
  s1, s2 = ours.init(a), theirs.init(a)
  for _ in range(3):
    u1, s1 = ours.update(b, s1)
    u2, s2 = theirs.update(b, s2)
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6),
                 u1, u2)


def test_vendored_code_routes_optax_tree_through_the_compat_module():
  text = ('"""optax.tree.vdot in a docstring stays."""\nimport optax\n'
          "from edgeperf.submissions import api\n"
          "x = optax.tree.vdot(a, b)  # optax.tree.norm in a comment\n"
          "y = optax.scale_by_rms(decay=0.9)\n")
  out = algoperf_export.rewrite(text, "_tuner_t")
  assert "from _tuner_t.submissions import api" in out
  assert "from _tuner_t import _optax_compat" in out
  assert "x = _optax_compat.vdot(a, b)  # optax.tree.norm" in out
  assert "y = _optax_compat.scale_by_rms(decay=0.9)" in out
  assert '"""optax.tree.vdot in a docstring stays."""' in out
  with pytest.raises(algoperf_export.ExportError, match="optax.tree.sub"):
    algoperf_export.rewrite("import optax\nz = optax.tree.sub(a, b)\n", "p")


def test_bad_requests_are_refused_in_one_line(tmp_path, capsys):
  from edgeperf.cli import export_algoperf  # pylint: disable=g-import-not-at-top
  busy = tmp_path / "busy"
  busy.mkdir()
  (busy / "mine.txt").write_text("keep")
  here = os.path.dirname(os.path.abspath(__file__))
  cases = [
      (["--submission=nope", f"--output_dir={tmp_path / 'o'}"],
       "unknown submission 'nope'"),
      (["--submission=constant", f"--output_dir={busy}"],
       "exists and is not empty"),
      ([f"--submission={here}/algoperf_submissions/adamw",
        f"--output_dir={tmp_path / 'o2'}"], "not an edgeperf submission"),
      (["--submission=dog", f"--output_dir={tmp_path / 'o3'}"],
       "optax.contrib._dog"),
  ]
  for args, expected in cases:
    rc = export_algoperf.main(["edgeperf-export-algoperf", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err and expected in err, err
  assert (busy / "mine.txt").read_text() == "keep"
  rc = export_algoperf.main(["edgeperf-export-algoperf",
                             "--submission=constant",
                             f"--output_dir={tmp_path / 'ok'}"])
  assert rc == 0
  files = json.loads(capsys.readouterr().out)["files"]
  assert "submission.py" in files and "tuning_search_space.json" in files
  # an earlier export may be written again
  assert export_algoperf.main(["edgeperf-export-algoperf",
                               "--submission=constant",
                               f"--output_dir={tmp_path / 'ok'}"]) == 0
