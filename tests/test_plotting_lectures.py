"""Figures the lectures call from nst_tf.plotting: each returns a figure with the expected axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import tensorflow as tf

from nst_tf import plotting


def test_show_luminance_chroma_keeps_the_sign_of_chroma_and_shows_luminance_in_grey():
    # 08's YIQ figure: Y in grey on [0, 1]; I and Q signed, on a diverging map centred on 0
    # (show_images would clip their negative half to 0).
    import matplotlib

    from nst_tf.controls import to_luminance

    rng = np.random.default_rng(0)
    image = rng.uniform(size=(1, 12, 16, 3)).astype(np.float32)
    y, chroma = (t.numpy() for t in to_luminance(tf.constant(image, tf.float64)))
    fig = plotting.show_luminance_chroma(image, y, chroma, suptitle="YIQ")
    try:
        shown = [ax for ax in fig.axes if ax.images and ax.get_title()]
        assert [ax.get_title().split(":")[0] for ax in shown] == ["RGB", "Y", "I", "Q"]
        assert len(fig.axes) == 7  # four images and a colour bar for each of Y, I, Q
        luminance, i_axis, q_axis = (ax.images[0] for ax in shown[1:])
        assert luminance.get_cmap().name == "gray" and luminance.get_clim() == (0.0, 1.0)
        for axis, channel in ((i_axis, 0), (q_axis, 1)):
            low, high = axis.get_clim()
            assert axis.get_cmap().name == "RdBu_r" and high > 0 and low == -high
            data = np.asarray(axis.get_array())
            assert data.min() < 0 < data.max()  # the negative half is drawn, not clipped
            np.testing.assert_allclose(data, chroma[0, ..., channel])
            assert high >= np.abs(chroma).max() - 1e-12
        assert fig._suptitle.get_text() == "YIQ"
    finally:
        matplotlib.pyplot.close(fig)


def test_plot_optimizer_race_draws_loss_against_time_and_against_evaluations():
    import matplotlib

    curves = {"Adam": ([1, 2, 3], [0.0, 0.1, 0.2], [9.0, 5.0, 4.0]),
              "L-BFGS": ([1, 2, 3], [0.0, 0.2, 0.4], [9.0, 3.0, 2.0])}
    fig = plotting.plot_optimizer_race(curves, title="race")
    try:
        time_axis, evaluation_axis = fig.axes
        assert time_axis.get_xlabel().startswith("seconds") and evaluation_axis.get_xlabel() == "loss evaluations"
        for ax in fig.axes:
            assert ax.get_yscale() == "log" and [t.get_text() for t in ax.get_legend().get_texts()] == ["Adam", "L-BFGS"]
        np.testing.assert_array_equal(time_axis.lines[1].get_xdata(), [0.0, 0.2, 0.4])
        np.testing.assert_array_equal(evaluation_axis.lines[1].get_ydata(), [9.0, 3.0, 2.0])
        assert fig._suptitle.get_text() == "race"
    finally:
        matplotlib.pyplot.close(fig)


def test_plot_scale_losses_draws_one_line_per_scale_in_run_order():
    import matplotlib

    history = {"step": [1, 2, 3, 4, 5], "total": [5.0, 4.0, 9.0, 8.0, 7.0], "scale": [64, 64, 128, 128, 128]}
    fig = plotting.plot_scale_losses(history)
    try:
        (ax,) = fig.axes
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["64 px", "128 px"]
        np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])
        np.testing.assert_array_equal(ax.lines[1].get_ydata(), [9.0, 8.0, 7.0])
        assert ax.get_yscale() == "log" and ax.get_xlabel() == "step (all scales)"
    finally:
        matplotlib.pyplot.close(fig)


def test_plot_memory_estimate_draws_check_memory_per_network_and_precision():
    import matplotlib

    from nst_tf.resources import check_memory

    sides = [256, 512, 1024]
    fig = plotting.plot_memory_estimate(sides, {"vgg19": "block5_conv2", "squeezenet": "fire7"}, budget_gib=15)
    try:
        (ax,) = fig.axes
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["vgg19, float32", "vgg19, mixed_bfloat16", "squeezenet, float32", "squeezenet, mixed_bfloat16"]
        vgg = ax.lines[0].get_ydata()
        # the default run's need (L-BFGS and its history), not Adam's, which is smaller
        expected = [check_memory("vgg19", round(0.75 * s), s, "block5_conv2", available=2**62, optimizer="lbfgs")
                    / 2**30 for s in sides]
        np.testing.assert_allclose(vgg, expected)
        adam = [check_memory("vgg19", round(0.75 * s), s, "block5_conv2", available=2**62, optimizer="adam")
                / 2**30 for s in sides]
        assert all(v > a for v, a in zip(vgg, adam)) and "(lbfgs)" in ax.get_title()
        assert vgg[2] / vgg[1] > 3.5  # doubling the side ~quadruples the estimate (plus a fixed overhead)
        assert ax.lines[1].get_ydata()[2] < vgg[2]  # 16 bits: less memory
        assert any(np.allclose(line.get_ydata(), 15) for line in ax.lines[4:])  # the budget line
        assert ax.get_xscale() == ax.get_yscale() == "log"
    finally:
        matplotlib.pyplot.close(fig)


def test_plot_preprocessing_mistakes_draws_one_bar_per_layer_and_variant():
    import matplotlib.pyplot as plt

    from nst_tf import plotting

    layers = ["conv1_1", "conv2_1", "conv3_1"]
    rel_diff = {"fed as is": [1.0, 0.9, 0.8], "RGB/BGR": [0.3, 0.2, 0.1]}
    mean_act = {"correct": [5.0, 4.0, 3.0], "fed as is": [0.05, 0.04, 0.03], "RGB/BGR": [5.0, 4.1, 3.2]}
    fig = plotting.plot_preprocessing_mistakes(rel_diff, mean_act, layers, banner="UNTRAINED")
    left, right = fig.axes
    assert len(left.patches) == 2 * 3 and len(right.patches) == 3 * 3
    assert sorted(p.get_height() for p in left.patches) == sorted(sum(rel_diff.values(), []))
    assert [t.get_text() for t in left.get_xticklabels()] == layers
    assert right.get_yscale() == "log" and "mean activation" in right.get_ylabel()
    assert [t.get_text() for t in left.get_legend().get_texts()] == list(rel_diff)
    assert any(t.get_text() == "UNTRAINED" for t in fig.texts)
    assert not any(t.get_text() == "UNTRAINED" for t in plotting.plot_preprocessing_mistakes(
        rel_diff, mean_act, layers).texts)
    plt.close("all")


def test_plot_shuffle_change_puts_features_left_and_grams_right():
    import matplotlib.pyplot as plt

    from nst_tf import plotting

    layers = ["conv1_1", "conv5_1"]
    change = {(4, "conv1_1"): (0.9, 0.01), (4, "conv5_1"): (0.8, 0.2),
              (8, "conv1_1"): (1.0, 0.02), (8, "conv5_1"): (0.95, 0.4)}
    fig = plotting.plot_shuffle_change(change, layers, grids=(4, 8), note="untrained")
    left, right = fig.axes
    assert sorted(p.get_height() for p in left.patches) == [0.8, 0.9, 0.95, 1.0]
    assert sorted(p.get_height() for p in right.patches) == [0.01, 0.02, 0.2, 0.4]
    assert "features" in left.get_title() and "Gram" in right.get_title()
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["4×4 patches shuffled",
                                                                      "8×8 patches shuffled"]
    assert "untrained" in fig._suptitle.get_text()
    plt.close("all")


def test_plot_resolution_scaling_draws_guides_with_slopes_two_and_four():
    import matplotlib.pyplot as plt
    import numpy as np

    from nst_tf import plotting

    sizes = [64, 128, 256]
    grams = {"normalized": [1.0, 1.1, 1.0], "unnormalized": [10.0, 41.0, 160.0]}
    losses = {"normalized": [2.0, 2.1, 2.0], "unnormalized": [3.0, 50.0, 770.0]}
    fig = plotting.plot_resolution_scaling(sizes, grams, losses, layer="fire3", network="SqueezeNet")
    left, right = fig.axes
    for ax, power, series in [(left, 2, grams), (right, 4, losses)]:
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(series) <= set(lines) and len(lines) == 3  # two series and one guide
        guide = next(line for label, line in lines.items() if "guide" in label)
        x, y = (np.asarray(v, dtype=float) for v in guide.get_data())
        np.testing.assert_allclose(np.diff(np.log(y)) / np.diff(np.log(x)), power)
        assert y[0] == series["unnormalized"][0]
        np.testing.assert_allclose(lines["unnormalized"].get_ydata(), series["unnormalized"])
    assert "Gram" in left.get_ylabel() and "style loss" in right.get_ylabel()
    assert "SqueezeNet" in fig._suptitle.get_text()
    plt.close("all")


def test_plot_gram_heatmaps_shares_one_colour_scale():
    import matplotlib.pyplot as plt
    import numpy as np

    from nst_tf import plotting

    rng = np.random.default_rng(0)
    features = rng.uniform(size=(2, 50, 6))
    grams = {name: f.T @ f / 50 for name, f in zip(["painting", "photo"], features)}
    fig = plotting.plot_gram_heatmaps(grams, "squeezenet", "conv1", banner="UNTRAINED")
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 2 and len(fig.axes) == 4  # two heatmaps, two colour bars
    limits = {ax.images[0].norm.vmax for ax in images}
    assert limits == {max(g.max() for g in grams.values())}
    assert all(ax.get_xlabel() == "channel d" and ax.get_ylabel() == "channel c" for ax in images)
    assert "painting" in images[0].get_title() and "6×6" in images[0].get_title()
    assert any(t.get_text() == "UNTRAINED" for t in fig.texts)
    plt.close("all")


def test_plot_loss_curves_draws_one_labelled_curve_per_run():
    import matplotlib.pyplot as plt

    histories = {"init='content'": {"step": [1, 2, 3], "total": [5.0, 3.0, 2.0], "style": [4.0, 2.0, 1.0]},
                 "init='noise'": {"step": [1, 2, 3], "total": [50.0, 30.0, 20.0], "style": [9.0, 8.0, 7.0]}}
    fig = plotting.plot_loss_curves(histories, key="style", title="from each start")
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == list(histories)
    for label, history in histories.items():
        np.testing.assert_array_equal(lines[label].get_xdata(), history["step"])
        np.testing.assert_array_equal(lines[label].get_ydata(), history["style"])
    assert ax.get_yscale() == "log" and "style" in ax.get_ylabel() and ax.get_title() == "from each start"
    assert plotting.plot_loss_curves(histories, log=False).axes[0].get_yscale() == "linear"
    plt.close("all")


def test_plot_adam_scale_marks_the_effective_epsilon_of_each_step():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    values = {1: 10 ** rng.uniform(-2, 1.5, size=500), 30: 10 ** rng.uniform(-1, 1, size=500)}
    fig = plotting.plot_adam_scale(values, epsilon=0.1, beta_2=0.999)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    vertical = sorted(float(line.get_xdata()[0]) for line in ax.get_lines())
    expected = sorted([0.1, 0.1 / np.sqrt(1 - 0.999), 0.1 / np.sqrt(1 - 0.999 ** 30)])
    np.testing.assert_allclose(vertical, expected)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for step, v in values.items():  # the legend gives the measured fraction below each step's epsilon
        eps_t = 0.1 / np.sqrt(1 - 0.999 ** step)
        assert any(text.startswith(f"step {step}: {np.mean(v < eps_t):.1%}") for text in legend), legend
    assert sum(len(p.get_xy()) > 0 for p in ax.patches) == 2  # one outline histogram per step
    plt.close("all")


def test_plot_pixel_differences_shows_each_images_dx_and_dy_on_one_scale():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    flat = np.full((1, 10, 14, 3), 0.5, np.float32)
    noisy = rng.uniform(size=(10, 14, 3)).astype(np.float32)
    fig = plotting.plot_pixel_differences({"flat": flat, "noise": noisy}, title="speckle", banner="UNTRAINED")
    heatmaps = [ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == "magma"]
    assert len(heatmaps) == 4 and len(fig.axes) == 2 * 3 + 4  # 2 rows x (image, |dx|, |dy|) + 4 colour bars
    assert len({ax.images[0].get_clim() for ax in heatmaps}) == 1  # one shared colour scale
    dx, dy = (np.asarray(ax.images[0].get_array()) for ax in heatmaps[2:])
    np.testing.assert_allclose(dx, np.abs(np.diff(noisy, axis=1)).mean(-1), rtol=1e-6)
    np.testing.assert_allclose(dy, np.abs(np.diff(noisy, axis=0)).mean(-1), rtol=1e-6)
    assert heatmaps[0].get_title().endswith("mean 0.000") and dx.shape == (10, 13) and dy.shape == (9, 14)
    assert fig._suptitle.get_text() == "speckle" and any(t.get_text() == "UNTRAINED" for t in fig.texts)
    plt.close("all")


def test_running_mean_averages_the_window_before_each_step():
    values = [4.0, 2.0, 6.0, 0.0, 8.0]
    np.testing.assert_allclose(plotting.running_mean(values, 2), [4.0, 3.0, 4.0, 3.0, 4.0])
    np.testing.assert_allclose(plotting.running_mean(values, 3), [4.0, 3.0, 4.0, 8 / 3, 14 / 3])
    np.testing.assert_allclose(plotting.running_mean(values, 1), values)
    rng = np.random.default_rng(0)
    noisy = rng.uniform(size=50)
    want = [noisy[max(0, i - 6):i + 1].mean() for i in range(50)]
    np.testing.assert_allclose(plotting.running_mean(noisy, 7), want)


def test_plot_training_curves_draws_raw_and_smoothed_curves_per_run_and_loss():
    import matplotlib.pyplot as plt

    steps = np.arange(1, 41)
    runs = {"instance norm": {"step": steps, "total": 10.0 / steps, "content": 1.0 + 0 * steps, "style": 5.0 / steps},
            "batch norm": {"step": steps[:20], "total": 12.0 / steps[:20], "content": 2.0 + 0 * steps[:20],
                           "style": 6.0 / steps[:20]}}
    fig = plotting.plot_training_curves(runs, title="t")
    try:
        assert len(fig.axes) == 3
        assert [ax.get_title().split(" ")[0] for ax in fig.axes] == ["total", "content", "style"]
        for ax, key in zip(fig.axes, ("total", "content", "style")):
            lines = ax.get_lines()
            assert len(lines) == 4  # raw and running mean for each run
            raw, smooth = lines[0], lines[1]
            np.testing.assert_allclose(raw.get_ydata(), runs["instance norm"][key])
            np.testing.assert_allclose(smooth.get_ydata(), plotting.running_mean(runs["instance norm"][key], 4))
            assert raw.get_color() == smooth.get_color() != lines[2].get_color()
            assert ax.get_yscale() == "log"
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["instance norm", "batch norm"]
        assert "running mean of 4 steps" in fig.axes[0].get_title() and fig._suptitle.get_text() == "t"
    finally:
        plt.close(fig)
