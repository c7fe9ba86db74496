"""The paper's models (flax linen), at the paper's sizes and CPU-sized ones.

The models of Roulet, Agarwala, Grill, Swirszcz, Blondel & Pedregosa,
"Stepping on the Edge: Curvature Aware Learning Rate Tuners" (2024), App. C:

* **ResNet34 without normalisation** and **ResNet50 with LayerNorm in place
  of BatchNorm**, "as implemented in the Scenic library"
  (``scenic/projects/baselines/resnet.py``): 7×7/2 stem conv (no bias),
  3×3/2 max pool, stages of basic (ResNet34) or bottleneck (ResNet50) blocks,
  global average pool, dense head.  Convolutions carry no bias (Scenic's
  ``use_bias=False``; with the batch norm removed, none is added back).
  Scenic decides the shortcut projection with ``x.shape[-1] != 4 * filters
  or strided`` for *both* block kinds, so its ResNet34 has a 1×1 projection
  in every basic block (He et al. and torchvision project only where the
  shape changes).  ``shortcut="scenic"`` (the paper preset) reproduces
  Scenic; ``shortcut="standard"`` gives He et al.'s ResNet34.  For ResNet50
  the two rules coincide.
  (ResNet: He, Zhang, Ren & Sun, "Deep Residual Learning for Image
  Recognition", 2016; layer norm: Ba, Kiros & Hinton, 2016.)
* **MLP-Mixer Ti/8** (Tolstikhin et al., "MLP-Mixer", 2021; Scenic
  ``mixer.py`` with the tiny sizes of ``imagenet_augreg_mixer_config.py``:
  hidden 192, token-mixing MLP 96, channel-mixing MLP 768, 12 blocks) on
  8×8 patches; dropout and stochastic depth removed.
* **ViT Ti/32** (Dosovitskiy et al., "An Image is Worth 16x16 Words", 2021;
  sizes of Steiner et al., "How to train your ViT?", 2022; Scenic
  ``vit.py`` with the tiny sizes of ``imagenet_augreg_vit_config.py``:
  hidden 192, 3 heads, MLP 768, 12 layers, ``classifier='token'``, no
  representation layer) on 32×32 patches; dropout and stochastic depth
  removed.
* **NanoLM** (a decoder-only transformer, Vaswani et al. 2017; optax
  ``examples/nanolm.ipynb``, linen version of 2024-04):
  token + learned position embeddings (``nn.Embed``), 6 pre-LN blocks of
  causal multi-head attention (8 heads, ``qkv_features=32`` — the notebook
  passes its ``HEAD_SIZE = 32`` as the *total* query/key/value width, so each
  head is 4 wide — and ``out_features = 8 · 32 = 256``) and a ReLU
  feed-forward 256 → 1024 → 256, final LayerNorm, dense read-out; embedding
  256, context 64; dropout removed.  3,408,513 parameters for its 65-symbol
  vocabulary (the count the notebook prints).
* The paper's **MLPs**: ReLU, hidden (256, 256, 256) (Fig. 15/18, MNIST) and
  one hidden layer of 1024 (Fig. 16): :class:`edgeperf.workloads.models.MLP`.

Sizes (:data:`SIZES`): ``paper`` (the above), ``small`` (same architecture,
fewer channels / blocks / width, a shorter context: trains on CPU) and
``tiny`` (a forward+backward pass in well under a second, for tests).
:func:`build` makes a model from an architecture name and a size;
:func:`input_spec` gives the input shape each size is meant for.

No model here uses batch norm, dropout or any other train/eval switch:
``model.apply(params, inputs)`` is the whole interface, as
:class:`edgeperf.workloads.base.Workload` expects.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from edgeperf.workloads import models

SIZES = ("paper", "small", "tiny")
NORMS = ("none", "layer")
SHORTCUTS = ("scenic", "standard")


def _norm(kind: str, name: str, zero_scale: bool = False) -> Any:
  """The normalisation layer standing in for one of Scenic's batch norms."""
  if kind == "none":
    return lambda x: x
  if kind == "layer":
    # Over channels, one scale and bias per channel: the same parameters as
    # the batch norm it replaces.  Scenic zero-initialises the scale of each
    # block's last batch norm (bn3); its LayerNorm replacement keeps that.
    scale_init = (nn.initializers.zeros if zero_scale else
                  nn.initializers.ones)
    return nn.LayerNorm(epsilon=1e-5, scale_init=scale_init, name=name)
  raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class ResidualBlock(nn.Module):
  """Scenic's ResNet block: basic (two 3×3) or bottleneck (1×1, 3×3, 1×1).

  The stride sits on the 3×3 convolution; ReLU after the residual sum.
  """

  filters: int
  strides: tuple[int, int] = (1, 1)
  bottleneck: bool = True
  norm: str = "none"
  shortcut: str = "scenic"

  @nn.compact
  def __call__(self, x):
    nout = self.filters * 4 if self.bottleneck else self.filters
    if self.shortcut == "scenic":
      needs_projection = (x.shape[-1] != self.filters * 4 or
                          self.strides != (1, 1))
    elif self.shortcut == "standard":
      needs_projection = x.shape[-1] != nout or self.strides != (1, 1)
    else:
      raise ValueError(f"shortcut must be one of {SHORTCUTS}, got "
                       f"{self.shortcut!r}")
    conv = lambda *a, **k: nn.Conv(*a, use_bias=False, **k)
    residual = x
    if needs_projection:
      residual = conv(nout, (1, 1), self.strides, name="proj_conv")(residual)
      residual = _norm(self.norm, "proj_norm")(residual)
    if self.bottleneck:
      x = conv(self.filters, (1, 1), name="conv1")(x)
      x = nn.relu(_norm(self.norm, "norm1")(x))
    y = conv(self.filters, (3, 3), self.strides, padding=[(1, 1), (1, 1)],
             name="conv2")(x)
    y = nn.relu(_norm(self.norm, "norm2")(y))
    if self.bottleneck:
      y = conv(nout, (1, 1), name="conv3")(y)
    else:
      y = conv(nout, (3, 3), padding=[(1, 1), (1, 1)], name="conv3")(y)
    y = _norm(self.norm, "norm3", zero_scale=True)(y)
    return nn.relu(residual + y)


