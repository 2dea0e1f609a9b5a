"""Command line: ``python -m nst_tf stylize CONTENT STYLE -o OUT`` and ``python -m nst_tf demo``.

Expected mistakes (a missing file, a bad number, weights that cannot be found) print one line to
stderr and exit with status 2: no traceback, no output file, and never an input overwritten.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cli_args import (EXIT_USAGE, UsageError, _check_output, _image_size, _image_source, _mask_styles,
                       _non_negative, _Parser, _positive_float, _positive_int, _strength)
from .cli_fast import add_fast_commands, cmd_fast, cmd_video
from .recipes import RECIPES

DEMO_CONTENT, DEMO_STYLE = "tubingen_neckarfront", "vangogh_starry_night"


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

    sub.add_parser("images", help="list the course images (name, role, license)")
    weights = sub.add_parser("weights", help="fetch and check the ImageNet weights (before a class, or offline)",
                             description="Find or download the ImageNet weights of each network into the "
                                         "Keras cache, check their hash, and load them once.")
    weights.add_argument("networks", nargs="*", default=["vgg19"], choices=("vgg19", "vgg16", "squeezenet"),
                         metavar="NETWORK", help="vgg19 (default), vgg16, squeezenet")
    add_fast_commands(sub)
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
    g.add_argument("--steps", type=_positive_int, default=300, help="optimization steps (default 300)")
    g = p.add_argument_group("loss weights (default: the network's; see nst_tf.optimize.NETWORK_DEFAULTS)")
    g.add_argument("--content-weight", type=_non_negative, default=None)
    g.add_argument("--style-weight", type=_non_negative, default=None)
    g.add_argument("--tv-weight", type=_non_negative, default=None, help="total-variation weight")
    g.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="layers and weights of a published recipe (nst_tf.recipes): tf_tutorial (the "
                        "VGG default), gatys2016 (the paper's, converted at 512 px); the weight flags win")
    g = p.add_argument_group("optimization")
    g.add_argument("--init", choices=("content", "noise", "style"), default="content",
                   help="starting image (default content)")
    g.add_argument("--optimizer", choices=("adam", "lbfgs"), default="adam",
                   help="adam (default) or lbfgs, the paper's: fewer loss evaluations for the same loss")
    g.add_argument("--learning-rate", type=_non_negative, default=0.02, help="Adam step size (default 0.02)")
    g.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
                   default="auto", help="feature-network precision (default auto: bf16 where the "
                                        "hardware is fast at it, fp16 on older GPUs, else float32)")
    g.add_argument("--xla", action="store_true", help="compile the step with XLA (often faster on GPUs)")
    g.add_argument("--scales", type=_image_size, nargs="+", default=None, metavar="PX",
                   help="coarse-to-fine long sides, e.g. --scales 256 512 1024 (the last is the "
                        "result's size; --steps is per scale)")
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


def _warn_untrained(weights: str) -> None:
    if weights == "random":
        print("note: UNTRAINED (random) features (NST_VGG_WEIGHTS=random): the output is a "
              "pipeline check, not style transfer", file=sys.stderr)


def _loss_arguments(args) -> dict:
    """Layers and weights: the --recipe's (if any), overridden by the weight flags given."""
    loss = {}
    if args.recipe:
        recipe = RECIPES[args.recipe]
        if args.network not in recipe.networks:
            raise UsageError(f"--recipe {args.recipe} is for {' or '.join(recipe.networks)}, "
                             f"not --network {args.network}")
        loss = recipe.arguments()
    flags = dict(content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight)
    return {**loss, **{name: value for name, value in flags.items() if value is not None}}


