"""Time to quality: how long each recipe needs to reach the TF tutorial's 1000-step loss.

    python benchmarks/bench_quality.py                       # 512 px (the goal), ~30-60 min on 2 cores
    python benchmarks/bench_quality.py --sizes 256 512 1024  # 1024 runs fewer tutorial steps
    python benchmarks/bench_quality.py --quick               # 128 px, 10 tutorial steps: about a minute
    python benchmarks/bench_quality.py --plot build/quality.png

What a user waits for is a good image, not one fast step (issue 14). Real features (SqueezeNet
v1.1, ImageNet weights from the course's assets), Tübingen x The Starry Night, and one fixed
float32 *evaluator* of the same objective (layers and weights passed explicitly to every
contender) judges every image (``--network vgg19``: ImageNet VGG19 and the TF tutorial's own
objective, the race ``make gpu-check`` runs). Contenders:

- ``tutorial``: the TF tutorial's optimizer, written here as the tutorial writes it (Adam 0.02,
  beta_1 0.99, epsilon 0.1, a tf.function step, clip to [0, 1], float32, from the content photo)
  for ``--tutorial-steps`` steps (1000). Its final loss is the *target*.
- ``old defaults``: ``stylize`` with the optimizer settings it had before issue 14
  (``schedule="classic"``: Adam 0.02, x0.96 every 100 steps, one scale).
- one lever at a time on top of the old defaults: ``lr`` (a larger start and a smooth decay over
  the run), ``coarse-to-fine`` (70% of a fifth of the tutorial's steps at half the side, a
  quarter of the pixels, then the rest at full size),
  ``lbfgs`` (one scale, and per scale), ``ff-init`` (start from the feed-forward TF Lite model's
  stylization; its own time counts), ``bf16`` (mixed bfloat16 features; slow on CPUs without
  bf16 units, where "auto" keeps float32).
- ``schedule='fast'``: ``stylize(num_steps=N, schedule="fast")`` with nothing else but the
  objective, for growing N: the smallest N whose *returned* image reaches the target is the
  issue's goal (L-BFGS, 70% of N at half the side from 384 px; ``nst_tf.arguments.SCHEDULES``).

Clocks: each contender's clock runs from its first call (targets, tracing, steps; the
feed-forward pass too) to its image; model building and the evaluator's own time are excluded
(the evaluator runs on snapshots taken in callbacks, with the clock paused). Ratios are within
one run of this script; the machine may be shared, so the tutorial's speed is re-measured at the
end (``drift``). Prints tables and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FRACTIONS = (0.05, 0.10, 0.20, 0.50)


def _images(size):
    from nst_tf.data import course_image
    from nst_tf.images import load_image

    content = load_image(course_image("tubingen_neckarfront"), max_dim=size)
    style = load_image(course_image("vangogh_starry_night"), max_dim=size)
    return content, style


RECIPE_OF = {"squeezenet": "squeezenet_course", "vgg19": "tf_tutorial"}


def objective_arguments(network: str = "squeezenet"):
    """The one objective every contender minimizes, passed explicitly: the network's course
    recipe (SqueezeNet's; for VGG19 the TF tutorial's own objective)."""
    from nst_tf.recipes import recipe_arguments

    return recipe_arguments(RECIPE_OF[network])


class Evaluator:
    """The judge: the float32 loss of an image at the content's size (coarser images are
    upsampled as ``stylize`` does between scales)."""

    def __init__(self, extractor, content, style, objective):
        import tensorflow as tf

        from nst_tf.losses import gram_matrix
        from nst_tf.objective import make_objective

        f, s = extractor(content), extractor(style)
        self.shape = content.shape
        self.function = make_objective(
            extractor, content.shape, content_targets={n: f[n] for n in objective["content_layers"]},
            style_targets={n: gram_matrix(s[n]) for n in objective["style_layers"]},
            content_weight=objective["content_weight"], style_weight=objective["style_weight"],
            tv_weight=objective["tv_weight"], tv_kind=objective["tv_kind"])
        self.tf = tf

    def __call__(self, image) -> float:
        tf = self.tf
        image = tf.convert_to_tensor(image, tf.float32)
        if image.shape[1:3] != self.shape[1:3]:
            image = tf.clip_by_value(tf.image.resize(image, self.shape[1:3], method="bicubic"), 0.0, 1.0)
        return float(self.function(image)[0]["total"])


class Race:
    """One contender's clock and its (seconds, loss) points; the judge's time is nobody's."""

    def __init__(self, judge, target=None, cap_s=None):
        self.judge, self.target, self.cap_s = judge, target, cap_s
        self.points, self.excluded = [], 0.0
        self.start = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.start - self.excluded

    def mark(self, image) -> bool:
        """Judge ``image`` at the current time; False once the target is reached or time is up."""
        seconds = self.now()
        t0 = time.perf_counter()
        loss = self.judge(image)
        self.excluded += time.perf_counter() - t0
        self.points.append((seconds, loss))
        reached = self.target is not None and loss <= self.target
        return not reached and (self.cap_s is None or seconds < self.cap_s)

    def callback(self, step, image, losses):
        return self.mark(image)