class ResNet(nn.Module):
  """Scenic's ResNet (ImageNet stem) with batch norm removed or replaced.

  Attributes:
    num_classes: logits per example.
    stage_sizes: blocks per stage; (3, 4, 6, 3) for ResNet34 and ResNet50.
    bottleneck: bottleneck blocks (ResNet50) or basic blocks (ResNet34).
    num_filters: width of the stem and of the first stage (64 in the paper).
    norm: ``none`` (the paper's ResNet34) or ``layer`` (its ResNet50).
    shortcut: ``scenic`` (projection rule of Scenic's code) or ``standard``.
  """

  num_classes: int
  stage_sizes: Sequence[int] = (3, 4, 6, 3)
  bottleneck: bool = False
  num_filters: int = 64
  norm: str = "none"
  shortcut: str = "scenic"

  @nn.compact
  def __call__(self, x):
    x = nn.Conv(self.num_filters, (7, 7), strides=(2, 2),
                padding=[(3, 3), (3, 3)], use_bias=False, name="stem_conv")(x)
    x = nn.relu(_norm(self.norm, "stem_norm")(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=[(1, 1), (1, 1)])
    for i, size in enumerate(self.stage_sizes):
      for j in range(size):
        strides = (2, 2) if i > 0 and j == 0 else (1, 1)
        x = ResidualBlock(self.num_filters * 2**i, strides, self.bottleneck,
                          self.norm, self.shortcut,
                          name=f"stage{i + 1}_block{j + 1}")(x)
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, name="output_projection")(x)


class MlpBlock(nn.Module):
  """Scenic's transformer MLP: dense, GELU, dense back to the input width."""

  mlp_dim: int

  @nn.compact
  def __call__(self, x):
    dense = lambda n: nn.Dense(
        n, kernel_init=nn.initializers.xavier_uniform(),
        bias_init=nn.initializers.normal(stddev=1e-6))
    return dense(x.shape[-1])(nn.gelu(dense(self.mlp_dim)(x)))


