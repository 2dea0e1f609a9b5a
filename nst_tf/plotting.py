"""Figures for the lectures: image grids, loss curves, and saving figures for slides.

Taught in notebooks/00_welcome_and_setup (``show_images``) and notebooks/04 (``plot_history``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

UNTRAINED_BANNER = "UNTRAINED (random) VGG features: a pipeline check, NOT style transfer"
FIGURE_DPI = 150


def _to_array(image) -> np.ndarray:
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 4:
        array = array[0]
    if array.ndim == 2:
        return np.clip(array, 0, 1)
    return np.clip(array, 0.0, 1.0)


def show_images(images, titles=None, ncols: int | None = None, size: float = 3.5,
                suptitle: str | None = None, banner: str | None = None, row_labels=None,
                col_labels=None):
    """Show images in a grid, each with its title; returns the matplotlib figure.

    ``images``: a list of [1, H, W, 3] / [H, W, 3] arrays in [0, 1] (or 2-D arrays, shown with a
    colour map). ``row_labels``/``col_labels`` label a grid's rows and columns (sweeps).
    ``banner``: a red line across the top, e.g. ``UNTRAINED_BANNER``.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ValueError("show_images needs at least one image")
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    first = _to_array(images[0])
    aspect = first.shape[0] / first.shape[1]
    # Space at the top in inches, so banner and title never overlap the grid or each other.
    top = (0.45 if banner else 0.0) + (0.4 if suptitle else 0.0)
    height = size * aspect * nrows + 0.6 + top
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([]), ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if index >= len(images):
            ax.axis("off")
            continue
        array = _to_array(images[index])
        ax.imshow(array, cmap="viridis" if array.ndim == 2 else None)
        if titles is not None and index < len(titles) and titles[index]:
            ax.set_title(titles[index], fontsize=10)
        row, col = divmod(index, ncols)
        if row_labels is not None and col == 0:
            ax.set_ylabel(row_labels[row], fontsize=10)
        if col_labels is not None and row == 0:
            ax.set_title(col_labels[col], fontsize=10)
    if banner:
        fig.text(0.5, 1 - 0.08 / height, banner, ha="center", va="top", color="white", fontsize=11,
                 fontweight="bold", bbox=dict(facecolor="crimson", edgecolor="none", pad=4))
    if suptitle:
        fig.suptitle(suptitle, fontsize=12, y=1 - ((0.45 if banner else 0.0) + 0.05) / height, va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - top / height))
    return fig


