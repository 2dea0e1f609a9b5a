"""Speed of one optimization step against the TF tutorial's recipe.

    python benchmarks/bench_step.py            # 256 and 512 px, 10 timed steps per configuration
    python benchmarks/bench_step.py --quick    # 64 px, 1 warm-up and 1 timed step, one XLA configuration,
                                               # all in this process: every table once (tests/test_benchmarks.py)
    python benchmarks/bench_step.py --sizes 256 --steps 4

Prints tables and asserts nothing. Every configuration runs in its own process (not with --quick),
so its peak memory (max RSS, or peak GPU memory) is its own; ratios are taken within one run of this
script. Time to a given quality (the tutorial's optimizer against the course's, on real features
and on VGG19) is benchmarks/bench_quality.py's.

The TF tutorial's recipe is re-implemented from its published description
(tensorflow.org/tutorials/generative/style_transfer): VGG19 up to block5_conv2, style layers
block1_conv1..block5_conv1, content block5_conv2, Gram = einsum / (H*W), loss = 1e-2/5 * sum of
style MSEs + 1e4 * content MSE + 30 * tf.image.total_variation, Adam(0.02, beta_1=0.99,
epsilon=0.1), a tf.function step, float32, clip to [0, 1]. Its "eager" variant is the same step
without tf.function.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
CONTENT_LAYERS = ["block5_conv2"]
TUTORIAL = dict(style_weight=1e-2, content_weight=1e4, tv_weight=30.0)
CONFIGS = ["tutorial-eager", "tutorial-compiled", "course-fp32", "course-bf16", "course-xla-fp32",
           "course-xla-bf16"]


# --quick measures every configuration in one process: the images, the tutorial's network and each
# precision's extractor are built once there (each config still traces and compiles its own step).
@functools.lru_cache(maxsize=None)
def _images(size):
    import tensorflow as tf

    from nst_tf.data import course_image
    from nst_tf.images import load_image

    content = load_image(course_image("tubingen_neckarfront"), max_dim=size)
    style = load_image(course_image("vangogh_starry_night"), max_dim=size)
    return tf.image.resize(content, (size, size)), tf.image.resize(style, (size, size))


@functools.lru_cache(maxsize=None)
def tutorial_loss_fn(size):
    """The tutorial's model and loss, fp32, as a function image -> total loss."""
    import keras
    import tensorflow as tf

    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    from nst_tf.features import _load_weights

    _load_weights(vgg, "vgg19", os.environ.get("NST_VGG_WEIGHTS", "") or "imagenet",
                  upto=CONTENT_LAYERS[0])  # the deepest layer the tutorial uses
    model = keras.Model(vgg.input, [vgg.get_layer(n).output for n in STYLE_LAYERS + CONTENT_LAYERS])
    content, style = _images(size)

    def features(image):
        outputs = model(keras.applications.vgg19.preprocess_input(image * 255.0))
        grams = [tf.einsum("bijc,bijd->bcd", o, o) / tf.cast(o.shape[1] * o.shape[2], tf.float32)
                 for o in outputs[:5]]
        return grams, outputs[5:]

    style_targets, _ = features(style)
    _, content_targets = features(content)

    def loss(image):
        grams, contents = features(image)
        s = tf.add_n([tf.reduce_mean((g - t) ** 2) for g, t in zip(grams, style_targets)])
        c = tf.add_n([tf.reduce_mean((f - t) ** 2) for f, t in zip(contents, content_targets)])
        return (TUTORIAL["style_weight"] * s / 5 + TUTORIAL["content_weight"] * c
                + TUTORIAL["tv_weight"] * tf.reduce_sum(tf.image.total_variation(image)))

    return loss, content, style


