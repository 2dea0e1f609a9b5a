"""Will it fit, and how much work is it? Memory check and FLOP count before a long run.

Taught in notebooks/06_speed_and_scale.

Work: ``step_flops`` counts the floating-point operations of one optimization step (the forward
pass up to the deepest loss layer and the backward pass to the pixels), so every "how long on a
T4" estimate in the lectures comes from one function instead of hand-written TFLOP numbers.

Estimate: backpropagating to the pixels keeps every activation of the forward pass, creates a
gradient of the same size and per-layer temporaries, so the peak is about ``4 x`` the activations
plus ~100 MiB (the compiled step, workspaces): a measured factor, see ``_WORKING_SET``.
Activations grow with H x W: doubling the long side quadruples them, which is why 1920x1080 needs
coarse-to-fine on small GPUs. Measured with benchmarks/bench_memory.py (3 Adam steps of
``stylize`` in a fresh process; the peak RSS increase over the RSS just before the run, single
runs, repeats varied by up to ~20%): on this 2-core CPU the estimate was 0.8-0.9x the measured
increase for VGG19 and 1.25-2.1x for SqueezeNet at 256-512 px in float32 (0.8-1.1x and 1.0-1.5x in
mixed_bfloat16); SqueezeNet's 2x is at 256 px, where the fixed 100 MiB is most of the estimate.
L-BFGS at 512 px (5 evaluations, float32): 113-122 MiB more than Adam measured, 117 MiB more
estimated (``optimizer_bytes``); estimate / measured 0.93 for VGG19 and 1.15 for SqueezeNet.
On a GPU the factor is expected to be similar; not measured (no GPU here).

Budget on a GPU: TensorFlow reserves nearly all device memory for its own allocator as soon as it
touches the GPU, so nvidia-smi's "free" is a few hundred MB by the time ``stylize`` checks. What
counts is what TensorFlow can still use: the device minus other processes minus what its own
tensors hold now (``available_memory``).
"""

from __future__ import annotations

import os
import subprocess
import warnings

from .features import layer_names
from .schedules import DEFAULT_SCHEDULE, chosen_optimizer

_BYTES = {"float32": 4, "mixed_bfloat16": 2, "mixed_float16": 2}
# Was 3 (forward + gradient + one temporary). benchmarks/bench_memory.py measured the peak growing
# by ~3.6-4.6 bytes per activation byte between sizes on a CPU (likely more temporaries than one:
# a conv's output before its ReLU, oneDNN's layout copies), and 3x + 200 MiB under-estimated
# VGG19 at 384-768 px by 20-24%: the direction that ends in an out-of-memory crash instead of
# this check's message.
_WORKING_SET = 4.0
# The fixed part fitted to the same runs: ~30 MiB for SqueezeNet, ~100-250 MiB for VGG19 (was 200,
# which made SqueezeNet's estimate 2.7x the measurement at 256 px).
_OVERHEAD = 100 * 2**20
# The optimizer's own copies of the image (float32 H x W x 3 values, whatever the precision).
# The working set above was fitted on Adam runs, so Adam's (variable, two moments, best image) are
# inside it. L-BFGS keeps more: its history of (s, y) pairs (``lbfgs_minimize``'s history_size, 10),
# which each update copies while it shifts the buffers (4 x 10), plus x, gradient, direction, trial
# and masks (~8) and the two-loop's float64 vector (~4 float32's worth). At 512 px that is ~80 MiB:
# little next to VGG19's activations (~+15%), a lot next to SqueezeNet's (~+60%).
LBFGS_HISTORY = 10
_EXTRA_IMAGE_COPIES = {"adam": 0, "lbfgs": 4 * LBFGS_HISTORY + 8 + 4}
_MEMINFO = "/proc/meminfo"
_MIB, _GIB = 2**20, 2**30
_SQUEEZENET = {"conv1": 64, "pool1": 64, "pool3": 128, "pool5": 256,  # channels, (squeeze, expand)
               "fire2": (16, 64), "fire3": (16, 64), "fire4": (32, 128), "fire5": (32, 128),
               "fire6": (48, 192), "fire7": (48, 192), "fire8": (64, 256), "fire9": (64, 256)}


class ResourceError(ValueError):
    """A run that cannot fit in this machine's memory; the message says what would."""


