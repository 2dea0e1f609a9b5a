"""nst_tf: the helper package of the course "Neural Style Transfer with TensorFlow/Keras".

One module per concept, in the order of the data path and of the lectures:
image file -> ``images.load_image`` -> ``features.FeatureExtractor`` -> ``losses`` ->
``optimize.stylize`` (compiled step) -> ``images.save_image``.

Names are imported on first use, so ``python -m nst_tf --help`` answers without loading
TensorFlow.
"""

import importlib as _importlib
import os as _os

# C++ log lines would otherwise land in every notebook cell's output.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

_EXPORTS = {
    "config": ["environment_report", "fast_mode", "seed_everything", "settings"],
    "notebook": ["NotebookSetup", "notebook_setup"],
    "data": ["AssetError", "asset_path", "course_image", "course_images"],
    "features": ["FeatureExtractor", "WeightsError", "caffe_preprocess"],
    "images": ["ImageError", "load_image", "save_image"],
    "losses": ["content_loss", "gram_matrix", "style_loss", "total_variation_loss"],
    "optimize": ["StylizeResult", "stylize"],
    "recipes": ["RECIPES", "recipe_arguments"],
    "fast": ["FastModelError", "TFLiteStylizer", "fast_stylize", "load_fast_model", "load_tflite_model"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


_SUBMODULES = {"arguments", "checkpoint", "cli", "cli_args", "cli_fast", "cli_parser", "cli_runs", "color",
               "config", "controls", "data", "decoding", "diagrams", "exercises", "fast", "features", "images",
               "lbfgs", "litert", "loops", "loss_scale", "losses", "notebook", "objective", "optimize", "outputs",
               "plotting", "precision", "progress", "recipes", "resources", "scales", "training", "validation",
               "video"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(_importlib.import_module(f".{_WHERE[name]}", __name__), name)
    if name in _SUBMODULES:  # nst_tf.features.DEFAULT_LAYERS works without an extra import
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nst_tf' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
