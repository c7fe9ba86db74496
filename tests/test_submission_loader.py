"""Loading submissions: by name, by path, and every bad-submission error."""

import json
import textwrap

import optax
import pytest

from edgeperf.submissions import loader
from edgeperf.submissions import search_space

GOOD = """
import optax
from edgeperf.submissions import api
from edgeperf.submissions.constant import scale_by_constant_lr

def make_tuner(*, learning_rate, base_optimizer="gd"):
  return optax.chain(api.base_direction(base_optimizer),
                     scale_by_constant_lr(learning_rate))
"""
SPACE = {"hyperparameters": {"learning_rate": {"values": [0.1, 0.2]}}}


def _write(folder, code=GOOD, space=SPACE):
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "submission.py").write_text(textwrap.dedent(code))
  if space is not None:
    (folder / "search_space.json").write_text(
        space if isinstance(space, str) else json.dumps(space))
  return folder


def test_load_by_name():
  sub = loader.load("constant")
  assert sub.name == "constant" and "constant" in loader.available()
  tx = sub.build({"learning_rate": 0.1})
  assert isinstance(tx, optax.GradientTransformationExtraArgs)
  assert sub.search_space.size() == 12 and sub.search_space.ruleset == "external"
  lrs = [h for h in sub.search_space.hyperparameters
         if h.name == "learning_rate"][0].values
  assert lrs[0] == pytest.approx(5e-4) and lrs[-1] == pytest.approx(1.024)


def test_load_by_folder_and_by_file(tmp_path):
  folder = _write(tmp_path / "mine")
  assert loader.load(str(folder)).name == "mine"
  sub = loader.load(str(folder / "submission.py"))
  assert sub.build({"learning_rate": 0.1})


def test_unknown_name_lists_shipped():
  with pytest.raises(loader.SubmissionError, match="unknown submission 'nope'.*constant"):
    loader.load("nope")


def test_missing_entry_point_names_file(tmp_path):
  folder = _write(tmp_path / "s", code="def build(): pass\n")
  with pytest.raises(loader.SubmissionError,
                     match=r"submission\.py: no callable 'make_tuner'"):
    loader.load(str(folder))


def test_wrong_return_type(tmp_path):
  folder = _write(tmp_path / "s", code="def make_tuner(learning_rate):\n  return 3\n")
  with pytest.raises(loader.SubmissionError,
                     match="returned int; expected an optax"):
    loader.load(str(folder)).build({"learning_rate": 0.1})


def test_plain_gradient_transformation_is_wrapped(tmp_path):
  code = ("import optax\n"
          "def make_tuner(learning_rate):\n"
          "  return optax.GradientTransformation(*optax.sgd(learning_rate))\n")
  tx = loader.load(str(_write(tmp_path / "s", code=code))).build(
      {"learning_rate": 0.1})
  assert isinstance(tx, optax.GradientTransformationExtraArgs)


def test_unknown_and_missing_hyperparameters(tmp_path):
  sub = loader.load(str(_write(tmp_path / "s")))
  with pytest.raises(loader.SubmissionError,
                     match=r"unknown hyperparameter\(s\) \['momentum'\].*accepts"):
    sub.build({"learning_rate": 0.1, "momentum": 0.9})
  with pytest.raises(loader.SubmissionError,
                     match=r"missing required hyperparameter\(s\) \['learning_rate'\]"):
    sub.build({})


@pytest.mark.parametrize("space,message", [
    ("{not json", "not valid JSON"),
    ([1, 2], "top level must be a JSON object"),
    ({"hyperparameters": {"lr": 0.1}}, "'lr' must be an object"),
    ({"hyperparameters": {"lr": {"values": []}}}, "non-empty list"),
    ({"hyperparameters": {"lr": {"min": 1, "max": 0}}}, "min <= max"),
    ({"hyperparameters": {"lr": {"min": 0, "max": 1, "scale": "log"}}},
     "is not > 0"),
    ({"hyperparameters": {"lr": {"log2_grid": {"base": 1}}}}, "log2_grid must be"),
    ({"hyperparameters": {"lr": {"choices": [1]}}}, "expected exactly one of"),
    ({"ruleset": "open"}, "ruleset must be one of"),
    ({"ruleset": "self", "hyperparameters": {"lr": {"values": [1, 2]}}},
     "allows only fixed values"),
    ({"hyperparameters": {}, "extra": 1}, "unknown top-level keys"),
])
def test_malformed_search_space_names_file_and_key(tmp_path, space, message):
  folder = _write(tmp_path / "s",
                  space=space if isinstance(space, str) else json.dumps(space))
  with pytest.raises(search_space.SearchSpaceError, match=message) as info:
    loader.load(str(folder))
  assert "search_space.json" in str(info.value)


def test_missing_search_space(tmp_path):
  folder = _write(tmp_path / "s", space=None)
  with pytest.raises(search_space.SearchSpaceError, match="missing"):
    loader.load(str(folder))


def test_search_space_grid_and_unit_mapping():
  space = search_space.parse({"hyperparameters": {
      "a": {"values": [1, 2]}, "b": {"value": "x"},
      "c": {"log2_grid": {"base": 1.0, "exponents": [0, 2]}}}})
  assert list(space.grid())[:2] == [{"a": 1, "b": "x", "c": 1.0},
                                    {"a": 1, "b": "x", "c": 2.0}]
  assert space.size() == 6 and space.defaults() == {"b": "x"}
  cont = search_space.parse({"hyperparameters": {
      "e": {"min": 1e-4, "max": 1e-2, "scale": "log"}}})
  (e,) = cont.hyperparameters
  assert e.from_unit(0.0) == pytest.approx(1e-4)
  assert e.from_unit(0.5) == pytest.approx(1e-3)
  assert cont.size() == float("inf")
  with pytest.raises(search_space.SearchSpaceError, match="continuous"):
    list(cont.grid())