def cmd_stylize(args) -> int:
    from .controls import as_mask, blend_weights
    from .images import load_image, save_image
    from .optimize import stylize

    content_path = _image_source(args.content)
    style_paths = [_image_source(text) for text in args.style]
    mask_paths = [Path(text).expanduser() for text in args.mask or []]
    output = Path(args.output).expanduser()
    _check_output(output, [content_path, *style_paths, *mask_paths])
    loss = _loss_arguments(args)
    if args.style_blend is not None:
        try:
            blend_weights(args.style_blend, len(style_paths))
        except ValueError as err:
            raise UsageError(f"--style-blend: {err}") from None
        if mask_paths:
            raise UsageError("--style-blend blends styles over the whole image; with --mask, give "
                             "each region its style with --mask-styles")
    if args.style_size and args.style_scale:
        raise UsageError("--style-size and --style-scale both set the style's size; give one")
    mask_styles = _mask_styles(args.mask_styles, len(style_paths), len(mask_paths))
    size = max(args.scales) if args.scales else args.image_size
    content = load_image(content_path, max_dim=size)
    styles = [load_image(path, max_dim=args.style_size or size) for path in style_paths]
    masks = [as_mask(path, content.shape, str(path)) for path in mask_paths] or None
    result = stylize(content, styles if len(styles) > 1 else styles[0], num_steps=args.steps,
                     network=args.network, weights=args.weights, pooling=args.pooling, **loss,
                     init=args.init, optimizer=args.optimizer, learning_rate=args.learning_rate,
                     precision=args.precision, jit_compile=args.xla, scales=args.scales,
                     seed=args.seed, progress=not args.no_progress, preserve_color=args.preserve_color,
                     style_blend=args.style_blend, masks=masks,
                     mask_styles=mask_styles, style_scale=args.style_scale, strength=args.strength)
    _warn_untrained(result.feature_weights)
    save_image(result.image, output)
    seconds = result.history["seconds"][-1]
    print(f"wrote {output} ({result.image.shape[2]}x{result.image.shape[1]} px, {args.network}, "
          f"{args.optimizer}, {result.settings['precision']}, {len(result.history['step'])} steps "
          f"in {seconds:.1f} s)")
    return 0


def cmd_demo(args) -> int:
    from .config import has_gpu
    from .data import course_image
    from .images import load_image, save_image
    from .optimize import stylize
    from .plotting import UNTRAINED_BANNER, show_images

    gpu = has_gpu()
    network = args.network or ("vgg19" if gpu else "squeezenet")
    if args.network:
        why = "chosen with NETWORK/--network"
    elif gpu:
        why = "a GPU is available, so the paper's network"
    else:
        why = "no GPU: SqueezeNet has real ImageNet features at ~1/20 of VGG19's cost"
    size = args.image_size or 512
    steps = args.steps or 300
    print(f"demo: Tübingen x The Starry Night with {network} at {size} px, {steps} steps ({why})")
    output_dir = Path(args.output_dir)
    content = load_image(course_image(DEMO_CONTENT), max_dim=size)
    style = load_image(course_image(DEMO_STYLE), max_dim=size)
    result = stylize(content, style, num_steps=steps, network=network, progress=not args.no_progress)
    _warn_untrained(result.feature_weights)
    image_path = save_image(result.image, output_dir / "demo.png")
    import matplotlib

    matplotlib.use("Agg")
    fig = show_images([content, style, result.image],
                      ["content: Tübingen (A. Praefcke, CC BY 3.0)", "style: The Starry Night (van Gogh)",
                       f"result: {network}, {steps} steps"],
                      banner=UNTRAINED_BANNER if result.untrained else None)
    figure_path = output_dir / "demo_side_by_side.png"
    temp = figure_path.with_name(f".{figure_path.name}.tmp.png")
    fig.savefig(temp, dpi=120, bbox_inches="tight")
    os.replace(temp, figure_path)
    print(f"wrote {image_path}\nwrote {figure_path}\n"
          f"({result.history['seconds'][-1]:.1f} s of optimization)")
    return 0


def cmd_images(args) -> int:
    from .data import list_assets

    for asset in list_assets():
        if asset.kind in ("content", "style"):
            print(f"{asset.name:34s} {asset.kind:8s} {asset.license}")
    return 0


def cmd_weights(args) -> int:
    from .features import FeatureExtractor

    for network in args.networks:
        layer = "conv1" if network == "squeezenet" else "block1_conv1"
        FeatureExtractor([layer], network=network, weights="imagenet")  # WeightsError: one line, exit 2
        print(f"{network}: ImageNet weights found, hash-checked and loaded")
    return 0


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with stderr muted: it prints C++ start-up lines no env variable stops."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _import_tensorflow_quietly()
    from .data import AssetError
    from .features import WeightsError
    from .images import ImageError

    handlers = {"stylize": cmd_stylize, "demo": cmd_demo, "images": cmd_images, "weights": cmd_weights,
                "fast": cmd_fast, "video": cmd_video}
    try:
        return handlers[args.command](args)
    except (ImageError, AssetError, WeightsError, UsageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
