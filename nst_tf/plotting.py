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
                         budget_gib: float | None = None, aspect: float = 0.75):
    """The memory ``resources.check_memory`` expects one optimization step to need, against the
    image's long side, on log-log axes: slope 2 once the activations, which grow with the pixel
    count, dominate the fixed overhead.

    ``networks``: {network: its deepest loss layer (Keras name)}; ``aspect``: height / width.
    ``budget_gib``: a horizontal line for a device's memory (e.g. a T4's ~15 GiB).
    Returns the figure (one axis, a line per network and precision).

    Taught in notebooks/06_speed_and_scale.
    """
    import matplotlib.pyplot as plt

    from .resources import check_memory

    sides = np.asarray(sides)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for network, deepest in networks.items():
        for precision, style in zip(precisions, ("-", "--", ":")):
            gib = [check_memory(network, round(s * aspect), int(s), deepest, precision, available=2**62) / 2**30
                   for s in sides]
            ax.plot(sides, gib, style, marker="o", label=f"{network}, {precision}")
    if budget_gib:
        ax.axhline(budget_gib, color="grey", lw=1, ls=":")
        ax.text(sides[0], budget_gib * 1.15, f"{budget_gib:g} GiB", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sides, [str(s) for s in sides])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set(xlabel=f"long side (px), height = {aspect:g} x width", ylabel="estimated peak memory of a step (GiB)",
           title="check_memory's estimate: slope 2 on log-log axes once activations dominate")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
