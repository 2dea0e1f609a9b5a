"""Recipes: the course's objective equals the published ones, each re-implemented here from its source.

Nobody here can look at an ImageNet-VGG19 picture, so the VGG defaults must be an exact conversion
of a recipe whose pictures are public. These tests rebuild the TF tutorial's objective from the
formulas of its notebook (tensorflow/docs, site/en/tutorials/generative/style_transfer.ipynb: the
einsum Gram over I*J positions, per-layer mean squared errors times weight / number of layers,
total_variation_weight * tf.image.total_variation) and Gatys et al.'s from the paper's sums,
without nst_tf.losses, and compare values and gradients with
nst_tf.objective.make_objective. The network is one seeded, untrained VGG19 written in the Keras
release-file format: both sides load that file, the reference through keras.applications.VGG19,
as the tutorial does. Untrained features change nothing here: the claim is that two formulas
agree on the same features, whatever those are.
"""

import ast
import dataclasses
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import need_asset, write_keras_h5
from nst_tf.arguments import NETWORK_DEFAULTS
from nst_tf.features import DEFAULT_LAYERS, FeatureExtractor
from nst_tf.images import load_image, resize_image
from nst_tf.losses import gram_matrix
from nst_tf.objective import make_objective
from nst_tf.recipes import RECIPES, WORKING_SIZE, gatys_weights, recipe_arguments, tutorial_tv_weight

ROOT = Path(__file__).resolve().parents[1]
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
TUTORIAL_TV = 30.0  # the tutorial's total_variation_weight
GATYS_ALPHA, GATYS_BETA = 8e-4, 1.0  # CVPR 2016 Fig. 3C; beta = 1 makes the course's total equal


# --- the recipes themselves ------------------------------------------------------------------

