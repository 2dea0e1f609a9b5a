"""Feed-forward stylization speed on this machine's CPU: prints tables, asserts nothing.

    python benchmarks/bench_fast.py [--rounds 7] [--quick]

1. what closes the gap to <= 100 ms per 384x384 frame: runtime, threads, XNNPACK coverage, precision
   (variants timed in interleaved rounds, so a load spike from other processes hits all of them);
2. ms per image at 256, 384, 512 and 1024 px, plus one style prediction;
3. frames per second of the video path (decode/encode overlapped with inference or not);
4. the optimization (nst_tf.stylize, SqueezeNet) vs feed-forward speed ratio at equal size.
Wall times are medians; "cpu" is process CPU time per call (all threads), less sensitive to load.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import nst_tf  # noqa: E402
from nst_tf import fast, litert  # noqa: E402
from nst_tf.data import asset_path  # noqa: E402


def timed(fn, rounds):
    wall, cpu = [], []
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return float(np.median(wall)), float(np.median(cpu))


def transfer_runner(cls, model: bytes, threads: int, **kwargs):
    interpreter = cls(model_content=model, num_threads=threads, **kwargs)
    interpreter.allocate_tensors()
    inputs = sorted(interpreter.get_input_details(), key=lambda d: d["name"] != "content_image")
    rng = np.random.default_rng(0)
    image = rng.random((1, 384, 384, 3), dtype=np.float32)
    bottleneck = rng.standard_normal((1, 1, 1, 100)).astype(np.float32)

    def run():
        interpreter.set_tensor(inputs[0]["index"], image)
        interpreter.set_tensor(inputs[1]["index"], bottleneck)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return run


def runtime_steps(rounds, quick):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    variants = {}
    for precision in ("f16",) if quick else ("f16", "int8"):  # --quick: int8 runs in section 2
        raw = asset_path(fast.TRANSFER[precision]).read_bytes()
        rewritten = litert.xnnpack_friendly(raw)
        variants[(precision, "tf.lite.Interpreter, 2 threads (baseline)")] = transfer_runner(tf.lite.Interpreter, raw, 2)
        variants[(precision, "LiteRT Interpreter, 2 threads")] = transfer_runner(Interpreter, raw, 2)
        variants[(precision, "LiteRT, 1 thread")] = transfer_runner(Interpreter, raw, 1)
        variants[(precision, "LiteRT, 2 threads, no XNNPACK")] = transfer_runner(
            Interpreter, raw, 2, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        variants[(precision, "LiteRT, 2 threads, MIRROR_PAD rewritten")] = transfer_runner(Interpreter, rewritten, 2)
        variants[(precision, "LiteRT, 1 thread, MIRROR_PAD rewritten")] = transfer_runner(Interpreter, rewritten, 1)
    if not quick:  # --quick's one round includes the first call's weight packing: it checks, not times
        for run in variants.values():
            run()  # warm-up: XNNPACK packs weights on the first call
    results = {key: [] for key in variants}
    for _ in range(rounds):
        for key, run in variants.items():
            results[key].append(timed(run, 1))
    print("\n## 1. 384x384 transfer network: what closes the gap (median of interleaved rounds)\n")
    print("| precision | runtime and settings | wall ms | cpu ms |\n|---|---|---:|---:|")
    for (precision, name), values in results.items():
        wall, cpu = np.median(np.array(values), axis=0)
        print(f"| {precision} | {name} | {wall:.0f} | {cpu:.0f} |")


def sizes(rounds, quick):
    print("\n## 2. ms per image (LiteRT, 2 threads, rewritten graph; content N x N)\n")
    style = nst_tf.load_image(nst_tf.course_image("vangogh_starry_night"), max_dim=512)
    rows = []
    for precision in ("f16", "int8"):
        model = fast.TFLiteStylizer(precision, num_threads=2)
        bottleneck = model.bottleneck(style)
        predict = timed(lambda: model._run(model._predict, fast.prepare_style(style).numpy()), rounds)
        for n in (256,) if quick else (256, 384, 512, 1024):
            image = np.random.default_rng(0).random((1, n, n, 3), dtype=np.float32)
            model.transfer(image, bottleneck)  # builds the interpreter for this size
            rows.append((precision, n, *timed(lambda: model.transfer(image, bottleneck), rounds)))
        rows.append((precision, "style prediction (256)", *predict))
    print("| transfer | size | wall ms | cpu ms |\n|---|---|---:|---:|")
    for precision, n, wall, cpu in rows:
        print(f"| {precision} | {n} | {wall:.0f} | {cpu:.0f} |")


def video(quick):
    import cv2

    from nst_tf.video import stylize_video

    print("\n## 3. video path (384x288 frames, f16, style predicted once)\n")
    image = (np.asarray(nst_tf.load_image(nst_tf.course_image("tubingen_neckarfront"), 768))[0] * 255)
    image = image.astype(np.uint8)[..., ::-1]
    frames = 4 if quick else 60
    model = fast.load_tflite_model("f16", 2)
    style = nst_tf.load_image(nst_tf.course_image("hokusai_great_wave"))
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "pan.mp4"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (384, 288))
        for i in range(frames):
            writer.write(cv2.resize(image[100:100 + 432, 3 * i:3 * i + 576], (384, 288)))
        writer.release()
        model.transfer(np.zeros((1, 288, 384, 3), np.float32), model.bottleneck(style))  # warm-up
        print("| pipeline | smoothing | frames/s | ms/frame | flicker (mean abs change) |\n|---|---|---:|---:|---:|")
        for pipelined, smoothing in ((False, 0.0), (True, 0.0), (True, 0.5)):
            stats = stylize_video(clip, style, Path(folder) / "out.mp4", model, smoothing=smoothing,
                                  pipelined=pipelined, progress=False)
            print(f"| {'decode/encode threads' if pipelined else 'sequential'} | {smoothing} | "
                  f"{stats['frames_per_second']:.1f} | {1e3 / stats['frames_per_second']:.0f} | "
                  f"{stats['flicker_output']:.4f} (input {stats['flicker_input']:.4f}) |")


def versus_optimization(quick):
    size = 128 if quick else 256
    print(f"\n## 4. optimization vs feed-forward at {size} px (Tübingen x Starry Night)\n")
    content = nst_tf.load_image(nst_tf.course_image("tubingen_neckarfront"), max_dim=size)
    style = nst_tf.load_image(nst_tf.course_image("vangogh_starry_night"), max_dim=size)
    steps = 2 if quick else 300
    start = time.perf_counter()
    nst_tf.stylize(content, style, network="squeezenet", num_steps=steps, progress=False)
    optimize_ms = (time.perf_counter() - start) * 1e3
    model = fast.load_tflite_model("f16", 2)
    fast.fast_stylize(content, style, model)  # build for this size, predict the style
    fast_ms, _ = timed(lambda: fast.fast_stylize(content, style, model), 5)
    print(f"| method | ms |\n|---|---:|\n| stylize, SqueezeNet, {steps} steps (incl. build) | {optimize_ms:.0f} |\n"
          f"| fast_stylize, TF Lite f16 (style cached) | {fast_ms:.0f} |\n"
          f"| ratio | {optimize_ms / fast_ms:.0f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true",
                        help="one round: no warm-up and f16 only in 1, 256 px only in 2, 4 frames in 3, "
                             "2 steps at 128 px in 4")
    args = parser.parse_args()
    print(f"# bench_fast: {os.cpu_count()} CPUs, load average at start {os.getloadavg()}")
    rounds = 1 if args.quick else args.rounds  # --quick: every code path once (tests/test_benchmarks.py)
    runtime_steps(rounds, args.quick)
    sizes(1 if args.quick else max(2, rounds // 2), args.quick)
    video(args.quick)
    versus_optimization(args.quick)
    print(f"\nload average at end {os.getloadavg()} (other processes share these cores: compare "
          f"rows within one run)")


if __name__ == "__main__":
    main()
