"""Loading submissions: by name, by path, and every bad-submission error."""

import json
import textwrap

import optax
import pytest

from edgeperf import workloads
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
  # 12 rates × the 4 base directions it declares (one per division)
  assert sub.search_space.size() == 12 * 4
  assert sub.search_space.ruleset == "external"
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


def test_the_workload_unrolls_inner_loops_of_a_tuner_that_takes_it():
  # The conv net runs its steps in a Python loop (compiled loops of its
  # gradient are slow on a CPU): a tuner's Lanczos loop is unrolled there.
  conv, mlp = workloads.get("cnn_digits"), workloads.get("mlp_mnist")
  assert conv.unroll_inner_loops and not mlp.unroll_inner_loops
  sharp = loader.load("exact_sharpness")
  assert sharp.resolve({}, unroll_loops=True)["unroll_loops"] is True
  assert sharp.resolve({}, unroll_loops=False)["unroll_loops"] is False
  assert "unroll_loops" not in loader.load("constant").resolve(
      {"learning_rate": 0.1}, unroll_loops=True)


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


TYPED = """
import optax

def make_tuner(*, learning_rate: float, steps: int = 3, mode: str = "a",
               flag: bool = False, c_plus: float | str = "inf",
               cap: float | None = None, beta: float = 0.5):
  return optax.sgd(learning_rate)
"""
TYPED_SPACE = {"hyperparameters": {
    "learning_rate": {"log2_grid": {"base": 0.001, "exponents": [0, 3]}},
    "mode": {"values": ["a", "b"]}, "c_plus": {"values": [4.0, "inf"]},
    "cap": {"value": None}, "beta": {"min": 0.0, "max": 0.9}}}


@pytest.mark.parametrize("hparams,message", [
    # Against the search space: the type of its values, or its range.
    ({"learning_rate": "fast"}, r"learning_rate must be a number, got "
     r"'fast' \(its values in .*search_space\.json: 0\.001, 0\.002"),
    ({"learning_rate": "0.1"}, r"learning_rate must be a number, got '0\.1'"),
    ({"learning_rate": [0.1]}, r"learning_rate must be a number, got \[0\.1\]"),
    ({"learning_rate": True}, r"learning_rate must be a number, got True"),
    ({"mode": 1}, r"mode must be a string, got 1 \(its values in "
     r".*search_space\.json: 'a', 'b'\)"),
    ({"c_plus": None}, r"c_plus must be a number or a string, got None"),
    ({"beta": 0.95}, r"beta must be a number in \[0, 0\.9\], got 0\.95 "
     r"\(its range in .*search_space\.json\)"),
    ({"beta": "high"}, r"beta must be a number in \[0, 0\.9\], got 'high'"),
    # Against make_tuner's annotations.
    ({"steps": 2.5}, r"steps must be an int, got 2\.5 \(make_tuner in "
     r".*submission\.py takes steps: int\)"),
    ({"flag": "yes"}, r"flag must be a bool, got 'yes'"),
    ({"cap": "big"}, r"cap must be a number or null, got 'big' \(make_tuner "
     r"in .*submission\.py takes cap: float \| None\)"),
])
def test_wrong_type_hyperparameters_are_named(tmp_path, hparams, message):
  sub = loader.load(str(_write(tmp_path / "s", code=TYPED,
                               space=TYPED_SPACE)))
  with pytest.raises(loader.SubmissionError, match=message):
    sub.resolve({"learning_rate": 0.1, **hparams})


def test_well_typed_hyperparameters_pass(tmp_path):
  sub = loader.load(str(_write(tmp_path / "s", code=TYPED,
                               space=TYPED_SPACE)))
  # Off-grid numbers, an int for a float, a string outside the set, null
  # where allowed: all of the expected types.
  hparams = {"learning_rate": 1, "steps": 5, "mode": "c", "flag": True,
             "c_plus": 2.0, "cap": 3.5, "beta": 0.9}
  assert sub.resolve(hparams) == hparams
  for point in loader.load("armijo").search_space.grid():
    loader.load("armijo").resolve(point)


def test_search_space_key_not_accepted_names_search_space(tmp_path):
  space = {"hyperparameters": {"learning_rate": {"values": [0.1]},
                               "momentum": {"value": 0.9}}}
  sub = loader.load(str(_write(tmp_path / "s", space=space)))
  with pytest.raises(loader.SubmissionError) as info:
    sub.resolve({"learning_rate": 0.1})
  text = str(info.value)
  assert text.startswith(str(tmp_path / "s" / "search_space.json"))
  assert "['momentum'] are not arguments of make_tuner" in text


def test_search_space_fixed_value_of_wrong_type_names_search_space(tmp_path):
  space = {"hyperparameters": {"learning_rate": {"values": [0.1]},
                               "steps": {"value": "three"}}}
  sub = loader.load(str(_write(tmp_path / "s", code=TYPED, space=space)))
  with pytest.raises(loader.SubmissionError,
                     match=r"steps must be an int, got 'three' \(its fixed "
                     r"value in .*search_space\.json; make_tuner in "
                     r".*submission\.py takes steps: int\)"):
    sub.resolve({"learning_rate": 0.1})