class MixerBlock(nn.Module):
  """Token mixing then channel mixing, each pre-LayerNorm and residual."""

  channels_mlp_dim: int
  sequence_mlp_dim: int

  @nn.compact
  def __call__(self, x):
    y = jnp.swapaxes(nn.LayerNorm()(x), 1, 2)
    y = MlpBlock(self.sequence_mlp_dim, name="token_mixing")(y)
    x = x + jnp.swapaxes(y, 1, 2)
    y = MlpBlock(self.channels_mlp_dim, name="channel_mixing")(
        nn.LayerNorm()(x))
    return x + y


class PatchEmbed(nn.Module):
  """Non-overlapping patch embedding, flattened to tokens [n, h·w, hidden].

  The same function and parameters (``kernel`` [p, p, C, hidden], ``bias``,
  LeCun-normal / zeros) as Scenic's ``nn.Conv(hidden, (p, p), strides=(p,
  p), padding='VALID')``, computed as a reshape and a matrix product
  (tested equal): on a 2-core CPU the gradient of the strided convolution
  made a small ViT step several times slower inside ``lax.scan``.
  """

  hidden: int
  patch: int

  @nn.compact
  def __call__(self, x):
    n, height, width, channels = x.shape
    p = self.patch
    if height % p or width % p:
      raise ValueError(f"image {height}x{width} is not a whole number of "
                       f"{p}x{p} patches")
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (p, p, channels, self.hidden), x.dtype)
    bias = self.param("bias", nn.initializers.zeros, (self.hidden,), x.dtype)
    h, w = height // p, width // p
    x = x.reshape(n, h, p, w, p, channels).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(n, h * w, p * p * channels)
    return x @ kernel.reshape(p * p * channels, self.hidden) + bias


def _patchify(x, hidden: int, patch: int):
  return PatchEmbed(hidden, patch, name="embedding")(x)


class Mixer(nn.Module):
  """MLP-Mixer (Scenic), no dropout / stochastic depth; GAP head."""

  num_classes: int
  patch_size: int = 8
  hidden_size: int = 192
  num_layers: int = 12
  channels_mlp_dim: int = 768
  sequence_mlp_dim: int = 96

  @nn.compact
  def __call__(self, x):
    x = _patchify(x, self.hidden_size, self.patch_size)
    for i in range(self.num_layers):
      x = MixerBlock(self.channels_mlp_dim, self.sequence_mlp_dim,
                     name=f"mixerblock_{i}")(x)
    x = jnp.mean(nn.LayerNorm(name="pre_logits_norm")(x), axis=1)
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros,
                    name="output_projection")(x)


class EncoderBlock(nn.Module):
  """Pre-LN transformer encoder block (Scenic's Encoder1DBlock, no dropout)."""

  mlp_dim: int
  num_heads: int

  @nn.compact
  def __call__(self, x):
    y = nn.LayerNorm()(x)
    y = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads,
        kernel_init=nn.initializers.xavier_uniform())(y, y)
    x = x + y
    return x + MlpBlock(self.mlp_dim)(nn.LayerNorm()(x))


class ViT(nn.Module):
  """Vision Transformer (Scenic): class token, learned 1-D positions."""

  num_classes: int
  patch_size: int = 32
  hidden_size: int = 192
  num_layers: int = 12
  num_heads: int = 3
  mlp_dim: int = 768

  @nn.compact
  def __call__(self, x):
    x = _patchify(x, self.hidden_size, self.patch_size)
    n, _, c = x.shape
    cls = self.param("cls", nn.initializers.zeros, (1, 1, c), x.dtype)
    x = jnp.concatenate([jnp.tile(cls, (n, 1, 1)), x], axis=1)
    pos = self.param("pos_embedding", nn.initializers.normal(stddev=0.02),
                     (1, x.shape[1], c), x.dtype)
    x = x + pos
    for i in range(self.num_layers):
      x = EncoderBlock(self.mlp_dim, self.num_heads,
                       name=f"encoderblock_{i}")(x)
    x = nn.LayerNorm(name="encoder_norm")(x)[:, 0]
    return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros,
                    name="output_projection")(x)