def test_recipes_module_imports_nothing_of_the_package_nor_tensorflow():
    tree = ast.parse((ROOT / "nst_tf" / "recipes.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and not (node.module or "").startswith("nst_tf"), ast.dump(node)
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith(("nst_tf", "tensorflow")) for a in node.names)
    proc = subprocess.run([sys.executable, "-c", "import sys, nst_tf.recipes; print(sorted(m for m in "
                           "sys.modules if m.startswith(('nst_tf', 'tensorflow'))))"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['nst_tf', 'nst_tf.recipes']"


def test_network_defaults_are_the_recipes():
    tutorial, course = RECIPES["tf_tutorial"], RECIPES["squeezenet_course"]
    for network in ("vgg19", "vgg16"):
        assert DEFAULT_LAYERS[network] == (["block5_conv2"], STYLE_LAYERS)
        assert NETWORK_DEFAULTS[network] == dict(content_weight=1e4, style_weight=1e-2,
                                                 tv_weight=30.0 * 3 * 384 * 512)
    assert NETWORK_DEFAULTS["vgg19"]["tv_weight"] == tutorial.tv_weight == 17_694_720.0
    # The SqueezeNet default is the course's own, unchanged.
    assert DEFAULT_LAYERS["squeezenet"] == (["fire5"], ["conv1", "fire2", "fire3", "fire5", "fire7"])
    assert NETWORK_DEFAULTS["squeezenet"] == dict(content_weight=1.0, style_weight=1e-2, tv_weight=5e2)
    assert course.working_size is None and tutorial.working_size == WORKING_SIZE == (384, 512)


def test_working_size_is_tubingen_at_the_tutorials_512_px():
    """The tutorial's load_img (max_dim = 512, new_shape = int(shape * 512 / long side)) and the
    course's load_image give the same 384 x 512 for the course's default content image."""
    path = need_asset("tubingen_neckarfront")
    assert tuple(load_image(path, 512).shape) == (1, *WORKING_SIZE, 3)
    img = tf.image.convert_image_dtype(tf.image.decode_image(tf.io.read_file(str(path)), channels=3),
                                       tf.float32)
    shape = tf.cast(tf.shape(img)[:-1], tf.float32)
    new_shape = tf.cast(shape * (512 / max(shape)), tf.int32)
    assert tuple(new_shape.numpy()) == WORKING_SIZE


def test_conversion_formulas():
    assert tutorial_tv_weight(384, 512) == 30 * 589_824
    assert tutorial_tv_weight(192, 256) == tutorial_tv_weight(384, 512) / 4  # a sum grows with area
    paper = gatys_weights(8e-4, 384, 512)
    assert paper["style_weight"] == 0.25  # beta / 4, at any size
    np.testing.assert_allclose(paper["content_weight"], 8e-4 * 512 * (48 * 64) / 2, rtol=1e-15)
    assert gatys_weights(8e-4, 192, 256)["content_weight"] == pytest.approx(paper["content_weight"] / 4)
    gatys = RECIPES["gatys2016"]
    assert (gatys.content_weight, gatys.style_weight, gatys.tv_weight) == (paper["content_weight"], 0.25, 0.0)
    assert gatys.content_layers == ("block4_conv2",) and gatys.style_layers == tuple(STYLE_LAYERS)


def test_recipe_arguments_splat_into_stylize():
    args = recipe_arguments("gatys2016")
    assert set(args) == {"content_layers", "style_layers", "content_weight", "style_weight", "tv_weight",
                         "tv_kind"}
    assert args["content_layers"] == ["block4_conv2"] and isinstance(args["style_layers"], list)
    full = recipe_arguments("tf_tutorial", optimization=True)
    assert full["lr_decay"] == 1.0 and full["learning_rate"] == 0.02 and full["num_steps"] == 1000
    import inspect

    from nst_tf.optimize import stylize

    accepted = set(inspect.signature(stylize).parameters)
    for name in RECIPES:
        assert set(recipe_arguments(name, optimization=True)) <= accepted, name
    with pytest.raises(ValueError, match="tf_tutorial.*gatys2016"):
        recipe_arguments("johnson")
    with pytest.raises(dataclasses.FrozenInstanceError):
        RECIPES["tf_tutorial"].tv_weight = 0.0
    with pytest.raises(TypeError):
        RECIPES["tf_tutorial"].settings["lr_decay"] = 0.5


def test_recipe_runs_through_stylize():
    """The splat works end to end: stylize records the recipe's layers and weights."""
    from nst_tf.optimize import stylize

    rng = np.random.default_rng(0)
    content = rng.uniform(size=(1, 40, 48, 3)).astype(np.float32)
    style = rng.uniform(size=(1, 40, 40, 3)).astype(np.float32)
    args = {**recipe_arguments("gatys2016"), "tv_weight": 1.0}  # an explicit argument wins
    result = stylize(content, style, num_steps=1, weights="random", progress=False, estimate=False, **args)
    settings = result.settings
    assert settings["content_layers"] == ["block4_conv2"] and settings["style_layers"] == STYLE_LAYERS
    assert settings["content_weight"] == RECIPES["gatys2016"].content_weight and settings["tv_weight"] == 1.0


def test_cli_recipe_flag(monkeypatch, tmp_path):
    """--recipe hands the recipe's layers and weights to stylize; a weight flag wins; a recipe for
    another network is a one-line usage error before any work."""
    from nst_tf import cli, optimize
    from nst_tf.optimize import StylizeResult

    rng = np.random.default_rng(0)
    images = []
    for name in ("c.png", "s.png"):
        keras.utils.save_img(tmp_path / name, rng.integers(0, 255, (40, 48, 3)).astype("uint8"))
        images.append(str(tmp_path / name))
    seen = {}

    def fake_stylize(content, style, **kwargs):
        seen.update(kwargs)
        return StylizeResult(image=content, history={"seconds": [0.0], "step": [1]},
                             settings={"precision": "float32", "optimizer": "adam"}, feature_weights="random")

    monkeypatch.setattr(optimize, "stylize", fake_stylize)
    out = tmp_path / "out.png"
    base = ["stylize", *images, "-o", str(out), "--image-size", "48", "--no-progress", "--overwrite"]
    assert cli.main(base + ["--recipe", "gatys2016", "--style-weight", "2"]) == 0
    assert seen["content_layers"] == ["block4_conv2"] and seen["style_weight"] == 2.0
    assert seen["content_weight"] == RECIPES["gatys2016"].content_weight and seen["tv_weight"] == 0.0
    seen.clear()
    assert cli.main(base) == 0  # no recipe: stylize fills in the network's defaults itself
    assert "content_layers" not in seen and seen.get("content_weight") is None
    out.unlink()
    assert cli.main(base + ["--recipe", "gatys2016", "--network", "squeezenet"]) == 2
    assert not out.exists()


# --- the objectives, re-implemented from their sources ---------------------------------------

@pytest.fixture(scope="module")
def vgg19_file(tmp_path_factory):
    """A seeded VGG19: He-normal kernels (activations keep their scale through the 16 layers) and
    small non-zero biases."""
    model = keras.applications.VGG19(include_top=False, weights=None)
    rng = np.random.default_rng(11)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.set_weights([rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype(np.float32),
                               rng.normal(0, 0.1, bias.shape).astype(np.float32)])
    return write_keras_h5(model, tmp_path_factory.mktemp("vgg19") / "vgg19_notop.h5")


@pytest.fixture(scope="module")
def pictures():
    """Tübingen and The Starry Night at 512 px, and the image x to evaluate: neither of them."""
    content = load_image(need_asset("tubingen_neckarfront"), 512)
    style = load_image(need_asset("vangogh_starry_night"), 512)
    rng = np.random.default_rng(3)
    noise = tf.constant(rng.normal(0, 0.05, content.shape), tf.float32)
    x = 0.6 * content + 0.4 * tf.image.resize(style, content.shape[1:3]) + noise
    return content, style, tf.clip_by_value(x, 0.0, 1.0)


def reference_vgg19(weights):
    """The network as the tutorial loads it: keras.applications.VGG19 without the classifier."""
    base = keras.applications.VGG19(include_top=False, weights=weights)
    base.trainable = False
    return base


class TutorialModel:
    """The tutorial's feature model, rebuilt from its description: keras.applications.VGG19 without
    the classifier, outputs at the named layers, inputs in [0, 1] scaled by 255 and passed through
    vgg19.preprocess_input; style layers summarized by the Gram G_cd = sum_ij F_ijc F_ijd / (I J).
    ``base`` is ``reference_vgg19``'s network (the tutorial's and the paper's models share one)."""

    def __init__(self, base, style_layers, content_layers):
        self.layers = list(style_layers) + list(content_layers)
        self.net = keras.Model(base.input, [base.get_layer(name).output for name in self.layers])
        self.style_layers, self.content_layers = list(style_layers), list(content_layers)

    def features(self, images):
        return dict(zip(self.layers, self.net(keras.applications.vgg19.preprocess_input(255.0 * images))))

    def __call__(self, images):
        return self.summarize(self.features(images))

    def summarize(self, maps, parts=("content", "style")):
        """Feature maps (of ``features``) -> the tutorial's content maps and/or style Grams."""
        def gram(a):  # per image: channels x channels, averaged over the I*J positions
            positions = tf.cast(tf.shape(a)[1] * tf.shape(a)[2], tf.float32)
            return tf.einsum("bijc,bijd->bcd", a, a) / positions

        summary = {"content": lambda: {n: maps[n] for n in self.content_layers},
                   "style": lambda: {n: gram(maps[n]) for n in self.style_layers}}
        return {part: summary[part]() for part in parts}


def tutorial_terms(model, image, style_targets, content_targets, style_weight=1e-2, content_weight=1e4,
                   maps=None):
    """The tutorial's loss, term by term (content, style, tv): each layer's mean squared error,
    summed over layers and scaled by weight / number of layers; plus total_variation_weight times
    tf.image.total_variation of the image (a sum over pixels and channels). ``maps``: the
    reference network's features of the image, when already computed."""
    out = model.summarize(model.features(image) if maps is None else maps)
    squared_errors = lambda got, want: [tf.reduce_mean(tf.square(got[k] - want[k])) for k in want]
    style = style_weight / len(style_targets) * tf.add_n(squared_errors(out["style"], style_targets))
    content = (content_weight / len(content_targets)
               * tf.add_n(squared_errors(out["content"], content_targets)))
    return content, style, TUTORIAL_TV * tf.image.total_variation(image)[0]


def paper_matrices(model, image=None, maps=None):
    """F_l of the paper: each layer's features as an N_l x M_l matrix (channels x positions), float64.
    ``maps``: the model's features of the image, when already computed."""
    maps = model.features(image) if maps is None else maps
    return {n: tf.transpose(tf.reshape(tf.cast(maps[n][0], tf.float64), (-1, maps[n].shape[-1])))
            for n in model.layers if n in maps}


def paper_terms(model, image, P, S, maps=None):
    """Gatys et al. 2016, eqs. 1-5, as sums: (alpha * 1/2 sum (F - P)^2,
    beta * sum_l w_l sum (G - A)^2 / (4 N_l^2 M_l^2)), with G = F F^T, A = S S^T, w_l = 1/5."""
    F = paper_matrices(model, image, maps)
    content = 0.5 * tf.reduce_sum((F["block4_conv2"] - P["block4_conv2"]) ** 2)
    style = 0.0
    for layer in STYLE_LAYERS:
        n, m = F[layer].shape
        G, A = F[layer] @ tf.transpose(F[layer]), S[layer] @ tf.transpose(S[layer])
        style += 0.2 * tf.reduce_sum((G - A) ** 2) / (4.0 * n ** 2 * m ** 2)
    return GATYS_ALPHA * content, GATYS_BETA * style


def with_gradient(fn, image, sums=None):
    """fn's terms as floats, and the gradients (float64 arrays) of ``sums``: lists of term indices,
    by default one sum of all the terms (then one gradient, not a list). Compiled, as the tutorial's
    train_step is (@tf.function): run eagerly, TensorFlow would also compute the gradient of every
    convolution kernel, which nobody asks for here (at 512 px, seconds of CI)."""
    @tf.function
    def terms_and_gradients(image):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(image)
            terms = fn(image)
            totals = [tf.add_n([tf.cast(terms[i], tf.float64) for i in indices])
                      for indices in (sums or [range(len(terms))])]
        return terms, [tape.gradient(total, image) for total in totals]

    terms, gradients = terms_and_gradients(image)
    gradients = [g.numpy().astype(np.float64) for g in gradients]
    return [float(t) for t in terms], (gradients if sums else gradients[0])


def course_objective(extractor, recipe, features_c, features_s, shape, **override):
    """make_objective with the recipe's layers and weights; ``features_c``, ``features_s``: the
    extractor's features of the content and style images (``target_maps``)."""
    weights = {**dict(content_weight=recipe.content_weight, style_weight=recipe.style_weight,
                      tv_weight=recipe.tv_weight), **override}
    return make_objective(extractor, shape, tv_kind=recipe.tv_kind,
                          **course_targets(recipe, features_c, features_s), **weights)


def course_targets(recipe, features_c, features_s):
    """The course's targets of the recipe's layers: content maps and style Grams (``gram_matrix``)."""
    return dict(content_targets={n: features_c[n] for n in recipe.content_layers},
                style_targets={n: gram_matrix(features_s[n]) for n in recipe.style_layers})


def cosine(a, b):
    return float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def networks(vgg19_file):
    layers = STYLE_LAYERS + ["block4_conv2", "block5_conv2"]
    extractor = FeatureExtractor(STYLE_LAYERS, ["block4_conv2", "block5_conv2"], weights=vgg19_file)
    base = reference_vgg19(vgg19_file)
    tutorial = TutorialModel(base, STYLE_LAYERS, ["block5_conv2"])
    paper = TutorialModel(base, STYLE_LAYERS, ["block4_conv2"])  # just the network, for the sums
    reference = TutorialModel(base, STYLE_LAYERS, ["block4_conv2", "block5_conv2"])  # targets of both
    assert set(extractor.layers) == set(layers) == set(reference.layers)
    return extractor, tutorial, paper, reference


@pytest.fixture(scope="module")
def target_maps(networks, pictures):
    """``maps(side, name, long_side)``: the course's ("ours") or the reference's ("theirs") feature
    maps of a target image, each computed once for the module. A VGG19 pass over 384 x 512 pixels
    takes seconds, and the tests below share their targets (the same content image at the same
    size, in both recipes). Names: "content", "style" (The Starry Night at its own shape, as the
    tutorial loads it) and "style_at_x" (resized to x's shape, as the paper's Gram needs). Only
    the layers a target needs are kept (content: the content layers; style: the style layers)."""
    extractor, reference = networks[0], networks[3]
    cache = {}

    def image(name, long_side):
        content, style, x = (resize_image(p, long_side) for p in pictures)
        if name == "style_at_x":
            return tf.image.resize(style, x.shape[1:3], antialias=True)
        return {"content": content, "style": style}[name]

    def maps(side, name, long_side):
        key = (side, name, long_side)
        if key not in cache:
            network = {"ours": extractor, "theirs": reference.features}[side]
            keep = ["block4_conv2", "block5_conv2"] if name == "content" else STYLE_LAYERS
            cache[key] = {n: f for n, f in network(image(name, long_side)).items() if n in keep}
        return cache[key]

    return maps


@pytest.fixture(scope="module")
def reference_at_512(networks, pictures, target_maps):
    """Both references at the working size, terms and gradients: the tutorial's (content, style,
    tv) and the paper's (content, style) of x, each total with its own gradient. One compiled
    forward pass of the reference network serves both (its outputs hold the layers of both
    recipes): a VGG19 pass and a trace at 384 x 512 fewer than one function per recipe."""
    _, tutorial, paper, reference = networks
    style_targets = tutorial.summarize(target_maps("theirs", "style", 512), ["style"])["style"]
    content_targets = tutorial.summarize(target_maps("theirs", "content", 512), ["content"])["content"]
    P = paper_matrices(paper, maps=target_maps("theirs", "content", 512))
    S = paper_matrices(paper, maps=target_maps("theirs", "style_at_x", 512))

    def both(image):
        maps = reference.features(image)
        return (*tutorial_terms(tutorial, image, style_targets, content_targets, maps=maps),
                *paper_terms(paper, image, P, S, maps=maps))

    terms, (tutorial_grad, paper_grad) = with_gradient(both, pictures[2], sums=[[0, 1, 2], [3, 4]])
    return {"tf_tutorial": (terms[:3], tutorial_grad), "gatys2016": (terms[3:], paper_grad)}


def tv_bound(height, width):
    """The course's TV term times 3*H*W over the tutorial's summed TV lies in [1 + e_x, 1 + e_y]:
    sum|dx| has 3H(W-1) terms, sum|dy| has 3(H-1)W, so 3HW * (mean|dx| + mean|dy|) =
    (W/(W-1)) sum|dx| + (H/(H-1)) sum|dy|. Only a square image would make it exact."""
    return width / (width - 1) - 1, height / (height - 1) - 1


def test_tutorial_objective_equals_the_course_default_at_512(networks, pictures, target_maps, reference_at_512):
    """All three terms together at the working size: the constant factor is 1, up to the TV bound."""
    extractor = networks[0]
    x = pictures[2]
    height, width = x.shape[1:3]
    assert (height, width) == WORKING_SIZE
    recipe = RECIPES["tf_tutorial"]
    assert (list(recipe.content_layers), list(recipe.style_layers)) == DEFAULT_LAYERS["vgg19"]
    objective = course_objective(extractor, recipe, target_maps("ours", "content", 512),
                                 target_maps("ours", "style", 512), x.shape)
    losses, ours_grad = objective(x)
    ours = [recipe.content_weight * float(losses["content"]), recipe.style_weight * float(losses["style"]),
            recipe.tv_weight * float(losses["tv"])]
    assert float(losses["total"]) == pytest.approx(sum(ours), rel=1e-5)
    theirs, theirs_grad = reference_at_512["tf_tutorial"]
    np.testing.assert_allclose(ours[:2], theirs[:2], rtol=2e-5)  # content and style: exactly equal
    e_x, e_y = tv_bound(height, width)  # 0.196%, 0.261%
    tv_ratio = ours[2] / theirs[2]
    assert 1 + e_x - 1e-5 <= tv_ratio <= 1 + e_y + 1e-5, tv_ratio
    total_ratio = sum(ours) / sum(theirs)
    assert 1 - 1e-5 <= total_ratio <= 1 + e_y + 1e-5, total_ratio
    # With untrained features the style term is small here (~0.03% of the total), so the total's
    # gradient says little about style's: the 256 px test checks each term's gradient on its own.
    # Gradients: the same up to the TV mismatch, which we can predict: 30 * (e_x grad sum|dx| +
    # e_y grad sum|dy|), the gradient of the tutorial's two TV sums weighted by the two excesses.
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        sum_dx = tf.reduce_sum(tf.abs(x[:, :, 1:] - x[:, :, :-1]))
        sum_dy = tf.reduce_sum(tf.abs(x[:, 1:] - x[:, :-1]))
    predicted = TUTORIAL_TV * (e_x * tape.gradient(sum_dx, x).numpy()
                               + e_y * tape.gradient(sum_dy, x).numpy())
    ours_grad = ours_grad.numpy().astype(np.float64)
    mismatch = np.linalg.norm(ours_grad - theirs_grad - predicted) / np.linalg.norm(theirs_grad)
    cos = cosine(ours_grad, theirs_grad)
    print(f"\n512x384 tf_tutorial: terms ours {ours}, tutorial's {theirs}; TV ratio {tv_ratio:.6f} "
          f"(bound [{1 + e_x:.6f}, {1 + e_y:.6f}]), total ratio {total_ratio:.6f}, gradient cosine "
          f"{cos:.8f}, |difference - predicted TV part| / |gradient| = {mismatch:.2e}")
    assert cos > 1 - 1e-5 and mismatch < 1e-3


def test_tutorial_content_and_style_equal_at_another_size_and_tv_does_not(networks, pictures, target_maps):
    """At 256 px content and style still match exactly (both are means, in both); the TV does not:
    the course's mean is resolution-invariant by design, the tutorial's sum shrinks with the pixel
    count, so the fixed tv_weight is 4x the tutorial's TV at half the size."""
    extractor, tutorial, _, _ = networks
    x = resize_image(pictures[2], 256)
    height, width = x.shape[1:3]
    recipe = RECIPES["tf_tutorial"]
    style_targets = tutorial.summarize(target_maps("theirs", "style", 256), ["style"])["style"]
    content_targets = tutorial.summarize(target_maps("theirs", "content", 256), ["content"])["content"]
    theirs, theirs_grads = with_gradient(lambda im: tutorial_terms(tutorial, im, style_targets, content_targets),
                                         x, sums=[[0], [1]])
    features_c, features_s = target_maps("ours", "content", 256), target_maps("ours", "style", 256)
    objective = course_objective(extractor, recipe, features_c, features_s, x.shape)
    for index, term in enumerate(("content", "style")):  # each term and its gradient on its own
        weights = dict(content_weight=0.0, style_weight=0.0, tv_weight=0.0)
        weights[f"{term}_weight"] = getattr(recipe, f"{term}_weight")
        # The weights are held in variables: retarget reuses the one trace (a VGG19 gradient graph).
        objective.retarget(**course_targets(recipe, features_c, features_s), **weights)
        losses, ours_grad = objective(x)
        theirs_grad = theirs_grads[index]
        ours_grad = ours_grad.numpy().astype(np.float64)
        cos = cosine(ours_grad, theirs_grad)
        relative = np.linalg.norm(ours_grad - theirs_grad) / np.linalg.norm(theirs_grad)
        print(f"\n{width}x{height} tf_tutorial {term}: ours {float(losses['total']):.7g}, tutorial's "
              f"{float(theirs[index]):.7g}; gradient cosine {cos:.9f}, relative difference {relative:.1e}")
        np.testing.assert_allclose(float(losses["total"]), float(theirs[index]), rtol=2e-5)
        assert cos > 1 - 1e-6 and relative < 1e-3, (term, cos, relative)
    tv_ratio = recipe.tv_weight * float(losses["tv"]) / float(theirs[2])
    e_x, e_y = tv_bound(height, width)
    area = (WORKING_SIZE[0] * WORKING_SIZE[1]) / (height * width)
    print(f"{width}x{height}: TV ratio ours/tutorial {tv_ratio:.5f} (the tutorial's sum has 4x fewer pixels)")
    assert area == 4 and area * (1 + e_x) - 1e-4 <= tv_ratio <= area * (1 + e_y) + 1e-4, tv_ratio


@pytest.mark.parametrize("long_side", [512, 256])
def test_gatys2016_equals_the_papers_sums(networks, pictures, target_maps, long_side, request):
    """At the working size, the course's objective with the gatys2016 weights *is* the paper's
    alpha * L_content + beta * L_style (alpha/beta = 8e-4, beta = 1). The style term converts at
    any size; the content term's factor N*M/2 depends on the size: at 256 px the paper's content
    sum has 4x fewer entries, so the fixed content_weight is 4x the paper's."""
    extractor, _, paper, _ = networks
    x = resize_image(pictures[2], long_side)
    # The paper's Gram is a sum over positions, so its A_l assumes a style image of x's size (the
    # authors resized it so: "style_at_x"); the course's Gram is a mean and does not care.
    recipe = RECIPES["gatys2016"]
    losses, ours_grad = course_objective(extractor, recipe, target_maps("ours", "content", long_side),
                                         target_maps("ours", "style_at_x", long_side), x.shape)(x)
    ours = [recipe.content_weight * float(losses["content"]), recipe.style_weight * float(losses["style"])]
    if long_side == 512:  # the gradients are compared at the working size only
        theirs, theirs_grad = request.getfixturevalue("reference_at_512")["gatys2016"]
        ours_grad = ours_grad.numpy().astype(np.float64)
    else:
        P = paper_matrices(paper, maps=target_maps("theirs", "content", long_side))
        S = paper_matrices(paper, maps=target_maps("theirs", "style_at_x", long_side))
        theirs = [float(t) for t in paper_terms(paper, x, P, S)]
    content_factor = (WORKING_SIZE[0] // 8 * WORKING_SIZE[1] // 8) / (x.shape[1] // 8 * x.shape[2] // 8)
    np.testing.assert_allclose(ours, [content_factor * theirs[0], theirs[1]], rtol=1e-4)
    assert content_factor == {512: 1, 256: 4}[long_side]
    # Both terms are large enough to matter in the comparison.
    assert min(theirs) > 0.01 * sum(theirs), theirs
    if long_side == 512:
        relative = np.linalg.norm(ours_grad - theirs_grad) / np.linalg.norm(theirs_grad)
        cos = cosine(ours_grad, theirs_grad)
        print(f"\n512x384 gatys2016: ours {ours}, the paper's {theirs}, ratio {sum(ours) / sum(theirs):.7f}; "
              f"gradient cosine {cos:.8f}, relative difference {relative:.2e}")
        assert sum(ours) / sum(theirs) == pytest.approx(1.0, rel=1e-4)
        assert cos > 1 - 1e-6 and relative < 1e-3
    else:
        print(f"\n256x192 gatys2016: content ratio ours/paper {ours[0] / theirs[0]:.6f}, "
              f"style ratio {ours[1] / theirs[1]:.6f}")