def gram(x):
    import tensorflow as tf

    return tf.einsum("bijc,bijd->bcd", x, x) / tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)


def run_tutorial(extractor, content, style, objective, steps, judge, every):
    """The TF tutorial's loop, as it writes it, on the objective's features."""
    import tensorflow as tf

    race = Race(judge)
    style_targets = {n: gram(v) for n, v in extractor(style).items() if n in objective["style_layers"]}
    content_targets = {n: v for n, v in extractor(content).items() if n in objective["content_layers"]}

    def loss(image):
        outputs = extractor(image)
        s = tf.add_n([tf.reduce_mean((gram(outputs[n]) - t) ** 2) for n, t in style_targets.items()])
        c = tf.add_n([tf.reduce_mean((outputs[n] - t) ** 2) for n, t in content_targets.items()])
        tv = (tf.reduce_mean(tf.abs(image[:, :, 1:] - image[:, :, :-1]))
              + tf.reduce_mean(tf.abs(image[:, 1:] - image[:, :-1])))
        return (objective["style_weight"] * s / len(style_targets) + objective["content_weight"] * c
                / len(content_targets) + objective["tv_weight"] * tv)

    from bench_step import tutorial_adam_step  # this folder is on sys.path when a script runs

    train_step, image = tutorial_adam_step(loss, content)
    first = None
    for i in range(1, steps + 1):
        value = train_step()
        if first is None:
            first = float(value)
        if i % every == 0 or i == steps:
            race.mark(image)
    return race, first


def run_stylize(judge, content, style, extractor, kwargs, *, target, cap_s, every, init_pass=None):
    """One ``stylize`` run, judged every ``every`` steps and on its returned image."""
    from nst_tf.optimize import stylize

    race = Race(judge, target, cap_s)
    if init_pass is not None:  # the feed-forward pass: its time counts
        kwargs = dict(kwargs, init=init_pass())
        race.mark(kwargs["init"])
    result = stylize(content, style, extractor=extractor, progress=False, callback=race.callback,
                     callback_every=every, **kwargs)
    race.mark(result.image)
    race.steps = len(result.history["step"])
    return race


def feed_forward(content, style):
    """A fresh TF Lite stylizer (interpreters built here) and its one pass; None if unavailable."""
    try:
        from nst_tf.fast import TFLiteStylizer

        model = TFLiteStylizer("f16")
    except Exception as err:  # no TF Lite runtime or no model file: the lever is skipped
        print(f"- ff-init skipped: {str(err).splitlines()[0][:100]}")
        return None
    return lambda: model.stylize(content, style)


def _load_tutorial(path, size, steps):
    import json

    if not path or not os.path.exists(path):
        return None
    return json.load(open(path)).get(f"{size}/{steps}")


def _save_tutorial(path, size, steps, race, first):
    import json

    if not path:
        return
    saved = json.load(open(path)) if os.path.exists(path) else {}
    saved[f"{size}/{steps}"] = dict(points=race.points, first=first)
    with open(path, "w") as handle:
        json.dump(saved, handle)


def time_to(points, target):
    best = float("inf")
    for seconds, loss in points:
        best = min(best, loss)
        if best <= target:
            return seconds
    return None


def loss_at(points, seconds):
    """The best loss judged by ``seconds`` (what a best-image optimizer would return then)."""
    losses = [loss for s, loss in points if s <= seconds]
    return min(losses) if losses else None