class NanoLM(nn.Module):
  """The optax NanoLM character transformer, dropout removed.

  Attributes:
    vocab_size: number of symbols.
    num_layers: transformer blocks (6).
    num_heads: attention heads (8).
    qkv_features: total query/key/value width across heads (the notebook's
      ``head_size`` = 32, passed as flax's ``qkv_features``).
    embed_size: model width (256).  The attention's output width is the
      notebook's ``qkv_features · num_heads`` (= 256 = ``embed_size`` at the
      paper size; the sizes here keep that equality so the residual adds).
    block_size: context length (64); also the size of the position table.
  """

  vocab_size: int
  num_layers: int = 6
  num_heads: int = 8
  qkv_features: int = 32
  embed_size: int = 256
  block_size: int = 64

  @nn.compact
  def __call__(self, tokens):
    seq_len = tokens.shape[1]
    if seq_len > self.block_size:
      raise ValueError(f"sequence of {seq_len} exceeds the context "
                       f"{self.block_size}")
    x = nn.Embed(self.vocab_size, self.embed_size)(tokens)
    x = x + nn.Embed(self.block_size, self.embed_size)(jnp.arange(seq_len))
    mask = jnp.tril(jnp.ones((seq_len, seq_len)))
    for _ in range(self.num_layers):
      h = nn.LayerNorm()(x)
      x = x + nn.MultiHeadDotProductAttention(
          num_heads=self.num_heads, qkv_features=self.qkv_features,
          out_features=self.qkv_features * self.num_heads)(h, h, mask=mask)
      h = nn.LayerNorm()(x)
      h = nn.Dense(self.embed_size)(nn.relu(nn.Dense(4 * self.embed_size)(h)))
      x = x + h
    return nn.Dense(self.vocab_size)(nn.LayerNorm()(x))


# ------------------------------------------------------------ registry ---

# Per architecture and size: the model's fields (beyond num_classes) and the
# input it is meant for: ``image`` (H = W, 3 channels; 1 for MNIST) or
# ``context`` (characters per sequence).
CONFIGS: dict[str, dict[str, dict[str, Any]]] = {
    "resnet34": {
        "paper": dict(stage_sizes=(3, 4, 6, 3), num_filters=64,
                      bottleneck=False, norm="none", shortcut="scenic",
                      image=32),
        "small": dict(stage_sizes=(1, 1, 1, 1), num_filters=8,
                      bottleneck=False, norm="none", shortcut="scenic",
                      image=32),
        "tiny": dict(stage_sizes=(1, 1), num_filters=4, bottleneck=False,
                     norm="none", shortcut="scenic", image=16),
    },
    "resnet50": {
        "paper": dict(stage_sizes=(3, 4, 6, 3), num_filters=64,
                      bottleneck=True, norm="layer", shortcut="scenic",
                      image=32),
        "small": dict(stage_sizes=(1, 1, 1, 1), num_filters=8,
                      bottleneck=True, norm="layer", shortcut="scenic",
                      image=32),
        "tiny": dict(stage_sizes=(1,), num_filters=2, bottleneck=True,
                     norm="layer", shortcut="scenic", image=16),
    },
    "mixer_ti8": {
        "paper": dict(patch_size=8, hidden_size=192, num_layers=12,
                      channels_mlp_dim=768, sequence_mlp_dim=96, image=32),
        "small": dict(patch_size=8, hidden_size=64, num_layers=4,
                      channels_mlp_dim=256, sequence_mlp_dim=32, image=32),
        "tiny": dict(patch_size=8, hidden_size=16, num_layers=1,
                     channels_mlp_dim=32, sequence_mlp_dim=8, image=16),
    },
    "vit_ti32": {
        "paper": dict(patch_size=32, hidden_size=192, num_layers=12,
                      num_heads=3, mlp_dim=768, image=32),
        "small": dict(patch_size=32, hidden_size=64, num_layers=4,
                      num_heads=2, mlp_dim=256, image=32),
        "tiny": dict(patch_size=32, hidden_size=16, num_layers=1,
                     num_heads=2, mlp_dim=32, image=32),
    },
    "nanolm": {
        "paper": dict(num_layers=6, num_heads=8, qkv_features=32,
                      embed_size=256, block_size=64, context=64),
        "small": dict(num_layers=2, num_heads=4, qkv_features=16,
                      embed_size=64, block_size=32, context=32),
        "tiny": dict(num_layers=1, num_heads=2, qkv_features=8,
                     embed_size=16, block_size=8, context=8),
    },
    "mlp_256x3": {  # Fig. 15 / 18: MNIST
        "paper": dict(hidden=(256, 256, 256), image=28, channels=1),
        "small": dict(hidden=(256, 256, 256), image=28, channels=1),
        "tiny": dict(hidden=(16, 16, 16), image=28, channels=1),
    },
    "mlp_1024": {  # Fig. 16: one hidden layer of 1024 (CIFAR)
        "paper": dict(hidden=(1024,), image=32),
        "small": dict(hidden=(1024,), image=32),
        "tiny": dict(hidden=(32,), image=8),
    },
}
ARCHITECTURES = tuple(CONFIGS)
_INPUT_KEYS = ("image", "channels", "context")


