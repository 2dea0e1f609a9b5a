"""The lectures' one-call setup and the mode that follows the hardware, on simulated GPUs."""

import pytest
import tensorflow as tf

from nst_tf import config
from nst_tf.notebook import notebook_setup

T4 = {"device_name": "Tesla T4", "compute_capability": (7, 5)}
A100 = {"device_name": "NVIDIA A100-SXM4-40GB", "compute_capability": (8, 0)}


@pytest.fixture
def gpu(monkeypatch):
    """Make TensorFlow report one GPU with the given details (no GPU code runs)."""
    def install(details):
        device = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
        real = tf.config.list_physical_devices
        monkeypatch.setattr(tf.config, "list_physical_devices",
                            lambda kind=None: [device] if kind in (None, "GPU") else real(kind))
        monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: dict(details))
    return install


def test_unset_nst_fast_follows_the_hardware(monkeypatch, gpu):
    monkeypatch.delenv("NST_FAST", raising=False)
    fast, why = config.mode_and_reason()
    assert fast and "no GPU" in why and config.settings() == config.FAST_SETTINGS
    gpu(T4)
    fast, why = config.mode_and_reason()
    assert not fast and "GPU is present" in why and config.settings() == config.FULL_SETTINGS


@pytest.mark.parametrize("value, fast", [("1", True), ("true", True), ("0", False), ("off", False)])
def test_nst_fast_wins_over_the_hardware(monkeypatch, gpu, value, fast):
    gpu(T4)
    monkeypatch.setenv("NST_FAST", value)
    assert config.mode_and_reason() == (fast, f"NST_FAST={value}")
    assert config.mode_and_reason(fast=not fast)[0] is (not fast)  # the parameters cell wins over both


def test_a_bad_nst_fast_names_the_variable(monkeypatch):
    monkeypatch.setenv("NST_FAST", "maybe")
    with pytest.raises(ValueError, match="NST_FAST must be 1 or 0"):
        config.fast_mode()


def test_library_default_steps_stay_full_mode_on_a_cpu(monkeypatch):
    # A script calling stylize() on a laptop gets the full 500 steps unless NST_FAST=1 asks for fewer.
    from nst_tf.arguments import validated

    monkeypatch.delenv("NST_FAST", raising=False)
    image = tf.zeros([1, 40, 40, 3])
    kwargs = dict(network="squeezenet", content_weight=None, style_weight=None, tv_weight=None, tv_kind="l1",
                  content_layers=None, style_layers=None, style_layer_weights=None, init="content",
                  optimizer="adam", learning_rate=0.02, lr_decay=1.0, lr_decay_every=100, precision="float32",
                  jit_compile=False, scales=None, seed=0, callback_every=None, extractor=None,
                  preserve_color=None, style_blend=None, masks=None, mask_styles=None,
                  mask_weights=None, style_scale=None, strength=1.0)
    assert validated(image, image, num_steps=None, **kwargs).steps_per_scale == [config.FULL_SETTINGS.num_steps]
    monkeypatch.setenv("NST_FAST", "1")
    assert validated(image, image, num_steps=None, **kwargs).steps_per_scale == [config.FAST_SETTINGS.num_steps]


def test_setup_on_a_cpu_prints_mode_why_and_how_to_change(monkeypatch, capsys):
    monkeypatch.delenv("NST_FAST", raising=False)
    monkeypatch.setenv("NST_VGG_WEIGHTS", "random")
    nb = notebook_setup(None, 0, None, None)
    out = capsys.readouterr().out
    assert nb.fast and nb.gpu is None and nb.image_size == config.FAST_SETTINGS.image_size
    assert "fast mode" in out and "no GPU found" in out and "FAST = False" in out
    assert nb.untrained and "UNTRAINED" in nb.banner and not nb.full_quality
    assert "TensorFlow" in out and "VGG weights: random" in out


def test_setup_on_a_t4_is_full_mode_with_its_name(monkeypatch, capsys, gpu):
    gpu(T4)
    monkeypatch.delenv("NST_FAST", raising=False)
    monkeypatch.delenv("NST_PRECISION", raising=False)
    monkeypatch.setenv("NST_VGG_WEIGHTS", "imagenet")
    nb = notebook_setup(None, 0, None, None)
    out = capsys.readouterr().out
    assert not nb.fast and nb.mode == config.FULL_SETTINGS and nb.gpu == "Tesla T4 (compute capability 7.5)"
    assert "full mode" in out and "GPU is present" in out and "Tesla T4" in out and "FAST = True" in out
    assert nb.full_quality and nb.banner is None and not nb.untrained


def test_toy_full_mode_shrinks_previews_but_not_the_fast_settings(monkeypatch, gpu):
    gpu(A100)
    monkeypatch.setenv("NST_VGG_WEIGHTS", "imagenet")
    toy = notebook_setup(False, 0, 64, 3, show=False)
    assert (toy.mode.image_size, toy.mode.num_steps, toy.mode.preview_size, toy.mode.preview_steps) == (64, 3, 64, 3)
    assert not toy.full_quality  # toy size: asserts about the look of results must not run
    big = notebook_setup(False, 0, 1024, 800, show=False)
    assert big.mode.preview_size == config.FULL_SETTINGS.preview_size and big.full_quality
    fast = notebook_setup(True, 0, None, None, show=False)
    assert fast.mode == config.FAST_SETTINGS


def test_setup_seeds_so_reruns_draw_the_same(monkeypatch):
    monkeypatch.setenv("NST_FAST", "1")
    notebook_setup(None, 7, None, None, show=False)
    a = tf.random.uniform([3]).numpy()
    notebook_setup(None, 7, None, None, show=False)
    assert (tf.random.uniform([3]).numpy() == a).all()


def test_setup_refuses_sizes_a_network_cannot_use():
    with pytest.raises(ValueError, match="IMAGE_SIZE must be >= 32"):
        notebook_setup(True, 0, 8, 3, show=False)