def tutorial_adam_step(loss, start, compiled=True):
    """The TF tutorial's optimizer on ``loss``: Adam 0.02 / beta_1 0.99 / epsilon 0.1 from ``start``,
    clipped to [0, 1]. Returns (step, image); bench_quality.py races the same step."""
    import keras
    import tensorflow as tf

    image = tf.Variable(start)
    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    opt.build([image])  # the slots exist before tracing: one trace, not two

    def step():
        with tf.GradientTape() as tape:
            value = loss(image)
        opt.apply_gradients([(tape.gradient(value, image), image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return value

    return (tf.function(step) if compiled else step), image


def _tutorial_step(size, compiled):
    loss, content, _ = tutorial_loss_fn(size)
    step, image = tutorial_adam_step(loss, content, compiled)
    return step, image, loss


def _course_objective_kwargs(size):
    # The tutorial's objective in the course's conventions, so that only speed differs.
    return dict(content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS, content_weight=1e4,
                style_weight=1e-2, tv_weight=30.0 * size * size * 3)


@functools.lru_cache(maxsize=None)
def _course_features(size, precision):
    """The course's extractor in ``precision`` and its features of the content and style images."""
    from nst_tf.features import FeatureExtractor

    content, style = _images(size)
    extractor = FeatureExtractor(STYLE_LAYERS, CONTENT_LAYERS, precision=precision)
    return extractor, extractor(content), extractor(style)


def _course_step(size, precision, xla):
    import keras
    import tensorflow as tf

    from nst_tf.losses import gram_matrix
    from nst_tf.optimize import make_step

    content, _ = _images(size)
    extractor, f, s = _course_features(size, precision)
    kw = _course_objective_kwargs(size)
    image = tf.Variable(content)
    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    opt.build([image])
    step = make_step(extractor, image, opt, content_targets={n: f[n] for n in CONTENT_LAYERS},
                     style_targets={n: gram_matrix(s[n]) for n in STYLE_LAYERS},
                     content_weight=kw["content_weight"], style_weight=kw["style_weight"],
                     tv_weight=kw["tv_weight"], jit_compile=xla)
    return step


def _peak_memory_mb():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(config, size, steps):
    print(json.dumps(measure(config, size, steps)))


def measure(config, size, steps, warmup=2):
    """Time ``steps`` steps after ``warmup`` steps (tracing, compilation) in this process."""
    if config.startswith("tutorial"):
        step, _, _ = _tutorial_step(size, compiled=config == "tutorial-compiled")
    else:
        step = _course_step(size, "mixed_bfloat16" if "bf16" in config else "float32", "xla" in config)
    def wait(out):  # a float forces the step to finish (GPU work is asynchronous)
        return float(out["total"] if isinstance(out, dict) else out)

    for _ in range(warmup):
        wait(step())
    start = time.perf_counter()
    for _ in range(steps):
        wait(step())
    ms = (time.perf_counter() - start) / steps * 1000
    return {"ms": ms, "peak_mb": _peak_memory_mb()}


# --quick compiles one XLA configuration (XLA's compile of VGG19 is most of a quick run's time);
# the other gets a row that says it was skipped.
QUICK_SKIPS = ("course-xla-bf16",)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="64 px, 1 timed step, in this process, one XLA configuration (under a minute)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration")
    parser.add_argument("--worker", nargs=3, metavar=("CONFIG", "SIZE", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
    sizes = args.sizes or ([64] if args.quick else [256, 512])
    steps = args.steps or (1 if args.quick else 10)
    warmup = 1 if args.quick else 2  # the first step traces (and compiles); --quick checks, it does not time

    import tensorflow as tf

    from nst_tf.config import default_vgg_weights

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"# bench_step: {platform.processor() or platform.machine()}, {device}, TF {tf.__version__}, "
          f"VGG19 weights: {default_vgg_weights()}")
    print(f"\n## ms per step (mean of the timed steps, after {warmup} warm-up step{'s' * (warmup > 1)})\n")
    print("| config | " + " | ".join(f"{s}² ms/step | {s}² peak MB" for s in sizes) + " |")
    print("|---|" + "---|---|" * len(sizes))
    results = {}
    for config in CONFIGS:
        if args.quick and config in QUICK_SKIPS:
            print(f"| {config} | " + " | ".join("skipped (--quick) | –" for _ in sizes) + " |", flush=True)
            continue
        cells = []
        for size in sizes:
            if args.quick:  # in this process: fast, but peak memory is not per configuration
                data = dict(measure(config, size, steps, warmup), peak_mb=float("nan"))
            else:
                proc = subprocess.run([sys.executable, __file__, "--worker", config, str(size), str(steps)],
                                      capture_output=True, text=True)
                try:
                    data = json.loads(proc.stdout.strip().splitlines()[-1])
                except (IndexError, ValueError):
                    reason = (proc.stderr.strip().splitlines() or ["failed"])[-1][:60]
                    cells.append(f"failed: {reason} | –")
                    continue
            results[config, size] = data["ms"]
            cells.append(f"{data['ms']:.0f} | {data['peak_mb']:.0f}")
        print(f"| {config} | " + " | ".join(cells) + " |", flush=True)
    print("\n## speed-up against the tutorial's compiled fp32 step\n")
    for size in sizes:
        base = results.get(("tutorial-compiled", size))
        if base:
            ratios = ", ".join(f"{c}: {base / results[c, size]:.2f}x" for c in CONFIGS if (c, size) in results)
            print(f"- {size}²: {ratios}")
    print("\nTime to the tutorial's quality (its optimizer against the course's, SqueezeNet or VGG19): "
          "benchmarks/bench_quality.py")


if __name__ == "__main__":
    main()
