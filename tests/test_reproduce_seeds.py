"""Verdicts over seeds and the roundoff replicate (edgeperf.reproduce).

The aggregation rules on hand-made per-seed outcomes; a check that a
replicate flips is *unstable* and keeps a finding from *shows*; the
replicate's perturbation changes the initial parameters by at most 1e-6
relative and nothing else; two reproductions compared; the parallel plan
runs each distinct run once.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from edgeperf.reproduce import criteria
from edgeperf.reproduce import experiments
from edgeperf.reproduce import findings
from edgeperf.reproduce import parallel
from edgeperf.reproduce import roundoff
from edgeperf.reproduce import stability
from edgeperf.reproduce.criteria import check
from edgeperf.workloads import registry

MOST, EVERY = criteria.MOST_SEEDS, criteria.EVERY_SEED


def _seed_checks(outcomes: dict[str, bool], rules: dict[str, str],
                 headline: tuple[str, ...] = ()) -> list[criteria.Check]:
  return [check(name, f"criterion {name}", float(ok), ok,
                headline=name in headline, over_seeds=rules[name],
                why="a test") for name, ok in outcomes.items()]


def test_a_rule_applies_to_per_seed_outcomes():
  assert criteria.apply_rule(MOST, [True, True, False])
  assert not criteria.apply_rule(MOST, [True, False, False])
  assert not criteria.apply_rule(MOST, [True, False])  # a tie is no majority
  assert criteria.apply_rule(EVERY, [True, True, True])
  assert not criteria.apply_rule(EVERY, [True, True, False])
  assert criteria.apply_rule(EVERY, [True]) and not criteria.apply_rule(
      MOST, [False])
  with pytest.raises(ValueError, match="unknown rule"):
    criteria.apply_rule("median", [True])
  with pytest.raises(ValueError, match="at least one outcome"):
    criteria.apply_rule(MOST, [])


def test_checks_aggregate_over_seeds_by_their_own_rule():
  rules = {"typical": MOST, "bound": EVERY, "core": MOST}
  by_seed = {
      7: _seed_checks({"typical": True, "bound": True, "core": True}, rules,
                      ("core",)),
      8: _seed_checks({"typical": False, "bound": True, "core": True}, rules,
                      ("core",)),
      9: _seed_checks({"typical": True, "bound": False, "core": False}, rules,
                      ("core",))}
  agg = {c.name: c for c in criteria.over_seeds(by_seed)}
  assert agg["typical"].passed  # 2 of 3 seeds: the median seed passes
  assert not agg["bound"].passed  # fails on seed 9: a bound fails
  assert agg["core"].passed and agg["core"].headline
  assert [c.passed for c in agg["bound"].by_seed.values()] == [
      True, True, False]
  assert all(not c.unstable for c in agg.values())  # no replicates
  verdict, unstable = criteria.judge_over_seeds(list(agg.values()))
  assert (verdict, unstable) == (criteria.PARTLY, ())  # the headline holds
  # The same outcomes with the bound holding everywhere: shows.
  by_seed[9] = _seed_checks({"typical": True, "bound": True, "core": False},
                            rules, ("core",))
  verdict, _ = criteria.judge_over_seeds(criteria.over_seeds(by_seed))
  assert verdict == criteria.SHOWS
  # Every check failing on most seeds: does not show.
  fail = {s: _seed_checks({"typical": s == 7, "bound": s == 7,
                           "core": s == 7}, rules) for s in (7, 8, 9)}
  assert criteria.judge_over_seeds(criteria.over_seeds(fail))[0] == (
      criteria.NOT_SHOWN)


def test_a_check_a_replicate_flips_is_unstable_and_blocks_shows():
  rules = {"a": MOST, "b": EVERY}
  seeds = {s: _seed_checks({"a": True, "b": True}, rules) for s in (7, 8, 9)}
  same = dict(seeds)
  flipped = {**seeds, 8: _seed_checks({"a": False, "b": True}, rules)}
  stable = criteria.over_seeds(seeds, same)
  assert criteria.judge_over_seeds(stable) == (criteria.SHOWS, ())
  agg = criteria.over_seeds(seeds, flipped)
  assert [c.unstable for c in agg] == [(8,), ()]
  assert agg[0].passed  # the seeds alone pass it...
  verdict, unstable = criteria.judge_over_seeds(agg)
  assert (verdict, unstable) == (criteria.PARTLY, ("a",))  # ...but not shows
  # A replicate that agrees on a failing check is no instability.
  failing = {s: _seed_checks({"a": False, "b": True}, rules) for s in (7, 8)}
  assert not any(c.unstable for c in criteria.over_seeds(failing, failing))


def test_seeds_with_different_checks_are_refused():
  rules = {"a": MOST, "b": MOST}
  with pytest.raises(ValueError, match="differ from seed 7"):
    criteria.over_seeds({7: _seed_checks({"a": True}, rules),
                         8: _seed_checks({"b": True}, rules)})


def test_a_check_must_say_its_rule_and_why():
  with pytest.raises(TypeError):
    check("x", "x < 1", 0.5, True)  # pylint: disable=missing-kwoa
  with pytest.raises(ValueError, match="over_seeds must be one of"):
    check("x", "x < 1", 0.5, True, over_seeds="mean", why="no")
  with pytest.raises(ValueError, match="why"):
    check("x", "x < 1", 0.5, True, over_seeds=MOST, why=" ")


def test_every_finding_check_carries_a_rule_and_a_reason():
  for finding in findings.FINDINGS.values():
    if finding.is_model:
      checks = finding.judge({}, experiments.SIZES["tiny"]).checks
      assert checks and all(c.over_seeds in criteria.RULES and c.why
                            for c in checks)
    assert finding.is_model or len(finding.seeds) >= 3


# --------------------------------------------------------------- roundoff --

@pytest.fixture(scope="module")
def workload():
  return registry.get("linreg_digits", size="small")


@pytest.mark.slow  # compiles the workload's init once
def test_the_replicate_moves_initial_parameters_by_a_last_bit(workload):
  twin = roundoff.perturbed(workload)
  key = jax.random.key(7)
  a = jax.tree.leaves(workload.init(key))
  b = jax.tree.leaves(twin.init(key))
  assert len(a) == len(b)
  moved = 0
  for x, y in zip(a, b):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    assert x.shape == y.shape
    nonzero = x != 0
    rel = np.abs(y - x)[nonzero] / np.abs(x)[nonzero]
    assert rel.max(initial=0) <= 1e-6  # a last-bit change...
    assert np.all(y[~nonzero] == 0)  # zeros (biases) stay zero
    moved += int(np.sum(rel > 0))
    assert np.all(rel > 0)  # ...of every nonzero entry
  assert moved > 100
  # Deterministic: the same seed, the same perturbation.
  again = jax.tree.leaves(roundoff.perturbed(workload).init(key))
  assert all(np.array_equal(x, y) for x, y in zip(b, again))


def test_the_replicate_changes_nothing_else(workload):
  twin = roundoff.perturbed(workload)
  for field in dataclasses.fields(workload):
    assert getattr(twin, field.name) is getattr(workload, field.name)
  spec = experiments.RunSpec("cdat_s2", "cdat", {"sigma": 2.0}, seed=7)
  rep = spec.replicate()
  assert rep._replace(perturb=0.0) == spec
  assert rep.perturb == roundoff.REPLICATE_PERTURBATION
  assert "perturb" not in spec.identity()  # unperturbed hashes unchanged
  assert rep.folder.startswith("cdat_s2-s7r-") and spec.folder.startswith(
      "cdat_s2-s7-")
  session = experiments.Session("/nonexistent", log=None)
  original = session.workload(spec)
  perturbed = session.workload(rep)
  assert isinstance(perturbed, roundoff.PerturbedWorkload)
  assert perturbed.train is original.train  # the same data
  assert perturbed.target_train_loss is None and perturbed.time_budget_s == (
      original.time_budget_s)


def test_a_perturbation_out_of_range_is_refused(workload):
  with pytest.raises(ValueError, match=r"\(0, 1e-3\]"):
    roundoff.perturbed(workload, 0.1)
  with pytest.raises(ValueError, match=r"\(0, 1e-3\]"):
    roundoff.perturb({"w": np.ones(3, np.float32)}, 0.0, jax.random.key(0))


# -------------------------------------------------------------- stability --

def _report(verdicts: dict[str, str], seed_passed: dict[str, list[bool]]):
  out = {"findings": {}}
  for fid, v in verdicts.items():
    passed = seed_passed[fid]
    out["findings"][fid] = {
        "verdict": v,
        "checks": [{"name": f"c{i}", "passed": p} for i, p in
                   enumerate(passed)],
        "by_seed": {"7": {"checks": [{"name": f"c{i}", "passed": p}
                                     for i, p in enumerate(passed)]}}}
  return out


def test_two_reproductions_compared():
  before = _report({"F1": "shows", "F2": "partly"},
                   {"F1": [True, True], "F2": [True, False]})
  after = _report({"F1": "partly", "F2": "partly", "F3": "shows"},
                  {"F1": [True, False], "F2": [True, False], "F3": [True]})
  c = stability.compare(before, after)
  assert c.findings == 2  # F3 is not in both
  assert c.verdicts == [stability.Change("F1", "verdict", "shows", "partly")]
  assert [x.what for x in c.checks] == ["c1"]
  assert [x.what for x in c.seed_checks] == ["c1 (seed 7)"]
  assert c.seed_checks_total == 4
  assert stability.summary(c).startswith("1 of 2 verdicts changed")
  assert stability.compare(before, before).verdicts == []


def test_an_unreadable_reproduction_is_refused(tmp_path):
  bad = tmp_path / "findings.json"
  bad.write_text("[1, 2]")
  with pytest.raises(ValueError, match="not a findings.json"):
    stability.load(str(bad))
  with pytest.raises(ValueError, match="cannot read"):
    stability.load(str(tmp_path / "missing.json"))


# --------------------------------------------------------------- parallel --

def test_runs_shared_between_findings_and_seeds_run_once():
  small = experiments.SIZES["small"]
  pairs = []
  for fid in ("F2", "F3", "F6"):
    for seed in (7, 8):
      for spec in findings.FINDINGS[fid].runs(small, seed):
        pairs += [(fid, spec), (fid, spec.replicate())]
  jobs = parallel.distinct(pairs)
  ids = [parallel.identity(j.spec) for j in jobs]
  assert len(ids) == len(set(ids)) == len({parallel.identity(s)
                                           for _, s in pairs})
  # F3's runs are all F2's (the shared setting): F2 owns them.
  f3 = {parallel.identity(s) for f, s in pairs if f == "F3"}
  assert all(j.finding == "F2" for j in jobs
             if parallel.identity(j.spec) in f3)
  grouped = parallel.groups(jobs)
  assert sorted(map(parallel.identity, (j.spec for g in grouped for j in g))
                ) == sorted(ids)
  for group in grouped:  # one compiled program per group
    assert len({parallel.program_group(j.spec) for j in group}) == 1
  # Fewer groups than workers: the longest is split, nothing lost.
  one = [j for j in jobs if parallel.program_group(j.spec) ==
         parallel.program_group(jobs[0].spec)]
  split = parallel.groups(one, at_least=2)
  assert len(split) == 2 and sorted(len(g) for g in split) == sorted(
      [len(one) // 2, len(one) - len(one) // 2])
  assert len(parallel.groups(one[:1], at_least=2)) == 1
  # A seed and its replicate share their programs.
  spec = jobs[0].spec
  assert parallel.program_group(spec) == parallel.program_group(
      spec.replicate()._replace(seed=9))


def test_no_runs_make_no_groups():
  """Models alone (``--findings=M3,M5``) have no runs to share out."""
  from edgeperf.reproduce import parallel  # pylint: disable=g-import-not-at-top
  assert parallel.groups([], at_least=2) == []
