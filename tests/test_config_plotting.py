"""Fast mode, seeding and the figure helpers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from nst_tf import config
from nst_tf.plotting import UNTRAINED_BANNER, plot_history, save_figure, show_images


def test_fast_mode_reads_environment(monkeypatch):
    monkeypatch.setenv("NST_FAST", "1")
    assert config.fast_mode() and config.settings() == config.FAST_SETTINGS
    monkeypatch.setenv("NST_FAST", "0")
    assert not config.fast_mode() and config.settings() == config.FULL_SETTINGS
    assert config.FAST_SETTINGS.image_size < config.FULL_SETTINGS.image_size


def test_seed_everything_repeats_draws():
    import tensorflow as tf

    config.seed_everything(3)
    a = (np.random.rand(), tf.random.uniform([2]).numpy())
    config.seed_everything(3)
    b = (np.random.rand(), tf.random.uniform([2]).numpy())
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_environment_report_mentions_versions_device_and_why_this_mode(monkeypatch):
    monkeypatch.setenv("NST_FAST", "1")
    report = config.environment_report()
    assert "TensorFlow" in report and "Keras" in report and ("GPU" in report)
    assert "mode: fast (NST_FAST=1)" in report


def test_show_images_grid_titles_and_banner():
    images = [np.random.default_rng(i).uniform(size=(1, 20, 30, 3)) for i in range(5)]
    fig = show_images(images, titles=list("abcde"), ncols=3, banner=UNTRAINED_BANNER,
                      row_labels=["r1", "r2"])
    axes = fig.axes
    assert len(axes) == 6 and axes[0].get_title() == "a" and axes[3].get_ylabel() == "r2"
    assert any(UNTRAINED_BANNER in t.get_text() for t in fig.texts)
    with pytest.raises(ValueError):
        show_images([])


def test_plot_history_and_save_figure(tmp_path, monkeypatch):
    history = {"step": [1, 2, 3], "total": [3.0, 2.0, 1.0], "content": [0.0, 0.1, 0.2],
               "style": [9.0, 5.0, 2.0], "tv": [0.1, 0.1, 0.1],
               "style_layers": {"a": [1.0, 0.5, 0.2], "b": [2.0, 1.0, 0.4]}}
    fig = plot_history(history, per_layer=True)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_xlabel() == "step"
    monkeypatch.delenv("NST_SAVE_FIGURES", raising=False)
    assert save_figure(fig, "curves", notebook="04_x") is None
    monkeypatch.setenv("NST_SAVE_FIGURES", "1")
    monkeypatch.setenv("NST_FIGURES_DIR", str(tmp_path))
    path = save_figure(fig, "loss curves", notebook="04_x")
    assert path == tmp_path / "04_x" / "loss_curves.png" and path.stat().st_size > 1000


def test_pipeline_diagram_names_every_stage_and_closes_the_loop():
    from nst_tf.diagrams import pipeline_diagram

    fig = pipeline_diagram("SqueezeNet")
    ax = fig.axes[0]
    texts = " | ".join(t.get_text() for t in ax.texts)
    for stage in ("content photo", "style painting", "generated image x", "SqueezeNet, frozen",
                  "content target P", "Gram matrices", "content_weight", "style_weight", "tv_weight",
                  "gradient", "optimizer step on the pixels"):
        assert stage in texts, stage
    assert "VGG19" not in texts  # the network name is the one asked for
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) == 11  # 10 forward arrows and the update back to the pixels
