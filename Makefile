# edgeperf: `make bench` runs the default benchmark, `make test` the tests.
# Both create the virtual environment in $(VENV) and install into it first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test docs bench tune targets overhead algoperf-import tuner-cost edge-controller profile lanczos eos-figure reproduce reproduce-replicates pipeline paper-memory device-check clean

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,ray,docs]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(VENV)/bin/edgeperf-bench --output_dir=results

# The documentation (docs/*.md) and the API reference from the docstrings, as
# HTML in docs/_build/html; any Sphinx warning fails the build.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -b html -W --keep-going -n -q docs docs/_build/html

# The external-tuning protocol in each default division (gd, adam: 5 trials
# × 3 studies per entry and workload, full step budgets; hours on 2 cores);
# rewrites the tuned pairs' points in protocol/tuned_points.json.  Extra
# flags: make tune TUNE_FLAGS="--divisions=adam --budget_factor=2 ...".
tune: $(STAMP)
	$(VENV)/bin/edgeperf-tune $(TUNE_FLAGS)

# Re-derive every embedded workload's target (minutes; rewrites
# workloads/targets.json with the date and this machine's fingerprint).
# Another division's: make targets TARGETS_FLAGS=--division=adam
# (workloads/targets_adam.json).
targets: $(STAMP)
	$(VENV)/bin/edgeperf-set-targets $(TARGETS_FLAGS)

# Harness steps/s against a bare jitted lax.scan loop of the same step.
overhead: $(STAMP)
	$(PY) -m edgeperf.benchmarks.overhead

# An AlgoPerf AdamW submission through the import path ÷ native AdamW, per step.
algoperf-import: $(STAMP)
	$(PY) -m edgeperf.benchmarks.algoperf_import

# Per-step cost of every tuner ÷ the constant-lr step, per workload.
tuner-cost: $(STAMP)
	$(PY) -m edgeperf.benchmarks.tuner_cost --workloads=linreg_digits,mlp_mnist,cnn_digits,charlm_prose --repeats=7 --steps=100

# The edge controller (its gd grid whole on seed 0, the best point kept)
# against CDAT, the constant and the warm-up schedule at their tuned points,
# 3 seeds to target on the embedded workloads (issue 26's goal).
edge-controller: $(STAMP)
	$(PY) -m edgeperf.benchmarks.edge_controller --seeds=0,1,2

# Denominator cost profile: time + XLA memory of f, value_and_grad and uᵀHu
# (jvp-of-jvp, HVP, rev-rev, secant, fused vs separate); saves the JSON in
# .benchmarks/ and writes docs/cost-profile-<platform>.md.
profile: $(STAMP)
	$(PY) -m pytest tests/benchmarks/test_denominator_cost.py --benchmark-enable --benchmark-only --benchmark-autosave --benchmark-storage=.benchmarks --benchmark-min-rounds=10 $(PROFILE_ARGS)
	$(PY) -m edgeperf.benchmarks.render_profile --storage=.benchmarks

# HVPs Lanczos vs power iteration need to reach 1e-3 relative error of λ_max.
lanczos: $(STAMP)
	$(PY) -m edgeperf.benchmarks.lanczos

# The papers' findings F1–F8 and theory models, with computed verdicts:
# results/reproduction/findings.md and figures.  Extra flags:
# make reproduce REPRODUCE_FLAGS="--findings=F1,F3 --size=small".
reproduce: $(STAMP)
	$(VENV)/bin/edgeperf-reproduce $(REPRODUCE_FLAGS)

# The stability measurement after `make reproduce`: the same reproduction on
# roundoff replicates only (every initialisation perturbed by a relative
# 1e-7), compared with results/reproduction (verdicts and checks changed).
reproduce-replicates: $(STAMP)
	$(VENV)/bin/edgeperf-reproduce --replicates_only --output_dir=results/reproduction-replicates --compare_with=results/reproduction/findings.json $(REPRODUCE_FLAGS)

# The edge-of-stability figure docs/eos-mlp-mnist.png (about 8 minutes).
eos-figure: $(STAMP)
	$(PY) -m edgeperf.benchmarks.eos_figure

# Mini-batch input pipeline: steps/s fed by the prefetch thread ÷ steps/s
# on a device-resident batch.
pipeline: $(STAMP)
	$(PY) -m edgeperf.benchmarks.pipeline --repeats=15

# XLA memory of one constant-lr and one CDAT step on every paper preset
# (abstract shapes: no data needed); writes docs/paper-memory-<platform>.md.
paper-memory: $(STAMP)
	$(PY) -m edgeperf.benchmarks.paper_memory --sizes=small,paper --output=docs/paper-memory-$$($(PY) -c "import jax; print(jax.default_backend())").md

# Every accelerator measurement in one unattended command (8 min on one
# H100): profile, tuner cost, paper-preset steps on synthetic data, pipeline,
# time to target; writes docs/device-check-<device>.md and .json.  See
# docs/device-check.md.  On a CPU: make device-check DEVICE_CHECK_FLAGS=--tiny
device-check: $(STAMP)
	$(PY) -m edgeperf.benchmarks.device_check $(DEVICE_CHECK_FLAGS)

clean:
	rm -rf $(VENV) results .benchmarks docs/_build
