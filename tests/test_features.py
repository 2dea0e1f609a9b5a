"""FeatureExtractor: the same numbers as keras.applications, real SqueezeNet weights, clear errors.

The Keras ImageNet VGG files cannot be downloaded here, so the weights="imagenet" and weights=path
code paths are tested with a seeded VGG saved in the very format of the Keras release files.
"""

import hashlib

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import write_keras_h5
from nst_tf import features
from nst_tf.features import (DEFAULT_LAYERS, FeatureExtractor, WeightsError, caffe_preprocess,
                             canonical_layer, layer_names)


def seeded_vgg(network, seed=7):
    keras.utils.set_random_seed(seed)
    app = keras.applications.VGG19 if network == "vgg19" else keras.applications.VGG16
    model = app(include_top=False, weights=None, input_shape=(None, None, 3))
    for layer in model.layers:  # non-zero biases, so a mix-up of kernel and bias would show
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.random.default_rng(seed).normal(0, 0.1, bias.shape)])
    return model


@pytest.fixture(scope="module", params=["vgg19", "vgg16"])
def vgg_file(request, tmp_path_factory):
    network = request.param
    path = tmp_path_factory.mktemp(network) / f"{network}_notop.h5"
    return network, write_keras_h5(seeded_vgg(network), path)


def test_outputs_equal_keras_applications_layer_by_layer(vgg_file, rng):
    network, path = vgg_file
    app = keras.applications.VGG19 if network == "vgg19" else keras.applications.VGG16
    stock = app(include_top=False, weights=str(path), input_shape=(None, None, 3))
    names = [n for n in layer_names(network) if "conv" in n]
    extractor = FeatureExtractor(names[:3], names[3:], network=network, weights=str(path))
    probe = keras.Model(stock.input, {n: stock.get_layer(n).output for n in names})
    x = rng.uniform(size=(2, 48, 40, 3)).astype(np.float32)
    expected = probe(keras.applications.imagenet_utils.preprocess_input(x * 255.0, mode="caffe"))
    got = extractor(x)
    assert set(got) == set(names)
    for name in names:
        np.testing.assert_allclose(got[name].numpy(), expected[name].numpy(), rtol=1e-4, atol=1e-3)


def test_paper_names_are_keras_names(vgg_file, rng):
    network, path = vgg_file
    paper = FeatureExtractor(["conv1_1", "relu2_1"], ["conv4_2"], network=network, weights=str(path))
    keras_names = FeatureExtractor(["block1_conv1", "block2_conv1"], ["block4_conv2"],
                                   network=network, weights=str(path))
    x = rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)
    a, b = paper(x), keras_names(x)
    assert list(a) == ["conv1_1", "relu2_1", "conv4_2"]  # keyed by the names passed
    np.testing.assert_array_equal(a["conv4_2"].numpy(), b["block4_conv2"].numpy())
    assert canonical_layer("pool3") == "block3_pool"


def test_keeps_only_needed_layers(vgg_file):
    network, path = vgg_file
    extractor = FeatureExtractor(["conv1_1"], ["conv2_2"], network=network, weights=str(path))
    kept = [layer.name for layer in extractor.model.layers]
    assert kept[-1] == "block2_conv2" and not any(n.startswith(("block3", "block4", "block5")) for n in kept)
    assert not any("fc" in n or "predictions" in n or "flatten" in n for n in kept)


def test_avg_pooling_shares_weights_and_averages(vgg_file, rng):
    network, path = vgg_file
    max_pool = FeatureExtractor(["conv1_2", "conv2_1"], [], network=network, weights=str(path))
    avg_pool = FeatureExtractor(["conv1_2", "conv2_1"], [], network=network, pooling="avg", weights=str(path))
    for a, b in zip(max_pool.model.layers, avg_pool.model.layers):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
    assert any(isinstance(layer, keras.layers.AveragePooling2D) for layer in avg_pool.model.layers)
    x = rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)
    fm, fa = max_pool(x), avg_pool(x)
    np.testing.assert_array_equal(fm["conv1_2"].numpy(), fa["conv1_2"].numpy())  # before any pool
    # conv2_1 of the avg model is conv2_1 applied to the 2x2 average of conv1_2
    pooled = tf.nn.avg_pool2d(fa["conv1_2"], 2, 2, "VALID")
    expected = max_pool.model.get_layer("block2_conv1")(pooled)
    np.testing.assert_allclose(fa["conv2_1"].numpy(), expected.numpy(), rtol=1e-4, atol=1e-3)
    assert not np.allclose(fm["conv2_1"].numpy(), fa["conv2_1"].numpy())