def _values_per_pixel(network: str, name: str) -> int:
    """Numbers a layer outputs per pixel (a fire module: its squeeze, expand and concat tensors)."""
    if network != "squeezenet":
        return (64, 128, 256, 512, 512)[int(name[5]) - 1]
    channels = _SQUEEZENET[name]
    if isinstance(channels, tuple):  # a fire module: squeeze, both expands, their concatenation
        squeeze, expand = channels
        return squeeze + 2 * expand + 2 * expand
    return channels


# What the lectures assume a Colab T4 sustains on these convolutions in float32, FLOP/s: its
# peak is 8.1 TFLOP/s; cuDNN reaches ~60% on VGG-sized layers. An assumption for "expected" time
# estimates, to be replaced by the wall times of the first `make gpu-check` report.
T4_FLOP_PER_S = 5e12


def _convolutions(network: str, height: int, width: int, deepest: str):
    """(h, w, k, c_in, c_out) of every convolution up to ``deepest``, in forward order."""
    h, w, channels = height, width, 3
    if network == "squeezenet":
        h, w = (h - 3) // 2 + 1, (w - 3) // 2 + 1  # conv1: 3x3 stride 2, valid
    for name in layer_names(network):
        if "pool" in name:
            h, w = ((h - 3) // 2 + 1, (w - 3) // 2 + 1) if network == "squeezenet" else (h // 2, w // 2)
        elif network != "squeezenet":
            out = _values_per_pixel(network, name)
            yield h, w, 3, channels, out
            channels = out
        elif name == "conv1":
            yield h, w, 3, channels, 64
            channels = 64
        else:
            squeeze, expand = _SQUEEZENET[name]
            yield from ((h, w, 1, channels, squeeze), (h, w, 1, squeeze, expand), (h, w, 3, squeeze, expand))
            channels = 2 * expand
        if name == deepest:
            return


def step_flops(network: str, height: int, width: int, deepest: str) -> float:
    """FLOPs of one step: forward to ``deepest`` plus the backward pass to the pixels.

    A convolution costs 2*h*w*k*k*c_in*c_out FLOPs (a multiply and an add per weight and output
    pixel). The backward pass computes gradients of the *inputs* only (the network is frozen, so no
    weight gradients), which costs about as much as the forward pass: a step is ~2x the forward.
    Pooling, ReLU, Gram matrices and losses are a few percent and left out.
    """
    forward = sum(2.0 * h * w * k * k * c_in * c_out for h, w, k, c_in, c_out in
                  _convolutions(network, height, width, deepest))
    return 2.0 * forward


def activation_bytes(network: str, height: int, width: int, deepest: str, precision: str = "float32") -> int:
    """Bytes of all activations up to ``deepest`` (a Keras layer name) for one image."""
    total, h, w = 0, height, width
    if network == "squeezenet":
        h, w = (h - 3) // 2 + 1, (w - 3) // 2 + 1  # conv1: 3x3 stride 2, valid
    for name in layer_names(network):
        if "pool" in name:
            h, w = ((h - 3) // 2 + 1, (w - 3) // 2 + 1) if network == "squeezenet" else (h // 2, w // 2)
        total += h * w * _values_per_pixel(network, name)
        if name == deepest:
            break
    return total * _BYTES[precision]


# --- how much memory is there? -----------------------------------------------------------------

def _nvidia_smi(query: str) -> list[list[int]] | None:
    """Integer rows nvidia-smi prints for ``query`` (memory in MiB) about the GPU TensorFlow calls
    GPU:0; None when nvidia-smi is missing, fails or prints something else ("[N/A]")."""
    gpu = (os.environ.get("CUDA_VISIBLE_DEVICES") or "0").split(",")[0]
    try:
        out = subprocess.run(["nvidia-smi", "-i", gpu, query, "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return [[int(value) for value in line.split(",")] for line in out.splitlines() if line.strip()]
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _tf_gpu_memory() -> tuple[int, int]:
    """(reserved, in_use) bytes on GPU:0: the limit of TensorFlow's allocator (0 if unknown) and
    what TensorFlow's tensors hold now. Meant for after TensorFlow has used the GPU (``stylize``
    builds its extractor before the check)."""
    import tensorflow as tf
    from tensorflow.python.client import device_lib

    try:
        reserved = next((d.memory_limit for d in device_lib.list_local_devices() if d.device_type == "GPU"), 0)
    except Exception:  # noqa: BLE001 (a private API: any failure just means "unknown")
        reserved = 0
    try:
        in_use = tf.config.experimental.get_memory_info("GPU:0")["current"]
    except (ValueError, RuntimeError, KeyError):
        in_use = 0
    return int(reserved), int(in_use)


def _other_processes(used: int, reserved: int) -> int:
    """Bytes that other processes hold on the GPU.

    nvidia-smi's list of processes when it is trustworthy: not empty, and listing this process
    when TensorFlow has a reservation (a container shows the host's pids, or none, as on Colab).
    Else what the device uses beyond TensorFlow's reservation (our CUDA context counts as other:
    a few hundred MB too cautious; with memory growth TensorFlow holds less than its reservation,
    and other processes can then be under-counted)."""
    apps = _nvidia_smi("--query-compute-apps=pid,used_memory")
    pids = {row[0] for row in apps or []}
    if apps and all(len(row) == 2 for row in apps) and (reserved == 0 or os.getpid() in pids):
        return sum(mib for pid, mib in apps if pid != os.getpid()) * _MIB
    return max(used - reserved, 0)


def _gpu_budget() -> tuple[int | None, str]:
    """(bytes TensorFlow can still use on GPU:0, how that was worked out); None when unknown."""
    reserved, in_use = _tf_gpu_memory()
    gpu = _nvidia_smi("--query-gpu=memory.total,memory.used")
    if not gpu or len(gpu[0]) != 2:
        if not reserved:
            return None, "GPU memory unknown (no nvidia-smi, no TensorFlow reservation)"
        return (max(reserved - in_use, 0), f"GPU memory TensorFlow can use: its {reserved / _GIB:.1f} "
                f"GiB reservation - {in_use / _GIB:.1f} GiB in use (nvidia-smi not available)")
    total, used = gpu[0][0] * _MIB, gpu[0][1] * _MIB
    others = _other_processes(used, reserved)
    if reserved and reserved < total - others:  # its allocator never grows past its reservation
        return (max(reserved - in_use, 0), f"GPU memory TensorFlow can use: its {reserved / _GIB:.1f} GiB "
                f"reservation - {in_use / _GIB:.1f} GiB in use ({total / _GIB:.1f} GiB total, "
                f"{others / _GIB:.1f} GiB other processes)")
    return (max(total - others - in_use, 0), f"GPU memory TensorFlow can use: {total / _GIB:.1f} GiB total "
            f"- {others / _GIB:.1f} GiB other processes - {in_use / _GIB:.1f} GiB in use")


def available_memory() -> tuple[int | None, str]:
    """(bytes, where): what TensorFlow can still use on the GPU when there is one, else the host's
    available RAM; bytes is None when it cannot be found out (the check is then skipped)."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return _gpu_budget()
    try:
        with open(_MEMINFO, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "RAM available (MemAvailable)"
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"), "RAM free (sysconf)"


def optimizer_bytes(optimizer: str, height: int, width: int) -> int:
    """Bytes the optimizer keeps beyond the working set (``_EXTRA_IMAGE_COPIES``: L-BFGS's history)."""
    return _EXTRA_IMAGE_COPIES[optimizer] * height * width * 3 * 4


def check_memory(network: str, height: int, width: int, deepest: str, precision: str = "float32",
                 available: int | None = None, optimizer: str | None = None) -> int:
    """Raise ``ResourceError`` when an optimization at this size will not fit; return the estimate.
    ``optimizer``: "adam" or "lbfgs" (its history of gradient changes, ``optimizer_bytes``); by
    default the default run's (``schedules.DEFAULT_SCHEDULE``'s), so that a plain call answers
    for a plain ``stylize``."""
    optimizer = optimizer or chosen_optimizer(DEFAULT_SCHEDULE)
    need = (int(_WORKING_SET * activation_bytes(network, height, width, deepest, precision))
            + optimizer_bytes(optimizer, height, width) + _OVERHEAD)
    where = "given"
    if available is None:
        available, where = available_memory()
        if available is None:
            warnings.warn(f"memory check skipped: {where}", stacklevel=2)
            return need
    if need > available:
        # activations scale with the pixel count, the overhead does not
        scale = (max(available - _OVERHEAD, 0) / (need - _OVERHEAD)) ** 0.5
        fits = int(max(height, width) * scale) // 16 * 16
        advice = (f"use a long side of at most ~{fits} px or a mixed precision" if fits >= 16 else
                  "free memory first (close other programs or notebooks)")
        raise ResourceError(
            f"a {width}x{height} image needs about {need / _GIB:.1f} GiB for {network} "
            f"({precision}, forward + backward) but only {available / _GIB:.1f} GiB is available "
            f"({where}); {advice}")
    return need