def config(arch: str, size: str = "paper") -> dict[str, Any]:
  """The configuration of ``arch`` at ``size`` (a copy; includes input keys)."""
  if arch not in CONFIGS:
    raise ValueError(f"unknown architecture {arch!r}; expected one of "
                     f"{ARCHITECTURES}")
  if size not in SIZES:
    raise ValueError(f"unknown size {size!r}; expected one of {SIZES}")
  return dict(CONFIGS[arch][size])


def build(arch: str, size: str = "paper", *, num_classes: int,
          **overrides: Any) -> nn.Module:
  """The flax module of ``arch`` at ``size`` (fields can be overridden).

  Args:
    arch: one of :data:`ARCHITECTURES`.
    size: ``paper``, ``small`` or ``tiny``.
    num_classes: classes (vocabulary size for ``nanolm``).
    **overrides: model fields replacing the size's values, e.g.
      ``shortcut="standard"``.
  """
  cfg = {k: v for k, v in config(arch, size).items() if k not in _INPUT_KEYS}
  cfg.update(overrides)
  if arch in ("resnet34", "resnet50"):
    return ResNet(num_classes=num_classes, **cfg)
  if arch == "mixer_ti8":
    return Mixer(num_classes=num_classes, **cfg)
  if arch == "vit_ti32":
    return ViT(num_classes=num_classes, **cfg)
  if arch == "nanolm":
    return NanoLM(vocab_size=num_classes, **cfg)
  return models.MLP(tuple(cfg["hidden"]), num_classes)


def input_spec(arch: str, size: str = "paper",
               batch: int = 1) -> jax.ShapeDtypeStruct:
  """Shape and dtype of a batch of ``batch`` inputs for ``arch`` at ``size``."""
  cfg = config(arch, size)
  if "context" in cfg:
    return jax.ShapeDtypeStruct((batch, cfg["context"]), jnp.int32)
  side = cfg["image"]
  return jax.ShapeDtypeStruct((batch, side, side, cfg.get("channels", 3)),
                              jnp.float32)


def param_shapes(model: nn.Module, inputs: jax.ShapeDtypeStruct) -> Any:
  """Parameter shapes of ``model`` for ``inputs``, without allocating them."""
  return jax.eval_shape(model.init, jax.random.key(0), inputs)


def count_params(model: nn.Module, inputs: jax.ShapeDtypeStruct) -> int:
  """Number of scalar parameters (via :func:`jax.eval_shape`: no allocation)."""
  leaves = jax.tree.leaves(param_shapes(model, inputs))
  return int(sum(math.prod(x.shape) for x in leaves))
