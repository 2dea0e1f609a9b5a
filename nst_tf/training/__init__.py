"""The feed-forward half's own part: train an image transformation network (Johnson et al. 2016).

Taught in notebooks/09_training_a_feed_forward_network.

``network`` (the model), ``dataset`` (a tf.data pipeline from any folder of images), ``loop``
(``train_transformer``: the perceptual loss of ``nst_tf.features`` and ``nst_tf.losses``) and
``export`` (``.keras``, ``.tflite``, ``load_trained_model``). Names are imported on first use.
"""

import importlib as _importlib

_EXPORTS = {
    "network": ["InstanceNormalization", "REALTIME", "ReflectionPadding2D", "Upsample2x", "build_transformer_net"],
    "dataset": ["find_images", "image_dataset"],
    "loop": ["TRAINING_DEFAULTS", "TrainResult", "train_transformer"],
    "export": ["ModelFileError", "TrainedStylizer", "export_tflite", "load_trained_model", "save_trained_model",
               "tflite_bytes"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = set(_EXPORTS)
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(_importlib.import_module(f".{_WHERE[name]}", __name__), name)
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nst_tf.training' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
