"""Speed of one optimization step, and time to a given quality, against the TF tutorial's recipe.

    python benchmarks/bench_step.py            # 256 and 512 px, 1000 tutorial steps (long on a CPU)
    python benchmarks/bench_step.py --quick    # small sizes, a few steps: under 3 minutes
    python benchmarks/bench_step.py --sizes 256 --tutorial-steps 200

Prints tables and asserts nothing. Every configuration runs in its own process, so its peak memory
(max RSS, or peak GPU memory) is its own; ratios are taken within one run of this script.

The TF tutorial's recipe is re-implemented from its published description
(tensorflow.org/tutorials/generative/style_transfer): VGG19 up to block5_conv2, style layers
block1_conv1..block5_conv1, content block5_conv2, Gram = einsum / (H*W), loss = 1e-2/5 * sum of
style MSEs + 1e4 * content MSE + 30 * tf.image.total_variation, Adam(0.02, beta_1=0.99,
epsilon=0.1), a tf.function step, float32, clip to [0, 1]. Its "eager" variant is the same step
without tf.function.
"""

from __future__ import annotations

import argparse
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


def _images(size):
    import tensorflow as tf

    from nst_tf.data import course_image
    from nst_tf.images import load_image

    content = load_image(course_image("tubingen_neckarfront"), max_dim=size)
    style = load_image(course_image("vangogh_starry_night"), max_dim=size)
    return tf.image.resize(content, (size, size)), tf.image.resize(style, (size, size))


def tutorial_loss_fn(size):
    """The tutorial's model and loss, fp32, as a function image -> total loss."""
    import keras
    import tensorflow as tf

    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    from nst_tf.features import _load_weights

    _load_weights(vgg, "vgg19", os.environ.get("NST_VGG_WEIGHTS", "") or "imagenet")
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


def _course_step(size, precision, xla):
    import keras
    import tensorflow as tf

    from nst_tf.features import FeatureExtractor
    from nst_tf.losses import gram_matrix
    from nst_tf.optimize import make_step

    content, style = _images(size)
    extractor = FeatureExtractor(STYLE_LAYERS, CONTENT_LAYERS, precision=precision)
    kw = _course_objective_kwargs(size)
    image = tf.Variable(content)
    opt = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    opt.build([image])
    f, s = extractor(content), extractor(style)
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


def measure(config, size, steps):
    """Time ``steps`` steps after two warm-up steps (tracing, compilation) in this process."""
    if config.startswith("tutorial"):
        step, _, _ = _tutorial_step(size, compiled=config == "tutorial-compiled")
    else:
        step = _course_step(size, "mixed_bfloat16" if "bf16" in config else "float32", "xla" in config)
    def wait(out):  # a float forces the step to finish (GPU work is asynchronous)
        return float(out["total"] if isinstance(out, dict) else out)

    for _ in range(2):
        wait(step())
    start = time.perf_counter()
    for _ in range(steps):
        wait(step())
    ms = (time.perf_counter() - start) / steps * 1000
    return {"ms": ms, "peak_mb": _peak_memory_mb()}


def _lbfgs_time_to(target, evaluate_fn, size, precision, max_evaluations, budget_s):
    from nst_tf.features import FeatureExtractor
    from nst_tf.losses import gram_matrix
    from nst_tf.objective import make_objective

    content, style = _images(size)
    kw = _course_objective_kwargs(size)
    extractor = FeatureExtractor(STYLE_LAYERS, CONTENT_LAYERS, precision=precision)
    f, s = extractor(content), extractor(style)
    objective = make_objective(extractor, content.shape, content_targets={n: f[n] for n in CONTENT_LAYERS},
                               style_targets={n: gram_matrix(s[n]) for n in STYLE_LAYERS},
                               content_weight=kw["content_weight"], style_weight=kw["style_weight"],
                               tv_weight=kw["tv_weight"])
    return _lbfgs_race(objective, content, lambda x: float(evaluate_fn(x)), target, budget_s,
                       max_evaluations)


def _lbfgs_race(objective, start, judge, target, budget_s, max_evaluations):
    """Run L-BFGS until ``judge`` says the loss is at ``target``; the judge's time is nobody's."""
    from nst_tf.lbfgs import lbfgs_minimize

    objective(start)  # trace before the clock starts, as for the tutorial's step
    reached, clock = {}, {"excluded": 0.0, "start": time.perf_counter()}

    def value_and_gradient(x):
        losses, gradient = objective(x)
        return losses["total"], gradient, None

    def callback(evaluation, candidate, value, extras):
        t0 = time.perf_counter()
        judged = judge(candidate)
        clock["excluded"] += time.perf_counter() - t0
        now = time.perf_counter() - clock["start"] - clock["excluded"]
        if judged <= target:
            reached.update(seconds=now, evaluations=evaluation, loss=judged)
            return False
        return now < budget_s

    lbfgs_minimize(value_and_gradient, start, max_evaluations=max_evaluations, callback=callback)
    return reached