def contenders(steps, size):
    """name -> stylize arguments beyond the objective (None: the sweep of the new defaults).
    Each lever is one change to the old defaults (``schedule="classic"``)."""
    half = max(64, size // 2)
    old = dict(schedule="classic")
    budget = max(2, steps // 5)  # coarse-to-fine runs: about a tenth of the tutorial's pixel-steps
    c2f = [max(1, round(budget * 0.7)), max(1, round(budget * 0.3))]
    return {
        "old defaults (schedule='classic')": dict(old, num_steps=steps),
        "lr 0.05 -> x0.1 smoothly": dict(old, num_steps=steps, learning_rate=0.05, lr_decay=0.1,
                                        lr_decay_every=None),
        f"coarse-to-fine {half}->{size} {c2f}": dict(old, num_steps=c2f, scales=[half, size]),
        "lbfgs": dict(old, num_steps=steps, optimizer="lbfgs"),
        f"lbfgs {half}->{size} {c2f}": dict(old, num_steps=c2f, optimizer="lbfgs", scales=[half, size]),
        "ff-init (TF Lite pass, then old defaults)": dict(old, num_steps=steps),
        "bf16 features": dict(old, num_steps=steps, precision="mixed_bfloat16"),
        "schedule='fast'": None,
    }


def race_size(size, args):
    import tensorflow as tf

    from nst_tf.features import FeatureExtractor

    objective = objective_arguments(args.network)
    content, style = _images(size)
    layers = (objective["style_layers"], objective["content_layers"])
    extractor = FeatureExtractor(*layers, network=args.network, precision="float32")
    judge = Evaluator(extractor, content, style, objective)
    tutorial_steps = args.tutorial_steps or (10 if args.quick else (500 if size >= 1024 else 1000))
    every = max(1, tutorial_steps // 40)
    print(f"\n## {size} px ({content.shape[2]}x{content.shape[1]}): the tutorial's optimizer, "
          f"{tutorial_steps} steps\n", flush=True)
    saved = _load_tutorial(args.tutorial_file, size, tutorial_steps)
    if saved is not None:  # a tutorial run saved earlier (exploring levers; the final table runs it here)
        tutorial, first = Race(judge), saved["first"]
        tutorial.points = [tuple(p) for p in saved["points"]]
        print(f"- (tutorial read from {args.tutorial_file})")
    else:
        tutorial, first = run_tutorial(extractor, content, style, objective, tutorial_steps, judge, every)
        _save_tutorial(args.tutorial_file, size, tutorial_steps, tutorial, first)
    base_s, target = tutorial.points[-1]
    print(f"- {base_s:.1f} s, loss {judge(content):.5g} -> {target:.5g} (its own loss at step 1: "
          f"{first:.5g}, the evaluator's: {judge(content):.5g})", flush=True)
    cap_s = args.cap * base_s
    races = {"tutorial": tutorial}
    for name, kwargs in contenders(args.steps or tutorial_steps, size).items():
        if args.only and not any(o in name for o in args.only):
            continue
        if args.skip and any(o in name for o in args.skip):
            continue
        if kwargs is None:
            races[name] = sweep_new_defaults(judge, content, style, extractor, objective, target, base_s, args)
            continue
        init_pass = None
        if name.startswith("ff-init"):
            init_pass = feed_forward(content, style)
            if init_pass is None:
                continue
        ex = extractor
        if "precision" in kwargs:
            ex = FeatureExtractor(*layers, network=args.network, precision=kwargs["precision"])
        steps_every = 1 if "lbfgs" in name else max(1, every // 2)
        try:
            races[name] = run_stylize(judge, content, style, ex, {**objective, **kwargs}, target=target,
                                      cap_s=cap_s, every=steps_every, init_pass=init_pass)
        except Exception as err:  # one failing lever must not hide the others' numbers
            print(f"- {name}: failed ({type(err).__name__}: {str(err).splitlines()[0][:100]})")
            continue
        print(f"- {name}: {races[name].steps} steps, {races[name].points[-1][0]:.1f} s, best "
              f"{min(l for _, l in races[name].points):.5g}", flush=True)
    if args.only and "tutorial" in args.only and len(args.only) == 1:
        print_table(size, races, target, base_s)
        return races, target, base_s
    if args.quick:  # a re-timing of a few steps is noise at toy size, and one more trace
        drift_note = " (not re-timed at the end: --quick)"
    else:
        again, _ = run_tutorial(extractor, content, style, objective, every, judge, every)
        drift_note = (f" (the tutorial's first {every} steps re-timed at the end: "
                      f"{again.points[-1][0] / tutorial.points[0][0]:.2f}x the time they took first)")
    print_table(size, races, target, base_s, drift_note)
    return races, target, base_s


def sweep_new_defaults(judge, content, style, extractor, objective, target, base_s, args):
    """``stylize(num_steps=N, schedule="fast")`` with only the objective, N growing until the returned image
    reaches the target (or ``--cap`` of the tutorial's time is passed)."""
    from nst_tf.optimize import stylize

    race = Race(judge)
    race.sweep = []
    for n in args.sweep:
        start = time.perf_counter()
        result = stylize(content, style, extractor=extractor, progress=False, num_steps=n, schedule="fast",
                         **objective)
        seconds = time.perf_counter() - start
        loss = judge(result.image)
        race.sweep.append((n, seconds, loss))
        print(f"- schedule='fast', num_steps={n}: {seconds:.1f} s ({100 * seconds / base_s:.1f}% of the "
              f"tutorial), loss {loss:.5g}{'  <- reaches the target' if loss <= target else ''}", flush=True)
        if loss <= target or seconds > args.sweep_cap * base_s:
            break
    # Points of a sweep are separate runs; time_to and loss_at read them like one run's.
    race.points = [(s, l) for _, s, l in race.sweep]
    race.steps = race.sweep[-1][0] if race.sweep else 0
    return race


def print_table(size, races, target, base_s, drift_note=""):
    print(f"\n### time to quality at {size} px: target = the tutorial's loss {target:.5g} in "
          f"{base_s:.1f} s{drift_note}\n")
    print("| contender | time to target | % of tutorial | " +
          " | ".join(f"loss at {100 * f:g}%" for f in FRACTIONS) + " |")
    print("|---|---|---|" + "---|" * len(FRACTIONS))
    for name, race in races.items():
        reached = time_to(race.points, target)
        cells = [f"{reached:.1f} s" if reached is not None else "not reached",
                 f"{100 * reached / base_s:.1f}%" if reached is not None else "–"]
        for f in FRACTIONS:
            loss = loss_at(race.points, f * base_s)
            last = race.points[-1][0] if race.points else 0
            if loss is None:
                cells.append("–")
            elif f * base_s > last and reached is None and name != "tutorial":
                cells.append(f"({loss:.4g})")  # stopped before this time (cap)
            else:
                cells.append(f"{loss:.4g}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    sweep = races.get("schedule='fast'")
    if sweep is not None and getattr(sweep, "sweep", None):
        print("\nschedule='fast', one run per num_steps (returned image judged):\n")
        print("| num_steps | seconds | % of tutorial | loss | reaches |")
        print("|---|---|---|---|---|")
        for n, seconds, loss in sweep.sweep:
            print(f"| {n} | {seconds:.1f} | {100 * seconds / base_s:.1f}% | {loss:.5g} | "
                  f"{'yes' if loss <= target else 'no'} |")
    print(flush=True)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, (size, (races, target, base_s)) in zip(axes[0], results.items()):
        for name, race in races.items():
            if race.points:
                xs, ys = zip(*race.points)
                style = "o-" if getattr(race, "sweep", None) else "-"
                ax.plot(xs, ys, style, label=name, lw=2.5 if name in ("tutorial", "schedule='fast'") else 1.2)
        ax.axhline(target, color="k", ls=":", lw=1, label="tutorial's final loss")
        ax.axvline(0.1 * base_s, color="grey", ls="--", lw=1, label="10% of its time")
        ax.set(xlabel="seconds (this CPU)", ylabel="evaluator loss (float32)", yscale="log",
               title=f"{size} px", xlim=(0, base_s * 1.05))
        ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 px, 10 tutorial steps: about a minute")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="long sides (default 512)")
    parser.add_argument("--network", choices=sorted(RECIPE_OF), default="squeezenet",
                        help="squeezenet (real weights in the course's assets) or vgg19 (ImageNet weights: "
                             "make gpu-check runs this race on a GPU)")
    parser.add_argument("--tutorial-steps", type=int, default=None,
                        help="the tutorial's steps (default 1000; 500 at 1024 px)")
    parser.add_argument("--steps", type=int, default=None, help="steps of the lever runs (default: the tutorial's)")
    parser.add_argument("--cap", type=float, default=0.5,
                        help="stop a contender after this fraction of the tutorial's time (default 0.5)")
    parser.add_argument("--sweep", type=int, nargs="+", default=None,
                        help="num_steps tried for the new defaults (default 50 100 150 200 250 300 400)")
    parser.add_argument("--skip", nargs="+", default=None, help="skip contenders whose name contains one of these")
    parser.add_argument("--sweep-cap", type=float, default=0.5,
                        help="stop the sweep after a run longer than this fraction of the tutorial's time")
    parser.add_argument("--only", nargs="+", default=None, help="run only contenders whose name contains one of these")
    parser.add_argument("--tutorial-file", default=None,
                        help="JSON file: reuse the tutorial runs saved there, save new ones (exploration only)")
    parser.add_argument("--plot", default=None, help="write a plot of loss against seconds here")
    args = parser.parse_args()
    sizes = args.sizes or ([128] if args.quick else [512])
    if args.quick:
        args.cap = max(args.cap, 5.0)  # tracing dominates a tiny run
    args.sweep = args.sweep or ([2, 5] if args.quick else [50, 100, 150, 200, 250, 300, 400])

    import tensorflow as tf

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    from nst_tf.config import default_vgg_weights

    weights = "SqueezeNet v1.1 (ImageNet)" if args.network == "squeezenet" else f"VGG19 ({default_vgg_weights()})"
    print(f"# bench_quality: {platform.processor() or platform.machine()}, {device}, TF {tf.__version__}, "
          f"{weights}, objective {RECIPE_OF[args.network]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    results = {size: race_size(size, args) for size in sizes}
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
