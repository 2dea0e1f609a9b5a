"""Named loss recipes: published objectives, converted exactly into the course's convention.

Taught in notebooks/03_the_objective (the conversions) and notebooks/05_total_variation_and_full_recipe
(the defaults per network). ``features.DEFAULT_LAYERS`` and ``arguments.NETWORK_DEFAULTS`` are read
from here: this module is their one source of truth, and it imports nothing from ``nst_tf`` (so no
import cycle, and no TensorFlow).

Why recipes: nobody on the course's machines can look at an ImageNet-VGG19 result, so the VGG
defaults are not tuned by eye. They are the exact conversion of a recipe whose pictures are public
(the TF tutorial's), and ``tests/test_recipes.py`` checks that the course's objective equals the
source's, re-implemented from its own code or formulas, up to one constant factor.

Use: ``stylize(content, style, **recipe_arguments("gatys2016"))``; an explicit argument wins when
given after the splat, e.g. ``stylize(c, s, **{**recipe_arguments("gatys2016"), "tv_weight": 0})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

# The course's default content image, Tübingen (1024x768, data/images.json), at the TF tutorial's
# max_dim = 512: 512x384. nst_tf.load_image and the tutorial's load_img both give (384, 512)
# (checked in tests/test_recipes.py on the real file). Conversions that depend on size use it.
WORKING_SIZE = (384, 512)  # (height, width)

_VGG_STYLE = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")


@dataclass(frozen=True)
class Recipe:
    """One objective: layers (Keras names), weights in the course's convention, where it is from.

    ``working_size`` (height, width) is the size at which a size-dependent conversion is exact
    (None: it holds at every size). ``settings`` are the source's other ``stylize`` arguments
    (optimizer, steps, start), for a faithful rerun; ``recipe_arguments`` leaves them out unless
    asked, since they are not part of the objective.
    """

    name: str
    content_layers: tuple
    style_layers: tuple
    content_weight: float
    style_weight: float
    tv_weight: float
    tv_kind: str
    citation: str
    working_size: tuple | None
    networks: tuple
    settings: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    notes: str = ""

    def arguments(self, optimization: bool = False) -> dict:
        """``stylize`` keyword arguments: layers, weights, ``tv_kind`` (+ ``settings``)."""
        args = dict(content_layers=list(self.content_layers), style_layers=list(self.style_layers),
                    content_weight=self.content_weight, style_weight=self.style_weight,
                    tv_weight=self.tv_weight, tv_kind=self.tv_kind)
        return {**args, **self.settings} if optimization else args


def tutorial_tv_weight(height: int, width: int, total_variation_weight: float = 30.0) -> float:
    """The TF tutorial's ``total_variation_weight * tf.image.total_variation(image)`` as a weight
    on the course's ``total_variation_loss(image, "l1")`` at ``height`` x ``width``.

    ``tf.image.total_variation`` *sums* |dx| over 3*H*(W-1) pairs and |dy| over 3*(H-1)*W pairs;
    the course *averages* each direction. Multiplying the means by 3*H*W overshoots the sum by a
    factor between W/(W-1) and H/(H-1) (at 512x384: +0.20% to +0.26%); exact for no shape,
    since the two directions have different counts. The sum grows with the pixel count, the mean
    does not, so the tutorial's TV is 4x weaker (relative to its content and style) at half size.
    """
    return total_variation_weight * 3 * height * width


def gatys_weights(alpha_over_beta: float, height: int, width: int, *, beta: float = 1.0) -> dict:
    """Gatys et al.'s ``alpha * L_content + beta * L_style`` (content conv4_2, style conv1_1 ..
    conv5_1 with w_l = 1/5) as course weights at ``height`` x ``width``; equal, not proportional.

    Paper: L_content = 1/2 sum (F - P)^2 over the N*M entries of conv4_2 (N = 512 channels,
    M = H/8 * W/8 positions) = (N*M/2) * mean; E_l = sum (G - A)^2 / (4 N_l^2 M_l^2) with the
    unnormalized Gram G = M_l * (course Gram), so E_l = mean((G_course - A_course)^2) / 4 exactly.
    Hence style_weight = beta/4 at any size, but content_weight = alpha*N*M/2 grows with the
    image's area: the conversion holds at one size only.
    """
    positions = (height // 8) * (width // 8)  # conv4_2 is after three 2x2 pools
    return dict(content_weight=alpha_over_beta * beta * 512 * positions / 2, style_weight=beta / 4)


_TUTORIAL = Recipe(
    name="tf_tutorial",
    content_layers=("block5_conv2",),
    style_layers=_VGG_STYLE,
    # Its style_content_loss: each term a mean, summed over layers, times weight / num_layers;
    # the Gram is einsum / (H*W). That is the course's convention, so its weights carry over as-is.
    content_weight=1e4,
    style_weight=1e-2,
    tv_weight=tutorial_tv_weight(*WORKING_SIZE),  # 30 * 3 * 384 * 512 = 17,694,720
    tv_kind="l1",
    citation='TensorFlow tutorial "Neural style transfer", tensorflow.org/tutorials/generative/'
             "style_transfer (tensorflow/docs, site/en/tutorials/generative/style_transfer.ipynb): "
             "content_layers = ['block5_conv2'], style_layers block1_conv1 .. block5_conv1, "
             "style_weight=1e-2, content_weight=1e4, total_variation_weight=30 on "
             "tf.image.total_variation, images at max_dim = 512, "
             "tf.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1), clip to [0, 1], "
             "10 epochs x 100 steps from the content image.",
    working_size=WORKING_SIZE,
    networks=("vgg19", "vgg16"),
    # stylize's Adam already has beta_1=0.99, epsilon=0.1 and clips; the tutorial does not decay.
    settings=MappingProxyType(dict(optimizer="adam", learning_rate=0.02, lr_decay=1.0, num_steps=1000,
                                   init="content")),
    notes="Its published pictures use the Keras ImageNet VGG19, the network the course loads.")

_GATYS_RATIO = 8e-4  # CVPR 2016, Fig. 3C: Tübingen x The Starry Night

_GATYS = Recipe(
    name="gatys2016",
    content_layers=("block4_conv2",),
    style_layers=_VGG_STYLE,
    **gatys_weights(_GATYS_RATIO, *WORKING_SIZE),  # content 629.1456, style 0.25
    tv_weight=0.0,  # the paper has no TV term
    tv_kind="l1",
    citation="L. A. Gatys, A. S. Ecker, M. Bethge, \"Image Style Transfer Using Convolutional Neural "
             "Networks\", CVPR 2016: content conv4_2, style conv1_1 .. conv5_1 with w_l = 1/5, "
             "\"The ratio alpha/beta was either 1x10^-3 (Fig 3 B), 8x10^-4 (Fig 3 C), 5x10^-3 "
             "(Fig 3 D), or 5x10^-4 (Fig 3 E, F)\"; Fig. 3C is Tübingen in the style of The Starry "
             "Night, hence 8e-4. The same picture is Fig. 2C of the preprint, \"A Neural Algorithm "
             "of Artistic Style\", arXiv:1508.06576 (2015), whose Methods give 1x10^-3 for "
             "Fig. 2 B, C, D. L-BFGS from white noise; average pooling.",
    working_size=WORKING_SIZE,
    networks=("vgg19",),
    settings=MappingProxyType(dict(optimizer="lbfgs", init="noise", pooling="avg")),
    notes="The formulas are converted exactly, not the pictures: the paper's VGG19 was rescaled so "
          "that each filter's mean activation over ImageNet is 1, while Keras's VGG19 (caffe "
          "preprocessing, 0-255 pixels) is not; content scales with the activations squared, style "
          "with their fourth power, layer by layer, so with Keras's weights the balance is expected "
          "to differ from the paper's figure (nobody here can check: no ImageNet VGG offline). "
          "Exact at 512x384 only (see gatys_weights).")

_SQUEEZENET = Recipe(
    name="squeezenet_course",
    content_layers=("fire5",),
    # fire5 keeps shapes without copying textures; conv1 .. fire7 span strokes from pixels to motifs.
    style_layers=("conv1", "fire2", "fire3", "fire5", "fire7"),
    content_weight=1.0,
    style_weight=1e-2,
    tv_weight=5e2,
    tv_kind="l1",
    citation="This course: chosen by experiment with the pretrained SqueezeNet v1.1 on the course "
             "images at 256-512 px (notebooks/05_total_variation_and_full_recipe).",
    working_size=None,
    networks=("squeezenet",))

RECIPES = {r.name: r for r in (_TUTORIAL, _GATYS, _SQUEEZENET)}

# The recipe each network uses when stylize is given no layers or weights.
NETWORK_RECIPES = {"vgg19": "tf_tutorial", "vgg16": "tf_tutorial", "squeezenet": "squeezenet_course"}


def get_recipe(name: str) -> Recipe:
    """``RECIPES[name]``, or a ``ValueError`` that lists the names."""
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}") from None


def recipe_arguments(name: str, *, optimization: bool = False) -> dict:
    """``stylize`` keyword arguments of recipe ``name``: layers, weights and ``tv_kind``; with
    ``optimization=True`` also the source's optimizer, steps, start and pooling."""
    return get_recipe(name).arguments(optimization)
