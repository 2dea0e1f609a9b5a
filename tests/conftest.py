"""Shared fixtures. Everything here is offline: course files come from NST_ASSETS_DIR or a cache."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py
import numpy as np
import pytest

from nst_tf.data import AssetError, asset_path


def need_asset(name: str):
    """Path of a course file; under CI (which always has them) a missing one fails, else skips."""
    try:
        return asset_path(name)
    except AssetError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {name!r} (NST_ASSETS_DIR): {err}")
        pytest.skip(f"course file {name!r} not available here: {err}")


# `make test` hands whole scopes (a notebook, a module, a class) to its two workers in collection
# order (--no-loadscope-reorder): the longest go first, so that the run does not end with one
# worker on a 40-second lecture while the other waits. Toy full-mode lectures and the lectures'
# fast mode are the longest units, the later lectures the longest of them; then the heaviest
# modules; then everything else, in its own order.
HEAVY_MODULES = ("test_recipes", "test_benchmarks", "test_training", "test_bad_inputs", "test_cli",
                 "test_cli_long_runs", "test_speed", "test_optimize")


def _scope_rank(nodeid: str):
    path = nodeid.split("::")[0]
    name = path.rsplit("/", 1)[-1]
    if name == "test_notebooks_full_mode.py":
        return (0, -int(nodeid.split("::")[1][len("TestFullMode"):] or 0))
    if path.endswith(".ipynb"):
        return (1, -int(name[:2]) if name[:2].isdigit() else 0)
    stem = name.removesuffix(".py")
    return (2, HEAVY_MODULES.index(stem)) if stem in HEAVY_MODULES else (3, 0)


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: _scope_rank(item.nodeid))  # stable: a scope's tests keep their order


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def squeezenet_weights():
    return need_asset("squeezenet_v1_1_notop")


@pytest.fixture(scope="session")
def random_vgg19():
    """A small random-weight VGG19 extractor shared by pipeline tests (untrained on purpose)."""
    from nst_tf.features import FeatureExtractor

    return FeatureExtractor(["block1_conv1", "block2_conv1", "block3_conv1"], ["block3_conv2"],
                            network="vgg19", weights="random")


def save_hub_stand_in(folder) -> str:
    """A SavedModel called like Magenta's TF Hub model: (content [B,H,W,3], style [B,h,w,3]) ->
    [stylized]. Its "stylized" image is flat grey at (style side)/1000, so a test can see the style
    size. Offline, it stands in for ``hub.load`` of the real model (which needs the network)."""
    import tensorflow as tf

    class Stand_in(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                                      tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, content, style):
            side = tf.cast(tf.shape(style)[1], tf.float32) / 1000.0
            return [tf.zeros_like(content) + side]

    tf.saved_model.save(Stand_in(), str(folder))
    return str(folder)


def write_keras_h5(model, path):
    """Write weights in the legacy Keras HDF5 layout of the *_notop.h5 release files."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = []
            for value, kind in zip(layer.get_weights(), ("kernel", "bias")):
                name = f"{layer.name}/{kind}:0"
                group.create_dataset(name, data=value)
                names.append(name.encode())
            group.attrs["weight_names"] = names
    return path
