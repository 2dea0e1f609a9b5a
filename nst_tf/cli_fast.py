"""Command line, feed-forward commands: ``python -m nst_tf fast`` and ``python -m nst_tf video``.

Taught in notebooks/07_fast_style_transfer; ``--model`` (a network you trained) in
notebooks/09_training_a_feed_forward_network. ``cli.main`` runs them; mistakes are one line and
exit status 2, as for every command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .cli_args import UsageError, _check_output, _image_size, _image_source, _strength
from .outputs import VIDEO_SUFFIXES, OutputError, check_folder_writable, check_output_writable


def add_fast_commands(sub) -> None:
    """The feed-forward commands (taught in notebooks/07_fast_style_transfer)."""
    fast = sub.add_parser("fast", help="feed-forward stylization (Magenta arbitrary style): one pass per image",
                          description="Stylize CONTENT (or every image in --input-dir) with STYLE in one "
                                      "forward pass of Magenta's arbitrary-style network.",
                          epilog="Examples:\n  python -m nst_tf fast photo.jpg painting.jpg -o out.png --strength 0.6\n"
                                 "  python -m nst_tf fast --style painting.jpg --input-dir photos --output-dir styled",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    fast.add_argument("content", nargs="?", help="content photo: a file or a course image name")
    fast.add_argument("style", nargs="?", help="style painting: a file or a course image name")
    fast.add_argument("-o", "--output", help="where to write the result (.png or .jpg)")
    fast.add_argument("--style", dest="style_option", metavar="STYLE", help="the style (with --input-dir)")
    fast.add_argument("--input-dir", help="stylize every image in this folder (non-images are skipped)")
    fast.add_argument("--output-dir", help="folder for the results of --input-dir; existing ones are kept (resume)")
    video = sub.add_parser("video", help="stylize a video frame by frame (OpenCV; no audio)",
                           description="Stylize every frame of INPUT with STYLE; frame rate and size are kept.")
    video.add_argument("input", help="the video (.mp4, .avi, ...)")
    video.add_argument("style", nargs="?", help="style painting: a file or a course image name (not with --model)")
    video.add_argument("-o", "--output", required=True, help="where to write the video (.mp4 or .avi)")
    video.add_argument("--smoothing", type=_strength, default=0.0,
                       help="blend each frame with the previous output, 0-0.9 (less flicker; default 0)")
    for p in (fast, video):
        p.add_argument("--model", default=None, metavar="MODEL",
                       help="a network you trained (python -m nst_tf train): .keras or .tflite; no STYLE then")
        p.add_argument("--strength", type=_strength, default=1.0, help="0 = content, 1 = full style (default 1)")
        p.add_argument("--backend", choices=("tflite", "hub"), default="tflite",
                       help="tflite (default: the fast CPU path, hash-checked files) or hub (TF Hub model, "
                            "downloaded once; $NST_HUB_MODEL overrides the handle)")
        p.add_argument("--precision", choices=("f16", "int8"), default="f16",
                       help="TF Lite transfer network: f16 (default) or int8 (faster, slightly coarser)")
        p.add_argument("--max-dim", type=_image_size, default=1024 if p is fast else None,
                       help="shrink inputs whose long side is larger (fast default 1024; video: keep size)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_outputs_early(args) -> None:
    """Where each command will write, checked before TensorFlow is even imported (``outputs``
    needs none of it): a directory, a parent that is a file, a name too long, a folder where
    nothing can be created or a full disk are one line at once, not a traceback after the work."""
    long_side = max(args.scales) if getattr(args, "scales", None) else getattr(args, "image_size", None)
    _check_model_file(args)
    try:
        if args.command == "stylize":
            check_output_writable(Path(args.output).expanduser(), long_side=long_side)
        elif args.command == "demo":
            check_output_writable(Path(args.output_dir).expanduser() / "demo.png", long_side=long_side or 512)
        elif args.command == "fast" and args.input_dir and args.output_dir:
            check_folder_writable(Path(args.output_dir).expanduser())
        elif args.command == "fast" and args.output:
            check_output_writable(Path(args.output).expanduser(), long_side=args.max_dim)
        elif args.command == "video":
            check_output_writable(Path(args.output).expanduser(), VIDEO_SUFFIXES)
        elif args.command == "train":
            check_output_writable(Path(args.output).expanduser(), (".keras", ".tflite"))
    except OutputError as err:
        raise UsageError(str(err)) from None


def _trained_model(args):
    """``--model``'s network (``TrainedStylizer``), or None for Magenta's (which needs a STYLE)."""
    if not args.model:
        return None
    from .training.export import load_trained_model

    return load_trained_model(Path(args.model).expanduser())


def _check_model_file(args) -> None:
    """``--model``: a .keras/.tflite file that exists, checked before TensorFlow loads."""
    if getattr(args, "model", None):
        path = Path(args.model).expanduser()
        if path.suffix.lower() not in (".keras", ".tflite"):
            raise UsageError(f"{path}: --model takes a trained network, a .keras or .tflite file")
        if not path.is_file():
            why = "no such file" if not path.exists() else "not a file"
            raise UsageError(f"{path}: {why} (--model)")


def _fast_style(args, style_text):
    from .images import load_image

    style_path = _image_source(style_text)
    return style_path, load_image(style_path)


def fast_plan(args, download: bool = True) -> dict:
    """``fast``'s arguments checked (no TensorFlow, no image read): with --input-dir, the folders
    and the style text (None with --model); else the content path, style text and output.
    ``download=False``: a course image without a local copy is not downloaded (content None)."""
    if args.model and (args.style or args.style_option or (args.input_dir and args.content)):
        raise UsageError("--model is a trained network with its own style: give no STYLE with it")
    if args.input_dir:
        if args.content and args.style:
            raise UsageError("give either CONTENT STYLE -o OUT or --style with --input-dir, not both")
        style_text = args.style_option or args.content
        if (not style_text and not args.model) or not args.output_dir:
            raise UsageError("--input-dir needs --style STYLE (or --model MODEL) and --output-dir OUT")
        input_dir, output_dir = Path(args.input_dir).expanduser(), Path(args.output_dir).expanduser()
        if not input_dir.is_dir():
            raise UsageError(f"{input_dir}: no such folder" if not input_dir.exists() else f"{input_dir}: not a folder")
        if output_dir.resolve() == input_dir.resolve():
            raise UsageError(f"{output_dir}: is the input folder; refusing to write over the inputs")
        return dict(input_dir=input_dir, output_dir=output_dir, style=None if args.model else style_text)
    style_text = args.style or args.style_option
    if not args.content or not (style_text or args.model) or not args.output:
        raise UsageError("fast needs CONTENT STYLE -o OUT or CONTENT --model MODEL -o OUT "
                         "(or --style, --input-dir and --output-dir)")
    content_path = _image_source(args.content, download)
    output = Path(args.output).expanduser()
    sources = [content_path] + ([_image_source(style_text, download)] if style_text else [])
    _check_output(output, [path for path in sources if path is not None])
    return dict(content=content_path, style=style_text, output=output)


def cmd_fast(args) -> int:
    from .fast import fast_stylize, load_backend
    from .images import load_image, resize_image, save_image
    from .video import stylize_folder

    plan = fast_plan(args)
    if args.input_dir:
        input_dir, output_dir = plan["input_dir"], plan["output_dir"]
        style = None if args.model else _fast_style(args, plan["style"])[1]
        model = _trained_model(args) or load_backend(args.backend, args.precision)
        report = stylize_folder(input_dir, output_dir, style, model, strength=args.strength,
                                max_dim=args.max_dim, progress=not args.no_progress)
        print(f"wrote {len(report['written'])} image(s) to {output_dir}"
              + (f"; {len(report['done_before'])} already done" if report["done_before"] else ""))
        for name, output in report["renamed"]:
            print(f"{name} -> {output} (its usual output name is another input's)")
        for name, why in report["skipped"]:
            print(f"skipped {name}: {why}")
        return 0
    content_path, style_text, output = plan["content"], plan["style"], plan["output"]
    content = load_image(content_path)
    if args.max_dim and max(content.shape[1:3]) > args.max_dim:
        content = resize_image(content, args.max_dim)
    if args.model:
        model = _trained_model(args)
        save_image(model(content, strength=args.strength), output)
        print(f"wrote {output} ({content.shape[2]}x{content.shape[1]} px, {Path(args.model).name})")
        return 0
    _, style = _fast_style(args, style_text)
    model = load_backend(args.backend, args.precision)
    save_image(fast_stylize(content, style, model, strength=args.strength), output)
    print(f"wrote {output} ({content.shape[2]}x{content.shape[1]} px, {args.backend} backend)")
    return 0


def video_plan(args) -> tuple[Path, Path]:
    """``video``'s (input, output), checked (no TensorFlow): a still image is no video."""
    from .decoding import check_video_input

    output = Path(args.output).expanduser()
    source = Path(args.input).expanduser()
    if source.exists() and output.exists() and source.resolve() == output.resolve():
        raise UsageError(f"{output}: is the input video; refusing to overwrite it")
    if args.smoothing >= 1:
        raise UsageError(f"--smoothing must be below 1, got {args.smoothing}")
    if bool(args.model) == bool(args.style):
        raise UsageError("video needs INPUT STYLE -o OUT or INPUT --model MODEL -o OUT (a trained network has "
                         "its own style)")
    check_video_input(source)
    return source, output


def cmd_video(args) -> int:
    from .fast import load_backend
    from .video import stylize_video

    source, output = video_plan(args)
    style = None if args.model else _fast_style(args, args.style)[1]
    model = _trained_model(args) or load_backend(args.backend, args.precision)
    stats = stylize_video(source, style, output, model, strength=args.strength, max_dim=args.max_dim,
                          smoothing=args.smoothing, progress=not args.no_progress)
    print(f"wrote {output} ({stats['frames']} frames, {stats['size'][0]}x{stats['size'][1]} px, "
          f"{stats['fps']:.3g} fps; stylized at {stats['frames_per_second']:.1f} frames/s)")
    return 0
