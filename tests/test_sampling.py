"""Seeded trial generation: reproducible, stratified, grid when small."""

import math

import numpy as np
import pytest

from edgeperf.harness.sweep import sampling
from edgeperf.submissions import search_space

SPACE = search_space.parse({
    "ruleset": "external",
    "hyperparameters": {
        "learning_rate": {"min": 1e-4, "max": 1.0, "scale": "log"},
        "beta": {"min": 0.0, "max": 0.99},
        "sigma": {"values": [1.0, 2.0, 2.0625]},
        "base_optimizer": {"value": "gd"},
    }})
GRID = search_space.parse({
    "hyperparameters": {
        "learning_rate": {"log2_grid": {"base": 0.001,
                                        "exponents": [-1, 7]}},
        "base_optimizer": {"value": "momentum"}}})


@pytest.mark.parametrize("method", ["halton", "sobol"])
def test_same_seed_same_points_in_the_same_order(method):
  a = sampling.plan(SPACE, num_trials=5, num_studies=3, seed=7,
                    method=method)
  b = sampling.plan(SPACE, num_trials=5, num_studies=3, seed=7,
                    method=method)
  assert a == b
  assert [(p.study, p.trial) for p in a] == [
      (s, t) for s in range(3) for t in range(5)]
  # A longer study starts with the same points (a sequence, not a set).
  longer = sampling.study_points(SPACE, 8, seed=7, study=1, method=method)
  assert longer[:5] == [p.hparams for p in a if p.study == 1]


def test_different_seeds_and_studies_differ():
  s0 = sampling.study_points(SPACE, 5, seed=0, study=0)
  assert s0 != sampling.study_points(SPACE, 5, seed=0, study=1)
  assert s0 != sampling.study_points(SPACE, 5, seed=1, study=0)
  seeds = [p.seed for p in sampling.plan(SPACE, num_trials=5, num_studies=3,
                                         seed=0)]
  assert len(set(seeds)) == 15
  assert all(0 <= s < 2**31 for s in seeds)
  assert sampling.trial_seed(0, 1, 2) == sampling.trial_seed(0, 1, 2)


def test_values_in_range_and_fixed_pass_through():
  for p in sampling.study_points(SPACE, 16, seed=3):
    assert 1e-4 <= p["learning_rate"] <= 1.0
    assert 0.0 <= p["beta"] <= 0.99
    assert p["sigma"] in (1.0, 2.0, 2.0625)
    assert p["base_optimizer"] == "gd"
    assert list(p) == ["learning_rate", "beta", "sigma", "base_optimizer"]
    assert all(type(v) in (float, str) for v in p.values())


@pytest.mark.parametrize("method", ["halton", "sobol"])
def test_quasi_random_points_are_stratified(method):
  # Scrambled base-2 sequences: the first 2^k points put exactly one point
  # in each interval [i/2^k, (i+1)/2^k) of the first coordinate.
  u = sampling.unit_points(2, 16, seed=5, study=2, method=method)
  assert u.shape == (16, 2)
  cells = np.floor(u[:, 0] * 16).astype(int)
  assert sorted(cells) == list(range(16))
  # And the log-scaled rate: one point per 1/16 of the log range.
  pts = sampling.study_points(
      search_space.parse({"hyperparameters": {
          "lr": {"min": 1e-4, "max": 1.0, "scale": "log"}}}),
      16, seed=5, study=2, method=method)
  logs = np.log10([p["lr"] for p in pts])  # in [-4, 0]
  assert sorted(np.floor((logs + 4) / 4 * 16).astype(int)) == list(range(16))


def test_small_finite_space_uses_the_grid():
  assert GRID.size() == 9
  points = sampling.study_points(GRID, 9, seed=0)
  assert points == list(GRID.grid())
  assert [p["learning_rate"] for p in points] == pytest.approx(
      [0.001 * 2.0**i for i in range(-1, 8)])
  # Every study runs the same grid (with its own run seeds).
  plan = sampling.plan(GRID, num_trials=20, num_studies=2, seed=0)
  assert len(plan) == 18
  assert [p.hparams for p in plan[:9]] == [p.hparams for p in plan[9:]]
  # More points than trials: quasi-random picks from the grid values.
  few = sampling.study_points(GRID, 5, seed=0)
  assert len(few) == 5
  values = {p["learning_rate"] for p in GRID.grid()}
  assert all(p["learning_rate"] in values for p in few)
  assert all(p["base_optimizer"] == "momentum" for p in few)


def test_grid_limit_runs_a_larger_grid_whole():
  # The tuning protocol: a grid no larger than its trial budget runs whole.
  plan = sampling.plan(GRID, num_trials=5, num_studies=1, seed=0,
                       grid_limit=15)
  assert [p.hparams for p in plan] == list(GRID.grid())
  assert len(sampling.study_points(GRID, 5, seed=0, grid_limit=8)) == 5
  with pytest.raises(ValueError, match="grid_limit"):
    sampling.study_points(GRID, 5, seed=0, grid_limit=0)


def test_all_fixed_external_space_is_one_point():
  space = search_space.parse({"hyperparameters": {"lr": {"value": 0.1}}})
  assert sampling.study_points(space, 5, seed=0) == [{"lr": 0.1}]


def test_self_tuning_one_run_per_study():
  space = search_space.parse({"ruleset": "self", "hyperparameters": {
      "sigma": {"value": 2.0}}})
  plan = sampling.plan(space, num_trials=5, num_studies=3, seed=0)
  assert [(p.study, p.trial, p.hparams) for p in plan] == [
      (0, 0, {"sigma": 2.0}), (1, 0, {"sigma": 2.0}), (2, 0, {"sigma": 2.0})]
  assert len({p.seed for p in plan}) == 3


def test_bad_requests_fail_clearly():
  with pytest.raises(ValueError, match="num_trials"):
    sampling.study_points(SPACE, 0, seed=0)
  with pytest.raises(ValueError, match="method"):
    sampling.study_points(SPACE, 3, seed=0, method="random")
  with pytest.raises(ValueError, match="grid.*finite"):
    sampling.study_points(SPACE, 3, seed=0, method="grid")
  with pytest.raises(ValueError, match="num_studies"):
    sampling.plan(SPACE, num_trials=3, num_studies=0, seed=0)
  assert math.isinf(SPACE.size())