def test_imagenet_path_uses_the_keras_cache_with_its_hash(vgg_file, tmp_path, monkeypatch, rng):
    network, path = vgg_file
    filename, url, _ = features._KERAS_WEIGHTS[network]
    cache = tmp_path / "keras"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / filename).write_bytes(path.read_bytes())
    monkeypatch.setenv("KERAS_HOME", str(cache))
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.delenv("NST_ASSETS_DIR", raising=False)
    # The real md5 does not match our seeded file: that must be an error, never a silent use.
    with pytest.raises(WeightsError, match=filename):
        FeatureExtractor(["conv1_1"], network=network, weights="imagenet")
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(features._KERAS_WEIGHTS, network, (filename, url, md5))
    extractor = FeatureExtractor(["conv1_1"], network=network, weights="imagenet")
    reference = FeatureExtractor(["conv1_1"], network=network, weights=str(path))
    x = rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(extractor(x)["conv1_1"].numpy(), reference(x)["conv1_1"].numpy())
    assert extractor.weights == "imagenet" and not extractor.untrained


def test_imagenet_missing_offline_says_what_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("NST_OFFLINE", "1")
    monkeypatch.delenv("NST_ASSETS_DIR", raising=False)
    with pytest.raises(WeightsError) as info:
        FeatureExtractor(["conv1_1"], weights="imagenet")
    message = str(info.value)
    assert "\n" not in message
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "empty" / "models") in message and "NST_VGG_WEIGHTS=random" in message


def test_default_weights_come_from_environment(monkeypatch):
    monkeypatch.setenv("NST_VGG_WEIGHTS", "random")
    extractor = FeatureExtractor(["conv1_1"])
    assert extractor.weights == "random" and extractor.untrained


def test_corrupt_or_wrong_weights_files_are_clear_errors(tmp_path, squeezenet_weights):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(WeightsError, match="bad.h5: cannot load as vgg19 weights"):
        FeatureExtractor(["conv1_1"], weights=str(bad))
    with pytest.raises(WeightsError, match="cannot load as vgg19"):
        FeatureExtractor(["conv1_1"], weights=str(squeezenet_weights))  # another network's file
    with pytest.raises(WeightsError, match="no such weights file"):
        FeatureExtractor(["conv1_1"], weights=str(tmp_path / "missing.h5"))


def test_bad_arguments():
    with pytest.raises(ValueError, match="valid names: block1_conv1"):
        FeatureExtractor(["conv6_1"], weights="random")
    with pytest.raises(ValueError, match="unknown network"):
        FeatureExtractor(["conv1_1"], network="resnet50")
    with pytest.raises(ValueError, match="pooling"):
        FeatureExtractor(["conv1_1"], pooling="min", weights="random")
    with pytest.raises(ValueError, match="at least one layer"):
        FeatureExtractor([], [], weights="random")
    with pytest.raises(ValueError, match="lists of layer names"):
        FeatureExtractor("conv1_1", weights="random")
    with pytest.raises(ValueError, match=r"\[B, H, W, 3\]"):
        FeatureExtractor(["conv1_1"], weights="random")(tf.zeros([32, 32, 3]))


def test_random_weights_are_seeded(rng):
    x = rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)
    a = FeatureExtractor(["conv2_1"], weights="random")(x)["conv2_1"].numpy()
    b = FeatureExtractor(["conv2_1"], weights="random")(x)["conv2_1"].numpy()
    np.testing.assert_array_equal(a, b)


def test_caffe_preprocessing():
    x = tf.constant([[[[1.0, 0.5, 0.0]]]])
    expected = [0.0 * 255 - 103.939, 0.5 * 255 - 116.779, 1.0 * 255 - 123.68]  # BGR
    np.testing.assert_allclose(caffe_preprocess(x).numpy()[0, 0, 0], expected, rtol=1e-6)


# --- SqueezeNet v1.1: real ImageNet weights -------------------------------------------------

def test_squeezenet_loads_every_tensor_of_the_real_file(squeezenet_weights):
    extractor = FeatureExtractor(["fire9"], network="squeezenet", weights=str(squeezenet_weights))
    with h5py.File(squeezenet_weights, "r") as f:
        file_convs = [n.decode() for n in f.attrs["layer_names"] if len(f[n.decode()].attrs["weight_names"])]
        assert len(file_convs) == 1 + 8 * 3
        for h5_name in file_convs:
            layer = extractor.model.get_layer(h5_name.replace("/", "_"))
            group = f[h5_name]
            kernel, bias = (np.asarray(group[n]) for n in group.attrs["weight_names"])
            np.testing.assert_array_equal(layer.get_weights()[0], kernel)
            np.testing.assert_array_equal(layer.get_weights()[1], bias)


def test_squeezenet_shapes_and_defaults(squeezenet_weights):
    content, style = DEFAULT_LAYERS["squeezenet"]
    extractor = FeatureExtractor(style, content, network="squeezenet")
    assert extractor.weights == "imagenet"
    out = FeatureExtractor(["fire9"], network="squeezenet")(tf.zeros([1, 224, 224, 3]))
    assert out["fire9"].shape == (1, 13, 13, 512)
    tiny = extractor(tf.zeros([1, 32, 32, 3]))  # the smallest size load_image allows still works
    assert all(v.shape[1] >= 1 for v in tiny.values())
    with pytest.raises(ValueError, match="valid names: conv1, pool1, fire2"):
        FeatureExtractor(["conv4_2"], network="squeezenet")