def time_to_quality(size, tutorial_steps, precisions=("float32", "mixed_bfloat16")):
    """Loss reached by ``tutorial_steps`` tutorial Adam steps, then how long the course's L-BFGS
    needs on the same objective to reach it, all judged by the tutorial's fp32 loss. Model
    building and tracing are excluded from every clock, and so is the judge's own time."""
    import tensorflow as tf

    step, image, evaluate = _tutorial_step(size, compiled=True)
    evaluate_fn = tf.function(evaluate)
    step()  # trace
    start = time.perf_counter()
    for _ in range(tutorial_steps):
        step()
    target = float(evaluate_fn(image))
    elapsed = time.perf_counter() - start
    start_loss = float(evaluate_fn(_images(size)[0]))
    print(f"- tutorial: {tutorial_steps} Adam steps in {elapsed:.1f} s reach loss {target:.4g} "
          f"(start {start_loss:.4g})", flush=True)
    if start_loss <= target:
        print("- the starting image already beats that loss (untrained features?): no race to run")
        return
    for precision in precisions:
        reached = _lbfgs_time_to(target, evaluate_fn, size, precision, 10 * tutorial_steps, 3 * elapsed)
        if reached:
            print(f"- course L-BFGS ({precision}, same objective): {reached['evaluations']} evaluations, "
                  f"{reached['seconds']:.1f} s to {reached['loss']:.4g}: "
                  f"{reached['seconds'] / elapsed:.2f} of the tutorial's wall time", flush=True)
        else:
            print(f"- course L-BFGS ({precision}): not at {target:.4g} within 3x the tutorial's time")


def time_to_quality_squeezenet(size, adam_steps, precisions=("float32", "mixed_bfloat16")):
    """The same race on real ImageNet features (SqueezeNet, the course's defaults): the tutorial's
    optimizer (Adam 0.02, beta_1 0.99, epsilon 0.1, compiled, fp32) against the course's L-BFGS,
    judged by one fp32 evaluator. Offline, this is the comparison that means something: with
    untrained VGG19 features the tutorial's Adam does not get below its starting loss."""
    import keras
    import tensorflow as tf

    from nst_tf.features import DEFAULT_LAYERS, FeatureExtractor
    from nst_tf.losses import gram_matrix
    from nst_tf.objective import make_objective
    from nst_tf.optimize import NETWORK_DEFAULTS, make_step

    content, style = _images(size)
    content_layers, style_layers = DEFAULT_LAYERS["squeezenet"]

    def objective_for(precision):
        extractor = FeatureExtractor(style_layers, content_layers, network="squeezenet", precision=precision)
        f, s = extractor(content), extractor(style)
        return make_objective(extractor, content.shape, content_targets={n: f[n] for n in content_layers},
                              style_targets={n: gram_matrix(s[n]) for n in style_layers},
                              **NETWORK_DEFAULTS["squeezenet"])

    judge = objective_for("float32")
    judge_total = lambda x: float(judge(tf.convert_to_tensor(x))[0]["total"])
    image = tf.Variable(content)
    adam = keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
    adam.build([image])
    step = make_step(None, image, adam, content_targets=None, style_targets=None, content_weight=0,
                     style_weight=0, tv_weight=0, objective=judge)
    step()  # trace
    image.assign(content)
    start = time.perf_counter()
    for _ in range(adam_steps):
        step()
    target = judge_total(image)
    elapsed = time.perf_counter() - start
    print(f"- SqueezeNet (real features) {size}²: tutorial's Adam, {adam_steps} steps in {elapsed:.1f} s "
          f"-> loss {target:.4g} (start {judge_total(content):.4g})", flush=True)
    for precision in precisions:
        reached = _lbfgs_race(objective_for(precision), content, judge_total, target, 3 * elapsed,
                              adam_steps)
        if reached:
            print(f"- course L-BFGS ({precision}): {reached['evaluations']} evaluations, "
                  f"{reached['seconds']:.1f} s: {reached['seconds'] / elapsed:.2f} of the tutorial "
                  f"optimizer's wall time", flush=True)
        else:
            print(f"- course L-BFGS ({precision}): not at {target:.4g} within 3x the time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few steps (< 3 min)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration")
    parser.add_argument("--tutorial-steps", type=int, default=None)
    parser.add_argument("--quality-size", type=int, default=None)
    parser.add_argument("--only-quality", action="store_true", help="skip the ms/step table")
    parser.add_argument("--worker", nargs=3, metavar=("CONFIG", "SIZE", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
    sizes = args.sizes or ([64] if args.quick else [256, 512])
    steps = args.steps or (2 if args.quick else 10)
    tutorial_steps = args.tutorial_steps or (10 if args.quick else 1000)
    quality_size = args.quality_size or (64 if args.quick else 512)

    import tensorflow as tf

    from nst_tf.config import default_vgg_weights

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"# bench_step: {platform.processor() or platform.machine()}, {device}, TF {tf.__version__}, "
          f"VGG19 weights: {default_vgg_weights()}")
    if args.only_quality:
        print(f"\n## time to quality at {quality_size}²\n")
        time_to_quality(quality_size, tutorial_steps)
        time_to_quality_squeezenet(quality_size, tutorial_steps)
        return
    print("\n## ms per step (mean of the timed steps, after 2 warm-up steps)\n")
    print("| config | " + " | ".join(f"{s}² ms/step | {s}² peak MB" for s in sizes) + " |")
    print("|---|" + "---|---|" * len(sizes))
    results = {}
    for config in CONFIGS:
        cells = []
        for size in sizes:
            if args.quick:  # in this process: fast, but peak memory is not per configuration
                data = dict(measure(config, size, steps), peak_mb=float("nan"))
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
    print(f"\n## time to quality at {quality_size}² (evaluator: the tutorial's fp32 loss)\n")
    time_to_quality(quality_size, tutorial_steps)
    time_to_quality_squeezenet(quality_size, tutorial_steps)


if __name__ == "__main__":
    main()
