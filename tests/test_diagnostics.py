"""Curvature diagnostics against closed forms on quadratics."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from edgeperf.harness import diagnostics
from edgeperf.submissions import api
from edgeperf.submissions.constant import scale_by_constant_lr
from edgeperf.workloads import base
from edgeperf.workloads import models

EIGS = np.array([5.0, 3.0, 2.0, 1.0, 0.5, -0.2])


def _quadratic(seed=0):
  """f(w) = ½ wᵀAw with A = Q diag(EIGS) Qᵀ, on a 2-leaf pytree."""
  n = len(EIGS)
  q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
  a = q @ np.diag(EIGS) @ q.T
  a_j = jnp.asarray(a)

  def f(p):
    w = jnp.concatenate([p["x"], p["y"]])
    return 0.5 * w @ a_j @ w

  def tree(w):
    w = jnp.asarray(w)
    return {"x": w[:2], "y": w[2:]}

  return f, tree, a, q


def _constant(base_name, lr):
  return optax.chain(api.base_direction(base_name),
                     scale_by_constant_lr(lr))


def _cos(a, b):
  return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


def test_gd_row_matches_closed_form():
  with jax.enable_x64(True):
    f, tree, a, q = _quadratic()
    w = np.random.default_rng(1).normal(size=len(EIGS))
    eta = 0.3
    tx = _constant("gd", eta)
    params = tree(w)
    row = jax.jit(lambda p, s: diagnostics.curvature_row(
        f, tx, p, s, jax.random.PRNGKey(0), tol=1e-10))(params, tx.init(params))
    g = a @ w
    delta = -eta * g
    delta_next = -eta * a @ (w + delta)
    expected = {
        "objective": 0.5 * w @ a @ w, "learning_rate": eta,
        "grad_norm": np.linalg.norm(g), "sharpness": 5.0,
        "eta_sharpness": eta * 5.0, "uhu": g @ a @ g,
        "update_curvature": g @ a @ g / (g @ g),
        "alignment": abs(_cos(g, q[:, 0])),
        "update_cosine": _cos(delta, delta_next)}
    # η is stored as f32 in TunerStats (api.tuner_stats): u = Δ/η and
    # η·λ carry its rounding, hence 1e-6.
    for name, value in expected.items():
      np.testing.assert_allclose(float(row[name]), value, rtol=1e-6,
                                 err_msg=name)
    assert np.isnan(float(row["precond_sharpness"]))
    assert np.isnan(float(row["eta_precond_sharpness"]))



def test_one_step_decreases_and_measurement_groups():
  # GD on a quadratic (Fig. 16, Eqs. 3 and 7): the greedy step decreases f
  # by (gᵀg)²/(2gᵀAg); the on-edge step (2η_qg) lands at q(η) = f(w): no
  # decrease.  Groups not asked for are NaN; an unknown group is refused.
  with jax.enable_x64(True):
    f, tree, a, _ = _quadratic()
    w = np.random.default_rng(3).normal(size=len(EIGS))
    tx = _constant("gd", 0.1)
    params = tree(w)
    row = diagnostics.curvature_row(f, tx, params, tx.init(params),
                                    jax.random.PRNGKey(0),
                                    measure=("one_step",))
    g = a @ w
    np.testing.assert_allclose(float(row["qg_decrease"]),
                               (g @ g) ** 2 / (2 * g @ a @ g), rtol=1e-9)
    np.testing.assert_allclose(float(row["edge_decrease"]), 0.0, atol=1e-12)
    for name in ("sharpness", "precond_sharpness", "uhu", "update_cosine"):
      assert np.isnan(float(row[name])), name
    np.testing.assert_allclose(float(row["grad_norm"]), np.linalg.norm(g))
    with pytest.raises(ValueError, match="measurement"):
      diagnostics.curvature_row(f, tx, params, tx.init(params),
                                jax.random.PRNGKey(0), measure=("hessian",))

def test_alignment_and_update_cosine_on_top_eigenvector():
  # w along the top eigenvector: u = −g ∝ v_max (alignment 1); with
  # η·λ_max = 1.5 > 1 GD overshoots and successive updates are opposite
  # (cosine −1, Fig. 17); with η·λ_max = 0.5 they agree (cosine +1).
  with jax.enable_x64(True):
    f, tree, _, q = _quadratic()
    params = tree(2.0 * q[:, 0])
    for eta, cosine in ((0.3, -1.0), (0.1, 1.0)):
      tx = _constant("gd", eta)
      row = diagnostics.curvature_row(f, tx, params, tx.init(params),
                                      jax.random.PRNGKey(0), tol=1e-10)
      np.testing.assert_allclose(float(row["alignment"]), 1.0, rtol=1e-8)
      np.testing.assert_allclose(float(row["update_cosine"]), cosine,
                                 rtol=1e-8)
      np.testing.assert_allclose(float(row["update_curvature"]), 5.0,
                                 rtol=1e-8)
    # Orthogonal to v_max: alignment 0.
    params = tree(q[:, 1])
    tx = _constant("gd", 0.1)
    row = diagnostics.curvature_row(f, tx, params, tx.init(params),
                                    jax.random.PRNGKey(0), tol=1e-10)
    np.testing.assert_allclose(float(row["alignment"]), 0.0, atol=1e-7)


@pytest.mark.parametrize("base_name", ["adam", "rmsprop"])
def test_preconditioned_sharpness_closed_form(base_name):
  # After the first update from a fresh state, ν_1 = (1 − b2) g².  Adam's
  # bias correction gives ν̂ = g², so P = |g| + ε; RMSProp (optax
  # scale_by_rms, no count) uses ν_1 as is: P = sqrt(1 − b2)|g| + ε.
  with jax.enable_x64(True):
    f, tree, a, _ = _quadratic()
    w = np.random.default_rng(2).normal(size=len(EIGS))
    eta = 0.01
    tx = _constant(base_name, eta)
    params = tree(w)
    row = diagnostics.curvature_row(f, tx, params, tx.init(params),
                                    jax.random.PRNGKey(0), tol=1e-10)
    g = np.abs(a @ w)
    p = (g if base_name == "adam" else np.sqrt(1 - 0.999) * g) + 1e-8
    s = np.diag(p ** -0.5)
    expected = np.linalg.eigvalsh(s @ a @ s)[-1]
    np.testing.assert_allclose(float(row["precond_sharpness"]), expected,
                               rtol=1e-7)
    np.testing.assert_allclose(float(row["eta_precond_sharpness"]),
                               eta * expected, rtol=1e-7)
    np.testing.assert_allclose(float(row["sharpness"]), 5.0, rtol=1e-7)
    # Adam's first direction is −m̂/(sqrt(ν̂)+ε) = −g/(|g|+ε) ≈ −sign(g).
    if base_name == "adam":
      u = -(a @ w) / p
      np.testing.assert_allclose(float(row["uhu"]), u @ a @ u, rtol=1e-7)


def test_find_second_moment_and_bias_correction():
  params = {"w": jnp.ones(3)}
  assert diagnostics.find_second_moment(
      _constant("gd", 0.1).init(params)) is None
  state = optax.ScaleByAdamState(count=jnp.asarray(2, jnp.int32),
                                 mu={"w": jnp.zeros(3)},
                                 nu={"w": jnp.full(3, 0.04)})
  p = diagnostics.preconditioner_diagonal(((), (state,)), eps=0.0,
                                          decay=0.5)
  # ν̂ = 0.04 / (1 − 0.5²) → sqrt = 0.2/sqrt(0.75).
  np.testing.assert_allclose(np.asarray(p["w"]), 0.2 / np.sqrt(0.75),
                             rtol=1e-6)


def _tiny_workload(regime):
  rng = np.random.default_rng(0)
  n = 1100
  data = {"inputs": rng.normal(size=(n, 6)).astype(np.float32),
          "targets": rng.integers(0, 3, n).astype(np.int32)}
  return base.Workload(
      name="tiny", size="small", regime=regime, model=models.MLP((4,), 3),
      loss_type="squared", num_classes=3, train=data, eval=data,
      step_hint=10, step_budget=10, time_budget_s=10.0)


def test_make_diagnostics_fn_rows_and_batches():
  mini = _tiny_workload(base.Regime("mini_batch", 32))
  batch = diagnostics.diagnostic_batch(mini)
  assert batch["inputs"].shape == (1024, 6)
  np.testing.assert_array_equal(np.asarray(batch["inputs"]),
                                mini.train["inputs"][:1024])
  full = _tiny_workload(base.FULL_BATCH)
  assert diagnostics.diagnostic_batch(full)["inputs"].shape == (1100, 6)

  tx = _constant("gd", 0.1)
  params = full.init(jax.random.key(0))
  fn = diagnostics.make_diagnostics_fn(full, tx, seed=3)
  row = fn(params, tx.init(params), 7)
  assert tuple(row) == diagnostics.COLUMNS
  assert all(isinstance(v, float) for v in row.values())
  assert row["step"] == 7.0
  np.testing.assert_allclose(
      row["objective"], float(full.loss(params, full.full_train_batch())),
      rtol=1e-5)
  np.testing.assert_allclose(row["eta_sharpness"], 0.1 * row["sharpness"],
                             rtol=1e-5)
  # The exact top eigenvalue of this small model, from the dense Hessian.
  flat, unravel = jax.flatten_util.ravel_pytree(params)
  hess = jax.hessian(lambda v: full.loss(unravel(v),
                                         full.full_train_batch()))(flat)
  np.testing.assert_allclose(row["sharpness"],
                             np.linalg.eigvalsh(np.asarray(hess))[-1],
                             rtol=2e-3)
  with pytest.raises(ValueError, match="method"):
    diagnostics.make_diagnostics_fn(full, tx, method="qr")


def test_plot_curvature_writes_png_and_rejects_missing_tables(tmp_path):
  from edgeperf.cli import plot  # pylint: disable=g-import-not-at-top
  import pandas as pd  # pylint: disable=g-import-not-at-top
  run = tmp_path / "run"
  run.mkdir()
  pd.DataFrame({"step": range(5), "learning_rate": [0.1] * 5}).to_csv(
      run / "steps.csv", index=False)
  rows = [{c: 1.0 for c in diagnostics.COLUMNS} for _ in range(3)]
  for i, row in enumerate(rows):
    row.update(step=2.0 * i, precond_sharpness=float("nan"))
  pd.DataFrame(rows).to_csv(run / "diagnostics.csv", index=False)
  out = tmp_path / "fig.png"
  plot.main(["edgeperf-plot", str(run), f"--out={out}", "--labels=gd"])
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  empty = tmp_path / "empty"
  empty.mkdir()
  (empty / "steps.csv").write_text("step,learning_rate\n0,0.1\n")
  with pytest.raises(SystemExit) as exit_info:
    plot.main(["edgeperf-plot", str(empty), f"--out={tmp_path / 'x.png'}"])
  assert exit_info.value.code == 2
