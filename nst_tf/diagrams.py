"""Explanatory drawings made in code, so they stay true to the code and render the same everywhere.

Taught in notebooks/03_the_objective (``pipeline_diagram``, where the objective is assembled).
"""

from __future__ import annotations

# (label, x, y, colour): the boxes of the Gatys et al. pipeline, left to right, in axes units.
_TARGETS = "#dbe9f6"  # computed once, before the loop
_LOOP = "#fde6c8"  # every step
_BOXES = {
    "content": ("content photo", 1.0, 5.0, _TARGETS),
    "style": ("style painting", 1.0, 3.0, _TARGETS),
    "image": ("generated image x\n(the only variable)", 1.0, 1.0, _LOOP),
    "net_content": ("VGG19, frozen", 3.6, 5.0, _TARGETS),
    "net_style": ("VGG19, frozen", 3.6, 3.0, _TARGETS),
    "net_image": ("VGG19, frozen", 3.6, 1.0, _LOOP),
    "targets_content": ("content target P\n(features, conv layer)", 6.3, 5.0, _TARGETS),
    "targets_style": ("style targets A\n(Gram matrices, 5 layers)", 6.3, 3.0, _TARGETS),
    "features": ("F (features), G (Grams)", 6.3, 1.0, _LOOP),
    "loss": ("loss = content_weight · content(F, P)\n+ style_weight · style(G, A)\n+ tv_weight · TV(x)",
             8.9, 3.0, _LOOP),
    "gradient": ("gradient dloss/dx\n(GradientTape)", 8.9, 0.2, _LOOP),
}
# (from, to, side of "from", side of "to"): sides as fractions of each box, (1, 0.5) = middle right.
_RIGHT, _LEFT, _TOP, _BOTTOM = (1, 0.5), (0, 0.5), (0.5, 1), (0.5, 0)
_ARROWS = [("content", "net_content", _RIGHT, _LEFT), ("style", "net_style", _RIGHT, _LEFT),
           ("image", "net_image", _RIGHT, _LEFT), ("net_content", "targets_content", _RIGHT, _LEFT),
           ("net_style", "targets_style", _RIGHT, _LEFT), ("net_image", "features", _RIGHT, _LEFT),
           ("targets_content", "loss", _RIGHT, _LEFT), ("targets_style", "loss", _RIGHT, _LEFT),
           ("features", "loss", _RIGHT, _LEFT), ("loss", "gradient", _BOTTOM, _TOP)]


def pipeline_diagram(network: str = "VGG19"):
    """Content, style and generated image -> network -> losses -> gradient -> pixels, as a figure.

    Blue boxes are computed once before the loop (the targets); orange ones at every step. The
    closing arrow is the optimizer's update of the pixels (Adam or L-BFGS, then a clip to [0, 1]).
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.2))
    ax.set_xlim(-0.2, 10.4)
    ax.set_ylim(-0.6, 5.8)
    ax.axis("off")
    boxes = {key: ax.text(x, y, label.replace("VGG19", network), ha="center", va="center", fontsize=10,
                          bbox=dict(boxstyle="round,pad=0.45", facecolor=colour, edgecolor="#555555"))
             for key, (label, x, y, colour) in _BOXES.items()}
    arrow = dict(arrowstyle="-|>", color="#333333", shrinkA=7, shrinkB=7)
    for start, end, side_from, side_to in _ARROWS:  # coordinates relative to each box: edge to edge
        ax.annotate("", xy=side_to, xycoords=boxes[end], xytext=side_from, textcoords=boxes[start],
                    arrowprops=arrow)
    # The update closes the loop: from the gradient back to the pixels of x.
    ax.annotate("", xy=_BOTTOM, xycoords=boxes["image"], xytext=_LEFT, textcoords=boxes["gradient"],
                arrowprops=dict(arrow, color="crimson", lw=2, connectionstyle="angle,angleA=180,angleB=-90"))
    ax.text(5.0, 0.05, "optimizer step on the pixels (Adam or L-BFGS), clip to [0, 1]",
            ha="center", va="top", color="crimson", fontsize=10)
    ax.text(0.0, 5.75, "computed once, before the loop", color="#1f4e79", fontsize=9, va="top")
    ax.text(0.0, 1.85, "every step", color="#9c5a00", fontsize=9, va="bottom")
    fig.tight_layout()
    return fig
