"""The memory check: the estimate (independent counts) and the budget it is compared with.

No GPU here: GPUs are simulated with monkeypatch (TensorFlow's device list, its allocator's
reservation and current use, and nvidia-smi's answers), as a Colab T4 would give them.
"""

import os
import re
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.client import device_lib

from nst_tf import resources
from nst_tf.resources import ResourceError, activation_bytes, available_memory, check_memory

MiB, GiB = 2**20, 2**30
T4_MIB = 15360  # what nvidia-smi reports as a T4's memory.total
OTHER_PID = 4242 if os.getpid() != 4242 else 4243


def simulate_gpu(monkeypatch, *, used_mib=0, apps=(), reserved=0, in_use=0, smi=True):
    """A T4 as TensorFlow and nvidia-smi would describe it. ``apps``: (pid, MiB) rows, or a string
    for nvidia-smi's literal answer; ``reserved``/``in_use``: TensorFlow's allocator, in bytes."""
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda device_type=None: [gpu] if device_type in ("GPU", None) else [])
    devices = [SimpleNamespace(device_type="CPU", memory_limit=256 * MiB)]
    if reserved:
        devices.append(SimpleNamespace(device_type="GPU", memory_limit=reserved))
    monkeypatch.setattr(device_lib, "list_local_devices", lambda *a, **k: devices)
    monkeypatch.setattr(tf.config.experimental, "get_memory_info",
                        lambda device: {"current": in_use, "peak": in_use})
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        if not smi:
            raise FileNotFoundError(2, "No such file or directory", "nvidia-smi")
        query = next(arg for arg in cmd if arg.startswith("--query"))
        if query.startswith("--query-gpu="):
            out = f"{T4_MIB}, {used_mib}\n"
        else:
            out = apps if isinstance(apps, str) else "".join(f"{pid}, {mib}\n" for pid, mib in apps)
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")

    monkeypatch.setattr(resources.subprocess, "run", run)
    return calls


def fitting_side(message):
    return int(re.search(r"at most ~(\d+) px", message).group(1))


# --- the estimate ------------------------------------------------------------------------------

def vgg19_count(height, width, deepest):
    """Values VGG19 stores up to ``deepest``: every conv and pool output (float64 NumPy)."""
    total, h, w = np.float64(0), height, width
    for block, (convs, channels) in enumerate([(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)], 1):
        for conv in range(1, convs + 1):
            total += np.prod([h, w, channels], dtype=np.float64)
            if deepest == f"block{block}_conv{conv}":
                return total
        h, w = h // 2, w // 2  # 2x2 max-pool, stride 2
        total += np.prod([h, w, channels], dtype=np.float64)
        if deepest == f"block{block}_pool":
            return total
    return total


def squeezenet_count(height, width, deepest):
    """Values SqueezeNet v1.1 stores up to ``deepest``: conv1, pools, and per fire module its
    squeeze output, both expand outputs and their concatenation (float64 NumPy)."""
    def down(n):  # 3x3 window, stride 2, no padding (conv1 and every pool)
        return (n - 3) // 2 + 1

    h, w = down(height), down(width)
    total = np.float64(h) * w * 64  # conv1
    fires = {2: (16, 64), 3: (16, 64), 4: (32, 128), 5: (32, 128), 6: (48, 192), 7: (48, 192),
             8: (64, 256), 9: (64, 256)}
    channels = 64
    for fire, (squeeze, expand) in fires.items():
        if fire in (2, 4, 6):  # pool1, pool3, pool5 come before fire2, fire4, fire6
            h, w = down(h), down(w)
            total += np.float64(h) * w * channels
        total += np.float64(h) * w * (squeeze + expand + expand + 2 * expand)
        channels = 2 * expand
        if deepest == f"fire{fire}":
            return total
    return total


@pytest.mark.parametrize("height, width, deepest", [(384, 512, "block5_conv2"), (301, 437, "block4_conv1"),
                                                    (97, 130, "block3_pool")])