def plot_history(history: dict, title: str = "Loss during optimization", per_layer: bool = False):
    """Loss curves from ``StylizeResult.history`` on a log scale: total, content, style, TV.

    With ``per_layer=True`` a second panel shows each style layer's (unweighted) loss.
    """
    import matplotlib.pyplot as plt

    panels = 2 if per_layer and history.get("style_layers") else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    for key in ("total", "content", "style", "tv"):
        values = np.asarray(history[key], dtype=np.float64)
        if np.any(values > 0):
            ax.plot(history["step"], values, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (unweighted terms; total is weighted)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    if panels == 2:
        ax = axes[0, 1]
        for name, values in history["style_layers"].items():
            ax.plot(history["step"], values, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("style loss of the layer")
        ax.set_title("Style loss per layer")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_figure(fig, name: str, notebook: str | None = None) -> Path | None:
    """Write ``fig`` to ``figures/<notebook>/<name>.png`` when ``NST_SAVE_FIGURES`` is set.

    ``make figures`` sets it (and ``NST_NOTEBOOK``); in a normal session this does nothing, so
    lectures can call it after every published figure.
    """
    if not os.environ.get("NST_SAVE_FIGURES"):
        return None
    notebook = notebook or os.environ.get("NST_NOTEBOOK", "misc")
    root = Path(os.environ.get("NST_FIGURES_DIR", "figures"))
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    path = root / notebook / f"{safe}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return path


def show_luminance_chroma(image, luminance, chroma, titles=None, suptitle: str | None = None,
                          size: float = 3.0):
    """An RGB image beside its luminance (grey, 0..1) and its two signed chroma channels.

    Chroma is signed (I and Q are negative for half the colours), so each chroma channel is drawn
    with a diverging colour map ("RdBu_r") centred on 0 with symmetric limits and a colour bar;
    ``show_images`` would clip the negative half to 0. ``luminance`` is [.., H, W, 1] or [H, W],
    ``chroma`` [.., H, W, 2]. Returns the figure (4 image axes, then 3 colour-bar axes).

    Taught in notebooks/08_artistic_controls.
    """
    import matplotlib.pyplot as plt

    y = np.asarray(luminance, np.float64).reshape(np.shape(luminance)[-3:-1] if np.ndim(luminance) > 2
                                                  else np.shape(luminance))
    iq = np.asarray(chroma, np.float64).reshape(*np.shape(chroma)[-3:-1], 2)
    titles = titles or ["RGB", "Y: luminance", "I: orange (+) / blue (-)", "Q: purple (+) / green (-)"]
    limit = max(float(np.max(np.abs(iq))), 1e-6)  # one symmetric scale for I and Q: comparable
    aspect = y.shape[0] / y.shape[1]
    fig, axes = plt.subplots(1, 4, figsize=(4 * size + 1.2, size * aspect + (1.2 if suptitle else 0.8)))
    panels = [(_to_array(image), None, None, None), (y, "gray", 0.0, 1.0),
              (iq[..., 0], "RdBu_r", -limit, limit), (iq[..., 1], "RdBu_r", -limit, limit)]
    for ax, title, (array, cmap, vmin, vmax) in zip(axes, titles, panels):
        shown = ax.imshow(array, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
        if cmap is not None:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03)
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    fig.tight_layout()
    return fig


def plot_optimizer_race(curves: dict, title: str = ""):
    """Two optimizers on one objective: best loss so far against wall-clock seconds and against
    loss evaluations, side by side on log axes.

    ``curves``: {label: (evaluations, seconds, best_loss)}, three equally long sequences (seconds
    since the first evaluation; best loss so far, e.g. ``np.minimum.accumulate`` of the history,
    since a line search's rejected trials are higher). Returns the figure (two axes).

    Taught in notebooks/06_speed_and_scale.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.9))
    for label, (evaluations, seconds, best) in curves.items():
        axes[0].plot(seconds, best, marker=".", label=label)
        axes[1].plot(evaluations, best, marker=".", label=label)
    for ax, xlabel, panel in zip(axes, ("seconds since the first evaluation", "loss evaluations"),
                                 ("Loss vs wall-clock time", "Loss vs evaluations")):
        ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel="total loss (best so far)", title=panel)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_scale_losses(history: dict, title: str = "Coarse-to-fine: each scale starts from the upsampled "
                                                  "previous result"):
    """The total loss of a coarse-to-fine run (``stylize(scales=...)``), one line per scale.

    ``history``: ``StylizeResult.history`` with its ``step``, ``total`` and ``scale`` (the long
    side each step ran at). The loss jumps where the scale changes: a new objective, not a setback.
    Returns the figure (one axis).

    Taught in notebooks/06_speed_and_scale.
    """
    import matplotlib.pyplot as plt

    steps, totals = np.asarray(history["step"]), np.asarray(history["total"], np.float64)
    scale_of = np.asarray(history["scale"])
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for scale in dict.fromkeys(history["scale"]):  # in the order the run visited them
        ax.plot(steps[scale_of == scale], totals[scale_of == scale], label=f"{scale} px")
    ax.set_yscale("log")
    ax.set(xlabel="step (all scales)", ylabel="total loss at that scale", title=title)
    ax.legend(title="long side")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def plot_memory_estimate(sides, networks: dict, precisions=("float32", "mixed_bfloat16"),
                         budget_gib: float | None = None, aspect: float = 0.75, optimizer: str | None = None):
    """The memory ``resources.check_memory`` expects one optimization step to need, against the
    image's long side, on log-log axes: slope 2 once the activations, which grow with the pixel
    count, dominate the fixed overhead.

    ``networks``: {network: its deepest loss layer (Keras name)}; ``aspect``: height / width.
    ``budget_gib``: a horizontal line for a device's memory (e.g. a T4's ~15 GiB). ``optimizer``:
    whose extra copies of the image count (``check_memory``'s; default: the default run's).
    Returns the figure (one axis, a line per network and precision).

    Taught in notebooks/06_speed_and_scale.
    """
    import matplotlib.pyplot as plt

    from .resources import check_memory
    from .schedules import DEFAULT_SCHEDULE, chosen_optimizer

    optimizer = optimizer or chosen_optimizer(DEFAULT_SCHEDULE)
    sides = np.asarray(sides)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for network, deepest in networks.items():
        for precision, style in zip(precisions, ("-", "--", ":")):
            gib = [check_memory(network, round(s * aspect), int(s), deepest, precision, available=2**62,
                                optimizer=optimizer) / 2**30 for s in sides]
            ax.plot(sides, gib, style, marker="o", label=f"{network}, {precision}")
    if budget_gib:
        ax.axhline(budget_gib, color="grey", lw=1, ls=":")
        ax.text(sides[0], budget_gib * 1.15, f"{budget_gib:g} GiB", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sides, [str(s) for s in sides])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set(xlabel=f"long side (px), height = {aspect:g} x width", ylabel="estimated peak memory of a step (GiB)",
           title=f"check_memory's estimate ({optimizer}): slope 2 on log-log axes once activations dominate")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def _banner_on(fig, banner):
    """The red untrained-features line above a figure drawn with plain subplots."""
    if banner:
        fig.text(0.5, 1.0, banner, ha="center", va="bottom", color="white", fontweight="bold",
                 bbox=dict(facecolor="crimson", edgecolor="none", pad=4))


def plot_preprocessing_mistakes(rel_diff: dict, mean_act: dict, layers, banner: str | None = None,
                                title: str = "Preprocessing mistakes, measured on VGG19 features"):
    """Two bar charts of what preprocessing mistakes do to the features, one group per layer.

    Left: ``rel_diff[mistake][k]`` = ||F_wrong - F_right|| / ||F_right|| at ``layers[k]`` (0 = no
    change). Right: ``mean_act[variant][k]``, the mean activation of every variant (the correct one
    first), on a log scale. ``banner``: the untrained-features line. Returns the figure (2 axes).

    Taught in notebooks/01_images_and_vgg_features.
    """
    import matplotlib.pyplot as plt

    variants, mistakes = list(mean_act), list(rel_diff)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.2))
    width = 0.8 / len(variants)
    positions = np.arange(len(layers))
    for i, mistake in enumerate(mistakes):  # colours match the right panel, where C0 is "correct"
        ax1.bar(positions + (i + 1) * width, rel_diff[mistake], width, label=mistake, color=f"C{i + 1}")
    for i, variant in enumerate(variants):
        ax2.bar(positions + i * width, mean_act[variant], width, label=variant, color=f"C{i}")
    for ax in (ax1, ax2):
        ax.set_xticks(positions + 1.5 * width, list(layers))
        ax.set_xlabel("layer")
        ax.grid(axis="y", alpha=0.3)
    ax1.set_ylabel("‖F_wrong − F_right‖ / ‖F_right‖")
    ax1.set_title("How far each mistake moves the features (0 = no change)")
    ax1.legend(fontsize=8)
    ax2.set_yscale("log")
    ax2.set_ylabel("mean activation (log scale)")
    ax2.set_title("The scale of the activations")
    ax2.set_ylim(top=ax2.get_ylim()[1] * 30)  # headroom for the legend
    ax2.legend(fontsize=8, loc="upper right", ncol=2)
    fig.suptitle(title)
    _banner_on(fig, banner)
    fig.tight_layout()
    return fig


def plot_shuffle_change(change: dict, layers, grids=(4, 8), network: str = "VGG19", note: str | None = None):
    """Relative change of the features and of their Gram matrices when image patches are shuffled.

    ``change[grid, layer] = (||F' - F|| / ||F||, ||G' - G|| / ||G||)``; one bar per grid size in
    each layer group. Left panel: the features (what a content loss compares); right: the Gram
    matrices (what the style loss compares). ``note``: a second title line. Returns the figure.

    Taught in notebooks/02_gram_matrices.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    x = np.arange(len(layers))
    width = 0.8 / len(grids)
    panels = [(axes[0], 0, "features F (what the content loss compares)"),
              (axes[1], 1, "Gram matrix G (what the style loss compares)")]
    for ax, which, title in panels:
        for i, grid in enumerate(grids):
            ax.bar(x + (i - (len(grids) - 1) / 2) * width, [change[grid, layer][which] for layer in layers],
                   width=width, label=f"{grid}×{grid} patches shuffled")
        ax.set_xticks(x, list(layers))
        ax.set_xlabel(f"{network} layer")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("relative change  ‖after − before‖ / ‖before‖")
    axes[1].legend()
    fig.suptitle("Shuffling patches: features change a lot, Gram matrices of shallow layers barely move"
                 + (f"\n({note})" if note else ""))
    fig.tight_layout()
    return fig


def plot_resolution_scaling(sizes, gram_norms: dict, style_losses: dict, layer: str, network: str = ""):
    """How Gram matrices and the style loss grow with the image size, normalized or not (log-log).

    ``gram_norms`` and ``style_losses`` map a label to one value per entry of ``sizes`` (long side,
    px); labels containing "unnormalized" get dashed guides through their first point, growing like
    the area (Gram, slope 2) and like the area squared (loss, slope 4). Returns the figure (2 axes).

    Taught in notebooks/02_gram_matrices.
    """
    import matplotlib.pyplot as plt

    sizes = np.asarray(sizes, dtype=np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    panels = [(axes[0], gram_norms, 2, "area", f"Frobenius norm of the {layer} Gram matrix",
               "The Gram matrix of the painting"),
              (axes[1], style_losses, 4, "area²", "style loss  mean((G(photo) − G(painting))²)",
               "The style loss of the photo against the painting")]
    for ax, series, power, guide, ylabel, title in panels:
        for label, values in series.items():
            values = np.asarray(values, dtype=np.float64)
            (line,) = ax.plot(sizes, values, "o-", label=label)
            if "unnormalized" in label:
                ax.plot(sizes, values[0] * (sizes / sizes[0]) ** power, "--", color=line.get_color(),
                        alpha=0.5, label=f"∝ {guide} (guide)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(sizes, [str(int(s)) for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("image size (long side, px)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"Without the 1/(HW): Gram entries grow with the area, the style loss with its square"
                 + (f" ({network})" if network else ""))
    fig.tight_layout()
    return fig


def plot_gram_heatmaps(grams: dict, network: str, layer: str, banner: str | None = None):
    """Gram matrices side by side as heatmaps on one colour scale (square-root norm, "magma").

    ``grams`` maps a title to a [C, C] array. ``banner``: the untrained-features line. Returns the
    figure (one image axis per matrix, then their colour bars).

    Taught in notebooks/02_gram_matrices.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import PowerNorm

    grams = {name: np.asarray(g, dtype=np.float64) for name, g in grams.items()}
    vmax = max(float(g.max()) for g in grams.values())
    fig, axes = plt.subplots(1, len(grams), figsize=(5.5 * len(grams), 4.6), squeeze=False)
    for ax, (name, g) in zip(axes[0], grams.items()):
        shown = ax.imshow(g, cmap="magma", norm=PowerNorm(0.5, vmin=0, vmax=vmax))
        ax.set_title(f"{name}\n{network} {layer} Gram ({g.shape[0]}×{g.shape[1]})", fontsize=10)
        ax.set_xlabel("channel d")
        ax.set_ylabel("channel c")
        fig.colorbar(shown, ax=ax, label="G[c, d] = mean over positions of F_c·F_d  (√ scale)")
    _banner_on(fig, banner)
    fig.tight_layout()
    return fig


def plot_loss_curves(histories: dict, key: str = "total", title: str | None = None, log: bool = True):
    """One loss curve per run on one axis: ``histories`` maps a label to a ``StylizeResult.history``.

    ``key``: which loss to draw ("total", "content", "style", "tv"), against ``history["step"]``,
    on a log scale unless ``log=False``. Returns the figure (one axis).

    Taught in notebooks/04_optimizing_pixels (initialization) and notebooks/05 (backbones).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    for label, history in histories.items():
        ax.plot(history["step"], history[key], label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{key} loss" + (" (weighted)" if key == "total" else ""))
    ax.set_title(title or f"{key} loss of each run")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_adam_scale(sqrt_v_hat: dict, epsilon: float = 0.1, beta_2: float = 0.999, title: str | None = None):
    """Histograms of Adam's sqrt(v_hat), one per step, against its epsilon (log axis).

    ``sqrt_v_hat`` maps a step t (1, 2, ...) to the array of sqrt(v_t / (1 - beta_2**t)) over all
    pixel values. Keras adds epsilon to sqrt(v), not to sqrt(v_hat), so relative to sqrt(v_hat) it
    is epsilon / sqrt(1 - beta_2**t): a dashed line per step, in the step's colour; the solid line is
    epsilon itself, the limit. Values left of a step's line move like momentum SGD (step
    lr * m_hat / eps_t), values right of it like sign descent (~lr). Returns the figure (one axis).

    Taught in notebooks/04_optimizing_pixels.
    """
    import matplotlib.pyplot as plt

    values = {step: np.asarray(v, dtype=np.float64).ravel() for step, v in sqrt_v_hat.items()}
    positive = np.concatenate([v[v > 0] for v in values.values()])
    low = min(float(np.percentile(positive, 0.5)), epsilon) / 2  # the rare tiny ones go into the first bin
    high = max(float(positive.max()), epsilon / np.sqrt(1 - beta_2)) * 2
    bins = np.logspace(np.log10(low), np.log10(high), 60)
    fig, ax = plt.subplots(figsize=(8, 4))
    for index, (step, v) in enumerate(values.items()):
        eps_t = epsilon / np.sqrt(1 - beta_2 ** step)
        ax.hist(np.clip(v, low, None), bins=bins, histtype="step", lw=1.5, color=f"C{index}",
                label=f"step {step}: {np.mean(v < eps_t):.1%} below ε/√(1−β₂ᵗ) = {eps_t:.2g}")
        ax.axvline(eps_t, color=f"C{index}", ls="--", lw=1)
    ax.axvline(epsilon, color="black", lw=1.5, label=f"ε = {epsilon:g} (the limit)")
    ax.set_xscale("log")
    ax.set_xlabel("√v̂ of each pixel value (log scale)")
    ax.set_ylabel("number of pixel values")
    ax.set_title(title or "Adam's second moment against its epsilon")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_pixel_differences(images: dict, title: str = "Neighbouring-pixel differences", banner: str | None = None):
    """Each image next to heatmaps of its |dx| (horizontal) and |dy| (vertical) pixel differences.

    ``images`` maps a row label to a [1, H, W, 3] (or [H, W, 3]) image in [0, 1]; differences are
    averaged over the colour channels and share one colour scale (up to the 99th percentile of all),
    so rows compare directly; each panel's title gives the mean. Returns the figure: per row one
    image axis and two heatmap axes, then the colour bars.

    Taught in notebooks/05_total_variation_and_full_recipe.
    """
    import matplotlib.pyplot as plt

    def differences(image):
        array = _to_array(image)
        return np.abs(np.diff(array, axis=1)).mean(-1), np.abs(np.diff(array, axis=0)).mean(-1)

    diffs = {label: differences(image) for label, image in images.items()}
    vmax = max(float(np.percentile(d, 99)) for pair in diffs.values() for d in pair)
    fig, axes = plt.subplots(len(images), 3, figsize=(12, 3.1 * len(images)), squeeze=False)
    for row, (label, image) in zip(axes, images.items()):
        row[0].imshow(_to_array(image))
        row[0].set_ylabel(label)
        for ax, diff, name in zip(row[1:], diffs[label], ("|dx| (horizontal)", "|dy| (vertical)")):
            shown = ax.imshow(diff, cmap="magma", vmin=0, vmax=vmax)
            ax.set_title(f"{name}, mean {diff.mean():.3f}", fontsize=10)
            fig.colorbar(shown, ax=ax, fraction=0.04, label="|pixel difference|")
        for ax in row:
            ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_title("image", fontsize=10)
    fig.suptitle(title)
    _banner_on(fig, banner)
    fig.tight_layout()
    return fig


def running_mean(values, window: int) -> np.ndarray:
    """The mean of each value and the ``window - 1`` before it (fewer at the start): a curve that
    lags, never looks ahead, and has one point per step."""
    values = np.asarray(values, dtype=np.float64)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def plot_training_curves(histories: dict, keys=("total", "content", "style"), title: str | None = None,
                         window: int | None = None):
    """Training losses of one or more runs: a panel per loss in ``keys``, each run's loss of every
    step drawn faintly and its running mean over ``window`` steps (default: a tenth of the longest
    run) drawn solid in the same colour, on a log scale. Every step sees a different batch, so the
    raw curve is noisy; the running mean shows the trend. ``histories`` maps a label to a
    ``TrainResult.history`` (``step`` and the loss keys). Returns the figure.

    Taught in notebooks/09_training_a_feed_forward_network.
    """
    import matplotlib.pyplot as plt

    longest = max(len(history["step"]) for history in histories.values())
    window = window or max(longest // 10, 1)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for (label, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
            values = np.asarray(history[key], dtype=np.float64)
            ax.plot(history["step"], values, color=colour, alpha=0.3, linewidth=0.8)
            ax.plot(history["step"], running_mean(values, window), color=colour, label=label)
        if all(np.all(np.asarray(h[key]) > 0) for h in histories.values()):
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(f"{key} loss" + (" (weighted)" if key == "total" else ""))
        ax.set_title(f"{key} (running mean of {window} steps)", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
