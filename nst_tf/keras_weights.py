"""The Keras ImageNet files of VGG19 and VGG16: where they are looked for, without TensorFlow.

Taught in notebooks/01_images_and_vgg_features.

``features`` loads them; the command line asks the same questions before importing TensorFlow,
so that "offline and the file is nowhere" is one line at once instead of after TensorFlow's
seconds of start-up. One search, used by both: ``NST_ASSETS_DIR/keras/models``, then Keras's
own cache (``$KERAS_HOME/models``), which is where ``keras.applications`` downloads them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .config import WeightsError
from .data import keras_home, offline

# The same file name, URL and md5 that keras.applications uses for weights="imagenet".
KERAS_WEIGHTS = {
    "vgg19": ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
              "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "253f8cb515780f3b799900260a226db6"),
    "vgg16": ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
              "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "6d6bbae143d832006294945121d1f1fc"),
}


def keras_weights_path(network: str) -> Path:
    """Where Keras caches the ImageNet weights of ``network`` (``$KERAS_HOME/models``)."""
    return keras_home() / "models" / KERAS_WEIGHTS[network][0]


def _candidates(network: str) -> list[Path]:
    """The places looked in, in order: the course's asset folder first (CI, offline machines)."""
    assets = os.environ.get("NST_ASSETS_DIR", "").strip()
    filename = KERAS_WEIGHTS[network][0]
    return ([Path(assets) / "keras" / "models" / filename] if assets else []) + [keras_weights_path(network)]


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def local_imagenet_file(network: str, check_hash: bool = True) -> Path | None:
    """The first local copy of ``network``'s ImageNet file, or None; ``check_hash``: a copy whose
    md5 is not the one Keras publishes is a ``WeightsError``, never silently used."""
    filename, _, md5 = KERAS_WEIGHTS[network]
    for candidate in _candidates(network):
        if candidate.is_file():
            if check_hash and _md5(candidate) != md5:
                raise WeightsError(f"{candidate}: md5 does not match the hash Keras publishes for "
                                   f"{filename}; delete the file so that it is downloaded again")
            return candidate
    return None


def imagenet_weights_available(network: str = "vgg19") -> bool:
    """True when the ImageNet file is already in the Keras cache or in ``NST_ASSETS_DIR``."""
    if network == "squeezenet":
        return True  # small enough to download or found in NST_ASSETS_DIR; checked on use
    return local_imagenet_file(network, check_hash=False) is not None


def missing_imagenet_weights(network: str, why: str) -> WeightsError:
    """The error for a file that is nowhere locally and could not be downloaded (``why``)."""
    return WeightsError(
        f"{network} ImageNet weights are missing: {KERAS_WEIGHTS[network][0]} is not in the Keras cache "
        f"({keras_weights_path(network).parent}) and could not be downloaded ({why}). Put the file "
        f"there, or set NST_VGG_WEIGHTS=random to run with untrained features")


def check_weights_file(weights: str) -> None:
    """A ``weights`` that is neither "imagenet" nor "random" is a file's path: it must be one."""
    if weights not in ("imagenet", "random") and not Path(weights).is_file():
        raise WeightsError(f"{weights}: no such weights file")


def check_imagenet_offline(network: str, weights: str) -> None:
    """``missing_imagenet_weights`` when its answer is already certain: ImageNet VGG weights,
    ``NST_OFFLINE`` set (no download will be tried) and no local copy. Online, or with a copy
    (hash-checked when it is loaded), it says nothing: the load decides."""
    if weights == "imagenet" and network in KERAS_WEIGHTS and offline() \
            and local_imagenet_file(network, check_hash=False) is None:
        raise missing_imagenet_weights(network, "NST_OFFLINE is set")
