"""The command line's checks of what a command reads, made before TensorFlow is imported.

``cli.main`` runs them after the checks of the files it writes: a missing or misspelt image, a
loop of links, a decompression bomb, a file that is not a picture, a video that is a JPEG, a
weight float32 cannot hold, the ImageNet VGG file missing offline are one line at once instead
of after TensorFlow's seconds of start-up. Each check is the function the later code calls too
(``decoding.check_image_file`` is ``images.load_image``'s, ``validation.check_weight`` is
``stylize``'s, ``keras_weights.check_imagenet_offline`` is ``FeatureExtractor``'s), never a copy.

Left for after the import, because they need TensorFlow or the decoded pixels: the memory
check (``arguments.check_size_fits``: it asks TensorFlow for the GPUs), so the content's size
at --image-size too (the memory check names the size that fits, and comes first); a truncated
file (only decoding finds it); --style-blend's weights (``controls``); a loss that overflows
during the run; and a course image not downloaded yet (Keras downloads it, after the import).
"""

from __future__ import annotations

from pathlib import Path

from .cli_args import UsageError, _check_output, _image_source, _mask_styles
from .config import default_weights
from .keras_weights import check_imagenet_offline, check_weights_file
from .recipes import RECIPES

DEMO_CONTENT, DEMO_STYLE = "tubingen_neckarfront", "vangogh_starry_night"


def loss_arguments(args) -> dict:
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


def _check_weights(network: str, weights: str | None) -> None:
    """``weights`` as ``FeatureExtractor`` resolves it (None: NST_VGG_WEIGHTS, ``WeightsError`` if
    bad), a weights file that is not there, and the ImageNet VGG file when offline: absent from
    every place the load looks, it is the load's one line now (online, a download may still bring
    it: left to the load)."""
    weights = default_weights(network) if weights is None else str(weights)
    check_weights_file(weights)
    check_imagenet_offline(network, weights)


def _stylize(args) -> None:
    from .cli_runs import INITS
    from .decoding import check_image_file
    from .precision import precision_from_environment
    from .validation import check_learning_rate, check_scales, check_weight

    content, *styles = (_image_source(text, download=False) for text in [args.content, *args.style])
    masks = [Path(text).expanduser() for text in args.mask or []]
    init = [] if args.init in INITS else [_image_source(args.init, download=False)]
    inputs = [path for path in [content, *styles, *masks, *init] if path is not None]
    _check_output(Path(args.output).expanduser(), inputs)  # -o is an input
    loss_arguments(args)  # a --recipe for another --network
    for name in ("content_weight", "style_weight", "tv_weight"):  # argparse checked them >= 0
        if getattr(args, name) is not None:
            check_weight(name, getattr(args, name))
    if args.learning_rate is not None:
        check_learning_rate(args.learning_rate)
    check_scales(args.scales)
    if args.style_size and args.style_scale:
        raise UsageError("--style-size and --style-scale both set the style's size; give one")
    if args.style_blend is not None and masks:
        raise UsageError("--style-blend blends styles over the whole image; with --mask, give "
                         "each region its style with --mask-styles")
    _mask_styles(args.mask_styles, len(styles), len(masks))
    if args.precision in (None, "auto"):
        precision_from_environment()
    # each at the size it is loaded at, but the content: its size at --image-size is the memory check's
    sizes = [None] + [args.style_size] * len(styles) + [None] * len(masks + init)
    for path, max_dim in zip([content, *styles, *masks, *init], sizes):
        if path is not None:
            check_image_file(path, max_dim)
    _check_weights(args.network, args.weights)  # as later: the images are loaded before the network


def _check_image(text: str, max_dim: int | None = None) -> None:
    """``decoding.check_image_file`` for a path or course image name (one to download: later)."""
    from .decoding import check_image_file

    path = _image_source(text, download=False)
    if path is not None:
        check_image_file(path, max_dim)


def _fast(args) -> None:
    from .cli_fast import fast_plan
    from .decoding import check_image_file

    plan = fast_plan(args, download=False)
    if plan.get("content") is not None:
        check_image_file(plan["content"])
    if plan["style"]:
        _check_image(plan["style"])


def _video(args) -> None:
    from .cli_fast import video_plan

    video_plan(args)
    if args.style:
        _check_image(args.style)


def _train(args) -> None:
    _check_image(args.style, args.style_size)  # as training loads it
    if args.preview:
        _check_image(args.preview)
    _check_weights(args.network, args.weights)  # the loss network


def _demo(args) -> None:
    from .precision import precision_from_environment

    precision_from_environment()
    _check_image(DEMO_CONTENT), _check_image(DEMO_STYLE)  # AssetError if missing (offline)
    if args.network:  # without it, the network depends on the GPU, which TensorFlow finds
        _check_weights(args.network, None)


def _weights(args) -> None:
    for network in args.networks:  # cmd_weights asks each for weights="imagenet"
        check_imagenet_offline(network, "imagenet")


def check_inputs_early(args) -> None:
    """The inputs of ``args.command`` (files, course names, numbers): ``UsageError``, or the
    ``ValueError`` of the check the later code makes (``ImageError``, ``AssetError``, ...)."""
    checks = {"stylize": _stylize, "fast": _fast, "video": _video, "train": _train, "demo": _demo,
              "weights": _weights}
    checks.get(args.command, lambda args: None)(args)