def test_vgg19_activation_bytes_match_an_independent_count(height, width, deepest):
    assert activation_bytes("vgg19", height, width, deepest) == 4 * vgg19_count(height, width, deepest)


@pytest.mark.parametrize("height, width, deepest", [(384, 512, "fire7"), (301, 437, "fire9"), (99, 130, "fire3")])
def test_squeezenet_activation_bytes_match_an_independent_count(height, width, deepest):
    assert activation_bytes("squeezenet", height, width, deepest) == 4 * squeezenet_count(height, width, deepest)


@pytest.mark.parametrize("network, deepest", [("vgg19", "block5_conv2"), ("squeezenet", "fire7")])
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_16_bit_precisions_halve_the_activation_bytes(network, deepest, precision):
    for height, width in [(384, 512), (301, 437)]:
        full = activation_bytes(network, height, width, deepest, "float32")
        assert 2 * activation_bytes(network, height, width, deepest, precision) == full


@pytest.mark.parametrize("network, deepest, precision", [("vgg19", "block5_conv2", "float32"),
                                                          ("vgg19", "block4_conv1", "mixed_bfloat16"),
                                                          ("squeezenet", "fire7", "float32")])
def test_need_is_the_working_set_times_the_activations_plus_the_overhead(network, deepest, precision):
    # 4 x activations + 100 MiB: the model measured by benchmarks/bench_memory.py (literal on
    # purpose, so that dropping the factor or the overhead fails here)
    need = check_memory(network, 384, 512, deepest, precision, available=2**50, optimizer="adam")
    assert need == int(4 * activation_bytes(network, 384, 512, deepest, precision)) + 100 * MiB


def test_lbfgs_adds_its_history_of_image_copies_to_the_need():
    import inspect

    from nst_tf.lbfgs import _empty_memory, lbfgs_minimize
    from nst_tf.schedules import DEFAULT_SCHEDULE, chosen_optimizer

    assert inspect.signature(lbfgs_minimize).parameters["history_size"].default == resources.LBFGS_HISTORY
    s, y, _ = _empty_memory(tf.zeros([1, 384, 512, 3]), resources.LBFGS_HISTORY)
    history = s.numpy().nbytes + y.numpy().nbytes  # what the optimizer holds all run long
    adam = check_memory("squeezenet", 384, 512, "fire9", available=2**50, optimizer="adam")
    lbfgs = check_memory("squeezenet", 384, 512, "fire9", available=2**50, optimizer="lbfgs")
    # the buffers, their shifted copies during an update, and ~12 more images (x, gradient, trial,
    # direction, float64 two-loop vector); none of it for Adam, whose state the working set includes
    assert 2 * history < lbfgs - adam < 3 * history
    # a plain call answers for a plain stylize, whose default schedule runs L-BFGS
    assert chosen_optimizer(DEFAULT_SCHEDULE) == "lbfgs"
    assert check_memory("squeezenet", 384, 512, "fire9", available=2**50) == lbfgs
    # ...so a size that fits Adam's budget exactly is refused with L-BFGS
    with pytest.raises(ResourceError, match="squeezenet"):
        check_memory("squeezenet", 384, 512, "fire9", available=adam, optimizer="lbfgs")


def test_the_suggested_size_fits_and_is_close_to_the_largest():
    budget = 3 * GiB
    with pytest.raises(ResourceError) as info:
        check_memory("vgg19", 1536, 2048, "block5_conv2", available=budget)
    side = fitting_side(str(info.value))
    assert check_memory("vgg19", round(side * 0.75), side, "block5_conv2", available=budget) <= budget
    with pytest.raises(ResourceError):  # the suggestion is not far below what fits
        check_memory("vgg19", round((side + 32) * 0.75), side + 32, "block5_conv2", available=budget)


