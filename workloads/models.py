"""Flax (linen) models of the workloads; none uses batch norm or dropout.

The model families of Roulet et al. (2024), App. C: linear classifiers, ReLU
MLPs, conv nets without batch norm and small transformer language models with
layer norm.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp


class Linear(nn.Module):
  """An affine map x ↦ Wx + b on flattened inputs (a convex objective)."""

  num_outputs: int

  @nn.compact
  def __call__(self, x):
    x = x.reshape((x.shape[0], -1))
    return nn.Dense(self.num_outputs)(x)


class MLP(nn.Module):
  """ReLU multilayer perceptron on flattened inputs."""

  hidden: Sequence[int]
  num_outputs: int

  @nn.compact
  def __call__(self, x):
    x = x.reshape((x.shape[0], -1))
    for width in self.hidden:
      x = nn.relu(nn.Dense(width)(x))
    return nn.Dense(self.num_outputs)(x)


class SmallCNN(nn.Module):
  """3×3 convolutions (ReLU, 2×2 average pooling), no batch norm, then a head.

  Inputs are NHWC images.  The head is a dense layer on the flattened
  feature map (``head="flatten"``, trains at moderate rates on small images)
  or on its global average (``head="global_pool"``, ResNet-style).
  """

  channels: Sequence[int]
  num_outputs: int
  head: str = "flatten"

  @nn.compact
  def __call__(self, x):
    for i, width in enumerate(self.channels):
      x = nn.relu(nn.Conv(width, kernel_size=(3, 3), padding="SAME")(x))
      if i < len(self.channels) - 1:
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
    if self.head == "global_pool":
      x = jnp.mean(x, axis=(1, 2))
    elif self.head == "flatten":
      x = x.reshape((x.shape[0], -1))
    else:
      raise ValueError(f"head must be 'flatten' or 'global_pool', got "
                       f"{self.head!r}")
    return nn.Dense(self.num_outputs)(x)


class _Block(nn.Module):
  """Pre-layer-norm transformer block: causal attention, then feed-forward."""

  num_heads: int
  mlp_ratio: int = 4

  @nn.compact
  def __call__(self, x, mask):
    d = x.shape[-1]
    h = nn.LayerNorm()(x)
    x = x + nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, qkv_features=d, out_features=d)(
            h, h, mask=mask)
    h = nn.LayerNorm()(x)
    h = nn.Dense(self.mlp_ratio * d)(h)
    h = nn.gelu(h)
    return x + nn.Dense(d)(h)


class CharTransformer(nn.Module):
  """Decoder-only character language model (NanoLM-style, no dropout).

  Token + learned position embeddings, ``num_layers`` pre-LN blocks, final
  layer norm and a linear read-out to ``vocab_size`` logits per position.
  """

  vocab_size: int
  d_model: int
  num_heads: int
  num_layers: int
  max_len: int

  @nn.compact
  def __call__(self, tokens):
    seq_len = tokens.shape[1]
    x = nn.Embed(self.vocab_size, self.d_model)(tokens)
    pos = self.param("pos_embedding", nn.initializers.normal(0.02),
                     (self.max_len, self.d_model))
    x = x + pos[None, :seq_len]
    mask = nn.make_causal_mask(tokens)
    for _ in range(self.num_layers):
      x = _Block(self.num_heads)(x, mask)
    x = nn.LayerNorm()(x)
    return nn.Dense(self.vocab_size)(x)
