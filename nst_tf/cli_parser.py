"""The command line's parser: ``python -m nst_tf stylize | demo | images | weights | fast | video | train``.

Split from ``cli`` (which runs the commands) so that each stays short; ``cli.build_parser`` is this.
"""

from __future__ import annotations

import argparse

from .cli_args import _image_size, _non_negative, _Parser, _positive_float, _positive_int, _strength
from .cli_fast import add_fast_commands
from .cli_runs import add_run_arguments
from .cli_train import add_train_command
from .recipes import RECIPES
from .schedules import DEFAULT_SCHEDULE, SCHEDULES


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m nst_tf",
        description="Neural style transfer (Gatys et al.) with TensorFlow: repaint a photo "
                    "(CONTENT) in the style of a painting (STYLE).",
        epilog="Examples:\n"
               "  python -m nst_tf stylize photo.jpg painting.jpg -o out.png\n"
               "  python -m nst_tf stylize tubingen_neckarfront vangogh_starry_night -o out.png "
               "--network squeezenet\n"
               "  python -m nst_tf demo\n"
               "  python -m nst_tf images            # the course images you can name directly",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    st = sub.add_parser("stylize", help="optimize an image to match CONTENT's shapes and STYLE's textures",
                        description="Optimize the pixels of an image so that its deep features "
                                    "match CONTENT and its Gram matrices match STYLE.")
    st.add_argument("content", help="content photo: a file, or a course image name")
    st.add_argument("style", nargs="+", help="style painting(s): files or course image names; several "
                                             "are blended (--style-blend) or given to regions (--mask)")
    st.add_argument("-o", "--output", required=True, help="where to write the result (.png or .jpg)")
    _add_common(st)

    demo = sub.add_parser("demo", help="stylize Tübingen in the style of The Starry Night",
                          description="The course's default pair: Tübingen x The Starry Night. "
                                      "VGG19 at 512 px on a GPU; SqueezeNet on a CPU.")
    demo.add_argument("--output-dir", default="outputs", help="folder for demo.png and the figure")
    demo.add_argument("--network", choices=("vgg19", "vgg16", "squeezenet"), default=None,
                      help="default: vgg19 with a GPU, squeezenet without")
    demo.add_argument("--steps", type=_positive_int, default=None, help="optimization steps")
    demo.add_argument("--image-size", type=_image_size, default=None, help="long side in px")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.add_argument("--overwrite", action="store_true", help="replace demo.png and the figure if they exist")

    sub.add_parser("images", help="list the course images (name, role, license)")
    weights = sub.add_parser("weights", help="fetch and check the ImageNet weights (before a class, or offline)",
                             description="Find or download the ImageNet weights of each network into the "
                                         "Keras cache, check their hash, and load them once.")
    weights.add_argument("networks", nargs="*", default=["vgg19"], choices=("vgg19", "vgg16", "squeezenet"),
                         metavar="NETWORK", help="vgg19 (default), vgg16, squeezenet")
    add_fast_commands(sub)
    add_train_command(sub)
    return parser


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--network", choices=("vgg19", "vgg16", "squeezenet"), default="vgg19",
                   help="feature network (default vgg19; squeezenet is ~20x cheaper, for CPUs)")
    g.add_argument("--weights", default=None,
                   help="'imagenet' (download once), a weights file, or 'random' (untrained: "
                        "a pipeline check, not style transfer); default $NST_VGG_WEIGHTS or imagenet")
    g.add_argument("--pooling", choices=("max", "avg"), default="max", help="pooling layers (default max)")
    g = p.add_argument_group("size and steps")
    g.add_argument("--image-size", type=_image_size, default=512,
                   help="long side of the result in px (default 512)")
    g.add_argument("--style-size", type=_image_size, default=None,
                   help="long side of the style image in px (default: same as --image-size)")
    g.add_argument("--steps", type=_positive_int, default=300,
                   help="optimization steps (default 300): loss evaluations of L-BFGS under --schedule "
                        "fast (the default), Adam steps under classic")
    g = p.add_argument_group("loss weights (default: the network's; see nst_tf.optimize.NETWORK_DEFAULTS)")
    g.add_argument("--content-weight", type=_non_negative, default=None)
    g.add_argument("--style-weight", type=_non_negative, default=None)
    g.add_argument("--tv-weight", type=_non_negative, default=None, help="total-variation weight")
    g.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="layers and weights of a published recipe (nst_tf.recipes): tf_tutorial (the "
                        "VGG default), gatys2016 (the paper's, converted at 512 px); the weight flags win")
    g = p.add_argument_group("optimization")
    g.add_argument("--init", default="content", metavar="content|noise|style|PATH",
                   help="starting image: the content (default), noise, the style, or an image file "
                        "(resized to the result's size)")
    g.add_argument("--schedule", choices=tuple(SCHEDULES), default=DEFAULT_SCHEDULE,
                   help="optimizer defaults: fast (default: L-BFGS, from 384 px 70%% of the steps at half "
                        "size; --learning-rate asks for Adam; benchmarks/bench_quality.py) or classic "
                        "(the old default: Adam 0.02, x0.96 every 100 steps, one scale)")
    g.add_argument("--optimizer", choices=("adam", "lbfgs"), default=None,
                   help="adam or lbfgs, the paper's: fewer loss evaluations for the same loss (default: "
                        "the schedule's, adam for classic, lbfgs for fast)")
    g.add_argument("--learning-rate", type=_non_negative, default=None,
                   help="Adam step size at the start (default: the schedule's, 0.02 classic, 0.05 "
                        "fast, where it asks for Adam)")
    g.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
                   default="auto", help="feature-network precision (default auto: bf16 where the "
                                        "hardware is fast at it, fp16 on older GPUs, else float32)")
    g.add_argument("--xla", action="store_true", help="compile the step with XLA (often faster on GPUs)")
    g.add_argument("--scales", type=_image_size, nargs="+", default=None, metavar="PX",
                   help="coarse-to-fine long sides, e.g. --scales 256 512 1024 (the last is the "
                        "result's size; --steps is per scale); without it --schedule fast "
                        "runs 70%% of --steps at half size from 384 px")
    g.add_argument("--seed", type=int, default=0, help="random seed (same seed, same image)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("artistic controls (Gatys et al. 2017; notebooks/08_artistic_controls)")
    g.add_argument("--preserve-color", choices=("luminance", "histogram", "luma-swap"), default=None,
                   help="keep the photo's colours: luminance (stylize brightness only), histogram "
                        "(recolour the style to the photo's colours first) or luma-swap (post hoc)")
    g.add_argument("--style-blend", type=_non_negative, nargs="+", default=None, metavar="W",
                   help="one weight per STYLE, e.g. --style-blend 0.6 0.4 (normalized; default equal)")
    g.add_argument("--mask", nargs="+", default=None, metavar="MASK",
                   help="region masks (images: white = the region), one per region; region i gets "
                        "STYLE i when there are as many masks as styles, else the first STYLE")
    g.add_argument("--mask-styles", nargs="+", default=None, metavar="I",
                   help="the style of each --mask region: a 0-based STYLE index, or 'none' (keep it a photo)")
    g.add_argument("--style-scale", type=_positive_float, default=None, metavar="F",
                   help="style size relative to the result (long sides): 0.5 = finer texture, smaller "
                        "strokes; 2 = larger (default: the style's own size, --style-size)")
    g.add_argument("--strength", type=_strength, default=1.0,
                   help="0 = the photo's own statistics, 1 = full style (default 1): each style target "
                        "is (1 - strength) * Gram(content) + strength * Gram(style)")
    add_run_arguments(p)
