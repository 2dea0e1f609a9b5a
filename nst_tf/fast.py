"""Feed-forward stylization: Magenta's arbitrary-style network (Ghiasi et al. 2017), one pass per image.

Taught in notebooks/07_fast_style_transfer.

Two backends of the same model:

- ``hub``: the TF Hub SavedModel (``hub.load``; ``hub.KerasLayer`` breaks under Keras 3). One call
  does everything, so strength is a pixel blend with the content.
- ``tflite``: the TF Lite release split in two: a style-prediction network maps the style image to
  a 100-d *bottleneck*, a transfer network paints the content with it. Mixing bottlenecks gives true
  strength (style's vs the content's own) and multi-style blends; a style's bottleneck is cached.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
import tensorflow as tf

from .data import AssetError, asset_path, offline
from .litert import new_interpreter, xnnpack_friendly

HUB_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"
STYLE_SIZE = 256  # the style network was trained on 256 px styles
TRANSFER = {"f16": "magenta_style_transfer_f16", "int8": "magenta_style_transfer_int8"}
PREDICT = "magenta_style_predict_int8"


class FastModelError(ValueError):
    """A fast-stylization model that cannot be found or loaded; the message says what to do."""


def _hub_handle(handle: str | None) -> str:
    handle = handle or os.environ.get("NST_HUB_MODEL", "").strip() or HUB_HANDLE
    if "://" in handle:
        return handle
    folder = Path(handle).expanduser()
    if folder.is_dir():
        return str(folder)
    if not handle.startswith(("/", ".", "~")) and handle.count("/") >= 3:
        return f"https://www.kaggle.com/models/{handle}"  # owner/model/framework/variation[/version]
    raise FastModelError(f"{handle}: no such SavedModel folder, and not a URL or Kaggle handle")


@lru_cache(maxsize=4)
def load_fast_model(handle: str | None = None):
    """The TF Hub arbitrary-stylization model via ``hub.load`` (downloaded once, then cached).

    ``handle``: a URL, a Kaggle handle or a local SavedModel folder; default ``$NST_HUB_MODEL`` or
    ``HUB_HANDLE``. Offline without a cached copy: one ``FastModelError`` line saying what to do.
    Taught in notebooks/07_fast_style_transfer.
    """
    handle = _hub_handle(handle)
    how_to = ("set NST_HUB_MODEL to a local SavedModel folder, or use the TF Lite backend "
              "(load_tflite_model / --backend tflite)")
    if "://" in handle and offline():
        import tensorflow_hub.resolver as resolver

        cached = Path(resolver.tfhub_cache_dir(use_temp=True)) / hashlib.sha1(handle.encode()).hexdigest()
        if not cached.is_dir():
            raise FastModelError(f"{handle}: not cached and NST_OFFLINE is set; {how_to}")
    import tensorflow_hub as hub

    try:
        return hub.load(handle)
    except Exception as err:  # hub raises whatever the resolver or the loader raised
        cause = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise FastModelError(f"{handle}: cannot load the model ({cause}); {how_to}") from None


def _as_batch(images, name: str) -> tf.Tensor:
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank == 3:
        images = images[tf.newaxis]
    if images.shape.rank != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name} must be RGB images [B, H, W, 3] in [0, 1], got shape {images.shape}")
    return images


def prepare_style(style_image) -> tf.Tensor:
    """Resize the style to 256x256 and smooth it with a 3x3 average pool, as the model expects."""
    style = tf.image.resize(_as_batch(style_image, "style_image")[:1], (STYLE_SIZE, STYLE_SIZE),
                            antialias=True)
    return tf.nn.avg_pool(tf.clip_by_value(style, 0.0, 1.0), ksize=3, strides=1, padding="SAME")


def _check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.floating)) \
            or not 0.0 <= float(strength) <= 1.0:
        raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
    return float(strength)


def fast_stylize(content_image, style_image, model=None, strength: float = 1.0,
                 style_weights=None) -> tf.Tensor:
    """Stylize one image or a batch [B, H, W, 3] in one forward pass; float [0, 1] in and out.

    ``model``: a ``hub.load`` model (default ``load_fast_model()``) or a ``TFLiteStylizer``.
    ``strength`` 0 keeps the content, 1 is full style. ``style_image`` may be a list of styles
    mixed with ``style_weights`` (TF Lite backend only: the Hub model hides the bottleneck).
    Taught in notebooks/07_fast_style_transfer.
    """
    strength = _check_strength(strength)
    content = _as_batch(content_image, "content_image")
    model = load_fast_model() if model is None else model
    if isinstance(model, TFLiteStylizer):
        return model.stylize(content, style_image, strength=strength, style_weights=style_weights)
    if isinstance(style_image, (list, tuple)):
        raise ValueError("blending several styles needs the TF Lite backend (load_tflite_model()): "
                         "the Hub model does not expose the style bottleneck")
    style = prepare_style(style_image)
    outputs = model(tf.constant(content), tf.tile(style, [content.shape[0], 1, 1, 1]))
    stylized = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    if stylized.shape[1:3] != content.shape[1:3]:  # sides that are not multiples of 4
        stylized = tf.image.resize(stylized, content.shape[1:3])
    stylized = tf.clip_by_value(stylized, 0.0, 1.0)
    return strength * stylized + (1.0 - strength) * content if strength < 1 else stylized


class TFLiteStylizer:
    """The TF Lite two-part model: style prediction (int8) -> 100-d bottleneck -> transfer.

    ``precision``: "f16" or "int8" transfer network. Interpreters are built per content size
    (rounded up to multiples of 4) and kept; bottlenecks of style images are cached.
    Taught in notebooks/07_fast_style_transfer.
    """

    def __init__(self, precision: str = "f16", num_threads: int | None = None, rewrite: bool = True):
        if precision not in TRANSFER:
            raise ValueError(f"precision must be one of {', '.join(TRANSFER)}, got {precision!r}")
        self.precision, self.rewrite = precision, rewrite
        self.num_threads = num_threads or min(4, os.cpu_count() or 1)
        try:
            predict, transfer = asset_path(PREDICT), asset_path(TRANSFER[precision])
        except AssetError as err:
            raise FastModelError(str(err)) from None
        self._predict = new_interpreter(predict.read_bytes(), self.num_threads)
        self._transfer_bytes = transfer.read_bytes()
        self._transfer: dict[tuple[int, int], object] = {}
        self._bottlenecks: OrderedDict[str, np.ndarray] = OrderedDict()
        self.predictions = 0  # style-network runs: a cached style is not predicted again

    def _run(self, interpreter, *inputs: np.ndarray) -> np.ndarray:
        details = sorted(interpreter.get_input_details(), key=lambda d: d["name"] != "content_image")
        for detail, value in zip(details if len(inputs) > 1 else details[-1:], inputs):
            interpreter.set_tensor(detail["index"], np.ascontiguousarray(value, np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    def bottleneck(self, style_image) -> np.ndarray:
        """The style's 100-d bottleneck [1, 1, 1, 100], predicted once per distinct style image."""
        if isinstance(style_image, np.ndarray) and style_image.shape[-1] == 100:
            return style_image.reshape(1, 1, 1, 100)
        pixels = prepare_style(style_image).numpy()
        key = hashlib.sha1(pixels.tobytes()).hexdigest()
        if key not in self._bottlenecks:
            self._bottlenecks[key] = self._run(self._predict, pixels).copy()
            self.predictions += 1
            if len(self._bottlenecks) > 64:
                self._bottlenecks.popitem(last=False)
        self._bottlenecks.move_to_end(key)
        return self._bottlenecks[key]

    def mix(self, styles, weights=None) -> np.ndarray:
        """A weighted mean of several styles' bottlenecks: a new style in between them."""
        styles = list(styles)
        weights = np.ones(len(styles)) if weights is None else np.asarray(weights, np.float64)
        if not styles or weights.shape != (len(styles),) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(f"style_weights must be one number >= 0 per style (not all 0), got {weights}")
        weights = weights / weights.sum()
        return sum(w * self.bottleneck(s) for w, s in zip(weights, styles)).astype(np.float32)

    def transfer(self, content: np.ndarray, bottleneck: np.ndarray) -> np.ndarray:
        """Paint one content image [1, H, W, 3] with a bottleneck; H and W padded to multiples of 4."""
        height, width = content.shape[1:3]
        size = (-(-height // 4) * 4, -(-width // 4) * 4)
        if size not in self._transfer:
            model = xnnpack_friendly(self._transfer_bytes, size) if self.rewrite else self._transfer_bytes
            self._transfer[size] = new_interpreter(model, self.num_threads, size)
        padded = np.pad(content, [(0, 0), (0, size[0] - height), (0, size[1] - width), (0, 0)], "reflect")
        return self._run(self._transfer[size], padded, bottleneck)[:, :height, :width]

    def stylize(self, content, style_image, strength: float = 1.0, style_weights=None) -> tf.Tensor:
        content = _as_batch(content, "content_image").numpy()
        style = (self.mix(style_image, style_weights) if isinstance(style_image, (list, tuple))
                 else self.bottleneck(style_image))
        results = []
        for image in content:
            image = image[np.newaxis]
            if strength < 1:  # the content's own "style" pulls the result back towards the photo
                style_mix = strength * style + (1 - strength) * self.bottleneck(image)
            else:
                style_mix = style
            results.append(self.transfer(image, style_mix.astype(np.float32)))
        return tf.clip_by_value(tf.convert_to_tensor(np.concatenate(results)), 0.0, 1.0)


@lru_cache(maxsize=4)
def load_tflite_model(precision: str = "f16", num_threads: int | None = None) -> TFLiteStylizer:
    """The TF Lite backend (files from ``data/models.json`` via ``asset_path``), built once."""
    return TFLiteStylizer(precision, num_threads)


def prepared_style(style_image, model):
    """What to pass as the style for many images: the bottleneck (TF Lite) or a 256 px copy (Hub)."""
    if isinstance(model, TFLiteStylizer):
        return model.bottleneck(style_image)
    return tf.image.resize(_as_batch(style_image, "style_image")[:1], (STYLE_SIZE, STYLE_SIZE), antialias=True)


def load_backend(backend: str = "hub", precision: str = "f16", handle: str | None = None):
    """``"hub"`` -> ``load_fast_model(handle)``; ``"tflite"`` -> ``load_tflite_model(precision)``."""
    if backend == "hub":
        return load_fast_model(handle)
    if backend == "tflite":
        return load_tflite_model(precision)
    raise ValueError(f"backend must be 'hub' or 'tflite', got {backend!r}")
