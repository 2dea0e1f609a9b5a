"""Training the transformer network with a perceptual loss (Johnson et al. 2016).

Taught in notebooks/09_training_a_feed_forward_network.

The loss is the course's own, unchanged: ``nst_tf.FeatureExtractor`` and ``nst_tf.losses``. What
Gatys et al. minimize over the pixels of one image, Johnson et al. minimize over the weights of a
network, averaged over a stream of photos: content against the photo's own features, style
against the painting's Gram matrices, total variation on the output.

Why a compiled custom loop and not ``keras.Model.fit`` with a custom ``train_step``: the training
set is an endless stream, so there are no epochs for ``fit`` to count, only steps; a checkpoint
must hold the step, the stream's position, the Adam slots and the loss history together and
resume bit for bit, which is a dozen plain lines here and a set of callbacks there; the step is
the same ``tf.function`` pattern as the optimization lectures (04-06), with the model's weights in
place of the pixels; and ``tf.distribute`` stays visible: ``strategy.run`` on each replica's half
of the batch, the losses averaged with ``strategy.reduce``. ``fit`` would run the same step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..checkpoint import Checkpointer, image_digest
from ..features import DEFAULT_LAYERS, FeatureExtractor
from ..losses import content_loss, gram_matrix, style_loss, total_variation_loss
from ..progress import LOSS_KEYS, Recorder
from ..validation import check_weight
from .network import architecture, build_transformer_net

# VGG: Johnson et al.'s layers (content relu3_3; style relu1_2, relu2_2, relu3_3, relu4_3, each
# weighted 5 in their code, whose Gram divides by C*H*W: 5/C^2 per layer in the course's
# convention) and their TV of 1e-6 on a sum of squares of 0-255 pixels (~6.4e3 on the course's
# mean at 256 px). Converted, not checked: no ImageNet VGG here, so VGG results are expected only.
# SqueezeNet: the course's optimization recipe (recipes.squeezenet_course), unchanged.
_JOHNSON_STYLE = {"block1_conv2": 64, "block2_conv2": 128, "block3_conv3": 256, "block4_conv3": 512}
_VGG = dict(content_layers=["block3_conv3"], style_layers=list(_JOHNSON_STYLE),
            style_layer_weights={name: 5.0 / c ** 2 for name, c in _JOHNSON_STYLE.items()},
            content_weight=1.0, style_weight=1.0, tv_weight=6.4e3, tv_kind="l2")
TRAINING_DEFAULTS = {
    "vgg16": _VGG, "vgg19": _VGG,
    "squeezenet": dict(content_layers=DEFAULT_LAYERS["squeezenet"][0], style_layers=DEFAULT_LAYERS["squeezenet"][1],
                       style_layer_weights=None, content_weight=1.0, style_weight=1e-2, tv_weight=5e2,
                       tv_kind="l1"),
}


@dataclass
class TrainResult:
    """What ``train_transformer`` returns: the trained model, the losses of every step, and more."""

    model: object  # keras.Model
    history: dict = field(default_factory=dict)  # step, total, content, style, tv, seconds
    steps: int = 0  # steps done in all (a resumed run counts the earlier ones)
    checkpoint: Path | None = None  # the newest checkpoint written, if any
    settings: dict = field(default_factory=dict)
    skipped_files: int = 0  # photos that passed the header check but did not decode
    replicas: int = 1


def _style_tensor(style_image, image_size: int) -> tf.Tensor:
    from ..images import load_image

    if isinstance(style_image, (str, os.PathLike)):
        return load_image(style_image, max_dim=image_size)
    style = tf.convert_to_tensor(style_image, tf.float32)
    return style[tf.newaxis] if style.shape.rank == 3 else style


def _checked(network: str, given: dict) -> dict:
    if network not in TRAINING_DEFAULTS:
        raise ValueError(f"unknown network {network!r}; choose one of {', '.join(TRAINING_DEFAULTS)}")
    loss = {**TRAINING_DEFAULTS[network], **{k: v for k, v in given.items() if v is not None}}
    for name in ("content_weight", "style_weight", "tv_weight"):
        loss[name] = check_weight(name, loss[name])
    return loss


def make_train_step(model, extractor, optimizer, grams, loss: dict, strategy):
    """The compiled step: stylize a batch, one feature pass over [stylized; photos], the three
    losses, Adam on the network's weights. Each replica computes the mean over its part of the
    batch and scales it by 1/replicas, so the gradients Keras sums across replicas are the
    gradient of the mean over the whole batch: the same step on one device or eight."""
    content_layers, style_layers = loss["content_layers"], loss["style_layers"]
    replicas = strategy.num_replicas_in_sync

    def replica_step(photos):
        with tf.GradientTape() as tape:
            stylized = model(photos, training=True)
            features = extractor(tf.concat([stylized, photos], axis=0))
            mine = {name: value[:tf.shape(photos)[0]] for name, value in features.items()}
            target = {name: tf.stop_gradient(features[name][tf.shape(photos)[0]:]) for name in content_layers}
            terms = {"content": content_loss({n: mine[n] for n in content_layers}, target),
                     "style": style_loss({n: mine[n] for n in style_layers}, grams, loss["style_layer_weights"]),
                     "tv": total_variation_loss(stylized, loss["tv_kind"])}
            total = (loss["content_weight"] * terms["content"] + loss["style_weight"] * terms["style"]
                     + loss["tv_weight"] * terms["tv"])
            share = total / replicas  # inside the tape: an op after it would not be differentiated
        gradients = tape.gradient(share, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return {"total": total, **terms}

    @tf.function
    def train_step(photos):
        per_replica = strategy.run(replica_step, args=(photos,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    return train_step


def train_transformer(style_image, images, *, steps: int, image_size: int = 256, batch_size: int = 4,
                      style_size: int = 256,
                      network: str = "vgg16", weights=None, width: float | None = None, norm: str = "instance",
                      content_weight=None, style_weight=None, tv_weight=None, content_layers=None,
                      style_layers=None, style_layer_weights=None, tv_kind=None, learning_rate: float = 1e-3,
                      seed: int = 0, checkpoint_dir=None, checkpoint_every=None, resume: bool = False,
                      preview_every=None, preview_image=None, callback=None, strategy=None,
                      progress: bool = True, preset: str | None = None,
                      residual_blocks: int | None = None) -> TrainResult:
    """Train Johnson et al.'s network to paint any photo in the style of ``style_image``.

    ``images``: a folder of photos (``dataset.image_dataset``: crops of ``image_size`` px,
    ``batch_size`` per step) or a ``tf.data.Dataset`` of batches [B, S, S, 3] in [0, 1]. A style
    file is loaded at a long side of ``style_size`` (256, Johnson et al.'s); a tensor is used as is.
    ``network``: the loss network, "vgg16" (the paper's), "vgg19" or "squeezenet" (real ImageNet
    features on a CPU); its layers and weights default to ``TRAINING_DEFAULTS[network]``.
    ``weights``: the loss network's, as for ``FeatureExtractor``. ``width``, ``norm``, ``preset``,
    ``residual_blocks``: the transformer's (``build_transformer_net``; "realtime": the small
    real-time network; an explicit ``width`` or ``residual_blocks`` wins over the preset's). Adam
    with ``learning_rate`` 1e-3 (the paper's).

    ``checkpoint_dir`` + ``checkpoint_every``: the network, Adam's state, the stream's position
    and the history, every N steps and at the end (``nst_tf.checkpoint``'s atomic files);
    ``resume=True`` continues from the newest one (same settings; more ``steps`` allowed).
    ``callback(step, preview, losses)`` runs every ``preview_every`` steps (every step without
    it) with ``preview_image`` stylized by the network (None without one); False stops the run.
    ``strategy``: a ``tf.distribute`` strategy (``MirroredStrategy()``: every GPU; the batch is
    split between them). Returns a ``TrainResult``.
    """
    from .dataset import image_dataset

    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two stride-2 stages), got {image_size}")
    learning_rate = check_weight("learning_rate", learning_rate)
    loss = _checked(network, dict(content_weight=content_weight, style_weight=style_weight,
                                  tv_weight=tv_weight, content_layers=content_layers, style_layers=style_layers,
                                  style_layer_weights=style_layer_weights, tv_kind=tv_kind))
    style = _style_tensor(style_image, style_size)
    strategy = strategy or tf.distribute.get_strategy()
    folder = None if isinstance(images, tf.data.Dataset) else Path(images).expanduser()
    shape = architecture(preset, width, residual_blocks)
    paper = architecture("paper")  # only a shape other than the paper's is recorded: old checkpoints resume
    settings = dict(network=network, width=shape["width"], norm=norm, image_size=int(image_size),
                    batch_size=int(batch_size), seed=int(seed), learning_rate=learning_rate,
                    style_image=image_digest(style), images=str(folder) if folder else "a tf.data.Dataset",
                    **{k: v for k, v in loss.items()},
                    **{k: v for k, v in shape.items() if k != "width" and v != paper[k]})
    ckpt = None
    if checkpoint_dir is not None:
        ckpt = Checkpointer(checkpoint_dir, checkpoint_every, {**settings, "weights": str(weights)},
                            resume=resume, steps_per_scale=[int(steps)])
    with strategy.scope():
        extractor = FeatureExtractor(loss["style_layers"], loss["content_layers"], network=network, weights=weights)
        model = build_transformer_net(shape["width"], norm, seed=seed, residual_blocks=shape["residual_blocks"],
                                      kernel=shape["kernel"])
        import keras

        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(model.trainable_variables)
    settings["weights"] = extractor.weights
    grams = {name: gram_matrix(value) for name, value in extractor(style).items() if name in loss["style_layers"]}
    done, next_example, history = 0, 0, None
    if ckpt is not None and ckpt.restored is not None:
        snap = ckpt.restored
        for variable, value in zip(model.weights, _arrays(snap.arrays, "model")):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, _arrays(snap.arrays, "optimizer")):
            variable.assign(value)
        done, next_example, history = snap.step, snap.state["next_example"], snap.history
    if folder is not None:
        dataset = image_dataset(folder, image_size, batch_size, seed, start=next_example, with_index=True)
    else:
        dataset = images.skip(done).map(lambda batch: (batch, tf.zeros([tf.shape(batch)[0]], tf.int64)))
    decoder = getattr(dataset, "decoder", None)
    distributed = iter(strategy.experimental_distribute_dataset(dataset))
    train_step = make_train_step(model, extractor, optimizer, grams, loss, strategy)
    recorder = Recorder(int(steps), (), progress, None, None, estimate=True, history=history)
    recorder.bar.set_description("train")
    preview = None if preview_image is None else _preview_tensor(preview_image)

    def save():
        arrays = {f"model/{i}": np.asarray(v) for i, v in enumerate(model.weights)}
        arrays.update({f"optimizer/{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)})
        return ckpt.save(scale=0, step=len(recorder.history["step"]), arrays=arrays,
                         state={"next_example": next_example}, history=recorder.history,
                         steps_per_scale=[int(steps)])

    try:
        with ckpt.guard if ckpt else _Nothing():
            for step in range(done + 1, int(steps) + 1):
                photos, indices = next(distributed)
                losses = train_step(photos)
                if folder is not None:
                    local = strategy.experimental_local_results(indices)
                    next_example = int(max(np.max(np.asarray(i)) for i in local)) + 1
                recorder.record(None, {**{k: losses[k] for k in LOSS_KEYS}, "style_layers": {}}, int(image_size))
                if ckpt is not None and ckpt.due(step):
                    save()
                go_on = True
                if callback is not None and (not preview_every or step % preview_every == 0 or step == steps):
                    shown = None if preview is None else model(preview, training=False)
                    go_on = callback(step, shown, {k: recorder.history[k][-1] for k in LOSS_KEYS}) is not False
                if ckpt is not None:
                    ckpt.interrupt_if_asked(save, step)
                if not go_on:
                    break
    finally:
        recorder.bar.close()
    path = save() if ckpt is not None else None
    return TrainResult(model, recorder.history, len(recorder.history["step"]), path, settings,
                       decoder.failed if decoder else 0, strategy.num_replicas_in_sync)


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _arrays(arrays: dict, prefix: str) -> list:
    found = sorted((int(k.split("/")[1]), v) for k, v in arrays.items() if k.startswith(prefix + "/"))
    return [value for _, value in found]


def _preview_tensor(preview_image) -> tf.Tensor:
    """The preview photo as [1, H, W, 3], cropped to multiples of 4 (what the network maps)."""
    from ..images import load_image

    image = load_image(preview_image) if isinstance(preview_image, (str, os.PathLike)) else \
        tf.convert_to_tensor(preview_image, tf.float32)
    image = image[tf.newaxis] if image.shape.rank == 3 else image
    height, width = image.shape[1] // 4 * 4, image.shape[2] // 4 * 4
    return image[:, :height, :width]