def test_no_size_fits_when_even_the_overhead_does_not():
    with pytest.raises(ResourceError, match="free memory first"):
        check_memory("squeezenet", 384, 512, "fire7", available=50 * MiB)


# --- the budget: CPU ---------------------------------------------------------------------------

def test_cpu_budget_is_memavailable_not_memfree(monkeypatch, tmp_path):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda device_type=None: [])
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:          100000 kB\n"
                       "MemAvailable:    8000000 kB\nBuffers:          200000 kB\n")
    monkeypatch.setattr(resources, "_MEMINFO", str(meminfo))
    available, where = available_memory()
    assert available == 8000000 * 1024 and "RAM" in where
    assert check_memory("vgg19", 384, 512, "block5_conv2") < available
    meminfo.write_text("MemFree:          100000 kB\nMemAvailable:     500000 kB\n")
    with pytest.raises(ResourceError, match=r"0\.5 GiB is available \(RAM available"):
        check_memory("vgg19", 384, 512, "block5_conv2")


# --- the budget: a simulated Colab T4 ------------------------------------------------------------

def test_a_fresh_t4_fits_512_px_vgg19(monkeypatch):
    simulate_gpu(monkeypatch, used_mib=0, apps=())
    available, where = available_memory()
    assert available == T4_MIB * MiB
    assert where == "GPU memory TensorFlow can use: 15.0 GiB total - 0.0 GiB other processes - 0.0 GiB in use"
    assert check_memory("vgg19", 384, 512, "block5_conv2", "float32") < available


@pytest.mark.parametrize("apps", [
    [(os.getpid(), 14848)],       # nvidia-smi lists this process
    [],                           # Colab: the list is empty
    "[N/A], [N/A]\n",             # or unusable
    [(OTHER_PID, 14848)],         # a container: the host's pid, not ours
], ids=["our-pid-listed", "empty-list", "n/a", "host-pids"])
def test_tensorflows_own_reservation_counts_as_available(monkeypatch, apps):
    # TensorFlow reserved 14.0 GiB at start-up; with its CUDA context nvidia-smi shows 14.5 GiB
    # used, so "free" is ~0.5 GiB, yet TensorFlow can still use its reservation minus what it holds.
    reserved, in_use = 14 * GiB, int(0.3 * GiB)
    simulate_gpu(monkeypatch, used_mib=14848, apps=apps, reserved=reserved, in_use=in_use)
    available, where = available_memory()
    assert available == reserved - in_use
    assert "14.0 GiB reservation - 0.3 GiB in use" in where
    assert "0.0 GiB other processes" in where or "0.5 GiB other processes" in where
    assert check_memory("vgg19", 384, 512, "block5_conv2", "float32") < available


def test_another_process_holding_10_gb_leaves_about_5(monkeypatch):
    # TensorFlow (memory growth) reserved 14.0 GiB but holds 0.3; another process took 10 GiB.
    in_use = int(0.3 * GiB)
    simulate_gpu(monkeypatch, used_mib=10240 + 600, apps=[(OTHER_PID, 10240), (os.getpid(), 600)],
                 reserved=14 * GiB, in_use=in_use)
    available, where = available_memory()
    assert available == 5 * GiB - in_use
    assert where == "GPU memory TensorFlow can use: 15.0 GiB total - 10.0 GiB other processes - 0.3 GiB in use"
    assert check_memory("vgg19", 384, 512, "block5_conv2", "float32") < available
    with pytest.raises(ResourceError) as info:
        check_memory("vgg19", 1536, 2048, "block5_conv2", "float32")
    message = str(info.value)
    assert "2048x1536" in message and "10.0 GiB other processes" in message
    side = fitting_side(message)
    assert 512 < side < 2048
    assert check_memory("vgg19", round(side * 0.75), side, "block5_conv2", "float32") <= available


