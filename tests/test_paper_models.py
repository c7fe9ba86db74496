"""The paper's models: parameter counts of the paper presets (no
allocation, ``jax.eval_shape``), output shapes, and one forward+backward at
tiny size.

Every expected count is derived here independently of the model code: from a
published count (torchvision, the optax notebook) minus what the paper
removed, or layer by layer from the textbook formulas
(dense: in·out + out; k×k conv without bias: k²·in·out; LayerNorm: 2·width).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from edgeperf.workloads import base
from edgeperf.workloads import paper_models as pm
from edgeperf.workloads import paper_presets

FAST_COMPILE = {"xla_backend_optimization_level": 0}


def dense(n_in, n_out):
  return n_in * n_out + n_out


def layer_norm(width):
  return 2 * width


@functools.cache
def count(arch, *, num_classes, size="paper", image=None, context=None,
          **overrides):
  model = pm.build(arch, size, num_classes=num_classes, **overrides)
  spec = pm.input_spec(arch, size)
  if image is not None:
    spec = jax.ShapeDtypeStruct((1, image, image, spec.shape[-1]), spec.dtype)
  if context is not None:
    spec = jax.ShapeDtypeStruct((1, context), spec.dtype)
  return pm.count_params(model, spec)


def preset_count(name):
  """Parameters of the registered paper preset ``name`` at ``paper`` size
  (its model built as the registry builds it, on shapes only)."""
  p = paper_presets.preset(name, "paper")
  made = paper_presets.build(name, "paper", None, mini_batch=False,
                             data=paper_presets.abstract(p, mini_batch=False))
  workload = made.workload(name=name, size="paper", regime=base.FULL_BATCH)
  return sum(x.size for x in jax.tree.leaves(workload.param_shapes()))


# ------------------------------------------------------------ ResNet34 ---
# torchvision.models.resnet34(): 21,797,672 parameters (1000 classes, BN).
TORCHVISION_RESNET34 = 21_797_672
# Its batch norms (scale + shift = 2 per channel): the stem (64), two per
# basic block (3 blocks × 64, 4 × 128, 6 × 256, 3 × 512) and one per
# downsampling shortcut (128, 256, 512).
RESNET34_BN = 2 * (64 + 2 * (3 * 64 + 4 * 128 + 6 * 256 + 3 * 512)
                   + 128 + 256 + 512)
# Scenic projects the shortcut of every basic block (its test is
# in_channels != 4·filters): 1×1 convs in the blocks torchvision leaves as
# identity: 3 in stage 1, 3 in stage 2, 5 in stage 3, 2 in stage 4.
SCENIC_EXTRA_PROJECTIONS = (3 * 64 * 64 + 3 * 128 * 128 + 5 * 256 * 256
                            + 2 * 512 * 512)
RESNET34_HEAD_1000_TO_10 = dense(512, 1000) - dense(512, 10)


def test_resnet34_bn_arithmetic():
  assert RESNET34_BN == 17_024
  assert SCENIC_EXTRA_PROJECTIONS == 913_408
  assert RESNET34_HEAD_1000_TO_10 == 507_870


def test_resnet34_standard_imagenet_matches_torchvision_minus_bn():
  got = count("resnet34", num_classes=1000, image=224, shortcut="standard")
  assert got == TORCHVISION_RESNET34 - RESNET34_BN == 21_780_648


def test_resnet34_paper_cifar10():
  expected = (TORCHVISION_RESNET34 - RESNET34_BN - RESNET34_HEAD_1000_TO_10
              + SCENIC_EXTRA_PROJECTIONS)
  assert preset_count("resnet34_cifar10") == expected == 22_186_186


# ------------------------------------------------------------ ResNet50 ---
# torchvision.models.resnet50(): 25,557,032 parameters (1000 classes, BN).
# A LayerNorm over channels has the same 2·C parameters as the batch norm it
# replaces, so the count is unchanged; Scenic's projection rule matches
# torchvision's for bottleneck blocks.
TORCHVISION_RESNET50 = 25_557_032


def test_resnet50_layernorm_imagenet_matches_torchvision():
  assert count("resnet50", num_classes=1000, image=224) == TORCHVISION_RESNET50


def test_resnet50_paper_cifar10():
  expected = TORCHVISION_RESNET50 - dense(2048, 1000) + dense(2048, 10)
  assert preset_count("resnet50_cifar10") == expected == 23_528_522


# ------------------------------------------------------------- Mixer ----
def mixer_count(*, image, patch, channels, hidden, tokens_mlp, channels_mlp,
                layers, num_classes):
  tokens = (image // patch) ** 2
  stem = patch * patch * channels * hidden + hidden
  block = (2 * layer_norm(hidden) + dense(tokens, tokens_mlp)
           + dense(tokens_mlp, tokens) + dense(hidden, channels_mlp)
           + dense(channels_mlp, hidden))
  return stem + layers * block + layer_norm(hidden) + dense(hidden,
                                                            num_classes)


def test_mixer_b16_matches_published():
  # Mixer-B/16 at 224 px, 1000 classes: 59.88M (timm's mixer_b16_224).
  expected = mixer_count(image=224, patch=16, channels=3, hidden=768,
                         tokens_mlp=384, channels_mlp=3072, layers=12,
                         num_classes=1000)
  assert expected == 59_880_472
  got = count("mixer_ti8", num_classes=1000, image=224, patch_size=16,
              hidden_size=768, sequence_mlp_dim=384, channels_mlp_dim=3072)
  assert got == expected


def test_mixer_ti8_paper_cifar10():
  expected = mixer_count(image=32, patch=8, channels=3, hidden=192,
                         tokens_mlp=96, channels_mlp=768, layers=12,
                         num_classes=10)
  assert preset_count("mixer_ti8_cifar10") == expected == 3_637_258


# --------------------------------------------------------------- ViT ----
def vit_count(*, image, patch, channels, hidden, heads_unused, mlp, layers,
              num_classes):
  del heads_unused  # q, k, v and output projections are hidden×hidden total
  tokens = (image // patch) ** 2 + 1  # + class token
  stem = patch * patch * channels * hidden + hidden
  block = (2 * layer_norm(hidden) + 4 * dense(hidden, hidden)
           + dense(hidden, mlp) + dense(mlp, hidden))
  return (stem + hidden + tokens * hidden + layers * block
          + layer_norm(hidden) + dense(hidden, num_classes))


def test_vit_ti16_matches_published():
  # ViT-Ti/16 at 224 px, 1000 classes, class token: 5,717,416 (timm's
  # vit_tiny_patch16_224, "5.7M").
  expected = vit_count(image=224, patch=16, channels=3, hidden=192,
                       heads_unused=3, mlp=768, layers=12, num_classes=1000)
  assert expected == 5_717_416
  assert count("vit_ti32", num_classes=1000, image=224,
               patch_size=16) == expected


def test_vit_ti32_paper_cifar10():
  # From Ti/16 at 224 px: bigger patches (+ (32²−16²)·3·192 stem weights),
  # 2 tokens instead of 197, 10 classes instead of 1000.
  expected = (5_717_416 + (32 * 32 - 16 * 16) * 3 * 192 - (197 - 2) * 192
              - (dense(192, 1000) - dense(192, 10)))
  assert expected == vit_count(image=32, patch=32, channels=3, hidden=192,
                               heads_unused=3, mlp=768, layers=12,
                               num_classes=10) == 5_931_274
  assert preset_count("vit_ti32_cifar10") == expected


def test_vit_ti32_imagenette():
  expected = vit_count(image=224, patch=32, channels=3, hidden=192,
                       heads_unused=3, mlp=768, layers=12, num_classes=10)
  assert preset_count("vit_ti32_imagenette") == expected == 5_940_490


# ------------------------------------------------------------ NanoLM ----
def test_nanolm_matches_optax_notebook():
  # optax examples/nanolm.ipynb prints "Total number of parameters:
  # 3_408_513" for its 65-character Tiny Shakespeare vocabulary.
  vocab, d, heads, qkv, layers, ctx = 65, 256, 8, 32, 6, 64
  block = (2 * layer_norm(d) + 3 * dense(d, qkv)       # q, k, v: d -> qkv
           + dense(qkv, heads * qkv)                    # out: qkv -> 8·32
           + dense(d, 4 * d) + dense(4 * d, d))
  expected = vocab * d + ctx * d + layers * block + layer_norm(d) + dense(
      d, vocab)
  assert expected == 3_408_513
  assert preset_count("nanolm_tinyshakespeare") == expected
  # The paper's 64 symbols:
  # (64 symbols: one embedding row and one read-out column + bias fewer)
  assert count("nanolm", num_classes=64) == expected - 2 * d - 1


# --------------------------------------------------------------- MLPs ---
def test_mlps():
  assert preset_count("mlp256x3_mnist") == (
      dense(784, 256) + 2 * dense(256, 256) + dense(256, 10)) == 335_114
  assert preset_count("mlp1024_cifar10") == (
      dense(3072, 1024) + dense(1024, 10)) == 3_157_002


def test_unknown_names():
  with pytest.raises(ValueError, match="unknown architecture"):
    pm.build("resnet18", num_classes=10)
  with pytest.raises(ValueError, match="unknown size"):
    pm.build("resnet34", "medium", num_classes=10)


# ----------------------------------------- forward + backward, tiny size ---
def _numpy_params(model, x):
  """Random parameters of the right shapes without compiling ``init``.

  (With jax's default ``jax_threefry_partitionable`` the random
  initialisers of a ResNet compile for many seconds on a CPU.  Shapes come
  from ``jax.eval_shape``; values from numpy.)
  """
  rng = np.random.default_rng(0)
  shapes = jax.eval_shape(model.init, jax.random.key(0), x)

  def fill(leaf):
    fan_in = int(np.prod(leaf.shape[:-1])) if len(leaf.shape) > 1 else 0
    scale = 1.0 / np.sqrt(fan_in) if fan_in else 0.1
    return jnp.asarray(rng.normal(0.0, scale, leaf.shape), leaf.dtype)

  return jax.tree.map(fill, shapes)


@pytest.mark.parametrize("arch", pm.ARCHITECTURES)
def test_tiny_forward_backward(arch):
  num_classes = 7
  model = pm.build(arch, "tiny", num_classes=num_classes)
  spec = pm.input_spec(arch, "tiny", batch=2)
  rng = np.random.default_rng(0)
  if spec.dtype == jnp.int32:
    x = jnp.asarray(rng.integers(0, num_classes, spec.shape), jnp.int32)
    out_shape = spec.shape + (num_classes,)
  else:
    x = jnp.asarray(rng.random(spec.shape), jnp.float32)
    out_shape = (spec.shape[0], num_classes)
  params = _numpy_params(model, x)

  def loss(p, x):
    out = model.apply(p, x)
    return jnp.mean(out ** 2), out

  # Compiled without backend optimisation: the values are the same
  # function, the compilation several times faster.
  forward_backward = jax.jit(jax.value_and_grad(loss, has_aux=True)).lower(
      params, x).compile(compiler_options=FAST_COMPILE)

  (value, out), grads = forward_backward(params, x)
  assert out.shape == out_shape
  assert np.all(np.isfinite(out)) and np.isfinite(value)
  flat = jax.tree.leaves(grads)
  assert len(flat) == len(jax.tree.leaves(params))
  assert all(np.all(np.isfinite(g)) for g in flat)
  assert any(np.any(g != 0) for g in flat)
  if arch == "nanolm":  # causal: changing token 5 leaves outputs 0..4 alone
    (_, changed), _ = forward_backward(params, x.at[0, 5].add(1))
    np.testing.assert_allclose(changed[0, :5], out[0, :5], rtol=1e-6)
    assert not np.allclose(changed[0, 5:], out[0, 5:])


def test_patch_embed_equals_strided_conv():
  x = jnp.asarray(np.random.default_rng(1).random((2, 16, 24, 3)),
                  jnp.float32)
  embed = pm.PatchEmbed(hidden=5, patch=8)
  conv = nn.Conv(5, (8, 8), strides=(8, 8), padding="VALID")
  assert jax.tree.map(jnp.shape, jax.eval_shape(
      embed.init, jax.random.key(0), x)) == jax.tree.map(
          jnp.shape, jax.eval_shape(conv.init, jax.random.key(0), x))
  params = _numpy_params(embed, x)
  params["params"]["bias"] = jnp.linspace(-1.0, 1.0, 5)
  expected = conv.apply(params, x).reshape(2, 2 * 3, 5)
  np.testing.assert_allclose(embed.apply(params, x), expected, rtol=1e-5,
                             atol=1e-5)


def test_input_specs():
  assert pm.input_spec("resnet34").shape == (1, 32, 32, 3)
  assert pm.input_spec("mlp_256x3").shape == (1, 28, 28, 1)
  spec = pm.input_spec("nanolm", batch=4)
  assert spec.shape == (4, 64) and spec.dtype == jnp.int32
