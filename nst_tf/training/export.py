"""A trained transformer network as a file, and back as a function photo -> stylized photo.

Taught in notebooks/09_training_a_feed_forward_network.

``.keras`` is Keras's own format (architecture, weights; the custom layers are registered, so
``keras.saving.load_model`` needs nothing else once ``nst_tf.training`` is imported). ``.tflite``
is the TF Lite flatbuffer that phones and CPUs run: float16 weights by default (half the size,
computed in float32 on a CPU), or int8 "dynamic range" weights (a quarter; activations stay
float). ``load_trained_model`` opens either and runs TF Lite through the course's interpreter path
(``nst_tf.litert``), with the XNNPACK-friendly rewrite of its reflection pads.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..checkpoint import write_atomically
from ..litert import new_interpreter, xnnpack_friendly

QUANTIZE = ("float16", "int8", "none")
INPUT_NAME = "content_image"  # the name nst_tf.litert looks for when it resizes the input


class ModelFileError(ValueError):
    """A trained-model file that cannot be written or read; one line naming the file."""


def save_trained_model(model, path) -> Path:
    """``model.save`` to ``path`` (.keras), atomically: the file is complete or absent."""
    path = Path(path)
    if path.suffix.lower() != ".keras":
        raise ModelFileError(f"{path}: a Keras model file must end in .keras")
    temp = path.with_name(f".{path.stem}.partial.keras")
    try:
        model.save(temp)
        write_atomically(path, lambda file: file.write(temp.read_bytes()))
    finally:
        temp.unlink(missing_ok=True)
    return path


def tflite_bytes(model, quantize: str = "float16") -> bytes:
    """Convert ``model`` to a TF Lite flatbuffer with a [1, H, W, 3] input of any H, W (multiples
    of 4). ``quantize``: "float16" (default), "int8" (dynamic-range weights) or "none"."""
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE)}, got {quantize!r}")
    import tempfile

    with tempfile.TemporaryDirectory() as folder:  # Keras 3's route to TF Lite: a SavedModel first
        spec = tf.TensorSpec([1, None, None, 3], tf.float32, name=INPUT_NAME)
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # "INFO:tensorflow:Assets written to /tmp/..." is a temporary folder's news
        try:
            model.export(folder, format="tf_saved_model", input_signature=[spec], verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            return _converted(converter, quantize)
        finally:
            logger.setLevel(level)


def _converted(converter, quantize: str) -> bytes:
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return _named_input(converter.convert())


def _named_input(model_bytes: bytes) -> bytes:
    """The converter names the input "serving_default_content_image:0"; ``nst_tf.litert`` and
    the Magenta files call it "content_image". One name, so one interpreter path serves both."""
    try:
        from ai_edge_litert.tools import flatbuffer_utils as fu
    except ImportError:
        from tensorflow.lite.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(model_bytes))
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].name = INPUT_NAME.encode()
    return bytes(fu.convert_object_to_bytearray(model))


def export_tflite(model, path, quantize: str = "float16") -> Path:
    """``tflite_bytes`` written atomically to ``path`` (.tflite)."""
    path = Path(path)
    if path.suffix.lower() != ".tflite":
        raise ModelFileError(f"{path}: a TF Lite model file must end in .tflite")
    data = tflite_bytes(model, quantize)
    write_atomically(path, lambda file: file.write(data))
    return path


def _pad_to_4(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[1:3]
    pad = [(0, 0), (0, -height % 4), (0, -width % 4), (0, 0)]
    return np.pad(image, pad, "reflect") if any(p[1] for p in pad) else image


class TrainedStylizer:
    """A trained network as a function: ``stylizer(photos, strength=1.0)`` -> [B, H, W, 3].

    Photos of any size: sides are reflection-padded to multiples of 4 and the result cropped
    back. ``strength`` below 1 blends with the photo (a trained network has one style, so there is
    no bottleneck to mix as in Magenta's model). ``kind``: "keras" or "tflite".
    """

    needs_style = False  # the style is in the weights: commands take no STYLE argument

    def __init__(self, path, num_threads: int | None = None, rewrite: bool = True):
        self.path, self.rewrite = Path(path), rewrite
        self.num_threads = num_threads or min(4, os.cpu_count() or 1)
        suffix = self.path.suffix.lower()
        if suffix not in (".keras", ".tflite"):
            raise ModelFileError(f"{self.path}: a trained model ends in .keras or .tflite")
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: no such file" if not self.path.exists() else f"{self.path}: not a file")
        self.kind, self._interpreters, self.model = suffix[1:], {}, None
        if self.kind == "keras":
            import keras

            from . import network  # noqa: F401 (registers the custom layers)

            try:
                self.model = keras.saving.load_model(self.path)
            except Exception as err:  # zip, JSON, h5 and layer errors all mean "not such a model"
                raise ModelFileError(f"{self.path}: cannot load as a Keras model ({_first_line(err)})") from None
            self._check(self.model.inputs[0].shape)
        else:
            self._bytes = self.path.read_bytes()
            try:
                details = new_interpreter(self._bytes, self.num_threads, (32, 32)).get_input_details()
            except Exception as err:  # noqa: BLE001 (the runtime raises RuntimeError/ValueError)
                raise ModelFileError(f"{self.path}: cannot load as a TF Lite model ({_first_line(err)})") from None
            if [d["name"] for d in details] != [INPUT_NAME]:
                raise ModelFileError(f"{self.path}: not a trained transformer network (inputs "
                                     f"{[d['name'] for d in details]}; expected one named {INPUT_NAME})")

    def _check(self, shape) -> None:
        if len(shape) != 4 or shape[-1] != 3:
            raise ModelFileError(f"{self.path}: not an image-to-image model (input shape {shape})")

    def _interpreter(self, size):
        if size not in self._interpreters:
            data = xnnpack_friendly(self._bytes) if self.rewrite else self._bytes
            self._interpreters[size] = new_interpreter(data, self.num_threads, size)
        return self._interpreters[size]

    def run(self, image: np.ndarray) -> np.ndarray:
        """One padded image [1, H, W, 3] (sides multiples of 4) through the network."""
        if self.kind == "keras":
            return np.asarray(self.model(image, training=False))
        interpreter = self._interpreter(tuple(image.shape[1:3]))
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    def __call__(self, photos, strength: float = 1.0) -> tf.Tensor:
        photos = np.asarray(photos, np.float32)
        photos = photos[np.newaxis] if photos.ndim == 3 else photos
        if photos.ndim != 4 or photos.shape[-1] != 3:
            raise ValueError(f"photos must be RGB images [B, H, W, 3] in [0, 1], got shape {photos.shape}")
        if not 0.0 <= float(strength) <= 1.0:
            raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
        height, width = photos.shape[1:3]
        out = np.concatenate([self.run(_pad_to_4(np.ascontiguousarray(p[np.newaxis])))[:, :height, :width]
                              for p in photos])
        out = np.clip(out, 0.0, 1.0)
        return tf.convert_to_tensor(strength * out + (1 - strength) * photos if strength < 1 else out)

    def __repr__(self) -> str:
        return f"TrainedStylizer({str(self.path)!r}, kind={self.kind!r})"


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:160]


def load_trained_model(path, num_threads: int | None = None) -> TrainedStylizer:
    """A trained network (.keras or .tflite) as a function photo(s) -> stylized photo(s)."""
    return TrainedStylizer(path, num_threads)