def test_a_reservation_made_after_another_process_is_the_limit(monkeypatch):
    # The other process came first, so TensorFlow reserved only what was left (minus ~1 GiB).
    reserved, in_use = (T4_MIB - 10240 - 1050) * MiB, int(0.3 * GiB)
    simulate_gpu(monkeypatch, used_mib=10240 + 4500, apps=[(OTHER_PID, 10240), (os.getpid(), 4500)],
                 reserved=reserved, in_use=in_use)
    available, where = available_memory()
    assert available == reserved - in_use
    assert "reservation" in where and "10.0 GiB other processes" in where


def test_without_nvidia_smi_tensorflows_own_view_is_used(monkeypatch):
    reserved, in_use = 14 * GiB, 2 * GiB
    calls = simulate_gpu(monkeypatch, reserved=reserved, in_use=in_use, smi=False)
    available, where = available_memory()
    assert calls and available == reserved - in_use
    assert "nvidia-smi not available" in where and "14.0 GiB reservation - 2.0 GiB in use" in where
    with pytest.raises(ResourceError, match="nvidia-smi not available"):
        check_memory("vgg19", 3072, 4096, "block5_conv2", "float32")


def test_without_nvidia_smi_or_reservation_the_check_is_skipped_not_refused(monkeypatch):
    simulate_gpu(monkeypatch, reserved=0, smi=False)
    assert available_memory() == (None, "GPU memory unknown (no nvidia-smi, no TensorFlow reservation)")
    with pytest.warns(UserWarning, match="memory check skipped: GPU memory unknown"):
        need = check_memory("vgg19", 3072, 4096, "block5_conv2", "float32")
    assert need == (4 * activation_bytes("vgg19", 3072, 4096, "block5_conv2") + 100 * MiB
                    + resources.optimizer_bytes("lbfgs", 3072, 4096))  # the default run's optimizer


@pytest.mark.parametrize("network, deepest", [("vgg19", "block5_conv4"), ("vgg16", "block4_conv2"),
                                              ("squeezenet", "fire9"), ("squeezenet", "fire5")])
def test_step_flops_counts_every_convolution_of_the_real_model(network, deepest):
    # Independent count from the Keras model itself: 2 * output pixels * kernel size per conv layer,
    # forward up to `deepest`; the step is forward + the same again for the gradient to the pixels.
    from nst_tf.features import FeatureExtractor, layer_names
    from nst_tf.resources import step_flops

    names = layer_names(network)
    blocks = [n for n in names[:names.index(deepest) + 1] if "pool" not in n]  # conv layers / fire modules
    extractor = FeatureExtractor(blocks, network=network, weights="random")
    height, width = 97, 130  # odd sizes: valid pools and strides must round the same way
    outputs = extractor(np.zeros((1, height, width, 3), np.float32))
    backbone_layers = {layer.name: layer for layer in extractor.model.layers}
    forward = 0.0
    for block in blocks:  # a fire module's three convolutions share its output's spatial size
        kernels = [backbone_layers[block]] if not block.startswith("fire") else \
            [backbone_layers[f"{block}_{part}"] for part in ("squeeze1x1", "expand1x1", "expand3x3")]
        _, h, w, _ = outputs[block].shape
        forward += sum(2.0 * h * w * np.prod(layer.kernel.shape) for layer in kernels)
    assert step_flops(network, height, width, deepest) == pytest.approx(2 * forward, rel=1e-12)


def test_step_flops_of_the_lectures_working_size():
    # The number the lectures quote: VGG19 to block5_conv2 (the TF tutorial's deepest layer) at 512x384.
    from nst_tf.resources import step_flops

    assert step_flops("vgg19", 384, 512, "block5_conv2") == pytest.approx(0.2913e12, rel=1e-3)
    assert step_flops("vgg19", 768, 1024, "block5_conv2") == pytest.approx(4 * step_flops("vgg19", 384, 512, "block5_conv2"), rel=1e-2)
